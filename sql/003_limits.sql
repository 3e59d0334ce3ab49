-- 003_limits.sql: limits at four scopes, and the plans' default limits.
--
-- One row per limit set at a scope: global (scope_id 0), plan (plans.id),
-- tenant (tenants.id) or key (api_keys.id). A limit that has no row anywhere
-- takes its built-in default from limit_defs (src/enforce/limits.c); the
-- effective value is the most specific row: key (key_* limits only), tenant,
-- plan, global, built-in default. Values are text as validated by
-- limit_validate: counts "600", USD "12.5", lists "a,b", CIDRs "10.0.0.0/8".
--
-- Safe to re-run: the table IF NOT EXISTS, and the seed keeps a row that
-- exists ("ON DUPLICATE KEY UPDATE value = value" is a no-op that, unlike
-- INSERT IGNORE, keeps strict mode's errors for real mistakes), so an
-- operator's edits of the plans are never overwritten.
--
-- The plan defaults leave room for the integration tests (plan free, at most
-- a few dozen small mock requests per tenant). Enterprise sets nothing and
-- inherits the global rows and built-in defaults (no limit).

CREATE TABLE IF NOT EXISTS limits (
	scope ENUM('global','plan','tenant','key') NOT NULL,
	scope_id BIGINT NOT NULL,
	name VARCHAR(48) NOT NULL,
	value VARCHAR(1024) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	updated_by VARCHAR(100) NOT NULL DEFAULT '',
	PRIMARY KEY (scope, scope_id, name),
	CONSTRAINT ck_limits_global CHECK (scope <> 'global' OR scope_id = 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO limits (scope, scope_id, name, value, updated_at, updated_by)
SELECT 'plan', p.id, d.name, d.value, UTC_TIMESTAMP(6), 'migration:003'
FROM plans p
JOIN (SELECT 'rpm' AS name, '60' AS value
      UNION ALL SELECT 'tpm', '200000'
      UNION ALL SELECT 'concurrency', '4'
      UNION ALL SELECT 'budget_usd_daily', '5'
      UNION ALL SELECT 'budget_usd_monthly', '50'
      UNION ALL SELECT 'max_tokens', '4096') d
WHERE p.name = 'free'
ON DUPLICATE KEY UPDATE value = limits.value;

INSERT INTO limits (scope, scope_id, name, value, updated_at, updated_by)
SELECT 'plan', p.id, d.name, d.value, UTC_TIMESTAMP(6), 'migration:003'
FROM plans p
JOIN (SELECT 'rpm' AS name, '600' AS value
      UNION ALL SELECT 'tpm', '2000000'
      UNION ALL SELECT 'concurrency', '32'
      UNION ALL SELECT 'budget_usd_daily', '200'
      UNION ALL SELECT 'budget_usd_monthly', '3000'
      UNION ALL SELECT 'max_tokens', '16384') d
WHERE p.name = 'pro'
ON DUPLICATE KEY UPDATE value = limits.value;
