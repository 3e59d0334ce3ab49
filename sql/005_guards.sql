-- 005_guards.sql: idempotency keys and per-tenant circuit breakers.
--
-- idempotency_keys: one row per (tenant, Idempotency-Key). The first request
-- claims the key with an INSERT (state 'running'); when its handler ends, the
-- whole response as sent (header block + body, SSE events included) is
-- stored and the state becomes 'done', so a retry can be answered with the
-- same bytes. request_hash is BLAKE2b-256 of method, path and body: the same
-- key with another request is refused. Rows live 24 hours (expires_at); a
-- 'running' claim older than the longest a call may take belongs to a
-- process that died and is treated as expired. owner is hostname:pid.
--
-- breakers: one row per (tenant, provider), written only when a call fails
-- or a probe settles, so a healthy tenant has no row and the hot path reads
-- nothing but a missing row. failures counts upstream failures since
-- window_start; state 'open' refuses until open_until, then one request
-- claims the probe (state 'half_open', probe_owner set, open_until moved to
-- when the probe is presumed lost). All times are the database's
-- UTC_TIMESTAMP(6), the one clock every process and host share.
--
-- Safe to re-run (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS idempotency_keys (
	tenant_id BIGINT NOT NULL,
	idem_key VARCHAR(255) NOT NULL,
	request_hash BINARY(32) NOT NULL,
	state ENUM('running','done') NOT NULL DEFAULT 'running',
	status SMALLINT NOT NULL DEFAULT 0,
	response MEDIUMBLOB NULL,
	owner VARCHAR(64) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, idem_key),
	KEY k_idempotency_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

CREATE TABLE IF NOT EXISTS breakers (
	tenant_id BIGINT NOT NULL,
	provider VARCHAR(32) NOT NULL,
	state ENUM('closed','open','half_open') NOT NULL DEFAULT 'closed',
	failures INT NOT NULL DEFAULT 0,
	window_start DATETIME(6) NOT NULL,
	opened_at DATETIME(6) NULL,
	open_until DATETIME(6) NULL,
	probe_owner VARCHAR(64) NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, provider)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
