/*
 * page_plans.c: plans and their limits (operator edits, support reads).
 *
 * DESIGN
 * A plan's page shows every limit a plan may set, with the value set on the
 * plan or the one it inherits (global, default) and its source; saving goes
 * through limits_form (all values validated before any is written). A plan
 * change reaches every tenant of the plan on every process within the limits
 * cache (LIMITS_CACHE_MS).
 */
#include "dashboard/cs.h"

#include <stdio.h>
#include <string.h>

#include "dashboard/limits_form.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/limits.h"
#include "store/store.h"

/* "Saved: N changes." from ?saved=N (digits only), into flash; 0 when absent. */
static int saved_flash(const struct req *r, char *flash, size_t cap)
{
	char saved[8];

	if (dash_query(r, "saved", saved, sizeof(saved)) != 1 || saved[0] == '\0' ||
	    strspn(saved, "0123456789") != strlen(saved))
		return 0;
	snprintf(flash, cap, "Saved: %s change%s.", saved, strcmp(saved, "1") == 0 ? "" : "s");
	return 1;
}

struct plans_list {
	HDF *hdf;
	int n, failed;
};

static int plans_row(void *ctx, const struct admin_plan_row *p)
{
	struct plans_list *l = ctx;
	char k[64];

#define SET(f, fn, v) (snprintf(k, sizeof(k), "Plans.%d." f, l->n), l->failed |= fn(l->hdf, k, v))
	SET("Name", dash_set, p->plan.name);
	SET("Description", dash_set, p->plan.description);
	SET("Created", dash_set_time, p->plan.created_at);
	SET("Tenants", dash_set_count, p->tenants);
#undef SET
	l->n++;
	return 0;
}

