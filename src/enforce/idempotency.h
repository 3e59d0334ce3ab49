/*
 * idempotency: `Idempotency-Key` on POSTs.
 *
 * DESIGN
 * Keyed by (tenant, idempotency key), with a hash of (method, path, body).
 * The first request claims the key (a row in state "running") before its
 * handler runs; while it runs, the request's output functions are wrapped
 * so the whole response (status, headers, body — SSE events included) is
 * copied as it is sent, and stored when it ends. A retry with the same key
 * and body gets the stored response replayed byte for byte (plus
 * `Idempotent-Replayed: true`) without calling the provider or billing
 * again; the same key with another body gets 409 idempotency_conflict; a
 * retry while the first is still running gets 409 idempotency_in_progress.
 * Refusals that ran nothing (429, 503), responses the client did not
 * receive and responses over 8 MiB are not stored: the key is released so a
 * retry runs. Keys are kept 24 hours (the reaper purges expired rows). A
 * claim whose process died expires after the longest provider timeout plus
 * reservation_grace_s, then a retry takes it over.
 */
#ifndef AH_IDEMPOTENCY_H
#define AH_IDEMPOTENCY_H

#include "host/router.h"

struct req;
struct ident;

/*
 * Run handler fn for r under r's Idempotency-Key header (if any): claim,
 * run, store the captured response — or replay / refuse as above.
 */
void idempotency_run(struct req *r, const struct ident *id, const struct route_match *m,
                     route_fn fn);

#endif
