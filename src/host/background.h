/*
 * background: what a serving process does beside its requests, each in a
 * thread of its own so that a slow one never delays another:
 *
 *   watcher  every WATCH_MS: the change_log rows of the last WATCH_WINDOW_S
 *            seconds; a row not seen before bumps this host's epochs, which
 *            drops what the caches hold of it (common/cache.h). A good poll
 *            renews the caches' trust; while polls fail the caches are not
 *            used at all. After a gap longer than the window (some rows may
 *            have left it unseen) every cache is flushed.
 *   reaper   every reaper_interval_ms: reservations of ended processes,
 *            expired idempotency keys; every minute, housekeeping (when this
 *            process takes its turn); the keys' last_used_at marks.
 *   alerts   every alert_interval_ms: alert events and webhook deliveries.
 *   beats    the lease owner's registration and heartbeat (enforce/lease.h
 *            lease_beat), apart from the lease thread, which may wait on a
 *            row lock.
 *   leases   every LEASE_TICK_MS: promotions, growth ahead of need, returns.
 *
 * DESIGN
 * Each thread owns its store handle. Any number of processes and hosts run
 * them at once: the watcher only reads, the reaper's writes are each made
 * once by whichever process gets there first (see store/admission.c).
 */
#ifndef AH_BACKGROUND_H
#define AH_BACKGROUND_H

struct conf;

#define WATCH_MS 100
#define WATCH_WINDOW_S 10

/* Start the threads (the reaper only with enforcement). 0, or -1 when none could start. */
int background_start(const struct conf *c);
/* Wait for them after server_stopping() became true, at most deadline_ms; then give up. */
void background_stop(int deadline_ms);

#endif
