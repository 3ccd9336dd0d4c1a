package telemetry

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

func TestLineProtocolEncoding(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	meter := &devices.Info{ID: "meter-1", Site: "sunrise", Family: "meter", Model: "sdm630", Building: "3", Unit: "3-1201"}
	odd := &devices.Info{ID: "door 1,a=b", Site: "s", Family: "access control", Model: "m"}
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"reading", AppendReading(nil, devices.Reading{Device: meter, Time: at, Values: []devices.Value{
			{Point: "energy", Value: 1234.5}, {Point: "voltage", Value: 229.75}}}),
			`meter,building=3,device=meter-1,model=sdm630,site=sunrise,unit=3-1201 energy=1234.5,voltage=229.75,quality="good" 1700000000123456789`},
		{"bad and unstorable values left out", AppendReading(nil, devices.Reading{Device: meter, Time: at, Values: []devices.Value{
			{Point: "energy", Value: 1, Quality: devices.Bad}, {Point: "power", Value: math.NaN()}, {Point: "current", Value: 1e-9}}}),
			`meter,building=3,device=meter-1,model=sdm630,site=sunrise,unit=3-1201 current=1e-09,quality="bad" 1700000000123456789`},
		{"escaping, empty tags left out", AppendReading(nil, devices.Reading{Device: odd, Time: at, Values: []devices.Value{
			{Point: "held open", Value: 1}}}),
			`access\ control,device=door\ 1\,a\=b,model=m,site=s held\ open=1,quality="good" 1700000000123456789`},
		{"text points are string fields", AppendReading(nil, devices.Reading{Device: meter, Time: at, Values: []devices.Value{
			{Point: "serial", IsText: true, Text: `SN "42"`}, {Point: "voltage", Value: 230}}}),
			`meter,building=3,device=meter-1,model=sdm630,site=sunrise,unit=3-1201 serial="SN \"42\"",voltage=230,quality="good" 1700000000123456789`},
		{"alarm", AppendAlarm(nil, meter, "low_balance", "firing", "warning", "", "", 9.5, at),
			`alarm,building=3,device=meter-1,rule=low_balance,severity=warning,site=sunrise state="firing",value=9.5 1700000000123456789`},
		{"alarm with its messages", AppendAlarm(nil, meter, "low_balance", "firing", "warning", "3栋 3-1201 余额不足 \"9.50\" 元", "3-1201: balance low", 9.5, at),
			`alarm,building=3,device=meter-1,rule=low_balance,severity=warning,site=sunrise state="firing",value=9.5,message_zh="3栋 3-1201 余额不足 \"9.50\" 元",message_en="3-1201: balance low" 1700000000123456789`},
		{"event with quotes", AppendEvent(nil, devices.Event{Device: meter, Time: at, Type: "fire_alarm", Source: "loop 1", Active: true, Text: `say "hi"\`}),
			`event,building=3,device=meter-1,site=sunrise,source=loop\ 1,type=fire_alarm active=true,text="say \"hi\"\\" 1700000000123456789`},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

// A float32 reading is written as the decimal the meter meant; a value only
// float64 holds keeps every digit; both read back exactly as what was polled
// at the precision it was polled with.
func TestAppendValuePrecision(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{float64(float32(230.1)), "230.1"},
		{float64(float32(0.1)), "0.1"},
		{float64(float32(-49.95)), "-49.95"},
		{float64(float32(1e-7)), "1e-07"},
		{230.1, "230.1"},
		{0.3, "0.3"},
		{1.0 / 3, "0.3333333333333333"},
		{12345678.9, "1.23456789e+07"},
		{16777217, "1.6777217e+07"}, // beyond float32's integers: float64 digits
		{42, "42"},
		{0, "0"},
	} {
		got := string(appendValue(nil, tc.in))
		if got != tc.want {
			t.Errorf("appendValue(%v) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := strconv.ParseFloat(got, 64)
		if err != nil {
			t.Fatal(err)
		}
		if float64(float32(tc.in)) == tc.in {
			if float32(back) != float32(tc.in) {
				t.Errorf("%q reads back as float32 %v, want %v", got, float32(back), float32(tc.in))
			}
		} else if back != tc.in {
			t.Errorf("%q reads back as %v, want %v", got, back, tc.in)
		}
	}
}
