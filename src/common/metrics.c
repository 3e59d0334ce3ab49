/*
 * metrics.c: lock-free counters in a shared table per process, summed over
 * the host's processes when /metrics is scraped (see metrics.h).
 *
 * DESIGN
 * A table is one fixed-size struct mx_table: tenant ids and model names get
 * slots (claimed by compare-and-swap, never freed), and every counted
 * combination (kind, tenant slot, model slot, status, reason) is one cell
 * keyed by those fields packed in 64 bits, claimed the same way in an
 * open-addressed array. A hit is a hash and a few relaxed atomic loads and
 * adds. When a table is full the combination is counted in an overflow
 * cell (all labels "other"): figures stay whole, only their labels coarsen.
 *
 * Summing tables (a scrape, retiring a dead process's file) goes through
 * the same functions: each source cell is decoded to (tenant id, model
 * name, status, reason) and added to the destination through its own
 * slots, so tables never need the same layout of slots.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/metrics.h"

/* ------------------------------------------------------------------ the table */

#define MX_MAGIC 0x31786d6861ULL /* "ahmx1": bump with any change of struct mx_table */
#define MX_CELLS 16384           /* combinations per table (a power of two) */
#define MX_PROBES 128            /* slots looked at before a value counts as "other" */
#define MX_BUCKETS 14            /* histogram bounds, +Inf besides */

/* Upper bounds of the histogram buckets, microseconds. */
static const int64_t mx_bounds_us[MX_BUCKETS] = {5000,     10000,    25000,    50000,    100000,
                                                 250000,   500000,   1000000,  2500000,  5000000,
                                                 10000000, 30000000, 60000000, 120000000};

enum mx_kind { MK_REQUEST = 1, MK_CALL = 2 };

#define MX_T_NONE 0     /* no tenant identified */
#define MX_T_OTHER 4095 /* the tenant table was full */
#define MX_M_NONE 0     /* no model */
#define MX_M_OTHER 255  /* the model table was full */

/* A histogram: counts per bucket (not cumulative; +Inf last), total, sum. */
struct mx_hist {
	_Atomic uint64_t b[MX_BUCKETS + 1];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_us;
};

/* A model name's slot. */
struct mx_model {
	_Atomic uint32_t state;       /* 0 free, 1 being written, 2 ready */
	char name[METRICS_MODEL_MAX]; /* NUL-terminated once state is 2 */
};

/* One combination of labels and its counters. */
struct mx_cell {
	_Atomic uint64_t key;  /* mx_key(); 0: free */
	_Atomic uint64_t v[4]; /* requests or calls; prompt, completion tokens; cost micro-USD */
};

struct mx_table {
	_Atomic uint64_t magic;                  /* MX_MAGIC once set up (stored last, release) */
	uint64_t size;                           /* sizeof(struct mx_table) */
	_Atomic int64_t tenant[METRICS_TENANTS]; /* tenant ids; 0: free */
	struct mx_model model[METRICS_MODELS];
	struct mx_cell cell[MX_CELLS]; /* cells 0 and 1: the overflow of each kind */
	struct mx_hist request_us;     /* request durations */
	struct mx_hist upstream_us;    /* time spent upstream per call */
	_Atomic uint64_t counter[MC__MAX];
	_Atomic int64_t gauge[MG__MAX];
};

/*
 * This process's table: in its file once metrics_start mapped it, else in
 * memory (zeroed, so in .bss: untouched pages cost nothing; set up before
 * main by mx_mem_init).
 */
static struct mx_table mx_mem;
/*
 * This process's table: mx_mem until metrics_start maps the shared file, which
 * may happen after other threads have started counting: published with a
 * release store, read with acquire loads (plain loads on x86).
 */
static struct mx_table *_Atomic mx_self = &mx_mem;

static struct mx_table *mx_cur(void)
{
	return atomic_load_explicit(&mx_self, memory_order_acquire);
}
static char mx_dir[512]; /* state_dir/metrics, "" when not started */

