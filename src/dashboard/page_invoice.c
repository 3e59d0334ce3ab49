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
#include "config.h"

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
	struct page *p;  /* page mode when set */
	struct buf *csv; /* CSV mode when set */
	int64_t requests, prompt, completion, cost;
};

static int invoice_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct invoice *v = ctx;
	char usd[40];

	v->requests += u->requests;
	v->prompt += u->prompt_tokens;
	v->completion += u->completion_tokens;
	v->cost += u->cost_micros;
	if (v->csv) {
		dasha_fmt_usd(usd, sizeof(usd), u->cost_micros);
		dasha_csv_field(v->csv, u->label);
		buf_putc(v->csv, ',');
		dasha_csv_field(v->csv, u->label2);
		buf_printf(v->csv, ",%lld,%lld,%lld,%s\r\n", (long long)u->requests,
		           (long long)u->prompt_tokens, (long long)u->completion_tokens, usd);
	} else {
		page_row(v->p, "Lines");
		page_set(v->p, ".Model", u->label);
		page_set(v->p, ".Agent", u->label2[0] ? u->label2 : "(no agent)");
		page_set_count(v->p, ".Requests", u->requests);
		page_set_count(v->p, ".Prompt", u->prompt_tokens);
		page_set_count(v->p, ".Completion", u->completion_tokens);
		page_set_money(v->p, ".Cost", u->cost_micros);
	}
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
		dash_not_found(r, "tenant");
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
	int bad;

	(void)id;
	if (invoice_args(r, m, &tenant, month, from, to, &bad) < 0 ||
	    !dash_store_ok(r, store_dasha_tenant_name(r->store, tenant, name, sizeof(name)),
	                   "tenant"))
		return;
	memset(&v, 0, sizeof(v));
	v.p = page_new(r, "Invoice", "invoice");
	if (bad) {
		char typed[16] = "";

		dash_query(r, "month", typed, sizeof(typed));
		page_set(v.p, "Form.Month", typed);
		page_set(v.p, "FormError", "The month must be written YYYY-MM, e.g. 2026-11.");
	} else {
		page_set(v.p, "Form.Month", month);
		page_set(v.p, "Invoice.From", from);
		page_set(v.p, "Invoice.To", to);
		page_store(v.p,
		           store_dasha_usage(r->store, tenant, from, to, DASHA_MODEL_AGENT,
		                             INVOICE_MAX_LINES, invoice_cb, &v),
		           NULL);
		page_set_money(v.p, "Invoice.Subtotal", v.cost);
		page_set_money(v.p, "Invoice.Total", v.cost);
		page_set_count(v.p, "Invoice.Requests", v.requests);
		page_set_count(v.p, "Invoice.Prompt", v.prompt);
		page_set_count(v.p, "Invoice.Completion", v.completion);
	}
	page_set_i64(v.p, "Tenant.Id", tenant);
	page_set(v.p, "Tenant.Name", name);
	page_finish(v.p, bad ? 400 : 200, "invoice.cs");
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
	if (!dash_store_ok(r,
	                   store_dasha_usage(r->store, tenant, from, to, DASHA_MODEL_AGENT,
	                                     INVOICE_MAX_LINES, invoice_cb, &v),
	                   NULL)) {
		buf_free(&b);
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
