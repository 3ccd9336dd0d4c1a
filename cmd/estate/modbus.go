package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// `estate modbus read|scan`: the engineer's tools for a device on site.
var modbusCommands = map[string]command{
	"read": {"read CONNECTION [--profile P [--point NAME,…]] | [--table T --address A --count N [--type T --order O]]",
		"read points (decoded with a profile) or raw registers from a device", modbusRead},
	"scan": {"scan CONNECTION [--from 1 --to 247] [--table T --address A]",
		"find the slave ids that answer on a line", modbusScan},
	"write": {"write CONNECTION --profile P --point NAME --value V",
		"write a point the profile marks writable (function 5, 6, 15 or 16)", modbusWrite},
}

func init() {
	registerGroup("modbus", "modbus read|scan|write [flags]", "read or write a Modbus device, scan a bus for slave ids", modbusCommands)
}

// connFlags are the flags that say how to reach a device.
type connFlags struct {
	tcp, rtuOverTCP, serial, parity string
	baud, dataBits, stopBits, slave int
	timeout                         time.Duration
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.tcp, "tcp", "", "Modbus TCP device, host:port")
	fs.StringVar(&c.rtuOverTCP, "rtu-over-tcp", "", "RTU through a serial device server, host:port")
	fs.StringVar(&c.serial, "serial", "", "Modbus RTU on a serial port, such as /dev/ttyUSB0")
	fs.IntVar(&c.baud, "baud", 9600, "serial: baud rate")
	fs.StringVar(&c.parity, "parity", "N", "serial: parity N, E or O")
	fs.IntVar(&c.dataBits, "data-bits", 8, "serial: data bits")
	fs.IntVar(&c.stopBits, "stop-bits", 1, "serial: stop bits")
	fs.IntVar(&c.slave, "slave", 1, "slave id (unit id on TCP)")
	fs.DurationVar(&c.timeout, "timeout", time.Second, "how long to wait for each answer")
	return c
}

// device turns the flags into a device configuration for a client.
func (c *connFlags) device() (modbus.Device, error) {
	dev := modbus.Device{Device: config.Device{ID: "cli", Timeout: c.timeout, PollInterval: time.Second},
		Options: modbus.Options{SlaveID: c.slave}}
	given := 0
	if c.tcp != "" {
		given++
		dev.Protocol, dev.Address = modbus.ProtocolTCP, c.tcp
	}
	if c.rtuOverTCP != "" {
		given++
		dev.Protocol, dev.Address = modbus.ProtocolRTUOverTCP, c.rtuOverTCP
	}
	if c.serial != "" {
		given++
		dev.Protocol = modbus.ProtocolRTU
		dev.Serial = &serial.Config{Port: c.serial, Baud: c.baud, DataBits: c.dataBits, Parity: c.parity, StopBits: c.stopBits}
	}
	if given != 1 {
		return dev, errors.New("say how to reach the device with exactly one of --tcp, --rtu-over-tcp or --serial")
	}
	if c.slave < 0 || c.slave > 247 {
		return dev, fmt.Errorf("--slave must be 0..247, got %d", c.slave)
	}
	return dev, nil
}

func (c *connFlags) describe() string {
	switch {
	case c.tcp != "":
		return "modbus tcp " + c.tcp
	case c.rtuOverTCP != "":
		return "rtu over tcp " + c.rtuOverTCP
	}
	return fmt.Sprintf("rtu %s %d %d%s%d", c.serial, c.baud, c.dataBits, strings.ToUpper(c.parity), c.stopBits)
}

// loadProfileArg loads a profile given by name (in dir) or as a file path.
func loadProfileArg(dir, name string) (*modbus.Profile, error) {
	return modbus.LoadProfile(modbus.ProfilePath(dir, name))
}

