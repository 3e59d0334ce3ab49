/*
 * page_budgets.c: a tenant's effective limits with their sources, its
 * budget windows (spent / reserved / remaining), and the form that sets the
 * tenant-scope budget limits.
 *
 * DESIGN
 * Limits come from limits_resolve (no cache) so the page says exactly what
 * admission applies and why (key > tenant > plan > global > default).
 * Spent and reserved come from the tenant's budget_counters rows of the
 * current day and month, keyed by admit_periods like admission keys them.
 * The form edits the five tenant-scope budget limits, the four budgets
 * of each end user (end_user_budget_*) and the alert percents (the
 * tenant's, and its end users' when they differ): an empty field unsets
 * the tenant's value (back to the plan's), a field not sent is left alone,
 * and values go through limit_validate.
 * A tenant_admin may not go above what its plan allows: the plan's value
 * (plan over global over default, built like `agenthostctl limits show
 * --plan`); an operator may set anything. Each change is one audit row
 * (limit.set / limit.unset, target as the CLI writes it).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "enforce/admit.h"
#include "enforce/limits.h"
#include "enforce/limits_rows.h"
#include "host/http.h"
#include "store/dash_tenants.h"
#include "store/limits.h"
#include "store/store.h"

/* The limits the form edits, in form order. */
static const int budget_fields[] = {LIM_BUDGET_USD_DAILY,
                                    LIM_BUDGET_USD_MONTHLY,
                                    LIM_BUDGET_TOKENS_DAILY,
                                    LIM_BUDGET_TOKENS_MONTHLY,
                                    LIM_BUDGET_ENFORCEMENT,
                                    LIM_END_USER_BUDGET_USD_DAILY,
                                    LIM_END_USER_BUDGET_USD_MONTHLY,
                                    LIM_END_USER_BUDGET_TOKENS_DAILY,
                                    LIM_END_USER_BUDGET_TOKENS_MONTHLY,
                                    LIM_ALERT_THRESHOLDS,
                                    LIM_END_USER_ALERT_THRESHOLDS};
#define BUDGET_NFIELDS (sizeof(budget_fields) / sizeof(budget_fields[0]))

static int budget_apply(void *ctx, const struct limit_row *row)
{
	struct limits *l = ctx;
	int s = limit_scope_by_name(row->scope);

	if (s >= 0)
		limits_apply(l, (enum limit_scope)s, row->name, row->value);
	return 0;
}

/* What t's plan allows: plan rows over global rows over defaults. 0, or -1 on a store error. */
static int budget_plan_limits(struct req *r, const struct tenant *t, struct limits *pl)
{
	struct plan p;

	limits_init(pl, 0, 0);
	if (store_limits_list(r->store, "global", 0, budget_apply, pl) != ST_OK ||
	    store_plan_get(r->store, t->plan, &p) != ST_OK ||
	    store_limits_list(r->store, "plan", p.id, budget_apply, pl) != ST_OK)
		return -1;
	return 0;
}

struct budget_rows {
	char value[BUDGET_NFIELDS][STORE_LIMIT_VALUE_MAX + 1];
};

static int budget_tenant_row(void *ctx, const struct limit_row *row)
{
	struct budget_rows *b = ctx;

	for (size_t i = 0; i < BUDGET_NFIELDS; i++)
		if (strcmp(row->name, limit_defs()[budget_fields[i]].name) == 0)
			util_strlcpy(b->value[i], row->value, sizeof(b->value[i]));
	return 0;
}

/* An amount of a window: money or a count. */
static void budget_amount(struct page *p, const char *name, int usd, int64_t v)
{
	if (usd)
		page_set_money(p, name, v);
	else
		page_set_count(p, name, v);
}

/* One budget window (USD or tokens) as Windows.<name>.*. */
static void budget_window(struct page *p, const char *name, const char *label, int usd,
                          int64_t limit, int64_t spent, int64_t reserved)
{
	char node[48];
	int64_t left = limit - spent - reserved;

	snprintf(node, sizeof(node), "Windows.%s", name);
	page_at(p, node);
	page_set(p, ".Label", label);
	budget_amount(p, ".Spent", usd, spent);
	budget_amount(p, ".Reserved", usd, reserved);
	page_set_i64(p, ".HasLimit", limit > 0);
	if (limit > 0) {
		budget_amount(p, ".Limit", usd, limit);
		budget_amount(p, ".Remaining", usd, left > 0 ? left : 0);
		page_set_pct(p, ".Pct", spent + reserved, limit);
	}
}

