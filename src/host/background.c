/*
 * background.c: the watcher and the reaper threads (see background.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cache.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/admit.h"
#include "enforce/lease.h"
#include "host/alerts.h"
#include "host/background.h"
#include "host/server.h"
#include "store/admission.h"
#include "store/guards.h"
#include "store/leases.h"
#include "store/lifecycle.h"
#include "store/rcache.h"
#include "store/store.h"
#include "store/tenantdb.h"
#include "tenancy/identify.h"

#define HOUSEKEEP_US (60 * 1000000LL) /* old counters, reservations, buckets, changes */
#define HOUSEKEEP_TURN_S 55           /* what one process takes of it (store_life_turn) */
#define WATCH_MAX_ROWS 65536          /* change_log rows in one window we can tell apart */
#define LEASE_TICK_MS 20
#define LEASE_BEAT_MS 50  /* how often the heartbeat thread looks (it beats every 500 ms) */
#define RECALL_WINDOW_S 2 /* how long a recall is heard */

static const struct conf *bg_conf;
static pthread_t bg_threads[6];
static int bg_n;
static atomic_int bg_leases_stop; /* the lease thread outlives the requests: its own stop */

/* Sleep ms milliseconds, waking early when the server stops. */
static void bg_sleep_ms(int ms)
{
	while (ms > 0 && !server_stopping()) {
		int step = ms < 20 ? ms : 20;

		usleep((useconds_t)step * 1000);
		ms -= step;
	}
}

/* ------------------------------------------------------------------ watcher */

/* The changes of one poll, in the order the poll gives them: (source, id, at_us). */

struct watch_set {
	struct store_change_row *rows;
	size_t n, cap;
	int overflow;
};

static void watch_collect(void *ctx, const struct store_change_row *row)
{
	struct watch_set *ws = ctx;

	if (ws->n == ws->cap) {
		ws->overflow = 1;
		return;
	}
	ws->rows[ws->n++] = *row;
}

static int watch_cmp(const struct store_change_row *a, const struct store_change_row *b)
{
	if (a->source != b->source)
		return a->source < b->source ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->at_us != b->at_us)
		return a->at_us < b->at_us ? -1 : 1;
	return 0;
}

