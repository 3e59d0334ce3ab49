-- 027_routes.sql: routes per plan or tenant, and tenant key pools (issue 17,
-- docs/ROUTING.md).
--
-- routes: a model name or alias (a name that is not a catalogue model) of a
-- plan (owner_kind 'plan', owner_id plans.id) or of a tenant ('tenant',
-- tenants.id) maps to an ordered, weighted list of targets, kept as the JSON
-- array exec/route.c checked before storing it ([{"provider", "model",
-- "credential", "tier", "weight"}]). A tenant's route of a name hides its
-- plan's. Read on the hot path through a per-process cache (exec/route.c);
-- every write is logged in change_log (a plan's as a limits change, a
-- tenant's as a change of that tenant).
--
-- Key pools: several sealed provider keys of one tenant and provider are
-- provider_credentials rows named "<provider>#<key name>" (sealed with that
-- name as associated data, like every tenant provider key), so the column
-- grows to hold the key name.
--
-- Control database only: routes and credentials are configuration, not
-- tenant content, and stay in the control database in both isolation modes.
CREATE TABLE IF NOT EXISTS routes (
	owner_kind ENUM('plan','tenant') NOT NULL,
	owner_id BIGINT NOT NULL,
	name VARCHAR(127) NOT NULL,
	targets TEXT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (owner_kind, owner_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE provider_credentials MODIFY provider VARCHAR(64) NOT NULL;