/* The key of a combination; never 0. */
static uint64_t mx_key(int kind, unsigned t, unsigned m, unsigned status, unsigned reason)
{
	return 1ULL << 63 | (uint64_t)kind << 38 | (uint64_t)(t & 4095) << 26 |
	       (uint64_t)(m & 255) << 18 | (uint64_t)(status & 1023) << 8 | (reason & 255);
}

static int mx_key_kind(uint64_t k)
{
	return (int)(k >> 38 & 3);
}

static unsigned mx_key_tenant(uint64_t k)
{
	return (unsigned)(k >> 26 & 4095);
}

static unsigned mx_key_model(uint64_t k)
{
	return (unsigned)(k >> 18 & 255);
}

static unsigned mx_key_status(uint64_t k)
{
	return (unsigned)(k >> 8 & 1023);
}

static unsigned mx_key_reason(uint64_t k)
{
	return (unsigned)(k & 255);
}

static uint64_t mx_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Set up a zeroed table: the overflow cells' keys, then the magic. */
static void mx_init(struct mx_table *t)
{
	atomic_store(&t->cell[0].key, mx_key(MK_REQUEST, MX_T_OTHER, MX_M_OTHER, 0, 0));
	atomic_store(&t->cell[1].key, mx_key(MK_CALL, MX_T_OTHER, MX_M_OTHER, 0, 0));
	t->size = sizeof(*t);
	/* a release store, not a fence: ThreadSanitizer does not model fences */
	atomic_store_explicit(&t->magic, MX_MAGIC, memory_order_release);
}

/* The in-memory table gets its overflow cells before anything can count. */
__attribute__((constructor)) static void mx_mem_init(void)
{
	mx_init(&mx_mem);
}

/* The slot of tenant id in t (claimed when new): 1-based, MX_T_NONE for 0, MX_T_OTHER when full. */
static unsigned mx_tenant_slot(struct mx_table *t, int64_t id)
{
	size_t i = (size_t)(mx_mix((uint64_t)id) % METRICS_TENANTS);

	if (id <= 0)
		return MX_T_NONE;
	for (int p = 0; p < MX_PROBES; p++, i = (i + 1) % METRICS_TENANTS) {
		int64_t cur = atomic_load_explicit(&t->tenant[i], memory_order_acquire);

		if (cur == id)
			return (unsigned)i + 1;
		if (cur == 0) {
			int64_t zero = 0;

			if (atomic_compare_exchange_strong(&t->tenant[i], &zero, id) || zero == id)
				return (unsigned)i + 1;
		}
	}
	return MX_T_OTHER;
}

/* The slot of model name in t (claimed when new): 1-based, MX_M_NONE for "", MX_M_OTHER when full.
 */
static unsigned mx_model_slot(struct mx_table *t, const char *name)
{
	size_t n = name ? strnlen(name, METRICS_MODEL_MAX) : 0, i;
	uint64_t h = 1469598103934665603ULL;

	if (n == 0)
		return MX_M_NONE;
	if (n == METRICS_MODEL_MAX)
		n--; /* a longer name is cut: it still gets one slot */
	for (size_t j = 0; j < n; j++)
		h = (h ^ (unsigned char)name[j]) * 1099511628211ULL;
	i = (size_t)(h % METRICS_MODELS);
	for (int p = 0; p < METRICS_MODELS; p++, i = (i + 1) % METRICS_MODELS) {
		struct mx_model *m = &t->model[i];
		uint32_t st = atomic_load_explicit(&m->state, memory_order_acquire);

		if (st == 0) {
			uint32_t zero = 0;

			if (atomic_compare_exchange_strong(&m->state, &zero, 1)) {
				memcpy(m->name, name, n);
				m->name[n] = '\0';
				atomic_store_explicit(&m->state, 2, memory_order_release);
				return (unsigned)i + 1;
			}
			st = zero;
		}
		/* Another thread is writing this slot's name: a copy of at most 64 bytes. */
		while (st == 1)
			st = atomic_load_explicit(&m->state, memory_order_acquire);
		if (strncmp(m->name, name, n) == 0 && m->name[n] == '\0')
			return (unsigned)i + 1;
	}
	return MX_M_OTHER;
}