/* Was this change in the previous poll (same order)? */
static int watch_seen(const struct watch_set *prev, const struct store_change_row *r)
{
	size_t lo = 0, hi = prev->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = watch_cmp(&prev->rows[mid], r);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void watch_recall(void *ctx, int scope, int64_t scope_id, int window, const char *period)
{
	(void)ctx;
	lease_recalled(scope, scope_id, window, period);
}

static void *bg_watcher(void *arg)
{
	struct watch_set a = {0}, b = {0}, *prev = &a, *cur = &b, *t;
	struct store *st = NULL;
	int64_t last_ok = 0;
	char err[256];

	(void)arg;
	mysql_thread_init();
	a.rows = calloc(WATCH_MAX_ROWS, sizeof(*a.rows));
	b.rows = calloc(WATCH_MAX_ROWS, sizeof(*b.rows));
	if (a.rows == NULL || b.rows == NULL) {
		log_error("watcher: out of memory; caches stay off");
		goto out;
	}
	a.cap = b.cap = WATCH_MAX_ROWS;
	while (!server_stopping()) {
		int64_t start = util_now_us();

		log_flush_repeats(0);
		if (st == NULL && (st = store_open(bg_conf, err, sizeof(err))) == NULL) {
			bg_sleep_ms(WATCH_MS);
			continue;
		}
		store_request_begin(st);
		cur->n = 0;
		cur->overflow = 0;
		if (store_changes_poll(st, WATCH_WINDOW_S, watch_collect, cur) == ST_OK) {
			for (size_t i = 0; i < cur->n; i++)
				if (!watch_seen(prev, &cur->rows[i]))
					store_change_bump(cur->rows[i].kind,
					                  cur->rows[i].tenant_id);
			/* Rows older than the window may have gone by unseen: start afresh. */
			if (cur->overflow ||
			    (last_ok && start - last_ok > (WATCH_WINDOW_S - 2) * 1000000LL)) {
				log_warn("watcher: change_log not read for %lld ms; dropping every "
				         "cached "
				         "value",
				         (long long)(start - last_ok) / 1000);
				cache_flush_all();
			}
			cache_trust(start);
			last_ok = start;
			/* Counters whose leases were recalled: give back what is not used. */
			if (bg_conf->enforcement)
				store_lease_recalls(st, RECALL_WINDOW_S, watch_recall, NULL);
			t = prev;
			prev = cur;
			cur = t;
		}
		bg_sleep_ms(WATCH_MS - (int)((util_now_us() - start) / 1000));
	}
out:
	cache_distrust();
	free(a.rows);
	free(b.rows);
	if (st)
		store_close(st);
	mysql_thread_end();
	return NULL;
}

/* ------------------------------------------------------------------ leases */

/*
 * The lease threads: the owner's heartbeat (enforce/lease.h lease_beat),
 * the work calls wait for (lease_tick: promotions, growth, recalled
 * give-backs) and the upkeep no call waits for (lease_upkeep: next minute's
 * leases, idle and ended leases given back), each on a connection of its
 * own, so that neither a heartbeat nor a promotion waits behind a
 * many-tenant grant or return waiting on one tenant's row. They outlive the requests (their own
 * stop flag); the lease thread gives back its leases at the end.
 */
struct bg_loop {
	void (*step)(struct store *st);
	int every_ms;
	void (*at_stop)(struct store *st); /* or NULL */
};

static const struct bg_loop bg_beat_loop = {lease_beat, LEASE_BEAT_MS, NULL};
static const struct bg_loop bg_lease_loop = {lease_tick, LEASE_TICK_MS, lease_stop};
static const struct bg_loop bg_upkeep_loop = {lease_upkeep, LEASE_TICK_MS, NULL};

static void *bg_lease_thread(void *arg)
{
	const struct bg_loop *lp = arg;
	struct store *st = NULL;
	char err[256];

	mysql_thread_init();
	while (!atomic_load(&bg_leases_stop)) {
		if (st == NULL && (st = store_open(bg_conf, err, sizeof(err))) == NULL) {
			usleep((useconds_t)lp->every_ms * 1000);
			continue;
		}
		store_request_begin(st);
		lp->step(st);
		usleep((useconds_t)lp->every_ms * 1000);
	}
	if (st && lp->at_stop) {
		store_request_begin(st);
		lp->at_stop(st);
	}
	if (st)
		store_close(st);
	mysql_thread_end();
	return NULL;
}

/* ------------------------------------------------------------------ reaper */

/*
 * An owner silent this long is dead or cut off (it stopped using its leases
 * LEASE_TTL_MS after its last heartbeat). One of this host is left to the
 * replay of its journal while the file is there; otherwise, and for another
 * host's, its leases are charged at their worst case: what it had in flight
 * is unknown (never under-billed).
 */
#define OWNER_SILENT_S 15

struct silent_ctx {
	struct store *st;
	char host[64];
	int closed;
};

static int bg_owner_silent(void *ctx, const struct owner_row *o)
{
	struct silent_ctx *sc = ctx;
	char dir[512];
	int pending = 0;

	if (strcmp(o->host, sc->host) == 0) {
		/* Its journal, if any, names its pid: a replay will close it exactly. */
		char prefix[128];
		DIR *d;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/journal", bg_conf->state_dir);
		snprintf(prefix, sizeof(prefix), "%s-%d-", o->host, o->pid);
		if ((d = opendir(dir)) != NULL) {
			while ((de = readdir(d)) != NULL)
				if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
					pending = 1;
			closedir(d);
		}
	}
	if (pending && o->silent_s < 4 * OWNER_SILENT_S)
		return 0;
	if (store_owner_close(sc->st, o->id, OWNER_SILENT_S) == ST_OK) {
		log_warn("reaper: lease owner %lld (%s pid %d) silent for %lld s: its leases are "
		         "charged at their worst case",
		         (long long)o->id, o->host, o->pid, (long long)o->silent_s);
		sc->closed++;
	}
	return 0;
}

/*
 * Housekeeping, once a minute in one process of the installation: every
 * process tries the turn each HOUSEKEEP_US, and the turn lasts a little less
 * (the process that has it keeps it while it lives; if it dies, another's
 * next try takes it). The deletes are idempotent, so a turn cut short by a
 * crash loses nothing.
 */
static void bg_housekeep(struct store *st)
{
	char who[96], host[64] = "";
	int64_t rows;
	int mine = 0;

	gethostname(host, sizeof(host) - 1);
	snprintf(who, sizeof(who), "%s pid %d", host, (int)getpid());
	if (store_life_turn(st, "housekeeping", HOUSEKEEP_TURN_S, who, &mine) != ST_OK || !mine)
		return;
	admit_housekeep(st, 1000, &rows);
	/* expired cached answers of shared tenants (exec/rcache.h) */
	if (store_rcache_sweep(st, 1000, &rows) == ST_OK && rows > 0)
		log_info("housekeeping: deleted %lld expired cached answer(s)", (long long)rows);
}

/*
 * Each process expires overdue reservations (their process died) every
 * reaper_interval_ms. Any number of reapers may run at once on any number
 * of hosts: a reservation is closed by exactly one (UPDATE ... WHERE state
 * = 'open').
 */
static void *bg_reaper(void *arg)
{
	struct store *st = NULL;
	char err[256];
	int64_t next = 0, next_housekeep = 0;

	(void)arg;
	mysql_thread_init();
	while (!server_stopping()) {
		int64_t now = util_now_us();
		int n = 0;

		if (now < next) {
			bg_sleep_ms((int)((next - now) / 1000) < 50 ? (int)((next - now) / 1000)
			                                            : 50);
			continue;
		}
		next = now + (int64_t)bg_conf->reaper_interval_ms * 1000;
		if (st == NULL && (st = store_open(bg_conf, err, sizeof(err))) == NULL)
			continue;
		store_request_begin(st);
		if (bg_conf->enforcement) {
			struct silent_ctx sc = {st, "", 0};

			gethostname(sc.host, sizeof(sc.host) - 1);
			store_owners_silent(st, OWNER_SILENT_S, bg_owner_silent, &sc);
			if (store_admit_reap(st, 1000, &n) == ST_OK && n > 0)
				log_warn("reaper: expired %d reservation(s) of ended processes", n);
			store_idem_purge(st, 1000, &n);
		}
		identify_touch_flush(st);
		if (now >= next_housekeep) {
			next_housekeep = now + HOUSEKEEP_US;
			bg_housekeep(st);
		}
	}
	if (st)
		store_close(st);
	mysql_thread_end();
	return NULL;
}

/*
 * Alerts (host/alerts.h): every alert_interval_ms, find events and send due
 * webhook deliveries. Any number of processes run it: events and
 * deliveries are claimed in the database.
 */
static void *bg_alerts(void *arg)
{
	struct store *st = NULL;
	char err[256];
	int64_t next = 0;

	(void)arg;
	mysql_thread_init();
	while (!server_stopping()) {
		int64_t now = util_now_us();

		if (now < next) {
			bg_sleep_ms((int)((next - now) / 1000) < 50 ? (int)((next - now) / 1000)
			                                            : 50);
			continue;
		}
		next = now + (int64_t)bg_conf->alert_interval_ms * 1000;
		if (st == NULL && (st = store_open(bg_conf, err, sizeof(err))) == NULL)
			continue;
		store_request_begin(st);
		alerts_round(st, bg_conf);
	}
	if (st)
		store_close(st);
	mysql_thread_end();
	return NULL;
}

/* ------------------------------------------------------------------ lifecycle */

int background_start(const struct conf *c)
{
	bg_conf = c;
	bg_n = 0;
	if (pthread_create(&bg_threads[bg_n], NULL, bg_watcher, NULL) == 0)
		bg_n++;
	else
		log_error("background: cannot start the watcher; caches stay off");
	if (pthread_create(&bg_threads[bg_n], NULL, bg_reaper, NULL) == 0)
		bg_n++;
	else
		log_error("background: cannot start the reaper");
	if (pthread_create(&bg_threads[bg_n], NULL, bg_alerts, NULL) == 0)
		bg_n++;
	else
		log_error("background: cannot start the alert thread; no alerts are sent");
	if (c->enforcement) {
		if (pthread_create(&bg_threads[bg_n], NULL, bg_lease_thread,
		                   (void *)&bg_beat_loop) == 0)
			bg_n++;
		else
			log_error("background: cannot start the heartbeat; calls go one by one");
		if (pthread_create(&bg_threads[bg_n], NULL, bg_lease_thread,
		                   (void *)&bg_lease_loop) == 0)
			bg_n++;
		else
			log_error("background: cannot start the lease thread; calls go one by one");
		if (pthread_create(&bg_threads[bg_n], NULL, bg_lease_thread,
		                   (void *)&bg_upkeep_loop) == 0)
			bg_n++;
		else
			log_error("background: cannot start the lease upkeep; calls at a new "
			          "minute wait for their grant, idle leases are kept");
	}
	return bg_n > 0 ? 0 : -1;
}

void background_stop(int deadline_ms)
{
	struct timespec deadline;

	util_abstime_after_us(&deadline, (int64_t)deadline_ms * 1000);
	/* A thread stuck connecting to a dead database is not waited for. */
	atomic_store(&bg_leases_stop, 1);
	for (int i = 0; i < bg_n; i++)
		if (pthread_timedjoin_np(bg_threads[i], NULL, &deadline) != 0)
			_exit(0);
	bg_n = 0;
}
