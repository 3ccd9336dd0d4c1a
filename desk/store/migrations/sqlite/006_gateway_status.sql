-- The last heartbeat of each gateway: its devices and their health, for the
-- engineers' console (live values and history come from InfluxDB).
CREATE TABLE gateway_status (
	gateway     TEXT PRIMARY KEY,
	site        TEXT NOT NULL,
	received_at BIGINT NOT NULL,
	status      TEXT NOT NULL
);
