// Package deskconfig is the desk's section of the site configuration (desk:):
// its types and defaults, and nothing that needs the rest of the desk, so that
// internal/config can decode the section (config.Desk is an alias of Config)
// without importing the desk. The desk's own checks of it, which speak of
// roles, ticket kinds and deadline steps, are desk.Validate.
package deskconfig

import (
	"fmt"
	"time"

	"github.com/estatehq/estate/desk/sms"
)

// Config configures the service-desk HTTP API.
type Config struct {
	Listen string `yaml:"listen"`
	// Driver is the store: sqlite (default) or postgres (several desks on one database).
	Driver string `yaml:"driver"`
	// Database is the SQLite file (relative to the working directory) or the
	// postgres:// URL; it may be ${NAME} to keep a password out of the file.
	Database string  `yaml:"database"`
	Tokens   []Token `yaml:"tokens"`
	// Staff are the people who log in to the web console with a password.
	Staff []Staff `yaml:"staff"`
	// Sites gives each site's time zone ("same day" deadlines end at its
	// midnight); sites not listed use site.timezone, else UTC.
	Sites []Site `yaml:"sites"`
	// Deadlines override the defaults of docs/product.md ("Deadlines") per site and kind.
	Deadlines []DeadlineRule `yaml:"deadlines"`
	// Calendar is the working calendar of every site that gives none of its
	// own: files of one year each (YAML or CSV, see desk/calendar), relative
	// to this file's folder, such as calendars/cn-2026.yaml. Deadlines in
	// working days (2wd) count on it; without one, Monday to Friday.
	Calendar []string `yaml:"calendar"`
	// ComplaintCategories are the categories a complaint may be filed under
	// on every site that gives none of its own (default: the manuals' causes,
	// wire.ComplaintCategories).
	ComplaintCategories []string `yaml:"complaint_categories"`
	// Channels carry notifications (new tickets, missed deadlines) to groups.
	Channels []Channel `yaml:"channels"`
	// EscalationInterval is how often missed deadlines are looked for (default 15s).
	EscalationInterval time.Duration `yaml:"escalation_interval"`
	// SessionTTL is how long a console login lasts (default 12h).
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LoginAttempts failed logins per name and address are allowed per
	// LoginWindow (default 5 per 15m); an address may fail four times as often
	// over all names, and an account failing more often from all addresses
	// together waits a delay that doubles with each failure (up to LoginWindow).
	LoginAttempts int           `yaml:"login_attempts"`
	LoginWindow   time.Duration `yaml:"login_window"`
	// TrustedProxies are the addresses (CIDRs, such as 127.0.0.1/32 for a TLS
	// proxy on the same host) whose X-Forwarded-For is believed. Empty: the
	// header is ignored and the peer's address is the caller's.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ReadTimeout bounds reading a whole request, body included (default 30s);
	// WriteTimeout bounds a handler's answer (default 60s; the event stream
	// is exempt); IdleTimeout bounds a kept-alive connection between requests
	// (default 2m).
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	// PublicURL is the console's address as staff reach it (https://desk.example.com):
	// notifications link to a ticket's page under it, and the printed 维修单
	// carries it in its QR code. Empty: notifications carry no link.
	PublicURL string `yaml:"public_url"`
	// Shifts are the control room's shift plans and duty rosters, per site
	// (desk/shift; docs/control-room.md "Shifts and handover").
	Shifts []ShiftPlan `yaml:"shifts"`
	// SMS are the sites' text-message channels for top-up reminders
	// (Alibaba Cloud or Tencent Cloud SMS), one per site (desk/sms).
	SMS []sms.Config `yaml:"sms"`
	// Rounds are the inspection rounds' routes (rounds.go, desk/rounds).
	Rounds []Route `yaml:"rounds"`
}

// ShiftPlan is one site's shifts (site "" or "*": every site without a plan
// of its own) and who is on duty in each.
type ShiftPlan struct {
	Site string `yaml:"site"`
	// Shifts cover the day without gaps or overlaps; empty: 早班 08:00–16:00,
	// 中班 16:00–24:00, 夜班 00:00–08:00.
	Shifts []ShiftDef `yaml:"shifts"`
	// Duty lists, per shift and department, the people on duty: who is
	// called in an emergency, and who may sign (outgoing) and accept
	// (incoming) the control room's handover.
	Duty []DutyRoster `yaml:"duty"`
	// HandoverReminder is how long after a shift's end an unaccepted
	// handover reminds the supervisors, and twice more that long later the
	// managers (default 15m).
	HandoverReminder time.Duration `yaml:"handover_reminder"`
}

