/*
 * tdb_provision.c: a dedicated tenant's database and account: create,
 * drop, migrate, and verify that they reach nothing else (see
 * store/tenantdb.h).
 *
 * DESIGN
 * The database and the account are both named <db_name>_t<id>, from the
 * control database's name (validated [A-Za-z0-9_]) and the tenant's id;
 * DDL names them through sql_ident and every other value through sql_str.
 * The work runs on a connection of the provisioning account (tdb_admin:
 * conf db_admin_user, else the serving account), never on the serving
 * connection, and the account's random password is stored sealed with the
 * master key, bound to the tenant. Provisioning is safe to run again after
 * a failure (IF NOT EXISTS, ALTER USER). This file also owns the list of
 * tables a tenant database holds, which moves and checks walk.
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
#include "store/sql.h"
#include "store/tdb.h"
#include "store/tenantdb.h"

#define TDB_PW_BYTES 24

static const char sql_save[] =
    "UPDATE tenants SET data_db = ?, data_host = ?, data_port = ?, data_user = ?,"
    " data_key_version = ?, data_nonce = ?, data_secret = ?, data_epoch = data_epoch + 1,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_clear[] =
    "UPDATE tenants SET isolation_mode = 'shared', data_db = '', data_host = '', data_port = 0,"
    " data_user = '', data_key_version = 0, data_nonce = NULL, data_secret = NULL,"
    " data_epoch = data_epoch + 1, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_list[] =
    "SELECT id FROM tenants WHERE isolation_mode = 'dedicated' AND (? = 0 OR id = ?) ORDER BY id";

static const char *const content_tables[] = {"sessions", "session_messages", "executions",
                                             "run_steps", NULL};
static const char *const rollup_tables[] = {"usage_daily", "usage_5min", "usage_attr_daily", NULL};
/*
 * Tables of a dedicated database that verify-isolation checks besides the
 * content tables. The response cache is not content: a move does not copy
 * it (the tenant starts with an empty cache on the new side).
 */
static const char *const verified_tables[] = {"sessions",  "session_messages", "executions",
                                              "run_steps", "response_cache",   NULL};

const char *const *store_tdb_content_tables(void)
{
	return content_tables;
}

const char *const *store_tdb_rollup_tables(void)
{
	return rollup_tables;
}

int tdb_known_table(const char *t)
{
	for (size_t i = 0; content_tables[i]; i++)
		if (strcmp(content_tables[i], t) == 0)
			return 1;
	for (size_t i = 0; rollup_tables[i]; i++)
		if (strcmp(rollup_tables[i], t) == 0)
			return 1;
	return strcmp(t, "response_cache") == 0;
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

struct store *tdb_admin(struct store *st, const struct tdb_opts *o, const char *host, int port,
                        const char *db, char *err, size_t errlen)
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
static void account_sql(struct sql *q, const char *user, const char *host)
{
	sql_str(q, user);
	sql_lit(q, "@");
	sql_str(q, host);
}

int store_tdb_provision(struct store *st, int64_t tenant_id, const struct tdb_opts *o, char *err,
                        size_t errlen)
{
	uint8_t raw[TDB_PW_BYTES], nonce[SECRETS_NONCE_LEN], ct[TDB_SECRET_MAX];
	char name[65], grant_name[130], pw[64], dir[512], host[256] = "";
	struct sql q;
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
	sql_init(&q, a);
	sql_lit(&q, "CREATE DATABASE IF NOT EXISTS ");
	sql_ident(&q, name);
	sql_lit(&q, " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; CREATE USER IF NOT EXISTS ");
	account_sql(&q, name, acct_host(o));
	sql_lit(&q, " IDENTIFIED BY ");
	sql_str(&q, pw);
	sql_lit(&q, "; ALTER USER ");
	account_sql(&q, name, acct_host(o));
	sql_lit(&q, " IDENTIFIED BY ");
	sql_str(&q, pw);
	/* in a grant, '_' in a database name is a wildcard: escaped, it names this one only */
	sql_lit(&q, "; GRANT SELECT, INSERT, UPDATE, DELETE ON ");
	sql_ident(&q, grant_name);
	sql_lit(&q, ".* TO ");
	account_sql(&q, name, acct_host(o));
	if (sql_run(a, &q, NULL, NULL, __func__) != ST_OK) {
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
out:
	sodium_memzero(pw, sizeof(pw));
	sql_free(&q);
	db_free(a);
	return rc;
}

int store_tdb_drop(struct store *st, int64_t tenant_id, const struct tdb_opts *o, char *err,
                   size_t errlen)
{
	struct tdb_where w;
	struct sql q;
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
	sql_init(&q, a);
	sql_lit(&q, "DROP DATABASE IF EXISTS ");
	sql_ident(&q, name);
	sql_lit(&q, "; DROP USER IF EXISTS ");
	account_sql(&q, w.user[0] ? w.user : name, acct_host(o));
	if (sql_run(a, &q, NULL, NULL, __func__) != ST_OK) {
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
	sql_free(&q);
	db_free(a);
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
		db_free(a);
	}
	free(ids);
	return rc;
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
                     tdb_finding_cb cb, void *ctx, const struct progress *pg, char *err,
                     size_t errlen)
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
		struct sql q;
		struct tdb_where w;
		struct store *a;
		char detail[400];

		if (tdb_lookup(st, ids[i], &w) != ST_OK) {
			rc = ST_ERR;
			break;
		}
		progress_report(pg, "dedicated", w.db[0] ? w.db : NULL, (int64_t)i + 1,
		                (int64_t)count);
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
		sql_init(&q, a);
		sql_lit(&q,
		        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ");
		sql_str(&q, w.db);
		if (sql_run_i64(a, &q, &exists, __func__) != ST_OK) {
			rc = ST_ERR;
			sql_free(&q);
			db_free(a);
			break;
		}
		if (exists == 0) {
			snprintf(detail, sizeof(detail), "database %s does not exist", w.db);
			cb(ctx, ids[i], "dedicated_db_missing", detail);
		} else {
			/* another tenant's rows in this tenant's database */
			for (size_t t = 0; verified_tables[t]; t++) {
				int64_t foreign = 0;

				sql_reset(&q);
				sql_lit(&q, "SELECT COUNT(*) FROM ");
				sql_ident2(&q, w.db, verified_tables[t]);
				sql_lit(&q, " WHERE tenant_id <> ");
				sql_i64(&q, ids[i]);
				if (sql_run_i64(a, &q, &foreign, __func__) == ST_OK &&
				    foreign > 0) {
					snprintf(detail, sizeof(detail),
					         "%lld row(s) of %s belong to another tenant",
					         (long long)foreign, verified_tables[t]);
					cb(ctx, ids[i], "foreign_rows_in_dedicated_db", detail);
				}
			}
		}
		sql_reset(&q);
		sql_lit(&q, "SHOW GRANTS FOR ");
		account_sql(&q, w.user, host);
		if (sql_run(a, &q, grant_row, &g, __func__) != ST_OK || !g.found) {
			snprintf(detail, sizeof(detail), "account %s@%s does not exist", w.user,
			         host);
			cb(ctx, ids[i], "dedicated_db_missing", detail);
		}
		sodium_memzero(&w, sizeof(w));
		sql_free(&q);
		db_free(a);
	}
	free(ids);
	return rc;
}
