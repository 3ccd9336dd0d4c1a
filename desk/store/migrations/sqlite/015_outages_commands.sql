-- Planned outages and commands to gateways (issue 15 parts 3 and 6).
-- An outage is requested by an engineer and approved by a manager; on
-- approval the desk records a notice per affected household (outage_notices)
-- and a maintenance window (maintenance_windows) that the site's gateways
-- receive in the heartbeat's answer. A window is generic (a scope of
-- devices, buildings or a feeder, a start, an end, a cause): maintenance
-- orders put devices in windows the same way. A command to a device is
-- requested, approved (by a manager or a site rule), delivered to its
-- gateway, and its result reported back; command_audit keeps every step.
CREATE TABLE outages (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	site         TEXT NOT NULL,
	feeder       TEXT NOT NULL DEFAULT '',
	buildings    TEXT NOT NULL DEFAULT '[]',
	starts_at    BIGINT NOT NULL,
	ends_at      BIGINT NOT NULL,
	reason       TEXT NOT NULL,
	status       TEXT NOT NULL,
	requested_by TEXT NOT NULL,
	requested_at BIGINT NOT NULL,
	decided_by   TEXT NOT NULL DEFAULT '',
	decided_at   BIGINT,
	decision_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outages_site ON outages (site, starts_at);
CREATE TABLE outage_notices (
	outage_id   BIGINT NOT NULL,
	site        TEXT NOT NULL,
	unit        TEXT NOT NULL,
	building    TEXT NOT NULL DEFAULT '',
	floor       TEXT NOT NULL DEFAULT '',
	channel     TEXT NOT NULL,
	text_zh     TEXT NOT NULL,
	text_en     TEXT NOT NULL,
	told_by     TEXT NOT NULL,
	told_at     BIGINT NOT NULL,
	PRIMARY KEY (outage_id, unit)
);
CREATE TABLE maintenance_windows (
	id         TEXT NOT NULL PRIMARY KEY,
	site       TEXT NOT NULL,
	body       TEXT NOT NULL,
	ends_at    BIGINT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX maintenance_windows_site ON maintenance_windows (site, ends_at);
CREATE TABLE commands (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	site         TEXT NOT NULL,
	gateway      TEXT NOT NULL,
	device       TEXT NOT NULL,
	action       TEXT NOT NULL,
	point        TEXT NOT NULL DEFAULT '',
	value        DOUBLE PRECISION NOT NULL DEFAULT 0,
	reason       TEXT NOT NULL,
	status       TEXT NOT NULL,
	requested_by TEXT NOT NULL,
	requested_at BIGINT NOT NULL,
	approved_by  TEXT NOT NULL DEFAULT '',
	approved_at  BIGINT,
	delivered_at BIGINT,
	result_at    BIGINT,
	outcome      TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX commands_site ON commands (site, id);
CREATE INDEX commands_pending ON commands (site, gateway, status);
CREATE TABLE command_audit (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	command_id BIGINT NOT NULL,
	at         BIGINT NOT NULL,
	actor      TEXT NOT NULL,
	step       TEXT NOT NULL,
	note       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX command_audit_command ON command_audit (command_id, id);
