-- tenant/021_tenantops: executions.end_user in a dedicated tenant's own
-- database, as sql/021_tenantops.sql adds it to the control database's
-- table of the same name. Safe to re-run.

ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS end_user VARCHAR(64) NOT NULL DEFAULT '';
