/*
 * admins: dashboard users' passwords, shared by agenthostctl, the
 * dashboard's users page and the operator API.
 *
 * DESIGN
 * A name follows common/valid.h's VALID_ADMIN: 1-64 of A-Z a-z 0-9 . _ - @
 * (safe in URLs, logs and audit targets). Passwords are hashed with Argon2id (libsodium's
 * crypto_pwhash_str at the INTERACTIVE limits: ~64 MiB and a fraction of a
 * second, the hash string carries its own salt and cost). Generated
 * passwords are 128 random bits in hex, shown once by the caller.
 */
#ifndef AH_TENANCY_ADMINS_H
#define AH_TENANCY_ADMINS_H

#include <stddef.h>

#include <sodium.h>

#define ADMIN_PASSWORD_MIN 12
#define ADMIN_GENERATED_LEN 32 /* hex characters of a generated password */

/* Hash password (len bytes) into hash. 0, or -1 when out of memory. */
int admin_password_hash(const char *password, size_t len, char hash[crypto_pwhash_STRBYTES]);
/* A new random password (NUL-terminated) and its hash. 0 or -1. */
int admin_password_generate(char pw[ADMIN_GENERATED_LEN + 1], char hash[crypto_pwhash_STRBYTES]);

#endif
