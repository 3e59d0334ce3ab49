/*
 * limits.c: GET /v1/limits (the caller's effective limits) and the operator
 * view GET /admin/api/v1/tenants/{id-or-slug}/limits.
 *
 * DESIGN
 * Both answer the same shape, every limit with its value and where it came
 * from, so a tenant and an operator see the same explanation:
 *   {"object":"limits","tenant_id":N,"key_id":N,
 *    "limits":{"rpm":{"value":"60","source":"plan"}, ...}}
 * Values are the normalised text (USD as a decimal string, "0" or "" for
 * no limit). The tenant view reuses the limits authorization already
 * resolved for this request (id->lim); with enforcement off there are none,
 * and the limits are resolved directly, without the cache.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/util.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "tenancy/identify.h"

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
	o = json_pack("{s:s, s:I, s:I, s:o}", "object", "limits", "tenant_id",
	              (json_int_t)l->tenant_id, "key_id", (json_int_t)l->key_id, "limits", map);
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
