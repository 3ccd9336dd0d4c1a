package alarm

import (
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

const powerConfig = `devices:
  - {id: m1, family: meter, protocol: dlt645, unit: "1-101"}
  - {id: m2, family: meter, protocol: dlt645, unit: "1-102"}
  - {id: m3, family: meter, protocol: modbus_tcp, unit: "1-103"}
rules:
  - {name: device_offline, type: offline, for: 1m, ticket: repair,
     message: {zh: "{unit} 设备 {device} 无应答", en: "device {device} does not answer"}}
`

// A meter whose power-failure count rose 2 and then 1 times before it fell
// silent: its offline repair ticket says it lost power 3 times since its
// count was first read. One whose count never moved says that instead; a
// meter without the count says nothing of power.
func TestOfflineTicketCarriesPowerFailureEvidence(t *testing.T) {
	h := newHarness(t, powerConfig)
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Hour)
		rise1 := 0
		switch i {
		case 3:
			rise1 = 2
		case 7:
			rise1 = 1
		}
		h.read("m1", at, devices.PointPowerFailuresNew, rise1, "balance", 30)
		h.read("m2", at, devices.PointPowerFailuresNew, 0, "balance", 30)
		h.read("m3", at, "balance", 30)
		for _, id := range []string{"m1", "m2", "m3"} {
			h.health(id, false, at)
		}
	}
	silent := t0.Add(10 * time.Hour)
	for _, id := range []string{"m1", "m2", "m3"} {
		h.health(id, true, silent)
	}
	h.tick(silent.Add(2 * time.Minute))
	// Each description says the evidence in its language.
	desc, descEN := map[string]string{}, map[string]string{}
	for _, tk := range h.tickets("") {
		desc[tk.Device], descEN[tk.Device] = tk.Description, tk.DescriptionEN
	}
	if len(desc) != 3 {
		t.Fatalf("tickets %v", desc)
	}
	if !strings.Contains(descEN["m1"], "outage evidence: meter lost power 3 times since 2026-05-01 08:00") ||
		!strings.Contains(desc["m1"], "停电证据: 电表自 2026-05-01 08:00 起掉电 3 次") || strings.Contains(desc["m1"], "outage evidence") {
		t.Errorf("m1's ticket:\n%s\n%s", desc["m1"], descEN["m1"])
	}
	if !strings.Contains(descEN["m2"], "meter has not lost power since 2026-05-01 08:00") || !strings.Contains(desc["m2"], "电表自 2026-05-01 08:00 起未掉电") {
		t.Errorf("m2's ticket:\n%s\n%s", desc["m2"], descEN["m2"])
	}
	if strings.Contains(descEN["m3"], "power") || strings.Contains(desc["m3"], "掉电") {
		t.Errorf("m3 reports no count, its ticket says:\n%s", desc["m3"])
	}
}

// The evidence looks back 30 days and keeps a bounded history.
func TestPowerHistoryWindow(t *testing.T) {
	var p powerHistory
	p.observe(t0, 0)
	p.observe(t0.Add(24*time.Hour), 5)
	p.observe(t0.Add(40*24*time.Hour), 1)
	_, ev := p.evidence(t0.Add(40*24*time.Hour), time.UTC)
	if !strings.Contains(ev, "lost power once since 2026-05-11 08:00") {
		t.Fatalf("%s", ev)
	}
	for i := range 1000 {
		p.observe(t0.Add(41*24*time.Hour+time.Duration(i)*time.Second), 1)
	}
	if len(p.losses) > maxPowerLosses {
		t.Fatalf("%d losses kept", len(p.losses))
	}
}
