/*
 * keys.c: API key issue and rotation, BYOK sealing (see keys.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "store/store.h"
#include "tenancy/keys.h"

/* The scope names, bit i = 1 << i (enum key_scope). */
static const char *const scope_names[] = {"inference", "read", "manage"};

const char *keys_scope_name(int i)
{
	return i >= 0 && (size_t)i < ARRAY_SIZE(scope_names) ? scope_names[i] : NULL;
}

int keys_scopes_parse(const char *text, int *out)
{
	const char *p = text;
	int set = 0;

	if (text == NULL || *text == '\0')
		return -1;
	for (;;) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < ARRAY_SIZE(scope_names); i++)
			if (strlen(scope_names[i]) == n && strncmp(p, scope_names[i], n) == 0)
				break;
		if (i == ARRAY_SIZE(scope_names) || (set & (1 << i)))
			return -1;
		set |= 1 << i;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	*out = set;
	return 0;
}

void keys_scopes_format(int scopes, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(scope_names); i++) {
		if (!(scopes & (1 << i)))
			continue;
		o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s%s", o ? "," : "",
		                      scope_names[i]);
		if (o >= cap)
			return;
	}
}

int keys_issue(struct store *st, int64_t tenant_id, const char *name, int64_t expires_at,
               int scopes, char *key, char *prefix, int64_t *id_out)
{
	uint8_t hash[SECRETS_HASH_LEN];

	if (!secrets_ready() || secrets_new_api_key(key, prefix, hash) != 0)
		return KEYS_NOSECRETS;
	if (store_key_insert(st, tenant_id, name, prefix, hash, expires_at, scopes, id_out) !=
	    ST_OK) {
		sodium_memzero(key, SECRETS_API_KEY_LEN + 1);
		return KEYS_ERR;
	}
	return KEYS_OK;
}

int keys_rotate(struct store *st, int64_t tenant_id, int64_t key_id, int64_t grace_s, char *key,
                char *prefix, int64_t *new_id_out)
{
	uint8_t hash[SECRETS_HASH_LEN];
	int rc;

	if (!secrets_ready() || secrets_new_api_key(key, prefix, hash) != 0)
		return KEYS_NOSECRETS;
	rc = store_key_rotate(st, tenant_id, key_id, prefix, hash, grace_s, new_id_out);
	if (rc == ST_OK)
		return KEYS_OK;
	sodium_memzero(key, SECRETS_API_KEY_LEN + 1);
	return rc == ST_NOTFOUND ? KEYS_NOTFOUND : KEYS_ERR;
}

int keys_byok_set(struct store *st, int64_t tenant_id, const char *provider, const char *plain,
                  size_t len, struct sealed_cred *out)
{
	return keys_byok_set_project(st, tenant_id, 0, provider, plain, len, out);
}

int keys_byok_set_project(struct store *st, int64_t tenant_id, int64_t project_id,
                          const char *provider, const char *plain, size_t len,
                          struct sealed_cred *out)
{
	struct sealed_cred prev, cred;
	int rc;

	memset(&cred, 0, sizeof(cred));
	rc = project_id ? store_pcred_get(st, tenant_id, project_id, provider, &prev)
	                : store_cred_get(st, tenant_id, provider, &prev);
	if (rc == ST_OK)
		cred.version = prev.version + 1;
	else if (rc == ST_NOTFOUND)
		cred.version = 1;
	else
		return KEYS_ERR;
	sodium_memzero(&prev, sizeof(prev));
	rc = !secrets_ready() ? -1
	     : project_id     ? secrets_seal_project(tenant_id, project_id, provider, cred.version,
	                                             plain, len, cred.nonce, cred.ct, &cred.ct_len)
	                  : secrets_seal(tenant_id, provider, cred.version, plain, len, cred.nonce,
	                                 cred.ct, &cred.ct_len);
	if (rc != 0)
		return KEYS_NOSECRETS;
	secrets_last4(plain, cred.last4);
	rc = project_id ? store_pcred_put(st, tenant_id, project_id, provider, &cred)
	                : store_cred_put(st, tenant_id, provider, &cred);
	if (rc == ST_OK && out != NULL)
		*out = cred;
	sodium_memzero(&cred, sizeof(cred));
	return rc == ST_OK ? KEYS_OK : KEYS_ERR;
}
