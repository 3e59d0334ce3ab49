/*
 * limits.c: GET /v1/limits (the caller's effective limits) and the operator
 * view GET /admin/api/v1/tenants/{id-or-slug}/limits.
 *
 * DESIGN
 * Both answer the same shape, every limit with its value and where it came
 * from, so a tenant and an operator see the same explanation:
 *   {"object":"limits","tenant_id":N,"key_id":N,
 *    "limits":{"rpm":{"value":"60","source":"plan"}, ...},
 *    "key_level":{"budget_usd_daily":{"value":"1","source":"key"}, ...}}
 * key_level is the calling key's own level (enforce/limits.h): limits a
 * call must fit besides the tenant's, not instead of them.
 * Values are the normalised text (USD as a decimal string, "0" or "" for
 * no limit). The tenant view reuses the limits authorization already
 * resolved for this request (id->lim); with enforcement off there are none,
 * and the limits are resolved directly, without the cache.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/limits.h"
#include "enforce/limits_rows.h"
#include "host/http.h"
#include "store/limits.h"
#include "store/projects.h"
#include "tenancy/identify.h"

/*
 * One level of a key (l->key or l->project; new reference): every level
 * limit with the value that level set ("" and source "default" when none).
 */
json_t *limits_level_json(const struct limit_value *lv, int level)
{
	const struct limit_def *defs = limit_defs();
	json_t *map = json_object();

	for (int i = 0; map != NULL && i < LV__MAX; i++) {
		json_t *v;

		if (!limit_settable(limit_level_id(i), (enum limit_scope)level))
			continue; /* not a limit of this level (a key's rates are key_*) */
		v = json_pack("{s:s, s:s}", "value", lv[i].text, "source",
		              limit_scope_name(lv[i].source));

		if (v == NULL || json_object_set_new(map, defs[limit_level_id(i)].name, v) != 0) {
			json_decref(map);
			return NULL;
		}
	}
	return map;
}

/*
 * The tenant's tags with budgets (new reference):
 * [{"tag":"department=research","budget_usd_monthly":"50",...}], each with
 * the limits set at it ("budget_enforcement" and "alert_thresholds" "" when
 * the tenant's applies).
 */
