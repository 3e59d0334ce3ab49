/*
 * tdb_route.c: where a request's tenant data lives, and this thread's pool
 * of connections to dedicated tenants' databases (see store/tenantdb.h).
 *
 * DESIGN
 * The request's context (set by key identification, else by one lookup of
 * the tenant's row) says whether the tenant is dedicated and at which
 * data_epoch; store_data_conn answers st itself for a shared tenant and a
 * pooled connection otherwise. The pool holds pool_max connections (LRU,
 * closed after pool_idle_s idle); a connection opened for another epoch is
 * closed rather than used, so a move is seen at the next request. An
 * evicted connection on the same server is switched to the new tenant's
 * account (COM_CHANGE_USER) instead of opening another. The tenant's
 * password is opened with the master key only to connect, and wiped.
 * Pooled handles are plain db.c handles (db_free closes them): routing
 * depends on db.c and nothing else in the store.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/tenantdb.h"

static const char sql_lookup[] =
    "SELECT isolation_mode = 'dedicated', data_epoch, data_db, data_host, data_port, data_user,"
    " data_key_version, data_nonce, data_secret FROM tenants WHERE id = ?";

/* ------------------------------------------------------------ context */

void store_request_begin(struct store *st)
{
	int64_t now;

	if (st == NULL)
		return;
	st->gen++;
	if (st->pool == NULL)
		return;
	now = util_now_us();
	for (int i = 0; i < st->pool_max; i++) {
		struct tdb_conn *c = &st->pool[i];

		if (c->conn && now - c->used_us > (int64_t)st->pool_idle_s * 1000000) {
			db_free(c->conn);
			memset(c, 0, sizeof(*c));
		}
	}
}

/* The context names tenant_id and was set during this request (never in the CLI: gen 0). */
static int ctx_valid(const struct store *st, int64_t tenant_id)
{
	return st->gen != 0 && st->ctx_gen == st->gen && st->ctx_tenant == tenant_id;
}

void store_ctx_set(struct store *st, int64_t tenant_id, int dedicated, int epoch)
{
	if (st == NULL)
		return; /* no connection could be opened: the next store call answers ST_ERR */
	st->ctx_gen = st->gen;
	st->ctx_tenant = tenant_id;
	st->ctx_dedicated = dedicated;
	st->ctx_epoch = epoch;
}

void store_route_set(struct store *st, int64_t tenant_id, int dedicated, int data_epoch)
{
	store_ctx_set(st, tenant_id, dedicated, data_epoch);
}

void store_pool_close(struct store *st)
{
	if (st == NULL || st->pool == NULL)
		return;
	for (int i = 0; i < st->pool_max; i++)
		if (st->pool[i].conn)
			db_free(st->pool[i].conn);
	free(st->pool);
	st->pool = NULL;
}

