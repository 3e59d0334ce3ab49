/*
 * admin_usage.c: the operator API's metering endpoint,
 * GET /admin/api/v1/tenants/{id-or-slug}/usage?start=&end=&group_by=.
 *
 * DESIGN
 * The router has already checked the operator token (operator.c); this
 * handler only resolves the tenant named in the path and then serves
 * exactly the tenant's own report (api_usage_get) as that tenant, so the
 * operator and the tenant can never see different numbers for the same
 * range. The path names a tenant by numeric id or by slug; a slug made of
 * digits is found when no tenant has that id.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/util.h"
#include "host/http.h"
#include "store/store.h"
#include "tenancy/identify.h"

int api_admin_find_tenant(struct store *st, const char *s, struct tenant *t)
{
	int64_t id;
	int rc;

	if (util_parse_i64(s, 1, INT64_MAX, &id) == 0) {
		rc = store_tenant_get(st, id, t);
		if (rc != ST_NOTFOUND)
			return rc == ST_OK ? ST_OK : ST_ERR;
	}
	rc = store_tenant_get_by_slug(st, s, t);
	if (rc == ST_OK || rc == ST_NOTFOUND)
		return rc;
	return ST_ERR;
}

int api_admin_tenant(struct req *r, const struct route_match *m, struct tenant *t)
{
	int rc = m->n_params < 1 ? ST_NOTFOUND : api_admin_find_tenant(r->store, m->params[0], t);

	if (rc == ST_OK) {
		r->tenant_id = t->id;
		return 0;
	}
	if (rc == ST_NOTFOUND)
		resp_error(r, R_not_found, "tenant not found");
	else
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
	return -1;
}

void api_operator_audit(struct req *r, int64_t tenant_id, const char *action, const char *target,
                        const char *detail)
{
	struct audit_entry a;

	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	a.actor_type = "operator";
	a.actor_id = r->operator_id;
	a.action = action;
	a.target = target;
	a.outcome = "ok";
	a.request_id = r->request_id;
	a.ip = r->remote_addr;
	a.detail = detail;
	if (store_audit(r->store, &a) != ST_OK)
		log_warn("api: audit row %s failed", action);
}

void api_actor_audit(struct req *r, const struct ident *id, int64_t tenant_id, const char *action,
                     const char *target, const char *detail)
{
	struct audit_entry a;

	if (id == NULL || id->key_id == 0) {
		api_operator_audit(r, tenant_id, action, target, detail);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	a.actor_type = "api_key";
	a.actor_id = id->key_prefix;
	a.action = action;
	a.target = target;
	a.outcome = "ok";
	a.request_id = r->request_id;
	a.ip = r->remote_addr;
	a.detail = detail;
	a.end_user = r->end_user;
	if (store_audit(r->store, &a) != ST_OK)
		log_warn("api: audit row %s failed", action);
}

void api_admin_tenant_usage(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct ident as;
	struct tenant t;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	memset(&as, 0, sizeof(as));
	as.tenant_id = t.id;
	util_strlcpy(as.tenant_slug, t.slug, sizeof(as.tenant_slug));
	util_strlcpy(as.plan, t.plan, sizeof(as.plan));
	r->tenant_id = t.id;
	api_usage_get(r, &as, m);
}
