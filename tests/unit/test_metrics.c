/*
 * test_metrics: the counters of common/metrics.c and their text: label
 * escaping, the top-N bound on tenant labels, whole figures when the tables
 * are full, histogram buckets, and the tables of ended processes kept in
 * state_dir/metrics/retired.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/metrics.h"

/* The sum of the values of the lines of t that start with prefix. */
static double sum_of(const char *t, const char *prefix)
{
	size_t n = strlen(prefix);
	double s = 0;

	for (const char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, prefix, n) == 0) {
			const char *sp = strchr(l, '}');

			sp = strchr(sp ? sp : l, ' ');
			if (sp)
				s += strtod(sp + 1, NULL);
		}
	return s;
}

static char *render(int top)
{
	struct buf b = BUF_INIT;

	ck_assert_int_eq(metrics_render(&b, top, NULL, 0, 0), 0);
	return buf_steal(&b);
}

START_TEST(escape_label_values)
{
	struct buf b = BUF_INIT;
	char *t;

	metrics_escape(&b, "a\"b\\c\nd");
	ck_assert_str_eq(buf_str(&b), "a\\\"b\\\\c\\nd");
	buf_free(&b);
	metrics_request(7, "we\"ird\\model", 200, R_none, 1000);
	t = render(5);
	ck_assert_ptr_nonnull(
	    strstr(t, "agenthost_requests_total{tenant=\"7\",model=\"we\\\"ird\\\\model\","
	              "status=\"200\",reason=\"\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "agenthost_breakers_up 0\n"));
	free(t);
}
END_TEST

START_TEST(top_tenants_and_other)
{
	char *t;

	for (int tenant = 1; tenant <= 5; tenant++)
		for (int i = 0; i < tenant * 10; i++)
			metrics_request(tenant, "m", 200, R_none, 1000);
	metrics_request(3, "m", 429, R_rpm_exceeded, 1000);
	t = render(2);
	ck_assert_double_eq(sum_of(t, "agenthost_requests_total{tenant=\"5\""), 50);
	ck_assert_double_eq(sum_of(t, "agenthost_requests_total{tenant=\"4\""), 40);
	ck_assert_ptr_null(strstr(t, "tenant=\"3\""));
	ck_assert_double_eq(sum_of(t, "agenthost_requests_total{tenant=\"other\",model=\"m\","
	                              "status=\"200\""),
	                    30 + 20 + 10);
	ck_assert_ptr_nonnull(strstr(t, "agenthost_requests_total{tenant=\"other\",model=\"m\","
	                                "status=\"429\",reason=\"rpm_exceeded\"} 1\n"));
	free(t);
	t = render(0);
	ck_assert_double_eq(sum_of(t, "agenthost_requests_total{tenant=\"other\""), 151);
	free(t);
}
END_TEST

START_TEST(full_tables_keep_whole_figures)
{
	char name[32];
	char *t;

	/* More tenants than slots and more models than slots: nothing is lost. */
	for (int i = 1; i <= METRICS_TENANTS + 100; i++) {
		snprintf(name, sizeof(name), "model-%d", i % (METRICS_MODELS + 20));
		metrics_request(i, name, 200, R_none, 1000);
		metrics_call(i, name, 3, 4, 5, 1000);
	}
	t = render(10);
	ck_assert_double_eq(sum_of(t, "agenthost_requests_total{"), METRICS_TENANTS + 100);
	ck_assert_double_eq(sum_of(t, "agenthost_tokens_total{"), 7.0 * (METRICS_TENANTS + 100));
	ck_assert_double_eq(sum_of(t, "agenthost_model_calls_total{"), METRICS_TENANTS + 100);
	ck_assert_ptr_nonnull(strstr(t, "model=\"other\""));
	free(t);
}
END_TEST

START_TEST(histogram_buckets)
{
	char *t;

	metrics_request(1, "", 200, R_none, 7000);      /* 7 ms */
	metrics_request(1, "", 200, R_none, 200000000); /* 200 s: past the last bound */
	metrics_call(1, "m", 1, 1, 1, -1);              /* not upstream: no observation */
	t = render(5);
	ck_assert_ptr_nonnull(
	    strstr(t, "agenthost_request_duration_seconds_bucket{le=\"0.005\"} 0\n"));
	ck_assert_ptr_nonnull(
	    strstr(t, "agenthost_request_duration_seconds_bucket{le=\"0.01\"} 1\n"));
	ck_assert_ptr_nonnull(
	    strstr(t, "agenthost_request_duration_seconds_bucket{le=\"120\"} 1\n"));
	ck_assert_ptr_nonnull(
	    strstr(t, "agenthost_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "agenthost_request_duration_seconds_count 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "agenthost_upstream_duration_seconds_count 0\n"));
	free(t);
}
END_TEST

START_TEST(ended_processes_are_retired)
{
	char dir[] = "/tmp/ah-metrics-XXXXXX", err[256], cmd[600];
	pid_t pid;
	int status;
	char *t;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* Two other processes count and end. */
	for (int k = 0; k < 2; k++) {
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			if (metrics_start(dir, err, sizeof(err)) < 0)
				_exit(2);
			for (int i = 0; i < 5; i++)
				metrics_request(42, "m", 200, R_none, 1000);
			metrics_gauge(MG_REQUESTS_INFLIGHT, 3); /* an ended process holds nothing */
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	metrics_request(42, "m", 200, R_none, 1000); /* before start: moves into the file */
	ck_assert_int_eq(metrics_start(dir, err, sizeof(err)), 0);
	metrics_request(42, "m", 200, R_none, 1000);
	for (int round = 0; round < 2; round++) {
		t = render(5);
		ck_assert_double_eq(sum_of(t, "agenthost_requests_total{tenant=\"42\""), 12);
		ck_assert_ptr_nonnull(strstr(t, "agenthost_processes 1\n"));
		ck_assert_ptr_nonnull(strstr(t, "agenthost_requests_in_flight 0\n"));
		free(t);
	}
	snprintf(cmd, sizeof(cmd),
	         "test $(ls %s/metrics | wc -l) -eq 2 && test -f %s/metrics/retired", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -r %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, escape_label_values);
	tcase_add_test(tc, top_tenants_and_other);
	tcase_add_test(tc, full_tables_keep_whole_figures);
	tcase_add_test(tc, histogram_buckets);
	tcase_add_test(tc, ended_processes_are_retired);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK); /* every test starts with empty counters */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
