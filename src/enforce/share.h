/*
 * share: a process's capacity for calls in flight, shared fairly between
 * tenants.
 *
 * DESIGN
 * A call waiting on its provider costs the process a coroutine, not a
 * thread (host/sched.h), so a process holds up to max_inflight calls. One
 * tenant must not take them all: every call that reaches a provider enters
 * here first (exec/execute.c) and leaves when it has been recorded.
 *
 *   - the process is full (max_inflight calls): 503 server_busy;
 *   - the tenant holds its cap, host_share_pct percent of max_inflight
 *     (limits: global, plan, tenant; 0 = no cap): 429 tenant_share_exceeded;
 *   - the process is busy (its last tenth of capacity is being used) and the
 *     tenant holds at least its fair part, max_inflight divided by one more
 *     than the tenants with calls in flight (itself included): 429
 *     tenant_share_exceeded. A tenant under its fair part is still admitted
 *     until the process is full, so when the host fills up, tenants under
 *     their share (a newcomer above all) get the last places first.
 *
 * Refusals carry Retry-After: 1. Counts are per process and exact (a mutex
 * around a small open-addressed table of the tenants with calls in flight);
 * a host's capacity is its processes times max_inflight.
 */
#ifndef AH_SHARE_H
#define AH_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "common/reason.h"

/* Size the table for max_inflight calls. 0 ok, -1 out of memory. */
int share_init(int max_inflight);
/*
 * Enter a call of tenant_id whose cap is pct percent (0 = none). 0 when
 * admitted (share_leave it later); -1 when refused, rf filled
 * (server_busy or tenant_share_exceeded, Retry-After 1).
 */
int share_enter(int64_t tenant_id, int64_t pct, struct refusal *rf);
void share_leave(int64_t tenant_id);
/* Calls in flight in this process, and tenants holding them (for /readyz and tests). */
void share_counts(int *calls, int *tenants);

#endif
