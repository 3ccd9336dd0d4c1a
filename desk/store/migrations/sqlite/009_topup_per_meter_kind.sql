-- A household has one open top-up reminder per kind of meter (electricity,
-- water): the reminder's category is its meter's family. Reminders opened
-- before carried no category; they were all the electricity meters'.
UPDATE tickets SET category = 'meter' WHERE kind = 'top_up' AND category = '';
DROP INDEX tickets_open_topup_unit;
CREATE UNIQUE INDEX tickets_open_topup_unit ON tickets(site, unit, category)
	WHERE kind = 'top_up' AND unit <> '' AND status IN ('new', 'dispatched', 'on_site');
