/*
 * keys.c: tenant API keys (store_key_*).
 *
 * DESIGN
 * Only the keyed hash of a key is stored, with a short display prefix.
 * A key's state is computed by the database from its timestamps against
 * UTC_TIMESTAMP(6), the one clock every process and host share, in the same
 * SELECT that reads it: revocation beats everything, then an ended rotation
 * grace period, then expiry. store_key_auth is the hot path of every API
 * request: one indexed join (key hash -> tenant -> plan), one round trip.
 * Rotation locks the old row, inserts the successor under the same name and
 * starts the old key's grace period, all in one transaction.
 */
#include "config.h"

#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/sql.h"
#include "store/store.h"

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"

#define KEY_STATE                                                                                  \
	"CASE WHEN k.revoked_at IS NOT NULL THEN 1"                                                \
	" WHEN k.grace_until IS NOT NULL AND k.grace_until <= UTC_TIMESTAMP(6) THEN 3"             \
	" WHEN k.expires_at IS NOT NULL AND k.expires_at <= UTC_TIMESTAMP(6) THEN 2"               \
	" ELSE 0 END"

#define KEY_COLS                                                                                   \
	"SELECT k.id, k.tenant_id, k.name, k.prefix, " KEY_STATE                                   \
	", " TS("k.created_at") ", " TS("k.expires_at") ", " TS("k.grace_until") ", " TS(          \
	    "k.revoked_at") ", " TS("k.last_used_at") ", COALESCE(k.rotated_to, 0), k.scopes"      \
	                                              " FROM api_keys k"

/* The last column: microseconds until an active key's state changes by the clock (its expiry
 * or the end of its grace period), for caches. */
static const char sql_auth[] =
    "SELECT k.id, k.tenant_id, " KEY_STATE ", t.status, t.slug, p.name,"
    " k.prefix, t.migrating, t.isolation_mode = 'dedicated',"
    " t.data_epoch, t.log_content, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6),"
    " LEAST(COALESCE(k.expires_at, '9999-12-31'), COALESCE(k.grace_until, '9999-12-31'))),"
    " k.scopes"
    " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
    " JOIN plans p ON p.id = t.plan_id WHERE k.key_hash = ?";
static const char sql_insert[] =
    "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, expires_at, scopes, created_at)"
    " VALUES (?, ?, ?, ?, FROM_UNIXTIME(?), ?, UTC_TIMESTAMP(6))";
static const char sql_set_scopes[] =
    "UPDATE api_keys SET scopes = ? WHERE tenant_id = ? AND id = ?";
static const char sql_get[] = KEY_COLS " WHERE k.tenant_id = ? AND k.id = ?";
static const char sql_list[] = KEY_COLS " WHERE k.tenant_id = ? ORDER BY k.id";
static const char sql_revoke[] = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at,"
                                 " UTC_TIMESTAMP(6)) WHERE tenant_id = ? AND id = ?";
static const char sql_lock[] = "SELECT name, scopes FROM api_keys WHERE tenant_id = ? AND id = ?"
                               " AND revoked_at IS NULL FOR UPDATE";
static const char sql_set_grace[] =
    "UPDATE api_keys SET grace_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND,"
    " rotated_to = ? WHERE tenant_id = ? AND id = ?";
static const char sql_touch[] =
    "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP(6), changed_at = changed_at WHERE id = ? AND"
    " (last_used_at IS NULL OR last_used_at < UTC_TIMESTAMP(6) - INTERVAL 60 SECOND)";

/*
 * Look a presented key up by its hash: key, tenant, plan and the key's state
 * in one round trip. ST_OK, ST_NOTFOUND for an unknown hash, ST_ERR.
 */
