/*
 * sched.c: worker threads as schedulers of request coroutines (see sched.h).
 *
 * DESIGN
 * One struct sched per worker thread, reached through a thread-local
 * pointer. Its loop: run every ready coroutine until it parks or ends, then
 * wait in curl_multi_poll for whichever comes first of an upstream transfer's
 * progress, a file descriptor a coroutine waits on, the thread's eventfd
 * (a connection handed over, shutdown) and the earliest timer; then let
 * curl perform, collect finished transfers, and wake whoever is due.
 *
 * Connections come from the acceptor (server.c) through sched_handoff,
 * which picks the scheduler with the fewest coroutines. A scheduler never
 * takes more than its share of max_inflight plus room for short requests;
 * when every scheduler is full the acceptor stops accepting, and the web
 * server's queue holds the rest (backpressure instead of memory growth).
 *
 * Stacks are mmap'd with a guard page below them and MAP_NORESERVE: only
 * the pages a request touches are resident. A few ended coroutines are kept
 * per thread, each with its stack, for the next requests (a struct coro
 * holds a ucontext_t, over 1 KiB: allocating one per request made malloc
 * consolidate its small free chunks every time). Switches are ucontext's,
 * annotated for AddressSanitizer and ThreadSanitizer so that both follow
 * the stacks.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "host/sched.h"

#if defined(__SANITIZE_ADDRESS__)
#define SCHED_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCHED_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SCHED_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SCHED_TSAN 1
#endif
#endif

#ifdef SCHED_ASAN
#include <sanitizer/common_interface_defs.h>
#define SCHED_STACK (1024u * 1024u) /* instrumented frames are several times larger */
#else
#define SCHED_STACK (256u * 1024u)
#endif
#ifdef SCHED_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define SCHED_GUARD 4096u
#define SCHED_POOL 32 /* ended coroutines (with their stacks) kept per thread */

enum { CO_READY, CO_RUNNING, CO_PARKED, CO_DONE };

struct coro {
	ucontext_t ctx;
	struct sched *s;
	unsigned char *map; /* guard page + stack */
	int state;
	int wake_pending; /* woken while running: the next park returns at once */
	int woken;        /* the last park ended by sched_wake (not the timer) */
	struct coro *next;
	int64_t deadline; /* monotonic us, 0: none */
	int heap_i;       /* index in the timer heap, -1 when not in it */
	int wait_fd;      /* fd waited on, -1 when none */
	short wait_events, revents;
	CURL *xfer; /* the transfer this coroutine runs, or NULL */
	int xfer_done;
	CURLcode xfer_result;
	int fd; /* the connection it serves */
#ifdef SCHED_ASAN
	void *fake_stack;
#endif
#ifdef SCHED_TSAN
	void *fiber;
#endif
};

struct sched {
	ucontext_t main;
	struct coro *cur;
	struct coro *ready, *ready_tail;
	struct coro **heap; /* timers, min-heap on deadline */
	int nheap, capheap;
	struct coro **waiters; /* coroutines waiting on an fd */
	int nwait, capwait;
	CURLM *multi;
	int efd;          /* eventfd: a connection handed over, or shutdown */
	atomic_int alive; /* coroutines */
	pthread_mutex_t mu;
	int *inbox; /* handed-over connections (mu) */
	int ninbox, capinbox;
	struct coro *pool[SCHED_POOL];
	int npool;
	int index;
#ifdef SCHED_ASAN
	const void *main_bottom;
	size_t main_size;
#endif
#ifdef SCHED_TSAN
	void *main_fiber;
#endif
};

static struct sched_conf SC;
static struct sched *scheds;
static atomic_int sched_next_index;
static atomic_int sched_total;
static atomic_int sched_stopping;
static int sched_cap_each;
static __thread struct sched *S;

/* ------------------------------------------------------------------ timers */

static int64_t now_us(void)
{
	return util_now_us();
}

static void heap_swap(struct sched *s, int a, int b)
{
	struct coro *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->heap_i = a;
	s->heap[b]->heap_i = b;
}

