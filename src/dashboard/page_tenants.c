/*
 * page_tenants.c: the tenant list (staff), one tenant's facts, and the
 * operator's create / edit / suspend / resume forms.
 *
 * DESIGN
 * The list is keyset-paginated by tenant id (50 a page, ?after=<id>) with a
 * search box on slug and name, and reads spend and requests from
 * usage_daily, so it stays fast with thousands of tenants. Forms that fail
 * validation re-render the page with FormError and the values typed (400);
 * success redirects (303) with ?done=<word>, which the page maps to a fixed
 * message (never echoing request text). Every change writes an audit row.
 * This file also holds the helpers every tenant page shares
 * (page_tenant_load, page_may_write, page_text_ok, page_set_tenant).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "dashboard/analytics.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/dash_tenants.h"
#include "store/limits.h"
#include "store/store.h"
#include "tenancy/placement.h"
#include "common/valid.h"

#define TENANTS_PAGE 50

/* ------------------------------------------------------------------ shared helpers */

int page_tenant_load(struct req *r, const struct route_match *m, struct tenant *t)
{
	char *end;
	long long id = strtoll(m->params[0], &end, 10);
	int rc;

	if (m->n_params < 1 || end == m->params[0] || *end || id <= 0) {
		dash_not_found(r, "page");
		return 0;
	}
	if (!dash_tenant_allowed(r, (int64_t)id))
		return 0;
	rc = store_tenant_get(r->store, (int64_t)id, t);
	return dash_store_ok(r, rc, "tenant");
}

int page_may_write(struct req *r)
{
	const struct admin_session *s = dash_session();

	if (s == NULL || strcmp(s->user.role, ADMIN_ROLE_SUPPORT) == 0) {
		dash_error(r, 403, "Your role (support) may look but not change anything.");
		return 0;
	}
	return 1;
}

int page_text_ok(const char *s, size_t max)
{
	return valid_text(s, max, 0);
}

void page_set_tenant(struct page *p, const struct tenant *t)
{
	page_set_i64(p, "Tenant.Id", t->id);
	page_set(p, "Tenant.Slug", t->slug);
	page_set(p, "Tenant.Name", t->name);
	page_set(p, "Tenant.Plan", t->plan);
	page_set(p, "Tenant.Status", t->status == TENANT_SUSPENDED ? "suspended" : "active");
}

/* ------------------------------------------------------------------ list and create */

struct tenants_ctx {
	struct page *p;
	int64_t last;
};

static int tenants_row(void *ctx, const struct dasht_tenant_row *row)
{
	struct tenants_ctx *c = ctx;
	struct page *p = c->p;

	page_row(p, "Tenants");
	page_set_i64(p, ".Id", row->t.id);
	page_set(p, ".Slug", row->t.slug);
	page_set(p, ".Name", row->t.name);
	page_set(p, ".Plan", row->t.plan);
	page_set(p, ".Status", row->t.status == TENANT_SUSPENDED ? "suspended" : "active");
	page_set_money(p, ".MonthCost", row->month_cost_micros);
	page_set_count(p, ".DayRequests", row->day_requests);
	c->last = row->t.id;
	return 0;
}

/* The plan names for the form's <select>. */
static int tenants_plan(void *ctx, const struct plan *pl)
{
	page_add(ctx, "Plans", pl->name);
	return 0;
}

static const char *const tenants_done[][2] = {
    {"created", "Tenant created."},
    {"saved", "Changes saved."},
    {"suspended", "Tenant suspended: its API calls are refused."},
    {"resumed", "Tenant resumed."},
    {"content_on",
     "Content logging is on: prompts and answers of new chat completions are stored."},
    {"content_off", "Content logging is off: new chat completions store no prompt or answer."},
};

/* Flash for ?done=<word>. */
static void tenants_flash(struct req *r, struct page *p)
{
	char done[16];

	if (dash_query(r, "done", done, sizeof(done)) != 1)
		return;
	for (size_t i = 0; i < sizeof(tenants_done) / sizeof(tenants_done[0]); i++)
		if (strcmp(done, tenants_done[i][0]) == 0)
			page_set(p, "Flash", tenants_done[i][1]);
}

/* The list page, with form values and an error when a create failed. */
static void tenants_render(struct req *r, int status, const char *err, const char *slug,
                           const char *name, const char *plan)
{
	struct page *p = page_new(r, "Tenants", "tenants");
	struct tenants_ctx c = {p, 0};
	char q[128] = "";
	int64_t after = dash_query_id(r, "after");
	int has_more = 0;

	if (dash_query(r, "q", q, sizeof(q)) < 0)
		q[0] = '\0';
	page_store(
	    p, store_dasht_tenants(r->store, q, after, TENANTS_PAGE, tenants_row, &c, &has_more),
	    NULL);
	page_store(p, store_plan_list(r->store, tenants_plan, p), NULL);
	page_set(p, "Q", q);
	page_set_i64(p, "After", after);
	if (has_more)
		page_set_i64(p, "Next", c.last);
	if (err)
		page_set(p, "FormError", err);
	page_set(p, "Form.Slug", slug);
	page_set(p, "Form.Name", name);
	page_set(p, "Form.Plan", plan);
	tenants_flash(r, p);
	page_finish(p, status, "tenants.cs");
}

