-- 032_turns.sql: periodic work that one process of the installation does at a time.
--
-- Housekeeping (store/lifecycle.c) ran once a minute in every process, side
-- by side, each deleting the same rows: N processes, N times the scans and
-- the lock waits for one result. A process now takes the turn first: an
-- UPDATE of the turn's row that moves next_at a period on, which succeeds
-- (one row changed) for exactly one process per period; a process that dies
-- during its turn leaves the next period to whoever comes then.
CREATE TABLE IF NOT EXISTS turns (
	name VARCHAR(32) NOT NULL PRIMARY KEY,
	next_at DATETIME(6) NOT NULL,
	taken_by VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT IGNORE INTO turns (name, next_at) VALUES ('housekeeping', '2000-01-01');
