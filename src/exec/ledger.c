/*
 * ledger.c: this process's journal file, the queue, the flusher, replay and
 * the read barrier (see ledger.h; the file format is exec/journal.c).
 *
 * DESIGN
 * Records get their seq under the queue lock, so the file is in seq order;
 * the flusher always writes the oldest records first, so "applied up to"
 * (the oldest unwritten seq minus one) only grows.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "exec/journal.h"
#include "exec/ledger.h"
#include "host/sched.h"
#include "store/leases.h"
#include "store/store.h"
#include "store/tenantdb.h"

#define BATCH_BYTES (4u << 20)    /* text of one batch, about */
#define ROTATE_BYTES (64LL << 20) /* a fully written journal this big starts anew */
#define LEDGER_SLOTS 256

/* ------------------------------------------------------------------ shared slots */

struct ledger_slot {
	_Atomic int32_t pid;
	int32_t pad;
	_Atomic uint64_t appended; /* seq of the last record journaled */
	_Atomic uint64_t applied;  /* every record up to this seq is written */
	uint64_t pad2[5];
};

static struct ledger_slot *slots; /* mapped state_dir/ledger.slots, or NULL */
static struct ledger_slot *my_slot;

static int pid_alive(int32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

static void slots_open(const char *state_dir)
{
	char path[512];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/ledger.slots", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fd < 0)
		return;
	if (ftruncate(fd, (off_t)(sizeof(struct ledger_slot) * LEDGER_SLOTS)) < 0) {
		close(fd);
		return;
	}
	p = mmap(NULL, sizeof(struct ledger_slot) * LEDGER_SLOTS, PROT_READ | PROT_WRITE,
	         MAP_SHARED, fd, 0);
	close(fd);
	if (p != MAP_FAILED)
		slots = p;
}

/* Take a free slot (or one of an ended process) for this process. */
static void slot_claim(void)
{
	int32_t me = (int32_t)getpid();

	if (slots == NULL)
		return;
	for (int i = 0; i < LEDGER_SLOTS && my_slot == NULL; i++) {
		int32_t cur = atomic_load(&slots[i].pid);

		if (cur != 0 && pid_alive(cur))
			continue;
		if (atomic_compare_exchange_strong(&slots[i].pid, &cur, me)) {
			atomic_store(&slots[i].appended, 0);
			atomic_store(&slots[i].applied, 0);
			my_slot = &slots[i];
		}
	}
}

/* ------------------------------------------------------------------ state */

static struct {
	const struct conf *conf;
	int running; /* the flusher runs: records are queued */
	int stop;    /* the flusher should drain and end */
	pthread_t thread;
	pthread_mutex_t mu; /* the queue and seq */
	pthread_cond_t cv;
	/*
	 * Appends share fdlk (a write with O_APPEND is one append whoever else
	 * writes); only starting a new file or closing takes it alone.
	 */
	pthread_rwlock_t fdlk;
	int fd; /* this process's journal */
	char path[640];
	char dir[512];
	_Atomic int64_t size; /* bytes written to the journal */
	uint64_t seq;         /* last seq given */
	uint64_t applied;     /* every record up to this seq is written */
	_Atomic int dirty;    /* written since the last fdatasync */
	struct ledger_item *head, *tail;
	_Atomic size_t queued; /* written under mu; read without it by ledger_backlogged */
	int64_t owner_id;      /* last REC_OWNER written */
	int coalescing;        /* the flusher waits for a batch to fill: wake it when it has */
	void (*rewrite)(void); /* journals the calls in flight again (a new file) */
} L = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .fdlk = PTHREAD_RWLOCK_INITIALIZER,
       .fd = -1};

/* Append a sealed frame to this process's journal. 0, or -1 (errno set). */
static int journal_write(const struct wbuf *w)
{
	int rc = -1;

	if (w->err) {
		errno = ENOMEM;
		return -1;
	}
	pthread_rwlock_rdlock(&L.fdlk);
	if (L.fd >= 0 && journal_write_all(L.fd, w->p, w->len) == 0) {
		atomic_fetch_add(&L.size, (int64_t)w->len);
		atomic_store(&L.dirty, 1);
		rc = 0;
	}
	pthread_rwlock_unlock(&L.fdlk);
	return rc;
}

