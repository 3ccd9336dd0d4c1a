package modbus

import (
	"slices"
)

// read is one Modbus request that covers several points of one table and poll group.
type read struct {
	group    string
	table    string
	start    uint16
	quantity uint16
	points   []*Point
	// split marks a read made for a single point after a merged read drew an
	// exception, so that it is not split again.
	split bool
}

// end is one past the last register (or bit) the read covers.
func (r *read) end() uint32 { return uint32(r.start) + uint32(r.quantity) }

// planReads merges a profile's points into as few reads as the limits allow.
// Points of one poll group and table are sorted by address and joined into one
// read while the read stays within the per-read limit (the protocol's and the
// profile's) and the registers between two points that nobody asked for stay
// within maxGap (16×maxGap bits in the bit tables). With even_address a read
// starts on an even register and covers an even number of them.
func planReads(p *Profile, maxGap int) []read {
	var reads []read
	for _, group := range Groups {
		for _, table := range tables {
			var pts []*Point
			for i := range p.Points {
				if pt := &p.Points[i]; pt.Group == group && pt.Table == table {
					pts = append(pts, pt)
				}
			}
			reads = appendMerged(reads, p, group, table, pts, maxGap)
		}
	}
	return reads
}

func appendMerged(reads []read, p *Profile, group, table string, pts []*Point, maxGap int) []read {
	slices.SortStableFunc(pts, func(a, b *Point) int {
		if a.Address != b.Address {
			return int(a.Address) - int(b.Address)
		}
		return int(a.width) - int(b.width)
	})
	limit := uint32(p.MaxRead(table))
	gap := int64(maxGap)
	even := p.Limits.EvenAddress
	if IsBitTable(table) {
		gap *= 16
		even = false
	}
	var cur *read
	var curEnd uint32 // end of the last point in cur (before rounding to even)
	for _, pt := range pts {
		start, end := uint32(pt.Address), uint32(pt.Address)+uint32(pt.width)
		if cur != nil && int64(start)-int64(curEnd) <= gap {
			newEnd := max(curEnd, end)
			if span(cur.start, newEnd, even) <= limit {
				curEnd = newEnd
				cur.quantity = uint16(span(cur.start, newEnd, even))
				cur.points = append(cur.points, pt)
				continue
			}
		}
		s := uint16(start)
		if even {
			s &^= 1
		}
		reads = append(reads, read{group: group, table: table, start: s,
			quantity: uint16(span(s, end, even)), points: []*Point{pt}})
		cur, curEnd = &reads[len(reads)-1], end
	}
	return reads
}

// span is the quantity a read from start to end needs, rounded up to even
// when the device wants that (never past the last register).
func span(start uint16, end uint32, even bool) uint32 {
	q := end - uint32(start)
	if even && q%2 == 1 && uint32(start)+q < 0x10000 {
		q++
	}
	return q
}

// splitRead turns a merged read into one read per point, for a device that
// refuses the merged one (an address in a gap it does not implement).
func splitRead(p *Profile, r read) []read {
	out := make([]read, 0, len(r.points))
	for _, pt := range r.points {
		one := appendMerged(nil, p, r.group, r.table, []*Point{pt}, 0)
		one[0].split = true
		out = append(out, one[0])
	}
	return out
}

// PlanStats tells how a profile's points are read in one poll of every group.
type PlanStats struct {
	Points   int // points in the profile
	Requests int // requests after merging
	// Registers and Bits are the quantities read, gaps included.
	Registers int
	Bits      int
}

// Plan reports how many requests one poll of every group of the profile makes
// with gap bridging up to maxGap registers (a negative maxGap: the profile's own).
func (p *Profile) Plan(maxGap int) PlanStats {
	if maxGap < 0 {
		maxGap = p.Limits.MaxGap
	}
	st := PlanStats{Points: len(p.Points)}
	for _, r := range planReads(p, maxGap) {
		st.Requests++
		if IsBitTable(r.table) {
			st.Bits += int(r.quantity)
		} else {
			st.Registers += int(r.quantity)
		}
	}
	return st
}
