/*
 * test_tenantdb.c: dedicated tenant databases against a real MariaDB.
 *
 * DESIGN
 * Like test_store (a server from testdb.h; exit 77 without one):
 * recreates ah_tdb_test, migrates it, creates a master key in a temp
 * directory, and provisions dedicated tenants as agenthostctl would. It
 * checks what the integration tests cannot reach from outside: the tenant
 * schema is the control schema of the same tables, content is routed to the
 * tenant's database and nowhere else, the per-thread pool stays bounded, a
 * move's fence refuses new reservations, and a crash between the two steps
 * of a dedicated settle is reconciled by the reaper at the actual cost
 * (never lost, never counted twice).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <mysql.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "store/admission.h"
#include "store/db.h"
#include "store/store.h"
#include "store/records.h"
#include "store/tdb.h"
#include "store/tenantdb.h"
#include "testdb.h"

#define TEST_DB "ah_tdb_test"

static struct conf g_conf;
static struct store *st;
static char g_tmp[256]; /* holds the master key */

static void setup(void)
{
	char err[512];

	st = store_open(&g_conf, err, sizeof(err));
	ck_assert_msg(st != NULL, "store_open: %s", err);
	store_request_begin(st);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
}

static int64_t new_tenant(const char *slug, int dedicated)
{
	struct tdb_opts o = {&g_conf, NULL, 0};
	char err[512] = "";
	int64_t id = 0;

	ck_assert_int_eq(store_tenant_create(st, slug, "Tenant", "pro", &id), ST_OK);
	if (dedicated) {
		ck_assert_msg(store_tdb_provision(st, id, &o, err, sizeof(err)) == ST_OK, "%s",
		              err);
		ck_assert_int_eq(store_tdb_switch(st, id, 1), ST_OK);
	}
	return id;
}

static void fill_exec(struct execution *e, int64_t tenant, const char *id, int64_t cost)
{
	memset(e, 0, sizeof(*e));
	util_strlcpy(e->id, id, sizeof(e->id));
	e->tenant_id = tenant;
	e->key_id = 7;
	util_strlcpy(e->kind, "chat", sizeof(e->kind));
	util_strlcpy(e->model, "mock-1", sizeof(e->model));
	util_strlcpy(e->provider, "mock", sizeof(e->provider));
	util_strlcpy(e->cred_source, "platform", sizeof(e->cred_source));
	util_strlcpy(e->status, "succeeded", sizeof(e->status));
	e->prompt_tokens = 10;
	e->completion_tokens = 20;
	e->cost_micros = cost;
	e->latency_ms = 5;
}

/* A reservation of 1000 micro-USD and 500 tokens against the tenant's day counter. */
static void fill_adm(struct adm_request *a, int64_t tenant, const char *exec_id)
{
	memset(a, 0, sizeof(*a));
	a->tenant_id = tenant;
	a->key_id = 7;
	a->micros = 1000;
	a->tokens = 500;
	a->prompt_tokens = 10;
	a->max_tokens = 490;
	a->expires_s = 60;
	a->exec_id = exec_id;
	a->kind = "chat";
	a->model = "mock-1";
	a->provider = "mock";
	a->n = 1;
	a->c[0].scope = ADM_TENANT;
	a->c[0].scope_id = tenant;
	a->c[0].window = ADM_DAY;
	util_strlcpy(a->c[0].period, "2026-11-23", sizeof(a->c[0].period));
	a->c[0].hard = 1;
}

