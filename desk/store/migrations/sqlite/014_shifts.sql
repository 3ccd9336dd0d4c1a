-- The control room's shifts (issue 15, desk/shift): the handover sheet of
-- each shift of a site (what was open at its end, as JSON, with who signed
-- and who accepted it, when, and the keys the incoming operator counted),
-- the duty log's entries (notes, instructions, public-area repairs, and the
-- desk's own events: sheets built, signed, accepted, reminders, keys), and
-- the key register with its loans. At most one loan of a key is open: the
-- unique partial index refuses a key lent twice, whoever retries.
CREATE TABLE duty_sheets (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	site         TEXT NOT NULL,
	shift        TEXT NOT NULL,
	starts_at    BIGINT NOT NULL,
	ends_at      BIGINT NOT NULL,
	built_at     BIGINT NOT NULL,
	built_by     TEXT NOT NULL,
	content      TEXT NOT NULL,
	signed_by    TEXT NOT NULL DEFAULT '',
	signed_at    BIGINT,
	sign_note    TEXT NOT NULL DEFAULT '',
	accepted_by  TEXT NOT NULL DEFAULT '',
	accepted_at  BIGINT,
	accept_note  TEXT NOT NULL DEFAULT '',
	keys_counted INTEGER,
	reminded     INTEGER NOT NULL DEFAULT 0,
	UNIQUE (site, starts_at)
);
CREATE INDEX duty_sheets_open ON duty_sheets (site, ends_at) WHERE accepted_at IS NULL;
CREATE TABLE duty_entries (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	site        TEXT NOT NULL,
	shift_start BIGINT NOT NULL,
	at          BIGINT NOT NULL,
	kind        TEXT NOT NULL,
	body        TEXT NOT NULL,
	author      TEXT NOT NULL
);
CREATE INDEX duty_entries_site_at ON duty_entries (site, at);
CREATE TABLE duty_keys (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	site       TEXT NOT NULL,
	label      TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	UNIQUE (site, label)
);
CREATE TABLE duty_key_loans (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	site        TEXT NOT NULL,
	key_id      BIGINT NOT NULL REFERENCES duty_keys(id),
	borrower    TEXT NOT NULL,
	lent_by     TEXT NOT NULL,
	lent_at     BIGINT NOT NULL,
	due_at      BIGINT NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	returned_at BIGINT,
	returned_to TEXT NOT NULL DEFAULT '',
	notified_at BIGINT
);
CREATE UNIQUE INDEX duty_key_loans_out ON duty_key_loans (key_id) WHERE returned_at IS NULL;
CREATE INDEX duty_key_loans_site ON duty_key_loans (site, lent_at);