func modbusRead(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("modbus read", stderr)
	conn := addConnFlags(fs)
	profile := fs.String("profile", "", "profile name (in --profiles) or file: decode its points")
	profiles := fs.String("profiles", "configs/profiles", "folder of profiles")
	points := fs.String("point", "", "with --profile: the points to read, comma-separated (default all)")
	table := fs.String("table", "holding", "raw read: holding, input, coil or discrete")
	address := fs.String("address", "0", "raw read: first address (decimal or 0x hex, 0-based)")
	count := fs.Int("count", 1, "raw read: registers (or bits) to read")
	typ := fs.String("type", "", "raw read: also decode as this type from the first register")
	order := fs.String("order", "ABCD", "raw read: byte order for --type")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	dev, err := conn.device()
	if err != nil {
		fmt.Fprintf(stderr, "estate modbus read: %v\n", err)
		return 2
	}
	c := modbus.NewClient(dev.Config())
	defer c.Close()
	if *profile != "" {
		p, err := loadProfileArg(*profiles, *profile)
		if err != nil {
			fmt.Fprintf(stderr, "estate modbus read: %v\n", err)
			return 1
		}
		var names []string
		if *points != "" {
			names = strings.Split(*points, ",")
		}
		res, err := modbus.ReadPoints(c, p, names)
		if err != nil {
			fmt.Fprintf(stderr, "estate modbus read: %v\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "%s, slave %d, profile %s\n", conn.describe(), conn.slave, p.Name)
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POINT\tTABLE\tADDRESS\tRAW\tVALUE")
		failed := 0
		for _, r := range res {
			pt := r.Point
			val := ""
			switch {
			case r.Err != nil:
				failed++
				val = "error: " + r.Err.Error()
			case pt.IsText():
				val = strconv.Quote(r.Text)
			default:
				bits := 64
				if pt.Type == "float32" {
					bits = 32 // the precision the wire carries
				}
				val = strings.TrimSpace(strconv.FormatFloat(r.Value, 'f', -1, bits) + " " + pt.Unit)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d (0x%04X)\t% X\t%s\n", pt.Name, pt.Table, pt.Address, pt.Address, r.Raw, val)
		}
		_ = tw.Flush()
		if failed == len(res) {
			return 1
		}
		return 0
	}
	addr, err := strconv.ParseUint(*address, 0, 16)
	if err != nil {
		fmt.Fprintf(stderr, "estate modbus read: --address %q: not an address 0..65535\n", *address)
		return 2
	}
	maxCount := 125
	if modbus.IsBitTable(*table) {
		maxCount = 2000
	}
	if *count < 1 || *count > maxCount || int(addr)+*count > 0x10000 {
		fmt.Fprintf(stderr, "estate modbus read: --count must be 1..%d within the address space\n", maxCount)
		return 2
	}
	data, err := c.Read(*table, uint16(addr), uint16(*count))
	if err != nil {
		fmt.Fprintf(stderr, "estate modbus read: %s %d+%d from slave %d: %v\n", *table, addr, *count, conn.slave, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s, slave %d, %s %d+%d\n", conn.describe(), conn.slave, *table, addr, *count)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	if modbus.IsBitTable(*table) {
		fmt.Fprintln(tw, "ADDRESS\tBIT")
		for i := range *count {
			fmt.Fprintf(tw, "%d\t%d\n", int(addr)+i, data[i/8]>>uint(i%8)&1)
		}
		_ = tw.Flush()
		return 0
	}
	fmt.Fprintln(tw, "ADDRESS\tHEX\tUINT16\tINT16\tASCII")
	for i := range *count {
		w := binary.BigEndian.Uint16(data[2*i:])
		fmt.Fprintf(tw, "%d (0x%04X)\t%04X\t%d\t%d\t%s\n", int(addr)+i, int(addr)+i, w, w, int16(w), printable(data[2*i:2*i+2]))
	}
	_ = tw.Flush()
	if *typ != "" {
		text := fmt.Sprintf("name: cli\npoints:\n  - {name: value, table: %s, address: %d, type: %s, order: %s, length: %d}\n",
			*table, addr, *typ, *order, *count)
		if *typ != "string" && *typ != "bcd" {
			text = strings.Replace(text, ", length: "+strconv.Itoa(*count), "", 1)
		}
		p, err := modbus.ParseProfile("--type", []byte(text))
		if err != nil {
			fmt.Fprintf(stderr, "estate modbus read: %v\n", err)
			return 2
		}
		pt := &p.Points[0]
		if int(pt.Width())*2 > len(data) {
			fmt.Fprintf(stderr, "estate modbus read: a %s needs %d registers; read them with --count %d\n", *typ, pt.Width(), pt.Width())
			return 2
		}
		v, err := pt.DecodeText(data[:pt.Width()*2])
		if err != nil {
			fmt.Fprintf(stdout, "as %s %s: error: %v\n", *typ, *order, err)
			return 1
		}
		fmt.Fprintf(stdout, "as %s %s: %s\n", *typ, *order, v)
	}
	return 0
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

func modbusScan(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("modbus scan", stderr)
	conn := addConnFlags(fs)
	from := fs.Int("from", 1, "first slave id")
	to := fs.Int("to", 247, "last slave id")
	table := fs.String("table", "holding", "what to ask each slave for: holding, input, coil or discrete")
	address := fs.String("address", "0", "which address to ask for")
	fs.Lookup("timeout").DefValue = "200ms"
	_ = fs.Set("timeout", "200ms")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *from < 1 || *to > 247 || *from > *to {
		fmt.Fprintln(stderr, "estate modbus scan: --from and --to must be 1..247, from <= to")
		return 2
	}
	addr, err := strconv.ParseUint(*address, 0, 16)
	if err != nil {
		fmt.Fprintf(stderr, "estate modbus scan: --address %q: not an address 0..65535\n", *address)
		return 2
	}
	fmt.Fprintf(stdout, "scanning %s, slaves %d..%d, %s %d, %s timeout each\n", conn.describe(), *from, *to, *table, addr, conn.timeout)
	var found []string
	for id := *from; id <= *to; id++ {
		conn.slave = id
		dev, err := conn.device()
		if err != nil {
			fmt.Fprintf(stderr, "estate modbus scan: %v\n", err)
			return 2
		}
		c := modbus.NewClient(dev.Config())
		data, err := c.Read(*table, uint16(addr), 1)
		_ = c.Close()
		var e *modbus.Error
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "slave %3d: answers (%s %d = % X)\n", id, *table, addr, data)
			found = append(found, strconv.Itoa(id))
		case errors.As(err, &e) && strings.HasPrefix(e.Kind, modbus.KindException):
			fmt.Fprintf(stdout, "slave %3d: answers with %v (it is there; try another --address)\n", id, err)
			found = append(found, strconv.Itoa(id))
		case errors.As(err, &e) && e.Kind == modbus.KindTimeout:
			// nobody at this id
		case errors.As(err, &e) && e.Kind == modbus.KindConnection:
			fmt.Fprintf(stderr, "estate modbus scan: %v\n", err)
			return 1
		default:
			fmt.Fprintf(stdout, "slave %3d: garbled answer (%v): a device with other line settings, or noise\n", id, err)
		}
	}
	if len(found) == 0 {
		fmt.Fprintln(stdout, "no slave answered")
		return 1
	}
	fmt.Fprintf(stdout, "%d slave(s) answer: %s\n", len(found), strings.Join(found, ", "))
	return 0
}

func modbusWrite(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("modbus write", stderr)
	conn := addConnFlags(fs)
	profile := fs.String("profile", "", "profile name (in --profiles) or file (required)")
	profiles := fs.String("profiles", "configs/profiles", "folder of profiles")
	point := fs.String("point", "", "the writable point (required)")
	value := fs.Float64("value", 0, "the value, in the point's unit (bool: 0 or 1)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	dev, err := conn.device()
	if err == nil && (*profile == "" || *point == "") {
		err = errors.New("--profile and --point are required")
	}
	if err != nil {
		fmt.Fprintf(stderr, "estate modbus write: %v\n", err)
		return 2
	}
	p, err := loadProfileArg(*profiles, *profile)
	if err != nil {
		fmt.Fprintf(stderr, "estate modbus write: %v\n", err)
		return 1
	}
	dev.Writes = true // an engineer's explicit write; the gateway writes only with writes: true
	d := modbus.NewDriver(dev.Config(), p, &devices.Info{Units: map[string]string{}})
	defer d.Close()
	if err := d.Write(context.Background(), *point, *value); err != nil {
		fmt.Fprintf(stderr, "estate modbus write: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s, slave %d: wrote %s = %g\n", conn.describe(), conn.slave, *point, *value)
	return 0
}
