/*
 * usage.c: GET /v1/usage (the caller's usage report) and GET /v1/budget
 * (limits, spend, reservations and what is left, per window).
 *
 * DESIGN
 * /v1/usage reads the daily rollup through the store (one query per
 * report) for the identified tenant only: the tenant comes from the key,
 * never from a parameter. Rollup days are UTC days (the rollup is written
 * with the database's UTC date), so the default range "this month up to
 * today" is computed in UTC too. The totals are the sums of the rows sent,
 * so the two always agree. The operator API serves the same report for any
 * tenant by calling api_usage_get with that tenant's identity
 * (admin_usage.c).
 *
 * /v1/budget reads the same counter rows admission books (tenant scope,
 * budget calendar in conf budget_timezone), so what it shows is exactly
 * what the next admission will be checked against. Global budgets are not
 * shown to tenants. Reading is not locking: under concurrent traffic the
 * numbers are a snapshot that may be stale by the time they arrive.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "common/conf.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "enforce/admit.h"
#include "enforce/limits.h"
#include "exec/execute.h"
#include "host/http.h"
#include "store/admission.h"
#include "store/usage.h"
#include "tenancy/identify.h"

#define USAGE_MAX_DAYS 366

/* ------------------------------------------------------------------ /v1/usage */

/* Accumulates the report's rows and totals. */
struct usage_ctx {
	const char *group_by; /* "day" | "model" | "agent" | "key" | "end_user" */
	json_t *data;         /* array of row objects */
	struct usage_row total;
	int failed; /* 1 when a row could not be built (out of memory) */
};

/* The number fields of a row or of the total (new reference, NULL when out of memory). */
static json_t *usage_numbers(const struct usage_row *u)
{
	char cost[32];

	exec_format_usd(u->cost_micros, cost, sizeof(cost));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "requests", (json_int_t)u->requests,
	                 "errors", (json_int_t)u->errors, "prompt_tokens",
	                 (json_int_t)u->prompt_tokens, "completion_tokens",
	                 (json_int_t)u->completion_tokens, "total_tokens",
	                 (json_int_t)(u->prompt_tokens + u->completion_tokens), "cost_usd", cost,
	                 "cache_hits", (json_int_t)u->cache_hits);
}

/*
 * The group value of a row: the day, model or name as text; agents and keys
 * also carry their id. Chat calls have no agent (agent_id 0): null. 0, -1
 * when out of memory.
 */
static int usage_set_group(json_t *o, const char *group_by, const struct usage_row *u)
{
	int agent = strcmp(group_by, "agent") == 0, key = strcmp(group_by, "key") == 0;
	json_t *v;

	if ((agent || key) && u->group_id == 0)
		v = json_null();
	else
		v = json_string(u->group);
	if (v == NULL || json_object_set_new(o, group_by, v) < 0)
		return -1;
	if (agent || key) {
		v = u->group_id ? json_integer(u->group_id) : json_null();
		if (v == NULL || json_object_set_new(o, agent ? "agent_id" : "key_id", v) < 0)
			return -1;
	}
	return 0;
}

/* store_usage_report callback: append one row, add it to the total. */
static int usage_collect(void *ctx, const struct usage_row *u)
{
	struct usage_ctx *uc = ctx;
	json_t *o = usage_numbers(u);

	if (o == NULL || usage_set_group(o, uc->group_by, u) < 0 ||
	    json_array_append_new(uc->data, o) < 0) {
		uc->failed = 1;
		return 1;
	}
	uc->total.requests += u->requests;
	uc->total.errors += u->errors;
	uc->total.prompt_tokens += u->prompt_tokens;
	uc->total.completion_tokens += u->completion_tokens;
	uc->total.cost_micros += u->cost_micros;
	uc->total.cache_hits += u->cache_hits;
	return 0;
}

/*
 * Parse a strict "YYYY-MM-DD" that names a real calendar day into *t
 * (00:00 UTC of that day). 0, or -1.
 */
