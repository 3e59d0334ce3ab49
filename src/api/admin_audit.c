/*
 * admin_audit.c: the audit log on the operator API.
 *   GET /admin/api/v1/audit?tenant=&action=&actor=&actor_type=&outcome=&limit=&cursor=
 *
 * DESIGN
 * Newest first, keyset-paginated on the row id (cursor = the last id of
 * the previous page: the next page is the rows below it), so a page costs
 * the same however long the log is; one tenant's rows use the
 * (tenant_id, id) index. The filters are exact matches. Rows are shown as
 * stored: identifiers only, never secrets (store_audit's callers never
 * pass any).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/valid.h"
#include "host/http.h"
#include "store/store.h"

/* A string field, or JSON null when empty. */
static json_t *audit_opt(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

struct audit_list {
	json_t *data;
	int64_t last_id;
	int oom;
};

/* audit_row_cb: one row into the list. */
static int audit_collect(void *ctx, const struct audit_row *a)
{
	struct audit_list *l = ctx;
	json_t *detail = a->detail[0] ? json_loads(a->detail, 0, NULL) : NULL;
	json_t *o;

	if (a->detail[0] && detail == NULL)
		detail = json_string(a->detail); /* not JSON: shown as the text stored */
	o = json_pack("{s:s, s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I}",
	              "object", "audit_entry", "id", (json_int_t)a->id, "tenant_id",
	              a->tenant_id ? json_integer(a->tenant_id) : json_null(), "actor_type",
	              a->actor_type, "actor_id", a->actor_id, "action", a->action, "target",
	              a->target, "outcome", a->outcome, "reason_code", audit_opt(a->reason_code),
	              "request_id", audit_opt(a->request_id), "ip", audit_opt(a->ip), "end_user",
	              audit_opt(a->end_user), "detail", detail ? detail : json_null(), "created_at",
	              (json_int_t)a->created_at);
	if (o == NULL || json_array_append_new(l->data, o) != 0) {
		l->oom = 1;
		return 1;
	}
	l->last_id = a->id;
	return 0;
}

/* Query parameter name (at most max bytes of text) into out ("" when absent). 0, or -1 after a 400.
 */
static int audit_param(struct req *r, const char *name, char *out, size_t cap, size_t max)
{
	int rc = req_query(r, name, out, cap);

	if (rc == 0) {
		out[0] = '\0';
		return 0;
	}
	if (rc < 0 || !valid_text(out, max, 0)) {
		resp_error_param(r, R_invalid_request, name,
		                 "'%s': at most %zu bytes of text without control characters", name,
		                 max);
		return -1;
	}
	return 0;
}

void api_admin_audit(struct req *r, const struct ident *id, const struct route_match *m)
{
	char tenant[80], action[80], actor[120], atype[32], outcome[32], cursor[24], *end;
	struct audit_list l = {NULL, 0, 0};
	struct audit_filter f;
	struct tenant t;
	int has_more = 0, rc;

	(void)id;
	(void)m;
	memset(&f, 0, sizeof(f));
	if (api_limit(r, 50, 100, &f.limit) < 0 ||
	    audit_param(r, "tenant", tenant, sizeof(tenant), 64) < 0 ||
	    audit_param(r, "action", action, sizeof(action), 64) < 0 ||
	    audit_param(r, "actor", actor, sizeof(actor), 100) < 0 ||
	    audit_param(r, "actor_type", atype, sizeof(atype), 16) < 0 ||
	    audit_param(r, "outcome", outcome, sizeof(outcome), 16) < 0)
		return;
	if ((rc = req_query(r, "cursor", cursor, sizeof(cursor))) < 0 ||
	    (rc > 0 && ((f.before = strtoll(cursor, &end, 10)) <= 0 || *end != '\0'))) {
		resp_error(r, R_invalid_cursor, "'cursor' is not a cursor from this list");
		return;
	}
	if (tenant[0]) {
		rc = api_admin_find_tenant(r->store, tenant, &t);
		if (rc == ST_NOTFOUND) {
			resp_error_param(r, R_not_found, "tenant", "no such tenant");
			return;
		}
		if (rc != ST_OK) {
			resp_error(r, R_database_unavailable, "the tenant store is unavailable");
			return;
		}
		f.tenant_id = t.id;
	}
	f.action = action;
	f.actor_id = actor;
	f.actor_type = atype;
	f.outcome = outcome;
	if ((l.data = json_array()) == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	if (store_audit_page(r->store, &f, audit_collect, &l, &has_more) != ST_OK) {
		resp_error(r, R_database_unavailable, "the audit log is unavailable");
		goto out;
	}
	if (l.oom) {
		resp_error(r, R_internal_error, "out of memory");
		goto out;
	}
	snprintf(cursor, sizeof(cursor), "%lld", (long long)l.last_id);
	resp_json(r, 200,
	          json_pack("{s:s, s:O, s:b, s:o}", "object", "list", "data", l.data, "has_more",
	                    has_more, "next_cursor", has_more ? json_string(cursor) : json_null()));
out:
	json_decref(l.data);
}
