-- The gateways' alarm actions already applied, by idempotency key, so that an
-- action the gateway's outbox delivers again changes nothing the second time.
CREATE TABLE alarm_actions (
	idempotency_key TEXT PRIMARY KEY,
	alarm_key       TEXT NOT NULL,
	action          TEXT NOT NULL,
	ticket_id       BIGINT NOT NULL REFERENCES tickets(id),
	applied_at      BIGINT NOT NULL
);
CREATE INDEX alarm_actions_applied ON alarm_actions(applied_at);
