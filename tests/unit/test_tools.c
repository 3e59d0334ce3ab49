/*
 * test_tools: the tool runner (limits, failures, environment, descriptors)
 * and the tool policy (allowlists, the JSON-schema subset, definitions).
 *
 * Tools here are small /bin/sh scripts written into a private directory.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "store/tools.h"
#include "tools/policy.h"
#include "tools/runner.h"
#include "testdb.h"

static char dir[256];

/* Write an executable script named name with body; returns its path (static buffer). */
static const char *script(const char *name, const char *body)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0700), 0);
	return path;
}

static void spec_init(struct tool_run_spec *s, const char *path, const char *input)
{
	memset(s, 0, sizeof(*s));
	s->exec_path = path;
	s->tool = "t";
	s->tenant_id = 42;
	s->run_id = "run_test";
	s->input = input;
	s->input_len = input ? strlen(input) : 0;
	s->timeout_ms = 5000;
	s->max_output = 65536;
	s->tmp_dir = dir;
}

/* ------------------------------------------------------------------ runner */

START_TEST(runner_echoes_json)
{
	struct tool_run_spec s;
	struct tool_run_result r;

	spec_init(&s, script("cat", "cat"), "{\"arguments\":{\"x\":1}}");
	ck_assert_int_eq(tool_runner_run(&s, &r), 0);
	ck_assert_int_eq(r.ok, 1);
	ck_assert_str_eq(r.output, "{\"arguments\":{\"x\":1}}");
	ck_assert_int_eq(r.exit_status, 0);
	tool_run_result_free(&r);
}
END_TEST

START_TEST(runner_timeout_kills)
{
	struct tool_run_spec s;
	struct tool_run_result r;

	spec_init(&s, script("sleep", "sleep 10 & sleep 10"), "{}");
	s.timeout_ms = 300;
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_timeout");
	ck_assert_int_lt(r.duration_ms, 3000);
	ck_assert_int_ge(r.duration_ms, 250);
	tool_run_result_free(&r);
}
END_TEST

START_TEST(runner_output_cap)
{
	struct tool_run_spec s;
	struct tool_run_result r;

	spec_init(&s, script("big", "head -c 100000000 /dev/zero"), "{}");
	s.max_output = 1000;
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_output_too_large");
	ck_assert_int_lt(r.duration_ms, 3000);
	tool_run_result_free(&r);
}
END_TEST

START_TEST(runner_crash)
{
	struct tool_run_spec s;
	struct tool_run_result r;

	spec_init(&s, script("crash", "kill -SEGV $$"), "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_crashed");
	ck_assert_int_eq(r.term_signal, 11);
	tool_run_result_free(&r);
}
END_TEST

START_TEST(runner_invalid_output_and_exit_status)
{
	struct tool_run_spec s;
	struct tool_run_result r;

	spec_init(&s, script("notjson", "echo not json"), "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_invalid_output");
	tool_run_result_free(&r);

	spec_init(&s, script("empty", "true"), "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_invalid_output");
	tool_run_result_free(&r);

	spec_init(&s, script("exit3", "echo '{}'; exit 3"), "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_failed");
	ck_assert_int_eq(r.exit_status, 3);
	tool_run_result_free(&r);

	spec_init(&s, "/nonexistent/tool", "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_spawn_failed");
	tool_run_result_free(&r);

	spec_init(&s, "relative/tool", "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_spawn_failed");
	tool_run_result_free(&r);
}
END_TEST

START_TEST(runner_unread_input)
{
	struct tool_run_spec s;
	struct tool_run_result r;
	char *big = malloc(2 << 20);

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', (2 << 20) - 1);
	big[(2 << 20) - 1] = '\0';
	spec_init(&s, script("noread", "echo '\"ignored\"'"), big);
	ck_assert_int_eq(tool_runner_run(&s, &r), 0);
	ck_assert_str_eq(r.output, "\"ignored\"\n");
	tool_run_result_free(&r);
	free(big);
}
END_TEST

