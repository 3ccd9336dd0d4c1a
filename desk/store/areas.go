package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Area is a group of a site's households, by building or by listed unit,
// looked after by one assistant (客服助理按区域划分).
type Area struct {
	ID        int64    `json:"id"`
	Site      string   `json:"site"`
	Name      string   `json:"name"`
	Assistant string   `json:"assistant"`
	Buildings []string `json:"buildings"`
	Units     []string `json:"units"`
	// Households counts the site's registered households in the area;
	// OpenCases the open tickets it owns.
	Households int       `json:"households"`
	OpenCases  int       `json:"open_cases"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AreaTicket is the area a ticket belongs to and the assistant who owns it.
type AreaTicket struct {
	TicketID  int64  `json:"ticket_id"`
	AreaID    int64  `json:"area_id"`
	Area      string `json:"area"`
	Assistant string `json:"assistant"`
}

// AreaConflictError is an area that would share a building or a unit with
// another area of its site.
type AreaConflictError struct {
	Kind, Value, Other string
}

func (e *AreaConflictError) Error() string {
	return fmt.Sprintf("%s %s is already in area %q: a household belongs to one area", e.Kind, e.Value, e.Other)
}

func (e *AreaConflictError) Unwrap() error { return ErrConflict }

// Areas lists a site's areas by name, with their members and counts.
func (s *Store) Areas(ctx context.Context, site string) ([]Area, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, site, name, assistant, created_at, updated_at FROM areas WHERE site = ? ORDER BY name, id`), site)
	if err != nil {
		return nil, fmt.Errorf("areas of %s: %w", site, err)
	}
	out := []Area{}
	for rows.Next() {
		var a Area
		var c, u int64
		if err := rows.Scan(&a.ID, &a.Site, &a.Name, &a.Assistant, &c, &u); err != nil {
			rows.Close()
			return nil, err
		}
		a.CreatedAt, a.UpdatedAt = time.Unix(0, c), time.Unix(0, u)
		a.Buildings, a.Units = []string{}, []string{}
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	m, err := s.areaMap(ctx, s.db, site)
	if err != nil {
		return nil, err
	}
	units, err := s.unitBuildings(ctx, s.db, site)
	if err != nil {
		return nil, err
	}
	count := map[int64]int{}
	for unit, building := range units {
		if id, ok := m.of(unit, building); ok {
			count[id]++
		}
	}
	open, err := s.openAreaCases(ctx, site)
	if err != nil {
		return nil, err
	}
	for i := range out {
		a := &out[i]
		a.Buildings, a.Units = m.members(a.ID, "building"), m.members(a.ID, "unit")
		a.Households, a.OpenCases = count[a.ID], open[a.ID]
	}
	return out, nil
}

