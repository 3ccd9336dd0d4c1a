package dlt645

import (
	"fmt"
	"time"
)

// ReadRequest asks a meter for one identifier (or a data block).
func ReadRequest(addr Address, di DI) Frame {
	return Frame{Addr: addr, Control: FuncRead, Data: di.appendWire(make([]byte, 0, 4))}
}

// FollowUpRequest asks for follow-up frame seq of a read whose reply said more
// frames follow (control 0xB1 or 0xB2).
func FollowUpRequest(addr Address, di DI, seq byte) Frame {
	return Frame{Addr: addr, Control: FuncReadFollowUp, Data: append(di.appendWire(make([]byte, 0, 5)), seq)}
}

// ReadAddressRequest asks the only meter on a line for its address.
func ReadAddressRequest() Frame { return Frame{Addr: Wildcard, Control: FuncReadAddress} }

// BroadcastTimeRequest sets every meter's clock (ss mm hh DD MM YY, BCD). It
// has no reply. Only sent when a device's configuration allows it.
func BroadcastTimeRequest(t time.Time) Frame {
	b := func(v int) byte { return byte(v/10)<<4 | byte(v%10) }
	return Frame{Addr: Broadcast, Control: FuncBroadcastTime, Data: []byte{
		b(t.Second()), b(t.Minute()), b(t.Hour()), b(t.Day()), b(int(t.Month())), b(t.Year() % 100)}}
}

// Relay commands of control code 0x1C (the N1 byte).
const (
	RelayTrip         = 0x1A // 跳闸
	RelayAllowClose   = 0x1B // 合闸允许: the customer closes it (a button, a card)
	RelayDirectClose  = 0x1C // 合闸直接: closes at once (only where the profile allows it)
	RelayAlarm        = 0x2A // 报警
	RelayAlarmRelease = 0x2B // 报警解除
	RelayKeepPower    = 0x3A // 保电
	RelayKeepRelease  = 0x3B // 保电解除
)

// RelayControlRequest trips or releases a meter's relay: password (PA P0 P1
// P2) and operator code (C0 C1 C2 C3) as the data field carries them (see
// WireCodes), the command (N1), N2 reserved, and the time until which it
// holds (N3…N8, ss mm hh DD MM YY). Only sent when a device's configuration
// allows it.
func RelayControlRequest(addr Address, password, operator [4]byte, cmd byte, until time.Time) Frame {
	b := func(v int) byte { return byte(v/10)<<4 | byte(v%10) }
	d := make([]byte, 0, 16)
	d = append(d, password[:]...)
	d = append(d, operator[:]...)
	d = append(d, cmd, 0, b(until.Second()), b(until.Minute()), b(until.Hour()), b(until.Day()), b(int(until.Month())), b(until.Year()%100))
	return Frame{Addr: addr, Control: FuncRelayControl, Data: d}
}

// ReadReply is the useful part of a normal reply to a read (0x91, 0xB1, 0x92, 0xB2).
type ReadReply struct {
	DI       DI
	Value    []byte // the value bytes, 0x33 removed
	FollowUp bool   // more frames follow
	Seq      byte   // sequence number of a follow-up frame (0x92/0xB2)
}

// ParseReadReply checks that f answers a read of di and returns its value
// bytes. An abnormal reply comes back as an *ErrorReply.
func ParseReadReply(f Frame, di DI) (ReadReply, error) {
	if err := ReplyError(f); err != nil {
		return ReadReply{}, err
	}
	fn := f.Func()
	if !f.IsReply() || (fn != FuncRead && fn != FuncReadFollowUp) {
		return ReadReply{}, fmt.Errorf("dlt645: control %02X is not a reply to a read", f.Control)
	}
	if len(f.Data) < 4 {
		return ReadReply{}, fmt.Errorf("dlt645: read reply of %d bytes has no identifier", len(f.Data))
	}
	got := diFromWire(f.Data)
	if got != di {
		return ReadReply{}, fmt.Errorf("dlt645: reply for %s, asked %s", got, di)
	}
	r := ReadReply{DI: got, Value: f.Data[4:], FollowUp: f.HasFollowUp()}
	if fn == FuncReadFollowUp {
		if len(r.Value) == 0 {
			return ReadReply{}, fmt.Errorf("dlt645: follow-up reply without sequence number")
		}
		r.Seq = r.Value[len(r.Value)-1]
		r.Value = r.Value[:len(r.Value)-1]
	}
	return r, nil
}
