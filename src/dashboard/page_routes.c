/*
 * page_routes.c: routes (docs/ROUTING.md). A tenant's: the ones in effect
 * (its own, then its plan's), set or replace one of its own, delete one
 * (operator, tenant_admin). A plan's: shown to staff, set and deleted by
 * operators.
 *
 * DESIGN
 * The targets are the JSON array the API and `agenthostctl route set` take,
 * checked by the same exec/route.c code (route_parse, route_check_models)
 * and stored in their canonical form; the page shows each target as text
 * text (escaped by render.c like every value). A bad form re-renders the
 * page with the reason and what was typed. On a tenant's page its plan's
 * routes are read-only (they are the plan page's). Writes are audited
 * (route.set / route.delete) and logged in change_log by the store.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/valid.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "exec/route.h"
#include "host/http.h"
#include "store/limits.h"
#include "store/routes.h"
#include "store/store.h"

#define RT_FORM_MAX (ROUTE_TARGETS_MAX + 1)

/* route_cb: one route into the page's Routes rows (a tenant's own hides its plan's). */
struct rt_ctx {
	struct page *p;
	char seen[64][ROUTE_NAME_MAX + 1]; /* names listed so far (own routes) */
	size_t n_seen;
	int oom;
};

static int rt_row(void *ctx, const struct route_row *row)
{
	struct rt_ctx *c = ctx;
	struct buf b = BUF_INIT;
	json_t *targets, *t;
	size_t i;

	for (i = 0; i < c->n_seen; i++)
		if (strcmp(c->seen[i], row->name) == 0)
			return 0;
	if (row->owner == ROUTE_TENANT && c->n_seen < ARRAY_SIZE(c->seen))
		util_strlcpy(c->seen[c->n_seen++], row->name, sizeof(c->seen[0]));
	page_row(c->p, "Routes");
	page_set(c->p, ".Name", row->name);
	page_set(c->p, ".Owner", row->owner == ROUTE_TENANT ? "tenant" : "plan");
	page_set_time(c->p, ".Updated", row->updated_at);
	/* one line per route: "tier, weight: provider / model, credential; ..." */
	targets = json_loads(row->targets, 0, NULL);
	json_array_foreach(targets, i, t)
	{
		const char *prov = json_string_value(json_object_get(t, "provider"));

		if (b.len && buf_puts(&b, "; ") < 0)
			c->oom = 1;
		if (buf_printf(&b, "%lld, %lld: %s / %s, %s",
		               (long long)json_integer_value(json_object_get(t, "tier")),
		               (long long)json_integer_value(json_object_get(t, "weight")),
		               prov ? prov : "(the model's)",
		               json_string_value(json_object_get(t, "model")),
		               json_string_value(json_object_get(t, "credential"))) < 0)
			c->oom = 1;
	}
	page_set(c->p, ".Targets", b.data);
	buf_free(&b);
	json_decref(targets);
	return 0;
}

/* Whose routes a page shows and changes. */
struct rt_scope {
	enum route_owner owner;
	struct tenant t;      /* ROUTE_TENANT */
	struct plan plan;     /* ROUTE_PLAN */
	int64_t audit_tenant; /* the tenant of the audit row, 0 for a plan */
	char base[128];       /* the page's path below the mount prefix */
};

static void rt_render(struct req *r, int status, const struct rt_scope *sc, const char *err,
                      const char *name, const char *targets)
{
	struct page *p = page_new(r, "Routes", sc->owner == ROUTE_TENANT ? "routes" : "plans");
	struct rt_ctx *c = calloc(1, sizeof(*c));
	char done[16];

	if (c == NULL) {
		page_nomem(p);
	} else {
		c->p = p;
		if (sc->owner == ROUTE_TENANT)
			page_store(
			    p, store_route_list(r->store, ROUTE_TENANT, sc->t.id, "", rt_row, c),
			    NULL);
		page_store(p,
		           store_route_list(r->store, ROUTE_PLAN, 0,
		                            sc->owner == ROUTE_TENANT ? sc->t.plan : sc->plan.name,
		                            rt_row, c),
		           NULL);
		if (c->oom)
			page_nomem(p);
		free(c);
	}
	if (dash_query(r, "done", done, sizeof(done)) == 1) {
		if (strcmp(done, "set") == 0)
			page_set(p, "Flash", "Route saved: the next call uses it.");
		else if (strcmp(done, "deleted") == 0)
			page_set(p, "Flash", "Route deleted.");
	}
	if (sc->owner == ROUTE_TENANT) {
		page_set_tenant(p, &sc->t);
		page_set(p, "Scope.Kind", "tenant");
		page_set(p, "Scope.Title", sc->t.name);
		page_set_i64(p, "Scope.CanWrite", 1);
	} else {
		page_set(p, "Scope.Kind", "plan");
		page_set(p, "Scope.Title", sc->plan.name);
		page_set(p, "Plan.Name", sc->plan.name);
		page_set_i64(p, "Scope.CanWrite", dash_is_operator());
	}
	page_set(p, "Scope.Base", sc->base);
	if (err)
		page_set(p, "FormError", err);
	page_set(p, "Form.Name", name);
	page_set(p, "Form.Targets", targets);
	page_finish(p, status, "routes.cs");
}

/* A tenant's scope from the URL ({t}); 0, or -1 after the 404 (or the role's refusal). */
static int rt_tenant_scope(struct req *r, const struct route_match *m, int write,
                           struct rt_scope *sc)
{
	memset(sc, 0, sizeof(*sc));
	if (!page_tenant_load(r, m, &sc->t) || (write && !page_may_write(r)))
		return -1;
	sc->owner = ROUTE_TENANT;
	sc->audit_tenant = sc->t.id;
	snprintf(sc->base, sizeof(sc->base), "/admin/tenants/%" PRId64 "/routes", sc->t.id);
	return 0;
}

