/*
 * lease: admission without a round trip, on slices of the counters'
 * headroom this process holds (docs/ENFORCEMENT.md, "Leases").
 *
 * DESIGN
 * For each counter with a hard limit a call needs (tenant, key and global
 * budgets, rates, concurrency), the process keeps a lease: what it was
 * granted of the counter's headroom (store/leases.h books it in the
 * database, so spent + reserved + leased never passes the limit whoever
 * books) less what its calls spent, and what its calls in flight hold. A
 * call fits when every counter's lease has room for its worst case; it is
 * then admitted under one mutex, in memory. When a lease is short, it is
 * grown in one transaction, sized to about LEASE_HORIZON_S of this
 * process's calls and never more than a 1/LEASE_DIVISOR share of what is
 * left. A counter with less than LEASE_TAIL_CALLS worst cases left grants
 * no lease: its calls are admitted one by one with a reservation each
 * (store/admission.h), so the end of a budget is admitted exactly as
 * before; a call refused there while leases hold some of the counter
 * recalls them (every owner gives back what it does not use) and is tried
 * again.
 *
 * A call's actual spend leaves the lease when it ends (the rest of its
 * worst case stays for the next call); the ledger moves it from the
 * counter's leased to spent in the database. A call still running after
 * promote_after_ms (a stream at once) is promoted to a reservation of its
 * own, as if admitted one by one: the reaper then knows it like any other.
 * Leases unused for lease_idle_ms (conf), of a period that ended, of a limit that
 * changed, or recalled, are given back. A process uses its leases only
 * while its owner heartbeat succeeded within LEASE_TTL_MS; an owner silent
 * much longer is reaped (host/background.c).
 *
 * Soft budgets are admitted one by one (they warn and audit per call).
 */
#ifndef AH_LEASE_H
#define AH_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "store/admission.h"

struct store;
struct conf;
struct lease;

#define LEASE_TAIL_CALLS 32 /* below this many worst cases left, calls go one by one */
#define LEASE_DIVISOR 4     /* a grant takes at most a quarter of what is left above it */
#define LEASE_HORIZON_S 2   /* a grant covers about this long of this process's calls */
#define LEASE_MIN_CALLS 32  /* ...and at least this many calls */
#define LEASE_MAX_CALLS 512 /* ...and at most this many */
#define LEASE_TTL_MS 3000   /* leases are used only this long after a good heartbeat */
#define LEASE_HEARTBEAT_MS 500
/* a minute counter with a call this recent gets the next minute's lease ahead, even when
 * its tenant is seen less than once a minute: a quiet tenant's call never waits for a grant */
#define LEASE_MINUTE_KEEP_S 300
#define LEASE_TURN_S 30 /* ...taken in the last this many seconds of the minute before */
/* a call refused one by one while leases held the counter waits at most this long for them,
 * and gives up sooner when nothing came back for LEASE_RECALL_QUIET_MS: its holders hear a
 * recall within 100 ms (the change watch) and give back at their lease thread's next tick */
#define LEASE_RECALL_WAIT_MS 600
#define LEASE_RECALL_QUIET_MS 300

enum lease_verdict { LEASE_OK, LEASE_ONE_BY_ONE };
enum ticket_state { TK_NONE, TK_LEASED, TK_PROMOTING, TK_PROMOTED };

/* One call admitted on leases. */
struct lease_ticket {
	int state;                         /* enum ticket_state */
	struct lease *l[ADM_MAX_COUNTERS]; /* the lease of each counter of a (NULL: none) */
	unsigned char
	    held[ADM_MAX_COUNTERS];       /* LEASE_HELD_* of what each lease holds of the call */
	const struct adm_request *a;      /* the call (valid while it is in flight) */
	int64_t owner_id;                 /* whose leases */
	int64_t admitted_us;              /* monotonic */
	int64_t created_us;               /* wall clock, for the journal */
	int64_t reservation_id;           /* once promoted */
	struct lease_ticket *prev, *next; /* calls in flight */
};

/* Set up (before threads): promote after promote_after_ms (0: never). */
void lease_init(const struct conf *c);
/*
 * What to tell the journal (host/server.c wires exec/ledger.c here): a call
 * was promoted to a reservation; this process registered as an owner.
 */
void lease_hooks(void (*on_promoted)(const char *exec_id), void (*on_owner)(int64_t owner_id));
/*
 * Admit the call a on leases: LEASE_OK with t filled (and the call in
 * flight until lease_settle), or LEASE_ONE_BY_ONE (a counter is near its
 * limit, soft, or leases are not available now): reserve it instead.
 */
enum lease_verdict lease_admit(struct store *st, const struct adm_request *a,
                               struct lease_ticket *t);
/*
 * The call ended having spent actual_micros and actual_tokens. Returns 1
 * when it was promoted meanwhile (t->reservation_id: settle it as
 * reserved), 0 otherwise.
 */
int lease_settle(struct lease_ticket *t, int64_t actual_micros, int64_t actual_tokens);
/*
 * Fill c's read-back fields for the i-th counter of a call admitted on
 * leases: the counter as this process's last grant read it, plus what its
 * own calls spent since (for response headers; other processes' use shows
 * at the next grant).
 */
void lease_view(const struct lease_ticket *t, size_t i, struct adm_counter *c);
/* Give back this process's unused lease on the counter (a call near the limit was refused). */
int lease_give_back(struct store *st, const struct adm_counter *c);
/*
 * The work calls wait for: promotions of long calls, growth ahead of need,
 * give-back of what a recall (or the tail, or a changed limit) flagged.
 * Call every ~20 ms.
 */
void lease_tick(struct store *st);
/*
 * The work no call waits for: the next minute's leases of the minute
 * counters in use (in the last LEASE_TURN_S of every minute) and the
 * sweep's give-back of idle leases and of ended periods. Call every ~20 ms
 * from a thread and connection of its own: each of its transactions covers
 * many tenants' counters (after a 10,000-tenant burst, ~160 a minute each
 * way), and one row held by another transaction stops it; on the lease
 * thread that held up every promotion, flagged give-back and growth of
 * every tenant of the process.
 */
void lease_upkeep(struct store *st);
/*
 * The owner's registration and heartbeat. Call every ~50 ms from a thread
 * and connection of its own: lease_tick's grants and promotions can wait on
 * a counter row another transaction holds, and a heartbeat waiting with them
 * made every lease of the process unusable after LEASE_TTL_MS (every call one
 * by one, piling onto the rows being waited on) and the owner reaped after
 * 15 s, for every tenant of the process because of one row.
 */
void lease_beat(struct store *st);
/* A counter was recalled (the watcher saw it): give back what is not used. */
void lease_recalled(int scope, int64_t scope_id, int window, const char *period);
/* Give everything back and leave (shutdown). */
void lease_stop(struct store *st);
/* Journal the calls in flight on leases again (the ledger's journal starts a new file). */
void lease_journal_inflight(void (*write)(const struct lease_ticket *t));

#endif
