/*
 * dash_tenants.c: page-shaped queries of the tenant pages (see dash_tenants.h).
 *
 * DESIGN
 * Statements are the DASHT_ entries of store/statements.h. Lists ask
 * for limit + 1 rows to learn whether another page exists. The tenant list
 * reads spend and requests with correlated subqueries on usage_daily's
 * primary key (tenant_id, day, ...), so each row costs one index range of at
 * most a month of rollups. The audit list has two shapes: one tenant's rows
 * (index k_audit_tenant (tenant_id, id)) and every tenant's rows (primary
 * key, or k_audit_action from 010 when filtered by action).
 */
#include "config.h"

#include <string.h>

#include "store/dash_tenants.h"
#include "store/db.h"
#include "store/store.h"

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"

static const char sql_tenants[] =
    "SELECT t.id, t.slug, t.name, p.name, t.status, COALESCE(t.suspended_reason, ''),"
    " t.isolation_mode, " TS("t.created_at") ","
                                             " (SELECT COALESCE(SUM(u.cost_micros), 0) FROM "
                                             "usage_daily u WHERE u.tenant_id = t.id"
                                             " AND u.day >= DATE_FORMAT(UTC_DATE(), '%Y-%m-01')),"
                                             " (SELECT COALESCE(SUM(u.requests), 0) FROM "
                                             "usage_daily u WHERE u.tenant_id = t.id"
                                             " AND u.day = UTC_DATE())"
                                             " FROM tenants t JOIN plans p ON p.id = t.plan_id"
                                             " WHERE t.id > ? AND (? = '' OR LOWER(t.slug) LIKE ? "
                                             "OR LOWER(t.name) LIKE ?)"
                                             " ORDER BY t.id LIMIT ?";
static const char sql_tenant_names[] =
    "SELECT id, slug, name FROM tenants ORDER BY name, id LIMIT ?";
static const char sql_update[] =
    "UPDATE tenants t JOIN plans p ON p.name = ? SET t.name = ?, t.plan_id = p.id,"
    " t.updated_at = UTC_TIMESTAMP(6) WHERE t.id = ?";
static const char sql_counters[] =
    "SELECT win, spent_micros, reserved_micros, spent_tokens, reserved_tokens, requests"
    " FROM budget_counters WHERE scope = 'tenant' AND scope_id = ?"
    " AND ((win = 'day' AND period = ?) OR (win = 'month' AND period = ?))";

#define AUDIT_COLS                                                                                 \
	"SELECT a.id, COALESCE(a.tenant_id, 0), COALESCE(t.slug, ''), a.actor_type, a.actor_id,"   \
	" a.action, a.target, a.outcome, COALESCE(a.reason_code, ''), COALESCE(a.ip, ''), " TS(    \
	    "a.created_at") " FROM audit_log a LEFT JOIN tenants t ON t.id = a.tenant_id"
#define AUDIT_TAIL                                                                                 \
	" AND a.id < ? AND (? = '' OR a.action = ?) AND (? = '' OR a.outcome = ?)"                 \
	" ORDER BY a.id DESC LIMIT ?"
static const char sql_audit_tenant[] = AUDIT_COLS " WHERE a.tenant_id = ?" AUDIT_TAIL;
static const char sql_audit_all[] = AUDIT_COLS " WHERE 1 = 1" AUDIT_TAIL;
static const char sql_audit_action[] = AUDIT_COLS " WHERE a.action = ?" AUDIT_TAIL;

/* "%q%" lower-cased with LIKE's wildcards escaped, into out (cap >= 2 * len + 3). */
static void dasht_like(const char *q, char *out, size_t cap)
{
	size_t n = 0;

	out[n++] = '%';
	for (; *q && n + 4 < cap; q++) {
		char c = *q;

		if (c == '%' || c == '_' || c == '\\')
			out[n++] = '\\';
		out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n++] = '%';
	out[n] = '\0';
}

