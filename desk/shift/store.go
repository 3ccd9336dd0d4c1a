package shift

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Store keeps sheets, entries, keys and loans in the desk's database
// (tables of migration 014, desk/store/migrations). Every query names the
// site: a caller never reaches another site's rows by id.
type Store struct {
	db       *sql.DB
	postgres bool
}

// NewStore is the store on the desk's database; dialect is "sqlite" or "postgres".
func NewStore(db *sql.DB, dialect string) *Store {
	return &Store{db: db, postgres: dialect == "postgres"}
}

var errNotFound = errors.New("not found")

// q turns ? placeholders into PostgreSQL's $n.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func timeOf(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64)
	return &t
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// insertID inserts and returns the new row's id (RETURNING works on both).
func (s *Store) insertID(ctx context.Context, x execer, query string, args ...any) (int64, error) {
	var id int64
	err := x.QueryRowContext(ctx, s.q(query+" RETURNING id"), args...).Scan(&id)
	return id, err
}

// addEntry writes a duty-log entry.
func (s *Store) addEntry(ctx context.Context, x execer, e Entry) (Entry, error) {
	id, err := s.insertID(ctx, x, `INSERT INTO duty_entries (site, shift_start, at, kind, body, body_en, author) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Site, nanos(e.ShiftStart), nanos(e.At), e.Kind, e.Body, e.BodyEN, e.Author)
	if err != nil {
		return Entry{}, fmt.Errorf("duty entry: %w", err)
	}
	e.ID = id
	return e, nil
}

// AddEntry writes a duty-log entry.
func (s *Store) AddEntry(ctx context.Context, e Entry) (Entry, error) {
	return s.addEntry(ctx, s.db, e)
}

// EntryFilter selects entries of a site.
type EntryFilter struct {
	Site       string
	From, To   time.Time // at in [From, To); zero: unbounded
	ShiftStart *time.Time
	Kinds      []string
	Search     string
	Limit      int
}

// Entries lists a site's entries, oldest first.
func (s *Store) Entries(ctx context.Context, f EntryFilter) ([]Entry, error) {
	where, args := []string{"site = ?"}, []any{f.Site}
	if !f.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, nanos(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, nanos(f.To))
	}
	if f.ShiftStart != nil {
		where, args = append(where, "shift_start = ?"), append(args, nanos(*f.ShiftStart))
	}
	if len(f.Kinds) > 0 {
		marks := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			marks[i], args = "?", append(args, k)
		}
		where = append(where, "kind IN ("+strings.Join(marks, ", ")+")")
	}
	if f.Search != "" {
		where, args = append(where, "(LOWER(body) LIKE ? ESCAPE '\\' OR LOWER(body_en) LIKE ? ESCAPE '\\' OR LOWER(author) LIKE ? ESCAPE '\\')"),
			append(args, like(f.Search), like(f.Search), like(f.Search))
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, site, shift_start, at, kind, body, body_en, author FROM duty_entries WHERE `+
		strings.Join(where, " AND ")+` ORDER BY at, id LIMIT `+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("duty entries: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var start, at int64
		if err := rows.Scan(&e.ID, &e.Site, &start, &at, &e.Kind, &e.Body, &e.BodyEN, &e.Author); err != nil {
			return nil, fmt.Errorf("duty entries: %w", err)
		}
		e.ShiftStart, e.At = time.Unix(0, start), time.Unix(0, at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// like is a LIKE pattern matching s anywhere, its own % and _ taken literally.
func like(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(s))
	return "%" + s + "%"
}

const sheetColumns = `id, site, shift, starts_at, ends_at, built_at, built_by, content, signed_by, signed_at, sign_note,
	accepted_by, accepted_at, accept_note, keys_counted, reminded`

func scanSheet(sc interface{ Scan(...any) error }) (Sheet, error) {
	var sh Sheet
	var start, end, built int64
	var content string
	var signed, accepted, counted sql.NullInt64
	if err := sc.Scan(&sh.ID, &sh.Shift.Site, &sh.Shift.Name, &start, &end, &built, &sh.BuiltBy, &content, &sh.SignedBy, &signed, &sh.SignNote,
		&sh.AcceptedBy, &accepted, &sh.AcceptNote, &counted, &sh.Reminded); err != nil {
		return Sheet{}, err
	}
	var stored struct {
		Label string `json:"label"`
		Content
	}
	if err := json.Unmarshal([]byte(content), &stored); err != nil {
		return Sheet{}, fmt.Errorf("sheet %d: %w", sh.ID, err)
	}
	sh.Content, sh.Shift.Label = stored.Content, stored.Label
	sh.Shift.Start, sh.Shift.End, sh.BuiltAt = time.Unix(0, start), time.Unix(0, end), time.Unix(0, built)
	sh.SignedAt, sh.AcceptedAt = timeOf(signed), timeOf(accepted)
	if counted.Valid {
		n := int(counted.Int64)
		sh.KeysCounted = &n
	}
	sh.State = StateBuilt
	if sh.SignedAt != nil {
		sh.State = StateSigned
	}
	if sh.AcceptedAt != nil {
		sh.State = StateAccepted
	}
	return sh, nil
}

func encodeContent(label string, c Content) (string, error) {
	b, err := json.Marshal(struct {
		Label string `json:"label"`
		Content
	}{label, c})
	return string(b), err
}

// SheetAt is the sheet of a site's shift that starts at start.
func (s *Store) SheetAt(ctx context.Context, site string, start time.Time) (Sheet, error) {
	sh, err := scanSheet(s.db.QueryRowContext(ctx, s.q(`SELECT `+sheetColumns+` FROM duty_sheets WHERE site = ? AND starts_at = ?`), site, nanos(start)))
	if errors.Is(err, sql.ErrNoRows) {
		return Sheet{}, errNotFound
	}
	return sh, err
}

// Sheet is a site's sheet by id.
func (s *Store) Sheet(ctx context.Context, site string, id int64) (Sheet, error) {
	sh, err := scanSheet(s.db.QueryRowContext(ctx, s.q(`SELECT `+sheetColumns+` FROM duty_sheets WHERE site = ? AND id = ?`), site, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Sheet{}, errNotFound
	}
	return sh, err
}

// SheetFilter selects sheets of a site.
type SheetFilter struct {
	Site       string
	From, To   time.Time // shifts that overlap [From, To); zero: unbounded
	Search     string    // in the sheet's content and signatures
	Unaccepted bool      // only sheets not yet accepted
	EndedBy    time.Time // with Unaccepted: of shifts ended by then
	Limit      int
}

// Sheets lists a site's sheets, oldest shift first.
func (s *Store) Sheets(ctx context.Context, f SheetFilter) ([]Sheet, error) {
	where, args := []string{"site = ?"}, []any{f.Site}
	if !f.From.IsZero() {
		where, args = append(where, "ends_at > ?"), append(args, nanos(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "starts_at < ?"), append(args, nanos(f.To))
	}
	if f.Unaccepted {
		where = append(where, "accepted_at IS NULL")
		if !f.EndedBy.IsZero() {
			where, args = append(where, "ends_at <= ?"), append(args, nanos(f.EndedBy))
		}
	}
	if f.Search != "" {
		// The content is JSON: non-ASCII text is stored as it is (Go's
		// encoder does not escape it), so a search for 配电室 finds it.
		where = append(where, "(LOWER(content) LIKE ? ESCAPE '\\' OR LOWER(signed_by) LIKE ? ESCAPE '\\' OR LOWER(accepted_by) LIKE ? ESCAPE '\\' OR LOWER(sign_note) LIKE ? ESCAPE '\\' OR LOWER(accept_note) LIKE ? ESCAPE '\\')")
		for range 5 {
			args = append(args, like(f.Search))
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+sheetColumns+` FROM duty_sheets WHERE `+strings.Join(where, " AND ")+
		` ORDER BY starts_at LIMIT `+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("duty sheets: %w", err)
	}
	defer rows.Close()
	out := []Sheet{}
	for rows.Next() {
		sh, err := scanSheet(rows)
		if err != nil {
			return nil, fmt.Errorf("duty sheets: %w", err)
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

// HasSheets reports whether a site has any sheet: whether its control room
// uses the handover at all.
func (s *Store) HasSheets(ctx context.Context, site string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (SELECT 1 FROM duty_sheets WHERE site = ? LIMIT 1) x`), site).Scan(&n)
	return n > 0, err
}

// AddSheet writes a shift's sheet unless it has one: the scheduler's build
// at a shift's end, which another desk on the same database may have done
// already (added is false then, and nothing is written).
func (s *Store) AddSheet(ctx context.Context, sh Sheet, ev Entry) (added bool, err error) {
	content, err := encodeContent(sh.Shift.Label, sh.Content)
	if err != nil {
		return false, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO duty_sheets (site, shift, starts_at, ends_at, built_at, built_by, content) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (site, starts_at) DO NOTHING`),
			sh.Shift.Site, sh.Shift.Name, nanos(sh.Shift.Start), nanos(sh.Shift.End), nanos(sh.BuiltAt), sh.BuiltBy, content)
		if err != nil {
			return fmt.Errorf("add sheet: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		added = true
		_, err = s.addEntry(ctx, tx, ev)
		return err
	})
	return added, err
}

// SaveSheet writes a shift's sheet, or replaces the content of its sheet
// while nobody has signed it; a signed sheet is conflictErr. The event
// entry is written in the same transaction.
func (s *Store) SaveSheet(ctx context.Context, sh Sheet, ev Entry) (Sheet, error) {
	content, err := encodeContent(sh.Shift.Label, sh.Content)
	if err != nil {
		return Sheet{}, err
	}
	var out Sheet
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanSheet(tx.QueryRowContext(ctx, s.q(`SELECT `+sheetColumns+` FROM duty_sheets WHERE site = ? AND starts_at = ?`+s.lock()),
			sh.Shift.Site, nanos(sh.Shift.Start)))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := s.insertID(ctx, tx, `INSERT INTO duty_sheets (site, shift, starts_at, ends_at, built_at, built_by, content) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				sh.Shift.Site, sh.Shift.Name, nanos(sh.Shift.Start), nanos(sh.Shift.End), nanos(sh.BuiltAt), sh.BuiltBy, content); err != nil {
				return fmt.Errorf("save sheet: %w", err)
			}
		case err != nil:
			return err
		case old.SignedAt != nil:
			return conflictErr("the handover sheet of %s was signed by %s at %s: it is no longer rebuilt", old.Shift.Label, old.SignedBy, old.SignedAt.Format(time.RFC3339))
		default:
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE duty_sheets SET built_at = ?, built_by = ?, content = ? WHERE id = ?`),
				nanos(sh.BuiltAt), sh.BuiltBy, content, old.ID); err != nil {
				return fmt.Errorf("save sheet: %w", err)
			}
		}
		if _, err := s.addEntry(ctx, tx, ev); err != nil {
			return err
		}
		out, err = scanSheet(tx.QueryRowContext(ctx, s.q(`SELECT `+sheetColumns+` FROM duty_sheets WHERE site = ? AND starts_at = ?`),
			sh.Shift.Site, nanos(sh.Shift.Start)))
		return err
	})
	return out, err
}

func (s *Store) lock() string {
	if s.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Sign records the outgoing operator's signature, once.
func (s *Store) Sign(ctx context.Context, site string, id int64, by, note string, now time.Time, ev Entry) (Sheet, error) {
	var out Sheet
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE duty_sheets SET signed_by = ?, signed_at = ?, sign_note = ? WHERE site = ? AND id = ? AND signed_at IS NULL`),
			by, nanos(now), note, site, id)
		if err != nil {
			return fmt.Errorf("sign sheet: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return conflictErr("the handover sheet was signed already")
		}
		if _, err := s.addEntry(ctx, tx, ev); err != nil {
			return err
		}
		out, err = scanSheet(tx.QueryRowContext(ctx, s.q(`SELECT `+sheetColumns+` FROM duty_sheets WHERE id = ?`), id))
		return err
	})
	return out, err
}

// Accept records the incoming operator's acceptance and key count, once,
// of a signed sheet.
func (s *Store) Accept(ctx context.Context, site string, id int64, by, note string, counted int, now time.Time, evs []Entry) (Sheet, error) {
	var out Sheet
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE duty_sheets SET accepted_by = ?, accepted_at = ?, accept_note = ?, keys_counted = ?
			WHERE site = ? AND id = ? AND signed_at IS NOT NULL AND accepted_at IS NULL`), by, nanos(now), note, counted, site, id)
		if err != nil {
			return fmt.Errorf("accept sheet: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return conflictErr("the handover sheet was accepted already")
		}
		for _, ev := range evs {
			if _, err := s.addEntry(ctx, tx, ev); err != nil {
				return err
			}
		}
		out, err = scanSheet(tx.QueryRowContext(ctx, s.q(`SELECT `+sheetColumns+` FROM duty_sheets WHERE id = ?`), id))
		return err
	})
	return out, err
}

// Notice is a message to the desk's notification channels (the outbox of
// desk/store, sent by the desk's notifier): a shift's reminder or an
// overdue key. It has no ticket (ticket_id 0).
type Notice struct {
	Channels []string
	Event    string // handover_overdue, key_overdue
	Level    string // supervisor, manager
	Site     string
	Title    string
}

func (s *Store) notice(ctx context.Context, tx *sql.Tx, now time.Time, n Notice) error {
	body, err := json.Marshal(wire.Ticket{Site: n.Site, Title: n.Title, Source: "duty"})
	if err != nil {
		return err
	}
	for _, ch := range n.Channels {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO notifications (created_at, channel, ticket_id, event, level, title, body, state, next_at)
			VALUES (?, ?, 0, ?, ?, ?, ?, 'pending', ?)`), nanos(now), ch, n.Event, n.Level, n.Title, string(body), nanos(now)); err != nil {
			return fmt.Errorf("notification to %s: %w", ch, err)
		}
	}
	return nil
}

// Remind raises a late sheet's reminder count from rung-1 to rung, with its
// notices and event, once (another desk that raced for it changes nothing).
func (s *Store) Remind(ctx context.Context, site string, id int64, rung int, now time.Time, n Notice, ev Entry) (bool, error) {
	done := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE duty_sheets SET reminded = ? WHERE site = ? AND id = ? AND reminded = ? AND accepted_at IS NULL`),
			rung, site, id, rung-1)
		if err != nil {
			return fmt.Errorf("remind: %w", err)
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return nil
		}
		done = true
		if err := s.notice(ctx, tx, now, n); err != nil {
			return err
		}
		_, err = s.addEntry(ctx, tx, ev)
		return err
	})
	return done, err
}

