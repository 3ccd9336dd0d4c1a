package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/estatehq/estate/devices/firepanel"
	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
)

var firepanelCommands = map[string]command{}

func init() {
	firepanelCommands["time-sync"] = command{"time-sync --config FILE [--device ID]",
		"set GB/T 26875.3 transmission devices' clocks now (type 90), through the running gateway", firepanelTimeSync}
	register("firepanel", command{"firepanel time-sync …", "commands to fire panels (see estate firepanel)",
		func(a []string, o, e io.Writer) int { return subcommands("firepanel", firepanelCommands, a, o, e) }})
}

// firepanelTimeSync asks the running gateway to set the clock of one
// transmission device, or of every one of the configuration. The devices
// connect to the gateway (or sit on a line it holds open), so only the
// gateway can reach them: the command talks to it on gateway.metrics_listen
// (with gateway.metrics_token when set), and the gateway sends the control
// command and waits for the device's confirm.
func firepanelTimeSync(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("firepanel time-sync", stderr)
	path := fs.String("config", "", "the gateway's configuration (YAML)")
	id := fs.String("device", "", "id of the transmission device (default: every gbt26875 device)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: estate firepanel time-sync --config FILE [--device ID]")
		return 2
	}
	cfg, err := app.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "estate firepanel time-sync: the configuration has problems:")
		printProblems(stderr, err)
		return 1
	}
	var ids []string
	for _, d := range cfg.Devices {
		if d.Protocol == firepanel.ProtocolGBT26875 && (*id == "" || d.ID == *id) {
			ids = append(ids, d.ID)
		}
	}
	switch {
	case *id != "" && len(ids) == 0:
		if _, ok := cfg.DeviceByID(*id); ok {
			fmt.Fprintf(stderr, "estate firepanel time-sync: device %s is not a GB/T 26875.3 transmission device (protocol %s)\n", *id, firepanel.ProtocolGBT26875)
		} else {
			fmt.Fprintf(stderr, "estate firepanel time-sync: no device %q in %s\n", *id, *path)
		}
		return 1
	case len(ids) == 0:
		fmt.Fprintf(stderr, "estate firepanel time-sync: %s has no device of protocol %s\n", *path, firepanel.ProtocolGBT26875)
		return 1
	case cfg.Gateway.MetricsListen == "":
		fmt.Fprintln(stderr, "estate firepanel time-sync: the running gateway is asked on gateway.metrics_listen, which this configuration does not set")
		return 1
	}
	base := "http://" + dialable(cfg.Gateway.MetricsAddr())
	code := 0
	for _, d := range ids {
		res, err := askTimeSync(cfg, base, d)
		if err != nil {
			fmt.Fprintf(stderr, "estate firepanel time-sync: %s: %v\n", d, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: clock set to %s (site time), confirmed by the transmission device\n", d, res.Time.Format(time.DateTime))
	}
	return code
}

// dialable turns a listen address with an unspecified host into one to dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func askTimeSync(cfg *config.Config, base, id string) (gateway.TimeSyncResult, error) {
	var res gateway.TimeSyncResult
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/devices/"+id+"/time-sync", nil)
	if err != nil {
		return res, err
	}
	if cfg.Gateway.MetricsToken != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Gateway.MetricsToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("the gateway does not answer on %s (is it running?): %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("gateway answered %s: %s", resp.Status, body)
	}
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("%s (gateway answered %s)", res.Error, resp.Status)
	}
	return res, nil
}
