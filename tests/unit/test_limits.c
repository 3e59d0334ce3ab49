/*
 * test_limits.c: the limits model (src/enforce/limits.c, src/store/limits.c).
 *
 * DESIGN
 * Most checks need no database: the definitions table, validation and
 * normalisation of every type with its bounds, USD text both ways, list and
 * CIDR normalisation, and precedence, driven with synthetic rows through
 * limits_init/limits_apply in several orders. When AGENTHOST_TEST_DB_SOCKET
 * names a MariaDB socket, a second test case recreates the database
 * ah_limits_test, migrates it, and checks the store side: the plan seeds,
 * one-query resolution with sources, that another tenant's key never
 * applies, set/unset/list, plans, and the per-thread cache's staleness
 * bound (an edit is invisible to a cached entry, then visible after
 * LIMITS_CACHE_MS).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <mysql.h>

#include "common/cache.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/limits.h"
#include "enforce/limits_rows.h"
#include "store/limits.h"
#include "store/store.h"
#include "testdb.h"

#define TEST_DB "ah_limits_test"

static struct conf g_conf;
static struct store *st;

/* The normalised text of value for limit id; fails the test when it does not validate. */
static const char *ok(int id, const char *value)
{
	static char out[1024];
	char err[256];

	ck_assert_msg(limit_validate(id, value, out, sizeof(out), err, sizeof(err)) == 0,
	              "'%s' refused: %s", value, err);
	return out;
}

/* 1 when value is refused for limit id with a message naming the limit. */
static int bad(int id, const char *value)
{
	char out[1024], err[256];

	if (limit_validate(id, value, out, sizeof(out), err, sizeof(err)) == 0)
		return 0;
	ck_assert_msg(strstr(err, limit_defs()[id].name) != NULL, "error without the name: %s",
	              err);
	return 1;
}

/* ------------------------------------------------------------------ definitions */

START_TEST(test_defs)
{
	static const char *const names[LIM__MAX] = {
	    "rpm",
	    "tpm",
	    "concurrency",
	    "key_rpm",
	    "key_tpm",
	    "key_concurrency",
	    "budget_usd_daily",
	    "budget_usd_monthly",
	    "budget_tokens_daily",
	    "budget_tokens_monthly",
	    "budget_enforcement",
	    "max_tokens",
	    "allowed_models",
	    "allowed_agents",
	    "ip_allowlist",
	    "breaker_errors",
	    "breaker_window_s",
	    "breaker_cooldown_s",
	    "global_budget_usd_daily",
	    "global_budget_usd_monthly",
	    "global_budget_tokens_daily",
	    "global_budget_tokens_monthly",
	    "retention_days",
	    "data_region",
	    "default_model",
	    "allowed_tools",
	    "isolation_mode",
	    "host_share_pct",
	    "request_provider_key",
	    "alert_thresholds",
	    "dashboard_ip_allowlist",
	    "dashboard_session_idle_s",
	    "dashboard_mfa",
	    "response_cache",
	    "response_cache_ttl_s",
	    "response_cache_max_bytes",
	    "guardrails",
	    "end_user_budget_usd_daily",
	    "end_user_budget_usd_monthly",
	    "end_user_budget_tokens_daily",
	    "end_user_budget_tokens_monthly",
	    "end_user_alert_thresholds",
	};
	const struct limit_def *d = limit_defs();
	unsigned gpt = LSB(LS_GLOBAL) | LSB(LS_PLAN) | LSB(LS_TENANT);

	for (int i = 0; i < LIM__MAX; i++) {
		ck_assert_str_eq(d[i].name, names[i]);
		ck_assert_int_eq(limit_by_name(names[i]), i);
		ck_assert_ptr_nonnull(d[i].help);
		ck_assert_msg((d[i].scopes & LSB(LS_DEFAULT)) == 0, "%s", d[i].name);
		if (strncmp(names[i], "global_", 7) == 0)
			ck_assert_uint_eq(d[i].scopes, LSB(LS_GLOBAL));
		else if (strncmp(names[i], "key_", 4) == 0)
			ck_assert_uint_eq(d[i].scopes, gpt | LSB(LS_KEY));
		else if (strcmp(names[i], "isolation_mode") == 0) /* a tenant moves instead */
			ck_assert_uint_eq(d[i].scopes, LSB(LS_GLOBAL) | LSB(LS_PLAN));
		else
			ck_assert_uint_eq(d[i].scopes, gpt);
	}
	ck_assert_int_eq(limit_by_name("nope"), -1);
	ck_assert_int_eq(limit_by_name(""), -1);
	ck_assert_int_eq(limit_by_name(NULL), -1);
	ck_assert_str_eq(limit_scope_name(LS_DEFAULT), "default");
	ck_assert_str_eq(limit_scope_name(LS_KEY), "key");
	ck_assert_str_eq(limit_scope_name(LS__MAX), "unknown");
	for (int s = 0; s < LS__MAX; s++)
		ck_assert_int_eq(limit_scope_by_name(limit_scope_name((enum limit_scope)s)), s);
	ck_assert_int_eq(limit_scope_by_name("Global"), -1);
}
END_TEST

