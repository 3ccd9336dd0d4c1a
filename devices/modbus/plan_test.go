package modbus

import (
	"fmt"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// checkPlan asserts the invariants of a read plan: every point read exactly
// once, inside its read, reads within the protocol's and the profile's limits,
// aligned when the device wants that, gaps no wider than allowed.
func checkPlan(t testing.TB, p *Profile, reads []read, maxGap int) {
	t.Helper()
	seen := map[*Point]int{}
	for _, r := range reads {
		bits := IsBitTable(r.table)
		limit := p.Limits.MaxRegistersPerRead
		if bits {
			limit = p.Limits.MaxBitsPerRead
		}
		if r.quantity == 0 || int(r.quantity) > limit {
			t.Fatalf("read %s %d+%d exceeds limit %d", r.table, r.start, r.quantity, limit)
		}
		if r.end() > 0x10000 {
			t.Fatalf("read %s %d+%d runs past 65535", r.table, r.start, r.quantity)
		}
		if p.Limits.EvenAddress && !bits && r.start%2 != 0 {
			t.Fatalf("read %s starts at odd %d", r.table, r.start)
		}
		covered := map[uint32]bool{}
		for _, pt := range r.points {
			seen[pt]++
			if pt.Table != r.table || pt.Address < r.start || uint32(pt.Address)+uint32(pt.width) > r.end() {
				t.Fatalf("point %s (%s %d+%d) outside read %s %d+%d", pt.Name, pt.Table, pt.Address, pt.width, r.table, r.start, r.quantity)
			}
			for a := uint32(pt.Address); a < uint32(pt.Address)+uint32(pt.width); a++ {
				covered[a] = true
			}
		}
		gap, run := 0, 0
		allowed := maxGap
		if bits {
			allowed *= 16
		}
		first := uint32(r.points[0].Address)
		for _, pt := range r.points {
			first = min(first, uint32(pt.Address))
		}
		for a := first; a < r.end(); a++ {
			if covered[a] {
				gap = max(gap, run)
				run = 0
			} else {
				run++
			}
		}
		if gap > allowed {
			t.Fatalf("read %s %d+%d bridges %d unused, allowed %d", r.table, r.start, r.quantity, gap, allowed)
		}
	}
	for i := range p.Points {
		if n := seen[&p.Points[i]]; n != 1 {
			t.Fatalf("point %s read %d times", p.Points[i].Name, n)
		}
	}
}

func TestPlanMergesWithinLimitsAndGaps(t *testing.T) {
	p := mustProfile(t, `
name: t
limits: {max_registers_per_read: 10}
points:
  - {name: a, table: input, address: 0, type: float32}
  - {name: b, table: input, address: 2, type: float32}
  - {name: c, table: input, address: 7, type: float32}
  - {name: d, table: input, address: 9, type: uint16}
  - {name: e, table: input, address: 30, type: uint16}
  - {name: f, table: holding, address: 0}
  - {name: s, table: input, address: 1, type: float32, group: slow}
  - {name: c1, table: coil, address: 0}
  - {name: c2, table: coil, address: 40}
`)
	cases := []struct {
		gap  int
		want string
	}{
		{0, "normal/holding@0+1 normal/input@0+4 normal/input@7+3 normal/input@30+1 normal/coil@0+1 normal/coil@40+1 slow/input@1+2"},
		{3, "normal/holding@0+1 normal/input@0+10 normal/input@30+1 normal/coil@0+41 slow/input@1+2"},
		{125, "normal/holding@0+1 normal/input@0+10 normal/input@30+1 normal/coil@0+41 slow/input@1+2"},
	}
	for _, c := range cases {
		reads := planReads(p, c.gap)
		checkPlan(t, p, reads, c.gap)
		if got := describe(reads); got != c.want {
			t.Errorf("gap %d:\n got %s\nwant %s", c.gap, got, c.want)
		}
	}
}

func TestPlanEvenAddress(t *testing.T) {
	p := mustProfile(t, `
name: t
limits: {max_registers_per_read: 8, even_address: true, max_gap: 2}
points:
  - {name: a, table: input, address: 3, type: uint16}
  - {name: b, table: input, address: 4, type: float32}
  - {name: c, table: input, address: 9, type: uint16}
  - {name: d, table: input, address: 11, type: uint16}
`)
	reads := planReads(p, 2)
	checkPlan(t, p, reads, 2)
	if got, want := describe(reads), "normal/input@2+4 normal/input@8+4"; got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func describe(reads []read) string {
	s := ""
	for i, r := range reads {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s/%s@%d+%d", r.group, r.table, r.start, r.quantity)
	}
	return s
}

func FuzzPlan(f *testing.F) {
	f.Add([]byte{0, 2, 4, 7, 9, 200, 3}, uint8(10), uint8(3), true)
	f.Fuzz(func(t *testing.T, addrs []byte, limit, gap uint8, even bool) {
		if len(addrs) > 64 {
			addrs = addrs[:64]
		}
		p := &Profile{ProfileHeader: devices.ProfileHeader{Name: "f"}, Limits: Limits{MaxRegistersPerRead: int(limit)%125 + 4, EvenAddress: even, MaxGap: int(gap) % 40}}
		for i, a := range addrs {
			typ := Types[int(a)%len(Types)]
			pt := Point{Name: fmt.Sprint("p", i), Table: tables[i%4], Type: typ, Address: uint16(a) * 3, Group: Groups[int(a)%3]}
			if IsBitTable(pt.Table) {
				pt.Type = "bool"
			}
			if typ == "string" || typ == "bcd" {
				pt.Length = 1 + int(a)%4
			}
			p.Points = append(p.Points, pt)
		}
		if err := p.normalise(); err != nil {
			return
		}
		checkPlan(t, p, planReads(p, p.Limits.MaxGap), p.Limits.MaxGap)
	})
}

// Groups with equal intervals are polled together, in merged reads.
func TestPollJobsMergeGroupsOfOneInterval(t *testing.T) {
	p := mustProfile(t, testProfile+"  - {name: pf, table: input, address: 2, type: float32, group: fast}\n")
	dev := Device{Device: config.Device{PollInterval: time.Second}}
	jobs := planJobs(p, dev)
	if len(jobs) != 2 || jobs[0].name != "normal+fast" && jobs[0].name != "fast+normal" || jobs[1].name != "slow" || jobs[1].interval != 10*time.Second {
		for _, j := range jobs {
			t.Logf("job %s %v %s", j.name, j.interval, describe(j.reads))
		}
		t.Fatal("want fast+normal at 1s and slow at 10s")
	}
	if got := describe(jobs[0].reads); got != "fast+normal/input@0+8 fast+normal/coil@3+1 fast+normal/discrete@10+1" {
		t.Errorf("fast+normal reads: %s", got)
	}
	dev.PollGroups = map[string]time.Duration{"fast": 200 * time.Millisecond, "slow": time.Second}
	jobs = planJobs(p, dev)
	if len(jobs) != 2 || jobs[0].name != "fast" || jobs[1].name != "normal+slow" {
		t.Errorf("jobs %v %v", jobs[0].name, jobs[1].name)
	}
}
