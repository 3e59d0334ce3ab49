/*
 * credentials.c: provider keys, sealed: a tenant's own (store_cred_*) and a
 * project's own (store_pcred_*).
 *
 * DESIGN
 * The store only ever sees the sealed form (nonce, ciphertext, key version)
 * and the last four characters for display; sealing and opening happen in
 * crypto/. One row per (tenant, provider) in provider_credentials, one per
 * (project, provider) in project_provider_credentials: a put replaces the
 * previous key in place with an upsert, so there is never a moment with two
 * or none. The two tables are the two shapes of each statement (CRED_TENANT,
 * CRED_PROJECT) and one code path: a project's statements bind the project
 * after the tenant and always filter by both, so another tenant's project
 * id finds nothing. Every write is a change of the tenant (the caches of
 * exec/execute.c drop the old key).
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"

#define CRED_MIN_CT 16 /* the Poly1305 tag alone */

enum { CRED_TENANT, CRED_PROJECT };

#define CRED_COLS                                                                                  \
	"key_version, nonce, ciphertext, last4, CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED)"
#define CRED_UPSERT                                                                                \
	" ON DUPLICATE KEY UPDATE key_version = VALUES(key_version), nonce = VALUES(nonce),"       \
	" ciphertext = VALUES(ciphertext), last4 = VALUES(last4), updated_at = VALUES(updated_at)"

/* The statements of each shape; a project's bind (tenant, project, ...), a tenant's (tenant, ...).
 */
static const struct cred_sql {
	const char *put, *get, *clear, *list;
} cred_sql[] = {
    [CRED_TENANT] = {"INSERT INTO provider_credentials (tenant_id, provider, key_version, nonce,"
                     " ciphertext, last4, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?,"
                     " UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))" CRED_UPSERT,
                     "SELECT " CRED_COLS " FROM provider_credentials WHERE tenant_id = ? AND"
                     " provider = ?",
                     "DELETE FROM provider_credentials WHERE tenant_id = ? AND provider = ?",
                     "SELECT provider, " CRED_COLS " FROM provider_credentials WHERE tenant_id ="
                     " ? ORDER BY provider"},
    [CRED_PROJECT] = {"INSERT INTO project_provider_credentials (tenant_id, project_id, provider,"
                      " key_version, nonce, ciphertext, last4, created_at, updated_at) VALUES"
                      " (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))" CRED_UPSERT,
                      "SELECT " CRED_COLS " FROM project_provider_credentials WHERE tenant_id ="
                      " ? AND project_id = ? AND provider = ?",
                      "DELETE FROM project_provider_credentials WHERE tenant_id = ? AND"
                      " project_id = ? AND provider = ?",
                      "SELECT provider, " CRED_COLS " FROM project_provider_credentials WHERE"
                      " tenant_id = ? AND project_id = ? ORDER BY provider"},
};

/* Bind the owner (tenant, and project when nonzero) into in; the number of slots used. */
static size_t cred_owner(MYSQL_BIND *in, const int64_t *tenant_id, const int64_t *project_id)
{
	db_in_i64(&in[0], tenant_id);
	if (*project_id == 0)
		return 1;
	db_in_i64(&in[1], project_id);
	return 2;
}

/* Insert or replace the owner's sealed key for provider. ST_OK or ST_ERR (also when malformed). */
static int cred_put(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider,
                    const struct sealed_cred *c)
{
	int shape = project_id ? CRED_PROJECT : CRED_TENANT;
	MYSQL_BIND in[7];
	unsigned long l[4];
	size_t n;

	if (provider == NULL || *provider == '\0' || c->ct_len < CRED_MIN_CT ||
	    c->ct_len > sizeof(c->ct) || strnlen(c->last4, sizeof(c->last4)) >= sizeof(c->last4)) {
		log_error("store: store_cred_put: malformed credential");
		return ST_ERR;
	}
	n = cred_owner(in, &tenant_id, &project_id);
	db_in_str(&in[n], provider, &l[0]);
	db_in_int(&in[n + 1], &c->version);
	db_in_blob(&in[n + 2], c->nonce, sizeof(c->nonce), &l[1]);
	db_in_blob(&in[n + 3], c->ct, c->ct_len, &l[2]);
	db_in_str(&in[n + 4], c->last4, &l[3]);
	return store_change_exec(st, db_variant(Q_CRED_PUT, shape), cred_sql[shape].put, in,
	                         __func__, CHANGE_TENANT, tenant_id, NULL);
}