int store_dasht_tenant_names(struct store *st, int limit, dasht_tenant_cb cb, void *ctx,
                             int *has_more)
{
	struct dasht_tenant_row row;
	struct db_out o;
	MYSQL_BIND in[1];
	int want = limit + 1, n = 0, rc;

	*has_more = 0;
	memset(&row, 0, sizeof(row));
	memset(in, 0, sizeof(in));
	db_in_int(&in[0], &want);
	db_out_init(&o);
	db_out_i64(&o, &row.t.id);
	db_out_str(&o, row.t.slug, sizeof(row.t.slug));
	db_out_str(&o, row.t.name, sizeof(row.t.name));
	if (db_exec(st, Q_DASHT_TENANT_NAMES, sql_tenant_names, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_DASHT_TENANT_NAMES, &o, __func__)) == 1) {
		if (n++ == limit) {
			*has_more = 1;
			break;
		}
		if (cb(ctx, &row))
			break;
	}
	db_end(st, Q_DASHT_TENANT_NAMES, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_dasht_tenants(struct store *st, const char *q, int64_t after_id, int limit,
                        dasht_tenant_cb cb, void *ctx, int *has_more)
{
	struct dasht_tenant_row row;
	struct db_out o;
	MYSQL_BIND in[5];
	unsigned long l[3];
	char like[300];
	int n = 0, want, rc;

	*has_more = 0;
	if (limit < 1 || limit > DASHT_PAGE_MAX)
		limit = DASHT_PAGE_MAX;
	want = limit + 1;
	dasht_like(q, like, sizeof(like));
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &after_id);
	db_in_str(&in[1], q, &l[0]);
	db_in_str(&in[2], like, &l[1]);
	db_in_str(&in[3], like, &l[2]);
	db_in_int(&in[4], &want);
	memset(&row, 0, sizeof(row));
	db_out_init(&o);
	db_out_i64(&o, &row.t.id);
	db_out_str(&o, row.t.slug, sizeof(row.t.slug));
	db_out_str(&o, row.t.name, sizeof(row.t.name));
	db_out_str(&o, row.t.plan, sizeof(row.t.plan));
	db_out_int(&o, &row.t.status);
	db_out_str(&o, row.t.suspended_reason, sizeof(row.t.suspended_reason));
	db_out_str(&o, row.t.isolation, sizeof(row.t.isolation));
	db_out_i64(&o, &row.t.created_at);
	db_out_i64(&o, &row.month_cost_micros);
	db_out_i64(&o, &row.day_requests);
	if (db_exec(st, Q_DASHT_TENANTS, sql_tenants, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_DASHT_TENANTS, &o, __func__)) == 1) {
		if (n++ == limit) {
			*has_more = 1;
			break;
		}
		if (cb(ctx, &row))
			break;
	}
	db_end(st, Q_DASHT_TENANTS, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_dasht_tenant_update(struct store *st, int64_t id, const char *name, const char *plan)
{
	MYSQL_BIND in[3];
	unsigned long l[2];
	uint64_t n = 0;
	int rc;

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], plan, &l[0]);
	db_in_str(&in[1], name, &l[1]);
	db_in_i64(&in[2], &id);
	rc = store_change_exec(st, Q_DASHT_UPDATE, sql_update, in, __func__, CHANGE_TENANT, id, &n);
	if (rc != ST_OK)
		return rc;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

int store_dasht_counters(struct store *st, int64_t tenant_id, const char *day, const char *month,
                         struct dasht_counter *day_out, struct dasht_counter *month_out)
{
	struct dasht_counter c;
	struct db_out o;
	MYSQL_BIND in[3];
	unsigned long l[2];
	char win[16];
	int rc;

	memset(day_out, 0, sizeof(*day_out));
	memset(month_out, 0, sizeof(*month_out));
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], day, &l[0]);
	db_in_str(&in[2], month, &l[1]);
	memset(&c, 0, sizeof(c));
	db_out_init(&o);
	db_out_str(&o, win, sizeof(win));
	db_out_i64(&o, &c.spent_micros);
	db_out_i64(&o, &c.reserved_micros);
	db_out_i64(&o, &c.spent_tokens);
	db_out_i64(&o, &c.reserved_tokens);
	db_out_i64(&o, &c.requests);
	if (db_exec(st, Q_DASHT_COUNTERS, sql_counters, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_DASHT_COUNTERS, &o, __func__)) == 1) {
		if (strcmp(win, "day") == 0)
			*day_out = c;
		else
			*month_out = c;
	}
	db_end(st, Q_DASHT_COUNTERS, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_dasht_audit(struct store *st, const struct dasht_audit_filter *f, dasht_audit_cb cb,
                      void *ctx, int *has_more)
{
	struct dasht_audit_row row;
	struct db_out o;
	MYSQL_BIND in[7], *p = in;
	unsigned long l[5];
	int64_t before = f->before > 0 ? f->before : INT64_MAX;
	int limit = f->limit >= 1 && f->limit <= DASHT_PAGE_MAX ? f->limit : DASHT_PAGE_MAX;
	int want = limit + 1, n = 0, rc;
	const char *sql;
	enum db_q q;

	*has_more = 0;
	memset(in, 0, sizeof(in));
	if (f->tenant_id > 0) {
		sql = sql_audit_tenant;
		q = Q_DASHT_AUDIT_TENANT;
		db_in_i64(p++, &f->tenant_id);
	} else if (f->action[0] != '\0') {
		sql = sql_audit_action;
		q = Q_DASHT_AUDIT_ACTION;
		db_in_str(p++, f->action, &l[4]);
	} else {
		sql = sql_audit_all;
		q = Q_DASHT_AUDIT_ALL;
	}
	db_in_i64(p++, &before);
	db_in_str(p++, f->action, &l[0]);
	db_in_str(p++, f->action, &l[1]);
	db_in_str(p++, f->outcome, &l[2]);
	db_in_str(p++, f->outcome, &l[3]);
	db_in_int(p++, &want);
	memset(&row, 0, sizeof(row));
	db_out_init(&o);
	db_out_i64(&o, &row.id);
	db_out_i64(&o, &row.tenant_id);
	db_out_str(&o, row.tenant_slug, sizeof(row.tenant_slug));
	db_out_str(&o, row.actor_type, sizeof(row.actor_type));
	db_out_str(&o, row.actor_id, sizeof(row.actor_id));
	db_out_str(&o, row.action, sizeof(row.action));
	db_out_str(&o, row.target, sizeof(row.target));
	db_out_str(&o, row.outcome, sizeof(row.outcome));
	db_out_str(&o, row.reason_code, sizeof(row.reason_code));
	db_out_str(&o, row.ip, sizeof(row.ip));
	db_out_i64(&o, &row.created_at);
	if (db_exec(st, q, sql, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1) {
		if (n++ == limit) {
			*has_more = 1;
			break;
		}
		if (cb(ctx, &row))
			break;
	}
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
