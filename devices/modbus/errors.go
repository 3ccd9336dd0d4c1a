package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"

	gbmodbus "github.com/goburrow/modbus"
)

// Error kinds: what went wrong with one request, counted per device on /metrics.
const (
	KindTimeout    = "timeout"     // no answer within the device's timeout
	KindConnection = "connection"  // the TCP connection or serial port failed
	KindCRC        = "crc"         // an RTU frame whose checksum is wrong
	KindShortFrame = "short_frame" // the answer stopped before its end
	KindBadFrame   = "bad_frame"   // garbage: a length, function or header that makes no sense
	KindWrongSlave = "wrong_slave" // another slave id answered
	KindDecode     = "decode"      // the registers arrived but do not decode (NaN, bad BCD, …)
	// KindException prefixes Modbus exceptions: exception_illegal_data_address, …
	KindException = "exception"
)

// Error is one failed request, with what kind of failure it was.
type Error struct {
	Kind string
	// Exception is the Modbus exception code when Kind is an exception.
	Exception byte
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrorKind names the failure for counters (duck-typed by gateway/health).
func (e *Error) ErrorKind() string { return e.Kind }

// Answered tells failures where the device did answer (so it is not offline):
// exceptions, checksum and framing errors, another slave's answer. Exceptions
// 10 and 11 are the exception: a serial gateway (RS-485 to Ethernet, how most
// household meters are wired) sends them for the meter behind it that did not
// answer, so the meter is as silent as one that timed out.
func (e *Error) Answered() bool {
	switch {
	case e.Kind == KindTimeout, e.Kind == KindConnection:
		return false
	case e.Exception == ExceptionGatewayPathUnavailable, e.Exception == ExceptionGatewayTargetNoResponse:
		return false
	}
	return true
}

// Exceptions a Modbus gateway answers for the device behind it.
const (
	ExceptionGatewayPathUnavailable  = 10
	ExceptionGatewayTargetNoResponse = 11
)

func newError(kind string, format string, args ...any) *Error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

var exceptionNames = map[byte]string{
	1: "illegal_function", 2: "illegal_data_address", 3: "illegal_data_value",
	4: "slave_device_failure", 5: "acknowledge", 6: "slave_busy", 7: "negative_acknowledge",
	8: "memory_parity_error", 10: "gateway_path_unavailable", 11: "gateway_target_no_response",
}

// ExceptionName is the snake_case name of a Modbus exception code.
func ExceptionName(code byte) string {
	if n, ok := exceptionNames[code]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", code)
}

// classify turns whatever a request returned into an *Error with its kind.
func classify(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbErr *gbmodbus.ModbusError
	if errors.As(err, &mbErr) {
		return &Error{Kind: KindException + "_" + ExceptionName(mbErr.ExceptionCode), Exception: mbErr.ExceptionCode,
			Err: fmt.Errorf("exception %d (%s)", mbErr.ExceptionCode, strings.ReplaceAll(ExceptionName(mbErr.ExceptionCode), "_", " "))}
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return &Error{Kind: KindTimeout, Err: err}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return &Error{Kind: KindConnection, Err: err}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not match request"), strings.Contains(msg, "unit id"):
		return &Error{Kind: KindWrongSlave, Err: err}
	case strings.Contains(msg, "crc"):
		return &Error{Kind: KindCRC, Err: err}
	case strings.Contains(msg, "modbus:"):
		// goburrow's checks of a response: sizes and counts that do not add up.
		return &Error{Kind: KindBadFrame, Err: err}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return &Error{Kind: KindConnection, Err: err}
	}
	return &Error{Kind: KindConnection, Err: err}
}

// PointErrors is a poll in which the device answered but some points failed
// (exceptions, garbled frames, values that do not decode): the reading holds
// the other points, and the device counts as degraded, not offline.
type PointErrors map[string]error

func (pe PointErrors) Error() string {
	names := make([]string, 0, len(pe))
	for n := range pe {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%d point(s) failed:", len(pe))
	for i, n := range names {
		if i == 3 {
			fmt.Fprintf(&b, " …")
			break
		}
		fmt.Fprintf(&b, " %s: %v;", n, pe[n])
	}
	return strings.TrimSuffix(b.String(), ";")
}

// FailedPoints lists the failed points with their errors (duck-typed by gateway/health).
func (pe PointErrors) FailedPoints() map[string]error { return pe }
