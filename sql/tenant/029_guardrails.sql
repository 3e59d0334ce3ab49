-- tenant/029_guardrails: executions.guardrails in a dedicated tenant's own
-- database, as sql/029_guardrails.sql adds it to the control database's
-- table of the same name (what each guardrail of the call decided, a JSON
-- array; NULL when the tenant has no chain). Safe to re-run.

ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS guardrails TEXT NULL;
