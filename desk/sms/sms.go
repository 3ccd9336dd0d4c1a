// Package sms sends text messages to residents through the SMS services of
// Alibaba Cloud (阿里云短信, the RPC-style SendSms API 2017-05-25 signed
// with HMAC-SHA1) and Tencent Cloud (腾讯云短信, SendSms API 2021-01-11
// signed with TC3-HMAC-SHA256), and reads their delivery receipts back
// (QuerySendDetails; PullSmsSendStatus). Both services send only approved
// templates under an approved signature (签名): a message is a template id
// and its parameters, never free text.
//
// The package speaks the providers' documented HTTP APIs itself: the
// endpoint is configurable (a test points it at a loopback server that
// checks the signatures), and the secrets are never written to a log or an
// error (Config redacts itself when printed or logged).
package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Providers the desk speaks to.
const (
	Aliyun  = "aliyun"
	Tencent = "tencent"
)

// Providers lists the provider names a configuration may use.
var Providers = []string{Aliyun, Tencent}

// Values are what a template's parameters may be filled with, from the
// ticket and its household.
var Values = []string{"unit", "building", "site_name", "balance", "resident", "meter_kind"}

// Param is one template parameter: its name in the template (Alibaba's
// ${name}; Tencent's parameters are positional, {1}, {2}, in this order)
// and what fills it (one of Values).
type Param struct {
	Name  string `yaml:"name" json:"name"`
	Value string `yaml:"value" json:"value"`
}

// Config is one site's SMS channel (desk.sms[] in the configuration).
type Config struct {
	// Site is the site whose reminders this channel sends.
	Site string `yaml:"site"`
	// Provider is aliyun or tencent.
	Provider string `yaml:"provider"`
	// Endpoint is the API's address; empty: the provider's public one.
	Endpoint string `yaml:"endpoint"`
	// AccessKeyID and AccessKeySecret are the API key (Alibaba's
	// AccessKey; Tencent's SecretId and SecretKey). Give the secret as
	// ${NAME}: it is never logged.
	AccessKeyID     string `yaml:"access_key_id"`
	AccessKeySecret string `yaml:"access_key_secret"`
	// Region is the API region (Alibaba: cn-hangzhou; Tencent: ap-guangzhou by default).
	Region string `yaml:"region"`
	// SDKAppID is Tencent's SmsSdkAppId (the SMS application); Alibaba has none.
	SDKAppID string `yaml:"sdk_app_id"`
	// SignName is the approved signature (签名) shown as 【…】.
	SignName string `yaml:"sign_name"`
	// TemplateID is the approved top-up reminder template (Alibaba's
	// TemplateCode SMS_…; Tencent's numeric TemplateId).
	TemplateID string `yaml:"template_id"`
	// Params fill the template, in its order.
	Params []Param `yaml:"params"`
	// QuietHours is when no message is sent, in the site's time ("21:00-08:00",
	// the default; "none" sends at any hour). A reminder asked for then is
	// refused with the time it may be sent.
	QuietHours string `yaml:"quiet_hours"`
	// ReceiptInterval is how often delivery receipts are fetched (default 1m).
	ReceiptInterval time.Duration `yaml:"receipt_interval"`
}

// redacted stands for a secret wherever a configuration is printed.
const redacted = "[redacted]"

// String prints the channel without its secret.
func (c Config) String() string {
	return fmt.Sprintf("sms{site=%s provider=%s endpoint=%s key_id=%s secret=%s sign=%s template=%s}",
		c.Site, c.Provider, c.Endpoint, c.AccessKeyID, redacted, c.SignName, c.TemplateID)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue logs the channel without its secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("site", c.Site), slog.String("provider", c.Provider),
		slog.String("endpoint", c.Endpoint), slog.String("access_key_id", c.AccessKeyID),
		slog.String("access_key_secret", redacted), slog.String("template_id", c.TemplateID))
}

// DefaultEndpoint is the provider's public API address.
func DefaultEndpoint(provider string) string {
	switch provider {
	case Aliyun:
		return "https://dysmsapi.aliyuncs.com/"
	case Tencent:
		return "https://sms.tencentcloudapi.com/"
	}
	return ""
}

// Problem is one fault of a channel's configuration, by field.
type Problem struct {
	Field, Message string
}

// Check lists what is wrong with a channel's configuration: every field
// a message needs, and the template's parameters.
func (c Config) Check() []Problem {
	var ps []Problem
	add := func(f, format string, args ...any) { ps = append(ps, Problem{f, fmt.Sprintf(format, args...)}) }
	if c.Site == "" {
		add("site", "required: the site whose households this channel reminds")
	}
	if !slices.Contains(Providers, c.Provider) {
		add("provider", "%q is not an SMS provider; use one of %s", c.Provider, strings.Join(Providers, ", "))
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("endpoint", "%q is not an http(s) URL (leave it empty for the provider's own)", c.Endpoint)
		}
	}
	if c.AccessKeyID == "" {
		add("access_key_id", "required: the API key's id")
	}
	if c.AccessKeySecret == "" {
		add("access_key_secret", "required: the API key's secret (give it as ${NAME})")
	}
	if c.Provider == Tencent && c.SDKAppID == "" {
		add("sdk_app_id", "required for tencent: the SmsSdkAppId of the SMS application")
	}
	if c.SignName == "" {
		add("sign_name", "required: the approved signature (签名) of the messages")
	}
	if c.TemplateID == "" {
		add("template_id", "required: the approved template of the top-up reminder")
	}
	if len(c.Params) == 0 {
		add("params", "the template %q needs its parameters: list each with its name and value (one of %s)",
			c.TemplateID, strings.Join(Values, ", "))
	}
	names := map[string]bool{}
	for i, p := range c.Params {
		f := fmt.Sprintf("params[%d]", i)
		if p.Name == "" && c.Provider != Tencent {
			add(f+".name", "required: the parameter's name in the template")
		}
		if p.Name != "" && names[p.Name] {
			add(f+".name", "%q is given twice", p.Name)
		}
		names[p.Name] = true
		if !slices.Contains(Values, p.Value) {
			add(f+".value", "%q is not a value the desk fills; use one of %s", p.Value, strings.Join(Values, ", "))
		}
	}
	if _, _, err := ParseQuietHours(c.QuietHours); err != nil {
		add("quiet_hours", "%v", err)
	}
	if c.ReceiptInterval != 0 && c.ReceiptInterval < time.Second {
		add("receipt_interval", "must be at least 1s, got %s", c.ReceiptInterval)
	}
	return ps
}

