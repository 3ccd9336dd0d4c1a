// Package devicecsv adds devices from a CSV (or XLSX) table to a site
// configuration and exports a configuration's devices as one: `estate
// config add-devices site.yaml devices.csv` and `estate config
// export-devices site.yaml`. A table has a column per device key (id,
// family, protocol, profile, building, floor, unit, tags, poll_interval,
// timeout and the protocol's own keys such as address or slave_id; nested
// options as serial.port); an empty cell leaves the key out. The devices are
// written into the YAML text after the last device, so that every comment
// and the layout of the file stay as they were; the file is written only
// when the whole configuration, new devices included, passes `estate check`,
// and problems of the new devices are reported at their row of the table.
package devicecsv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/tabular"
)

// Device is one row of a devices table: its keys in column order.
type Device struct {
	Row    int
	Keys   []string
	Values []string
}

// Get is a device's value of a key.
func (d Device) Get(key string) string {
	for i, k := range d.Keys {
		if k == key {
			return d.Values[i]
		}
	}
	return ""
}

// commonKeys are the keys every device has, in the order exports write them.
var commonKeys = []string{"id", "family", "protocol", "profile", "building", "floor", "unit", "tags", "poll_interval", "timeout"}

// textKeys are common keys whose values are always text.
var textKeys = []string{"id", "family", "protocol", "profile", "building", "floor", "unit"}

var (
	keyName    = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
	identifier = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	plainInt   = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	tagSep     = regexp.MustCompile(`[;,；，\s]+`)
)

// ParseRows checks a devices table whose first row is the header. existing
// are the ids of the configuration's devices (a new id must be unused).
func ParseRows(file string, rows []tabular.Row, existing map[string]bool) ([]Device, tabular.Problems) {
	if len(rows) == 0 {
		return nil, tabular.Problems{{File: file, Msg: "the file is empty; its first row names the device keys (id, family, protocol, …)"}}
	}
	var ps tabular.Problems
	header := rows[0]
	keys := make([]string, len(header.Cells))
	seen := map[string]bool{}
	for i, name := range header.Cells {
		k := strings.ToLower(strings.TrimSpace(name))
		switch {
		case k == "":
			if columnUsed(rows[1:], i) {
				ps = append(ps, tabular.Problem{File: file, Row: header.Num, Column: fmt.Sprintf("column %d", i+1), Msg: "has values but no heading"})
			}
			continue
		case !keyName.MatchString(k):
			ps = append(ps, tabular.Problem{File: file, Row: header.Num, Column: name, Msg: "not a device key (lower-case letters, digits and _, nested options as serial.port)"})
			continue
		case seen[k]:
			ps = append(ps, tabular.Problem{File: file, Row: header.Num, Column: name, Msg: "repeated column"})
			continue
		}
		for other := range seen {
			if strings.HasPrefix(k, other+".") || strings.HasPrefix(other, k+".") {
				ps = append(ps, tabular.Problem{File: file, Row: header.Num, Column: name, Msg: fmt.Sprintf("clashes with column %s: a key is either a value or a group of options", other)})
			}
		}
		seen[k] = true
		keys[i] = k
	}
	for _, need := range []string{"id", "family", "protocol"} {
		if !seen[need] {
			ps = append(ps, tabular.Problem{File: file, Row: header.Num, Column: need, Msg: "missing column (every device has id, family and protocol)"})
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	var devs []Device
	rowOf := map[string]int{}
	for _, row := range rows[1:] {
		bad := func(col, format string, args ...any) {
			ps = append(ps, tabular.Problem{File: file, Row: row.Num, Column: col, Msg: fmt.Sprintf(format, args...)})
		}
		d := Device{Row: row.Num}
		ok := true
		for i, v := range row.Cells {
			if v == "" {
				continue
			}
			if i >= len(keys) || keys[i] == "" {
				bad(fmt.Sprintf("column %d", i+1), "a value in a column without heading")
				ok = false
				continue
			}
			if len(v) > tabular.MaxCell {
				bad(keys[i], "longer than %d bytes", tabular.MaxCell)
				ok = false
				continue
			}
			if strings.ContainsAny(v, "\n\r\t") || strings.ContainsRune(v, 0) {
				bad(keys[i], "holds a line break, tab or NUL")
				ok = false
				continue
			}
			d.Keys = append(d.Keys, keys[i])
			d.Values = append(d.Values, v)
		}
		id := d.Get("id")
		switch {
		case id == "":
			bad("id", "required: a device identifier unique within the site")
			ok = false
		case !identifier.MatchString(id):
			bad("id", "%q may use only letters, digits, '-' and '_'", id)
			ok = false
		case existing[id]:
			bad("id", "%q is already a device of the configuration", id)
			ok = false
		case rowOf[id] > 0:
			bad("id", "%q is also the id of row %d", id, rowOf[id])
			ok = false
		}
		if id != "" && rowOf[id] == 0 {
			rowOf[id] = row.Num
		}
		for _, need := range []string{"family", "protocol"} {
			if d.Get(need) == "" {
				bad(need, "required")
				ok = false
			}
		}
		if ok {
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 && len(ps) == 0 {
		ps = tabular.Problems{{File: file, Msg: "the file has a header but no devices"}}
	}
	return devs, ps
}

func columnUsed(rows []tabular.Row, i int) bool {
	for _, r := range rows {
		if i < len(r.Cells) && r.Cells[i] != "" {
			return true
		}
	}
	return false
}

// scalar is a cell as a YAML value: whole numbers and true/false keep their
// type, everything else is a string (quoted by the encoder where YAML would
// read it otherwise: "0123", "yes", "3").
func scalar(v string) *yaml.Node {
	switch {
	case plainInt.MatchString(v) && len(v) < 19:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: v}
	case v == "true" || v == "false":
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: v}
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xXoObB_") && strings.Count(v, ".") == 1 && !strings.HasPrefix(v, ".") {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: v}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

// node builds a device's YAML mapping; dotted keys become nested mappings.
func (d Device) node() *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i, k := range d.Keys {
		v := d.Values[i]
		parts := strings.Split(k, ".")
		into := m
		for _, p := range parts[:len(parts)-1] {
			into = child(into, p)
		}
		var val *yaml.Node
		if k == "tags" {
			val = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
			for _, tag := range tagSep.Split(v, -1) {
				if tag != "" {
					val.Content = append(val.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: tag})
				}
			}
		} else if slices.Contains(textKeys, k) {
			// Names and places are text even when they look like numbers
			// (building "3", unit "0101").
			val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		} else {
			val = scalar(v)
		}
		into.Content = append(into.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: parts[len(parts)-1]}, val)
	}
	return m
}

func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.MappingNode {
			return m.Content[i+1]
		}
	}
	c := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, c)
	return c
}

