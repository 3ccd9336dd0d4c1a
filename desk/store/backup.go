package store

// Backups and restores of the desk database (`estate desk backup` and
// `estate desk restore`, docs/operations.md "Backups"). SQLite is copied
// online with VACUUM INTO, which writes a consistent snapshot of one read
// transaction while the desk goes on writing; PostgreSQL is dumped with
// pg_dump's custom format and restored with pg_restore --clean --if-exists,
// run through psql in one transaction so that a restore that fails half-way
// leaves the database as it was. Nothing is written under the final name
// until it is complete: a backup interrupted half-way leaves no file that
// looks like a backup.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Tools names the PostgreSQL client programs; empty names are looked up in
// PATH. They must be of the server's major version or newer (pg_dump refuses
// a newer server).
type Tools struct {
	PgDump, PgRestore, Psql string
	// Stderr receives the programs' own messages; nil discards them (they
	// are in the error when a program fails).
	Stderr io.Writer
}

func (t Tools) prog(name, set string) string {
	if set != "" {
		return set
	}
	return name
}

// BackupResult says what a backup wrote.
type BackupResult struct {
	File string
	// Command is the command that was run, without any password
	// (PostgreSQL); it wrote File + ".partial", renamed to File once checked.
	Command string
	Bytes   int64
	// Version is the newest migration recorded in the copy.
	Version int
}

// ErrInUse is a restore over a database that a running desk has open.
var ErrInUse = errors.New("the database is in use by a running desk")

// LatestVersion is the newest migration this build knows for a dialect.
func LatestVersion(dialect string) (int, error) {
	entries, err := fs.ReadDir(migrations, "migrations/"+dialect)
	if err != nil {
		return 0, fmt.Errorf("desk store: unknown dialect %q: %w", dialect, err)
	}
	latest := 0
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); err == nil && v > latest {
			latest = v
		}
	}
	return latest, nil
}

// Backup writes a consistent copy of the desk database (dialect and dsn as
// in the desk: configuration) to the file `to`, which must not exist.
func Backup(ctx context.Context, dialect, dsn, to string, tools Tools) (BackupResult, error) {
	if _, err := os.Stat(to); err == nil {
		return BackupResult{}, fmt.Errorf("backup: %s already exists; choose a new file name (nothing is overwritten)", to)
	}
	tmp := to + ".partial"
	_ = os.Remove(tmp) // a partial file of an interrupted earlier run
	var res BackupResult
	var err error
	switch dialect {
	case SQLiteDialect, "":
		res, err = backupSQLite(ctx, dsn, tmp)
	case PostgresDialect:
		res, err = backupPostgres(ctx, dsn, tmp, tools)
	default:
		err = fmt.Errorf("unknown driver %q (sqlite or postgres)", dialect)
	}
	if err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("backup: %w", err)
	}
	res.File = to
	if fi, err := os.Stat(to); err == nil {
		res.Bytes = fi.Size()
	}
	return res, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// openRawSQLite opens a SQLite desk file without migrating it: a backup or a
// restore must not change the schema of what it copies.
func openRawSQLite(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("desk database %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func backupSQLite(ctx context.Context, path, tmp string) (BackupResult, error) {
	db, err := openRawSQLite(path)
	if err != nil {
		return BackupResult{}, err
	}
	defer db.Close()
	if _, err := schemaVersion(ctx, db); err != nil {
		return BackupResult{}, fmt.Errorf("%s: %w", path, err)
	}
	// VACUUM INTO reads the database in one transaction: the copy is the
	// database as of one moment, whatever the desk writes meanwhile.
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return BackupResult{}, fmt.Errorf("VACUUM INTO %s: %w", tmp, err)
	}
	v, err := checkSQLiteFile(ctx, tmp)
	if err != nil {
		return BackupResult{}, fmt.Errorf("the copy does not check: %w", err)
	}
	return BackupResult{Command: "VACUUM INTO " + quoteArg(tmp), Version: v}, nil
}

// schemaVersion is the newest migration recorded in a desk database.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("not a desk database (no schema_migrations: %w)", err)
	}
	return int(v.Int64), nil
}

// checkSQLiteFile checks a SQLite file's integrity and that it is a desk
// database; it returns its schema version.
func checkSQLiteFile(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if ok != "ok" {
		return 0, fmt.Errorf("%s: integrity check: %s", path, ok)
	}
	return schemaVersion(ctx, db)
}

// pgConn splits a postgres:// URL into the URL without its password (safe to
// print and to pass on a command line, which other users of the machine can
// read) and the password, which the tools get in PGPASSWORD.
func pgConn(dsn string) (safe, password string, err error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", fmt.Errorf("the database must be a postgres:// URL")
	}
	if u.User != nil {
		password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	return u.String(), password, nil
}

