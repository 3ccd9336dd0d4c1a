-- The walking skeleton's schema; IF NOT EXISTS so that desks created before
-- migrations existed carry on from here.
CREATE TABLE IF NOT EXISTS tickets (
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
);
CREATE UNIQUE INDEX IF NOT EXISTS tickets_open_alarm
	ON tickets(alarm_key) WHERE alarm_key <> '' AND status NOT IN ('closed', 'cancelled');
CREATE INDEX IF NOT EXISTS tickets_site_id ON tickets(site, id);