static int count_cb(void *ctx, const struct execution *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

/* ------------------------------------------------------------------ tests */

/* Every content table of a tenant database has the control table's columns and keys. */
START_TEST(test_schema_matches)
{
	int64_t t = new_tenant("schema", 1);
	const char *const *lists[2] = {store_tdb_content_tables(), store_tdb_rollup_tables()};

	for (int l = 0; l < 2; l++)
		for (const char *const *tb = lists[l]; *tb; tb++) {
			const char *cols = "SELECT COUNT(*) FROM (SELECT column_name, column_type,"
			                   " is_nullable, column_default, ordinal_position FROM"
			                   " information_schema.columns WHERE table_schema = '%s%s'"
			                   " AND table_name = '%s') x";
			int64_t n_ctl = testdb_q64(NULL, cols, TEST_DB, "", *tb);
			int64_t n_ten = 0, same;
			char tdb[64];

			snprintf(tdb, sizeof(tdb), "_t%lld", (long long)t);
			n_ten = testdb_q64(NULL, cols, TEST_DB, tdb, *tb);
			ck_assert_msg(n_ctl > 0 && n_ctl == n_ten, "%s: %lld vs %lld columns", *tb,
			              (long long)n_ctl, (long long)n_ten);
			same = testdb_q64(
			    NULL,
			    "SELECT COUNT(*) FROM information_schema.columns a JOIN"
			    " information_schema.columns b ON b.table_schema = '%s%s' AND"
			    " b.table_name = a.table_name AND b.column_name = a.column_name AND"
			    " b.column_type = a.column_type AND b.is_nullable = a.is_nullable AND"
			    " b.ordinal_position = a.ordinal_position AND"
			    " (b.column_default <=> a.column_default)"
			    " WHERE a.table_schema = '%s' AND a.table_name = '%s'",
			    TEST_DB, tdb, TEST_DB, *tb);
			ck_assert_msg(same == n_ctl, "%s: %lld of %lld columns differ", *tb,
			              (long long)(n_ctl - same), (long long)n_ctl);
			same = testdb_q64(
			    NULL,
			    "SELECT COUNT(*) FROM (SELECT index_name, column_name, seq_in_index,"
			    " non_unique FROM information_schema.statistics WHERE table_schema ="
			    " '%s' AND table_name = '%s' EXCEPT SELECT index_name, column_name,"
			    " seq_in_index, non_unique FROM information_schema.statistics WHERE"
			    " table_schema = '%s%s' AND table_name = '%s') d",
			    TEST_DB, *tb, TEST_DB, tdb, *tb);
			ck_assert_msg(same == 0,
			              "%s: %lld index column(s) missing in the tenant db", *tb,
			              (long long)same);
		}
}
END_TEST

/* Content goes to the tenant's own database, the summary to the control database. */
START_TEST(test_routing)
{
	int64_t shared = new_tenant("route-s", 0), ded = new_tenant("route-d", 1);
	struct execution e;

	ck_assert_ptr_eq(store_data_conn(st, shared), st);
	ck_assert_ptr_ne(store_data_conn(st, ded), st);
	ck_assert_ptr_nonnull(store_data_conn(st, ded));
	fill_exec(&e, ded, "chatcmpl-route-1", 55);
	ck_assert_int_eq(store_execution_record(st, &e), ST_OK);
	ck_assert_int_eq(store_execution_record(st, &e), ST_CONFLICT);
	ck_assert_int_eq(
	    testdb_q64(NULL,
	               "SELECT COUNT(*) FROM %s_t%lld.executions WHERE id = 'chatcmpl-route-1'",
	               TEST_DB, (long long)ded),
	    1);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT COUNT(*) FROM %s.executions WHERE tenant_id = %lld",
	                            TEST_DB, (long long)ded),
	                 0);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT cost_micros FROM %s.usage_daily WHERE tenant_id = %lld",
	                            TEST_DB, (long long)ded),
	                 55);
	ck_assert_int_eq(testdb_q64(NULL, "SELECT cost_micros FROM %s_t%lld.usage_daily", TEST_DB,
	                            (long long)ded),
	                 55);
	/* the other tenant's id answers nothing through either handle */
	ck_assert_int_eq(store_execution_get(st, shared, "chatcmpl-route-1", NULL, NULL),
	                 ST_NOTFOUND);
}
END_TEST

/*
 * However many dedicated tenants a thread touches, it holds at most pool_max
 * connections; an evicted connection handed to another tenant (change of
 * user) reaches that tenant's rows and no one else's.
 */
