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
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dashboard/limits_form.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/limits.h"
#include "store/store.h"
#include "common/valid.h"

/* The message of a limits form that failed validation. */
static const char plans_unsaved[] = "Nothing was saved: correct the values marked below.";

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

static int plans_row(void *ctx, const struct admin_plan_row *pl)
{
	struct page *p = ctx;

	page_row(p, "Plans");
	page_set(p, ".Name", pl->plan.name);
	page_set(p, ".Description", pl->plan.description);
	page_set_time(p, ".Created", pl->plan.created_at);
	page_set_count(p, ".Tenants", pl->tenants);
	return 0;
}

/* The plans page with an optional form error and the values typed. */
static void plans_render(struct req *r, int status, const char *error, const char *name,
                         const char *desc)
{
	struct page *p = page_new(r, "Plans", "plans");

	page_store(p, store_admin_plans(r->store, plans_row, p), NULL);
	if (error)
		page_set(p, "FormError", error);
	page_set(p, "Form.Name", name);
	page_set(p, "Form.Description", desc);
	page_finish(p, status, "plans.cs");
}

PAGE_FN(page_plans)
{
	(void)id;
	(void)m;
	if (!dash_is_staff()) {
		dash_not_found(r, "page");
		return;
	}
	plans_render(r, 200, NULL, NULL, NULL);
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
	if (!valid_name(VALID_PLAN, name)) {
		plans_render(
		    r, 400,
		    "A plan name is 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter"
		    " or digit.",
		    name, desc);
		return;
	}
	rc = store_plan_create(r->store, name, desc, &pid);
	if (rc == ST_CONFLICT) {
		plans_render(r, 400, "A plan with this name exists already.", name, desc);
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	snprintf(target, sizeof(target), "plan:%s", name);
	dash_audit(r, 0, "plan.create", target, "ok", NULL);
	snprintf(path, sizeof(path), "/admin/plans/%s", name);
	dash_redirect(r, path);
}

/* The page of one plan; posted: the form failed validation (show inputs and errors). */
static void plan_render(struct req *r, int status, const struct plan *p, int posted,
                        const char *flash)
{
	struct page *pg = page_new(r, p->name, "plans");

	limits_form_fill(r, pg, LS_PLAN, p->id, p->name, posted);
	page_set(pg, "Plan.Name", p->name);
	page_set(pg, "Plan.Description", p->description);
	if (posted)
		page_set(pg, "FormError", plans_unsaved);
	if (flash)
		page_set(pg, "Flash", flash);
	page_finish(pg, status, "plan.cs");
}

/* Load the plan named in the URL, or send 404. */
static int plan_load(struct req *r, const struct route_match *m, struct plan *p)
{
	return dash_store_ok(r, store_plan_get(r->store, m->params[0], p), "plan") ? 0 : -1;
}

PAGE_FN(page_plan)
{
	struct plan p;
	char flash[64];

	(void)id;
	if (!dash_is_staff()) {
		dash_not_found(r, "page");
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
		dash_unavailable(r);
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
	int posted = strcmp(r->method, "POST") == 0; /* a save that failed validation */
	struct admin_global g;
	struct page *p;
	char flash[64];

	(void)id;
	(void)m;
	if (!dash_is_staff()) {
		dash_not_found(r, "page");
		return;
	}
	memset(&g, 0, sizeof(g));
	p = page_new(r, "Global limits", "global");
	if (page_store(p, store_admin_global(r->store, &g), NULL))
		limits_form_fill(r, p, LS_GLOBAL, 0, NULL, posted);
	if (saved_flash(r, flash, sizeof(flash)))
		page_set(p, "Flash", flash);
	page_set_money(p, "Global.DayCost", g.day_micros);
	page_set_money(p, "Global.MonthCost", g.month_micros);
	page_set_count(p, "Global.DayTokens", g.day_tokens);
	page_set_count(p, "Global.MonthTokens", g.month_tokens);
	if (posted)
		page_set(p, "FormError", plans_unsaved);
	page_finish(p, posted ? 400 : 200, "global.cs");
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
		dash_unavailable(r);
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
