/*
 * test_route: a route's targets (exec/route.c): the checks and defaults of
 * route_parse, the canonical form, the order of attempts (tiers first,
 * weights within a tier), which failures fall over, and that a request
 * keeps one X-Agenthost-Target (resp_header_drop: a run's later model step
 * replaces an earlier one's).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/conf.h"
#include "common/buf.h"
#include "exec/route.h"
#include "host/http.h"
#include "providers/registry.h"

/* Parse text into rt; the return of route_parse, with its message and field. */
static int parse(const char *text, struct route_def *rt, char *err, char *param)
{
	json_t *v = json_loads(text, 0, NULL);
	int rc = route_parse(v, rt, err, 256, param, 64);

	json_decref(v);
	return rc;
}

static void setup(void)
{
	struct conf c;
	char err[256];

	ck_assert_int_ge(sodium_init(), 0);
	conf_defaults(&c);
	ck_assert_int_eq(registry_init(&c, err, sizeof(err)), 0);
}

static void teardown(void)
{
	registry_free();
}

START_TEST(defaults_and_canonical_form)
{
	struct route_def rt;
	char err[256], param[64], *text;
	json_t *j;

	ck_assert_int_eq(parse("[{\"model\":\"gpt-4o-mini\",\"provider\":\"openrouter\"},"
	                       "{\"model\":\"gpt-4o\",\"credential\":\"pool:a-1\",\"tier\":1,"
	                       "\"weight\":7}]",
	                       &rt, err, param),
	                 0);
	ck_assert_uint_eq(rt.n, 2);
	ck_assert_str_eq(rt.t[0].provider, "openrouter");
	ck_assert_str_eq(rt.t[0].credential, "auto");
	ck_assert_int_eq(rt.t[0].tier, 1); /* its position */
	ck_assert_int_eq(rt.t[0].weight, 1);
	ck_assert_str_eq(rt.t[1].provider, ""); /* the model's own */
	ck_assert_str_eq(rt.t[1].credential, "pool:a-1");
	ck_assert_int_eq(rt.t[1].weight, 7);
	j = route_targets_json(&rt);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(text,
	                 "[{\"credential\":\"auto\",\"model\":\"gpt-4o-mini\",\"provider\":"
	                 "\"openrouter\",\"tier\":1,\"weight\":1},{\"credential\":\"pool:a-1\","
	                 "\"model\":\"gpt-4o\",\"tier\":1,\"weight\":7}]");
	free(text);
	json_decref(j);
}
END_TEST

START_TEST(each_bad_field_is_named)
{
	static const struct {
		const char *text, *param;
	} bad[] = {
	    {"{}", "targets"},
	    {"[]", "targets"},
	    {"[1]", "targets[0]"},
	    {"[{\"provider\":\"openai\"}]", "targets[0].model"},
	    {"[{\"model\":\"no such\"}]", "targets[0].model"},
	    {"[{\"model\":\"m\",\"provider\":\"nowhere\"}]", "targets[0].provider"},
	    {"[{\"model\":\"m\",\"provider\":\"Open.AI\"}]", "targets[0].provider"},
	    {"[{\"model\":\"m\",\"credential\":\"key\"}]", "targets[0].credential"},
	    {"[{\"model\":\"m\",\"credential\":\"pool:\"}]", "targets[0].credential"},
	    {"[{\"model\":\"m\",\"credential\":\"pool:elevenchars\"}]", "targets[0].credential"},
	    {"[{\"model\":\"m\",\"credential\":\"pool:A\"}]", "targets[0].credential"},
	    {"[{\"model\":\"m\",\"tier\":0}]", "targets[0].tier"},
	    {"[{\"model\":\"m\",\"tier\":\"1\"}]", "targets[0].tier"},
	    {"[{\"model\":\"m\",\"weight\":1001}]", "targets[0].weight"},
	    {"[{\"model\":\"m\"},{\"model\":\"m\",\"extra\":1}]", "targets[1]"},
	    {"[{\"model\":\"m\"},{\"model\":\"m\"},{\"model\":\"m\"},{\"model\":\"m\"},{\"model\":"
	     "\"m\"},{\"model\":\"m\"},{\"model\":\"m\"},{\"model\":\"m\"},{\"model\":\"m\"}]",
	     "targets"},
	};
	struct route_def rt;
	char err[256], param[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		param[0] = '\0';
		ck_assert_msg(parse(bad[i].text, &rt, err, param) == -1, "%s", bad[i].text);
		ck_assert_msg(strcmp(param, bad[i].param) == 0, "%s: param %s", bad[i].text, param);
		ck_assert(err[0] != '\0');
	}
}
END_TEST