static int usage_parse_day(const char *s, int64_t *t)
{
	struct tm tm;
	time_t v;
	int y, mo, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = atoi(s);
	mo = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	v = timegm(&tm);
	/* timegm normalises 2026-02-30 to March: a changed field means no such day. */
	if (v == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*t = (int64_t)v;
	return 0;
}

/* Format UTC day of t as "YYYY-MM-DD" (first_of_month: that month's first day). */
static void usage_utc_day(int64_t t, int first_of_month, char out[11])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (first_of_month)
		tm.tm_mday = 1;
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * Read one day parameter (or its default) into out. 0, or -1 after sending
 * 400 invalid_request naming the parameter.
 */
static int usage_day_param(struct req *r, const char *name, const char *def, char out[11],
                           int64_t *t)
{
	char v[16];
	int rc = req_query(r, name, v, sizeof(v));

	if (rc == 0)
		util_strlcpy(v, def, sizeof(v));
	if (rc < 0 || usage_parse_day(v, t) < 0) {
		resp_error(r, R_invalid_request, "'%s' must be a calendar day as YYYY-MM-DD", name);
		return -1;
	}
	util_strlcpy(out, v, 11);
	return 0;
}

void api_usage_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	static const char *const groups[] = {"day", "model", "agent", "key", "end_user"};
	char start[11], end[11], dstart[11], dend[11], group[16];
	struct usage_ctx uc;
	int64_t ts, te, now = util_unix_time();
	json_t *total, *body;
	size_t i;
	int rc;

	(void)m;
	memset(&uc, 0, sizeof(uc));
	usage_utc_day(now, 1, dstart);
	usage_utc_day(now, 0, dend);
	if (usage_day_param(r, "start", dstart, start, &ts) < 0 ||
	    usage_day_param(r, "end", dend, end, &te) < 0)
		return;
	if (te < ts) {
		resp_error(r, R_invalid_request, "'end' must not be before 'start'");
		return;
	}
	if ((te - ts) / 86400 + 1 > USAGE_MAX_DAYS) {
		resp_error(r, R_invalid_request, "'start' to 'end' may span at most %d days",
		           USAGE_MAX_DAYS);
		return;
	}
	rc = req_query(r, "group_by", group, sizeof(group));
	if (rc == 0)
		util_strlcpy(group, "day", sizeof(group));
	for (i = 0; rc >= 0 && i < ARRAY_SIZE(groups); i++)
		if (strcmp(group, groups[i]) == 0)
			break;
	if (rc < 0 || i == ARRAY_SIZE(groups)) {
		resp_error(r, R_invalid_request,
		           "'group_by' must be day, model, agent, key or end_user");
		return;
	}
	uc.group_by = groups[i];
	uc.data = json_array();
	if (uc.data == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	rc = store_usage_report(r->store, id->tenant_id, start, end, uc.group_by, usage_collect,
	                        &uc);
	if (rc != ST_OK || uc.failed) {
		json_decref(uc.data);
		if (uc.failed)
			resp_error(r, R_server_busy, "out of memory");
		else
			resp_error(r, R_database_unavailable,
			           "the usage store is unavailable; retry shortly");
		return;
	}
	total = usage_numbers(&uc.total);
	body = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:o}", "object", "usage", "tenant_id",
	                 (json_int_t)id->tenant_id, "tenant", id->tenant_slug, "start", start,
	                 "end", end, "group_by", uc.group_by, "data", uc.data, "total", total);
	if (body == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	resp_json(r, 200, body);
}

/* ------------------------------------------------------------------ /v1/budget */

/* A limit's number as JSON: null when unlimited (0), else USD text or an integer. */
static json_t *budget_limit_json(int64_t v, int usd)
{
	char s[32];

	if (v <= 0)
		return json_null();
	if (!usd)
		return json_integer(v);
	exec_format_usd(v, s, sizeof(s));
	return json_string(s);
}

/*
 * What is left of limit after spent and reserved by calls under way, floored
 * at 0; null when unlimited. What leases hold is not taken off: it is this
 * tenant's to use (its next calls are admitted on it).
 */
