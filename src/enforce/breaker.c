/*
 * breaker.c: the circuit breaker per (tenant, provider) (see enforce/breaker.h).
 *
 * DESIGN
 * The state machine, with the database as the only memory (store/guards.h):
 *
 *   closed --(breaker_errors failures within breaker_window_s)--> open
 *   open --(breaker_cooldown_s passed; one caller claims)--> half_open (probe)
 *   half_open --(probe succeeds)--> closed, failures 0
 *   half_open --(probe fails)--> open for another cooldown
 *
 * Cost on the hot path: with breaker_errors 0 the breaker is off and costs
 * nothing; otherwise breaker_check reads the breaker's row (a healthy tenant
 * has none) through a process-wide cache (common/cache.h), and
 * breaker_record writes only on a failure or when a probe settles. Every
 * write of a breaker is a change of its tenant (store/changes.c): the
 * cached row is dropped by every process of this host at its next request
 * and on other hosts within one watch of change_log. An open breaker's
 * cached row is kept until its cooldown ends; then the probe is claimed in
 * the database as before.
 *
 * A probe whose process died never reports back. The claim moves open_until
 * to one cooldown ahead; past it the probe is presumed lost and the next
 * request may claim a new one. The breaker cannot see the configured call
 * timeout, so a very slow probe may overlap with a second one: at worst two
 * requests reach a failing upstream per cooldown instead of one.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "common/cache.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/breaker.h"
#include "enforce/limits.h"
#include "store/guards.h"
#include "store/store.h"

/* Breaker limits of lim; 0 from errors means the breaker is off. */
static int breaker_limits(const struct limits *lim, int *errors, int *window_s, int *cooldown_s)
{
	int64_t e, w, c;

	if (lim == NULL)
		return 0;
	e = lim->v[LIM_BREAKER_ERRORS].num;
	w = lim->v[LIM_BREAKER_WINDOW_S].num;
	c = lim->v[LIM_BREAKER_COOLDOWN_S].num;
	if (e <= 0)
		return 0;
	/* limit_validate bounds them (errors <= 10^6, seconds <= 1 day); clamp anyway. */
	*errors = e > 1000000 ? 1000000 : (int)e;
	*window_s = w < 1 ? 1 : w > 86400 ? 86400 : (int)w;
	*cooldown_s = c < 1 ? 1 : c > 86400 ? 86400 : (int)c;
	return 1;
}

#define BRK_CACHE_ENTRIES 32768 /* as many (tenant, provider) as the key cache has keys */

struct brk_key {
	int64_t tenant_id;
	char provider[32];
};

struct brk_entry {
	int found; /* 0: no row (closed) */
	struct brk_row row;
	int64_t due_us; /* monotonic time open_until passes */
};

static struct cache *brk_cache;
static pthread_once_t brk_cache_once = PTHREAD_ONCE_INIT;

static void brk_cache_init(void)
{
	brk_cache = cache_new("breakers", sizeof(struct brk_key), sizeof(struct brk_entry),
	                      BRK_CACHE_ENTRIES, CACHE_SAFETY_NET_US, NULL);
}

/*
 * The breaker row of (tenant, provider), from the cache or the database:
 * ST_OK, ST_NOTFOUND (no row), ST_ERR. A due breaker is never answered from
 * the cache (its probe must be claimed in the database).
 */
static int breaker_row(struct store *st, int64_t tenant_id, const char *provider,
                       struct brk_row *row)
{
	struct brk_key k;
	struct brk_entry e;
	struct cache_begin b;
	struct cache_stamp s;
	int64_t now;
	int rc;

	pthread_once(&brk_cache_once, brk_cache_init);
	memset(&k, 0, sizeof(k));
	k.tenant_id = tenant_id;
	if (util_strlcpy(k.provider, provider, sizeof(k.provider)) < 0 || brk_cache == NULL)
		return store_breaker_get(st, tenant_id, provider, row);
	if (cache_get(brk_cache, &k, &e)) {
		if (!e.found)
			return ST_NOTFOUND;
		*row = e.row;
		now = util_now_us();
		if (row->state != BRK_CLOSED) {
			row->wait_us = e.due_us > now ? e.due_us - now : 0;
			row->wait_s = (int)((row->wait_us + 999999) / 1000000);
			row->due = row->wait_us == 0;
		}
		return ST_OK;
	}
	cache_begin(&b);
	rc = store_breaker_get(st, tenant_id, provider, row);
	if (rc == ST_ERR || (rc == ST_OK && row->state != BRK_CLOSED && row->due))
		return rc;
	memset(&e, 0, sizeof(e));
	e.found = rc == ST_OK;
	if (e.found) {
		e.row = *row;
		e.due_us = b.at_us + row->wait_us;
	}
	if (cache_stamp(&s, &b, tenant_id, CACHE_NO_GLOBAL))
		cache_put(brk_cache, &k, &e, &s,
		          e.found && row->state != BRK_CLOSED ? e.due_us : 0);
	return rc;
}

enum breaker_verdict breaker_check(struct store *st, const struct limits *lim, int64_t tenant_id,
                                   const char *provider, int *retry_after_s)
{
	struct brk_row row;
	char owner[64];
	int errors, window_s, cooldown_s, claimed, rc;

	*retry_after_s = 0;
	if (!breaker_limits(lim, &errors, &window_s, &cooldown_s))
		return BREAKER_CLOSED;
	rc = breaker_row(st, tenant_id, provider, &row);
	if (rc == ST_NOTFOUND)
		return BREAKER_CLOSED;
	if (rc != ST_OK)
		return BREAKER_ERROR;
	if (row.state == BRK_CLOSED)
		return BREAKER_CLOSED;
	if (!row.due) {
		/* Open: wait out the cooldown. Half-open: a probe is in flight, ask again soon. */
		*retry_after_s = row.state == BRK_OPEN && row.wait_s > 0 ? row.wait_s : 1;
		return BREAKER_OPEN;
	}
	store_guard_owner(owner, sizeof(owner));
	if (store_breaker_claim_probe(st, tenant_id, provider, owner, cooldown_s, &claimed) !=
	    ST_OK)
		return BREAKER_ERROR;
	if (claimed) {
		log_info("breaker: tenant %lld provider %s: probing after %d failures",
		         (long long)tenant_id, provider, row.failures);
		return BREAKER_PROBE;
	}
	*retry_after_s = 1; /* another request won the probe */
	return BREAKER_OPEN;
}

void breaker_record(struct store *st, const struct limits *lim, int64_t tenant_id,
                    const char *provider, enum breaker_verdict verdict, int failure)
{
	int errors, window_s, cooldown_s, rc;

	if (!breaker_limits(lim, &errors, &window_s, &cooldown_s))
		return;
	if (verdict == BREAKER_PROBE) {
		rc = store_breaker_probe_done(st, tenant_id, provider, !failure, cooldown_s);
		if (rc == ST_OK)
			log_info("breaker: tenant %lld provider %s: probe %s, breaker %s",
			         (long long)tenant_id, provider, failure ? "failed" : "succeeded",
			         failure ? "open again" : "closed");
	} else if (failure) {
		rc = store_breaker_fail(st, tenant_id, provider, errors, window_s, cooldown_s);
	} else {
		return; /* a success while closed changes nothing: no write on the hot path */
	}
	if (rc != ST_OK)
		log_error("breaker: tenant %lld provider %s: could not record the outcome",
		          (long long)tenant_id, provider);
}