START_TEST(test_pool_bounded)
{
	int64_t ids[6], conns;
	int open = 0;

	for (int i = 0; i < 6; i++) {
		struct execution e;
		char slug[32], id[40];

		snprintf(slug, sizeof(slug), "pool-%d", i);
		ids[i] = new_tenant(slug, 1);
		snprintf(id, sizeof(id), "chatcmpl-pool-%d", i);
		fill_exec(&e, ids[i], id, 10 + i);
		store_request_begin(st);
		ck_assert_int_eq(store_execution_record(st, &e), ST_OK);
	}
	store_pool_close(st); /* then a smaller pool (store_pool_close walks pool_max slots) */
	st->pool_max = 2;
	conns = testdb_q64(NULL, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
	                         " WHERE VARIABLE_NAME = 'CONNECTIONS'");
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 6; i++) {
			char own[40], other[40];
			int n = 0;

			snprintf(own, sizeof(own), "chatcmpl-pool-%d", i);
			snprintf(other, sizeof(other), "chatcmpl-pool-%d", (i + 1) % 6);
			store_request_begin(st);
			ck_assert_ptr_nonnull(store_data_conn(st, ids[i]));
			ck_assert_int_eq(store_execution_get(st, ids[i], own, count_cb, &n), ST_OK);
			ck_assert_int_eq(n, 1);
			ck_assert_int_eq(store_execution_get(st, ids[i], other, NULL, NULL),
			                 ST_NOTFOUND);
		}
	/* 18 turns over 6 tenants: 2 connections made, then handed over (and 1 for q64 itself) */
	conns = testdb_q64(NULL, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
	                         " WHERE VARIABLE_NAME = 'CONNECTIONS'") -
	        conns;
	ck_assert_msg(conns <= 3, "%lld connections for 18 turns", (long long)conns);
	for (int i = 0; i < st->pool_max; i++)
		open += st->pool[i].conn != NULL;
	ck_assert_int_le(open, 2);
	/* the pooled connections are still the tenants' own accounts, not the control one */
	for (int i = 0; i < st->pool_max; i++)
		if (st->pool[i].conn)
			ck_assert_msg(
			    strncmp(st->pool[i].conn->user, TEST_DB "_t", strlen(TEST_DB) + 2) == 0,
			    "%s", st->pool[i].conn->user);
}
END_TEST

/* While a tenant is migrating no reservation opens; its absence is not a refusal by a limit. */
START_TEST(test_migrating_fence)
{
	int64_t t = new_tenant("fence", 0), rid = 0;
	struct adm_request a;
	int refused = 0;

	fill_adm(&a, t, "chatcmpl-fence");
	ck_assert_int_eq(store_tdb_migrating(st, t, 1), ST_OK);
	ck_assert_int_eq(store_tdb_migrating(st, t, 1), ST_CONFLICT);
	ck_assert_int_eq(store_admit_reserve(st, &a, &rid, &refused), ST_CONFLICT);
	ck_assert_int_eq(rid, 0);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT COUNT(*) FROM %s.reservations WHERE tenant_id = %lld",
	                            TEST_DB, (long long)t),
	                 0);
	ck_assert_int_eq(store_tdb_migrating(st, t, 0), ST_OK);
	ck_assert_int_eq(store_admit_reserve(st, &a, &rid, &refused), ST_OK);
	ck_assert_int_gt(rid, 0);
	ck_assert_int_eq(refused, -1);
}
END_TEST

/*
 * The process recorded the call in the tenant's database and died before
 * settling the counters: the reaper settles at the actual cost, once.
 */
