/*
 * tenantdb.c: dedicated tenant databases (see store/tenantdb.h).
 *
 * Identifiers: a tenant's database and account are named here from the
 * control database's name (validated [A-Za-z0-9_]) and the tenant's numeric
 * id, so they can be put in DDL text between backticks; every other value
 * goes through db_quote.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "store/db.h"
#include "store/tenantdb.h"

/* The AD "provider" of a tenant database password: no provider name has a ':'. */
#define TDB_SEAL_NAME "db:data"
#define TDB_PW_BYTES 24
#define TDB_SECRET_MAX 600

static const char sql_lookup[] =
    "SELECT isolation_mode = 'dedicated', data_epoch, data_db, data_host, data_port, data_user,"
    " data_key_version, data_nonce, data_secret FROM tenants WHERE id = ?";
static const char sql_save[] =
    "UPDATE tenants SET data_db = ?, data_host = ?, data_port = ?, data_user = ?,"
    " data_key_version = ?, data_nonce = ?, data_secret = ?, data_epoch = data_epoch + 1,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_clear[] =
    "UPDATE tenants SET isolation_mode = 'shared', data_db = '', data_host = '', data_port = 0,"
    " data_user = '', data_key_version = 0, data_nonce = NULL, data_secret = NULL,"
    " data_epoch = data_epoch + 1, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_migrating[] =
    "UPDATE tenants SET migrating = ?, updated_at = UTC_TIMESTAMP(6)"
    " WHERE id = ? AND migrating <> ?";
static const char sql_open[] =
    "SELECT COUNT(*) FROM reservations WHERE tenant_id = ? AND state = 'open'";
static const char sql_switch[] =
    "UPDATE tenants SET isolation_mode = IF(? = 1, 'dedicated', 'shared'), migrating = 0,"
    " data_epoch = data_epoch + 1, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_list[] =
    "SELECT id FROM tenants WHERE isolation_mode = 'dedicated' AND (? = 0 OR id = ?) ORDER BY id";

/* Where one tenant's data lives, as its row says. */
struct tdb_where {
	int dedicated, epoch, port, key_version;
	char db[65], host[256], user[81];
	uint8_t nonce[SECRETS_NONCE_LEN];
	uint8_t secret[TDB_SECRET_MAX];
	size_t nonce_len, secret_len;
};

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
			store_close(c->conn);
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
			store_close(st->pool[i].conn);
	free(st->pool);
	st->pool = NULL;
}

/* Read the tenant's row: ST_OK, ST_NOTFOUND, ST_ERR. */
static int tdb_lookup(struct store *st, int64_t tenant_id, struct tdb_where *w)
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

/* A handle like st's (same server unless w says otherwise), not yet connected. */
static struct store *tdb_handle(const struct store *st, const char *host, int port)
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
			store_close(c->conn); /* opened for an older place of the data */
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
		store_close(slot->conn);
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

/* ------------------------------------------------------------ provisioning */