func (t Tools) run(ctx context.Context, password string, stdin io.Reader, stdout io.Writer, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if t.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&errBuf, t.Stderr)
	}
	line := commandLine(prog, args)
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errBuf.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return line, fmt.Errorf("%s: %w: %s", line, err, msg)
	}
	return line, nil
}

func commandLine(prog string, args []string) string {
	parts := []string{quoteArg(prog)}
	for _, a := range args {
		parts = append(parts, quoteArg(a))
	}
	return strings.Join(parts, " ")
}

// quoteArg quotes an argument for a POSIX shell when it needs it, so that the
// printed command can be pasted.
func quoteArg(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func backupPostgres(ctx context.Context, dsn, tmp string, tools Tools) (BackupResult, error) {
	safe, password, err := pgConn(dsn)
	if err != nil {
		return BackupResult{}, err
	}
	line, err := tools.run(ctx, password, nil, nil, tools.prog("pg_dump", tools.PgDump),
		"--format=custom", "--no-owner", "--file="+tmp, "--dbname="+safe)
	if err != nil {
		return BackupResult{}, err
	}
	// The archive must be readable, and be a desk's.
	tables, err := archiveTables(ctx, tools, tmp)
	if err != nil {
		return BackupResult{}, err
	}
	if !tables["schema_migrations"] || !tables["tickets"] {
		return BackupResult{}, fmt.Errorf("the database is not a desk's (no tickets or schema_migrations table)")
	}
	version := 0
	if db, err := sql.Open("pgx", dsn); err == nil {
		version, _ = schemaVersion(ctx, db)
		db.Close()
	}
	return BackupResult{Command: line, Version: version}, nil
}

// archiveTables lists the tables a pg_dump custom archive holds.
func archiveTables(ctx context.Context, tools Tools, file string) (map[string]bool, error) {
	var out bytes.Buffer
	if _, err := tools.run(ctx, "", nil, &out, tools.prog("pg_restore", tools.PgRestore), "--list", file); err != nil {
		return nil, err
	}
	tables := map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		// "215; 1259 16390 TABLE public tickets estate"
		line := sc.Text()
		if strings.HasPrefix(line, ";") {
			continue
		}
		_, rest, ok := strings.Cut(line, " TABLE ")
		if !ok || strings.Contains(line, " TABLE DATA ") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) >= 2 && f[0] == "public" {
			tables[f[1]] = true
		}
	}
	return tables, sc.Err()
}

// RestoreOptions adjust a restore.
type RestoreOptions struct {
	// Force restores over a database that looks in use by a running desk.
	Force bool
	Tools Tools
	// Now names the safety copy of the SQLite database replaced; nil: time.Now.
	Now func() time.Time
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Command string
	// Previous is the copy of the SQLite database that the restore replaced.
	Previous string
	Version  int
	// Dropped are PostgreSQL tables the backup did not have (a newer desk's).
	Dropped []string
}

// Restore replaces the desk database (dialect and dsn as configured) by the
// backup in from. It refuses a database a running desk has open unless
// opts.Force, and a backup of a newer schema than this build knows (restore
// it with the desk version that made it).
func Restore(ctx context.Context, dialect, dsn, from string, opts RestoreOptions) (RestoreResult, error) {
	if _, err := os.Stat(from); err != nil {
		return RestoreResult{}, fmt.Errorf("restore: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var res RestoreResult
	var err error
	switch dialect {
	case SQLiteDialect, "":
		res, err = restoreSQLite(ctx, dsn, from, opts)
	case PostgresDialect:
		res, err = restorePostgres(ctx, dsn, from, opts)
	default:
		err = fmt.Errorf("unknown driver %q (sqlite or postgres)", dialect)
	}
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	return res, nil
}

func checkVersion(dialect string, v int) error {
	latest, err := LatestVersion(dialect)
	if err != nil {
		return err
	}
	if v > latest {
		return fmt.Errorf("the backup is of schema version %d, newer than this desk knows (%d): restore it with the desk version that made it", v, latest)
	}
	return nil
}

// sqliteInUse reports whether another connection has the database open:
// leaving WAL mode needs the only connection, and a running desk holds one.
func sqliteInUse(ctx context.Context, path string) (bool, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		return false, err
	}
	defer db.Close()
	var mode string
	err = db.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode)
	if err != nil {
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
			return true, nil
		}
		return false, err
	}
	return mode != "delete", nil
}