/* The cell of key in t (claimed when new), or its kind's overflow cell when t is full. */
static struct mx_cell *mx_cell(struct mx_table *t, uint64_t key)
{
	size_t i = (size_t)(mx_mix(key) % (MX_CELLS - 2)) + 2;

	for (int p = 0; p < MX_PROBES; p++) {
		uint64_t cur = atomic_load_explicit(&t->cell[i].key, memory_order_acquire);

		if (cur == key)
			return &t->cell[i];
		if (cur == 0) {
			uint64_t zero = 0;

			if (atomic_compare_exchange_strong(&t->cell[i].key, &zero, key) ||
			    zero == key)
				return &t->cell[i];
		}
		if (++i == MX_CELLS)
			i = 2;
	}
	return &t->cell[mx_key_kind(key) == MK_CALL ? 1 : 0];
}

static void mx_add(_Atomic uint64_t *a, uint64_t v)
{
	if (v)
		atomic_fetch_add_explicit(a, v, memory_order_relaxed);
}

static void mx_observe(struct mx_hist *h, int64_t us)
{
	size_t i = 0;

	if (us < 0)
		us = 0;
	while (i < MX_BUCKETS && us > mx_bounds_us[i])
		i++;
	mx_add(&h->b[i], 1);
	mx_add(&h->count, 1);
	mx_add(&h->sum_us, (uint64_t)us);
}

/* ------------------------------------------------------------------ the request path */

void metrics_request(int64_t tenant_id, const char *model, int status, enum reason reason,
                     int64_t duration_us)
{
	struct mx_table *t = mx_cur();
	unsigned ts = mx_tenant_slot(t, tenant_id), ms = mx_model_slot(t, model);

	if (status < 0 || status > 999)
		status = 0;
	mx_add(&mx_cell(t, mx_key(MK_REQUEST, ts, ms, (unsigned)status, (unsigned)reason))->v[0],
	       1);
	mx_observe(&t->request_us, duration_us);
}

void metrics_call(int64_t tenant_id, const char *model, int64_t prompt_tokens,
                  int64_t completion_tokens, int64_t cost_micros, int64_t upstream_us)
{
	struct mx_table *t = mx_cur();
	struct mx_cell *c = mx_cell(
	    t, mx_key(MK_CALL, mx_tenant_slot(t, tenant_id), mx_model_slot(t, model), 0, 0));

	mx_add(&c->v[0], 1);
	mx_add(&c->v[1], prompt_tokens > 0 ? (uint64_t)prompt_tokens : 0);
	mx_add(&c->v[2], completion_tokens > 0 ? (uint64_t)completion_tokens : 0);
	mx_add(&c->v[3], cost_micros > 0 ? (uint64_t)cost_micros : 0);
	if (upstream_us >= 0)
		mx_observe(&t->upstream_us, upstream_us);
}

void metrics_count(enum metrics_counter c)
{
	mx_add(&mx_cur()->counter[c], 1);
}

void metrics_count_n(enum metrics_counter c, uint64_t n)
{
	mx_add(&mx_cur()->counter[c], n);
}

void metrics_gauge(enum metrics_gauge g, int delta)
{
	atomic_fetch_add_explicit(&mx_cur()->gauge[g], delta, memory_order_relaxed);
}

/* ------------------------------------------------------------------ summing tables */

