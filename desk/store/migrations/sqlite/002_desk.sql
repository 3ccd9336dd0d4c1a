-- The service desk: lifecycle fields, audit trail, comments, deadlines,
-- households, reminders, events for consoles, the notification outbox,
-- sessions and idempotency keys. Times are Unix nanoseconds.
ALTER TABLE tickets ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN reporter TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN contact TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN appointment_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN charge_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN satisfaction INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN follow_up_note TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN acknowledged_at BIGINT;
ALTER TABLE tickets ADD COLUMN dispatched_at BIGINT;
ALTER TABLE tickets ADD COLUMN on_site_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolved_at BIGINT;
ALTER TABLE tickets ADD COLUMN followed_up_at BIGINT;
ALTER TABLE tickets ADD COLUMN closed_at BIGINT;
ALTER TABLE tickets ADD COLUMN cancelled_at BIGINT;

-- A top-up reminder's episode ends when the balance is back (resolved), so a
-- resolved reminder no longer holds its alarm key; other tickets hold it until
-- people close or cancel them.
DROP INDEX tickets_open_alarm;
CREATE UNIQUE INDEX tickets_open_alarm ON tickets(alarm_key)
	WHERE alarm_key <> '' AND status NOT IN ('closed', 'cancelled')
	AND NOT (kind = 'top_up' AND status IN ('resolved', 'followed_up'));
-- One open reminder per household per low-balance episode.
CREATE UNIQUE INDEX tickets_open_topup_unit ON tickets(site, unit)
	WHERE kind = 'top_up' AND unit <> '' AND status IN ('new', 'dispatched', 'on_site');
CREATE INDEX tickets_status_id ON tickets(status, id);
CREATE INDEX tickets_kind_id ON tickets(kind, id);

CREATE TABLE ticket_audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
	at          BIGINT NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	from_status TEXT NOT NULL DEFAULT '',
	to_status   TEXT NOT NULL DEFAULT '',
	note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_audit_ticket ON ticket_audit(ticket_id, id);

CREATE TABLE ticket_comments (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id BIGINT NOT NULL REFERENCES tickets(id),
	at        BIGINT NOT NULL,
	author    TEXT NOT NULL,
	kind      TEXT NOT NULL,
	body      TEXT NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments(ticket_id, id);

CREATE TABLE ticket_deadlines (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id BIGINT NOT NULL REFERENCES tickets(id),
	step      TEXT NOT NULL,
	due_at    BIGINT NOT NULL,
	state     TEXT NOT NULL,
	met_at    BIGINT,
	missed_at BIGINT
);
CREATE INDEX ticket_deadlines_ticket ON ticket_deadlines(ticket_id);
CREATE INDEX ticket_deadlines_pending ON ticket_deadlines(due_at) WHERE state = 'pending';

CREATE TABLE units (
	site     TEXT NOT NULL,
	unit     TEXT NOT NULL,
	building TEXT NOT NULL DEFAULT '',
	floor    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (site, unit)
);
CREATE TABLE residents (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	site    TEXT NOT NULL,
	unit    TEXT NOT NULL,
	name    TEXT NOT NULL,
	phone   TEXT NOT NULL DEFAULT '',
	contact TEXT NOT NULL DEFAULT 'phone',
	FOREIGN KEY (site, unit) REFERENCES units(site, unit) ON DELETE CASCADE
);
CREATE INDEX residents_unit ON residents(site, unit);
CREATE TABLE unit_meters (
	site   TEXT NOT NULL,
	device TEXT NOT NULL,
	unit   TEXT NOT NULL,
	PRIMARY KEY (site, device),
	FOREIGN KEY (site, unit) REFERENCES units(site, unit) ON DELETE CASCADE
);

CREATE TABLE reminders (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id BIGINT NOT NULL REFERENCES tickets(id),
	at        BIGINT NOT NULL,
	by_name   TEXT NOT NULL,
	channel   TEXT NOT NULL,
	answer    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reminders_ticket ON reminders(ticket_id, at);

CREATE TABLE events (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at        BIGINT NOT NULL,
	type      TEXT NOT NULL,
	site      TEXT NOT NULL,
	ticket_id BIGINT NOT NULL DEFAULT 0,
	data      TEXT NOT NULL
);

CREATE TABLE notifications (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	created_at BIGINT NOT NULL,
	channel    TEXT NOT NULL,
	ticket_id  BIGINT NOT NULL,
	event      TEXT NOT NULL,
	level      TEXT NOT NULL,
	title      TEXT NOT NULL,
	body       TEXT NOT NULL,
	state      TEXT NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    BIGINT NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	sent_at    BIGINT
);
CREATE INDEX notifications_due ON notifications(next_at) WHERE state = 'pending';

CREATE TABLE sessions (
	token_sha256 TEXT PRIMARY KEY,
	staff        TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
	principal  TEXT NOT NULL,
	key        TEXT NOT NULL,
	request    TEXT NOT NULL,
	status     INTEGER NOT NULL,
	body       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (principal, key)
);
