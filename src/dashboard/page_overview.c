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
 * through allcache (at most a minute old, the page says so). Three charts:
 * spend per day over 30 days, requests and errors and latency per hour over
 * 24 hours (one grouped query each, page_usage.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/allcache.h"
#include "dashboard/analytics.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/store.h"

#define OVERVIEW_TOP 10
#define OVERVIEW_ALERT_PCT 80

struct overview {
	struct page *p;
	int n;
	int64_t day_cost, month_cost, day_requests, month_requests;
};

/* One tenant's row as the next row of list. */
static void overview_row(struct page *p, const char *list, const struct admin_overview_row *t)
{
	page_row(p, list);
	page_set_i64(p, ".Id", t->tenant_id);
	page_set(p, ".Slug", t->slug);
	page_set(p, ".Name", t->name);
	page_set_money(p, ".DayCost", t->day_cost_micros);
	page_set_money(p, ".MonthCost", t->month_cost_micros);
	page_set_count(p, ".DayRequests", t->day_requests);
	page_set_count(p, ".MonthRequests", t->month_requests);
	page_set_money(p, ".DayBudget", t->day_budget_micros);
	page_set_money(p, ".MonthBudget", t->month_budget_micros);
	page_set_i64(p, ".HasDayBudget", t->day_budget_micros > 0);
	page_set_i64(p, ".HasMonthBudget", t->month_budget_micros > 0);
	page_set_pct(p, ".DayPct", t->day_cost_micros, t->day_budget_micros);
	page_set_pct(p, ".MonthPct", t->month_cost_micros, t->month_budget_micros);
}

static int overview_cb(void *ctx, const struct admin_overview_row *t)
{
	struct overview *o = ctx;
	int near = (t->month_budget_micros > 0 &&
	            t->month_cost_micros * 100 >= t->month_budget_micros * OVERVIEW_ALERT_PCT) ||
	           (t->day_budget_micros > 0 &&
	            t->day_cost_micros * 100 >= t->day_budget_micros * OVERVIEW_ALERT_PCT);

	o->day_cost += t->day_cost_micros;
	o->month_cost += t->month_cost_micros;
	o->day_requests += t->day_requests;
	o->month_requests += t->month_requests;
	if (o->n < OVERVIEW_TOP) /* rows arrive by month spend, highest first */
		overview_row(o->p, "Tenants", t);
	o->n++;
	if (near)
		overview_row(o->p, "Alerts", t);
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

	(void)id;
	(void)m;
	memset(&o, 0, sizeof(o));
	o.p = page_new(r, "Overview", "overview");
	if (overview_load(r, tenant, &o, &w) < 0) {
		page_unavailable(o.p);
		page_finish(o.p, 200, "overview.cs");
		return;
	}
	dash_fmt_latency_pct(p50, sizeof(p50), w.lat, 50);
	dash_fmt_latency_pct(p99, sizeof(p99), w.lat, 99);
	page_set_money(o.p, "Totals.DayCost", o.day_cost);
	page_set_money(o.p, "Totals.MonthCost", o.month_cost);
	page_set_count(o.p, "Totals.DayRequests", o.day_requests);
	page_set_count(o.p, "Totals.MonthRequests", o.month_requests);
	page_set_count(o.p, "Totals.Tenants", o.n);
	page_set_count(o.p, "Window.Requests", w.requests);
	page_set_count(o.p, "Window.Failed", w.failed);
	page_set_count(o.p, "Window.Refused", w.refused);
	page_set_rate(o.p, "Window.ErrorRate", w.failed, w.requests);
	page_set_rate(o.p, "Window.RefusedRate", w.refused, w.requests);
	page_set(o.p, "Window.P50", p50);
	page_set(o.p, "Window.P99", p99);
	dasha_charts_spend(r, o.p, tenant, 30);
	dasha_charts_hours(r, o.p, tenant);
	page_finish(o.p, 200, "overview.cs");
}
