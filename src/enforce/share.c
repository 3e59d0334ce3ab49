/*
 * share.c: per-process calls in flight by tenant (see share.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "enforce/share.h"

struct slot {
	int64_t tenant_id; /* 0: empty */
	int n;
};

static struct {
	pthread_mutex_t mu;
	struct slot *t;
	size_t cap; /* power of two, at least twice the most tenants that can hold calls */
	int max;    /* max_inflight */
	int calls;
	int tenants;
} SH = {.mu = PTHREAD_MUTEX_INITIALIZER};

int share_init(int max_inflight)
{
	size_t cap = 64;

	while (cap < 2 * (size_t)max_inflight)
		cap *= 2;
	SH.t = calloc(cap, sizeof(*SH.t));
	if (SH.t == NULL)
		return -1;
	SH.cap = cap;
	SH.max = max_inflight;
	return 0;
}

/* The slot of tenant_id, or the empty slot where it would go (SH.mu held). */
static struct slot *share_find(int64_t tenant_id)
{
	size_t i = ((uint64_t)tenant_id * 0x9E3779B97F4A7C15ull) & (SH.cap - 1);

	while (SH.t[i].tenant_id != 0 && SH.t[i].tenant_id != tenant_id)
		i = (i + 1) & (SH.cap - 1);
	return &SH.t[i];
}

/* Remove the slot at s, moving later entries of its run back (SH.mu held). */
static void share_delete(struct slot *s)
{
	size_t i = (size_t)(s - SH.t), j = i;

	SH.t[i].tenant_id = 0;
	SH.t[i].n = 0;
	for (;;) {
		size_t k;

		j = (j + 1) & (SH.cap - 1);
		if (SH.t[j].tenant_id == 0)
			return;
		k = ((uint64_t)SH.t[j].tenant_id * 0x9E3779B97F4A7C15ull) & (SH.cap - 1);
		/* Leave j where it is when its home k lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		SH.t[i] = SH.t[j];
		SH.t[j].tenant_id = 0;
		SH.t[j].n = 0;
		i = j;
	}
}

int share_enter(int64_t tenant_id, int64_t pct, struct refusal *rf)
{
	struct slot *s;
	int held, fair, busy_at;

	if (SH.t == NULL)
		return 0; /* not a server process (CGI mode, tools): nothing to share */
	pthread_mutex_lock(&SH.mu);
	s = share_find(tenant_id);
	held = s->tenant_id ? s->n : 0;
	busy_at = SH.max - SH.max / 10;
	/* The fair part leaves room for one more tenant: the last places go to newcomers. */
	fair = SH.max / (SH.tenants + (s->tenant_id ? 0 : 1) + 1);
	if (fair < 1)
		fair = 1;
	if (SH.calls >= SH.max) {
		pthread_mutex_unlock(&SH.mu);
		reason_set(rf, R_server_busy,
		           "this server holds its maximum of %d calls in flight; retry shortly",
		           SH.max);
		rf->retry_after = 1; /* a place frees as soon as a call ends */
		return -1;
	}
	if (pct > 0 && (int64_t)held * 100 >= pct * SH.max) {
		pthread_mutex_unlock(&SH.mu);
		return reason_set(
		    rf, R_tenant_share_exceeded,
		    "the tenant holds %d calls in flight, its share (%lld%%) of this server's %d",
		    held, (long long)pct, SH.max);
	}
	if (SH.calls >= busy_at && held >= fair) {
		pthread_mutex_unlock(&SH.mu);
		return reason_set(
		    rf, R_tenant_share_exceeded,
		    "this server is busy and the tenant holds %d calls in flight, at least "
		    "its fair part (%d) of them",
		    held, fair);
	}
	if (s->tenant_id == 0) {
		s->tenant_id = tenant_id;
		s->n = 0;
		SH.tenants++;
	}
	s->n++;
	SH.calls++;
	pthread_mutex_unlock(&SH.mu);
	return 0;
}

void share_leave(int64_t tenant_id)
{
	struct slot *s;

	if (SH.t == NULL)
		return;
	pthread_mutex_lock(&SH.mu);
	s = share_find(tenant_id);
	if (s->tenant_id == tenant_id && s->n > 0) {
		SH.calls--;
		if (--s->n == 0) {
			share_delete(s);
			SH.tenants--;
		}
	}
	pthread_mutex_unlock(&SH.mu);
}

void share_counts(int *calls, int *tenants)
{
	pthread_mutex_lock(&SH.mu);
	*calls = SH.calls;
	*tenants = SH.tenants;
	pthread_mutex_unlock(&SH.mu);
}
