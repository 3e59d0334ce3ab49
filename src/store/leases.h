/*
 * store/leases.h: the SQL of process leases (sql/017): owners, grants,
 * returns, promotions of long calls to reservations, recalls, and closing
 * the leases of an owner that ended.
 *
 * DESIGN
 * A lease is a slice of a counter's headroom booked in the counter's
 * leased_* columns and in a leases row of its owner, in one transaction
 * that locks the counter rows: spent + reserved + leased never passes a
 * hard limit, whoever books. The owner spends its slice without asking;
 * the ledger's batches move what its calls spent from leased to spent (and
 * off the lease row) in the same transaction as their execution rows.
 * Everything an owner does with its leases first locks its owners row: an
 * owner that was reaped (its row deleted with its leases) changes nothing
 * of the counters any more.
 */
#ifndef AH_STORE_LEASES_H
#define AH_STORE_LEASES_H

#include <stddef.h>
#include <stdint.h>

#include "store/admission.h"
#include "store/store.h"

/* What a call holds of a counter on its process's lease (a bit per dimension). */
#define LEASE_HELD_MICROS 1
#define LEASE_HELD_TOKENS 2
#define LEASE_HELD_REQUESTS 4

/* One counter a lease is asked for, and the answer. */
struct lease_ask {
	struct adm_counter *c; /* key and hard limits (max_*); read-back fields filled */
	int64_t need_micros, need_tokens, need_requests; /* the call that asks */
	int64_t want_micros, want_tokens, want_requests; /* what the process would like */
	int tail_calls; /* leave this many calls' worth of headroom to calls admitted one by one */
	int divisor;    /* take at most this share of what is left above that */
	/* answers */
	int64_t got_micros, got_tokens, got_requests;
	int tail; /* the counter is near its limit: admit one by one */
};

/* Register this process as an owner: *id. ST_OK or ST_ERR. */
int store_owner_register(struct store *st, const char *host, int pid, const char *journal,
                         int64_t *id);
/* Renew the owner's heartbeat: ST_OK, ST_NOTFOUND when it was reaped, ST_ERR. */
int store_owner_heartbeat(struct store *st, int64_t owner_id);
/* The most counters one grant transaction takes (the lease thread batches many tenants'). */
#define LEASE_GRANT_MAX 128

/*
 * Grant leases on asks[0..n) (n <= LEASE_GRANT_MAX, distinct counters) to
 * owner_id: each counter row is created if missing (with its limits),
 * locked and read (read-back fields of ->c), and granted what its headroom
 * allows (see struct lease_ask). ST_OK, ST_NOTFOUND when the owner was
 * reaped (nothing granted), ST_ERR.
 */
int store_lease_grant(struct store *st, int64_t owner_id, struct lease_ask *asks, size_t n);

/* What an owner gives back of one lease (amounts >= 0). */
struct lease_give {
	const struct adm_counter *c; /* key */
	int64_t micros, tokens, requests;
};

/* Give back gives[0..n): counters' leased and the lease rows. ST_OK, ST_NOTFOUND, ST_ERR. */
int store_lease_return(struct store *st, int64_t owner_id, const struct lease_give *gives,
                       size_t n);

/* A call moved from its owner's leases to a reservation of its own (a long call). */
struct lease_promotion {
	const struct adm_request *a; /* the call: worst case, counters, what the reaper needs */
	const unsigned char *held;   /* per counter of a: LEASE_HELD_* of what its lease held */
	int64_t reservation_id;      /* answer */
};

/*
 * Promote calls: a reservation row each, their worst case moved from the
 * counters' leased to reserved (and their request from leased_requests to
 * requests), off the lease rows. ST_OK, ST_NOTFOUND (owner reaped), ST_ERR.
 */
int store_lease_promote(struct store *st, int64_t owner_id, struct lease_promotion *p, size_t n);

/* Ask the holders of leases on counter c to give back what they do not use. */
int store_lease_recall(struct store *st, const struct adm_counter *c);

typedef void (*recall_cb)(void *ctx, int scope, int64_t scope_id, int window, const char *period);
/* Counters recalled within the last window_s seconds. ST_OK or ST_ERR. */
int store_lease_recalls(struct store *st, int window_s, recall_cb cb, void *ctx);

/*
 * Close an owner that ended: its leases' remaining grants leave the
 * counters' leased, its lease rows and its owners row are deleted.
 * silent_s > 0: only if its heartbeat is older than that, and what its
 * leases held is charged as spent (the calls it had in flight are unknown).
 * ST_OK when closed, ST_NOTFOUND when it is gone (or, silent_s > 0, not
 * silent any more), ST_ERR.
 */
int store_owner_close(struct store *st, int64_t owner_id, int silent_s);

/* An owner not heard of since before the cut. */
struct owner_row {
	int64_t id;
	char host[65];
	int pid;
	char journal[256];
	int64_t silent_s; /* seconds since its last heartbeat */
};

typedef int (*owner_cb)(void *ctx, const struct owner_row *o);
/* Owners silent for at least silent_s seconds. ST_OK or ST_ERR. */
int store_owners_silent(struct store *st, int silent_s, owner_cb cb, void *ctx);

#endif
