/* test_valid: the name rules table (common/valid.c) and the text check. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/valid.h"

START_TEST(slugs)
{
	char long_slug[65];

	ck_assert_int_eq(valid_name(VALID_SLUG, "acme"), 1);
	ck_assert_int_eq(valid_name(VALID_SLUG, "a-1"), 1);
	ck_assert_int_eq(valid_name(VALID_SLUG, "1a"), 1);
	ck_assert_int_eq(valid_name(VALID_SLUG, "12345"), 0); /* would read as an id */
	ck_assert_int_eq(valid_name(VALID_SLUG, "-a"), 0);
	ck_assert_int_eq(valid_name(VALID_SLUG, "Acme"), 0);
	ck_assert_int_eq(valid_name(VALID_SLUG, "a_b"), 0);
	ck_assert_int_eq(valid_name(VALID_SLUG, ""), 0);
	ck_assert_int_eq(valid_name(VALID_SLUG, NULL), 0);
	memset(long_slug, 'a', 63);
	long_slug[63] = '\0';
	ck_assert_int_eq(valid_name(VALID_SLUG, long_slug), 1);
	long_slug[63] = 'a';
	long_slug[64] = '\0';
	ck_assert_int_eq(valid_name(VALID_SLUG, long_slug), 0);
}
END_TEST

START_TEST(plans_and_providers)
{
	ck_assert_int_eq(valid_name(VALID_PLAN, "pro"), 1);
	ck_assert_int_eq(valid_name(VALID_PLAN, "team_2-x"), 1);
	ck_assert_int_eq(valid_name(VALID_PLAN, "_x"), 0);
	ck_assert_int_eq(valid_name(VALID_PLAN, "-x"), 0);
	ck_assert_int_eq(valid_name(VALID_PLAN, "Bad Name"), 0);
	ck_assert_int_eq(valid_name(VALID_PLAN, "a2345678901234567890123456789012"), 1);
	ck_assert_int_eq(valid_name(VALID_PLAN, "a23456789012345678901234567890123"), 0);
	ck_assert_int_eq(valid_name(VALID_PROVIDER, "openai"), 1);
	ck_assert_int_eq(valid_name(VALID_PROVIDER, "my_llm-2"), 1);
	ck_assert_int_eq(valid_name(VALID_PROVIDER, "a.b"), 0); /* config keys split on dots */
	ck_assert_int_eq(valid_name(VALID_PROVIDER, "OpenAI"), 0);
}
END_TEST

START_TEST(agents_tools_models_admins_secrets)
{
	ck_assert_int_eq(valid_name(VALID_AGENT, "Support_bot-2"), 1);
	ck_assert_int_eq(valid_name(VALID_AGENT, "bad name!"), 0);
	ck_assert_int_eq(valid_name(VALID_TOOL, "http_fetch"), 1);
	ck_assert_int_eq(valid_name(VALID_TOOL, "a/b"), 0);
	ck_assert_int_eq(valid_name(VALID_MODEL, "gpt-4.1-mini"), 1);
	ck_assert_int_eq(valid_name(VALID_MODEL, "meta-llama/llama3:8b"), 1);
	ck_assert_int_eq(valid_name(VALID_MODEL, "no such"), 0);
	ck_assert_int_eq(valid_name(VALID_ADMIN, "ops@example.com"), 1);
	ck_assert_int_eq(valid_name(VALID_ADMIN, "bad name!"), 0);
	ck_assert_int_eq(valid_name(VALID_SECRET, "API_KEY"), 1);
	ck_assert_int_eq(valid_name(VALID_SECRET, "_X1"), 1);
	ck_assert_int_eq(valid_name(VALID_SECRET, "1X"), 0);
	ck_assert_int_eq(valid_name(VALID_SECRET, "api_key"), 0);
	ck_assert_int_eq(valid_name(VALID_SECRET, "AGENTHOST_X"), 0);
	ck_assert_int_eq(valid_name(VALID_POOL, "eu-2"), 1);
	ck_assert_int_eq(valid_name(VALID_POOL, "abcdefghij"), 1);
	ck_assert_int_eq(valid_name(VALID_POOL, "abcdefghijk"), 0); /* "pool:" + it: cred_source */
	ck_assert_int_eq(valid_name(VALID_POOL, "EU"), 0);
	ck_assert_int_eq(valid_name(VALID_POOL, "a#b"), 0);
	ck_assert_int_eq(valid_name(VALID__MAX, "x"), 0);
	ck_assert_ptr_nonnull(strstr(valid_hint(VALID_SLUG), "not all digits"));
	ck_assert_int_eq(valid_max(VALID_PLAN), 32);
}
END_TEST

START_TEST(text_names_and_text)
{
	ck_assert_int_eq(valid_name(VALID_KEY_NAME, ""), 1);
	ck_assert_int_eq(valid_name(VALID_TENANT_NAME, ""), 0);
	ck_assert_int_eq(valid_name(VALID_TENANT_NAME, "Acme Inc \xc3\xa9"), 1);
	ck_assert_int_eq(valid_name(VALID_TENANT_NAME, "a\tb"), 0);
	ck_assert_int_eq(valid_name(VALID_TOKEN_NAME, "billing export"), 1);
	ck_assert_int_eq(valid_text("line\nline", 100, 1), 1);
	ck_assert_int_eq(valid_text("line\nline", 100, 0), 0);
	ck_assert_int_eq(valid_text("abc", 2, 0), 0);
	ck_assert_int_eq(valid_text("\x7f", 10, 0), 0);
	ck_assert_int_eq(valid_text("\xe2\x82\xac", 10, 0), 1);     /* euro sign */
	ck_assert_int_eq(valid_text("\xf0\x9f\x98\x80", 10, 0), 1); /* emoji */
	ck_assert_int_eq(valid_text("\xc0\xaf", 10, 0), 0);         /* overlong */
	ck_assert_int_eq(valid_text("\xe0\x80\xaf", 10, 0), 0);     /* overlong */
	ck_assert_int_eq(valid_text("\xed\xa0\x80", 10, 0), 0);     /* surrogate */
	ck_assert_int_eq(valid_text("\xf4\x90\x80\x80", 10, 0), 0); /* past U+10FFFF */
	ck_assert_int_eq(valid_text("\xe2\x82", 10, 0), 0);         /* cut short */
	ck_assert_int_eq(valid_text(NULL, 10, 0), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("valid");
	TCase *tc = tcase_create("valid");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, slugs);
	tcase_add_test(tc, plans_and_providers);
	tcase_add_test(tc, agents_tools_models_admins_secrets);
	tcase_add_test(tc, text_names_and_text);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
