/*
 * routes.c: routes of plans and tenants (see routes.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/routes.h"

#define ROUTE_COLS "owner_kind, name, targets, CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED)"

/* A tenant's own route hides its plan's: 'tenant' sorts after 'plan' in the ENUM. */
static const char sql_find[] =
    "SELECT " ROUTE_COLS " FROM routes WHERE name = ? AND ((owner_kind = 'tenant' AND"
    " owner_id = ?) OR (owner_kind = 'plan' AND owner_id = (SELECT id FROM plans WHERE"
    " name = ?))) ORDER BY owner_kind DESC LIMIT 1";
static const char sql_put_tenant[] =
    "INSERT INTO routes (owner_kind, owner_id, name, targets, created_at, updated_at)"
    " VALUES ('tenant', ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE"
    " targets = VALUES(targets), updated_at = VALUES(updated_at)";
static const char sql_put_plan[] =
    "INSERT INTO routes (owner_kind, owner_id, name, targets, created_at, updated_at)"
    " SELECT 'plan', id, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) FROM plans WHERE name = ?"
    " ON DUPLICATE KEY UPDATE targets = VALUES(targets), updated_at = VALUES(updated_at)";
static const char sql_del_tenant[] =
    "DELETE FROM routes WHERE owner_kind = 'tenant' AND owner_id = ? AND name = ?";
static const char sql_del_plan[] =
    "DELETE FROM routes WHERE owner_kind = 'plan' AND name = ? AND owner_id ="
    " (SELECT id FROM plans WHERE name = ?)";
static const char sql_list_tenant[] = "SELECT " ROUTE_COLS " FROM routes WHERE owner_kind ="
                                      " 'tenant' AND owner_id = ? ORDER BY name";
static const char sql_list_plan[] =
    "SELECT " ROUTE_COLS " FROM routes WHERE owner_kind = 'plan' AND owner_id ="
    " (SELECT id FROM plans WHERE name = ?) ORDER BY name";
static const char sql_purge[] = "DELETE FROM routes WHERE owner_kind = 'tenant' AND owner_id = ?";

/* Describe the ROUTE_COLS columns into o, landing in row (kind into kind). */
static void route_bind(struct db_out *o, struct route_row *row, char *kind, size_t cap)
{
	db_out_init(o);
	db_out_str(o, kind, cap);
	db_out_str(o, row->name, sizeof(row->name));
	db_out_str(o, row->targets, sizeof(row->targets));
	db_out_i64(o, &row->updated_at);
}

int store_route_find(struct store *st, int64_t tenant_id, const char *plan, const char *name,
                     struct route_row *out)
{
	struct db_out o;
	MYSQL_BIND in[3];
	unsigned long l[2];
	char kind[8];
	int rc;

	memset(out, 0, sizeof(*out));
	db_in_str(&in[0], name, &l[0]);
	db_in_i64(&in[1], &tenant_id);
	db_in_str(&in[2], plan, &l[1]);
	route_bind(&o, out, kind, sizeof(kind));
	if (db_exec(st, Q_ROUTE_FIND, sql_find, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ROUTE_FIND, &o, __func__);
	db_end(st, Q_ROUTE_FIND, &o);
	if (rc < 0)
		return ST_ERR;
	out->owner = strcmp(kind, "tenant") == 0 ? ROUTE_TENANT : ROUTE_PLAN;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_route_put(struct store *st, enum route_owner owner, int64_t tenant_id, const char *plan,
                    const char *name, const char *targets)
{
	MYSQL_BIND in[3];
	unsigned long l[3];
	uint64_t n = 0;

	if (owner == ROUTE_TENANT) {
		db_in_i64(&in[0], &tenant_id);
		db_in_str(&in[1], name, &l[0]);
		db_in_str(&in[2], targets, &l[1]);
		return store_change_exec(st, Q_ROUTE_PUT_TENANT, sql_put_tenant, in, __func__,
		                         CHANGE_TENANT, tenant_id, NULL);
	}
	db_in_str(&in[0], name, &l[0]);
	db_in_str(&in[1], targets, &l[1]);
	db_in_str(&in[2], plan, &l[2]);
	if (store_change_exec(st, Q_ROUTE_PUT_PLAN, sql_put_plan, in, __func__, CHANGE_LIMITS, 0,
	                      &n) != ST_OK)
		return ST_ERR;
	return n > 0 ? ST_OK : ST_NOTFOUND;
}

int store_route_delete(struct store *st, enum route_owner owner, int64_t tenant_id,
                       const char *plan, const char *name)
{
	MYSQL_BIND in[2];
	unsigned long l[2];
	uint64_t n = 0;
	int rc;

	if (owner == ROUTE_TENANT) {
		db_in_i64(&in[0], &tenant_id);
		db_in_str(&in[1], name, &l[0]);
		rc = store_change_exec(st, Q_ROUTE_DEL_TENANT, sql_del_tenant, in, __func__,
		                       CHANGE_TENANT, tenant_id, &n);
	} else {
		db_in_str(&in[0], name, &l[0]);
		db_in_str(&in[1], plan, &l[1]);
		rc = store_change_exec(st, Q_ROUTE_DEL_PLAN, sql_del_plan, in, __func__,
		                       CHANGE_LIMITS, 0, &n);
	}
	if (rc != ST_OK)
		return ST_ERR;
	return n > 0 ? ST_OK : ST_NOTFOUND;
}

int store_route_list(struct store *st, enum route_owner owner, int64_t tenant_id, const char *plan,
                     route_cb cb, void *ctx)
{
	enum db_q q = owner == ROUTE_TENANT ? Q_ROUTE_LIST_TENANT : Q_ROUTE_LIST_PLAN;
	struct route_row *row;
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	char kind[8];
	int rc;

	row = calloc(1, sizeof(*row));
	if (row == NULL)
		return ST_ERR;
	if (owner == ROUTE_TENANT)
		db_in_i64(&in[0], &tenant_id);
	else
		db_in_str(&in[0], plan, &l);
	route_bind(&o, row, kind, sizeof(kind));
	rc = db_exec(st, q, owner == ROUTE_TENANT ? sql_list_tenant : sql_list_plan, in, &o,
	             __func__);
	if (rc != ST_OK) {
		free(row);
		return ST_ERR;
	}
	while ((rc = db_fetch(st, q, &o, __func__)) == 1) {
		row->owner = owner;
		if (cb(ctx, row))
			break;
	}
	db_end(st, q, &o);
	free(row);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_route_purge_tenant(struct store *st, int64_t tenant_id)
{
	MYSQL_BIND in[1];

	db_in_i64(&in[0], &tenant_id);
	return store_change_exec(st, Q_ROUTE_PURGE, sql_purge, in, __func__, CHANGE_TENANT,
	                         tenant_id, NULL);
}
