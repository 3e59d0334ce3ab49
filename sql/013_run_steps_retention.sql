-- 013_run_steps_retention.sql: run steps are purged with the executions they
-- belong to (agenthostctl purge, by age); this index makes each batch an
-- index range instead of a scan of the tenant's steps. Safe to re-run.

CREATE INDEX IF NOT EXISTS k_run_steps_created ON run_steps (tenant_id, created_at);
