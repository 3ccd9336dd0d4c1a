-- Search in titles and descriptions: trigram indexes when the pg_trgm
-- extension may be created (it is trusted: a database owner may); without it
-- searches scan, and the desk says so in its log.
DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; EXCEPTION WHEN insufficient_privilege OR undefined_file THEN RAISE NOTICE 'pg_trgm unavailable: ticket search will scan'; END $$;
DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN CREATE INDEX tickets_title_trgm ON tickets USING gin (LOWER(title) gin_trgm_ops); CREATE INDEX tickets_description_trgm ON tickets USING gin (LOWER(description) gin_trgm_ops); END IF; END $$;
