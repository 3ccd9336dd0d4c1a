// Package store keeps the desk's tickets, their audit trail, deadlines,
// households, events and notification outbox. One implementation over
// database/sql serves both SQLite (modernc.org/sqlite, pure Go, WAL: the
// default) and PostgreSQL (pgx, for sites that run several desks); the schema
// is migrated from files embedded per dialect. The unique partial indexes are
// what guarantee at most one open ticket per alarm of a site and one open
// top-up reminder per household, whatever the callers retry. Every lookup by
// a key (alarm key, idempotency key, gateway id, household) is scoped by the
// site, and idempotency keys by the caller too: sites are walls here as in
// the API.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// ErrNotFound is returned for a ticket (or other record) that does not exist.
var ErrNotFound = errors.New("not found")

// Dialects.
const (
	SQLiteDialect   = "sqlite"
	PostgresDialect = "postgres"
)

//go:embed migrations
var migrations embed.FS

// Policy is what the store needs from the desk's configuration to do its
// work inside one transaction: due times and who hears of what.
type Policy struct {
	// Deadlines returns a kind's deadlines on a site; nil means the defaults of docs/product.md ("Deadlines").
	Deadlines func(site string, kind wire.Kind) ticket.Deadlines
	// SubKindDeadlines returns the steps a sub-kind sets differently from
	// its kind on a site (a zero Limit: no deadline for that step); nil
	// means the defaults of ticket.DefaultSubKindDeadlines.
	SubKindDeadlines func(site string, kind wire.Kind, subKind string) ticket.Deadlines
	// Location returns a site's time zone, for "same day" deadlines; nil means UTC.
	Location func(site string) *time.Location
	// Calendar returns a site's working calendar, for deadlines in working
	// days; nil (or a nil answer) counts Monday to Friday.
	Calendar func(site string) ticket.WorkingCalendar
	// Route returns the notification channels that carry an event of a ticket
	// to the given escalation levels; nil sends nothing.
	Route func(t wire.Ticket, event string, levels []ticket.Level) []string
	// Satisfied returns a site's satisfaction threshold (1–5): a follow-up
	// below it reopens the ticket to engineering; nil means DefaultSatisfied.
	Satisfied func(site string) int
	// Targets returns a site's monthly targets; nil means DefaultTargets.
	Targets func(site string) Targets
}

// DefaultSatisfied is the satisfaction threshold when none is configured: 3
// of 5 ("fair") counts as satisfied; 1 and 2 send the work back.
const DefaultSatisfied = 3

func (p Policy) satisfied(site string) int {
	if p.Satisfied != nil {
		if n := p.Satisfied(site); n >= 1 && n <= 5 {
			return n
		}
	}
	return DefaultSatisfied
}

var defaultDeadlines = ticket.DefaultDeadlines()

func (p Policy) deadlines(site string, k wire.Kind) ticket.Deadlines {
	if p.Deadlines != nil {
		return p.Deadlines(site, k)
	}
	return defaultDeadlines[k]
}

var defaultSubKindDeadlines = ticket.DefaultSubKindDeadlines()

// deadlinesFor is the deadline table of a ticket: its kind's, with its
// sub-kind's steps over it.
func (p Policy) deadlinesFor(t wire.Ticket) ticket.Deadlines {
	out := ticket.Deadlines{}
	for step, l := range p.deadlines(t.Site, t.Kind) {
		out[step] = l
	}
	var sub ticket.Deadlines
	if p.SubKindDeadlines != nil {
		sub = p.SubKindDeadlines(t.Site, t.Kind, t.SubKind)
	} else {
		sub = defaultSubKindDeadlines[t.Kind][t.SubKind]
	}
	for step, l := range sub {
		if l == (ticket.Limit{}) {
			delete(out, step)
		} else {
			out[step] = l
		}
	}
	return out
}

func (p Policy) calendar(site string) ticket.WorkingCalendar {
	if p.Calendar != nil {
		return p.Calendar(site)
	}
	return nil
}

func (p Policy) location(site string) *time.Location {
	if p.Location != nil {
		if l := p.Location(site); l != nil {
			return l
		}
	}
	return time.UTC
}

// Store is the desk's database.
type Store struct {
	db      *sql.DB
	dialect string
	policy  Policy

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool

	// dsn opens the connection that listens for other desks' events.
	dsn string
	// pending holds each open transaction's events until it commits (flushEvents).
	pendingMu sync.Mutex
	pending   map[*sql.Tx][]pendingEvent
	// onListenError hears why the event listener lost its connection.
	onListenError func(error)
	// creations queues concurrent CreateTicket calls into shared transactions.
	creations groupCommit
}

// OnListenError sets what hears the event listener's lost connections (the
// desk logs them); it must be set before ListenEvents runs.
func (s *Store) OnListenError(f func(error)) { s.onListenError = f }

// SQLite is the name the walking skeleton gave the store; it is the same type.
type SQLite = Store

// OpenSQLite opens (creating if needed) the desk database in one SQLite file,
// with the default policy.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	return Open(ctx, SQLiteDialect, path, Policy{})
}

// Open opens the desk database: dialect "sqlite" with a file path, or
// "postgres" with a postgres:// URL, and migrates it to the current schema.
func Open(ctx context.Context, dialect, dsn string, policy Policy) (*Store, error) {
	return open(ctx, dialect, dsn, policy, math.MaxInt)
}