/* Append "applied up to seq". */
static void journal_mark(uint64_t seq)
{
	struct wbuf w = {0};
	unsigned char h[4] = {REC_APPLIED, REC_VERSION, 0, 0};

	journal_put(&w, "\0\0\0\0\0\0\0\0", 8);
	journal_put(&w, h, 4);
	journal_put_u64(&w, seq);
	if (!w.err) {
		journal_seal(&w);
		journal_write(&w);
	}
	free(w.p);
}

/* Append one small note. */
static void journal_note(struct wbuf *w)
{
	if (w->err)
		return;
	journal_seal(w);
	journal_write(w);
}

void ledger_note_admit(const struct ledger_admit *ad)
{
	struct wbuf w = {0};

	if (!L.running)
		return;
	journal_put(&w, "\0\0\0\0\0\0\0\0", 8);
	journal_encode_admit(&w, ad);
	journal_note(&w);
	free(w.p);
}

void ledger_note_promoted(const char *exec_id)
{
	struct wbuf w = {0};
	unsigned char h[4] = {REC_PROMOTED, REC_VERSION, 0, 0};

	if (!L.running)
		return;
	journal_put(&w, "\0\0\0\0\0\0\0\0", 8);
	journal_put(&w, h, 4);
	journal_put_str(&w, exec_id);
	journal_note(&w);
	free(w.p);
}

/* The OWNER note. */
static void journal_owner(int64_t owner_id)
{
	struct wbuf w = {0};
	unsigned char h[4] = {REC_OWNER, REC_VERSION, 0, 0};

	journal_put(&w, "\0\0\0\0\0\0\0\0", 8);
	journal_put(&w, h, 4);
	journal_put_u64(&w, (uint64_t)owner_id);
	journal_note(&w);
	free(w.p);
}

void ledger_note_owner(int64_t owner_id)
{
	if (!L.running)
		return;
	L.owner_id = owner_id;
	journal_owner(owner_id);
}

void ledger_set_inflight(void (*rewrite)(void))
{
	L.rewrite = rewrite;
}

/* ------------------------------------------------------------------ journals */

static int journal_open(void)
{
	char host[64] = "host";

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (char *c = host; *c; c++)
		if (*c == '/' || *c == ' ')
			*c = '_';
	snprintf(L.path, sizeof(L.path), "%s/%s-%d-%lld.jnl", L.dir, host, (int)getpid(),
	         (long long)util_now_us());
	L.fd = open(L.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (L.fd < 0)
		return -1;
	if (flock(L.fd, LOCK_EX | LOCK_NB) < 0) {
		close(L.fd);
		L.fd = -1;
		return -1;
	}
	L.size = 0;
	return 0;
}

/* Write a list of items in batches through st, in recover mode. ST_OK when all are written. */
static int items_apply(struct store *st, struct ledger_item *head, int recover)
{
	struct ledger_rec *recs[LEDGER_BATCH_MAX];
	int rc = ST_OK;

	while (head) {
		size_t k = 0, bytes = 0;
		struct ledger_item *it = head;

		for (; it && k < LEDGER_BATCH_MAX && (k == 0 || bytes < BATCH_BYTES);
		     it = it->next) {
			it->rec.state = LR_PENDING;
			it->rec.data_done = 0;
			recs[k++] = &it->rec;
			bytes += it->bytes;
		}
		if (store_ledger_apply(st, recs, k, recover) != ST_OK)
			rc = ST_ERR;
		head = it;
	}
	return rc;
}

/*
 * Replay the journal at path if its process ended (its lock is free): write
 * what it holds, then remove it. 1 replayed, 0 not ours to replay, -1 failed.
 */
static int journal_replay(struct store *st, const char *path)
{
	struct ledger_item *items = NULL;
	int64_t owner = 0;
	size_t n = 0;
	int fd, rc = -1;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return 0; /* its process is alive */
	}
	if (journal_read(fd, &items, &n, &owner) == 0) {
		/* Its calls first (what they spent leaves its leases), then what its leases hold.
		 */
		if ((n == 0 || items_apply(st, items, 1) == ST_OK) &&
		    (owner == 0 || store_owner_close(st, owner, 0) != ST_ERR)) {
			if (n)
				log_warn("ledger: %s: recorded %zu call(s) of an ended process",
				         path, n);
			unlink(path);
			rc = 1;
		} else {
			log_error("ledger: %s: could not record the calls of an ended process yet; "
			          "trying again",
			          path);
		}
	}
	journal_items_free(items);
	close(fd);
	return rc;
}

