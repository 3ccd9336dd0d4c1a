-- Assistants' areas, residents' data seen by those who need it, and SMS
-- reminders (issue 15 parts 4, 5, 7).
--
-- An area groups a site's households, by building or by listed unit, under
-- one assistant (客服助理按区域划分). A building or a unit is in one area of its
-- site at most; a listed unit wins over its building's area.
CREATE TABLE areas (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	site       TEXT NOT NULL,
	name       TEXT NOT NULL,
	assistant  TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (site, name)
);
CREATE TABLE area_members (
	area_id BIGINT NOT NULL REFERENCES areas(id) ON DELETE CASCADE,
	site    TEXT NOT NULL,
	kind    TEXT NOT NULL, -- building or unit
	value   TEXT NOT NULL,
	PRIMARY KEY (site, kind, value)
);
CREATE INDEX area_members_area ON area_members(area_id);
-- The area and its assistant that a ticket of a household belongs to: the
-- assistant owns the case (the top-up reminder, the household's repair)
-- until it closes; reassigning the area moves its open cases.
CREATE TABLE area_tickets (
	ticket_id BIGINT PRIMARY KEY REFERENCES tickets(id),
	site      TEXT NOT NULL,
	area_id   BIGINT NOT NULL,
	assistant TEXT NOT NULL
);
CREATE INDEX area_tickets_area ON area_tickets(area_id);
CREATE INDEX area_tickets_assistant ON area_tickets(assistant);

-- Every view of a resident's unmasked phone or of a household record: who,
-- when, which, why.
CREATE TABLE access_log (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at         BIGINT NOT NULL,
	site       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	role       TEXT NOT NULL,
	subject    TEXT NOT NULL, -- ticket, unit, households
	subject_id TEXT NOT NULL,
	unit       TEXT NOT NULL DEFAULT '',
	what       TEXT NOT NULL, -- phone or household
	reason     TEXT NOT NULL,
	route      TEXT NOT NULL,
	request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_site_at ON access_log(site, at);

-- Households that asked for no text messages.
CREATE TABLE sms_optouts (
	site    TEXT NOT NULL,
	unit    TEXT NOT NULL,
	at      BIGINT NOT NULL,
	by_name TEXT NOT NULL,
	note    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (site, unit)
);
-- Text messages sent; at most one per household and site-local day that
-- did not fail (the index), whoever asks and however often.
CREATE TABLE sms_messages (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	site        TEXT NOT NULL,
	unit        TEXT NOT NULL,
	day         TEXT NOT NULL,
	ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
	phone       TEXT NOT NULL,
	provider    TEXT NOT NULL,
	template_id TEXT NOT NULL,
	params      TEXT NOT NULL,
	status      TEXT NOT NULL, -- sending, sent, delivered, undelivered, failed
	provider_id TEXT NOT NULL DEFAULT '',
	code        TEXT NOT NULL DEFAULT '',
	detail      TEXT NOT NULL DEFAULT '',
	by_name     TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX sms_messages_daily ON sms_messages(site, unit, day) WHERE status <> 'failed';
CREATE INDEX sms_messages_ticket ON sms_messages(ticket_id);
CREATE INDEX sms_messages_pending ON sms_messages(site, status) WHERE status = 'sent';
