/*
 * guardrails.c: the guardrail registry and chains on the API.
 *
 *   GET  /admin/api/v1/guardrails                every registered guardrail
 *   POST /admin/api/v1/guardrails                register or update {name, exec_path,
 *                                                stage, timeout_ms, description?, env?,
 *                                                enabled?}
 *   GET  /admin/api/v1/tenants/{id}/guardrails   a tenant's chain
 *   POST /admin/api/v1/tenants/{id}/guardrails   set it {"chain": [names] | null}
 *   GET  /v1/guardrails                          the caller's chain (scope read)
 *   POST /v1/guardrails                          set it (scope manage)
 *
 * DESIGN
 * Definitions are checked by guardrail_def_check (exec/guardrail.h), the
 * same check as `agenthostctl guardrails register`. A chain is the limit
 * "guardrails" at the tenant's scope: set through store_limit_set, so the
 * caches of every process drop it like any limit edit; null removes the
 * tenant's own value (the plan's or the global chain applies again), []
 * sets an empty chain. Every change is audited.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/limits.h"
#include "exec/guardrail.h"
#include "host/http.h"
#include "store/guardrails.h"
#include "store/limits.h"
#include "tenancy/identify.h"

/* ------------------------------------------------------------------ the registry */

static int grail_add(void *ctx, const struct guardrail_def *g)
{
	json_array_append_new(ctx, objects_guardrail(g));
	return 0;
}

