-- 009_showback.sql: the showback rollup of the dashboard.
--
-- usage_attr_daily is usage_daily again, but keyed by the "user" and
-- "department" fields of the call's metadata (the run's JSON metadata; ''
-- when absent or not a string, cut to 64 bytes). store_rollup_sql writes it
-- in the execution's own transaction, next to usage_daily and usage_5min, so
-- the showback page never scans executions. Safe to re-run (IF NOT EXISTS).

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
