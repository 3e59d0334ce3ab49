-- 008_tools.sql: agent tools (issue 6).
--
-- tools         the operator's registry: one row per tool, name unique.
--               secret_names is the comma list of environment variable
--               names the tool needs; values are per tenant (tool_secrets).
-- tool_secrets  a tenant's value of one secret of one tool, sealed like
--               provider keys (XChaCha20-Poly1305, associated data binding
--               tenant, tool, secret name and key version).
-- agent_tools   the tools an agent may call (tenant-first like agents).
-- run_steps     every step of a run with tools: model calls and tool calls,
--               with tokens, cost, duration and outcome.
--
-- agents.max_steps: steps of a run with tools before it fails with
-- max_steps_reached (NULL = 8). executions.kind gains 'step': each model
-- call of a run with tools is admitted, billed and recorded as its own
-- execution ('step'); the run's own row (kind 'run') sums them and is not
-- added to usage_daily again.
--
-- allowed_tools is a limit (limits table): "*" or a comma list; its
-- built-in default is "" = no tool allowed. Plan pro gets the contrib
-- tools, enterprise every tool; an operator's edits are kept.
--
-- Safe to re-run: IF NOT EXISTS everywhere, upserts that keep rows.

CREATE TABLE IF NOT EXISTS tools (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(64) NOT NULL,
	description TEXT NOT NULL,
	schema_json TEXT NOT NULL,
	exec_path VARCHAR(1024) NOT NULL,
	timeout_ms INT NOT NULL,
	max_output_bytes INT NOT NULL,
	mutating TINYINT NOT NULL DEFAULT 0,
	secret_names VARCHAR(1024) NOT NULL DEFAULT '',
	enabled TINYINT NOT NULL DEFAULT 1,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_tools_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS tool_secrets (
	tenant_id BIGINT NOT NULL,
	tool VARCHAR(64) NOT NULL,
	name VARCHAR(64) NOT NULL,
	key_version INT NOT NULL,
	nonce BINARY(24) NOT NULL,
	ciphertext VARBINARY(1040) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, tool, name),
	CONSTRAINT fk_tool_secrets_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS agent_tools (
	tenant_id BIGINT NOT NULL,
	agent_id BIGINT NOT NULL,
	tool VARCHAR(64) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, agent_id, tool),
	CONSTRAINT fk_agent_tools_agent FOREIGN KEY (tenant_id, agent_id)
		REFERENCES agents (tenant_id, id) ON DELETE CASCADE
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
	PRIMARY KEY (tenant_id, run_id, step)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE agents ADD COLUMN IF NOT EXISTS max_steps INT NULL;

ALTER TABLE executions MODIFY kind ENUM('chat','run','step') NOT NULL;

INSERT INTO limits (scope, scope_id, name, value, updated_at, updated_by)
SELECT 'plan', p.id, 'allowed_tools', 'calculator,http_fetch', UTC_TIMESTAMP(6), 'migration:008'
FROM plans p WHERE p.name = 'pro'
ON DUPLICATE KEY UPDATE value = limits.value;

INSERT INTO limits (scope, scope_id, name, value, updated_at, updated_by)
SELECT 'plan', p.id, 'allowed_tools', '*', UTC_TIMESTAMP(6), 'migration:008'
FROM plans p WHERE p.name = 'enterprise'
ON DUPLICATE KEY UPDATE value = limits.value;
