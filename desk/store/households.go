package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// Unit is a household: where it is, who lives there, which meters are its own.
type Unit struct {
	Site      string     `json:"site"`
	Unit      string     `json:"unit"`
	Building  string     `json:"building,omitempty"`
	Floor     string     `json:"floor,omitempty"`
	Residents []Resident `json:"residents"`
	Meters    []string   `json:"meters"`
	// MeterKinds is each meter's family as its gateway last reported it
	// (meter: electricity, water), for the meters a heartbeat has named.
	MeterKinds map[string]string `json:"meter_kinds,omitempty"`
}

// Resident is a person to contact about a unit.
type Resident struct {
	Name    string `json:"name"`
	Phone   string `json:"phone,omitempty"`
	Contact string `json:"contact,omitempty"` // preferred: phone, sms, visit, app
}

// PutUnit creates or replaces a household with its residents and meters.
// A meter belongs to one unit: binding it here moves it from any other.
func (s *Store) PutUnit(ctx context.Context, u Unit) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.putUnitTx(ctx, tx, u) }); err != nil {
		return fmt.Errorf("unit %s/%s: %w", u.Site, u.Unit, err)
	}
	return nil
}

// ImportUnits creates or replaces many households in one transaction: all
// of them or, on any error, none.
func (s *Store) ImportUnits(ctx context.Context, units []Unit) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, u := range units {
			if err := s.putUnitTx(ctx, tx, u); err != nil {
				return fmt.Errorf("import: unit %s/%s: %w", u.Site, u.Unit, err)
			}
		}
		return nil
	})
}

func (s *Store) putUnitTx(ctx context.Context, tx *sql.Tx, u Unit) error {
	if _, err := s.txExec(ctx, tx, (`INSERT INTO units (site, unit, building, floor) VALUES (?, ?, ?, ?)
		ON CONFLICT (site, unit) DO UPDATE SET building = excluded.building, floor = excluded.floor`),
		u.Site, u.Unit, u.Building, u.Floor); err != nil {
		return err
	}
	for _, stmt := range []string{`DELETE FROM residents WHERE site = ? AND unit = ?`, `DELETE FROM unit_meters WHERE site = ? AND unit = ?`} {
		if _, err := s.txExec(ctx, tx, (stmt), u.Site, u.Unit); err != nil {
			return err
		}
	}
	for _, r := range u.Residents {
		contact := r.Contact
		if contact == "" {
			contact = "phone"
		}
		if _, err := s.txExec(ctx, tx, (`INSERT INTO residents (site, unit, name, phone, contact) VALUES (?, ?, ?, ?, ?)`),
			u.Site, u.Unit, r.Name, r.Phone, contact); err != nil {
			return err
		}
	}
	for _, m := range u.Meters {
		if _, err := s.txExec(ctx, tx, (`INSERT INTO unit_meters (site, device, unit) VALUES (?, ?, ?)
			ON CONFLICT (site, device) DO UPDATE SET unit = excluded.unit`), u.Site, m, u.Unit); err != nil {
			return err
		}
	}
	return nil
}

// SiteUnits returns the units a site has already (an import reports which it adds and which it replaces).
func (s *Store) SiteUnits(ctx context.Context, site string) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT unit FROM units WHERE site = ?`), site)
	if err != nil {
		return nil, fmt.Errorf("units of %s: %w", site, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out[u] = true
	}
	return out, rows.Err()
}

// ListUnits returns every household of a site with its residents and
// meters, by building and unit (the export).
func (s *Store) ListUnits(ctx context.Context, site string) ([]Unit, error) {
	units := []Unit{}
	index := map[string]int{}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT unit, building, floor FROM units WHERE site = ? ORDER BY building, unit`), site)
	if err != nil {
		return nil, fmt.Errorf("units of %s: %w", site, err)
	}
	for rows.Next() {
		u := Unit{Site: site, Residents: []Resident{}, Meters: []string{}}
		if err := rows.Scan(&u.Unit, &u.Building, &u.Floor); err != nil {
			rows.Close()
			return nil, err
		}
		index[u.Unit] = len(units)
		units = append(units, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT unit, name, phone, contact FROM residents WHERE site = ? ORDER BY id`), site)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var unit string
		var r Resident
		if err := rows.Scan(&unit, &r.Name, &r.Phone, &r.Contact); err != nil {
			rows.Close()
			return nil, err
		}
		if i, ok := index[unit]; ok {
			units[i].Residents = append(units[i].Residents, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT unit, device FROM unit_meters WHERE site = ? ORDER BY device`), site)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var unit, m string
		if err := rows.Scan(&unit, &m); err != nil {
			return nil, err
		}
		if i, ok := index[unit]; ok {
			units[i].Meters = append(units[i].Meters, m)
		}
	}
	return units, rows.Err()
}

