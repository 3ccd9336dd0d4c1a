-- The console's ticket page and control room (issue 13): the spare parts an
-- engineer used, recorded at resolve for the 维修单; and the acknowledgements
-- of alarms that open no ticket (a forced door, ticket: none), one per alarm
-- episode (its key and the time it fired), so that the control room records
-- who silenced it and when.
ALTER TABLE tickets ADD COLUMN parts TEXT NOT NULL DEFAULT '';
CREATE TABLE alarm_acks (
	site TEXT NOT NULL,
	alarm_key TEXT NOT NULL,
	since BIGINT NOT NULL,
	acked_by TEXT NOT NULL,
	acked_at BIGINT NOT NULL,
	PRIMARY KEY (site, alarm_key, since)
);
CREATE INDEX alarm_acks_at ON alarm_acks (acked_at);
