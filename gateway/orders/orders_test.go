package orders

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/internal/wire"
)

// meter is a commandable device that counts what it is sent and answers as
// told: real drivers' answers are covered by the end-to-end test in package
// gateway (Modbus simulator); here the runner's bookkeeping is.
type meter struct {
	mu       sync.Mutex
	controls []string
	sent     []devices.Command
	answer   error
}

func (m *meter) Controls() []string { return m.controls }

func (m *meter) Command(ctx context.Context, c devices.Command) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, c)
	return m.answer
}

func (m *meter) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

type held struct {
	mu sync.Mutex
	ws []wire.Window
}

func (h *held) SetWindows(ws []wire.Window) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ws = ws
	return nil
}

func (h *held) get() []wire.Window {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ws
}

func open(t *testing.T, dir string, devs map[string]devices.Commander, w Windows) (*Runner, func()) {
	t.Helper()
	db, err := statedb.OpenGateway(context.Background(), dir, "gw", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(context.Background(), Options{DB: db, Devices: devs, Windows: w, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	return r, func() { cancel(); <-done; db.Close() }
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s", what)
		}
	}
}

func results(r *Runner) map[int64]wire.CommandResult {
	out := map[int64]wire.CommandResult{}
	for _, res := range r.Results(context.Background()) {
		out[res.ID] = res
	}
	return out
}

// Each command id runs once: handed again in later answers, or after a
// restart of the gateway, it is not sent again; its result is reported
// until acknowledged, then no more. Commands for devices that do not allow
// them are rejected without being sent; refusals and silence are told apart.
func TestCommandsRunOnceAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	relay := &meter{controls: []string{devices.ControlRelay}}
	readOnly := &meter{}
	refusing := &meter{controls: []string{devices.ControlValve}, answer: &devices.RefusedError{Err: errors.New("wrong password")}}
	silent := &meter{controls: []string{devices.ControlWritePrefix + "setpoint"}, answer: devices.ErrNoAnswer}
	devs := map[string]devices.Commander{"e1": relay, "e2": readOnly, "w1": refusing, "x1": silent}
	r, stop := open(t, dir, devs, &held{})
	cmds := []wire.Command{
		{ID: 1, Device: "e1", Action: wire.CommandRelayTrip},
		{ID: 2, Device: "e2", Action: wire.CommandRelayTrip},
		{ID: 3, Device: "w1", Action: wire.CommandValveClose},
		{ID: 4, Device: "x1", Action: wire.CommandModbusWrite, Point: "setpoint", Value: 21},
		{ID: 5, Device: "nope", Action: wire.CommandRelayClose},
	}
	window := wire.Window{ID: "outage:1", Scope: wire.ScopeFeeder, Feeder: "b1", Start: time.Now(), End: time.Now().Add(time.Hour), Cause: "planned outage #1"}
	if err := r.Answer(context.Background(), wire.HeartbeatAnswer{Commands: cmds, Windows: []wire.Window{window}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "five results", func() bool { return len(results(r)) == 5 })
	got := results(r)
	want := map[int64]string{1: wire.OutcomeDone, 2: wire.OutcomeRejected, 3: wire.OutcomeRefused, 4: wire.OutcomeTimedOut, 5: wire.OutcomeRejected}
	for id, o := range want {
		if got[id].Outcome != o {
			t.Errorf("command %d: %q (%s), want %s", id, got[id].Outcome, got[id].Detail, o)
		}
	}
	if readOnly.count() != 0 {
		t.Error("a command was sent to a device that does not allow it")
	}
	// Handed again (the desk had not seen the result yet): not sent again.
	if err := r.Answer(context.Background(), wire.HeartbeatAnswer{Commands: cmds[:1], Acked: []int64{2, 3}, Windows: []wire.Window{window}}); err != nil {
		t.Fatal(err)
	}
	if res := results(r); len(res) != 3 || relay.count() != 1 {
		t.Fatalf("after a repeated answer: results %v, relay sent %d times", res, relay.count())
	}
	stop()

	// A restart: the windows come back from the state file, command 1 is
	// handed once more and still not sent.
	ws := &held{}
	r, stop = open(t, dir, devs, ws)
	defer stop()
	if got := ws.get(); len(got) != 1 || got[0].ID != "outage:1" || len(r.Windows()) != 1 {
		t.Fatalf("windows after a restart: %+v", got)
	}
	if err := r.Answer(context.Background(), wire.HeartbeatAnswer{Commands: cmds[:1], Windows: []wire.Window{window}}); err != nil {
		t.Fatal(err)
	}
	left := results(r)
	if len(left) != 3 || left[1].Outcome != wire.OutcomeDone || relay.count() != 1 {
		t.Fatalf("after a restart: results %v, relay sent %d times", left, relay.count())
	}
	if err := r.Answer(context.Background(), wire.HeartbeatAnswer{Acked: []int64{1, 4, 5}}); err != nil {
		t.Fatal(err)
	}
	if left := results(r); len(left) != 0 || len(ws.get()) != 0 {
		t.Fatalf("after the acknowledgements: results %v, windows %v", left, ws.get())
	}
}

// A command that was being sent when the gateway was killed (its row left
// in state sending) is not sent again after the restart: whether the device
// applied it is unknown, so it is reported as failed for a person to check.
func TestCommandInterruptedIsNotResent(t *testing.T) {
	dir := t.TempDir()
	db, err := statedb.OpenGateway(context.Background(), dir, "gw", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO commands (id, body, state, received) VALUES (9, '{"id":9,"device":"e1","action":"relay_trip"}', 'sending', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	relay := &meter{controls: []string{devices.ControlRelay}}
	r, stop := open(t, dir, map[string]devices.Commander{"e1": relay}, nil)
	defer stop()
	if err := r.Answer(context.Background(), wire.HeartbeatAnswer{Commands: []wire.Command{{ID: 9, Device: "e1", Action: wire.CommandRelayTrip}}}); err != nil {
		t.Fatal(err)
	}
	res := results(r)
	if res[9].Outcome != wire.OutcomeFailed || relay.count() != 0 {
		t.Fatalf("after a restart mid-command: %+v, sent %d times", res, relay.count())
	}
}
