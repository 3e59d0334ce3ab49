-- 007_admin.sql: dashboard users, their sessions and login throttling.
--
-- Passwords are Argon2id strings from libsodium's crypto_pwhash_str (they
-- carry their own salt and cost). A session cookie holds a random token; only
-- its BLAKE2b hash is stored, with the session's CSRF token. Idle and absolute
-- timeouts are checked by the database clock in the lookup. login_attempts
-- keeps failed logins for throttling per account and per address.
-- Safe to re-run (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS admin_users (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(64) NOT NULL,
	pw_hash VARCHAR(255) NOT NULL,
	role ENUM('operator', 'support', 'tenant_admin') NOT NULL,
	tenant_id BIGINT NULL,
	created_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_admin_users_name (name),
	CONSTRAINT fk_admin_users_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS admin_sessions (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	token_hash BINARY(32) NOT NULL,
	csrf VARCHAR(64) NOT NULL,
	user_id BIGINT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	last_seen DATETIME(6) NOT NULL,
	ip VARCHAR(64) NOT NULL,
	UNIQUE KEY uk_admin_sessions_hash (token_hash),
	KEY k_admin_sessions_user (user_id),
	CONSTRAINT fk_admin_sessions_user FOREIGN KEY (user_id) REFERENCES admin_users (id)
		ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS login_attempts (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(64) NOT NULL,
	ip VARCHAR(64) NOT NULL,
	at DATETIME(6) NOT NULL,
	KEY k_login_attempts_name (name, at),
	KEY k_login_attempts_ip (ip, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- usage_5min: per tenant and five-minute bucket (unix seconds DIV 300), the
-- figures of tenant health and the overview: calls by outcome and a latency
-- histogram of the calls that succeeded (lat_le_N counts calls that took at
-- most N ms and more than the previous bound). Written in the transaction
-- that records each execution, like usage_daily, so it never disagrees with
-- it; 24 hours of one tenant are at most 288 rows.
CREATE TABLE IF NOT EXISTS usage_5min (
	tenant_id BIGINT NOT NULL,
	bucket INT NOT NULL,
	requests BIGINT NOT NULL DEFAULT 0,
	succeeded BIGINT NOT NULL DEFAULT 0,
	refused BIGINT NOT NULL DEFAULT 0,
	failed BIGINT NOT NULL DEFAULT 0,
	cost_micros BIGINT NOT NULL DEFAULT 0,
	tokens BIGINT NOT NULL DEFAULT 0,
	latency_ms_sum BIGINT NOT NULL DEFAULT 0,
	lat_le_100 BIGINT NOT NULL DEFAULT 0,
	lat_le_250 BIGINT NOT NULL DEFAULT 0,
	lat_le_500 BIGINT NOT NULL DEFAULT 0,
	lat_le_1000 BIGINT NOT NULL DEFAULT 0,
	lat_le_2500 BIGINT NOT NULL DEFAULT 0,
	lat_le_5000 BIGINT NOT NULL DEFAULT 0,
	lat_le_10000 BIGINT NOT NULL DEFAULT 0,
	lat_gt_10000 BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, bucket),
	KEY k_usage_5min_bucket (bucket)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
