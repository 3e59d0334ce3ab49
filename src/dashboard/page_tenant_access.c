/*
 * page_tenant_access.c: a tenant's dashboard access policy, the tenant
 * limits dashboard_ip_allowlist, dashboard_session_idle_s and dashboard_mfa.
 *
 * DESIGN
 * The three are limits (enforce/limits.c) so that the CLI (`limits set`),
 * the operator API and plans and the global scope handle them like any
 * other; this page shows their effective values with where each comes from
 * and lets an operator set or clear (empty field: inherit) the tenant's
 * own. Every field is validated (limit_validate) before any is written, so
 * a bad field changes nothing and comes back with what was typed. The
 * tenant's own dashboard users (tenant_admin) and support see the page
 * read-only. Writes are limit.set / limit.unset audit rows, like the
 * budgets page.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "store/limits.h"
#include "store/store.h"

static const enum limit_id access_fields[] = {LIM_DASH_IP_ALLOWLIST, LIM_DASH_SESSION_IDLE_S,
                                              LIM_DASH_MFA};
#define ACCESS_N (sizeof(access_fields) / sizeof(access_fields[0]))

/* The tenant's own values of the fields (limit_row_cb). */
struct access_own {
	char value[ACCESS_N][STORE_LIMIT_VALUE_MAX + 1];
};

static int access_own_row(void *ctx, const struct limit_row *row)
{
	struct access_own *o = ctx;
	const struct limit_def *defs = limit_defs();

	for (size_t i = 0; i < ACCESS_N; i++)
		if (strcmp(row->name, defs[access_fields[i]].name) == 0)
			snprintf(o->value[i], sizeof(o->value[i]), "%s", row->value);
	return 0;
}

/* The page: effective values, the form (typed: values to show instead, or NULL). */
static void access_render(struct req *r, int status, const struct tenant *t, const char *err,
                          char (*typed)[STORE_LIMIT_VALUE_MAX + 1])
{
	const struct limit_def *defs = limit_defs();
	struct page *p = page_new(r, "Dashboard access", "tenants");
	struct access_own own;
	struct limits *l = malloc(sizeof(*l));
	char done[16];

	memset(&own, 0, sizeof(own));
	if (l == NULL)
		page_nomem(p);
	else if (limits_resolve(r->store, t->id, 0, l) < 0)
		page_unavailable(p);
	else
		page_store(p, store_limits_list(r->store, "tenant", t->id, access_own_row, &own),
		           NULL);
	page_set_tenant(p, t);
	for (size_t i = 0; l && !page_failed(p) && i < ACCESS_N; i++) {
		const struct limit_value *v = &l->v[access_fields[i]];

		page_row(p, "Access");
		page_set(p, ".Name", defs[access_fields[i]].name);
		page_set(p, ".Help", defs[access_fields[i]].help);
		page_set(p, ".Value", v->text[0] ? v->text : "(none)");
		page_set(p, ".Source", limit_scope_name(v->source));
		page_set(p, ".Own", typed ? typed[i] : own.value[i]);
	}
	page_set(p, "AccessEdit", dash_is_operator() ? "1" : "");
	if (dash_query(r, "done", done, sizeof(done)) == 1 && strcmp(done, "saved") == 0)
		page_set(p, "Flash", "Saved; every process applies it within a second.");
	if (err)
		page_set(p, "FormError", err);
	free(l);
	page_finish(p, status, "tenant_access.cs");
}

PAGE_FN(page_tenant_access)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	access_render(r, 200, &t, NULL, NULL);
}

PAGE_FN(page_tenant_access_save)
{
	const struct limit_def *defs = limit_defs();
	const struct admin_session *s = dash_session();
	char typed[ACCESS_N][STORE_LIMIT_VALUE_MAX + 1], norm[ACCESS_N][STORE_LIMIT_VALUE_MAX + 1];
	char err[300], target[128], path[96], who[101];
	struct access_own own;
	struct tenant t;
	size_t i;
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	if (!dash_is_operator()) {
		dash_error(r, 403, "Only an operator may change a tenant's dashboard access.");
		return;
	}
	memset(&own, 0, sizeof(own));
	if (!dash_store_ok(r, store_limits_list(r->store, "tenant", t.id, access_own_row, &own),
	                   NULL))
		return;
	for (i = 0; i < ACCESS_N; i++) {
		rc = dash_form(r, defs[access_fields[i]].name, typed[i], sizeof(typed[i]));
		if (rc < 0) {
			snprintf(err, sizeof(err), "%s: too long.", defs[access_fields[i]].name);
			typed[i][0] = '\0';
			access_render(r, 400, &t, err, typed);
			return;
		}
		if (rc == 0)
			typed[i][0] = '\0';
		norm[i][0] = '\0';
		if (typed[i][0] != '\0' && limit_validate(access_fields[i], typed[i], norm[i],
		                                          sizeof(norm[i]), err, sizeof(err)) != 0) {
			access_render(r, 400, &t, err, typed);
			return;
		}
	}
	snprintf(who, sizeof(who), "admin:%s", s ? s->user.name : "");
	for (i = 0; i < ACCESS_N; i++) {
		const char *name = defs[access_fields[i]].name;

		if (strcmp(norm[i], own.value[i]) == 0)
			continue; /* unchanged */
		snprintf(target, sizeof(target), "limit:tenant:%" PRId64 ":%s", t.id, name);
		if (norm[i][0] == '\0') {
			rc = store_limit_unset(r->store, "tenant", t.id, name);
			if (rc != ST_OK && rc != ST_NOTFOUND) {
				dash_unavailable(r);
				return;
			}
			dash_audit(r, t.id, "limit.unset", target, "ok", NULL);
		} else {
			if (!dash_store_ok(
			        r, store_limit_set(r->store, "tenant", t.id, name, norm[i], who),
			        NULL))
				return;
			dash_audit(r, t.id, "limit.set", target, "ok", NULL);
		}
	}
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/access?done=saved", t.id);
	dash_redirect(r, path);
}
