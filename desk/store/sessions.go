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
	Status  int
	Body    string
}

// IdempotentResponse returns the answer saved for a principal's key, or ErrNotFound.
func (s *Store) IdempotentResponse(ctx context.Context, principal, key string) (SavedResponse, error) {
	var r SavedResponse
	err := s.db.QueryRowContext(ctx, s.q(`SELECT request, status, body FROM idempotency_keys WHERE principal = ? AND key = ?`),
		principal, key).Scan(&r.Request, &r.Status, &r.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// SaveIdempotentResponse keeps an answer; the first answer saved for a key wins.
func (s *Store) SaveIdempotentResponse(ctx context.Context, principal, key string, r SavedResponse, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO idempotency_keys (principal, key, request, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), principal, key, r.Request, r.Status, r.Body, nanos(now))
	return err
}
