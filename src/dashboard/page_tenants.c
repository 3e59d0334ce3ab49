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
#include "dashboard/cs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
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
		dash_error(r, 404, "No such page.");
		return 0;
	}
	if (!dash_tenant_allowed(r, (int64_t)id))
		return 0;
	rc = store_tenant_get(r->store, (int64_t)id, t);
	if (rc == ST_NOTFOUND) {
		dash_error(r, 404, "No such tenant.");
		return 0;
	}
	if (rc != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return 0;
	}
	return 1;
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

int page_set_tenant(HDF *hdf, const struct tenant *t)
{
	int rc = 0;

	rc |= dash_set_i64(hdf, "Tenant.Id", t->id);
	rc |= dash_set(hdf, "Tenant.Slug", t->slug);
	rc |= dash_set(hdf, "Tenant.Name", t->name);
	rc |= dash_set(hdf, "Tenant.Plan", t->plan);
	rc |=
	    dash_set(hdf, "Tenant.Status", t->status == TENANT_SUSPENDED ? "suspended" : "active");
	return rc ? -1 : 0;
}

/* ------------------------------------------------------------------ list and create */

struct tenants_ctx {
	HDF *hdf;
	int n;
	int64_t last;
	int failed;
};

static int tenants_row(void *ctx, const struct dasht_tenant_row *row)
{
	struct tenants_ctx *c = ctx;
	char k[64];
	int rc = 0;

#define SETK(field, fn, v)                                                                         \
	(snprintf(k, sizeof(k), "Tenants.%d.%s", c->n, field), rc |= fn(c->hdf, k, v))
	SETK("Id", dash_set_i64, row->t.id);
	SETK("Slug", dash_set, row->t.slug);
	SETK("Name", dash_set, row->t.name);
	SETK("Plan", dash_set, row->t.plan);
	SETK("Status", dash_set, row->t.status == TENANT_SUSPENDED ? "suspended" : "active");
	SETK("MonthCost", dash_set_money, row->month_cost_micros);
	SETK("DayRequests", dash_set_count, row->day_requests);
#undef SETK
	if (rc)
		c->failed = 1;
	c->last = row->t.id;
	c->n++;
	return 0;
}

static int tenants_plan(void *ctx, const struct plan *p)
{
	HDF *hdf = ctx;
	char k[48];
	int n = hdf_get_int_value(hdf, "PlanCount", 0);

	snprintf(k, sizeof(k), "Plans.%d", n);
	dash_set(hdf, k, p->name);
	dash_set_i64(hdf, "PlanCount", n + 1);
	return 0;
}

static const char *const tenants_done[][2] = {
    {"created", "Tenant created."},
    {"saved", "Changes saved."},
    {"suspended", "Tenant suspended: its API calls are refused."},
    {"resumed", "Tenant resumed."},
};

/* Flash for ?done=<word>. */
static int tenants_flash(struct req *r, HDF *hdf)
{
	char done[16];

	if (dash_query(r, "done", done, sizeof(done)) != 1)
		return 0;
	for (size_t i = 0; i < sizeof(tenants_done) / sizeof(tenants_done[0]); i++)
		if (strcmp(done, tenants_done[i][0]) == 0)
			return dash_set(hdf, "Flash", tenants_done[i][1]);
	return 0;
}

/* The list page, with form values and an error when a create failed. */
static void tenants_render(struct req *r, int status, const char *err, const char *slug,
                           const char *name, const char *plan)
{
	struct tenants_ctx c;
	char q[128] = "";
	int64_t after = dash_query_id(r, "after");
	int has_more = 0;
	HDF *hdf = dash_page_new(r);

	if (hdf == NULL) {
		dash_error(r, 500, "Out of memory.");
		return;
	}
	if (dash_query(r, "q", q, sizeof(q)) < 0)
		q[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.hdf = hdf;
	if (store_dasht_tenants(r->store, q, after, TENANTS_PAGE, tenants_row, &c, &has_more) !=
	        ST_OK ||
	    store_plan_list(r->store, tenants_plan, hdf) != ST_OK) {
		hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (c.failed || dash_set(hdf, "Page.Title", "Tenants") < 0 ||
	    dash_set(hdf, "Page.Nav", "tenants") < 0 || dash_set(hdf, "Q", q) < 0 ||
	    dash_set_i64(hdf, "After", after) < 0 ||
	    (has_more && dash_set_i64(hdf, "Next", c.last) < 0) ||
	    (err && dash_set(hdf, "FormError", err) < 0) || dash_set(hdf, "Form.Slug", slug) < 0 ||
	    dash_set(hdf, "Form.Name", name) < 0 || dash_set(hdf, "Form.Plan", plan) < 0 ||
	    tenants_flash(r, hdf) < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, status, hdf, "tenants.cs");
}

PAGE_FN(page_tenants)
{
	(void)id;
	(void)m;
	if (!dash_is_staff()) {
		dash_error(r, 404, "No such page.");
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
		dash_error(r, 404, "No such page.");
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
	if (rc != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
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
	HDF *hdf = dash_page_new(r);

	if (hdf == NULL) {
		dash_error(r, 500, "Out of memory.");
		return;
	}
	if (store_plan_list(r->store, tenants_plan, hdf) != ST_OK) {
		hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (page_set_tenant(hdf, t) < 0 || dash_set(hdf, "Page.Title", t->name) < 0 ||
	    dash_set(hdf, "Page.Nav", "tenants") < 0 ||
	    dash_set(hdf, "Tenant.SuspendedReason", t->suspended_reason) < 0 ||
	    dash_set(hdf, "Tenant.Isolation", t->isolation) < 0 ||
	    dash_set(hdf, "Tenant.DataDb", t->data_db) < 0 ||
	    (t->migrating && dash_set(hdf, "Tenant.Migrating", "1") < 0) ||
	    dash_set_time(hdf, "Tenant.Created", t->created_at) < 0 ||
	    (err && dash_set(hdf, "FormError", err) < 0) ||
	    dash_set(hdf, "Form.Name", name ? name : t->name) < 0 ||
	    dash_set(hdf, "Form.Plan", plan ? plan : t->plan) < 0 || tenants_flash(r, hdf) < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, status, hdf, "tenant.cs");
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
	if (rc != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
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
	if (store_tenant_set_status(r->store, t.id, TENANT_SUSPENDED, reason) != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
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
	if (store_tenant_set_status(r->store, t.id, TENANT_ACTIVE, NULL) != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	dash_audit(r, t.id, "tenant.resume", target, "ok", NULL);
	tenant_done(r, &t, "resumed");
}
