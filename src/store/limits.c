/*
 * limits.c: limit rows at their scopes and the plans (store_limit*, store_plan_*).
 *
 * DESIGN
 * The hot read is store_limits_applicable: a UNION ALL of primary-key
 * range reads (global; the plan through tenants.plan_id; the tenant; the key
 * through api_keys, joined on the tenant so another tenant's key id matches
 * nothing; the key's project through project_keys: a row naming it, then
 * its rows; the tenant's tags: a row naming each, then their rows), one
 * round trip whatever the scope mix. Precedence and validation
 * live in src/enforce/limits.c; this file only moves text. Writes are single
 * statements (an upsert, a delete), atomic on their own.
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/limits.h"
#include "store/store.h"

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"
#define LIM_COLS(a)                                                                                \
	a ".scope, " a ".scope_id, " a ".name, " a ".value, " a ".updated_by, " TS(a ".updated_"   \
	                                                                             "at")

static const char sql_applicable[] = "SELECT " LIM_COLS(
    "l") " FROM limits l WHERE l.scope = 'global' AND l.scope_id = 0"
         " UNION ALL SELECT " LIM_COLS(
             "l") " FROM tenants t JOIN limits l ON l.scope = 'plan'"
                  " AND l.scope_id = t.plan_id WHERE t.id = ?"
                  " UNION ALL SELECT " LIM_COLS(
                      "l") " FROM limits l WHERE l.scope = 'tenant'"
                           " AND l.scope_id = ?"
                           " UNION ALL SELECT " LIM_COLS(
                               "l") " FROM api_keys k JOIN limits l ON l.scope = 'key'"
                                    " AND l.scope_id = k.id WHERE k.id = ? AND k.tenant_id = ?"
                                    /* the key's project: a row without a name, then the project's
                                       own rows */
                                    " UNION ALL SELECT 'project', pk.project_id, '', '', '', "
                                    "CAST(0 AS SIGNED)"
                                    " FROM project_keys pk WHERE pk.key_id = ? AND pk.tenant_id = ?"
                                    " UNION ALL SELECT " LIM_COLS(
                                        "l") " FROM project_keys pk JOIN limits l"
                                             " ON l.scope = 'project' AND l.scope_id = "
                                             "pk.project_id"
                                             " WHERE pk.key_id = ? AND pk.tenant_id = ?"
                                             /* the tenant's tags with budgets: a row naming each
                                                ("key=value"), then their rows */
                                             " UNION ALL SELECT 'tag', g.id, '', CONCAT(g.tag_key, "
                                             "'=', g.tag_value), '',"
                                             " CAST(0 AS SIGNED) FROM tags g WHERE g.tenant_id = ?"
                                             " UNION ALL SELECT " LIM_COLS(
                                                 "l") " FROM tags g JOIN limits l"
                                                      " ON l.scope = 'tag' AND l.scope_id = g.id "
                                                      "WHERE g.tenant_id = ?";
static const char sql_list[] = "SELECT " LIM_COLS("l") " FROM limits l WHERE l.scope = ?"
                                                       " AND l.scope_id = ? ORDER BY l.name";
static const char sql_set[] =
    "INSERT INTO limits (scope, scope_id, name, value, updated_at, updated_by)"
    " VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), ?) ON DUPLICATE KEY UPDATE value = VALUES(value),"
    " updated_at = VALUES(updated_at), updated_by = VALUES(updated_by)";
static const char sql_unset[] = "DELETE FROM limits WHERE scope = ? AND scope_id = ? AND name = ?";
static const char sql_plan_list[] =
    "SELECT id, name, description, " TS("created_at") " FROM plans ORDER BY id";
static const char sql_plan_create[] = "INSERT INTO plans (name, description, created_at)"
                                      " VALUES (?, ?, UTC_TIMESTAMP(6))";
static const char sql_plan_update[] = "UPDATE plans SET description = ? WHERE id = ?";
static const char sql_plan_get[] =
    "SELECT id, name, description, " TS("created_at") " FROM plans WHERE name = ?";