// open is Open with the migrations applied up to version upTo only (tests
// of upgrades build a database as an older desk left it).
func open(ctx context.Context, dialect, dsn string, policy Policy, upTo int) (*Store, error) {
	var db *sql.DB
	var err error
	switch dialect {
	case SQLiteDialect:
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("desk store: %w", err)
			}
		}
		// _txlock=immediate: every transaction takes the write lock when it
		// begins, so read-then-write transactions never fail to upgrade.
		db, err = sql.Open("sqlite", "file:"+dsn+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"+
			"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)")
		if err == nil {
			// One writer at a time is SQLite's model; a single connection
			// avoids SQLITE_BUSY between our own goroutines.
			db.SetMaxOpenConns(1)
		}
	case PostgresDialect:
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SetMaxOpenConns(20)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	default:
		return nil, fmt.Errorf("desk store: unknown dialect %q (sqlite or postgres)", dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("desk store: %w", err)
	}
	s := &Store{db: db, dialect: dialect, policy: policy, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{},
		dsn: dsn, pending: map[*sql.Tx][]pendingEvent{}}
	if err := s.migrate(ctx, upTo); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Close closes the database.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = map[string]*sql.Stmt{}
	s.stmtMu.Unlock()
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// q turns the ? placeholders used throughout into the dialect's own.
func (s *Store) q(query string) string {
	if s.dialect != PostgresDialect {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
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

// forUpdate locks the selected rows on PostgreSQL; SQLite's immediate
// transactions already hold the database's one write lock.
func (s *Store) forUpdate() string {
	if s.dialect == PostgresDialect {
		return " FOR UPDATE"
	}
	return ""
}

// migrate applies the embedded migrations of the dialect up to version upTo
// that are not yet recorded in schema_migrations, each in its own transaction.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	if err := s.createMigrationsTable(ctx); err != nil {
		return fmt.Errorf("desk store: migrations table: %w", err)
	}
	dir := "migrations/" + s.dialect
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("desk store: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("desk store: migration %s: name must start with a number and _", e.Name())
		}
		if version > upTo {
			break
		}
		body, err := migrations.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return fmt.Errorf("desk store: %w", err)
		}
		if err := s.applyMigration(ctx, version, e.Name(), string(body)); err != nil {
			return err
		}
	}
	return nil
}

// createMigrationsTable creates schema_migrations if it is missing. On
// PostgreSQL it holds the migration lock meanwhile: two desks starting
// together on a new database would otherwise both create it, and one fail
// (CREATE TABLE IF NOT EXISTS is not safe against a concurrent create).
func (s *Store) createMigrationsTable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.dialect == PostgresDialect {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7215562301)`); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) applyMigration(ctx context.Context, version int, name, body string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("desk store: migration %s: %w", name, err)
	}
	defer tx.Rollback()
	if s.dialect == PostgresDialect {
		// Two desks starting together migrate one after the other.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7215562301)`); err != nil {
			return fmt.Errorf("desk store: migration lock: %w", err)
		}
	}
	var done int
	err = tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&done)
	if err != nil {
		return fmt.Errorf("desk store: migration %s: %w", name, err)
	}
	if done > 0 {
		return nil
	}
	for _, stmt := range splitStatements(body) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("desk store: migration %s: %w\n%s", name, err, stmt)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("desk store: migration %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("desk store: migration %s: %w", name, err)
	}
	return nil
}

// splitStatements cuts a migration into statements at semicolons that end a
// line. Migrations hold no procedural code, so this is enough, and it lets
// every statement go through the driver's ordinary (prepared) path.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

// inTx runs fn in a transaction and commits it when fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.warmStatements(ctx)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	defer s.dropEvents(tx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := s.flushEvents(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func nullTime(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64)
	return &t
}

// maxCachedStatements bounds the prepared-statement cache; queries built
// from variable parts have few shapes, so the bound is never reached in use.
const maxCachedStatements = 256

// txStmt returns query prepared for tx. Statements are prepared once on the
// database and reused, so that the hot transactions do not parse their SQL
// every time. A statement is first prepared on the transaction itself (the
// database may have no other connection free: SQLite has one) and marked as
// wanted; warmStatements prepares the wanted ones when no transaction of
// this goroutine holds a connection.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	query = s.q(query)
	s.stmtMu.Lock()
	st, ok := s.stmts[query]
	if !ok && len(s.stmts)+len(s.wanted) < maxCachedStatements {
		s.wanted[query] = true
	}
	s.stmtMu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// warmStatements prepares the statements transactions asked for. It must not
// be called while the calling goroutine holds a connection.
func (s *Store) warmStatements(ctx context.Context) {
	s.stmtMu.Lock()
	if len(s.wanted) == 0 {
		s.stmtMu.Unlock()
		return
	}
	queries := make([]string, 0, len(s.wanted))
	for q := range s.wanted {
		queries = append(queries, q)
	}
	s.wanted = map[string]bool{}
	s.stmtMu.Unlock()
	for _, q := range queries {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			continue // prepared on the transaction again next time; the error shows there
		}
		s.stmtMu.Lock()
		if _, dup := s.stmts[q]; dup {
			st.Close()
		} else {
			s.stmts[q] = st
		}
		s.stmtMu.Unlock()
	}
}

// txExec runs a statement inside tx through the statement cache.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txQuery runs a query inside tx through the statement cache.
func (s *Store) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// txQueryRow runs a one-row query inside tx through the statement cache.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		// The error surfaces through the row, as QueryRowContext does.
		return tx.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}
