package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/estatehq/estate/devices"
)

// clockSetter is a stream driver that sets its devices' clocks on demand:
// the GB/T 26875.3 receiver (devices/firepanel), whose transmission devices
// connect to the gateway, so that only the running gateway can reach them.
type clockSetter interface {
	SyncClock(ctx context.Context, device string) (time.Time, error)
}

// Errors of SyncClock that are the request's, not the device's.
var (
	ErrUnknownDevice = errors.New("no such device")
	ErrNoClock       = errors.New("the gateway cannot set this device's clock")
)

// SyncClock sets a streamed device's clock now, through the driver that
// serves it, and returns the time it sent (in the site's time zone).
func (g *Gateway) SyncClock(ctx context.Context, id string) (time.Time, error) {
	for _, s := range g.devices.Streamers {
		cs, ok := s.(clockSetter)
		if !ok {
			continue
		}
		at, err := cs.SyncClock(ctx, id)
		if errors.Is(err, devices.ErrNotServed) {
			continue
		}
		return at, err
	}
	if _, ok := g.cfg.DeviceByID(id); ok {
		return time.Time{}, fmt.Errorf("device %s: %w", id, ErrNoClock)
	}
	return time.Time{}, fmt.Errorf("device %s: %w", id, ErrUnknownDevice)
}

// TimeSyncResult is the answer of POST /api/v1/devices/{id}/time-sync.
type TimeSyncResult struct {
	Device string `json:"device"`
	// Time is the time sent, in the site's time zone.
	Time  time.Time `json:"time,omitzero"`
	Error string    `json:"error,omitempty"`
}

// TimeSyncHandler serves POST /api/v1/devices/{id}/time-sync: the device's
// clock is set now (`estate firepanel time-sync` asks it). 200 once the
// device confirmed; 404 an unknown device, 422 one whose clock the gateway
// cannot set, 503 a device that is not connected, 502 a device that denied
// it or did not answer.
func (g *Gateway) TimeSyncHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		res := TimeSyncResult{Device: id}
		at, err := g.SyncClock(r.Context(), id)
		code := http.StatusOK
		switch {
		case err == nil:
			res.Time = at.In(g.loc)
			g.log.Info("device clock set on demand", "device", id, "time", res.Time)
		case errors.Is(err, ErrUnknownDevice):
			code = http.StatusNotFound
		case errors.Is(err, ErrNoClock):
			code = http.StatusUnprocessableEntity
		case errors.Is(err, devices.ErrNotConnected):
			code = http.StatusServiceUnavailable
		default:
			code = http.StatusBadGateway
		}
		if err != nil {
			res.Error = err.Error()
			g.log.Warn("device clock not set", "device", id, "err", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(res)
	})
}
