-- A ticket's description in English beside the Chinese one (issue 13 part
-- 6): an alarm's ticket carries its rule's messages, its last error and its
-- evidence in each language, and the English console and English channels
-- show description_en. Tickets written by people, and those before this
-- migration, have none (''): their description is shown.
ALTER TABLE tickets ADD COLUMN description_en TEXT NOT NULL DEFAULT '';
-- Searches match both titles and both descriptions: trigram indexes on the
-- English ones too where pg_trgm is there (004_search.sql).
DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN CREATE INDEX tickets_title_en_trgm ON tickets USING gin (LOWER(title_en) gin_trgm_ops); CREATE INDEX tickets_description_en_trgm ON tickets USING gin (LOWER(description_en) gin_trgm_ops); END IF; END $$;