// GetArea returns one area (of any site: the caller checks the site).
func (s *Store) GetArea(ctx context.Context, id int64) (Area, error) {
	var site string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT site FROM areas WHERE id = ?`), id).Scan(&site)
	if errors.Is(err, sql.ErrNoRows) {
		return Area{}, fmt.Errorf("area %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Area{}, fmt.Errorf("area %d: %w", id, err)
	}
	as, err := s.Areas(ctx, site)
	if err != nil {
		return Area{}, err
	}
	for _, a := range as {
		if a.ID == id {
			return a, nil
		}
	}
	return Area{}, fmt.Errorf("area %d: %w", id, ErrNotFound)
}

func (s *Store) openAreaCases(ctx context.Context, site string) (map[int64]int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT a.area_id, COUNT(*) FROM area_tickets a JOIN tickets t ON t.id = a.ticket_id
		WHERE a.site = ? AND t.status NOT IN ('closed', 'cancelled') GROUP BY a.area_id`), site)
	if err != nil {
		return nil, fmt.Errorf("open cases of %s: %w", site, err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// areaMembers is a site's membership: buildings and listed units by area.
type areaMembers struct {
	building, unit map[string]int64
	name           map[int64]string
	assistant      map[int64]string
}

// of is the area of a household: its listed unit's, else its building's.
func (m areaMembers) of(unit, building string) (int64, bool) {
	if id, ok := m.unit[unit]; ok && unit != "" {
		return id, true
	}
	if id, ok := m.building[building]; ok && building != "" {
		return id, true
	}
	return 0, false
}

func (m areaMembers) members(id int64, kind string) []string {
	src := m.building
	if kind == "unit" {
		src = m.unit
	}
	out := []string{}
	for v, a := range src {
		if a == id {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) areaMap(ctx context.Context, q rowsQuerier, site string) (areaMembers, error) {
	m := areaMembers{building: map[string]int64{}, unit: map[string]int64{}, name: map[int64]string{}, assistant: map[int64]string{}}
	rows, err := q.QueryContext(ctx, s.q(`SELECT id, name, assistant FROM areas WHERE site = ?`), site)
	if err != nil {
		return m, fmt.Errorf("areas of %s: %w", site, err)
	}
	for rows.Next() {
		var id int64
		var name, assistant string
		if err := rows.Scan(&id, &name, &assistant); err != nil {
			rows.Close()
			return m, err
		}
		m.name[id], m.assistant[id] = name, assistant
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, s.q(`SELECT area_id, kind, value FROM area_members WHERE site = ?`), site)
	if err != nil {
		return m, fmt.Errorf("areas of %s: %w", site, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var kind, v string
		if err := rows.Scan(&id, &kind, &v); err != nil {
			return m, err
		}
		if kind == "unit" {
			m.unit[v] = id
		} else {
			m.building[v] = id
		}
	}
	return m, rows.Err()
}

// unitBuildings maps a site's registered units to their buildings.
func (s *Store) unitBuildings(ctx context.Context, q rowsQuerier, site string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, s.q(`SELECT unit, building FROM units WHERE site = ?`), site)
	if err != nil {
		return nil, fmt.Errorf("units of %s: %w", site, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var u, b string
		if err := rows.Scan(&u, &b); err != nil {
			return nil, err
		}
		out[u] = b
	}
	return out, rows.Err()
}

// SaveArea creates (a.ID 0) or replaces an area, then files the site's open
// household tickets again: those of households that came into the area, or
// whose area's assistant changed, move to its assistant with an audit note
// (note, if given, is added to it). It returns the area and the ids of the
// tickets moved. A building or unit of another area is an
// *AreaConflictError and nothing is changed.
func (s *Store) SaveArea(ctx context.Context, a Area, by, note string, now time.Time) (Area, []int64, error) {
	var moved []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if a.ID != 0 {
			var site string
			err := s.txQueryRow(ctx, tx, `SELECT site FROM areas WHERE id = ?`+s.forUpdate(), a.ID).Scan(&site)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && site != a.Site) {
				return fmt.Errorf("area %d: %w", a.ID, ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		m, err := s.areaMap(ctx, tx, a.Site)
		if err != nil {
			return err
		}
		for id, name := range m.name {
			if id != a.ID && name == a.Name {
				return &AreaConflictError{Kind: "name", Value: a.Name, Other: name}
			}
		}
		for _, b := range a.Buildings {
			if id, ok := m.building[b]; ok && id != a.ID {
				return &AreaConflictError{Kind: "building", Value: b, Other: m.name[id]}
			}
		}
		for _, u := range a.Units {
			if id, ok := m.unit[u]; ok && id != a.ID {
				return &AreaConflictError{Kind: "unit", Value: u, Other: m.name[id]}
			}
		}
		if a.ID == 0 {
			if err := s.txQueryRow(ctx, tx, `INSERT INTO areas (site, name, assistant, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
				a.Site, a.Name, a.Assistant, nanos(now), nanos(now)).Scan(&a.ID); err != nil {
				return err
			}
		} else {
			if _, err := s.txExec(ctx, tx, `UPDATE areas SET name = ?, assistant = ?, updated_at = ? WHERE id = ?`, a.Name, a.Assistant, nanos(now), a.ID); err != nil {
				return err
			}
			if _, err := s.txExec(ctx, tx, `DELETE FROM area_members WHERE area_id = ?`, a.ID); err != nil {
				return err
			}
		}
		for kind, vs := range map[string][]string{"building": a.Buildings, "unit": a.Units} {
			for _, v := range vs {
				if _, err := s.txExec(ctx, tx, `INSERT INTO area_members (area_id, site, kind, value) VALUES (?, ?, ?, ?)`, a.ID, a.Site, kind, v); err != nil {
					return err
				}
			}
		}
		moved, err = s.refileOpen(ctx, tx, a.Site, by, note, now)
		return err
	})
	if err != nil {
		return Area{}, nil, fmt.Errorf("save area %q of %s: %w", a.Name, a.Site, err)
	}
	saved, err := s.GetArea(ctx, a.ID)
	return saved, moved, err
}

// DeleteArea removes an area; its open cases lose their area (with a note)
// and go to the area that now holds their household, if any.
func (s *Store) DeleteArea(ctx context.Context, site string, id int64, by, note string, now time.Time) ([]int64, error) {
	var moved []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `DELETE FROM area_members WHERE area_id = ? AND site = ?`, id, site)
		if err != nil {
			return err
		}
		_ = res
		res, err = s.txExec(ctx, tx, `DELETE FROM areas WHERE id = ? AND site = ?`, id, site)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("area %d: %w", id, ErrNotFound)
		}
		moved, err = s.refileOpen(ctx, tx, site, by, note, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete area %d: %w", id, err)
	}
	return moved, nil
}

// fileInArea records the area of a new household ticket and, for a top-up
// reminder (which the assistant works themselves), makes the area's
// assistant its assignee; inside the ticket's creating transaction.
func (s *Store) fileInArea(ctx context.Context, tx *sql.Tx, t *wire.Ticket, by string, now time.Time) error {
	if t.Unit == "" && t.Building == "" {
		return nil
	}
	// The household's own area only, by the members' key (site, kind,
	// value), not the site's whole map: this runs for every new ticket.
	building := t.Building
	if building == "" {
		err := s.txQueryRow(ctx, tx, `SELECT building FROM units WHERE site = ? AND unit = ?`, t.Site, t.Unit).Scan(&building)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	var id int64
	var name, assistant string
	err := s.txQueryRow(ctx, tx, `SELECT a.id, a.name, a.assistant FROM area_members m JOIN areas a ON a.id = m.area_id
		WHERE m.site = ? AND ((m.kind = 'unit' AND m.value = ? AND m.value <> '') OR (m.kind = 'building' AND m.value = ? AND m.value <> ''))
		ORDER BY CASE m.kind WHEN 'unit' THEN 0 ELSE 1 END LIMIT 1`, t.Site, t.Unit, building).Scan(&id, &name, &assistant)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("area of %s: %w", t.Unit, err)
	}
	m := areaMembers{name: map[int64]string{id: name}, assistant: map[int64]string{id: assistant}}
	return s.moveCase(ctx, tx, t, 0, "", id, m, by, "", now)
}

// moveCase files a ticket under area to (0: none) from area from, with its
// audit entry; a top-up's assignee follows the assistant.
func (s *Store) moveCase(ctx context.Context, tx *sql.Tx, t *wire.Ticket, from int64, fromAssistant string, to int64, m areaMembers, by, note string, now time.Time) error {
	if _, err := s.txExec(ctx, tx, `DELETE FROM area_tickets WHERE ticket_id = ?`, t.ID); err != nil {
		return err
	}
	newAssistant := m.assistant[to]
	if to != 0 {
		if _, err := s.txExec(ctx, tx, `INSERT INTO area_tickets (ticket_id, site, area_id, assistant) VALUES (?, ?, ?, ?)`,
			t.ID, t.Site, to, newAssistant); err != nil {
			return err
		}
	}
	if t.Kind == wire.TopUp && (t.Assignee == "" || t.Assignee == fromAssistant) && t.Assignee != newAssistant {
		team := t.Team
		if newAssistant != "" && team == "" {
			team = "customer_service"
		}
		if _, err := s.txExec(ctx, tx, `UPDATE tickets SET assignee = ?, team = ?, updated_at = ? WHERE id = ?`, newAssistant, team, nanos(now), t.ID); err != nil {
			return err
		}
		t.Assignee, t.Team, t.UpdatedAt = newAssistant, team, now
	}
	var text string
	switch {
	case from == 0:
		text = fmt.Sprintf("area %s: owned by %s", m.name[to], newAssistant)
	case to == 0:
		text = fmt.Sprintf("no longer in an area (was %s)", fromAssistant)
	default:
		text = fmt.Sprintf("area %s: moved from %s to %s", m.name[to], fromAssistant, newAssistant)
	}
	if note = strings.TrimSpace(note); note != "" {
		text += ": " + note
	}
	return s.audit(ctx, tx, t.ID, now, by, "area", t.Status, t.Status, text)
}

// refileOpen files every open household ticket of a site under the area
// that holds its household now, moving those whose area or assistant
// changed; it returns their ids.
func (s *Store) refileOpen(ctx context.Context, tx *sql.Tx, site, by, note string, now time.Time) ([]int64, error) {
	m, err := s.areaMap(ctx, tx, site)
	if err != nil {
		return nil, err
	}
	units, err := s.unitBuildings(ctx, tx, site)
	if err != nil {
		return nil, err
	}
	type filed struct {
		area      int64
		assistant string
	}
	current := map[int64]filed{}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT a.ticket_id, a.area_id, a.assistant FROM area_tickets a JOIN tickets t ON t.id = a.ticket_id
		WHERE a.site = ? AND t.status NOT IN ('closed', 'cancelled')`), site)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var f filed
		if err := rows.Scan(&id, &f.area, &f.assistant); err != nil {
			rows.Close()
			return nil, err
		}
		current[id] = f
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, s.q(`SELECT `+ticketColumns+` FROM tickets WHERE site = ? AND status NOT IN ('closed', 'cancelled')
		AND (unit <> '' OR building <> '') ORDER BY id`), site)
	if err != nil {
		return nil, err
	}
	var open []wire.Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		open = append(open, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var moved []int64
	for i := range open {
		t := &open[i]
		building := t.Building
		if building == "" {
			building = units[t.Unit]
		}
		to, _ := m.of(t.Unit, building)
		cur, had := current[t.ID]
		if (!had && to == 0) || (had && cur.area == to && cur.assistant == m.assistant[to]) {
			continue
		}
		if err := s.moveCase(ctx, tx, t, cur.area, cur.assistant, to, m, by, note, now); err != nil {
			return nil, fmt.Errorf("ticket %d: %w", t.ID, err)
		}
		if err := s.event(ctx, tx, now, "ticket.updated", *t); err != nil {
			return nil, err
		}
		moved = append(moved, t.ID)
	}
	return moved, nil
}

// TicketAreas returns the areas of the given tickets, by ticket id.
func (s *Store) TicketAreas(ctx context.Context, ids []int64) (map[int64]AreaTicket, error) {
	out := map[int64]AreaTicket{}
	for chunk := range slices.Chunk(ids, 500) {
		ph := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			ph[i], args[i] = "?", id
		}
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT a.ticket_id, a.area_id, r.name, a.assistant FROM area_tickets a
			JOIN areas r ON r.id = a.area_id WHERE a.ticket_id IN (`+strings.Join(ph, ", ")+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("areas of tickets: %w", err)
		}
		for rows.Next() {
			var at AreaTicket
			if err := rows.Scan(&at.TicketID, &at.AreaID, &at.Area, &at.Assistant); err != nil {
				rows.Close()
				return nil, err
			}
			out[at.TicketID] = at
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AreaOfUnit is the area that holds a household now (ok false: none).
func (s *Store) AreaOfUnit(ctx context.Context, site, unit string) (Area, bool, error) {
	m, err := s.areaMap(ctx, s.db, site)
	if err != nil {
		return Area{}, false, err
	}
	units, err := s.unitBuildings(ctx, s.db, site)
	if err != nil {
		return Area{}, false, err
	}
	id, ok := m.of(unit, units[unit])
	if !ok {
		return Area{}, false, nil
	}
	return Area{ID: id, Site: site, Name: m.name[id], Assistant: m.assistant[id]}, true, nil
}
