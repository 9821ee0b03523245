-- Issue 17: a sale's time zone (an IANA tz database name), the zone its organiser set its start
-- and end in, so the console shows them in that zone again and buyers can be told it. The times
-- themselves stay UTC (starts_at, ends_at); sales made before this default to UTC.
ALTER TABLE sales ADD COLUMN time_zone VARCHAR(64) NOT NULL DEFAULT 'UTC' AFTER ends_at;
