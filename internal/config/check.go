package config

import "os"

// What validators of other packages (see Validator) need to check their parts
// of a configuration the way the built-in checks do, with the same messages.

// Has reports whether a field path ("desk", "devices[0].serial") is present in the file.
func (c *Config) Has(path string) bool { return c.has(path) }

// SecretsExpanded reports whether every ${NAME} secret was found in the
// environment. When one was not, Load reports that alone and the built-in
// checks do not run: a validator should skip the fields that hold secrets
// too, rather than report a missing secret a second time as a bad value.
func (c *Config) SecretsExpanded() bool { return c.secretsExpanded }

// IsIdentifier reports whether s is a non-empty run of letters, digits, '-' and '_'.
func IsIdentifier(s string) bool { return isIdentifier(s) }

// CheckListen says what is wrong with a host:port to listen on; nil if nothing.
func CheckListen(addr string) error { return checkListen(addr) }

// CheckHTTPURL says what is wrong with an http:// or https:// URL; nil if nothing.
func CheckHTTPURL(raw string) error { return checkHTTPURL(raw) }

// Warnings are what Load found doubtful but not wrong (a secret that took the
// default written in the file, a rule on a point no device reports), located
// like problems. `estate check` prints them and still passes.
func (c *Config) Warnings() []Problem {
	// A section decoded twice (once to check it, once to use it) warns once.
	var ws []Problem
	seen := map[Problem]bool{}
	for _, w := range c.warnings {
		if !seen[w] {
			seen[w] = true
			ws = append(ws, w)
		}
	}
	sortProblems(ws)
	return ws
}

// Warnf records a warning about a field path, for validators of other packages.
func (c *Config) Warnf(path, format string, args ...any) {
	c.warnings = append(c.warnings, c.Problemf(path, format, args...))
}

// SharedDir is where the packages install what ships with Estate: profiles/
// and rules/. A profile or rule file that a configuration names and its own
// folder lacks is looked for there. ESTATE_SHARE_DIR moves it (an install
// under another prefix; configs/ of a source tree); a variable so that tests
// can point it elsewhere.
var SharedDir = func() string {
	if d := os.Getenv("ESTATE_SHARE_DIR"); d != "" {
		return d
	}
	return "/usr/share/estate"
}()