/* Add src's figures to dst (gauges too when gauges: src is a live process's table). */
static void mx_merge(struct mx_table *dst, const struct mx_table *src, int gauges)
{
	struct mx_table *s = (struct mx_table *)src; /* read only: atomic loads */

	for (size_t i = 0; i < MX_CELLS; i++) {
		uint64_t k = atomic_load_explicit(&s->cell[i].key, memory_order_acquire), v[4];
		unsigned ts, ms;
		struct mx_cell *c;

		if (k == 0)
			continue;
		for (int j = 0; j < 4; j++)
			v[j] = atomic_load_explicit(&s->cell[i].v[j], memory_order_relaxed);
		if (!(v[0] | v[1] | v[2] | v[3]))
			continue;
		ts = mx_key_tenant(k);
		if (ts != MX_T_NONE && ts != MX_T_OTHER) {
			int64_t id = ts <= METRICS_TENANTS ? atomic_load(&s->tenant[ts - 1]) : 0;

			ts = id > 0 ? mx_tenant_slot(dst, id) : MX_T_OTHER;
		}
		ms = mx_key_model(k);
		if (ms != MX_M_NONE && ms != MX_M_OTHER) {
			const struct mx_model *m = ms <= METRICS_MODELS ? &s->model[ms - 1] : NULL;
			char name[METRICS_MODEL_MAX];

			if (m && atomic_load_explicit(&((struct mx_model *)m)->state,
			                              memory_order_acquire) == 2) {
				memcpy(name, m->name, sizeof(name));
				name[sizeof(name) - 1] = '\0';
				ms = mx_model_slot(dst, name);
			} else {
				ms = MX_M_OTHER;
			}
		}
		c = mx_cell(dst,
		            mx_key(mx_key_kind(k), ts, ms, mx_key_status(k), mx_key_reason(k)));
		for (int j = 0; j < 4; j++)
			mx_add(&c->v[j], v[j]);
	}
	for (int h = 0; h < 2; h++) {
		struct mx_hist *d = h ? &dst->upstream_us : &dst->request_us;
		struct mx_hist *o = h ? &s->upstream_us : &s->request_us;

		for (size_t i = 0; i <= MX_BUCKETS; i++)
			mx_add(&d->b[i], atomic_load_explicit(&o->b[i], memory_order_relaxed));
		mx_add(&d->count, atomic_load_explicit(&o->count, memory_order_relaxed));
		mx_add(&d->sum_us, atomic_load_explicit(&o->sum_us, memory_order_relaxed));
	}
	for (size_t i = 0; i < MC__MAX; i++)
		mx_add(&dst->counter[i],
		       atomic_load_explicit(&s->counter[i], memory_order_relaxed));
	if (gauges)
		for (size_t i = 0; i < MG__MAX; i++)
			atomic_fetch_add_explicit(
			    &dst->gauge[i],
			    atomic_load_explicit(&s->gauge[i], memory_order_relaxed),
			    memory_order_relaxed);
}

/* ------------------------------------------------------------------ files */

/*
 * Map the table of the open file fd, read-write when rw; NULL when it is
 * not a table of this version (a file still being set up, or of another
 * version). create: size a new file and set it up.
 */
static struct mx_table *mx_map(int fd, int rw, int create)
{
	struct stat sb;
	struct mx_table *t;

