/*
 * breaker: a circuit breaker per (tenant, provider).
 *
 * DESIGN
 * State lives in MariaDB (one row per tenant and provider) so every process
 * and host sees the same breaker. N upstream failures (5xx, timeouts,
 * unreachable, auth failures — not client errors or cancellations) within W
 * seconds open it for a cooldown (limits breaker_errors, breaker_window_s,
 * breaker_cooldown_s); after the cooldown exactly one request is let
 * through as a probe (claimed atomically): success closes the breaker,
 * failure opens it for another cooldown. Keyed by tenant, so one tenant's
 * failing credential never opens the circuit for another.
 */
#ifndef AH_BREAKER_H
#define AH_BREAKER_H

#include <stdint.h>

struct store;
struct limits;

enum breaker_verdict { BREAKER_CLOSED, BREAKER_PROBE, BREAKER_OPEN, BREAKER_ERROR };

/*
 * May a call to provider go ahead for tenant? BREAKER_CLOSED or
 * BREAKER_PROBE (go ahead), BREAKER_OPEN (refuse: 503 circuit_open;
 * *retry_after_s tells when), BREAKER_ERROR (store failed: go ahead, a
 * breaker must not become an outage).
 */
enum breaker_verdict breaker_check(struct store *st, const struct limits *lim, int64_t tenant_id,
                                   const char *provider, int *retry_after_s);
/* Record the outcome of a call let through (failure: 1 for an upstream failure, 0 otherwise). */
void breaker_record(struct store *st, const struct limits *lim, int64_t tenant_id,
                    const char *provider, enum breaker_verdict verdict, int failure);

#endif
