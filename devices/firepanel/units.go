package firepanel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Application data unit type flags (类型标志, GB/T 26875.3-2011 table 3).
// Types 1–28 go up (发送数据 2, or 应答 5 to a request), 61–88 are the
// centre's requests (请求 4), 89–91 its control commands (控制命令 1).
const (
	TypeSystemStatus     = 1  // 上传建筑消防设施系统状态
	TypeComponentStatus  = 2  // 上传建筑消防设施部件运行状态
	TypeComponentAnalog  = 3  // 上传建筑消防设施部件模拟量值
	TypeOperation        = 4  // 上传建筑消防设施操作信息
	TypeSoftwareVersion  = 5  // 上传建筑消防设施软件版本
	TypeSystemConfig     = 6  // 上传建筑消防设施系统配置情况
	TypeComponentConfig  = 7  // 上传建筑消防设施部件配置情况
	TypeSystemTime       = 8  // 上传建筑消防设施系统时间
	TypeUITDStatus       = 21 // 上传用户信息传输装置运行状态
	TypeUITDOperation    = 24 // 上传用户信息传输装置操作信息
	TypeUITDVersion      = 25 // 上传用户信息传输装置软件版本
	TypeUITDConfig       = 26 // 上传用户信息传输装置配置情况
	TypeUITDTime         = 28 // 上传用户信息传输装置系统时间
	TypeReadUITDTime     = 88 // 读用户信息传输装置系统时间
	TypeInitialiseUITD   = 89 // 初始化用户信息传输装置
	TypeTimeSync         = 90 // 同步用户信息传输装置时钟
	TypeInspection       = 91 // 查岗命令
	firstReadType        = 61 // 读建筑消防设施系统状态
	firstUserDefinedType = 128
)

// unitKind is what the standard says of one type flag's information objects.
type unitKind struct {
	name string // the standard's name
	// size is one object's size, its time tag included; 0: variable (a
	// length byte tells the size of its text).
	size int
	// tagged objects end with a 6-byte time tag (时间标签).
	tagged bool
}

// unitKinds are the type flags of GB/T 26875.3-2011 table 3 and the layout
// of their objects (8.2). Others are reserved (预留) or user-defined.
var unitKinds = map[byte]unitKind{
	TypeSystemStatus:    {"上传建筑消防设施系统状态", 1 + 1 + 2 + 6, true},
	TypeComponentStatus: {"上传建筑消防设施部件运行状态", 1 + 1 + 1 + 4 + 2 + 31 + 6, true},
	TypeComponentAnalog: {"上传建筑消防设施部件模拟量值", 1 + 1 + 1 + 4 + 1 + 2 + 6, true},
	TypeOperation:       {"上传建筑消防设施操作信息", 1 + 1 + 1 + 1 + 6, true},
	TypeSoftwareVersion: {"上传建筑消防设施软件版本", 1 + 1 + 1 + 1, false},
	TypeSystemConfig:    {"上传建筑消防设施系统配置情况", 0, false}, // 系统类型, 地址, 长度 L, L bytes
	TypeComponentConfig: {"上传建筑消防设施部件配置情况", 1 + 1 + 1 + 4 + 31, false},
	TypeSystemTime:      {"上传建筑消防设施系统时间", 1 + 1 + 6, false},
	TypeUITDStatus:      {"上传用户信息传输装置运行状态", 1 + 6, true},
	TypeUITDOperation:   {"上传用户信息传输装置操作信息", 1 + 1 + 6, true},
	TypeUITDVersion:     {"上传用户信息传输装置软件版本", 1 + 1, false},
	TypeUITDConfig:      {"上传用户信息传输装置配置情况", 0, false}, // 长度 L, L bytes
	TypeUITDTime:        {"上传用户信息传输装置系统时间", 6, false},
	61:                  {"读建筑消防设施系统状态", 2, false},
	62:                  {"读建筑消防设施部件运行状态", 6, false},
	63:                  {"读建筑消防设施部件模拟量值", 6, false},
	64:                  {"读建筑消防设施操作信息", 1 + 1 + 1 + 6, false}, // count, start time
	65:                  {"读建筑消防设施软件版本", 2, false},
	66:                  {"读建筑消防设施系统配置情况", 2, false},
	67:                  {"读建筑消防设施部件配置情况", 6, false},
	68:                  {"读建筑消防设施系统时间", 2, false},
	81:                  {"读用户信息传输装置运行状态", 1, false},
	84:                  {"读用户信息传输装置操作信息记录", 1 + 6, false},
	85:                  {"读用户信息传输装置软件版本", 1, false},
	86:                  {"读用户信息传输装置配置情况", 1, false},
	TypeReadUITDTime:    {"读用户信息传输装置系统时间", 1, false},
	TypeInitialiseUITD:  {"初始化用户信息传输装置", 1, false},
	TypeTimeSync:        {"同步用户信息传输装置时钟", 6, false},
	TypeInspection:      {"查岗命令", 1, false},
}

