/*
 * totp: one-time passwords for dashboard sign-in (RFC 4226 HOTP, RFC 6238
 * TOTP) and the base32 text their secrets travel in.
 *
 * DESIGN
 * Authenticator apps speak HMAC-SHA1, which libsodium does not offer (it
 * has SHA-256/512 HMACs only) and OpenSSL is not one of our declared
 * dependencies, so SHA-1 (FIPS 180-4) and HMAC (RFC 2104) are written here,
 * small and checked against the published test vectors (tests/unit/
 * test_totp.c: FIPS 180 "abc", RFC 2202, RFC 4226 appendix D, RFC 6238
 * appendix B). SHA-1's collision weakness does not matter to HMAC-SHA1 as
 * used by HOTP. Nothing here stores or logs a secret; the caller seals the
 * secret at rest (crypto/secrets.c) and wipes its buffers.
 */
#ifndef AH_TOTP_H
#define AH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_LEN 20 /* bytes of a new secret (160 bits, RFC 4226's advice) */
#define TOTP_PERIOD_S 30
#define TOTP_DIGITS 6
#define TOTP_B32_MAX 72 /* base32 text of up to 40 bytes (64 characters) and its NUL */
#define SHA1_LEN 20

/* SHA-1 of the n bytes at data into out. */
void totp_sha1(const void *data, size_t n, uint8_t out[SHA1_LEN]);
/* HMAC-SHA1 of msg under key (any length) into out. */
void totp_hmac_sha1(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                    uint8_t out[SHA1_LEN]);
/* The HOTP value of counter under key, reduced to digits (6..8) decimal digits. */
uint32_t totp_hotp(const uint8_t *key, size_t klen, uint64_t counter, int digits);
/* The 6-digit TOTP code of the 30-second step containing unix time t. */
uint32_t totp_code(const uint8_t *key, size_t klen, int64_t t);
/*
 * Check a presented code (exactly 6 ASCII digits, spaces ignored) against
 * the steps around unix time t (one step either side, for clock drift).
 * Returns the matching step (> 0), or 0 when none matches or code is
 * malformed. The caller refuses a step not greater than the last one used
 * (replay).
 */
int64_t totp_verify(const uint8_t *key, size_t klen, const char *code, int64_t t);
/* RFC 4648 base32 (A-Z2-7, no padding) of n bytes into out (cap bytes). 0, or -1 when short. */
int totp_b32_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/*
 * Decode base32 text (upper or lower case, spaces and '=' ignored) into out
 * (cap bytes). Returns the byte count, or -1 when malformed or too long.
 */
int totp_b32_decode(const char *in, uint8_t *out, size_t cap);

#endif
