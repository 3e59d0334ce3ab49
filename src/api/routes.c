/*
 * routes.c: routes (docs/ROUTING.md) on the operator API and the tenant's
 * self-service API.
 *   GET  /admin/api/v1/tenants/{t}/routes                 a tenant's own routes
 *   POST /admin/api/v1/tenants/{t}/routes                 {"name", "targets"}: set
 *   POST /admin/api/v1/tenants/{t}/routes/{name}/delete
 *   GET  /admin/api/v1/plans/{p}/routes                   a plan's routes
 *   POST /admin/api/v1/plans/{p}/routes                   {"name", "targets"}: set
 *   POST /admin/api/v1/plans/{p}/routes/{name}/delete
 *   GET  /v1/routes                  (scope manage) the caller's routes in effect
 *   POST /v1/routes                  (scope manage) set one of its own
 *   POST /v1/routes/{name}/delete    (scope manage) delete one of its own
 *
 * DESIGN
 * One body shape everywhere: the name (a catalogue model or an alias, the
 * rule of a model name) and the targets, checked by exec/route.c (instances
 * of this host, catalogue chat models, credentials, tiers and weights) and
 * stored in their canonical form. Every change is an audit row
 * (route.set / route.delete) and a change-log entry (the store's), so every
 * process's route cache drops the old route.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "exec/route.h"
#include "host/http.h"
#include "store/limits.h"
#include "store/routes.h"
#include "tenancy/identify.h"

static const char *const route_owner_names[ROUTE__OWNERS] = {"plan", "tenant"};

/* Whose routes a request addresses. */
struct route_scope {
	enum route_owner owner;
	int64_t tenant_id; /* ROUTE_TENANT */
	char plan[32];     /* ROUTE_PLAN; also the tenant's plan for the tenant API's list */
};

/* A route as the API shows it (new reference, NULL when out of memory). */
static json_t *route_object(const struct route_row *row)
{
	json_t *targets = json_loads(row->targets, 0, NULL);

	return json_pack("{s:s, s:s, s:s, s:o, s:I}", "object", "route", "name", row->name, "owner",
	                 route_owner_names[row->owner], "targets", targets ? targets : json_array(),
	                 "updated_at", (json_int_t)row->updated_at);
}

struct route_list {
	json_t *data;
	int oom;
};

/* route_cb: one route into the list ctx (a tenant's own hides its plan's of that name). */
static int route_collect(void *ctx, const struct route_row *row)
{
	struct route_list *l = ctx;
	json_t *o, *v;
	size_t i;

	json_array_foreach(l->data, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "name")), row->name) == 0)
			return 0;
	}
	o = route_object(row);
	if (o == NULL || json_array_append_new(l->data, o) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

/* Send the routes of s (ROUTE_TENANT with both: its own, then its plan's). */
static void route_send_list(struct req *r, const struct route_scope *s, int with_plan)
{
	struct route_list l = {json_array(), 0};
	int rc = ST_OK;

	if (l.data == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	if (s->owner == ROUTE_TENANT)
		rc = store_route_list(r->store, ROUTE_TENANT, s->tenant_id, "", route_collect, &l);
	if (rc == ST_OK && (s->owner == ROUTE_PLAN || with_plan))
		rc = store_route_list(r->store, ROUTE_PLAN, 0, s->plan, route_collect, &l);
	if (rc != ST_OK)
		resp_error(r, R_database_unavailable, "the routes cannot be read");
	else if (l.oom)
		resp_error(r, R_internal_error, "out of memory");
	else
		resp_json(r, 200, json_pack("{s:s, s:O}", "object", "list", "data", l.data));
	json_decref(l.data);
}

/* One audit row of a route change by the caller (operator or tenant key). */
static void route_audit(struct req *r, const struct ident *id, const struct route_scope *s,
                        const char *action, const char *name, const char *detail)
{
	char target[200];

	if (s->owner == ROUTE_PLAN)
		snprintf(target, sizeof(target), "plan:%s/route:%s", s->plan, name);
	else
		snprintf(target, sizeof(target), "route:%s", name);
	api_actor_audit(r, id, s->owner == ROUTE_TENANT ? s->tenant_id : 0, action, target, detail);
}

/* POST {"name", "targets"}: check, store, answer the route. */
static void route_set(struct req *r, const struct ident *id, const struct route_scope *s)
{
	struct route_def *rt = NULL;
	struct route_row *row = NULL;
	char err[256], param[64] = "targets", *text = NULL;
	const char *name;
	json_t *body, *canon = NULL;
	int rc;

	if ((body = req_json_object(r)) == NULL)
		return;
	if (api_str(r, body, "name", 1, ROUTE_NAME_MAX, &name) < 0)
		goto out;
	if (!valid_name(VALID_MODEL, name)) {
		resp_error_param(r, R_invalid_request, "name", "'name' must be %s",
		                 valid_hint(VALID_MODEL));
		goto out;
	}
	rt = calloc(1, sizeof(*rt));
	row = calloc(1, sizeof(*row));
	if (rt == NULL || row == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		goto out;
	}
	if (route_parse(json_object_get(body, "targets"), rt, err, sizeof(err), param,
	                sizeof(param)) < 0) {
		resp_error_param(r, R_invalid_request, param, "%s", err);
		goto out;
	}
	if (route_check_models(r->store, rt, err, sizeof(err)) < 0) {
		resp_error_param(r, R_invalid_request, "targets", "%s", err);
		goto out;
	}
	canon = route_targets_json(rt);
	text = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
	if (text == NULL || strlen(text) > ROUTE_TARGETS_MAX) {
		resp_error(r, R_internal_error, "the targets cannot be stored");
		goto out;
	}
	rc = store_route_put(r->store, s->owner, s->tenant_id, s->plan, name, text);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no plan '%s'", s->plan);
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the route cannot be stored");
		goto out;
	}
	route_audit(r, id, s, "route.set", name, text);
	row->owner = s->owner;
	util_strlcpy(row->name, name, sizeof(row->name));
	util_strlcpy(row->targets, text, sizeof(row->targets));
	row->updated_at = util_unix_time();
	resp_json(r, 200, route_object(row));
out:
	free(text);
	json_decref(canon);
	free(rt);
	free(row);
	json_decref(body);
}

/* POST .../routes/{name}/delete */
static void route_delete(struct req *r, const struct ident *id, const struct route_scope *s,
                         const char *name)
{
	int rc;

	if (!valid_name(VALID_MODEL, name)) {
		resp_error(r, R_not_found, "no route '%.64s'", name);
		return;
	}
	rc = store_route_delete(r->store, s->owner, s->tenant_id, s->plan, name);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no route '%s'", name);
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the route cannot be deleted");
		return;
	}
	route_audit(r, id, s, "route.delete", name, "");
	resp_json(r, 200,
	          json_pack("{s:s, s:s, s:b}", "object", "route", "name", name, "deleted", 1));
}

