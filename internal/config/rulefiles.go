package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Rule files let a site use the shipped rule set (configs/rules/default.yaml,
// installed as /usr/share/estate/rules/default.yaml) without copying it:
// `rule_files: [default]`. They are found like profiles: beside the
// configuration first, then among what ships with Estate (SharedDir).

type ruleSource struct {
	first, n int     // the rules' indexes in the including configuration
	cfg      *Config // the rule file, parsed and checked on its own
}

// includeRuleFiles parses each rule file on its own (its problems are in its
// own file) and appends its rules.
func (c *Config) includeRuleFiles() []Problem {
	var ps []Problem
	for i, name := range c.RuleFiles {
		field := fmt.Sprintf("rule_files[%d]", i)
		path, err := c.findRuleFile(name)
		if err != nil {
			ps = append(ps, c.Problemf(field, "%v", err))
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			ps = append(ps, c.Problemf(field, "cannot read %s: %v", path, errors.Unwrap(err)))
			continue
		}
		sub, err := parseFile(path, data, true)
		var sps Problems
		if errors.As(err, &sps) {
			ps = append(ps, sps...)
		} else if err != nil {
			ps = append(ps, c.Problemf(field, "%v", err))
		}
		if sub == nil || !sub.decoded {
			continue
		}
		if len(sub.RuleFiles) > 0 {
			ps = append(ps, sub.Problemf("rule_files", "a rule file cannot name rule files of its own"))
		}
		if len(sub.Devices) > 0 || sub.has("gateway") || sub.has("desk") {
			ps = append(ps, sub.Problemf("rules", "%s is included by %s for its rules only, but has devices, a gateway or a desk: give a file of rules", path, c.File))
		}
		c.ruleSources = append(c.ruleSources, ruleSource{first: len(c.Rules), n: len(sub.Rules), cfg: sub})
		c.Rules = append(c.Rules, sub.Rules...)
	}
	return ps
}

// findRuleFile resolves a rule_files entry.
func (c *Config) findRuleFile(name string) (string, error) {
	shared := filepath.Join(SharedDir, "rules")
	var tries []string
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		tries = []string{c.Resolve(name), filepath.Join(shared, filepath.Base(name))}
	} else {
		tries = []string{c.Resolve(filepath.Join("rules", name+".yaml")), filepath.Join(shared, name+".yaml")}
	}
	for _, p := range tries {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	var known []string
	for _, dir := range []string{c.Resolve("rules"), shared} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range m {
			known = append(known, strings.TrimSuffix(filepath.Base(f), ".yaml"))
		}
	}
	return "", fmt.Errorf("no rule file %q: not %s%s", name, strings.Join(tries, " nor "),
		DidYouMean(strings.TrimSuffix(filepath.Base(name), ".yaml"), known))
}

var rulePathRe = regexp.MustCompile(`^rules\[(\d+)\](.*)$`)

// ruleSourceOf maps a path into an included rule ("rules[20].point") to its
// rule file and its path there ("rules[2].point").
func (c *Config) ruleSourceOf(path string) (ruleSource, string, bool) {
	if len(c.ruleSources) == 0 {
		return ruleSource{}, "", false
	}
	m := rulePathRe.FindStringSubmatch(path)
	if m == nil {
		return ruleSource{}, "", false
	}
	i, _ := strconv.Atoi(m[1])
	for _, s := range c.ruleSources {
		if i >= s.first && i < s.first+s.n {
			return s, fmt.Sprintf("rules[%d]%s", i-s.first, m[2]), true
		}
	}
	return ruleSource{}, "", false
}
