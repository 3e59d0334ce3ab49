/*
 * identify: who is calling. The tenant comes from the API key only.
 *
 * DESIGN
 * "Authorization: Bearer ah_live_..." is hashed with the server pepper and
 * looked up (one round trip, key joined with its tenant; the key's state is
 * computed with the database clock so every process and host agree). A
 * tenant id in the body is never read; an X-Tenant-ID header may only
 * cross-check (numeric id or slug) and a mismatch is refused.
 */
#ifndef AH_IDENTIFY_H
#define AH_IDENTIFY_H

#include <stdint.h>

struct req;
struct limits;
struct store;

struct ident {
	int64_t tenant_id;
	int64_t key_id;
	char tenant_slug[64];
	char plan[32];
	char key_prefix[16]; /* display prefix, safe to log */
	int dedicated;       /* the tenant's data is in a database of its own */
	int data_epoch;      /* ...as of identification (tenants.data_epoch) */
	int scopes;          /* what the key may call: bit set of enum key_scope (store.h) */
	int log_content;     /* store chat completions' prompts and answers (tenants.log_content) */
	const struct limits *lim; /* effective limits; NULL when enforcement is off */
};

/*
 * Identify the caller of r. 0 with *out filled, or -1 after sending the
 * refusal (401 missing_api_key / invalid_api_key / key_revoked /
 * key_expired, 403 tenant_mismatch / tenant_not_served / tenant_suspended,
 * 503 tenant_migrating, 503 when the store is unreachable).
 */
int identify_request(struct req *r, struct ident *out);
/*
 * Write last_used_at of the keys used since the last write, at most every
 * TOUCH_EVERY_S (the background thread calls it). ST_OK or ST_ERR.
 */
int identify_touch_flush(struct store *st);

#endif
