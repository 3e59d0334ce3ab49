-- 010_dashboard_tenants.sql: an index for the dashboard's audit log page.
--
-- The page lists audit rows newest first, by tenant (k_audit_tenant already
-- serves that), by every tenant (the primary key) or by action across every
-- tenant: this index keeps the last one a range scan instead of reading the
-- whole log. Safe to re-run (IF NOT EXISTS).

CREATE INDEX IF NOT EXISTS k_audit_action ON audit_log (action, id);
