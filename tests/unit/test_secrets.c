/*
 * test_secrets: unit tests for src/crypto/secrets.c.
 *
 * DESIGN
 * Each test works in its own temporary directory with its own master key
 * files, so tests are independent of the machine's configuration and of
 * each other (check forks per test by default).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "crypto/secrets.h"
#include "testdb.h"

static char tmpdir[256];

/* Make a fresh temporary directory for one test. */
static void setup(void)
{
	ck_assert_int_eq(testdb_tmpdir("test_secrets", tmpdir, sizeof(tmpdir)), 0);
}

/* Remove the files a test may have left, then the directory. */
static void teardown(void)
{
	static const char *const names[] = {"a.key", "b.key", "bad.key", "new.key"};
	char p[320];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

/* Path of name inside the test's directory (static buffer per slot). */
static const char *tpath(int slot, const char *name)
{
	static char paths[4][320];

	snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", tmpdir, name);
	return paths[slot];
}

/* Write content to path with mode. */
static void write_file(const char *path, const char *content, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(content, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Create a master key at tpath(0, name) and load it. */
static void init_new_key(const char *name)
{
	char err[256] = "";

	ck_assert_msg(secrets_create_master_key(tpath(0, name), err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(secrets_init(tpath(0, name), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(secrets_ready(), 1);
}

/* Webhook secrets: stable per (tenant, webhook), different otherwise; the signature is
 * HMAC-SHA256 keyed with the secret's text over "<ts>." and the body. */
START_TEST(test_webhook_secret_and_signature)
{
	char a[SECRETS_WEBHOOK_SECRET_LEN + 1], b[SECRETS_WEBHOOK_SECRET_LEN + 1],
	    c[SECRETS_WEBHOOK_SECRET_LEN + 1], sig[65], want[65], msg[64];
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state h;
	const char *body = "{\"event\":\"key.expiring\"}";

	init_new_key("hooks.key");
	ck_assert_int_eq(secrets_webhook_secret(7, 1, a), 0);
	ck_assert_int_eq(secrets_webhook_secret(7, 1, b), 0);
	ck_assert_int_eq(secrets_webhook_secret(7, 2, c), 0);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(secrets_webhook_secret(8, 1, c), 0);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq((int)strlen(a), SECRETS_WEBHOOK_SECRET_LEN);
	ck_assert(strncmp(a, "whsec_", 6) == 0);
	ck_assert_int_eq(secrets_webhook_sign(7, 1, 1765090000, body, strlen(body), sig), 0);
	snprintf(msg, sizeof(msg), "1765090000.%s", body);
	crypto_auth_hmacsha256_init(&h, (const unsigned char *)a, strlen(a));
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&h, mac);
	sodium_bin2hex(want, sizeof(want), mac, sizeof(mac));
	ck_assert_str_eq(sig, want);
	ck_assert_int_eq(secrets_webhook_sign(7, 1, 1765090001, body, strlen(body), want), 0);
	ck_assert_str_ne(sig, want);
}
END_TEST

START_TEST(test_key_shape)
{
	char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	uint8_t hash[SECRETS_HASH_LEN], again[SECRETS_HASH_LEN];
	char bad[SECRETS_API_KEY_LEN + 1];

	init_new_key("a.key");
	ck_assert_int_eq(secrets_new_api_key(key, prefix, hash), 0);
	ck_assert_uint_eq(strlen(key), SECRETS_API_KEY_LEN);
	ck_assert_int_eq(strncmp(key, "ah_live_", 8), 0);
	ck_assert_uint_eq(strlen(prefix), SECRETS_DISPLAY_PREFIX_LEN);
	ck_assert_int_eq(strncmp(key, prefix, SECRETS_DISPLAY_PREFIX_LEN), 0);
	ck_assert_int_eq(secrets_api_key_shape_ok(key, strlen(key)), 1);
	secrets_hash_api_key(key, strlen(key), again);
	ck_assert_mem_eq(hash, again, SECRETS_HASH_LEN);

	ck_assert_int_eq(secrets_api_key_shape_ok(key, strlen(key) - 1), 0);
	ck_assert_int_eq(secrets_api_key_shape_ok("", 0), 0);
	memcpy(bad, key, sizeof(bad));
	bad[0] = 'x';
	ck_assert_int_eq(secrets_api_key_shape_ok(bad, strlen(bad)), 0);
	memcpy(bad, key, sizeof(bad));
	bad[20] = '+';
	ck_assert_int_eq(secrets_api_key_shape_ok(bad, strlen(bad)), 0);
	memcpy(bad, key, sizeof(bad));
	bad[20] = '=';
	ck_assert_int_eq(secrets_api_key_shape_ok(bad, strlen(bad)), 0);
	/* Non-canonical last character (low bits set) is not one we issued. */
	memcpy(bad, key, sizeof(bad));
	bad[SECRETS_API_KEY_LEN - 1] = 'B';
	ck_assert_int_eq(secrets_api_key_shape_ok(bad, strlen(bad)), 0);

	/* Two keys differ. */
	{
		char key2[SECRETS_API_KEY_LEN + 1], prefix2[SECRETS_DISPLAY_PREFIX_LEN + 1];
		uint8_t hash2[SECRETS_HASH_LEN];

		ck_assert_int_eq(secrets_new_api_key(key2, prefix2, hash2), 0);
		ck_assert_str_ne(key, key2);
		ck_assert_int_ne(memcmp(hash, hash2, SECRETS_HASH_LEN), 0);
	}
}
END_TEST

START_TEST(test_hash_keyed)
{
	static const char key[] = "ah_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	uint8_t h1[SECRETS_HASH_LEN], h1b[SECRETS_HASH_LEN], h2[SECRETS_HASH_LEN];
	uint8_t h1c[SECRETS_HASH_LEN], plain[SECRETS_HASH_LEN];
	char err[256] = "";

	init_new_key("a.key");
	secrets_hash_api_key(key, strlen(key), h1);
	secrets_hash_api_key(key, strlen(key), h1b);
	ck_assert_mem_eq(h1, h1b, SECRETS_HASH_LEN);

	/* Unkeyed BLAKE2b would be a plain digest: ours must differ from it. */
	crypto_generichash(plain, sizeof(plain), (const unsigned char *)key, strlen(key), NULL, 0);
	ck_assert_int_ne(memcmp(h1, plain, SECRETS_HASH_LEN), 0);

	ck_assert_msg(secrets_create_master_key(tpath(1, "b.key"), err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert_msg(secrets_init(tpath(1, "b.key"), err, sizeof(err)) == 0, "%s", err);
	secrets_hash_api_key(key, strlen(key), h2);
	ck_assert_int_ne(memcmp(h1, h2, SECRETS_HASH_LEN), 0);

	/* Back to the first master key: the same hash again (stable across loads). */
	ck_assert_msg(secrets_init(tpath(0, "a.key"), err, sizeof(err)) == 0, "%s", err);
	secrets_hash_api_key(key, strlen(key), h1c);
	ck_assert_mem_eq(h1, h1c, SECRETS_HASH_LEN);
}
END_TEST

START_TEST(test_hash_known_master)
{
	/* A fixed master key gives a fixed hash: stored hashes survive restarts. */
	static const char hex[] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	uint8_t h1[SECRETS_HASH_LEN], h2[SECRETS_HASH_LEN];
	char err[256] = "";

	write_file(tpath(0, "a.key"), hex, 0600);
	ck_assert_msg(secrets_init(tpath(0, "a.key"), err, sizeof(err)) == 0, "%s", err);
	secrets_hash_api_key("ah_live_x", 9, h1);
	/* Without the trailing newline the key is the same. */
	write_file(tpath(1, "b.key"),
	           "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 0400);
	ck_assert_msg(secrets_init(tpath(1, "b.key"), err, sizeof(err)) == 0, "%s", err);
	secrets_hash_api_key("ah_live_x", 9, h2);
	ck_assert_mem_eq(h1, h2, SECRETS_HASH_LEN);
}
END_TEST

START_TEST(test_seal_round_trip)
{
	static const char cred[] = "sk-test-0123456789abcdef";
	uint8_t nonce[SECRETS_NONCE_LEN], ct[SECRETS_MAX_PLAIN + SECRETS_MAC_LEN];
	char plain[SECRETS_MAX_PLAIN + 1];
	size_t ct_len = 0;

	init_new_key("a.key");
	ck_assert_int_eq(secrets_seal(42, "openai", 3, cred, strlen(cred), nonce, ct, &ct_len), 0);
	ck_assert_uint_eq(ct_len, strlen(cred) + SECRETS_MAC_LEN);
	ck_assert_int_eq(memmem(ct, ct_len, cred, strlen(cred)) == NULL, 1);
	ck_assert_int_eq(secrets_open(42, "openai", 3, nonce, ct, ct_len, plain, sizeof(plain)), 0);
	ck_assert_str_eq(plain, cred);

	/* Too small an output buffer is refused, not truncated. */
	ck_assert_int_eq(secrets_open(42, "openai", 3, nonce, ct, ct_len, plain, strlen(cred)), -1);

	/* Empty credential round-trips too. */
	ck_assert_int_eq(secrets_seal(42, "openai", 1, "", 0, nonce, ct, &ct_len), 0);
	ck_assert_uint_eq(ct_len, SECRETS_MAC_LEN);
	ck_assert_int_eq(secrets_open(42, "openai", 1, nonce, ct, ct_len, plain, sizeof(plain)), 0);
	ck_assert_str_eq(plain, "");
}
END_TEST

START_TEST(test_seal_max_plain)
{
	static char big[SECRETS_MAX_PLAIN + 2];
	uint8_t nonce[SECRETS_NONCE_LEN], ct[SECRETS_MAX_PLAIN + 1 + SECRETS_MAC_LEN];
	char plain[SECRETS_MAX_PLAIN + 1];
	size_t ct_len = 0;

	init_new_key("a.key");
	memset(big, 'k', sizeof(big) - 1);
	ck_assert_int_eq(secrets_seal(1, "mock", 1, big, SECRETS_MAX_PLAIN + 1, nonce, ct, &ct_len),
	                 -1);
	ck_assert_int_eq(secrets_seal(1, "mock", 1, big, SECRETS_MAX_PLAIN, nonce, ct, &ct_len), 0);
	ck_assert_int_eq(secrets_open(1, "mock", 1, nonce, ct, ct_len, plain, sizeof(plain)), 0);
	ck_assert_uint_eq(strlen(plain), SECRETS_MAX_PLAIN);
	/* A provider name that could forge another AD field is refused. */
	ck_assert_int_eq(secrets_seal(1, "a|version=2", 1, "x", 1, nonce, ct, &ct_len), -1);
	ck_assert_int_eq(secrets_seal(1, "", 1, "x", 1, nonce, ct, &ct_len), -1);
}
END_TEST

/* A project's key opens for that project only: not another, not as the tenant's, nor elsewhere. */
START_TEST(test_project_key_bound_to_its_project)
{
	static const char cred[] = "sk-project-own-value";
	uint8_t nonce[SECRETS_NONCE_LEN], ct[SECRETS_MAX_PLAIN + SECRETS_MAC_LEN];
	char plain[SECRETS_MAX_PLAIN + 1];
	size_t ct_len = 0;

	init_new_key("p.key");
	ck_assert_int_eq(
	    secrets_seal_project(7, 3, "openai", 1, cred, strlen(cred), nonce, ct, &ct_len), 0);
	ck_assert_int_eq(
	    secrets_open_project(7, 3, "openai", 1, nonce, ct, ct_len, plain, sizeof(plain)), 0);
	ck_assert_str_eq(plain, cred);
	ck_assert_int_eq(
	    secrets_open_project(7, 4, "openai", 1, nonce, ct, ct_len, plain, sizeof(plain)), -1);
	ck_assert_str_eq(plain, "");
	ck_assert_int_eq(
	    secrets_open_project(8, 3, "openai", 1, nonce, ct, ct_len, plain, sizeof(plain)), -1);
	ck_assert_int_eq(
	    secrets_open_project(7, 3, "anthropic", 1, nonce, ct, ct_len, plain, sizeof(plain)),
	    -1);
	ck_assert_int_eq(
	    secrets_open_project(7, 3, "openai", 2, nonce, ct, ct_len, plain, sizeof(plain)), -1);
	ck_assert_int_eq(secrets_open(7, "openai", 1, nonce, ct, ct_len, plain, sizeof(plain)), -1);
	ck_assert_str_eq(plain, "");
	/* a tenant's key does not open as a project's */
	ck_assert_int_eq(secrets_seal(7, "openai", 1, cred, strlen(cred), nonce, ct, &ct_len), 0);
	ck_assert_int_eq(
	    secrets_open_project(7, 3, "openai", 1, nonce, ct, ct_len, plain, sizeof(plain)), -1);
	/* no project, or a provider name that could imitate the label */
	ck_assert_int_eq(
	    secrets_seal_project(7, 0, "openai", 1, cred, strlen(cred), nonce, ct, &ct_len), -1);
	ck_assert_int_eq(
	    secrets_seal_project(7, 3, "x/openai", 1, cred, strlen(cred), nonce, ct, &ct_len), -1);
}
END_TEST

START_TEST(test_open_refuses_moved)
{
	static const char cred[] = "sk-ant-secret-value-xyz";
	uint8_t nonce[SECRETS_NONCE_LEN], ct[SECRETS_MAX_PLAIN + SECRETS_MAC_LEN];
	char plain[SECRETS_MAX_PLAIN + 1];
	size_t ct_len = 0;
	char err[256] = "";

	init_new_key("a.key");
	ck_assert_int_eq(secrets_seal(7, "anthropic", 2, cred, strlen(cred), nonce, ct, &ct_len),
	                 0);

	ck_assert_int_eq(secrets_open(8, "anthropic", 2, nonce, ct, ct_len, plain, sizeof(plain)),
	                 -1);
	ck_assert_str_eq(plain, "");
	ck_assert_int_eq(secrets_open(7, "openai", 2, nonce, ct, ct_len, plain, sizeof(plain)), -1);
	ck_assert_str_eq(plain, "");
	ck_assert_int_eq(secrets_open(7, "anthropic", 1, nonce, ct, ct_len, plain, sizeof(plain)),
	                 -1);
	ck_assert_str_eq(plain, "");
	ck_assert_int_eq(secrets_open(7, "anthropic", 3, nonce, ct, ct_len, plain, sizeof(plain)),
	                 -1);

	for (size_t i = 0; i < ct_len; i += 5) {
		ct[i] ^= 0x01;
		ck_assert_int_eq(
		    secrets_open(7, "anthropic", 2, nonce, ct, ct_len, plain, sizeof(plain)), -1);
		ck_assert_str_eq(plain, "");
		ct[i] ^= 0x01;
	}
	nonce[0] ^= 0x80;
	ck_assert_int_eq(secrets_open(7, "anthropic", 2, nonce, ct, ct_len, plain, sizeof(plain)),
	                 -1);
	nonce[0] ^= 0x80;
	ck_assert_int_eq(
	    secrets_open(7, "anthropic", 2, nonce, ct, ct_len - 1, plain, sizeof(plain)), -1);
	ck_assert_int_eq(secrets_open(7, "anthropic", 2, nonce, ct, 3, plain, sizeof(plain)), -1);

	/* Another master key cannot open it either. */
	ck_assert_msg(secrets_create_master_key(tpath(1, "b.key"), err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert_msg(secrets_init(tpath(1, "b.key"), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(secrets_open(7, "anthropic", 2, nonce, ct, ct_len, plain, sizeof(plain)),
	                 -1);

	ck_assert_msg(secrets_init(tpath(0, "a.key"), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(secrets_open(7, "anthropic", 2, nonce, ct, ct_len, plain, sizeof(plain)),
	                 0);
	ck_assert_str_eq(plain, cred);
}
END_TEST

START_TEST(test_totp_seal_binds_user)
{
	static const uint8_t secret[20] = "12345678901234567890";
	uint8_t nonce[SECRETS_NONCE_LEN], ct[20 + SECRETS_MAC_LEN], out[64];
	uint8_t h1[SECRETS_HASH_LEN], h2[SECRETS_HASH_LEN];
	size_t ct_len = 0;

	init_new_key("a.key");
	ck_assert_int_eq(secrets_seal_totp(5, secret, sizeof(secret), nonce, ct, &ct_len), 0);
	ck_assert_uint_eq(ct_len, sizeof(secret) + SECRETS_MAC_LEN);
	ck_assert(memmem(ct, ct_len, secret, 8) == NULL);
	ck_assert_int_eq(secrets_open_totp(5, nonce, ct, ct_len, out, sizeof(out)), 20);
	ck_assert(memcmp(out, secret, 20) == 0);
	/* another user's row, a tampered byte, a BYOK opener: nothing opens */
	ck_assert_int_eq(secrets_open_totp(6, nonce, ct, ct_len, out, sizeof(out)), -1);
	ct[3] ^= 1;
	ck_assert_int_eq(secrets_open_totp(5, nonce, ct, ct_len, out, sizeof(out)), -1);
	ct[3] ^= 1;
	ck_assert_int_eq(secrets_open_totp(5, nonce, ct, ct_len, out, 10), -1);
	{
		char plain[64];

		ck_assert_int_eq(
		    secrets_open(5, "totp", 1, nonce, ct, ct_len, plain, sizeof(plain)), -1);
	}
	/* recovery code hashes: keyed, per user */
	secrets_hash_recovery(5, "ABCDEFGHIJ", h1);
	secrets_hash_recovery(5, "ABCDEFGHIJ", h2);
	ck_assert(memcmp(h1, h2, sizeof(h1)) == 0);
	secrets_hash_recovery(6, "ABCDEFGHIJ", h2);
	ck_assert(memcmp(h1, h2, sizeof(h1)) != 0);
	secrets_hash_recovery(5, "ABCDEFGHIK", h2);
	ck_assert(memcmp(h1, h2, sizeof(h1)) != 0);
}
END_TEST

START_TEST(test_init_refuses_bad_files)
{
	static const char good[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
	char err[256] = "";
	const char *bad = tpath(2, "bad.key");

	ck_assert_int_eq(secrets_ready(), 0);

	/* Missing file. */
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, bad));

	/* Group/other readable. */
	write_file(bad, good, 0644);
	err[0] = '\0';
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, bad));
	ck_assert_ptr_nonnull(strstr(err, "0644"));
	write_file(bad, good, 0640);
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);
	write_file(bad, good, 0602);
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);

	/* Wrong length. */
	write_file(bad, "00112233\n", 0600);
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, bad));
	write_file(bad, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00\n",
	           0600);
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);
	write_file(bad, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n\n",
	           0600);
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);
	write_file(bad, "", 0600);
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);

	/* Bad hex. */
	write_file(bad, "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
	err[0] = '\0';
	ck_assert_int_eq(secrets_init(bad, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "hex"));

	/* A directory is not a key file. */
	ck_assert_int_eq(secrets_init(tmpdir, err, sizeof(err)), -1);

	ck_assert_int_eq(secrets_ready(), 0);

	/* Without init nothing can be minted or sealed. */
	{
		char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
		uint8_t hash[SECRETS_HASH_LEN], nonce[SECRETS_NONCE_LEN], ct[64];
		size_t ct_len = 0;

		ck_assert_int_eq(secrets_new_api_key(key, prefix, hash), -1);
		ck_assert_int_eq(secrets_seal(1, "mock", 1, "x", 1, nonce, ct, &ct_len), -1);
	}

	write_file(bad, good, 0600);
	ck_assert_msg(secrets_init(bad, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(secrets_ready(), 1);
}
END_TEST

START_TEST(test_create_master_key)
{
	char err[256] = "";
	char text[80];
	struct stat sb;
	FILE *f;
	size_t n;
	const char *p = tpath(0, "new.key");
	mode_t old = umask(0022);

	ck_assert_msg(secrets_create_master_key(p, err, sizeof(err)) == 0, "%s", err);
	umask(old);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	ck_assert_uint_eq(n, 65);
	ck_assert_int_eq(text[64], '\n');
	for (int i = 0; i < 64; i++)
		ck_assert_ptr_nonnull(strchr("0123456789abcdef", text[i]));

	/* Refuses to overwrite an existing file, and leaves it intact. */
	err[0] = '\0';
	ck_assert_int_eq(secrets_create_master_key(p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "exists"));
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq((int)sb.st_size, 65);

	ck_assert_msg(secrets_init(p, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(test_last4)
{
	char out[5];

	secrets_last4("sk-abcdef1234", out);
	ck_assert_str_eq(out, "1234");
	secrets_last4("abcd", out);
	ck_assert_str_eq(out, "abcd");
	secrets_last4("ab", out);
	ck_assert_str_eq(out, "ab");
	secrets_last4("", out);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_key_shape);
	tcase_add_test(tc, test_hash_keyed);
	tcase_add_test(tc, test_hash_known_master);
	tcase_add_test(tc, test_seal_round_trip);
	tcase_add_test(tc, test_seal_max_plain);
	tcase_add_test(tc, test_open_refuses_moved);
	tcase_add_test(tc, test_project_key_bound_to_its_project);
	tcase_add_test(tc, test_totp_seal_binds_user);
	tcase_add_test(tc, test_init_refuses_bad_files);
	tcase_add_test(tc, test_create_master_key);
	tcase_add_test(tc, test_last4);
	tcase_add_test(tc, test_webhook_secret_and_signature);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return 1;
	sr = srunner_create(secrets_suite());
	/* Tests rely on a fresh process each: some check the state before any init. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
