-- 026_mgmt.sql: model prices with effective dates (the operator API's
-- POST /admin/api/v1/models/{name}/prices, docs/API.md).
--
-- model_prices keeps every price a model ever had: a row takes effect at
-- effective_at (UTC) and holds until the next row's. Admission prices a call
-- with the row in effect when the call is admitted, and each execution
-- stores its cost, so a price change never alters what past calls cost
-- (invoices and showback read those stored costs, never the price table).
-- A price cannot be dated in the past (the API refuses it), so the history
-- is never rewritten. models.input_price_micros / output_price_micros stay
-- as the fallback of a model without rows (and what 002's seed wrote).
--
-- Seeded with each existing model's list price, effective from its
-- creation; re-running keeps rows that exist (a no-op upsert).
-- Control database only: the catalogue is not per tenant.
CREATE TABLE IF NOT EXISTS model_prices (
	model VARCHAR(127) NOT NULL,
	effective_at DATETIME(6) NOT NULL,
	input_price_micros BIGINT NOT NULL,
	output_price_micros BIGINT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	created_by VARCHAR(100) NOT NULL DEFAULT '',
	PRIMARY KEY (model, effective_at),
	CONSTRAINT ck_model_prices CHECK (input_price_micros >= 0 AND output_price_micros >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO model_prices (model, effective_at, input_price_micros, output_price_micros,
			  created_at, created_by)
SELECT name, created_at, input_price_micros, output_price_micros, UTC_TIMESTAMP(6),
       'migration:026'
FROM models
ON DUPLICATE KEY UPDATE model = model_prices.model;
