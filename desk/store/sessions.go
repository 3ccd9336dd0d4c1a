package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

// LoginFailure is one limited key's failed logins within a login window.
type LoginFailure struct {
	Count       int
	First, Last time.Time
}

// LoginFailures returns the failures still within window of now of the
// given keys (a key without any is absent). Several desks on one database
// count together, so that a limit holds whichever desk is asked.
func (s *Store) LoginFailures(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]LoginFailure, error) {
	out := map[string]LoginFailure{}
	if len(keys) == 0 {
		return out, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	args := []any{nanos(now.Add(-window))}
	for _, k := range keys {
		args = append(args, k)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT key, count, first_at, last_at FROM login_failures WHERE last_at > ? AND key IN (`+marks+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("login failures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var f LoginFailure
		var first, last int64
		if err := rows.Scan(&k, &f.Count, &first, &last); err != nil {
			return nil, fmt.Errorf("login failures: %w", err)
		}
		f.First, f.Last = time.Unix(0, first), time.Unix(0, last)
		out[k] = f
	}
	return out, rows.Err()
}

// AddLoginFailure counts one failure for each key, in one transaction: a
// key whose last failure is a window old, or whose count began a window
// ago, starts again at one. Keys a window past their last failure are
// deleted on the way, which bounds the table by the failures of one window.
func (s *Store) AddLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `DELETE FROM login_failures WHERE last_at <= ?`, nanos(now.Add(-window))); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := s.txExec(ctx, tx, `INSERT INTO login_failures (key, count, first_at, last_at) VALUES (?, 1, ?, ?)
				ON CONFLICT (key) DO UPDATE SET
					count = CASE WHEN excluded.first_at - login_failures.first_at >= ? THEN 1 ELSE login_failures.count + 1 END,
					first_at = CASE WHEN excluded.first_at - login_failures.first_at >= ? THEN excluded.first_at ELSE login_failures.first_at END,
					last_at = excluded.last_at`,
				k, nanos(now), nanos(now), int64(window), int64(window)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("login failures: %w", err)
	}
	return nil
}

// ForgetLoginFailures deletes the keys' failures (a successful login).
func (s *Store) ForgetLoginFailures(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM login_failures WHERE key IN (`+marks+`)`), args...); err != nil {
		return fmt.Errorf("login failures: %w", err)
	}
	return nil
}
