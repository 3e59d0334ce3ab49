/*
 * test_rcache: the response cache's key (exec/rcache.c): the canonical form
 * ignores key order, spaces and the fields that do not change the answer,
 * and keeps every other field and the tenant; a cached answer's body round
 * trips (text, finish_reason, tool calls, usage) and a malformed one is refused.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "exec/rcache.h"
#include "providers/registry.h"
#include "testdb.h"

/* The key of body text for tenant (the text must parse). */
static void key_of(int64_t tenant, const char *text, unsigned char *hash)
{
	json_t *b = json_loads(text, 0, NULL);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(rcache_key(tenant, b, hash), 0);
	json_decref(b);
}

static int same(int64_t ta, const char *a, int64_t tb, const char *b)
{
	unsigned char ha[RCACHE_HASH_LEN], hb[RCACHE_HASH_LEN];

	key_of(ta, a, ha);
	key_of(tb, b, hb);
	return memcmp(ha, hb, sizeof(ha)) == 0;
}

#define BODY "{\"model\":\"mock-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

START_TEST(key_canonical)
{
	/* key order and white space */
	ck_assert(same(1, BODY ",\"temperature\":0.5}", 1,
	               "{ \"temperature\": 0.5, \"messages\": [{\"content\": \"hi\", \"role\":"
	               " \"user\"}], \"model\": \"mock-1\" }"));
	/* fields that do not change the answer */
	ck_assert(same(1, BODY "}", 1,
	               BODY ",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	                    "\"metadata\":{\"a\":\"b\"},\"user\":\"u1\"}"));
}
END_TEST

START_TEST(key_distinguishes)
{
	/* the tenant */
	ck_assert(!same(1, BODY "}", 2, BODY "}"));
	/* every parameter that changes the answer */
	ck_assert(!same(1, BODY "}", 1, BODY ",\"temperature\":0.5}"));
	ck_assert(!same(1, BODY ",\"temperature\":0.5}", 1, BODY ",\"temperature\":0.6}"));
	ck_assert(!same(1, BODY "}", 1, BODY ",\"max_tokens\":10}"));
	ck_assert(!same(1, BODY "}", 1, BODY ",\"top_p\":0.5}"));
	ck_assert(!same(1, BODY "}", 1, BODY ",\"response_format\":{\"type\":\"json_object\"}}"));
	ck_assert(!same(1, BODY "}", 1,
	                BODY ",\"tools\":[{\"type\":\"function\",\"function\":"
	                     "{\"name\":\"f\"}}]}"));
	ck_assert(!same(1, BODY "}", 1,
	                "{\"model\":\"mock-2\",\"messages\":[{\"role\":\"user\",\"content\":"
	                "\"hi\"}]}"));
	ck_assert(!same(1, BODY "}", 1,
	                "{\"model\":\"mock-1\",\"messages\":[{\"role\":\"user\",\"content\":"
	                "\"hi \"}]}"));
	ck_assert(!same(1, BODY "}", 1,
	                "{\"model\":\"mock-1\",\"messages\":[{\"role\":\"system\",\"content\":"
	                "\"hi\"}]}"));
}
END_TEST

START_TEST(body_round_trip)
{
	struct ah_tool_call calls[2] = {{"call_1", "get_weather", "{\"q\":\"x\"}"},
	                                {"call_2", "clock", "{}"}};
	struct ah_result in, out;
	char *body;

	memset(&in, 0, sizeof(in));
	in.text = "caf\xc3\xa9 \"quoted\"\n";
	strcpy(in.finish_reason, "tool_calls");
	in.usage.prompt_tokens = 12;
	in.usage.completion_tokens = 34;
	in.tool_calls = calls;
	in.n_tool_calls = 2;
	body = rcache_encode(&in);
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(rcache_decode(body, &out), 0);
	ck_assert_str_eq(out.text, in.text);
	ck_assert_str_eq(out.finish_reason, "tool_calls");
	ck_assert_int_eq(out.usage.prompt_tokens, 12);
	ck_assert_int_eq(out.usage.completion_tokens, 34);
	ck_assert_uint_eq(out.n_tool_calls, 2);
	ck_assert_str_eq(out.tool_calls[1].name, "clock");
	ck_assert_str_eq(out.tool_calls[0].arguments, "{\"q\":\"x\"}");
	provider_result_free(&out);
	free(body);
	/* no tool calls, empty text */
	in.text = "";
	in.n_tool_calls = 0;
	in.tool_calls = NULL;
	body = rcache_encode(&in);
	ck_assert_int_eq(rcache_decode(body, &out), 0);
	ck_assert_str_eq(out.text, "");
	ck_assert_uint_eq(out.n_tool_calls, 0);
	provider_result_free(&out);
	free(body);
}
END_TEST

START_TEST(body_malformed)
{
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[]",
	    "{\"text\":\"a\"}",
	    "{\"text\":1,\"finish_reason\":\"stop\",\"tool_calls\":[],\"usage\":"
	    "{\"prompt_tokens\":1,\"completion_tokens\":1}}",
	    "{\"text\":\"a\",\"finish_reason\":\"stop\",\"tool_calls\":{},\"usage\":"
	    "{\"prompt_tokens\":1,\"completion_tokens\":1}}",
	    "{\"text\":\"a\",\"finish_reason\":\"stop\",\"tool_calls\":[{\"id\":\"x\"}],"
	    "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}",
	};
	struct ah_result out;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(rcache_decode(bad[i], &out) == -1, "%s", bad[i]);
		ck_assert_ptr_null(out.text);
		ck_assert_ptr_null(out.tool_calls);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rcache");
	TCase *tc = tcase_create("rcache");

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	tcase_add_test(tc, key_canonical);
	tcase_add_test(tc, key_distinguishes);
	tcase_add_test(tc, body_round_trip);
	tcase_add_test(tc, body_malformed);
	suite_add_tcase(s, tc);
	return testdb_run(s);
}