/* 1 when scope names one of the stored scopes. */
static int limit_scope_ok(const char *scope)
{
	return scope != NULL && (strcmp(scope, "global") == 0 || strcmp(scope, "plan") == 0 ||
	                         strcmp(scope, "tenant") == 0 || strcmp(scope, "key") == 0 ||
	                         strcmp(scope, "project") == 0 || strcmp(scope, "tag") == 0);
}

/* Describe the LIM_COLS columns into o, landing in r. */
static void limit_bind(struct db_out *o, struct limit_row *r)
{
	db_out_init(o);
	db_out_str(o, r->scope, sizeof(r->scope));
	db_out_i64(o, &r->scope_id);
	db_out_str(o, r->name, sizeof(r->name));
	db_out_str(o, r->value, sizeof(r->value));
	db_out_str(o, r->updated_by, sizeof(r->updated_by));
	db_out_i64(o, &r->updated_at);
}

/* Run query q (already bound in in) and call cb for each row. ST_OK or ST_ERR. */
static int limit_rows(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in,
                      limit_row_cb cb, void *ctx, const char *fn)
{
	struct limit_row r;
	struct db_out o;
	int rc;

	memset(&r, 0, sizeof(r));
	limit_bind(&o, &r);
	rc = db_exec(st, q, sql, in, &o, fn);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, fn)) == 1)
		if (cb(ctx, &r))
			break;
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Every row that can apply to (tenant_id, key_id), in one query; see the
 * header. The key's rows come only when the key is the tenant's.
 */
int store_limits_applicable(struct store *st, int64_t tenant_id, int64_t key_id, limit_row_cb cb,
                            void *ctx)
{
	MYSQL_BIND in[10];

	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &tenant_id);
	db_in_i64(&in[2], &key_id);
	db_in_i64(&in[3], &tenant_id);
	db_in_i64(&in[4], &key_id);
	db_in_i64(&in[5], &tenant_id);
	db_in_i64(&in[6], &key_id);
	db_in_i64(&in[7], &tenant_id);
	db_in_i64(&in[8], &tenant_id);
	db_in_i64(&in[9], &tenant_id);
	return limit_rows(st, Q_LIM_APPLICABLE, sql_applicable, in, cb, ctx, __func__);
}

/* The rows set at (scope, scope_id), by name. ST_OK or ST_ERR. */
int store_limits_list(struct store *st, const char *scope, int64_t scope_id, limit_row_cb cb,
                      void *ctx)
{
	MYSQL_BIND in[2];
	unsigned long l;

	if (!limit_scope_ok(scope)) {
		log_error("store: %s: unknown scope", __func__);
		return ST_ERR;
	}
	db_in_str(&in[0], scope, &l);
	db_in_i64(&in[1], &scope_id);
	return limit_rows(st, Q_LIM_LIST, sql_list, in, cb, ctx, __func__);
}

/*
 * What a limit edit at scope invalidates: the tenant's cached facts for its
 * own scope, every tenant's effective limits for the others (a key-scope
 * edit names a key, not its tenant; key limits are edited rarely).
 */
static enum store_change limit_change_kind(const char *scope)
{
	return strcmp(scope, "tenant") == 0 ? CHANGE_TENANT : CHANGE_LIMITS;
}

/*
 * Insert or replace the value of name at (scope, scope_id), stamping who and
 * when. The caller has validated name and value. ST_OK or ST_ERR.
 */
int store_limit_set(struct store *st, const char *scope, int64_t scope_id, const char *name,
                    const char *value, const char *updated_by)
{
	MYSQL_BIND in[5];
	unsigned long l[4];
	const char *by = updated_by ? updated_by : "";

	if (!limit_scope_ok(scope) || name == NULL || value == NULL) {
		log_error("store: %s: missing or unknown scope, name or value", __func__);
		return ST_ERR;
	}
	if (strlen(name) > STORE_LIMIT_NAME_MAX || strlen(value) > STORE_LIMIT_VALUE_MAX) {
		log_error("store: %s: name or value too long", __func__);
		return ST_ERR;
	}
	db_in_str(&in[0], scope, &l[0]);
	db_in_i64(&in[1], &scope_id);
	db_in_str(&in[2], name, &l[1]);
	db_in_str(&in[3], value, &l[2]);
	db_in_strn(&in[4], by, db_utf8_cut(by, 100), &l[3]);
	return store_change_exec(st, Q_LIM_SET, sql_set, in, __func__, limit_change_kind(scope),
	                         scope_id, NULL) == ST_OK
	           ? ST_OK
	           : ST_ERR;
}

