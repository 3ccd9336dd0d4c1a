package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/testenv"
)

func deskYAML(t *testing.T, driver, database string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "desk.yaml")
	text := "site:\n  id: site-a\n  timezone: Asia/Shanghai\ndesk:\n  listen: 127.0.0.1:0\n  driver: " + driver + "\n  database: " + database +
		"\n  tokens:\n    - name: admin\n      token: admin-token-0123456789abcdef0123\n      role: admin\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// An operator's afternoon on a SQLite desk: a households file checked, fixed
// and imported, exported as XLSX, the desk backed up while it runs, a restore
// refused while it runs and done once it is stopped.
func TestDeskOperationsSQLite(t *testing.T) {
	dir := t.TempDir()
	cfg := deskYAML(t, "sqlite", filepath.Join(dir, "desk.db"))
	bad := filepath.Join(dir, "homes.csv")
	os.WriteFile(bad, []byte("楼栋,房号,姓名,电话,电表\n3,3-1201,王芳,13800138000,m1\n3,3-1202,李强,1.39E+10,m1\n"), 0o600)
	code, out, errOut := runCLI(t, "desk", "import", "households", bad, "--config", cfg, "--site", "site-a")
	if code != 1 || !strings.Contains(errOut, bad+":3: phone: 1.39E+10 is a number the spreadsheet shortened") ||
		!strings.Contains(errOut, bad+":3: meters: m1 is already the meter of unit 3-1201 (row 2)") || !strings.Contains(errOut, "nothing was imported") {
		t.Fatalf("bad file: %d %q %q", code, out, errOut)
	}
	os.WriteFile(bad, []byte("楼栋,房号,姓名,电话,电表\n3,3-1201,王芳,13800138000,m1\n3,3-1202,李强,13900139000,m2\n"), 0o600)
	if code, out, errOut := runCLI(t, "desk", "import", "households", bad, "--dry-run", "--config", cfg, "--site", "site-a"); code != 0 || !strings.Contains(out, "2 new, 0 replaced; dry run") {
		t.Fatalf("dry run: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "desk", "import", "households", bad, "--config", cfg, "--site", "site-a"); code != 0 || !strings.Contains(out, "2 new, 0 replaced; imported") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	xlsx := filepath.Join(dir, "homes.xlsx")
	if code, _, errOut := runCLI(t, "desk", "export", "households", "--config", cfg, "--site", "site-a", "--to", xlsx); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	if code, out, errOut := runCLI(t, "desk", "import", "households", xlsx, "--config", cfg, "--site", "site-a"); code != 0 || !strings.Contains(out, "0 new, 2 replaced") {
		t.Fatalf("import of the export: %d %q %q", code, out, errOut)
	}

	// The desk runs.
	loaded, err := app.LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan error, 1), make(chan error, 1)
	go func() { done <- app.RunDesk(ctx, loaded, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, ready) }()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "desk.backup")
	code, out, errOut = runCLI(t, "desk", "backup", "--config", cfg, "--to", backup)
	if code != 0 || !strings.Contains(out, "ran: VACUUM INTO "+backup) || !strings.Contains(out, "schema version") {
		t.Fatalf("backup: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "desk", "restore", "--config", cfg, "--from", backup)
	if code != 3 || !strings.Contains(errOut, "in use by a running desk") {
		t.Errorf("restore under a running desk: %d %q", code, errOut)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "desk", "restore", "--config", cfg, "--from", backup)
	if code != 0 || !strings.Contains(out, "the database replaced is kept as") {
		t.Fatalf("restore: %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "desk", "export", "households", "--config", cfg, "--site", "site-a"); code != 0 || !strings.Contains(out, "site-a,3,,3-1202,李强,13900139000,phone,m2") {
		t.Errorf("households after the restore: %q", out)
	}
	for _, args := range [][]string{{"desk", "backup", "--help"}, {"desk", "restore", "--help"}, {"desk", "import", "--help"}, {"desk", "export", "--help"}} {
		// Asked for, help is the answer: standard output, exit 0.
		if code, out, _ := runCLI(t, args...); code != 0 || !strings.Contains(out, "usage: estate "+args[0]+" "+args[1]) {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}
}

// The same on PostgreSQL: pg_dump's custom format, the command printed
// without the password, and pg_restore into another database.
func TestDeskBackupPostgres(t *testing.T) {
	pgDump, _, _ := testenv.PgTools(t)
	src, dst := testenv.PostgreSQL(t), testenv.PostgreSQL(t)
	dir := t.TempDir()
	srcCfg, dstCfg := deskYAML(t, "postgres", src), deskYAML(t, "postgres", dst)
	homes := filepath.Join(dir, "homes.csv")
	os.WriteFile(homes, []byte("site,unit,name,phone\nsite-a,1-101,王芳,13800138000\n"), 0o600)
	if code, out, errOut := runCLI(t, "desk", "import", "households", homes, "--config", srcCfg); code != 0 {
		t.Fatalf("import: %q %q", out, errOut)
	}
	backup := filepath.Join(dir, "desk.dump")
	code, out, errOut := runCLI(t, "desk", "backup", "--config", srcCfg, "--to", backup, "--pg-bin", filepath.Dir(pgDump))
	u, _ := url.Parse(src)
	pw, _ := u.User.Password()
	if code != 0 || !strings.Contains(out, "ran: "+pgDump+" --format=custom") || strings.Contains(out, ":"+pw+"@") {
		t.Fatalf("backup: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "desk", "restore", "--config", dstCfg, "--from", backup, "--pg-bin", filepath.Dir(pgDump))
	if code != 0 || !strings.Contains(out, "pg_restore --clean --if-exists") {
		t.Fatalf("restore: %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "desk", "export", "households", "--config", dstCfg, "--site", "site-a"); code != 0 || !strings.Contains(out, "site-a,,,1-101,王芳,13800138000,phone,") {
		t.Errorf("restored households: %q", out)
	}
}

// estate config add-devices on a copy of the demo configuration: a table
// with a bad row changes nothing; the fixed table adds its devices and the
// file still checks; export-devices lists them.
func TestConfigAddDevices(t *testing.T) {
	dir := t.TempDir()
	orig, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mustAbs(t, "../../configs/profiles"), filepath.Join(dir, "profiles")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mustAbs(t, "../../configs/rules"), filepath.Join(dir, "rules")); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "demo.yaml")
	os.WriteFile(site, orig, 0o600)
	var devicesBefore int
	if _, out, _ := runCLI(t, "check", site); !strings.Contains(out, " devices") {
		t.Fatalf("check of the demo: %q", out)
	} else {
		fmt.Sscanf(out[strings.Index(out, "site demo-estate, ")+len("site demo-estate, "):], "%d devices", &devicesBefore)
	}
	table := filepath.Join(dir, "devices.csv")
	os.WriteFile(table, []byte("id,family,protocol,profile,building,unit,address,slave_id\n"+
		"meter-2-2-201,meter,modbus_tcp,demo-prepaid-meter,2,2-201,127.0.0.1:15020,2\n"+
		"meter-2-2-202,meter,modbus_tcp,demo-prepaid-meter,2,2-202,127.0.0.1:15020,x\n"), 0o600)
	code, _, errOut := runCLI(t, "config", "add-devices", site, table)
	if code != 1 || !strings.Contains(errOut, table+":3: slave_id:") || !strings.Contains(errOut, "was not changed") {
		t.Fatalf("bad table: %d %q", code, errOut)
	}
	if now, _ := os.ReadFile(site); !bytes.Equal(now, orig) {
		t.Fatal("the configuration changed although the table had a problem")
	}
	os.WriteFile(table, []byte("id,family,protocol,profile,building,unit,address,slave_id\n"+
		"meter-2-2-201,meter,modbus_tcp,demo-prepaid-meter,2,2-201,127.0.0.1:15020,2\n"+
		"meter-2-2-202,meter,modbus_tcp,demo-prepaid-meter,2,2-202,127.0.0.1:15020,3\n"), 0o600)
	if code, out, errOut := runCLI(t, "config", "add-devices", site, table, "--dry-run"); code != 0 || !strings.Contains(out, "2 devices check; dry run") {
		t.Fatalf("dry run: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "config", "add-devices", site, table); code != 0 || !strings.Contains(out, "added 2 devices") {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	now, _ := os.ReadFile(site)
	if !bytes.HasPrefix(now, orig[:bytes.Index(orig, []byte("\nrules:"))]) || !bytes.HasSuffix(now, orig[bytes.Index(orig, []byte("\nrules:")):]) {
		t.Errorf("the rest of the configuration changed:\n%s", now)
	}
	if code, out, errOut := runCLI(t, "check", site); code != 0 || !strings.Contains(out, fmt.Sprintf("%d devices", devicesBefore+2)) {
		t.Errorf("check after add-devices: %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "config", "export-devices", site); code != 0 || !strings.Contains(out, "meter-2-2-202,meter,modbus_tcp,demo-prepaid-meter,2,") ||
		!strings.Contains(out, ",2-202,") { // the columns are the keys the file's devices use (floor, room, …)
		t.Errorf("export: %q", out)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