// OpenTickets are a site's tickets that are neither closed nor cancelled,
// with their deadlines that are pending or missed (read from the desk's
// tickets tables in one query).
func (s *Store) OpenTickets(ctx context.Context, site string) ([]OpenTicket, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.id, t.kind, t.category, t.priority, t.status, t.title, t.building, t.unit, t.assignee, t.created_at,
		t.acknowledged_at, t.dispatched_at, t.on_site_at, t.resolved_at, t.followed_up_at, d.step, d.due_at, d.state
		FROM tickets t LEFT JOIN ticket_deadlines d ON d.ticket_id = t.id AND d.state IN ('pending', 'missed')
		WHERE t.site = ? AND t.status NOT IN ('closed', 'cancelled') ORDER BY t.id`), site)
	if err != nil {
		return nil, fmt.Errorf("open tickets: %w", err)
	}
	defer rows.Close()
	var out []OpenTicket
	for rows.Next() {
		var t OpenTicket
		var created int64
		var ack, disp, onSite, resolved, followed, due sql.NullInt64
		var step, state sql.NullString
		if err := rows.Scan(&t.ID, &t.Kind, &t.Category, &t.Priority, &t.Status, &t.Title, &t.Building, &t.Unit, &t.Assignee, &created,
			&ack, &disp, &onSite, &resolved, &followed, &step, &due, &state); err != nil {
			return nil, fmt.Errorf("open tickets: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != t.ID {
			t.CreatedAt = time.Unix(0, created)
			t.done = map[string]bool{"acknowledge": ack.Valid, "dispatch": disp.Valid, "on_site": onSite.Valid,
				"resolve": resolved.Valid, "follow_up": followed.Valid, "respond": resolved.Valid, "remind": resolved.Valid}
			out = append(out, t)
		}
		if step.Valid && due.Valid {
			last := &out[len(out)-1]
			last.Deadlines = append(last.Deadlines, wire.Deadline{Step: wire.Step(step.String), DueAt: time.Unix(0, due.Int64), State: wire.DeadlineState(state.String)})
		}
	}
	return out, rows.Err()
}

// OpenTicket is an open ticket with its pending and missed deadlines.
type OpenTicket struct {
	TicketItem
	Deadlines []wire.Deadline
	// done tells the steps already taken: a missed deadline of a step
	// taken since is late history, not work to hand over.
	done map[string]bool
}