/* Exactly these variables, in any order, one per line. */
static void env_is(const char *out, const char *const *want, size_t n)
{
	size_t lines = 0;

	for (const char *p = out; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		lines++;
	ck_assert_uint_eq(lines, n);
	for (size_t i = 0; i < n; i++) {
		char needle[256];

		snprintf(needle, sizeof(needle), "%s\n", want[i]);
		ck_assert_msg(strncmp(out, needle, strlen(needle)) == 0 ||
		                  strstr(out, needle) != NULL,
		              "missing %s in %s", want[i], out);
	}
}

START_TEST(runner_clean_environment)
{
	static const char *const want[] = {
	    "AGENTHOST_TENANT_ID=42",           "AGENTHOST_RUN_ID=run_test", "AGENTHOST_TOOL=t",
	    "AGENTHOST_IDEMPOTENCY_KEY=abc123", "API_TOKEN=s3cret=with=eq",  "OTHER=2",
	};
	struct tool_env env[2] = {{"API_TOKEN", "s3cret=with=eq"}, {"OTHER", "2"}};
	struct tool_run_spec s;
	struct tool_run_result r;

	setenv("AH_TEST_LEAK", "must-not-be-seen", 1);
	/* /usr/bin/env prints exactly what it got; not JSON, so the output is kept with the error.
	 */
	spec_init(&s, "/usr/bin/env", "{}");
	s.idempotency_key = "abc123";
	s.secrets = env;
	s.n_secrets = 2;
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_invalid_output");
	ck_assert_ptr_nonnull(r.output);
	ck_assert_ptr_null(strstr(r.output, "AH_TEST_LEAK"));
	ck_assert_ptr_null(strstr(r.output, "PATH="));
	env_is(r.output, want, 6);
	tool_run_result_free(&r);

	env[0].name = "AGENTHOST_TENANT_ID"; /* may not override the host's variables */
	s.n_secrets = 1;
	ck_assert_int_eq(tool_runner_run(&s, &r), -1);
	ck_assert_str_eq(reason_name(r.err.reason), "tool_spawn_failed");
	tool_run_result_free(&r);
}
END_TEST

START_TEST(runner_descriptors_closed)
{
	struct tool_run_spec s;
	struct tool_run_result r;
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: a leak the runner must stop */

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 57), 57);
	spec_init(&s,
	          script("fds", "s=ok; for n in 0 1 2; do [ -e /proc/$$/fd/$n ] || s=missing$n; "
	                        "done; [ -e /proc/$$/fd/57 ] && s=leaked; echo \"\\\"$s\\\"\""),
	          "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), 0);
	ck_assert_str_eq(r.output, "\"ok\"\n");
	tool_run_result_free(&r);
	close(57);
	close(fd);
}
END_TEST

START_TEST(runner_private_workdir_removed)
{
	struct tool_run_spec s;
	struct tool_run_result r;
	json_t *j;
	char wd[512];

	spec_init(&s,
	          script("pwd", "touch junk; mkdir sub; touch sub/x; printf '\"%s\"' \"$(pwd)\""),
	          "{}");
	ck_assert_int_eq(tool_runner_run(&s, &r), 0);
	j = json_loads(r.output, JSON_DECODE_ANY, NULL);
	ck_assert_ptr_nonnull(j);
	snprintf(wd, sizeof(wd), "%s", json_string_value(j));
	json_decref(j);
	ck_assert_int_eq(strncmp(wd, dir, strlen(dir)), 0);
	ck_assert_ptr_nonnull(strstr(wd, "/ah-tool-"));
	ck_assert_int_ne(access(wd, F_OK), 0);
	tool_run_result_free(&r);
}
END_TEST

START_TEST(runner_env_names)
{
	ck_assert_int_eq(tool_runner_env_name_ok("API_KEY"), 1);
	ck_assert_int_eq(tool_runner_env_name_ok("_X1"), 1);
	ck_assert_int_eq(tool_runner_env_name_ok("1X"), 0);
	ck_assert_int_eq(tool_runner_env_name_ok("api_key"), 0);
	ck_assert_int_eq(tool_runner_env_name_ok("A=B"), 0);
	ck_assert_int_eq(tool_runner_env_name_ok(""), 0);
	ck_assert_int_eq(tool_runner_env_name_ok("AGENTHOST_X"), 0);
	ck_assert_int_eq(tool_runner_env_name_ok(NULL), 0);
}
END_TEST

/* ------------------------------------------------------------------ policy */