/* A plan's scope from the URL ({p}): staff read, operators write. 0, or -1 after the answer. */
static int rt_plan_scope(struct req *r, const struct route_match *m, int write, struct rt_scope *sc)
{
	memset(sc, 0, sizeof(*sc));
	if (!dash_is_staff()) {
		dash_not_found(r, "page");
		return -1;
	}
	if (write && !dash_is_operator()) {
		dash_error(r, 403, "Only operators change plans.");
		return -1;
	}
	if (!dash_store_ok(r, store_plan_get(r->store, m->params[0], &sc->plan), "plan"))
		return -1;
	sc->owner = ROUTE_PLAN;
	snprintf(sc->base, sizeof(sc->base), "/admin/plans/%s/routes", sc->plan.name);
	return 0;
}

static void rt_done(struct req *r, const struct rt_scope *sc, const char *done)
{
	char path[160];

	snprintf(path, sizeof(path), "%s?done=%s", sc->base, done);
	dash_redirect(r, path);
}

/* POST name, targets: check, store, audit. */
static void rt_set(struct req *r, const struct rt_scope *sc)
{
	char name[ROUTE_NAME_MAX + 1], msg[300], err[256], param[64], target[ROUTE_NAME_MAX + 48];
	struct route_def *rt = NULL;
	char *form = NULL, *text = NULL;
	json_t *targets = NULL, *canon = NULL;
	int rc;

	form = calloc(1, RT_FORM_MAX);
	rt = calloc(1, sizeof(*rt));
	if (form == NULL || rt == NULL) {
		dash_unavailable(r);
		goto out;
	}
	if (dash_form(r, "name", name, sizeof(name)) != 1 || !valid_name(VALID_MODEL, name)) {
		snprintf(msg, sizeof(msg), "Name: %s.", valid_hint(VALID_MODEL));
		dash_form(r, "targets", form, RT_FORM_MAX);
		rt_render(r, 400, sc, msg, "", form);
		goto out;
	}
	if (dash_form(r, "targets", form, RT_FORM_MAX) != 1 ||
	    (targets = json_loads(form, 0, NULL)) == NULL) {
		rt_render(r, 400, sc, "Targets: a JSON array of targets, as in the example.", name,
		          form);
		goto out;
	}
	if (route_parse(targets, rt, err, sizeof(err), param, sizeof(param)) < 0 ||
	    route_check_models(r->store, rt, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "Targets: %s.", err);
		rt_render(r, 400, sc, msg, name, form);
		goto out;
	}
	canon = route_targets_json(rt);
	text = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
	if (text == NULL || strlen(text) > ROUTE_TARGETS_MAX) {
		rt_render(r, 400, sc, "Targets: too long to store.", name, form);
		goto out;
	}
	rc = store_route_put(r->store, sc->owner, sc->t.id, sc->plan.name, name, text);
	if (!dash_store_ok(r, rc, "plan"))
		goto out;
	if (sc->owner == ROUTE_PLAN)
		snprintf(target, sizeof(target), "plan:%s/route:%s", sc->plan.name, name);
	else
		snprintf(target, sizeof(target), "route:%s", name);
	dash_audit(r, sc->audit_tenant, "route.set", target, "ok", NULL);
	rt_done(r, sc, "set");
out:
	free(text);
	json_decref(canon);
	json_decref(targets);
	free(form);
	free(rt);
}

/* POST name: delete one route of the scope's own. */
static void rt_delete(struct req *r, const struct rt_scope *sc)
{
	char name[ROUTE_NAME_MAX + 1], target[ROUTE_NAME_MAX + 48];
	int rc;

	if (dash_form(r, "name", name, sizeof(name)) != 1 || !valid_name(VALID_MODEL, name)) {
		rt_render(r, 400, sc, "No such route here.", "", "");
		return;
	}
	rc = store_route_delete(r->store, sc->owner, sc->t.id, sc->plan.name, name);
	if (rc == ST_NOTFOUND) {
		rt_render(r, 400, sc, "No such route here.", "", "");
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	if (sc->owner == ROUTE_PLAN)
		snprintf(target, sizeof(target), "plan:%s/route:%s", sc->plan.name, name);
	else
		snprintf(target, sizeof(target), "route:%s", name);
	dash_audit(r, sc->audit_tenant, "route.delete", target, "ok", NULL);
	rt_done(r, sc, "deleted");
}

PAGE_FN(page_routes)
{
	struct rt_scope sc;

	(void)id;
	if (rt_tenant_scope(r, m, 0, &sc) == 0)
		rt_render(r, 200, &sc, NULL, "", "");
}

PAGE_FN(page_route_set)
{
	struct rt_scope sc;

	(void)id;
	if (rt_tenant_scope(r, m, 1, &sc) == 0)
		rt_set(r, &sc);
}

PAGE_FN(page_route_delete)
{
	struct rt_scope sc;

	(void)id;
	if (rt_tenant_scope(r, m, 1, &sc) == 0)
		rt_delete(r, &sc);
}

PAGE_FN(page_plan_routes)
{
	struct rt_scope sc;

	(void)id;
	if (rt_plan_scope(r, m, 0, &sc) == 0)
		rt_render(r, 200, &sc, NULL, "", "");
}

PAGE_FN(page_plan_route_set)
{
	struct rt_scope sc;

	(void)id;
	if (rt_plan_scope(r, m, 1, &sc) == 0)
		rt_set(r, &sc);
}

PAGE_FN(page_plan_route_delete)
{
	struct rt_scope sc;

	(void)id;
	if (rt_plan_scope(r, m, 1, &sc) == 0)
		rt_delete(r, &sc);
}
