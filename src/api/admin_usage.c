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

void api_admin_tenant_usage(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct ident as;
	struct tenant t;
	int rc;

	(void)id;
	rc = api_admin_find_tenant(r->store, m->params[0], &t);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "tenant not found");
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable,
		           "the tenant store is unavailable; retry shortly");
		return;
	}
	memset(&as, 0, sizeof(as));
	as.tenant_id = t.id;
	util_strlcpy(as.tenant_slug, t.slug, sizeof(as.tenant_slug));
	util_strlcpy(as.plan, t.plan, sizeof(as.plan));
	r->tenant_id = t.id;
	api_usage_get(r, &as, m);
}
