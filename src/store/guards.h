/*
 * store/guards.h: the SQL side of idempotency keys and circuit breakers.
 *
 * DESIGN
 * Both live in MariaDB so that every thread, process and host sees one
 * state (sql/005_guards.sql). Times are the database's UTC_TIMESTAMP(6).
 *
 * An idempotency row's expires_at is the moment it stops counting: while
 * the claim runs, the longest the call may take (stale_s, so a claim whose
 * process died frees the key by itself); once done, 24 hours after the
 * claim. "Expired" is therefore one indexed comparison for both states, a
 * new claim replaces an expired row, and store_idem_purge deletes them in
 * index order.
 *
 * A breaker row exists only once a call failed; the hot path of a healthy
 * tenant is one primary-key SELECT that finds nothing. Failures are counted
 * and the breaker opened by one upsert; the probe is claimed by one
 * conditional UPDATE (rows matched = 1 means this caller probes).
 */
#ifndef AH_STORE_GUARDS_H
#define AH_STORE_GUARDS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define IDEM_KEY_MAX 255       /* longest Idempotency-Key */
#define IDEM_TTL_S (24 * 3600) /* how long a completed key is remembered */

/* An idempotency row found by a claim that could not insert. */
struct idem_row {
	uint8_t hash[32];    /* request hash of the first request */
	int done;            /* 1: state done (response stored); 0: running */
	int status;          /* HTTP status of the stored response */
	char *response;      /* stored bytes (malloc'd) when done and the hash matched, else NULL */
	size_t response_len; /* their length */
};

/*
 * Claim (tenant_id, key) for a request with hash, as running for at most
 * stale_s seconds. ST_OK: claimed, run the request. ST_CONFLICT: a live row
 * exists, described in *row (free with store_idem_row_free). ST_ERR. An
 * expired row (see DESIGN) is deleted and the claim retried.
 */
int store_idem_claim(struct store *st, int64_t tenant_id, const char *key, const uint8_t hash[32],
                     int stale_s, struct idem_row *row);
/*
 * Store the response of a claimed key and mark it done (remembered for
 * IDEM_TTL_S from the claim). ST_OK, ST_NOTFOUND when the claim is gone
 * (it went stale and was replaced), ST_ERR.
 */
int store_idem_finish(struct store *st, int64_t tenant_id, const char *key, const uint8_t hash[32],
                      int status, const void *response, size_t len);
/* Drop a running claim so a retry runs the request. ST_OK (also when already gone), ST_ERR. */
int store_idem_release(struct store *st, int64_t tenant_id, const char *key,
                       const uint8_t hash[32]);
/* Delete up to max expired rows; *purged gets how many. ST_OK or ST_ERR. */
int store_idem_purge(struct store *st, int max, int *purged);
/* Free what a claim put in row. */
void store_idem_row_free(struct idem_row *row);

enum brk_state { BRK_CLOSED, BRK_OPEN, BRK_HALF_OPEN };

/* A breaker row as breaker_check needs it. */
struct brk_row {
	int state;       /* enum brk_state */
	int failures;    /* in the current window */
	int due;         /* open_until has passed (open: probe allowed; half_open: probe lost) */
	int wait_s;      /* whole seconds until open_until (>= 0) */
	int64_t wait_us; /* microseconds until open_until (>= 0) */
};

/* Read the breaker of (tenant, provider). ST_OK, ST_NOTFOUND (no row: closed), ST_ERR. */
int store_breaker_get(struct store *st, int64_t tenant_id, const char *provider,
                      struct brk_row *out);
/*
 * Claim the probe of a due breaker (open past open_until, or half_open
 * whose probe is presumed lost): state half_open, probe_owner = owner, the
 * probe presumed lost after probe_s. *claimed 1 when this caller got it.
 * ST_OK or ST_ERR.
 */
int store_breaker_claim_probe(struct store *st, int64_t tenant_id, const char *provider,
                              const char *owner, int probe_s, int *claimed);
/*
 * Count one upstream failure of a call that was not a probe: in a window of
 * window_s seconds (a new window when the last one ended), opening the
 * breaker for cooldown_s when failures reach errors. No effect on a breaker
 * that is already open or probing. ST_OK or ST_ERR.
 */
int store_breaker_fail(struct store *st, int64_t tenant_id, const char *provider, int errors,
                       int window_s, int cooldown_s);
/*
 * Settle a probe: success closes the breaker (failures 0), failure opens it
 * for another cooldown_s. Only a breaker in state half_open changes. ST_OK
 * or ST_ERR.
 */
int store_breaker_probe_done(struct store *st, int64_t tenant_id, const char *provider, int success,
                             int cooldown_s);

/* "hostname:pid" of this process (for owner columns); out >= 64 bytes. */
void store_guard_owner(char *out, size_t cap);

/*
 * Breakers counted by provider and state ("closed", "open", "half_open"),
 * for /metrics: cb once per pair (count > 0). ST_OK or ST_ERR.
 */
int store_breaker_counts(struct store *st,
                         void (*cb)(void *ctx, const char *provider, const char *state,
                                    int64_t count),
                         void *ctx);

#endif
