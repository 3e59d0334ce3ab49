/*
 * credentials.c: tenants' own provider keys, sealed (store_cred_*).
 *
 * DESIGN
 * The store only ever sees the sealed form (nonce, ciphertext, key version)
 * and the last four characters for display; sealing and opening happen in
 * crypto/. One row per (tenant, provider): a put replaces the previous key
 * in place with an upsert, so there is never a moment with two or none.
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"

#define CRED_MIN_CT 16 /* the Poly1305 tag alone */

static const char sql_put[] =
    "INSERT INTO provider_credentials (tenant_id, provider, key_version, nonce, ciphertext,"
    " last4, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6),"
    " UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE key_version = VALUES(key_version),"
    " nonce = VALUES(nonce), ciphertext = VALUES(ciphertext), last4 = VALUES(last4),"
    " updated_at = VALUES(updated_at)";
static const char sql_get[] = "SELECT key_version, nonce, ciphertext, last4,"
                              " CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED)"
                              " FROM provider_credentials WHERE tenant_id = ? AND provider = ?";
static const char sql_clear[] =
    "DELETE FROM provider_credentials WHERE tenant_id = ? AND provider = ?";
static const char sql_list[] = "SELECT provider, key_version, nonce, ciphertext, last4,"
                               " CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED)"
                               " FROM provider_credentials WHERE tenant_id = ? ORDER BY provider";

/*
 * Insert or replace the tenant's sealed key for provider. ST_OK,
 * ST_NOTFOUND when the tenant does not exist, ST_ERR (also for a malformed
 * sealed_cred).
 */
int store_cred_put(struct store *st, int64_t tenant_id, const char *provider,
                   const struct sealed_cred *c)
{
	MYSQL_BIND in[6];
	unsigned long l[4];

	if (provider == NULL || *provider == '\0' || c->ct_len < CRED_MIN_CT ||
	    c->ct_len > sizeof(c->ct) || strnlen(c->last4, sizeof(c->last4)) >= sizeof(c->last4)) {
		log_error("store: store_cred_put: malformed credential");
		return ST_ERR;
	}
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], provider, &l[0]);
	db_in_int(&in[2], &c->version);
	db_in_blob(&in[3], c->nonce, sizeof(c->nonce), &l[1]);
	db_in_blob(&in[4], c->ct, c->ct_len, &l[2]);
	db_in_str(&in[5], c->last4, &l[3]);
	return store_change_exec(st, Q_CRED_PUT, sql_put, in, __func__, CHANGE_TENANT, tenant_id,
	                         NULL);
}

/* Describe the sealed columns (version .. updated_at) into o; returns the ciphertext column. */
static size_t cred_bind(struct db_out *o, struct sealed_cred *c)
{
	size_t ct;

	db_out_int(o, &c->version);
	db_out_blob(o, c->nonce, sizeof(c->nonce));
	ct = db_out_blob(o, c->ct, sizeof(c->ct));
	db_out_str(o, c->last4, sizeof(c->last4));
	db_out_i64(o, &c->updated_at);
	return ct;
}

/* Check the row just fetched into c (nonce is the column before ct); 0 when sound. */
static int cred_check(struct db_out *o, size_t ct, struct sealed_cred *c, const char *fn)
{
	if (o->len[ct - 1] != sizeof(c->nonce) || o->len[ct] > sizeof(c->ct) ||
	    o->len[ct] < CRED_MIN_CT) {
		log_error("store: %s: stored credential has a malformed nonce or ciphertext", fn);
		return -1;
	}
	c->ct_len = o->len[ct];
	return 0;
}

/* The tenant's sealed key for provider: ST_OK, ST_NOTFOUND, ST_ERR. */
int store_cred_get(struct store *st, int64_t tenant_id, const char *provider,
                   struct sealed_cred *out)
{
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	size_t ct;
	int rc;

	memset(out, 0, sizeof(*out));
	if (provider == NULL)
		return ST_NOTFOUND;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], provider, &l);
	db_out_init(&o);
	ct = cred_bind(&o, out);
	rc = db_exec(st, Q_CRED_GET, sql_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_CRED_GET, &o, __func__);
	if (rc == 1 && cred_check(&o, ct, out, __func__))
		rc = ST_ERR;
	db_end(st, Q_CRED_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* Delete the tenant's key for provider: ST_OK, ST_NOTFOUND when there was none, ST_ERR. */
int store_cred_clear(struct store *st, int64_t tenant_id, const char *provider)
{
	MYSQL_BIND in[2];
	unsigned long l;
	uint64_t n = 0;
	int rc;

	if (provider == NULL)
		return ST_NOTFOUND;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], provider, &l);
	rc = store_change_exec(st, Q_CRED_CLEAR, sql_clear, in, __func__, CHANGE_TENANT, tenant_id,
	                       &n);
	if (rc != ST_OK)
		return ST_ERR;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

/*
 * Call cb for each of the tenant's sealed keys, by provider name; nonzero
 * from cb stops. ST_OK or ST_ERR.
 */
int store_cred_list(struct store *st, int64_t tenant_id, cred_cb cb, void *ctx)
{
	struct sealed_cred c;
	char provider[65];
	struct db_out o;
	MYSQL_BIND in[1];
	size_t ct;
	int rc;

	memset(&c, 0, sizeof(c));
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_str(&o, provider, sizeof(provider));
	ct = cred_bind(&o, &c);
	rc = db_exec(st, Q_CRED_LIST, sql_list, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_CRED_LIST, &o, __func__)) == 1) {
		if (cred_check(&o, ct, &c, __func__)) {
			rc = ST_ERR;
			break;
		}
		if (cb(ctx, provider, &c))
			break;
	}
	db_end(st, Q_CRED_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
