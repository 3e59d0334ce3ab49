/*
 * test_conf: the configuration table: defaults, bounds, unknown keys, provider keys,
 * the tenant lists of pinned pools.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "testdb.h"

static char *write_conf(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/ah-test-conf-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(defaults_are_in_bounds)
{
	struct conf c;

	conf_defaults(&c);
	ck_assert_int_eq(c.threads, 8);
	ck_assert_int_eq(c.max_json_depth, 32);
	ck_assert_int_eq(c.max_body_bytes, 1048576);
	ck_assert_str_eq(c.mount_prefix, "");
}
END_TEST

START_TEST(loads_values_and_comments)
{
	struct conf c;
	char err[256];
	char *p = write_conf("# comment\n threads = 4 \nmount_prefix=/gw\n\n"
	                     "provider.openai.base_url = http://127.0.0.1:9/openai/v1/\n"
	                     "provider.openai.api_key = sk-test\n");

	conf_defaults(&c);
	ck_assert_int_eq(conf_load(&c, p, err, sizeof(err)), 0);
	ck_assert_int_eq(c.threads, 4);
	ck_assert_int_eq(c.max_inflight, 4096);
	ck_assert_int_eq(c.max_streams,
	                 c.max_inflight); /* streams are bounded by calls in flight */
	ck_assert_str_eq(c.mount_prefix, "/gw");
	ck_assert_ptr_nonnull(conf_provider(&c, "openai"));
	ck_assert_str_eq(conf_provider(&c, "openai")->base_url, "http://127.0.0.1:9/openai/v1");
	ck_assert_str_eq(conf_provider(&c, "openai")->api_key, "sk-test");
	ck_assert_ptr_null(conf_provider(&c, "gemini"));
	unlink(p);
}
END_TEST

START_TEST(bad_values_name_the_key)
{
	struct conf c;
	char err[256];
	static const char *const bad[][2] = {
	    {"threads = 0\n", "threads"},
	    {"threads = many\n", "threads"},
	    {"max_body_bytes = 99999999999\n", "max_body_bytes"},
	    {"no_such_key = 1\n", "no_such_key"},
	    {"mount_prefix = gw/\n", "mount_prefix"},
	    {"log_level = loud\n", "log_level"},
	    {"provider.openai.base_url = ftp://x\n", "provider.openai.base_url"},
	    {"provider.openai.colour = red\n", "provider.openai.colour"},
	    {"just a line\n", "expected key = value"},
	    {"serve_tenants = acme, Bad_Slug\n", "serve_tenants"},
	    {"serve_tenants = acme,,globex\n", "serve_tenants"},
	    {"exclude_tenants = 123\n", "exclude_tenants"},
	    {"serve_tenants = acme\nexclude_tenants = globex\n", "not both"},
	    {"db_nodes = 127.0.0.1:99999\n", "db_nodes"},
	    {"db_nodes = a:1, b:x\n", "db_nodes"},
	    {"db_nodes = ::1\n", "db_nodes"},
	    {"db_nodes = a,b,c,d,e,f,g,h,i\n", "db_nodes"},
	    {"dashboard_mfa_roles = operator, admin\n", "dashboard_mfa_roles: 'admin'"},
	    {"dashboard_mfa_roles = support,,Operator\n", "dashboard_mfa_roles: 'Operator'"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *p = write_conf(bad[i][0]);

		conf_defaults(&c);
		ck_assert_int_eq(conf_load(&c, p, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, bad[i][1]) != NULL, "'%s' -> '%s'", bad[i][0], err);
		unlink(p);
	}
}
END_TEST

START_TEST(mfa_roles_are_roles)
{
	struct conf c;
	char err[256];
	char *p = write_conf("dashboard_mfa_roles = operator , tenant_admin\n");

	conf_defaults(&c);
	ck_assert_str_eq(c.dashboard_mfa_roles, "");
	ck_assert_msg(conf_load(&c, p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.dashboard_mfa_roles, "operator , tenant_admin");
	unlink(p);
}
END_TEST

START_TEST(pinned_and_excluding_pools)
{
	struct conf c;
	char err[256];
	char *p = write_conf("serve_tenants =  acme , globex-2 \n");

	conf_defaults(&c);
	ck_assert_int_eq(conf_serves_tenant(&c, "anyone"), 1);
	ck_assert_int_eq(conf_load(&c, p, err, sizeof(err)), 0);
	ck_assert_str_eq(c.serve_tenants, "acme,globex-2");
	ck_assert_int_eq(conf_serves_tenant(&c, "acme"), 1);
	ck_assert_int_eq(conf_serves_tenant(&c, "globex-2"), 1);
	/* whole items only: no prefix, suffix or substring matches */
	ck_assert_int_eq(conf_serves_tenant(&c, "acm"), 0);
	ck_assert_int_eq(conf_serves_tenant(&c, "acme2"), 0);
	ck_assert_int_eq(conf_serves_tenant(&c, "globex"), 0);
	ck_assert_int_eq(conf_serves_tenant(&c, ""), 0);
	unlink(p);

	p = write_conf("exclude_tenants = acme,globex-2\n");
	conf_defaults(&c);
	ck_assert_int_eq(conf_load(&c, p, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_serves_tenant(&c, "acme"), 0);
	ck_assert_int_eq(conf_serves_tenant(&c, "globex-2"), 0);
	ck_assert_int_eq(conf_serves_tenant(&c, "globex"), 1);
	ck_assert_int_eq(conf_serves_tenant(&c, "initech"), 1);
	unlink(p);

	p = write_conf("serve_tenants =   \n");
	conf_defaults(&c);
	ck_assert_int_eq(conf_load(&c, p, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_serves_tenant(&c, "acme"), 1);
	unlink(p);
}
END_TEST

START_TEST(db_nodes_are_parsed_in_order)
{
	struct conf c;
	char err[256];
	char *p = write_conf("db_nodes = 10.0.0.1:3307, db2 ,/run/n3.sock,\n");

	conf_defaults(&c);
	ck_assert_int_eq(conf_load(&c, p, err, sizeof(err)), 0);
	unlink(p);
	ck_assert_int_eq(c.n_db_nodes, 3);
	ck_assert_str_eq(c.db_node[0].host, "10.0.0.1");
	ck_assert_int_eq(c.db_node[0].port, 3307);
	ck_assert_str_eq(c.db_node[1].host, "db2");
	ck_assert_int_eq(c.db_node[1].port, 3306);
	ck_assert_str_eq(c.db_node[2].socket, "/run/n3.sock");
	ck_assert_str_eq(c.db_node[2].host, "");
	conf_defaults(&c);
	p = write_conf("threads = 2\n");
	ck_assert_int_eq(conf_load(&c, p, err, sizeof(err)), 0);
	unlink(p);
	ck_assert_int_eq(c.n_db_nodes, 0);
}
END_TEST

START_TEST(missing_file_is_an_error)
{
	struct conf c;
	char err[256];

	conf_defaults(&c);
	ck_assert_int_eq(conf_load(&c, "/nonexistent/agenthost.conf", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/agenthost.conf"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");
	int rc;

	tcase_add_test(tc, defaults_are_in_bounds);
	tcase_add_test(tc, loads_values_and_comments);
	tcase_add_test(tc, bad_values_name_the_key);
	tcase_add_test(tc, pinned_and_excluding_pools);
	tcase_add_test(tc, mfa_roles_are_roles);
	tcase_add_test(tc, db_nodes_are_parsed_in_order);
	tcase_add_test(tc, missing_file_is_an_error);
	suite_add_tcase(s, tc);
	rc = testdb_run(s);
	return rc;
}