/* "<db_name>_t<id>" into out; -1 when the control name is unusable or too long. */
static int tdb_name(const struct store *st, int64_t tenant_id, char *out, size_t cap)
{
	int n;

	for (const char *p = st->name; *p; p++)
		if (!(((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9')) ||
		      *p == '_'))
			return -1;
	n = snprintf(out, cap, "%s_t%lld", st->name, (long long)tenant_id);
	return n > 0 && (size_t)n < cap && n <= 64 ? 0 : -1;
}

/* A connection with the provisioning account to the given server (no default database). */
static struct store *tdb_admin(struct store *st, const struct tdb_opts *o, const char *host,
                               int port, const char *db, char *err, size_t errlen)
{
	const struct conf *c = o->conf;
	struct store *a = tdb_handle(st, host, port);

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (c->db_admin_user[0]) {
		util_strlcpy(a->user, c->db_admin_user, sizeof(a->user));
		util_strlcpy(a->password, c->db_admin_password, sizeof(a->password));
	} else {
		memcpy(a->user, st->user, sizeof(a->user));
		memcpy(a->password, st->password, sizeof(a->password));
	}
	util_strlcpy(a->name, db ? db : "", sizeof(a->name));
	if (db_connect(a, err, errlen) < 0) {
		sodium_memzero(a->password, sizeof(a->password));
		free(a);
		return NULL;
	}
	return a;
}

/* name with every '_' escaped, as a GRANT's database pattern must be to mean just name. */
static void grant_pattern(const char *name, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = name; *p && o + 3 < cap; p++) {
		if (*p == '_')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o] = '\0';
}

/* The host part of dedicated accounts (conf dedicated_account_host, default any). */
static const char *acct_host(const struct tdb_opts *o)
{
	return o->conf->dedicated_account_host[0] ? o->conf->dedicated_account_host : "%";
}

/* 'user'@'host' for DDL. */
static int account_sql(struct store *a, struct buf *b, const char *user, const char *host)
{
	if (db_quote(a, b, user) < 0 || buf_putc(b, '@') < 0 || db_quote(a, b, host) < 0)
		return -1;
	return 0;
}

int store_tdb_provision(struct store *st, int64_t tenant_id, const struct tdb_opts *o, char *err,
                        size_t errlen)
{
	uint8_t raw[TDB_PW_BYTES], nonce[SECRETS_NONCE_LEN], ct[TDB_SECRET_MAX];
	char name[65], grant_name[130], pw[64], dir[512], host[256] = "";
	struct buf b = BUF_INIT;
	struct store *a = NULL;
	size_t ct_len = 0;
	unsigned long l[5];
	MYSQL_BIND in[8];
	int64_t id = tenant_id;
	int port = 0, version = 1, rc = ST_ERR;

	if (tdb_name(st, tenant_id, name, sizeof(name)) < 0) {
		snprintf(err, errlen, "db_name '%s' cannot name a tenant database ([A-Za-z0-9_])",
		         st->name);
		return ST_ERR;
	}
	grant_pattern(name, grant_name, sizeof(grant_name));
	if (!secrets_ready()) {
		snprintf(err, errlen, "the master key is not loaded");
		return ST_ERR;
	}
	if (o->host && o->host[0]) {
		util_strlcpy(host, o->host, sizeof(host));
		port = o->port;
	}
	a = tdb_admin(st, o, host, port, NULL, err, errlen);
	if (a == NULL)
		return ST_ERR;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(pw, sizeof(pw), raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	buf_printf(&b,
	           "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
	           " CREATE USER IF NOT EXISTS ",
	           name);
	if (account_sql(a, &b, name, acct_host(o)) < 0)
		goto oom;
	buf_puts(&b, " IDENTIFIED BY ");
	if (db_quote(a, &b, pw) < 0)
		goto oom;
	buf_puts(&b, "; ALTER USER ");
	if (account_sql(a, &b, name, acct_host(o)) < 0)
		goto oom;
	buf_puts(&b, " IDENTIFIED BY ");
	if (db_quote(a, &b, pw) < 0)
		goto oom;
	/* in a grant, '_' in a database name is a wildcard: escaped, it names this one only */
	buf_printf(&b, "; GRANT SELECT, INSERT, UPDATE, DELETE ON `%s`.* TO ", grant_name);
	if (account_sql(a, &b, name, acct_host(o)) < 0 || b.data == NULL)
		goto oom;
	if (db_query(a, b.data, b.len, NULL, NULL, __func__) != ST_OK) {
		snprintf(err, errlen, "cannot create database or account %s: %s", name,
		         a->last_error[0] ? a->last_error : "see the log");
		goto out;
	}
	/* the content tables, from the tenant migrations, as the provisioning account */
	db_disconnect(a);
	util_strlcpy(a->name, name, sizeof(a->name));
	if (db_connect(a, err, errlen) < 0)
		goto out;
	snprintf(dir, sizeof(dir), "%s/tenant", o->conf->sql_dir);
	if (store_migrate_dir(a, dir, 1, err, errlen) != ST_OK)
		goto out;
	if (secrets_seal(tenant_id, TDB_SEAL_NAME, version, pw, strlen(pw), nonce, ct, &ct_len) !=
	    0) {
		snprintf(err, errlen, "cannot seal the account's password");
		goto out;
	}
	db_in_str(&in[0], name, &l[0]);
	db_in_str(&in[1], host, &l[1]);
	db_in_int(&in[2], &port);
	db_in_str(&in[3], name, &l[2]);
	db_in_int(&in[4], &version);
	db_in_blob(&in[5], nonce, sizeof(nonce), &l[3]);
	db_in_blob(&in[6], ct, ct_len, &l[4]);
	db_in_i64(&in[7], &id);
	rc = store_change_exec(st, Q_TDB_SAVE, sql_save, in, __func__, CHANGE_TENANT, tenant_id,
	                       NULL);
	if (rc != ST_OK)
		snprintf(err, errlen, "cannot record the tenant's database: %s", st->last_error);
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	sodium_memzero(pw, sizeof(pw));
	buf_free(&b);
	store_close(a);
	return rc;
}

int store_tdb_drop(struct store *st, int64_t tenant_id, const struct tdb_opts *o, char *err,
                   size_t errlen)
{
	struct tdb_where w;
	struct buf b = BUF_INIT;
	struct store *a;
	MYSQL_BIND in[1];
	char name[65];
	int rc = ST_ERR;

	if (tdb_lookup(st, tenant_id, &w) != ST_OK) {
		snprintf(err, errlen, "cannot read tenant %lld", (long long)tenant_id);
		return ST_ERR;
	}
	if (tdb_name(st, tenant_id, name, sizeof(name)) < 0)
		return ST_ERR;
	a = tdb_admin(st, o, w.host, w.port, NULL, err, errlen);
	if (a == NULL)
		return ST_ERR;
	buf_printf(&b, "DROP DATABASE IF EXISTS `%s`; DROP USER IF EXISTS ", name);
	if (account_sql(a, &b, w.user[0] ? w.user : name, acct_host(o)) < 0 || b.data == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (db_query(a, b.data, b.len, NULL, NULL, __func__) != ST_OK) {
		snprintf(err, errlen, "cannot drop %s: %s", name, a->last_error);
		goto out;
	}
	db_in_i64(&in[0], &tenant_id);
	rc = store_change_exec(st, Q_TDB_CLEAR, sql_clear, in, __func__, CHANGE_TENANT, tenant_id,
	                       NULL);
	if (rc != ST_OK)
		snprintf(err, errlen, "cannot clear the tenant's database settings");
out:
	sodium_memzero(&w, sizeof(w));
	buf_free(&b);
	store_close(a);
	return rc;
}

/* The ids of dedicated tenants (all, or only tenant_id) into *ids (malloc'ed). */
static int tdb_list(struct store *st, int64_t tenant_id, int64_t **ids, size_t *n)
{
	MYSQL_BIND in[2];
	struct db_out o;
	int64_t id, *v = NULL;
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, &id);
	if (db_exec(st, Q_TDB_LIST, sql_list, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_TDB_LIST, &o, __func__)) == 1) {
		if (*n == cap) {
			int64_t *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));

			if (nv == NULL) {
				rc = -1;
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 64;
		}
		v[(*n)++] = id;
	}
	db_end(st, Q_TDB_LIST, &o);
	if (rc < 0) {
		free(v);
		*n = 0;
		return ST_ERR;
	}
	*ids = v;
	return ST_OK;
}

