package telemetry

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/testenv"
)

// TestRetentionSetUpByDeployScript checks what deploy/influxdb/influxdb.sh
// start sets up: raw points 30 days in autogen, 1-minute means two years in
// one_minute, and a continuous query whose statement really downsamples
// (run here as a backfill, as an operator would for data written before it).
func TestRetentionSetUpByDeployScript(t *testing.T) {
	srv := testenv.OwnInfluxDB(t)
	srv.Start()
	rps := influxQL(t, srv.URL, "estate", "SHOW RETENTION POLICIES ON estate")
	got := fmt.Sprint(rps[0].Values)
	for _, want := range []string{"[autogen 720h0m0s 24h0m0s 1 true]", "[one_minute 17520h0m0s 168h0m0s 1 false]"} {
		if !strings.Contains(got, want) {
			t.Fatalf("retention policies %s lack %s", got, want)
		}
	}
	cqs := influxQL(t, srv.URL, "estate", "SHOW CONTINUOUS QUERIES")
	var cq string
	for _, s := range cqs {
		if s.Name == "estate" && len(s.Values) == 1 {
			cq = fmt.Sprint(s.Values[0][1])
		}
	}
	if !strings.Contains(cq, "downsample_1m") {
		t.Fatalf("continuous query missing: %+v", cqs)
	}

	// Two readings in one minute of one meter, through the writer.
	dir := t.TempDir()
	w := startWriter(t, testConfig(srv.URL, "estate/autogen", dir))
	minute := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	for i, e := range []float64{10, 20} {
		r := reading(0)
		r.Time = minute.Add(time.Duration(i*20) * time.Second)
		r.Values[0].Value = e
		w.AddReading(r)
	}
	w.waitDrained(t, 30*time.Second)
	body := cq[strings.Index(cq, "BEGIN ")+len("BEGIN ") : strings.LastIndex(cq, " END")]
	groupBy := strings.Index(body, " GROUP BY")
	backfill := body[:groupBy] + fmt.Sprintf(" WHERE time >= %d AND time < %d", minute.UnixNano(), minute.Add(time.Minute).UnixNano()) + body[groupBy:]
	resp, err := http.Post(srv.URL+"/query?db=estate&q="+urlEscape(backfill), "", nil)
	if err != nil {
		t.Fatalf("backfill %q: %v", backfill, err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(answer), `"error"`) {
		t.Fatalf("backfill %q: %s %s", backfill, resp.Status, answer)
	}
	means := influxQL(t, srv.URL, "estate", `SELECT mean_energy FROM "one_minute"."meter" WHERE device = 'meter-0'`)
	if len(means) != 1 || len(means[0].Values) != 1 || fmt.Sprint(means[0].Values[0][1]) != "15" {
		t.Fatalf("1-minute mean: %+v (backfill %q answered %s; raw: %+v)", means, backfill, answer,
			influxQL(t, srv.URL, "estate", `SELECT energy FROM "autogen"."meter"`))
	}
}
