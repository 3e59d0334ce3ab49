/*
 * test_totp: SHA-1, HMAC-SHA1, HOTP and TOTP against their published test
 * vectors (FIPS 180 examples, RFC 2202, RFC 4226 appendix D, RFC 6238
 * appendix B), the verify window, and base32 (RFC 4648 section 10).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "crypto/totp.h"
#include "testdb.h"

/* Hex of n bytes into out (2n+1). */
static void hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

START_TEST(sha1_vectors)
{
	static const struct {
		const char *in;
		const char *want;
	} t[] = {
	    {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
	    {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
	};
	uint8_t d[SHA1_LEN];
	char h[41];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		totp_sha1(t[i].in, strlen(t[i].in), d);
		hex(d, SHA1_LEN, h);
		ck_assert_str_eq(h, t[i].want);
	}
}
END_TEST

START_TEST(sha1_million_a)
{
	static char a[1000000];
	uint8_t d[SHA1_LEN];
	char h[41];

	memset(a, 'a', sizeof(a));
	totp_sha1(a, sizeof(a), d);
	hex(d, SHA1_LEN, h);
	ck_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}
END_TEST

START_TEST(hmac_rfc2202)
{
	uint8_t k1[20], k6[80], d[SHA1_LEN];
	char h[41];
	const char *m;

	memset(k1, 0x0b, sizeof(k1));
	m = "Hi There";
	totp_hmac_sha1(k1, sizeof(k1), (const uint8_t *)m, strlen(m), d);
	hex(d, SHA1_LEN, h);
	ck_assert_str_eq(h, "b617318655057264e28bc0b6fb378c8ef146be00");

	m = "what do ya want for nothing?";
	totp_hmac_sha1((const uint8_t *)"Jefe", 4, (const uint8_t *)m, strlen(m), d);
	hex(d, SHA1_LEN, h);
	ck_assert_str_eq(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");

	memset(k6, 0xaa, sizeof(k6));
	m = "Test Using Larger Than Block-Size Key - Hash Key First";
	totp_hmac_sha1(k6, sizeof(k6), (const uint8_t *)m, strlen(m), d);
	hex(d, SHA1_LEN, h);
	ck_assert_str_eq(h, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}
END_TEST

static const uint8_t seed[] = "12345678901234567890";

START_TEST(hotp_rfc4226)
{
	static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
	                                254676, 287922, 162583, 399871, 520489};
	uint64_t c;

	for (c = 0; c < 10; c++)
		ck_assert_uint_eq(totp_hotp(seed, 20, c, 6), want[c]);
}
END_TEST

START_TEST(totp_rfc6238)
{
	static const struct {
		int64_t t;
		uint32_t code8;
	} t[] = {
	    {59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
	    {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_uint_eq(totp_hotp(seed, 20, (uint64_t)(t[i].t / 30), 8), t[i].code8);
		/* the 6-digit code is the last six digits of the 8-digit one */
		ck_assert_uint_eq(totp_code(seed, 20, t[i].t), t[i].code8 % 1000000);
	}
}
END_TEST

START_TEST(verify_window)
{
	int64_t t = 1234567890, step = t / 30;
	char code[16];

	snprintf(code, sizeof(code), "%06u", (unsigned)totp_code(seed, 20, t));
	ck_assert_int_eq(totp_verify(seed, 20, code, t), step);
	ck_assert_int_eq(totp_verify(seed, 20, code, t + 30), step); /* one step late */
	ck_assert_int_eq(totp_verify(seed, 20, code, t - 30), step); /* one step early */
	ck_assert_int_eq(totp_verify(seed, 20, code, t + 61), 0);    /* too late */
	ck_assert_int_eq(totp_verify(seed, 20, "12345", t), 0);      /* too short */
	ck_assert_int_eq(totp_verify(seed, 20, "1234567", t), 0);    /* too long */
	ck_assert_int_eq(totp_verify(seed, 20, "12a456", t), 0);     /* not digits */
	ck_assert_int_eq(totp_verify(seed, 20, "", t), 0);
	snprintf(code, sizeof(code), "%03u %03u", (unsigned)totp_code(seed, 20, t) / 1000,
	         (unsigned)totp_code(seed, 20, t) % 1000);
	ck_assert_int_eq(totp_verify(seed, 20, code, t), step); /* "123 456" as apps show it */
}
END_TEST

START_TEST(base32)
{
	static const struct {
		const char *in, *out;
	} t[] = {{"", ""},
	         {"f", "MY"},
	         {"fo", "MZXQ"},
	         {"foo", "MZXW6"},
	         {"foob", "MZXW6YQ"},
	         {"fooba", "MZXW6YTB"},
	         {"foobar", "MZXW6YTBOI"}};
	char enc[TOTP_B32_MAX];
	uint8_t dec[40];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(
		    totp_b32_encode((const uint8_t *)t[i].in, strlen(t[i].in), enc, sizeof(enc)),
		    0);
		ck_assert_str_eq(enc, t[i].out);
		ck_assert_int_eq(totp_b32_decode(t[i].out, dec, sizeof(dec)), (int)strlen(t[i].in));
		ck_assert(memcmp(dec, t[i].in, strlen(t[i].in)) == 0);
	}
	ck_assert_int_eq(totp_b32_decode("mzxw 6ytb oi==", dec, sizeof(dec)), 6);
	ck_assert_int_eq(totp_b32_decode("MZX1", dec, sizeof(dec)), -1);
	ck_assert_int_eq(totp_b32_decode("MZXW6YTBOI", dec, 3), -1);
	ck_assert_int_eq(totp_b32_encode((const uint8_t *)"foobar", 6, enc, 10), -1);
	/* the largest secret TOTP_B32_MAX is for: 40 bytes, 64 characters (found by fuzz_totp) */
	{
		uint8_t big[40], back[40];

		for (i = 0; i < sizeof(big); i++)
			big[i] = (uint8_t)(i * 37 + 1);
		ck_assert_int_eq(totp_b32_encode(big, sizeof(big), enc, sizeof(enc)), 0);
		ck_assert_uint_eq(strlen(enc), 64);
		ck_assert_int_eq(totp_b32_decode(enc, back, sizeof(back)), 40);
		ck_assert(memcmp(big, back, sizeof(big)) == 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("totp");
	TCase *tc = tcase_create("totp");

	tcase_add_test(tc, sha1_vectors);
	tcase_add_test(tc, sha1_million_a);
	tcase_add_test(tc, hmac_rfc2202);
	tcase_add_test(tc, hotp_rfc4226);
	tcase_add_test(tc, totp_rfc6238);
	tcase_add_test(tc, verify_window);
	tcase_add_test(tc, base32);
	suite_add_tcase(s, tc);
	return testdb_run(s);
}
