package maintenance

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/configs"
)

// Templates are the shipped plan templates (configs/maintenance/templates.yaml).
func Templates() ([]Plan, error) {
	return ParseTemplates("configs/maintenance/templates.yaml", configs.MaintenanceTemplates)
}

// ParseTemplates reads a templates file: {templates: [plan, ...]}, each plan
// with its template name and class; problems are "file:line: ...".
func ParseTemplates(file string, data []byte) ([]Plan, error) {
	var doc struct {
		Templates []yaml.Node `yaml:"templates"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []Plan
	var errs []error
	seen := map[string]int{}
	for _, n := range doc.Templates {
		var p Plan
		// Node.Decode does not refuse unknown fields: decode the node's text
		// again, strictly (a comma in an unquoted text of a flow mapping
		// makes a field of its own; it must not pass silently).
		raw, err := yaml.Marshal(&n)
		if err == nil {
			strict := yaml.NewDecoder(bytes.NewReader(raw))
			strict.KnownFields(true)
			err = strict.Decode(&p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, n.Line, err))
			continue
		}
		// A template is checked as the plan it makes.
		check := p
		check.ID, check.Site = "template", "site"
		if check.Class == "" {
			errs = append(errs, fmt.Errorf("%s:%d: class: a template names the class of equipment it suits", file, n.Line))
			continue
		}
		if err := check.Validate(); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				errs = append(errs, fmt.Errorf("%s:%d: template %s: %s", file, n.Line, p.Template, e))
			}
			continue
		}
		if p.Template == "" {
			errs = append(errs, fmt.Errorf("%s:%d: template: every template has a name", file, n.Line))
			continue
		}
		if l, ok := seen[p.Template]; ok {
			errs = append(errs, fmt.Errorf("%s:%d: template %s is also at line %d", file, n.Line, p.Template, l))
			continue
		}
		seen[p.Template] = n.Line
		p.Active = true
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// FromTemplate is a template made into a site's plan.
func FromTemplate(t Plan, site, id string) Plan {
	p := t
	p.Site, p.ID = site, id
	p.Checklist = append([]Item(nil), t.Checklist...)
	if t.Calendar != nil {
		c := *t.Calendar
		p.Calendar = &c
	}
	if t.Usage != nil {
		u := *t.Usage
		p.Usage = &u
	}
	return p
}
