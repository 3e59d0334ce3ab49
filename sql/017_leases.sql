-- 017_leases.sql: processes that hold leases, and the leases they hold.
--
-- A serving process admits most calls against leases: slices of a
-- counter's headroom it reserved in one transaction and spends locally
-- (docs/ENFORCEMENT.md, "Leases"). Each process registers in owners and
-- renews heartbeat_at every half second; it uses its leases only while its
-- last renewal is recent, and an owner not heard of for long is reaped:
-- its journal replayed by a process of its host if one can, else its
-- leases charged at their worst case by any process.
--
-- leases: one row per (owner, counter) while the owner holds some of it.
-- granted_* is what the lease holds of the counter's leased_* (what it was
-- granted, less what its calls spent, less what it gave back). d_* carry
-- the amounts a ledger batch takes off (INSERT ... ON DUPLICATE KEY UPDATE
-- subtracts VALUES(d_*); a missing row is created empty, never holding
-- anything).
--
-- lease_recalls: a call refused one by one while leases held some of a
-- counter asks their owners to give back what they do not use; every
-- process reads the recalls of the last seconds with its change watch.
-- Append only (the hot counter rows are never written for a recall); rows
-- older than an hour are deleted by housekeeping.
CREATE TABLE IF NOT EXISTS owners (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	host VARCHAR(64) NOT NULL,
	pid INT NOT NULL,
	journal VARCHAR(255) NOT NULL DEFAULT '',
	started_at DATETIME(6) NOT NULL,
	heartbeat_at DATETIME(6) NOT NULL,
	KEY k_owners_heartbeat (heartbeat_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS leases (
	owner_id BIGINT NOT NULL,
	scope ENUM('tenant','key','global') NOT NULL,
	scope_id BIGINT NOT NULL,
	win ENUM('minute','day','month','inflight') NOT NULL,
	period VARCHAR(16) NOT NULL,
	granted_micros BIGINT NOT NULL DEFAULT 0,
	granted_tokens BIGINT NOT NULL DEFAULT 0,
	granted_requests BIGINT NOT NULL DEFAULT 0,
	d_micros BIGINT NOT NULL DEFAULT 0,
	d_tokens BIGINT NOT NULL DEFAULT 0,
	d_requests BIGINT NOT NULL DEFAULT 0,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (owner_id, scope, scope_id, win, period),
	KEY k_leases_counter (scope, scope_id, win, period)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS lease_recalls (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	scope ENUM('tenant','key','global') NOT NULL,
	scope_id BIGINT NOT NULL,
	win ENUM('minute','day','month','inflight') NOT NULL,
	period VARCHAR(16) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	KEY k_lease_recalls_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
