-- 001_schema.sql: the agenthost schema (control tables and shared tenant data).
--
-- Applied by `agenthostctl migrate` (store_migrate), which sends the whole file
-- as one multi-statement query. Every statement is safe to re-run
-- (IF NOT EXISTS), because DDL commits implicitly in MariaDB and a failure
-- halfway must be fixable by running the migration again.
--
-- Conventions (see docs/SCHEMA.md):
--   * InnoDB, utf8mb4 with the binary collation: identifiers compare exactly.
--   * Times are DATETIME(6) in UTC (every connection sets time_zone '+00:00').
--   * tenant_id leads every key of tenant data; lists page by keyset.
--   * Money is integer micro-USD, tokens are integers.

CREATE TABLE IF NOT EXISTS schema_migrations (
	version INT NOT NULL PRIMARY KEY,
	name VARCHAR(200) NOT NULL,
	applied_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS plans (
	id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(32) NOT NULL,
	description VARCHAR(200) NOT NULL DEFAULT '',
	created_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_plans_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS tenants (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	slug VARCHAR(63) NOT NULL,
	name VARCHAR(200) NOT NULL,
	plan_id INT NOT NULL,
	status TINYINT NOT NULL DEFAULT 0,
	suspended_reason VARCHAR(255) NULL,
	isolation_mode ENUM('shared','dedicated') NOT NULL DEFAULT 'shared',
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_tenants_slug (slug),
	KEY k_tenants_plan (plan_id),
	CONSTRAINT fk_tenants_plan FOREIGN KEY (plan_id) REFERENCES plans (id),
	CONSTRAINT ck_tenants_status CHECK (status IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS api_keys (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id BIGINT NOT NULL,
	name VARCHAR(100) NOT NULL,
	prefix VARCHAR(15) NOT NULL,
	key_hash BINARY(32) NOT NULL,
	revoked_at DATETIME(6) NULL,
	expires_at DATETIME(6) NULL,
	grace_until DATETIME(6) NULL,
	rotated_to BIGINT NULL,
	last_used_at DATETIME(6) NULL,
	created_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_api_keys_hash (key_hash),
	KEY k_api_keys_tenant (tenant_id, id),
	CONSTRAINT fk_api_keys_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS provider_credentials (
	tenant_id BIGINT NOT NULL,
	provider VARCHAR(32) NOT NULL,
	key_version INT NOT NULL,
	nonce BINARY(24) NOT NULL,
	ciphertext VARBINARY(1040) NOT NULL,
	last4 CHAR(4) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, provider),
	CONSTRAINT fk_provider_credentials_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS models (
	name VARCHAR(127) NOT NULL PRIMARY KEY,
	provider VARCHAR(32) NOT NULL,
	upstream_model VARCHAR(127) NOT NULL,
	input_price_micros BIGINT NOT NULL DEFAULT 0,
	output_price_micros BIGINT NOT NULL DEFAULT 0,
	context_window INT NOT NULL,
	max_output INT NOT NULL,
	enabled TINYINT NOT NULL DEFAULT 1,
	created_at DATETIME(6) NOT NULL,
	CONSTRAINT ck_models_prices CHECK (input_price_micros >= 0 AND output_price_micros >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS agents (
	id BIGINT NOT NULL AUTO_INCREMENT,
	tenant_id BIGINT NOT NULL,
	name VARCHAR(64) NOT NULL,
	model VARCHAR(127) NOT NULL,
	instructions TEXT NOT NULL,
	temperature DOUBLE NULL,
	max_tokens INT NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE KEY uk_agents_name (tenant_id, name),
	KEY k_agents_id (id),
	CONSTRAINT fk_agents_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sessions (
	tenant_id BIGINT NOT NULL,
	id VARCHAR(39) NOT NULL,
	agent_id BIGINT NULL,
	metadata JSON NOT NULL,
	message_count INT NOT NULL DEFAULT 0,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS session_messages (
	tenant_id BIGINT NOT NULL,
	session_id VARCHAR(39) NOT NULL,
	seq INT NOT NULL,
	role VARCHAR(16) NOT NULL,
	content MEDIUMTEXT NOT NULL,
	run_id VARCHAR(39) NOT NULL DEFAULT '',
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, session_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS executions (
	tenant_id BIGINT NOT NULL,
	seq BIGINT NOT NULL AUTO_INCREMENT,
	id VARCHAR(39) NOT NULL,
	kind ENUM('chat','run') NOT NULL,
	key_id BIGINT NOT NULL DEFAULT 0,
	agent_id BIGINT NULL,
	agent_name VARCHAR(64) NOT NULL DEFAULT '',
	session_id VARCHAR(39) NOT NULL DEFAULT '',
	model VARCHAR(127) NOT NULL,
	provider VARCHAR(32) NOT NULL DEFAULT '',
	cred_source VARCHAR(16) NOT NULL DEFAULT 'none',
	status VARCHAR(16) NOT NULL,
	reason_code VARCHAR(48) NOT NULL DEFAULT '',
	http_status SMALLINT NOT NULL DEFAULT 0,
	stream TINYINT NOT NULL DEFAULT 0,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	cost_micros BIGINT NOT NULL DEFAULT 0,
	latency_ms INT NOT NULL DEFAULT 0,
	request_id CHAR(32) NOT NULL DEFAULT '',
	finish_reason VARCHAR(32) NOT NULL DEFAULT '',
	metadata TEXT NULL,
	input MEDIUMTEXT NULL,
	output MEDIUMTEXT NULL,
	error_message VARCHAR(255) NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, seq),
	UNIQUE KEY uk_executions_id (tenant_id, id),
	KEY k_executions_seq (seq),
	KEY k_executions_kind (tenant_id, kind, seq),
	KEY k_executions_created (tenant_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS usage_daily (
	tenant_id BIGINT NOT NULL,
	day DATE NOT NULL,
	key_id BIGINT NOT NULL,
	agent_id BIGINT NOT NULL DEFAULT 0,
	model VARCHAR(127) NOT NULL,
	requests BIGINT NOT NULL DEFAULT 0,
	errors BIGINT NOT NULL DEFAULT 0,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	cost_micros BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, day, key_id, agent_id, model)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS audit_log (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id BIGINT NULL,
	actor_type VARCHAR(16) NOT NULL,
	actor_id VARCHAR(100) NOT NULL DEFAULT '',
	action VARCHAR(64) NOT NULL,
	target VARCHAR(128) NOT NULL DEFAULT '',
	outcome VARCHAR(16) NOT NULL,
	reason_code VARCHAR(48) NULL,
	request_id CHAR(32) NULL,
	ip VARCHAR(45) NULL,
	detail TEXT NULL,
	created_at DATETIME(6) NOT NULL,
	KEY k_audit_tenant (tenant_id, id),
	KEY k_audit_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
