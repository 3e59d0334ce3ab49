-- 004_admission.sql: counters and reservations for admission control.
--
-- budget_counters: one row per (scope, scope_id, window, period). Windows:
-- minute (rpm/tpm), day and month (budgets), inflight (concurrency: period
-- ''). `requests` counts requests in the window (for inflight: requests in
-- flight now). `reserved_*` holds the worst case of calls under way;
-- `spent_*` what settled calls actually cost. `lim_*` are the hard limits in
-- force at the last admission (0 = none). `last_admit` marks the last
-- request the conditional upsert admitted on this row, which is how one
-- statement both checks and reserves every row (see src/store/admission.c).
--
-- reservations: one row per admitted call until it settles; `counters`
-- lists the counter rows it booked so the reaper can settle it if the
-- process that owns it dies.

CREATE TABLE IF NOT EXISTS budget_counters (
	scope ENUM('tenant','key','global') NOT NULL,
	scope_id BIGINT NOT NULL,
	win ENUM('minute','day','month','inflight') NOT NULL,
	period VARCHAR(16) NOT NULL,
	spent_micros BIGINT NOT NULL DEFAULT 0,
	reserved_micros BIGINT NOT NULL DEFAULT 0,
	spent_tokens BIGINT NOT NULL DEFAULT 0,
	reserved_tokens BIGINT NOT NULL DEFAULT 0,
	requests BIGINT NOT NULL DEFAULT 0,
	lim_micros BIGINT NOT NULL DEFAULT 0,
	lim_tokens BIGINT NOT NULL DEFAULT 0,
	lim_requests BIGINT NOT NULL DEFAULT 0,
	last_admit BIGINT NOT NULL DEFAULT 0,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (scope, scope_id, win, period)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS reservations (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id BIGINT NOT NULL,
	key_id BIGINT NOT NULL,
	state ENUM('open','settled','expired') NOT NULL DEFAULT 'open',
	micros BIGINT NOT NULL,
	tokens BIGINT NOT NULL,
	prompt_tokens BIGINT NOT NULL,
	max_tokens BIGINT NOT NULL,
	counters VARCHAR(1024) NOT NULL,
	exec_id VARCHAR(39) NOT NULL,
	kind VARCHAR(8) NOT NULL,
	model VARCHAR(127) NOT NULL,
	provider VARCHAR(32) NOT NULL,
	agent_id BIGINT NOT NULL DEFAULT 0,
	agent_name VARCHAR(64) NOT NULL DEFAULT '',
	request_id CHAR(32) NOT NULL DEFAULT '',
	stream TINYINT NOT NULL DEFAULT 0,
	owner VARCHAR(64) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	settled_at DATETIME(6) NULL,
	KEY k_reservations_open (state, expires_at),
	KEY k_reservations_tenant (tenant_id, state)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
