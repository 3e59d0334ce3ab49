/*
 * page_health.c: tenant health (GET /admin/health).
 *
 * DESIGN
 * One bounded query (store_dasha_health) per page of tenants: usage_5min of
 * the last 15 minutes and 24 hours, open breakers and the current budget
 * counters. The verdict is decided here from the thresholds below (documented
 * in docs/DASHBOARD.md), each with its reason in words. Staff page through
 * every tenant, most failing first; a tenant_admin sees its own row.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dashboard/analytics.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/dash_analytics.h"
#include "store/store.h"

#define HEALTH_PAGE 50
#define HEALTH_MIN_CALLS 5     /* fewer calls in a window say nothing about rates */
#define HEALTH_FAIL_CRIT 20    /* % failed in 15 min */
#define HEALTH_FAIL_WARN 5     /* % failed in 15 min or 24 h */
#define HEALTH_REFUSED_WARN 10 /* % refused in 15 min */
#define HEALTH_P99_WARN_MS 10000
#define HEALTH_BUDGET_CRIT 100 /* % of a budget used */
#define HEALTH_BUDGET_WARN 80

enum { H_OK, H_WARN, H_CRIT };

struct health {
	struct page *p;
	int n; /* rows seen: one more than HEALTH_PAGE means a next page */
};

/* Append a reason (printf-style) to why and raise the level. */
static void health_why(char *why, size_t cap, int *level, int lvl, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void health_why(char *why, size_t cap, int *level, int lvl, const char *fmt, ...)
{
	size_t len = strlen(why);
	va_list ap;

	if (lvl > *level)
		*level = lvl;
	if (len > 0 && len + 2 < cap) {
		memcpy(why + len, "; ", 3);
		len += 2;
	}
	if (len < cap) {
		va_start(ap, fmt);
		vsnprintf(why + len, cap - len, fmt, ap);
		va_end(ap);
	}
}

/* Index of the bucket that holds the 99th percentile call (0..7), -1 when empty. */
static int health_p99_bucket(const int64_t lat[8])
{
	int64_t total = 0, seen = 0;

	for (int i = 0; i < 8; i++)
		total += lat[i];
	if (total == 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		seen += lat[i];
		if (seen * 100 >= total * 99)
			return i;
	}
	return 7;
}

static int health_cb(void *ctx, const struct dasha_health_row *h)
{
	static const int bound_ms[8] = {100, 250, 500, 1000, 2500, 5000, 10000, 10001};
	struct health *v = ctx;
	struct page *p = v->p;
	char why[512] = "", p99[32];
	int level = H_OK, b = health_p99_bucket(h->lat15);

	if (v->n++ >= HEALTH_PAGE)
		return 0; /* the row past the page only says that there is a next page */
	if (h->req15 >= HEALTH_MIN_CALLS) {
		long long fp = h->failed15 * 100 / h->req15, rp = h->refused15 * 100 / h->req15;

		if (fp >= HEALTH_FAIL_CRIT)
			health_why(why, sizeof(why), &level, H_CRIT,
			           "%lld%% of calls failed in the last 15 min", fp);
		else if (fp >= HEALTH_FAIL_WARN)
			health_why(why, sizeof(why), &level, H_WARN,
			           "%lld%% of calls failed in the last 15 min", fp);
		if (rp >= HEALTH_REFUSED_WARN)
			health_why(why, sizeof(why), &level, H_WARN,
			           "%lld%% of calls refused in the last 15 min", rp);
		if (b >= 0 && bound_ms[b] > HEALTH_P99_WARN_MS)
			health_why(why, sizeof(why), &level, H_WARN,
			           "p99 latency above %d ms in the last 15 min",
			           HEALTH_P99_WARN_MS);
	}
	if (h->req24 >= HEALTH_MIN_CALLS && h->failed24 * 100 / h->req24 >= HEALTH_FAIL_WARN)
		health_why(why, sizeof(why), &level, H_WARN, "%lld%% of calls failed in 24 h",
		           (long long)(h->failed24 * 100 / h->req24));
	if (h->open_breakers[0])
		health_why(why, sizeof(why), &level, H_CRIT, "breaker open for %s",
		           h->open_breakers);
	if (h->day_lim > 0 && h->day_spent * 100 >= h->day_lim * HEALTH_BUDGET_WARN)
		health_why(why, sizeof(why), &level,
		           h->day_spent * 100 >= h->day_lim * HEALTH_BUDGET_CRIT ? H_CRIT : H_WARN,
		           "%lld%% of the daily budget used",
		           (long long)(h->day_spent * 100 / h->day_lim));
	if (h->month_lim > 0 && h->month_spent * 100 >= h->month_lim * HEALTH_BUDGET_WARN)
		health_why(why, sizeof(why), &level,
		           h->month_spent * 100 >= h->month_lim * HEALTH_BUDGET_CRIT ? H_CRIT
		                                                                     : H_WARN,
		           "%lld%% of the monthly budget used",
		           (long long)(h->month_spent * 100 / h->month_lim));
	if (level == H_OK)
		snprintf(why, sizeof(why), "%s",
		         h->req15 < HEALTH_MIN_CALLS ? "too few calls in the last 15 min to judge"
		                                     : "no problems found");
	dash_fmt_latency_pct(p99, sizeof(p99), h->lat24, 99);
	page_row(p, "Tenants");
	page_set_i64(p, ".Id", h->tenant_id);
	page_set(p, ".Name", h->name);
	page_set(p, ".Level",
	         level == H_CRIT   ? "critical"
	         : level == H_WARN ? "degraded"
	                           : "healthy");
	page_set(p, ".Badge", level == H_CRIT ? "bad" : level == H_WARN ? "warn" : "ok");
	page_set(p, ".Why", why);
	page_set_count(p, ".Req15", h->req15);
	page_set_count(p, ".Req24", h->req24);
	page_set(p, ".P99", p99);
	page_set(p, ".Breakers", h->open_breakers);
	page_set_rate(p, ".FailRate15", h->failed15, h->req15);
	page_set_rate(p, ".FailRate24", h->failed24, h->req24);
	page_set_rate(p, ".RefusedRate15", h->refused15, h->req15);
	if (h->day_lim > 0)
		page_set_rate(p, ".DayBudget", h->day_spent, h->day_lim);
	else
		page_set(p, ".DayBudget", "–");
	if (h->month_lim > 0)
		page_set_rate(p, ".MonthBudget", h->month_spent, h->month_lim);
	else
		page_set(p, ".MonthBudget", "–");
	return 0;
}

PAGE_FN(page_health)
{
	struct health v = {NULL, 0};
	int64_t tenant, pg = dash_query_id(r, "page");

	(void)id;
	(void)m;
	if ((tenant = dasha_scope(r)) < 0)
		return;
	if (pg < 1 || pg > 1000)
		pg = 1;
	v.p = page_new(r, "Health", "health");
	page_store(v.p,
	           store_dasha_health(r->store, tenant, HEALTH_PAGE + 1,
	                              (int)(pg - 1) * HEALTH_PAGE, health_cb, &v),
	           NULL);
	if (v.n > HEALTH_PAGE)
		page_set_i64(v.p, "Pager.Next", pg + 1);
	if (pg > 1)
		page_set_i64(v.p, "Pager.Prev", pg - 1);
	if (pg == 1)
		dasha_charts_hours(r, v.p, tenant);
	page_finish(v.p, 200, "health.cs");
}
