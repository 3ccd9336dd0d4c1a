package desk

// Top-up reminders that reach residents by text message (issue 15 part 7):
// the desk sends the site's approved template through the site's SMS
// channel (desk/sms), at most once per household per site-local day, never
// to a household that opted out, never in the site's quiet hours; the
// message is recorded on the ticket as a reminder when the provider accepts
// it, and its delivery receipt is recorded on the ticket when the provider
// reports it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/sms"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// smsChannel is one site's configured channel and its sender.
type smsChannel struct {
	cfg    sms.Config
	sender sms.Sender
}

// newSMSChannels builds the configured channels; a channel that cannot be
// built (estate check reports why) is left out and logged without secrets.
func (s *Server) newSMSChannels() map[string]smsChannel {
	out := map[string]smsChannel{}
	for _, c := range s.cfg.SMS {
		snd, err := sms.New(c, s.smsClient, func() time.Time { return s.now() })
		if err != nil {
			s.log.Error("sms channel left out", "channel", c, "err", err)
			continue
		}
		out[c.Site] = smsChannel{cfg: c, sender: snd}
	}
	return out
}

// WithSMSClient sets the HTTP client of the SMS channels (tests: loopback).
func WithSMSClient(c *http.Client) Option { return func(s *Server) { s.smsClient = c } }

// smsValues fills a template's parameters from the ticket; a value the
// ticket does not have is an error naming it, and nothing is sent.
func (s *Server) smsValues(ch sms.Config, t wire.Ticket) ([]sms.Param, error) {
	out := make([]sms.Param, len(ch.Params))
	for i, p := range ch.Params {
		var v string
		switch p.Value {
		case "unit":
			v = t.Unit
		case "building":
			v = t.Building
		case "site_name":
			v = s.siteName(t.Site)
		case "resident":
			v = t.Reporter
		case "meter_kind":
			v = map[string]string{"water": "水", "meter": "电", "": "电"}[t.Category]
		case "balance":
			if t.Reading != nil {
				v = strconv.FormatFloat(t.Reading.Value, 'f', 2, 64)
			}
		}
		if v == "" {
			return nil, fieldError(fmt.Sprintf("template.params[%d]", i),
				fmt.Sprintf("the template %s needs %s (parameter %q), which ticket %d does not have", ch.TemplateID, p.Value, p.Name, t.ID))
		}
		out[i] = sms.Param{Name: p.Name, Value: v}
	}
	return out, nil
}

