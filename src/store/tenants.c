/*
 * tenants.c: the tenant rows (store_tenant_*).
 *
 * DESIGN
 * A tenant names its plan by id; reads join plans to hand out the plan name.
 * Creation resolves the plan inside the INSERT (INSERT ... SELECT from plans),
 * so an unknown plan inserts nothing and answers ST_NOTFOUND in the same
 * round trip, and a taken slug answers ST_CONFLICT from the unique key.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"

#define TENANT_COLS                                                                                \
	"SELECT t.id, t.slug, t.name, p.name, t.status, COALESCE(t.suspended_reason, ''),"         \
	" t.isolation_mode, CAST(FLOOR(UNIX_TIMESTAMP(t.created_at)) AS SIGNED), t.data_db,"       \
	" t.migrating, t.log_content FROM tenants t JOIN plans p ON p.id = t.plan_id"

static const char sql_insert[] =
    "INSERT INTO tenants (slug, name, plan_id, status, isolation_mode, created_at, updated_at)"
    " SELECT ?, ?, p.id, 0, 'shared', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)"
    " FROM plans p WHERE p.name = ?";
static const char sql_get[] = TENANT_COLS " WHERE t.id = ?";
static const char sql_get_slug[] = TENANT_COLS " WHERE t.slug = ?";
static const char sql_list[] = TENANT_COLS " ORDER BY t.id";
static const char sql_page[] =
    TENANT_COLS " WHERE t.id > ? AND (? < 0 OR t.status = ?) AND (? = '' OR p.name = ?)"
                " AND (? = '' OR LOWER(t.slug) LIKE ? OR LOWER(t.name) LIKE ?)"
                " ORDER BY t.id LIMIT ?";
static const char sql_set_log_content[] =
    "UPDATE tenants SET log_content = ?, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_set_status[] = "UPDATE tenants SET status = ?, suspended_reason = ?,"
                                     " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";

/* Describe the TENANT_COLS columns into out, landing in t. */
static void tenant_bind(struct db_out *out, struct tenant *t)
{
	db_out_init(out);
	db_out_i64(out, &t->id);
	db_out_str(out, t->slug, sizeof(t->slug));
	db_out_str(out, t->name, sizeof(t->name));
	db_out_str(out, t->plan, sizeof(t->plan));
	db_out_int(out, &t->status);
	db_out_str(out, t->suspended_reason, sizeof(t->suspended_reason));
	db_out_str(out, t->isolation, sizeof(t->isolation));
	db_out_i64(out, &t->created_at);
	db_out_str(out, t->data_db, sizeof(t->data_db));
	db_out_int(out, &t->migrating);
	db_out_int(out, &t->log_content);
}

/* Run a one-row tenant query (q, sql, one bound parameter) into out. */
static int tenant_get_one(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in,
                          struct tenant *t, const char *fn)
{
	struct db_out out;
	int rc;

	memset(t, 0, sizeof(*t));
	tenant_bind(&out, t);
	rc = db_exec(st, q, sql, in, &out, fn);
	if (rc != ST_OK)
		return rc == ST_NOTFOUND ? ST_ERR : rc;
	rc = db_fetch(st, q, &out, fn);
	db_end(st, q, &out);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/*
 * Create a tenant with an active status in the shared isolation mode.
 * ST_OK with *id_out, ST_CONFLICT when the slug exists, ST_NOTFOUND when the
 * plan does not, ST_ERR otherwise.
 */
int store_tenant_create(struct store *st, const char *slug, const char *name, const char *plan,
                        int64_t *id_out)
{
	MYSQL_BIND in[3];
	unsigned long l[3];
	int rc;

	if (slug == NULL || name == NULL || plan == NULL) {
		log_error("store: store_tenant_create: missing slug, name or plan");
		return ST_ERR;
	}
	db_in_str(&in[0], slug, &l[0]);
	db_in_str(&in[1], name, &l[1]);
	db_in_str(&in[2], plan, &l[2]);
	rc = db_exec(st, Q_TENANT_INSERT, sql_insert, in, NULL, __func__);
	if (rc != ST_OK)
		return rc;
	if (db_affected(st, Q_TENANT_INSERT) == 0)
		return ST_NOTFOUND;
	if (id_out)
		*id_out = db_insert_id(st, Q_TENANT_INSERT);
	return ST_OK;
}

/* The tenant with this id: ST_OK, ST_NOTFOUND or ST_ERR. */
int store_tenant_get(struct store *st, int64_t id, struct tenant *out)
{
	MYSQL_BIND in[1];

	db_in_i64(&in[0], &id);
	return tenant_get_one(st, Q_TENANT_GET, sql_get, in, out, __func__);
}

/* The tenant with this slug: ST_OK, ST_NOTFOUND or ST_ERR. */
int store_tenant_get_by_slug(struct store *st, const char *slug, struct tenant *out)
{
	MYSQL_BIND in[1];
	unsigned long l;

	if (slug == NULL)
		return ST_NOTFOUND;
	db_in_str(&in[0], slug, &l);
	return tenant_get_one(st, Q_TENANT_GET_SLUG, sql_get_slug, in, out, __func__);
}

/*
 * Call cb for every tenant in id order; a nonzero return from cb stops the
 * walk (still ST_OK). ST_ERR on a database error.
 */
int store_tenant_list(struct store *st, tenant_cb cb, void *ctx)
{
	struct db_out out;
	struct tenant t;
	int rc;

	memset(&t, 0, sizeof(t));
	tenant_bind(&out, &t);
	rc = db_exec(st, Q_TENANT_LIST, sql_list, NULL, &out, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_TENANT_LIST, &out, __func__)) == 1)
		if (cb(ctx, &t))
			break;
	db_end(st, Q_TENANT_LIST, &out);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Set the status (enum tenant_status); reason is kept for a suspension and
 * cleared on reactivation. ST_NOTFOUND for an unknown id, ST_ERR for a bad
 * status or a database error.
 */