START_TEST(test_defaults)
{
	static struct limits l;

	limits_init(&l, 7, 9);
	ck_assert_int_eq(l.tenant_id, 7);
	ck_assert_int_eq(l.key_id, 9);
	for (int i = 0; i < LIM__MAX; i++)
		ck_assert_int_eq(l.v[i].source, LS_DEFAULT);
	ck_assert_str_eq(l.v[LIM_BUDGET_ENFORCEMENT].text, "hard");
	ck_assert_int_eq(l.v[LIM_BUDGET_ENFORCEMENT].num, 0);
	ck_assert_str_eq(l.v[LIM_BREAKER_ERRORS].text, "5");
	ck_assert_int_eq(l.v[LIM_BREAKER_ERRORS].num, 5);
	ck_assert_int_eq(l.v[LIM_BREAKER_WINDOW_S].num, 60);
	ck_assert_int_eq(l.v[LIM_BREAKER_COOLDOWN_S].num, 30);
	ck_assert_str_eq(l.v[LIM_RPM].text, "0");
	ck_assert_int_eq(l.v[LIM_RPM].num, 0);
	ck_assert_str_eq(l.v[LIM_BUDGET_USD_DAILY].text, "0");
	ck_assert_str_eq(l.v[LIM_ALLOWED_MODELS].text, "");
	ck_assert_str_eq(l.v[LIM_IP_ALLOWLIST].text, "");
	ck_assert_int_eq(l.v[LIM_IP_ALLOWLIST].num, 0);
}
END_TEST

/* ------------------------------------------------------------------ validation */

START_TEST(test_counts)
{
	ck_assert_str_eq(ok(LIM_RPM, "60"), "60");
	ck_assert_str_eq(ok(LIM_RPM, " 007 "), "7");
	ck_assert_str_eq(ok(LIM_RPM, "0"), "0");
	ck_assert_str_eq(ok(LIM_TPM, "1000000000000"), "1000000000000");
	ck_assert(bad(LIM_TPM, "1000000000001"));
	ck_assert(bad(LIM_TPM, "99999999999999999999"));
	ck_assert(bad(LIM_RPM, "-1"));
	ck_assert(bad(LIM_RPM, "+1"));
	ck_assert(bad(LIM_RPM, "1.5"));
	ck_assert(bad(LIM_RPM, "1e3"));
	ck_assert(bad(LIM_RPM, ""));
	ck_assert(bad(LIM_RPM, "   "));
	ck_assert(bad(LIM_RPM, "ten"));
	ck_assert(bad(LIM_RPM, "1 0"));
	ck_assert_str_eq(ok(LIM_MAX_TOKENS, "4096"), "4096");
	ck_assert(bad(LIM_MAX_TOKENS, "100000001"));
	ck_assert_str_eq(ok(LIM_BREAKER_ERRORS, "0"), "0");
	ck_assert(bad(LIM_BREAKER_WINDOW_S, "0"));
	ck_assert_str_eq(ok(LIM_BREAKER_WINDOW_S, "1"), "1");
	ck_assert_str_eq(ok(LIM_BREAKER_COOLDOWN_S, "86400"), "86400");
	ck_assert(bad(LIM_BREAKER_COOLDOWN_S, "86401"));
	ck_assert_str_eq(ok(LIM_KEY_CONCURRENCY, "3"), "3");
	ck_assert_str_eq(ok(LIM_GLOBAL_BUDGET_TOKENS_DAILY, "5000000"), "5000000");
}
END_TEST