// sendSMS is POST /api/v1/tickets/{id}/sms: send the household its top-up
// reminder by text message now.
func (s *Server) sendSMS(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var body struct{}
	if c.Request().ContentLength > 0 {
		if err := decode(c, &body); err != nil {
			return err
		}
	}
	ch, ok := s.sms[t.Site]
	if !ok {
		return apiError(http.StatusConflict, fmt.Sprintf("site %s has no SMS channel", t.Site), "configure desk.sms for the site (see docs/sms.md)")
	}
	if t.Kind != wire.TopUp || !workOpen(t.Status) {
		return apiError(http.StatusConflict, fmt.Sprintf("ticket %d is a %s ticket that is %s", t.ID, t.Kind, t.Status), "text messages remind households of open top-up tickets")
	}
	if t.Unit == "" {
		return fieldError("unit", fmt.Sprintf("ticket %d names no household: a message goes to a household's resident", t.ID))
	}
	// The ticket's phone, else the first mobile number among the household's residents.
	phone := t.Phone
	if !sms.ValidPhone(phone) {
		if u, err := s.store.GetUnit(c.Request().Context(), t.Site, t.Unit); err == nil {
			for _, r := range u.Residents {
				if sms.ValidPhone(r.Phone) {
					phone = r.Phone
					break
				}
			}
		}
	}
	if !sms.ValidPhone(phone) {
		return fieldError("phone", fmt.Sprintf("household %s has no mobile number to text (a mainland mobile number of 11 digits, or +<country><number>)", t.Unit))
	}
	params, err := s.smsValues(ch.cfg, t)
	if err != nil {
		return err
	}
	now := s.now()
	loc := s.siteLocation(t.Site)
	if quiet, until := ch.cfg.Quiet(now.In(loc)); quiet {
		return echo.NewHTTPError(http.StatusConflict, apiErr{Error: fmt.Sprintf("quiet hours (%s) on site %s: no text messages until %s",
			quietText(ch.cfg.QuietHours), t.Site, until.Format("2006-01-02 15:04")), Hint: "send it after the quiet hours, or phone the household"})
	}
	raw, _ := json.Marshal(params)
	p := principal(c)
	m, err := s.store.ClaimSMS(c.Request().Context(), store.SMSMessage{Site: t.Site, Unit: t.Unit, Day: now.In(loc).Format("2006-01-02"),
		TicketID: t.ID, Phone: phone, Provider: ch.cfg.Provider, TemplateID: ch.cfg.TemplateID, Params: string(raw), By: p.Name}, now)
	switch {
	case errors.Is(err, store.ErrOptedOut):
		return apiError(http.StatusConflict, fmt.Sprintf("household %s asked for no text messages", t.Unit), "phone or visit instead")
	case errors.Is(err, store.ErrSMSToday):
		return apiError(http.StatusConflict, fmt.Sprintf("household %s has had its text message today (message %d, %s)", t.Unit, m.ID, m.Status),
			"at most one message per household per day")
	case errors.Is(err, store.ErrNotTopUp):
		return apiError(http.StatusConflict, err.Error(), "")
	case err != nil:
		return err
	}
	sent, sendErr := ch.sender.Send(c.Request().Context(), sms.Message{Phone: phone, SignName: ch.cfg.SignName, TemplateID: ch.cfg.TemplateID,
		Params: params, OutID: strconv.FormatInt(m.ID, 10)})
	if sendErr != nil {
		code := "unreachable"
		var pe *sms.ProviderError
		if errors.As(sendErr, &pe) {
			code = pe.Code
		}
		// Recorded on its own context: the caller going away must not leave it "sending".
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 10*time.Second)
		defer cancel()
		if err := s.store.SMSFailed(ctx, m.ID, code, sendErr.Error(), s.now()); err != nil {
			return err
		}
		s.hub.publish()
		s.metrics.smsSent.WithLabelValues(ch.cfg.Provider, "failed").Inc()
		s.log.Warn("sms not sent", "ticket", t.ID, "provider", ch.cfg.Provider, "code", code, "err", sendErr, "request_id", requestID(c))
		return apiError(http.StatusBadGateway, fmt.Sprintf("%s did not send the message: %s", ch.cfg.Provider, code), "see the ticket's audit; try again or phone the household")
	}
	m, err = s.store.SMSSent(context.WithoutCancel(c.Request().Context()), m.ID, sent.ProviderID, s.now())
	if err != nil {
		return err
	}
	s.hub.publish()
	s.metrics.smsSent.WithLabelValues(ch.cfg.Provider, "sent").Inc()
	s.log.Info("sms sent", "ticket", t.ID, "message", m.ID, "provider", ch.cfg.Provider, "by", p.Name, "request_id", requestID(c))
	return c.JSON(http.StatusCreated, s.smsView(p, t, m))
}

func quietText(q string) string {
	if q == "" {
		return "21:00-08:00"
	}
	return q
}

// smsView masks a message's phone as the ticket's phone is masked.
func (s *Server) smsView(p Principal, t wire.Ticket, m store.SMSMessage) store.SMSMessage {
	t.Phone = m.Phone
	m.Phone = p.ticketView(t).Phone
	return m
}