START_TEST(policy_listed)
{
	ck_assert_int_eq(tool_policy_listed("*", "calculator"), 1);
	ck_assert_int_eq(tool_policy_listed("calculator,http_fetch", "http_fetch"), 1);
	ck_assert_int_eq(tool_policy_listed(" calculator , http_fetch ", "calculator"), 1);
	ck_assert_int_eq(tool_policy_listed("calculator", "calc"), 0);
	ck_assert_int_eq(tool_policy_listed("calc", "calculator"), 0);
	ck_assert_int_eq(tool_policy_listed("", "calculator"), 0);
	ck_assert_int_eq(tool_policy_listed(NULL, "calculator"), 0);
	ck_assert_int_eq(tool_policy_listed("*", ""), 0);
	ck_assert_int_eq(tool_policy_listed("a*", "ab"), 0);
}
END_TEST

/* Validate value text against schema text; returns the error ("" when valid). */
static const char *check(const char *schema, const char *value)
{
	static char err[256];
	json_t *s = json_loads(schema, 0, NULL), *v = json_loads(value, JSON_DECODE_ANY, NULL);

	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(v);
	tool_policy_validate(s, v, err, sizeof(err));
	json_decref(s);
	json_decref(v);
	return err;
}

START_TEST(policy_schema_subset)
{
	const char *calc = "{\"type\":\"object\",\"properties\":{\"expression\":{\"type\":"
	                   "\"string\",\"minLength\":1,\"maxLength\":5}},\"required\":["
	                   "\"expression\"],\"additionalProperties\":false}";

	ck_assert_str_eq(check(calc, "{\"expression\":\"1+2\"}"), "");
	ck_assert_str_eq(check(calc, "{}"), "$.expression: required property missing");
	ck_assert_str_eq(check(calc, "{\"expression\":3}"), "$.expression: must be of type string");
	ck_assert_str_eq(check(calc, "{\"expression\":\"1\",\"x\":1}"),
	                 "$.x: property not allowed");
	ck_assert_str_eq(check(calc, "{\"expression\":\"\"}"),
	                 "$.expression: is shorter than minLength");
	ck_assert_str_eq(check(calc, "{\"expression\":\"123456\"}"),
	                 "$.expression: is longer than maxLength");
	/* Characters, not bytes: five two-byte characters fit maxLength 5. */
	ck_assert_str_eq(
	    check(calc, "{\"expression\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}"), "");
	ck_assert_str_eq(check(calc, "[1]"), "$: the arguments must be a JSON object");
	ck_assert_str_eq(check(calc, "\"x\""), "$: the arguments must be a JSON object");

	ck_assert_str_eq(check("{\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":1,"
	                       "\"maximum\":10}}}",
	                       "{\"n\":2.0}"),
	                 "");
	ck_assert_str_eq(check("{\"properties\":{\"n\":{\"type\":\"integer\"}}}", "{\"n\":2.5}"),
	                 "$.n: must be of type integer");
	ck_assert_str_eq(check("{\"properties\":{\"n\":{\"type\":\"integer\"}}}", "{\"n\":1e300}"),
	                 "");
	ck_assert_str_eq(check("{\"properties\":{\"n\":{\"minimum\":1}}}", "{\"n\":0}"),
	                 "$.n: is below the minimum");
	ck_assert_str_eq(check("{\"properties\":{\"n\":{\"maximum\":1}}}", "{\"n\":1.5}"),
	                 "$.n: is above the maximum");
	ck_assert_str_eq(
	    check("{\"properties\":{\"m\":{\"enum\":[\"GET\",\"HEAD\"]}}}", "{\"m\":\"POST\"}"),
	    "$.m: is not one of the allowed values");
	ck_assert_str_eq(
	    check("{\"properties\":{\"v\":{\"type\":[\"string\",\"null\"]}}}", "{\"v\":null}"), "");
	ck_assert_str_eq(
	    check("{\"properties\":{\"v\":{\"type\":[\"string\",\"null\"]}}}", "{\"v\":1}"),
	    "$.v: has none of the allowed types");
	ck_assert_str_eq(check("{\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":"
	                       "\"object\",\"required\":[\"k\"]}}}}",
	                       "{\"a\":[{\"k\":1},{}]}"),
	                 "$.a[1].k: required property missing");
	/* Unknown keywords are ignored; so are properties without a schema. */
	ck_assert_str_eq(check("{\"pattern\":\"x\",\"properties\":{}}", "{\"free\":[1,2]}"), "");
}
END_TEST