int store_cred_put(struct store *st, int64_t tenant_id, const char *provider,
                   const struct sealed_cred *c)
{
	return cred_put(st, tenant_id, 0, provider, c);
}

int store_pcred_put(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider,
                    const struct sealed_cred *c)
{
	return project_id > 0 ? cred_put(st, tenant_id, project_id, provider, c) : ST_ERR;
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

/* The owner's sealed key for provider: ST_OK, ST_NOTFOUND, ST_ERR. */
static int cred_get(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider,
                    struct sealed_cred *out)
{
	int shape = project_id ? CRED_PROJECT : CRED_TENANT;
	enum db_q q = db_variant(Q_CRED_GET, shape);
	struct db_out o;
	MYSQL_BIND in[3];
	unsigned long l;
	size_t ct, n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (provider == NULL)
		return ST_NOTFOUND;
	n = cred_owner(in, &tenant_id, &project_id);
	db_in_str(&in[n], provider, &l);
	db_out_init(&o);
	ct = cred_bind(&o, out);
	rc = db_exec(st, q, cred_sql[shape].get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, q, &o, __func__);
	if (rc == 1 && cred_check(&o, ct, out, __func__))
		rc = ST_ERR;
	db_end(st, q, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_cred_get(struct store *st, int64_t tenant_id, const char *provider,
                   struct sealed_cred *out)
{
	return cred_get(st, tenant_id, 0, provider, out);
}

int store_pcred_get(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider,
                    struct sealed_cred *out)
{
	if (project_id <= 0) {
		memset(out, 0, sizeof(*out));
		return ST_NOTFOUND;
	}
	return cred_get(st, tenant_id, project_id, provider, out);
}

/* Delete the owner's key for provider: ST_OK, ST_NOTFOUND when there was none, ST_ERR. */
static int cred_clear(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider)
{
	int shape = project_id ? CRED_PROJECT : CRED_TENANT;
	MYSQL_BIND in[3];
	unsigned long l;
	uint64_t k = 0;
	size_t n;
	int rc;

	if (provider == NULL)
		return ST_NOTFOUND;
	n = cred_owner(in, &tenant_id, &project_id);
	db_in_str(&in[n], provider, &l);
	rc = store_change_exec(st, db_variant(Q_CRED_CLEAR, shape), cred_sql[shape].clear, in,
	                       __func__, CHANGE_TENANT, tenant_id, &k);
	if (rc != ST_OK)
		return ST_ERR;
	return k == 0 ? ST_NOTFOUND : ST_OK;
}

int store_cred_clear(struct store *st, int64_t tenant_id, const char *provider)
{
	return cred_clear(st, tenant_id, 0, provider);
}

int store_pcred_clear(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider)
{
	return project_id > 0 ? cred_clear(st, tenant_id, project_id, provider) : ST_NOTFOUND;
}

/* Call cb for each of the owner's sealed keys, by provider; nonzero from cb stops. */
static int cred_list(struct store *st, int64_t tenant_id, int64_t project_id, cred_cb cb, void *ctx)
{
	int shape = project_id ? CRED_PROJECT : CRED_TENANT;
	enum db_q q = db_variant(Q_CRED_LIST, shape);
	struct sealed_cred c;
	char provider[65]; /* an instance, or "<instance>#<pool key>" (027_routes) */
	struct db_out o;
	MYSQL_BIND in[2];
	size_t ct;
	int rc;

	memset(&c, 0, sizeof(c));
	cred_owner(in, &tenant_id, &project_id);
	db_out_init(&o);
	db_out_str(&o, provider, sizeof(provider));
	ct = cred_bind(&o, &c);
	rc = db_exec(st, q, cred_sql[shape].list, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1) {
		if (cred_check(&o, ct, &c, __func__)) {
			rc = ST_ERR;
			break;
		}
		if (cb(ctx, provider, &c))
			break;
	}
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Call cb for each of the tenant's sealed keys, by provider name; nonzero
 * from cb stops. ST_OK or ST_ERR.
 */
int store_cred_list(struct store *st, int64_t tenant_id, cred_cb cb, void *ctx)
{
	return cred_list(st, tenant_id, 0, cb, ctx);
}

int store_pcred_list(struct store *st, int64_t tenant_id, int64_t project_id, cred_cb cb, void *ctx)
{
	return project_id > 0 ? cred_list(st, tenant_id, project_id, cb, ctx) : ST_OK;
}