// ShiftDef is one shift of a plan: HH:MM in the site's time; an end at or
// before the start runs past midnight.
type ShiftDef struct {
	Name  string `yaml:"name"`
	Label string `yaml:"label"`
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// DutyRoster is the people of one department on duty in one shift.
type DutyRoster struct {
	Shift      string   `yaml:"shift"`
	Department string   `yaml:"department"`
	Staff      []string `yaml:"staff"`
}

// Token is one API credential and the role it grants.
type Token struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	Role  string `yaml:"role"`
	// Site restricts a gateway token to the tickets of one site.
	Site string `yaml:"site"`
}

// Staff is a person with a console login.
type Staff struct {
	Name        string `yaml:"name"` // login name
	DisplayName string `yaml:"display_name"`
	Role        string `yaml:"role"`
	Team        string `yaml:"team"` // engineering, security, customer_service, management
	Phone       string `yaml:"phone"`
	// WeComUser and DingTalkUser are the person's user ids in the group
	// robots' organisations, by which a channel with mention_on_duty
	// @mentions the people on duty (DingTalk also by Phone).
	WeComUser    string `yaml:"wecom_user"`
	DingTalkUser string `yaml:"dingtalk_user"`
	// PasswordHash is a bcrypt hash ($2a$/$2b$/$2y$…); the password itself is never configured.
	PasswordHash string `yaml:"password_hash"`
	// Site restricts the person to one site; empty: every site.
	Site string `yaml:"site"`
}

// Site is a site the desk serves.
type Site struct {
	ID string `yaml:"id"`
	// Name is what people call the site (演示花园), shown on the console,
	// the 维修单 and notifications; empty: the id.
	Name     string `yaml:"name"`
	Timezone string `yaml:"timezone"`
	// Head is the staff name of the management office's head (管理处主任):
	// the owner of the site's important complaints. Empty: their creator.
	Head string `yaml:"head"`
	// SatisfactionThreshold (1–5, default 3): a follow-up below it reopens
	// the ticket to engineering; at or above it counts as satisfied.
	SatisfactionThreshold int `yaml:"satisfaction_threshold"`
	// Targets of the monthly report; unset ones take the defaults.
	Targets SiteTargets `yaml:"targets"`
	// CommandRules approve, without a manager, commands to the site's
	// devices that restore a supply in a case the site names (issue 15):
	// closing a meter's relay after its household topped up. Everything
	// else a manager approves.
	CommandRules []CommandRule `yaml:"command_rules"`
	// Calendar is the site's working calendar (see Config.Calendar); empty: desk.calendar.
	Calendar []string `yaml:"calendar"`
	// ComplaintCategories replace desk.complaint_categories on this site.
	ComplaintCategories []string `yaml:"complaint_categories"`
}

// SiteTargets are a site's monthly targets; zero means the default (the
// manuals': follow-up rate 100 %, satisfaction rate ≥ 96 %, effective
// complaint rate ≤ 1 % of households, ≥ 20 households followed up; ours:
// each deadline step met ≥ 95 %, reopened ≤ 5 %). Rates are fractions (0.96).
type SiteTargets struct {
	FollowUpRate         float64 `yaml:"follow_up_rate"`
	SatisfactionRate     float64 `yaml:"satisfaction_rate"`
	ComplaintRate        float64 `yaml:"complaint_rate"`
	HouseholdsFollowedUp int     `yaml:"households_followed_up"`
	OnTime               float64 `yaml:"on_time"`
	ReopenRate           float64 `yaml:"reopen_rate"`
}

// CommandRule approves one action by itself when its condition holds.
type CommandRule struct {
	// Action is relay_close or valve_open: a rule restores a supply, it
	// never cuts one.
	Action string `yaml:"action"`
	// AfterTopUp: the meter's top-up reminder was closed (the balance is
	// back) at most this long ago.
	AfterTopUp time.Duration `yaml:"after_top_up"`
}

// DeadlineRule sets deadlines for a kind on a site ("*" or empty: every site).
// Steps not named keep the defaults; a step set to "none" has no deadline.
//
// With SubKind, the steps apply to that sub-kind only (complaint/written),
// over the kind's.
type DeadlineRule struct {
	Site    string            `yaml:"site"`
	Kind    string            `yaml:"kind"`
	SubKind string            `yaml:"sub_kind"`
	Steps   map[string]string `yaml:"steps"`
}

