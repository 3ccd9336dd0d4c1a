package desk

import (
	"context"
	"fmt"
	"testing"

	"github.com/estatehq/estate/desk/maintenance"
)

// plantIsoCases are the isolation cases of the equipment register and
// maintenance routes. It seeds site B with a register entry, a plan and an
// order named secretTitle, so that any answer showing them leaks.
func (d *isoDesk) plantIsoCases(t *testing.T) map[string][]isoCase {
	t.Helper()
	must := func(want int, method, path, body string) string {
		t.Helper()
		code, out := d.call(t, method, path, isoRoot, body)
		if code != want {
			t.Fatalf("seed %s %s: %d %s", method, path, code, out)
		}
		return out
	}
	must(200, "PUT", "/api/v1/equipment/site-b/gen-b", `{"name":"`+secretTitle+` generator","class":"generator","serial":"SN-B-1"}`)
	must(200, "PUT", "/api/v1/maintenance/site-b/plans/plan-b",
		`{"name":"`+secretTitle+` plan","equipment":"gen-b","calendar":{"every":1,"unit":"day","start":"2026-11-01","at":"01:00"},"checklist":[{"id":"a","text":"a","kind":"check"}]}`)
	if _, err := d.srv.StepMaintenance(context.Background()); err != nil {
		t.Fatal(err)
	}
	orders, err := d.srv.plant.maint.Orders(context.Background(), orderFilterSite("site-b"), d.clock.Now())
	if err != nil || len(orders) != 1 {
		t.Fatalf("site B's order: %v %v", orders, err)
	}
	ob := fmt.Sprintf("/api/v1/maintenance/site-b/orders/%d", orders[0].ID)
	oa := fmt.Sprintf("/api/v1/maintenance/site-a/orders/%d", orders[0].ID)
	noB := func(t *testing.T, role, body string) {}
	return map[string][]isoCase{
		"GET /api/v1/equipment": {
			{name: "list", path: "/api/v1/equipment", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/equipment?site=site-b", want: []int{200}, check: noB},
		},
		"GET /api/v1/equipment/:site": {{name: "B's register", path: "/api/v1/equipment/site-b?format=xlsx", want: []int{403}}},
		"POST /api/v1/equipment/:site/import": {
			{name: "into site B", path: "/api/v1/equipment/site-b/import", body: "id,name,serial\ngen-b,x,SN-B-1\n", want: []int{403}},
			{name: "rows naming site B into A", path: "/api/v1/equipment/site-a/import?dry_run=true", body: "site,id,name,serial\nsite-b,gen-b,x,SN-B-1\n", want: []int{422}},
		},
		"GET /api/v1/equipment/:site/:id": {
			{name: "B's entry", path: "/api/v1/equipment/site-b/gen-b", want: []int{403}},
			{name: "B's id on A", path: "/api/v1/equipment/site-a/gen-b", want: []int{404}},
		},
		"PUT /api/v1/equipment/:site/:id": {
			{name: "B's entry overwritten", path: "/api/v1/equipment/site-b/gen-b", body: `{"name":"x","serial":"x"}`, want: []int{403}},
			// B's serial is B's: site A may use the same one (sites are walls).
			{name: "B's serial on A", path: "/api/v1/equipment/site-a/gen-a", body: `{"name":"x","serial":"SN-B-1"}`, want: []int{200}, check: noB},
		},
		"DELETE /api/v1/equipment/:site/:id": {
			{name: "B's entry", path: "/api/v1/equipment/site-b/gen-b", want: []int{403}},
			{name: "B's id on A", path: "/api/v1/equipment/site-a/gen-b", want: []int{404}},
		},
		"GET /api/v1/maintenance/templates":   {{name: "templates", path: "/api/v1/maintenance/templates", want: []int{200}, check: noB}},
		"GET /api/v1/maintenance/:site/plans": {{name: "B's plans", path: "/api/v1/maintenance/site-b/plans", want: []int{403}}},
		"PUT /api/v1/maintenance/:site/plans/:id": {
			{name: "B's plan", path: "/api/v1/maintenance/site-b/plans/plan-b", body: `{"template":"elevator-half-monthly","class":"elevator"}`, want: []int{403}},
			{name: "B's equipment from A", path: "/api/v1/maintenance/site-a/plans/p", body: `{"template":"generator-weekly","equipment":"gen-b"}`, want: []int{422}},
		},
		"DELETE /api/v1/maintenance/:site/plans/:id": {
			{name: "B's plan", path: "/api/v1/maintenance/site-b/plans/plan-b", want: []int{403}},
			{name: "B's plan id on A", path: "/api/v1/maintenance/site-a/plans/plan-b", want: []int{404}},
		},
		"GET /api/v1/maintenance/:site/orders": {
			{name: "B's orders", path: "/api/v1/maintenance/site-b/orders", want: []int{403}},
			{name: "A's orders", path: "/api/v1/maintenance/site-a/orders", want: []int{200}, check: noB},
		},
		"GET /api/v1/maintenance/:site/orders/:id": {
			{name: "B's order", path: ob, want: []int{403}},
			{name: "B's order id on A", path: oa, want: []int{404}},
		},
		"POST /api/v1/maintenance/:site/orders/:id/evidence": {
			{name: "B's order", path: ob + "/evidence", want: []int{403}},
			{name: "B's order id on A", path: oa + "/evidence", want: []int{404}},
		},
		"POST /api/v1/maintenance/:site/orders/:id/complete": {
			{name: "B's order", path: ob + "/complete", body: `{"results":[{"item":"a","pass":true}]}`, want: []int{403}},
			{name: "B's order id on A", path: oa + "/complete", body: `{"results":[{"item":"a","pass":true}]}`, want: []int{404}},
		},
		"GET /api/v1/maintenance/:site/windows": {{name: "B's windows", path: "/api/v1/maintenance/site-b/windows", want: []int{403}}},
		"GET /api/v1/maintenance/:site/report": {
			{name: "B's report", path: "/api/v1/maintenance/site-b/report", want: []int{403}},
			{name: "B's report as CSV", path: "/api/v1/maintenance/site-b/report?format=csv", want: []int{403}},
			{name: "A's report", path: "/api/v1/maintenance/site-a/report", want: []int{200}, check: noB},
		},
	}
}

func orderFilterSite(site string) maintenance.OrderFilter { return maintenance.OrderFilter{Site: site} }
