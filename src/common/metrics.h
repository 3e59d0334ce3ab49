/*
 * metrics: the host's counters for /metrics (Prometheus text format).
 *
 * DESIGN
 * The request path only adds to counters: relaxed C11 atomics in a fixed
 * table, found by open addressing on a packed key; no lock, no malloc, no
 * system call per request. Everything else (top N tenants, labels, the
 * text) happens when /metrics is scraped.
 *
 * One table per process, in a file of state_dir/metrics/ mapped shared
 * (MAP_SHARED): a scrape reaches one process of the host (the web server
 * picks it), and that process sums the tables of every process of the
 * host, so whichever answers, Prometheus sees the host's figures. The
 * process holds a shared flock on its file for its life; a file whose lock
 * is free belongs to a process that ended, and the scrape that finds it
 * adds it to state_dir/metrics/retired (under an exclusive flock) and
 * removes it, so the host's counters never go backwards when a process
 * ends. Without metrics_start (CGI mode, tools) the counters go to a table
 * in this process's memory.
 *
 * Label bounds: tenants get slots in the table as they appear (at most
 * METRICS_TENANTS; later ones count as tenant "other"), model names are
 * recorded only once a model resolved (at most METRICS_MODELS), status
 * codes and reason codes come from fixed tables. At scrape, the
 * metrics_tenants tenants with the most requests keep their label and the
 * rest are summed under tenant="other".
 */
#ifndef AH_METRICS_H
#define AH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/reason.h"

#define METRICS_TENANTS 2048 /* tenant slots per table */
#define METRICS_MODELS 128   /* model slots per table */
#define METRICS_MODEL_MAX 64 /* longest model name kept */

/* Counters without labels. */
enum metrics_counter {
	MC_ADMIT_LEASE,       /* calls admitted on this process's leases */
	MC_ADMIT_RESERVATION, /* calls admitted one by one (a reservation) */
	MC_ADMIT_REFUSED,     /* calls refused by a limit at admission */
	MC_ADMIT_ERROR,       /* admissions that could not reach the database */
	MC_DB_CONNECTS,       /* MariaDB connections opened */
	MC_DB_CONNECT_FAILED, /* MariaDB connections that could not be opened */
	MC_LEDGER_WRITTEN,    /* calls the ledger wrote to the database (batches, or at once) */
	MC__MAX
};

/* Gauges, summed over the host's processes. */
enum metrics_gauge {
	MG_REQUESTS_INFLIGHT, /* requests being handled */
	MG_CALLS_INFLIGHT,    /* model calls in flight (enforce/share.c) */
	MG_DB_CONNECTIONS,    /* MariaDB connections open (control and dedicated tenants) */
	MG_LEDGER_QUEUED,     /* calls journaled, waiting for the ledger to write them */
	MG__MAX
};

/*
 * Map this process's table in state_dir/metrics (created when missing).
 * 0, or -1 with err (the process then counts in memory; /metrics shows
 * only it).
 */
int metrics_start(const char *state_dir, char *err, size_t errlen);

/*
 * One answered request: its tenant (0: none identified), the model it used
 * ("" or NULL: none), its HTTP status, its reason code (R_none for a
 * success) and its duration.
 */
void metrics_request(int64_t tenant_id, const char *model, int status, enum reason reason,
                     int64_t duration_us);
/*
 * One model call that reached its provider (or was refused on its way
 * there: upstream_us < 0): tokens, cost in micro-USD, time upstream.
 */
void metrics_call(int64_t tenant_id, const char *model, int64_t prompt_tokens,
                  int64_t completion_tokens, int64_t cost_micros, int64_t upstream_us);
/* Add 1 to a counter. */
void metrics_count(enum metrics_counter c);
/* Add n to a counter. */
void metrics_count_n(enum metrics_counter c, uint64_t n);
/* Add delta (+1 / -1) to a gauge. */
void metrics_gauge(enum metrics_gauge g, int delta);

/* One breaker figure read from the database at scrape time. */
struct metrics_breaker {
	char provider[33]; /* provider instance */
	char state[16];    /* closed | open | half_open */
	int64_t count;     /* (tenant, provider) breakers in that state */
};

/*
 * Write the exposition text of the host (every process's table and the
 * retired one, summed) into out: top_tenants tenants by requests keep
 * their label. brk: n breaker rows, or brk_ok 0 when they could not be
 * read. 0, or -1 out of memory.
 */
int metrics_render(struct buf *out, int top_tenants, const struct metrics_breaker *brk, size_t n,
                   int brk_ok);

/* Append s to out escaped as a label value of the text format (\\, \", \n). */
void metrics_escape(struct buf *out, const char *s);

#endif