// renderItems writes devices as block-sequence items, each line prefixed
// by indent.
func renderItems(devs []Device, indent string) (string, error) {
	return renderItemsWith(devs, indent, 2)
}

// renderItemsWith renders with step spaces per level (the file's own: a
// list written "-   id: …" has four).
func renderItemsWith(devs []Device, indent string, step int) (string, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, d := range devs {
		seq.Content = append(seq.Content, d.node())
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(seq); err != nil {
		return "", err
	}
	enc.Close()
	// The encoder writes "- " and two spaces a level; the file's own step
	// replaces them (values hold no line breaks, so every line is a key).
	var out strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(buf.String(), "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "- "); ok {
			line = "-" + strings.Repeat(" ", step-1) + rest
		} else {
			trimmed := strings.TrimLeft(line, " ")
			line = strings.Repeat(" ", (len(line)-len(trimmed))/2*step) + trimmed
		}
		out.WriteString(indent + line + "\n")
	}
	return out.String(), nil
}

// Insert returns the configuration text with the devices added at the end
// of its devices: list (made if it has none), everything else unchanged.
func Insert(file string, text []byte, devs []Device) ([]byte, error) {
	out, _, err := insert(file, text, devs)
	return out, err
}

// insert is Insert that also says on which line (1-based) the new devices begin.
func insert(file string, text []byte, devs []Device) ([]byte, int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, 0, fmt.Errorf("%s: not YAML: %w", file, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, 0, fmt.Errorf("%s: not a configuration (a mapping of sections)", file)
	}
	root := doc.Content[0]
	lines := strings.SplitAfter(string(text), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	withNewline := func(ls []string) []string {
		if n := len(ls); n > 0 && !strings.HasSuffix(ls[n-1], "\n") {
			ls[n-1] += "\n"
		}
		return ls
	}
	var key, seq *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "devices" {
			key, seq = root.Content[i], root.Content[i+1]
		}
	}
	join := func(before []string, items string, after []string) []byte {
		var b strings.Builder
		for _, l := range withNewline(before) {
			b.WriteString(l)
		}
		b.WriteString(items)
		for _, l := range after {
			b.WriteString(l)
		}
		return []byte(b.String())
	}
	switch {
	case key == nil:
		items, err := renderItems(devs, "  ")
		if err != nil {
			return nil, 0, err
		}
		return join(lines, "\ndevices:\n"+items, nil), len(lines) + 3, nil
	case seq.Kind == yaml.ScalarNode && (seq.Tag == "!!null" || seq.Value == ""),
		seq.Kind == yaml.SequenceNode && len(seq.Content) == 0:
		// "devices:" with nothing, or "devices: []": the list starts on the next line.
		at := key.Line - 1
		keyLine := lines[at]
		if seq.Kind == yaml.SequenceNode {
			keyLine = strings.Replace(keyLine, "[]", "", 1)
		}
		items, err := renderItems(devs, strings.Repeat(" ", key.Column-1)+"  ")
		if err != nil {
			return nil, 0, err
		}
		head := append(append([]string{}, lines[:at]...), keyLine)
		return join(head, items, lines[at+1:]), at + 2, nil
	case seq.Kind != yaml.SequenceNode:
		return nil, 0, fmt.Errorf("%s:%d: devices: is not a list", file, seq.Line)
	case seq.Style&yaml.FlowStyle != 0:
		return nil, 0, fmt.Errorf("%s:%d: devices: is written as a [flow, list]; write it as a block list (one \"- id: …\" per device) to add devices", file, seq.Line)
	}
	first := seq.Content[0]
	dash := strings.LastIndex(lines[first.Line-1][:first.Column-1], "-")
	if dash < 0 {
		return nil, 0, fmt.Errorf("%s:%d: cannot find the first device's \"-\"", file, first.Line)
	}
	last := lastLine(seq.Content[len(seq.Content)-1], lines)
	step := first.Column - 1 - dash
	if step < 2 || step > 8 {
		step = 2
	}
	items, err := renderItemsWith(devs, strings.Repeat(" ", dash), step)
	if err != nil {
		return nil, 0, err
	}
	return join(lines[:last], items, lines[last:]), last + 1, nil
}

