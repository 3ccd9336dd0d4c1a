-- Several desk processes on one database (docs/operations.md, "Replicas"):
-- failed logins are counted here, not in each process's memory, so that the
-- limits hold whichever replica a load balancer sends a guess to. One row per
-- limited key ("pair:<name>|<addr>", "addr:<addr>", "name:<name>"); a row is
-- forgotten a login window after its last failure. Times are Unix nanoseconds.
CREATE TABLE login_failures (
	key      TEXT PRIMARY KEY,
	count    INTEGER NOT NULL,
	first_at BIGINT NOT NULL,
	last_at  BIGINT NOT NULL
);
CREATE INDEX login_failures_last ON login_failures(last_at);

-- Site-bound consoles read their site's events after an id.
CREATE INDEX events_site ON events(site, id);
