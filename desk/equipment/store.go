package equipment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is an item (or order, plan) that does not exist on the site.
var ErrNotFound = errors.New("not found")

// ErrSerialTaken is a serial already registered to another piece of equipment.
var ErrSerialTaken = errors.New("serial already registered")

// DB is the desk's database with its dialect ("sqlite" or "postgres"):
// the tables of migration 017 (desk/store/migrations).
type DB struct {
	SQL     *sql.DB
	Dialect string
}

// Q turns the ? placeholders into the dialect's own.
func (d DB) Q(query string) string {
	if d.Dialect != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Store keeps the register.
type Store struct{ DB }

// NewStore is the register on the desk's database.
func NewStore(db DB) *Store { return &Store{db} }

const itemColumns = `site, id, name, class, device, building, floor, location, make, model, serial,
	install_date, warranty_end, supplier, contractor, notes, updated_at`

func itemArgs(it Item) []any {
	return []any{it.Site, it.ID, it.Name, it.Class, it.Device, it.Building, it.Floor, it.Location, it.Make, it.Model,
		strings.TrimSpace(it.Serial), it.InstallDate, it.WarrantyEnd, it.Supplier, it.Contractor, it.Notes, it.UpdatedAt.UnixNano()}
}

// Put creates or replaces items in one transaction: all or none (an import).
func (s *Store) Put(ctx context.Context, items []Item, now time.Time) error {
	tx, err := s.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("equipment: %w", err)
	}
	defer tx.Rollback()
	for _, it := range items {
		if err := it.Validate(); err != nil {
			return fmt.Errorf("equipment %s: %w", it.ID, err)
		}
		it.UpdatedAt = now
		var owner string
		err := tx.QueryRowContext(ctx, s.Q(`SELECT id FROM equipment WHERE site = ? AND serial = ?`), it.Site, strings.TrimSpace(it.Serial)).Scan(&owner)
		switch {
		case err == nil && owner != it.ID:
			return fmt.Errorf("equipment %s: %w: %s is %s", it.ID, ErrSerialTaken, it.Serial, owner)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("equipment %s: %w", it.ID, err)
		}
		if _, err := tx.ExecContext(ctx, s.Q(`DELETE FROM equipment WHERE site = ? AND id = ?`), it.Site, it.ID); err != nil {
			return fmt.Errorf("equipment %s: %w", it.ID, err)
		}
		if _, err := tx.ExecContext(ctx, s.Q(`INSERT INTO equipment (`+itemColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			itemArgs(it)...); err != nil {
			return fmt.Errorf("equipment %s: %w", it.ID, err)
		}
	}
	return tx.Commit()
}

func scanItems(rows *sql.Rows) ([]Item, error) {
	defer rows.Close()
	out := []Item{}
	for rows.Next() {
		var it Item
		var upd int64
		if err := rows.Scan(&it.Site, &it.ID, &it.Name, &it.Class, &it.Device, &it.Building, &it.Floor, &it.Location,
			&it.Make, &it.Model, &it.Serial, &it.InstallDate, &it.WarrantyEnd, &it.Supplier, &it.Contractor, &it.Notes, &upd); err != nil {
			return nil, err
		}
		it.UpdatedAt = time.Unix(0, upd).UTC()
		out = append(out, it)
	}
	return out, rows.Err()
}

// List is a site's register (every site's with site ""), by id.
func (s *Store) List(ctx context.Context, site string) ([]Item, error) {
	q, args := `SELECT `+itemColumns+` FROM equipment`, []any{}
	if site != "" {
		q += ` WHERE site = ?`
		args = append(args, site)
	}
	rows, err := s.SQL.QueryContext(ctx, s.Q(q+` ORDER BY site, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("equipment: %w", err)
	}
	return scanItems(rows)
}

// Get is one item of a site.
func (s *Store) Get(ctx context.Context, site, id string) (Item, error) {
	rows, err := s.SQL.QueryContext(ctx, s.Q(`SELECT `+itemColumns+` FROM equipment WHERE site = ? AND id = ?`), site, id)
	if err != nil {
		return Item{}, fmt.Errorf("equipment: %w", err)
	}
	items, err := scanItems(rows)
	if err != nil {
		return Item{}, err
	}
	if len(items) == 0 {
		return Item{}, fmt.Errorf("equipment %s: %w", id, ErrNotFound)
	}
	return items[0], nil
}

// Delete removes an item of a site.
func (s *Store) Delete(ctx context.Context, site, id string) error {
	r, err := s.SQL.ExecContext(ctx, s.Q(`DELETE FROM equipment WHERE site = ? AND id = ?`), site, id)
	if err != nil {
		return fmt.Errorf("equipment: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("equipment %s: %w", id, ErrNotFound)
	}
	return nil
}

// Serials maps a site's serials to their equipment ids (imports check against it).
func (s *Store) Serials(ctx context.Context, site string) (map[string]string, error) {
	rows, err := s.SQL.QueryContext(ctx, s.Q(`SELECT serial, id FROM equipment WHERE site = ?`), site)
	if err != nil {
		return nil, fmt.Errorf("equipment: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var serial, id string
		if err := rows.Scan(&serial, &id); err != nil {
			return nil, err
		}
		out[serial] = id
	}
	return out, rows.Err()
}

// ClaimWarrantyReminder marks the reminder of an item's current warranty
// end as given; false when it was already (by this desk or another).
func (s *Store) ClaimWarrantyReminder(ctx context.Context, site, id, warrantyEnd string) (bool, error) {
	r, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE equipment SET warranty_reminded = ?
		WHERE site = ? AND id = ? AND warranty_end = ? AND warranty_reminded <> ?`), warrantyEnd, site, id, warrantyEnd, warrantyEnd)
	if err != nil {
		return false, fmt.Errorf("equipment %s: %w", id, err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// ReleaseWarrantyReminder undoes a claim whose reminder could not be opened.
func (s *Store) ReleaseWarrantyReminder(ctx context.Context, site, id string) error {
	_, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE equipment SET warranty_reminded = '' WHERE site = ? AND id = ?`), site, id)
	return err
}
