/*
 * analytics: helpers shared by the analytics pages (usage, invoice, health,
 * executions) and the charts of the overview and tenant pages, defined in
 * page_usage.c.
 */
#ifndef AH_DASHBOARD_ANALYTICS_H
#define AH_DASHBOARD_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

struct req;
struct buf;

/*
 * The tenant the page shows: a tenant_admin's own, or for staff the
 * tenant_id parameter (0 = every tenant). A tenant_id naming another tenant
 * for a tenant_admin goes through dash_tenant_allowed (404 + audit): then -1
 * (response sent).
 */
int64_t dasha_scope(struct req *r);
/* Whether s is a valid YYYY-MM-DD date; its day number (days since 1970) in *days. */
int dasha_parse_day(const char *s, int64_t *days);
/* Day number to YYYY-MM-DD (cap >= 11). */
void dasha_fmt_day(int64_t days, char *out, size_t cap);
/* Today (UTC) as a day number. */
int64_t dasha_today(void);
/* Whether s is YYYY-MM; first and last day of that month in from/to (YYYY-MM-DD). */
int dasha_parse_month(const char *s, char *from, char *to);
/* Append s to b as one CSV field (quoted when needed; a leading =+-@ is defused). */
int dasha_csv_field(struct buf *b, const char *s);
/* Micro-USD as a plain decimal "12.345678" for CSV. */
void dasha_fmt_usd(char *out, size_t cap, int64_t micros);

struct page;
/*
 * The last 24 hours of tenant (0: every tenant, through allcache) as two
 * charts in p: Charts.Calls (requests and errors per hour) and
 * Charts.Latency (p99 and p50 bucket per hour). One grouped query
 * (store_admin_hours); a store failure is p's sticky error.
 */
void dasha_charts_hours(struct req *r, struct page *p, int64_t tenant);
/*
 * Spend per day of the last `days` days (today included) of tenant (0:
 * every tenant, through allcache) as the chart Charts.Spend in p. One
 * grouped query on usage_daily.
 */
void dasha_charts_spend(struct req *r, struct page *p, int64_t tenant, int days);

#endif
