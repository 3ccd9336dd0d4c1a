package deskconfig

import "time"

// Route is an inspection round's route (巡检路线): the checkpoints walked in
// order, each with its checklist, and when the round falls due. desk/rounds
// checks it (Validate) and runs it.
type Route struct {
	// ID names the route in the API and the records (distribution-daily).
	ID string `yaml:"id" json:"id"`
	// Site is the site whose staff walk it.
	Site string `yaml:"site" json:"site"`
	// Name and NameEN are what people call it (配电房日常巡检).
	Name   string `yaml:"name" json:"name"`
	NameEN string `yaml:"name_en" json:"name_en,omitempty"`
	// Building is where it goes, for the ticket a failed item opens.
	Building string `yaml:"building" json:"building,omitempty"`
	// Team walks it: engineering (default) or security.
	Team     string        `yaml:"team" json:"team,omitempty"`
	Schedule RouteSchedule `yaml:"schedule" json:"schedule"`
	// Checkpoints in walking order; each is confirmed by its QR code, its
	// code typed in, or a patrol reader.
	Checkpoints []Checkpoint `yaml:"checkpoints" json:"checkpoints"`
}

// RouteSchedule is when a route's round falls due: every day (every_days: 1,
// the default), every N days counted from a date, or on weekdays; starting at
// a time of the site's day.
type RouteSchedule struct {
	// EveryDays: the round falls due every N days from From (1: daily).
	EveryDays int `yaml:"every_days" json:"every_days,omitempty"`
	// From is the first day (YYYY-MM-DD) that every_days counts from.
	From string `yaml:"from" json:"from,omitempty"`
	// Weekdays, instead of every_days: mon, tue, wed, thu, fri, sat, sun.
	Weekdays []string `yaml:"weekdays" json:"weekdays,omitempty"`
	// Start is the time of day (HH:MM, site time) the round may begin.
	Start string `yaml:"start" json:"start,omitempty"`
	// StartWithin: a round not started by Start plus this is escalated (default 1h).
	StartWithin time.Duration `yaml:"start_within" json:"start_within,omitempty"`
	// FinishWithin: a round not finished by Start plus this is missed and
	// escalated (default 4h).
	FinishWithin time.Duration `yaml:"finish_within" json:"finish_within,omitempty"`
}

// Checkpoint is one place of a route.
type Checkpoint struct {
	// Code is what its QR label and a patrol reader's tag carry (DR-1);
	// unique on its site.
	Code   string `yaml:"code" json:"code"`
	Name   string `yaml:"name" json:"name"`
	NameEN string `yaml:"name_en" json:"name_en,omitempty"`
	// Floor and Unit locate it for the ticket a failed item opens.
	Floor string `yaml:"floor" json:"floor,omitempty"`
	Unit  string `yaml:"unit" json:"unit,omitempty"`
	// Equipment are the register ids (设备台账) of the plant checked here:
	// each entry's history lists the rounds' visits and results here.
	Equipment []string    `yaml:"equipment" json:"equipment,omitempty"`
	Items     []CheckItem `yaml:"items" json:"items"`
}

// CheckItem is one line of a checkpoint's checklist.
type CheckItem struct {
	// ID names the item within its checkpoint (temp, door).
	ID      string `yaml:"id" json:"id"`
	Label   string `yaml:"label" json:"label"`
	LabelEN string `yaml:"label_en" json:"label_en,omitempty"`
	// Type is check (pass or fail), reading (a number; outside min..max it
	// fails) or note (text only).
	Type string   `yaml:"type" json:"type"`
	Unit string   `yaml:"unit" json:"unit,omitempty"`
	Min  *float64 `yaml:"min" json:"min,omitempty"`
	Max  *float64 `yaml:"max" json:"max,omitempty"`
}
