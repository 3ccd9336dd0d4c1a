package firepanel

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Application data unit type flags (类型标志) that the receiver decodes.
const (
	TypeSystemStatus    = 1  // 上传建筑消防设施系统状态
	TypeComponentStatus = 2  // 上传建筑消防设施部件运行状态
	TypeOperation       = 4  // 上传建筑消防设施操作信息
	TypeUITDStatus      = 21 // 上传用户信息传输装置运行状态
	TypeUITDOperation   = 24 // 上传用户信息传输装置操作信息
)

// objectSize is the size of one information object of a type, its 6-byte
// time tag included.
var objectSize = map[byte]int{
	TypeSystemStatus:    4 + 6,
	TypeComponentStatus: 40 + 6,
	TypeOperation:       4 + 6,
	TypeUITDStatus:      1 + 6,
	TypeUITDOperation:   2 + 6,
}

// Record is one information object of an application data unit.
type Record struct {
	Type          byte
	SystemType    byte
	SystemAddr    byte
	ComponentType byte
	ComponentAddr uint32
	// Status is the status word (system, component or transmission device).
	Status uint16
	// Operation flags and operator of an operation record.
	Operation byte
	Operator  byte
	// Description is the component's text (31 bytes of GB 18030), in UTF-8.
	Description string
	Time        time.Time
}

// DecodeUnit reads an application data unit: type flag, object count, objects.
func DecodeUnit(data []byte, loc *time.Location) ([]Record, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("gbt26875: application data of %d bytes has no type and count", len(data))
	}
	typ, n := data[0], int(data[1])
	size, ok := objectSize[typ]
	if !ok {
		return nil, fmt.Errorf("gbt26875: type flag %d is not decoded", typ)
	}
	body := data[2:]
	if len(body) < n*size {
		return nil, fmt.Errorf("gbt26875: type %d with %d objects needs %d bytes, has %d", typ, n, n*size, len(body))
	}
	out := make([]Record, 0, n)
	for i := range n {
		o := body[i*size : (i+1)*size]
		r := Record{Type: typ}
		var tag []byte
		switch typ {
		case TypeSystemStatus:
			r.SystemType, r.SystemAddr, r.Status = o[0], o[1], binary.LittleEndian.Uint16(o[2:4])
			tag = o[4:10]
		case TypeComponentStatus:
			r.SystemType, r.SystemAddr, r.ComponentType = o[0], o[1], o[2]
			r.ComponentAddr = binary.LittleEndian.Uint32(o[3:7])
			r.Status = binary.LittleEndian.Uint16(o[7:9])
			r.Description = decodeGB18030(o[9:40])
			tag = o[40:46]
		case TypeOperation:
			r.SystemType, r.SystemAddr, r.Operation, r.Operator = o[0], o[1], o[2], o[3]
			tag = o[4:10]
		case TypeUITDStatus:
			r.Status = uint16(o[0])
			tag = o[1:7]
		case TypeUITDOperation:
			r.Operation, r.Operator = o[0], o[1]
			tag = o[2:8]
		}
		t, err := parseTime(tag, loc)
		if err != nil {
			return out, fmt.Errorf("object %d: %w", i, err)
		}
		r.Time = t
		out = append(out, r)
	}
	return out, nil
}

// AppendUnit encodes records of one type as an application data unit (used
// by the simulator and the tests).
func AppendUnit(dst []byte, typ byte, recs []Record) ([]byte, error) {
	if _, ok := objectSize[typ]; !ok || len(recs) > 255 {
		return dst, fmt.Errorf("gbt26875: cannot encode type %d with %d objects", typ, len(recs))
	}
	dst = append(dst, typ, byte(len(recs)))
	for _, r := range recs {
		switch typ {
		case TypeSystemStatus:
			dst = append(dst, r.SystemType, r.SystemAddr)
			dst = binary.LittleEndian.AppendUint16(dst, r.Status)
		case TypeComponentStatus:
			dst = append(dst, r.SystemType, r.SystemAddr, r.ComponentType)
			dst = binary.LittleEndian.AppendUint32(dst, r.ComponentAddr)
			dst = binary.LittleEndian.AppendUint16(dst, r.Status)
			desc, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(r.Description))
			var field [31]byte
			copy(field[:], desc)
			dst = append(dst, field[:]...)
		case TypeOperation:
			dst = append(dst, r.SystemType, r.SystemAddr, r.Operation, r.Operator)
		case TypeUITDStatus:
			dst = append(dst, byte(r.Status))
		case TypeUITDOperation:
			dst = append(dst, r.Operation, r.Operator)
		}
		dst = appendTime(dst, r.Time)
	}
	return dst, nil
}

func decodeGB18030(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	s, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return strings.TrimSpace(string(s))
}

// statusBit is one bit of a status word and the event it means.
type statusBit struct {
	bit   uint
	event string
}

// System status word bits (系统状态): bit 0 is normal operation (1) or test (0).
var systemBits = []statusBit{
	{1, EventFireAlarm}, {2, EventFault}, {3, EventDisabled}, {4, EventSupervisory},
	{8, EventMainPowerFault}, {9, EventBackupPowerFault}, {10, "bus_fault"},
}

// systemResetBit is the system status word's reset bit (复位).
const systemResetBit = 13

// Component status bits (部件状态).
var componentBits = []statusBit{
	{1, EventFireAlarm}, {2, EventFault}, {3, EventDisabled}, {4, EventSupervisory}, {8, "power_fault"},
}

// Transmission device status bits (用户信息传输装置运行状态).
var uitdBits = []statusBit{
	{1, EventFireAlarm}, {2, EventFault}, {3, EventMainPowerFault}, {4, EventBackupPowerFault},
	{5, "monitoring_link_fault"}, {6, "detection_link_fault"},
}

// Operation flag bits (操作标志).
var operationBits = []statusBit{
	{0, EventReset}, {1, "mute"}, {2, "manual_alarm"}, {3, "alarm_cleared"}, {4, "self_test"}, {5, "acknowledge"}, {6, "test"},
}
