-- 028_cache.sql: the response cache (docs/ROUTING.md, "Response cache").
--
-- response_cache holds a tenant's cached chat answers: the key is
-- (tenant_id, key_hash), where key_hash is a keyed BLAKE2b of the tenant id
-- and the canonical request (src/exec/rcache.c), so the tenant is part of
-- the key twice: in the primary key and inside the hash. body is the answer
-- as JSON (text, finish_reason, tool calls, usage); size_bytes its length,
-- summed for the tenant's size bound (response_cache_max_bytes, oldest
-- evicted first). Expired rows are never answered (expires_at against the
-- database clock) and are deleted by the housekeeping thread.
--
-- The control database holds the rows of shared tenants; a dedicated
-- tenant's rows live in its own database (sql/tenant/028_cache.sql).
--
-- executions.cache_hit marks a call answered from the cache (cost 0, no
-- tokens spent); usage_daily.cache_hits and usage_attr_daily.cache_hits
-- count them in the rollups (the usage API and showback). Safe to re-run.
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