	if (fstat(fd, &sb) < 0)
		return NULL;
	if (create && sb.st_size == 0) {
		if (ftruncate(fd, (off_t)sizeof(*t)) < 0)
			return NULL;
		sb.st_size = (off_t)sizeof(*t);
	}
	if (sb.st_size != (off_t)sizeof(*t))
		return NULL;
	t = mmap(NULL, sizeof(*t), rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	if (t == MAP_FAILED)
		return NULL;
	if (create && t->magic == 0)
		mx_init(t);
	if (t->magic != MX_MAGIC || t->size != sizeof(*t)) {
		munmap(t, sizeof(*t));
		return NULL;
	}
	return t;
}

int metrics_start(const char *state_dir, char *err, size_t errlen)
{
	char path[640], tmp[640];
	struct mx_table *t;
	unsigned long long tag;
	int fd;

	if ((size_t)snprintf(mx_dir, sizeof(mx_dir), "%s/metrics", state_dir) >= sizeof(mx_dir)) {
		snprintf(err, errlen, "state_dir is too long");
		goto fail;
	}
	if (mkdir(mx_dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", mx_dir, strerror(errno));
		goto fail;
	}
	/* pid and a random tag: a reused pid never meets its predecessor's file. */
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	tag = 0;
	if (fd >= 0) {
		if (read(fd, &tag, sizeof(tag)) != (ssize_t)sizeof(tag))
			tag = 0;
		close(fd);
	}
	/*
	 * Set up under a name scrapes skip, locked, then renamed: a scrape never
	 * sees the file of a live process without its lock (it would take it for
	 * the file of one that ended).
	 */
	snprintf(tmp, sizeof(tmp), "%s/t%d-%016llx.tmp", mx_dir, (int)getpid(), tag);
	snprintf(path, sizeof(path), "%s/p%d-%016llx.m", mx_dir, (int)getpid(), tag);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* Held for the life of the process (the fd stays open): a free lock means it ended. */
	if (flock(fd, LOCK_SH) < 0 || (t = mx_map(fd, 1, 1)) == NULL || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: cannot set up the table: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		goto fail;
	}
	/* What was counted before the file existed (start-up) moves into it. */
	mx_merge(t, &mx_mem, 1);
	atomic_store_explicit(&mx_self, t, memory_order_release);
	return 0;
fail:
	mx_dir[0] = '\0';
	return -1;
}

/*
 * Sum the host's tables into agg: every live process's file (their count
 * in *procs), and the retired file, into which the files of ended
 * processes are moved first. The retired file's exclusive lock is held
 * throughout, so a file is never both read live and moved by two scrapes.
 */
static void mx_collect(struct mx_table *agg, int *procs)
{
	char path[1024];
	struct mx_table *ret = NULL, *t;
	struct dirent *de;
	DIR *d;
	int rfd = -1;

	*procs = 0;
	if (mx_dir[0] == '\0') {
		mx_merge(agg, mx_cur(), 1);
		*procs = 1;
		return;
	}
	snprintf(path, sizeof(path), "%s/retired", mx_dir);
	rfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (rfd >= 0 && flock(rfd, LOCK_EX) == 0)
		ret = mx_map(rfd, 1, 1);
	d = opendir(mx_dir);
	while (d && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		int fd, dead;

		if (de->d_name[0] != 'p' || n < 3 || strcmp(de->d_name + n - 2, ".m") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", mx_dir, de->d_name);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
			continue;
		dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
		t = mx_map(fd, dead, 0);
		if (!dead) {
			if (t)
				mx_merge(agg, t, 1);
			*procs += t != NULL;
		} else if (ret) {
			/* Its process ended: its counts move to the retired table, once. */
			if (t)
				mx_merge(ret, t, 0);
			unlink(path);
		}
		if (t)
			munmap(t, sizeof(*t));
		close(fd);
	}
	if (d)
		closedir(d);
	if (ret) {
		mx_merge(agg, ret, 0);
		munmap(ret, sizeof(*ret));
	}
	if (rfd >= 0)
		close(rfd); /* and its lock */
}

/* ------------------------------------------------------------------ the text */

void metrics_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(out, "\\\\");
		else if (*s == '"')
			buf_puts(out, "\\\"");
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *s);
	}
}

/* One summed combination after the tenants outside the top N became "other". */
struct mx_row {
	int kind;
	int64_t tenant; /* id; 0 none; -1 other */
	unsigned model; /* slot in the aggregate table */
	unsigned status;
	unsigned reason;
	uint64_t v[4];
};