void api_admin_guardrails_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *data = json_array();

	(void)id;
	(void)m;
	if (store_guardrail_list(r->store, grail_add, data) != ST_OK) {
		json_decref(data);
		resp_error(r, R_database_unavailable, "the guardrail registry is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

/* The "env" object of body as NAME=value lines into g; -1 after a 400. */
static int grail_env_body(struct req *r, json_t *body, struct guardrail_def *g)
{
	json_t *env = json_object_get(body, "env"), *v;
	const char *k;
	size_t at = 0;

	g->env[0] = '\0';
	if (env == NULL || json_is_null(env))
		return 0;
	if (!json_is_object(env))
		goto bad;
	json_object_foreach(env, k, v)
	{
		const char *s = json_string_value(v);
		int n;

		if (s == NULL)
			goto bad;
		n = snprintf(g->env + at, sizeof(g->env) - at, "%s%s=%s", at ? "\n" : "", k, s);
		if (n < 0 || (size_t)n >= sizeof(g->env) - at)
			goto bad;
		at += (size_t)n;
	}
	return 0;
bad:
	resp_error(r, R_invalid_guardrail,
	           "'env' must be an object of NAME: string settings (at most %d bytes in all)",
	           GUARDRAIL_ENV_MAX);
	return -1;
}

void api_admin_guardrails_register(struct req *r, const struct ident *id,
                                   const struct route_match *m)
{
	struct guardrail_def *g = calloc(1, sizeof(*g));
	const char *name, *path, *stage, *desc = "";
	char err[512];
	json_t *body;
	int64_t timeout = 0;
	int has = 0, enabled = 1, created = 0, rc;

	(void)id;
	(void)m;
	body = req_json_object(r);
	if (body == NULL || g == NULL) {
		if (body)
			resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (api_str(r, body, "name", 1, GUARDRAIL_NAME_MAX, &name) < 0 ||
	    api_str(r, body, "exec_path", 1, GUARDRAIL_PATH_MAX, &path) < 0 ||
	    api_str(r, body, "stage", 1, 7, &stage) < 0 ||
	    api_str(r, body, "description", 0, GUARDRAIL_DESC_MAX, &desc) < 0 ||
	    api_int(r, body, "timeout_ms", 1, GUARDRAIL_TIMEOUT_MAX, &has, &timeout) < 0 ||
	    grail_env_body(r, body, g) < 0)
		goto out;
	if (json_object_get(body, "enabled") != NULL && api_bool(r, body, "enabled", &enabled) < 0)
		goto out;
	if (!has) {
		resp_error(r, R_invalid_request, "'timeout_ms' is required");
		goto out;
	}
	util_strlcpy(g->name, name, sizeof(g->name));
	util_strlcpy(g->exec_path, path, sizeof(g->exec_path));
	util_strlcpy(g->stage, stage, sizeof(g->stage));
	util_strlcpy(g->description, desc ? desc : "", sizeof(g->description));
	g->timeout_ms = (int)timeout;
	if (guardrail_def_check(g, r->conf->guardrail_dir, err, sizeof(err)) < 0) {
		resp_error(r, R_invalid_guardrail, "%s", err);
		goto out;
	}
	rc = store_guardrail_register(r->store, g, &created);
	if (rc == ST_OK && !enabled)
		rc = store_guardrail_set_enabled(r->store, g->name, 0);
	if (rc != ST_OK || store_guardrail_get(r->store, g->name, g) != ST_OK) {
		resp_error(r, R_database_unavailable, "the guardrail registry is unavailable");
		goto out;
	}
	api_operator_audit(r, 0, created ? "guardrail.register" : "guardrail.update", g->name,
	                   NULL);
	resp_json(r, created ? 201 : 200, objects_guardrail(g));
out:
	free(g);
	json_decref(body);
}

/* ------------------------------------------------------------------ chains */

/* {"object":"guardrail_chain","tenant_id","chain":[...],"source"} of tenant_id; sent. */
static void grail_chain_send(struct req *r, int64_t tenant_id)
{
	struct limits *l = malloc(sizeof(*l));
	const struct limit_value *v;
	json_t *chain;
	char *save = NULL, *p;
	char text[sizeof(v->text)];

	if (l == NULL || limits_resolve(r->store, tenant_id, 0, l) < 0) {
		free(l);
		resp_error(r, R_database_unavailable, "the limits cannot be read");
		return;
	}
	v = &l->v[LIM_GUARDRAILS];
	util_strlcpy(text, v->text, sizeof(text));
	chain = json_array();
	for (p = strtok_r(text, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save))
		json_array_append_new(chain, json_string(p));
	resp_json(r, 200,
	          json_pack("{s:s, s:I, s:o, s:s}", "object", "guardrail_chain", "tenant_id",
	                    (json_int_t)tenant_id, "chain", chain, "source",
	                    limit_scope_name(v->source)));
	free(l);
}

/*
 * Set the tenant's chain from body {"chain": [names] | null}. who: the
 * limit row's updated_by; keep: the inherited checks must stay in it (the
 * tenant's own API). 0 with *detail (malloc'd audit text), or -1 after the
 * error was sent.
 */
static int grail_chain_set(struct req *r, int64_t tenant_id, json_t *body, const char *who,
                           int keep, char **detail)
{
	json_t *arr = json_object_get(body, "chain"), *v;
	char chain[sizeof(((struct limit_value *)0)->text)], err[256];
	size_t i, at = 0;
	int rc;

	*detail = NULL;
	if (arr == NULL || (!json_is_null(arr) && !json_is_array(arr)) ||
	    json_object_size(body) != 1) {
		resp_error(r, R_invalid_guardrail,
		           "the body must be {\"chain\": [guardrail names in order] or null}");
		return -1;
	}
	if (json_is_null(arr)) {
		rc = store_limit_unset(r->store, "tenant", tenant_id, "guardrails");
		if (rc != ST_OK && rc != ST_NOTFOUND) {
			resp_error(r, R_database_unavailable, "the chain cannot be stored");
			return -1;
		}
		*detail = strdup("{\"chain\":null}");
		return 0;
	}
	chain[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		int n;

		if (s == NULL || s[0] == '\0' || strchr(s, ',') != NULL) {
			resp_error(r, R_invalid_guardrail, "'chain' must list guardrail names");
			return -1;
		}
		n = snprintf(chain + at, sizeof(chain) - at, "%s%s", at ? "," : "", s);
		if (n < 0 || (size_t)n >= sizeof(chain) - at) {
			resp_error(r, R_invalid_guardrail, "'chain' is too long");
			return -1;
		}
		at += (size_t)n;
	}
	if (keep &&
	    (rc = guardrail_chain_keeps(r->store, tenant_id, chain, err, sizeof(err))) < 0) {
		if (rc == -2)
			resp_error(r, R_database_unavailable, "the limits cannot be read");
		else
			resp_error_param(r, R_invalid_guardrail, "chain", "%s", err);
		return -1;
	}
	rc = guardrail_chain_check(r->store, chain, err, sizeof(err));
	if (rc == -2) {
		resp_error(r, R_database_unavailable, "the guardrail registry is unavailable");
		return -1;
	}
	if (rc < 0) {
		resp_error(r, R_invalid_guardrail, "%s", err);
		return -1;
	}
	if (store_limit_set(r->store, "tenant", tenant_id, "guardrails", chain, who) != ST_OK) {
		resp_error(r, R_database_unavailable, "the chain cannot be stored");
		return -1;
	}
	*detail = json_dumps(json_object_get(body, "chain"), JSON_COMPACT);
	return 0;
}

void api_guardrails_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)m;
	grail_chain_send(r, id->tenant_id);
}

void api_guardrails_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body = req_json_object(r);
	char who[64], *detail = NULL;

	(void)m;
	if (body == NULL)
		return;
	snprintf(who, sizeof(who), "api_key:%s", id->key_prefix);
	if (grail_chain_set(r, id->tenant_id, body, who, 1, &detail) == 0) {
		api_actor_audit(r, id, id->tenant_id, "guardrails.chain", "guardrails", detail);
		grail_chain_send(r, id->tenant_id);
	}
	free(detail);
	json_decref(body);
}

void api_admin_tenant_guardrails(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tenant t;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	grail_chain_send(r, t.id);
}

void api_admin_tenant_guardrails_set(struct req *r, const struct ident *id,
                                     const struct route_match *m)
{
	struct tenant t;
	json_t *body;
	char *detail = NULL;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0 || (body = req_json_object(r)) == NULL)
		return;
	if (grail_chain_set(r, t.id, body, "operator-api", 0, &detail) == 0) {
		api_operator_audit(r, t.id, "guardrails.chain", "guardrails", detail);
		grail_chain_send(r, t.id);
	}
	free(detail);
	json_decref(body);
}
