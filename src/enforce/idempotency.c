/*
 * idempotency.c: `Idempotency-Key` on POSTs (see enforce/idempotency.h).
 *
 * DESIGN
 * claim -> run -> store, or replay / refuse:
 *   1. The key is checked (1..255 printable ASCII) and the request hashed
 *      (BLAKE2b-256 of method, path and body, each length-prefixed so no
 *      two requests share an encoding).
 *   2. store_idem_claim inserts a "running" row. Its lifetime while running
 *      is the longest a call may take (the largest provider timeout plus
 *      reservation_grace_s, the bound the reaper uses for reservations), so
 *      the claim of a process that died frees the key by itself.
 *   3. The handler runs with the response tapped: every byte the HTTP layer
 *      writes also lands in a buffer here. The tap wraps r->write rather
 *      than using req.capture because it must know when an append failed
 *      (out of memory) or grew too large: a response stored with a gap
 *      would be replayed wrong forever, so such a response is not stored.
 *   4. What is stored: every response the handler completed. What is not
 *      (the claim is dropped, so a retry runs the request): nothing sent,
 *      a client that went away mid-response, a tap that failed, and the
 *      refusals that exist to be retried — 429 (rate limits, concurrency,
 *      budget) and 503 (server_busy, database_unavailable, circuit_open,
 *      global budget) — which are sent before anything runs or is billed.
 *   5. A retry with the same key and hash gets the stored bytes verbatim
 *      with "Idempotent-Replayed: true" added to the header block; another
 *      hash gets 409 idempotency_conflict; a running claim gets 409
 *      idempotency_in_progress with Retry-After.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/log.h"
#include "enforce/idempotency.h"
#include "host/http.h"
#include "host/router.h"
#include "store/guards.h"
#include "store/store.h"
#include "tenancy/identify.h"

/* Largest response stored (MEDIUMBLOB holds 16 MiB; stay well inside max_allowed_packet). */
#define IDEM_MAX_RESPONSE (8u * 1024 * 1024)

static const char replayed_header[] = "Idempotent-Replayed: true\r\n";

/* The response tap: forwards to the real writer and keeps a copy. */
struct idem_tap {
	int (*write)(void *io, const void *p, size_t n); /* the server's writer */
	int (*flush)(void *io);
	void *io;
	struct buf copy; /* every byte written, in order */
	int broken;      /* 1 once a byte could not be kept (memory, size) */
};

static int idem_tap_write(void *io, const void *p, size_t n)
{
	struct idem_tap *t = io;

	if (!t->broken) {
		if (t->copy.len + n > IDEM_MAX_RESPONSE || buf_append(&t->copy, p, n) < 0) {
			t->broken = 1;
			buf_free(&t->copy);
		}
	}
	return t->write(t->io, p, n);
}

static int idem_tap_flush(void *io)
{
	struct idem_tap *t = io;

	return t->flush(t->io);
}

/* 1 when key is 1..IDEM_KEY_MAX printable ASCII characters (space included). */
static int idem_key_valid(const char *key)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++, n++)
		if (*p < 0x20 || *p > 0x7e || n >= IDEM_KEY_MAX)
			return 0;
	return n > 0;
}

/* Feed one length-prefixed field to the hash. */
static void idem_hash_field(crypto_generichash_state *s, const void *p, size_t n)
{
	uint8_t len[8];
	uint64_t v = n;

	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(s, len, sizeof(len));
	if (n)
		crypto_generichash_update(s, p, n);
}

/* BLAKE2b-256 of (method, path, body): what "the same request" means. */
static void idem_hash(const struct req *r, uint8_t out[32])
{
	crypto_generichash_state s;

	crypto_generichash_init(&s, NULL, 0, 32);
	idem_hash_field(&s, r->method, strlen(r->method));
	idem_hash_field(&s, r->path, strlen(r->path));
	idem_hash_field(&s, r->body.data, r->body.data ? r->body.len : 0);
	crypto_generichash_final(&s, out, 32);
}

/*
 * Seconds a running claim may live: the longest whole-call timeout of any
 * provider, rounded up, plus the grace the reaper gives reservations.
 */
static int idem_claim_lifetime(const struct conf *c)
{
	int ms = c->upstream_timeout_ms;

	for (size_t i = 0; i < c->n_providers; i++)
		if (c->providers[i].timeout_ms > ms)
			ms = c->providers[i].timeout_ms;
	return (ms + 999) / 1000 + c->reservation_grace_s;
}

/* Refusals sent before anything ran or was billed, which clients are told to retry. */
static int idem_retryable_status(int status)
{
	return status == 429 || status == 503;
}

/*
 * Send a stored response: the header block with the replay marker added
 * before its blank line, then the rest, in one write.
 */
