package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// demoConfig is the shipped configs/demo.yaml moved onto free ports, a fresh
// InfluxDB database and a temporary folder, with a faster clock.
func demoConfig(t *testing.T, influxURL, bucket string, replace ...string) *config.Config {
	t.Helper()
	data, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	profiles, _ := filepath.Abs("../../configs/profiles")
	dir := t.TempDir()
	r := strings.NewReplacer(append([]string{
		"127.0.0.1:8080", testenv.FreeAddr(t),
		"127.0.0.1:15020", testenv.FreeAddr(t),
		"127.0.0.1:15030", testenv.FreeAddr(t),
		"127.0.0.1:15031", testenv.FreeAddr(t),
		"127.0.0.1:15032", testenv.FreeAddr(t),
		"127.0.0.1:11883", testenv.FreeAddr(t),
		"http://127.0.0.1:18086", influxURL,
		"estate/autogen", bucket,
		"profiles_dir: profiles", "profiles_dir: " + profiles,
		"var/demo/", dir + "/",
		"poll_interval: 1s", "poll_interval: 200ms",
	}, replace...)...)
	cfg, err := LoadConfigText(t, r.Replace(string(data)))
	if err != nil {
		t.Fatalf("demo config: %v", err)
	}
	return cfg
}

// LoadConfigText loads configuration text through the same checks as a file.
func LoadConfigText(t *testing.T, text string) (*config.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadConfig(path)
}

