-- The cause recorded at resolution (设备老化, 人为损坏, …), for the monthly
-- statistics by category and cause.
ALTER TABLE tickets ADD COLUMN cause TEXT NOT NULL DEFAULT '';
