-- 012_housekeeping.sql: indexes that let old rows be deleted in small
-- index-range batches (store_life_housekeep) instead of table scans.
-- budget_counters gets a row per tenant/key and minute, day and month; once
-- a period is over its row only matters for reports of that period (which
-- read the rollups), so it is deleted after a grace time. The index is
-- written once per new row (updates never change win or period), so the hot
-- path's counter updates do not maintain it. Safe to re-run.

CREATE INDEX IF NOT EXISTS k_budget_counters_period ON budget_counters (win, period);
CREATE INDEX IF NOT EXISTS k_login_attempts_at ON login_attempts (at);
