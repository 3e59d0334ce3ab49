/*
 * identify.c: API key → tenant (see identify.h).
 *
 * DESIGN
 * Keys are never compared or logged in clear: the presented key is hashed
 * and the hash looked up. Shape checks happen first, so garbage never costs
 * a database round trip. last_used_at is updated at most once a minute per
 * key per thread (a small thread-local table), keeping identification to a
 * single round trip on the hot path.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "crypto/secrets.h"
#include "host/http.h"
#include "store/store.h"
#include "tenancy/identify.h"

#define TOUCH_SLOTS 64
#define TOUCH_EVERY_S 60

static __thread struct {
	int64_t key_id;
	int64_t at;
} touch_slots[TOUCH_SLOTS];

static void identify_touch(struct store *st, int64_t key_id)
{
	int64_t now = util_unix_time();
	unsigned slot = (unsigned)(key_id % TOUCH_SLOTS);

	if (touch_slots[slot].key_id == key_id && now - touch_slots[slot].at < TOUCH_EVERY_S)
		return;
	touch_slots[slot].key_id = key_id;
	touch_slots[slot].at = now;
	store_key_touch(st, key_id);
}

/* X-Tenant-ID may name the tenant by id or slug; anything else is a mismatch. */
static int identify_tenant_header_ok(const char *h, const struct key_auth *ka)
{
	int64_t id;

	if (util_parse_i64(h, 1, INT64_MAX, &id) == 0)
		return id == ka->tenant_id;
	return strcmp(h, ka->tenant_slug) == 0;
}

int identify_request(struct req *r, struct ident *out)
{
	const char *auth = req_header(r, "Authorization"), *key, *th;
	uint8_t hash[SECRETS_HASH_LEN];
	struct key_auth ka;
	size_t len;
	int rc;

	if (auth == NULL || *auth == '\0') {
		resp_error(r, 401, "missing_api_key",
		           "no API key: send it as 'Authorization: Bearer <key>'");
		return -1;
	}
	if (!util_has_prefix_ci(auth, "Bearer ")) {
		resp_error(r, 401, "invalid_api_key",
		           "the Authorization header must use the Bearer scheme");
		return -1;
	}
	key = auth + 7;
	while (*key == ' ')
		key++;
	len = strlen(key);
	if (!secrets_api_key_shape_ok(key, len)) {
		resp_error(r, 401, "invalid_api_key", "the API key is not valid");
		return -1;
	}
	secrets_hash_api_key(key, len, hash);
	rc = store_key_auth(r->store, hash, &ka);
	sodium_memzero(hash, sizeof(hash));
	if (rc == ST_NOTFOUND) {
		resp_error(r, 401, "invalid_api_key", "the API key is not valid");
		return -1;
	}
	if (rc != ST_OK) {
		resp_error(r, 503, "database_unavailable",
		           "the key store is unavailable; retry shortly");
		return -1;
	}
	r->tenant_id = ka.tenant_id;
	switch (ka.state) {
	case KEY_ACTIVE:
		break;
	case KEY_REVOKED:
		resp_error(r, 401, "key_revoked", "this API key has been revoked");
		return -1;
	case KEY_ROTATED:
		resp_error(r, 401, "key_expired",
		           "this API key was rotated and its grace period has ended");
		return -1;
	default:
		resp_error(r, 401, "key_expired", "this API key has expired");
		return -1;
	}
	th = req_header(r, "X-Tenant-ID");
	if (th && *th && !identify_tenant_header_ok(th, &ka)) {
		resp_error(r, 403, "tenant_mismatch",
		           "X-Tenant-ID does not match the tenant of this API key");
		return -1;
	}
	if (ka.tenant_status != TENANT_ACTIVE) {
		resp_error(r, 403, "tenant_suspended", "this tenant is suspended");
		return -1;
	}
	/*
	 * While the tenant's data moves between databases (agenthostctl tenant
	 * move) reads are served from where it still is; anything that writes
	 * is refused so nothing lands on the side being left.
	 */
	if (ka.migrating && strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		resp_header_i64(r, "Retry-After", 2);
		resp_error(r, 503, "tenant_migrating",
		           "this tenant's data is being moved; retry in a few seconds");
		return -1;
	}
	out->tenant_id = ka.tenant_id;
	out->key_id = ka.key_id;
	util_strlcpy(out->tenant_slug, ka.tenant_slug, sizeof(out->tenant_slug));
	util_strlcpy(out->plan, ka.plan, sizeof(out->plan));
	util_strlcpy(out->key_prefix, ka.key_prefix, sizeof(out->key_prefix));
	identify_touch(r->store, ka.key_id);
	return 0;
}
