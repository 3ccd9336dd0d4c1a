package statedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// legacy is one of the two files the state file replaces, and what moves
// from it.
type legacy struct {
	file, table, columns string
}

func legacyFiles(dir, gatewayID string) []legacy {
	return []legacy{
		{filepath.Join(dir, "alarms-"+gatewayID+".db"), "alarms", "key, state, updated"},
		// seq moves too: delivery order (oldest first, so in order per alarm) is seq order.
		{filepath.Join(dir, "outbox-"+gatewayID+".db"), "actions", "seq, idem, alarm_key, body, enqueued, attempts, done, outcome"},
	}
}

// MigratedSuffix is appended to the old files once their rows are in the state file.
const MigratedSuffix = ".migrated"

// OpenGateway opens the state file of a gateway under dir, first moving the
// rows of the old alarms-<id>.db and outbox-<id>.db into it when they exist
// and it does not.
func OpenGateway(ctx context.Context, dir, gatewayID string, log *slog.Logger) (*sql.DB, error) {
	if err := Migrate(ctx, dir, gatewayID, log); err != nil {
		return nil, err
	}
	return Open(Path(dir, gatewayID))
}

// Migrate moves the rows of the old alarms-<id>.db and outbox-<id>.db into a
// new state file, in one transaction, and renames the old files aside. It
// builds the new file under a temporary name and renames it into place only
// once complete, so that a crash in the middle leaves the old files in charge
// and the next start migrates again. Old files found beside an existing state
// file (a crash after the rename, before the old files were renamed) are
// renamed aside without copying: their rows are already in the state file.
func Migrate(ctx context.Context, dir, gatewayID string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var present []legacy
	for _, l := range legacyFiles(dir, gatewayID) {
		if exists(l.file) {
			present = append(present, l)
		}
	}
	if len(present) == 0 {
		return nil
	}
	final := Path(dir, gatewayID)
	if exists(final) {
		log.Warn("old alarm state files found beside the state file; renaming them aside", "state_file", final)
		return renameAside(present)
	}
	tmp := final + ".migrating"
	if err := removeDB(tmp); err != nil {
		return fmt.Errorf("state file migration: %w", err)
	}
	moved, err := copyRows(ctx, tmp, present)
	if err != nil {
		_ = removeDB(tmp)
		return fmt.Errorf("state file migration into %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("state file migration: %w", err)
	}
	if err := renameAside(present); err != nil {
		return err
	}
	log.Info("alarm state and outbox moved into one state file", "state_file", final,
		"alarms", moved["alarms"], "outbox_actions", moved["actions"])
	return nil
}

// copyRows creates the state file at path and copies the old files' rows
// into it in one transaction.
func copyRows(ctx context.Context, path string, from []legacy) (map[string]int64, error) {
	db, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // ATTACH is per connection
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	for i, l := range from {
		if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS `+schemaName(i), l.file); err != nil {
			return nil, fmt.Errorf("open %s: %w", l.file, err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	moved := map[string]int64{}
	for i, l := range from {
		res, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO main.%s (%s) SELECT %s FROM %s.%s`,
			l.table, l.columns, l.columns, schemaName(i), l.table))
		if err != nil {
			return nil, fmt.Errorf("copy %s from %s: %w", l.table, l.file, err)
		}
		moved[l.table], _ = res.RowsAffected()
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	for i := range from {
		if _, err := conn.ExecContext(ctx, `DETACH DATABASE `+schemaName(i)); err != nil {
			return nil, err
		}
	}
	// Fold the WAL into the file before it is renamed: the rename moves the
	// main file only.
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return nil, err
	}
	return moved, nil
}

func schemaName(i int) string { return fmt.Sprintf("old%d", i) }

// renameAside renames each old file (with its -wal and -shm) to .migrated,
// which keeps it openable as a database for anyone who wants to look.
func renameAside(files []legacy) error {
	for _, l := range files {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			from := l.file + suffix
			if !exists(from) {
				continue
			}
			if err := os.Rename(from, l.file+MigratedSuffix+suffix); err != nil {
				return fmt.Errorf("state file migration: %w", err)
			}
		}
	}
	return nil
}

// removeDB removes a database file left by an interrupted migration.
func removeDB(path string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
