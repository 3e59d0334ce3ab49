/*
 * identify.c: API key → tenant (see identify.h).
 *
 * DESIGN
 * Keys are never compared or logged in clear: the presented key is hashed
 * and the hash looked up. Shape checks happen first, so garbage never costs
 * a database round trip.
 *
 * What the lookup answers (the key's state, its tenant's status, plan and
 * placement) is cached per process by key hash (common/cache.h): dropped on
 * this host as soon as anything about the tenant changes (revocation,
 * rotation, suspension, a move), on other hosts within one watch of
 * change_log, and by the clock when an active key's expiry or grace period
 * ends (the lookup says how far away that is, by the database clock). An
 * unknown hash is remembered for KEY_MISS_US, and forgotten when any key is
 * created. The stated bound for revocation (2 s, docs/ENFORCEMENT.md) is
 * CACHE_TRUST_US plus one watch at most, on any host.
 *
 * A process pinned to tenants (conf serve_tenants / exclude_tenants) refuses
 * any other tenant's key right after it is identified: the tenant's slug
 * comes with the key, and slugs never change, so nothing is resolved or kept
 * in step with the tenants table.
 *
 * last_used_at: a request only marks its key used in a process-wide table;
 * the background thread writes the marks in one statement every
 * TOUCH_EVERY_S (identify_touch_flush), so identification writes nothing.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "common/cache.h"
#include "common/conf.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "host/http.h"
#include "store/store.h"
#include "tenancy/identify.h"

#define KEY_CACHE_ENTRIES 32768
#define KEY_MISS_US (5 * 1000000LL) /* an unknown hash */
#define TOUCH_SLOTS 16384
#define TOUCH_EVERY_S 30

struct key_entry {
	int found;
	struct key_auth ka;
};

static struct cache *key_cache;
static pthread_once_t key_cache_once = PTHREAD_ONCE_INIT;

static void key_cache_init(void)
{
	key_cache = cache_new("keys", SECRETS_HASH_LEN, sizeof(struct key_entry), KEY_CACHE_ENTRIES,
	                      CACHE_SAFETY_NET_US, NULL);
}

/*
 * Keys used since the last flush (0: free slot), open addressing by key id,
 * without a lock: a request claims a slot with one compare-and-swap (or
 * finds its key there), the flush takes each slot back with an exchange.
 */
static _Atomic int64_t touched[TOUCH_SLOTS];

static void identify_touch(int64_t key_id)
{
	size_t i = (size_t)((uint64_t)key_id * 0x9E3779B97F4A7C15ULL >> 50) % TOUCH_SLOTS;

	/* A crowded neighbourhood drops the mark until the next flush: best effort. */
	for (size_t probe = 0; probe < 16; probe++) {
		_Atomic int64_t *s = &touched[(i + probe) % TOUCH_SLOTS];
		int64_t cur = atomic_load_explicit(s, memory_order_relaxed);

		if (cur == key_id)
			return;
		if (cur == 0 && atomic_compare_exchange_strong(s, &cur, key_id))
			return;
		if (cur == key_id)
			return;
	}
}

int identify_touch_flush(struct store *st)
{
	static int64_t last;
	int64_t ids[512], now = util_unix_time();
	size_t n = 0;
	int rc = ST_OK;

	if (now - last < TOUCH_EVERY_S)
		return ST_OK;
	last = now;
	for (size_t j = 0; j < TOUCH_SLOTS; j++) {
		int64_t id = atomic_exchange(&touched[j], 0);

		if (id)
			ids[n++] = id;
		if (n == ARRAY_SIZE(ids) || (j == TOUCH_SLOTS - 1 && n)) {
			if (store_keys_touch(st, ids, n) != ST_OK)
				rc = ST_ERR;
			n = 0;
		}
	}
	return rc;
}

/* The key with this hash, from the cache or the database: ST_OK, ST_NOTFOUND, ST_ERR. */
static int identify_lookup(struct store *st, const uint8_t hash[SECRETS_HASH_LEN],
                           struct key_auth *ka)
{
	struct cache_begin b;
	struct cache_stamp s;
	struct key_entry e;
	int rc;

