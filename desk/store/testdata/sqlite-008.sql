-- A desk database as the desk of migration 008 left it (the release before
-- issue 18's migrations), for TestUpgradeFromPreviousRelease: its schema as
-- sqlite_master held it (FTS5 shadow tables left out: the virtual table makes
-- them; its triggers fill it as the rows go in) and its rows as INSERTs. Made by running that desk's store on a fresh
-- file, recording a household with two residents and a meter, an emergency
-- acknowledged with a comment and a gateway's note, a top-up reminder given by
-- phone, a console session and a gateway's heartbeat. Do not regenerate it
-- with a newer desk: it stands for databases already in the field.
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);
CREATE TABLE tickets (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	kind          TEXT NOT NULL,
	priority      TEXT NOT NULL,
	status        TEXT NOT NULL,
	title         TEXT NOT NULL,
	description   TEXT NOT NULL DEFAULT '',
	site          TEXT NOT NULL,
	building      TEXT NOT NULL DEFAULT '',
	floor         TEXT NOT NULL DEFAULT '',
	unit          TEXT NOT NULL DEFAULT '',
	device        TEXT NOT NULL DEFAULT '',
	alarm_key     TEXT NOT NULL DEFAULT '',
	source        TEXT NOT NULL,
	reading_point TEXT,
	reading_value REAL,
	reading_unit  TEXT,
	reading_at    INTEGER,
	created_by    TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
, category TEXT NOT NULL DEFAULT '', reporter TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT '', contact TEXT NOT NULL DEFAULT '', assignee TEXT NOT NULL DEFAULT '', team TEXT NOT NULL DEFAULT '', appointment_at BIGINT, resolution TEXT NOT NULL DEFAULT '', charge_cents BIGINT NOT NULL DEFAULT 0, satisfaction INTEGER NOT NULL DEFAULT 0, follow_up_note TEXT NOT NULL DEFAULT '', escalation_level INTEGER NOT NULL DEFAULT 0, acknowledged_at BIGINT, dispatched_at BIGINT, on_site_at BIGINT, resolved_at BIGINT, followed_up_at BIGINT, closed_at BIGINT, cancelled_at BIGINT, cause TEXT NOT NULL DEFAULT '');
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
CREATE TABLE ticket_comments (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id BIGINT NOT NULL REFERENCES tickets(id),
	at        BIGINT NOT NULL,
	author    TEXT NOT NULL,
	kind      TEXT NOT NULL,
	body      TEXT NOT NULL
);
CREATE TABLE ticket_deadlines (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id BIGINT NOT NULL REFERENCES tickets(id),
	step      TEXT NOT NULL,
	due_at    BIGINT NOT NULL,
	state     TEXT NOT NULL,
	met_at    BIGINT,
	missed_at BIGINT
);
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
CREATE TABLE sessions (
	token_sha256 TEXT PRIMARY KEY,
	staff        TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
, fingerprint TEXT NOT NULL DEFAULT '');
CREATE TABLE idempotency_keys (
	principal  TEXT NOT NULL,
	key        TEXT NOT NULL,
	request    TEXT NOT NULL,
	status     INTEGER NOT NULL,
	body       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (principal, key)
);
CREATE VIRTUAL TABLE tickets_search USING fts5(title, description, content='tickets', content_rowid='id', tokenize='trigram');
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN INSERT INTO tickets_search(rowid, title, description) VALUES (new.id, new.title, new.description); END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN INSERT INTO tickets_search(tickets_search, rowid, title, description) VALUES ('delete', old.id, old.title, old.description); END;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF title, description ON tickets BEGIN INSERT INTO tickets_search(tickets_search, rowid, title, description) VALUES ('delete', old.id, old.title, old.description); INSERT INTO tickets_search(rowid, title, description) VALUES (new.id, new.title, new.description); END;
CREATE TABLE gateway_status (
	gateway     TEXT PRIMARY KEY,
	site        TEXT NOT NULL,
	received_at BIGINT NOT NULL,
	status      TEXT NOT NULL
, token TEXT NOT NULL DEFAULT '');
CREATE TABLE "alarm_actions" (
	principal       TEXT NOT NULL,
	site            TEXT NOT NULL,
	idempotency_key TEXT NOT NULL,
	request         TEXT NOT NULL,
	alarm_key       TEXT NOT NULL,
	action          TEXT NOT NULL,
	ticket_id       BIGINT REFERENCES tickets(id),
	applied_at      BIGINT NOT NULL,
	PRIMARY KEY (principal, idempotency_key)
);
CREATE INDEX tickets_site_id ON tickets(site, id);
CREATE UNIQUE INDEX tickets_open_topup_unit ON tickets(site, unit)
	WHERE kind = 'top_up' AND unit <> '' AND status IN ('new', 'dispatched', 'on_site');