/* Replay every ended process's journal in dir; skip path_self. Returns how many. */
static int journals_recover(struct store *st, const char *dir, const char *path_self, int *failed)
{
	char path[1024];
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	*failed = 0;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		int r;

		if (len < 5 || strcmp(de->d_name + len - 4, ".jnl") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (path_self && strcmp(path, path_self) == 0)
			continue;
		r = journal_replay(st, path);
		if (r > 0)
			n++;
		else if (r < 0)
			(*failed)++;
	}
	closedir(d);
	/* Slots of ended processes are free again. */
	for (int i = 0; slots && i < LEDGER_SLOTS; i++) {
		int32_t pid = atomic_load(&slots[i].pid);

		if (pid && !pid_alive(pid))
			atomic_compare_exchange_strong(&slots[i].pid, &pid, 0);
	}
	return n;
}

/* ------------------------------------------------------------------ the flusher */

static void *ledger_flusher(void *arg)
{
	struct ledger_rec *recs[LEDGER_BATCH_MAX];
	struct store *st = NULL;
	int64_t next_sync = 0, next_recover = 0, backoff_ms = 0;
	int64_t arrivals_per_s = 0, last_batch_us = util_now_us();
	uint64_t last_seq = 0;
	char err[256];

	(void)arg;
	mysql_thread_init();
	for (;;) {
		size_t k = 0, bytes = 0;
		int64_t now;
		int rc, failed;

		pthread_mutex_lock(&L.mu);
		if (L.head == NULL && !L.stop) {
			struct timespec ts;

			util_abstime_after_us(&ts, 100 * 1000LL);
			pthread_cond_timedwait(&L.cv, &L.mu, &ts);
		}
		if (L.head == NULL && L.stop) {
			pthread_mutex_unlock(&L.mu);
			break;
		}
		/*
		 * Group commit: a small batch waits a moment for company (each batch
		 * costs the database a commit and its statements, whatever its size)
		 * when calls arrive fast enough for the wait to gather some; a
		 * quiet process writes at once.
		 */
		if (L.queued < LEDGER_COALESCE_MIN && !L.stop &&
		    arrivals_per_s * LEDGER_COALESCE_US >= 4 * 1000000LL) {
			struct timespec ts;

			util_abstime_after_us(&ts, LEDGER_COALESCE_US);
			L.coalescing = 1;
			while (L.queued < LEDGER_COALESCE_MIN && !L.stop &&
			       pthread_cond_timedwait(&L.cv, &L.mu, &ts) != ETIMEDOUT)
				;
			L.coalescing = 0;
		}
		/* How fast calls arrive: what was appended since the last batch began. */
		{
			int64_t t = util_now_us();

			if (t > last_batch_us) {
				int64_t rate =
				    (int64_t)(L.seq - last_seq) * 1000000 / (t - last_batch_us);

				arrivals_per_s = (arrivals_per_s + rate) / 2;
			}
			last_batch_us = t;
			last_seq = L.seq;
		}
		for (struct ledger_item *it = L.head;
		     it && k < LEDGER_BATCH_MAX && (k == 0 || bytes < BATCH_BYTES); it = it->next) {
			recs[k] = &it->rec;
			it->rec.state = LR_PENDING;
			it->rec.data_done = 0;
			bytes += it->bytes;
			k++;
		}
		pthread_mutex_unlock(&L.mu);

		now = util_now_us();
		if (st == NULL && (st = store_open(L.conf, err, sizeof(err))) == NULL && k) {
			log_error("ledger: %s; %zu call(s) wait in the journal", err, L.queued);
			backoff_ms =
			    backoff_ms ? (backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2) : 50;
		} else if (k) {
			store_request_begin(st);
			rc = store_ledger_apply(st, recs, k, 0);
			if (rc == ST_CONFLICT) /* some rows are there already: only the others */
				rc = store_ledger_apply(st, recs, k, 1);
			backoff_ms = rc == ST_OK  ? 0
			             : backoff_ms ? (backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2)
			                          : 50;
		}
		if (k) {
			struct ledger_item **pp;
			uint64_t applied;
			size_t written;

			pthread_mutex_lock(&L.mu);
			/*
			 * Unlink what got written; what did not stays, in order, for the next
			 * try. The batch is still the first k items: only this thread removes.
			 */
			pp = &L.head;
			written = 0;
			for (size_t i = 0; i < k; i++) {
				struct ledger_item *it = *pp;

				if (it->rec.state == LR_PENDING) {
					pp = &it->next;
					continue;
				}
				*pp = it->next;
				L.queued--;
				written++;
				free(it);
			}
			if (*pp == NULL) /* the old tail went: the new one is the last kept */
				L.tail = pp == &L.head
				             ? NULL
				             : (struct ledger_item *)((char *)pp -
				                                      offsetof(struct ledger_item,
				                                               next));
			applied = L.head ? L.head->rec.seq - 1 : L.seq;
			if (applied > L.applied) {
				L.applied = applied;
				if (my_slot)
					atomic_store(&my_slot->applied, applied);
			} else {
				applied = 0;
			}
			pthread_mutex_unlock(&L.mu);
			if (written) {
				metrics_gauge(MG_LEDGER_QUEUED, -(int)written);
				metrics_count_n(MC_LEDGER_WRITTEN, written);
			}
			if (applied)
				journal_mark(applied);
		}
		now = util_now_us();
		if (backoff_ms || now >= next_sync) {
			/* The database lags: keep the journal safe from the machine's own crash. */
			int empty;

			pthread_rwlock_rdlock(&L.fdlk);
			if (atomic_exchange(&L.dirty, 0) && L.fd >= 0)
				fdatasync(L.fd);
			pthread_rwlock_unlock(&L.fdlk);
			pthread_mutex_lock(&L.mu);
			empty = L.head == NULL;
			pthread_mutex_unlock(&L.mu);
			if (empty && atomic_load(&L.size) > ROTATE_BYTES) {
				/* Written out and big: a new file; what a replay needs goes in it
				 * again. */
				char old[sizeof(L.path)];
				int ofd;

				pthread_rwlock_wrlock(&L.fdlk);
				ofd = L.fd;
				memcpy(old, L.path, sizeof(old));
				if (journal_open() < 0) {
					L.fd = ofd;
					memcpy(L.path, old, sizeof(old));
					ofd = -1;
				}
				pthread_rwlock_unlock(&L.fdlk);
				if (ofd >= 0) {
					if (L.owner_id)
						journal_owner(L.owner_id);
					if (L.rewrite)
						L.rewrite();
					close(ofd);
					unlink(old);
				}
			}
			next_sync = now + LEDGER_SYNC_MS * 1000LL;
		}
		if (st && now >= next_recover && backoff_ms == 0) {
			store_request_begin(st);
			journals_recover(st, L.dir, L.path, &failed);
			next_recover = now + LEDGER_RECOVER_MS * 1000LL;
		}
		if (backoff_ms) {
			if (L.stop)
				break;
			usleep((useconds_t)backoff_ms * 1000);
		}
	}
	if (st)
		store_close(st);
	mysql_thread_end();
	return NULL;
}