int store_key_auth(struct store *st, const uint8_t hash[32], struct key_auth *out)
{
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	memset(out, 0, sizeof(*out));
	db_in_blob(&in[0], hash, 32, &l);
	db_out_init(&o);
	db_out_i64(&o, &out->key_id);
	db_out_i64(&o, &out->tenant_id);
	db_out_int(&o, &out->state);
	db_out_int(&o, &out->tenant_status);
	db_out_str(&o, out->tenant_slug, sizeof(out->tenant_slug));
	db_out_str(&o, out->plan, sizeof(out->plan));
	db_out_str(&o, out->key_prefix, sizeof(out->key_prefix));
	db_out_int(&o, &out->migrating);
	db_out_int(&o, &out->dedicated);
	db_out_int(&o, &out->data_epoch);
	db_out_int(&o, &out->log_content);
	db_out_i64(&o, &out->valid_for_us);
	db_out_int(&o, &out->scopes);
	rc = db_exec(st, Q_KEY_AUTH, sql_auth, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_KEY_AUTH, &o, __func__);
	db_end(st, Q_KEY_AUTH, &o);
	if (rc < 0)
		return ST_ERR;
	if (rc == 1) /* where this request's tenant keeps its data (store_data_conn) */
		store_ctx_set(st, out->tenant_id, out->dedicated, out->data_epoch);
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* Insert a key row (shared by insert and rotate); see store_key_insert. */
static int key_insert(struct store *st, int64_t tenant_id, const char *name, const char *prefix,
                      const uint8_t hash[32], int64_t expires_at, int scopes, int64_t *id_out,
                      const char *fn)
{
	MYSQL_BIND in[6];
	unsigned long l[4];
	int scopes_in = scopes;
	int rc;

	if (name == NULL || prefix == NULL) {
		log_error("store: %s: missing name or prefix", fn);
		return ST_ERR;
	}
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], name, &l[0]);
	db_in_str(&in[2], prefix, &l[1]);
	db_in_blob(&in[3], hash, 32, &l[2]);
	db_in_i64_or_null(&in[4], &expires_at);
	db_in_int(&in[5], &scopes_in);
	/* a cached "no such key" for this hash must go */
	rc = store_change_exec(st, Q_KEY_INSERT, sql_insert, in, fn, CHANGE_KEYS, 0, NULL);
	if (rc != ST_OK)
		return rc;
	if (id_out)
		*id_out = db_insert_id(st, Q_KEY_INSERT);
	return ST_OK;
}

/*
 * Store a new key for tenant_id. expires_at is unix seconds, 0 = never.
 * ST_OK with *id_out, ST_NOTFOUND when the tenant does not exist,
 * ST_CONFLICT when the hash is already stored, ST_ERR.
 */
int store_key_insert(struct store *st, int64_t tenant_id, const char *name, const char *prefix,
                     const uint8_t hash[32], int64_t expires_at, int scopes, int64_t *id_out)
{
	if (expires_at < 0) {
		log_error("store: store_key_insert: negative expiry");
		return ST_ERR;
	}
	return key_insert(st, tenant_id, name, prefix, hash, expires_at, scopes, id_out, __func__);
}

/*
 * Replace a key's scopes; caches of the tenant's keys are dropped (a change,
 * like a revocation). ST_OK (also when unchanged), ST_NOTFOUND, ST_ERR.
 */
