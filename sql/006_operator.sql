-- 006_operator.sql: operator API tokens.
--
-- Operators call /admin/api/v1/... with "Authorization: Bearer <token>". A
-- token comes either from the config (`operator_token`) or from
-- `agenthostctl operator-token create`, which stores only the keyed BLAKE2b
-- hash (the same pepper as tenant API keys) and a short display prefix; the
-- token itself is shown once. Revocation sets revoked_at and takes effect on
-- the next request (no cache). Safe to re-run (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS operator_tokens (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(100) NOT NULL,
	prefix VARCHAR(15) NOT NULL,
	token_hash BINARY(32) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	revoked_at DATETIME(6) NULL,
	last_used_at DATETIME(6) NULL,
	UNIQUE KEY uk_operator_tokens_hash (token_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