CREATE INDEX tickets_status_id ON tickets(status, id);
CREATE INDEX tickets_kind_id ON tickets(kind, id);
CREATE INDEX ticket_audit_ticket ON ticket_audit(ticket_id, id);
CREATE INDEX ticket_comments_ticket ON ticket_comments(ticket_id, id);
CREATE INDEX ticket_deadlines_ticket ON ticket_deadlines(ticket_id);
CREATE INDEX ticket_deadlines_pending ON ticket_deadlines(due_at) WHERE state = 'pending';
CREATE INDEX residents_unit ON residents(site, unit);
CREATE INDEX reminders_ticket ON reminders(ticket_id, at);
CREATE INDEX notifications_due ON notifications(next_at) WHERE state = 'pending';
CREATE UNIQUE INDEX tickets_open_alarm ON tickets(site, alarm_key)
	WHERE alarm_key <> '' AND status NOT IN ('closed', 'cancelled')
	AND NOT (kind = 'top_up' AND status IN ('resolved', 'followed_up'));
CREATE INDEX alarm_actions_applied ON alarm_actions(applied_at);
CREATE INDEX alarm_actions_legacy ON alarm_actions(idempotency_key, site) WHERE principal = '';
INSERT INTO schema_migrations (version, applied_at) VALUES (1, 1796305368728659736);
INSERT INTO schema_migrations (version, applied_at) VALUES (2, 1796305368733101060);
INSERT INTO schema_migrations (version, applied_at) VALUES (3, 1796305368733846907);
INSERT INTO schema_migrations (version, applied_at) VALUES (4, 1796305368734723739);
INSERT INTO schema_migrations (version, applied_at) VALUES (5, 1796305368735161519);
INSERT INTO schema_migrations (version, applied_at) VALUES (6, 1796305368735483427);
INSERT INTO schema_migrations (version, applied_at) VALUES (7, 1796305368737327224);
INSERT INTO schema_migrations (version, applied_at) VALUES (8, 1796305368737952783);
INSERT INTO tickets (id, kind, priority, status, title, description, site, building, floor, unit, device, alarm_key, source, reading_point, reading_value, reading_unit, reading_at, created_by, created_at, updated_at, category, reporter, phone, contact, assignee, team, appointment_at, resolution, charge_cents, satisfaction, follow_up_note, escalation_level, acknowledged_at, dispatched_at, on_site_at, resolved_at, followed_up_at, closed_at, cancelled_at, cause) VALUES (1, 'emergency', 'P1', 'new', '3号楼电梯困人', '', 'site-a', '3', '', '', 'lift-3', 'site-a/lift/lift-3', 'phone', NULL, NULL, NULL, NULL, 'gw-a', 1795140000000000000, 1795140090000000000, '', '', '', '', '', '', NULL, '', 0, 0, '', 0, 1795140040000000000, NULL, NULL, NULL, NULL, NULL, NULL, '');
INSERT INTO tickets (id, kind, priority, status, title, description, site, building, floor, unit, device, alarm_key, source, reading_point, reading_value, reading_unit, reading_at, created_by, created_at, updated_at, category, reporter, phone, contact, assignee, team, appointment_at, resolution, charge_cents, satisfaction, follow_up_note, escalation_level, acknowledged_at, dispatched_at, on_site_at, resolved_at, followed_up_at, closed_at, cancelled_at, cause) VALUES (2, 'top_up', 'P3', 'new', '电表余额不足', '', 'site-a', '3', '', '3-1201', 'meter-3-1201', 'site-a/low_balance/meter-3-1201', 'phone', 'balance', 3.5, 'CNY', 1795140000000000000, 'gw-a', 1795140000000000000, 1795147200000000000, '', '王芳', '13800138000', 'phone', '', '', NULL, '', 0, 0, '', 0, 1795147200000000000, NULL, NULL, NULL, NULL, NULL, NULL, '');
INSERT INTO ticket_audit (id, ticket_id, at, actor, action, from_status, to_status, note) VALUES (1, 1, 1795140000000000000, 'gw-a', 'created', '', 'new', '3号楼电梯困人');
INSERT INTO ticket_audit (id, ticket_id, at, actor, action, from_status, to_status, note) VALUES (2, 1, 1795140040000000000, 'chen', 'acknowledge', 'new', 'new', '已通知维保');
INSERT INTO ticket_audit (id, ticket_id, at, actor, action, from_status, to_status, note) VALUES (3, 1, 1795140060000000000, 'chen', 'comment', 'new', 'new', '维保 10 分钟到场');
INSERT INTO ticket_audit (id, ticket_id, at, actor, action, from_status, to_status, note) VALUES (4, 2, 1795140000000000000, 'gw-a', 'created', '', 'new', '电表余额不足');
INSERT INTO ticket_audit (id, ticket_id, at, actor, action, from_status, to_status, note) VALUES (5, 2, 1795147200000000000, 'amy', 'reminder', 'new', 'new', 'reminded by phone: 今晚充值');
INSERT INTO ticket_audit (id, ticket_id, at, actor, action, from_status, to_status, note) VALUES (6, 1, 1795140090000000000, 'gw-a', 'gateway_note', 'new', 'new', '仍在困人');
INSERT INTO ticket_comments (id, ticket_id, at, author, kind, body) VALUES (1, 1, 1795140060000000000, 'chen', 'internal', '维保 10 分钟到场');
INSERT INTO ticket_comments (id, ticket_id, at, author, kind, body) VALUES (2, 1, 1795140090000000000, 'gw-a', 'gateway', '仍在困人');
INSERT INTO ticket_deadlines (id, ticket_id, step, due_at, state, met_at, missed_at) VALUES (1, 1, 'acknowledge', 1795140060000000000, 'met', 1795140040000000000, NULL);
INSERT INTO ticket_deadlines (id, ticket_id, step, due_at, state, met_at, missed_at) VALUES (2, 1, 'on_site', 1795140300000000000, 'pending', NULL, NULL);
INSERT INTO ticket_deadlines (id, ticket_id, step, due_at, state, met_at, missed_at) VALUES (3, 2, 'remind', 1795143600000000000, 'met', 1795147200000000000, NULL);
INSERT INTO units (site, unit, building, floor) VALUES ('site-a', '3-1201', '3', '12');
INSERT INTO residents (id, site, unit, name, phone, contact) VALUES (1, 'site-a', '3-1201', '王芳', '13800138000', 'phone');
INSERT INTO residents (id, site, unit, name, phone, contact) VALUES (2, 'site-a', '3-1201', '李强', '13900139000', 'sms');
INSERT INTO unit_meters (site, device, unit) VALUES ('site-a', 'meter-3-1201', '3-1201');
INSERT INTO reminders (id, ticket_id, at, by_name, channel, answer) VALUES (1, 2, 1795147200000000000, 'amy', 'phone', '今晚充值');
INSERT INTO events (id, at, type, site, ticket_id, data) VALUES (1, 1795140000000000000, 'ticket.created', 'site-a', 1, '{"id":1,"kind":"emergency","priority":"P1","status":"new","title":"3号楼电梯困人","site":"site-a","building":"3","device":"lift-3","alarm_key":"site-a/lift/lift-3","source":"phone","created_by":"gw-a","escalation_level":0,"created_at":"2026-11-20T02:00:00Z","updated_at":"2026-11-20T02:00:00Z"}');
INSERT INTO events (id, at, type, site, ticket_id, data) VALUES (2, 1795140040000000000, 'ticket.updated', 'site-a', 1, '{"id":1,"kind":"emergency","priority":"P1","status":"new","title":"3号楼电梯困人","site":"site-a","building":"3","device":"lift-3","alarm_key":"site-a/lift/lift-3","source":"phone","created_by":"gw-a","escalation_level":0,"created_at":"2026-11-20T02:00:00Z","updated_at":"2026-11-20T02:00:40Z","acknowledged_at":"2026-11-20T02:00:40Z"}');
INSERT INTO events (id, at, type, site, ticket_id, data) VALUES (3, 1795140060000000000, 'ticket.comment', 'site-a', 1, '{"id":1,"kind":"emergency","priority":"P1","status":"new","title":"3号楼电梯困人","site":"site-a","building":"3","device":"lift-3","alarm_key":"site-a/lift/lift-3","source":"phone","created_by":"gw-a","escalation_level":0,"created_at":"2026-11-20T02:00:00Z","updated_at":"2026-11-20T02:00:40Z","acknowledged_at":"2026-11-20T02:00:40Z"}');
INSERT INTO events (id, at, type, site, ticket_id, data) VALUES (4, 1795140000000000000, 'ticket.created', 'site-a', 2, '{"id":2,"kind":"top_up","priority":"P3","status":"new","title":"电表余额不足","site":"site-a","building":"3","unit":"3-1201","device":"meter-3-1201","alarm_key":"site-a/low_balance/meter-3-1201","source":"phone","reporter":"王芳","phone":"13800138000","contact":"phone","reading":{"point":"balance","value":3.5,"unit":"CNY","at":"2026-11-20T02:00:00Z"},"created_by":"gw-a","escalation_level":0,"created_at":"2026-11-20T02:00:00Z","updated_at":"2026-11-20T02:00:00Z"}');
INSERT INTO events (id, at, type, site, ticket_id, data) VALUES (5, 1795147200000000000, 'ticket.updated', 'site-a', 2, '{"id":2,"kind":"top_up","priority":"P3","status":"new","title":"电表余额不足","site":"site-a","building":"3","unit":"3-1201","device":"meter-3-1201","alarm_key":"site-a/low_balance/meter-3-1201","source":"phone","reporter":"王芳","phone":"13800138000","contact":"phone","reading":{"point":"balance","value":3.5,"unit":"CNY","at":"2026-11-20T02:00:00Z"},"created_by":"gw-a","escalation_level":0,"created_at":"2026-11-20T02:00:00Z","updated_at":"2026-11-20T02:00:00Z"}');
INSERT INTO events (id, at, type, site, ticket_id, data) VALUES (6, 1795140090000000000, 'ticket.comment', 'site-a', 1, '{"id":1,"kind":"emergency","priority":"P1","status":"new","title":"3号楼电梯困人","site":"site-a","building":"3","device":"lift-3","alarm_key":"site-a/lift/lift-3","source":"phone","created_by":"gw-a","escalation_level":0,"created_at":"2026-11-20T02:00:00Z","updated_at":"2026-11-20T02:01:00Z","acknowledged_at":"2026-11-20T02:00:40Z"}');
INSERT INTO sessions (token_sha256, staff, created_at, expires_at, fingerprint) VALUES ('ab12', 'amy', 1795140000000000000, 1795183200000000000, 'fp');
INSERT INTO alarm_actions (principal, site, idempotency_key, request, alarm_key, action, ticket_id, applied_at) VALUES ('token:gw-a@site-a', 'site-a', 'k-note-1', 'r1', 'site-a/lift/lift-3', 'note', 1, 1795140090000000000);
INSERT INTO gateway_status (gateway, site, received_at, status, token) VALUES ('gw-a-1', 'site-a', 1795140000000000000, '{"gateway":"gw-a-1","site":"site-a","at":"0001-01-01T00:00:00Z","interval":0,"telemetry_backlog":0,"outbox_pending":0,"devices":null}', 'token:gw-a@site-a');