/* The page; err and typed (BUDGET_NFIELDS values) when the form failed. */
static void budget_render(struct req *r, int status, const struct tenant *t, const char *err,
                          char typed[][STORE_LIMIT_VALUE_MAX + 1])
{
	const struct limit_def *defs = limit_defs();
	struct page *p = page_new(r, "Budgets", "budgets");
	/* two struct limits (~57 KB each) are too big for a request's stack: on the heap */
	struct limits *lp = malloc(2 * sizeof(*lp)), *l = lp, *pl = lp ? lp + 1 : NULL;
	struct budget_rows tr;
	struct dasht_counter day, month;
	char minute[20], dayp[20], monthp[20], done[16];

	memset(&tr, 0, sizeof(tr));
	admit_periods(util_unix_time(), minute, dayp, monthp);
	if (lp == NULL || limits_resolve(r->store, t->id, 0, l) != 0 ||
	    budget_plan_limits(r, t, pl) != 0)
		page_unavailable(p);
	else if (page_store(p, store_limits_list(r->store, "tenant", t->id, budget_tenant_row, &tr),
	                    NULL))
		page_store(p, store_dasht_counters(r->store, t->id, dayp, monthp, &day, &month),
		           NULL);
	if (page_failed(p)) { /* its error page: l, pl, day and month are not filled */
		free(lp);
		page_finish(p, status, "budgets.cs");
		return;
	}

	for (int i = 0; i < LIM__MAX; i++) {
		if (!(defs[i].scopes & (LSB(LS_PLAN) | LSB(LS_TENANT) | LSB(LS_KEY))))
			continue; /* global-only limits are not the tenant's */
		page_row(p, "Limits");
		page_set(p, ".Name", defs[i].name);
		page_set(p, ".Value", l->v[i].text);
		page_set_i64(
		    p, ".Unlimited",
		    l->v[i].text[0] == '\0' ||
		        ((defs[i].type == LT_COUNT || defs[i].type == LT_USD) && l->v[i].num == 0));
		page_set(p, ".Source", limit_scope_name(l->v[i].source));
		page_set(p, ".Help", defs[i].help);
	}
	for (size_t i = 0; i < BUDGET_NFIELDS; i++) {
		int id = budget_fields[i];

		page_row(p, "Form");
		page_set(p, ".Name", defs[id].name);
		page_set(p, ".Help", defs[id].help);
		page_set(p, ".Value", typed ? typed[i] : tr.value[i]);
		page_set(p, ".PlanValue", pl->v[id].text);
		page_set_i64(p, ".IsEnum", defs[id].type == LT_ENUM);
		page_set_i64(p, ".IsList", defs[id].type == LT_LIST);
	}
	budget_window(p, "UsdDay", "USD today", 1, l->v[LIM_BUDGET_USD_DAILY].num, day.spent_micros,
	              day.reserved_micros);
	budget_window(p, "UsdMonth", "USD this month", 1, l->v[LIM_BUDGET_USD_MONTHLY].num,
	              month.spent_micros, month.reserved_micros);
	budget_window(p, "TokDay", "Tokens today", 0, l->v[LIM_BUDGET_TOKENS_DAILY].num,
	              day.spent_tokens, day.reserved_tokens);
	budget_window(p, "TokMonth", "Tokens this month", 0, l->v[LIM_BUDGET_TOKENS_MONTHLY].num,
	              month.spent_tokens, month.reserved_tokens);
	if (dash_query(r, "done", done, sizeof(done)) == 1 && strcmp(done, "saved") == 0)
		page_set(p, "Flash", "Budgets saved; admission applies them within a second.");
	page_set_tenant(p, t);
	page_set(p, "Period.Day", dayp);
	page_set(p, "Period.Month", monthp);
	page_set(p, "Enforcement", l->v[LIM_BUDGET_ENFORCEMENT].text);
	free(lp);
	if (err)
		page_set(p, "FormError", err);
	page_finish(p, status, "budgets.cs");
}

PAGE_FN(page_budgets)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	budget_render(r, 200, &t, NULL, NULL);
}

