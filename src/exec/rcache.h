/*
 * rcache: the response cache of chat completions, per tenant.
 *
 * DESIGN
 * A chat completion may be answered from an earlier answer to the same
 * canonical request of the same tenant. The canonical request is the body
 * without the fields that do not change the answer (stream,
 * stream_options, metadata, user), serialised with sorted keys and no
 * spaces; its key is BLAKE2b-256 of a version tag, the tenant id and that
 * text, stored under (tenant_id, key): the tenant is part of the key twice,
 * so no lookup can reach another tenant's answer (store/rcache.h).
 *
 * Whether a call uses the cache: the limit response_cache (off | request |
 * on, default request) and the request's headers:
 *     Cache-Control: no-store     neither read nor written ("bypass")
 *     Cache-Control: no-cache     not read, the fresh answer written ("bypass")
 *     X-Agenthost-Cache: off      as no-store
 *     X-Agenthost-Cache: on       the cache is used when the limit is request or on
 * With the limit off the cache is never used and the headers are ignored;
 * a tenant that does not use the cache pays nothing (the limit is in its
 * cached limits: no round trip). rcache_plan decides before admission;
 * exec_run (execute.c) looks up after admission (rate limits count a hit,
 * its worst case is held and given back at cost 0) and before the
 * credential and the upstream call, which a hit skips; a fresh successful
 * answer is stored after the call. The response says which
 * (X-Agenthost-Cache: hit | miss | bypass).
 */
#ifndef AH_EXEC_RCACHE_H
#define AH_EXEC_RCACHE_H

#include <stdint.h>

#include <jansson.h>

#include "providers/provider.h"
#include "store/rcache.h"

struct req;
struct ident;
struct store;

/* What one call does with the cache (rcache_plan fills it). */
struct rcache {
	int read;                            /* 1: look the answer up before calling upstream */
	int write;                           /* 1: store a fresh successful answer */
	int ttl_s;                           /* how long a stored answer is served */
	int64_t max_bytes;                   /* the tenant's bound on its cached answers */
	unsigned char hash[RCACHE_HASH_LEN]; /* the key (with the tenant id inside) */
	const char *state; /* "hit" | "miss" | "bypass" once decided; NULL: not used */
	int told;          /* looked up and said (a routed call's later attempts do neither) */
};

/*
 * Decide what the chat call of body (the request's JSON object) does with
 * the cache, by the tenant's limit and the request's headers, and compute
 * its key. 0 with rc filled (rc->state NULL when the cache is not used), or
 * -1 after a 400 (an X-Agenthost-Cache value other than on or off) or a
 * 503 (the limits could not be read).
 */
int rcache_plan(struct req *r, const struct ident *id, json_t *body, struct rcache *rc);
/*
 * Look rc's key up (when rc->read) and, on a hit, fill res with the cached
 * answer (text, finish_reason, tool calls, usage as first reported).
 * 1 hit, 0 miss or not looked up (a failed lookup is a miss, logged).
 * Sets rc->state to "hit" or "miss" accordingly (unless it is "bypass").
 */
int rcache_lookup(struct store *st, int64_t tenant_id, struct rcache *rc, struct ah_result *res);
/* Store res as rc's answer when rc->write (a failure is logged, never the caller's). */
void rcache_store(struct store *st, int64_t tenant_id, const struct rcache *rc, const char *model,
                  const struct ah_result *res);
/* The answer of res as the cache's body text (new string), NULL when out of memory. */
char *rcache_encode(const struct ah_result *res);
/* Fill res from a body text of rcache_encode. 0, or -1 when it is not one. */
int rcache_decode(const char *body, struct ah_result *res);
/* The key of a canonical request of tenant_id into hash. 0, or -1 when out of memory. */
int rcache_key(int64_t tenant_id, json_t *body, unsigned char *hash);

#endif