int store_tdb_migrate_all(struct store *st, const struct tdb_opts *o, int *n, char *err,
                          size_t errlen)
{
	int64_t *ids;
	size_t count;
	char dir[512];
	int rc = ST_OK;

	*n = 0;
	if (tdb_list(st, 0, &ids, &count) != ST_OK) {
		snprintf(err, errlen, "cannot list dedicated tenants");
		return ST_ERR;
	}
	snprintf(dir, sizeof(dir), "%s/tenant", o->conf->sql_dir);
	for (size_t i = 0; i < count && rc == ST_OK; i++) {
		struct tdb_where w;
		struct store *a;

		if (tdb_lookup(st, ids[i], &w) != ST_OK || w.db[0] == '\0') {
			snprintf(err, errlen, "tenant %lld: no database recorded",
			         (long long)ids[i]);
			rc = ST_ERR;
			break;
		}
		a = tdb_admin(st, o, w.host, w.port, w.db, err, errlen);
		sodium_memzero(&w, sizeof(w));
		if (a == NULL) {
			rc = ST_ERR;
			break;
		}
		if (store_migrate_dir(a, dir, 1, err, errlen) != ST_OK)
			rc = ST_ERR;
		else
			(*n)++;
		store_close(a);
	}
	free(ids);
	return rc;
}

/* ------------------------------------------------------------ moves */

static const char *const content_tables[] = {"sessions", "session_messages", "executions",
                                             "run_steps", NULL};
static const char *const rollup_tables[] = {"usage_daily", "usage_5min", "usage_attr_daily", NULL};

const char *const *store_tdb_content_tables(void)
{
	return content_tables;
}

const char *const *store_tdb_rollup_tables(void)
{
	return rollup_tables;
}

static int known_table(const char *t)
{
	for (size_t i = 0; content_tables[i]; i++)
		if (strcmp(content_tables[i], t) == 0)
			return 1;
	for (size_t i = 0; rollup_tables[i]; i++)
		if (strcmp(rollup_tables[i], t) == 0)
			return 1;
	return 0;
}

