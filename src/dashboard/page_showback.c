/*
 * page_showback.c: showback / chargeback for a month
 * (GET /admin/showback?tenant_id=&month=YYYY-MM).
 *
 * DESIGN
 * Costs by agent, model, user and department, where user and department are
 * the "user" and "department" fields of the call's metadata. All four tables
 * read usage_attr_daily (store_dasha_showback), written with every execution
 * by store_rollup_sql, so the page never scans executions.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dashboard/allcache.h"
#include "dashboard/analytics.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/dash_analytics.h"
#include "store/store.h"

#define SHOWBACK_TOP 100     /* rows shown per table */
#define SHOWBACK_ROWS 100000 /* rows read per table (the total sums every model) */

struct showback {
	struct page *p;
	const char *prefix, *none;
	int n;
	int64_t cost;
};

static int showback_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct showback *s = ctx;

	if (strcmp(s->prefix, "ByModel") == 0)
		s->cost += u->cost_micros; /* every model counts toward the total */
	if (s->n >= SHOWBACK_TOP) {
		s->n++;
		return 0;
	}
	page_row(s->p, s->prefix);
	page_set(s->p, ".Label", u->label[0] ? u->label : s->none);
	page_set_i64(s->p, ".TenantId", u->tenant_id);
	page_set_count(s->p, ".Requests", u->requests);
	page_set_count(s->p, ".CacheHits", u->cache_hits);
	page_set_count(s->p, ".Tokens", u->prompt_tokens + u->completion_tokens);
	page_set_money(s->p, ".Cost", u->cost_micros);
	s->n++;
	return 0;
}

PAGE_FN(page_showback)
{
	static const struct {
		enum dasha_attr attr;
		const char *prefix, *none;
	} tables[] = {{DASHA_BY_AGENT, "ByAgent", "(no agent)"},
	              {DASHA_BY_MODEL, "ByModel", "(none)"},
	              {DASHA_BY_USER, "ByUser", "(no user in metadata)"},
	              {DASHA_BY_DEPARTMENT, "ByDepartment", "(no department in metadata)"}};
	struct showback s;
	char month[16] = "", from[11], to[11];
	int64_t tenant;
	int rc;
	struct page *p;

	(void)id;
	(void)m;
	if ((tenant = dasha_scope(r)) < 0)
		return;
	p = page_new(r, "Showback", "showback");
	page_tenant_choices(r, p, tenant);
	rc = dash_query(r, "month", month, sizeof(month));
	if (rc <= 0 || month[0] == '\0') {
		dasha_fmt_day(dasha_today(), from, sizeof(from));
		memcpy(month, from, 7);
		month[7] = '\0';
	}
	page_set(p, "Form.Month", month);
	if (tenant > 0)
		page_set_i64(p, "Form.TenantId", tenant);
	if (rc < 0 || !dasha_parse_month(month, from, to)) {
		page_set(p, "FormError", "The month must be written YYYY-MM, e.g. 2026-11.");
		page_finish(p, 400, "showback.cs");
		return;
	}
	memset(&s, 0, sizeof(s));
	s.p = p;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && !page_failed(p); i++) {
		s.prefix = tables[i].prefix;
		s.none = tables[i].none;
		s.n = 0;
		page_store(p,
		           allcache_showback(r->store, tenant, from, to, tables[i].attr,
		                             SHOWBACK_ROWS, showback_cb, &s),
		           NULL);
		if (s.n > SHOWBACK_TOP) {
			char k[48];

			snprintf(k, sizeof(k), "More.%s", tables[i].prefix);
			page_set_count(p, k, s.n - SHOWBACK_TOP);
		}
	}
	page_set(p, "Period.From", from);
	page_set(p, "Period.To", to);
	page_set_money(p, "Totals.Cost", s.cost);
	page_finish(p, 200, "showback.cs");
}
