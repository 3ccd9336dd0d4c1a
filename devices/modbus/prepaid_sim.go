package modbus

import (
	"context"
	"math"
	"time"
)

// PrepaidMeter simulates a household prepaid sub-meter: the household draws
// power, the remaining balance runs down at a steady rate and, at zero, the
// relay trips and the voltage on the load side drops to zero.
type PrepaidMeter struct {
	Sim            *Simulator
	InitialBalance float64 // yuan
	DrainPerSecond float64 // yuan per second
	// PricePerKWh converts money spent into energy: 0.6 yuan/kWh if zero.
	PricePerKWh float64
}

// Run updates the meter's registers every 200 ms until ctx ends.
func (m *PrepaidMeter) Run(ctx context.Context) {
	price := m.PricePerKWh
	if price == 0 {
		price = 0.6
	}
	start := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		m.update(time.Since(start).Seconds(), price)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *PrepaidMeter) update(elapsed, price float64) {
	spent := math.Min(m.InitialBalance, m.DrainPerSecond*elapsed)
	balance := m.InitialBalance - spent
	relay, voltage, current := 1.0, 220.0+2*math.Sin(elapsed/7), 4.5+0.5*math.Sin(elapsed/3)
	if balance <= 0 {
		relay, voltage, current = 0, 0, 0
	}
	// The errors can only be "no such point", which the demo profile rules out.
	_ = m.Sim.Set("balance", balance)
	_ = m.Sim.Set("energy_import", 1200+spent/price)
	_ = m.Sim.Set("voltage", voltage)
	_ = m.Sim.Set("current", current)
	_ = m.Sim.Set("power", voltage*current/1000)
	_ = m.Sim.Set("relay", relay)
}
