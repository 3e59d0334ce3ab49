-- 031_owner_beats.sql: an owner's heartbeat in a row of its own.
--
-- Every grant, return, promotion and ledger batch of a process locks its
-- owners row in share mode; the heartbeat used to update that same row
-- every half second. Its exclusive lock waited for every transaction that
-- held the row, and while it waited InnoDB queued every new share request
-- behind it: each heartbeat stalled the process's admissions and batches,
-- and under load ended in deadlocks (a failed heartbeat, then leases unused).
-- The heartbeat now renews owner_beats, a row nothing else locks; closing an
-- owner locks both rows. owners.heartbeat_at stays as the registration time
-- and for owners registered before this migration (the reaper reads the
-- later of the two).
CREATE TABLE IF NOT EXISTS owner_beats (
	owner_id BIGINT NOT NULL PRIMARY KEY,
	heartbeat_at DATETIME(6) NOT NULL,
	KEY k_owner_beats_heartbeat (heartbeat_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT IGNORE INTO owner_beats (owner_id, heartbeat_at) SELECT id, heartbeat_at FROM owners;