// ticketSMS is GET /api/v1/tickets/{id}/sms: the ticket's messages and their receipts.
func (s *Server) ticketSMS(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	ms, err := s.store.TicketSMS(c.Request().Context(), t.ID)
	if err != nil {
		return err
	}
	p := principal(c)
	var log []store.Access
	for i, m := range ms {
		ms[i] = s.smsView(p, t, m)
		if phoneShown(m.Phone, ms[i].Phone) {
			log = append(log, s.access(c, t.Site, "ticket", strconv.FormatInt(t.ID, 10), t.Unit, "phone", "text messages"))
		}
	}
	if err := s.store.LogAccess(c.Request().Context(), log); err != nil {
		return err
	}
	_, enabled := s.sms[t.Site]
	return c.JSON(http.StatusOK, map[string]any{"messages": ms, "channel": enabled})
}

// putOptOut is PUT /api/v1/units/{site}/{unit}/sms: {"opt_out": true,
// "note": "…"} records that the household wants no text messages; false withdraws it.
func (s *Server) putOptOut(c echo.Context) error {
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	var b struct {
		OptOut *bool  `json:"opt_out"`
		Note   string `json:"note"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.OptOut == nil {
		return fieldError("opt_out", "required: true (no text messages) or false")
	}
	if len(b.Note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	unit := c.Param("unit")
	if _, err := s.store.GetUnit(c.Request().Context(), site, unit); errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusNotFound, fmt.Sprintf("no unit %s on site %s", unit, site), "")
	} else if err != nil {
		return err
	}
	o := store.SMSOptOut{Site: site, Unit: unit, At: s.now(), By: principal(c).Name, Note: strings.TrimSpace(b.Note)}
	if err := s.store.SetSMSOptOut(c.Request().Context(), o, *b.OptOut); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"site": site, "unit": unit, "opt_out": *b.OptOut})
}

// listOptOuts is GET /api/v1/sms/optouts?site=…
func (s *Server) listOptOuts(c echo.Context) error {
	p := principal(c)
	site := c.QueryParam("site")
	if p.Site != "" {
		if site != "" && site != p.Site {
			return apiError(http.StatusForbidden, "this account may list its own site only", "")
		}
		site = p.Site
	}
	if site == "" {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "site: required", Field: "site"})
	}
	os, err := s.store.SMSOptOuts(c.Request().Context(), site)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"optouts": os})
}

// runReceipts fetches the delivery receipts of each site's sent messages
// every channel's receipt_interval until ctx ends.
func (s *Server) runReceipts(ctx context.Context) {
	if len(s.sms) == 0 {
		return
	}
	interval := time.Minute
	for _, ch := range s.sms {
		if ch.cfg.ReceiptInterval > 0 && ch.cfg.ReceiptInterval < interval {
			interval = ch.cfg.ReceiptInterval
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for site := range s.sms {
				if _, err := s.pollReceipts(ctx, site); err != nil && ctx.Err() == nil {
					s.log.Warn("sms receipts", "site", site, "err", err)
				}
			}
		}
	}
}

// pollReceipts fetches one site's receipts once and records them; it
// returns how many were recorded.
func (s *Server) pollReceipts(ctx context.Context, site string) (int, error) {
	ch, ok := s.sms[site]
	if !ok {
		return 0, nil
	}
	pending, err := s.store.PendingSMS(ctx, site, 100)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	sent := make([]sms.Sent, len(pending))
	for i, m := range pending {
		sent[i] = sms.Sent{ProviderID: m.ProviderID, Phone: m.Phone, At: m.UpdatedAt}
	}
	rs, err := ch.sender.Receipts(ctx, sent)
	n := 0
	for _, r := range rs {
		found, rerr := s.store.SMSReceipt(ctx, site, r.ProviderID, r.Delivered, r.Code, r.Description, s.now())
		if rerr != nil {
			return n, rerr
		}
		if found {
			n++
			state := "delivered"
			if !r.Delivered {
				state = "undelivered"
			}
			s.metrics.smsSent.WithLabelValues(ch.cfg.Provider, state).Inc()
		}
	}
	if n > 0 {
		s.hub.publish()
	}
	return n, err
}
