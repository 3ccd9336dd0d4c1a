// Package containertest checks the container files: the configurations the
// compose file runs pass estate check, the compose file passes `docker
// compose config` (which needs no engine; docker-compose or podman compose
// do too), and the Containerfile builds a static binary FROM scratch from
// files that exist. Building the image needs an engine, which this machine
// lacks; the image's own build runs `estate check` on what it ships.
package containertest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
)

func TestComposeConfigurationsCheck(t *testing.T) {
	shared, err := filepath.Abs("../../configs") // /usr/share/estate in the image
	if err != nil {
		t.Fatal(err)
	}
	old := config.SharedDir
	config.SharedDir = shared
	defer func() { config.SharedDir = old }()
	for _, f := range []string{"desk.yaml", "site.yaml"} {
		cfg, err := app.LoadConfig(f)
		if err != nil {
			t.Errorf("estate check %s:\n%v", f, err)
			continue
		}
		for _, w := range cfg.Warnings() {
			if !strings.Contains(w.Msg, "using the default written in the file") {
				t.Errorf("%s: unexpected warning %s", f, w)
			}
		}
	}
}

// composeCommand finds a tool that checks a compose file.
func composeCommand(t *testing.T) []string {
	t.Helper()
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}, {"podman", "compose"}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		if exec.Command(c[0], append(c[1:], "version")...).Run() == nil {
			return c
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no docker compose, docker-compose or podman compose (deploy/ensure-tools.sh installs docker-compose)")
	}
	t.Skip("no docker compose, docker-compose or podman compose")
	return nil
}

func TestComposeFile(t *testing.T) {
	c := composeCommand(t)
	args := append(c[1:], "-p", "estate", "-f", "compose.yaml", "config")
	cmd := exec.Command(c[0], args...)
	// The file's own defaults, not the caller's secrets.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(append(c[:1], args...), " "), err, out)
	}
	for _, want := range []string{"desk:", "gateway:", "postgres:", "influxdb:", "mosquitto:",
		"/etc/estate/compose-desk.yaml", "/etc/estate/sites/compose.yaml", "127.0.0.1:8080:8080",
		"condition: service_healthy", "read_only: true", "no-new-privileges:true"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("compose config lacks %q:\n%s", want, out)
		}
	}
	// A broken file is refused: the check is not vacuous.
	bad := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(bad, []byte("services:\n  desk:\n    image: estate\n    ports: 8080\n    restart: sometimes-maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(c[0], append(c[1:], "-f", bad, "config")...).CombinedOutput(); err == nil {
		t.Errorf("a broken compose file passed:\n%s", out)
	}
}

// The Containerfile's final stage is scratch, the binary static, the user
// not root, and every file it copies out of the tree exists.
func TestContainerfile(t *testing.T) {
	f, err := os.Open("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var froms []string
	var text strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		text.WriteString(line + "\n")
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, line)
		}
	}
	if len(froms) == 0 || froms[len(froms)-1] != "FROM scratch" {
		t.Errorf("the final stage is not FROM scratch: %v", froms)
	}
	all := text.String()
	for _, want := range []string{"CGO_ENABLED=0", "-tags timetzdata", "USER 65532:65532", "ca-certificates.crt", `ENTRYPOINT ["/usr/bin/estate"]`} {
		if !strings.Contains(all, want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
	copied := 0
	for _, m := range regexp.MustCompile(`\bcp (?:-r )?((?:(?:configs|deploy)/\S+ )+)`).FindAllStringSubmatch(all, -1) {
		for _, src := range strings.Fields(m[1]) {
			copied++
			if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
				t.Errorf("the Containerfile copies %s, which is not in the tree", src)
			}
		}
	}
	if copied < 7 {
		t.Errorf("found only %d files the Containerfile copies", copied)
	}
}