/* 1 when value (normalised, of limit id) is within what the plan allows. */
static int budget_within_plan(const struct limits *pl, int id, const char *value)
{
	struct limits *nv;
	int ok;

	if (limit_defs()[id].type == LT_ENUM) /* budget_enforcement: soft only where the plan is */
		return strcmp(value, "hard") == 0 || strcmp(pl->v[id].text, value) == 0;
	if (pl->v[id].num == 0)
		return 1;                       /* the plan sets no limit */
	if ((nv = malloc(sizeof(*nv))) == NULL) /* too big for a request's stack */
		return 0;
	limits_init(nv, 0, 0);
	ok = limits_apply(nv, LS_TENANT, limit_defs()[id].name, value) == 1 && nv->v[id].num > 0 &&
	     nv->v[id].num <= pl->v[id].num;
	free(nv);
	return ok;
}

PAGE_FN(page_budgets_set)
{
	const struct limit_def *defs = limit_defs();
	const struct admin_session *s = dash_session();
	char typed[BUDGET_NFIELDS][STORE_LIMIT_VALUE_MAX + 1];
	char norm[BUDGET_NFIELDS][STORE_LIMIT_VALUE_MAX + 1];
	char err[300], msg[400], target[128], path[96];
	struct budget_rows tr;
	struct limits *pl = NULL; /* ~57 KB: on the heap, not the request's stack */
	struct tenant t;
	int absent[BUDGET_NFIELDS];

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	memset(&tr, 0, sizeof(tr));
	if ((pl = malloc(sizeof(*pl))) == NULL || budget_plan_limits(r, &t, pl) != 0 ||
	    store_limits_list(r->store, "tenant", t.id, budget_tenant_row, &tr) != ST_OK) {
		dash_unavailable(r);
		goto out;
	}
	for (size_t i = 0; i < BUDGET_NFIELDS; i++) {
		int f = dash_form(r, defs[budget_fields[i]].name, typed[i], sizeof(typed[i]));

		absent[i] = f == 0; /* a field not sent leaves its limit as it is */
		if (f != 1)
			typed[i][0] = '\0';
		if (f < 0) {
			snprintf(msg, sizeof(msg), "%s: the value is too long.",
			         defs[budget_fields[i]].name);
			budget_render(r, 400, &t, msg, typed);
			goto out;
		}
	}
	for (size_t i = 0; i < BUDGET_NFIELDS; i++) {
		int lid = budget_fields[i];

		if (absent[i]) {
			util_strlcpy(norm[i], tr.value[i], sizeof(norm[i]));
			continue;
		}
		norm[i][0] = '\0';
		if (typed[i][0] == '\0')
			continue;
		if (limit_validate(lid, typed[i], norm[i], sizeof(norm[i]), err, sizeof(err)) !=
		    0) {
			budget_render(r, 400, &t, err, typed);
			goto out;
		}
		if (!dash_is_operator() && !budget_within_plan(pl, lid, norm[i])) {
			snprintf(msg, sizeof(msg),
			         "%s: your plan allows at most %s; ask an operator for more.",
			         defs[lid].name,
			         pl->v[lid].text[0] ? pl->v[lid].text : "the plan's value");
			budget_render(r, 400, &t, msg, typed);
			goto out;
		}
	}
	for (size_t i = 0; i < BUDGET_NFIELDS; i++) {
		const char *name = defs[budget_fields[i]].name;
		int rc;

		if (strcmp(norm[i], tr.value[i]) == 0)
			continue; /* unchanged */
		snprintf(target, sizeof(target), "limit:tenant:%" PRId64 ":%s", t.id, name);
		if (norm[i][0] == '\0') {
			rc = store_limit_unset(r->store, "tenant", t.id, name);
			if (rc != ST_OK && rc != ST_NOTFOUND) {
				dash_unavailable(r);
				goto out;
			}
			dash_audit(r, t.id, "limit.unset", target, "ok", NULL);
		} else {
			char who[101];

			snprintf(who, sizeof(who), "admin:%s", s ? s->user.name : "");
			if (!dash_store_ok(
			        r, store_limit_set(r->store, "tenant", t.id, name, norm[i], who),
			        NULL))
				goto out;
			dash_audit(r, t.id, "limit.set", target, "ok", NULL);
		}
	}
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/budgets?done=saved", t.id);
	dash_redirect(r, path);
out:
	free(pl);
}