// TypeName is a type flag's name in the standard's words.
func TypeName(t byte) string {
	if k, ok := unitKinds[t]; ok {
		return k.name
	}
	if t >= firstUserDefinedType {
		return fmt.Sprintf("用户自定义 user-defined type %d", t)
	}
	return fmt.Sprintf("预留 reserved type %d", t)
}

// Direction of a type flag: which command may carry it.
func isUpload(t byte) bool { return t >= 1 && t < firstReadType && unitKinds[t].name != "" }
func isRead(t byte) bool {
	return t >= firstReadType && t <= TypeReadUITDTime && unitKinds[t].name != ""
}
func isControl(t byte) bool { return t >= TypeInitialiseUITD && t <= TypeInspection }

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
	// Description is the component's text (31 bytes of GB 18030), or the
	// configuration text of types 6 and 26, in UTF-8.
	Description string
	// AnalogType and Analog are a component's analogue value (type 3): the
	// standard's quantity code and the raw signed value.
	AnalogType byte
	Analog     int16
	// Major and Minor are a software version (types 5, 25).
	Major, Minor byte
	// Clock is the time an object carries as its content: a system time
	// (types 8, 28) or the centre's time in a time synchronisation (type 90).
	Clock time.Time
	// Raw is the object's bytes for the centre's requests and commands.
	Raw []byte
	// Time is the object's time tag (时间标签) for the types that carry one;
	// zero when the tag is not a date (TimeErr), for the receiver to fill
	// with the time of receipt.
	Time    time.Time
	TimeTag [6]byte
	TimeErr error
}

// ErrUnit is an application data unit that cannot be read as sent: a
// reserved type flag, fewer bytes than its objects need.
var ErrUnit = errors.New("gbt26875: application data unit")

// DecodeUnit reads an application data unit: type flag, object count,
// objects. A time tag that is no date leaves the record with TimeErr set,
// not an error. On an error the records decoded whole before it are
// returned with it.
func DecodeUnit(data []byte, loc *time.Location) ([]Record, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w of %d bytes has no type flag and object count", ErrUnit, len(data))
	}
	typ, n := data[0], int(data[1])
	kind, ok := unitKinds[typ]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not decoded", ErrUnit, TypeName(typ))
	}
	body := data[2:]
	out := make([]Record, 0, n)
	for i := range n {
		size := kind.size
		if size == 0 { // a length byte after the fixed part
			fixed := 0
			if typ == TypeSystemConfig {
				fixed = 2
			}
			if len(body) < fixed+1 {
				return out, fmt.Errorf("%w: type %d object %d of %d is cut short", ErrUnit, typ, i+1, n)
			}
			size = fixed + 1 + int(body[fixed])
		}
		if len(body) < size {
			return out, fmt.Errorf("%w: type %d with %d objects: object %d needs %d bytes, %d left", ErrUnit, typ, n, i+1, size, len(body))
		}
		o := body[:size]
		body = body[size:]
		r := decodeObject(typ, o, loc)
		if kind.tagged {
			copy(r.TimeTag[:], o[size-6:])
			r.Time, r.TimeErr = parseTime(o[size-6:], loc)
		}
		out = append(out, r)
	}
	if len(body) > 0 {
		// The objects are whole and used; the bytes after them are reported.
		return out, fmt.Errorf("%w: %d bytes after the %d objects of type %d", ErrTrailing, len(body), n, typ)
	}
	return out, nil
}

