-- Sites are walls (issue 20). An alarm key is unique among open tickets of
-- one site only, so that a ticket of one site can never hold another site's
-- alarm (key squatting) nor be found by another site's key.
DROP INDEX tickets_open_alarm;
CREATE UNIQUE INDEX tickets_open_alarm ON tickets(site, alarm_key)
	WHERE alarm_key <> '' AND status NOT IN ('closed', 'cancelled')
	AND NOT (kind = 'top_up' AND status IN ('resolved', 'followed_up'));
-- Alarm actions are applied once per caller and idempotency key, and a key
-- remembers the request it was first used for: the same key from another
-- caller is another key, the same key with another body is refused. Rows of
-- before this migration have no caller (principal ''): they are matched by
-- the site of their ticket and replayed whatever the body.
CREATE TABLE alarm_actions_v7 (
	principal       TEXT NOT NULL,
	site            TEXT NOT NULL,
	idempotency_key TEXT NOT NULL,
	request         TEXT NOT NULL,
	alarm_key       TEXT NOT NULL,
	action          TEXT NOT NULL,
	-- NULL only inside the transaction that claims the key and applies the action.
	ticket_id       BIGINT REFERENCES tickets(id),
	applied_at      BIGINT NOT NULL,
	PRIMARY KEY (principal, idempotency_key)
);
INSERT INTO alarm_actions_v7 (principal, site, idempotency_key, request, alarm_key, action, ticket_id, applied_at)
	SELECT '', t.site, a.idempotency_key, '', a.alarm_key, a.action, a.ticket_id, a.applied_at
	FROM alarm_actions a JOIN tickets t ON t.id = a.ticket_id;
DROP TABLE alarm_actions;
ALTER TABLE alarm_actions_v7 RENAME TO alarm_actions;
CREATE INDEX alarm_actions_applied ON alarm_actions(applied_at);
CREATE INDEX alarm_actions_legacy ON alarm_actions(idempotency_key, site) WHERE principal = '';
-- A gateway id belongs to the token that first reported it (token '' for
-- rows of before this migration: the next heartbeat on the same site claims
-- it), so that no gateway can overwrite another's status.
ALTER TABLE gateway_status ADD COLUMN token TEXT NOT NULL DEFAULT '';
