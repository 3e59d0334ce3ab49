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
#include "dashboard/cs.h"

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
	HDF *hdf;
	const char *prefix, *none;
	int n, failed;
	int64_t cost;
};

static int showback_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct showback *s = ctx;
	char k[64];
	int rc = 0;

	if (strcmp(s->prefix, "ByModel") == 0)
		s->cost += u->cost_micros; /* every model counts toward the total */
	if (s->n >= SHOWBACK_TOP) {
		s->n++;
		return 0;
	}
#define SETK(field, fn, x)                                                                         \
	(snprintf(k, sizeof(k), "%s.%d.%s", s->prefix, s->n, field), rc |= fn(s->hdf, k, x))
	SETK("Label", dash_set, u->label[0] ? u->label : s->none);
	SETK("TenantId", dash_set_i64, u->tenant_id);
	SETK("Requests", dash_set_count, u->requests);
	SETK("Tokens", dash_set_count, u->prompt_tokens + u->completion_tokens);
	SETK("Cost", dash_set_money, u->cost_micros);
#undef SETK
	if (rc)
		s->failed = 1;
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
	HDF *hdf;

	(void)id;
	(void)m;
	if ((tenant = dasha_scope(r)) < 0)
		return;
	if ((hdf = dash_page_new(r)) == NULL) {
		dash_error(r, 500, "Out of memory.");
		return;
	}
	rc = dash_query(r, "month", month, sizeof(month));
	if (rc <= 0 || month[0] == '\0') {
		dasha_fmt_day(dasha_today(), from, sizeof(from));
		memcpy(month, from, 7);
		month[7] = '\0';
	}
	dash_set(hdf, "Form.Month", month);
	if (tenant > 0)
		dash_set_i64(hdf, "Form.TenantId", tenant);
	dash_set(hdf, "Page.Title", "Showback");
	dash_set(hdf, "Page.Nav", "showback");
	if (rc < 0 || !dasha_parse_month(month, from, to)) {
		dash_set(hdf, "FormError", "The month must be written YYYY-MM, e.g. 2026-11.");
		dash_render(r, 400, hdf, "showback.cs");
		return;
	}
	memset(&s, 0, sizeof(s));
	s.hdf = hdf;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		s.prefix = tables[i].prefix;
		s.none = tables[i].none;
		s.n = 0;
		if (allcache_showback(r->store, tenant, from, to, tables[i].attr, SHOWBACK_ROWS,
		                      showback_cb, &s) != ST_OK) {
			hdf_destroy(&hdf);
			dash_error(r, 503, "The database is not available; try again shortly.");
			return;
		}
		if (s.n > SHOWBACK_TOP) {
			char k[48];

			snprintf(k, sizeof(k), "More.%s", tables[i].prefix);
			dash_set_count(hdf, k, s.n - SHOWBACK_TOP);
		}
	}
	dash_set(hdf, "Period.From", from);
	dash_set(hdf, "Period.To", to);
	if (s.failed || dash_set_money(hdf, "Totals.Cost", s.cost) < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, 200, hdf, "showback.cs");
}
