-- 014_dedicated: where a tenant's content lives, and the move between modes.
--
-- tenants.isolation_mode (001) says shared or dedicated. A dedicated tenant's
-- database and account are data_db / data_user (both <db_name>_t<id>), on the
-- control server unless data_host is set; the account's password is sealed
-- with the master key like a provider credential (data_key_version,
-- data_nonce, data_secret: AD binds the tenant). data_epoch changes whenever
-- the tenant's data moves, so every process drops a pooled connection that
-- points at the old place. migrating = 1 while agenthostctl tenant move runs:
-- writes are refused with 503 tenant_migrating and no reservation can be
-- opened (the reservation INSERT reads this row).
ALTER TABLE tenants
	ADD COLUMN IF NOT EXISTS migrating TINYINT NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS data_epoch INT NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS data_db VARCHAR(64) NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS data_host VARCHAR(255) NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS data_port INT NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS data_user VARCHAR(80) NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS data_key_version INT NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS data_nonce VARBINARY(24) NULL,
	ADD COLUMN IF NOT EXISTS data_secret VARBINARY(600) NULL;
