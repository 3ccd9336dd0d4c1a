package config

// Rule raises an alarm, and possibly a ticket, from a device's readings.
type Rule struct {
	Name     string `yaml:"name"`
	Family   string `yaml:"family"`
	Point    string `yaml:"point"`
	Severity string `yaml:"severity"`
	// Below fires when the point falls below this value.
	Below *float64 `yaml:"below"`
	// Above fires when the point rises above this value.
	Above *float64 `yaml:"above"`
	// Clear is the level at which the alarm resolves (hysteresis); defaults to the firing level.
	Clear *float64 `yaml:"clear"`
	// Ticket is the kind of ticket the alarm opens: emergency, repair, top_up, or none.
	Ticket string `yaml:"ticket"`
	// Title is the ticket title; {device}, {building}, {unit}, {value} and {point} are replaced.
	Title string `yaml:"title"`
}
