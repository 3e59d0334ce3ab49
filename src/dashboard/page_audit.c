/*
 * page_audit.c: the audit log, newest first.
 *
 * DESIGN
 * Filters: tenant (?tenant_id=; forced to its own tenant for a
 * tenant_admin, whatever the URL says), action and outcome. Keyset pages of
 * 50 rows by audit id (?before=<id>), read through store_dasht_audit whose
 * queries follow an index for each filter shape. Filter values are checked
 * against a safe alphabet before they reach the store or the page.
 */
#include "dashboard/cs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/dash_tenants.h"
#include "store/store.h"

#define AUDIT_PAGE 50

struct audit_ctx {
	HDF *hdf;
	int n;
	int64_t last;
	int failed;
};

static int audit_row(void *ctx, const struct dasht_audit_row *a)
{
	struct audit_ctx *c = ctx;
	char k[48];
	int rc = 0;

#define SETK(field, fn, v)                                                                         \
	(snprintf(k, sizeof(k), "Rows.%d.%s", c->n, field), rc |= fn(c->hdf, k, v))
	SETK("Id", dash_set_i64, a->id);
	SETK("TenantId", dash_set_i64, a->tenant_id);
	SETK("Tenant", dash_set, a->tenant_slug);
	SETK("Actor", dash_set, a->actor_id);
	SETK("ActorType", dash_set, a->actor_type);
	SETK("Action", dash_set, a->action);
	SETK("Target", dash_set, a->target);
	SETK("Outcome", dash_set, a->outcome);
	SETK("Reason", dash_set, a->reason_code);
	SETK("Ip", dash_set, a->ip);
	SETK("When", dash_set_time, a->created_at);
#undef SETK
	if (rc)
		c->failed = 1;
	c->last = a->id;
	c->n++;
	return 0;
}

/* A filter value: [a-z0-9._-] only, else "" (with *bad set). */
static void audit_filter(const struct req *r, const char *name, char *out, size_t cap, int *bad)
{
	if (dash_query(r, name, out, cap) != 1) {
		out[0] = '\0';
		return;
	}
	for (const char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-')) {
			out[0] = '\0';
			*bad = 1;
			return;
		}
}

PAGE_FN(page_audit)
{
	const struct admin_session *s = dash_session();
	struct dasht_audit_filter f;
	struct audit_ctx c;
	char action[65], outcome[17];
	int has_more = 0, bad = 0;
	HDF *hdf;

	(void)id;
	(void)m;
	memset(&f, 0, sizeof(f));
	f.tenant_id = dash_query_id(r, "tenant_id");
	if (!dash_is_staff())
		f.tenant_id = s->user.tenant_id;
	else if (f.tenant_id > 0 && !dash_tenant_allowed(r, f.tenant_id))
		return;
	audit_filter(r, "action", action, sizeof(action), &bad);
	audit_filter(r, "outcome", outcome, sizeof(outcome), &bad);
	f.action = action;
	f.outcome = outcome;
	f.before = dash_query_id(r, "before");
	f.limit = AUDIT_PAGE;
	hdf = dash_page_new(r);
	if (hdf == NULL) {
		dash_error(r, 500, "Out of memory.");
		return;
	}
	memset(&c, 0, sizeof(c));
	c.hdf = hdf;
	if (store_dasht_audit(r->store, &f, audit_row, &c, &has_more) != ST_OK) {
		hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (c.failed || dash_set(hdf, "Page.Title", "Audit log") < 0 ||
	    dash_set(hdf, "Page.Nav", "audit") < 0 ||
	    (f.tenant_id > 0 && dash_set_i64(hdf, "Filter.TenantId", f.tenant_id) < 0) ||
	    dash_set(hdf, "Filter.Action", action) < 0 ||
	    dash_set(hdf, "Filter.Outcome", outcome) < 0 ||
	    (f.before > 0 && dash_set_i64(hdf, "Filter.Before", f.before) < 0) ||
	    (has_more && dash_set_i64(hdf, "Next", c.last) < 0) ||
	    (bad && dash_set(hdf, "FormError",
	                     "Filters take letters a-z, digits, '.', '_' and '-' only; the bad one"
	                     " was ignored.") < 0)) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, bad ? 400 : 200, hdf, "audit.cs");
}
