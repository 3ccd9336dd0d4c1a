-- A duty-log entry the desk writes (a sheet built, signed, accepted, a key
-- lent or back, a reminder) in English beside the Chinese one (issue 13
-- part 6): the English console shows body_en. The entries people write, and
-- those before this migration, have none (''): their body is shown.
ALTER TABLE duty_entries ADD COLUMN body_en TEXT NOT NULL DEFAULT '';
