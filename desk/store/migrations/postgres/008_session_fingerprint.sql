-- A session remembers a fingerprint of its user's password hash at login: a
-- session whose user's hash has changed since (a new password) or who is no
-- longer configured ends. Sessions from before this migration have none and
-- end too: their users log in once more.
ALTER TABLE sessions ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
