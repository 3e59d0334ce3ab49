/*
 * admin_providers.c: a tenant's own provider credentials (BYOK) on the
 * operator API.
 *   GET  /admin/api/v1/tenants/{t}/provider-keys                   the list (last 4 only)
 *   POST /admin/api/v1/tenants/{t}/provider-keys/{provider}        {"key"}: set
 *   POST /admin/api/v1/tenants/{t}/provider-keys/{provider}/clear  delete
 * With ?pool=<name> the set and clear address one key of the tenant's key pool
 * for that provider (a route's credential "pool:<name>", docs/ROUTING.md).
 *
 * DESIGN
 * Write-only, as `agenthostctl provider-key` and the dashboard's page: the
 * credential is sealed by keys_byok_set (tenancy/keys.c) under the master
 * key bound to tenant, provider and version, then wiped from the parsed body
 * and the request buffer; no answer ever carries more than its last four
 * characters. The store writes go through the change log (a tenant change),
 * so every process's caches drop the old credential. A provider must be a
 * configured instance to be set; any well-formed name can be cleared (a
 * provider removed from the configuration).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "crypto/secrets.h"
#include "exec/route.h"
#include "host/http.h"
#include "providers/registry.h"
#include "store/store.h"
#include "tenancy/keys.h"

/* One audit row of an operator's credential action on tenant_id. */
static void byok_audit(struct req *r, int64_t tenant_id, const char *action, const char *provider,
                       const char *detail)
{
	char target[300];

	snprintf(target, sizeof(target), "provider_key:%s", provider);
	api_operator_audit(r, tenant_id, action, target, detail);
}

/* cred_cb: one credential's public facts into the array ctx. */
struct byok_list {
	json_t *data;
	int64_t tenant_id;
	int oom;
};

static int byok_collect(void *ctx, const char *provider, const struct sealed_cred *c)
{
	struct byok_list *l = ctx;
	json_t *o = objects_credential(l->tenant_id, provider, c);

	if (o != NULL &&
	    json_object_set_new(o, "configured", json_boolean(registry_find(provider) != NULL))) {
		json_decref(o);
		o = NULL;
	}
	if (o == NULL || json_array_append_new(l->data, o) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

void api_admin_provider_keys(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct byok_list l = {NULL, 0, 0};
	struct tenant t;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	l.tenant_id = t.id;
	if ((l.data = json_array()) == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	if (store_cred_list(r->store, t.id, byok_collect, &l) != ST_OK) {
		resp_error(r, R_database_unavailable, "the credentials cannot be read");
		goto out;
	}
	if (l.oom) {
		resp_error(r, R_internal_error, "out of memory");
		goto out;
	}
	resp_json(r, 200, json_pack("{s:s, s:O}", "object", "list", "data", l.data));
out:
	json_decref(l.data);
}

/*
 * The stored name of the credential a request addresses: the provider, or
 * with ?pool=<name> one key of the tenant's key pool for it,
 * "<provider>#<name>" (sql/027_routes.sql; a route's credential "pool:<name>").
 * 0, or -1 after a 400 for a bad pool name.
 */
static int byok_name(struct req *r, const char *provider, char *out, size_t cap)
{
	char pool[32];
	int rc = req_query(r, "pool", pool, sizeof(pool));
	size_t n;

	if (rc == 0) {
		util_strlcpy(out, provider, cap);
		return 0;
	}
	n = rc > 0 ? strlen(pool) : 0;
	for (size_t i = 0; i < n; i++)
		if (!((pool[i] >= 'a' && pool[i] <= 'z') || (pool[i] >= '0' && pool[i] <= '9') ||
		      pool[i] == '_' || pool[i] == '-'))
			n = 0;
	if (n == 0 || n > ROUTE_POOL_NAME_MAX) {
		resp_error_param(r, R_invalid_request, "pool",
		                 "'pool' must be 1-%d of a-z, 0-9, '_' and '-'",
		                 ROUTE_POOL_NAME_MAX);
		return -1;
	}
	snprintf(out, cap, "%s#%s", provider, pool);
	return 0;
}

/* 1 when the n bytes of s are a credential: 1..SECRETS_MAX_PLAIN, no control characters. */
static int byok_plain_ok(const char *s, size_t n)
{
	if (n == 0 || n > SECRETS_MAX_PLAIN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

void api_admin_provider_key_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	const char *provider = m->n_params > 1 ? m->params[1] : "";
	struct sealed_cred cred;
	json_t *body = NULL, *v;
	char *plain = NULL, detail[320], name[80];
	size_t len = 0;
	struct tenant t;
	int rc;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		goto wipe;
	if (!valid_name(VALID_PROVIDER, provider) || registry_find(provider) == NULL) {
		resp_error(r, R_invalid_request,
		           "unknown provider '%.64s' (not a configured provider instance)",
		           provider);
		goto wipe;
	}
	if (byok_name(r, provider, name, sizeof(name)) < 0)
		goto wipe;
	if ((body = req_json_object(r)) == NULL)
		goto wipe;
	v = json_object_get(body, "key");
	if (json_is_string(v)) {
		plain = (char *)json_string_value(v); /* wiped below */
		len = json_string_length(v);
	}
	if (plain == NULL || strlen(plain) != len || !byok_plain_ok(plain, len)) {
		resp_error_param(r, R_invalid_request, "key",
		                 "'key' must be the credential: 1 to %d bytes without control "
		                 "characters",
		                 SECRETS_MAX_PLAIN);
		goto wipe;
	}
	memset(&cred, 0, sizeof(cred));
	rc = keys_byok_set(r->store, t.id, name, plain, len, &cred);
	sodium_memzero(plain, len);
	if (rc == KEYS_NOSECRETS) {
		resp_error(r, R_internal_error,
		           "the credential cannot be sealed now (master key not loaded)");
		goto wipe;
	}
	if (rc != KEYS_OK) {
		resp_error(r, R_database_unavailable, "the credential cannot be stored");
		goto wipe;
	}
	snprintf(detail, sizeof(detail), "{\"provider\":\"%s\",\"version\":%d}", name,
	         cred.version);
	byok_audit(r, t.id, "provider_key.set", name, detail);
	if (cred.updated_at == 0)
		cred.updated_at = util_unix_time();
	resp_json(r, 200, objects_credential(t.id, name, &cred));
wipe:
	if (plain != NULL)
		sodium_memzero(plain, len);
	if (r->body.data != NULL)
		sodium_memzero(r->body.data, r->body.len);
	json_decref(body);
}

void api_admin_provider_key_clear(struct req *r, const struct ident *id,
                                  const struct route_match *m)
{
	const char *provider = m->n_params > 1 ? m->params[1] : "";
	char detail[300], name[80];
	struct tenant t;
	int rc;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	if (!valid_name(VALID_PROVIDER, provider)) {
		resp_error(r, R_invalid_request, "'%.64s' is not a provider name (%s)", provider,
		           valid_hint(VALID_PROVIDER));
		return;
	}
	if (byok_name(r, provider, name, sizeof(name)) < 0)
		return;
	rc = store_cred_clear(r->store, t.id, name);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "the tenant has no %s credential", name);
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the credential cannot be cleared");
		return;
	}
	snprintf(detail, sizeof(detail), "{\"provider\":\"%s\"}", name);
	byok_audit(r, t.id, "provider_key.clear", name, detail);
	resp_json(r, 200,
	          json_pack("{s:I, s:s, s:b}", "tenant_id", (json_int_t)t.id, "provider", name,
	                    "cleared", 1));
}