// GetUnit returns one household.
func (s *Store) GetUnit(ctx context.Context, site, unit string) (Unit, error) {
	u := Unit{Site: site, Unit: unit, Residents: []Resident{}, Meters: []string{}}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT building, floor FROM units WHERE site = ? AND unit = ?`), site, unit).Scan(&u.Building, &u.Floor)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("unit %s/%s: %w", site, unit, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("unit %s/%s: %w", site, unit, err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name, phone, contact FROM residents WHERE site = ? AND unit = ? ORDER BY id`), site, unit)
	if err != nil {
		return u, err
	}
	for rows.Next() {
		var r Resident
		if err := rows.Scan(&r.Name, &r.Phone, &r.Contact); err != nil {
			rows.Close()
			return u, err
		}
		u.Residents = append(u.Residents, r)
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT device FROM unit_meters WHERE site = ? AND unit = ? ORDER BY device`), site, unit)
	if err != nil {
		return u, err
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return u, err
		}
		u.Meters = append(u.Meters, m)
	}
	if err := rows.Err(); err != nil {
		return u, err
	}
	return u, s.meterKinds(ctx, &u)
}

// meterKinds fills a unit's meter kinds from its site's last heartbeats,
// which name every device of a gateway with its family.
func (s *Store) meterKinds(ctx context.Context, u *Unit) error {
	if len(u.Meters) == 0 {
		return nil
	}
	gws, err := s.GatewayStatuses(ctx, u.Site)
	if err != nil {
		return fmt.Errorf("unit %s/%s: %w", u.Site, u.Unit, err)
	}
	for _, g := range gws {
		for _, d := range g.Devices {
			if d.Family != "" && slices.Contains(u.Meters, d.ID) {
				if u.MeterKinds == nil {
					u.MeterKinds = map[string]string{}
				}
				u.MeterKinds[d.ID] = d.Family
			}
		}
	}
	return nil
}

// Reminder is one top-up reminder given to a household.
type Reminder struct {
	ID       int64     `json:"id"`
	TicketID int64     `json:"ticket_id"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Channel  string    `json:"channel"` // phone, sms, visit, app
	// Outcome is what came of it: one of ReminderOutcomes, or "" when not said.
	Outcome string `json:"outcome,omitempty"`
	// Answer is the assistant's note of what the resident said.
	Answer string `json:"answer,omitempty"`
}

// ReminderOutcomes are what may come of a reminder: the resident was
// reached, did not answer, promised to top up, or refused.
var ReminderOutcomes = []string{"reached", "no_answer", "promised", "refused"}

// ErrNotTopUp is a reminder recorded on a ticket that is not an open top-up reminder.
var ErrNotTopUp = errors.New("not an open top-up reminder")

// AddReminder records a reminder given on a top-up ticket, with its audit
// entry; it meets the ticket's remind deadline.
func (s *Store) AddReminder(ctx context.Context, r Reminder) (Reminder, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = s.addReminderTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Reminder{}, fmt.Errorf("reminder on ticket %d: %w", r.TicketID, err)
	}
	return r, nil
}

