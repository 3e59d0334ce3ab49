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
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "providers/registry.h"
#include "store/projects.h"
#include "store/store.h"
#include "tenancy/keys.h"
#include "common/valid.h"

/* One row of the page: a configured provider, a stored key, or both. */
struct pk_row {
	char name[129]; /* provider VARCHAR(32) in UTF-8 */
	char last4[5];
	int64_t updated;
	int has, configured;
};

/* The rows in the order they were first named (registry first, then stored keys). */
struct pk_rows {
	struct pk_row *v;
	size_t n, cap;
	int oom;
};

/* The row of provider, added at the end the first time; NULL when out of memory. */
static struct pk_row *pk_slot(struct pk_rows *l, const char *provider)
{
	struct pk_row *row;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, provider) == 0)
			return &l->v[i];
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct pk_row *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			l->oom = 1;
			return NULL;
		}
		l->v = v;
		l->cap = cap;
	}
	row = &l->v[l->n++];
	memset(row, 0, sizeof(*row));
	util_strlcpy(row->name, provider, sizeof(row->name));
	return row;
}

static int pk_cred(void *ctx, const char *provider, const struct sealed_cred *c)
{
	struct pk_row *row = pk_slot(ctx, provider);

	if (row == NULL)
		return 1;
	util_strlcpy(row->last4, c->last4, sizeof(row->last4));
	row->updated = c->updated_at;
	row->has = 1;
	row->configured = registry_find(provider) != NULL;
	return 0;
}

static void pk_render(struct req *r, int status, const struct tenant *t, const char *err,
                      const char *provider)
{
	const struct provider_instance *pi;
	struct page *p = page_new(r, "Provider keys", "provider_keys");
	struct pk_rows l = {0};
	struct pk_row *row;
	char done[16];

	for (size_t i = 0; (pi = registry_at(i)) != NULL; i++)
		if ((row = pk_slot(&l, pi->name)) != NULL)
			row->configured = 1;
	page_store(p, store_cred_list(r->store, t->id, pk_cred, &l), NULL);
	if (l.oom)
		page_nomem(p);
	/* rows by index: a dot in an instance name would nest in a node name */
	for (size_t i = 0; i < l.n; i++) {
		page_row(p, "Providers");
		page_set(p, ".Name", l.v[i].name);
		page_set_i64(p, ".Configured", l.v[i].configured);
		if (l.v[i].has) {
			page_set(p, ".Last4", l.v[i].last4);
			page_set_time(p, ".Updated", l.v[i].updated);
			page_set_i64(p, ".Has", 1);
		}
	}
	free(l.v);
	if (dash_query(r, "done", done, sizeof(done)) == 1) {
		if (strcmp(done, "set") == 0)
			page_set(p, "Flash", "Provider key saved (sealed).");
		else if (strcmp(done, "cleared") == 0)
			page_set(p, "Flash",
			         "Provider key cleared: calls use the platform's key again.");
	}
	page_set_tenant(p, t);
	if (err)
		page_set(p, "FormError", err);
	page_set(p, "Form.Provider", provider);
	page_finish(p, status, "provider_keys.cs");
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
		dash_unavailable(r);
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
		dash_not_found(r, "provider key");
		return;
	}
	rc = store_cred_clear(r->store, t.id, m->params[1]);
	if (rc == ST_NOTFOUND) {
		pk_render(r, 400, &t, "This tenant has no key for that provider.", "");
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	snprintf(target, sizeof(target), "provider_key:%s", m->params[1]);
	dash_audit(r, t.id, "provider_key.clear", target, "ok", NULL);
	pk_done(r, &t, "cleared");
}

/* ================================================================== a project's own keys */

/* cred_cb: one of the project's keys as a PKeys row of the page ctx. */
static int pk_project_cred(void *ctx, const char *provider, const struct sealed_cred *c)
{
	struct page *p = ctx;

	page_row(p, "PKeys");
	page_set(p, ".Name", provider);
	page_set(p, ".Last4", c->last4);
	page_set_time(p, ".Updated", c->updated_at);
	page_set_i64(p, ".Configured", registry_find(provider) != NULL);
	return 0;
}

void page_project_provider_keys(struct page *p, struct req *r, int64_t tenant_id,
                                int64_t project_id)
{
	const struct provider_instance *pi;

	for (size_t i = 0; (pi = registry_at(i)) != NULL; i++) {
		page_row(p, "Providers");
		page_set(p, ".Name", pi->name);
	}
	page_store(p, store_pcred_list(r->store, tenant_id, project_id, pk_project_cred, p), NULL);
}

/* Back to the project's page with done. */
static void pk_project_done(struct req *r, const struct tenant *t, const struct project *pr,
                            const char *done)
{
	char path[128];

	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/projects/%" PRId64 "?done=%s",
	         t->id, pr->id, done);
	dash_redirect(r, path);
}

PAGE_FN(page_project_provider_key_set)
{
	struct tenant t;
	struct project pr;
	char provider[40], target[96];
	char plain[SECRETS_MAX_PLAIN + 2];
	size_t len = 0;
	int rc, ok = 1;

	(void)id;
	memset(plain, 0, sizeof(plain));
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !page_project_load(r, m, &t, &pr))
		goto out;
	if (dash_form(r, "provider", provider, sizeof(provider)) != 1 ||
	    !valid_name(VALID_PROVIDER, provider) || registry_find(provider) == NULL) {
		page_project_render(r, 400, &t, &pr,
		                    "Provider: choose one of the configured providers.");
		goto out;
	}
	rc = dash_form(r, "key", plain, sizeof(plain));
	len = rc == 1 ? strlen(plain) : 0;
	if (rc != 1 || len == 0 || len > SECRETS_MAX_PLAIN)
		ok = 0;
	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)plain[i] < 0x21 || plain[i] == 0x7f)
			ok = 0;
	if (!ok) {
		page_project_render(
		    r, 400, &t, &pr,
		    "Key: paste the provider's API key (1 to 1024 characters, no spaces).");
		goto out;
	}
	rc = keys_byok_set_project(r->store, t.id, pr.id, provider, plain, len, NULL);
	sodium_memzero(plain, sizeof(plain));
	if (rc == KEYS_NOSECRETS) {
		dash_error(r, 503, "The server has no master key loaded; keys cannot be sealed.");
		goto out;
	}
	if (rc != KEYS_OK) {
		dash_unavailable(r);
		goto out;
	}
	snprintf(target, sizeof(target), "project:%" PRId64 ":provider_key:%s", pr.id, provider);
	dash_audit(r, t.id, "provider_key.set", target, "ok", NULL);
	pk_project_done(r, &t, &pr, "keyset");
out:
	sodium_memzero(plain, sizeof(plain));
	if (r->body.data != NULL)
		sodium_memzero(r->body.data, r->body.len);
}

PAGE_FN(page_project_provider_key_clear)
{
	struct tenant t;
	struct project pr;
	char target[ROUTE_PARAM_MAX + 48];
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !page_project_load(r, m, &t, &pr))
		return;
	if (m->n_params < 3 || !valid_name(VALID_PROVIDER, m->params[2])) {
		dash_not_found(r, "provider key");
		return;
	}
	rc = store_pcred_clear(r->store, t.id, pr.id, m->params[2]);
	if (rc == ST_NOTFOUND) {
		page_project_render(r, 400, &t, &pr, "This project has no key for that provider.");
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	snprintf(target, sizeof(target), "project:%" PRId64 ":provider_key:%s", pr.id,
	         m->params[2]);
	dash_audit(r, t.id, "provider_key.clear", target, "ok", NULL);
	pk_project_done(r, &t, &pr, "keycleared");
}
