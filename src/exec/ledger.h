/*
 * ledger: how a finished call gets recorded without the request waiting
 * for the database.
 *
 * DESIGN
 * The call's record (its execution row and what it held on each budget
 * counter, store/ledger.h) is appended to this process's journal file
 * (state_dir/journal/<host>-<pid>-<start>.jnl) with one write() before the
 * client gets its answer, and queued. The journal is in the kernel's page
 * cache the moment write() returns, so a success the client received
 * survives the death of the process (kill -9) at any point after; the
 * machine's own crash loses what was neither committed to the database nor
 * synced (the flusher syncs the journal when it cannot write the database,
 * and at least every LEDGER_SYNC_MS).
 *
 * One flusher thread per process writes the queue in batches
 * (store_ledger_apply: one transaction for many calls): while one batch is
 * being written the next one gathers, and when calls arrive fast enough
 * (400 a second or more) a batch smaller than LEDGER_COALESCE_MIN waits up
 * to LEDGER_COALESCE_US for more, so under load a batch carries many calls
 * and a quiet process writes a call at once. After each batch the flusher appends an
 * "applied up to" mark to the journal.
 *
 * A journal whose process ended (its flock is free) is replayed by any
 * process using the same state directory, at start and every few seconds
 * (and by agenthostctl reap): records after the last mark are written in
 * recover mode, each at most once, then the file is removed.
 *
 * Readers that want what was just answered (the API's GETs, the dashboard)
 * call ledger_barrier: it waits until every process of this host has
 * written what it had appended when the barrier began (a shared table of
 * per-process counters in state_dir/ledger.slots), at most a timeout.
 *
 * Memory: the queue holds calls not yet written; when the database cannot
 * be written, or records more slowly than calls are answered, it grows:
 * past ledger_queue_soft new calls first wait, and admission refuses them
 * once it passes LEDGER_MAX_QUEUED (both ledger_pace).
 */
#ifndef AH_LEDGER_H
#define AH_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "store/ledger.h"

struct conf;
struct store;

#define LEDGER_BATCH_MAX 256     /* calls per transaction */
#define LEDGER_COALESCE_MIN 512  /* a batch smaller than this waits... */
#define LEDGER_COALESCE_US 10000 /* ...at most this long for more calls */
#define LEDGER_MAX_QUEUED 100000 /* calls waiting, past which new calls are refused */
#define LEDGER_DELAY_MAX_MS 100  /* the longest a new call waits for the ledger */
#define LEDGER_SYNC_MS 1000      /* fdatasync of the journal at least this often */
#define LEDGER_RECOVER_MS 2000   /* how often ended processes' journals are looked for */

/*
 * Open this process's journal in c->state_dir, replay journals of ended
 * processes, start the flusher. 0, or -1 with err (then calls are recorded
 * synchronously, as in CGI mode).
 */
int ledger_start(const struct conf *c, char *err, size_t errlen);
/* Write what is queued (at most deadline_ms), stop the flusher, close the journal. */
void ledger_stop(int deadline_ms);
/*
 * Record one call: journal it and queue it, or (now set, or no running
 * ledger) write it at once through st, journaling it only when that fails.
 * A call admitted by its own reservation is written at once: its worst
 * case is released before the answer, as the next call near the limit
 * needs. rec's strings are copied. 0, or -1 when it could be neither
 * written nor journaled (the caller logs it as lost).
 */
int ledger_record(struct store *st, const struct ledger_rec *rec, int now);
/*
 * Before a new call is admitted, one look at the queue: -1 while more than
 * LEDGER_MAX_QUEUED calls wait (admit no new ones); otherwise 0, at once
 * while at most ledger_queue_soft wait, and past it after waiting (a
 * request parks) in proportion to the excess, LEDGER_DELAY_MAX_MS at
 * 2 x ledger_queue_soft and beyond, so that calls slow down to what the
 * database records instead of all being refused at LEDGER_MAX_QUEUED.
 */
int ledger_pace(void);
/*
 * Wait until every process of this host wrote what it had journaled when
 * this was called, at most timeout_ms (a request's coroutine parks meanwhile:
 * its thread serves the others). 0, or -1 on timeout.
 */
int ledger_barrier(int timeout_ms);
/*
 * Replay the journals of ended processes in c->state_dir through st (for
 * agenthostctl reap). *files gets how many were replayed. ST_OK or ST_ERR.
 */
int ledger_recover(const struct conf *c, struct store *st, int *files);

/*
 * What a replay needs to know of calls admitted on leases (enforce/lease.h):
 * one was admitted (a call that never ended is recorded at its worst case
 * and its lease charged for it), one was promoted to a reservation (the
 * reaper knows it then), and this process's lease owner (whose leases a
 * replay gives back). Best effort: a journal that cannot be written keeps
 * the call on its lease, and a dead owner's leases are then charged whole.
 */
struct ledger_admit {
	const struct adm_request *a; /* the call */
	const unsigned char *held;   /* LEASE_HELD_* per counter of a (0: not on a lease) */
	int64_t owner_id;
	int64_t created_us;
};
void ledger_note_admit(const struct ledger_admit *ad);
void ledger_note_promoted(const char *exec_id);
void ledger_note_owner(int64_t owner_id);
/* Called when the journal starts a new file: journal the calls in flight again. */
void ledger_set_inflight(void (*rewrite)(void));

#endif