START_TEST(test_crash_after_data_step)
{
	int64_t t = new_tenant("crash-a", 1), rid = 0;
	struct adm_request a;
	struct execution e;
	int refused, reaped = 0;

	fill_adm(&a, t, "chatcmpl-crash-a");
	ck_assert_int_eq(store_admit_reserve(st, &a, &rid, &refused), ST_OK);
	ck_assert_int_gt(rid, 0);
	/* step 1 as the process would have done it, then nothing */
	fill_exec(&e, t, "chatcmpl-crash-a", 321);
	ck_assert_int_eq(store_execution_write(store_data_conn(st, t), &e, 1), ST_OK);
	testdb_q64(NULL,
	           "UPDATE %s.reservations SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
	           " WHERE id = %lld",
	           TEST_DB, (long long)rid);
	store_request_begin(st);
	ck_assert_int_eq(store_admit_reap(st, 100, &reaped), ST_OK);
	ck_assert_int_eq(reaped, 1);
	ck_assert_int_eq(
	    testdb_q64(NULL,
	               "SELECT spent_micros FROM %s.budget_counters WHERE scope = 'tenant'"
	               " AND scope_id = %lld AND win = 'day'",
	               TEST_DB, (long long)t),
	    321);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT reserved_micros FROM %s.budget_counters WHERE scope ="
	                            " 'tenant' AND scope_id = %lld AND win = 'day'",
	                            TEST_DB, (long long)t),
	                 0);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT requests FROM %s.usage_daily WHERE tenant_id = %lld",
	                            TEST_DB, (long long)t),
	                 1);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT cost_micros FROM %s.usage_daily WHERE tenant_id = %lld",
	                            TEST_DB, (long long)t),
	                 321);
	ck_assert_int_eq(
	    testdb_q64(NULL, "SELECT COUNT(*) FROM %s_t%lld.executions", TEST_DB, (long long)t), 1);
	/* a late settle by a process that was only slow changes nothing */
	store_request_begin(st);
	ck_assert_int_eq(store_admit_settle(st, rid, &a, &e), ST_CONFLICT);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT requests FROM %s.usage_daily WHERE tenant_id = %lld",
	                            TEST_DB, (long long)t),
	                 1);
}
END_TEST

/* The process died before recording anything: worst case, written data first, once. */
START_TEST(test_crash_before_data_step)
{
	int64_t t = new_tenant("crash-b", 1), rid = 0;
	struct adm_request a;
	struct execution e;
	int refused, reaped = 0;

	fill_adm(&a, t, "chatcmpl-crash-b");
	ck_assert_int_eq(store_admit_reserve(st, &a, &rid, &refused), ST_OK);
	testdb_q64(NULL,
	           "UPDATE %s.reservations SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
	           " WHERE id = %lld",
	           TEST_DB, (long long)rid);
	store_request_begin(st);
	ck_assert_int_eq(store_admit_reap(st, 100, &reaped), ST_OK);
	ck_assert_int_eq(reaped, 1);
	ck_assert_int_eq(
	    testdb_q64(NULL,
	               "SELECT spent_micros FROM %s.budget_counters WHERE scope = 'tenant'"
	               " AND scope_id = %lld AND win = 'day'",
	               TEST_DB, (long long)t),
	    1000);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT COUNT(*) FROM %s_t%lld.executions WHERE reason_code ="
	                            " 'reservation_expired'",
	                            TEST_DB, (long long)t),
	                 1);
	ck_assert_int_eq(
	    testdb_q64(NULL, "SELECT cost_micros FROM %s_t%lld.usage_daily", TEST_DB, (long long)t),
	    1000);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT cost_micros FROM %s.usage_daily WHERE tenant_id = %lld",
	                            TEST_DB, (long long)t),
	                 1000);
	/* the process wakes up and settles: the reaper's record stands */
	fill_exec(&e, t, "chatcmpl-crash-b", 40);
	store_request_begin(st);
	ck_assert_int_eq(store_admit_settle(st, rid, &a, &e), ST_CONFLICT);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT requests FROM %s.usage_daily WHERE tenant_id = %lld",
	                            TEST_DB, (long long)t),
	                 1);
}
END_TEST

