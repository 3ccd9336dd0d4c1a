-- The console's ticket page and control room (issue 13): the spare parts an
-- engineer used, recorded at resolve for the 维修单; and the log of alarms
-- that open no ticket (a forced door, ticket: none). A gateway lists such an
-- alarm only while it fires, often for seconds: the desk keeps each episode
-- (its key and the time it fired) from the heartbeats, so that the control
-- room shows a critical one until someone acknowledges it, and keeps who
-- acknowledged it and when.
ALTER TABLE tickets ADD COLUMN parts TEXT NOT NULL DEFAULT '';
CREATE TABLE alarm_log (
	site TEXT NOT NULL,
	alarm_key TEXT NOT NULL,
	since BIGINT NOT NULL,
	gateway TEXT NOT NULL,
	alarm TEXT NOT NULL,
	last_seen BIGINT NOT NULL,
	acked_by TEXT NOT NULL DEFAULT '',
	acked_at BIGINT,
	PRIMARY KEY (site, alarm_key, since)
);
CREATE INDEX alarm_log_seen ON alarm_log (site, last_seen);
