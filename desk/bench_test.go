package desk

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkEventFanOut measures, with 200 consoles connected to
// GET /api/v1/events, the time from a ticket's creation until every console
// has received its event.
func BenchmarkEventFanOut(b *testing.B) {
	const clients = 200
	d := newDesk(b, nil)
	ts := httptest.NewServer(d.h)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	received := make(chan struct{}, clients*4)
	var wg sync.WaitGroup
	ready := make(chan error, clients)
	for range clients {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+roleTokens[RoleControlRoom])
		resp, err := ts.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			if err := awaitStreamStart(r); err != nil {
				ready <- err
				return
			}
			ready <- nil
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "data: ") {
					received <- struct{}{}
				}
			}
		})
	}
	for range clients { // until every stream has read its starting point
		if err := <-ready; err != nil {
			b.Fatalf("stream: %v", err)
		}
	}
	body := `{"kind":"repair","title":"door fault","site":"site-a"}`
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if code, out := d.call(b, "POST", "/api/v1/tickets", adminToken, body); code != 201 {
			b.Fatalf("%d %s", code, out)
		}
		for range clients {
			<-received
		}
		took = append(took, time.Since(start))
	}
	cancel()
	ts.CloseClientConnections()
	wg.Wait()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[min(len(took)-1, len(took)*99/100)].Microseconds())/1000, "p99-ms")
}
