/*
 * admin_providers.c: provider credentials (BYOK): a tenant's own on the
 * operator API, a project's own on the operator's and the tenant's API.
 *   GET  /admin/api/v1/tenants/{t}/provider-keys                   the list (last 4 only)
 *   POST /admin/api/v1/tenants/{t}/provider-keys/{provider}        {"key"}: set
 *   POST /admin/api/v1/tenants/{t}/provider-keys/{provider}/clear  delete
 *   GET  /admin/api/v1/tenants/{t}/projects/{p}/provider-keys      a project's (and its
 *   POST .../projects/{p}/provider-keys/{provider}[/clear]          set, clear); the same
 *   GET|POST /v1/projects/{p}/provider-keys[/{provider}[/clear]]   on the tenant API (manage)
 * With ?pool=<name> a tenant's set and clear address one key of its key pool
 * for that provider (a route's credential "pool:<name>", docs/ROUTING.md).
 *
 * DESIGN
 * Write-only, as `agenthostctl provider-key` and the dashboard's pages: the
 * credential is sealed by keys_byok_set_project (tenancy/keys.c) under the
 * master key bound to tenant, project, provider and version, then wiped
 * from the parsed body and the request buffer; no answer ever carries more
 * than its last four characters. One code path (struct byok_owner) serves
 * the tenant's and a project's keys. The store writes go through the change
 * log (a tenant change), so every process's caches drop the old credential.
 * A provider must be a configured instance to be set; any well-formed name
 * can be cleared (a provider removed from the configuration).
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
#include "store/projects.h"
#include "store/store.h"
#include "tenancy/keys.h"

/*
 * The stored name of the credential a request addresses into out: the
 * provider, or with ?pool=<name> (pools: the tenant's keys only) one key of
 * the tenant's key pool for it, "<provider>#<name>" (sql/027_routes.sql; a
 * route's credential "pool:<name>"). 0, or -1 after a 400.
 */
static int byok_name(struct req *r, const char *provider, int pools, char *out, size_t cap)
{
	char pool[32];
	int rc = req_query(r, "pool", pool, sizeof(pool));
	size_t n;

	if (rc == 0) {
		util_strlcpy(out, provider, cap);
		return 0;
	}
	if (!pools) {
		resp_error_param(r, R_invalid_request, "pool",
		                 "key pools are the tenant's: a project has one key per provider");
		return -1;
	}
	if (rc < 0 || !valid_name(VALID_POOL, pool)) {
		resp_error_param(r, R_invalid_request, "pool", "'pool' must be %s",
		                 valid_hint(VALID_POOL));
		return -1;
	}
	n = strlen(pool);
	if (strlen(provider) + 1 + n >= cap) {
		resp_error(r, R_invalid_request, "the provider name and pool name are too long");
		return -1;
	}
	memcpy(out, provider, strlen(provider));
	out[strlen(provider)] = '#';
	memcpy(out + strlen(provider) + 1, pool, n + 1);
	return 0;
}

/* Whose keys: the tenant's own (project.id 0) or one of its projects', and who acts. */
struct byok_owner {
	struct tenant t;
	struct project p;
	const struct ident *id; /* NULL: an operator */
	const char *provider;   /* the route's {provider}, "" when it has none */
	char name[80];          /* the stored name: provider, or "<provider>#<pool key>" */
};

/* One audit row of a credential action on the owner's key for provider. */
static void byok_audit(struct req *r, const struct byok_owner *o, const char *action,
                       const char *detail)
{
	char target[300];

	if (o->p.id)
		snprintf(target, sizeof(target), "project:%lld:provider_key:%s", (long long)o->p.id,
		         o->name);
	else
		snprintf(target, sizeof(target), "provider_key:%s", o->name);
	api_actor_audit(r, o->id, o->t.id, action, target, detail);
}

/* The public facts of one of the owner's credentials (new reference, NULL: memory). */
static json_t *byok_json(const struct byok_owner *o, const char *provider,
                         const struct sealed_cred *c)
{
	if (o->p.id)
		return objects_project_credential(o->t.id, o->p.id, o->p.name, provider, c);
	return objects_credential(o->t.id, provider, c);
}

/* cred_cb: one credential's public facts into the array ctx. */
struct byok_list {
	json_t *data;
	const struct byok_owner *o;
	int oom;
};

