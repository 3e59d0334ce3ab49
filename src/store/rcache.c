/*
 * rcache.c: the rows of the response cache (see store/rcache.h).
 *
 * DESIGN
 * Text statements through the typed builder (sql.h): the key hash goes in
 * as UNHEX of its hex form, the body as a quoted string. The size bound is
 * kept by one DELETE whose subquery sums the tenant's sizes newest first
 * (a window function) and picks every row past the bound: the oldest go
 * first and the newest answer, just written, always stays.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "store/db.h"
#include "store/rcache.h"
#include "store/sql.h"
#include "store/tdb.h"

#define NOW "UTC_TIMESTAMP(6)"

/* UNHEX('...') of the key hash. */
static void rcache_hash_sql(struct sql *q, const unsigned char *hash)
{
	char hex[RCACHE_HASH_LEN * 2 + 1];

	sodium_bin2hex(hex, sizeof(hex), hash, RCACHE_HASH_LEN);
	sql_lit(q, "UNHEX(");
	sql_str(q, hex);
	sql_lit(q, ")");
}

struct rcache_read {
	char *body;
	int oom;
};

static void rcache_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct rcache_read *rd = ctx;

	(void)set;
	if (n < 1 || row[0] == NULL || rd->body != NULL)
		return;
	rd->body = malloc(len[0] + 1);
	if (rd->body == NULL) {
		rd->oom = 1;
		return;
	}
	memcpy(rd->body, row[0], len[0]);
	rd->body[len[0]] = '\0';
}

/* See store/rcache.h. */
int store_rcache_get(struct store *st, int64_t tenant_id, const unsigned char *hash, char **body)
{
	struct store *d = store_data_conn(st, tenant_id);
	struct rcache_read rd = {NULL, 0};
	struct sql q;
	int rc;

	*body = NULL;
	if (d == NULL)
		return ST_ERR;
	sql_init(&q, d);
	sql_lit(&q, "SELECT body FROM response_cache WHERE tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, " AND key_hash = ");
	rcache_hash_sql(&q, hash);
	sql_lit(&q, " AND expires_at > " NOW);
	rc = sql_run(d, &q, rcache_row, &rd, __func__);
	sql_free(&q);
	if (rc != ST_OK || rd.oom) {
		free(rd.body);
		return ST_ERR;
	}
	if (rd.body == NULL)
		return ST_NOTFOUND;
	*body = rd.body;
	return ST_OK;
}

/* See store/rcache.h. */
int store_rcache_put(struct store *st, int64_t tenant_id, const unsigned char *hash,
                     const char *model, const char *body, int ttl_s, int64_t max_bytes,
                     int64_t *evicted)
{
	struct store *d = store_data_conn(st, tenant_id);
	int64_t size = (int64_t)strlen(body), n = 0;
	struct sql q;
	int rc;

	if (evicted)
		*evicted = 0;
	if (size > max_bytes || ttl_s < 1)
		return ST_NOTFOUND;
	if (d == NULL)
		return ST_ERR;
	sql_init(&q, d);
	sql_lit(&q, "DELETE FROM response_cache WHERE tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, " AND expires_at <= " NOW "; REPLACE INTO response_cache (tenant_id, key_hash,"
	            " model, body, size_bytes, created_at, expires_at) VALUES (");
	sql_i64(&q, tenant_id);
	sql_lit(&q, ", ");
	rcache_hash_sql(&q, hash);
	sql_lit(&q, ", ");
	sql_str(&q, model);
	sql_lit(&q, ", ");
	sql_str(&q, body);
	sql_lit(&q, ", ");
	sql_i64(&q, size);
	sql_lit(&q, ", " NOW ", " NOW " + INTERVAL ");
	sql_i64(&q, ttl_s);
	sql_lit(&q, " SECOND); DELETE FROM response_cache WHERE tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, " AND key_hash IN (SELECT key_hash FROM (SELECT key_hash, SUM(size_bytes)"
	            " OVER (ORDER BY created_at DESC, key_hash DESC) AS kept FROM response_cache"
	            " WHERE tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, ") w WHERE kept > ");
	sql_i64(&q, max_bytes);
	sql_lit(&q, "); SELECT ROW_COUNT()");
	rc = sql_run_i64(d, &q, &n, __func__);
	sql_free(&q);
	if (rc != ST_OK)
		return ST_ERR;
	if (evicted)
		*evicted = n;
	return ST_OK;
}

/* See store/rcache.h. */
int store_rcache_sweep(struct store *st, int batch, int64_t *rows)
{
	struct sql q;
	int rc;

	*rows = 0;
	sql_init(&q, st);
	sql_lit(&q, "DELETE FROM response_cache WHERE expires_at <= " NOW " LIMIT ");
	sql_i64(&q, batch > 0 ? batch : 1000);
	sql_lit(&q, "; SELECT ROW_COUNT()");
	rc = sql_run_i64(st, &q, rows, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}