/* ------------------------------------------------------------------ public */

int ledger_start(const struct conf *c, char *err, size_t errlen)
{
	L.conf = c;
	snprintf(L.dir, sizeof(L.dir), "%s/journal", c->state_dir);
	if (util_mkdir_p(L.dir, 0750) < 0) {
		snprintf(err, errlen, "%s: %s", L.dir, strerror(errno));
		return -1;
	}
	if (journal_open() < 0) {
		snprintf(err, errlen, "%s: %s", L.path, strerror(errno));
		return -1;
	}
	slots_open(c->state_dir);
	slot_claim();
	/*
	 * What ended processes left is replayed by the flusher, first thing and
	 * then every LEDGER_RECOVER_MS: a long journal (a process that died with a
	 * backlog) must not keep this one from serving.
	 */
	err[0] = '\0';
	L.running = 1;
	if (pthread_create(&L.thread, NULL, ledger_flusher, NULL) != 0) {
		L.running = 0;
		snprintf(err, errlen, "cannot start the flusher thread");
		return -1;
	}
	return 0;
}

void ledger_stop(int deadline_ms)
{
	struct timespec deadline;
	int clean;

	if (!L.running)
		return;
	pthread_mutex_lock(&L.mu);
	L.stop = 1;
	pthread_cond_signal(&L.cv);
	pthread_mutex_unlock(&L.mu);
	util_abstime_after_us(&deadline, (int64_t)deadline_ms * 1000);
	if (pthread_timedjoin_np(L.thread, NULL, &deadline) != 0) {
		log_warn(
		    "ledger: %zu call(s) not written at shutdown; they stay in %s for the next "
		    "process",
		    L.queued, L.path);
		return; /* the journal and its lock stay until the process exits */
	}
	pthread_mutex_lock(&L.mu);
	clean = L.head == NULL;
	L.running = 0;
	pthread_mutex_unlock(&L.mu);
	pthread_rwlock_wrlock(&L.fdlk);
	if (L.fd >= 0) {
		fdatasync(L.fd);
		if (clean)
			unlink(L.path);
		close(L.fd);
		L.fd = -1;
	}
	pthread_rwlock_unlock(&L.fdlk);
	if (my_slot)
		atomic_store(&my_slot->pid, 0);
}

