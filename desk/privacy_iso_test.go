package desk

import (
	"context"
	"fmt"
	"testing"

	"github.com/estatehq/estate/desk/store"
)

// privacyIsoCases are the isolation cases of the areas, access-log and SMS
// routes: site B gets an area (named with its secret) to be named from A.
func (d *isoDesk) privacyIsoCases(t *testing.T) map[string][]isoCase {
	t.Helper()
	ctx := context.Background()
	areaB, _, err := d.st.SaveArea(ctx, store.Area{Site: "site-b", Name: secretTitle + " area", Assistant: "bob-b", Buildings: []string{"1"}}, "root", "", d.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.st.SetSMSOptOut(ctx, store.SMSOptOut{Site: "site-b", Unit: "1-101", At: d.clock.Now(), By: "root", Note: secretTitle}, true); err != nil {
		t.Fatal(err)
	}
	area := fmt.Sprintf("/api/v1/areas/%d", areaB.ID)
	tk := func(id int64) string { return fmt.Sprintf("/api/v1/tickets/%d/sms", id) }
	noB := func(t *testing.T, role, body string) {}
	return map[string][]isoCase{
		"GET /api/v1/areas": {
			{name: "own site", path: "/api/v1/areas", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/areas?site=site-b", want: []int{403}},
		},
		"POST /api/v1/areas": {
			{name: "an area on site B", path: "/api/v1/areas", body: `{"site":"site-b","name":"x","assistant":"amy","buildings":["1"]}`, want: []int{403}},
			{name: "B's assistant on site A", path: "/api/v1/areas", body: `{"site":"site-a","name":"x","assistant":"bob-b","buildings":["9"]}`, want: []int{422}},
		},
		"PUT /api/v1/areas/:id":    {{name: "B's area reassigned", path: area, body: `{"name":"x","assistant":"amy","buildings":["1"],"note":"probe"}`, want: []int{404}}},
		"DELETE /api/v1/areas/:id": {{name: "B's area deleted", path: area, want: []int{404}}},
		"GET /api/v1/access-log": {
			{name: "own site", path: "/api/v1/access-log", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/access-log?site=site-b", want: []int{403}},
			{name: "B's unit", path: "/api/v1/access-log?unit=1-101", want: []int{200}, check: noB},
		},
		"POST /api/v1/tickets/:id/sms": {
			{name: "text B's top-up", path: tk(d.topUpB), want: []int{404}},
			{name: "text B's fire", path: tk(d.fireB), want: []int{404}},
		},
		"GET /api/v1/tickets/:id/sms": {
			{name: "B's top-up", path: tk(d.topUpB), want: []int{404}},
		},
		"PUT /api/v1/units/:site/:unit/sms": {{name: "B's household's opt-out withdrawn", path: "/api/v1/units/site-b/1-101/sms", body: `{"opt_out":false}`, want: []int{403}}},
		"GET /api/v1/sms/optouts": {
			{name: "own site", path: "/api/v1/sms/optouts", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/sms/optouts?site=site-b", want: []int{403}},
		},
	}
}
