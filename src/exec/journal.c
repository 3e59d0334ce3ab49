/*
 * journal.c: the ledger journal's on-disk format (see journal.h).
 *
 * DESIGN
 * Frames are [u32 length][u32 crc32][payload]; a frame whose length runs
 * past the end of the file or whose crc does not match ends the journal (a
 * write cut by a crash). Payloads are little-endian binary and start with
 * [u8 type][u8 version][2 bytes zero]: a finished call's record (REC_DONE;
 * version 2 adds the end user at its end, version 3 its guardrails'
 * decisions after that; versions 1 and 2 are still read),
 * an "applied up to seq" mark (REC_APPLIED), a call admitted on leases
 * (REC_ADMIT) and its promotion (REC_PROMOTED), the process's lease owner
 * (REC_OWNER). Reading a journal back (journal_read) yields what a replay
 * must write: the records after the last mark, and the calls admitted on
 * leases that neither ended nor were promoted, as worst-case records.
 * Nothing here knows about the process's queue or the database.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/log.h"
#include "common/reason.h"
#include "common/util.h"
#include "exec/journal.h"

/* ------------------------------------------------------------------ writing */

void journal_put(struct wbuf *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		unsigned char *np;

		while (cap < w->len + n)
			cap *= 2;
		if (cap > FRAME_MAX + 8 || (np = realloc(w->p, cap)) == NULL) {
			w->err = 1;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

/* v as n little-endian bytes. */
static void journal_put_le(struct wbuf *w, uint64_t v, int n)
{
	unsigned char b[8];

	for (int i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	journal_put(w, b, (size_t)n);
}

void journal_put_u64(struct wbuf *w, uint64_t v)
{
	journal_put_le(w, v, 8);
}

void journal_put_u32(struct wbuf *w, uint32_t v)
{
	journal_put_le(w, v, 4);
}

void journal_put_str(struct wbuf *w, const char *s)
{
	size_t n;

	if (s == NULL) {
		journal_put_u32(w, 0xFFFFFFFFu);
		return;
	}
	n = strlen(s);
	journal_put_u32(w, (uint32_t)n);
	journal_put(w, s, n);
}

/* The payload of rec (seq first, so it can be set later at offset 4). */
void journal_encode_rec(struct wbuf *w, const struct ledger_rec *r)
{
	const struct execution *e = &r->e;
	const char *strs[] = {e->id,          e->kind,       e->agent_name,    e->session_id,
	                      e->model,       e->provider,   e->cred_source,   e->status,
	                      e->reason_code, e->request_id, e->finish_reason, e->metadata,
	                      e->input,       e->output,     e->error_message};
	unsigned char h[4] = {REC_DONE, REC_DONE_VERSION, (unsigned char)r->n, 0};

	journal_put(w, h, 4);
	journal_put_u64(w, r->seq);
	journal_put_u64(w, (uint64_t)r->created_us);
	journal_put_u64(w, (uint64_t)e->tenant_id);
	journal_put_u64(w, (uint64_t)e->key_id);
	journal_put_u64(w, (uint64_t)e->agent_id);
	journal_put_u64(w, (uint64_t)r->reservation_id);
	journal_put_u64(w, (uint64_t)r->owner_id);
	journal_put_u64(w, (uint64_t)e->prompt_tokens);
	journal_put_u64(w, (uint64_t)e->completion_tokens);
	journal_put_u64(w, (uint64_t)e->cost_micros);
	journal_put_u32(w, (uint32_t)e->http_status);
	journal_put_u32(w, (uint32_t)e->latency_ms);
	journal_put_u32(w, (uint32_t)r->data_epoch);
	journal_put_u32(
	    w, (uint32_t)((e->stream ? 1 : 0) | (r->dedicated ? 2 : 0) | (e->cache_hit ? 4 : 0)));
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		journal_put_str(w, strs[i]);
	for (size_t i = 0; i < r->n; i++) {
		const struct ledger_counter *c = &r->c[i];
		unsigned char cb[4] = {c->scope, c->window, c->mode, c->held};

		journal_put(w, cb, 4);
		journal_put_u64(w, (uint64_t)c->scope_id);
		journal_put_u64(w, (uint64_t)c->wc_micros);
		journal_put_u64(w, (uint64_t)c->wc_tokens);
		journal_put_str(w, c->period);
	}
	journal_put_str(w, e->end_user);
	journal_put_str(w, e->guardrails);
}

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	int err;
};

/* n little-endian bytes; 0 with r->err set when the buffer ends first. */
static uint64_t r_le(struct rbuf *r, int n)
{
	uint64_t v = 0;

	if (r->err || r->off + (size_t)n > r->len) {
		r->err = 1;
		return 0;
	}
	for (int i = 0; i < n; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += (size_t)n;
	return v;
}

static uint64_t r_u64(struct rbuf *r)
{
	return r_le(r, 8);
}

static uint32_t r_u32(struct rbuf *r)
{
	return (uint32_t)r_le(r, 4);
}

/* A string into fixed[cap] (cut), or, with fixed NULL, its (pointer, length) into the buffer. */
static int r_str(struct rbuf *r, char *fixed, size_t cap, const unsigned char **p, uint32_t *n)
{
	uint32_t len = r_u32(r);

	if (r->err)
		return -1;
	if (len == 0xFFFFFFFFu) {
		if (fixed)
			fixed[0] = '\0';
		if (p)
			*p = NULL;
		return 0;
	}
	if (r->off + len > r->len) {
		r->err = 1;
		return -1;
	}
	if (fixed) {
		size_t k = len < cap - 1 ? len : cap - 1;

		memcpy(fixed, r->p + r->off, k);
		fixed[k] = '\0';
	} else {
		*p = r->p + r->off;
		*n = len;
	}
	r->off += len;
	return 0;
}

/* A queue item from a DONE payload, or NULL when malformed or out of memory. */
static struct ledger_item *decode_rec(const unsigned char *p, size_t len)
{
	struct rbuf r = {p, len, 4, 0};
	const unsigned char *vp[5] = {NULL};
	uint32_t vn[5] = {0}, flags;
	struct ledger_item *it;
	struct ledger_rec rec;
	struct execution *e = &rec.e;
	size_t total = 0, o = 0;

	if (len < 4 || p[0] != REC_DONE ||
	    (p[1] != REC_VERSION && p[1] != REC_DONE_V2 && p[1] != REC_DONE_VERSION) ||
	    p[2] > ADM_MAX_COUNTERS)
		return NULL;
	memset(&rec, 0, sizeof(rec));
	rec.n = p[2];
	rec.seq = r_u64(&r);
	rec.created_us = (int64_t)r_u64(&r);
	e->tenant_id = (int64_t)r_u64(&r);
	e->key_id = (int64_t)r_u64(&r);
	e->agent_id = (int64_t)r_u64(&r);
	rec.reservation_id = (int64_t)r_u64(&r);
	rec.owner_id = (int64_t)r_u64(&r);
	e->prompt_tokens = (int64_t)r_u64(&r);
	e->completion_tokens = (int64_t)r_u64(&r);
	e->cost_micros = (int64_t)r_u64(&r);
	e->http_status = (int)r_u32(&r);
	e->latency_ms = (int)r_u32(&r);
	rec.data_epoch = (int)r_u32(&r);
	flags = r_u32(&r);
	e->stream = (flags & 1) != 0;
	rec.dedicated = (flags & 2) != 0;
	e->cache_hit = (flags & 4) != 0; /* 0 in records written before the response cache */
	r_str(&r, e->id, sizeof(e->id), NULL, NULL);
	r_str(&r, e->kind, sizeof(e->kind), NULL, NULL);
	r_str(&r, e->agent_name, sizeof(e->agent_name), NULL, NULL);
	r_str(&r, e->session_id, sizeof(e->session_id), NULL, NULL);
	r_str(&r, e->model, sizeof(e->model), NULL, NULL);
	r_str(&r, e->provider, sizeof(e->provider), NULL, NULL);
	r_str(&r, e->cred_source, sizeof(e->cred_source), NULL, NULL);
	r_str(&r, e->status, sizeof(e->status), NULL, NULL);
	r_str(&r, e->reason_code, sizeof(e->reason_code), NULL, NULL);
	r_str(&r, e->request_id, sizeof(e->request_id), NULL, NULL);
	r_str(&r, e->finish_reason, sizeof(e->finish_reason), NULL, NULL);
	for (int i = 0; i < 4; i++)
		r_str(&r, NULL, 0, &vp[i], &vn[i]);
	for (size_t i = 0; i < rec.n; i++) {
		struct ledger_counter *c = &rec.c[i];

		if (r.err || r.off + 4 > r.len)
			return NULL;
		c->scope = p[r.off];
		c->window = p[r.off + 1];
		c->mode = p[r.off + 2];
		c->held = p[r.off + 3];
		r.off += 4;
		c->scope_id = (int64_t)r_u64(&r);
		c->wc_micros = (int64_t)r_u64(&r);
		c->wc_tokens = (int64_t)r_u64(&r);
		r_str(&r, c->period, sizeof(c->period), NULL, NULL);
		if (c->scope >= ADM__SCOPES || c->window >= ADM__WINDOWS || c->mode >= LM__MAX)
			return NULL;
	}
	if (p[1] >= REC_DONE_V2)
		r_str(&r, e->end_user, sizeof(e->end_user), NULL, NULL);
	if (p[1] >= REC_DONE_VERSION)
		r_str(&r, NULL, 0, &vp[4], &vn[4]);
	if (r.err)
		return NULL;
	for (int i = 0; i < 5; i++)
		total += vp[i] ? vn[i] + 1 : 0;
	it = malloc(sizeof(*it) + total);
	if (it == NULL)
		return NULL;
	it->next = NULL;
	it->bytes = sizeof(*it) + total + len;
	it->rec = rec;
	for (int i = 0; i < 5; i++) {
		char *s = NULL;

		if (vp[i]) {
			s = it->text + o;
			memcpy(s, vp[i], vn[i]);
			s[vn[i]] = '\0';
			o += vn[i] + 1;
		}
		switch (i) {
		case 0:
			it->rec.e.metadata = s;
			break;
		case 1:
			it->rec.e.input = s;
			break;
		case 2:
			it->rec.e.output = s;
			break;
		case 3:
			it->rec.e.error_message = s;
			break;
		default:
			it->rec.e.guardrails = s;
			break;
		}
	}
	return it;
}

/* A frame around payload w->p[8..] (the first 8 bytes are reserved for the header). */
void journal_seal(struct wbuf *w)
{
	uint32_t n = (uint32_t)(w->len - 8), crc;

	crc = (uint32_t)crc32(0L, w->p + 8, n);
	for (int i = 0; i < 4; i++) {
		w->p[i] = (unsigned char)(n >> (8 * i));
		w->p[4 + i] = (unsigned char)(crc >> (8 * i));
	}
}

/* Write all of p to fd; 0 or -1. */
int journal_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *q = p;

	while (n > 0) {
		ssize_t k = write(fd, q, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

/* ------------------------------------------------------------------ leases' notes */

void journal_encode_admit(struct wbuf *w, const struct ledger_admit *ad)
{
	const struct adm_request *a = ad->a;
	const char *strs[] = {a->exec_id,  a->kind,       a->model,
	                      a->provider, a->agent_name, a->request_id};
	unsigned char h[4] = {REC_ADMIT, REC_VERSION, (unsigned char)a->n, 0};

	journal_put(w, h, 4);
	journal_put_u64(w, (uint64_t)ad->created_us);
	journal_put_u64(w, (uint64_t)a->tenant_id);
	journal_put_u64(w, (uint64_t)a->key_id);
	journal_put_u64(w, (uint64_t)a->agent_id);
	journal_put_u64(w, (uint64_t)ad->owner_id);
	journal_put_u64(w, (uint64_t)a->prompt_tokens);
	journal_put_u64(w, (uint64_t)a->max_tokens);
	journal_put_u64(w, (uint64_t)a->micros);
	journal_put_u64(w, (uint64_t)a->tokens);
	journal_put_u32(w, a->stream ? 1u : 0u);
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		journal_put_str(w, strs[i] ? strs[i] : "");
	for (size_t i = 0; i < a->n; i++) {
		const struct adm_counter *c = &a->c[i];
		unsigned char cb[4] = {(unsigned char)c->scope, (unsigned char)c->window,
		                       ad->held[i] ? LM_LEASED : LM_NONE, ad->held[i]};

		journal_put(w, cb, 4);
		journal_put_u64(w, (uint64_t)c->scope_id);
		journal_put_str(w, c->period);
	}
}

/*
 * The record of a call admitted on leases that never ended, from its ADMIT
 * payload: failed, reservation_expired, billed at its worst case (as the
 * reaper bills a reservation whose process died).
 */
static struct ledger_item *decode_admit(const unsigned char *p, size_t len)
{
	struct rbuf r = {p, len, 4, 0};
	struct ledger_item *it;
	struct ledger_rec *rec;
	struct execution *e;
	static const char msg[] = "the process serving this call ended before it settled; billed "
	                          "at the reserved worst case";
	int64_t micros, tokens;

	if (len < 4 || p[0] != REC_ADMIT || p[1] != REC_VERSION || p[2] > ADM_MAX_COUNTERS)
		return NULL;
	it = calloc(1, sizeof(*it) + sizeof(msg));
	if (it == NULL)
		return NULL;
	rec = &it->rec;
	e = &rec->e;
	rec->n = p[2];
	rec->created_us = (int64_t)r_u64(&r);
	e->tenant_id = (int64_t)r_u64(&r);
	e->key_id = (int64_t)r_u64(&r);
	e->agent_id = (int64_t)r_u64(&r);
	rec->owner_id = (int64_t)r_u64(&r);
	e->prompt_tokens = (int64_t)r_u64(&r);
	e->completion_tokens = (int64_t)r_u64(&r);
	micros = (int64_t)r_u64(&r);
	tokens = (int64_t)r_u64(&r);
	e->stream = (r_u32(&r) & 1) != 0;
	r_str(&r, e->id, sizeof(e->id), NULL, NULL);
	r_str(&r, e->kind, sizeof(e->kind), NULL, NULL);
	r_str(&r, e->model, sizeof(e->model), NULL, NULL);
	r_str(&r, e->provider, sizeof(e->provider), NULL, NULL);
	r_str(&r, e->agent_name, sizeof(e->agent_name), NULL, NULL);
	r_str(&r, e->request_id, sizeof(e->request_id), NULL, NULL);
	for (size_t i = 0; i < rec->n; i++) {
		struct ledger_counter *c = &rec->c[i];

		if (r.err || r.off + 4 > r.len)
			break;
		c->scope = p[r.off];
		c->window = p[r.off + 1];
		c->mode = p[r.off + 2];
		c->held = p[r.off + 3];
		r.off += 4;
		c->scope_id = (int64_t)r_u64(&r);
		c->wc_micros = micros;
		c->wc_tokens = tokens;
		r_str(&r, c->period, sizeof(c->period), NULL, NULL);
		if (c->scope >= ADM__SCOPES || c->window >= ADM__WINDOWS || c->mode >= LM__MAX)
			r.err = 1;
	}
	if (r.err) {
		free(it);
		return NULL;
	}
	e->cost_micros = micros;
	util_strlcpy(e->cred_source, "none", sizeof(e->cred_source));
	util_strlcpy(e->status, "failed", sizeof(e->status));
	util_strlcpy(e->reason_code, reason_name(R_reservation_expired), sizeof(e->reason_code));
	memcpy(it->text, msg, sizeof(msg));
	e->error_message = it->text;
	it->bytes = sizeof(*it) + sizeof(msg) + len;
	return it;
}

/* Exec ids seen in a journal (DONE and PROMOTED), sorted for lookups. */
struct id_list {
	char (*ids)[40];
	size_t n, cap;
};

static int id_add(struct id_list *l, const char *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char(*n)[40] = realloc(l->ids, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		l->ids = n;
		l->cap = cap;
	}
	util_strlcpy(l->ids[l->n++], id, sizeof(l->ids[0]));
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int id_has(const struct id_list *l, const char *id)
{
	return l->n && bsearch(id, l->ids, l->n, sizeof(l->ids[0]), id_cmp) != NULL;
}

/*
 * Read a journal file: the records after its last "applied" mark, then the
 * calls admitted on leases that never ended nor were promoted (as worst-case
 * records), into a list. *owner gets the lease owner it names (0: none).
 * 0, or -1 when it cannot be read.
 */
int journal_read(int fd, struct ledger_item **out, size_t *n, int64_t *owner)
{
	struct ledger_item *head = NULL, *tail = NULL, *admits = NULL;
	struct id_list ended = {0};
	unsigned char hdr[8], *p = NULL;
	uint64_t mark = 0;
	size_t cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	*owner = 0;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	for (;;) {
		uint32_t len, crc;
		ssize_t k = read(fd, hdr, 8);
		struct rbuf r;

		if (k != 8)
			break;
		len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
		      (uint32_t)hdr[3] << 24;
		crc = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
		      (uint32_t)hdr[7] << 24;
		if (len < 4 || len > FRAME_MAX)
			break;
		if (len > cap) {
			unsigned char *np = realloc(p, len);

			if (np == NULL) {
				rc = -1;
				break;
			}
			p = np;
			cap = len;
		}
		if (read(fd, p, len) != (ssize_t)len || (uint32_t)crc32(0L, p, len) != crc)
			break; /* the tail a crash cut off */
		r = (struct rbuf){p, len, 4, 0};
		if (p[0] == REC_APPLIED) {
			uint64_t m = r_u64(&r);

			if (!r.err && m > mark)
				mark = m;
		} else if (p[0] == REC_OWNER) {
			int64_t o = (int64_t)r_u64(&r);

			if (!r.err)
				*owner = o;
		} else if (p[0] == REC_PROMOTED) {
			char id[40];

			if (r_str(&r, id, sizeof(id), NULL, NULL) == 0 && id_add(&ended, id) < 0)
				rc = -1;
		} else if (p[0] == REC_DONE || p[0] == REC_ADMIT) {
			struct ledger_item *it =
			    p[0] == REC_DONE ? decode_rec(p, len) : decode_admit(p, len);

			if (it == NULL) {
				log_error("ledger: a journal record does not decode; skipped");
				continue;
			}
			if (p[0] == REC_ADMIT) {
				it->next = admits;
				admits = it;
				continue;
			}
			if (id_add(&ended, it->rec.e.id) < 0)
				rc = -1;
			if (tail)
				tail->next = it;
			else
				head = it;
			tail = it;
		}
	}
	free(p);
	/* Drop what the marks say is written (records are journaled in about seq order). */
	{
		struct ledger_item **pp = &head;

		tail = NULL;
		while (*pp) {
			struct ledger_item *it = *pp;

			if (it->rec.seq <= mark) {
				*pp = it->next;
				free(it);
				continue;
			}
			tail = it;
			pp = &it->next;
		}
	}
	/* Calls admitted on leases that never ended: recorded at their worst case. */
	if (ended.n)
		qsort(ended.ids, ended.n, sizeof(ended.ids[0]), id_cmp);
	while (admits) {
		struct ledger_item *it = admits;

		admits = admits->next;
		it->next = NULL;
		if (id_has(&ended, it->rec.e.id)) {
			free(it);
			continue;
		}
		id_add(&ended, it->rec.e.id); /* (an admit journaled twice, by a rotation) */
		qsort(ended.ids, ended.n, sizeof(ended.ids[0]), id_cmp);
		if (tail)
			tail->next = it;
		else
			head = it;
		tail = it;
	}
	free(ended.ids);
	for (struct ledger_item *it = head; it; it = it->next)
		(*n)++;
	*out = head;
	return rc;
}

void journal_items_free(struct ledger_item *it)
{
	while (it) {
		struct ledger_item *next = it->next;

		free(it);
		it = next;
	}
}