static int mx_row_cmp(const void *a, const void *b)
{
	const struct mx_row *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind - y->kind;
	if (x->tenant != y->tenant)
		return x->tenant < y->tenant ? -1 : 1;
	if (x->model != y->model)
		return x->model < y->model ? -1 : 1;
	if (x->status != y->status)
		return x->status < y->status ? -1 : 1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	return 0;
}

/* A tenant slot and its requests, for sorting the slots most requests first. */
struct mx_rank {
	uint64_t requests;
	unsigned slot;
};

static int mx_rank_cmp(const void *a, const void *b)
{
	const struct mx_rank *x = a, *y = b;

	if (x->requests != y->requests)
		return x->requests > y->requests ? -1 : 1;
	return x->slot < y->slot ? -1 : (x->slot > y->slot);
}

static void mx_label_tenant(struct buf *out, int64_t tenant)
{
	if (tenant < 0)
		buf_puts(out, "tenant=\"other\"");
	else if (tenant == 0)
		buf_puts(out, "tenant=\"none\"");
	else
		buf_printf(out, "tenant=\"%lld\"", (long long)tenant);
}

static void mx_label_model(struct buf *out, const struct mx_table *agg, unsigned model)
{
	buf_puts(out, "model=\"");
	if (model == MX_M_OTHER)
		buf_puts(out, "other");
	else if (model != MX_M_NONE && model <= METRICS_MODELS)
		metrics_escape(out, agg->model[model - 1].name);
	buf_putc(out, '"');
}

static void mx_hist_text(struct buf *out, const char *name, const char *help,
                         const struct mx_hist *h)
{
	struct mx_hist *m = (struct mx_hist *)h;
	uint64_t cum = 0;

	buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i <= MX_BUCKETS; i++) {
		cum += atomic_load(&m->b[i]);
		if (i < MX_BUCKETS)
			buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
			           (double)mx_bounds_us[i] / 1e6, (unsigned long long)cum);
		else
			buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			           (unsigned long long)cum);
	}
	buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&m->sum_us) / 1e6,
	           name, (unsigned long long)atomic_load(&m->count));
}

static const struct {
	const char *name, *help, *type;
} mx_counter_doc[MC__MAX] = {
    [MC_ADMIT_LEASE] = {"agenthost_admissions_total{path=\"lease\"}",
                        "Model calls admitted, by path: on the process's leases (no round trip), "
                        "one by one (a reservation), refused by a limit, or failed (database).",
                        "counter"},
    [MC_ADMIT_RESERVATION] = {"agenthost_admissions_total{path=\"reservation\"}", NULL, NULL},
    [MC_ADMIT_REFUSED] = {"agenthost_admissions_total{path=\"refused\"}", NULL, NULL},
    [MC_ADMIT_ERROR] = {"agenthost_admissions_total{path=\"error\"}", NULL, NULL},
    [MC_DB_CONNECTS] = {"agenthost_db_connects_total{result=\"ok\"}",
                        "MariaDB connections opened, and attempts that failed.", "counter"},
    [MC_DB_CONNECT_FAILED] = {"agenthost_db_connects_total{result=\"failed\"}", NULL, NULL},
    [MC_LEDGER_WRITTEN] = {"agenthost_ledger_written_total",
                           "Calls the ledger wrote to the database (in batches, or at once).",
                           "counter"},
};

static const struct {
	const char *name, *help;
} mx_gauge_doc[MG__MAX] = {
    [MG_REQUESTS_INFLIGHT] = {"agenthost_requests_in_flight", "Requests being handled."},
    [MG_CALLS_INFLIGHT] = {"agenthost_calls_in_flight",
                           "Model calls in flight (a process holds up to max_inflight)."},
    [MG_DB_CONNECTIONS] = {"agenthost_db_connections",
                           "MariaDB connections open (control and dedicated tenants' pools)."},
    [MG_LEDGER_QUEUED] = {"agenthost_ledger_queued",
                          "Answered calls journaled and not yet written to the database (new "
                          "calls are refused past 100,000 in one process)."},
};