int store_tdb_migrating(struct store *st, int64_t tenant_id, int on)
{
	MYSQL_BIND in[3];
	uint64_t n = 0;
	int rc;

	db_in_int(&in[0], &on);
	db_in_i64(&in[1], &tenant_id);
	db_in_int(&in[2], &on);
	rc = store_change_exec(st, Q_TDB_MIGRATING, sql_migrating, in, __func__, CHANGE_TENANT,
	                       tenant_id, &n);
	if (rc != ST_OK)
		return ST_ERR;
	return n == 1 ? ST_OK : ST_CONFLICT;
}

int store_tdb_open_reservations(struct store *st, int64_t tenant_id, int64_t *n)
{
	MYSQL_BIND in[1];
	struct db_out o;
	int rc;

	*n = 0;
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, n);
	if (db_exec(st, Q_TDB_OPEN, sql_open, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_TDB_OPEN, &o, __func__);
	db_end(st, Q_TDB_OPEN, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_tdb_switch(struct store *st, int64_t tenant_id, int dedicated)
{
	MYSQL_BIND in[2];

	db_in_int(&in[0], &dedicated);
	db_in_i64(&in[1], &tenant_id);
	return store_change_exec(st, Q_TDB_SWITCH, sql_switch, in, __func__, CHANGE_TENANT,
	                         tenant_id, NULL) == ST_OK
	           ? ST_OK
	           : ST_ERR;
}

/* Read one row of text results into a buffer (first column). */
struct one_text {
	char v[4096];
	int got;
};

static void one_text_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct one_text *t = ctx;

	(void)set;
	(void)len;
	if (n >= 1 && row[0]) {
		util_strlcpy(t->v, row[0], sizeof(t->v));
		t->got = 1;
	}
}

/*
 * Send the text batch in b on st and read the first column of the last row
 * it returns as a number into *v (0 when none). ST_OK or the db_query code.
 */
static int query_i64(struct store *st, const struct buf *b, int64_t *v, const char *fn)
{
	struct one_text t = {{0}, 0};
	int rc;

	*v = 0;
	if (b->data == NULL)
		return ST_ERR;
	rc = db_query(st, b->data, b->len, one_text_row, &t, fn);
	if (rc == ST_OK && t.got && util_parse_i64(t.v, 0, INT64_MAX, v) < 0)
		return ST_ERR;
	return rc;
}

/*
 * The column list of table in the control database, `a`, `b`, ...;
 * without_seq leaves out executions.seq (the shared table numbers its rows
 * itself).
 */
static int columns_of(struct store *st, const char *table, int without_seq, char *out, size_t cap)
{
	struct one_text t = {{0}, 0};
	struct buf b = BUF_INIT;
	int rc;

	buf_puts(&b, "SELECT GROUP_CONCAT(CONCAT('`', column_name, '`') ORDER BY ordinal_position"
	             " SEPARATOR ', ') FROM information_schema.columns WHERE table_schema = ");
	db_quote(st, &b, st->name);
	buf_puts(&b, " AND table_name = ");
	db_quote(st, &b, table);
	if (without_seq)
		buf_puts(&b, " AND column_name <> 'seq'");
	if (b.data == NULL)
		return -1;
	rc = db_query(st, b.data, b.len, one_text_row, &t, __func__);
	buf_free(&b);
	if (rc != ST_OK || !t.got)
		return -1;
	return util_strlcpy(out, t.v, cap);
}

/* Where the tenant's database is (name, server), from its row; -1 when it has none. */
static int place_of(struct store *st, int64_t tenant_id, struct tdb_where *w)
{
	if (tdb_lookup(st, tenant_id, w) != ST_OK || w->db[0] == '\0')
		return -1;
	sodium_memzero(w->secret, sizeof(w->secret));
	return 0;
}

/* The primary key columns of table, `a`, `b` ..., into out (n of them in *n). */
static int pk_of(struct store *st, const char *table, char *out, size_t cap, size_t *n)
{
	struct one_text t = {{0}, 0};
	struct buf b = BUF_INIT;
	int rc;

	buf_puts(&b, "SELECT CONCAT(COUNT(*), ':', GROUP_CONCAT(CONCAT('`', column_name, '`')"
	             " ORDER BY seq_in_index SEPARATOR ', ')) FROM information_schema.statistics"
	             " WHERE index_name = 'PRIMARY' AND table_schema = ");
	db_quote(st, &b, st->name);
	buf_puts(&b, " AND table_name = ");
	db_quote(st, &b, table);
	if (b.data == NULL)
		return -1;
	rc = db_query(st, b.data, b.len, one_text_row, &t, __func__);
	buf_free(&b);
	if (rc != ST_OK || !t.got || strchr(t.v, ':') == NULL)
		return -1;
	*n = strtoul(t.v, NULL, 10);
	if (*n == 0 || *n > 6)
		return -1;
	return util_strlcpy(out, strchr(t.v, ':') + 1, cap);
}

/* A page of rows read from one server, written to the other (store_tdb_copy across servers). */
struct across {
	struct store *src, *dst;
	const char *ddb, *table, *cols;
	size_t ncols, npk;
	struct buf ins; /* "(v, v, ...), (...)" waiting to be inserted */
	char *last[6];  /* key of the last row read (malloc'ed) */
	int64_t page_rows, added;
	int failed;
};

#define ACROSS_PAGE 500
#define ACROSS_FLUSH (4 << 20) /* bytes of VALUES per INSERT, well under max_allowed_packet */

static int across_flush(struct across *x)
{
	struct buf q = BUF_INIT;
	int64_t n = 0;
	int rc;

	if (x->ins.len == 0)
		return 0;
	buf_printf(&q, "INSERT IGNORE INTO `%s`.`%s` (%s) VALUES %s; SELECT ROW_COUNT()", x->ddb,
	           x->table, x->cols, x->ins.data);
	rc = query_i64(x->dst, &q, &n, __func__);
	buf_free(&q);
	buf_reset(&x->ins);
	if (rc != ST_OK)
		return -1;
	x->added += n;
	return 0;
}

static void across_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct across *x = ctx;

	(void)set;
	(void)len;
	if (x->failed || n != x->ncols + x->npk)
		return;
	buf_puts(&x->ins, x->ins.len ? ", (" : "(");
	for (size_t i = 0; i < x->ncols; i++) {
		if (i)
			buf_puts(&x->ins, ", ");
		if (row[i] == NULL)
			buf_puts(&x->ins, "NULL");
		else if (db_quote(x->dst, &x->ins, row[i]) < 0)
			x->failed = 1;
	}
	buf_putc(&x->ins, ')');
	for (size_t i = 0; i < x->npk; i++) {
		free(x->last[i]);
		x->last[i] = strdup(row[x->ncols + i] ? row[x->ncols + i] : "");
		if (x->last[i] == NULL)
			x->failed = 1;
	}
	x->page_rows++;
	if (x->ins.data == NULL || (x->ins.len > ACROSS_FLUSH && across_flush(x) < 0))
		x->failed = 1;
}