// ParseQuietHours reads "HH:MM-HH:MM" into minutes after midnight; ""
// is the default 21:00-08:00, "none" no quiet hours (from == to).
func ParseQuietHours(s string) (from, to int, err error) {
	switch s {
	case "":
		return 21 * 60, 8 * 60, nil
	case "none":
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: give quiet hours as HH:MM-HH:MM, such as 21:00-08:00, or none", s)
	}
	parse := func(v string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("%q: %q is not a time of day HH:MM", s, v)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if from, err = parse(a); err != nil {
		return 0, 0, err
	}
	if to, err = parse(b); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("%q: the quiet hours begin and end at the same time (use none for no quiet hours)", s)
	}
	return from, to, nil
}

// Quiet reports whether t (in the site's time) is within the quiet hours,
// and if so when they end.
func (c Config) Quiet(t time.Time) (bool, time.Time) {
	from, to, err := ParseQuietHours(c.QuietHours)
	if err != nil || from == to {
		return false, time.Time{}
	}
	m := t.Hour()*60 + t.Minute()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	end := func(dayOffset int) time.Time {
		return midnight.AddDate(0, 0, dayOffset).Add(time.Duration(to) * time.Minute)
	}
	if from < to { // the same day, 12:00-14:00
		if m >= from && m < to {
			return true, end(0)
		}
		return false, time.Time{}
	}
	// Across midnight, 21:00-08:00.
	switch {
	case m >= from:
		return true, end(1)
	case m < to:
		return true, end(0)
	}
	return false, time.Time{}
}

// Message is one templated message to one phone.
type Message struct {
	// Phone is a mainland mobile number (13800001234) or an E.164 one (+8613800001234).
	Phone      string
	SignName   string
	TemplateID string
	// Params are the template's parameters with their values, in order.
	Params []Param
	// OutID is the desk's id of the message, echoed in receipts where the provider does.
	OutID string
}

// Sent is what a provider said of a message it accepted.
type Sent struct {
	// ProviderID is Alibaba's BizId or Tencent's SerialNo: receipts name it.
	ProviderID string
	Phone      string
	At         time.Time
}

// Receipt is a delivery report of a sent message.
type Receipt struct {
	ProviderID string
	Phone      string
	Delivered  bool
	// Code and Description are the provider's (DELIVERED; DELIVRD 用户短信送达成功).
	Code, Description string
	At                time.Time
}

// Sender is one site's channel to its provider.
type Sender interface {
	// Send submits one message; an error is the provider's refusal or a
	// failure to reach it, with the provider's code where it gave one.
	Send(ctx context.Context, m Message) (Sent, error)
	// Receipts fetches delivery reports: of the given messages where the
	// provider is asked per message (Alibaba), of whatever is new where
	// it keeps a queue (Tencent).
	Receipts(ctx context.Context, pending []Sent) ([]Receipt, error)
}

// ProviderError is a request the provider answered with a refusal.
type ProviderError struct {
	Provider, Code, Message string
	Status                  int
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("%s sms: %s: %s (HTTP %d)", e.Provider, e.Code, e.Message, e.Status)
}

// ErrConfig is a channel whose configuration cannot send.
var ErrConfig = errors.New("sms channel misconfigured")

// New builds a site's sender; client nil is a client with a 10 s timeout.
// now and nonce are injected by tests (nil: the clock and crypto/rand).
func New(c Config, client *http.Client, now func() time.Time) (Sender, error) {
	if ps := c.Check(); len(ps) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, ps[0].Field, ps[0].Message)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint(c.Provider)
	}
	switch c.Provider {
	case Aliyun:
		return &aliyun{cfg: c, endpoint: endpoint, client: client, now: now, nonce: randomNonce}, nil
	case Tencent:
		return &tencent{cfg: c, endpoint: endpoint, client: client, now: now}, nil
	}
	return nil, fmt.Errorf("%w: provider %q", ErrConfig, c.Provider)
}

// e164 writes a mainland number as +86…, as Tencent wants it.
func e164(phone string) string {
	if strings.HasPrefix(phone, "+") {
		return phone
	}
	return "+86" + phone
}

// national strips +86 for Alibaba, which takes mainland numbers bare.
func national(phone string) string {
	return strings.TrimPrefix(phone, "+86")
}

// ValidPhone reports whether a phone can receive a message: a mainland
// mobile number of 11 digits starting with 1, or +<country><digits>.
func ValidPhone(phone string) bool {
	p := phone
	if strings.HasPrefix(p, "+") {
		p = p[1:]
		if len(p) < 8 || len(p) > 15 {
			return false
		}
	} else if len(p) != 11 || p[0] != '1' {
		return false
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
