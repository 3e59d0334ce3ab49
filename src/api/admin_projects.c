/*
 * admin_projects.c: a tenant's projects, on the operator API and on the
 * tenant's self-service API (scope manage), one code path for both.
 *
 * DESIGN
 * A project is a budget level between a tenant and its keys
 * (docs/ENFORCEMENT.md section 3.9); this file creates, lists, renames and
 * deletes them, moves keys in and out, and sets a project's level limits,
 * with the same checks and audit rows as `agenthostctl project ...`.
 *   operator (id NULL)                                   tenant (id: its manage key)
 *   GET  /admin/api/v1/tenants/{t}/projects              GET  /v1/projects
 *   POST /admin/api/v1/tenants/{t}/projects  {"name"}    POST /v1/projects
 *   GET  /admin/api/v1/tenants/{t}/projects/{name}       GET  /v1/projects/{name}
 *   POST .../projects/{name}/rename  {"name"}            POST /v1/projects/{name}/rename
 *   POST .../projects/{name}/delete  limits go, keys stay POST /v1/projects/{name}/delete
 *   POST .../keys/{kid}/project  {"project": name|null}  POST /v1/keys/{kid}/project
 *   (limits: POST .../limits with "project", api/limits.c) GET|POST /v1/projects/{name}/limits
 * Each handler first resolves "whose" (struct proj_who): the operator's
 * tenant from the first path segment, or the calling key's tenant; the
 * remaining path parameters are the same for both. Audit rows name the
 * operator or the calling key's prefix. A tenant sets its projects' limits
 * within what its plan and settings give (api_limit_within, shared with its
 * keys' limits); an operator sets any valid value.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "store/limits.h"
#include "store/projects.h"
#include "store/store.h"
#include "tenancy/identify.h"

/* Whose projects a route is about, and where its own path parameters start. */
struct proj_who {
	struct tenant t;
	const struct ident *id; /* NULL: an operator */
	size_t p0;              /* index of the first parameter after the tenant's */
};

/* Resolve the tenant of the route into *w: 0, or -1 after the answer. */
static int proj_who(struct req *r, const struct ident *id, const struct route_match *m,
                    struct proj_who *w)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	if (id == NULL) {
		w->p0 = 1;
		return api_admin_tenant(r, m, &w->t);
	}
	w->t.id = id->tenant_id;
	util_strlcpy(w->t.slug, id->tenant_slug, sizeof(w->t.slug));
	return 0;
}

/* Path parameter i after the tenant's, or "" when the route has fewer. */
static const char *proj_param(const struct proj_who *w, const struct route_match *m, size_t i)
{
	return w->p0 + i < (size_t)m->n_params ? m->params[w->p0 + i] : "";
}

/* The audit row of an action of the operator or the calling key. */
static void proj_audit(struct req *r, const struct proj_who *w, const char *action,
                       const char *target, const char *detail)
{
	api_actor_audit(r, w->id, w->t.id, action, target, detail);
}

/* The project's JSON form. */
static json_t *project_json(const struct project *p)
{
	return json_pack("{s:s, s:I, s:I, s:s, s:I, s:I}", "object", "project", "id",
	                 (json_int_t)p->id, "tenant_id", (json_int_t)p->tenant_id, "name", p->name,
	                 "keys", (json_int_t)p->keys, "created_at", (json_int_t)p->created_at);
}

/* The tenant's project called name into *p; -1 after a 400/404/503. */
int api_admin_project(struct req *r, const struct tenant *t, const char *name, struct project *p)
{
	int rc;

	if (!valid_name(VALID_PROJECT, name)) {
		resp_error(r, R_invalid_request, "project: %s", valid_hint(VALID_PROJECT));
		return -1;
	}
	rc = store_project_get(r->store, t->id, name, p);
	if (rc == ST_NOTFOUND)
		resp_error(r, R_not_found, "no such project for this tenant");
	else if (rc != ST_OK)
		resp_error(r, R_database_unavailable, "the project store is unavailable");
	return rc == ST_OK ? 0 : -1;
}

/* The route's tenant and its project named by the first parameter after it; -1 after the answer. */
static int proj_target(struct req *r, const struct ident *id, const struct route_match *m,
                       struct proj_who *w, struct project *p)
{
	if (proj_who(r, id, m, w) < 0)
		return -1;
	return api_admin_project(r, &w->t, proj_param(w, m, 0), p);
}

int api_project_target(struct req *r, const struct ident *id, const struct route_match *m,
                       struct tenant *t, struct project *p, size_t *next)
{
	struct proj_who w;

