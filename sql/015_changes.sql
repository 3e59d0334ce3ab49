-- 015_changes.sql: change_log, what the caches of the hot path listen to.
--
-- Every agenthost process caches a few facts it reads on each API request
-- (API keys and their tenant's status and placement, effective limits,
-- provider keys, breakers, the model catalogue; see docs/ENFORCEMENT.md,
-- "Caches"). Whatever changes one of them writes a row here in the same
-- transaction: kind 'tenant' for anything cached about one tenant (its keys,
-- status, plan, placement, limits at tenant or key scope, provider keys,
-- breakers), 'limits' for limits at plan or global scope, 'models' for the
-- catalogue, 'keys' when an API key is created (a cached "no such key" for
-- its hash must go). Each process polls the rows of the last seconds (by created_at)
-- and drops what they name; processes on the same host also learn of it at
-- once through the shared epochs file (src/common/epochs.h). Rows older than
-- an hour are deleted by housekeeping.
CREATE TABLE IF NOT EXISTS change_log (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	kind ENUM('tenant','limits','models','keys') NOT NULL,
	tenant_id BIGINT NOT NULL DEFAULT 0,
	created_at DATETIME(6) NOT NULL,
	KEY k_change_log_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Changes made behind agenthost's back (by hand in SQL) to what identifies a
-- caller: every write of an api_keys or tenants row moves its changed_at
-- (the server sets it, whatever the statement says), and the same poll
-- reads the rows changed in the window, so a key revoked or expired or a
-- tenant suspended by hand is refused within the same bound as through the
-- CLI. TIMESTAMP (stored in UTC whatever the session's time zone).
-- Recording that a key was used (last_used_at) keeps changed_at as it is.
ALTER TABLE api_keys
	ADD COLUMN IF NOT EXISTS changed_at TIMESTAMP(6) NOT NULL
		DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
	ADD KEY IF NOT EXISTS k_api_keys_changed (changed_at);
ALTER TABLE tenants
	ADD COLUMN IF NOT EXISTS changed_at TIMESTAMP(6) NOT NULL
		DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
	ADD KEY IF NOT EXISTS k_tenants_changed (changed_at);