static void heap_up(struct sched *s, int i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->deadline > s->heap[i]->deadline) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct sched *s, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nheap && s->heap[l]->deadline < s->heap[m]->deadline)
			m = l;
		if (r < s->nheap && s->heap[r]->deadline < s->heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static int heap_push(struct sched *s, struct coro *c)
{
	if (s->nheap == s->capheap) {
		int n = s->capheap ? 2 * s->capheap : 64;
		struct coro **h = realloc(s->heap, (size_t)n * sizeof(*h));

		if (h == NULL)
			return -1;
		s->heap = h;
		s->capheap = n;
	}
	c->heap_i = s->nheap;
	s->heap[s->nheap++] = c;
	heap_up(s, c->heap_i);
	return 0;
}

static void heap_remove(struct sched *s, struct coro *c)
{
	int i = c->heap_i;

	if (i < 0)
		return;
	c->heap_i = -1;
	if (--s->nheap == i)
		return;
	s->heap[i] = s->heap[s->nheap];
	s->heap[i]->heap_i = i;
	heap_down(s, i);
	heap_up(s, s->heap[i]->heap_i);
}

/* ------------------------------------------------------------------ switching */

static void ready_push(struct sched *s, struct coro *c)
{
	c->state = CO_READY;
	c->next = NULL;
	if (s->ready_tail)
		s->ready_tail->next = c;
	else
		s->ready = c;
	s->ready_tail = c;
}

static void waiter_remove(struct sched *s, struct coro *c)
{
	if (c->wait_fd < 0)
		return;
	for (int i = 0; i < s->nwait; i++)
		if (s->waiters[i] == c) {
			s->waiters[i] = s->waiters[--s->nwait];
			break;
		}
	c->wait_fd = -1;
}

/* From the scheduler into c, until c parks or ends. */
static void switch_to(struct sched *s, struct coro *c)
{
	s->cur = c;
	c->state = CO_RUNNING;
#ifdef SCHED_ASAN
	{
		void *fake = NULL;

		__sanitizer_start_switch_fiber(&fake, c->map + SCHED_GUARD, SCHED_STACK);
		swapcontext(&s->main, &c->ctx);
		__sanitizer_finish_switch_fiber(fake, NULL, NULL);
	}
#else
#ifdef SCHED_TSAN
	__tsan_switch_to_fiber(c->fiber, 0);
#endif
	swapcontext(&s->main, &c->ctx);
#endif
	s->cur = NULL;
}

/* From the running coroutine back to its scheduler. */
static void switch_out(struct sched *s, struct coro *c, int ending)
{
#ifdef SCHED_TSAN
	__tsan_switch_to_fiber(s->main_fiber, 0);
#endif
#ifdef SCHED_ASAN
	__sanitizer_start_switch_fiber(ending ? NULL : &c->fake_stack, s->main_bottom,
	                               s->main_size);
	swapcontext(&c->ctx, &s->main);
	__sanitizer_finish_switch_fiber(c->fake_stack, NULL, NULL);
#else
	(void)ending;
	swapcontext(&c->ctx, &s->main);
#endif
}

struct coro *sched_self(void)
{
	return S ? S->cur : NULL;
}

int sched_in_coro(void)
{
	return S != NULL && S->cur != NULL;
}

int sched_park(int64_t timeout_us)
{
	struct sched *s = S;
	struct coro *c = s ? s->cur : NULL;

	if (c == NULL)
		return 0;
	if (c->wake_pending) {
		c->wake_pending = 0;
		return 1;
	}
	c->woken = 0;
	c->deadline = 0;
	if (timeout_us >= 0) {
		c->deadline = now_us() + timeout_us;
		if (heap_push(s, c) < 0)
			c->deadline = 0; /* out of memory: wait for the wake alone */
	}
	c->state = CO_PARKED;
	switch_out(s, c, 0);
	return c->woken;
}

void sched_wake(struct coro *c)
{
	struct sched *s;

	if (c == NULL)
		return;
	s = c->s;
	if (c->state == CO_RUNNING) {
		c->wake_pending = 1;
		return;
	}
	if (c->state != CO_PARKED)
		return;
	heap_remove(s, c);
	waiter_remove(s, c);
	c->woken = 1;
	ready_push(s, c);
}

void sched_sleep_us(int64_t us)
{
	struct timespec ts, rem;

	if (us <= 0)
		return;
	if (sched_in_coro()) {
		int64_t end = now_us() + us;

		S->cur->wake_pending = 0; /* a sleep is not cut short by a stale wake */
		/* Woken early by a stray wake: sleep the rest; at shutdown, not at all. */
		while ((us = end - now_us()) > 0 && !atomic_load(&sched_stopping))
			sched_park(us);
		return;
	}
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

int sched_wait_fd(int fd, short events, int64_t timeout_us)
{
	struct sched *s = S;
	struct coro *c = s ? s->cur : NULL;

	if (c == NULL) {
		struct pollfd p = {fd, events, 0};
		int rc = poll(&p, 1, timeout_us < 0 ? -1 : (int)((timeout_us + 999) / 1000));

		return rc < 0 ? -1 : rc == 0 ? 0 : p.revents;
	}
	if (s->nwait == s->capwait) {
		int n = s->capwait ? 2 * s->capwait : 64;
		struct coro **w = realloc(s->waiters, (size_t)n * sizeof(*w));

		if (w == NULL)
			return -1;
		s->waiters = w;
		s->capwait = n;
	}
	c->wait_fd = fd;
	c->wait_events = events;
	c->revents = 0;
	s->waiters[s->nwait++] = c;
	c->wake_pending = 0;
	if (!sched_park(timeout_us)) {
		waiter_remove(s, c);
		return 0;
	}
	return c->revents ? c->revents : 0;
}

/* ------------------------------------------------------------------ transfers */

int sched_xfer_start(CURL *easy)
{
	struct sched *s = S;
	struct coro *c = s ? s->cur : NULL;

	if (c == NULL || c->xfer != NULL)
		return -1;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, c);
	if (curl_multi_add_handle(s->multi, easy) != CURLM_OK)
		return -1;
	c->xfer = easy;
	c->xfer_done = 0;
	c->xfer_result = CURLE_OK;
	return 0;
}

int sched_xfer_done(CURL *easy, CURLcode *result)
{
	struct coro *c = sched_self();

	if (c == NULL || c->xfer != easy)
		return 1;
	if (c->xfer_done && result)
		*result = c->xfer_result;
	return c->xfer_done;
}

void sched_xfer_stop(CURL *easy)
{
	struct sched *s = S;
	struct coro *c = sched_self();

	if (s == NULL || c == NULL || c->xfer != easy)
		return;
	if (!c->xfer_done)
		curl_multi_remove_handle(s->multi, easy);
	c->xfer = NULL;
	c->xfer_done = 0;
}

static void xfers_collect(struct sched *s)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
		struct coro *c = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		curl_multi_remove_handle(s->multi, m->easy_handle);
		if (c == NULL || c->xfer != m->easy_handle)
			continue;
		c->xfer_done = 1;
		c->xfer_result = m->data.result;
		sched_wake(c);
	}
}