/* A queue item holding a copy of rec (its long strings copied too). */
static struct ledger_item *item_copy(const struct ledger_rec *rec, size_t journal_bytes)
{
	const char *v[5] = {rec->e.metadata, rec->e.input, rec->e.output, rec->e.error_message,
	                    rec->e.guardrails};
	size_t total = 0, o = 0;
	struct ledger_item *it;

	for (int i = 0; i < 5; i++)
		total += v[i] ? strlen(v[i]) + 1 : 0;
	it = malloc(sizeof(*it) + total);
	if (it == NULL)
		return NULL;
	it->next = NULL;
	it->bytes = sizeof(*it) + total + journal_bytes;
	it->rec = *rec;
	for (int i = 0; i < 5; i++) {
		char *s = NULL;

		if (v[i]) {
			size_t n = strlen(v[i]) + 1;

			s = it->text + o;
			memcpy(s, v[i], n);
			o += n;
		}
		if (i == 0)
			it->rec.e.metadata = s;
		else if (i == 1)
			it->rec.e.input = s;
		else if (i == 2)
			it->rec.e.output = s;
		else if (i == 3)
			it->rec.e.error_message = s;
		else
			it->rec.e.guardrails = s;
	}
	return it;
}

int ledger_record(struct store *st, const struct ledger_rec *rec, int now)
{
	struct ledger_rec copy;
	struct ledger_rec *one[1];
	struct ledger_item *it;
	struct wbuf w = {0};
	uint64_t seq;
	int ok = -1, rc;

	if (now || !L.running) {
		copy = *rec;
		copy.state = LR_PENDING;
		copy.data_done = 0;
		one[0] = &copy;
		rc = store_ledger_apply(st, one, 1, 0);
		if (rc == ST_CONFLICT) /* already written (cannot happen for a new call; be safe) */
			rc = store_ledger_apply(st, one, 1, 1);
		if (rc == ST_OK)
			metrics_count(MC_LEDGER_WRITTEN);
		if (rc == ST_OK || !L.running)
			return rc == ST_OK ? 0 : -1;
		/* The database refused it now: the journal keeps it for the flusher. */
	}
	journal_put(&w, "\0\0\0\0\0\0\0\0", 8);
	journal_encode_rec(&w, rec);
	it = w.err ? NULL : item_copy(rec, w.len);
	if (it == NULL) {
		free(w.p);
		log_error("ledger: execution %s: out of memory or too large for the journal",
		          rec->e.id);
		copy = *rec;
		copy.state = LR_PENDING;
		one[0] = &copy;
		if (store_ledger_apply(st, one, 1, 0) != ST_OK)
			return -1;
		metrics_count(MC_LEDGER_WRITTEN);
		return 0;
	}
	/*
	 * Queued (in seq order) under the lock, journaled after it: the flusher
	 * may write it before the journal has it, which a replay tells by seq.
	 */
	pthread_mutex_lock(&L.mu);
	it->rec.seq = seq = ++L.seq;
	if (L.tail)
		L.tail->next = it;
	else
		L.head = it;
	L.tail = it;
	L.queued++;
	metrics_gauge(MG_LEDGER_QUEUED, 1);
	if (my_slot)
		atomic_store(&my_slot->appended, seq);
	/* An idle flusher starts at once; one gathering a batch only when it is full. */
	if (!L.coalescing || L.queued >= LEDGER_COALESCE_MIN)
		pthread_cond_signal(&L.cv);
	pthread_mutex_unlock(&L.mu);
	for (int i = 0; i < 8; i++) /* the seq field: right after the 4-byte type header */
		w.p[8 + 4 + i] = (unsigned char)(seq >> (8 * i));
	journal_seal(&w);
	ok = journal_write(&w);
	free(w.p);
	if (ok < 0) {
		/* The journal cannot take it (disk full?): answer once the database has it. */
		log_error("ledger: journal %s: %s; waiting for execution %s to be written", L.path,
		          strerror(errno), rec->e.id);
		for (int i = 0; i < 400 && ok < 0; i++) {
			pthread_mutex_lock(&L.mu);
			ok = L.applied >= seq ? 0 : -1;
			pthread_mutex_unlock(&L.mu);
			if (ok < 0)
				sched_sleep_us(5000); /* a request: parked */
		}
	}
	return ok;
}

