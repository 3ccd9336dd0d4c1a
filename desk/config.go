package desk

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/rounds"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// The values the desk: section may take; the lists are what the messages offer.
var (
	Roles        = []string{RoleAdmin, RoleManager, RoleEngineer, RoleControlRoom, RoleAssistant, RoleGateway}
	StoreDrivers = []string{"sqlite", "postgres"}
	ChannelTypes = []string{"webhook", "wecom", "dingtalk"}
	bcryptHash   = regexp.MustCompile(`^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$`)
)

// deadlineTable is the deadlines in force: the defaults of docs/product.md with
// the configured rules applied (site-wide rules first, then rules of the site).
// It assumes a validated configuration.
func deadlineTable(d deskconfig.Config, site string, kind wire.Kind) ticket.Deadlines {
	out := ticket.Deadlines{}
	for step, l := range ticket.DefaultDeadlines()[kind] {
		out[step] = l
	}
	apply := func(r deskconfig.DeadlineRule) {
		for step, v := range r.Steps {
			if v == "none" {
				delete(out, wire.Step(step))
				continue
			}
			if l, err := ticket.ParseLimit(v); err == nil {
				out[wire.Step(step)] = l
			}
		}
	}
	for _, r := range d.Deadlines {
		if (r.Site == "" || r.Site == "*") && r.Kind == string(kind) && r.SubKind == "" {
			apply(r)
		}
	}
	for _, r := range d.Deadlines {
		if r.Site == site && r.Kind == string(kind) && r.SubKind == "" {
			apply(r)
		}
	}
	return out
}