// Channel is a notification destination.
type Channel struct {
	Name string `yaml:"name"`
	// Type is webhook (generic JSON), wecom or dingtalk (group robots, markdown).
	Type string `yaml:"type"`
	// URL is the webhook address (for robots, with its key); may be ${NAME}.
	URL string `yaml:"url"`
	// Secret signs DingTalk robot messages (加签); may be ${NAME}.
	Secret string `yaml:"secret"`
	// Sites, Kinds and Levels select what the channel hears; empty means all.
	// Levels are the escalation rungs: assignee, supervisor, manager, leadership.
	Sites  []string `yaml:"sites"`
	Kinds  []string `yaml:"kinds"`
	Levels []string `yaml:"levels"`
	// Language is the one language of the channel's messages: zh-CN
	// (default) or en.
	Language string `yaml:"language"`
	// ShowResident puts the reporter's name and phone in the messages: only
	// for channels whose audience may see them (default false).
	ShowResident bool `yaml:"show_resident"`
	// MentionUsers are robot user ids to @mention in each message (WeCom,
	// DingTalk); MentionMobiles mobile numbers to @mention (DingTalk only:
	// WeCom's markdown messages mention by user id).
	MentionUsers   []string `yaml:"mention_users"`
	MentionMobiles []string `yaml:"mention_mobiles"`
	// MentionOnDuty also @mentions the people on duty when the message is
	// sent (desk.shifts rosters): of the ticket's team, else of the
	// department its kind belongs to, and the control room for an
	// emergency; by their wecom_user, dingtalk_user or phone (desk.staff).
	MentionOnDuty bool `yaml:"mention_on_duty"`
}

// MinBcryptCost is the lowest bcrypt cost accepted for a staff password hash:
// below it a stolen configuration's hashes are cheap to guess.
const MinBcryptCost = 10

// MinTokenSize is the shortest API token the desk accepts (a gateway's
// desk_token is held to it too).
const MinTokenSize = 16

// ApplyDefaults fills in the defaults of every unset option.
func (d *Config) ApplyDefaults() {
	if d.Driver == "" {
		d.Driver = "sqlite"
	}
	if d.EscalationInterval == 0 {
		d.EscalationInterval = 15 * time.Second
	}
	if d.SessionTTL == 0 {
		d.SessionTTL = 12 * time.Hour
	}
	if d.LoginAttempts == 0 {
		d.LoginAttempts = 5
	}
	if d.LoginWindow == 0 {
		d.LoginWindow = 15 * time.Minute
	}
	if d.ReadTimeout == 0 {
		d.ReadTimeout = 30 * time.Second
	}
	if d.WriteTimeout == 0 {
		d.WriteTimeout = time.Minute
	}
	if d.IdleTimeout == 0 {
		d.IdleTimeout = 2 * time.Minute
	}
}

// CalendarFiles are a site's calendar files, as written: its own, else desk.calendar.
func (d Config) CalendarFiles(site string) []string {
	for _, s := range d.Sites {
		if s.ID == site && len(s.Calendar) > 0 {
			return s.Calendar
		}
	}
	return d.Calendar
}

// Location returns a site's time zone: from desk.sites, else fallback.
func (d Config) Location(site string, fallback *time.Location) *time.Location {
	for _, s := range d.Sites {
		if s.ID == site {
			if l, err := time.LoadLocation(s.Timezone); err == nil {
				return l
			}
		}
	}
	return fallback
}

// Secrets visits every field that may be given as ${NAME} (its value taken
// from the environment), with its path from the file's root.
func (d *Config) Secrets(visit func(path string, v *string)) {
	for i := range d.Tokens {
		visit(fmt.Sprintf("desk.tokens[%d].token", i), &d.Tokens[i].Token)
	}
	visit("desk.database", &d.Database)
	for i := range d.Channels {
		visit(fmt.Sprintf("desk.channels[%d].url", i), &d.Channels[i].URL)
		visit(fmt.Sprintf("desk.channels[%d].secret", i), &d.Channels[i].Secret)
	}
	for i := range d.SMS {
		visit(fmt.Sprintf("desk.sms[%d].access_key_id", i), &d.SMS[i].AccessKeyID)
		visit(fmt.Sprintf("desk.sms[%d].access_key_secret", i), &d.SMS[i].AccessKeySecret)
	}
}
