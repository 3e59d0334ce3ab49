/*
 * page_guardrails.c: a tenant's guardrail chain and the registry it chooses
 * from (/admin/tenants/{id}/guardrails).
 *
 * DESIGN
 * The page shows the effective chain (the limit "guardrails": its checks in
 * order and where it is set) and every registered guardrail (stage,
 * timeout, settings, enabled). Registering checks is the operator's, with
 * agenthostctl or the operator API: it names executables on the host, so
 * there is no form for it here. The chain can be set by an operator or the
 * tenant's own admin (not support: page_may_write): a comma list checked by
 * guardrail_chain_check like the APIs; empty takes the plan's or the
 * global chain, "none" sets an empty one. Audited as a limit change.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "enforce/limits.h"
#include "exec/guardrail.h"
#include "host/http.h"
#include "store/guardrails.h"
#include "store/limits.h"
#include "store/store.h"

/* guardrail_def_cb: one row of "Registry". */
static int grail_row(void *ctx, const struct guardrail_def *g)
{
	struct page *p = ctx;

	page_row(p, "Registry");
	page_set(p, ".Name", g->name);
	page_set(p, ".Description", g->description);
	page_set(p, ".Stage", g->stage);
	page_set_i64(p, ".Timeout", g->timeout_ms);
	page_set(p, ".Env", g->env);
	page_set(p, ".Exec", g->exec_path);
	page_set_i64(p, ".Enabled", g->enabled);
	return 0;
}

/* The page (typed: the chain to show in the form instead of the tenant's, or NULL). */
static void grail_render(struct req *r, int status, const struct tenant *t, const char *err,
                         const char *typed)
{
	struct page *p = page_new(r, "Guardrails", "tenants");
	struct limits *l = malloc(sizeof(*l));
	char text[sizeof(l->v[0].text)], done[16], *save = NULL, *name;

	page_set_tenant(p, t);
	if (l == NULL) {
		page_nomem(p);
	} else if (limits_resolve(r->store, t->id, 0, l) < 0) {
		page_unavailable(p);
	} else {
		const struct limit_value *v = &l->v[LIM_GUARDRAILS];

		util_strlcpy(text, v->text, sizeof(text));
		for (name = strtok_r(text, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
			page_row(p, "Chain");
			page_set(p, ".Name", name);
		}
		page_set(p, "ChainSource", limit_scope_name(v->source));
		page_set(p, "ChainOwn",
		         typed                    ? typed
		         : v->source != LS_TENANT ? ""
		         : v->text[0] == '\0'     ? "none"
		                                  : v->text);
	}
	page_store(p, store_guardrail_list(r->store, grail_row, p), NULL);
	page_set(p, "ChainEdit", dash_is_operator() || !dash_is_staff() ? "1" : "");
	if (dash_query(r, "done", done, sizeof(done)) == 1 && strcmp(done, "saved") == 0)
		page_set(p, "Flash", "Saved; every process applies it within a second.");
	if (err)
		page_set(p, "FormError", err);
	free(l);
	page_finish(p, status, "guardrails.cs");
}

PAGE_FN(page_guardrails)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	grail_render(r, 200, &t, NULL, NULL);
}

PAGE_FN(page_guardrails_set)
{
	const struct admin_session *s = dash_session();
	char chain[STORE_LIMIT_VALUE_MAX + 1], err[300], target[128], path[96], who[101];
	struct tenant t;
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	rc = dash_form(r, "chain", chain, sizeof(chain));
	if (rc < 0) {
		grail_render(r, 400, &t, "The chain is too long.", "");
		return;
	}
	if (rc == 0)
		chain[0] = '\0';
	snprintf(target, sizeof(target), "limit:tenant:%" PRId64 ":guardrails", t.id);
	if (chain[0] == '\0') {
		rc = store_limit_unset(r->store, "tenant", t.id, "guardrails");
		if (rc != ST_OK && rc != ST_NOTFOUND) {
			dash_unavailable(r);
			return;
		}
		dash_audit(r, t.id, "limit.unset", target, "ok", NULL);
	} else {
		const char *value = strcmp(chain, "none") == 0 ? "" : chain;

		rc = guardrail_chain_check(r->store, value, err, sizeof(err));
		/* a tenant's own users keep the checks its plan requires; an operator may not */
		if (rc == 0 && !dash_is_operator())
			rc = guardrail_chain_keeps(r->store, t.id, value, err, sizeof(err));
		if (rc == -2) {
			dash_unavailable(r);
			return;
		}
		if (rc < 0) {
			grail_render(r, 400, &t, err, chain);
			return;
		}
		snprintf(who, sizeof(who), "admin:%s", s ? s->user.name : "");
		if (!dash_store_ok(
		        r, store_limit_set(r->store, "tenant", t.id, "guardrails", value, who),
		        NULL))
			return;
		dash_audit(r, t.id, "limit.set", target, "ok", value);
	}
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/guardrails?done=saved", t.id);
	dash_redirect(r, path);
}
