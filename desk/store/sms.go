package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// SMSMessage is one text message to a household about its top-up ticket.
type SMSMessage struct {
	ID       int64  `json:"id"`
	Site     string `json:"site"`
	Unit     string `json:"unit"`
	Day      string `json:"day"` // the site-local date it counts against
	TicketID int64  `json:"ticket_id"`
	// Phone is the number it went to (masked in answers like any phone).
	Phone      string `json:"phone"`
	Provider   string `json:"provider"`
	TemplateID string `json:"template_id"`
	// Params are the template's parameters as sent, JSON.
	Params string `json:"params"`
	// Status: sending, sent (accepted by the provider), delivered,
	// undelivered (the operator's report), failed (not accepted).
	Status     string     `json:"status"`
	ProviderID string     `json:"provider_id,omitempty"`
	Code       string     `json:"code,omitempty"`
	Detail     string     `json:"detail,omitempty"`
	By         string     `json:"by"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ReceiptAt  *time.Time `json:"receipt_at,omitempty"`
}

// ErrSMSToday is a second message to a household on one day.
var ErrSMSToday = errors.New("this household has had its text message today")

// ErrOptedOut is a message to a household that asked for none.
var ErrOptedOut = errors.New("this household asked for no text messages")

const smsColumns = `id, site, unit, day, ticket_id, phone, provider, template_id, params, status, provider_id, code, detail, by_name, created_at, updated_at`

func scanSMS(r scanner) (SMSMessage, error) {
	var m SMSMessage
	var c, u int64
	err := r.Scan(&m.ID, &m.Site, &m.Unit, &m.Day, &m.TicketID, &m.Phone, &m.Provider, &m.TemplateID, &m.Params, &m.Status,
		&m.ProviderID, &m.Code, &m.Detail, &m.By, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return m, ErrNotFound
	}
	m.CreatedAt, m.UpdatedAt = time.Unix(0, c), time.Unix(0, u)
	if m.Status == "delivered" || m.Status == "undelivered" {
		at := m.UpdatedAt
		m.ReceiptAt = &at
	}
	return m, err
}

// ClaimSMS reserves the day's message of a household before it is handed
// to the provider: the ticket must be an open top-up reminder of that
// household, the household must not have opted out, and no message that
// did not fail may exist for it that day (ErrSMSToday, with that message).
func (s *Store) ClaimSMS(ctx context.Context, m SMSMessage, now time.Time) (SMSMessage, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.forUpdate(), m.TicketID))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", m.TicketID, err)
		}
		if t.Kind != wire.TopUp || (t.Status != wire.New && t.Status != wire.Dispatched && t.Status != wire.OnSite) {
			return fmt.Errorf("ticket %d is a %s ticket that is %s: %w", t.ID, t.Kind, t.Status, ErrNotTopUp)
		}
		var n int
		if err := s.txQueryRow(ctx, tx, `SELECT COUNT(*) FROM sms_optouts WHERE site = ? AND unit = ?`, m.Site, m.Unit).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrOptedOut
		}
		m.Status, m.CreatedAt, m.UpdatedAt = "sending", now, now
		err = s.txQueryRow(ctx, tx, `INSERT INTO sms_messages (site, unit, day, ticket_id, phone, provider, template_id, params, status, by_name, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
			m.Site, m.Unit, m.Day, m.TicketID, m.Phone, m.Provider, m.TemplateID, m.Params, m.Status, m.By, nanos(now), nanos(now)).Scan(&m.ID)
		if errors.Is(err, sql.ErrNoRows) {
			prev, perr := scanSMS(s.txQueryRow(ctx, tx, `SELECT `+smsColumns+` FROM sms_messages WHERE site = ? AND unit = ? AND day = ? AND status <> 'failed'`,
				m.Site, m.Unit, m.Day))
			if perr != nil {
				return perr
			}
			m = prev
			return ErrSMSToday
		}
		return err
	})
	if err != nil {
		return m, fmt.Errorf("sms to %s/%s: %w", m.Site, m.Unit, err)
	}
	return m, nil
}

// SMSSent records that the provider accepted a message: the message, and
// the ticket's reminder (which meets its remind deadline) with its audit
// entry and event, in one transaction.
func (s *Store) SMSSent(ctx context.Context, id int64, providerID string, now time.Time) (SMSMessage, error) {
	var m SMSMessage
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = scanSMS(s.txQueryRow(ctx, tx, `SELECT `+smsColumns+` FROM sms_messages WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, `UPDATE sms_messages SET status = 'sent', provider_id = ?, updated_at = ? WHERE id = ?`, providerID, nanos(now), id); err != nil {
			return err
		}
		m.Status, m.ProviderID, m.UpdatedAt = "sent", providerID, now
		_, err = s.addReminderTx(ctx, tx, Reminder{TicketID: m.TicketID, At: now, By: m.By, Channel: "sms",
			Answer: fmt.Sprintf("text message %d accepted by %s (template %s)", m.ID, m.Provider, m.TemplateID)})
		return err
	})
	if err != nil {
		return m, fmt.Errorf("sms %d sent: %w", id, err)
	}
	return m, nil
}

// SMSFailed records that the provider refused a message or could not be
// reached: the day's message is free again, and the ticket's audit says why.
func (s *Store) SMSFailed(ctx context.Context, id int64, code, detail string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := scanSMS(s.txQueryRow(ctx, tx, `SELECT `+smsColumns+` FROM sms_messages WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, `UPDATE sms_messages SET status = 'failed', code = ?, detail = ?, updated_at = ? WHERE id = ?`,
			code, clipText(detail, 500), nanos(now), id); err != nil {
			return err
		}
		return s.smsAudit(ctx, tx, m.TicketID, now, m.By, "sms_failed", fmt.Sprintf("text message %d not sent by %s: %s %s", m.ID, m.Provider, code, clipText(detail, 300)))
	})
	if err != nil {
		return fmt.Errorf("sms %d failed: %w", id, err)
	}
	return nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// smsAudit adds an audit entry and a ticket.updated event to a ticket.