// Validate checks the desk: section of a configuration, when the file has
// one; it is a config.Validator (internal/app passes it to config.Load).
func Validate(c *config.Config) []config.Problem {
	if !c.Has("desk") || !c.SecretsExpanded() {
		// A secret that is not set is reported by Load, once.
		return nil
	}
	var ps []config.Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	d := c.Desk
	if err := config.CheckListen(d.Listen); err != nil {
		add("desk.listen", "%v", err)
	}
	switch d.Driver {
	case "sqlite":
		if d.Database == "" {
			add("desk.database", "required: the SQLite file that holds the tickets, such as var/desk.db")
		}
	case "postgres":
		u, err := url.Parse(d.Database)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			add("desk.database", "with driver postgres, a URL such as postgres://estate:${PASSWORD}@127.0.0.1:5432/estate (give it as ${NAME} to keep the password out of the file)")
		}
	default:
		add("desk.driver", "%q is not a store; use one of %s", d.Driver, strings.Join(StoreDrivers, ", "))
	}
	if len(d.Tokens) == 0 && len(d.Staff) == 0 {
		add("desk.tokens", "at least one token or staff account is required: every desk call is authenticated")
	}
	names := map[string]bool{}
	secrets := map[string]bool{}
	for i, t := range d.Tokens {
		p := fmt.Sprintf("desk.tokens[%d]", i)
		if t.Name == "" {
			add(p+".name", "required: who or what uses this token")
		} else if names[t.Name] {
			add(p+".name", "%q is used by another token", t.Name)
		}
		names[t.Name] = true
		switch {
		case len(t.Token) < deskconfig.MinTokenSize:
			add(p+".token", "must be at least %d characters (generate one with: openssl rand -hex 24)", deskconfig.MinTokenSize)
		case secrets[t.Token]:
			add(p+".token", "the same secret is given to another token")
		}
		secrets[t.Token] = true
		if !slices.Contains(Roles, t.Role) {
			add(p+".role", "%q is not a role; use one of %s", t.Role, strings.Join(Roles, ", "))
		}
		if t.Role == "gateway" && t.Site == "" {
			add(p+".site", "required for a gateway token: the site whose tickets it may open")
		}
	}
	for i, s := range d.Staff {
		p := fmt.Sprintf("desk.staff[%d]", i)
		if !config.IsIdentifier(s.Name) {
			add(p+".name", "required: a login name of letters, digits, '-' and '_'")
		} else if names[s.Name] {
			add(p+".name", "%q is used by another token or staff account", s.Name)
		}
		names[s.Name] = true
		if !slices.Contains(Roles, s.Role) || s.Role == "gateway" {
			add(p+".role", "%q is not a staff role; use one of admin, manager, engineer, control_room, assistant", s.Role)
		}
		if s.Team != "" && !slices.Contains(ticket.Teams, s.Team) {
			add(p+".team", "%q is not a team; use one of %s", s.Team, strings.Join(ticket.Teams, ", "))
		}
		for field, id := range map[string]string{"wecom_user": s.WeComUser, "dingtalk_user": s.DingTalkUser} {
			if id != "" && !mentionID.MatchString(id) {
				add(p+"."+field, "%q is not a robot user id (letters, digits, '_', '.', '+', '-', up to 64)", id)
			}
		}
		if !bcryptHash.MatchString(s.PasswordHash) {
			add(p+".password_hash", "must be a bcrypt hash such as $2a$10$… (make one with: estate hash-password)")
		} else if cost, err := bcrypt.Cost([]byte(s.PasswordHash)); err != nil || cost < deskconfig.MinBcryptCost {
			add(p+".password_hash", "bcrypt cost %d is too low: at least %d is required, so that a leaked file's hashes are slow to guess (make one with: estate hash-password)",
				cost, deskconfig.MinBcryptCost)
		}
	}
	for i, s := range d.Sites {
		p := fmt.Sprintf("desk.sites[%d]", i)
		if !config.IsIdentifier(s.ID) {
			add(p+".id", "required: the site id used on tickets")
		}
		if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" {
			add(p+".timezone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", s.Timezone)
		}
		checkSiteOwnerSide(d, s, p, add)
		for j, r := range s.CommandRules {
			rp := fmt.Sprintf("%s.command_rules[%d]", p, j)
			if r.Action != wire.CommandRelayClose && r.Action != wire.CommandValveOpen {
				add(rp+".action", "%q: a rule may approve relay_close or valve_open only (cutting a supply needs a manager)", r.Action)
			}
			if r.AfterTopUp <= 0 || r.AfterTopUp > 7*24*time.Hour {
				add(rp+".after_top_up", "required: how long after a top-up reminder closed the rule applies (such as 24h, at most 168h)")
			}
		}
	}
	kinds := make([]string, len(wire.Kinds))
	for i, k := range wire.Kinds {
		kinds[i] = string(k)
	}
	steps := make([]string, len(wire.Steps))
	for i, s := range wire.Steps {
		steps[i] = string(s)
	}
	for i, r := range d.Deadlines {
		p := fmt.Sprintf("desk.deadlines[%d]", i)
		if !slices.Contains(kinds, r.Kind) {
			add(p+".kind", "%q is not a ticket kind; use one of %s", r.Kind, strings.Join(kinds, ", "))
		}
		if len(r.Steps) == 0 {
			add(p+".steps", "give at least one step, such as on_site: 15m")
		}
		for step, v := range r.Steps {
			if !slices.Contains(steps, step) {
				add(p+".steps."+step, "%q is not a step; use one of %s", step, strings.Join(steps, ", "))
				continue
			}
			if v == "none" {
				continue
			}
			if _, err := ticket.ParseLimit(v); err != nil {
				add(p+".steps."+step, "%v, or none", err)
			}
		}
	}
	levels := make([]string, len(ticket.Levels))
	for i, l := range ticket.Levels {
		levels[i] = string(l)
	}
	channels := map[string]bool{}
	for i, ch := range d.Channels {
		p := fmt.Sprintf("desk.channels[%d]", i)
		if !config.IsIdentifier(ch.Name) {
			add(p+".name", "required: letters, digits, '-' and '_'")
		} else if channels[ch.Name] {
			add(p+".name", "%q is used by another channel", ch.Name)
		}
		channels[ch.Name] = true
		if !slices.Contains(ChannelTypes, ch.Type) {
			add(p+".type", "%q is not a channel type; use one of %s", ch.Type, strings.Join(ChannelTypes, ", "))
		}
		if err := config.CheckHTTPURL(ch.URL); err != nil {
			add(p+".url", "%v", err)
		}
		if ch.Secret != "" && ch.Type != "dingtalk" {
			add(p+".secret", "only dingtalk robots sign their messages")
		}
		if ch.Language != "" && !slices.Contains(Languages, ch.Language) {
			add(p+".language", "%q is not a channel language; use one of %s", ch.Language, strings.Join(Languages, ", "))
		}
		if ch.MentionOnDuty && ch.Type == "webhook" {
			add(p+".mention_on_duty", "a webhook has no mentions (wecom and dingtalk robots have)")
		}
		if (len(ch.MentionUsers) > 0 || len(ch.MentionMobiles) > 0) && ch.Type == "webhook" {
			add(p+".mention_users", "a webhook has no mentions (wecom and dingtalk robots have)")
		}
		if len(ch.MentionMobiles) > 0 && ch.Type == "wecom" {
			add(p+".mention_mobiles", "WeCom's markdown messages mention by user id only: use mention_users")
		}
		for j, id := range append(slices.Clone(ch.MentionUsers), ch.MentionMobiles...) {
			field := fmt.Sprintf("%s.mention_users[%d]", p, j)
			if j >= len(ch.MentionUsers) {
				field = fmt.Sprintf("%s.mention_mobiles[%d]", p, j-len(ch.MentionUsers))
			}
			if !mentionID.MatchString(id) {
				add(field, "%q is not a user id or mobile number (letters, digits, '_', '.', '+', '-')", id)
			}
		}
		for j, k := range ch.Kinds {
			if !slices.Contains(kinds, k) {
				add(fmt.Sprintf("%s.kinds[%d]", p, j), "%q is not a ticket kind; use one of %s", k, strings.Join(kinds, ", "))
			}
		}
		for j, l := range ch.Levels {
			if !slices.Contains(levels, l) {
				add(fmt.Sprintf("%s.levels[%d]", p, j), "%q is not an escalation level; use one of %s", l, strings.Join(levels, ", "))
			}
		}
	}
	smsSites := map[string]bool{}
	for i, ch := range d.SMS {
		p := fmt.Sprintf("desk.sms[%d]", i)
		for _, pr := range ch.Check() {
			add(p+"."+pr.Field, "%s", pr.Message)
		}
		if smsSites[ch.Site] && ch.Site != "" {
			add(p+".site", "%q has another SMS channel: one per site", ch.Site)
		}
		smsSites[ch.Site] = true
	}
	if d.EscalationInterval < time.Second {
		add("desk.escalation_interval", "must be at least 1s, got %s", d.EscalationInterval)
	}
	if d.SessionTTL < time.Minute {
		add("desk.session_ttl", "must be at least 1m, got %s", d.SessionTTL)
	}
	if d.LoginAttempts < 1 {
		add("desk.login_attempts", "must be at least 1")
	}
	if d.LoginWindow < time.Second {
		add("desk.login_window", "must be at least 1s, got %s", d.LoginWindow)
	}
	for i, cidr := range d.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			add(fmt.Sprintf("desk.trusted_proxies[%d]", i), "%q is not a CIDR such as 127.0.0.1/32 or 10.0.0.0/8 (the proxies whose X-Forwarded-For is believed)", cidr)
		}
	}
	if d.PublicURL != "" {
		if err := config.CheckHTTPURL(d.PublicURL); err != nil {
			add("desk.public_url", "%v (the console's address, such as https://desk.example.com)", err)
		}
	}
	for _, t := range []struct {
		name string
		v    time.Duration
	}{{"read_timeout", d.ReadTimeout}, {"write_timeout", d.WriteTimeout}, {"idle_timeout", d.IdleTimeout}} {
		if t.v < time.Second {
			add("desk."+t.name, "must be at least 1s, got %s", t.v)
		}
	}
	// The control room's shift plans and rosters (desk/shift).
	ps = append(ps, ValidateShifts(c)...)
	ps = append(ps, rounds.Validate(c, d.Rounds, knownSites(c))...)
	return append(ps, validateKinds(c)...)
}

// knownSites are the sites a configuration names: desk.sites, site.id, and
// the sites tokens and staff are bound to.
func knownSites(c *config.Config) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	add(c.Site.ID)
	for _, s := range c.Desk.Sites {
		add(s.ID)
	}
	for _, t := range c.Desk.Tokens {
		add(t.Site)
	}
	for _, s := range c.Desk.Staff {
		add(s.Site)
	}
	return out
}