json_t *limits_tags_json(const struct limits *l)
{
	const struct limit_def *defs = limit_defs();
	json_t *arr = json_array();

	for (int i = 0; arr != NULL && i < l->ntags; i++) {
		const struct limit_tag *g = &l->tags[i];
		json_t *o = json_pack("{s:I, s:s++}", "id", (json_int_t)g->id, "tag", g->key, "=",
		                      g->value);

		for (int lv = 0; o != NULL && lv < LV__MAX; lv++) {
			int id = limit_level_id(lv);
			char v[sizeof(g->alerts)] = "";

			if (!limit_settable(id, LS_TAG))
				continue;
			if (g->set[lv] && lv == LV_BUDGET_ENFORCEMENT)
				snprintf(v, sizeof(v), "%s", g->hard ? "hard" : "soft");
			else if (lv == LV_ALERT_THRESHOLDS)
				snprintf(v, sizeof(v), "%s", g->set[lv] ? g->alerts : "");
			else if (g->set[lv] && defs[id].type == LT_USD)
				limit_format_usd(g->num[lv], v, sizeof(v));
			else if (g->set[lv])
				snprintf(v, sizeof(v), "%lld", (long long)g->num[lv]);
			else if (lv != LV_BUDGET_ENFORCEMENT)
				snprintf(v, sizeof(v), "0");
			if (json_object_set_new(o, defs[id].name, json_string(v)) != 0) {
				json_decref(o);
				o = NULL;
			}
		}
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* The response body for l (new reference), or NULL when out of memory. */
static json_t *limits_json(const struct limits *l)
{
	const struct limit_def *defs = limit_defs();
	json_t *map = json_object(), *o;

	if (map == NULL)
		return NULL;
	for (int i = 0; i < LIM__MAX; i++) {
		json_t *v = json_pack("{s:s, s:s}", "value", l->v[i].text, "source",
		                      limit_scope_name(l->v[i].source));

		if (v == NULL || json_object_set_new(map, defs[i].name, v) != 0) {
			json_decref(map);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "object", "limits", "tenant_id",
	              (json_int_t)l->tenant_id, "key_id", (json_int_t)l->key_id, "limits", map,
	              "project_id", l->project_id ? json_integer(l->project_id) : json_null(),
	              "project_level", limits_level_json(l->project, LS_PROJECT), "key_level",
	              limits_level_json(l->key, LS_KEY), "tags", limits_tags_json(l));
	return o;
}

void api_limits_send(struct req *r, const struct limits *l)
{
	json_t *body = limits_json(l);

	if (body == NULL) {
		resp_error(r, R_internal_error, "cannot build the response");
		return;
	}
	resp_json(r, 200, body);
}

/*
 * GET /v1/limits: the calling tenant's limits plus the calling key's key_*
 * limits, each with its source.
 */
void api_limits_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct limits *l;

	(void)m;
	if (id->lim != NULL) {
		api_limits_send(r, id->lim);
		return;
	}
	l = malloc(sizeof(*l));
	if (l == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (limits_resolve(r->store, id->tenant_id, id->key_id, l) < 0)
		resp_error(r, R_database_unavailable, "the limits cannot be read");
	else
		api_limits_send(r, l);
	free(l);
}

/*
 * GET /admin/api/v1/tenants/{id-or-slug}/limits[?key_id=N]: any tenant's
 * limits (and one of its keys' key_* limits). 404 not_found for an unknown
 * tenant or a key that is not the tenant's.
 */
void api_admin_tenant_limits(struct req *r, const struct ident *id, const struct route_match *m)
{
	char kq[32];
	struct tenant t;
	struct api_key k;
	struct limits *l = NULL;
	int64_t tid, key_id = 0;
	int rc;

	(void)id;
	if (m->n_params < 1) {
		resp_error(r, R_not_found, "no such tenant");
		return;
	}
	if (util_parse_i64(m->params[0], 1, INT64_MAX, &tid) == 0)
		rc = store_tenant_get(r->store, tid, &t);
	else
		rc = store_tenant_get_by_slug(r->store, m->params[0], &t);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no such tenant");
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant cannot be read");
		return;
	}
	rc = req_query(r, "key_id", kq, sizeof(kq));
	if (rc < 0 || (rc == 1 && util_parse_i64(kq, 1, INT64_MAX, &key_id) != 0)) {
		resp_error(r, R_invalid_request, "key_id must be a positive integer");
		return;
	}
	if (key_id != 0) {
		rc = store_key_get(r->store, t.id, key_id, &k);
		if (rc == ST_NOTFOUND) {
			resp_error(r, R_not_found, "no such key for this tenant");
			return;
		}
		if (rc != ST_OK) {
			resp_error(r, R_database_unavailable, "the key cannot be read");
			return;
		}
	}
	l = malloc(sizeof(*l));
	if (l == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (limits_resolve(r->store, t.id, key_id, l) < 0)
		resp_error(r, R_database_unavailable, "the limits cannot be read");
	else
		api_limits_send(r, l);
	free(l);
}

/* limit_row_cb: a project's own row into the project level of the struct limits ctx. */
static int limits_project_row(void *ctx, const struct limit_row *row)
{
	struct limits *l = ctx;

	l->project_id = row->scope_id;
	limits_apply(l, LS_PROJECT, row->name, row->value);
	return 0;
}

int api_limit_value(const json_t *v, char *out, size_t cap)
{
	if (json_is_integer(v))
		snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_string(v))
		util_strlcpy(out, json_string_value(v), cap);
	else
		return -1;
	return 0;
}

/* The tenant's limits with project_id's level into *l: 0, or -1 when the store failed. */
static int limits_of_project(struct store *st, int64_t tenant_id, int64_t project_id,
                             struct limits *l)
{
	if (limits_resolve(st, tenant_id, 0, l) < 0 ||
	    store_limits_list(st, "project", project_id, limits_project_row, l) != ST_OK)
		return -1;
	l->project_id = project_id;
	return 0;
}

void api_project_limits_send(struct req *r, int64_t tenant_id, int64_t project_id)
{
	struct limits *l = malloc(sizeof(*l));

	if (l == NULL)
		resp_error(r, R_server_busy, "out of memory");
	else if (limits_of_project(r->store, tenant_id, project_id, l) < 0)
		resp_error(r, R_database_unavailable, "the limits cannot be read");
	else
		api_limits_send(r, l);
	free(l);
}

/*
 * POST /admin/api/v1/tenants/{id-or-slug}/limits: set or unset one limit of
 * the tenant, or of one of its keys.
 *   {"name":"budget_usd_daily","value":"1.5"[,"key_id":12]}   set
 *   {"name":"budget_usd_daily","value":null[,"key_id":12]}    unset
 *   {"name":"budget_usd_daily","value":"50","project":"research"}
 *   {"name":"budget_usd_monthly","value":"50","tag":"department=research"}
 * (one of key_id, project, tag). The answer for a tag is the tenant's limits
 * with its "tags" (each tag's budgets).
 * At a key, key_* limits replace the tenant's value for that key, and the
 * level limits (budgets, budget_enforcement, allowed_models) are the key's
 * own level, enforced besides the tenant's; at a project, the level limits
 * are the project's level. The value is validated like the CLI's; the
 * answer is the effective limits of the scope (as GET; for a project, the
 * tenant's with the project's level).
 */
void api_admin_tenant_limit_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	char value[STORE_LIMIT_VALUE_MAX + 1], err[256], target[128], detail[1400];
	json_t *body = NULL, *jv, *jk, *jp, *jt;
	const char *name, *scope;
	struct limits *l = NULL;
	struct tenant t;
	struct api_key k;
	struct project p;
	int64_t key_id = 0, scope_id, tag_id = 0;
	enum limit_scope ls;
	int lid, rc, unset;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	if ((body = req_json_object(r)) == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	jv = json_object_get(body, "value");
	jk = json_object_get(body, "key_id");
	jp = json_object_get(body, "project");
	memset(&p, 0, sizeof(p));
	if (name == NULL || (lid = limit_by_name(name)) < 0) {
		resp_error(r, R_invalid_request,
		           "name: the name of a limit (GET .../limits lists them)");
		goto out;
	}
	if (jv == NULL || !(json_is_string(jv) || json_is_null(jv))) {
		resp_error(r, R_invalid_request, "value: a string, or null to unset");
		goto out;
	}
	if (jk != NULL && (!json_is_integer(jk) || (key_id = json_integer_value(jk)) < 1)) {
		resp_error(r, R_invalid_request, "key_id must be a positive integer");
		goto out;
	}
	if (key_id != 0) {
		rc = store_key_get(r->store, t.id, key_id, &k);
		if (rc == ST_NOTFOUND) {
			resp_error(r, R_not_found, "no such key for this tenant");
			goto out;
		}
		if (rc != ST_OK) {
			resp_error(r, R_database_unavailable, "the key cannot be read");
			goto out;
		}
	}
	jt = json_object_get(body, "tag");
	if (jt != NULL) { /* a tag's budgets: made when first set */
		char tk[LIMITS_TAG_KEY_MAX + 1], tv[LIMITS_TAG_VALUE_MAX + 1];

		if (key_id != 0 || jp != NULL || !json_is_string(jt) ||
		    limits_tag_parse(json_string_value(jt), tk, tv, err, sizeof(err)) < 0) {
			resp_error(r, R_invalid_request,
			           "tag: KEY=VALUE of A-Z a-z 0-9 . _ : / @ - (not with key_id or"
			           " project)");
			goto out;
		}
		if (!limit_settable(lid, LS_TAG)) {
			resp_error(r, R_invalid_request,
			           "limit '%s' cannot be set at the tag scope", name);
			goto out;
		}
		rc = json_is_null(jv) ? store_tag_get(r->store, t.id, tk, tv, &tag_id)
		                      : store_tag_ensure(r->store, t.id, tk, tv, &tag_id);
		if (rc != ST_OK && rc != ST_NOTFOUND) {
			resp_error(r, R_database_unavailable, "the tag cannot be stored");
			goto out;
		}
	}
	if (jp != NULL) {
		if (key_id != 0 || !json_is_string(jp)) {
			resp_error(
			    r, R_invalid_request,
			    "project: the name of one of the tenant's projects (not with key_id)");
			goto out;
		}
		if (api_admin_project(r, &t, json_string_value(jp), &p) < 0)
			goto out;
	}
	ls = key_id ? LS_KEY : p.id ? LS_PROJECT : jt ? LS_TAG : LS_TENANT;
	scope = limit_scope_name(ls);
	scope_id = key_id ? key_id : p.id ? p.id : jt ? tag_id : t.id;
	if (!limit_settable(lid, ls)) {
		resp_error(r, R_invalid_request, "limit '%s' cannot be set at the %s scope", name,
		           scope);
		goto out;
	}
	unset = json_is_null(jv);
	if (!unset && limit_validate(lid, json_string_value(jv), value, sizeof(value), err,
	                             sizeof(err)) != 0) {
		resp_error(r, R_invalid_request, "%s", err);
		goto out;
	}
	rc = unset && ls == LS_TAG && tag_id == 0 ? ST_NOTFOUND /* no such tag: nothing set */
	     : unset ? store_limit_unset(r->store, scope, scope_id, name)
	             : store_limit_set(r->store, scope, scope_id, name, value, r->operator_id);
	if (rc != ST_OK && rc != ST_NOTFOUND) {
		resp_error(r, R_database_unavailable, "the limit cannot be stored");
		goto out;
	}
	snprintf(target, sizeof(target), "limit:%s:%lld:%s", scope, (long long)scope_id, name);
	if (unset)
		snprintf(detail, sizeof(detail), "{\"scope\":\"%s\",\"scope_id\":%lld}", scope,
		         (long long)scope_id);
	else
		snprintf(detail, sizeof(detail),
		         "{\"scope\":\"%s\",\"scope_id\":%lld,\"value\":\"%s\"}", scope,
		         (long long)scope_id, value); /* normalised: no quote or backslash */
	{
		struct audit_entry a;

		memset(&a, 0, sizeof(a));
		a.tenant_id = t.id;
		a.actor_type = "operator";
		a.actor_id = r->operator_id;
		a.action = unset ? "limit.unset" : "limit.set";
		a.target = target;
		a.outcome = "ok";
		a.request_id = r->request_id;
		a.ip = r->remote_addr;
		a.detail = detail;
		if (store_audit(r->store, &a) != ST_OK)
			log_warn("api: audit row %s failed", a.action);
	}
	if (p.id != 0) {
		api_project_limits_send(r, t.id, p.id);
		goto out;
	}
	l = malloc(sizeof(*l));
	if (l == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (limits_resolve(r->store, t.id, key_id, l) < 0)
		resp_error(r, R_database_unavailable, "the limits cannot be read");
	else
		api_limits_send(r, l);
out:
	free(l);
	json_decref(body);
}