START_TEST(test_usd)
{
	static struct limits l;
	char buf[32];

	ck_assert_str_eq(ok(LIM_BUDGET_USD_DAILY, "12.5"), "12.5");
	ck_assert_str_eq(ok(LIM_BUDGET_USD_DAILY, "12.50"), "12.5");
	ck_assert_str_eq(ok(LIM_BUDGET_USD_DAILY, "007.100000"), "7.1");
	ck_assert_str_eq(ok(LIM_BUDGET_USD_DAILY, "5"), "5");
	ck_assert_str_eq(ok(LIM_BUDGET_USD_DAILY, "0"), "0");
	ck_assert_str_eq(ok(LIM_BUDGET_USD_DAILY, "0.000001"), "0.000001");
	ck_assert_str_eq(ok(LIM_BUDGET_USD_MONTHLY, "10000000"), "10000000");
	ck_assert_str_eq(ok(LIM_GLOBAL_BUDGET_USD_DAILY, " 2.25 "), "2.25");
	ck_assert(bad(LIM_BUDGET_USD_MONTHLY, "10000000.000001"));
	ck_assert(bad(LIM_BUDGET_USD_MONTHLY, "100000000"));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, "1.0000001"));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, "12."));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, ".5"));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, "-1"));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, "$5"));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, "1,5"));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, "1.2.3"));
	ck_assert(bad(LIM_BUDGET_USD_DAILY, ""));

	/* The micro-USD value reaches .num through resolution. */
	limits_init(&l, 1, 0);
	ck_assert_int_eq(limits_apply(&l, LS_TENANT, "budget_usd_daily", "12.5"), 1);
	ck_assert_int_eq(l.v[LIM_BUDGET_USD_DAILY].num, 12500000);
	ck_assert_int_eq(limits_apply(&l, LS_GLOBAL, "global_budget_usd_monthly", "10000000"), 1);
	ck_assert_int_eq(l.v[LIM_GLOBAL_BUDGET_USD_MONTHLY].num, 10000000000000LL);

	limit_format_usd(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	limit_format_usd(1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.000001");
	limit_format_usd(12500000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12.5");
	limit_format_usd(5000000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "5");
	limit_format_usd(10000000000000LL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10000000");
	limit_format_usd(123456789, buf, sizeof(buf));
	ck_assert_str_eq(buf, "123.456789");
	limit_format_usd(-1500000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-1.5");
}
END_TEST

START_TEST(test_enum)
{
	static struct limits l;

	ck_assert_str_eq(ok(LIM_BUDGET_ENFORCEMENT, "hard"), "hard");
	ck_assert_str_eq(ok(LIM_BUDGET_ENFORCEMENT, " SOFT "), "soft");
	ck_assert(bad(LIM_BUDGET_ENFORCEMENT, "medium"));
	ck_assert(bad(LIM_BUDGET_ENFORCEMENT, "har"));
	ck_assert(bad(LIM_BUDGET_ENFORCEMENT, "hard|soft"));
	ck_assert(bad(LIM_BUDGET_ENFORCEMENT, ""));
	limits_init(&l, 1, 0);
	ck_assert_int_eq(limits_apply(&l, LS_PLAN, "budget_enforcement", "soft"), 1);
	ck_assert_int_eq(l.v[LIM_BUDGET_ENFORCEMENT].num, 1);
}
END_TEST

START_TEST(test_lists)
{
	char big[2048];
	size_t n = 0;

	ck_assert_str_eq(ok(LIM_ALLOWED_MODELS, " gpt-4o , mock-1,gpt-4o,, "), "gpt-4o,mock-1");
	ck_assert_str_eq(ok(LIM_ALLOWED_MODELS, ""), "");
	ck_assert_str_eq(ok(LIM_ALLOWED_MODELS, " , "), "");
	ck_assert_str_eq(ok(LIM_ALLOWED_MODELS, "models/gemini-2.0-flash,org@name:tag"),
	                 "models/gemini-2.0-flash,org@name:tag");
	ck_assert_str_eq(ok(LIM_ALLOWED_AGENTS, "support_bot,helper"), "support_bot,helper");
	ck_assert(bad(LIM_ALLOWED_MODELS, "a b"));
	ck_assert(bad(LIM_ALLOWED_MODELS, "bad!"));
	ck_assert(bad(LIM_ALLOWED_AGENTS, "x;y"));
	ck_assert(bad(LIM_ALLOWED_AGENTS, "caf\xc3\xa9"));
	/* An item over 128 bytes, and a list over the value's room. */
	memset(big, 'a', 129);
	big[129] = '\0';
	ck_assert(bad(LIM_ALLOWED_MODELS, big));
	while (n + 12 < sizeof(big)) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "m%09zu,", n);
	}
	ck_assert(bad(LIM_ALLOWED_MODELS, big));

	ck_assert_int_eq(limits_list_allows("", "anything"), 1);
	ck_assert_int_eq(limits_list_allows(NULL, "anything"), 1);
	ck_assert_int_eq(limits_list_allows("gpt-4o,mock-1", "mock-1"), 1);
	ck_assert_int_eq(limits_list_allows("gpt-4o,mock-1", "gpt-4o"), 1);
	ck_assert_int_eq(limits_list_allows("gpt-4o,mock-1", "gpt-4"), 0);
	ck_assert_int_eq(limits_list_allows("gpt-4o,mock-1", "mock-1x"), 0);
	ck_assert_int_eq(limits_list_allows("gpt-4o,mock-1", ""), 0);
	ck_assert_int_eq(limits_list_allows("gpt-4o,mock-1", NULL), 0);
}
END_TEST

START_TEST(test_cidrs)
{
	ck_assert_str_eq(ok(LIM_IP_ALLOWLIST, "10.0.0.1/8, 2001:db8::1/32 ,192.168.1.7"),
	                 "10.0.0.0/8,2001:db8::/32,192.168.1.7/32");
	ck_assert_str_eq(ok(LIM_IP_ALLOWLIST, "10.1.2.3/8,10.0.0.0/8"), "10.0.0.0/8");
	ck_assert_str_eq(ok(LIM_IP_ALLOWLIST, "::1"), "::1/128");
	ck_assert_str_eq(ok(LIM_IP_ALLOWLIST, "192.168.1.200/25"), "192.168.1.128/25");
	ck_assert_str_eq(ok(LIM_IP_ALLOWLIST, "0.0.0.0/0"), "0.0.0.0/0");
	ck_assert_str_eq(ok(LIM_IP_ALLOWLIST, ""), "");
	ck_assert(bad(LIM_IP_ALLOWLIST, "10.0.0.0/33"));
	ck_assert(bad(LIM_IP_ALLOWLIST, "2001:db8::/129"));
	ck_assert(bad(LIM_IP_ALLOWLIST, "10.0.0.0/8,nope"));
	ck_assert(bad(LIM_IP_ALLOWLIST, "300.1.1.1"));
	ck_assert(bad(LIM_IP_ALLOWLIST, "10.0.0.0/"));
}
END_TEST

/* ------------------------------------------------------------------ precedence */

struct row {
	enum limit_scope scope;
	const char *name, *value;
};

/* Apply rows in the order given by idx. */
static void apply_rows(struct limits *l, const struct row *rows, const size_t *idx, size_t n)
{
	limits_init(l, 3, 4);
	for (size_t i = 0; i < n; i++)
		limits_apply(l, rows[idx[i]].scope, rows[idx[i]].name, rows[idx[i]].value);
}

START_TEST(test_precedence)
{
	static const struct row rows[] = {
	    {LS_GLOBAL, "rpm", "10"},
	    {LS_PLAN, "rpm", "60"},
	    {LS_TENANT, "rpm", "100"},
	    {LS_GLOBAL, "tpm", "1000"},
	    {LS_PLAN, "tpm", "2000"},
	    {LS_GLOBAL, "key_rpm", "1"},
	    {LS_PLAN, "key_rpm", "2"},
	    {LS_TENANT, "key_rpm", "3"},
	    {LS_KEY, "key_rpm", "4"},
	    {LS_TENANT, "key_tpm", "30"},
	    {LS_GLOBAL, "concurrency", "8"},
	    {LS_PLAN, "max_tokens", "4096"},
	    {LS_TENANT, "max_tokens", "bad"},
	    {LS_KEY, "rpm", "999"},
	    {LS_TENANT, "global_budget_usd_daily", "1"},
	    {LS_GLOBAL, "global_budget_usd_daily", "100"},
	    {LS_TENANT, "no_such_limit", "1"},
	};
	enum { N = sizeof(rows) / sizeof(rows[0]) };
	static struct limits l;
	size_t idx[N];
	unsigned seed = 12345;

	/* The same answer whatever order the rows arrive in. */
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < N; i++)
			idx[i] = i;
		if (round == 1)
			for (size_t i = 0; i < N; i++)
				idx[i] = N - 1 - i;
		else if (round > 1)
			for (size_t i = N - 1; i > 0; i--) {
				size_t j, t;

				seed = seed * 1103515245u + 12345u;
				j = (seed >> 16) % (i + 1);
				t = idx[i];
				idx[i] = idx[j];
				idx[j] = t;
			}
		apply_rows(&l, rows, idx, N);
		ck_assert_str_eq(l.v[LIM_RPM].text, "100");
		ck_assert_int_eq(l.v[LIM_RPM].num, 100);
		ck_assert_int_eq(l.v[LIM_RPM].source, LS_TENANT);
		ck_assert_str_eq(l.v[LIM_TPM].text, "2000");
		ck_assert_int_eq(l.v[LIM_TPM].source, LS_PLAN);
		ck_assert_str_eq(l.v[LIM_KEY_RPM].text, "4");
		ck_assert_int_eq(l.v[LIM_KEY_RPM].source, LS_KEY);
		ck_assert_str_eq(l.v[LIM_KEY_TPM].text, "30");
		ck_assert_int_eq(l.v[LIM_KEY_TPM].source, LS_TENANT);
		ck_assert_str_eq(l.v[LIM_CONCURRENCY].text, "8");
		ck_assert_int_eq(l.v[LIM_CONCURRENCY].source, LS_GLOBAL);
		/* An invalid tenant value is ignored: the plan's stays in force. */
		ck_assert_str_eq(l.v[LIM_MAX_TOKENS].text, "4096");
		ck_assert_int_eq(l.v[LIM_MAX_TOKENS].source, LS_PLAN);
		/* global_* only at global: the tenant row is ignored. */
		ck_assert_str_eq(l.v[LIM_GLOBAL_BUDGET_USD_DAILY].text, "100");
		ck_assert_int_eq(l.v[LIM_GLOBAL_BUDGET_USD_DAILY].num, 100000000);
		ck_assert_int_eq(l.v[LIM_GLOBAL_BUDGET_USD_DAILY].source, LS_GLOBAL);
		ck_assert_str_eq(l.v[LIM_BREAKER_ERRORS].text, "5");
		ck_assert_int_eq(l.v[LIM_BREAKER_ERRORS].source, LS_DEFAULT);
	}

	limits_init(&l, 3, 0);
	ck_assert_int_eq(limits_apply(&l, LS_KEY, "rpm", "5"), -1);
	ck_assert_int_eq(limits_apply(&l, LS_PLAN, "global_budget_tokens_daily", "5"), -1);
	ck_assert_int_eq(limits_apply(&l, LS_DEFAULT, "rpm", "5"), -1);
	ck_assert_int_eq(limits_apply(&l, LS_TENANT, "nope", "5"), -1);
	ck_assert_int_eq(limits_apply(&l, LS_TENANT, "rpm", "-5"), -1);
	ck_assert_int_eq(l.v[LIM_RPM].source, LS_DEFAULT);
	ck_assert_int_eq(limits_apply(&l, LS_TENANT, "rpm", "5"), 1);
	ck_assert_int_eq(limits_apply(&l, LS_PLAN, "rpm", "50"), 0);
	ck_assert_int_eq(limits_apply(&l, LS_GLOBAL, "rpm", "500"), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "5");
	/* A tenant's empty list overrides the plan's: everything allowed again. */
	ck_assert_int_eq(limits_apply(&l, LS_PLAN, "allowed_models", "mock-1"), 1);
	ck_assert_int_eq(limits_list_allows(l.v[LIM_ALLOWED_MODELS].text, "gpt-4o"), 0);
	ck_assert_int_eq(limits_apply(&l, LS_TENANT, "allowed_models", ""), 1);
	ck_assert_int_eq(limits_list_allows(l.v[LIM_ALLOWED_MODELS].text, "gpt-4o"), 1);
	ck_assert_int_eq(l.v[LIM_ALLOWED_MODELS].source, LS_TENANT);
}
END_TEST