// lastLine is the last line (1-based) that a node's text takes.
func lastLine(n *yaml.Node, lines []string) int {
	last := n.Line
	if n.Kind == yaml.ScalarNode && (n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0) {
		// A block scalar runs over its value's lines after its indicator.
		last = n.Line + strings.Count(strings.TrimRight(n.Value, "\n"), "\n") + 1
	} else if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "\n") {
		last = n.Line + strings.Count(n.Value, "\n")
	}
	for _, c := range n.Content {
		if l := lastLine(c, lines); l > last {
			last = l
		}
	}
	if last > len(lines) {
		last = len(lines)
	}
	return last
}

// Checker validates configuration text as `estate check` does.
type Checker func(path string, data []byte) error

// Add reads the devices table and the configuration, and returns the new
// configuration text. Problems of the table's rows, and problems the new
// devices bring to the configuration (reported at their rows), refuse it.
func Add(configPath string, configText []byte, tableFile string, tableData []byte, check Checker) ([]byte, int, tabular.Problems, error) {
	rows, err := tabular.Read(tableFile, tableData)
	if err != nil {
		if ps, ok := err.(tabular.Problems); ok {
			return nil, 0, ps, nil
		}
		return nil, 0, nil, err
	}
	var cfg struct {
		Devices []struct {
			ID string `yaml:"id"`
		} `yaml:"devices"`
	}
	if err := yaml.Unmarshal(configText, &cfg); err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %w", configPath, err)
	}
	existing := map[string]bool{}
	for _, d := range cfg.Devices {
		existing[d.ID] = true
	}
	// Rows with problems of their own are left out, and the others checked
	// in the configuration, so that one run reports every bad row.
	devs, ps := ParseRows(tableFile, rows, existing)
	if len(devs) == 0 {
		return nil, 0, ps, nil
	}
	out, start, err := insert(configPath, configText, devs)
	if err != nil {
		return nil, 0, nil, err
	}
	// Which row and key each new line of the configuration comes from, for
	// problems located by line only (a value of the wrong type).
	type origin struct {
		row int
		key string
	}
	var origins []origin
	outLines := strings.Split(string(out), "\n")
	dev := -1
	for i := start - 1; i < len(outLines) && dev < len(devs); i++ {
		l := strings.TrimSpace(outLines[i])
		if strings.HasPrefix(l, "- ") {
			dev++
			l = strings.TrimPrefix(l, "- ")
		}
		if dev < 0 || dev >= len(devs) {
			break
		}
		key, _, _ := strings.Cut(l, ":")
		origins = append(origins, origin{devs[dev].Row, key})
	}
	before := problemSet(check(configPath, configText))
	for _, p := range asConfigProblems(check(configPath, out)) {
		var n int
		if _, err := fmt.Sscanf(p.Field, "devices[%d]", &n); err == nil && n >= len(cfg.Devices) && n-len(cfg.Devices) < len(devs) {
			col := strings.TrimPrefix(strings.TrimPrefix(p.Field, fmt.Sprintf("devices[%d]", n)), ".")
			ps = append(ps, tabular.Problem{File: tableFile, Row: devs[n-len(cfg.Devices)].Row, Column: col, Msg: p.Msg})
			continue
		}
		if p.Field == "" && p.Line >= start && p.Line-start < len(origins) {
			o := origins[p.Line-start]
			ps = append(ps, tabular.Problem{File: tableFile, Row: o.row, Column: o.key, Msg: p.Msg})
			continue
		}
		if !before[p.Field+"\x00"+p.Msg] {
			ps = append(ps, tabular.Problem{File: configPath, Row: p.Line, Column: p.Field, Msg: p.Msg + " (with the new devices)"})
		}
	}
	if len(ps) > 0 {
		sort.SliceStable(ps, func(i, j int) bool {
			return ps[i].File == tableFile && ps[j].File == tableFile && ps[i].Row < ps[j].Row
		})
		return nil, 0, ps, nil
	}
	return out, len(devs), nil, nil
}

