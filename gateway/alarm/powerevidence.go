package alarm

import (
	"fmt"
	"time"
)

// Outage evidence from a meter's own power-failure count (DL/T 645-2007
// 掉电总次数, 03 11 00 00): the driver adds to each reading how much the count
// rose since the previous one (devices.PointPowerFailuresNew). When the
// meter then falls silent, its offline repair ticket says how often it lost
// power lately: a meter that keeps losing power points at its supply, one
// whose count has not moved at its link or itself.

// powerWindow is how far back the evidence looks.
const powerWindow = 30 * 24 * time.Hour

// maxPowerLosses bounds the rises kept per meter.
const maxPowerLosses = 256

// powerHistory is what one meter's count said since the engine started.
type powerHistory struct {
	since  time.Time // the first reading with the count: the evidence starts there
	losses []powerLoss
}

type powerLoss struct {
	at time.Time
	n  float64
}

// observe records a reading's rise of the count (0 when it did not move).
func (p *powerHistory) observe(at time.Time, rise float64) {
	if p.since.IsZero() || at.Before(p.since) {
		p.since = at
	}
	if rise > 0 {
		p.losses = append(p.losses, powerLoss{at: at, n: rise})
	}
	cut := 0
	for cut < len(p.losses) && (at.Sub(p.losses[cut].at) > powerWindow || len(p.losses)-cut > maxPowerLosses) {
		cut++
	}
	p.losses = p.losses[cut:]
}

// evidence is the line of the offline ticket, in Chinese and in English,
// or "" when the meter never reported its count.
func (p *powerHistory) evidence(now time.Time, loc *time.Location) (zh, en string) {
	if p.since.IsZero() {
		return "", ""
	}
	if loc == nil {
		loc = time.UTC
	}
	since := p.since
	if w := now.Add(-powerWindow); w.After(since) {
		since = w
	}
	n := 0.0
	for _, l := range p.losses {
		if !l.at.Before(since) {
			n += l.n
		}
	}
	at := since.In(loc).Format("2006-01-02 15:04")
	if n > 0 {
		times := fmt.Sprintf("%g times", n)
		if n == 1 {
			times = "once"
		}
		return fmt.Sprintf("停电证据: 电表自 %s 起掉电 %g 次 (掉电总次数 03 11 00 00), 无应答可能是停电而非通信线路", at, n),
			fmt.Sprintf("outage evidence: meter lost power %s since %s (its power-failure count, 03 11 00 00): the silence may be its supply, not its link", times, at)
	}
	return fmt.Sprintf("电表自 %s 起未掉电 (掉电总次数未变), 更可能是通信线路或电表本身的故障", at),
		fmt.Sprintf("meter has not lost power since %s (power-failure count unchanged): its link or the meter itself is the likelier fault", at)
}
