/*
 * store/rcache: the rows of the response cache (store_rcache_*).
 *
 * DESIGN
 * One table, response_cache, keyed (tenant_id, key_hash): a shared
 * tenant's rows in the control database, a dedicated tenant's in its own
 * (store_data_conn). Every function takes the tenant id and puts it in its
 * WHERE clause, so a lookup can only ever find the caller's own rows.
 * Expiry is judged by the database clock (one clock for every host). A
 * lookup is one round trip; a store is one round trip too (one batch: the
 * tenant's expired rows deleted, the answer written, the oldest rows beyond
 * the tenant's size bound evicted). What is cached and when: exec/rcache.h.
 */
#ifndef AH_STORE_RCACHE_H
#define AH_STORE_RCACHE_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define RCACHE_HASH_LEN 32 /* bytes of a key hash (BLAKE2b-256) */

/*
 * The cached answer of (tenant_id, hash) if it has not expired: *body a new
 * NUL-terminated string the caller frees. ST_OK, ST_NOTFOUND, ST_ERR.
 */
int store_rcache_get(struct store *st, int64_t tenant_id, const unsigned char *hash, char **body);
/*
 * Store body as the answer of (tenant_id, hash) for ttl_s seconds, replacing
 * any older answer of that key, then evict the tenant's oldest answers until
 * their sizes sum to at most max_bytes (the new one included; a body larger
 * than max_bytes is not stored: ST_NOTFOUND). *evicted (may be NULL) gets
 * the number of rows evicted. ST_OK, ST_NOTFOUND, ST_ERR.
 */
int store_rcache_put(struct store *st, int64_t tenant_id, const unsigned char *hash,
                     const char *model, const char *body, int ttl_s, int64_t max_bytes,
                     int64_t *evicted);
/*
 * Delete up to batch expired rows of the control database (shared tenants;
 * a dedicated tenant's expired rows go when it next stores an answer).
 * *rows gets how many. ST_OK, ST_ERR.
 */
int store_rcache_sweep(struct store *st, int batch, int64_t *rows);

#endif
