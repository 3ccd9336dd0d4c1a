package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// An environment file holds the secrets that a configuration's ${NAME}
// fields read, one NAME=value a line, as systemd's EnvironmentFile= reads
// it: `estate check --env-file /etc/estate/estate.env` then checks exactly
// what the service will run with.

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseEnvFile reads NAME=value lines. Blank lines and lines starting with #
// are skipped; "export " before a name is allowed; a value may be quoted
// with '…' (taken as written) or "…" (with \", \\ and \n); an unquoted value
// is taken to the end of the line, trimmed. Errors name the line.
func ParseEnvFile(name string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected NAME=value", name, n)
		}
		if !envNameRe.MatchString(key) {
			return nil, fmt.Errorf("%s:%d: %q is not a variable name (letters, digits and _, not starting with a digit)", name, n, key)
		}
		value = strings.TrimSpace(value)
		if len(value) > 0 && (value[0] == '"' || value[0] == '\'') {
			v, err := unquoteEnv(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %v", name, n, key, err)
			}
			value = v
		}
		out[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func unquoteEnv(v string) (string, error) {
	q := v[0]
	if len(v) < 2 || v[len(v)-1] != q {
		return "", fmt.Errorf("the quote %c is not closed on this line", q)
	}
	body := v[1 : len(v)-1]
	if q == '\'' {
		if strings.ContainsRune(body, '\'') {
			return "", fmt.Errorf("a single-quoted value cannot hold a single quote")
		}
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '"' {
			return "", fmt.Errorf("an unescaped \" inside a double-quoted value")
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(body) {
			return "", fmt.Errorf("a \\ at the end of a double-quoted value")
		}
		i++
		switch body[i] {
		case 'n':
			b.WriteByte('\n')
		case '"', '\\', '$':
			b.WriteByte(body[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(body[i])
		}
	}
	return b.String(), nil
}

// LoadEnvFile sets the variables of an environment file that the process
// environment does not set already: a variable exported by the operator wins
// over the file, as a unit's Environment= wins over its EnvironmentFile=.
func LoadEnvFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	vars, err := ParseEnvFile(path, data)
	if err != nil {
		return err
	}
	for k, v := range vars {
		if _, set := os.LookupEnv(k); !set {
			if err := os.Setenv(k, v); err != nil {
				return fmt.Errorf("--env-file %s: %s: %w", path, k, err)
			}
		}
	}
	return nil
}
