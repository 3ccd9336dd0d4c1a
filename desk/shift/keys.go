package shift

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AddKey registers a key of a site; a label the site uses already is conflictErr.
func (s *Store) AddKey(ctx context.Context, k Key, ev Entry) (Key, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM duty_keys WHERE site = ? AND label = ?`), k.Site, k.Label).Scan(&n); err != nil {
			return fmt.Errorf("add key: %w", err)
		}
		if n > 0 {
			return &Error{Code: 409, Field: "label", Msg: fmt.Sprintf("key %s is in the register already", k.Label)}
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO duty_keys (site, label, name, created_at) VALUES (?, ?, ?, ?)`, k.Site, k.Label, k.Name, nanos(k.CreatedAt))
		if err != nil {
			return fmt.Errorf("add key: %w", err)
		}
		k.ID = id
		_, err = s.addEntry(ctx, tx, ev)
		return err
	})
	return k, err
}

const loanColumns = `l.id, l.key_id, l.site, k.label, k.name, l.borrower, l.lent_by, l.lent_at, l.due_at, l.note, l.returned_at, l.returned_to`

func scanLoan(sc interface{ Scan(...any) error }, now time.Time) (Loan, error) {
	var l Loan
	var lent, due int64
	var ret sql.NullInt64
	if err := sc.Scan(&l.ID, &l.KeyID, &l.Site, &l.Label, &l.KeyName, &l.Borrower, &l.LentBy, &lent, &due, &l.Note, &ret, &l.ReturnedTo); err != nil {
		return Loan{}, err
	}
	l.LentAt, l.DueAt, l.ReturnedAt = time.Unix(0, lent), time.Unix(0, due), timeOf(ret)
	l.Overdue = l.ReturnedAt == nil && !now.Before(l.DueAt)
	return l, nil
}

