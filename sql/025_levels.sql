-- 025_levels.sql: projects, a budget level between a tenant and its keys,
-- and budgets on metadata tags (docs/ENFORCEMENT.md section 3.9).
--
-- projects: named groups of a tenant's API keys (teams, applications). A
-- project carries limits at the scope 'project' of `limits` (its budgets,
-- budget_enforcement and allowed_models: a level a call must fit besides
-- the tenant's and the key's). project_keys: a key belongs to at most one
-- project (key_id is the primary key); both live in the control database
-- next to api_keys, whatever the tenant's isolation mode.
--
-- tags: a tenant's metadata tags that carry budgets (department=research);
-- their limits are rows of `limits` at scope 'tag'. A call whose metadata
-- has the tag (a string value equal to tag_value) must fit its budgets.
--
-- The scope enums gain 'project' and 'tag' at their END: budget_counters, leases and
-- lease_recalls sort their rows by scope's position, and admission locks
-- counter rows in that order (store/admission.c adm_key_cmp), so the
-- existing positions must not move.
CREATE TABLE IF NOT EXISTS projects (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id BIGINT NOT NULL,
	name VARCHAR(64) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_projects_name (tenant_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS project_keys (
	key_id BIGINT NOT NULL PRIMARY KEY,
	tenant_id BIGINT NOT NULL,
	project_id BIGINT NOT NULL,
	KEY k_project_keys_project (project_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS tags (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id BIGINT NOT NULL,
	tag_key VARCHAR(64) NOT NULL,
	tag_value VARCHAR(128) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	UNIQUE KEY uk_tags (tenant_id, tag_key, tag_value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE limits MODIFY scope ENUM('global','plan','tenant','key','project','tag') NOT NULL;
ALTER TABLE budget_counters MODIFY scope ENUM('tenant','key','global','project','tag') NOT NULL;
ALTER TABLE leases MODIFY scope ENUM('tenant','key','global','project','tag') NOT NULL;
ALTER TABLE lease_recalls MODIFY scope ENUM('tenant','key','global','project','tag') NOT NULL;