// ErrTrailing is an application data unit whose announced objects decoded
// whole but that has bytes after them: the objects are used.
var ErrTrailing = errors.New("gbt26875: application data unit has trailing bytes")

func decodeObject(typ byte, o []byte, loc *time.Location) Record {
	r := Record{Type: typ}
	switch typ {
	case TypeSystemStatus:
		r.SystemType, r.SystemAddr, r.Status = o[0], o[1], binary.LittleEndian.Uint16(o[2:4])
	case TypeComponentStatus:
		r.SystemType, r.SystemAddr, r.ComponentType = o[0], o[1], o[2]
		r.ComponentAddr = binary.LittleEndian.Uint32(o[3:7])
		r.Status = binary.LittleEndian.Uint16(o[7:9])
		r.Description = decodeGB18030(o[9:40])
	case TypeComponentAnalog:
		r.SystemType, r.SystemAddr, r.ComponentType = o[0], o[1], o[2]
		r.ComponentAddr = binary.LittleEndian.Uint32(o[3:7])
		r.AnalogType, r.Analog = o[7], int16(binary.LittleEndian.Uint16(o[8:10]))
	case TypeOperation:
		r.SystemType, r.SystemAddr, r.Operation, r.Operator = o[0], o[1], o[2], o[3]
	case TypeSoftwareVersion:
		r.SystemType, r.SystemAddr, r.Major, r.Minor = o[0], o[1], o[2], o[3]
	case TypeSystemConfig:
		r.SystemType, r.SystemAddr, r.Description = o[0], o[1], decodeGB18030(o[3:])
	case TypeComponentConfig:
		r.SystemType, r.SystemAddr, r.ComponentType = o[0], o[1], o[2]
		r.ComponentAddr = binary.LittleEndian.Uint32(o[3:7])
		r.Description = decodeGB18030(o[7:38])
	case TypeSystemTime:
		r.SystemType, r.SystemAddr = o[0], o[1]
		copy(r.TimeTag[:], o[2:8])
		r.Clock, r.TimeErr = parseTime(o[2:8], loc)
	case TypeUITDStatus:
		r.Status = uint16(o[0])
	case TypeUITDOperation:
		r.Operation, r.Operator = o[0], o[1]
	case TypeUITDVersion:
		r.Major, r.Minor = o[0], o[1]
	case TypeUITDConfig:
		r.Description = decodeGB18030(o[1:])
	case TypeUITDTime, TypeTimeSync:
		copy(r.TimeTag[:], o[0:6])
		r.Clock, r.TimeErr = parseTime(o[0:6], loc)
	default: // the centre's requests and other commands
		r.Raw = append([]byte(nil), o...)
	}
	return r
}

// AppendUnit encodes records of one type as an application data unit (used
// by the simulator; the tests build their frames by hand).
func AppendUnit(dst []byte, typ byte, recs []Record) ([]byte, error) {
	kind, ok := unitKinds[typ]
	if !ok || len(recs) > 255 {
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
			dst = appendGB18030(dst, r.Description, 31)
		case TypeComponentAnalog:
			dst = append(dst, r.SystemType, r.SystemAddr, r.ComponentType)
			dst = binary.LittleEndian.AppendUint32(dst, r.ComponentAddr)
			dst = append(dst, r.AnalogType)
			dst = binary.LittleEndian.AppendUint16(dst, uint16(r.Analog))
		case TypeOperation:
			dst = append(dst, r.SystemType, r.SystemAddr, r.Operation, r.Operator)
		case TypeSoftwareVersion:
			dst = append(dst, r.SystemType, r.SystemAddr, r.Major, r.Minor)
		case TypeComponentConfig:
			dst = append(dst, r.SystemType, r.SystemAddr, r.ComponentType)
			dst = binary.LittleEndian.AppendUint32(dst, r.ComponentAddr)
			dst = appendGB18030(dst, r.Description, 31)
		case TypeSystemTime:
			dst = append(dst, r.SystemType, r.SystemAddr)
			dst = appendTime(dst, r.Clock, r.TimeTag)
		case TypeUITDStatus:
			dst = append(dst, byte(r.Status))
		case TypeUITDOperation:
			dst = append(dst, r.Operation, r.Operator)
		case TypeUITDVersion:
			dst = append(dst, r.Major, r.Minor)
		case TypeUITDTime, TypeTimeSync:
			dst = appendTime(dst, r.Clock, r.TimeTag)
		default:
			return dst, fmt.Errorf("gbt26875: encoding type %d is not supported", typ)
		}
		if kind.tagged {
			dst = appendTime(dst, r.Time, r.TimeTag)
		}
	}
	return dst, nil
}