// addReminderTx is AddReminder inside the caller's transaction (an SMS
// accepted by its provider records its reminder with the message).
func (s *Store) addReminderTx(ctx context.Context, tx *sql.Tx, r Reminder) (Reminder, error) {
	err := func() error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, (`SELECT ` + ticketColumns + ` FROM tickets WHERE id = ?` + s.forUpdate()), r.TicketID))
		if err != nil {
			return err
		}
		if t.Kind != wire.TopUp || !t.Status.Open() || t.Status == wire.Resolved || t.Status == wire.FollowedUp {
			return fmt.Errorf("ticket %d is a %s ticket that is %s: %w", t.ID, t.Kind, t.Status, ErrNotTopUp)
		}
		if err := s.txQueryRow(ctx, tx, (`INSERT INTO reminders (ticket_id, at, by_name, channel, answer, outcome) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			r.TicketID, nanos(r.At), r.By, r.Channel, r.Answer, r.Outcome).Scan(&r.ID); err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, (`UPDATE tickets SET updated_at = ?, acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?`),
			nanos(r.At), nanos(r.At), r.TicketID); err != nil {
			return err
		}
		if err := s.meetSteps(ctx, tx, r.TicketID, ticket.StepsMetByReminder, r.At); err != nil {
			return err
		}
		note := "reminded by " + r.Channel
		if r.Outcome != "" {
			note += " (" + r.Outcome + ")"
		}
		if r.Answer != "" {
			note += ": " + r.Answer
		}
		if err := s.audit(ctx, tx, r.TicketID, r.At, r.By, "reminder", t.Status, t.Status, note); err != nil {
			return err
		}
		return s.event(ctx, tx, r.At, "ticket.updated", t)
	}()
	return r, err
}

// Reminders returns the reminders given on a ticket, oldest first.
func (s *Store) Reminders(ctx context.Context, ticketID int64) ([]Reminder, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, ticket_id, at, by_name, channel, answer, outcome FROM reminders WHERE ticket_id = ? ORDER BY id`), ticketID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Reminder{}
	for rows.Next() {
		var r Reminder
		var at int64
		if err := rows.Scan(&r.ID, &r.TicketID, &at, &r.By, &r.Channel, &r.Answer, &r.Outcome); err != nil {
			return nil, err
		}
		r.At = time.Unix(0, at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// TopUp is one line of the assistants' daily list: a household still red.
type TopUp struct {
	TicketID int64  `json:"ticket_id"`
	Site     string `json:"site"`
	Building string `json:"building,omitempty"`
	Unit     string `json:"unit,omitempty"`
	Device   string `json:"device,omitempty"`
	// Category is the kind of meter, its family: meter (electricity) or water.
	Category     string    `json:"category,omitempty"`
	Status       string    `json:"status"`
	Balance      *float64  `json:"balance,omitempty"`
	RedSince     time.Time `json:"red_since"`
	DaysRed      int       `json:"days_red"`
	Resident     string    `json:"resident,omitempty"`
	Phone        string    `json:"phone,omitempty"`
	Contact      string    `json:"contact,omitempty"`
	Reminders    int       `json:"reminders"`
	LastReminder *Reminder `json:"last_reminder,omitempty"`
	// AreaID, Area and Assistant are the household's area and the
	// assistant who owns the reminder (filled by the desk from areas).
	AreaID    int64  `json:"area_id,omitempty"`
	Area      string `json:"area,omitempty"`
	Assistant string `json:"assistant,omitempty"`
}

// TopUps lists the open top-up reminders of a site (every site when empty),
// the longest red first.
func (s *Store) TopUps(ctx context.Context, site string, now time.Time) ([]TopUp, error) {
	q := `SELECT t.id, t.site, t.building, t.unit, t.device, t.category, t.status, t.reading_value, t.created_at, t.reporter, t.phone, t.contact,
		(SELECT COUNT(*) FROM reminders r WHERE r.ticket_id = t.id),
		r.id, r.at, r.by_name, r.channel, r.answer, r.outcome
		FROM tickets t
		LEFT JOIN reminders r ON r.id = (SELECT MAX(r2.id) FROM reminders r2 WHERE r2.ticket_id = t.id)
		WHERE t.kind = 'top_up' AND t.status IN ('new', 'dispatched', 'on_site')`
	var args []any
	if site != "" {
		q += ` AND t.site = ?`
		args = append(args, site)
	}
	q += ` ORDER BY t.created_at, t.id LIMIT 5000`
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("top-up list: %w", err)
	}
	defer rows.Close()
	out := []TopUp{}
	for rows.Next() {
		var t TopUp
		var balance sql.NullFloat64
		var created int64
		var rid, rat sql.NullInt64
		var rby, rch, rans, rout sql.NullString
		if err := rows.Scan(&t.TicketID, &t.Site, &t.Building, &t.Unit, &t.Device, &t.Category, &t.Status, &balance, &created,
			&t.Resident, &t.Phone, &t.Contact, &t.Reminders, &rid, &rat, &rby, &rch, &rans, &rout); err != nil {
			return nil, fmt.Errorf("top-up list: %w", err)
		}
		if balance.Valid {
			t.Balance = &balance.Float64
		}
		t.RedSince = time.Unix(0, created)
		t.DaysRed = int(now.Sub(t.RedSince) / (24 * time.Hour))
		if rid.Valid {
			t.LastReminder = &Reminder{ID: rid.Int64, TicketID: t.TicketID, At: time.Unix(0, rat.Int64), By: rby.String, Channel: rch.String, Answer: rans.String, Outcome: rout.String}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
