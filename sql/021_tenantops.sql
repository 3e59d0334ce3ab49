-- 021_tenantops.sql: key scopes and the end user of a call (issue 16, part B).
--
-- api_keys.scopes: a bit set of what a key may call (1 inference: chat and
-- runs; 2 read: runs, sessions, usage, budget, limits; 4 manage: the
-- tenant's self-service keys API). Keys made before this migration, and
-- keys made without naming scopes, get 3 (inference + read): everything a
-- key could call before scopes existed. manage is only ever given on
-- purpose (agenthostctl key create --scopes, the dashboard, a manage key).
--
-- executions.end_user: the OpenAI "user" field of the request or its
-- X-Actor-Id header ('' when neither was sent), cut to 64 bytes. The same
-- column is added to a dedicated tenant's database (tenant/021_tenantops.sql).
-- audit_log.end_user: the same for an audit row written by a tenant API
-- call ('' for the CLI, the dashboard and the operator API).
-- Safe to re-run (IF NOT EXISTS).

ALTER TABLE api_keys
	ADD COLUMN IF NOT EXISTS scopes TINYINT UNSIGNED NOT NULL DEFAULT 3;

ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS end_user VARCHAR(64) NOT NULL DEFAULT '';

ALTER TABLE audit_log
	ADD COLUMN IF NOT EXISTS end_user VARCHAR(64) NOT NULL DEFAULT '';