/* The scope of an operator tenant route ({t} = params[0]). 0, or -1 after the 404. */
static int route_tenant_scope(struct req *r, const struct route_match *m, struct route_scope *s)
{
	struct tenant t;

	memset(s, 0, sizeof(*s));
	if (api_admin_tenant(r, m, &t) < 0)
		return -1;
	s->owner = ROUTE_TENANT;
	s->tenant_id = t.id;
	util_strlcpy(s->plan, t.plan, sizeof(s->plan));
	return 0;
}

/* The scope of an operator plan route ({p} = params[0]). 0, or -1 after the 404. */
static int route_plan_scope(struct req *r, const struct route_match *m, struct route_scope *s)
{
	struct plan p;
	int rc;

	memset(s, 0, sizeof(*s));
	s->owner = ROUTE_PLAN;
	rc = m->n_params > 0 && util_strlcpy(s->plan, m->params[0], sizeof(s->plan)) == 0
	         ? store_plan_get(r->store, s->plan, &p)
	         : ST_NOTFOUND;
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no plan '%.64s'", m->n_params > 0 ? m->params[0] : "");
		return -1;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the plans cannot be read");
		return -1;
	}
	return 0;
}

/* The tenant API's scope: the caller's tenant (and its plan). */
static void route_own_scope(const struct ident *id, struct route_scope *s)
{
	memset(s, 0, sizeof(*s));
	s->owner = ROUTE_TENANT;
	s->tenant_id = id->tenant_id;
	util_strlcpy(s->plan, id->plan, sizeof(s->plan));
}

void api_admin_tenant_routes(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	(void)id;
	if (route_tenant_scope(r, m, &s) == 0)
		route_send_list(r, &s, 0);
}

void api_admin_tenant_route_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	if (route_tenant_scope(r, m, &s) == 0)
		route_set(r, id, &s);
}

void api_admin_tenant_route_delete(struct req *r, const struct ident *id,
                                   const struct route_match *m)
{
	struct route_scope s;

	if (route_tenant_scope(r, m, &s) == 0)
		route_delete(r, id, &s, m->params[1]);
}

void api_admin_plan_routes(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	(void)id;
	if (route_plan_scope(r, m, &s) == 0)
		route_send_list(r, &s, 0);
}

void api_admin_plan_route_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	if (route_plan_scope(r, m, &s) == 0)
		route_set(r, id, &s);
}

void api_admin_plan_route_delete(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	if (route_plan_scope(r, m, &s) == 0)
		route_delete(r, id, &s, m->params[1]);
}

void api_routes_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	(void)m;
	route_own_scope(id, &s);
	route_send_list(r, &s, 1);
}

void api_routes_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	(void)m;
	route_own_scope(id, &s);
	route_set(r, id, &s);
}

void api_routes_delete(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct route_scope s;

	route_own_scope(id, &s);
	route_delete(r, id, &s, m->params[0]);
}

/* route_cb: an alias (a route name that is not a catalogue model) into the list ctx. */
static int route_alias_add(void *ctx, const struct route_row *row)
{
	struct route_list *l = ctx;
	json_t *v;
	size_t i;

	json_array_foreach(l->data, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "id")), row->name) == 0)
			return 0;
	}
	v = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", row->name, "object", "model", "created",
	              (json_int_t)row->updated_at, "owned_by", "agenthost", "route",
	              route_owner_names[row->owner]);
	if (v == NULL || json_array_append_new(l->data, v) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

int api_route_aliases(struct req *r, const struct ident *id, json_t *data)
{
	struct route_list l = {json_array(), 0};
	struct model m;
	json_t *v;
	size_t i;
	int rc = -1;

	if (l.data == NULL)
		return -1;
	if (store_route_list(r->store, ROUTE_TENANT, id->tenant_id, "", route_alias_add, &l) !=
	        ST_OK ||
	    store_route_list(r->store, ROUTE_PLAN, 0, id->plan, route_alias_add, &l) != ST_OK ||
	    l.oom)
		goto out;
	/* a route of a catalogue model is not an alias: the model is listed (or not) as such */
	json_array_foreach(l.data, i, v)
	{
		int mrc =
		    store_model_get(r->store, json_string_value(json_object_get(v, "id")), &m);

		if (mrc == ST_ERR)
			goto out;
		if (mrc == ST_NOTFOUND && json_array_append(data, v) != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(l.data);
	return rc;
}
