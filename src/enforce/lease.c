/*
 * lease.c: this process's leases and the calls in flight on them (see
 * lease.h).
 *
 * DESIGN
 * One mutex guards the lease table and the list of calls in flight: what
 * it protects is a few additions per call. Database work (grants, returns,
 * promotions, heartbeats) happens outside it; a lease being grown is marked
 * so that other threads wait for that grant instead of asking for their own.
 * A request waiting for another thread's grant or promotion parks its
 * coroutine (lease_wait): a worker thread blocked on the condition variable
 * would stall every other request of that thread behind a grant or a
 * promotion that waits on a row lock.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/admit.h"
#include "enforce/lease.h"
#include "host/sched.h"
#include "store/leases.h"

#define LEASE_BUCKETS 16384      /* ~6 leases per tenant served: short chains at 10,000 tenants */
#define LEASE_MAX_ENTRIES 200000 /* bound on memory: past it, calls go one by one */
#define FLAGGED_MAX 256          /* leases flagged to give back, noted between two ticks */

struct lease {
	struct lease *next; /* hash chain */
	int scope, window;
	int64_t scope_id;
	char period[20];
	int64_t lim_micros, lim_tokens, lim_requests; /* the limits it was granted under */
	int64_t grant_micros, grant_tokens,
	    grant_requests;                              /* held: granted less spent less given */
	int64_t used_micros, used_tokens, used_requests; /* of that, held by calls in flight */
	int64_t tail_until_us; /* near the limit: calls go one by one until then */
	int64_t last_use_us;
	int64_t last_call_us; /* the last call admitted on it (a prefetched lease: its source's) */
	int64_t granted_us;   /* last grant */
	int64_t admits;       /* calls since the last grant (sizes the next one) */
	int give_back;        /* return what is not used at the next tick */
	int growing;          /* a thread is asking the database for more */
	int wanted;           /* running low: in LS.wanted, grown by the lease thread */
	int returning;        /* returns on their way to the database (keep the entry) */
	struct lease *want_next; /* next in LS.wanted */
	int64_t need_micros, need_tokens,
	    need_requests;  /* a recent call's need (sizes prefetches) */
	int64_t last_grant; /* calls' worth of the last grant (what "running low" means) */
	/* the counter as the last grant read it (for response headers) */
	int64_t seen_spent_micros, seen_spent_tokens, seen_requests;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a grant or a promotion finished */
	uint64_t wakes;    /* ...counted, for the requests that park rather than wait on cv */
	struct lease *buckets[LEASE_BUCKETS];
	size_t n;
	struct lease_ticket *inflight;
	size_t n_inflight;
	struct lease *wanted;          /* leases to grow ahead (a stack: no scan of the table) */
	unsigned flagged[FLAGGED_MAX]; /* buckets of leases flagged to give back... */
	size_t n_flagged;              /* ...returned at the next tick, not by the sweep */
	int flagged_lost;              /* more than FLAGGED_MAX: look at every bucket */
	unsigned sweep_at;             /* next bucket the sweep looks at */
	unsigned turn_at;              /* next bucket the minute's turn looks at */
	int64_t owner_id;              /* 0: not registered (leases off) */
	int64_t hb_ok_us;              /* start of the last good heartbeat */
	int64_t next_hb_us;
	int promote_after_ms;
	int idle_ms;   /* conf lease_idle_ms */
	int timeout_s; /* a promoted call's reservation lifetime */
	char host[64];
	void (*on_promoted)(const char *exec_id);
	void (*on_owner)(int64_t owner_id);
	int stopping;
} LS = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static unsigned lease_hash(int scope, int64_t scope_id, int window, const char *period)
{
	uint64_t h = (uint64_t)scope_id * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(scope * 31 + window);

	for (const unsigned char *p = (const unsigned char *)period; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (unsigned)(h % LEASE_BUCKETS);
}

/* The lease of counter c, created empty when missing (LS.mu held); NULL at the memory bound. */
static struct lease *lease_of(const struct adm_counter *c, int create)
{
	unsigned h = lease_hash(c->scope, c->scope_id, c->window, c->period);
	struct lease *l;

	for (l = LS.buckets[h]; l; l = l->next)
		if (l->scope_id == c->scope_id && l->scope == c->scope && l->window == c->window &&
		    strcmp(l->period, c->period) == 0)
			return l;
	if (!create || LS.n >= LEASE_MAX_ENTRIES || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->scope = c->scope;
	l->scope_id = c->scope_id;
	l->window = c->window;
	util_strlcpy(l->period, c->period, sizeof(l->period));
	l->next = LS.buckets[h];
	LS.buckets[h] = l;
	LS.n++;
	return l;
}

/*
 * Flag l to give back what it holds unused at the lease thread's next tick
 * (LS.mu held). A recall, a grant at the tail or a changed limit: a call is
 * waiting one by one for what l holds, so it is not left for the sweep,
 * which comes by a lease only every 8 sweeps (800 ms).
 */
static void lease_flag_give_back(struct lease *l)
{
	if (l->give_back)
		return;
	l->give_back = 1;
	if (LS.n_flagged < FLAGGED_MAX)
		LS.flagged[LS.n_flagged++] =
		    lease_hash(l->scope, l->scope_id, l->window, l->period);
	else
		LS.flagged_lost = 1;
}

void lease_init(const struct conf *c)
{
	LS.promote_after_ms = c->promote_after_ms;
	LS.idle_ms = c->lease_idle_ms > 0 ? c->lease_idle_ms : 600000;
	LS.timeout_s = (c->upstream_timeout_ms + 999) / 1000 + c->reservation_grace_s;
	gethostname(LS.host, sizeof(LS.host) - 1);
}

void lease_hooks(void (*on_promoted)(const char *exec_id), void (*on_owner)(int64_t owner_id))
{
	LS.on_promoted = on_promoted;
	LS.on_owner = on_owner;
}

/* Leases may be used now (LS.mu held). */
static int lease_usable(int64_t now)
{
	return LS.owner_id > 0 && !LS.stopping && now - LS.hb_ok_us < LEASE_TTL_MS * 1000LL;
}

/* What the call a needs of counter c: per dimension with a hard limit (0: not leased). */
static unsigned char lease_need(const struct adm_request *a, const struct adm_counter *c,
                                int64_t *nm, int64_t *nt, int64_t *nr)
{
	int inflight = c->window == ADM_INFLIGHT;
	int per_window = c->window == ADM_MINUTE || inflight;
	unsigned char held = 0;

	*nm = *nt = *nr = 0;
	if (!inflight && c->max_micros) {
		*nm = a->micros;
		held |= LEASE_HELD_MICROS;
	}
	if (!inflight && c->max_tokens) {
		*nt = a->tokens;
		held |= LEASE_HELD_TOKENS;
	}
	if (per_window && c->max_requests) {
		*nr = 1;
		held |= LEASE_HELD_REQUESTS;
	}
	return held;
}

/* Is what l has left below half of its last grant, counted in calls (LS.mu held)? */
static int lease_low(const struct lease *l)
{
	int64_t half = l->last_grant / 2;

	if (half < 2)
		half = 2;
	return (l->need_micros && l->grant_micros - l->used_micros < half * l->need_micros) ||
	       (l->need_tokens && l->grant_tokens - l->used_tokens < half * l->need_tokens) ||
	       (l->need_requests && l->grant_requests - l->used_requests < half * l->need_requests);
}

static int lease_fits(const struct lease *l, int64_t nm, int64_t nt, int64_t nr)
{
	return l->grant_micros - l->used_micros >= nm && l->grant_tokens - l->used_tokens >= nt &&
	       l->grant_requests - l->used_requests >= nr;
}

/* Grow the leases of asks (their counters' leases marked growing by the caller). */
static void lease_grow(struct store *st, const struct adm_request *a, struct lease_ask *asks,
                       struct lease **ls, size_t n, int64_t owner)
{
	int64_t now = util_now_us();
	int rc;

	rc = store_lease_grant(st, owner, asks, n);
	pthread_mutex_lock(&LS.mu);
	for (size_t i = 0; i < n; i++) {
		struct lease *l = ls[i];

		l->growing = 0;
		if (rc != ST_OK)
			continue;
		l->lim_micros = asks[i].c->max_micros;
		l->lim_tokens = asks[i].c->max_tokens;
		l->lim_requests = asks[i].c->max_requests;
		l->seen_spent_micros = asks[i].c->spent_micros;
		l->seen_spent_tokens = asks[i].c->spent_tokens;
		l->seen_requests = asks[i].c->requests;
		if (asks[i].tail) {
			/* Near the limit: one by one for a while, and what is held goes back. */
			l->tail_until_us = now + 1000000;
			lease_flag_give_back(l);
			continue;
		}
		l->grant_micros += asks[i].got_micros;
		l->grant_tokens += asks[i].got_tokens;
		l->grant_requests += asks[i].got_requests;
		l->granted_us = now;
		l->admits = 0;
		l->last_grant = asks[i].need_micros   ? asks[i].got_micros / asks[i].need_micros
		                : asks[i].need_tokens ? asks[i].got_tokens / asks[i].need_tokens
		                : asks[i].need_requests
		                    ? asks[i].got_requests / asks[i].need_requests
		                    : 0;
	}
	if (rc == ST_NOTFOUND) {
		log_warn("lease: this process's owner %lld was reaped; registering anew",
		         (long long)owner);
		if (LS.owner_id == owner)
			LS.owner_id = 0;
	}
	LS.wakes++;
	pthread_cond_broadcast(&LS.cv);
	pthread_mutex_unlock(&LS.mu);
	(void)a;
}

/* How much the next grant of l should be, for a call needing need (LS.mu held). */
static int64_t lease_want(const struct lease *l, int64_t need, int64_t now)
{
	int64_t calls = LEASE_MIN_CALLS;

	if (l->granted_us && now > l->granted_us && l->admits > 0) {
		int64_t per_s = l->admits * 1000000 / (now - l->granted_us + 1);

		calls = per_s * LEASE_HORIZON_S;
	}
	if (calls < LEASE_MIN_CALLS)
		calls = LEASE_MIN_CALLS;
	if (calls > LEASE_MAX_CALLS)
		calls = LEASE_MAX_CALLS;
	return need * calls;
}

#define LEASE_PARK_US 1000 /* a parked request looks again this often */

/*
 * Wait, LS.mu held, until a grant or a promotion finishes or timeout_us
 * passes (< 0: no timeout). Outside a request (the lease thread, CGI, tests)
 * on the condition variable; in a request's coroutine by parking it in
 * steps of LEASE_PARK_US (a coroutine cannot wait on a condition variable
 * without blocking its whole thread).
 */
static void lease_wait(int64_t timeout_us)
{
	int64_t end = timeout_us < 0 ? INT64_MAX : util_now_us() + timeout_us;
	struct timespec ts;

	if (sched_in_coro()) {
		uint64_t seen = LS.wakes;

		while (LS.wakes == seen && util_now_us() < end) {
			pthread_mutex_unlock(&LS.mu);
			sched_sleep_us(LEASE_PARK_US);
			pthread_mutex_lock(&LS.mu);
		}
		return;
	}
	if (timeout_us < 0) {
		pthread_cond_wait(&LS.cv, &LS.mu);
		return;
	}
	util_abstime_after_us(&ts, timeout_us);
	pthread_cond_timedwait(&LS.cv, &LS.mu, &ts);
}

enum lease_verdict lease_admit(struct store *st, const struct adm_request *a,
                               struct lease_ticket *t)
{
	struct lease_ask asks[ADM_MAX_COUNTERS];
	struct lease *grow[ADM_MAX_COUNTERS];
	int64_t need[ADM_MAX_COUNTERS][3];
	unsigned char held[ADM_MAX_COUNTERS];
	struct adm_counter copy[ADM_MAX_COUNTERS];
	int64_t owner;

	memset(t, 0, sizeof(*t));
	for (int attempt = 0; attempt < 3; attempt++) {
		int64_t now = util_now_us();
		size_t ng = 0;
		int fits = 1;

		pthread_mutex_lock(&LS.mu);
		if (!lease_usable(now)) {
			pthread_mutex_unlock(&LS.mu);
			return LEASE_ONE_BY_ONE;
		}
		owner = LS.owner_id;
		for (size_t i = 0; i < a->n; i++) {
			const struct adm_counter *c = &a->c[i];
			struct lease *l;

			held[i] = lease_need(a, c, &need[i][0], &need[i][1], &need[i][2]);
			t->l[i] = NULL;
			if (held[i] == 0)
				continue; /* no limit: the counter only learns the spend */
			if (!c->hard)
				goto one_by_one; /* soft budgets warn and audit per call */
			l = lease_of(c, 1);
			if (l == NULL || now < l->tail_until_us || l->give_back)
				goto one_by_one;
			if (l->lim_micros != c->max_micros || l->lim_tokens != c->max_tokens ||
			    l->lim_requests != c->max_requests) {
				/* A limit changed: what was granted under the old one goes back
				 * first. */
				if (l->grant_micros || l->grant_tokens || l->grant_requests) {
					lease_flag_give_back(l);
					goto one_by_one;
				}
			}
			t->l[i] = l;
			if (lease_fits(l, need[i][0], need[i][1], need[i][2]))
				continue;
			fits = 0;
			if (l->growing)
				continue; /* another thread asks: wait for its answer below */
			l->growing = 1;
			grow[ng] = l;
			copy[ng] = *c;
			memset(&asks[ng], 0, sizeof(asks[ng]));
			asks[ng].c = &copy[ng];
			asks[ng].need_micros = need[i][0];
			asks[ng].need_tokens = need[i][1];
			asks[ng].need_requests = need[i][2];
			asks[ng].want_micros =
			    held[i] & LEASE_HELD_MICROS ? lease_want(l, need[i][0], now) : 0;
			asks[ng].want_tokens =
			    held[i] & LEASE_HELD_TOKENS ? lease_want(l, need[i][1], now) : 0;
			asks[ng].want_requests =
			    held[i] & LEASE_HELD_REQUESTS ? lease_want(l, need[i][2], now) : 0;
			asks[ng].tail_calls = LEASE_TAIL_CALLS;
			asks[ng].divisor = LEASE_DIVISOR;
			ng++;
		}
		if (fits) {
			for (size_t i = 0; i < a->n; i++) {
				struct lease *l = t->l[i];

				if (l == NULL)
					continue;
				l->used_micros += need[i][0];
				l->used_tokens += need[i][1];
				l->used_requests += need[i][2];
				l->last_use_us = now;
				l->last_call_us = now;
				l->admits++;
				l->need_micros = need[i][0];
				l->need_tokens = need[i][1];
				l->need_requests = need[i][2];
				/* Less than half of the last grant left: grown ahead, off the
				 * request. */
				if (!l->growing && !l->wanted && lease_low(l)) {
					l->wanted = 1;
					l->want_next = LS.wanted;
					LS.wanted = l;
				}
				t->held[i] = held[i];
			}
			t->state = TK_LEASED;
			t->a = a;
			t->owner_id = owner;
			t->admitted_us = now;
			t->created_us = util_wall_us();
			t->next = LS.inflight;
			if (LS.inflight)
				LS.inflight->prev = t;
			LS.inflight = t;
			LS.n_inflight++;
			pthread_mutex_unlock(&LS.mu);
			return LEASE_OK;
		}
		if (ng == 0) {
			/* Another thread is growing a lease we need: wait for it (briefly). */
			lease_wait(50 * 1000LL);
			pthread_mutex_unlock(&LS.mu);
			continue;
		}
		pthread_mutex_unlock(&LS.mu);
		lease_grow(st, a, asks, grow, ng, owner);
	}
	return LEASE_ONE_BY_ONE;
one_by_one:
	pthread_mutex_unlock(&LS.mu);
	return LEASE_ONE_BY_ONE;
}

void lease_view(const struct lease_ticket *t, size_t i, struct adm_counter *c)
{
	const struct lease *l = t->l[i];

	if (l == NULL)
		return;
	pthread_mutex_lock(&LS.mu);
	c->spent_micros = l->seen_spent_micros;
	c->spent_tokens = l->seen_spent_tokens;
	c->requests = l->seen_requests + (l->window == ADM_MINUTE ? l->admits : 0);
	/* Held by this process: what its calls in flight and its grant's rest may still spend. */
	c->reserved_micros = l->grant_micros;
	c->reserved_tokens = l->grant_tokens;
	c->leased_micros = c->leased_tokens = c->leased_requests = 0;
	pthread_mutex_unlock(&LS.mu);
}

/* Take t out of the calls in flight (LS.mu held). */
static void inflight_unlink(struct lease_ticket *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else if (LS.inflight == t)
		LS.inflight = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	LS.n_inflight--;
}

int lease_settle(struct lease_ticket *t, int64_t actual_micros, int64_t actual_tokens)
{
	const struct adm_request *a = t->a;
	int promoted;

	if (t->state == TK_NONE)
		return 0;
	pthread_mutex_lock(&LS.mu);
	while (t->state == TK_PROMOTING)
		lease_wait(-1);
	inflight_unlink(t);
	promoted = t->state == TK_PROMOTED;
	for (size_t i = 0; !promoted && i < a->n; i++) {
		struct lease *l = t->l[i];
		unsigned char h = t->held[i];

		if (l == NULL)
			continue;
		if (h & LEASE_HELD_MICROS) {
			/* The worst case held comes back; what was spent (at most it) is gone. */
			int64_t spent = actual_micros < a->micros ? actual_micros : a->micros;

			l->used_micros -= a->micros;
			l->grant_micros -= spent;
		}
		if (h & LEASE_HELD_TOKENS) {
			int64_t spent = actual_tokens < a->tokens ? actual_tokens : a->tokens;

			l->used_tokens -= a->tokens;
			l->grant_tokens -= spent;
		}
		if (h & LEASE_HELD_REQUESTS) {
			l->used_requests--;
			if (l->window == ADM_MINUTE)
				l->grant_requests--; /* a minute's request is spent; a slot comes
				                        back */
		}
		l->last_use_us = util_now_us();
	}
	t->state = promoted ? TK_PROMOTED : TK_NONE;
	pthread_mutex_unlock(&LS.mu);
	return promoted;
}

/* ------------------------------------------------------------------ giving back */

/* What l holds and does not use, as a give (LS.mu held); 0 when nothing. */
static int lease_slack(struct lease *l, struct lease_give *g, struct adm_counter *key)
{
	memset(key, 0, sizeof(*key));
	key->scope = l->scope;
	key->scope_id = l->scope_id;
	key->window = l->window;
	util_strlcpy(key->period, l->period, sizeof(key->period));
	g->c = key;
	g->micros = l->grant_micros - l->used_micros;
	g->tokens = l->grant_tokens - l->used_tokens;
	g->requests = l->grant_requests - l->used_requests;
	if (g->micros < 0)
		g->micros = 0;
	if (g->tokens < 0)
		g->tokens = 0;
	if (g->requests < 0)
		g->requests = 0;
	return g->micros || g->tokens || g->requests;
}

static void lease_taken(struct lease *l, const struct lease_give *g)
{
	l->grant_micros -= g->micros;
	l->grant_tokens -= g->tokens;
	l->grant_requests -= g->requests;
}

/*
 * Return gives, already taken off their leases by the caller under LS.mu
 * (so no call can be admitted on what is on its way back); when the
 * database refused, they are put back (LS.mu not held).
 */
static void lease_return(struct store *st, int64_t owner, struct lease **ls,
                         struct lease_give *gives, size_t n)
{
	int rc = store_lease_return(st, owner, gives, n);

	pthread_mutex_lock(&LS.mu);
	for (size_t i = 0; i < n; i++) {
		ls[i]->give_back = 0;
		ls[i]->returning--;
		if (rc == ST_ERR) {
			ls[i]->grant_micros += gives[i].micros;
			ls[i]->grant_tokens += gives[i].tokens;
			ls[i]->grant_requests += gives[i].requests;
		}
	}
	if (rc == ST_NOTFOUND && LS.owner_id == owner)
		LS.owner_id = 0;
	pthread_mutex_unlock(&LS.mu);
}

int lease_give_back(struct store *st, const struct adm_counter *c)
{
	struct adm_counter key;
	struct lease_give g;
	struct lease *l;
	int64_t owner;

	pthread_mutex_lock(&LS.mu);
	l = lease_of(c, 0);
	owner = LS.owner_id;
	if (l == NULL || owner == 0 || !lease_slack(l, &g, &key)) {
		if (l)
			l->tail_until_us = util_now_us() + 1000000;
		pthread_mutex_unlock(&LS.mu);
		return 0;
	}
	l->tail_until_us = util_now_us() + 1000000;
	lease_taken(l, &g);
	l->returning++;
	pthread_mutex_unlock(&LS.mu);
	lease_return(st, owner, &l, &g, 1);
	return 1;
}

void lease_recalled(int scope, int64_t scope_id, int window, const char *period)
{
	struct adm_counter c;
	struct lease *l;

	memset(&c, 0, sizeof(c));
	c.scope = scope;
	c.scope_id = scope_id;
	c.window = window;
	util_strlcpy(c.period, period, sizeof(c.period));
	pthread_mutex_lock(&LS.mu);
	l = lease_of(&c, 0);
	if (l && (l->grant_micros > l->used_micros || l->grant_tokens > l->used_tokens ||
	          l->grant_requests > l->used_requests)) {
		lease_flag_give_back(l);
		l->tail_until_us = util_now_us() + 2000000;
	}
	pthread_mutex_unlock(&LS.mu);
}

/* Is the period of l over (a minute, day or month that ended)? */
static int lease_period_over(const struct lease *l, int64_t t)
{
	char minute[20], day[20], month[20];

	if (l->window == ADM_INFLIGHT)
		return 0;
	/* (periods sort as text; a lease of the next minute, taken ahead, is not over) */
	admit_periods(t, minute, day, month);
	if (l->window == ADM_MINUTE)
		return strcmp(l->period, minute) < 0;
	if (l->window == ADM_DAY)
		return strcmp(l->period, day) < 0;
	return strcmp(l->period, month) < 0;
}

#define RETURN_BATCH 128
#define SWEEP_BUCKETS 2048 /* buckets looked at per sweep (the whole table in 8 sweeps) */

/*
 * Take what l holds unused off it, to be returned by lease_return (LS.mu
 * held): 1 when there was some. A flag to give back with nothing unused is
 * cleared (the calls in flight hold all of it).
 */
static int lease_collect(struct lease *l, int64_t owner, struct lease_give *g,
                         struct adm_counter *key, struct lease **slot)
{
	if (l->growing || owner == 0)
		return 0;
	if (!lease_slack(l, g, key)) {
		l->give_back = 0;
		return 0;
	}
	lease_taken(l, g);
	l->returning++;
	*slot = l;
	return 1;
}

/* Leases whose unused part goes back in one lease_return (up to RETURN_BATCH). */
struct lease_batch {
	struct lease_give gives[RETURN_BATCH];
	struct adm_counter keys[RETURN_BATCH];
	struct lease *ls[RETURN_BATCH];
	size_t n;
	int64_t owner;
};

/* Add what l holds unused to b (LS.mu held; b not full). */
static void batch_add(struct lease_batch *b, struct lease *l)
{
	b->n += lease_collect(l, b->owner, &b->gives[b->n], &b->keys[b->n], &b->ls[b->n]);
}

/* Return what b collected (LS.mu not held). */
static void batch_return(struct store *st, struct lease_batch *b)
{
	if (b->n)
		lease_return(st, b->owner, b->ls, b->gives, b->n);
}

/* Give back what the leases flagged since the last tick hold unused. */
static void lease_give_flagged(struct store *st)
{
	struct lease_batch b;
	unsigned buckets[FLAGGED_MAX];
	size_t nb;
	int every;

	pthread_mutex_lock(&LS.mu);
	if (LS.n_flagged == 0 && !LS.flagged_lost) {
		pthread_mutex_unlock(&LS.mu);
		return;
	}
	b.n = 0;
	b.owner = LS.owner_id;
	every = LS.flagged_lost;
	nb = LS.n_flagged;
	memcpy(buckets, LS.flagged, nb * sizeof(buckets[0]));
	LS.n_flagged = 0;
	LS.flagged_lost = 0;
	for (size_t k = 0; k < (every ? LEASE_BUCKETS : nb); k++) {
		unsigned bk = every ? (unsigned)k : buckets[k];

		for (struct lease *l = LS.buckets[bk]; l; l = l->next) {
			if (!l->give_back)
				continue;
			if (b.n == RETURN_BATCH || l->growing) {
				/* the rest, and a lease being grown, at the next tick */
				if (LS.n_flagged < FLAGGED_MAX)
					LS.flagged[LS.n_flagged++] = bk;
				else
					LS.flagged_lost = 1;
				break;
			}
			batch_add(&b, l);
		}
	}
	pthread_mutex_unlock(&LS.mu);
	batch_return(st, &b);
}

/*
 * Give back what leases flagged, idle or of ended periods hold unused;
 * forget empty, unused leases. all: everything (shutdown).
 */
static void lease_sweep(struct store *st, int all)
{
	struct lease_batch b;
	int64_t now = util_now_us(), wall = util_unix_time();

	pthread_mutex_lock(&LS.mu);
	b.n = 0;
	b.owner = LS.owner_id;
	/* A slice of the table per tick: the mutex is never held for the whole of it. */
	for (unsigned k = 0; k < (all ? LEASE_BUCKETS : SWEEP_BUCKETS) && b.n < RETURN_BATCH; k++) {
		unsigned bk = LS.sweep_at;
		struct lease **pp = &LS.buckets[bk];

		LS.sweep_at = (bk + 1) % LEASE_BUCKETS;
		while (*pp && b.n < RETURN_BATCH) {
			struct lease *l = *pp;
			int idle = now - l->last_use_us > LS.idle_ms * 1000LL;
			int over = lease_period_over(l, wall);
			int empty = !l->grant_micros && !l->grant_tokens && !l->grant_requests &&
			            !l->used_micros && !l->used_tokens && !l->used_requests;

			if (empty && (idle || over) && !l->growing && !l->wanted && !l->returning) {
				*pp = l->next;
				free(l);
				LS.n--;
				continue;
			}
			if (all || l->give_back || idle || over)
				batch_add(&b, l);
			pp = &l->next;
		}
	}
	pthread_mutex_unlock(&LS.mu);
	batch_return(st, &b);
}

/* ------------------------------------------------------------------ promotions */

#define PROMOTE_BATCH 64

static void lease_promote_due(struct store *st)
{
	struct lease_promotion p[PROMOTE_BATCH];
	struct lease_ticket *tk[PROMOTE_BATCH];
	int64_t now = util_now_us(), owner;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&LS.mu);
	owner = LS.owner_id;
	for (struct lease_ticket *t = LS.inflight; t && n < PROMOTE_BATCH; t = t->next) {
		if (t->state != TK_LEASED || t->owner_id != owner || LS.promote_after_ms <= 0)
			continue;
		if (!t->a->stream && now - t->admitted_us < LS.promote_after_ms * 1000LL)
			continue;
		t->state = TK_PROMOTING;
		tk[n] = t;
		p[n].a = t->a;
		p[n].held = t->held;
		p[n].reservation_id = 0;
		n++;
	}
	pthread_mutex_unlock(&LS.mu);
	if (n == 0)
		return;
	rc = store_lease_promote(st, owner, p, n);
	pthread_mutex_lock(&LS.mu);
	for (size_t i = 0; i < n; i++) {
		struct lease_ticket *t = tk[i];
		const struct adm_request *a = t->a;

		if (rc != ST_OK || p[i].reservation_id <= 0) {
			t->state = TK_LEASED; /* tried again at the next tick */
			continue;
		}
		t->state = TK_PROMOTED;
		t->reservation_id = p[i].reservation_id;
		/* What the leases held of it is the reservation's now. */
		for (size_t k = 0; k < a->n; k++) {
			struct lease *l = t->l[k];
			unsigned char h = t->held[k];

			if (l == NULL)
				continue;
			if (h & LEASE_HELD_MICROS) {
				l->used_micros -= a->micros;
				l->grant_micros -= a->micros;
			}
			if (h & LEASE_HELD_TOKENS) {
				l->used_tokens -= a->tokens;
				l->grant_tokens -= a->tokens;
			}
			if (h & LEASE_HELD_REQUESTS) {
				l->used_requests--;
				l->grant_requests--;
			}
		}
	}
	if (rc == ST_NOTFOUND && LS.owner_id == owner)
		LS.owner_id = 0;
	LS.wakes++;
	pthread_cond_broadcast(&LS.cv);
	pthread_mutex_unlock(&LS.mu);
	for (size_t i = 0; LS.on_promoted && i < n; i++)
		if (tk[i]->state == TK_PROMOTED)
			LS.on_promoted(tk[i]->a->exec_id);
}

/* ------------------------------------------------------------------ the owner */

/* Forget every lease (the owner was reaped: the database charged them). LS.mu held. */
static void lease_forget_all(void)
{
	for (unsigned b = 0; b < LEASE_BUCKETS; b++)
		for (struct lease *l = LS.buckets[b]; l; l = l->next) {
			l->grant_micros = l->used_micros;
			l->grant_tokens = l->used_tokens;
			l->grant_requests = l->used_requests;
			l->give_back = 0;
		}
}

static void lease_heartbeat(struct store *st, int64_t now)
{
	int64_t owner;
	int rc, stopping;

	pthread_mutex_lock(&LS.mu);
	owner = LS.owner_id;
	stopping = LS.stopping;
	pthread_mutex_unlock(&LS.mu);
	if (owner == 0 && stopping)
		return; /* (lease_stop closed it: no new owner at shutdown) */
	if (owner == 0) {
		char journal[64];
		int64_t id = 0;

		snprintf(journal, sizeof(journal), "pid %d", (int)getpid());
		if (store_owner_register(st, LS.host, (int)getpid(), journal, &id) != ST_OK)
			return;
		if (LS.on_owner)
			LS.on_owner(id);
		pthread_mutex_lock(&LS.mu);
		lease_forget_all();
		LS.owner_id = id;
		LS.hb_ok_us = now;
		pthread_mutex_unlock(&LS.mu);
		log_info("lease: registered as owner %lld", (long long)id);
		return;
	}
	rc = store_owner_heartbeat(st, owner);
	pthread_mutex_lock(&LS.mu);
	if (rc == ST_OK)
		LS.hb_ok_us = now;
	else if (rc == ST_NOTFOUND && LS.owner_id == owner) {
		log_warn("lease: owner %lld was reaped (silent too long); its leases are gone",
		         (long long)owner);
		LS.owner_id = 0;
		lease_forget_all();
	}
	pthread_mutex_unlock(&LS.mu);
}

/* The ask for l sized for its recent calls, as lease_admit would make it (LS.mu held). */
static void lease_ask_of(struct lease *l, struct adm_counter *c, struct lease_ask *a, int64_t now)
{
	memset(c, 0, sizeof(*c));
	c->scope = l->scope;
	c->scope_id = l->scope_id;
	c->window = l->window;
	util_strlcpy(c->period, l->period, sizeof(c->period));
	c->max_micros = l->lim_micros;
	c->max_tokens = l->lim_tokens;
	c->max_requests = l->lim_requests;
	c->hard = 1;
	memset(a, 0, sizeof(*a));
	a->c = c;
	a->need_micros = l->need_micros;
	a->need_tokens = l->need_tokens;
	a->need_requests = l->need_requests;
	a->want_micros = l->need_micros ? lease_want(l, l->need_micros, now) : 0;
	a->want_tokens = l->need_tokens ? lease_want(l, l->need_tokens, now) : 0;
	a->want_requests = l->need_requests ? lease_want(l, l->need_requests, now) : 0;
	a->tail_calls = LEASE_TAIL_CALLS;
	a->divisor = LEASE_DIVISOR;
}

#define PREFETCH_BATCH LEASE_GRANT_MAX /* one grant transaction for many tenants' leases */

/* Grow, off the requests' path, the leases running low, as their calls flagged them. */
static void lease_grow_wanted(struct store *st)
{
	struct lease_ask asks[PREFETCH_BATCH];
	struct adm_counter cs[PREFETCH_BATCH];
	struct lease *ls[PREFETCH_BATCH];
	int64_t now = util_now_us(), owner;
	size_t n = 0;

	pthread_mutex_lock(&LS.mu);
	owner = LS.owner_id;
	if (!lease_usable(now)) {
		pthread_mutex_unlock(&LS.mu);
		return;
	}
	while (LS.wanted && n < PREFETCH_BATCH) {
		struct lease *l = LS.wanted;

		LS.wanted = l->want_next;
		l->want_next = NULL;
		l->wanted = 0;
		if (l->growing || l->give_back || now < l->tail_until_us)
			continue;
		l->growing = 1;
		lease_ask_of(l, &cs[n], &asks[n], now);
		ls[n++] = l;
	}
	pthread_mutex_unlock(&LS.mu);
	if (n)
		lease_grow(st, NULL, asks, ls, n, owner);
}

/*
 * In the last LEASE_TURN_S of a minute, the next minute's leases of the
 * minute counters that had a call in the last LEASE_MINUTE_KEEP_S (the
 * current minute's lease may itself have been taken ahead), so that no call
 * waits for a grant at the turn of the minute, nor a tenant that calls less
 * than once a minute at its first call of each minute. One grant
 * transaction (up to PREFETCH_BATCH leases, many tenants') per tick: 20,000
 * minute counters (10,000 tenants' and keys') need some 160 transactions per
 * process, which a loaded database still fits in 30 s.
 */
static void lease_turn(struct store *st)
{
	struct lease_ask asks[PREFETCH_BATCH];
	struct adm_counter cs[PREFETCH_BATCH];
	struct lease *ls[PREFETCH_BATCH];
	int64_t now = util_now_us(), wall = util_unix_time(), owner;
	char minute[20], next_minute[20], day[20], month[20];
	size_t n = 0;

	if (wall % 60 < 60 - LEASE_TURN_S)
		return;
	admit_periods(wall, minute, day, month);
	admit_periods(wall + 60 - wall % 60, next_minute, day, month);
	pthread_mutex_lock(&LS.mu);
	owner = LS.owner_id;
	if (!lease_usable(now)) {
		pthread_mutex_unlock(&LS.mu);
		return;
	}
	/* The minute counters in use, in slices of the table. */
	for (unsigned k = 0; k < SWEEP_BUCKETS && n < PREFETCH_BATCH; k++) {
		unsigned b = LS.turn_at;
		struct lease *l;

		for (l = LS.buckets[b]; l && n < PREFETCH_BATCH; l = l->next) {
			struct adm_counter key = {0};
			struct lease *g;

			if (l->window != ADM_MINUTE || strcmp(l->period, minute) != 0 ||
			    now - l->last_call_us > LEASE_MINUTE_KEEP_S * 1000000LL ||
			    !l->last_grant)
				continue;
			key.scope = l->scope;
			key.scope_id = l->scope_id;
			key.window = l->window;
			util_strlcpy(key.period, next_minute, sizeof(key.period));
			g = lease_of(&key, 1);
			if (g == NULL || g->grant_micros || g->grant_tokens || g->grant_requests ||
			    g->growing || now < g->tail_until_us)
				continue;
			g->lim_micros = l->lim_micros;
			g->lim_tokens = l->lim_tokens;
			g->lim_requests = l->lim_requests;
			g->need_micros = l->need_micros;
			g->need_tokens = l->need_tokens;
			g->need_requests = l->need_requests;
			g->admits = l->admits;
			g->granted_us = l->granted_us;
			g->last_use_us = now;
			g->last_call_us = l->last_call_us;
			g->growing = 1;
			lease_ask_of(g, &cs[n], &asks[n], now);
			ls[n++] = g;
		}
		/* A chain cut short by a full batch is looked at again next tick (what
		 * was taken is skipped then: it holds a grant or is growing). */
		if (l == NULL)
			LS.turn_at = (b + 1) % LEASE_BUCKETS;
	}
	pthread_mutex_unlock(&LS.mu);
	if (n)
		lease_grow(st, NULL, asks, ls, n, owner);
}

void lease_beat(struct store *st)
{
	int64_t now = util_now_us();

	if (now >= LS.next_hb_us) {
		LS.next_hb_us = now + LEASE_HEARTBEAT_MS * 1000LL;
		lease_heartbeat(st, now);
	}
}

void lease_tick(struct store *st)
{
	lease_give_flagged(st);
	lease_promote_due(st);
	lease_grow_wanted(st);
}

void lease_upkeep(struct store *st)
{
	static int64_t next_sweep;
	int64_t now = util_now_us();

	lease_turn(st);
	if (now >= next_sweep) {
		next_sweep = now + 100 * 1000LL;
		lease_sweep(st, 0);
	}
}

void lease_stop(struct store *st)
{
	int64_t owner;

	pthread_mutex_lock(&LS.mu);
	LS.stopping = 1;
	owner = LS.owner_id;
	pthread_mutex_unlock(&LS.mu);
	if (owner == 0)
		return;
	/* Calls still in flight keep what they hold: the owner row goes only when none is. */
	for (int i = 0; i < 8; i++) {
		lease_sweep(st, 1);
		pthread_mutex_lock(&LS.mu);
		if (LS.n_inflight == 0) {
			pthread_mutex_unlock(&LS.mu);
			store_owner_close(st, owner, 0);
			return;
		}
		pthread_mutex_unlock(&LS.mu);
	}
}

void lease_journal_inflight(void (*write)(const struct lease_ticket *t))
{
	pthread_mutex_lock(&LS.mu);
	for (struct lease_ticket *t = LS.inflight; t; t = t->next)
		if (t->state == TK_LEASED || t->state == TK_PROMOTING)
			write(t);
	pthread_mutex_unlock(&LS.mu);
}
