/*
 * admin_projects.c: a tenant's projects on the operator API.
 *
 * DESIGN
 * A project is a budget level between a tenant and its keys
 * (docs/ENFORCEMENT.md section 3.9); this file creates, lists and deletes
 * them and moves keys in and out, with the same checks and audit rows as
 * `agenthostctl project ...`. Their limits are set through POST
 * .../limits with "project" (api/limits.c).
 *   GET  /admin/api/v1/tenants/{t}/projects               the list
 *   POST /admin/api/v1/tenants/{t}/projects               {"name"}: create (201)
 *   POST /admin/api/v1/tenants/{t}/projects/{name}/delete its limits go, its keys stay
 *   POST /admin/api/v1/tenants/{t}/keys/{kid}/project     {"project": name | null}
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "host/http.h"
#include "store/projects.h"
#include "store/store.h"

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

/* project_cb: append p to the JSON array ctx. */
static int project_collect(void *ctx, const struct project *p)
{
	return json_array_append_new(ctx, project_json(p));
}

void api_admin_projects_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tenant t;
	json_t *arr;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	arr = json_array();
	if (arr == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (store_project_list(r->store, t.id, project_collect, arr) != ST_OK) {
		json_decref(arr);
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", arr));
}

void api_admin_projects_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tenant t;
	struct project p;
	json_t *body = NULL;
	const char *name;
	char target[48];
	int64_t pid = 0;
	int rc;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0 || (body = req_json_object(r)) == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (!valid_name(VALID_PROJECT, name)) {
		resp_error(r, R_invalid_request, "name: %s", valid_hint(VALID_PROJECT));
		goto out;
	}
	rc = store_project_create(r->store, t.id, name, &pid);
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict, "this tenant already has a project called '%s'", name);
		goto out;
	}
	if (rc != ST_OK || store_project_get_id(r->store, t.id, pid, &p) != ST_OK) {
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		goto out;
	}
	snprintf(target, sizeof(target), "project:%lld", (long long)pid);
	api_operator_audit(r, t.id, "project.create", target, NULL);
	resp_json(r, 201, project_json(&p));
out:
	json_decref(body);
}

void api_admin_projects_delete(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tenant t;
	struct project p;
	char target[48];

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0 || m->n_params < 2 ||
	    api_admin_project(r, &t, m->params[1], &p) < 0)
		return;
	if (store_project_delete(r->store, t.id, p.id) != ST_OK) {
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		return;
	}
	snprintf(target, sizeof(target), "project:%lld", (long long)p.id);
	api_operator_audit(r, t.id, "project.delete", target, NULL);
	resp_json(r, 200,
	          json_pack("{s:s, s:I, s:s, s:b}", "object", "project", "id", (json_int_t)p.id,
	                    "name", p.name, "deleted", 1));
}

void api_admin_key_project(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tenant t;
	struct project p;
	struct api_key k;
	json_t *body = NULL, *jp;
	int64_t kid = 0;
	char target[48], detail[96];
	int rc;

	(void)id;
	memset(&p, 0, sizeof(p));
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	if (m->n_params < 2 || util_parse_i64(m->params[1], 1, INT64_MAX, &kid) != 0 ||
	    (rc = store_key_get(r->store, t.id, kid, &k)) == ST_NOTFOUND) {
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
		resp_error(r, R_invalid_request,
		           "project: the name of one of the tenant's projects, or null for none");
		goto out;
	}
	if (json_is_string(jp) && api_admin_project(r, &t, json_string_value(jp), &p) < 0)
		goto out;
	rc = store_project_key_set(r->store, t.id, k.id, p.id);
	if (rc != ST_OK && rc != ST_NOTFOUND) {
		resp_error(r, R_database_unavailable, "the project store is unavailable");
		goto out;
	}
	snprintf(target, sizeof(target), "key:%lld", (long long)k.id);
	snprintf(detail, sizeof(detail), "{\"project_id\":%lld}", (long long)p.id);
	api_operator_audit(r, t.id, p.id ? "project.add_key" : "project.remove_key", target,
	                   detail);
	resp_json(r, 200,
	          json_pack("{s:I, s:o, s:o}", "key_id", (json_int_t)k.id, "project_id",
	                    p.id ? json_integer(p.id) : json_null(), "project",
	                    p.id ? json_string(p.name) : json_null()));
out:
	json_decref(body);
}
