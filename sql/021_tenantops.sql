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

-- Alerts (docs/ENFORCEMENT.md "Alerts"). webhooks: a tenant's receivers;
-- the signing secret is derived from the master key and the webhook's id,
-- never stored. alert_events: one row per event, and the claim that makes
-- it happen once: the unique key (tenant, kind, subject, threshold,
-- period) lets exactly one process of any host insert it (INSERT IGNORE),
-- and only that process queues its deliveries, in the same transaction.
-- alert_deliveries: one row per (event, webhook), the delivery log; a
-- process claims due rows (claim, claim_until) before sending, so two
-- processes never send the same delivery at once; a failed attempt is
-- retried at next_at with exponential backoff until max attempts.
CREATE TABLE IF NOT EXISTS webhooks (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id BIGINT NOT NULL,
	url VARCHAR(500) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	removed_at DATETIME(6) NULL,
	KEY k_webhooks_tenant (tenant_id, id),
	CONSTRAINT fk_webhooks_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS alert_events (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id BIGINT NOT NULL,
	kind VARCHAR(32) NOT NULL,
	subject VARCHAR(64) NOT NULL,
	threshold INT NOT NULL DEFAULT 0,
	period VARCHAR(32) NOT NULL,
	payload TEXT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_alert_events (tenant_id, kind, subject, threshold, period),
	KEY k_alert_events_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS alert_deliveries (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	event_id BIGINT NOT NULL,
	webhook_id BIGINT NOT NULL,
	tenant_id BIGINT NOT NULL,
	status ENUM('pending','delivered','failed') NOT NULL DEFAULT 'pending',
	attempts INT NOT NULL DEFAULT 0,
	next_at DATETIME(6) NOT NULL,
	claim CHAR(32) NULL,
	claim_until DATETIME(6) NULL,
	last_status INT NOT NULL DEFAULT 0,
	last_error VARCHAR(255) NOT NULL DEFAULT '',
	created_at DATETIME(6) NOT NULL,
	delivered_at DATETIME(6) NULL,
	UNIQUE KEY uk_alert_deliveries (event_id, webhook_id),
	KEY k_alert_deliveries_due (status, next_at),
	KEY k_alert_deliveries_tenant (tenant_id, id),
	KEY k_alert_deliveries_claim (claim)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