static void idem_replay(struct req *r, const struct idem_row *row)
{
	const char *bytes = row->response, *end = NULL;
	struct buf out = BUF_INIT;
	size_t head;

	if (bytes && row->response_len >= 4) {
		for (size_t i = 0; i + 4 <= row->response_len; i++)
			if (memcmp(bytes + i, "\r\n\r\n", 4) == 0) {
				end = bytes + i;
				break;
			}
	}
	if (end == NULL) {
		log_error("idempotency: stored response for tenant %lld has no header block",
		          (long long)r->tenant_id);
		resp_error(r, R_internal_error, "the stored response of this key is unreadable");
		return;
	}
	head = (size_t)(end - bytes) + 2; /* through the last header line's CRLF */
	if (buf_reserve(&out, row->response_len + sizeof(replayed_header)) < 0 ||
	    buf_append(&out, bytes, head) < 0 ||
	    buf_append(&out, replayed_header, sizeof(replayed_header) - 1) < 0 ||
	    buf_append(&out, bytes + head, row->response_len - head) < 0) {
		buf_free(&out);
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	r->status = row->status;
	r->headers_sent = 1;
	if (r->write(r->io, out.data, out.len) < 0 || r->flush(r->io) < 0)
		r->client_gone = 1;
	buf_free(&out);
}

/* Answer a request whose key is already taken (row read by the claim). */
static void idem_taken(struct req *r, const uint8_t hash[32], const struct idem_row *row)
{
	if (sodium_memcmp(row->hash, hash, 32) != 0) {
		resp_error(r, R_idempotency_conflict,
		           "this Idempotency-Key was already used with a different request; use a "
		           "new key for a new request");
		return;
	}
	if (!row->done) {
		/* Retry-After: 1 comes with the code (common/tbl/reasons.h). */
		resp_error(r, R_idempotency_in_progress,
		           "the first request with this Idempotency-Key is still running; retry "
		           "when it has finished");
		return;
	}
	idem_replay(r, row);
}

/* Run fn with the response tapped, then store the response or drop the claim. */
static void idem_execute(struct req *r, const struct ident *id, const struct route_match *m,
                         route_fn fn, const char *key, const uint8_t hash[32])
{
	struct idem_tap tap;
	const char *why = NULL;

	memset(&tap, 0, sizeof(tap));
	buf_init(&tap.copy);
	tap.write = r->write;
	tap.flush = r->flush;
	tap.io = r->io;
	r->write = idem_tap_write;
	r->flush = idem_tap_flush;
	r->io = &tap;
	fn(r, id, m);
	r->write = tap.write;
	r->flush = tap.flush;
	r->io = tap.io;

	if (!r->headers_sent)
		why = "nothing was sent";
	else if (r->client_gone)
		why = "the client went away";
	else if (tap.broken)
		why = "the response could not be kept (too large or out of memory)";
	else if (idem_retryable_status(r->status))
		why = "a refusal to be retried";
	if (why) {
		if (tap.broken && !r->client_gone)
			log_warn("idempotency: tenant %lld: %s; key released",
			         (long long)id->tenant_id, why);
		if (store_idem_release(r->store, id->tenant_id, key, hash) != ST_OK)
			log_error(
			    "idempotency: tenant %lld: could not release a claim (%s); the key "
			    "is blocked until the claim expires",
			    (long long)id->tenant_id, why);
		goto out;
	}
	switch (store_idem_finish(r->store, id->tenant_id, key, hash, r->status, tap.copy.data,
	                          tap.copy.len)) {
	case ST_OK:
		break;
	case ST_NOTFOUND:
		log_warn("idempotency: tenant %lld: the claim expired while the request ran; "
		         "response not stored",
		         (long long)id->tenant_id);
		break;
	default:
		/* The claim stays "running" until it expires; a retry then runs the request. */
		log_error("idempotency: tenant %lld: could not store the response",
		          (long long)id->tenant_id);
		break;
	}
out:
	buf_free(&tap.copy);
}

void idempotency_run(struct req *r, const struct ident *id, const struct route_match *m,
                     route_fn fn)
{
	const char *key = req_header(r, "Idempotency-Key");
	struct idem_row row;
	uint8_t hash[32];
	int rc;

	if (key == NULL) {
		fn(r, id, m);
		return;
	}
	if (!idem_key_valid(key)) {
		resp_error(r, R_invalid_request,
		           "Idempotency-Key must be 1 to %d printable ASCII characters",
		           IDEM_KEY_MAX);
		return;
	}
	idem_hash(r, hash);
	rc = store_idem_claim(r->store, id->tenant_id, key, hash, idem_claim_lifetime(r->conf),
	                      &row);
	switch (rc) {
	case ST_OK:
		idem_execute(r, id, m, fn, key, hash);
		break;
	case ST_CONFLICT:
		idem_taken(r, hash, &row);
		break;
	default:
		resp_error(r, R_database_unavailable,
		           "the idempotency key could not be checked; retry");
		break;
	}
	store_idem_row_free(&row);
}
