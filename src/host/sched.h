/*
 * sched: many requests per worker thread, each on a small stack of its own.
 *
 * DESIGN
 * A call waiting on its provider must hold neither a worker thread nor a
 * database connection (docs/ARCHITECTURE.md, "Calls in flight"). Each worker
 * thread runs a scheduler: an event loop over one libcurl multi handle (the
 * upstream transfers of all its requests), a timer heap, and the file
 * descriptors its requests wait on. Every request runs as a coroutine
 * (ucontext, a 256 KiB stack reserved, only the pages it touches resident)
 * that keeps the straight-line code of the handlers: where it would block on
 * the network or a timer it parks, and the thread runs other requests
 * meanwhile. Database steps do not park: they are short, and the thread's
 * one connection is then used by one request at a time, never across a park.
 *
 * A coroutine never moves to another thread, so thread-local state (the
 * thread's store handle, libmariadb's per-thread state) stays valid across a
 * park. Rules for code that runs in a request: never park while holding a
 * mutex, a transaction or a leadership role another request of the same
 * thread could wait for; the parking points are sched_sleep_us,
 * sched_wait_fd and sched_park (upstream transfers, the mock's timers,
 * output to a slow web server, tool processes).
 *
 * Outside a coroutine (CGI mode, background threads, tests) the same calls
 * block the calling thread, so callers do not need two code paths.
 */
#ifndef AH_SCHED_H
#define AH_SCHED_H

#include <stdint.h>

#include <curl/curl.h>

struct sched;
struct coro;

/* 1 when the caller runs in a request coroutine (it may park). */
int sched_in_coro(void);
/* The running coroutine, or NULL. */
struct coro *sched_self(void);
/* Sleep us microseconds: park the coroutine, or nanosleep outside one. */
void sched_sleep_us(int64_t us);
/*
 * Wait until fd is ready for events (POLLIN/POLLOUT) or timeout_us passes
 * (< 0: no timeout). Returns the poll revents, 0 on timeout, -1 on error.
 */
int sched_wait_fd(int fd, short events, int64_t timeout_us);
/*
 * Park until sched_wake(self) or timeout_us (< 0: none). Returns 1 when
 * woken, 0 on timeout. Only in a coroutine.
 */
int sched_park(int64_t timeout_us);
/* Make a parked coroutine of this thread runnable (from its scheduler's callbacks). */
void sched_wake(struct coro *c);

/*
 * Upstream transfers: the thread's multi handle. sched_xfer_start adds easy
 * (its CURLOPT_PRIVATE is taken); the coroutine then parks until woken by
 * its write callback or the end of the transfer; sched_xfer_done tells
 * whether it ended and with what. sched_xfer_stop removes it early.
 */
int sched_xfer_start(CURL *easy);
int sched_xfer_done(CURL *easy, CURLcode *result);
void sched_xfer_stop(CURL *easy);

/* Requests in flight in this process (coroutines alive), and its cap. */
int sched_inflight(void);

/*
 * Run a worker thread's scheduler: take connections handed over by
 * sched_handoff and run serve(fd, arg) for each in a new coroutine, until
 * sched_stop and every coroutine has ended.
 */
struct sched_conf {
	int threads;      /* worker threads (schedulers) */
	int max_inflight; /* requests alive at once in this process */
	void (*serve)(int fd, void *arg);
	void *arg;
};
int sched_init(const struct sched_conf *sc);
void *sched_worker(void *unused);
/* Give an accepted connection to the least busy scheduler. -1 when all are full. */
int sched_handoff(int fd);
/* Begin shutdown: schedulers take nothing new and end when their coroutines have. */
void sched_stop(void);

#endif
