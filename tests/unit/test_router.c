/* test_router: pattern matching and segment decoding. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host/router.h"
#include "testdb.h"

START_TEST(literal_and_params)
{
	struct route_match m;

	ck_assert_int_eq(router_match("/v1/runs", "/v1/runs", &m), 1);
	ck_assert_int_eq(router_match("/v1/runs", "/v1/runs/", &m), 0);
	ck_assert_int_eq(router_match("/v1/runs/{}", "/v1/runs/run_abc", &m), 1);
	ck_assert_int_eq(m.n_params, 1);
	ck_assert_str_eq(m.params[0], "run_abc");
	ck_assert_int_eq(router_match("/v1/agents/{}/runs", "/v1/agents/my-agent/runs", &m), 1);
	ck_assert_str_eq(m.params[0], "my-agent");
	ck_assert_int_eq(router_match("/v1/agents/{}/runs", "/v1/agents//runs", &m), 0);
	ck_assert_int_eq(router_match("/v1/agents/{}", "/v1/agents/a/runs", &m), 0);
}
END_TEST

START_TEST(decoding)
{
	struct route_match m;
	char longseg[400];

	ck_assert_int_eq(router_match("/v1/agents/{}", "/v1/agents/a%20b", &m), 1);
	ck_assert_str_eq(m.params[0], "a b");
	ck_assert_int_eq(router_match("/v1/agents/{}", "/v1/agents/a%2Fb", &m), -1);
	ck_assert_int_eq(router_match("/v1/agents/{}", "/v1/agents/a%00b", &m), -1);
	ck_assert_int_eq(router_match("/v1/agents/{}", "/v1/agents/a%zz", &m), -1);
	ck_assert_int_eq(router_match("/v1/agents/{}", "/v1/agents/a%4", &m), -1);
	memset(longseg, 'x', sizeof(longseg) - 1);
	longseg[sizeof(longseg) - 1] = '\0';
	char path[512] = "/v1/agents/";
	strcat(path, longseg);
	ck_assert_int_eq(router_match("/v1/agents/{}", path, &m), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("router");
	int rc;

	tcase_add_test(tc, literal_and_params);
	tcase_add_test(tc, decoding);
	suite_add_tcase(s, tc);
	rc = testdb_run(s);
	return rc;
}
