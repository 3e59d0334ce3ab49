/*
 * page_routes.c: a tenant's routes (docs/ROUTING.md): the ones in effect
 * (its own, then its plan's), set or replace one of its own, delete one.
 *
 * DESIGN
 * The targets are the JSON array the API and `agenthostctl route set` take,
 * checked by the same exec/route.c code (route_parse, route_check_models)
 * and stored in their canonical form; the page shows each target as text
 * cells (escaped by render.c like every value). A bad form re-renders the
 * page with the reason and what was typed. Plan routes are shown read-only:
 * they are set with the operator API or the CLI. Writes are audited
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

static void rt_render(struct req *r, int status, const struct tenant *t, const char *err,
                      const char *name, const char *targets)
{
	struct page *p = page_new(r, "Routes", "routes");
	struct rt_ctx *c = calloc(1, sizeof(*c));
	char done[16];

	if (c == NULL) {
		page_nomem(p);
	} else {
		c->p = p;
		page_store(p, store_route_list(r->store, ROUTE_TENANT, t->id, "", rt_row, c), NULL);
		page_store(p, store_route_list(r->store, ROUTE_PLAN, 0, t->plan, rt_row, c), NULL);
		if (c->oom)
			page_nomem(p);
		free(c);
	}
	if (dash_query(r, "done", done, sizeof(done)) == 1) {
		if (strcmp(done, "set") == 0)
			page_set(p, "Flash", "Route saved: the tenant's next call uses it.");
		else if (strcmp(done, "deleted") == 0)
			page_set(p, "Flash", "Route deleted.");
	}
	page_set_tenant(p, t);
	if (err)
		page_set(p, "FormError", err);
	page_set(p, "Form.Name", name);
	page_set(p, "Form.Targets", targets);
	page_finish(p, status, "routes.cs");
}

PAGE_FN(page_routes)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	rt_render(r, 200, &t, NULL, "", "");
}

static void rt_done(struct req *r, const struct tenant *t, const char *done)
{
	char path[96];

	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/routes?done=%s", t->id, done);
	dash_redirect(r, path);
}

PAGE_FN(page_route_set)
{
	char name[ROUTE_NAME_MAX + 1], msg[300], err[256], param[64], target[ROUTE_NAME_MAX + 8];
	struct route_def *rt = NULL;
	char *form = NULL, *text = NULL;
	json_t *targets = NULL, *canon = NULL;
	struct tenant t;
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	form = calloc(1, RT_FORM_MAX);
	rt = calloc(1, sizeof(*rt));
	if (form == NULL || rt == NULL) {
		dash_unavailable(r);
		goto out;
	}
	if (dash_form(r, "name", name, sizeof(name)) != 1 || !valid_name(VALID_MODEL, name)) {
		snprintf(msg, sizeof(msg), "Name: %s.", valid_hint(VALID_MODEL));
		dash_form(r, "targets", form, RT_FORM_MAX);
		rt_render(r, 400, &t, msg, "", form);
		goto out;
	}
	if (dash_form(r, "targets", form, RT_FORM_MAX) != 1 ||
	    (targets = json_loads(form, 0, NULL)) == NULL) {
		rt_render(r, 400, &t, "Targets: a JSON array of targets, as in the example.", name,
		          form);
		goto out;
	}
	if (route_parse(targets, rt, err, sizeof(err), param, sizeof(param)) < 0 ||
	    route_check_models(r->store, rt, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "Targets: %s.", err);
		rt_render(r, 400, &t, msg, name, form);
		goto out;
	}
	canon = route_targets_json(rt);
	text = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
	if (text == NULL || strlen(text) > ROUTE_TARGETS_MAX) {
		rt_render(r, 400, &t, "Targets: too long to store.", name, form);
		goto out;
	}
	rc = store_route_put(r->store, ROUTE_TENANT, t.id, "", name, text);
	if (!dash_store_ok(r, rc, NULL))
		goto out;
	snprintf(target, sizeof(target), "route:%s", name);
	dash_audit(r, t.id, "route.set", target, "ok", NULL);
	rt_done(r, &t, "set");
out:
	free(text);
	json_decref(canon);
	json_decref(targets);
	free(form);
	free(rt);
}

PAGE_FN(page_route_delete)
{
	char name[ROUTE_NAME_MAX + 1], target[ROUTE_NAME_MAX + 8];
	struct tenant t;
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	if (dash_form(r, "name", name, sizeof(name)) != 1 || !valid_name(VALID_MODEL, name)) {
		rt_render(r, 400, &t, "No such route of this tenant.", "", "");
		return;
	}
	rc = store_route_delete(r->store, ROUTE_TENANT, t.id, "", name);
	if (rc == ST_NOTFOUND) {
		rt_render(r, 400, &t, "No such route of this tenant.", "", "");
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	snprintf(target, sizeof(target), "route:%s", name);
	dash_audit(r, t.id, "route.delete", target, "ok", NULL);
	rt_done(r, &t, "deleted");
}
