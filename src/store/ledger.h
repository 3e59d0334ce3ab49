/*
 * store/ledger.h: the SQL of the ledger, many finished calls recorded in
 * one transaction (src/exec/ledger.c decides when).
 *
 * DESIGN
 * A ledger record is one finished (or refused) call: its execution row and
 * what it held on each budget counter. Writing a batch of them does, in
 * this order:
 *   - a dedicated tenant's rows and rollups, in its own database, one
 *     transaction per tenant (data first, as settling always did);
 *   - everything else in one transaction of the control database: the
 *     reservations of calls admitted one by one closed (those still open:
 *     a reservation the reaper closed first means the reaper recorded the
 *     call at its worst case, and the record is dropped), every counter
 *     moved by the sum of the batch's calls on it (one statement), the
 *     shared tenants' rows (one multi-row INSERT), the rollups (one
 *     statement per table, rows of the same key summed), and a mark per
 *     dedicated tenant's call saying its control part is written.
 * So the execution rows, the rollups and the counters always agree, at
 * every commit. In recover mode (a journal replayed after its process
 * died) rows already written are looked up first and skipped: a record is
 * never written twice.
 */
#ifndef AH_STORE_LEDGER_H
#define AH_STORE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "store/admission.h"
#include "store/leases.h"
#include "store/store.h"

/* How a call held a counter. */
enum ledger_mode {
	LM_NONE,     /* not at all (no limit): the counter only learns the spend */
	LM_RESERVED, /* by its own reservation (reservation_id) */
	LM_LEASED,   /* on its process's lease */
	LM__MAX
};

struct ledger_counter {
	unsigned char scope;  /* enum adm_scope */
	unsigned char window; /* enum adm_window */
	unsigned char mode;   /* enum ledger_mode */
	unsigned char held;   /* LM_LEASED: LEASE_HELD_* of what the lease held (store/leases.h) */
	int64_t scope_id;
	char period[20];
	int64_t wc_micros, wc_tokens; /* the call's worst case held on it */
};

enum ledger_state {
	LR_PENDING, /* not written yet */
	LR_DONE,    /* written (or found written, in recover mode) */
	LR_DROPPED  /* its reservation was closed by the reaper first: the reaper's row stands */
};

struct ledger_rec {
	uint64_t seq;           /* in its process's journal */
	int64_t created_us;     /* when the call ended, unix microseconds */
	int64_t reservation_id; /* the LM_RESERVED counters' reservation, 0 if none */
	int64_t owner_id;       /* the LM_LEASED counters' lease owner, 0 if none */
	int dedicated;          /* the tenant's data is in a database of its own */
	int data_epoch;         /* where, as identification read it */
	struct execution e;     /* strings point into the record's owner */
	size_t n;
	struct ledger_counter c[ADM_MAX_COUNTERS];
	int state;     /* enum ledger_state, set by store_ledger_apply */
	int data_done; /* a dedicated tenant's row is in its database */
};

/*
 * Write the pending records of recs[0..n) as described above. Each record
 * ends LR_DONE or LR_DROPPED when its transactions committed, or stays
 * LR_PENDING (to be tried again). ST_OK when none stayed pending, ST_ERR
 * otherwise (logged). recover: look up what is already written first.
 */
int store_ledger_apply(struct store *st, struct ledger_rec *const *recs, size_t n, int recover);

#endif
