/*
 * admins.c: dashboard user names and passwords (see admins.h).
 */
#include "config.h"

#include <string.h>

#include "tenancy/admins.h"

int admin_password_hash(const char *password, size_t len, char hash[crypto_pwhash_STRBYTES])
{
	return crypto_pwhash_str(hash, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                         crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
	           ? 0
	           : -1;
}

int admin_password_generate(char pw[ADMIN_GENERATED_LEN + 1], char hash[crypto_pwhash_STRBYTES])
{
	unsigned char b[ADMIN_GENERATED_LEN / 2];

	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(pw, ADMIN_GENERATED_LEN + 1, b, sizeof(b));
	sodium_memzero(b, sizeof(b));
	return admin_password_hash(pw, ADMIN_GENERATED_LEN, hash);
}