/* A normal dedicated settle: counters at actual, one summary row, one tenant row. */
START_TEST(test_settle_dedicated)
{
	int64_t t = new_tenant("settle-d", 1), rid = 0;
	struct adm_request a;
	struct execution e;
	int refused;

	fill_adm(&a, t, "chatcmpl-settle-d");
	ck_assert_int_eq(store_admit_reserve(st, &a, &rid, &refused), ST_OK);
	fill_exec(&e, t, "chatcmpl-settle-d", 77);
	store_request_begin(st);
	ck_assert_int_eq(store_admit_settle(st, rid, &a, &e), ST_OK);
	ck_assert_int_eq(
	    testdb_q64(NULL,
	               "SELECT spent_micros FROM %s.budget_counters WHERE scope = 'tenant'"
	               " AND scope_id = %lld AND win = 'day'",
	               TEST_DB, (long long)t),
	    77);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT state = 'settled' FROM %s.reservations WHERE id = %lld",
	                            TEST_DB, (long long)rid),
	                 1);
	ck_assert_int_eq(testdb_q64(NULL,
	                            "SELECT requests FROM %s.usage_daily WHERE tenant_id = %lld",
	                            TEST_DB, (long long)t),
	                 1);
	ck_assert_int_eq(
	    testdb_q64(NULL, "SELECT requests FROM %s_t%lld.usage_daily", TEST_DB, (long long)t),
	    1);
}
END_TEST

/* ------------------------------------------------------------------ main */

static Suite *tdb_suite(void)
{
	Suite *s = suite_create("tenantdb");
	TCase *tc = tcase_create("mariadb");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_schema_matches);
	tcase_add_test(tc, test_routing);
	tcase_add_test(tc, test_pool_bounded);
	tcase_add_test(tc, test_migrating_fence);
	tcase_add_test(tc, test_crash_after_data_step);
	tcase_add_test(tc, test_crash_before_data_step);
	tcase_add_test(tc, test_settle_dedicated);
	suite_add_tcase(s, tc);
	return s;
}

/* Drop the test database and every tenant database and account made from it. */
static int reset_db(int create)
{
	MYSQL *m = testdb_admin(NULL);
	MYSQL_RES *res;
	MYSQL_ROW row;
	char sql[256];

	if (m == NULL)
		return -1;
	if (mysql_query(m, "SELECT schema_name FROM information_schema.schemata WHERE schema_name"
	                   " LIKE '" TEST_DB "\\_t%'") == 0 &&
	    (res = mysql_store_result(m)) != NULL) {
		while ((row = mysql_fetch_row(res)) != NULL) {
			snprintf(sql, sizeof(sql), "DROP DATABASE `%s`", row[0]);
			mysql_query(m, sql);
			snprintf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'%%'", row[0]);
			mysql_query(m, sql);
		}
		mysql_free_result(res);
	}
	if (mysql_query(m, "DROP DATABASE IF EXISTS " TEST_DB) ||
	    (create && mysql_query(m, "CREATE DATABASE " TEST_DB " CHARACTER SET utf8mb4"))) {
		fprintf(stderr, "database: %s\n", mysql_error(m));
		mysql_close(m);
		return -1;
	}
	mysql_close(m);
	return 0;
}

int main(void)
{
	char err[512], key[300];
	struct store *s;
	int rc;

	if (testdb_start("test_tenantdb") < 0)
		return 77;
	if (testdb_tmpdir("ah_tdb", g_tmp, sizeof(g_tmp)) < 0 || testdb_conf(&g_conf, TEST_DB) < 0)
		return 1;
	snprintf(key, sizeof(key), "%s/master.key", g_tmp);
	if (secrets_create_master_key(key, err, sizeof(err)) != 0 ||
	    secrets_init(key, err, sizeof(err)) != 0) {
		fprintf(stderr, "set-up: %s\n", err);
		return 1;
	}
	log_set_level(LOG_ERROR);
	if (mysql_library_init(0, NULL, NULL) || reset_db(1) < 0)
		return 1;
	s = store_open(&g_conf, err, sizeof(err));
	if (s == NULL || store_migrate_dir(s, g_conf.sql_dir, 1, err, sizeof(err)) != ST_OK) {
		fprintf(stderr, "migrate: %s\n", err);
		return 1;
	}
	store_close(s);
	rc = testdb_run(tdb_suite());
	reset_db(0);
	unlink(key);
	rmdir(g_tmp);
	mysql_library_end();
	return rc;
}
