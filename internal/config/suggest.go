package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// What a problem tells the operator beyond "wrong": the key, protocol or
// profile that was probably meant, and what a value of the wrong type should
// have looked like.

// Suggest returns the candidate closest to word by edit distance, or "" when
// none is close enough to be a likely typo (a third of the word's length,
// at least one edit, at most three).
func Suggest(word string, candidates []string) string {
	limit := min(max(len(word)/3, 1), 3)
	best, bestD := "", limit+1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		if c == word || c == "" {
			continue
		}
		if d := editDistance(lw, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// DidYouMean is Suggest as the end of a message: ` (did you mean "x"?)`, or "".
func DidYouMean(word string, candidates []string) string {
	if s := Suggest(word, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// editDistance is the optimal-string-alignment distance between a and b, by
// bytes (keys, protocols and profile names are ASCII): insertions, deletions,
// substitutions and swaps of two neighbours ("metre" for "meter") count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// unknownKey is the message of an unknown key among the known ones.
func unknownKey(key string, known []string) string {
	if s := Suggest(key, known); s != "" {
		return fmt.Sprintf("unknown key (did you mean %q?)", s)
	}
	return unknownKeyMsg
}

// configTypes maps the names yaml.v3 gives the structs of a Config
// ("config.Gateway") to their types, so that a decoder's "field x not found
// in type config.Gateway" can offer the keys that type has.
var configTypes = func() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || out[t.String()] != nil {
			return
		}
		out[t.String()] = t
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[Config]())
	return out
}()

// keysOfType lists the keys of a struct type named as yaml.v3 names it.
func keysOfType(name string) []string {
	t, ok := configTypes[name]
	if !ok {
		return nil
	}
	var keys []string
	for k := range structKeys(t) {
		if k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// cannotUnmarshalRe is yaml.v3's message of a value of the wrong type.
var cannotUnmarshalRe = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")

// typeMessage rewrites yaml.v3's "cannot unmarshal !!str `soon` into
// time.Duration" as what was expected: `expected a duration such as 500ms,
// 30s or 5m, got "soon"`. value is the scalar as the decoder quoted it
// (possibly shortened), tag its YAML kind. Other messages are returned as
// they are.
func typeMessage(msg string) (string, string) {
	m := cannotUnmarshalRe.FindStringSubmatch(msg)
	if m == nil {
		return msg, ""
	}
	tag, value, into := m[1], m[2], m[3]
	got := value
	switch tag {
	case "!!str":
		got = fmt.Sprintf("%q", value)
	case "!!seq":
		got = "a list"
	case "!!map":
		got = "a mapping"
	case "!!null":
		got = "nothing"
	}
	var want string
	switch {
	case into == "time.Duration":
		want = "a duration with its unit, such as 500ms, 30s, 5m or 1h"
	case into == "bool":
		want = "true or false"
	case strings.HasPrefix(into, "int") || strings.HasPrefix(into, "uint"):
		want = "a whole number"
	case strings.HasPrefix(into, "float"):
		want = "a number"
	case into == "string":
		want = "a single value (text)"
	case strings.HasPrefix(into, "[]"):
		want = "a list, such as [a, b] or one \"- item\" per line"
	case strings.HasPrefix(into, "map["):
		want = "a mapping of keys to values"
	case strings.Contains(into, "."):
		want = "a mapping of its options"
	default:
		want = "a value of type " + into
	}
	if tag == "!!seq" || tag == "!!map" {
		value = "" // no scalar to find the field by
	}
	return fmt.Sprintf("expected %s, got %s", want, got), value
}

// typeProblem turns a decoder's message about this configuration's file into
// a problem that names the field (found by the line and the value the
// message quotes) and says what was expected.
func (c *Config) typeProblem(msg string) Problem {
	p := typeErrorProblem(c.File, msg)
	if p.Field != "" { // an unknown key
		return c.locateField(p)
	}
	text, value := typeMessage(p.Msg)
	if text == p.Msg {
		return p
	}
	p.Msg = text
	p.Field = c.fieldAt(p.Line, value)
	return p
}

// fieldAt finds the field path whose value is on that line: the one whose
// scalar the decoder quoted (a flow mapping puts several on one line), else
// the deepest path there.
func (c *Config) fieldAt(line int, value string) string {
	if line == 0 {
		return ""
	}
	prefix, short := strings.CutSuffix(value, "...")
	best := ""
	if value == "" {
		// A list or mapping where a value was expected: the key whose value it
		// is, the shallowest path of the line (or the list an item is in).
		for path, l := range c.positions {
			if l == line && (best == "" || len(path) < len(best)) {
				best = path
			}
		}
		if parent, ok := strings.CutSuffix(best, "[0]"); ok {
			best = parent
		}
		return best
	}
	for path, l := range c.positions {
		if l != line {
			continue
		}
		v, isScalar := c.values[path]
		if isScalar && value != "" && (v == value || short && strings.HasPrefix(v, prefix)) {
			if best == "" || !c.matchesValue(best, value) || len(path) > len(best) {
				best = path
			}
			continue
		}
		if best == "" || (!c.matchesValue(best, value) && len(path) > len(best)) {
			best = path
		}
	}
	return best
}

func (c *Config) matchesValue(path, value string) bool {
	v, ok := c.values[path]
	prefix, short := strings.CutSuffix(value, "...")
	return ok && value != "" && (v == value || short && strings.HasPrefix(v, prefix))
}