/* Remove name at (scope, scope_id). ST_OK, ST_NOTFOUND when not set, ST_ERR. */
int store_limit_unset(struct store *st, const char *scope, int64_t scope_id, const char *name)
{
	MYSQL_BIND in[3];
	unsigned long l[2];
	uint64_t n = 0;

	if (!limit_scope_ok(scope) || name == NULL) {
		log_error("store: %s: missing or unknown scope or name", __func__);
		return ST_ERR;
	}
	db_in_str(&in[0], scope, &l[0]);
	db_in_i64(&in[1], &scope_id);
	db_in_str(&in[2], name, &l[1]);
	if (store_change_exec(st, Q_LIM_UNSET, sql_unset, in, __func__, limit_change_kind(scope),
	                      scope_id, &n) != ST_OK)
		return ST_ERR;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

/* ------------------------------------------------------------------ plans */

/* Describe a plan row into o, landing in p. */
static void plan_bind(struct db_out *o, struct plan *p)
{
	db_out_init(o);
	db_out_i64(o, &p->id);
	db_out_str(o, p->name, sizeof(p->name));
	db_out_str(o, p->description, sizeof(p->description));
	db_out_i64(o, &p->created_at);
}

/* Call cb for each plan in id order; nonzero from cb stops. ST_OK or ST_ERR. */
int store_plan_list(struct store *st, plan_cb cb, void *ctx)
{
	struct plan p;
	struct db_out o;
	int rc;

	memset(&p, 0, sizeof(p));
	plan_bind(&o, &p);
	rc = db_exec(st, Q_PLAN_LIST, sql_plan_list, NULL, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_PLAN_LIST, &o, __func__)) == 1)
		if (cb(ctx, &p))
			break;
	db_end(st, Q_PLAN_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* Create a plan. ST_OK with *id_out, ST_CONFLICT when the name is taken, ST_ERR. */
int store_plan_create(struct store *st, const char *name, const char *description, int64_t *id_out)
{
	MYSQL_BIND in[2];
	unsigned long l[2];
	const char *d = description ? description : "";
	int rc;

	if (name == NULL || strlen(name) > 32 || strlen(d) > 200) {
		log_error("store: %s: missing or too long name or description", __func__);
		return ST_ERR;
	}
	db_in_str(&in[0], name, &l[0]);
	db_in_str(&in[1], d, &l[1]);
	rc = db_exec(st, Q_PLAN_CREATE, sql_plan_create, in, NULL, __func__);
	if (rc != ST_OK)
		return rc == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	if (id_out)
		*id_out = db_insert_id(st, Q_PLAN_CREATE);
	return ST_OK;
}

/* The plan called name. ST_OK, ST_NOTFOUND, ST_ERR. */
int store_plan_get(struct store *st, const char *name, struct plan *out)
{
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	memset(out, 0, sizeof(*out));
	if (name == NULL)
		return ST_NOTFOUND;
	db_in_str(&in[0], name, &l);
	plan_bind(&o, out);
	rc = db_exec(st, Q_PLAN_GET, sql_plan_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_PLAN_GET, &o, __func__);
	db_end(st, Q_PLAN_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_plan_update(struct store *st, int64_t id, const char *description)
{
	MYSQL_BIND in[2];
	unsigned long l;
	uint64_t matched = 0;
	int rc;

	if (description == NULL || strlen(description) > 200) {
		log_error("store: %s: missing or too long description", __func__);
		return ST_ERR;
	}
	memset(in, 0, sizeof(in));
	db_in_str(&in[0], description, &l);
	db_in_i64(&in[1], &id);
	rc = store_change_exec(st, Q_PLAN_UPDATE, sql_plan_update, in, __func__, CHANGE_LIMITS, id,
	                       &matched);
	if (rc != ST_OK)
		return ST_ERR;
	return matched == 0 ? ST_NOTFOUND : ST_OK;
}