/* The plans page with an optional form error and the values typed. */
static void plans_render(struct req *r, int status, const char *error, const char *name,
                         const char *desc)
{
	HDF *hdf = dash_page_new(r);
	struct plans_list l = {hdf, 0, 0};

	if (hdf == NULL || store_admin_plans(r->store, plans_row, &l) != ST_OK) {
		if (hdf)
			hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (l.failed || dash_set(hdf, "Page.Title", "Plans") < 0 ||
	    dash_set(hdf, "Page.Nav", "plans") < 0 ||
	    (error && dash_set(hdf, "FormError", error) < 0) ||
	    dash_set(hdf, "Form.Name", name ? name : "") < 0 ||
	    dash_set(hdf, "Form.Description", desc ? desc : "") < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, status, hdf, "plans.cs");
}

PAGE_FN(page_plans)
{
	(void)id;
	(void)m;
	if (!dash_is_staff()) {
		dash_error(r, 404, "No such page.");
		return;
	}
	plans_render(r, 200, NULL, NULL, NULL);
}

/* Whether name can be a plan name (as the CLI accepts: a-z 0-9 _ -, 1..32). */
static int plan_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

PAGE_FN(page_plans_create)
{
	char name[64] = "", desc[256] = "", target[64], path[96];
	int64_t pid = 0;
	int rc;

	(void)id;
	(void)m;
	if (!dash_is_operator()) {
		dash_error(r, 403, "Only operators create plans.");
		return;
	}
	if (dash_form(r, "name", name, sizeof(name)) < 0 ||
	    dash_form(r, "description", desc, sizeof(desc)) < 0 || strlen(desc) > 200) {
		plans_render(r, 400, "The name or description is too long.", "", "");
		return;
	}
	if (!plan_name_ok(name)) {
		plans_render(r, 400, "A plan name is 1 to 32 of a-z, 0-9, '_' and '-'.", name,
		             desc);
		return;
	}
	rc = store_plan_create(r->store, name, desc, &pid);
	if (rc == ST_CONFLICT) {
		plans_render(r, 400, "A plan with this name exists already.", name, desc);
		return;
	}
	if (rc != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	snprintf(target, sizeof(target), "plan:%s", name);
	dash_audit(r, 0, "plan.create", target, "ok", NULL);
	snprintf(path, sizeof(path), "/admin/plans/%s", name);
	dash_redirect(r, path);
}

/* The page of one plan; posted: the form failed validation (show inputs and errors). */
static void plan_render(struct req *r, int status, const struct plan *p, int posted,
                        const char *flash)
{
	HDF *hdf = dash_page_new(r);

	if (hdf == NULL || limits_form_fill(r, hdf, LS_PLAN, p->id, p->name, posted) < 0) {
		if (hdf)
			hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (dash_set(hdf, "Page.Title", p->name) < 0 || dash_set(hdf, "Page.Nav", "plans") < 0 ||
	    dash_set(hdf, "Plan.Name", p->name) < 0 ||
	    dash_set(hdf, "Plan.Description", p->description) < 0 ||
	    (posted && dash_set(hdf, "FormError",
	                        "Nothing was saved: correct the values marked"
	                        " below.") < 0) ||
	    (flash && dash_set(hdf, "Flash", flash) < 0)) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, status, hdf, "plan.cs");
}

/* Load the plan named in the URL, or send 404. */
static int plan_load(struct req *r, const struct route_match *m, struct plan *p)
{
	int rc = store_plan_get(r->store, m->params[0], p);

	if (rc == ST_OK)
		return 0;
	if (rc == ST_NOTFOUND)
		dash_error(r, 404, "No such plan.");
	else
		dash_error(r, 503, "The database is not available; try again shortly.");
	return -1;
}

PAGE_FN(page_plan)
{
	struct plan p;
	char flash[64];

	(void)id;
	if (!dash_is_staff()) {
		dash_error(r, 404, "No such page.");
		return;
	}
	if (plan_load(r, m, &p) < 0)
		return;
	plan_render(r, 200, &p, 0, saved_flash(r, flash, sizeof(flash)) ? flash : NULL);
}

PAGE_FN(page_plan_save)
{
	struct plan p;
	char target[64], path[96];
	int changed = 0, rc;

	(void)id;
	if (!dash_is_operator()) {
		dash_error(r, 403, "Only operators change plans.");
		return;
	}
	if (plan_load(r, m, &p) < 0)
		return;
	rc = limits_form_apply(r, LS_PLAN, p.id, &changed);
	if (rc < 0) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (rc == 0) {
		plan_render(r, 400, &p, 1, NULL);
		return;
	}
	snprintf(target, sizeof(target), "plan:%s", p.name);
	if (changed)
		dash_audit(r, 0, "plan.limits", target, "ok", NULL);
	snprintf(path, sizeof(path), "/admin/plans/%s?saved=%d", p.name, changed);
	dash_redirect(r, path);
}

PAGE_FN(page_global)
{
	HDF *hdf = dash_page_new(r);
	struct admin_global g;
	char flash[64];

	(void)id;
	(void)m;
	if (!dash_is_staff()) {
		if (hdf)
			hdf_destroy(&hdf);
		dash_error(r, 404, "No such page.");
		return;
	}
	if (hdf == NULL || store_admin_global(r->store, &g) != ST_OK ||
	    limits_form_fill(r, hdf, LS_GLOBAL, 0, NULL, strcmp(r->method, "POST") == 0) < 0) {
		if (hdf)
			hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (saved_flash(r, flash, sizeof(flash)) && dash_set(hdf, "Flash", flash) < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	if (dash_set(hdf, "Page.Title", "Global limits") < 0 ||
	    dash_set(hdf, "Page.Nav", "global") < 0 ||
	    dash_set_money(hdf, "Global.DayCost", g.day_micros) < 0 ||
	    dash_set_money(hdf, "Global.MonthCost", g.month_micros) < 0 ||
	    dash_set_count(hdf, "Global.DayTokens", g.day_tokens) < 0 ||
	    dash_set_count(hdf, "Global.MonthTokens", g.month_tokens) < 0 ||
	    (strcmp(r->method, "POST") == 0 &&
	     dash_set(hdf, "FormError", "Nothing was saved: correct the values marked below.") <
	         0)) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, strcmp(r->method, "POST") == 0 ? 400 : 200, hdf, "global.cs");
}

PAGE_FN(page_global_save)
{
	char path[64];
	int changed = 0, rc;

	if (!dash_is_operator()) {
		dash_error(r, 403, "Only operators change global limits.");
		return;
	}
	rc = limits_form_apply(r, LS_GLOBAL, 0, &changed);
	if (rc < 0) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (rc == 0) {
		page_global(r, id, m); /* re-render with the errors, status 400 */
		return;
	}
	if (changed)
		dash_audit(r, 0, "global.limits", "global", "ok", NULL);
	snprintf(path, sizeof(path), "/admin/global?saved=%d", changed);
	dash_redirect(r, path);
}
