package modbus

import "sort"

// read is one Modbus request that covers several points of one table.
type read struct {
	table    string
	start    uint16
	quantity uint16
	points   []*Point
}

// planReads merges a profile's points into as few reads as the limits allow:
// points of one table are sorted by address and joined into one read while the
// span stays within the per-read limit (registers or bits).
func planReads(p *Profile) []read {
	byTable := map[string][]*Point{}
	for i := range p.Points {
		pt := &p.Points[i]
		byTable[pt.Table] = append(byTable[pt.Table], pt)
	}
	var reads []read
	for _, table := range tables {
		pts := byTable[table]
		sort.Slice(pts, func(i, j int) bool { return pts[i].Address < pts[j].Address })
		limit := uint16(p.Limits.MaxRegistersPerRead)
		if table == TableCoil || table == TableDiscrete {
			limit = protocolMaxBits
		}
		var cur *read
		for _, pt := range pts {
			end := uint32(pt.Address) + uint32(pt.width())
			if cur != nil && end-uint32(cur.start) <= uint32(limit) {
				if q := uint16(end - uint32(cur.start)); q > cur.quantity {
					cur.quantity = q
				}
				cur.points = append(cur.points, pt)
				continue
			}
			reads = append(reads, read{table: table, start: pt.Address, quantity: pt.width(), points: []*Point{pt}})
			cur = &reads[len(reads)-1]
		}
	}
	return reads
}
