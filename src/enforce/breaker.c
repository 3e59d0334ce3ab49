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
 * nothing; otherwise breaker_check is one primary-key SELECT (a healthy
 * tenant has no row at all), and breaker_record writes only on a failure
 * or when a probe settles. No per-process cache: a breaker opened by one
 * host refuses on every other at the next request.
 *
 * A probe whose process died never reports back. The claim moves open_until
 * to one cooldown ahead; past it the probe is presumed lost and the next
 * request may claim a new one. The breaker cannot see the configured call
 * timeout, so a very slow probe may overlap with a second one: at worst two
 * requests reach a failing upstream per cooldown instead of one.
 */
#include "config.h"

#include <stdint.h>

#include "common/log.h"
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

enum breaker_verdict breaker_check(struct store *st, const struct limits *lim, int64_t tenant_id,
                                   const char *provider, int *retry_after_s)
{
	struct brk_row row;
	char owner[64];
	int errors, window_s, cooldown_s, claimed, rc;

	*retry_after_s = 0;
	if (!breaker_limits(lim, &errors, &window_s, &cooldown_s))
		return BREAKER_CLOSED;
	rc = store_breaker_get(st, tenant_id, provider, &row);
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