static json_t *budget_remaining_json(int64_t limit, int64_t spent, int64_t reserved, int usd)
{
	int64_t left = limit - spent - reserved;
	char s[32];

	if (limit <= 0)
		return json_null();
	if (left < 0)
		left = 0;
	if (!usd)
		return json_integer(left);
	exec_format_usd(left, s, sizeof(s));
	return json_string(s);
}

/*
 * One budget (usd or tokens) of one window, from its limit value v (with
 * its source), the enforcement in force and the counter row.
 */
static json_t *budget_entry(const struct limit_value *v, const char *enforcement,
                            const struct adm_counter *c, int usd)
{
	int64_t limit = v->num;
	int64_t spent = usd ? c->spent_micros : c->spent_tokens;
	int64_t reserved = usd ? c->reserved_micros : c->reserved_tokens;
	int64_t leased = usd ? c->leased_micros : c->leased_tokens;
	char s1[32], s2[32], s3[32];

	if (usd) {
		exec_format_usd(spent, s1, sizeof(s1));
		exec_format_usd(reserved, s2, sizeof(s2));
		exec_format_usd(leased, s3, sizeof(s3));
		return json_pack("{s:o, s:s, s:s, s:s, s:o, s:s, s:s}", "limit",
		                 budget_limit_json(limit, 1), "spent", s1, "reserved", s2, "leased",
		                 s3, "remaining", budget_remaining_json(limit, spent, reserved, 1),
		                 "enforcement", enforcement, "source", limit_scope_name(v->source));
	}
	return json_pack("{s:o, s:I, s:I, s:I, s:o, s:s, s:s}", "limit",
	                 budget_limit_json(limit, 0), "spent", (json_int_t)spent, "reserved",
	                 (json_int_t)reserved, "leased", (json_int_t)leased, "remaining",
	                 budget_remaining_json(limit, spent, reserved, 0), "enforcement",
	                 enforcement, "source", limit_scope_name(v->source));
}

/* Start of the budget-calendar window (ADM_DAY or ADM_MONTH) that contains t. */
static int64_t budget_period_start(int64_t t, int window)
{
	time_t tt = (time_t)t, v;
	struct tm tm;

	localtime_r(&tt, &tm);
	if (window == ADM_MONTH)
		tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	v = mktime(&tm);
	return v == (time_t)-1 ? t : (int64_t)v;
}

/*
 * The tenant's tags with budgets in one window: [{"tag","tag_id","usd","tokens"}]
 * from each tag's counter row. NULL with *db_failed set when a counter
 * cannot be read; NULL alone when out of memory.
 */
