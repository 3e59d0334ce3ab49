-- 016_ledger.sql: what the ledger and process leases need.
--
-- The ledger (src/exec/ledger.c) records finished calls in batches: each
-- process appends a call to its journal file before answering, then writes
-- many calls in one transaction. ledger_marks says that the control
-- database's part of a dedicated tenant's call (counters, summary rollups)
-- is written (its row and rollups are in the tenant's own database), so a
-- journal replayed after a crash writes neither part twice; rows older than
-- two days are deleted by housekeeping (journals are replayed within
-- seconds).
--
-- budget_counters.leased_*: what processes hold of a counter as leases
-- (docs/ENFORCEMENT.md, "Leases"): admission checks spent + reserved +
-- leased against the limit. reserved_* keeps its meaning, the worst case of
-- calls admitted one by one (reservations rows).
CREATE TABLE IF NOT EXISTS ledger_marks (
	tenant_id BIGINT NOT NULL,
	exec_id VARCHAR(39) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (tenant_id, exec_id),
	KEY k_ledger_marks_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE budget_counters
	ADD COLUMN IF NOT EXISTS leased_micros BIGINT NOT NULL DEFAULT 0 AFTER reserved_tokens,
	ADD COLUMN IF NOT EXISTS leased_tokens BIGINT NOT NULL DEFAULT 0 AFTER leased_micros,
	ADD COLUMN IF NOT EXISTS leased_requests BIGINT NOT NULL DEFAULT 0 AFTER leased_tokens;
