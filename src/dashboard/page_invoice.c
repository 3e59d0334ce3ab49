/*
 * page_invoice.c: a tenant's invoice for one month
 * (GET /admin/tenants/{id}/invoice?month=YYYY-MM) and its CSV.
 *
 * DESIGN
 * Line items are usage_daily grouped by model and agent for the month
 * (store_dasha_usage, DASHA_MODEL_AGENT): the same rows the usage page sums,
 * so the totals agree by construction. Printing uses the print stylesheet
 * (navigation hidden); the Print button is wired by admin.js (data-print).
 */
#include "dashboard/cs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "dashboard/analytics.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/dash_analytics.h"
#include "store/store.h"

#define INVOICE_MAX_LINES 5000

struct invoice {
	HDF *hdf;
	struct buf *csv; /* CSV mode when set */
	int n, failed;
	int64_t requests, prompt, completion, cost;
};

static int invoice_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct invoice *v = ctx;
	char k[64], usd[40];
	int rc = 0;

	v->requests += u->requests;
	v->prompt += u->prompt_tokens;
	v->completion += u->completion_tokens;
	v->cost += u->cost_micros;
	if (v->csv) {
		dasha_fmt_usd(usd, sizeof(usd), u->cost_micros);
		rc |= dasha_csv_field(v->csv, u->label);
		rc |= buf_putc(v->csv, ',');
		rc |= dasha_csv_field(v->csv, u->label2);
		rc |= buf_printf(v->csv, ",%lld,%lld,%lld,%s\r\n", (long long)u->requests,
		                 (long long)u->prompt_tokens, (long long)u->completion_tokens, usd);
	} else {
#define SETK(field, fn, x)                                                                         \
	(snprintf(k, sizeof(k), "Lines.%d.%s", v->n, field), rc |= fn(v->hdf, k, x))
		SETK("Model", dash_set, u->label);
		SETK("Agent", dash_set, u->label2[0] ? u->label2 : "(no agent)");
		SETK("Requests", dash_set_count, u->requests);
		SETK("Prompt", dash_set_count, u->prompt_tokens);
		SETK("Completion", dash_set_count, u->completion_tokens);
		SETK("Cost", dash_set_money, u->cost_micros);
#undef SETK
	}
	v->n++;
	if (rc)
		v->failed = 1;
	return 0;
}

/* Tenant and month (month: 16 bytes) of the request; 0, or -1 when a response was sent. */
static int invoice_args(struct req *r, const struct route_match *m, int64_t *tenant, char *month,
                        char *from, char *to, int *bad)
{
	char *end;
	long long t = strtoll(m->params[0], &end, 10);
	int rc;

	*bad = 0;
	if (*end || t <= 0) {
		dash_error(r, 404, "No such tenant.");
		return -1;
	}
	*tenant = t;
	if (!dash_tenant_allowed(r, t))
		return -1;
	rc = dash_query(r, "month", month, 16);
	if (rc == 0 || (rc == 1 && month[0] == '\0')) { /* absent: this month */
		dasha_fmt_day(dasha_today(), from, 11);
		memcpy(month, from, 7);
		month[7] = '\0';
	}
	if (rc < 0 || !dasha_parse_month(month, from, to))
		*bad = 1;
	return 0;
}

PAGE_FN(page_invoice)
{
	struct invoice v;
	char month[16] = "", from[11], to[11], name[201];
	int64_t tenant;
	int bad, rc;
	HDF *hdf;

	(void)id;
	if (invoice_args(r, m, &tenant, month, from, to, &bad) < 0)
		return;
	rc = store_dasha_tenant_name(r->store, tenant, name, sizeof(name));
	if (rc == ST_NOTFOUND) {
		dash_error(r, 404, "No such tenant.");
		return;
	}
	if (rc != ST_OK || (hdf = dash_page_new(r)) == NULL) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	memset(&v, 0, sizeof(v));
	v.hdf = hdf;
	if (bad) {
		char typed[16] = "";

		dash_query(r, "month", typed, sizeof(typed));
		dash_set(hdf, "Form.Month", typed);
		dash_set(hdf, "FormError", "The month must be written YYYY-MM, e.g. 2026-11.");
	} else {
		dash_set(hdf, "Form.Month", month);
		dash_set(hdf, "Invoice.From", from);
		dash_set(hdf, "Invoice.To", to);
		if (store_dasha_usage(r->store, tenant, from, to, DASHA_MODEL_AGENT,
		                      INVOICE_MAX_LINES, invoice_cb, &v) != ST_OK) {
			hdf_destroy(&hdf);
			dash_error(r, 503, "The database is not available; try again shortly.");
			return;
		}
		dash_set_money(hdf, "Invoice.Subtotal", v.cost);
		dash_set_money(hdf, "Invoice.Total", v.cost);
		dash_set_count(hdf, "Invoice.Requests", v.requests);
		dash_set_count(hdf, "Invoice.Prompt", v.prompt);
		dash_set_count(hdf, "Invoice.Completion", v.completion);
	}
	dash_set_i64(hdf, "Tenant.Id", tenant);
	dash_set(hdf, "Tenant.Name", name);
	if (v.failed || dash_set(hdf, "Page.Title", "Invoice") < 0 ||
	    dash_set(hdf, "Page.Nav", "showback") < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, bad ? 400 : 200, hdf, "invoice.cs");
}

PAGE_FN(page_invoice_csv)
{
	struct invoice v;
	struct buf b;
	char month[16] = "", from[11], to[11], disp[96], usd[40];
	int64_t tenant;
	int bad;

	(void)id;
	if (invoice_args(r, m, &tenant, month, from, to, &bad) < 0)
		return;
	if (bad) {
		dash_error(r, 400, "The month must be written YYYY-MM, e.g. 2026-11.");
		return;
	}
	memset(&v, 0, sizeof(v));
	buf_init(&b);
	v.csv = &b;
	buf_puts(&b, "model,agent,requests,input_tokens,output_tokens,cost_usd\r\n");
	if (store_dasha_usage(r->store, tenant, from, to, DASHA_MODEL_AGENT, INVOICE_MAX_LINES,
	                      invoice_cb, &v) != ST_OK) {
		buf_free(&b);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	dasha_fmt_usd(usd, sizeof(usd), v.cost);
	buf_printf(&b, "total,,%lld,%lld,%lld,%s\r\n", (long long)v.requests, (long long)v.prompt,
	           (long long)v.completion, usd);
	snprintf(disp, sizeof(disp), "attachment; filename=\"invoice-%lld-%s.csv\"",
	         (long long)tenant, month);
	resp_header(r, "Content-Disposition", disp);
	dash_send(r, 200, "text/csv; charset=utf-8", "no-store", buf_str(&b), b.len);
	buf_free(&b);
}
