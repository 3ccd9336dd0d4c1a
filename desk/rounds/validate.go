package rounds

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/internal/config"
)

// Item types.
const (
	TypeCheck   = "check"
	TypeReading = "reading"
	TypeNote    = "note"
)

// ItemTypes are the types a checklist item may have.
var ItemTypes = []string{TypeCheck, TypeReading, TypeNote}

// Teams that walk rounds.
var Teams = []string{"engineering", "security"}

// idPattern is what route ids, checkpoint codes and item ids look like: they
// travel in URLs, QR labels and patrol readers' tags.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate checks the desk.rounds section; sites, when not empty, are the
// sites the desk knows (desk.sites and site.id).
func Validate(c *config.Config, routes []deskconfig.Route, sites []string) []config.Problem {
	var ps []config.Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	routeIDs := map[string]string{}
	codes := map[string]string{} // site/code → path of its first use
	for i, r := range routes {
		p := fmt.Sprintf("desk.rounds[%d]", i)
		if !idPattern.MatchString(r.ID) {
			add(p+".id", "%q is not an id: letters, digits, '.', '_', '-', at most 64", r.ID)
		} else if first, dup := routeIDs[r.Site+"/"+r.ID]; dup {
			add(p+".id", "route %q is already %s", r.ID, first)
		} else {
			routeIDs[r.Site+"/"+r.ID] = p
		}
		if r.Site == "" {
			add(p+".site", "required: the site whose staff walk the round")
		} else if len(sites) > 0 && !contains(sites, r.Site) {
			add(p+".site", "%q is not a site of the desk (%s)", r.Site, strings.Join(sites, ", "))
		}
		if strings.TrimSpace(r.Name) == "" {
			add(p+".name", "required: what people call the round (配电房日常巡检)")
		}
		if r.Team != "" && !contains(Teams, r.Team) {
			add(p+".team", "%q is not one of %s", r.Team, strings.Join(Teams, ", "))
		}
		if _, err := parseSchedule(r.Schedule); err != nil {
			add(p+".schedule", "%v", err)
		}
		if len(r.Checkpoints) == 0 {
			add(p+".checkpoints", "required: at least one checkpoint")
		}
		for j, cp := range r.Checkpoints {
			cpp := fmt.Sprintf("%s.checkpoints[%d]", p, j)
			if !idPattern.MatchString(cp.Code) {
				add(cpp+".code", "%q is not a checkpoint code: letters, digits, '.', '_', '-', at most 64", cp.Code)
			} else if first, dup := codes[r.Site+"/"+cp.Code]; dup {
				add(cpp+".code", "checkpoint %q is already %s (a code is one place of its site)", cp.Code, first)
			} else {
				codes[r.Site+"/"+cp.Code] = cpp
			}
			for k, eq := range cp.Equipment {
				if !idPattern.MatchString(eq) {
					add(fmt.Sprintf("%s.equipment[%d]", cpp, k), "%q is not a register id: letters, digits, '.', '_', '-', at most 64", eq)
				}
			}
			if strings.TrimSpace(cp.Name) == "" {
				add(cpp+".name", "required")
			}
			if len(cp.Items) == 0 {
				add(cpp+".items", "required: at least one checklist item")
			}
			items := map[string]bool{}
			for k, it := range cp.Items {
				ip := fmt.Sprintf("%s.items[%d]", cpp, k)
				if !idPattern.MatchString(it.ID) {
					add(ip+".id", "%q is not an id", it.ID)
				} else if items[it.ID] {
					add(ip+".id", "item %q is twice in checkpoint %s", it.ID, cp.Code)
				}
				items[it.ID] = true
				if strings.TrimSpace(it.Label) == "" {
					add(ip+".label", "required")
				}
				switch it.Type {
				case TypeCheck, TypeNote:
					if it.Min != nil || it.Max != nil || it.Unit != "" {
						add(ip, "min, max and unit are for items of type reading, not %s", it.Type)
					}
				case TypeReading:
					if it.Min != nil && it.Max != nil && *it.Min > *it.Max {
						add(ip+".min", "min %g is above max %g", *it.Min, *it.Max)
					}
				default:
					add(ip+".type", "%q is not one of %s", it.Type, strings.Join(ItemTypes, ", "))
				}
			}
		}
	}
	return ps
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