int ledger_pace(void)
{
	int64_t soft, over;
	size_t q;

	if (!L.running)
		return 0;
	pthread_mutex_lock(&L.mu);
	q = L.queued;
	pthread_mutex_unlock(&L.mu);
	if (q > LEDGER_MAX_QUEUED)
		return -1;
	soft = L.conf->ledger_queue_soft;
	over = (int64_t)q - soft;
	if (over > 0)
		sched_sleep_us(over >= soft ? LEDGER_DELAY_MAX_MS * 1000LL
		                            : over * LEDGER_DELAY_MAX_MS * 1000LL / soft);
	return 0;
}

int ledger_barrier(int timeout_ms)
{
	uint64_t want[LEDGER_SLOTS];
	int32_t pid[LEDGER_SLOTS];
	int64_t deadline = util_now_us() + (int64_t)timeout_ms * 1000;
	unsigned delay = 100;

	if (slots == NULL) {
		/* This process alone. */
		uint64_t w;

		if (!L.running)
			return 0;
		pthread_mutex_lock(&L.mu);
		w = L.seq;
		pthread_mutex_unlock(&L.mu);
		while (util_now_us() < deadline) {
			pthread_mutex_lock(&L.mu);
			if (L.applied >= w) {
				pthread_mutex_unlock(&L.mu);
				return 0;
			}
			pthread_mutex_unlock(&L.mu);
			sched_sleep_us(delay);
		}
		return -1;
	}
	for (int i = 0; i < LEDGER_SLOTS; i++) {
		pid[i] = atomic_load(&slots[i].pid);
		want[i] = pid[i] ? atomic_load(&slots[i].appended) : 0;
	}
	for (;;) {
		int waiting = 0;

		for (int i = 0; i < LEDGER_SLOTS; i++) {
			if (pid[i] == 0 || atomic_load(&slots[i].applied) >= want[i])
				continue;
			if (atomic_load(&slots[i].pid) != pid[i] || !pid_alive(pid[i])) {
				pid[i] = 0; /* ended: its journal is replayed by whoever finds it */
				continue;
			}
			waiting = 1;
		}
		if (!waiting)
			return 0;
		if (util_now_us() >= deadline)
			return -1;
		sched_sleep_us(delay);
		if (delay < 2000)
			delay *= 2;
	}
}

int ledger_recover(const struct conf *c, struct store *st, int *files)
{
	char dir[512];
	int failed = 0;

	snprintf(dir, sizeof(dir), "%s/journal", c->state_dir);
	if (slots == NULL)
		slots_open(c->state_dir);
	*files = journals_recover(st, dir, L.running ? L.path : NULL, &failed);
	return failed ? ST_ERR : ST_OK;
}
