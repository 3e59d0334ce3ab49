/* test_util: ids, time parsing, integer parsing, constant-time compare, buffers. */
#include "config.h"

#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "testdb.h"

START_TEST(random_ids_have_shape_and_differ)
{
	char a[40], b[40], rid[33];

	util_random_id("run_", a, sizeof(a));
	util_random_id("run_", b, sizeof(b));
	ck_assert_int_eq(strlen(a), 28);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(strncmp(a, "run_", 4), 0);
	util_random_id("run_", a, 10);
	ck_assert_str_eq(a, "");
	util_request_id(rid);
	ck_assert_int_eq(strlen(rid), 32);
}
END_TEST

START_TEST(parse_time_forms)
{
	int64_t t;

	ck_assert_int_eq(util_parse_time("2026-01-02", &t), 0);
	ck_assert_int_eq(t, 1767312000);
	ck_assert_int_eq(util_parse_time("2026-01-02T03:04:05Z", &t), 0);
	ck_assert_int_eq(t, 1767312000 + 3 * 3600 + 4 * 60 + 5);
	ck_assert_int_eq(util_parse_time("2026-01-02 03:04:05", &t), 0);
	ck_assert_int_eq(util_parse_time("1767312000", &t), 0);
	ck_assert_int_eq(t, 1767312000);
	ck_assert_int_eq(util_parse_time("2026-13-02", &t), -1);
	ck_assert_int_eq(util_parse_time("yesterday", &t), -1);
	ck_assert_int_eq(util_parse_time("2026-01-02T03:04:05+02:00", &t), -1);
	ck_assert_int_eq(util_parse_time("", &t), -1);
}
END_TEST

START_TEST(parse_i64_bounds)
{
	int64_t v;

	ck_assert_int_eq(util_parse_i64("42", 0, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(util_parse_i64("101", 0, 100, &v), -1);
	ck_assert_int_eq(util_parse_i64("4x", 0, 100, &v), -1);
	ck_assert_int_eq(util_parse_i64(" 4", 0, 100, &v), -1);
	ck_assert_int_eq(util_parse_i64("99999999999999999999", 0, INT64_MAX, &v), -1);
}
END_TEST

START_TEST(streq_ct_and_strlcpy)
{
	char small[4];

	ck_assert_int_eq(util_streq_ct("abc", "abc"), 1);
	ck_assert_int_eq(util_streq_ct("abc", "abd"), 0);
	ck_assert_int_eq(util_streq_ct("abc", "abcd"), 0);
	ck_assert_int_eq(util_strlcpy(small, "abcdef", sizeof(small)), -1);
	ck_assert_str_eq(small, "abc");
	ck_assert_int_eq(util_strlcpy(small, "ab", sizeof(small)), 0);
}
END_TEST

START_TEST(utf8_cut_dup_keeps_whole_characters)
{
	char *s;

	s = util_utf8_cut_dup("short", 8);
	ck_assert_str_eq(s, "short");
	free(s);
	s = util_utf8_cut_dup("abcdefghij", 8); /* 5 bytes and the 3-byte ellipsis */
	ck_assert_str_eq(s, "abcde…");
	free(s);
	s = util_utf8_cut_dup("ééééé", 8); /* 2-byte characters: never half of one */
	ck_assert_str_eq(s, "éé…");
	ck_assert_uint_le(strlen(s), 8);
	free(s);
}
END_TEST

START_TEST(buf_grows_and_formats)
{
	struct buf b = BUF_INIT;

	ck_assert_str_eq(buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_printf(&b, "%d,", i), 0);
	ck_assert_int_eq(strncmp(b.data, "0,1,2,", 6), 0);
	ck_assert_int_eq(b.len, strlen(b.data));
	buf_reset(&b);
	ck_assert_str_eq(buf_str(&b), "");
	buf_puts(&b, "x");
	char *s = buf_steal(&b);
	ck_assert_str_eq(s, "x");
	ck_assert_ptr_null(b.data);
	free(s);
	buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	int rc;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	tcase_add_test(tc, random_ids_have_shape_and_differ);
	tcase_add_test(tc, parse_time_forms);
	tcase_add_test(tc, parse_i64_bounds);
	tcase_add_test(tc, streq_ct_and_strlcpy);
	tcase_add_test(tc, buf_grows_and_formats);
	tcase_add_test(tc, utf8_cut_dup_keeps_whole_characters);
	suite_add_tcase(s, tc);
	rc = testdb_run(s);
	return rc;
}