START_TEST(policy_depth_limited)
{
	json_t *schema = json_object(), *value = json_object(), *s = schema, *v = value;
	char err[256];

	/* 40 levels of nested objects, each described: deeper than the validator walks. */
	for (int i = 0; i < 40; i++) {
		json_t *ns = json_object(), *nv = json_object();

		json_object_set_new(s, "properties", json_pack("{s:o}", "a", ns));
		json_object_set_new(v, "a", nv);
		s = ns;
		v = nv;
	}
	ck_assert_int_eq(tool_policy_validate(schema, value, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "nested too deeply"));
	json_decref(schema);
	json_decref(value);
}
END_TEST

START_TEST(policy_schema_ok_and_names)
{
	json_t *a = json_loads("{\"type\":\"object\"}", 0, NULL);
	json_t *b = json_loads("{\"type\":\"string\"}", 0, NULL);
	json_t *c = json_loads("[]", 0, NULL);

	ck_assert_int_eq(tool_policy_schema_ok(a), 1);
	ck_assert_int_eq(tool_policy_schema_ok(b), 0);
	ck_assert_int_eq(tool_policy_schema_ok(c), 0);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	ck_assert_int_eq(tool_policy_name_ok("http_fetch"), 1);
	ck_assert_int_eq(tool_policy_name_ok("calc-2"), 1);
	ck_assert_int_eq(tool_policy_name_ok("a b"), 0);
	ck_assert_int_eq(tool_policy_name_ok(""), 0);
	ck_assert_int_eq(tool_policy_name_ok("a/b"), 0);
}
END_TEST

START_TEST(policy_definitions)
{
	static struct tool_def t;
	char err[256];

	memset(&t, 0, sizeof(t));
	strcpy(t.name, "calc");
	strcpy(t.description, "d");
	strcpy(t.schema, "{\"type\":\"object\"}");
	strcpy(t.exec_path, script("ok", "cat"));
	t.timeout_ms = 1000;
	t.max_output_bytes = 1000;
	strcpy(t.secret_names, "API_KEY,OTHER");
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), 0);
	strcpy(t.secret_names, "lower");
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), -1);
	strcpy(t.secret_names, "");
	strcpy(t.exec_path, "/etc/passwd");
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), -1);
	strcpy(t.exec_path, "cat");
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), -1);
	strcpy(t.exec_path, "/bin/cat");
	strcpy(t.schema, "{\"type\":\"array\"}");
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), -1);
	strcpy(t.schema, "not json");
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), -1);
	strcpy(t.schema, "{}");
	t.timeout_ms = 0;
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), -1);
	t.timeout_ms = 10;
	strcpy(t.name, "bad name");
	ck_assert_int_eq(tool_policy_def_check(&t, err, sizeof(err)), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tools");
	TCase *tr = tcase_create("runner"), *tp = tcase_create("policy");
	int rc;

	if (testdb_tmpdir("ah-test-tools", dir, sizeof(dir)) < 0)
		return EXIT_FAILURE;
	tcase_set_timeout(tr, 30);
	tcase_add_test(tr, runner_echoes_json);
	tcase_add_test(tr, runner_timeout_kills);
	tcase_add_test(tr, runner_output_cap);
	tcase_add_test(tr, runner_crash);
	tcase_add_test(tr, runner_invalid_output_and_exit_status);
	tcase_add_test(tr, runner_unread_input);
	tcase_add_test(tr, runner_clean_environment);
	tcase_add_test(tr, runner_descriptors_closed);
	tcase_add_test(tr, runner_private_workdir_removed);
	tcase_add_test(tr, runner_env_names);
	tcase_add_test(tp, policy_listed);
	tcase_add_test(tp, policy_schema_subset);
	tcase_add_test(tp, policy_depth_limited);
	tcase_add_test(tp, policy_schema_ok_and_names);
	tcase_add_test(tp, policy_definitions);
	suite_add_tcase(s, tr);
	suite_add_tcase(s, tp);
	rc = testdb_run(s);
	return rc;
}
