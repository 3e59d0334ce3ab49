-- tenant/002_embeddings: executions.kind gains 'embed' (one row per
-- /v1/embeddings call), as sql/018_openai.sql does in the control database.

ALTER TABLE executions MODIFY kind ENUM('chat','run','step','embed') NOT NULL;
