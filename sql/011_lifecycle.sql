-- 011_lifecycle.sql: offboarding. A tenant being offboarded is suspended and
-- has offboard_after set: until then `agenthostctl tenant offboard --undo`
-- brings it back; after it `agenthostctl purge` erases every row of the
-- tenant and the tenant itself. Safe to re-run.

ALTER TABLE tenants ADD COLUMN IF NOT EXISTS offboard_after DATETIME(6) NULL;
CREATE INDEX IF NOT EXISTS k_tenants_offboard ON tenants (offboard_after);