	if (proj_target(r, id, m, &w, p) < 0)
		return -1;
	*t = w.t;
	*next = w.p0 + 1;
	return 0;
}

/* project_cb: append p to the JSON array ctx. */
static int project_collect(void *ctx, const struct project *p)
{
	return json_array_append_new(ctx, project_json(p));
}

void api_admin_projects_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct proj_who w;
	json_t *arr;

	if (proj_who(r, id, m, &w) < 0)
		return;
	arr = json_array();
	if (arr == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (store_project_list(r->store, w.t.id, project_collect, arr) != ST_OK) {
		json_decref(arr);
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", arr));
}

void api_admin_projects_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct proj_who w;
	struct project p;

	if (proj_target(r, id, m, &w, &p) == 0)
		resp_json(r, 200, project_json(&p));
}

/* "name" of body: a project name; NULL after a 400. */
static const char *proj_name_field(struct req *r, json_t *body)
{
	const char *name = json_string_value(json_object_get(body, "name"));

	if (!valid_name(VALID_PROJECT, name)) {
		resp_error_param(r, R_invalid_request, "name", "name: %s",
		                 valid_hint(VALID_PROJECT));
		return NULL;
	}
	return name;
}

void api_admin_projects_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct proj_who w;
	struct project p;
	json_t *body = NULL;
	const char *name;
	char target[48];
	int64_t pid = 0;
	int rc;

	if (proj_who(r, id, m, &w) < 0 || (body = req_json_object(r)) == NULL)
		return;
	if ((name = proj_name_field(r, body)) == NULL)
		goto out;
	rc = store_project_create(r->store, w.t.id, name, &pid);
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict, "this tenant already has a project called '%s'", name);
		goto out;
	}
	if (rc != ST_OK || store_project_get_id(r->store, w.t.id, pid, &p) != ST_OK) {
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		goto out;
	}
	snprintf(target, sizeof(target), "project:%lld", (long long)pid);
	proj_audit(r, &w, "project.create", target, NULL);
	resp_json(r, 201, project_json(&p));
out:
	json_decref(body);
}

void api_admin_projects_rename(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct proj_who w;
	struct project p;
	json_t *body = NULL, *detail;
	const char *name;
	char target[48], *text;
	int rc;

	if (proj_target(r, id, m, &w, &p) < 0 || (body = req_json_object(r)) == NULL)
		return;
	if ((name = proj_name_field(r, body)) == NULL)
		goto out;
	rc = strcmp(name, p.name) == 0 ? ST_OK : store_project_rename(r->store, w.t.id, p.id, name);
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict, "this tenant already has a project called '%s'", name);
		goto out;
	}
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no such project for this tenant");
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		goto out;
	}
	snprintf(target, sizeof(target), "project:%lld", (long long)p.id);
	detail = json_pack("{s:s, s:s}", "from", p.name, "to", name);
	text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	proj_audit(r, &w, "project.rename", target, text);
	free(text);
	json_decref(detail);
	util_strlcpy(p.name, name, sizeof(p.name));
	resp_json(r, 200, project_json(&p));
out:
	json_decref(body);
}

void api_admin_projects_delete(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct proj_who w;
	struct project p;
	char target[48];

	if (proj_target(r, id, m, &w, &p) < 0)
		return;
	if (store_project_delete(r->store, w.t.id, p.id) != ST_OK) {
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		return;
	}
	snprintf(target, sizeof(target), "project:%lld", (long long)p.id);
	proj_audit(r, &w, "project.delete", target, NULL);
	resp_json(r, 200,
	          json_pack("{s:s, s:I, s:s, s:b}", "object", "project", "id", (json_int_t)p.id,
	                    "name", p.name, "deleted", 1));
}

