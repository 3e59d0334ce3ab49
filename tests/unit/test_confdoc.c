/*
 * test_confdoc: the configuration documentation in the source tree (the
 * README's table, contrib/agenthost.conf.example, docs/agenthost.conf.5) is
 * what the table of src/common/conf.c gives, and the example configuration
 * loads and yields the built-in defaults.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/confdoc.h"
#include "testdb.h"

static const char *srcdir(void)
{
	const char *s = getenv("srcdir");

	return s != NULL && s[0] != '\0' ? s : ".";
}

START_TEST(outputs_are_current)
{
	char err[1200] = "";

	for (int k = 0; k < CONFDOC__MAX; k++)
		ck_assert_msg(confdoc_sync((enum confdoc_kind)k, srcdir(), 0, err, sizeof(err)) ==
		                  0,
		              "%s", err);
}
END_TEST

START_TEST(every_key_is_documented)
{
	const struct conf_key *k;
	struct buf readme = BUF_INIT, man = BUF_INIT, ex = BUF_INIT;
	char needle[128];
	size_t n = 0;

	ck_assert_int_eq(confdoc_render(CONFDOC_README, &readme), 0);
	ck_assert_int_eq(confdoc_render(CONFDOC_MAN, &man), 0);
	ck_assert_int_eq(confdoc_render(CONFDOC_EXAMPLE, &ex), 0);
	for (size_t i = 0; (k = conf_key_at(i)) != NULL; i++, n++) {
		ck_assert_msg(k->desc != NULL && k->desc[0] != '\0', "%s has no description",
		              k->name);
		snprintf(needle, sizeof(needle), "| `%s` |", k->name);
		ck_assert_msg(strstr(buf_str(&readme), needle) != NULL, "README lacks %s", k->name);
		snprintf(needle, sizeof(needle), "# %s: ", k->name);
		ck_assert_msg(strstr(buf_str(&ex), needle) != NULL, "example lacks %s", k->name);
	}
	ck_assert_uint_gt(n, 30);
	/* A range in the table shows in the docs: threads is 1..512. */
	ck_assert_ptr_nonnull(strstr(buf_str(&readme), "(1..512)"));
	ck_assert_ptr_nonnull(strstr(buf_str(&man), ".B threads\n"));
	buf_free(&readme);
	buf_free(&man);
	buf_free(&ex);
}
END_TEST

/* The example is a configuration: it loads, and what it sets is the default. */
START_TEST(example_loads_as_defaults)
{
	struct conf want, got;
	char path[1024], err[512];

	snprintf(path, sizeof(path), "%s/%s", srcdir(), confdoc_path(CONFDOC_EXAMPLE));
	conf_defaults(&want);
	conf_defaults(&got);
	ck_assert_msg(conf_load(&got, path, err, sizeof(err)) == 0, "%s", err);
	/* conf_load resolves max_streams 0 to max_inflight; so does a file without the key. */
	want.max_streams = want.max_inflight;
	ck_assert_int_eq(memcmp(&want, &got, sizeof(want)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("confdoc");
	TCase *tc = tcase_create("confdoc");

	tcase_add_test(tc, outputs_are_current);
	tcase_add_test(tc, every_key_is_documented);
	tcase_add_test(tc, example_loads_as_defaults);
	suite_add_tcase(s, tc);
	return testdb_run(s);
}