/* ------------------------------------------------------------------ coroutines */

/*
 * A coroutine with its stack: an ended one kept by this thread, or a new one.
 * Not inlined: coro_start's getcontext (which returns twice) must not share
 * its frame with these locals (-Wclobbered).
 */
__attribute__((noinline)) static struct coro *coro_get(struct sched *s)
{
	struct coro *c;
	unsigned char *m;

	if (s->npool > 0) {
		c = s->pool[--s->npool];
		m = c->map;
		memset(c, 0, sizeof(*c));
		c->map = m;
		return c;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	m = mmap(NULL, SCHED_STACK + SCHED_GUARD, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (m == MAP_FAILED) {
		free(c);
		return NULL;
	}
	if (mprotect(m, SCHED_GUARD, PROT_NONE) != 0) {
		munmap(m, SCHED_STACK + SCHED_GUARD);
		free(c);
		return NULL;
	}
	c->map = m;
	return c;
}

static void coro_free(struct coro *c)
{
	munmap(c->map, SCHED_STACK + SCHED_GUARD);
	free(c);
}

static void coro_put(struct sched *s, struct coro *c)
{
	if (s->npool < SCHED_POOL && !atomic_load(&sched_stopping)) {
		s->pool[s->npool++] = c;
		return;
	}
	coro_free(c);
}

static void coro_main(unsigned int hi, unsigned int lo)
{
	struct coro *c = (struct coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
	struct sched *s = c->s;

#ifdef SCHED_ASAN
	__sanitizer_finish_switch_fiber(NULL, &s->main_bottom, &s->main_size);
#endif
	SC.serve(c->fd, SC.arg);
	c->state = CO_DONE;
	switch_out(s, c, 1);
}

static void coro_start(struct sched *s, int fd)
{
	struct coro *c = coro_get(s);
	uintptr_t p = (uintptr_t)c;

	if (c == NULL) {
		log_error("sched: out of memory for a request; connection closed");
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	c->heap_i = -1;
	c->wait_fd = -1;
	getcontext(&c->ctx);
	c->ctx.uc_stack.ss_sp = c->map + SCHED_GUARD;
	c->ctx.uc_stack.ss_size = SCHED_STACK;
	c->ctx.uc_link = NULL;
	makecontext(&c->ctx, (void (*)(void))coro_main, 2, (unsigned int)(p >> 32),
	            (unsigned int)(p & 0xffffffffu));
#ifdef SCHED_TSAN
	c->fiber = __tsan_create_fiber(0);
#endif
	atomic_fetch_add(&s->alive, 1);
	ready_push(s, c);
}

static void coro_end(struct sched *s, struct coro *c)
{
	heap_remove(s, c);
	waiter_remove(s, c);
#ifdef SCHED_TSAN
	__tsan_destroy_fiber(c->fiber);
#endif
	coro_put(s, c);
	atomic_fetch_sub(&s->alive, 1);
	atomic_fetch_sub(&sched_total, 1);
}

/* ------------------------------------------------------------------ the loop */

static void inbox_take(struct sched *s)
{
	uint64_t v;
	int fds[64], n = 0;

	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("sched: eventfd: %s", strerror(errno));
	do {
		pthread_mutex_lock(&s->mu);
		n = s->ninbox < 64 ? s->ninbox : 64;
		if (n > 0) {
			memcpy(fds, s->inbox, (size_t)n * sizeof(int));
			memmove(s->inbox, s->inbox + n, (size_t)(s->ninbox - n) * sizeof(int));
			s->ninbox -= n;
		}
		pthread_mutex_unlock(&s->mu);
		for (int i = 0; i < n; i++)
			coro_start(s, fds[i]);
	} while (n == 64);
}

static void run_ready(struct sched *s)
{
	struct coro *c;

	while ((c = s->ready) != NULL) {
		s->ready = c->next;
		if (s->ready == NULL)
			s->ready_tail = NULL;
		switch_to(s, c);
		if (c->state == CO_DONE)
			coro_end(s, c);
	}
}

/*
 * Make runnable every coroutine whose timer is due by upto (a parked sleep
 * ends, a wait times out). At shutdown upto is INT64_MAX: every request
 * parked on a timer wakes at once (sched_sleep_us then returns), so that a
 * stream between two chunks notices the stop now rather than at its next
 * timer.
 */
static void timers_expire(struct sched *s, int64_t upto)
{
	while (s->nheap > 0 && s->heap[0]->deadline <= upto) {
		struct coro *c = s->heap[0];

		heap_remove(s, c);
		waiter_remove(s, c);
		if (c->state == CO_PARKED) {
			c->woken = 0;
			ready_push(s, c);
		}
	}
}

static void sched_loop(struct sched *s)
{
	struct curl_waitfd *ex = NULL;
	int capex = 0;

	for (;;) {
		int n = 0, timeout_ms, running;
		long cto = -1;

		run_ready(s);
		if (atomic_load(&sched_stopping) && atomic_load(&s->alive) == 0)
			break;
		if (capex < s->nwait + 1) {
			struct curl_waitfd *e = realloc(ex, (size_t)(s->nwait + 64) * sizeof(*e));

			if (e == NULL) {
				usleep(1000);
				continue;
			}
			ex = e;
			capex = s->nwait + 64;
		}
		ex[n++] = (struct curl_waitfd){s->efd, CURL_WAIT_POLLIN, 0};
		for (int i = 0; i < s->nwait; i++)
			ex[n++] = (struct curl_waitfd){
			    s->waiters[i]->wait_fd,
			    (short)(((s->waiters[i]->wait_events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
			            ((s->waiters[i]->wait_events & POLLOUT) ? CURL_WAIT_POLLOUT
			                                                    : 0)),
			    0};
		timeout_ms = 1000;
		curl_multi_timeout(s->multi, &cto);
		if (cto >= 0 && cto < timeout_ms)
			timeout_ms = (int)cto;
		if (s->nheap > 0) {
			int64_t d = s->heap[0]->deadline - now_us();

			d = d <= 0 ? 0 : (d + 999) / 1000;
			if (d < timeout_ms)
				timeout_ms = (int)d;
		}
		curl_multi_poll(s->multi, ex, (unsigned)n, timeout_ms, NULL);
		curl_multi_perform(s->multi, &running);
		xfers_collect(s);
		for (int i = 1; i < n; i++) {
			struct coro *c;

			if (ex[i].revents == 0)
				continue;
			/* The waiter set may have changed: find the coroutine by fd. */
			for (int j = 0; j < s->nwait; j++) {
				c = s->waiters[j];
				if (c->wait_fd != ex[i].fd)
					continue;
				c->revents =
				    (short)(((ex[i].revents & CURL_WAIT_POLLIN) ? POLLIN : 0) |
				            ((ex[i].revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0) |
				            ((ex[i].revents & CURL_WAIT_POLLPRI) ? POLLPRI : 0));
				if (c->revents == 0)
					c->revents = POLLERR;
				sched_wake(c);
				break;
			}
		}
		if (ex[0].revents)
			inbox_take(s);
		timers_expire(s, atomic_load(&sched_stopping) ? INT64_MAX : now_us());
	}
	free(ex);
}

/* ------------------------------------------------------------------ threads */

int sched_init(const struct sched_conf *sc)
{
	SC = *sc;
	if (SC.threads < 1)
		SC.threads = 1;
	scheds = calloc((size_t)SC.threads, sizeof(*scheds));
	if (scheds == NULL)
		return -1;
	/* Each scheduler's share, with room for short requests while calls fill the host. */
	sched_cap_each = (SC.max_inflight + SC.max_inflight / 8 + SC.threads - 1) / SC.threads + 8;
	for (int i = 0; i < SC.threads; i++) {
		scheds[i].index = i;
		scheds[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		pthread_mutex_init(&scheds[i].mu, NULL);
		if (scheds[i].efd < 0)
			return -1;
	}
	return 0;
}

void *sched_worker(void *unused)
{
	int i = atomic_fetch_add(&sched_next_index, 1);
	struct sched *s;

	(void)unused;
	if (i >= SC.threads)
		return NULL;
	s = &scheds[i];
	s->multi = curl_multi_init();
	if (s->multi == NULL) {
		log_error("sched: cannot create a curl multi handle");
		return NULL;
	}
	S = s;
#ifdef SCHED_TSAN
	s->main_fiber = __tsan_get_current_fiber();
#endif
	sched_loop(s);
	S = NULL;
	curl_multi_cleanup(s->multi);
	while (s->npool > 0)
		coro_free(s->pool[--s->npool]);
	return NULL;
}

int sched_handoff(int fd)
{
	struct sched *best = NULL;
	int least = 0;

	if (atomic_load(&sched_stopping))
		return -1;
	for (int i = 0; i < SC.threads; i++) {
		int a = atomic_load(&scheds[i].alive);

		pthread_mutex_lock(&scheds[i].mu);
		a += scheds[i].ninbox;
		pthread_mutex_unlock(&scheds[i].mu);
		if (a < sched_cap_each && (best == NULL || a < least)) {
			best = &scheds[i];
			least = a;
		}
	}
	if (best == NULL)
		return -1;
	pthread_mutex_lock(&best->mu);
	if (best->ninbox == best->capinbox) {
		int n = best->capinbox ? 2 * best->capinbox : 64;
		int *b = realloc(best->inbox, (size_t)n * sizeof(int));

		if (b == NULL) {
			pthread_mutex_unlock(&best->mu);
			return -1;
		}
		best->inbox = b;
		best->capinbox = n;
	}
	best->inbox[best->ninbox++] = fd;
	pthread_mutex_unlock(&best->mu);
	atomic_fetch_add(&sched_total, 1);
	{
		uint64_t one = 1;

		if (write(best->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("sched: eventfd: %s", strerror(errno));
	}
	return 0;
}

int sched_inflight(void)
{
	return atomic_load(&sched_total);
}

void sched_stop(void)
{
	uint64_t one = 1;

	atomic_store(&sched_stopping, 1);
	for (int i = 0; scheds && i < SC.threads; i++)
		if (write(scheds[i].efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("sched: eventfd: %s", strerror(errno));
}
