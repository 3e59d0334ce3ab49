-- 002_seed.sql: plans and the model catalogue with list prices.
--
-- Idempotent: an existing row is left exactly as it is ("ON DUPLICATE KEY
-- UPDATE name = name" is a no-op that keeps strict mode's errors for real
-- mistakes, which INSERT IGNORE would turn into warnings), so re-running this
-- never overwrites prices an operator has changed. Price changes ship as new
-- numbered migrations.
--
-- Prices are integer micro-USD per 1M tokens: $0.15 per 1M = 150000.
-- The mock models cost something so that tests see a nonzero cost.

INSERT INTO plans (name, description, created_at) VALUES
	('free', 'Free tier: small limits, platform models only', UTC_TIMESTAMP(6)),
	('pro', 'Pro: higher limits, bring your own provider keys', UTC_TIMESTAMP(6)),
	('enterprise', 'Enterprise: negotiated limits, dedicated data isolation', UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE name = name;

INSERT INTO models (name, provider, upstream_model, input_price_micros, output_price_micros,
		    context_window, max_output, enabled, created_at) VALUES
	('mock-1', 'mock', 'mock-1', 1000000, 2000000, 32768, 4096, 1, UTC_TIMESTAMP(6)),
	('mock-fast', 'mock', 'mock-fast', 100000, 200000, 32768, 4096, 1, UTC_TIMESTAMP(6)),
	('gpt-4o-mini', 'openai', 'gpt-4o-mini', 150000, 600000, 128000, 16384, 1, UTC_TIMESTAMP(6)),
	('gpt-4o', 'openai', 'gpt-4o', 2500000, 10000000, 128000, 16384, 1, UTC_TIMESTAMP(6)),
	('gpt-4.1-mini', 'openai', 'gpt-4.1-mini', 400000, 1600000, 1047576, 32768, 1,
	 UTC_TIMESTAMP(6)),
	('deepseek-chat', 'deepseek', 'deepseek-chat', 280000, 420000, 128000, 8192, 1,
	 UTC_TIMESTAMP(6)),
	('mistral-small-latest', 'mistral', 'mistral-small-latest', 100000, 300000, 128000, 32768, 1,
	 UTC_TIMESTAMP(6)),
	('llama3.1', 'ollama', 'llama3.1', 0, 0, 131072, 8192, 1, UTC_TIMESTAMP(6)),
	('claude-3-5-haiku-latest', 'anthropic', 'claude-3-5-haiku-latest', 800000, 4000000, 200000,
	 8192, 1, UTC_TIMESTAMP(6)),
	('claude-sonnet-4-20250514', 'anthropic', 'claude-sonnet-4-20250514', 3000000, 15000000,
	 200000, 64000, 1, UTC_TIMESTAMP(6)),
	('gemini-2.0-flash', 'gemini', 'gemini-2.0-flash', 100000, 400000, 1048576, 8192, 1,
	 UTC_TIMESTAMP(6)),
	('gemini-2.5-flash', 'gemini', 'gemini-2.5-flash', 300000, 2500000, 1048576, 65536, 1,
	 UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE name = name;
