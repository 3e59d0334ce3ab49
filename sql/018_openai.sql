-- 018_openai.sql: embedding models and embedding executions.
--
-- models.kind says what a catalogue entry serves: 'chat' models answer
-- /v1/chat/completions and agent runs, 'embedding' models answer
-- /v1/embeddings; each endpoint refuses the other kind with a 400 naming
-- the model. An embedding model is priced per input token
-- (input_price_micros, micro-USD per 1M tokens); it produces no output
-- tokens, so output_price_micros and max_output are 0.
--
-- executions.kind gains 'embed': one row per /v1/embeddings call, admitted,
-- budgeted and recorded like a chat call (prompt_tokens = input tokens,
-- completion_tokens = 0). sql/tenant/002_embeddings.sql makes the same
-- change in dedicated tenants' databases.
--
-- (Issue 17 asked for migration number 012, which sql/012_housekeeping.sql
-- already holds; versions are a primary key, so this one is 018.)

ALTER TABLE models ADD COLUMN IF NOT EXISTS kind ENUM('chat','embedding') NOT NULL DEFAULT 'chat'
	AFTER upstream_model;

INSERT INTO models (name, provider, upstream_model, kind, input_price_micros, output_price_micros,
		    context_window, max_output, enabled, created_at) VALUES
	('mock-embed', 'mock', 'mock-embed', 'embedding', 100000, 0, 8192, 0, 1, UTC_TIMESTAMP(6)),
	('text-embedding-3-small', 'openai', 'text-embedding-3-small', 'embedding', 20000, 0, 8191,
	 0, 1, UTC_TIMESTAMP(6)),
	('text-embedding-3-large', 'openai', 'text-embedding-3-large', 'embedding', 130000, 0, 8191,
	 0, 1, UTC_TIMESTAMP(6)),
	('gemini-embedding-001', 'gemini', 'gemini-embedding-001', 'embedding', 150000, 0, 2048, 0,
	 1, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE name = name;

ALTER TABLE executions MODIFY kind ENUM('chat','run','step','embed') NOT NULL;
