-- tenant/001_data: the content tables of a dedicated tenant's own database.
--
-- A dedicated tenant's executions, run steps, sessions, messages and its own
-- copy of the rollups live in <db_name>_t<id>, created by agenthostctl at
-- onboarding (or by tenant move) from the files of sql/tenant/, recorded in
-- that database's own schema_migrations. The tables are the control
-- database's tables of the same name, column for column (tenant_id
-- included), so rows copy across with INSERT ... SELECT and every store
-- query runs unchanged on either side. A later migration that changes one of
-- these tables in sql/ adds the same change here as a new numbered file;
-- tests/unit compares the two schemas.

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
	kind ENUM('chat','run','step') NOT NULL,
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

CREATE TABLE IF NOT EXISTS run_steps (
	tenant_id BIGINT NOT NULL,
	run_id VARCHAR(39) NOT NULL,
	step INT NOT NULL,
	kind ENUM('model','tool') NOT NULL,
	name VARCHAR(128) NOT NULL,
	call_id VARCHAR(64) NOT NULL DEFAULT '',
	exec_id VARCHAR(39) NOT NULL DEFAULT '',
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	cost_micros BIGINT NOT NULL DEFAULT 0,
	duration_ms INT NOT NULL DEFAULT 0,
	outcome VARCHAR(16) NOT NULL,
	reason_code VARCHAR(48) NOT NULL DEFAULT '',
	message VARCHAR(255) NOT NULL DEFAULT '',
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, run_id, step),
	KEY k_run_steps_created (tenant_id, created_at)
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

CREATE TABLE IF NOT EXISTS usage_attr_daily (
	tenant_id BIGINT NOT NULL,
	day DATE NOT NULL,
	agent_id BIGINT NOT NULL DEFAULT 0,
	model VARCHAR(127) NOT NULL,
	user VARCHAR(64) NOT NULL DEFAULT '',
	department VARCHAR(64) NOT NULL DEFAULT '',
	requests BIGINT NOT NULL DEFAULT 0,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	cost_micros BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, day, agent_id, model, user, department)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
