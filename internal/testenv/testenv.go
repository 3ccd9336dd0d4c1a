// Package testenv gives tests the real components `make test` starts, and
// fails (rather than skips) when CI=true and a component is missing.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// missing skips locally but fails in CI, where every component must be there.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (CI=true) but is missing; run the tests with `make test`", what)
	}
	t.Skipf("%s is not available; run the tests with `make test` to start it", what)
}

// InfluxDB returns the URL of the tests' InfluxDB (ESTATE_TEST_INFLUXDB_URL) and
// a fresh database on it, as the bucket name "db/autogen", dropped after the test.
func InfluxDB(t testing.TB) (serverURL, bucket string) {
	t.Helper()
	serverURL = os.Getenv("ESTATE_TEST_INFLUXDB_URL")
	if serverURL == "" {
		missing(t, "InfluxDB (ESTATE_TEST_INFLUXDB_URL)")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(serverURL + "/ping")
	if err != nil {
		missing(t, fmt.Sprintf("InfluxDB at %s (%v)", serverURL, err))
	}
	resp.Body.Close()
	db := "test_" + randomHex(6)
	influxQL(t, client, serverURL, "CREATE DATABASE "+db)
	t.Cleanup(func() { influxQL(t, client, serverURL, "DROP DATABASE "+db) })
	return serverURL, db + "/autogen"
}

func influxQL(t testing.TB, client *http.Client, serverURL, q string) {
	t.Helper()
	resp, err := client.PostForm(serverURL+"/query", url.Values{"q": {q}})
	if err != nil {
		t.Fatalf("InfluxDB %q: %v", q, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("InfluxDB %q: status %d", q, resp.StatusCode)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Chromium returns the path of the Chromium the browser tests drive
// (ESTATE_TEST_CHROMIUM, set by `make test`).
func Chromium(t testing.TB) string {
	t.Helper()
	path := os.Getenv("ESTATE_TEST_CHROMIUM")
	if path == "" {
		missing(t, "Chromium (ESTATE_TEST_CHROMIUM)")
	}
	if _, err := os.Stat(path); err != nil {
		missing(t, fmt.Sprintf("Chromium at %s (%v)", path, err))
	}
	return path
}

// PostgreSQL returns the URL of a fresh, empty database on the tests'
// PostgreSQL (ESTATE_TEST_POSTGRES_URL, started by `make test`), dropped after
// the test. The server's user must be allowed to create databases.
func PostgreSQL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("ESTATE_TEST_POSTGRES_URL")
	if base == "" {
		missing(t, "PostgreSQL (ESTATE_TEST_POSTGRES_URL)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		missing(t, fmt.Sprintf("PostgreSQL at %s (%v)", redactURL(base), err))
	}
	defer admin.Close(context.Background())
	name := "estate_t_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("PostgreSQL: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("PostgreSQL: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		// An autovacuum worker (a superuser's process, which FORCE may not
		// end) can hold the database for a moment after a large test.
		for attempt := 1; ; attempt++ {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			if err == nil {
				return
			}
			if attempt == 5 || ctx.Err() != nil {
				t.Errorf("PostgreSQL: drop database %s: %v", name, err)
				return
			}
			time.Sleep(time.Second)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("ESTATE_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// PgTools returns the paths of pg_dump, pg_restore and psql of the tests'
// PostgreSQL: from ESTATE_TEST_PG_BIN (the server's own bin folder, which
// deploy/postgresql/test-start.sh prints, so that the tools are of the
// server's version), else from PATH.
func PgTools(t testing.TB) (pgDump, pgRestore, psql string) {
	t.Helper()
	find := func(name string) string {
		if dir := os.Getenv("ESTATE_TEST_PG_BIN"); dir != "" {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err != nil {
				missing(t, fmt.Sprintf("%s in ESTATE_TEST_PG_BIN (%v)", name, err))
			}
			return p
		}
		p, err := exec.LookPath(name)
		if err != nil {
			missing(t, fmt.Sprintf("%s (postgresql-client; %v)", name, err))
		}
		return p
	}
	return find("pg_dump"), find("pg_restore"), find("psql")
}