static json_t *budget_tags(struct store *st, const struct limits *l, int window, const char *period,
                           int *db_failed)
{
	int day = window == ADM_DAY;
	json_t *arr = json_array();

	for (int i = 0; arr != NULL && i < l->ntags; i++) {
		const struct limit_tag *g = &l->tags[i];
		int ui = day ? LV_BUDGET_USD_DAILY : LV_BUDGET_USD_MONTHLY;
		int ti = day ? LV_BUDGET_TOKENS_DAILY : LV_BUDGET_TOKENS_MONTHLY;
		const char *enf = limits_tag_hard(l, g) ? "hard" : "soft";
		struct limit_value uv, tv;
		struct adm_counter c;
		char name[200];

		memset(&c, 0, sizeof(c));
		c.scope = ADM_TAG;
		c.scope_id = g->id;
		c.window = window;
		util_strlcpy(c.period, period, sizeof(c.period));
		if (store_admit_counter_get(st, &c) != ST_OK) {
			*db_failed = 1;
			json_decref(arr);
			return NULL;
		}
		uv.num = g->num[ui];
		uv.source = g->set[ui] ? LS_TAG : LS_DEFAULT;
		tv.num = g->num[ti];
		tv.source = g->set[ti] ? LS_TAG : LS_DEFAULT;
		uv.text[0] = tv.text[0] = '\0';
		snprintf(name, sizeof(name), "%s=%s", g->key, g->value);
		if (json_array_append_new(arr, json_pack("{s:s, s:I, s:o, s:o}", "tag", name,
		                                         "tag_id", (json_int_t)g->id, "usd",
		                                         budget_entry(&uv, enf, &c, 1), "tokens",
		                                         budget_entry(&tv, enf, &c, 0))) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/*
 * The end user the request names (X-Actor-Id) in one window, against the
 * tenant's end-user budgets: {"end_user","usd","tokens"}; JSON null when it
 * names none. NULL with *db_failed set when the counter cannot be read.
 */
static json_t *budget_end_user(struct store *st, const struct limits *l, int64_t tenant_id,
                               const char *end_user, int window, const char *period, int *db_failed)
{
	int day = window == ADM_DAY;
	const char *enf = l->v[LIM_BUDGET_ENFORCEMENT].text;
	struct adm_counter c;

	if (end_user == NULL || end_user[0] == '\0')
		return json_null();
	memset(&c, 0, sizeof(c));
	c.scope = ADM_END_USER;
	c.scope_id = secrets_end_user_id(tenant_id, end_user);
	c.window = window;
	util_strlcpy(c.period, period, sizeof(c.period));
	if (c.scope_id != 0 && store_admit_counter_get(st, &c) != ST_OK) {
		*db_failed = 1;
		return NULL;
	}
	return json_pack(
	    "{s:s, s:o, s:o}", "end_user", end_user, "usd",
	    budget_entry(
	        &l->v[day ? LIM_END_USER_BUDGET_USD_DAILY : LIM_END_USER_BUDGET_USD_MONTHLY], enf,
	        &c, 1),
	    "tokens",
	    budget_entry(
	        &l->v[day ? LIM_END_USER_BUDGET_TOKENS_DAILY : LIM_END_USER_BUDGET_TOKENS_MONTHLY],
	        enf, &c, 0));
}

/*
 * One window (day or month): its period, start and reset time, and the usd
 * and tokens budgets. NULL with *db_failed set when the counter cannot be
 * read; NULL alone when out of memory.
 */
static json_t *budget_window(struct store *st, const struct limits *l, int64_t tenant_id,
                             int64_t key_id, const char *end_user, int window, const char *period,
                             int64_t now, int *db_failed)
{
	int day = window == ADM_DAY;
	const struct limit_value *ku = &l->key[day ? LV_BUDGET_USD_DAILY : LV_BUDGET_USD_MONTHLY];
	const struct limit_value *kt =
	    &l->key[day ? LV_BUDGET_TOKENS_DAILY : LV_BUDGET_TOKENS_MONTHLY];
	const char *tenf = l->v[LIM_BUDGET_ENFORCEMENT].text;
	const char *kenf = limits_key_hard(l) ? "hard" : "soft";
	const struct limit_value *pu =
	    &l->project[day ? LV_BUDGET_USD_DAILY : LV_BUDGET_USD_MONTHLY];
	const struct limit_value *pt =
	    &l->project[day ? LV_BUDGET_TOKENS_DAILY : LV_BUDGET_TOKENS_MONTHLY];
	const char *penf = limits_project_hard(l) ? "hard" : "soft";
	struct adm_counter c, kc, pc;
	json_t *proj, *tags, *eu;
	char start[32], reset[32];

	memset(&c, 0, sizeof(c));
	c.scope = ADM_TENANT;
	c.scope_id = tenant_id;
	c.window = window;
	util_strlcpy(c.period, period, sizeof(c.period));
	kc = c;
	kc.scope = ADM_KEY;
	kc.scope_id = key_id;
	pc = c;
	pc.scope = ADM_PROJECT;
	pc.scope_id = l->project_id;
	if (store_admit_counter_get(st, &c) != ST_OK ||
	    (key_id != 0 && store_admit_counter_get(st, &kc) != ST_OK) ||
	    (l->project_id != 0 && store_admit_counter_get(st, &pc) != ST_OK)) {
		*db_failed = 1;
		return NULL;
	}
	/* The key's project, a level between the tenant and the key (null: in none). */
	proj = l->project_id == 0
	           ? json_null()
	           : json_pack("{s:I, s:o, s:o}", "project_id", (json_int_t)l->project_id, "usd",
	                       budget_entry(pu, penf, &pc, 1), "tokens",
	                       budget_entry(pt, penf, &pc, 0));
	tags = budget_tags(st, l, window, period, db_failed);
	if (tags == NULL) {
		json_decref(proj);
		return NULL;
	}
	eu = budget_end_user(st, l, tenant_id, end_user, window, period, db_failed);
	if (eu == NULL) {
		json_decref(proj);
		json_decref(tags);
		return NULL;
	}
	util_iso8601(budget_period_start(now, window), start, sizeof(start));
	util_iso8601(now + admit_seconds_left(now, window), reset, sizeof(reset));
	/* Every level: the tenant's, its tags', the end user's, the key's project's and the key's.
	 */
	return json_pack(
	    "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:o, s:o}}", "period", period,
	    "period_start", start, "resets_at", reset, "project", proj, "tags", tags, "end_user",
	    eu, "usd",
	    budget_entry(&l->v[day ? LIM_BUDGET_USD_DAILY : LIM_BUDGET_USD_MONTHLY], tenf, &c, 1),
	    "tokens",
	    budget_entry(&l->v[day ? LIM_BUDGET_TOKENS_DAILY : LIM_BUDGET_TOKENS_MONTHLY], tenf, &c,
	                 0),
	    "key", "key_id", (json_int_t)key_id, "usd", budget_entry(ku, kenf, &kc, 1), "tokens",
	    budget_entry(kt, kenf, &kc, 0));
}

/*
 * The current minute's rate windows of one scope (tenant or key): requests
 * and tokens used against rpm/tpm. Counters are booked only while a rate
 * limit applies, so "used" reads 0 when both are unlimited.
 */
static json_t *budget_rates(struct store *st, const struct limits *l, int scope, int64_t scope_id,
                            const char *minute, const char *reset, int *db_failed)
{
	const struct limit_value *rv = scope == ADM_KEY       ? &l->v[LIM_KEY_RPM]
	                               : scope == ADM_PROJECT ? &l->project[LV_RPM]
	                                                      : &l->v[LIM_RPM];
	const struct limit_value *tv = scope == ADM_KEY       ? &l->v[LIM_KEY_TPM]
	                               : scope == ADM_PROJECT ? &l->project[LV_TPM]
	                                                      : &l->v[LIM_TPM];
	struct adm_counter c;

	memset(&c, 0, sizeof(c));
	c.scope = scope;
	c.scope_id = scope_id;
	c.window = ADM_MINUTE;
	util_strlcpy(c.period, minute, sizeof(c.period));
	if (scope_id != 0 && store_admit_counter_get(st, &c) != ST_OK) {
		*db_failed = 1;
		return NULL;
	}
	return json_pack(
	    "{s:{s:o, s:I, s:I, s:o, s:s, s:s}, s:{s:o, s:I, s:I, s:I, s:o, s:s, s:s}}", "rpm",
	    "limit", budget_limit_json(rv->num, 0), "used", (json_int_t)c.requests, "leased",
	    (json_int_t)c.leased_requests, "remaining",
	    budget_remaining_json(rv->num, c.requests, 0, 0), "resets_at", reset, "source",
	    limit_scope_name(rv->source), "tpm", "limit", budget_limit_json(tv->num, 0), "used",
	    (json_int_t)c.spent_tokens, "reserved", (json_int_t)c.reserved_tokens, "leased",
	    (json_int_t)c.leased_tokens, "remaining",
	    budget_remaining_json(tv->num, c.spent_tokens, c.reserved_tokens, 0), "resets_at",
	    reset, "source", limit_scope_name(tv->source));
}

/* Requests in flight for the tenant and the key, against their concurrency limits. */
static json_t *budget_concurrency(struct store *st, const struct limits *l, int64_t tenant_id,
                                  int64_t key_id, int *db_failed)
{
	int64_t inflight = 0, leased = 0, open = 0;
	struct adm_counter c;

	memset(&c, 0, sizeof(c));
	c.scope = ADM_KEY;
	c.scope_id = key_id;
	c.window = ADM_INFLIGHT;
	if (store_admit_inflight(st, tenant_id, &inflight, &leased, &open) != ST_OK ||
	    (key_id != 0 && store_admit_counter_get(st, &c) != ST_OK)) {
		*db_failed = 1;
		return NULL;
	}
	return json_pack("{s:I, s:I, s:o, s:s, s:I, s:{s:I, s:I, s:o, s:s}}", "in_flight",
	                 (json_int_t)inflight, "leased", (json_int_t)leased, "limit",
	                 budget_limit_json(l->v[LIM_CONCURRENCY].num, 0), "source",
	                 limit_scope_name(l->v[LIM_CONCURRENCY].source), "open_reservations",
	                 (json_int_t)open, "key", "in_flight", (json_int_t)c.requests, "leased",
	                 (json_int_t)c.leased_requests, "limit",
	                 budget_limit_json(l->v[LIM_KEY_CONCURRENCY].num, 0), "source",
	                 limit_scope_name(l->v[LIM_KEY_CONCURRENCY].source));
}

void api_budget_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	char minute[20], day[20], month[20], reset[32];
	struct limits *own = NULL;
	const struct limits *l = id->lim;
	json_t *dw = NULL, *mw = NULL, *rates = NULL, *krates = NULL, *prates = NULL, *conc = NULL,
	       *body;
	int64_t now = util_unix_time();
	int db_failed = 0;

	(void)m;
	if (l == NULL) {
		/* Enforcement is off: still show the limits as they would apply. */
		own = malloc(sizeof(*own));
		if (own == NULL) {
			resp_error(r, R_server_busy, "out of memory");
			return;
		}
		if (limits_resolve(r->store, id->tenant_id, id->key_id, own) != 0) {
			db_failed = 1;
			goto out;
		}
		l = own;
	}
	admit_periods(now, minute, day, month);
	util_iso8601(now + admit_seconds_left(now, ADM_MINUTE), reset, sizeof(reset));
	dw = budget_window(r->store, l, id->tenant_id, id->key_id, r->end_user, ADM_DAY, day, now,
	                   &db_failed);
	if (dw)
		mw = budget_window(r->store, l, id->tenant_id, id->key_id, r->end_user, ADM_MONTH,
		                   month, now, &db_failed);
	if (mw)
		rates =
		    budget_rates(r->store, l, ADM_TENANT, id->tenant_id, minute, reset, &db_failed);
	if (rates)
		krates = budget_rates(r->store, l, ADM_KEY, id->key_id, minute, reset, &db_failed);
	if (krates)
		prates = l->project_id == 0 ? json_null()
		                            : budget_rates(r->store, l, ADM_PROJECT, l->project_id,
		                                           minute, reset, &db_failed);
	if (prates)
		conc = budget_concurrency(r->store, l, id->tenant_id, id->key_id, &db_failed);
	if (conc == NULL)
		goto out;
	body =
	    json_pack("{s:s, s:I, s:s, s:s, s:b, s:s, s:{s:o, s:o}, s:{s:o, s:o, s:o}, s:o}",
	              "object", "budget", "tenant_id", (json_int_t)id->tenant_id, "timezone",
	              r->conf->budget_timezone[0] ? r->conf->budget_timezone : "UTC", "enforcement",
	              l->v[LIM_BUDGET_ENFORCEMENT].text, "enforced", r->conf->enforcement,
	              "enforcement_source", limit_scope_name(l->v[LIM_BUDGET_ENFORCEMENT].source),
	              "budgets", "day", dw, "month", mw, "rate_limits", "tenant", rates, "key",
	              krates, "project", prates, "concurrency", conc);
	dw = mw = rates = krates = prates = conc = NULL;
	if (body == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		goto done;
	}
	resp_json(r, 200, body);
	goto done;
out:
	if (db_failed)
		resp_error(r, R_database_unavailable,
		           "the budget store is unavailable; retry shortly");
	else
		resp_error(r, R_server_busy, "out of memory");
done:
	json_decref(dw);
	json_decref(mw);
	json_decref(rates);
	json_decref(krates);
	json_decref(prates);
	json_decref(conc);
	free(own);
}