func appendGB18030(dst []byte, s string, n int) []byte {
	b, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	field := make([]byte, n)
	copy(field, b)
	return append(dst, field...)
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

// statusBit is one bit of a status word or operation flag, the event it
// means and its name in the standard's table.
type statusBit struct {
	bit   uint
	event string
	label string
}

// Status words (GB/T 26875.3-2011 8.2.1.1, 8.2.1.2, 8.2.1.8). Bit 0 of each
// is 正常运行状态 (1) / 测试状态 (0): it is reported as test_mode, active
// when the bit is 0 (testBit).
const testBit = 0

// systemBits are 建筑消防设施系统状态 (type 1), bits 1–12; bit 13 is 复位.
var systemBits = []statusBit{
	{1, EventFireAlarm, "火警"}, {2, EventFault, "故障"}, {3, EventDisabled, "屏蔽"}, {4, EventSupervisory, "监管"},
	{5, EventStarted, "启动(开启)"}, {6, EventFeedback, "反馈"}, {7, EventDelay, "延时状态"},
	{8, EventMainPowerFault, "主电故障"}, {9, EventBackupPowerFault, "备电故障"}, {10, EventBusFault, "总线故障"},
	{11, EventManualMode, "手动状态"}, {12, EventConfigChanged, "配置改变"},
}

// systemResetBit is the system status word's reset bit (复位).
const systemResetBit = 13

// componentBits are 建筑消防设施部件状态 (type 2), bits 1–8.
var componentBits = []statusBit{
	{1, EventFireAlarm, "火警"}, {2, EventFault, "故障"}, {3, EventDisabled, "屏蔽"}, {4, EventSupervisory, "监管"},
	{5, EventStarted, "启动(开启)"}, {6, EventFeedback, "反馈"}, {7, EventDelay, "延时状态"}, {8, EventPowerFault, "电源故障"},
}

// uitdBits are 用户信息传输装置运行状态 (type 21), bits 1–6 (bit 7 预留).
var uitdBits = []statusBit{
	{1, EventFireAlarm, "火警"}, {2, EventFault, "故障"}, {3, EventMainPowerFault, "主电故障"}, {4, EventBackupPowerFault, "备电故障"},
	{5, EventCentreLinkFault, "与监控中心通信信道故障"}, {6, EventFacilityLinkFault, "监测连接线路故障"},
}

// operationBits are 建筑消防设施操作标志 (type 4, 8.2.1.4): bit 5 is 确认.
var operationBits = []statusBit{
	{0, EventReset, "复位"}, {1, EventMute, "消音"}, {2, EventManualAlarm, "手动报警"}, {3, EventAlarmCleared, "警情消除"},
	{4, EventSelfTest, "自检"}, {5, EventAcknowledge, "确认"}, {6, EventTest, "测试"},
}

// uitdOperationBits are 用户信息传输装置操作标志 (type 24, 8.2.1.9): bit 5
// is 查岗应答, the answer to the centre's inspection (查岗命令, type 91), not
// an acknowledgement of an alarm.
var uitdOperationBits = []statusBit{
	{0, EventReset, "复位"}, {1, EventMute, "消音"}, {2, EventManualAlarm, "手动报警"}, {3, EventAlarmCleared, "警情消除"},
	{4, EventSelfTest, "自检"}, {5, EventInspectionAnswered, "查岗应答"}, {6, EventTest, "测试"},
}
