-- 024_accounts.sql: two-factor sign-in for dashboard users, and throttling
-- by (account, address) instead of a lock-out.
--
-- totp_ct is the user's TOTP secret sealed with XChaCha20-Poly1305 under the
-- master key (crypto/secrets.c, associated data binding the user id); the
-- plaintext is never stored. totp_enabled is 0 while an enrolment waits for
-- its first code; totp_last_step is the last 30-second step whose code was
-- accepted, so a code is never accepted twice. admin_sessions.stage: 0 a
-- full session, 1 password given and a code still due, 2 password given and
-- an enrolment due (MFA required, none set up). Recovery codes are stored as
-- keyed BLAKE2b hashes and used once. The (name, ip, at) index serves the
-- per-(account, address) throttle. Safe to re-run (IF NOT EXISTS).
-- Numbered 024: 013 (the number first given) was taken on main, and 018, 021
-- and 023 by other branches, when this branch was written.

ALTER TABLE admin_users
	ADD COLUMN IF NOT EXISTS totp_nonce BINARY(24) NULL,
	ADD COLUMN IF NOT EXISTS totp_ct VARBINARY(128) NULL,
	ADD COLUMN IF NOT EXISTS totp_enabled TINYINT NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS totp_last_step BIGINT NOT NULL DEFAULT 0;

ALTER TABLE admin_sessions
	ADD COLUMN IF NOT EXISTS stage TINYINT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS admin_recovery_codes (
	user_id BIGINT NOT NULL,
	code_hash BINARY(32) NOT NULL,
	used_at DATETIME(6) NULL,
	PRIMARY KEY (user_id, code_hash),
	CONSTRAINT fk_admin_recovery_user FOREIGN KEY (user_id) REFERENCES admin_users (id)
		ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX IF NOT EXISTS k_login_attempts_name_ip ON login_attempts (name, ip, at);
