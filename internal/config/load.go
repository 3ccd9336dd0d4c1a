package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration, located in its file.
type Problem struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func newProblem(file string, line int, field, format string, args ...any) Problem {
	return Problem{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field == "" {
		return fmt.Sprintf("%s: %s", loc, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Field, p.Msg)
}

// Problems is every problem found in one configuration; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Validator checks parts of a configuration that other packages own (device
// protocols, profiles, simulator kinds) and reports their problems.
type Validator func(*Config) []Problem

// Load reads, decodes and validates a configuration file. Extra validators run
// after the built-in checks (devices.Validate checks every device's protocol
// options and claims the sections protocols own). The returned error, if any,
// is a Problems list.
func Load(path string, extra ...Validator) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}}
	}
	return ParseWith(path, data, extra...)
}

// Parse decodes and validates configuration text; path is used in messages and
// to resolve relative paths. Only the built-in parts are checked: a section
// that another package owns (mqtt:) is unknown here; see ParseWith.
func Parse(path string, data []byte) (*Config, error) { return ParseWith(path, data) }

// ParseWith is Parse followed by extra validators, as Load runs them on a file.
func ParseWith(path string, data []byte, extra ...Validator) (*Config, error) {
	cfg, err := parse(path, data)
	var problems Problems
	if err != nil {
		if !errors.As(err, &problems) || !cfg.decoded {
			return cfg, err
		}
	}
	// The decoded parts are checked too, so that one run lists every problem.
	for _, v := range extra {
		problems = append(problems, v(cfg)...)
	}
	problems = append(problems, cfg.unclaimedSections()...)
	if len(problems) > 0 {
		sortProblems(problems)
		return cfg, problems
	}
	return cfg, nil
}

func parse(path string, data []byte) (*Config, error) { return parseFile(path, data, false) }

// parseFile parses one file; included is set for a rule file, which may not
// include others (a file naming itself would never end).
func parseFile(path string, data []byte, included bool) (*Config, error) {
	cfg := &Config{File: path, positions: map[string]int{}, values: map[string]string{}, included: included}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, Problems{yamlProblem(path, err)}
	}
	if len(root.Content) == 0 {
		return cfg, Problems{{File: path, Msg: "the file is empty"}}
	}
	recordPositions(root.Content[0], "", cfg.positions, cfg.values)

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var problems Problems
	if err := dec.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return cfg, Problems{yamlProblem(path, err)}
		}
		for _, msg := range te.Errors {
			problems = append(problems, cfg.typeProblem(msg))
		}
	}
	for _, d := range cfg.Devices {
		for _, msg := range d.typeErrors {
			problems = append(problems, cfg.typeProblem(msg))
		}
	}
	cfg.decoded = true
	if !included {
		problems = append(problems, cfg.includeRuleFiles()...)
	}
	cfg.applyDefaults()
	if ps := cfg.expandSecrets(); len(ps) > 0 {
		// Unset secrets are reported once; their emptiness is not reported again.
		problems = append(problems, ps...)
	} else {
		cfg.secretsExpanded = true
		problems = append(problems, cfg.validate()...)
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return cfg, problems
	}
	return cfg, nil
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}

var (
	lineRe         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownFieldRe = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
)

func yamlProblem(path string, err error) Problem {
	return typeErrorProblem(path, err.Error())
}

// typeErrorProblem turns a yaml.v3 message ("line 5: field foo not found in
// type config.Device") into a Problem that says what to do.
func typeErrorProblem(path, msg string) Problem {
	p := Problem{File: path, Msg: msg}
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
	}
	if m := unknownFieldRe.FindStringSubmatch(p.Msg); m != nil {
		p.Field = m[1]
		p.Msg = unknownKey(m[1], keysOfType(m[2]))
	}
	return p
}

// locateField turns the bare key of a decoder message into its full path,
// using the line the decoder gave.
func (c *Config) locateField(p Problem) Problem {
	if p.Field == "" || p.Line == 0 {
		return p
	}
	for path, line := range c.positions {
		if line == p.Line && (path == p.Field || strings.HasSuffix(path, "."+p.Field)) {
			p.Field = path
			break
		}
	}
	return p
}

// recordPositions notes the line of every key and list item under n, and
// the text of every scalar value (to tell the fields of one line apart).
func recordPositions(n *yaml.Node, path string, into map[string]int, values map[string]string) {
	if n.Kind == yaml.ScalarNode && path != "" {
		values[path] = n.Value
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			child := key
			if path != "" {
				child = path + "." + key
			}
			into[child] = n.Content[i].Line
			recordPositions(n.Content[i+1], child, into, values)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			into[child] = item.Line
			recordPositions(item, child, into, values)
		}
	}
}

// parentPath strips the last element of a field path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// Resolve turns a path that the configuration gives relative to its own folder
// (profiles ship beside the configs) into one usable from the working directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// ApplyDefaults fills in the defaults of every unset option, as Load does; for
// configurations built in code (tests, benchmarks).
func (c *Config) ApplyDefaults() { c.applyDefaults() }

func (c *Config) applyDefaults() {
	c.Desk.ApplyDefaults()
	if c.Gateway.OfflineAfter == 0 {
		c.Gateway.OfflineAfter = 3
	}
	if c.Gateway.HeartbeatInterval == 0 {
		c.Gateway.HeartbeatInterval = 10 * time.Second // heartbeat.DefaultInterval
	}
	if c.Gateway.StateDir == "" {
		c.Gateway.StateDir = "var/gateway"
	}
	if c.Gateway.ProfilesDir == "" {
		c.Gateway.ProfilesDir = "profiles"
	}
	if c.Gateway.OutboxMaxAttempts == 0 {
		c.Gateway.OutboxMaxAttempts = DefaultOutboxMaxAttempts
	}
	c.InfluxDB.applyDefaults(c.Gateway.StateDir)
	for i := range c.Devices {
		d := &c.Devices[i]
		if d.PollInterval == 0 {
			d.PollInterval = time.Second
		}
		if d.Timeout == 0 {
			// A protocol may default otherwise (DL/T 645: 500 ms); devices.Validate
			// applies its default to the devices whose file sets none.
			d.Timeout = time.Second
		}
	}
	for i := range c.Rules {
		c.Rules[i].applyDefaults()
	}
	c.applyTopologyDefaults()
}
