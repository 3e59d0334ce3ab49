-- 030_levels_rest.sql: the rest of the budget levels (docs/ENFORCEMENT.md
-- section 3.9): a project's own provider keys, and a budget for each end
-- user of a tenant.
--
-- project_provider_credentials: a project's own provider key, sealed like a
-- tenant's (provider_credentials; crypto/secrets.c, associated data bound to
-- the tenant, the project and the provider, so a ciphertext copied to another
-- project or tenant does not open). One row per (project, provider). A call
-- of a key in the project uses it before the tenant's own (docs/API.md,
-- "Provider credentials"). Control database, next to projects, in both
-- isolation modes; deleting the project deletes its keys.
CREATE TABLE IF NOT EXISTS project_provider_credentials (
	project_id BIGINT NOT NULL,
	provider VARCHAR(32) NOT NULL,
	tenant_id BIGINT NOT NULL,
	key_version INT NOT NULL,
	nonce BINARY(24) NOT NULL,
	ciphertext VARBINARY(1040) NOT NULL,
	last4 CHAR(4) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (project_id, provider),
	KEY k_project_provider_credentials_tenant (tenant_id, project_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- end_user: the counters of one end user of a tenant (the call's OpenAI
-- "user" field or X-Actor-Id) under the tenant's end_user_budget_* limits.
-- scope_id is a keyed hash of (tenant, end user) (crypto/secrets.c
-- secrets_end_user_id): no row names the end user. Added at the END of the
-- enums, like 025's: rows are locked in the order of scope's position.
ALTER TABLE budget_counters MODIFY scope ENUM('tenant','key','global','project','tag','end_user') NOT NULL;
ALTER TABLE leases MODIFY scope ENUM('tenant','key','global','project','tag','end_user') NOT NULL;
ALTER TABLE lease_recalls MODIFY scope ENUM('tenant','key','global','project','tag','end_user') NOT NULL;