/*
 * Copy tenant_id's rows of table from src (database sdb) to dst (database
 * ddb) through this process, in keyset pages of the primary key: the two
 * databases are on different servers.
 */
static int copy_across(struct store *st, struct store *src, const char *sdb, struct store *dst,
                       const char *ddb, const char *table, const char *cols, int64_t tenant_id,
                       int64_t *rows, char *err, size_t errlen)
{
	struct across x;
	struct buf q = BUF_INIT;
	char pk[512];
	size_t ncols = 1;
	int rc = ST_OK;

	memset(&x, 0, sizeof(x));
	if (pk_of(st, table, pk, sizeof(pk), &x.npk) < 0) {
		snprintf(err, errlen, "cannot read the primary key of %s", table);
		return ST_ERR;
	}
	for (const char *p = cols; *p; p++)
		ncols += *p == ',';
	x.src = src;
	x.dst = dst;
	x.ddb = ddb;
	x.table = table;
	x.cols = cols;
	x.ncols = ncols;
	for (;;) {
		buf_reset(&q);
		buf_printf(&q, "SELECT %s, %s FROM `%s`.`%s` WHERE tenant_id = %lld", cols, pk, sdb,
		           table, (long long)tenant_id);
		if (x.page_rows > 0 || x.last[0]) {
			buf_printf(&q, " AND (%s) > (", pk);
			for (size_t i = 0; i < x.npk; i++) {
				if (i)
					buf_puts(&q, ", ");
				db_quote(src, &q, x.last[i]);
			}
			buf_putc(&q, ')');
		}
		buf_printf(&q, " ORDER BY %s LIMIT %d", pk, ACROSS_PAGE);
		x.page_rows = 0;
		if (q.data == NULL ||
		    db_query(src, q.data, q.len, across_row, &x, __func__) != ST_OK || x.failed ||
		    across_flush(&x) < 0) {
			snprintf(err, errlen, "copying %s across servers failed: %s", table,
			         src->last_error[0] ? src->last_error : dst->last_error);
			rc = ST_ERR;
			break;
		}
		if (x.page_rows < ACROSS_PAGE)
			break;
	}
	*rows = x.added;
	for (size_t i = 0; i < 6; i++)
		free(x.last[i]);
	buf_free(&x.ins);
	buf_free(&q);
	return rc;
}