func restoreSQLite(ctx context.Context, path, from string, opts RestoreOptions) (RestoreResult, error) {
	v, err := checkSQLiteFile(ctx, from)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("the backup does not check: %w", err)
	}
	if err := checkVersion(SQLiteDialect, v); err != nil {
		return RestoreResult{}, err
	}
	res := RestoreResult{Version: v}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return res, err
	}
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if exists {
		inUse, err := sqliteInUse(ctx, path)
		if err != nil {
			return res, fmt.Errorf("%s: %w", path, err)
		}
		if inUse && !opts.Force {
			return res, fmt.Errorf("%s: %w; stop it first (or give --force if no desk runs and the file is held by something else)", path, ErrInUse)
		}
		// The database replaced is kept, WAL included, beside it.
		res.Previous = path + ".before-restore-" + opts.Now().UTC().Format("20060102T150405Z")
		db, err := openRawSQLite(path)
		if err != nil {
			return res, err
		}
		_, err = db.ExecContext(ctx, `VACUUM INTO ?`, res.Previous)
		db.Close()
		if err != nil {
			return res, fmt.Errorf("keeping the database replaced as %s: %w", res.Previous, err)
		}
	}
	tmp := path + ".restoring"
	_ = os.Remove(tmp)
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return res, err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.Remove(tmp)
			return res, err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return res, err
	}
	res.Command = "copy " + quoteArg(from) + " to " + quoteArg(path)
	return res, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func restorePostgres(ctx context.Context, dsn, from string, opts RestoreOptions) (RestoreResult, error) {
	safe, password, err := pgConn(dsn)
	if err != nil {
		return RestoreResult{}, err
	}
	tables, err := archiveTables(ctx, opts.Tools, from)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("%s is not a readable pg_dump custom archive: %w", from, err)
	}
	if !tables["schema_migrations"] || !tables["tickets"] {
		return RestoreResult{}, fmt.Errorf("%s is not a desk's backup (no tickets or schema_migrations table)", from)
	}
	version, err := archiveVersion(ctx, opts.Tools, from)
	if err != nil {
		return RestoreResult{}, err
	}
	if err := checkVersion(PostgresDialect, version); err != nil {
		return RestoreResult{}, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return RestoreResult{}, err
	}
	defer db.Close()
	var others int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others); err != nil {
		return RestoreResult{}, fmt.Errorf("connecting to the database: %w", err)
	}
	if others > 0 && !opts.Force {
		return RestoreResult{}, fmt.Errorf("%d other connection(s) to the database: %w; stop every desk first (or give --force)", others, ErrInUse)
	}
	// Tables of the database that the backup lacks were made by a newer
	// desk's migrations; left in place, the restored desk's next migration
	// would meet them. They go in the same transaction as the restore.
	rows, err := db.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		return RestoreResult{}, err
	}
	res := RestoreResult{Version: version}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return res, err
		}
		if !tables[name] {
			res.Dropped = append(res.Dropped, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	sort.Strings(res.Dropped)
	db.Close()

	var script bytes.Buffer
	restoreLine, err := opts.Tools.run(ctx, "", nil, &script, opts.Tools.prog("pg_restore", opts.Tools.PgRestore),
		"--clean", "--if-exists", "--no-owner", "--no-privileges", "--file=-", from)
	if err != nil {
		return res, err
	}
	var drops strings.Builder
	for _, name := range res.Dropped {
		drops.WriteString(`DROP TABLE IF EXISTS public."` + strings.ReplaceAll(name, `"`, `""`) + `" CASCADE;` + "\n")
	}
	psqlLine, err := opts.Tools.run(ctx, password, io.MultiReader(strings.NewReader(drops.String()), &script), nil,
		opts.Tools.prog("psql", opts.Tools.Psql), "--single-transaction", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--dbname="+safe)
	res.Command = restoreLine + " | " + psqlLine
	return res, err
}

// archiveVersion is the newest migration recorded in a pg_dump archive.
func archiveVersion(ctx context.Context, tools Tools, file string) (int, error) {
	var out bytes.Buffer
	if _, err := tools.run(ctx, "", nil, &out, tools.prog("pg_restore", tools.PgRestore),
		"--data-only", "--table=schema_migrations", "--file=-", file); err != nil {
		return 0, err
	}
	latest, inCopy := 0, false
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "COPY public.schema_migrations "):
			inCopy = true
		case line == `\.`:
			inCopy = false
		case inCopy:
			num, _, _ := strings.Cut(line, "\t")
			if v, err := strconv.Atoi(num); err == nil && v > latest {
				latest = v
			}
		}
	}
	return latest, sc.Err()
}
