-- Issue 14 parts 3-5: the owner (受理人) who answers for a case to the end,
-- separate from its assignee; the reply to the resident (the result, or an
-- explanation and a committed reply time); the weekly calls of a long case;
-- and the incident report (突发事件处理表) an emergency closes with.
-- Existing tickets are owned by whoever created them.
ALTER TABLE tickets ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE tickets SET owner = created_by;
ALTER TABLE tickets ADD COLUMN replied_at BIGINT;
ALTER TABLE tickets ADD COLUMN reply_note TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN reply_committed_at BIGINT;
CREATE INDEX tickets_site_owner ON tickets(site, owner, id);

CREATE TABLE ticket_calls (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id BIGINT NOT NULL REFERENCES tickets(id),
	at        BIGINT NOT NULL,
	by_name   TEXT NOT NULL,
	note      TEXT NOT NULL CHECK (note <> '')
);
CREATE INDEX ticket_calls_ticket ON ticket_calls(ticket_id, id);

-- One report per ticket. The checks keep each state's fields filled: a
-- submitted, approved or returned report has every section and its
-- submitter; a decided one its manager; a returned one the reason.
CREATE TABLE incident_reports (
	ticket_id     BIGINT PRIMARY KEY REFERENCES tickets(id),
	state         TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'approved', 'returned')),
	what_happened TEXT NOT NULL DEFAULT '',
	cause         TEXT NOT NULL DEFAULT '',
	measures      TEXT NOT NULL DEFAULT '',
	result        TEXT NOT NULL DEFAULT '',
	people        TEXT NOT NULL DEFAULT '',
	updated_by    TEXT NOT NULL,
	updated_at    BIGINT NOT NULL,
	submitted_by  TEXT NOT NULL DEFAULT '',
	submitted_at  BIGINT,
	decided_by    TEXT NOT NULL DEFAULT '',
	decided_at    BIGINT,
	decision_note TEXT NOT NULL DEFAULT '',
	CHECK (state = 'draft' OR (submitted_by <> '' AND submitted_at IS NOT NULL AND what_happened <> '' AND cause <> ''
		AND measures <> '' AND result <> '' AND people <> '')),
	CHECK (state NOT IN ('approved', 'returned') OR (decided_by <> '' AND decided_at IS NOT NULL)),
	CHECK (state <> 'returned' OR decision_note <> '')
);
-- The report's own lifecycle: draft or returned → draft or submitted;
-- submitted → approved or returned; approved is final.
CREATE TRIGGER incident_reports_state BEFORE UPDATE ON incident_reports WHEN NOT ((old.state IN ('draft', 'returned') AND new.state IN ('draft', 'submitted')) OR (old.state = 'submitted' AND new.state IN ('approved', 'returned'))) BEGIN SELECT RAISE(ABORT, 'incident report: a change from this state is not allowed'); END;
CREATE TRIGGER incident_reports_new BEFORE INSERT ON incident_reports WHEN new.state NOT IN ('draft', 'submitted') BEGIN SELECT RAISE(ABORT, 'incident report: a new report is a draft or submitted'); END;
-- An emergency (or a power-distribution accident) closes only with its approved report.
CREATE TRIGGER tickets_close_needs_incident BEFORE UPDATE OF status ON tickets WHEN new.status = 'closed' AND old.status <> 'closed' AND (new.kind = 'emergency' OR new.category = 'power_accident') AND NOT EXISTS (SELECT 1 FROM incident_reports r WHERE r.ticket_id = new.id AND r.state = 'approved') BEGIN SELECT RAISE(ABORT, 'incident report required: an emergency closes only when its incident report is approved'); END;
