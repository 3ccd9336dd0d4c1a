package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// tableRows reads rows of the desk's tables as text, one string per row, for
// comparing two databases row by row.
func tableRows(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if b2, ok := v.([]byte); ok {
				v = string(b2)
			}
			fmt.Fprintf(&b, "%s=%v|", cols[i], v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshotQueries are the rows a backup must hold exactly as the source had
// them, for the tickets up to the newest the backup has.
var snapshotQueries = map[string]string{
	"tickets":          `SELECT * FROM tickets WHERE id <= ? ORDER BY id`,
	"ticket_audit":     `SELECT * FROM ticket_audit WHERE ticket_id <= ? ORDER BY id`,
	"ticket_deadlines": `SELECT * FROM ticket_deadlines WHERE ticket_id <= ? ORDER BY id`,
	"events":           `SELECT * FROM events WHERE ticket_id <= ? ORDER BY id`,
}

// A backup taken while a writer creates tickets restores to a database
// whose every ticket matches the source row by row, with its whole audit
// trail, deadlines and events and nothing of a ticket it does not have: the
// copy is one moment of the database, on both stores.
func TestBackupWhileWritingRestores(t *testing.T) {
	type dbCase struct {
		name            string
		source, restore func(t *testing.T) string // DSNs
	}
	dir := t.TempDir()
	var pgDump, pgRestore, psql string
	for _, c := range []dbCase{
		{SQLiteDialect, func(t *testing.T) string { return filepath.Join(dir, "desk.db") },
			func(t *testing.T) string { return filepath.Join(dir, "restored", "desk.db") }},
		{PostgresDialect, func(t *testing.T) string {
			pgDump, pgRestore, psql = testenv.PgTools(t)
			return testenv.PostgreSQL(t)
		}, func(t *testing.T) string { return testenv.PostgreSQL(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			srcDSN := c.source(t)
			tools := Tools{PgDump: pgDump, PgRestore: pgRestore, Psql: psql}
			src, err := Open(ctx, c.name, srcDSN, Policy{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()

			// The writer creates tickets (each with its audit entry,
			// deadlines and event in one transaction) until told to stop.
			var mu sync.Mutex
			created := 0
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var writeErr error
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					kind := []wire.Kind{wire.Repair, wire.Emergency, wire.Request}[i%3]
					_, _, err := src.CreateTicket(ctx, wire.NewTicket{Kind: kind, Title: fmt.Sprintf("ticket %d 漏水", i), Site: "site-a",
						Unit: fmt.Sprintf("1-%03d", i), Reporter: "王女士", Phone: "13800138000"}, "amy", t0.Add(time.Duration(i)*time.Second))
					if err != nil {
						writeErr = err
						return
					}
					mu.Lock()
					created++
					mu.Unlock()
				}
			})
			count := func() int { mu.Lock(); defer mu.Unlock(); return created }
			waitFor := func(what string, cond func() bool) {
				deadline := time.Now().Add(60 * time.Second)
				for !cond() {
					if time.Now().After(deadline) {
						close(stop)
						wg.Wait()
						t.Fatalf("waiting for %s: %d tickets created (writer: %v)", what, count(), writeErr)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			waitFor("the first tickets", func() bool { return count() >= 30 })
			file := filepath.Join(dir, c.name+".backup")
			res, err := Backup(ctx, c.name, srcDSN, file, tools)
			if err != nil {
				close(stop)
				wg.Wait()
				t.Fatal(err)
			}
			atBackup := count()
			waitFor("tickets after the backup", func() bool { return count() >= atBackup+20 })
			close(stop)
			wg.Wait()
			if writeErr != nil {
				t.Fatalf("writer: %v", writeErr)
			}
			t.Logf("backup: %s (%d bytes, schema %d); %d tickets when it returned, %d in the end", res.Command, res.Bytes, res.Version, atBackup, count())
			if latest, _ := LatestVersion(c.name); res.Version != latest {
				t.Errorf("backup of schema %d, want %d", res.Version, latest)
			}
			if c.name == PostgresDialect {
				u, _ := url.Parse(srcDSN)
				pw, _ := u.User.Password()
				if !strings.HasPrefix(res.Command, pgDump+" --format=custom") || strings.Contains(res.Command, ":"+pw+"@") || !strings.Contains(res.Command, file) {
					t.Errorf("printed command %q: want pg_dump --format=custom into the file, without the password", res.Command)
				}
			}

			// A restore over the running source is refused.
			if _, err := Restore(ctx, c.name, srcDSN, file, RestoreOptions{Tools: tools}); !errors.Is(err, ErrInUse) {
				t.Errorf("restore over a database in use: %v, want ErrInUse", err)
			}

			dstDSN := c.restore(t)
			if c.name == PostgresDialect {
				// A table of a newer desk's migrations, which the backup lacks.
				db, err := sql.Open("pgx", dstDSN)
				if err != nil {
					t.Fatal(err)
				}
				_, err = db.Exec(`CREATE TABLE newer_feature (id BIGINT PRIMARY KEY)`)
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			rr, err := Restore(ctx, c.name, dstDSN, file, RestoreOptions{Tools: tools})
			if err != nil {
				t.Fatal(err)
			}
			if c.name == PostgresDialect && (len(rr.Dropped) != 1 || rr.Dropped[0] != "newer_feature") {
				t.Errorf("tables the backup lacks: dropped %v, want [newer_feature]", rr.Dropped)
			}
			t.Logf("restore: %s", rr.Command)
			dst, err := Open(ctx, c.name, dstDSN, Policy{})
			if err != nil {
				t.Fatalf("open the restored database: %v", err)
			}
			defer dst.Close()
			if c.name == PostgresDialect {
				var n int
				dst.db.QueryRow(`SELECT COUNT(*) FROM pg_tables WHERE tablename = 'newer_feature'`).Scan(&n)
				if n != 0 {
					t.Error("the newer desk's table is still there after the restore")
				}
			}
			var maxID int64
			if err := dst.db.QueryRow(`SELECT COALESCE(MAX(id), 0) FROM tickets`).Scan(&maxID); err != nil {
				t.Fatal(err)
			}
			var n int64
			dst.db.QueryRow(`SELECT COUNT(*) FROM tickets`).Scan(&n)
			if n != maxID || maxID < 30 || maxID >= int64(count()) {
				t.Fatalf("backup holds %d tickets up to id %d; the source had %d: want a gapless prefix taken mid-writing", n, maxID, count())
			}
			for table, q := range snapshotQueries {
				want := tableRows(t, src.db, src.q(q), maxID)
				got := tableRows(t, dst.db, dst.q(q), maxID)
				if len(want) == 0 || strings.Join(want, "\n") != strings.Join(got, "\n") {
					t.Errorf("%s: %d rows in the source, %d in the restored backup, or they differ", table, len(want), len(got))
				}
			}
			// Nothing of a ticket the backup lacks: no audit entry, deadline or event dangling.
			for _, q := range []string{`SELECT COUNT(*) FROM ticket_audit WHERE ticket_id > ?`, `SELECT COUNT(*) FROM ticket_deadlines WHERE ticket_id > ?`,
				`SELECT COUNT(*) FROM events WHERE ticket_id > ?`} {
				var extra int
				if err := dst.db.QueryRow(dst.q(q), maxID).Scan(&extra); err != nil || extra != 0 {
					t.Errorf("%s: %d %v", q, extra, err)
				}
			}
			// Every restored ticket has its creation in its audit trail, and reads back whole.
			for id := int64(1); id <= maxID; id += 7 {
				tk, err := dst.GetTicket(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := src.GetTicket(ctx, id)
				if tk.Title != want.Title || tk.Reporter != want.Reporter || len(tk.Deadlines) != len(want.Deadlines) {
					t.Errorf("ticket %d: %+v, want %+v", id, tk, want)
				}
				audit, err := dst.Audit(ctx, id)
				if err != nil || len(audit) == 0 || audit[0].Action != "created" {
					t.Errorf("ticket %d audit: %+v %v", id, audit, err)
				}
			}
			// The restored desk goes on: the next ticket comes after the last
			// one (on PostgreSQL, after the ids the source had handed out
			// when its sequence was read: sequences are not transactional).
			next, _, err := dst.CreateTicket(ctx, wire.NewTicket{Kind: wire.Request, Title: "after restore", Site: "site-a"}, "amy", t0)
			if err != nil || next.ID <= maxID {
				t.Errorf("ticket after restore: %d %v, want an id after %d", next.ID, err, maxID)
			}

			if c.name == SQLiteDialect {
				// Once the source desk is stopped, a restore over it keeps the
				// database it replaces beside it.
				src.Close()
				rr, err := Restore(ctx, c.name, srcDSN, file, RestoreOptions{Tools: tools})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(rr.Previous); err != nil {
					t.Errorf("the replaced database was not kept: %v", err)
				}
				if v, err := checkSQLiteFile(ctx, rr.Previous); err != nil || v == 0 {
					t.Errorf("kept copy: %d %v", v, err)
				}
			}
		})
	}
}

// A backup is never written over an existing file, and a restore refuses a
// file that is not a desk's backup, losing nothing.
func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "desk.db")
	st, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Request, Title: "keep me", Site: "s"}, "amy", t0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	existing := filepath.Join(dir, "exists.backup")
	os.WriteFile(existing, []byte("mine"), 0o600)
	if _, err := Backup(ctx, SQLiteDialect, path, existing, Tools{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over a file: %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "mine" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if _, err := Backup(ctx, SQLiteDialect, filepath.Join(dir, "none.db"), filepath.Join(dir, "x.backup"), Tools{}); err == nil {
		t.Error("backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("backup of a missing database created it")
	}
	if _, err := Restore(ctx, SQLiteDialect, path, existing, RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "does not check") {
		t.Errorf("restore of a file that is not a database: %v", err)
	}
	st, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if tk, err := st.GetTicket(ctx, 1); err != nil || tk.Title != "keep me" {
		t.Errorf("after refused restores: %+v %v", tk, err)
	}
}