START_TEST(tiers_first_then_weights)
{
	struct route_def rt;
	char err[256], param[64];
	size_t order[ROUTE_MAX_TARGETS];
	int first[3] = {0, 0, 0};
	const int n = 20000;

	/* tier 1: targets 1 (weight 3) and 2 (weight 1); tier 2: target 0 */
	ck_assert_int_eq(parse("[{\"model\":\"c\",\"tier\":2},{\"model\":\"a\",\"tier\":1,"
	                       "\"weight\":3},{\"model\":\"b\",\"tier\":1}]",
	                       &rt, err, param),
	                 0);
	for (int i = 0; i < n; i++) {
		route_order(&rt, order);
		ck_assert_uint_eq(order[2], 0); /* the later tier always last */
		ck_assert(order[0] != order[1] && order[0] != 0 && order[1] != 0);
		first[order[0]]++;
	}
	/* expected 15000 (sd ~61): outside [14000, 16000] is more than 16 sd */
	ck_assert_int_ge(first[1], 14000);
	ck_assert_int_le(first[1], 16000);
	ck_assert_int_eq(first[1] + first[2], n);
}
END_TEST

START_TEST(what_falls_over)
{
	struct exec_outcome o;

	memset(&o, 0, sizeof(o));
	o.err.reason = R_upstream_rate_limited;
	ck_assert_int_eq(route_falls_back(&o), 1);
	o.err.reason = R_upstream_timeout;
	ck_assert_int_eq(route_falls_back(&o), 1);
	o.err.reason = R_circuit_open;
	ck_assert_int_eq(route_falls_back(&o), 1);
	o.streamed = 1; /* once anything reached the client: never */
	ck_assert_int_eq(route_falls_back(&o), 0);
	o.streamed = 0;
	o.err.reason = R_tenant_budget_exceeded;
	ck_assert_int_eq(route_falls_back(&o), 0);
	o.err.reason = R_rpm_exceeded;
	ck_assert_int_eq(route_falls_back(&o), 0);
	o.err.reason = R_invalid_request;
	ck_assert_int_eq(route_falls_back(&o), 0);
	o.ok = 1;
	ck_assert_int_eq(route_falls_back(&o), 0);
}
END_TEST

START_TEST(one_target_header_per_request)
{
	struct req r;

	memset(&r, 0, sizeof(r));
	resp_header_drop(&r, "X-Agenthost-Target"); /* nothing yet */
	ck_assert_ptr_null(r.headers.data);
	resp_header(&r, "X-RateLimit-Limit-Requests", "5");
	resp_header(&r, "X-Agenthost-Target", "provider=a; attempt=1");
	resp_header(&r, "X-Agenthost-Targets", "kept: another name");
	resp_header(&r, "x-agenthost-target", "provider=b; attempt=2");
	resp_header_drop(&r, "X-Agenthost-Target");
	ck_assert_str_eq(
	    r.headers.data,
	    "X-RateLimit-Limit-Requests: 5\r\nX-Agenthost-Targets: kept: another name\r\n");
	ck_assert_uint_eq(r.headers.len, strlen(r.headers.data));
	resp_header(&r, "X-Agenthost-Target", "provider=c; attempt=1");
	resp_header_drop(&r, "X-RateLimit-Limit-Requests");
	ck_assert_str_eq(r.headers.data, "X-Agenthost-Targets: kept: another name\r\n"
	                                 "X-Agenthost-Target: provider=c; attempt=1\r\n");
	buf_free(&r.headers);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_and_canonical_form);
	tcase_add_test(tc, each_bad_field_is_named);
	tcase_add_test(tc, tiers_first_then_weights);
	tcase_add_test(tc, what_falls_over);
	tcase_add_test(tc, one_target_header_per_request);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
