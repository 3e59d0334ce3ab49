-- tenant/028_cache.sql: the response cache and the cache-hit columns in a
-- dedicated tenant's own database, as sql/028_cache.sql adds them to the
-- control database (see there; docs/ROUTING.md, "Response cache").
-- Safe to re-run.
CREATE TABLE IF NOT EXISTS response_cache (
	tenant_id BIGINT NOT NULL,
	key_hash BINARY(32) NOT NULL,
	model VARCHAR(127) NOT NULL DEFAULT '',
	body MEDIUMTEXT NOT NULL,
	size_bytes INT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, key_hash),
	KEY k_response_cache_age (tenant_id, created_at),
	KEY k_response_cache_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS cache_hit TINYINT NOT NULL DEFAULT 0;
ALTER TABLE usage_daily
	ADD COLUMN IF NOT EXISTS cache_hits BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_attr_daily
	ADD COLUMN IF NOT EXISTS cache_hits BIGINT NOT NULL DEFAULT 0;
