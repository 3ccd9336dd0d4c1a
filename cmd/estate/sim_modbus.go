package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/estatehq/estate/devices/modbus"
)

func init() {
	registerSim("modbus", command{"modbus --profile P [--listen ADDR | --rtu [--link PATH]] [--script FILE]",
		"any profile as a Modbus TCP or RTU device with scripted values and faults", func(a []string, o, e io.Writer) int {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return simModbus(ctx, a, o, e)
		}})
}

// simModbus serves simulated devices until ctx ends.
func simModbus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim modbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "", "profile name (in --profiles) or file to serve (required)")
	profiles := fs.String("profiles", "configs/profiles", "folder of profiles")
	listen := fs.String("listen", "127.0.0.1:5020", "TCP: host:port to serve on")
	count := fs.Int("count", 1, "TCP: serve this many devices on consecutive ports from --listen's")
	rtu := fs.Bool("rtu", false, "serve Modbus RTU on a pseudo-terminal instead of TCP")
	rtuOverTCP := fs.Bool("rtu-over-tcp", false, "serve RTU frames on --listen (a serial device server)")
	link := fs.String("link", "", "with --rtu: also make this path a link to the pseudo-terminal")
	slave := fs.Int("slave", 1, "RTU: the slave id to answer (TCP answers any unit id)")
	baud := fs.Int("baud", 0, "RTU: take the wire time of this baud rate for every frame")
	script := fs.String("script", "", "YAML script of values and faults (default: moving values by unit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "estate sim modbus: "+format+"\n", a...)
		return code
	}
	if *profile == "" {
		return fail(2, "--profile is required (a name in %s or a file)", *profiles)
	}
	if *slave < 1 || *slave > 247 {
		return fail(2, "--slave must be 1..247")
	}
	if *count < 1 || *count > 5000 || *count > 1 && (*rtu || *rtuOverTCP) {
		return fail(2, "--count is 1..5000, and TCP only")
	}
	p, err := loadProfileArg(*profiles, *profile)
	if err != nil {
		return fail(1, "%v", err)
	}
	sc := modbus.DefaultScript(p)
	if *script != "" {
		data, err := os.ReadFile(*script)
		if err != nil {
			return fail(1, "%v", err)
		}
		custom, err := modbus.ParseScript(data, p)
		if err != nil {
			return fail(1, "%s: %v", *script, err)
		}
		// The script's points and faults; the others keep their default motion.
		for name, b := range custom.Points {
			sc.Points[name] = b
		}
		sc.Faults = custom.Faults
	}

	var slaves []*modbus.Slave
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	switch {
	case *rtu:
		s := modbus.NewSlave(p)
		sim, err := modbus.NewRTUSimulator(map[byte]*modbus.Slave{byte(*slave): s}, *baud)
		if err != nil {
			return fail(1, "%v", err)
		}
		closers = append(closers, sim.Close)
		slaves = append(slaves, s)
		where := sim.Path()
		if *link != "" {
			_ = os.Remove(*link)
			if err := os.Symlink(sim.Path(), *link); err != nil {
				return fail(1, "%v", err)
			}
			closers = append(closers, func() error { return os.Remove(*link) })
			where += " (linked at " + *link + ")"
		}
		fmt.Fprintf(stdout, "%s: modbus rtu on %s, slave %d; try: estate modbus read --serial %s --slave %d --profile %s\n",
			p.Name, where, *slave, sim.Path(), *slave, *profile)
	case *rtuOverTCP:
		s := modbus.NewSlave(p)
		ln, err := (&modbus.Server{RTU: true, Slaves: map[byte]*modbus.Slave{byte(*slave): s}, Baud: *baud}).Listen(*listen)
		if err != nil {
			return fail(1, "%v", err)
		}
		closers = append(closers, ln.Close)
		slaves = append(slaves, s)
		fmt.Fprintf(stdout, "%s: modbus rtu over tcp on %s, slave %d\n", p.Name, ln.Addr(), *slave)
	default:
		host, portText, err := net.SplitHostPort(*listen)
		if err != nil {
			return fail(2, "--listen %q is not host:port", *listen)
		}
		port, _ := strconv.Atoi(portText)
		for i := range *count {
			addr := *listen
			if *count > 1 {
				addr = net.JoinHostPort(host, strconv.Itoa(port+i))
			}
			sim := modbus.NewSimulator(p, addr)
			if err := sim.Start(); err != nil {
				return fail(1, "%v", err)
			}
			closers = append(closers, sim.Stop)
			slaves = append(slaves, sim.Slave)
			if i == 0 || i == *count-1 {
				fmt.Fprintf(stdout, "%s: modbus tcp on %s, any unit id\n", p.Name, sim.Addr())
			}
		}
		if *count > 1 {
			fmt.Fprintf(stdout, "%d devices serving\n", *count)
		}
	}
	fmt.Fprintln(stdout, "Ctrl-C stops")
	done := make(chan struct{})
	for _, s := range slaves {
		go func() {
			sc.Run(ctx, s, 200*time.Millisecond)
			done <- struct{}{}
		}()
	}
	for range slaves {
		<-done
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return 1
	}
	return 0
}