int tdb_lookup(struct store *st, int64_t tenant_id, struct tdb_where *w)
{
	MYSQL_BIND in[1];
	struct db_out o;
	size_t ci_nonce, ci_secret;
	int rc;

	memset(w, 0, sizeof(*w));
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_int(&o, &w->dedicated);
	db_out_int(&o, &w->epoch);
	db_out_str(&o, w->db, sizeof(w->db));
	db_out_str(&o, w->host, sizeof(w->host));
	db_out_int(&o, &w->port);
	db_out_str(&o, w->user, sizeof(w->user));
	db_out_int(&o, &w->key_version);
	ci_nonce = db_out_blob(&o, w->nonce, sizeof(w->nonce));
	ci_secret = db_out_blob(&o, w->secret, sizeof(w->secret));
	if (db_exec(st, Q_TDB_LOOKUP, sql_lookup, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_TDB_LOOKUP, &o, __func__);
	w->nonce_len = o.null[ci_nonce] ? 0 : o.len[ci_nonce];
	w->secret_len = o.null[ci_secret] ? 0 : o.len[ci_secret];
	db_end(st, Q_TDB_LOOKUP, &o);
	if (rc < 0)
		return ST_ERR;
	if (rc == 0)
		return ST_NOTFOUND;
	return ST_OK;
}

struct store *tdb_handle(const struct store *st, const char *host, int port)
{
	struct store *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (host && host[0]) {
		util_strlcpy(c->host, host, sizeof(c->host));
		c->port = port > 0 ? (unsigned int)port : 3306;
	} else {
		memcpy(c->host, st->host, sizeof(c->host));
		memcpy(c->socket, st->socket, sizeof(c->socket));
		c->port = st->port;
	}
	c->connect_timeout = st->connect_timeout;
	c->pool_max = st->pool_max;
	c->pool_idle_s = st->pool_idle_s;
	return c;
}

/*
 * The tenant's database password into pw (cap bytes), opened with the master
 * key; -1 (logged) when the row is not provisioned or the key cannot open it.
 */
static int tdb_password(int64_t tenant_id, const struct tdb_where *w, char *pw, size_t cap)
{
	if (w->db[0] == '\0' || w->user[0] == '\0' || w->nonce_len != SECRETS_NONCE_LEN ||
	    w->secret_len <= SECRETS_MAC_LEN) {
		log_error("store: tenant %lld is dedicated but its database is not provisioned",
		          (long long)tenant_id);
		return -1;
	}
	if (!secrets_ready()) {
		log_error(
		    "store: tenant %lld has a database of its own and the master key that opens"
		    " its password is not loaded",
		    (long long)tenant_id);
		return -1;
	}
	if (secrets_open(tenant_id, TDB_SEAL_NAME, w->key_version, w->nonce, w->secret,
	                 w->secret_len, pw, cap) != 0) {
		log_error(
		    "store: tenant %lld: its database password does not open with the master key",
		    (long long)tenant_id);
		return -1;
	}
	return 0;
}

/* Connect to the tenant's database with its own account. */
static struct store *tdb_connect(struct store *st, int64_t tenant_id, const struct tdb_where *w)
{
	struct store *c = tdb_handle(st, w->host, w->port);
	char err[256];

	if (c == NULL)
		return NULL;
	c->is_tenant_conn = 1;
	util_strlcpy(c->user, w->user, sizeof(c->user));
	util_strlcpy(c->name, w->db, sizeof(c->name));
	if (tdb_password(tenant_id, w, c->password, sizeof(c->password)) < 0) {
		free(c);
		return NULL;
	}
	if (db_connect(c, err, sizeof(err)) < 0) {
		log_error("store: tenant %lld: %s", (long long)tenant_id, err);
		sodium_memzero(c->password, sizeof(c->password));
		free(c);
		return NULL;
	}
	return c;
}

/*
 * Hand the evicted connection c over to tenant_id when it is on the same
 * server: COM_CHANGE_USER to the tenant's account and database costs one
 * round trip and an authentication, where a new connection costs the
 * handshake too (and a server thread). 0, or -1 (c is then unusable).
 */
static int tdb_reuse(struct store *st, struct store *c, int64_t tenant_id,
                     const struct tdb_where *w)
{
	char pw[sizeof(c->password)];
	int rc;

	if (c->db == NULL || c->in_tx)
		return -1;
	/* the same server: both on the control server, or both on the same other one */
	if (w->host[0] ? strcmp(c->host, w->host) != 0 || c->port != (unsigned int)w->port ||
	                     c->socket[0] != '\0'
	               : strcmp(c->host, st->host) != 0 || strcmp(c->socket, st->socket) != 0 ||
	                     c->port != st->port)
		return -1;
	if (tdb_password(tenant_id, w, pw, sizeof(pw)) < 0)
		return -1;
	rc = db_change_user(c, w->user, pw, w->db);
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

struct store *store_data_conn(struct store *st, int64_t tenant_id)
{
	struct tdb_where w;
	struct tdb_conn *slot = NULL;
	int dedicated, have_w = 0;

	if (st == NULL || st->is_tenant_conn)
		return st;
	if (ctx_valid(st, tenant_id)) {
		dedicated = st->ctx_dedicated;
	} else {
		if (tdb_lookup(st, tenant_id, &w) != ST_OK) {
			log_error("store: cannot tell where tenant %lld's data lives",
			          (long long)tenant_id);
			return NULL;
		}
		have_w = 1;
		dedicated = w.dedicated;
		store_ctx_set(st, tenant_id, w.dedicated, w.epoch);
	}
	if (!dedicated)
		return st;
	if (st->pool == NULL) {
		st->pool = calloc((size_t)st->pool_max, sizeof(*st->pool));
		if (st->pool == NULL)
			return NULL;
	}
	for (int i = 0; i < st->pool_max; i++) {
		struct tdb_conn *c = &st->pool[i];

		if (c->conn && c->tenant_id == tenant_id) {
			if (c->epoch == st->ctx_epoch && c->conn->db != NULL) {
				c->used_us = util_now_us();
				return c->conn;
			}
			db_free(c->conn); /* opened for an older place of the data */
			memset(c, 0, sizeof(*c));
		}
	}
	for (int i = 0; i < st->pool_max; i++) {
		struct tdb_conn *c = &st->pool[i];

		if (c->conn == NULL) {
			slot = c;
			break;
		}
		if (slot == NULL || c->used_us < slot->used_us)
			slot = c;
	}
	if (!have_w && tdb_lookup(st, tenant_id, &w) != ST_OK)
		return NULL;
	if (!w.dedicated || w.epoch != st->ctx_epoch) {
		/* moved since identification: go by the row just read */
		store_ctx_set(st, tenant_id, w.dedicated, w.epoch);
		if (!w.dedicated)
			return st;
	}
	/* the evicted connection serves this tenant when it can, else a new one */
	if (slot->conn && tdb_reuse(st, slot->conn, tenant_id, &w) < 0) {
		db_free(slot->conn);
		slot->conn = NULL;
	}
	if (slot->conn == NULL)
		slot->conn = tdb_connect(st, tenant_id, &w);
	sodium_memzero(&w, sizeof(w));
	if (slot->conn == NULL) {
		memset(slot, 0, sizeof(*slot));
		return NULL;
	}
	slot->tenant_id = tenant_id;
	slot->epoch = st->ctx_epoch;
	slot->used_us = util_now_us();
	return slot->conn;
}