/* The metric name of a counter row without its labels, for HELP/TYPE. */
static void mx_family(struct buf *out, const char *name, const char *help, const char *type)
{
	size_t n = strcspn(name, "{");

	buf_printf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help, (int)n, name, type);
}

int metrics_render(struct buf *out, int top_tenants, const struct metrics_breaker *brk, size_t n,
                   int brk_ok)
{
	struct mx_table *agg = calloc(1, sizeof(*agg));
	struct mx_rank *rank = NULL;
	struct mx_row *rows = NULL;
	unsigned char *keep = NULL;
	size_t nrows = 0, nrank = 0;
	int procs = 0, rc = -1;

	if (agg == NULL || (rank = calloc(METRICS_TENANTS, sizeof(*rank))) == NULL ||
	    (rows = calloc(MX_CELLS, sizeof(*rows))) == NULL ||
	    (keep = calloc(METRICS_TENANTS + 1, 1)) == NULL)
		goto out;
	mx_init(agg);
	mx_collect(agg, &procs);

	/* The top_tenants tenants by requests keep their label. */
	for (unsigned s = 1; s <= METRICS_TENANTS; s++)
		rank[s - 1].slot = s;
	for (size_t i = 0; i < MX_CELLS; i++) {
		uint64_t k = agg->cell[i].key;
		unsigned ts = mx_key_tenant(k);

		if (k && mx_key_kind(k) == MK_REQUEST && ts != MX_T_NONE && ts <= METRICS_TENANTS)
			rank[ts - 1].requests += agg->cell[i].v[0];
	}
	qsort(rank, METRICS_TENANTS, sizeof(*rank), mx_rank_cmp);
	for (size_t i = 0; i < METRICS_TENANTS && (int)nrank < top_tenants; i++)
		if (rank[i].requests > 0 || agg->tenant[rank[i].slot - 1] > 0) {
			keep[rank[i].slot] = 1;
			nrank++;
		}

	for (size_t i = 0; i < MX_CELLS; i++) {
		uint64_t k = agg->cell[i].key;
		unsigned ts = mx_key_tenant(k);
		struct mx_row *r;

		if (k == 0 || !(agg->cell[i].v[0] | agg->cell[i].v[1] | agg->cell[i].v[2] |
		                agg->cell[i].v[3]))
			continue;
		r = &rows[nrows++];
		r->kind = mx_key_kind(k);
		r->tenant = ts == MX_T_NONE                          ? 0
		            : ts <= METRICS_TENANTS && keep[ts] != 0 ? agg->tenant[ts - 1]
		                                                     : -1;
		r->model = mx_key_model(k);
		r->status = mx_key_status(k);
		r->reason = mx_key_reason(k);
		memcpy(r->v, (const void *)agg->cell[i].v, sizeof(r->v));
	}
	qsort(rows, nrows, sizeof(*rows), mx_row_cmp);
	/* Rows that became equal (tenants folded into "other") are summed. */
	{
		size_t w = 0;

		for (size_t i = 0; i < nrows; i++) {
			if (w > 0 && mx_row_cmp(&rows[w - 1], &rows[i]) == 0) {
				for (int j = 0; j < 4; j++)
					rows[w - 1].v[j] += rows[i].v[j];
				continue;
			}
			rows[w++] = rows[i];
		}
		nrows = w;
	}

	buf_puts(out, "# HELP agenthost_processes Processes of this host whose figures are "
	              "summed here (one table each in state_dir/metrics).\n"
	              "# TYPE agenthost_processes gauge\n");
	buf_printf(out, "agenthost_processes %d\n", procs);

	buf_puts(out, "# HELP agenthost_requests_total Requests answered, by tenant (top N by "
	              "requests, the rest \"other\"; \"none\" before a tenant is identified), "
	              "model, HTTP status and reason_code.\n"
	              "# TYPE agenthost_requests_total counter\n");
	for (size_t i = 0; i < nrows; i++) {
		const struct mx_row *r = &rows[i];

		if (r->kind != MK_REQUEST)
			continue;
		buf_puts(out, "agenthost_requests_total{");
		mx_label_tenant(out, r->tenant);
		buf_putc(out, ',');
		mx_label_model(out, agg, r->model);
		if (r->tenant < 0 && r->model == MX_M_OTHER && r->status == 0)
			buf_puts(out, ",status=\"other\",reason=\"other\"");
		else
			buf_printf(out, ",status=\"%u\",reason=\"%s\"", r->status,
			           reason_name((enum reason)r->reason));
		buf_printf(out, "} %llu\n", (unsigned long long)r->v[0]);
	}
	{
		static const char *const fam[4][3] = {
		    {"agenthost_model_calls_total", "", "Model calls, by tenant and model."},
		    {"agenthost_tokens_total", "type=\"prompt\"",
		     "Tokens of model calls, by tenant, model and type (prompt, completion)."},
		    {"agenthost_tokens_total", "type=\"completion\"", NULL},
		    {"agenthost_cost_usd_total", "",
		     "Cost of model calls in USD, by tenant and model."},
		};

		for (int j = 0; j < 4; j++) {
			if (fam[j][2])
				buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", fam[j][0],
				           fam[j][2], fam[j][0]);
			for (size_t i = 0; i < nrows; i++) {
				const struct mx_row *r = &rows[i];

				if (r->kind != MK_CALL)
					continue;
				buf_printf(out, "%s{", fam[j][0]);
				mx_label_tenant(out, r->tenant);
				buf_putc(out, ',');
				mx_label_model(out, agg, r->model);
				if (fam[j][1][0])
					buf_printf(out, ",%s", fam[j][1]);
				if (j == 3)
					buf_printf(out, "} %.6f\n", (double)r->v[3] / 1e6);
				else
					buf_printf(out, "} %llu\n", (unsigned long long)r->v[j]);
			}
		}
	}
	mx_hist_text(out, "agenthost_request_duration_seconds",
	             "Time from a request's arrival to the end of its answer.", &agg->request_us);
	mx_hist_text(out, "agenthost_upstream_duration_seconds",
	             "Time a model call spent at its provider.", &agg->upstream_us);
	for (size_t i = 0; i < MC__MAX; i++) {
		if (mx_counter_doc[i].help)
			mx_family(out, mx_counter_doc[i].name, mx_counter_doc[i].help,
			          mx_counter_doc[i].type);
		buf_printf(out, "%s %llu\n", mx_counter_doc[i].name,
		           (unsigned long long)agg->counter[i]);
	}
	for (size_t i = 0; i < MG__MAX; i++) {
		mx_family(out, mx_gauge_doc[i].name, mx_gauge_doc[i].help, "gauge");
		buf_printf(out, "%s %lld\n", mx_gauge_doc[i].name, (long long)agg->gauge[i]);
	}
	buf_puts(out, "# HELP agenthost_breakers_up 1 when the breakers could be read from the "
	              "database for this scrape.\n# TYPE agenthost_breakers_up gauge\n");
	buf_printf(out, "agenthost_breakers_up %d\n", brk_ok ? 1 : 0);
	buf_puts(out, "# HELP agenthost_breakers Circuit breakers of (tenant, provider), by "
	              "provider and state (closed, open, half_open).\n"
	              "# TYPE agenthost_breakers gauge\n");
	for (size_t i = 0; brk_ok && i < n; i++) {
		buf_puts(out, "agenthost_breakers{provider=\"");
		metrics_escape(out, brk[i].provider);
		buf_puts(out, "\",state=\"");
		metrics_escape(out, brk[i].state);
		buf_printf(out, "\"} %lld\n", (long long)brk[i].count);
	}
	rc = out->data ? 0 : -1;
out:
	free(agg);
	free(rank);
	free(rows);
	free(keep);
	return rc;
}