/* ------------------------------------------------------------------ with MariaDB */

static void setup(void)
{
	char err[512];

	st = store_open(&g_conf, err, sizeof(err));
	ck_assert_msg(st != NULL, "store_open: %s", err);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
}

static int64_t new_tenant(const char *slug, const char *plan)
{
	int64_t id = 0;

	ck_assert_int_eq(store_tenant_create(st, slug, "Tenant", plan, &id), ST_OK);
	return id;
}

static int64_t new_key(int64_t tenant_id, int seed)
{
	uint8_t h[32];
	int64_t id = 0;

	for (int i = 0; i < 32; i++)
		h[i] = (uint8_t)(seed * 31 + i * 7);
	ck_assert_int_eq(
	    store_key_insert(st, tenant_id, "k", "ah_live_test", h, 0, KEY_SCOPES_DEFAULT, &id),
	    ST_OK);
	return id;
}

static int count_rows(void *ctx, const struct limit_row *r)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static int count_plans(void *ctx, const struct plan *p)
{
	(void)p;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_db_seeds_and_sources)
{
	static struct limits l;
	struct plan p;
	int n = 0;

	ck_assert_int_eq(store_plan_get(st, "free", &p), ST_OK);
	ck_assert_int_eq(store_limits_list(st, "plan", p.id, count_rows, &n), ST_OK);
	ck_assert_int_eq(n, 6);

	int64_t t = new_tenant("lim-a", "free"), t2 = new_tenant("lim-b", "pro");
	int64_t k = new_key(t, 1), k2 = new_key(t2, 2);

	ck_assert_int_eq(limits_resolve(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "60");
	ck_assert_int_eq(l.v[LIM_RPM].source, LS_PLAN);
	ck_assert_int_eq(l.v[LIM_BUDGET_USD_DAILY].num, 5000000);
	ck_assert_str_eq(l.v[LIM_MAX_TOKENS].text, "4096");
	ck_assert_int_eq(l.v[LIM_BUDGET_ENFORCEMENT].source, LS_DEFAULT);
	ck_assert_int_eq(limits_resolve(st, t2, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "600");
	ck_assert_str_eq(l.v[LIM_BUDGET_USD_MONTHLY].text, "3000");

	/* key over tenant over plan over global over default */
	ck_assert_int_eq(store_limit_set(st, "global", 0, "key_rpm", "7", "test"), ST_OK);
	ck_assert_int_eq(store_limit_set(st, "global", 0, "rpm", "1", "test"), ST_OK);
	ck_assert_int_eq(store_limit_set(st, "tenant", t, "rpm", "100", "test"), ST_OK);
	ck_assert_int_eq(store_limit_set(st, "key", k, "key_rpm", "3", "test"), ST_OK);
	ck_assert_int_eq(store_limit_set(st, "key", k2, "key_rpm", "9", "test"), ST_OK);
	ck_assert_int_eq(limits_resolve(st, t, k, &l), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "100");
	ck_assert_int_eq(l.v[LIM_RPM].source, LS_TENANT);
	ck_assert_str_eq(l.v[LIM_KEY_RPM].text, "3");
	ck_assert_int_eq(l.v[LIM_KEY_RPM].source, LS_KEY);
	ck_assert_int_eq(limits_resolve(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_KEY_RPM].text, "7");
	ck_assert_int_eq(l.v[LIM_KEY_RPM].source, LS_GLOBAL);
	/* Another tenant's key never applies. */
	ck_assert_int_eq(limits_resolve(st, t, k2, &l), 0);
	ck_assert_str_eq(l.v[LIM_KEY_RPM].text, "7");
	ck_assert_int_eq(l.v[LIM_KEY_RPM].source, LS_GLOBAL);

	/* Upsert replaces; unset falls back; a second unset is NOTFOUND. */
	ck_assert_int_eq(store_limit_set(st, "tenant", t, "rpm", "200", "test2"), ST_OK);
	ck_assert_int_eq(limits_resolve(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "200");
	ck_assert_int_eq(store_limit_unset(st, "tenant", t, "rpm"), ST_OK);
	ck_assert_int_eq(store_limit_unset(st, "tenant", t, "rpm"), ST_NOTFOUND);
	ck_assert_int_eq(limits_resolve(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "60");
	ck_assert_int_eq(store_limit_unset(st, "global", 0, "rpm"), ST_OK);
	ck_assert_int_eq(store_limit_unset(st, "global", 0, "key_rpm"), ST_OK);
	ck_assert_int_eq(store_limit_set(st, "bogus", 0, "rpm", "1", "x"), ST_ERR);
	ck_assert_int_eq(store_limits_list(st, "bogus", 0, count_rows, &n), ST_ERR);
}
END_TEST

START_TEST(test_db_plans)
{
	struct plan p;
	int64_t id = 0;
	int n = 0;

	ck_assert_int_eq(store_plan_create(st, "lim-plan", "for tests", &id), ST_OK);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(store_plan_create(st, "lim-plan", "", NULL), ST_CONFLICT);
	ck_assert_int_eq(store_plan_get(st, "lim-plan", &p), ST_OK);
	ck_assert_int_eq(p.id, id);
	ck_assert_str_eq(p.description, "for tests");
	ck_assert_int_gt(p.created_at, 0);
	ck_assert_int_eq(store_plan_get(st, "no-such-plan", &p), ST_NOTFOUND);
	ck_assert_int_eq(store_plan_list(st, count_plans, &n), ST_OK);
	ck_assert_int_ge(n, 4);
}
END_TEST

/* Run one statement as the test's admin connection, behind the store's back. */
static void sql_behind(const char *q)
{
	testdb_q64(TEST_DB, "%s", q);
}

START_TEST(test_db_cache_bound)
{
	static struct limits l;
	int64_t t = new_tenant("lim-cache", "free");
	struct plan p;
	char q[256];

	/* Without a watcher's recent poll the cache is not trusted: every read is fresh. */
	cache_distrust();
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_TPM].text, "200000");
	snprintf(q, sizeof(q),
	         "INSERT INTO limits (scope, scope_id, name, value, updated_at) VALUES"
	         " ('tenant', %lld, 'tpm', '7', UTC_TIMESTAMP(6))",
	         (long long)t);
	sql_behind(q);
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_TPM].text, "7");

	/* Trusted: the cached value answers, even over a change made behind our back... */
	cache_trust(util_now_us());
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_TPM].text, "7");
	snprintf(q, sizeof(q),
	         "UPDATE limits SET value = '8' WHERE scope = 'tenant' AND scope_id = %lld"
	         " AND name = 'tpm'",
	         (long long)t);
	sql_behind(q);
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_TPM].text, "7");
	/* ...an edit through the store drops it at once... */
	ck_assert_int_eq(store_limit_set(st, "tenant", t, "tpm", "123", "test"), ST_OK);
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_TPM].text, "123");
	ck_assert_int_eq(l.v[LIM_TPM].source, LS_TENANT);
	/* ...and so does a plan-scope edit, for every tenant of every plan. */
	ck_assert_int_eq(store_plan_get(st, "free", &p), ST_OK);
	ck_assert_int_eq(store_limit_set(st, "plan", p.id, "rpm", "61", "test"), ST_OK);
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "61");
	ck_assert_int_eq(store_limit_set(st, "plan", p.id, "rpm", "60", "test"), ST_OK);
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_RPM].text, "60");
	/* Once trust lapses (no poll for CACHE_TRUST_US) the database answers again. */
	sql_behind(q);
	cache_trust(util_now_us() - CACHE_TRUST_US - 1);
	ck_assert_int_eq(limits_get(st, t, 0, &l), 0);
	ck_assert_str_eq(l.v[LIM_TPM].text, "8");
	/* Many (tenant, key) pairs at once: every answer is still the right one. */
	cache_trust(util_now_us());
	for (int64_t k = 1; k <= 40; k++) {
		ck_assert_int_eq(limits_get(st, t, k, &l), 0);
		ck_assert_int_eq(l.key_id, k);
		ck_assert_str_eq(l.v[LIM_TPM].text, "8");
	}
	cache_distrust();
}
END_TEST

/* Recreate the test database and migrate it; 0 or -1. */
static Suite *limits_suite(int with_db)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, test_defs);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_usd);
	tcase_add_test(tc, test_enum);
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_cidrs);
	tcase_add_test(tc, test_precedence);
	suite_add_tcase(s, tc);
	if (with_db) {
		tc = tcase_create("mariadb");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, test_db_seeds_and_sources);
		tcase_add_test(tc, test_db_plans);
		tcase_add_test(tc, test_db_cache_bound);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	int with_db, rc;

	/* Ignored rows are logged as warnings by design; the tests provoke them on purpose. */
	log_set_level(LOG_ERROR);
	with_db = testdb_start("test_limits") == 0;
	if (mysql_library_init(0, NULL, NULL)) {
		fprintf(stderr, "mysql_library_init failed\n");
		return 1;
	}
	if (with_db && (testdb_conf(&g_conf, TEST_DB) < 0 || testdb_prepare(&g_conf) < 0)) {
		mysql_library_end();
		return 1;
	}
	rc = testdb_run(limits_suite(with_db));
	mysql_library_end();
	return rc;
}
