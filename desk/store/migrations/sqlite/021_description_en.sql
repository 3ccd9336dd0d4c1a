-- A ticket's description in English beside the Chinese one (issue 13 part
-- 6): an alarm's ticket carries its rule's messages, its last error and its
-- evidence in each language, and the English console and English channels
-- show description_en. Tickets written by people, and those before this
-- migration, have none (''): their description is shown.
ALTER TABLE tickets ADD COLUMN description_en TEXT NOT NULL DEFAULT '';
-- The search index covers both titles and both descriptions, so that an
-- English word finds an alarm's ticket as a Chinese one does (its English
-- words were in its description before). The index is rebuilt from the
-- tickets, with its triggers.
DROP TRIGGER tickets_search_insert;
DROP TRIGGER tickets_search_delete;
DROP TRIGGER tickets_search_update;
DROP TABLE tickets_search;
CREATE VIRTUAL TABLE tickets_search USING fts5(title, title_en, description, description_en, content='tickets', content_rowid='id', tokenize='trigram');
INSERT INTO tickets_search(tickets_search) VALUES ('rebuild');
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN INSERT INTO tickets_search(rowid, title, title_en, description, description_en) VALUES (new.id, new.title, new.title_en, new.description, new.description_en); END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN INSERT INTO tickets_search(tickets_search, rowid, title, title_en, description, description_en) VALUES ('delete', old.id, old.title, old.title_en, old.description, old.description_en); END;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF title, title_en, description, description_en ON tickets BEGIN INSERT INTO tickets_search(tickets_search, rowid, title, title_en, description, description_en) VALUES ('delete', old.id, old.title, old.title_en, old.description, old.description_en); INSERT INTO tickets_search(rowid, title, title_en, description, description_en) VALUES (new.id, new.title, new.title_en, new.description, new.description_en); END;
