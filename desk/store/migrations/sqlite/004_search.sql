-- Search in titles and descriptions: an FTS5 trigram index (substring
-- matches of three characters or more, Chinese included), kept by triggers.
CREATE VIRTUAL TABLE tickets_search USING fts5(title, description, content='tickets', content_rowid='id', tokenize='trigram');
INSERT INTO tickets_search(tickets_search) VALUES ('rebuild');
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN INSERT INTO tickets_search(rowid, title, description) VALUES (new.id, new.title, new.description); END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN INSERT INTO tickets_search(tickets_search, rowid, title, description) VALUES ('delete', old.id, old.title, old.description); END;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF title, description ON tickets BEGIN INSERT INTO tickets_search(tickets_search, rowid, title, description) VALUES ('delete', old.id, old.title, old.description); INSERT INTO tickets_search(rowid, title, description) VALUES (new.id, new.title, new.description); END;