PAGE_FN(page_tenants)
{
	(void)id;
	(void)m;
	if (!dash_is_staff()) {
		dash_not_found(r, "page");
		return;
	}
	tenants_render(r, 200, NULL, "", "", "free");
}

PAGE_FN(page_tenant_create)
{
	char slug[80], name[260], plan[40], iso[16], path[64], target[40], err[512] = "";
	int64_t tid = 0;
	int rc, dedicated = 0;

	(void)id;
	(void)m;
	if (!dash_is_staff()) {
		dash_not_found(r, "page");
		return;
	}
	if (!page_may_write(r))
		return;
	if (dash_form(r, "slug", slug, sizeof(slug)) != 1)
		slug[0] = '\0';
	if (dash_form(r, "name", name, sizeof(name)) != 1)
		name[0] = '\0';
	if (dash_form(r, "plan", plan, sizeof(plan)) != 1)
		plan[0] = '\0';
	if (dash_form(r, "isolation", iso, sizeof(iso)) != 1)
		iso[0] = '\0';
	if (iso[0] && strcmp(iso, "shared") != 0 && strcmp(iso, "dedicated") != 0) {
		tenants_render(r, 400, "Data: choose one of the options listed.", slug, name, plan);
		return;
	}
	if (!valid_name(VALID_SLUG, slug)) {
		tenants_render(
		    r, 400,
		    "Slug: 1 to 63 of a-z, 0-9 and '-', not starting with '-' and not only"
		    " digits.",
		    slug, name, plan);
		return;
	}
	if (!valid_name(VALID_TENANT_NAME, name)) {
		tenants_render(r, 400, "Name: 1 to 200 characters of text, no control characters.",
		               slug, name, plan);
		return;
	}
	rc = store_tenant_create(r->store, slug, name, plan, &tid);
	if (rc == ST_CONFLICT) {
		tenants_render(r, 400,
		               "A tenant with this slug exists already; choose another slug.", slug,
		               name, plan);
		return;
	}
	if (rc == ST_NOTFOUND) {
		tenants_render(r, 400, "Plan: choose one of the plans listed.", slug, name, plan);
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	/* its mode: chosen here or by the plan's isolation_mode; a failure undoes the tenant */
	if (placement_new_tenant(r->store, r->conf, tid, iso[0] ? iso : NULL, NULL, 0, &dedicated,
	                         err, sizeof(err)) < 0) {
		log_error("dashboard: tenant '%s' not created: %s", slug, err);
		tenants_render(
		    r, 503,
		    "The tenant's own database could not be created, so the tenant was not"
		    " created; the server log says why.",
		    slug, name, plan);
		return;
	}
	snprintf(target, sizeof(target), "tenant:%" PRId64, tid);
	dash_audit(r, tid, "tenant.create", target, "ok",
	           dedicated ? "{\"isolation\":\"dedicated\"}" : NULL);
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "?done=created", tid);
	dash_redirect(r, path);
}

/* ------------------------------------------------------------------ one tenant */

static void tenant_render(struct req *r, int status, const struct tenant *t, const char *err,
                          const char *name, const char *plan)
{
	struct page *p = page_new(r, t->name, "tenants");

	page_store(p, store_plan_list(r->store, tenants_plan, p), NULL);
	page_set_tenant(p, t);
	page_set(p, "Tenant.SuspendedReason", t->suspended_reason);
	page_set(p, "Tenant.Isolation", t->isolation);
	page_set(p, "Tenant.DataDb", t->data_db);
	if (t->migrating)
		page_set(p, "Tenant.Migrating", "1");
	page_set_time(p, "Tenant.Created", t->created_at);
	page_set_i64(p, "Tenant.LogContent", t->log_content);
	if (err)
		page_set(p, "FormError", err);
	page_set(p, "Form.Name", name ? name : t->name);
	page_set(p, "Form.Plan", plan ? plan : t->plan);
	tenants_flash(r, p);
	dasha_charts_spend(r, p, t->id, 30);
	dasha_charts_hours(r, p, t->id);
	page_finish(p, status, "tenant.cs");
}

struct tenants_choices {
	struct page *p;
	int64_t selected;
	int seen; /* the selected tenant was listed */
};

static int tenants_choice_cb(void *ctx, const struct dasht_tenant_row *row)
{
	struct tenants_choices *c = ctx;

	page_row(c->p, "TenantChoices");
	page_set_i64(c->p, ".Id", row->t.id);
	page_set(c->p, ".Slug", row->t.slug);
	page_set(c->p, ".Name", row->t.name);
	c->seen |= row->t.id == c->selected;
	return 0;
}

