package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file is how parts of a configuration that other packages own are read:
// a device's protocol options (a Modbus address, a serial line, an mqtt
// block) and top-level sections (the MQTT broker). The configuration keeps
// their YAML as written; the owning package decodes it with DecodeStrict, so
// that its keys are checked and located exactly like the built-in ones.

// deviceFields is the part of a device every protocol shares; Device's
// UnmarshalYAML decodes into it and keeps the node for the rest.
type deviceFields struct {
	ID           string        `yaml:"id"`
	Family       string        `yaml:"family"`
	Protocol     string        `yaml:"protocol"`
	Profile      string        `yaml:"profile"`
	Building     string        `yaml:"building"`
	Floor        string        `yaml:"floor"`
	Unit         string        `yaml:"unit"`
	Tags         []string      `yaml:"tags"`
	PollInterval time.Duration `yaml:"poll_interval"`
	Timeout      time.Duration `yaml:"timeout"`
}

// UnmarshalYAML decodes the keys every device has and keeps the mapping for
// the device's protocol (and family), which decode their own keys from it.
// Type errors are kept for Parse to report rather than returned: returning
// them would drop the device from the list and shift the index of every
// device after it in the messages.
func (d *Device) UnmarshalYAML(n *yaml.Node) error {
	var f deviceFields
	err := n.Decode(&f)
	*d = Device{ID: f.ID, Family: f.Family, Protocol: f.Protocol, Profile: f.Profile,
		Building: f.Building, Floor: f.Floor, Unit: f.Unit, Tags: f.Tags,
		PollInterval: f.PollInterval, Timeout: f.Timeout, Node: n}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		d.typeErrors = te.Errors
		return nil
	}
	return err
}

// DeviceKeys are the keys every device has, whatever its protocol.
func DeviceKeys() []string { return Keys(deviceFields{}) }

// Keys lists the YAML keys of a struct (or pointer to one), with those of
// inline structs.
func Keys(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for name := range structKeys(t) {
		if name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// HasKey reports whether a mapping node has a key.
func HasKey(n *yaml.Node, key string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// DecodeStrict decodes a node of this configuration (a device's mapping, a
// section) into a struct the way Parse decodes the built-in parts: an unknown
// key is a problem (except the keys in skip, which belong to someone else:
// the keys every device has), a value of the wrong type is a problem, and a
// string field tagged `secret:"env"` may be "${NAME}", taken from the
// environment. Problems are located like every other ("file:line:
// devices[3].serial.baud: …"); path is the node's own path ("devices[3]",
// "mqtt"). A nil node decodes nothing.
func (c *Config) DecodeStrict(node *yaml.Node, path string, into any, skip ...string) []Problem {
	if node == nil {
		return nil
	}
	var ps []Problem
	skipped := map[string]bool{}
	for _, k := range skip {
		skipped[k] = true
	}
	checkKeys(node, reflect.TypeOf(into), path, skipped, func(field string, known []string) {
		key := field[strings.LastIndexAny(field, ".")+1:]
		ps = append(ps, c.Problemf(field, "%s", unknownKey(key, append(known, skip...))))
	})
	if err := node.Decode(into); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return append(ps, c.Problemf(path, "%v", err))
		}
		for _, msg := range te.Errors {
			ps = append(ps, c.typeProblem(msg))
		}
	}
	return append(ps, c.expandSecretFields(reflect.ValueOf(into), path)...)
}

// unknownKeyMsg is what an unknown key is told, wherever it is.
const unknownKeyMsg = "unknown key (check its spelling and the documented options in configs/)"

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkKeys reports the keys under n that t has no field for.
func checkKeys(n *yaml.Node, t reflect.Type, path string, skip map[string]bool, unknown func(path string, known []string)) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return // decodes itself
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := structKeys(t)
		_, anyKey := fields[""] // an inline map takes every key
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if skip[key] || key == "<<" { // a merge key: the decoder resolves it
				continue
			}
			child := key
			if path != "" {
				child = path + "." + key
			}
			ft, ok := fields[key]
			switch {
			case ok:
				checkKeys(n.Content[i+1], ft, child, nil, unknown)
			case !anyKey:
				known := make([]string, 0, len(fields))
				for k := range fields {
					known = append(known, k)
				}
				unknown(child, known)
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value, nil, unknown)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), nil, unknown)
		}
	}
}

// structKeys maps the YAML keys of a struct's fields to their types, the way
// yaml.v3 names them (the tag, else the lower-cased field name), with inline
// structs' keys; an inline map is the key "".
func structKeys(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				out[""] = ft
				continue
			}
			for k, v := range structKeys(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// expandSecretFields replaces "${NAME}" in the string fields tagged
// `secret:"env"` under v by the environment's value (see expandSecrets).
func (c *Config) expandSecretFields(v reflect.Value, path string) []Problem {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var ps []Problem
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		child := path
		if !strings.Contains(","+opts+",", ",inline,") {
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			child = path + "." + name
		}
		fv := v.Field(i)
		if f.Tag.Get("secret") == "env" && fv.Kind() == reflect.String {
			s := fv.String()
			if p, ok := c.expandSecret(child, &s); ok {
				fv.SetString(s)
			} else {
				ps = append(ps, p)
			}
			continue
		}
		ps = append(ps, c.expandSecretFields(fv, child)...)
	}
	return ps
}

// expandSecret expands one "${NAME}" value; ok is false (with the problem)
// when the variable is not set.
func (c *Config) expandSecret(path string, v *string) (Problem, bool) {
	m := envRef.FindStringSubmatch(*v)
	if m == nil {
		return Problem{}, true
	}
	val, ok := os.LookupEnv(m[1])
	if !ok || val == "" {
		if m[2] == "" {
			return c.Problemf(path, "environment variable %s is not set (export it, give it in --env-file, write ${%s:-default}, or write the secret here)", m[1], m[1]), false
		}
		val = m[3]
		c.warnings = append(c.warnings, c.Problemf(path, "environment variable %s is not set: using the default written in the file, which anyone who read the file knows; set %s before going live", m[1], m[1]))
	}
	*v = val
	return Problem{}, true
}

// Section returns a top-level section that another package owns (the mqtt
// broker section belongs to devices/mqtt), as written, or nil when the file
// has none. Asking for a section claims it: a top-level key that nobody
// claims by the end of Load is reported as unknown.
func (c *Config) Section(name string) *yaml.Node {
	if c.claimed == nil {
		c.claimed = map[string]bool{}
	}
	c.claimed[name] = true
	n, ok := c.Extra[name]
	if !ok {
		return nil
	}
	return &n
}

// SetSection gives a configuration built in code a section that another
// package owns, as YAML text.
func (c *Config) SetSection(name, text string) error {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return fmt.Errorf("section %s: %w", name, err)
	}
	if c.Extra == nil {
		c.Extra = map[string]yaml.Node{}
	}
	if len(doc.Content) > 0 {
		c.Extra[name] = *doc.Content[0]
	}
	return nil
}

// unclaimedSections reports the top-level keys that no package claimed.
func (c *Config) unclaimedSections() []Problem {
	var ps []Problem
	known := Keys(Config{})
	for name := range c.claimed {
		known = append(known, name)
	}
	for name := range c.Extra {
		if !c.claimed[name] {
			ps = append(ps, c.Problemf(name, "%s", unknownKey(name, known)))
		}
	}
	return ps
}