/* Provisioning connections to both sides: the control database and the tenant's. */
static int both_sides(struct store *st, const struct tdb_opts *o, const struct tdb_where *w,
                      struct store **ctl, struct store **ten, char *err, size_t errlen)
{
	*ctl = tdb_admin(st, o, NULL, 0, st->name, err, errlen);
	*ten = *ctl ? tdb_admin(st, o, w->host, w->port, w->db, err, errlen) : NULL;
	if (*ten == NULL) {
		store_close(*ctl);
		*ctl = NULL;
		return -1;
	}
	return 0;
}

int store_tdb_copy(struct store *st, int64_t tenant_id, const struct tdb_opts *o, const char *table,
                   int to_dedicated, int64_t *rows, char *err, size_t errlen)
{
	char cols[4096];
	struct tdb_where w;
	struct buf b = BUF_INIT;
	struct store *a, *ctl, *ten;
	int rc;

	*rows = 0;
	if (!known_table(table)) {
		snprintf(err, errlen, "%s is not a tenant table", table);
		return ST_ERR;
	}
	if (place_of(st, tenant_id, &w) < 0) {
		snprintf(err, errlen, "the tenant has no database");
		return ST_ERR;
	}
	/*
	 * executions.seq is numbered afresh on the receiving side, in the order
	 * of the source (ORDER BY seq): it never leaves the store, and a late row
	 * copied after the switch must not collide with one numbered there since.
	 */
	if (columns_of(st, table, strcmp(table, "executions") == 0, cols, sizeof(cols)) < 0) {
		snprintf(err, errlen, "cannot read the columns of %s", table);
		return ST_ERR;
	}
	if (w.host[0]) { /* another server: through this process */
		if (both_sides(st, o, &w, &ctl, &ten, err, errlen) < 0)
			return ST_ERR;
		rc = to_dedicated ? copy_across(st, ctl, st->name, ten, w.db, table, cols,
		                                tenant_id, rows, err, errlen)
		                  : copy_across(st, ten, w.db, ctl, st->name, table, cols,
		                                tenant_id, rows, err, errlen);
		store_close(ctl);
		store_close(ten);
		return rc;
	}
	a = tdb_admin(st, o, NULL, 0, NULL, err, errlen);
	if (a == NULL)
		return ST_ERR;
	/*
	 * The same server: one INSERT ... SELECT. READ COMMITTED: the copy takes
	 * no shared locks on the source rows, so other tenants' writes next to
	 * this tenant's range never wait for it. Rows already on the other side
	 * (a copy run again) are skipped.
	 */
	buf_printf(&b,
	           "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;"
	           " INSERT IGNORE INTO `%s`.`%s` (%s) SELECT %s FROM `%s`.`%s`"
	           " WHERE tenant_id = %lld",
	           to_dedicated ? w.db : st->name, table, cols, cols,
	           to_dedicated ? st->name : w.db, table, (long long)tenant_id);
	if (strcmp(table, "executions") == 0)
		buf_puts(&b, " ORDER BY seq");
	buf_puts(&b, "; SELECT ROW_COUNT()");
	rc = query_i64(a, &b, rows, __func__);
	if (rc != ST_OK)
		snprintf(err, errlen, "copying %s failed: %s", table, a->last_error);
	buf_free(&b);
	store_close(a);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

struct check_read {
	int64_t rows;
	uint64_t sum;
	int got;
};

static void check_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct check_read *c = ctx;
	int64_t v;

	(void)set;
	(void)len;
	if (n >= 2 && row[0] && row[1]) {
		util_parse_i64(row[0], 0, INT64_MAX, &c->rows);
		if (util_parse_i64(row[1], 0, INT64_MAX, &v) == 0)
			c->sum = (uint64_t)v;
		c->got = 1;
	}
}

