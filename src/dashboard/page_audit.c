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
#include "config.h"

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
	struct page *p;
	int64_t last;
};

static int audit_row(void *ctx, const struct dasht_audit_row *a)
{
	struct audit_ctx *c = ctx;
	struct page *p = c->p;

	page_row(p, "Rows");
	page_set_i64(p, ".Id", a->id);
	page_set_i64(p, ".TenantId", a->tenant_id);
	page_set(p, ".Tenant", a->tenant_slug);
	page_set(p, ".Actor", a->actor_id);
	page_set(p, ".ActorType", a->actor_type);
	page_set(p, ".Action", a->action);
	page_set(p, ".Target", a->target);
	page_set(p, ".Outcome", a->outcome);
	page_set(p, ".Reason", a->reason_code);
	page_set(p, ".Ip", a->ip);
	page_set_time(p, ".When", a->created_at);
	c->last = a->id;
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
	c.p = page_new(r, "Audit log", "audit");
	page_tenant_choices(r, c.p, f.tenant_id);
	c.last = 0;
	page_store(c.p, store_dasht_audit(r->store, &f, audit_row, &c, &has_more), NULL);
	if (f.tenant_id > 0)
		page_set_i64(c.p, "Filter.TenantId", f.tenant_id);
	page_set(c.p, "Filter.Action", action);
	page_set(c.p, "Filter.Outcome", outcome);
	if (f.before > 0)
		page_set_i64(c.p, "Filter.Before", f.before);
	if (has_more)
		page_set_i64(c.p, "Next", c.last);
	if (bad)
		page_set(c.p, "FormError",
		         "Filters take letters a-z, digits, '.', '_' and '-' only; the bad one was"
		         " ignored.");
	page_finish(c.p, bad ? 400 : 200, "audit.cs");
}
