package main

// The desk's operations beside serving: backups, restores, and households
// imported from and exported to CSV or XLSX (docs/operations.md).
//
//	estate desk backup  --config desk.yaml --to FILE
//	estate desk restore --config desk.yaml --from FILE [--force]
//	estate desk import households FILE --config desk.yaml [--site ID] [--dry-run]
//	estate desk export households --config desk.yaml --site ID [--format csv|xlsx] [--to FILE]

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/desk/households"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
)

var deskSubs = map[string]command{
	"backup":  {"backup --config FILE --to FILE", "copy the desk database consistently while it runs", deskBackup},
	"restore": {"restore --config FILE --from FILE", "replace the desk database by a backup (the desk stopped)", deskRestore},
	"import":  {"import households FILE --config FILE", "import households, residents and meters from CSV or XLSX", deskImport},
	"export":  {"export households --config FILE --site ID", "export a site's households as CSV or XLSX", deskExport},
}

// deskCommand serves the desk, or runs one of its operations.
func deskCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return subcommands("desk", deskSubs, args, stdout, stderr)
	}
	return serve("desk", args, stdout, stderr)
}

// parseInterleaved parses flags that may come before and after the
// positional arguments ("import households FILE --dry-run").
func parseInterleaved(fs *flag.FlagSet, args []string, stdout io.Writer) (pos []string, code int, ok bool) {
	for {
		if code, ok := parseFlags(fs, args, stdout); !ok {
			return nil, code, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// deskConfig loads the configuration the desk runs with.
func deskConfig(path string, stderr io.Writer) (*config.Config, bool) {
	if path == "" {
		fmt.Fprint(stderr, "--config FILE is required: the desk's configuration (its desk: section names the database)\n")
		return nil, false
	}
	cfg, err := app.LoadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s has problems; nothing was done:\n", path)
		printProblems(stderr, err)
		return nil, false
	}
	return cfg, true
}

func pgTools(dir string, stderr io.Writer) store.Tools {
	t := store.Tools{Stderr: stderr}
	if dir != "" {
		t.PgDump, t.PgRestore, t.Psql = filepath.Join(dir, "pg_dump"), filepath.Join(dir, "pg_restore"), filepath.Join(dir, "psql")
	}
	return t
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func deskBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("desk backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the desk's configuration file")
	to := fs.String("to", "", "the backup file to write (must not exist)")
	pgBin := fs.String("pg-bin", "", "folder of pg_dump (PostgreSQL; default: from PATH)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: estate desk backup --config FILE --to FILE [--pg-bin DIR]\n\n"+
			"SQLite: a consistent copy made with VACUUM INTO while the desk runs.\n"+
			"PostgreSQL: pg_dump --format=custom (restore it with estate desk restore).\n\n")
		fs.PrintDefaults()
	}
	if _, code, ok := parseInterleaved(fs, args, stdout); !ok {
		return code
	}
	if *to == "" {
		fs.Usage()
		return 2
	}
	cfg, ok := deskConfig(*cfgPath, stderr)
	if !ok {
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	res, err := store.Backup(ctx, cfg.Desk.Driver, cfg.Desk.Database, *to, pgTools(*pgBin, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "estate desk backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ran: %s\n", res.Command)
	fmt.Fprintf(stdout, "backup: %s (%d bytes, schema version %d; checked, then renamed from .partial)\n", res.File, res.Bytes, res.Version)
	return 0
}

func deskRestore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("desk restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the desk's configuration file")
	from := fs.String("from", "", "the backup file (of estate desk backup)")
	force := fs.Bool("force", false, "restore although the database looks in use by a running desk")
	pgBin := fs.String("pg-bin", "", "folder of pg_restore and psql (PostgreSQL; default: from PATH)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: estate desk restore --config FILE --from FILE [--force] [--pg-bin DIR]\n\n"+
			"Stop the desk first. SQLite: the configured file is replaced (the one replaced is kept\n"+
			"beside it as FILE.before-restore-TIME). PostgreSQL: pg_restore --clean --if-exists into\n"+
			"the configured database, in one transaction.\n\n")
		fs.PrintDefaults()
	}
	if _, code, ok := parseInterleaved(fs, args, stdout); !ok {
		return code
	}
	if *from == "" {
		fs.Usage()
		return 2
	}
	cfg, ok := deskConfig(*cfgPath, stderr)
	if !ok {
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	res, err := store.Restore(ctx, cfg.Desk.Driver, cfg.Desk.Database, *from, store.RestoreOptions{Force: *force, Tools: pgTools(*pgBin, stderr)})
	if err != nil {
		fmt.Fprintf(stderr, "estate desk restore: %v\n", err)
		if errors.Is(err, store.ErrInUse) {
			return 3
		}
		return 1
	}
	fmt.Fprintf(stdout, "ran: %s\n", res.Command)
	if res.Previous != "" {
		fmt.Fprintf(stdout, "the database replaced is kept as %s\n", res.Previous)
	}
	if len(res.Dropped) > 0 {
		fmt.Fprintf(stdout, "dropped tables the backup did not have (a newer desk's): %s\n", strings.Join(res.Dropped, ", "))
	}
	fmt.Fprintf(stdout, "restored %s (schema version %d); start the desk: it applies any newer migrations\n", *from, res.Version)
	return 0
}

func deskImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("desk import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the desk's configuration file")
	site := fs.String("site", "", "the site to import into (else every row names its site)")
	dryRun := fs.Bool("dry-run", false, "check the file and report; import nothing")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: estate desk import households FILE --config FILE [--site ID] [--dry-run]\n\n"+
			"FILE is CSV (UTF-8) or XLSX with one row per resident: site, building, floor, unit, name,\n"+
			"phone, contact, meters (separated by ;), or 楼栋, 楼层, 房号, 姓名, 电话, 联系方式, 电表.\n"+
			"Every bad row is reported as file:row: column: problem; nothing is imported until the\n"+
			"file is clean, and then everything in one transaction.\n\n")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args, stdout)
	if !ok {
		return code
	}
	if len(pos) != 2 || pos[0] != "households" {
		fs.Usage()
		return 2
	}
	file := pos[1]
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "estate desk import: %v\n", err)
		return 1
	}
	cfg, ok := deskConfig(*cfgPath, stderr)
	if !ok {
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	st, err := store.Open(ctx, cfg.Desk.Driver, cfg.Desk.Database, desk.StorePolicy(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "estate desk import: %v\n", err)
		return 1
	}
	defer st.Close()
	rep, err := desk.ImportHouseholds(ctx, st, file, data, *site, *dryRun)
	if err != nil {
		fmt.Fprintf(stderr, "estate desk import: %v\n", err)
		return 1
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stderr, p)
	}
	if rep.ProblemsTotal > len(rep.Problems) {
		fmt.Fprintf(stderr, "… and %d more\n", rep.ProblemsTotal-len(rep.Problems))
	}
	summary := fmt.Sprintf("%s: %d rows, %d households (%d residents, %d meters): %d new, %d replaced",
		file, rep.Rows, rep.Households, rep.Residents, rep.Meters, rep.Added, rep.Replaced)
	switch {
	case rep.ProblemsTotal > 0:
		fmt.Fprintf(stderr, "%d problem(s); nothing was imported\n", rep.ProblemsTotal)
		return 1
	case rep.Imported:
		fmt.Fprintln(stdout, summary+"; imported")
	default:
		fmt.Fprintln(stdout, summary+"; dry run: nothing was imported")
	}
	return 0
}

func deskExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("desk export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the desk's configuration file")
	site := fs.String("site", "", "the site whose households to export")
	format := fs.String("format", "", "csv or xlsx (default: from --to's extension, else csv)")
	to := fs.String("to", "", "the file to write (default: standard output)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: estate desk export households --config FILE --site ID [--format csv|xlsx] [--to FILE]\n\n"+
			"The file has the columns of estate desk import households and imports back.\n\n")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args, stdout)
	if !ok {
		return code
	}
	if len(pos) != 1 || pos[0] != "households" || *site == "" {
		fs.Usage()
		return 2
	}
	if *format == "" {
		*format = "csv"
		if strings.EqualFold(filepath.Ext(*to), ".xlsx") {
			*format = "xlsx"
		}
	}
	if *format != "csv" && *format != "xlsx" {
		fmt.Fprintf(stderr, "estate desk export: --format %q: csv or xlsx\n", *format)
		return 2
	}
	cfg, ok := deskConfig(*cfgPath, stderr)
	if !ok {
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	st, err := store.Open(ctx, cfg.Desk.Driver, cfg.Desk.Database, desk.StorePolicy(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "estate desk export: %v\n", err)
		return 1
	}
	defer st.Close()
	units, err := st.ListUnits(ctx, *site)
	if err != nil {
		fmt.Fprintf(stderr, "estate desk export: %v\n", err)
		return 1
	}
	out := stdout
	var f *os.File
	if *to != "" {
		if f, err = os.OpenFile(*to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640); err != nil {
			fmt.Fprintf(stderr, "estate desk export: %v (nothing is overwritten)\n", err)
			return 1
		}
		out = f
	}
	if err := households.Write(out, *format, units); err != nil {
		fmt.Fprintf(stderr, "estate desk export: %v\n", err)
		if f != nil {
			f.Close()
			os.Remove(*to)
		}
		return 1
	}
	if f != nil {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "estate desk export: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "%s: %d households of %s\n", *to, len(units), *site)
	}
	return 0
}