	pthread_once(&key_cache_once, key_cache_init);
	if (key_cache && cache_get(key_cache, hash, &e)) {
		if (!e.found)
			return ST_NOTFOUND;
		*ka = e.ka;
		store_route_set(st, ka->tenant_id, ka->dedicated, ka->data_epoch);
		return ST_OK;
	}
	cache_begin(&b);
	rc = store_key_auth(st, hash, ka);
	if (rc == ST_ERR || key_cache == NULL)
		return rc;
	memset(&e, 0, sizeof(e));
	e.found = rc == ST_OK;
	if (e.found) {
		e.ka = *ka;
		if (cache_stamp(&s, &b, ka->tenant_id, CACHE_NO_GLOBAL))
			cache_put(key_cache, hash, &e, &s,
			          ka->state == KEY_ACTIVE && ka->valid_for_us < CACHE_SAFETY_NET_US
			              ? b.at_us + (ka->valid_for_us > 0 ? ka->valid_for_us : 0)
			              : 0);
	} else if (cache_stamp(&s, &b, 0, EPOCH_KEYS)) {
		cache_put(key_cache, hash, &e, &s, b.at_us + KEY_MISS_US);
	}
	sodium_memzero(&e, sizeof(e));
	return rc;
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
		resp_error(r, R_missing_api_key,
		           "no API key: send it as 'Authorization: Bearer <key>'");
		return -1;
	}
	if (!util_has_prefix_ci(auth, "Bearer ")) {
		resp_error(r, R_invalid_api_key,
		           "the Authorization header must use the Bearer scheme");
		return -1;
	}
	key = auth + 7;
	while (*key == ' ')
		key++;
	len = strlen(key);
	if (!secrets_api_key_shape_ok(key, len)) {
		resp_error(r, R_invalid_api_key, "the API key is not valid");
		return -1;
	}
	secrets_hash_api_key(key, len, hash);
	rc = identify_lookup(r->store, hash, &ka);
	sodium_memzero(hash, sizeof(hash));
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_invalid_api_key, "the API key is not valid");
		return -1;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable,
		           "the key store is unavailable; retry shortly");
		return -1;
	}
	r->tenant_id = ka.tenant_id;
	switch (ka.state) {
	case KEY_ACTIVE:
		break;
	case KEY_REVOKED:
		resp_error(r, R_key_revoked, "this API key has been revoked");
		return -1;
	case KEY_ROTATED:
		resp_error(r, R_key_expired,
		           "this API key was rotated and its grace period has ended");
		return -1;
	default:
		resp_error(r, R_key_expired, "this API key has expired");
		return -1;
	}
	th = req_header(r, "X-Tenant-ID");
	if (th && *th && !identify_tenant_header_ok(th, &ka)) {
		resp_error(r, R_tenant_mismatch,
		           "X-Tenant-ID does not match the tenant of this API key");
		return -1;
	}
	/*
	 * A pool pinned to other tenants (serve_tenants), or one that keeps this
	 * tenant out (exclude_tenants): refused before limits, admission or the
	 * provider, so the tenant's work never runs in processes it is not
	 * placed in. Its state (suspended, migrating) is its own pool's to tell.
	 */
	if (!conf_serves_tenant(r->conf, ka.tenant_slug)) {
		resp_error(r, R_tenant_not_served,
		           "tenant '%s' is not served by this pool of agenthost processes; "
		           "use the address its operator gave for it",
		           ka.tenant_slug);
		return -1;
	}
	if (ka.tenant_status != TENANT_ACTIVE) {
		resp_error(r, R_tenant_suspended, "this tenant is suspended");
		return -1;
	}
	/*
	 * While the tenant's data moves between databases (agenthostctl tenant
	 * move) reads are served from where it still is; anything that writes
	 * is refused so nothing lands on the side being left.
	 */
	if (ka.migrating && strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		struct refusal rf;

		reason_set(&rf, R_tenant_migrating,
		           "this tenant's data is being moved; retry in a few seconds");
		rf.retry_after = 2;
		resp_refusal(r, &rf);
		return -1;
	}
	out->tenant_id = ka.tenant_id;
	out->key_id = ka.key_id;
	util_strlcpy(out->tenant_slug, ka.tenant_slug, sizeof(out->tenant_slug));
	util_strlcpy(out->plan, ka.plan, sizeof(out->plan));
	util_strlcpy(out->key_prefix, ka.key_prefix, sizeof(out->key_prefix));
	out->dedicated = ka.dedicated;
	out->data_epoch = ka.data_epoch;
	out->log_content = ka.log_content;
	out->scopes = ka.scopes;
	identify_touch(ka.key_id);
	return 0;
}
