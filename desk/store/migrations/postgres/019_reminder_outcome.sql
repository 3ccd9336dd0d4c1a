-- The red-meter list (issue 13 part 5): what the resident said to a top-up
-- reminder, as one of reached, no_answer, promised (promised to top up) or
-- refused, beside the free-text answer (the assistant's note). Reminders
-- given before this migration have none ('').
ALTER TABLE reminders ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