/* COUNT and SUM(CRC32) of the tenant's rows of table in database db. */
static int table_sum(struct store *a, const char *db, const char *table, const char *cols,
                     int64_t tenant_id, int64_t *rows, uint64_t *sum)
{
	struct check_read c = {0, 0, 0};
	struct buf b = BUF_INIT;
	int rc;

	buf_printf(&b,
	           "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', %s))), 0) FROM `%s`.`%s`"
	           " WHERE tenant_id = %lld",
	           cols, db, table, (long long)tenant_id);
	rc = b.data ? db_query(a, b.data, b.len, check_row, &c, __func__) : ST_ERR;
	buf_free(&b);
	if (rc != ST_OK || !c.got)
		return ST_ERR;
	*rows = c.rows;
	*sum = c.sum;
	return ST_OK;
}

int store_tdb_check(struct store *st, int64_t tenant_id, const struct tdb_opts *o, int to_dedicated,
                    struct tdb_table_check *c, char *err, size_t errlen)
{
	char cols[4096], sumcols[8192];
	struct tdb_where w;
	struct store *ctl, *ten;
	int64_t crows = 0, trows = 0;
	uint64_t csum = 0, tsum = 0;
	int rc;

	if (!known_table(c->table) || place_of(st, tenant_id, &w) < 0) {
		snprintf(err, errlen, "cannot check %s: unknown table or no tenant database",
		         c->table);
		return ST_ERR;
	}
	if (columns_of(st, c->table, strcmp(c->table, "executions") == 0, cols, sizeof(cols)) < 0) {
		snprintf(err, errlen, "cannot read the columns of %s", c->table);
		return ST_ERR;
	}
	/* NULL and '' must not checksum alike: every column as IFNULL(col, '\N') */
	{
		size_t o2 = 0;
		char copy[4096], *save = NULL, *tok;

		util_strlcpy(copy, cols, sizeof(copy));
		sumcols[0] = '\0';
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			o2 += (size_t)snprintf(sumcols + o2, sizeof(sumcols) - o2,
			                       "%sIFNULL(%s, '\\\\N')", o2 ? ", " : "", tok);
			if (o2 >= sizeof(sumcols)) {
				snprintf(err, errlen, "too many columns in %s", c->table);
				return ST_ERR;
			}
		}
	}
	if (both_sides(st, o, &w, &ctl, &ten, err, errlen) < 0)
		return ST_ERR;
	rc = table_sum(ctl, st->name, c->table, sumcols, tenant_id, &crows, &csum);
	if (rc == ST_OK)
		rc = table_sum(ten, w.db, c->table, sumcols, tenant_id, &trows, &tsum);
	if (rc != ST_OK)
		snprintf(err, errlen, "cannot checksum %s: %s", c->table,
		         ctl->last_error[0] ? ctl->last_error : ten->last_error);
	c->src_rows = to_dedicated ? crows : trows;
	c->src_sum = to_dedicated ? csum : tsum;
	c->dst_rows = to_dedicated ? trows : crows;
	c->dst_sum = to_dedicated ? tsum : csum;
	store_close(ctl);
	store_close(ten);
	return rc;
}