func asConfigProblems(err error) config.Problems {
	if err == nil {
		return nil
	}
	if ps, ok := err.(config.Problems); ok {
		return ps
	}
	return config.Problems{{Msg: err.Error()}}
}

func problemSet(err error) map[string]bool {
	set := map[string]bool{}
	for _, p := range asConfigProblems(err) {
		set[p.Field+"\x00"+p.Msg] = true
	}
	return set
}

// WriteFile replaces a file by new text atomically, keeping its mode.
func WriteFile(path string, data []byte) error {
	mode := os.FileMode(0o640)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Export writes a configuration's devices as a table: the common keys
// first, then every other key in the order the file first uses it, nested
// options as dotted columns.
func Export(w io.Writer, format, file string, text []byte) (int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return 0, fmt.Errorf("%s: not YAML: %w", file, err)
	}
	var seq *yaml.Node
	if len(doc.Content) > 0 && doc.Content[0].Kind == yaml.MappingNode {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "devices" {
				seq = root.Content[i+1]
			}
		}
	}
	var devs []map[string]string
	order := append([]string{}, commonKeys...)
	used := map[string]bool{}
	if seq != nil && seq.Kind == yaml.SequenceNode {
		for i, item := range seq.Content {
			if item.Kind != yaml.MappingNode {
				return 0, fmt.Errorf("%s:%d: devices[%d] is not a mapping", file, item.Line, i)
			}
			vals := map[string]string{}
			if err := flatten(file, fmt.Sprintf("devices[%d]", i), "", item, vals); err != nil {
				return 0, err
			}
			for k := range vals {
				used[k] = true
			}
			for _, k := range flatKeys(item, "") {
				if !slices.Contains(order, k) {
					order = append(order, k)
				}
			}
			devs = append(devs, vals)
		}
	}
	var header []string
	for _, k := range order {
		if used[k] {
			header = append(header, k)
		}
	}
	rows := make([][]string, len(devs))
	for i, d := range devs {
		for _, k := range header {
			rows[i] = append(rows[i], d[k])
		}
	}
	return len(devs), tabular.Write(w, format, header, rows)
}

func flatKeys(m *yaml.Node, prefix string) []string {
	var out []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := prefix + m.Content[i].Value
		if v := m.Content[i+1]; v.Kind == yaml.MappingNode {
			out = append(out, flatKeys(v, k+".")...)
		} else {
			out = append(out, k)
		}
	}
	return out
}

func flatten(file, path, prefix string, m *yaml.Node, into map[string]string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := prefix+m.Content[i].Value, m.Content[i+1]
		switch {
		case v.Kind == yaml.MappingNode:
			if err := flatten(file, path, k+".", v, into); err != nil {
				return err
			}
		case v.Kind == yaml.SequenceNode && k == "tags":
			var tags []string
			for _, t := range v.Content {
				tags = append(tags, t.Value)
			}
			into[k] = strings.Join(tags, ";")
		case v.Kind == yaml.ScalarNode:
			if strings.ContainsAny(v.Value, "\n\r\t") {
				return fmt.Errorf("%s:%d: %s.%s: a value over several lines does not fit a table", file, v.Line, path, k)
			}
			into[k] = v.Value
		default:
			return fmt.Errorf("%s:%d: %s.%s: a list or alias does not fit a table", file, v.Line, path, k)
		}
	}
	return nil
}
