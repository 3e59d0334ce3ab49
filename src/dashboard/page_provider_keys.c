/*
 * page_provider_keys.c: a tenant's own provider keys (BYOK): which
 * configured provider has one, set/replace, clear.
 *
 * DESIGN
 * Sealing is keys_byok_set (src/tenancy/keys.c), exactly what
 * `agenthostctl provider-key set` runs. The page never renders more than
 * the last four characters; the posted key is wiped after sealing and is
 * never put back into a re-rendered form. Providers come from the registry
 * (configured instances); a stored credential of a provider no longer
 * configured is still listed so that it can be cleared.
 */
#include "dashboard/cs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "providers/registry.h"
#include "store/store.h"
#include "tenancy/keys.h"
#include "common/valid.h"

struct pk_ctx {
	HDF *hdf;
	int failed;
};

/* HDF node name for provider (dots in instance names would nest: use the index). */
static int pk_slot(HDF *hdf, const char *provider)
{
	int n = hdf_get_int_value(hdf, "ProviderCount", 0);
	char k[48];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "Providers.%d.Name", i);
		if (strcmp(hdf_get_value(hdf, k, ""), provider) == 0)
			return i;
	}
	snprintf(k, sizeof(k), "Providers.%d.Name", n);
	if (dash_set(hdf, k, provider) < 0 || dash_set_i64(hdf, "ProviderCount", n + 1) < 0)
		return -1;
	return n;
}

static int pk_cred(void *ctx, const char *provider, const struct sealed_cred *c)
{
	struct pk_ctx *p = ctx;
	char k[48];
	int i = pk_slot(p->hdf, provider), rc = 0;

	if (i < 0) {
		p->failed = 1;
		return 0;
	}
	snprintf(k, sizeof(k), "Providers.%d.Last4", i);
	rc |= dash_set(p->hdf, k, c->last4);
	snprintf(k, sizeof(k), "Providers.%d.Updated", i);
	rc |= dash_set_time(p->hdf, k, c->updated_at);
	snprintf(k, sizeof(k), "Providers.%d.Has", i);
	rc |= dash_set_i64(p->hdf, k, 1);
	snprintf(k, sizeof(k), "Providers.%d.Configured", i);
	rc |= dash_set_i64(p->hdf, k, registry_find(provider) != NULL);
	if (rc)
		p->failed = 1;
	return 0;
}

static void pk_render(struct req *r, int status, const struct tenant *t, const char *err,
                      const char *provider)
{
	const struct provider_instance *pi;
	struct pk_ctx c;
	char k[48], done[16];
	HDF *hdf = dash_page_new(r);
	int rc = 0;

	if (hdf == NULL) {
		dash_error(r, 500, "Out of memory.");
		return;
	}
	memset(&c, 0, sizeof(c));
	c.hdf = hdf;
	for (size_t i = 0; (pi = registry_at(i)) != NULL; i++) {
		int s = pk_slot(hdf, pi->name);

		snprintf(k, sizeof(k), "Providers.%d.Configured", s);
		rc |= s < 0 || dash_set_i64(hdf, k, 1) < 0;
	}
	if (store_cred_list(r->store, t->id, pk_cred, &c) != ST_OK) {
		hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (dash_query(r, "done", done, sizeof(done)) == 1) {
		if (strcmp(done, "set") == 0)
			rc |= dash_set(hdf, "Flash", "Provider key saved (sealed).") < 0;
		else if (strcmp(done, "cleared") == 0)
			rc |= dash_set(
			          hdf, "Flash",
			          "Provider key cleared: calls use the platform's key again.") < 0;
	}
	if (rc || c.failed || page_set_tenant(hdf, t) < 0 ||
	    dash_set(hdf, "Page.Title", "Provider keys") < 0 ||
	    dash_set(hdf, "Page.Nav", "provider_keys") < 0 ||
	    (err && dash_set(hdf, "FormError", err) < 0) ||
	    dash_set(hdf, "Form.Provider", provider) < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, status, hdf, "provider_keys.cs");
}

PAGE_FN(page_provider_keys)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	pk_render(r, 200, &t, NULL, "");
}

static void pk_done(struct req *r, const struct tenant *t, const char *done)
{
	char path[96];

	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/provider-keys?done=%s", t->id,
	         done);
	dash_redirect(r, path);
}

PAGE_FN(page_provider_key_set)
{
	struct tenant t;
	char provider[40], target[64];
	char plain[SECRETS_MAX_PLAIN + 2];
	size_t len;
	int rc, ok = 1;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	if (dash_form(r, "provider", provider, sizeof(provider)) != 1 ||
	    !valid_name(VALID_PROVIDER, provider) || registry_find(provider) == NULL) {
		pk_render(r, 400, &t, "Provider: choose one of the configured providers.", "");
		return;
	}
	rc = dash_form(r, "key", plain, sizeof(plain));
	len = rc == 1 ? strlen(plain) : 0;
	if (rc != 1 || len == 0 || len > SECRETS_MAX_PLAIN)
		ok = 0;
	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)plain[i] < 0x21 || plain[i] == 0x7f)
			ok = 0;
	if (!ok) {
		sodium_memzero(plain, sizeof(plain));
		pk_render(r, 400, &t,
		          "Key: paste the provider's API key (1 to 1024 characters, no spaces).",
		          provider);
		return;
	}
	rc = keys_byok_set(r->store, t.id, provider, plain, len, NULL);
	sodium_memzero(plain, sizeof(plain));
	if (rc == KEYS_NOSECRETS) {
		dash_error(r, 503, "The server has no master key loaded; keys cannot be sealed.");
		return;
	}
	if (rc != KEYS_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	snprintf(target, sizeof(target), "provider_key:%s", provider);
	dash_audit(r, t.id, "provider_key.set", target, "ok", NULL);
	pk_done(r, &t, "set");
}

PAGE_FN(page_provider_key_clear)
{
	struct tenant t;
	char target[ROUTE_PARAM_MAX + 16];
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	if (m->n_params < 2 || !valid_name(VALID_PROVIDER, m->params[1])) {
		dash_error(r, 404, "No such provider key.");
		return;
	}
	rc = store_cred_clear(r->store, t.id, m->params[1]);
	if (rc == ST_NOTFOUND) {
		pk_render(r, 400, &t, "This tenant has no key for that provider.", "");
		return;
	}
	if (rc != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	snprintf(target, sizeof(target), "provider_key:%s", m->params[1]);
	dash_audit(r, t.id, "provider_key.clear", target, "ok", NULL);
	pk_done(r, &t, "cleared");
}