int store_tenant_set_status(struct store *st, int64_t id, int status, const char *reason)
{
	MYSQL_BIND in[3];
	unsigned long l;
	uint64_t n = 0;
	int rc;

	if (status != TENANT_ACTIVE && status != TENANT_SUSPENDED) {
		log_error("store: store_tenant_set_status: invalid status %d", status);
		return ST_ERR;
	}
	db_in_int(&in[0], &status);
	if (status == TENANT_SUSPENDED && reason != NULL)
		db_in_strn(&in[1], reason, db_utf8_cut(reason, 255), &l);
	else
		db_in_null(&in[1]);
	db_in_i64(&in[2], &id);
	rc = store_change_exec(st, Q_TENANT_SET_STATUS, sql_set_status, in, __func__, CHANGE_TENANT,
	                       id, &n);
	if (rc != ST_OK)
		return rc == ST_NOTFOUND ? ST_ERR : rc;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

int store_tenant_set_log_content(struct store *st, int64_t id, int on)
{
	MYSQL_BIND in[2];
	uint64_t n = 0;
	int rc;

	on = on ? 1 : 0;
	db_in_int(&in[0], &on);
	db_in_i64(&in[1], &id);
	/* a tenant change: every process's key cache (which carries the flag) forgets it */
	rc = store_change_exec(st, Q_TENANT_SET_LOG_CONTENT, sql_set_log_content, in, __func__,
	                       CHANGE_TENANT, id, &n);
	if (rc != ST_OK)
		return rc == ST_NOTFOUND ? ST_ERR : rc;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

/* "%q%" lower-cased with LIKE's wildcards escaped, into out (cap >= 2 * strlen(q) + 3). */
static void tenant_like(const char *q, char *out, size_t cap)
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

int store_tenant_page(struct store *st, const struct tenant_filter *f, tenant_cb cb, void *ctx,
                      int *has_more)
{
	struct tenant *rows = NULL, t;
	struct db_out out;
	MYSQL_BIND in[9];
	unsigned long l[5];
	const char *plan = f->plan ? f->plan : "", *q = f->q ? f->q : "";
	char like[256];
	int64_t after = f->after_id;
	int status = f->status, limit = f->limit, want, n = 0, rc = ST_ERR, frc = 0;

	*has_more = 0;
	if (limit < 1 || limit > 100)
		limit = 100;
	if (strlen(q) > 100) {
		log_error("store: store_tenant_page: q longer than 100 bytes");
		return ST_ERR;
	}
	want = limit + 1;
	tenant_like(q, like, sizeof(like));
	if ((rows = calloc((size_t)limit, sizeof(*rows))) == NULL)
		return ST_ERR;
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &after);
	db_in_int(&in[1], &status);
	db_in_int(&in[2], &status);
	db_in_str(&in[3], plan, &l[0]);
	db_in_str(&in[4], plan, &l[1]);
	db_in_str(&in[5], q, &l[2]);
	db_in_str(&in[6], like, &l[3]);
	db_in_str(&in[7], like, &l[4]);
	db_in_int(&in[8], &want);
	memset(&t, 0, sizeof(t));
	tenant_bind(&out, &t);
	if (db_exec(st, Q_TENANT_PAGE, sql_page, in, &out, __func__) != ST_OK)
		goto out;
	while ((frc = db_fetch(st, Q_TENANT_PAGE, &out, __func__)) == 1) {
		if (n == limit) {
			*has_more = 1;
			continue; /* read to the end: the statement is then free for cb */
		}
		rows[n++] = t;
	}
	db_end(st, Q_TENANT_PAGE, &out);
	if (frc < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (cb(ctx, &rows[i]))
			break;
	rc = ST_OK;
out:
	free(rows);
	return rc;
}
