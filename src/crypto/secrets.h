/*
 * secrets: everything that touches key material.
 *
 * DESIGN
 * One 32-byte master key, read from a 0600 file, is never used directly:
 * crypto_kdf derives a "pepper" subkey for hashing API keys (keyed BLAKE2b)
 * and a "byok" subkey for sealing provider credentials
 * (XChaCha20-Poly1305, associated data "agenthost:byok:v1|tenant=<id>|
 * provider=<name>|version=<n>", so a ciphertext copied to another tenant,
 * provider or version fails to open). Plaintext buffers are wiped with
 * sodium_memzero after use.
 *
 * API keys look like "ah_live_" + 43 base64url characters (32 random bytes).
 * The display prefix is the first 12 characters ("ah_live_" + 4).
 */
#ifndef AH_SECRETS_H
#define AH_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#define SECRETS_KEY_PREFIX "ah_live_"
#define SECRETS_API_KEY_LEN 51 /* strlen of a full API key */
#define SECRETS_DISPLAY_PREFIX_LEN 12
#define SECRETS_HASH_LEN 32
#define SECRETS_NONCE_LEN 24
#define SECRETS_MAC_LEN 16
#define SECRETS_MAX_PLAIN 1024 /* longest provider credential accepted */

/*
 * Load the master key from path (64 hex chars, optional trailing newline).
 * Refuses a file readable by group or others. 0, or -1 with err.
 */
int secrets_init(const char *path, char *err, size_t errlen);
/* Create a new master key file (0600) at path; -1 if it exists or cannot be written. */
int secrets_create_master_key(const char *path, char *err, size_t errlen);
/* 1 after a successful secrets_init. */
int secrets_ready(void);

/*
 * New API key: key (>= 52 bytes) gets the full secret, prefix (>= 13 bytes)
 * the display prefix, hash its keyed hash. 0 on success.
 */
int secrets_new_api_key(char *key, char *prefix, uint8_t hash[SECRETS_HASH_LEN]);
/* Keyed hash of a presented key (any length). */
void secrets_hash_api_key(const char *key, size_t len, uint8_t hash[SECRETS_HASH_LEN]);
/* 1 when s has the shape of one of our keys (prefix, length, alphabet). */
int secrets_api_key_shape_ok(const char *s, size_t len);

/*
 * Seal a provider credential for (tenant, provider, version). ct must hold
 * len + SECRETS_MAC_LEN bytes; *ct_len gets the size. 0 on success.
 */
int secrets_seal(int64_t tenant_id, const char *provider, int version, const char *plain,
                 size_t len, uint8_t nonce[SECRETS_NONCE_LEN], uint8_t *ct, size_t *ct_len);
/*
 * Open a sealed credential into plain (cap bytes, NUL-terminated).
 * -1 when it does not authenticate (wrong tenant, provider, version, or
 * tampered) or does not fit. The caller wipes plain after use.
 */
int secrets_open(int64_t tenant_id, const char *provider, int version,
                 const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct, size_t ct_len,
                 char *plain, size_t cap);
/*
 * The same for a project's own provider key: the associated data binds
 * tenant, project, provider and version ("project:<id>/<provider>" in the
 * provider field), so it opens for no other project, nor as the tenant's key.
 */
int secrets_seal_project(int64_t tenant_id, int64_t project_id, const char *provider, int version,
                         const char *plain, size_t len, uint8_t nonce[SECRETS_NONCE_LEN],
                         uint8_t *ct, size_t *ct_len);
int secrets_open_project(int64_t tenant_id, int64_t project_id, const char *provider, int version,
                         const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct, size_t ct_len,
                         char *plain, size_t cap);
/*
 * The same for a tenant's value of secret name of tool: the associated data
 * binds tenant, tool, secret name and version, so a value copied to another
 * tenant, tool or name does not open.
 */
int secrets_seal_tool(int64_t tenant_id, const char *tool, const char *name, int version,
                      const char *plain, size_t len, uint8_t nonce[SECRETS_NONCE_LEN], uint8_t *ct,
                      size_t *ct_len);
int secrets_open_tool(int64_t tenant_id, const char *tool, const char *name, int version,
                      const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct, size_t ct_len,
                      char *plain, size_t cap);
/*
 * Seal a dashboard user's TOTP secret (raw bytes) for user_id (associated
 * data "agenthost:totp:v1|user=<id>", so it opens for no other user and is
 * never taken for a provider credential). ct must hold len +
 * SECRETS_MAC_LEN bytes. 0 on success.
 */
int secrets_seal_totp(int64_t user_id, const uint8_t *secret, size_t len,
                      uint8_t nonce[SECRETS_NONCE_LEN], uint8_t *ct, size_t *ct_len);
/* Open it into out (cap bytes); the byte count, or -1. The caller wipes out after use. */
int secrets_open_totp(int64_t user_id, const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct,
                      size_t ct_len, uint8_t *out, size_t cap);
/*
 * The id of end user name (the OpenAI "user" field, X-Actor-Id) of tenant_id
 * for its budget counters: a keyed hash (the pepper) of the tenant and the
 * name, 1..2^63-1, so no row names the end user and no one can choose a
 * name that lands on another's counters. 0 without the master key.
 */
int64_t secrets_end_user_id(int64_t tenant_id, const char *name);
/* Keyed hash (the pepper) of a recovery code of user_id, as stored. */
void secrets_hash_recovery(int64_t user_id, const char *code, uint8_t hash[SECRETS_HASH_LEN]);

/*
 * A webhook's signing secret, "whsec_" and 64 hex characters, derived from
 * the master key, the tenant and the webhook's id (so nothing is stored; a
 * new secret is a new webhook). 0, or -1 without the master key.
 */
#define SECRETS_WEBHOOK_SECRET_LEN 70
int secrets_webhook_secret(int64_t tenant_id, int64_t webhook_id,
                           char out[SECRETS_WEBHOOK_SECRET_LEN + 1]);
/*
 * The signature of one delivery: hex HMAC-SHA256, keyed with the webhook's
 * secret (its text, as the tenant got it), over "<ts>." followed by the
 * body. out gets 64 hex characters. 0, or -1 without the master key.
 */
int secrets_webhook_sign(int64_t tenant_id, int64_t webhook_id, int64_t ts, const char *body,
                         size_t len, char out[65]);
/* Last 4 characters of a credential for display (out >= 5 bytes). */
void secrets_last4(const char *plain, char out[5]);

#endif