int store_tdb_delete_shared(struct store *st, int64_t tenant_id, const char *table, int batch,
                            int64_t *rows)
{
	struct buf b = BUF_INIT;
	int rc = ST_OK;

	*rows = 0;
	if (!known_table(table))
		return ST_ERR;
	for (;;) {
		int64_t n = 0;

		buf_reset(&b);
		buf_printf(&b,
		           "DELETE FROM `%s` WHERE tenant_id = %lld LIMIT %d; SELECT ROW_COUNT()",
		           table, (long long)tenant_id, batch > 0 ? batch : 1000);
		rc = query_i64(st, &b, &n, __func__);
		if (rc != ST_OK)
			break;
		*rows += n;
		if (n == 0)
			break;
	}
	buf_free(&b);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

/* ------------------------------------------------------------ checks */

/*
 * A grant line is fine when it is USAGE on *.*, or a subset of SELECT,
 * INSERT, UPDATE, DELETE on the tenant's own database (escaped or not),
 * without GRANT OPTION. Anything else reaches beyond: another database, a
 * table elsewhere, a global privilege, DDL, a role.
 */
static int grant_ok(const char *line, const char *db)
{
	static const char *const allowed[] = {"SELECT", "INSERT", "UPDATE", "DELETE"};
	char privs[256], obj[160], own[80], own_esc[160];
	const char *on, *to;
	char *save = NULL, *tok;

	if (strncmp(line, "GRANT ", 6) != 0 || strstr(line, "WITH GRANT OPTION") != NULL)
		return 0;
	on = strstr(line, " ON ");
	to = on ? strstr(on + 4, " TO ") : NULL;
	if (on == NULL || to == NULL || (size_t)(on - line - 6) >= sizeof(privs) ||
	    (size_t)(to - on - 4) >= sizeof(obj))
		return 0;
	memcpy(privs, line + 6, (size_t)(on - line - 6));
	privs[on - line - 6] = '\0';
	memcpy(obj, on + 4, (size_t)(to - on - 4));
	obj[to - on - 4] = '\0';
	if (strcmp(obj, "*.*") == 0)
		return strcmp(privs, "USAGE") == 0;
	snprintf(own, sizeof(own), "`%s`.*", db);
	grant_pattern(own, own_esc, sizeof(own_esc));
	if (strcmp(obj, own) != 0 && strcmp(obj, own_esc) != 0)
		return 0;
	for (tok = strtok_r(privs, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		while (*tok == ' ')
			tok++;
		for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			if (strcmp(tok, allowed[i]) == 0)
				break;
		if (i == sizeof(allowed) / sizeof(allowed[0]))
			return 0;
	}
	return 1;
}

struct grants_read {
	tdb_finding_cb cb;
	void *ctx;
	int64_t tenant_id;
	const char *db;
	int found;
};

static void grant_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct grants_read *g = ctx;

	(void)set;
	(void)len;
	if (n < 1 || row[0] == NULL)
		return;
	g->found = 1;
	if (!grant_ok(row[0], g->db))
		g->cb(g->ctx, g->tenant_id, "dedicated_grants_beyond_db", row[0]);
}

int store_tdb_verify(struct store *st, int64_t tenant_id, const struct tdb_opts *o,
                     tdb_finding_cb cb, void *ctx, char *err, size_t errlen)
{
	const char *host = acct_host(o);
	int64_t *ids;
	size_t count;
	int rc = ST_OK;

	if (tdb_list(st, tenant_id, &ids, &count) != ST_OK) {
		snprintf(err, errlen, "cannot list dedicated tenants");
		return ST_ERR;
	}
	for (size_t i = 0; i < count; i++) {
		struct grants_read g = {cb, ctx, ids[i], NULL, 0};
		int64_t exists = 0;
		struct buf b = BUF_INIT;
		struct tdb_where w;
		struct store *a;
		char detail[400];

		if (tdb_lookup(st, ids[i], &w) != ST_OK) {
			rc = ST_ERR;
			break;
		}
		if (w.db[0] == '\0' || w.user[0] == '\0') {
			cb(ctx, ids[i], "dedicated_db_missing",
			   "no database recorded for the tenant");
			continue;
		}
		a = tdb_admin(st, o, w.host, w.port, NULL, err, errlen);
		if (a == NULL) {
			rc = ST_ERR;
			break;
		}
		g.db = w.db;
		buf_puts(&b,
		         "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ");
		db_quote(a, &b, w.db);
		if (query_i64(a, &b, &exists, __func__) != ST_OK) {
			rc = ST_ERR;
			buf_free(&b);
			store_close(a);
			break;
		}
		if (exists == 0) {
			snprintf(detail, sizeof(detail), "database %s does not exist", w.db);
			cb(ctx, ids[i], "dedicated_db_missing", detail);
		} else {
			/* another tenant's rows in this tenant's database */
			for (size_t t = 0; content_tables[t]; t++) {
				int64_t foreign = 0;

				buf_reset(&b);
				buf_printf(&b,
				           "SELECT COUNT(*) FROM `%s`.`%s` WHERE tenant_id <> %lld",
				           w.db, content_tables[t], (long long)ids[i]);
				if (query_i64(a, &b, &foreign, __func__) == ST_OK && foreign > 0) {
					snprintf(detail, sizeof(detail),
					         "%lld row(s) of %s belong to another tenant",
					         (long long)foreign, content_tables[t]);
					cb(ctx, ids[i], "foreign_rows_in_dedicated_db", detail);
				}
			}
		}
		buf_reset(&b);
		buf_puts(&b, "SHOW GRANTS FOR ");
		account_sql(a, &b, w.user, host);
		if (b.data == NULL ||
		    db_query(a, b.data, b.len, grant_row, &g, __func__) != ST_OK || !g.found) {
			snprintf(detail, sizeof(detail), "account %s@%s does not exist", w.user,
			         host);
			cb(ctx, ids[i], "dedicated_db_missing", detail);
		}
		sodium_memzero(&w, sizeof(w));
		buf_free(&b);
		store_close(a);
	}
	free(ids);
	return rc;
}
