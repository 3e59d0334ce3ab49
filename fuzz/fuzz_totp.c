/*
 * fuzz_totp: a presented sign-in code and base32 secrets (crypto/totp.c).
 * The input is "code\nbase32"; the base32 text decoded (when it is) is the
 * key the code is checked against, and any bytes must survive encoding and
 * decoding unchanged.
 */
#include "config.h"

#include "crypto/totp.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *whole = data;
	size_t nc, nb, wsize = size;
	const uint8_t *c = fuzz_part(&data, &size, '\n', &nc);
	const uint8_t *b = fuzz_part(&data, &size, '\n', &nb);
	char *code = fuzz_strndup(c, nc), *b32 = fuzz_strndup(b, nb);
	char enc[TOTP_B32_MAX];
	uint8_t key[40], back[40];
	int n;

	n = totp_b32_decode(b32, key, sizeof(key));
	if (n > 0 && totp_verify(key, (size_t)n, code, 1234567890) > 0 &&
	    totp_code(key, (size_t)n, 1234567890) > 999999)
		abort();
	if (wsize > 0 && wsize <= sizeof(key)) {
		if (totp_b32_encode(whole, wsize, enc, sizeof(enc)) != 0 ||
		    totp_b32_decode(enc, back, sizeof(back)) != (int)wsize ||
		    memcmp(back, whole, wsize) != 0)
			abort();
	}
	free(code);
	free(b32);
	return 0;
}