func TestDemoPipelineEndToEnd(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	// The balance starts just above the threshold and crosses it after 2 s, so
	// that it stays low for many polls within the test. The pump room floods
	// after 4 s, its second leak module 3 s later.
	cfg := demoConfig(t, influxURL, bucket,
		"initial_balance: 22", "initial_balance: 12",
		"drain_per_second: 0.5", "drain_per_second: 1",
		// The water meter too: just above 10 yuan, crossing it within seconds.
		"initial_balance: 16", "initial_balance: 10.5",
		"{at: 100s, do: flood, for: 3m}", "{at: 4s, do: flood, for: 3m}",
		"{at: 105s, do: flood, for: 3m}", "{at: 7s, do: flood, for: 3m}")

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var delivered []wire.Ticket
	firstTicket := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	gw := make(chan *gateway.Gateway, 1)
	go func() {
		done <- RunDemo(ctx, cfg, log, io.Discard, func(g *gateway.Gateway) {
			gw <- g
			g.OnTicket = func(tk wire.Ticket) {
				if tk.Kind != wire.TopUp {
					return // the flooded pump room, below
				}
				mu.Lock()
				delivered = append(delivered, tk)
				mu.Unlock()
				once.Do(func() { close(firstTicket) })
			}
		})
	}()

	select {
	case <-firstTicket:
	case err := <-done:
		t.Fatalf("demo stopped before a ticket: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no ticket within 30 s")
	}
	// Keep polling well after the alarm: 25 more polls of a low balance,
	// counted by the gateway itself rather than assumed from the time.
	g := <-gw
	polls := func() uint64 { d, _ := g.Health().Get("meter-1-1-101"); return d.Polls }
	afterTicket := polls()
	waitFor(t, 60*time.Second, "25 more polls of the low balance", func() bool { return polls() >= afterTicket+25 })
	// The water meter on CJ/T 188 over its pseudo-terminal goes red too: its
	// own reminder, beside the electricity one.
	var water []wire.Ticket
	waitFor(t, 60*time.Second, "the water meter's top-up reminder", func() bool {
		water = listTickets(t, cfg, "water-1-1-102")
		return len(water) > 0
	})
	tickets := listTickets(t, cfg, "meter-1-1-101")

	// The flooded pump room: one P1 emergency for the room, whichever of its
	// two leak modules (four probes) detected the water first; the other
	// module joins it with a note.
	var flooding []wire.Ticket
	var notes string
	waitFor(t, 60*time.Second, "the pump room's flooding emergency with both modules", func() bool {
		flooding = queryTickets(t, cfg, "kind=emergency")
		if len(flooding) != 1 {
			return len(flooding) > 1
		}
		notes = ticketNotes(t, cfg, flooding[0].ID)
		text := flooding[0].Description + notes
		return strings.Contains(text, "leak-1-b1-pump-a/water_leak_2") && strings.Contains(text, "leak-1-b1-pump-b/water_leak_2")
	})
	if len(flooding) != 1 {
		t.Fatalf("want one flooding emergency for the pump room, got %d: %+v", len(flooding), flooding)
	}
	if fl := flooding[0]; fl.AlarmKey != "demo-estate/flooding/1/B1 水泵房" || fl.Priority != "P1" || fl.Category != "flooding" ||
		fl.Building != "1" || fl.Floor != "B1" || fl.Unit != "B1 水泵房" || !strings.Contains(fl.Title, "水浸") ||
		!strings.HasPrefix(fl.Device, "leak-1-b1-pump-") {
		t.Errorf("flooding ticket: %+v", fl)
	}
	if !strings.Contains(notes, "也检测到水") {
		t.Errorf("no note of the sensors that joined: %s", notes)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v", err)
	}

	if len(water) != 1 || water[0].Kind != wire.TopUp || water[0].Category != "water" || water[0].Unit != "1-102" ||
		water[0].Reading == nil || water[0].Reading.Point != "balance" || water[0].Reading.Value >= 10 || !strings.Contains(water[0].Title, "水表") {
		t.Errorf("water reminder: %+v", water)
	}
	if len(tickets) != 1 {
		t.Fatalf("want exactly one electricity ticket, got %d: %+v", len(tickets), tickets)
	}
	tk := tickets[0]
	if tk.Kind != wire.TopUp || tk.Device != "meter-1-1-101" || tk.Building != "1" || tk.Unit != "1-101" ||
		tk.Site != "demo-estate" || tk.Status != wire.New || tk.Priority != "P3" {
		t.Errorf("ticket fields: %+v", tk)
	}
	if tk.Reading == nil || tk.Reading.Point != "balance" || tk.Reading.Value >= 10 || tk.Reading.Value < 9 ||
		tk.Reading.Unit != "CNY" || tk.Reading.At.IsZero() {
		t.Errorf("ticket reading: %+v", tk.Reading)
	}
	if !strings.Contains(tk.Title, "1-101") {
		t.Errorf("title %q does not name the unit", tk.Title)
	}
	mu.Lock()
	// One request for the power reminder; the water meter's are its own
	// (its reminder, and the urgent one once its valve shuts).
	power := 0
	for _, d := range delivered {
		if d.Device == "meter-1-1-101" {
			power++
		}
	}
	if power != 1 {
		t.Errorf("gateway delivered %d ticket requests for the power meter, want 1", power)
	}
	mu.Unlock()

	// The readings are in InfluxDB with the simulator's values.
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: -5m)
		|> filter(fn: (r) => r._measurement == "meter" and r.device == "meter-1-1-101")
		|> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
		|> sort(columns: ["_time"])`, bucket)
	res, err := client.QueryAPI("").Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var n int
	prev := 1e9
	for res.Next() {
		rec := res.Record()
		n++
		bal, _ := rec.ValueByKey("balance").(float64)
		volt, _ := rec.ValueByKey("voltage").(float64)
		relay, _ := rec.ValueByKey("relay").(float64)
		if bal > prev+1e-6 || bal < 0 || bal > 12 {
			t.Errorf("reading %d: balance %g after %g: not the simulator's falling balance", n, bal, prev)
		}
		if bal > 0.01 && (volt < 215 || volt > 225 || relay != 1) {
			t.Errorf("reading %d: voltage %g relay %g while balance %g", n, volt, relay, bal)
		}
		if rec.ValueByKey("quality") != "good" || rec.ValueByKey("site") != "demo-estate" || rec.ValueByKey("unit") != "1-101" {
			t.Errorf("reading %d: tags/quality %v", n, rec.Values())
		}
		prev = bal
	}
	if res.Err() != nil {
		t.Fatalf("query result: %v", res.Err())
	}
	if n < 20 {
		t.Errorf("only %d readings in InfluxDB; want at least 20 polls' worth", n)
	}
}

func listTickets(t *testing.T, cfg *config.Config, device string) []wire.Ticket {
	t.Helper()
	return queryTickets(t, cfg, "device="+device)
}

// ticketNotes are the notes the gateway left on a ticket, one a line.
func ticketNotes(t *testing.T, cfg *config.Config, id int64) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/api/v1/tickets/%d/notes", cfg.Desk.Listen, id), nil)
	req.Header.Set("Authorization", "Bearer demo-admin-token-not-for-production")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("notes: %v", err)
	}
	defer resp.Body.Close()
	var body struct{ Notes []struct{ Body string } }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		t.Fatalf("notes: status %d", resp.StatusCode)
	}
	var b strings.Builder
	for _, n := range body.Notes {
		b.WriteString(n.Body + "\n")
	}
	return b.String()
}

func queryTickets(t *testing.T, cfg *config.Config, query string) []wire.Ticket {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.Desk.Listen+"/api/v1/tickets?"+query, nil)
	req.Header.Set("Authorization", "Bearer demo-admin-token-not-for-production")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("list tickets: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list tickets: status %d", resp.StatusCode)
	}
	var body struct{ Tickets []wire.Ticket }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("list tickets: %v", err)
	}
	return body.Tickets
}

func TestDemoRefusesBadConfig(t *testing.T) {
	_, err := LoadConfigText(t, "site:\n  id: demo\ndevices:\n  - id: m\n    family: meter\n    protocol: no_such_protocol\n")
	if err == nil {
		t.Fatal("config with an unknown protocol loaded")
	}
	if !strings.Contains(err.Error(), `devices[0].protocol: unknown protocol "no_such_protocol"`) {
		t.Errorf("message does not locate the protocol: %v", err)
	}
}

func TestShippedConfigsAreValid(t *testing.T) {
	t.Setenv("ESTATE_GATEWAY_TOKEN", "gateway-secret-0123456789")
	t.Setenv("ESTATE_ADMIN_TOKEN", "admin-secret-0123456789")
	for _, f := range []string{"../../configs/demo.yaml", "../../configs/site.example.yaml"} {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestUnsetSecretIsReported(t *testing.T) {
	t.Setenv("ESTATE_GATEWAY_TOKEN", "")
	// The example falls back to the default it writes, with a warning.
	cfg, err := LoadConfig("../../configs/site.example.yaml")
	if err != nil {
		t.Fatalf("the example does not load without its secrets: %v", err)
	}
	if ws := cfg.Warnings(); len(ws) == 0 || !strings.Contains(ws[0].String(), "gateway.desk_token: environment variable ESTATE_GATEWAY_TOKEN is not set: using the default") {
		t.Errorf("warnings: %v", ws)
	}
	// Without a default, an unset secret is a problem.
	text, err := os.ReadFile("../../configs/site.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfigText(t, strings.ReplaceAll(string(text), ":-example-gateway-token-change-me}", "}"))
	if err == nil || !strings.Contains(err.Error(), "gateway.desk_token: environment variable ESTATE_GATEWAY_TOKEN is not set") {
		t.Errorf("unset secret: %v", err)
	}
}