// Keys is a site's register with each key's open loan, by label.
func (s *Store) Keys(ctx context.Context, site string, now time.Time) ([]Key, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, site, label, name, created_at FROM duty_keys WHERE site = ? ORDER BY label`), site)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	out := []Key{}
	for rows.Next() {
		var k Key
		var created int64
		if err := rows.Scan(&k.ID, &k.Site, &k.Label, &k.Name, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("keys: %w", err)
		}
		k.CreatedAt = time.Unix(0, created)
		out = append(out, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	loans, err := s.Loans(ctx, LoanFilter{Site: site, Out: true}, now)
	if err != nil {
		return nil, err
	}
	byKey := map[int64]Loan{}
	for _, l := range loans {
		byKey[l.KeyID] = l
	}
	for i := range out {
		if l, ok := byKey[out[i].ID]; ok {
			out[i].Loan = &l
		}
	}
	return out, nil
}

// LoanFilter selects loans of a site.
type LoanFilter struct {
	Site     string
	Out      bool      // only keys not returned
	From, To time.Time // lent in [From, To); zero: unbounded
	Search   string
	Limit    int
}

// Loans lists a site's loans, oldest first.
func (s *Store) Loans(ctx context.Context, f LoanFilter, now time.Time) ([]Loan, error) {
	where, args := []string{"l.site = ?"}, []any{f.Site}
	if f.Out {
		where = append(where, "l.returned_at IS NULL")
	}
	if !f.From.IsZero() {
		where, args = append(where, "l.lent_at >= ?"), append(args, nanos(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "l.lent_at < ?"), append(args, nanos(f.To))
	}
	if f.Search != "" {
		where = append(where, "(LOWER(k.label) LIKE ? ESCAPE '\\' OR LOWER(k.name) LIKE ? ESCAPE '\\' OR LOWER(l.borrower) LIKE ? ESCAPE '\\' OR LOWER(l.note) LIKE ? ESCAPE '\\')")
		for range 4 {
			args = append(args, like(f.Search))
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT %s FROM duty_key_loans l JOIN duty_keys k ON k.id = l.key_id AND k.site = l.site
		WHERE %s ORDER BY l.lent_at, l.id LIMIT %d`, loanColumns, strings.Join(where, " AND "), limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("key loans: %w", err)
	}
	defer rows.Close()
	out := []Loan{}
	for rows.Next() {
		l, err := scanLoan(rows, now)
		if err != nil {
			return nil, fmt.Errorf("key loans: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s *Store) keyOf(ctx context.Context, tx *sql.Tx, site string, id int64) (Key, error) {
	var k Key
	var created int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT id, site, label, name, created_at FROM duty_keys WHERE site = ? AND id = ?`+s.lock()), site, id).
		Scan(&k.ID, &k.Site, &k.Label, &k.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, notFoundErr("no key %d in the register of site %s", id, site)
	}
	k.CreatedAt = time.Unix(0, created)
	return k, err
}

// Lend records a key lent; a key that is out already is conflictErr naming
// who has it (the unique index keeps it so against a concurrent lend too).
func (s *Store) Lend(ctx context.Context, l Loan, now time.Time, ev func(Key) Entry) (Loan, error) {
	var out Loan
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		k, err := s.keyOf(ctx, tx, l.Site, l.KeyID)
		if err != nil {
			return err
		}
		open, err := scanLoan(tx.QueryRowContext(ctx, s.q(`SELECT `+loanColumns+` FROM duty_key_loans l JOIN duty_keys k ON k.id = l.key_id
			WHERE l.site = ? AND l.key_id = ? AND l.returned_at IS NULL`), l.Site, l.KeyID), now)
		if err == nil {
			return conflictErr("key %s (%s) is out already: lent to %s at %s, due back %s; it must be returned before it is lent again",
				k.Label, k.Name, open.Borrower, open.LentAt.Format(time.RFC3339), open.DueAt.Format(time.RFC3339))
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lend key: %w", err)
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO duty_key_loans (site, key_id, borrower, lent_by, lent_at, due_at, note) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			l.Site, l.KeyID, l.Borrower, l.LentBy, nanos(l.LentAt), nanos(l.DueAt), l.Note)
		if err != nil {
			if isUnique(err) {
				return conflictErr("key %s is out already: it must be returned before it is lent again", k.Label)
			}
			return fmt.Errorf("lend key: %w", err)
		}
		l.ID, l.Label, l.KeyName = id, k.Label, k.Name
		out = l
		_, err = s.addEntry(ctx, tx, ev(k))
		return err
	})
	return out, err
}

func isUnique(err error) bool {
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint") || strings.Contains(m, "SQLSTATE 23505")
}

// Return records a key back; a key that is not out is conflictErr.
func (s *Store) Return(ctx context.Context, site string, keyID int64, to string, now time.Time, ev func(Loan) Entry) (Loan, error) {
	var out Loan
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		k, err := s.keyOf(ctx, tx, site, keyID)
		if err != nil {
			return err
		}
		l, err := scanLoan(tx.QueryRowContext(ctx, s.q(`SELECT `+loanColumns+` FROM duty_key_loans l JOIN duty_keys k ON k.id = l.key_id
			WHERE l.site = ? AND l.key_id = ? AND l.returned_at IS NULL`), site, keyID), now)
		if errors.Is(err, sql.ErrNoRows) {
			return conflictErr("key %s (%s) is not out: it is in the key box", k.Label, k.Name)
		}
		if err != nil {
			return fmt.Errorf("return key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE duty_key_loans SET returned_at = ?, returned_to = ? WHERE id = ?`), nanos(now), to, l.ID); err != nil {
			return fmt.Errorf("return key: %w", err)
		}
		l.ReturnedAt, l.ReturnedTo, l.Overdue = &now, to, false
		out = l
		_, err = s.addEntry(ctx, tx, ev(l))
		return err
	})
	return out, err
}

// NoticeOverdue marks an overdue loan's notice sent, with its notices and
// event, once.
func (s *Store) NoticeOverdue(ctx context.Context, l Loan, now time.Time, n Notice, ev Entry) (bool, error) {
	done := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE duty_key_loans SET notified_at = ? WHERE site = ? AND id = ? AND notified_at IS NULL AND returned_at IS NULL`),
			nanos(now), l.Site, l.ID)
		if err != nil {
			return fmt.Errorf("key notice: %w", err)
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

// OverdueUnnoticed are a site's loans past due, not returned, whose notice
// was not sent.
func (s *Store) OverdueUnnoticed(ctx context.Context, site string, now time.Time) ([]Loan, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+loanColumns+` FROM duty_key_loans l JOIN duty_keys k ON k.id = l.key_id
		WHERE l.site = ? AND l.returned_at IS NULL AND l.notified_at IS NULL AND l.due_at <= ? ORDER BY l.due_at`), site, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("overdue keys: %w", err)
	}
	defer rows.Close()
	var out []Loan
	for rows.Next() {
		l, err := scanLoan(rows, now)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// KeyCount is how many keys a site's register holds.
func (s *Store) KeyCount(ctx context.Context, site string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM duty_keys WHERE site = ?`), site).Scan(&n)
	return n, err
}
