-- A ticket's title in English beside the Chinese one (issue 13 part 6): an
-- alarm's ticket carries both messages of its rule, and the English console
-- and English notification channels show title_en. Tickets written by people,
-- and those before this migration, have none (''): their title is shown.
ALTER TABLE tickets ADD COLUMN title_en TEXT NOT NULL DEFAULT '';
