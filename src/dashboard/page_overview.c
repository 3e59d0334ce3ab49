/*
 * page_overview.c: the first page after sign-in.
 *
 * DESIGN
 * Spend today and this month per tenant from usage_daily against the budget
 * limits last seen by admission (budget_counters), and the last 24 hours of
 * calls from usage_5min (outcomes and a latency histogram): a few hundred
 * rows per tenant, never the executions table, so the page costs the same
 * with a million executions. Staff (operator, support) see every tenant:
 * totals, the ten tenants that spent most this month and every tenant near a
 * budget; a tenant_admin sees its own tenant only. Staff figures come
 * through allcache (at most a minute old, the page says so).
 */
#include "dashboard/cs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/allcache.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/store.h"

#define OVERVIEW_TOP 10
#define OVERVIEW_ALERT_PCT 80

struct overview {
	HDF *hdf;
	int n, alerts, failed;
	int64_t day_cost, month_cost, day_requests, month_requests;
};

/* Set prefix.* for one tenant's row. */
static int overview_row(HDF *hdf, const char *prefix, const struct admin_overview_row *t)
{
	char k[96];
	int rc = 0;

#define SETK(field, fn, v) (snprintf(k, sizeof(k), "%s.%s", prefix, field), rc |= fn(hdf, k, v))
	SETK("Id", dash_set_i64, t->tenant_id);
	SETK("Slug", dash_set, t->slug);
	SETK("Name", dash_set, t->name);
	SETK("DayCost", dash_set_money, t->day_cost_micros);
	SETK("MonthCost", dash_set_money, t->month_cost_micros);
	SETK("DayRequests", dash_set_count, t->day_requests);
	SETK("MonthRequests", dash_set_count, t->month_requests);
	SETK("DayBudget", dash_set_money, t->day_budget_micros);
	SETK("MonthBudget", dash_set_money, t->month_budget_micros);
	SETK("HasDayBudget", dash_set_i64, t->day_budget_micros > 0);
	SETK("HasMonthBudget", dash_set_i64, t->month_budget_micros > 0);
	snprintf(k, sizeof(k), "%s.DayPct", prefix);
	rc |= dash_set_pct(hdf, k, t->day_cost_micros, t->day_budget_micros);
	snprintf(k, sizeof(k), "%s.MonthPct", prefix);
	rc |= dash_set_pct(hdf, k, t->month_cost_micros, t->month_budget_micros);
#undef SETK
	return rc ? -1 : 0;
}

static int overview_cb(void *ctx, const struct admin_overview_row *t)
{
	struct overview *o = ctx;
	char prefix[48];
	int near = (t->month_budget_micros > 0 &&
	            t->month_cost_micros * 100 >= t->month_budget_micros * OVERVIEW_ALERT_PCT) ||
	           (t->day_budget_micros > 0 &&
	            t->day_cost_micros * 100 >= t->day_budget_micros * OVERVIEW_ALERT_PCT);

	o->day_cost += t->day_cost_micros;
	o->month_cost += t->month_cost_micros;
	o->day_requests += t->day_requests;
	o->month_requests += t->month_requests;
	if (o->n < OVERVIEW_TOP) { /* rows arrive by month spend, highest first */
		snprintf(prefix, sizeof(prefix), "Tenants.%d", o->n);
		if (overview_row(o->hdf, prefix, t) < 0)
			o->failed = 1;
	}
	o->n++;
	if (near) {
		snprintf(prefix, sizeof(prefix), "Alerts.%d", o->alerts++);
		if (overview_row(o->hdf, prefix, t) < 0)
			o->failed = 1;
	}
	return 0;
}

struct overview_collect {
	struct admin_overview_row *rows;
	size_t n, cap;
	int oom;
};

static int overview_collect_cb(void *ctx, const struct admin_overview_row *t)
{
	struct overview_collect *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct admin_overview_row *p = realloc(c->rows, cap * sizeof(*p));

		if (p == NULL) {
			c->oom = 1;
			return 1;
		}
		c->rows = p;
		c->cap = cap;
	}
	c->rows[c->n++] = *t;
	return 0;
}

/*
 * The overview's figures: one tenant's straight from the store; every
 * tenant's (staff) through allcache, at most ALLCACHE_TTL_S old.
 */
static int overview_load(struct req *r, int64_t tenant, struct overview *o, struct admin_window *w)
{
	struct overview_collect c = {0};
	struct admin_window *cw;
	size_t n = 0;

	if (tenant)
		return store_admin_overview(r->store, tenant, overview_cb, o) == ST_OK &&
		               store_admin_window(r->store, tenant, 24 * 3600, w) == ST_OK
		           ? 0
		           : -1;
	c.rows = allcache_get("overview", sizeof(*c.rows), &c.n);
	if (c.rows == NULL) {
		if (store_admin_overview(r->store, 0, overview_collect_cb, &c) != ST_OK || c.oom) {
			free(c.rows);
			return -1;
		}
		allcache_put("overview", c.rows, c.n, sizeof(*c.rows));
	}
	for (size_t i = 0; i < c.n; i++)
		overview_cb(o, &c.rows[i]);
	free(c.rows);
	if ((cw = allcache_get("window24", sizeof(*cw), &n)) != NULL && n == 1) {
		*w = *cw;
	} else {
		if (store_admin_window(r->store, 0, 24 * 3600, w) != ST_OK) {
			free(cw);
			return -1;
		}
		allcache_put("window24", w, 1, sizeof(*w));
	}
	free(cw);
	return 0;
}

PAGE_FN(page_overview)
{
	const struct admin_session *s = dash_session();
	int64_t tenant = dash_is_staff() ? 0 : s->user.tenant_id;
	struct overview o;
	struct admin_window w;
	char p50[32], p99[32];
	HDF *hdf = dash_page_new(r);

	(void)id;
	(void)m;
	if (hdf == NULL) {
		dash_error(r, 500, "Out of memory.");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.hdf = hdf;
	if (overview_load(r, tenant, &o, &w) < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	dash_fmt_latency_pct(p50, sizeof(p50), w.lat, 50);
	dash_fmt_latency_pct(p99, sizeof(p99), w.lat, 99);
	if (o.failed || dash_set(hdf, "Page.Title", "Overview") < 0 ||
	    dash_set(hdf, "Page.Nav", "overview") < 0 ||
	    dash_set_money(hdf, "Totals.DayCost", o.day_cost) < 0 ||
	    dash_set_money(hdf, "Totals.MonthCost", o.month_cost) < 0 ||
	    dash_set_count(hdf, "Totals.DayRequests", o.day_requests) < 0 ||
	    dash_set_count(hdf, "Totals.MonthRequests", o.month_requests) < 0 ||
	    dash_set_count(hdf, "Totals.Tenants", o.n) < 0 ||
	    dash_set_count(hdf, "Window.Requests", w.requests) < 0 ||
	    dash_set_count(hdf, "Window.Failed", w.failed) < 0 ||
	    dash_set_count(hdf, "Window.Refused", w.refused) < 0 ||
	    dash_set_rate(hdf, "Window.ErrorRate", w.failed, w.requests) < 0 ||
	    dash_set_rate(hdf, "Window.RefusedRate", w.refused, w.requests) < 0 ||
	    dash_set(hdf, "Window.P50", p50) < 0 || dash_set(hdf, "Window.P99", p99) < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, 200, hdf, "overview.cs");
}