static int byok_collect(void *ctx, const char *provider, const struct sealed_cred *c)
{
	struct byok_list *l = ctx;
	json_t *o = byok_json(l->o, provider, c);

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

/* Answer the owner's credentials as a list. */
static void byok_list_send(struct req *r, const struct byok_owner *o)
{
	struct byok_list l = {NULL, o, 0};
	int rc;

	if ((l.data = json_array()) == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	rc = o->p.id ? store_pcred_list(r->store, o->t.id, o->p.id, byok_collect, &l)
	             : store_cred_list(r->store, o->t.id, byok_collect, &l);
	if (rc != ST_OK) {
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

/* Seal the body's "key" as the owner's credential for o->provider and answer its facts. */
static void byok_set(struct req *r, const struct byok_owner *o)
{
	struct sealed_cred cred;
	json_t *body = NULL, *v;
	char *plain = NULL, detail[320];
	size_t len = 0;
	int rc;

	if (!valid_name(VALID_PROVIDER, o->provider) || registry_find(o->provider) == NULL) {
		resp_error(r, R_invalid_request,
		           "unknown provider '%.64s' (not a configured provider instance)",
		           o->provider);
		goto wipe;
	}
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
	rc = keys_byok_set_project(r->store, o->t.id, o->p.id, o->name, plain, len, &cred);
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
	if (o->p.id)
		snprintf(detail, sizeof(detail),
		         "{\"provider\":\"%s\",\"version\":%d,\"project_id\":%lld}", o->name,
		         cred.version, (long long)o->p.id);
	else
		snprintf(detail, sizeof(detail), "{\"provider\":\"%s\",\"version\":%d}", o->name,
		         cred.version);
	byok_audit(r, o, "provider_key.set", detail);
	if (cred.updated_at == 0)
		cred.updated_at = util_unix_time();
	resp_json(r, 200, byok_json(o, o->name, &cred));
	sodium_memzero(&cred, sizeof(cred));
wipe:
	if (plain != NULL)
		sodium_memzero(plain, len);
	if (r->body.data != NULL)
		sodium_memzero(r->body.data, r->body.len);
	json_decref(body);
}

/* Delete the owner's credential for o->provider. */
static void byok_clear(struct req *r, const struct byok_owner *o)
{
	char detail[300];
	int rc;

	if (!valid_name(VALID_PROVIDER, o->provider)) {
		resp_error(r, R_invalid_request, "'%.64s' is not a provider name (%s)", o->provider,
		           valid_hint(VALID_PROVIDER));
		return;
	}
	rc = o->p.id ? store_pcred_clear(r->store, o->t.id, o->p.id, o->name)
	             : store_cred_clear(r->store, o->t.id, o->name);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "the %s has no %s credential",
		           o->p.id ? "project" : "tenant", o->name);
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the credential cannot be cleared");
		return;
	}
	if (o->p.id)
		snprintf(detail, sizeof(detail), "{\"provider\":\"%s\",\"project_id\":%lld}",
		         o->name, (long long)o->p.id);
	else
		snprintf(detail, sizeof(detail), "{\"provider\":\"%s\"}", o->name);
	byok_audit(r, o, "provider_key.clear", detail);
	resp_json(r, 200,
	          json_pack("{s:I, s:s, s:o, s:b}", "tenant_id", (json_int_t)o->t.id, "provider",
	                    o->name, "project", o->p.id ? json_string(o->p.name) : json_null(),
	                    "cleared", 1));
}

/* The tenant of an operator route {t}[/provider-keys/{provider}] into *o; -1 after the answer. */
static int byok_tenant_owner(struct req *r, const struct route_match *m, struct byok_owner *o)
{
	memset(o, 0, sizeof(*o));
	o->provider = m->n_params > 1 ? m->params[1] : "";
	if (byok_name(r, o->provider, 1, o->name, sizeof(o->name)) < 0)
		return -1;
	return api_admin_tenant(r, m, &o->t);
}

/* The tenant and project of a project route (either API) into *o; -1 after the answer. */
static int byok_project_owner(struct req *r, const struct ident *id, const struct route_match *m,
                              struct byok_owner *o)
{
	size_t next = 0;

	memset(o, 0, sizeof(*o));
	o->id = id;
	if (api_project_target(r, id, m, &o->t, &o->p, &next) < 0)
		return -1;
	o->provider = next < (size_t)m->n_params ? m->params[next] : "";
	return byok_name(r, o->provider, 0, o->name, sizeof(o->name));
}

void api_admin_provider_keys(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct byok_owner o;

	(void)id;
	if (byok_tenant_owner(r, m, &o) == 0)
		byok_list_send(r, &o);
}

void api_admin_provider_key_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct byok_owner o;

	(void)id;
	if (byok_tenant_owner(r, m, &o) == 0)
		byok_set(r, &o);
	else if (r->body.data != NULL)
		sodium_memzero(r->body.data, r->body.len);
}

void api_admin_provider_key_clear(struct req *r, const struct ident *id,
                                  const struct route_match *m)
{
	struct byok_owner o;

	(void)id;
	if (byok_tenant_owner(r, m, &o) == 0)
		byok_clear(r, &o);
}

void api_project_provider_keys(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct byok_owner o;

	if (byok_project_owner(r, id, m, &o) == 0)
		byok_list_send(r, &o);
}

void api_project_provider_key_set(struct req *r, const struct ident *id,
                                  const struct route_match *m)
{
	struct byok_owner o;

	if (byok_project_owner(r, id, m, &o) == 0)
		byok_set(r, &o);
	else if (r->body.data != NULL)
		sodium_memzero(r->body.data, r->body.len);
}

void api_project_provider_key_clear(struct req *r, const struct ident *id,
                                    const struct route_match *m)
{
	struct byok_owner o;

	if (byok_project_owner(r, id, m, &o) == 0)
		byok_clear(r, &o);
}
