package loadtest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DeskConfig is what a replica's configuration file says; every replica of
// a test gets the same one but for its listen address.
type DeskConfig struct {
	Database string // postgres:// URL, or the SQLite file when Driver is "sqlite"
	Driver   string // "postgres" (default) or "sqlite"
	// Tokens are name → (token, role, site).
	Tokens []Token
	// Staff are console accounts (bcrypt hashes).
	Staff []Staff
	// Deadlines are desk.deadlines rules, as YAML lines of the list.
	Deadlines string
	// Webhook, if set, is a channel that hears everything.
	Webhook string
	// LoginAttempts per name and address within a minute (default 5).
	LoginAttempts int
}

// Token is one API token of the desk.
type Token struct{ Name, Token, Role, Site string }

// Staff is one console account.
type Staff struct{ Name, Role, Site, Hash string }

// Write writes the configuration of a replica listening on listen and
// returns its path. The replica's connections carry its name as
// application_name, so that pg_stat_activity tells the replicas apart.
func (c DeskConfig) Write(t testing.TB, dir, name, listen string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "site:\n  id: service-centre\n  name: load test\n  timezone: Asia/Shanghai\ndesk:\n")
	if c.Driver == "sqlite" {
		fmt.Fprintf(&b, "  listen: %s\n  driver: sqlite\n  database: %q\n  escalation_interval: 1s\n", listen, c.Database)
	} else {
		fmt.Fprintf(&b, "  listen: %s\n  driver: postgres\n  database: %q\n  escalation_interval: 1s\n", listen, withAppName(c.Database, name))
	}
	attempts := c.LoginAttempts
	if attempts == 0 {
		attempts = 5
	}
	fmt.Fprintf(&b, "  login_attempts: %d\n  login_window: 1m\n", attempts)
	b.WriteString("  tokens:\n")
	for _, tk := range c.Tokens {
		fmt.Fprintf(&b, "    - {name: %q, token: %q, role: %s", tk.Name, tk.Token, tk.Role)
		if tk.Site != "" {
			fmt.Fprintf(&b, ", site: %q", tk.Site)
		}
		b.WriteString("}\n")
	}
	if len(c.Staff) > 0 {
		b.WriteString("  staff:\n")
		for _, s := range c.Staff {
			fmt.Fprintf(&b, "    - {name: %q, display_name: %q, role: %s, password_hash: %q", s.Name, s.Name, s.Role, s.Hash)
			if s.Site != "" {
				fmt.Fprintf(&b, ", site: %q", s.Site)
			}
			b.WriteString("}\n")
		}
	}
	if c.Deadlines != "" {
		b.WriteString("  deadlines:\n" + c.Deadlines)
	}
	if c.Webhook != "" {
		fmt.Fprintf(&b, "  channels:\n    - {name: hook, type: webhook, url: %q}\n", c.Webhook)
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func withAppName(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}
