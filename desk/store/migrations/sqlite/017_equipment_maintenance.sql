-- The equipment register (设备台账) and preventive maintenance (issue 16).
-- equipment: every piece of plant of a site, with or without a gateway
-- (device is the gateway's device id when it has one); the serial is unique
-- per site, so that an import cannot hold one piece twice. warranty_reminded
-- is the warranty end a reminder was opened for (once per warranty).
CREATE TABLE equipment (
	site TEXT NOT NULL,
	id TEXT NOT NULL,
	name TEXT NOT NULL,
	class TEXT NOT NULL DEFAULT '',
	device TEXT NOT NULL DEFAULT '',
	building TEXT NOT NULL DEFAULT '',
	floor TEXT NOT NULL DEFAULT '',
	location TEXT NOT NULL DEFAULT '',
	make TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	serial TEXT NOT NULL,
	install_date TEXT NOT NULL DEFAULT '',
	warranty_end TEXT NOT NULL DEFAULT '',
	supplier TEXT NOT NULL DEFAULT '',
	contractor TEXT NOT NULL DEFAULT '',
	notes TEXT NOT NULL DEFAULT '',
	warranty_reminded TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (site, id)
);
CREATE UNIQUE INDEX equipment_serial ON equipment (site, serial);
CREATE INDEX equipment_device ON equipment (site, device);
-- Plans are kept whole (JSON, checked by desk/maintenance before saving);
-- their state per piece of equipment is what the scheduler remembers.
CREATE TABLE maintenance_plans (
	site TEXT NOT NULL,
	id TEXT NOT NULL,
	body TEXT NOT NULL,
	active INTEGER NOT NULL DEFAULT 1,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (site, id)
);
CREATE TABLE maintenance_state (
	site TEXT NOT NULL,
	plan_id TEXT NOT NULL,
	equipment_id TEXT NOT NULL,
	since BIGINT NOT NULL,
	last_calendar BIGINT NOT NULL DEFAULT 0,
	last_at BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (site, plan_id, equipment_id)
);
-- One order per occurrence (plan, equipment, due time): a scheduler that
-- runs twice, or on two desks, opens it once. The window is the devices and
-- times that should be in a maintenance window on their gateway.
CREATE TABLE maintenance_orders (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	site TEXT NOT NULL,
	plan_id TEXT NOT NULL,
	equipment_id TEXT NOT NULL,
	ticket_id BIGINT NOT NULL DEFAULT 0,
	due_at BIGINT NOT NULL,
	deadline_at BIGINT NOT NULL,
	trigger_kind TEXT NOT NULL,
	usage_value DOUBLE PRECISION NOT NULL DEFAULT 0,
	explain TEXT NOT NULL DEFAULT '',
	assignee TEXT NOT NULL DEFAULT '',
	team TEXT NOT NULL DEFAULT '',
	contractor TEXT NOT NULL DEFAULT '',
	checklist TEXT NOT NULL,
	results TEXT NOT NULL DEFAULT '[]',
	window_devices TEXT NOT NULL DEFAULT '[]',
	window_from BIGINT NOT NULL DEFAULT 0,
	window_to BIGINT NOT NULL DEFAULT 0,
	status TEXT NOT NULL DEFAULT 'open',
	completed_at BIGINT NOT NULL DEFAULT 0,
	completed_by TEXT NOT NULL DEFAULT '',
	minutes INTEGER NOT NULL DEFAULT 0,
	failed INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	UNIQUE (site, plan_id, equipment_id, due_at)
);
CREATE INDEX maintenance_orders_site ON maintenance_orders (site, status, deadline_at);
CREATE INDEX maintenance_orders_equipment ON maintenance_orders (site, equipment_id);