int store_key_set_scopes(struct store *st, int64_t tenant_id, int64_t key_id, int scopes)
{
	struct api_key k;
	MYSQL_BIND in[3];
	int scopes_in = scopes, rc;

	rc = store_key_get(st, tenant_id, key_id, &k);
	if (rc != ST_OK)
		return rc;
	db_in_int(&in[0], &scopes_in);
	db_in_i64(&in[1], &tenant_id);
	db_in_i64(&in[2], &key_id);
	rc = store_change_exec(st, Q_KEY_SET_SCOPES, sql_set_scopes, in, __func__, CHANGE_TENANT,
	                       tenant_id, NULL);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

/* Describe the KEY_COLS columns into o, landing in k. */
static void key_bind(struct db_out *o, struct api_key *k)
{
	db_out_init(o);
	db_out_i64(o, &k->id);
	db_out_i64(o, &k->tenant_id);
	db_out_str(o, k->name, sizeof(k->name));
	db_out_str(o, k->prefix, sizeof(k->prefix));
	db_out_int(o, &k->state);
	db_out_i64(o, &k->created_at);
	db_out_i64(o, &k->expires_at);
	db_out_i64(o, &k->grace_until);
	db_out_i64(o, &k->revoked_at);
	db_out_i64(o, &k->last_used_at);
	db_out_i64(o, &k->rotated_to);
	db_out_int(o, &k->scopes);
}

/* One of this tenant's keys: ST_OK, ST_NOTFOUND (also for another tenant's key), ST_ERR. */
int store_key_get(struct store *st, int64_t tenant_id, int64_t key_id, struct api_key *out)
{
	struct db_out o;
	MYSQL_BIND in[2];
	int rc;

	memset(out, 0, sizeof(*out));
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &key_id);
	key_bind(&o, out);
	rc = db_exec(st, Q_KEY_GET, sql_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_KEY_GET, &o, __func__);
	db_end(st, Q_KEY_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* Call cb for each of the tenant's keys in id order; nonzero from cb stops. ST_OK or ST_ERR. */
int store_key_list(struct store *st, int64_t tenant_id, api_key_cb cb, void *ctx)
{
	struct api_key k;
	struct db_out o;
	MYSQL_BIND in[1];
	int rc;

	memset(&k, 0, sizeof(k));
	db_in_i64(&in[0], &tenant_id);
	key_bind(&o, &k);
	rc = db_exec(st, Q_KEY_LIST, sql_list, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_KEY_LIST, &o, __func__)) == 1)
		if (cb(ctx, &k))
			break;
	db_end(st, Q_KEY_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Revoke a key now (revoking a revoked key keeps the first time and is
 * ST_OK). ST_NOTFOUND when the tenant has no such key, ST_ERR.
 */
int store_key_revoke(struct store *st, int64_t tenant_id, int64_t key_id)
{
	MYSQL_BIND in[2];
	uint64_t n = 0;
	int rc;

	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &key_id);
	rc = store_change_exec(st, Q_KEY_REVOKE, sql_revoke, in, __func__, CHANGE_TENANT, tenant_id,
	                       &n);
	if (rc != ST_OK)
		return ST_ERR;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

/*
 * Rotate key_id: in one transaction, lock it (it must be this tenant's and
 * not revoked, else ST_NOTFOUND), insert the successor (same name, no expiry)
 * and end the old key's validity grace_seconds from now (0 = now).
 * ST_OK with *new_id_out, ST_CONFLICT when the new hash exists, ST_ERR.
 */
int store_key_rotate(struct store *st, int64_t tenant_id, int64_t key_id, const char *prefix,
                     const uint8_t hash[32], int64_t grace_seconds, int64_t *new_id_out)
{
	char name[101];
	struct db_out o;
	MYSQL_BIND in[4];
	int64_t new_id = 0;
	int rc, scopes = 0;

	if (grace_seconds < 0) {
		log_error("store: store_key_rotate: negative grace period");
		return ST_ERR;
	}
	if (db_begin(st, __func__) != ST_OK)
		return ST_ERR;
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &key_id);
	db_out_init(&o);
	db_out_str(&o, name, sizeof(name));
	db_out_int(&o, &scopes);
	rc = db_exec(st, Q_KEY_LOCK, sql_lock, in, &o, __func__);
	if (rc != ST_OK) {
		rc = ST_ERR;
		goto fail;
	}
	rc = db_fetch(st, Q_KEY_LOCK, &o, __func__);
	db_end(st, Q_KEY_LOCK, &o);
	if (rc != 1) {
		rc = rc == 0 ? ST_NOTFOUND : ST_ERR;
		goto fail;
	}
	rc = key_insert(st, tenant_id, name, prefix, hash, 0, scopes, &new_id, __func__);
	if (rc != ST_OK)
		goto fail;
	db_in_i64(&in[0], &grace_seconds);
	db_in_i64(&in[1], &new_id);
	db_in_i64(&in[2], &tenant_id);
	db_in_i64(&in[3], &key_id);
	rc = db_exec(st, Q_KEY_SET_GRACE, sql_set_grace, in, NULL, __func__);
	if (rc != ST_OK || store_change(st, CHANGE_TENANT, tenant_id) != ST_OK) {
		rc = ST_ERR;
		goto fail;
	}
	if (db_commit(st, __func__) != ST_OK)
		return ST_ERR;
	if (new_id_out)
		*new_id_out = new_id;
	return ST_OK;
fail:
	db_rollback(st);
	return rc;
}

/*
 * Record that a key was used, at most once a minute (the WHERE clause makes
 * extra calls cheap no-ops). ST_OK or ST_ERR; callers may ignore the result.
 */
int store_key_touch(struct store *st, int64_t key_id)
{
	MYSQL_BIND in[1];

	db_in_i64(&in[0], &key_id);
	return db_exec(st, Q_KEY_TOUCH, sql_touch, in, NULL, __func__) == ST_OK ? ST_OK : ST_ERR;
}

int store_keys_touch(struct store *st, const int64_t *ids, size_t n)
{
	struct sql q;
	int rc;

	if (n == 0)
		return ST_OK;
	sql_init(&q, st);
	/* changed_at stays: a use is not a change the caches must hear of (sql/015) */
	sql_lit(&q, "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP(6), changed_at = changed_at"
	            " WHERE id IN (");
	for (size_t i = 0; i < n; i++) {
		sql_comma(&q, i == 0);
		sql_i64(&q, ids[i]);
	}
	sql_lit(&q, ") AND (last_used_at IS NULL OR last_used_at < UTC_TIMESTAMP(6)"
	            " - INTERVAL 60 SECOND)");
	rc = sql_run(st, &q, NULL, NULL, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}