void api_admin_key_project(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct proj_who w;
	struct project p;
	struct api_key k;
	json_t *body = NULL, *jp;
	int64_t kid = 0;
	char target[48], detail[96];
	int rc;

	memset(&p, 0, sizeof(p));
	if (proj_who(r, id, m, &w) < 0)
		return;
	if (util_parse_i64(proj_param(&w, m, 0), 1, INT64_MAX, &kid) != 0 ||
	    (rc = store_key_get(r->store, w.t.id, kid, &k)) == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no such key for this tenant");
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the key cannot be read");
		return;
	}
	if ((body = req_json_object(r)) == NULL)
		return;
	jp = json_object_get(body, "project");
	if (jp == NULL || !(json_is_string(jp) || json_is_null(jp))) {
		resp_error_param(
		    r, R_invalid_request, "project",
		    "project: the name of one of the tenant's projects, or null for none");
		goto out;
	}
	if (json_is_string(jp) && api_admin_project(r, &w.t, json_string_value(jp), &p) < 0)
		goto out;
	rc = store_project_key_set(r->store, w.t.id, k.id, p.id);
	if (rc != ST_OK && rc != ST_NOTFOUND) {
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		goto out;
	}
	snprintf(target, sizeof(target), "key:%lld", (long long)k.id);
	snprintf(detail, sizeof(detail), "{\"project_id\":%lld}", (long long)p.id);
	proj_audit(r, &w, p.id ? "project.add_key" : "project.remove_key", target, detail);
	resp_json(r, 200,
	          json_pack("{s:I, s:o, s:o}", "key_id", (json_int_t)k.id, "project_id",
	                    p.id ? json_integer(p.id) : json_null(), "project",
	                    p.id ? json_string(p.name) : json_null()));
out:
	json_decref(body);
}

/* ------------------------------------------------------------------ a project's limits */

void api_projects_limits_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct proj_who w;
	struct project p;

	if (proj_target(r, id, m, &w, &p) == 0)
		api_project_limits_send(r, w.t.id, p.id);
}

/*
 * POST /v1/projects/{name}/limits {"budget_usd_daily": "5", "rpm": 60,
 * "allowed_models": null, ...}: the project's level, as the keys' limits
 * take theirs: every name and value checked (settable at a project, valid,
 * within the tenant's own values) before anything is written; null unsets.
 */
void api_projects_limits_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	char text[1024], norm[1024], err[256], who[64], target[96];
	struct limits *tl = NULL;
	struct proj_who w;
	struct project p;
	const char *name;
	json_t *body = NULL, *v, *detail = NULL;
	char *dump;
	int lid, rc;

	if (proj_target(r, id, m, &w, &p) < 0 || (body = req_json_object(r)) == NULL)
		return;
	tl = malloc(sizeof(*tl));
	detail = json_object();
	if (tl == NULL || detail == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (limits_resolve(r->store, w.t.id, 0, tl) < 0) {
		resp_error(r, R_database_unavailable, "the limits cannot be read");
		goto out;
	}
	if (json_object_size(body) == 0) {
		resp_error(r, R_invalid_request,
		           "name at least one limit of a project (budget_usd_daily, rpm, ...)");
		goto out;
	}
	json_object_foreach(body, name, v)
	{
		lid = limit_by_name(name);
		if (lid < 0 || !limit_settable(lid, LS_PROJECT)) {
			resp_error_param(r, R_invalid_request, name,
			                 "'%s' is not a limit of a project", name);
			goto out;
		}
		if (json_is_null(v))
			continue;
		if (api_limit_value(v, text, sizeof(text)) < 0) {
			resp_error_param(r, R_invalid_request, name,
			                 "'%s' must be a string, a number or null", name);
			goto out;
		}
		if (limit_validate(lid, text, norm, sizeof(norm), err, sizeof(err)) != 0 ||
		    limits_within(tl, lid, norm, err, sizeof(err)) != 0) {
			resp_error_param(r, R_invalid_request, name, "%s", err);
			goto out;
		}
	}
	snprintf(who, sizeof(who), "api_key:%s", id ? id->key_prefix : "");
	json_object_foreach(body, name, v)
	{
		lid = limit_by_name(name);
		if (json_is_null(v)) {
			rc = store_limit_unset(r->store, "project", p.id, name);
			if (rc == ST_NOTFOUND)
				rc = ST_OK;
			json_object_set_new(detail, name, json_null());
		} else {
			api_limit_value(v, text, sizeof(text));
			limit_validate(lid, text, norm, sizeof(norm), err, sizeof(err));
			rc = store_limit_set(r->store, "project", p.id, name, norm,
			                     id ? who : r->operator_id);
			json_object_set_new(detail, name, json_string(norm));
		}
		if (rc != ST_OK) {
			resp_error(r, R_database_unavailable, "the limit '%s' cannot be stored",
			           name);
			goto out;
		}
	}
	snprintf(target, sizeof(target), "project:%lld", (long long)p.id);
	dump = json_dumps(detail, JSON_COMPACT);
	proj_audit(r, &w, "project.limits", target, dump);
	free(dump);
	api_project_limits_send(r, w.t.id, p.id);
out:
	json_decref(detail);
	json_decref(body);
	free(tl);
}
