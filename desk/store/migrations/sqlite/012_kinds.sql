-- The manuals' kinds and sub-kinds (issue 14): a complaint is general,
-- written, important or about staff attitude, each answered on its own clock;
-- complaints of several households on the same matter are linked under one
-- case (parent_id), which becomes a collective complaint, reported as an
-- emergency, when it reaches three households (collective_at). Every
-- complaint of before is a general one; other kinds have no sub-kind.
ALTER TABLE tickets ADD COLUMN sub_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN parent_id BIGINT;
ALTER TABLE tickets ADD COLUMN collective_at BIGINT;
UPDATE tickets SET sub_kind = 'general' WHERE kind = 'complaint';
CREATE INDEX tickets_parent ON tickets (parent_id) WHERE parent_id IS NOT NULL;
