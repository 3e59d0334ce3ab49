/*
 * store/admission.h: reservations and counters, the SQL side of admission.
 *
 * DESIGN
 * budget_counters holds one row per (scope, scope_id, window, period):
 * scope tenant | key | global | project | tag | end_user (scope_id: the
 * keyed hash of the end user, secrets_end_user_id), window minute | day | month, period the
 * calendar key ("2026-11-23 14:05", "2026-11-23", "2026-11"). A
 * reservation adds the call's worst case to `reserved` of every row that
 * applies with ONE conditional UPDATE whose WHERE clause holds each row's
 * limit: the row lock InnoDB takes makes check-and-reserve atomic across
 * threads, processes and hosts. Rows matched < rows asked means refused:
 * the transaction is rolled back and the rows are read to say which limit.
 * Concurrency uses rows of window `inflight` the same way (`requests` is
 * the number in flight; settling gives the slot back). Settling moves the
 * reservation to `spent` at the actual cost and writes the execution row
 * and the daily rollup in the same transaction; a reservation that is not
 * settled by its expiry (its process died) is settled by the reaper at its
 * full reserved amount (never under-billed) with an execution row saying so.
 */
#ifndef AH_STORE_ADMISSION_H
#define AH_STORE_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* In the order of budget_counters.scope's ENUM (rows are locked in that order). */
enum adm_scope { ADM_TENANT, ADM_KEY, ADM_GLOBAL, ADM_PROJECT, ADM_TAG, ADM_END_USER, ADM__SCOPES };
enum adm_window { ADM_MINUTE, ADM_DAY, ADM_MONTH, ADM_INFLIGHT, ADM__WINDOWS };

#define ADM_MAX_COUNTERS                                                                           \
	30 /* 16 for the tenant, its key and project, global; 12 tags; 2 end user */

struct adm_counter {
	int scope;          /* enum adm_scope */
	int64_t scope_id;   /* tenant id, key id, 0 for global */
	int window;         /* enum adm_window */
	char period[20];    /* calendar key of the window ("" for inflight) */
	int64_t max_micros; /* limits (0 = none) */
	int64_t max_tokens;
	int64_t max_requests; /* per window; for inflight: concurrent requests */
	int hard;             /* 0: soft, never refuses */
	/* read back: */
	int64_t spent_micros, reserved_micros, leased_micros;
	int64_t spent_tokens, reserved_tokens, leased_tokens;
	int64_t requests, leased_requests;
	int admitted; /* this row admitted the request */
};

struct adm_request {
	int64_t tenant_id;
	int64_t key_id;
	int64_t micros;        /* worst-case cost reserved */
	int64_t tokens;        /* worst-case tokens reserved (prompt bound + max_tokens) */
	int64_t prompt_tokens; /* the prompt's upper bound (for a reaped execution row) */
	int64_t max_tokens;    /* completion cap (ditto) */
	struct adm_counter c[ADM_MAX_COUNTERS];
	size_t n;
	int expires_s; /* reservation lifetime */
	/* what the reaper needs to write an execution row if the process dies */
	const char *exec_id, *kind, *model, *provider, *agent_name, *request_id;
	int64_t agent_id;
	int stream;
};

/*
 * The order of counter rows' primary key (scope, scope_id, window, period,
 * as budget_counters sorts them): every statement that locks several rows
 * locks them in this order, so two transactions never wait for each other
 * in a circle. Negative, zero or positive like strcmp.
 */
int adm_key_cmp(int scope_a, int64_t id_a, int window_a, const char *period_a, int scope_b,
                int64_t id_b, int window_b, const char *period_b);
int adm_counter_cmp(const struct adm_counter *a, const struct adm_counter *b);

/*
 * Reserve. ST_OK with *refused -1 and *reservation_id set; ST_OK with
 * *refused = the index in a->c of the first counter that refused (nothing
 * reserved); or ST_ERR. The counters' read-back fields are filled either
 * way (for headers and messages).
 */
int store_admit_reserve(struct store *st, struct adm_request *a, int64_t *reservation_id,
                        int *refused);
/*
 * Settle: move the reservation to spent at the actual cost and tokens,
 * release its concurrency slot, record e and its rollup — one transaction.
 * ST_CONFLICT when the reaper got there first: it recorded the call and
 * billed the full reservation, which stands. reservation_id 0: record e only.
 */
int store_admit_settle(struct store *st, int64_t reservation_id, const struct adm_request *a,
                       const struct execution *e);
/* Expire up to max overdue reservations; *reaped gets how many. */
int store_admit_reap(struct store *st, int max, int *reaped);
/* Current values of one counter (zeros when it has no row yet). */
int store_admit_counter_get(struct store *st, struct adm_counter *c);
/*
 * Open reservations, calls in flight one by one and slots leased to
 * processes, of a tenant (for /v1/budget).
 */
int store_admit_inflight(struct store *st, int64_t tenant_id, int64_t *inflight, int64_t *leased,
                         int64_t *open_reservations);

#endif
