package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a live console login.
type Session struct {
	Staff string
	// Fingerprint identifies the staff member's password hash at login
	// (desk/auth.go): a session whose user's hash has changed since ends.
	Fingerprint string
}

// CreateSession records a console login by the SHA-256 of its token: the
// token itself is never stored.
func (s *Store) CreateSession(ctx context.Context, tokenHash string, sess Session, now, expires time.Time) error {
	// Expired sessions are swept on each login, which bounds the table.
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expires_at <= ?`), nanos(now)); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions (token_sha256, staff, fingerprint, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		tokenHash, sess.Staff, sess.Fingerprint, nanos(now), nanos(expires)); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	return nil
}

// SessionStaff returns who holds a live session, or ErrNotFound.
func (s *Store) SessionStaff(ctx context.Context, tokenHash string, now time.Time) (string, error) {
	sess, err := s.Session(ctx, tokenHash, now)
	return sess.Staff, err
}

// Session returns a live session, or ErrNotFound.
func (s *Store) Session(ctx context.Context, tokenHash string, now time.Time) (Session, error) {
	var sess Session
	err := s.db.QueryRowContext(ctx, s.q(`SELECT staff, fingerprint FROM sessions WHERE token_sha256 = ? AND expires_at > ?`),
		tokenHash, nanos(now)).Scan(&sess.Staff, &sess.Fingerprint)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("sessions: %w", err)
	}
	return sess, nil
}

// DeleteSession ends a session (logout).
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE token_sha256 = ?`), tokenHash)
	return err
}

// SavedResponse is the answer given to a POST with an idempotency key, kept
// so that a retry of the same request gets the same answer.
type SavedResponse struct {
	Request string // method, path and SHA-256 of the body
	Status  int    // 0 while the first request with the key is being answered
	Body    string
}

// ErrInProgress is an idempotency key whose first request is still being answered.
var ErrInProgress = errors.New("idempotency key in use by a request still being answered")

// claimAbandoned is how long a claim may stay unanswered before another
// request may take the key over (the desk that claimed it died meanwhile).
const claimAbandoned = 5 * time.Minute

// ClaimIdempotencyKey claims a caller's key for a request before the request
// is acted on, so that of many parallel requests with one key exactly one
// acts: it returns claimed true to that one. The others get the saved answer
// (claimed false; the caller compares saved.Request with its own) or, while
// the first is still being answered, ErrInProgress. principal identifies the
// caller (token or account, and its site): the same key of another caller is
// another key.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, principal, key, request string, now time.Time) (saved SavedResponse, claimed bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `INSERT INTO idempotency_keys (principal, key, request, status, body, created_at)
			VALUES (?, ?, ?, 0, '', ?) ON CONFLICT DO NOTHING`, principal, key, request, nanos(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			claimed = true
			return nil
		}
		var created int64
		if err := s.txQueryRow(ctx, tx, `SELECT request, status, body, created_at FROM idempotency_keys WHERE principal = ? AND key = ?`+s.forUpdate(),
			principal, key).Scan(&saved.Request, &saved.Status, &saved.Body, &created); err != nil {
			return err
		}
		if saved.Status != 0 {
			return nil
		}
		if now.Sub(time.Unix(0, created)) < claimAbandoned {
			return ErrInProgress
		}
		if _, err := s.txExec(ctx, tx, `UPDATE idempotency_keys SET request = ?, created_at = ? WHERE principal = ? AND key = ?`,
			request, nanos(now), principal, key); err != nil {
			return err
		}
		saved, claimed = SavedResponse{}, true
		return nil
	})
	if err != nil && !errors.Is(err, ErrInProgress) {
		err = fmt.Errorf("idempotency key: %w", err)
	}
	return saved, claimed, err
}

// SaveIdempotentResponse keeps the answer of a claimed key.
func (s *Store) SaveIdempotentResponse(ctx context.Context, principal, key string, r SavedResponse) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE idempotency_keys SET status = ?, body = ? WHERE principal = ? AND key = ? AND status = 0`),
		r.Status, r.Body, principal, key); err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey gives a claimed key up unanswered (the request
// failed in a way that may be retried for real).
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, principal, key string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM idempotency_keys WHERE principal = ? AND key = ? AND status = 0`), principal, key); err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}
