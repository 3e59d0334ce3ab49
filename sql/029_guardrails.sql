-- 029_guardrails.sql: guardrails as plugins (issue 17, part D).
--
-- guardrails   the operator's registry: one row per check, name unique. A
--              check is an executable under the guardrail_dir configuration
--              key, run CGI-style by the tool runner (src/tools/runner.c)
--              before the provider call (stage before), after it (after) or
--              both. env holds the operator's settings for the check as
--              NAME=value lines (passed as environment variables, not
--              secret: shown by guardrails list).
-- executions.guardrails
--              what each check of the call decided: a JSON array of
--              {name, stage, action, reason, ms}, NULL when the tenant has
--              no chain. The same column is added to a dedicated tenant's
--              own executions table (tenant/029_guardrails.sql).
--
-- A tenant's chain is the limit guardrails (limits table, tenant, plan or
-- global scope): an ordered comma list of registered names, "" = none.
-- Safe to re-run (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS guardrails (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(64) NOT NULL,
	description VARCHAR(1024) NOT NULL DEFAULT '',
	exec_path VARCHAR(1024) NOT NULL,
	stage VARCHAR(8) NOT NULL,
	timeout_ms INT NOT NULL,
	env VARCHAR(2048) NOT NULL DEFAULT '',
	enabled TINYINT NOT NULL DEFAULT 1,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_guardrails_name (name),
	CONSTRAINT ck_guardrails_stage CHECK (stage IN ('before', 'after', 'both')),
	CONSTRAINT ck_guardrails_timeout CHECK (timeout_ms > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS guardrails TEXT NULL;