void page_tenant_choices(struct req *r, struct page *p, int64_t selected)
{
	struct tenants_choices c = {p, selected, 0};
	struct tenant t;
	int more = 0;

	if (!dash_is_staff())
		return;
	if (!page_store(
	        p,
	        store_dasht_tenant_names(r->store, PAGE_PICKER_MAX, tenants_choice_cb, &c, &more),
	        NULL))
		return;
	if (more)
		page_set_i64(p, "TenantChoicesMore", PAGE_PICKER_MAX);
	if (selected > 0 && !c.seen && store_tenant_get(r->store, selected, &t) == ST_OK) {
		page_row(p, "TenantChoices");
		page_set_i64(p, ".Id", t.id);
		page_set(p, ".Slug", t.slug);
		page_set(p, ".Name", t.name);
	}
}

PAGE_FN(page_tenant)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	tenant_render(r, 200, &t, NULL, NULL, NULL);
}

/* Operator-only POSTs on one tenant: loads it; 0 when a page was sent. */
static int tenant_operator_post(struct req *r, const struct route_match *m, struct tenant *t)
{
	if (!page_tenant_load(r, m, t))
		return 0;
	if (!page_may_write(r))
		return 0;
	if (!dash_is_operator()) {
		dash_error(r, 403, "Only an operator may change a tenant's plan, name or status.");
		return 0;
	}
	return 1;
}

static void tenant_done(struct req *r, const struct tenant *t, const char *done)
{
	char path[80];

	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "?done=%s", t->id, done);
	dash_redirect(r, path);
}

PAGE_FN(page_tenant_edit)
{
	struct tenant t;
	char name[260], plan[40], target[40];
	int rc;

	(void)id;
	if (!tenant_operator_post(r, m, &t))
		return;
	if (dash_form(r, "name", name, sizeof(name)) != 1)
		name[0] = '\0';
	if (dash_form(r, "plan", plan, sizeof(plan)) != 1)
		plan[0] = '\0';
	if (!valid_name(VALID_TENANT_NAME, name)) {
		tenant_render(r, 400, &t,
		              "Name: 1 to 200 characters of text, no control characters.", name,
		              plan);
		return;
	}
	rc = store_dasht_tenant_update(r->store, t.id, name, plan);
	if (rc == ST_NOTFOUND) {
		tenant_render(r, 400, &t, "Plan: choose one of the plans listed.", name, plan);
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	dash_audit(r, t.id, "tenant.update", target, "ok", NULL);
	tenant_done(r, &t, "saved");
}

PAGE_FN(page_tenant_suspend)
{
	struct tenant t;
	char reason[300], target[40];

	(void)id;
	if (!tenant_operator_post(r, m, &t))
		return;
	if (dash_form(r, "reason", reason, sizeof(reason)) != 1)
		reason[0] = '\0';
	if (reason[0] == '\0' || !page_text_ok(reason, 255)) {
		tenant_render(r, 400, &t,
		              "Reason: say why the tenant is suspended (1 to 255 characters).",
		              NULL, NULL);
		return;
	}
	if (!dash_store_ok(r, store_tenant_set_status(r->store, t.id, TENANT_SUSPENDED, reason),
	                   "tenant"))
		return;
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	dash_audit(r, t.id, "tenant.suspend", target, "ok", NULL);
	tenant_done(r, &t, "suspended");
}

PAGE_FN(page_tenant_resume)
{
	struct tenant t;
	char target[40];

	(void)id;
	if (!tenant_operator_post(r, m, &t))
		return;
	if (!dash_store_ok(r, store_tenant_set_status(r->store, t.id, TENANT_ACTIVE, NULL),
	                   "tenant"))
		return;
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	dash_audit(r, t.id, "tenant.resume", target, "ok", NULL);
	tenant_done(r, &t, "resumed");
}

/*
 * POST /admin/tenants/{id}/content (log_content=on|off): whether the
 * tenant's chat completions store their prompts and answers. An operator or
 * the tenant's own admin (it is the tenant's data); support may not.
 */
PAGE_FN(page_tenant_content)
{
	struct tenant t;
	char v[8], target[40];
	int on;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	if (dash_form(r, "log_content", v, sizeof(v)) != 1 ||
	    (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)) {
		tenant_render(r, 400, &t, "Content logging: choose on or off.", NULL, NULL);
		return;
	}
	on = strcmp(v, "on") == 0;
	if (!dash_store_ok(r, store_tenant_set_log_content(r->store, t.id, on), "tenant"))
		return;
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	dash_audit(r, t.id, on ? "tenant.log_content_on" : "tenant.log_content_off", target, "ok",
	           NULL);
	tenant_done(r, &t, on ? "content_on" : "content_off");
}
