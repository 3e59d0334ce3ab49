/*
 * page_webhooks.c: a tenant's alert webhooks and their delivery log
 * (read-only; webhooks are added and removed with agenthostctl webhook or
 * the tenant's /v1/webhooks API, where the signing secret is shown once).
 *
 * DESIGN
 * One page: the webhooks (URL, since) and the latest 100 deliveries (event,
 * budget or subject, threshold, period, status, attempts, last HTTP status
 * and error), newest first, from store_alert_log. Every value is escaped
 * by the page builder like any other. All roles read their own tenant's
 * page (tenant_admin) or any (operator, support).
 */
#include "config.h"

#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/alerts.h"
#include "store/store.h"

#define HOOKS_LOG_ROWS 100

/* webhook_cb: one row of "Hooks". */
static int hooks_row(void *ctx, const struct webhook *w)
{
	struct page *p = ctx;

	page_row(p, "Hooks");
	page_set_i64(p, ".Id", w->id);
	page_set(p, ".Url", w->url);
	page_set_time(p, ".Created", w->created_at);
	return 0;
}

/* alert_log_cb: one row of "Log". */
static int hooks_log_row(void *ctx, const struct alert_log *l)
{
	struct page *p = ctx;

	page_row(p, "Log");
	page_set_i64(p, ".Id", l->id);
	page_set(p, ".Event", l->kind);
	page_set(p, ".Subject", l->subject);
	page_set(p, ".Period", l->period);
	if (l->threshold > 0)
		page_set_i64(p, ".Threshold", l->threshold);
	page_set(p, ".Status", l->status);
	page_set_i64(p, ".Attempts", l->attempts);
	if (l->last_status > 0)
		page_set_i64(p, ".HttpStatus", l->last_status);
	page_set(p, ".Error", l->last_error);
	page_set(p, ".Url", l->url);
	page_set_time(p, ".Created", l->created_at);
	if (l->delivered_at > 0)
		page_set_time(p, ".Delivered", l->delivered_at);
	return 0;
}

PAGE_FN(page_webhooks)
{
	struct tenant t;
	struct page *p;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	p = page_new(r, "Webhooks", "webhooks");
	page_set_tenant(p, &t);
	page_store(p, store_webhook_list(r->store, t.id, hooks_row, p), NULL);
	page_store(p, store_alert_log(r->store, t.id, HOOKS_LOG_ROWS, hooks_log_row, p), NULL);
	page_finish(p, 200, "webhooks.cs");
}
