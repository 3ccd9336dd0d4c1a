-- Inspection rounds (巡检, issue 16 part 4): one row per round that fell
-- due (a route of the desk configuration on a day of the site), holding the
-- route as it was configured then (route_json), so that a printed record
-- stays what was walked; the checkpoint visits that confirm presence (QR
-- scan, manual code, patrol reader over MQTT, the reader's visits also
-- when no round was open), and one result per checklist item, with the
-- ticket that a failed item opened.
CREATE TABLE rounds (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	site         TEXT NOT NULL,
	route        TEXT NOT NULL,
	day          TEXT NOT NULL,
	route_json   TEXT NOT NULL,
	status       TEXT NOT NULL,
	starts_at    BIGINT NOT NULL,
	start_by     BIGINT NOT NULL,
	finish_by    BIGINT NOT NULL,
	started_at   BIGINT,
	started_by   TEXT NOT NULL DEFAULT '',
	finished_at  BIGINT,
	finished_by  TEXT NOT NULL DEFAULT '',
	escalated_at BIGINT,
	missed_ticket BIGINT,
	created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX rounds_route_day ON rounds (site, route, day);
CREATE INDEX rounds_open ON rounds (site, status, finish_by);
CREATE TABLE round_visits (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	site       TEXT NOT NULL,
	round_id   BIGINT,
	checkpoint TEXT NOT NULL,
	at         BIGINT NOT NULL,
	by_name    TEXT NOT NULL,
	method     TEXT NOT NULL,
	reader     TEXT NOT NULL DEFAULT '',
	recorded_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX round_visits_once ON round_visits (site, checkpoint, by_name, reader, at);
CREATE INDEX round_visits_round ON round_visits (round_id, checkpoint);
CREATE INDEX round_visits_recent ON round_visits (site, checkpoint, at);
CREATE TABLE round_results (
	round_id   BIGINT NOT NULL REFERENCES rounds(id),
	checkpoint TEXT NOT NULL,
	item       TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	value      REAL,
	note       TEXT NOT NULL DEFAULT '',
	ticket_id  BIGINT,
	at         BIGINT NOT NULL,
	by_name    TEXT NOT NULL,
	PRIMARY KEY (round_id, checkpoint, item)
);
