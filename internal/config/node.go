package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// unknownKeyMsg is what an unknown key is told, wherever it is.
const unknownKeyMsg = "unknown key (check its spelling and the documented options in configs/)"

// DecodeStrict decodes a mapping node of this configuration (a part whose
// shape another package owns: a simulator's options, a device family's) into
// the struct into points to, as strictly as the file itself is decoded: a key
// the struct does not have is an unknown key, a value of the wrong type a type
// error, each reported as a Problem with the file, the line and the field's
// path under path ("simulators[2].initial_balance"), in the words the rest of
// the file gets. Keys in skip belong to the caller (such as kind and device)
// and are neither decoded nor reported. A string field tagged `config:"secret"`
// may be written "${NAME}" and is read from the environment, as the secrets of
// the file are. A nil node decodes nothing.
func (c *Config) DecodeStrict(node *yaml.Node, path string, into any, skip ...string) []Problem {
	if node == nil {
		return nil
	}
	for node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	t := reflect.TypeOf(into)
	if t == nil || t.Kind() != reflect.Pointer {
		return []Problem{c.Problemf(path, "cannot decode into %T (a pointer is needed)", into)}
	}
	// The walk drops what it reports and writes secrets in: it works on a copy,
	// so that the caller's node stays as the file has it.
	n := copyNode(node)
	if n.Kind == yaml.MappingNode && len(skip) > 0 {
		n.Content = dropKeys(n.Content, func(k *yaml.Node) bool { return slices.Contains(skip, k.Value) })
	}
	ps := c.checkNode(n, t.Elem(), path)
	if err := n.Decode(into); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return append(ps, newProblem(c.File, n.Line, path, "%v", err))
		}
		for _, msg := range te.Errors {
			ps = append(ps, c.locateField(typeErrorProblem(c.File, msg)))
		}
	}
	sortProblems(ps)
	return ps
}

// checkNode reports the unknown keys under n, a value for type t at path, and
// removes them; it expands the secrets of fields tagged config:"secret".
// Type mismatches are left to the decoder, which words them as the file's.
func (c *Config) checkNode(n *yaml.Node, t reflect.Type, path string) []Problem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode || decodesItself(t) {
		return nil
	}
	var ps []Problem
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields, open := yamlFields(t)
		n.Content = dropKeys(n.Content, func(k *yaml.Node) bool {
			if _, ok := fields[k.Value]; ok || open || isMerge(k) {
				return false
			}
			ps = append(ps, Problem{File: c.File, Line: k.Line, Field: joinPath(path, k.Value), Msg: unknownKeyMsg})
			return true
		})
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i].Value, n.Content[i+1]
			f, ok := fields[key]
			if !ok {
				continue // an inline map's key
			}
			child := joinPath(path, key)
			if f.secret && val.Kind == yaml.ScalarNode {
				if p, bad := c.expandNode(val, child); bad {
					ps = append(ps, p)
				}
			}
			ps = append(ps, c.checkNode(val, f.typ, child)...)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			ps = append(ps, c.checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			ps = append(ps, c.checkNode(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value))...)
		}
	}
	return ps
}

// expandNode reads a "${NAME}" secret from the environment into the node.
func (c *Config) expandNode(n *yaml.Node, path string) (Problem, bool) {
	m := envRef.FindStringSubmatch(n.Value)
	if m == nil {
		return Problem{}, false
	}
	val, ok := os.LookupEnv(m[1])
	if !ok || val == "" {
		return c.Problemf(path, "environment variable %s is not set (export it, or write the secret here)", m[1]), true
	}
	// A quoted scalar keeps the value a string whatever it reads like.
	n.Value, n.Tag, n.Style = val, "!!str", yaml.DoubleQuotedStyle
	return Problem{}, false
}

type yamlField struct {
	typ    reflect.Type
	secret bool
}

// yamlFields lists the keys a struct decodes, as yaml.v3 names them (the tag's
// name, else the field's name in lower case; inline structs' keys included);
// open is true when an inline map takes any other key.
func yamlFields(t reflect.Type) (fields map[string]yamlField, open bool) {
	fields = map[string]yamlField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous { // yaml.v3 inlines unexported embedded structs too
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				open = true
				continue
			}
			inner, innerOpen := yamlFields(ft)
			for k, v := range inner {
				fields[k] = v
			}
			open = open || innerOpen
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = yamlField{typ: f.Type, secret: f.Tag.Get("config") == "secret"}
	}
	return fields, open
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
)

// decodesItself tells whether values of t read their own YAML (a
// yaml.Unmarshaler, a yaml.Node): their keys are theirs to check.
func decodesItself(t reflect.Type) bool {
	return t == nodeType || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

// isMerge tells a merge key ("<<: *defaults"), whose keys the decoder merges
// in: they are left unchecked, not reported as one unknown key.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!!merge")
}

// dropKeys removes the key/value pairs of a mapping's content whose key drop
// says so.
func dropKeys(content []*yaml.Node, drop func(key *yaml.Node) bool) []*yaml.Node {
	out := content[:0:0]
	for i := 0; i+1 < len(content); i += 2 {
		if !drop(content[i]) {
			out = append(out, content[i], content[i+1])
		}
	}
	return out
}

// copyNode copies a node deeply (an alias keeps pointing at its anchor).
func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	if n.Content != nil {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			c.Content[i] = copyNode(child)
		}
	}
	return &c
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