func (s *Store) smsAudit(ctx context.Context, tx *sql.Tx, ticketID int64, now time.Time, by, action, note string) error {
	t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, ticketID))
	if err != nil {
		return err
	}
	if err := s.audit(ctx, tx, ticketID, now, by, action, t.Status, t.Status, note); err != nil {
		return err
	}
	if _, err := s.txExec(ctx, tx, `UPDATE tickets SET updated_at = ? WHERE id = ?`, nanos(now), ticketID); err != nil {
		return err
	}
	t.UpdatedAt = now
	return s.event(ctx, tx, now, "ticket.updated", t)
}

// PendingSMS lists a site's messages accepted and not yet reported on.
func (s *Store) PendingSMS(ctx context.Context, site string, limit int) ([]SMSMessage, error) {
	return s.listSMS(ctx, `WHERE site = ? AND status = 'sent' ORDER BY id LIMIT `+fmt.Sprint(limit), site)
}

// TicketSMS lists the messages of a ticket, oldest first.
func (s *Store) TicketSMS(ctx context.Context, ticketID int64) ([]SMSMessage, error) {
	return s.listSMS(ctx, `WHERE ticket_id = ? ORDER BY id`, ticketID)
}

func (s *Store) listSMS(ctx context.Context, where string, args ...any) ([]SMSMessage, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+smsColumns+` FROM sms_messages `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("sms messages: %w", err)
	}
	defer rows.Close()
	out := []SMSMessage{}
	for rows.Next() {
		m, err := scanSMS(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SMSReceipt records a delivery report on its message and its ticket (an
// audit entry and an event); a report of a message already reported, or of
// none of the site's, changes nothing (found false).
func (s *Store) SMSReceipt(ctx context.Context, site, providerID string, delivered bool, code, detail string, now time.Time) (bool, error) {
	found := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := scanSMS(s.txQueryRow(ctx, tx, `SELECT `+smsColumns+` FROM sms_messages WHERE site = ? AND provider_id = ? AND status = 'sent'`+s.forUpdate(), site, providerID))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		status, action, verb := "delivered", "sms_delivered", "delivered"
		if !delivered {
			status, action, verb = "undelivered", "sms_undelivered", "not delivered"
		}
		if _, err := s.txExec(ctx, tx, `UPDATE sms_messages SET status = ?, code = ?, detail = ?, updated_at = ? WHERE id = ?`,
			status, code, clipText(detail, 500), nanos(now), m.ID); err != nil {
			return err
		}
		note := fmt.Sprintf("text message %d %s (%s report: %s", m.ID, verb, m.Provider, code)
		if detail != "" {
			note += " " + clipText(detail, 200)
		}
		return s.smsAudit(ctx, tx, m.TicketID, now, "desk", action, note+")")
	})
	if err != nil {
		return false, fmt.Errorf("sms receipt %s: %w", providerID, err)
	}
	return found, nil
}

// SMSOptOut is a household that asked for no text messages.
type SMSOptOut struct {
	Site string    `json:"site"`
	Unit string    `json:"unit"`
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Note string    `json:"note,omitempty"`
}

// SetSMSOptOut records (optOut true) or withdraws a household's opt-out.
func (s *Store) SetSMSOptOut(ctx context.Context, o SMSOptOut, optOut bool) error {
	var err error
	if optOut {
		_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO sms_optouts (site, unit, at, by_name, note) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (site, unit) DO UPDATE SET at = excluded.at, by_name = excluded.by_name, note = excluded.note`), o.Site, o.Unit, nanos(o.At), o.By, o.Note)
	} else {
		_, err = s.db.ExecContext(ctx, s.q(`DELETE FROM sms_optouts WHERE site = ? AND unit = ?`), o.Site, o.Unit)
	}
	if err != nil {
		return fmt.Errorf("sms opt-out %s/%s: %w", o.Site, o.Unit, err)
	}
	return nil
}

// SMSOptOuts lists a site's opted-out households.
func (s *Store) SMSOptOuts(ctx context.Context, site string) ([]SMSOptOut, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT site, unit, at, by_name, note FROM sms_optouts WHERE site = ? ORDER BY unit`), site)
	if err != nil {
		return nil, fmt.Errorf("sms opt-outs: %w", err)
	}
	defer rows.Close()
	out := []SMSOptOut{}
	for rows.Next() {
		var o SMSOptOut
		var at int64
		if err := rows.Scan(&o.Site, &o.Unit, &at, &o.By, &o.Note); err != nil {
			return nil, err
		}
		o.At = time.Unix(0, at)
		out = append(out, o)
	}
	return out, rows.Err()
}
