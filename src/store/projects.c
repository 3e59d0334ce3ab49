/*
 * projects.c: projects and their keys (see projects.h).
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/projects.h"
#include "store/store.h"

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"
#define PROJECT_COLS                                                                               \
	"p.id, p.tenant_id, p.name, " TS(                                                          \
	    "p.created_at") ", (SELECT COUNT(*) FROM project_keys pk WHERE pk.project_id = p.id)"

static const char sql_insert[] =
    "INSERT INTO projects (tenant_id, name, created_at) VALUES (?, ?, UTC_TIMESTAMP(6))";
static const char sql_get[] =
    "SELECT " PROJECT_COLS " FROM projects p WHERE p.tenant_id = ? AND p.name = ?";
static const char sql_get_id[] =
    "SELECT " PROJECT_COLS " FROM projects p WHERE p.tenant_id = ? AND p.id = ?";
static const char sql_list[] =
    "SELECT " PROJECT_COLS " FROM projects p WHERE p.tenant_id = ? ORDER BY p.name";
static const char sql_rename[] = "UPDATE projects SET name = ? WHERE tenant_id = ? AND id = ?";
static const char sql_del_keys[] =
    "DELETE FROM project_keys WHERE tenant_id = ? AND project_id = ?";
static const char sql_del_limits[] =
    "DELETE l FROM limits l JOIN projects p ON l.scope = 'project' AND l.scope_id = p.id"
    " WHERE p.tenant_id = ? AND p.id = ?";
static const char sql_del_creds[] =
    "DELETE FROM project_provider_credentials WHERE tenant_id = ? AND project_id = ?";
static const char sql_del[] = "DELETE FROM projects WHERE tenant_id = ? AND id = ?";
static const char sql_key_set[] =
    "INSERT INTO project_keys (key_id, tenant_id, project_id) VALUES (?, ?, ?)"
    " ON DUPLICATE KEY UPDATE project_id = VALUES(project_id)";
static const char sql_key_unset[] = "DELETE FROM project_keys WHERE tenant_id = ? AND key_id = ?";
static const char sql_key_list[] =
    "SELECT key_id, project_id FROM project_keys WHERE tenant_id = ? ORDER BY key_id";
static const char sql_of_key[] =
    "SELECT project_id FROM project_keys WHERE tenant_id = ? AND key_id = ?";

/* Describe PROJECT_COLS into o, landing in p. */
static void project_bind(struct db_out *o, struct project *p)
{
	db_out_init(o);
	db_out_i64(o, &p->id);
	db_out_i64(o, &p->tenant_id);
	db_out_str(o, p->name, sizeof(p->name));
	db_out_i64(o, &p->created_at);
	db_out_i64(o, &p->keys);
}

/* Run q bound with in; cb per row (NULL: the first row into *one). ST_OK, ST_NOTFOUND, ST_ERR. */
static int project_rows(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in,
                        project_cb cb, void *ctx, struct project *one, const char *fn)
{
	struct project p;
	struct db_out o;
	int rc, found = 0;

	memset(&p, 0, sizeof(p));
	project_bind(&o, &p);
	if (db_exec(st, q, sql, in, &o, fn) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, fn)) == 1) {
		found = 1;
		if (one) {
			*one = p;
			continue;
		}
		if (cb(ctx, &p))
			break;
	}
	db_end(st, q, &o);
	if (rc < 0)
		return ST_ERR;
	return one && !found ? ST_NOTFOUND : ST_OK;
}

int store_project_create(struct store *st, int64_t tenant_id, const char *name, int64_t *id)
{
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	if (name == NULL || strlen(name) > PROJECT_NAME_MAX) {
		log_error("store: %s: missing or too long name", __func__);
		return ST_ERR;
	}
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], name, &l);
	rc = db_exec(st, Q_PROJECT_INSERT, sql_insert, in, NULL, __func__);
	if (rc != ST_OK)
		return rc == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	if (id)
		*id = db_insert_id(st, Q_PROJECT_INSERT);
	return ST_OK;
}

int store_project_get(struct store *st, int64_t tenant_id, const char *name, struct project *out)
{
	MYSQL_BIND in[2];
	unsigned long l;

	if (name == NULL || strlen(name) > PROJECT_NAME_MAX)
		return ST_NOTFOUND;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], name, &l);
	return project_rows(st, Q_PROJECT_GET, sql_get, in, NULL, NULL, out, __func__);
}

int store_project_get_id(struct store *st, int64_t tenant_id, int64_t id, struct project *out)
{
	MYSQL_BIND in[2];

	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &id);
	return project_rows(st, Q_PROJECT_GET_ID, sql_get_id, in, NULL, NULL, out, __func__);
}

int store_project_list(struct store *st, int64_t tenant_id, project_cb cb, void *ctx)
{
	MYSQL_BIND in[1];

	db_in_i64(&in[0], &tenant_id);
	return project_rows(st, Q_PROJECT_LIST, sql_list, in, cb, ctx, NULL, __func__);
}

int store_project_rename(struct store *st, int64_t tenant_id, int64_t id, const char *name)
{
	MYSQL_BIND in[3];
	unsigned long l;
	uint64_t n = 0;
	int rc;

	if (name == NULL || strlen(name) > PROJECT_NAME_MAX) {
		log_error("store: %s: missing or too long name", __func__);
		return ST_ERR;
	}
	db_in_str(&in[0], name, &l);
	db_in_i64(&in[1], &tenant_id);
	db_in_i64(&in[2], &id);
	rc = store_change_exec(st, Q_PROJECT_RENAME, sql_rename, in, __func__, CHANGE_TENANT,
	                       tenant_id, &n);
	if (rc == ST_CONFLICT)
		return ST_CONFLICT;
	if (rc != ST_OK)
		return ST_ERR;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

int store_project_delete(struct store *st, int64_t tenant_id, int64_t id)
{
	MYSQL_BIND in[2];

	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &id);
	if (db_begin(st, __func__) != ST_OK)
		return ST_ERR;
	if (db_exec(st, Q_PROJECT_DEL_KEYS, sql_del_keys, in, NULL, __func__) != ST_OK ||
	    db_exec(st, Q_PROJECT_DEL_LIMITS, sql_del_limits, in, NULL, __func__) != ST_OK ||
	    db_exec(st, Q_PROJECT_DEL_CREDS, sql_del_creds, in, NULL, __func__) != ST_OK ||
	    db_exec(st, Q_PROJECT_DEL, sql_del, in, NULL, __func__) != ST_OK)
		goto fail;
	if (db_affected(st, Q_PROJECT_DEL) == 0) {
		db_rollback(st);
		return ST_NOTFOUND;
	}
	if (store_change(st, CHANGE_TENANT, tenant_id) != ST_OK || db_commit(st, __func__) != ST_OK)
		goto fail;
	return ST_OK;
fail:
	db_rollback(st);
	return ST_ERR;
}

int store_project_key_set(struct store *st, int64_t tenant_id, int64_t key_id, int64_t project_id)
{
	MYSQL_BIND in[3];
	uint64_t n = 0;
	int rc;

	if (project_id == 0) {
		db_in_i64(&in[0], &tenant_id);
		db_in_i64(&in[1], &key_id);
		rc = store_change_exec(st, Q_PROJECT_KEY_UNSET, sql_key_unset, in, __func__,
		                       CHANGE_TENANT, tenant_id, &n);
		if (rc != ST_OK)
			return ST_ERR;
		return n == 0 ? ST_NOTFOUND : ST_OK;
	}
	db_in_i64(&in[0], &key_id);
	db_in_i64(&in[1], &tenant_id);
	db_in_i64(&in[2], &project_id);
	rc = store_change_exec(st, Q_PROJECT_KEY_SET, sql_key_set, in, __func__, CHANGE_TENANT,
	                       tenant_id, NULL);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

int store_project_of_key(struct store *st, int64_t tenant_id, int64_t key_id, int64_t *project_id)
{
	MYSQL_BIND in[2];
	struct db_out o;
	int rc;

	*project_id = 0;
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &key_id);
	db_out_init(&o);
	db_out_i64(&o, project_id);
	if (db_exec(st, Q_PROJECT_OF_KEY, sql_of_key, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_PROJECT_OF_KEY, &o, __func__);
	db_end(st, Q_PROJECT_OF_KEY, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_project_key_list(struct store *st, int64_t tenant_id, project_key_cb cb, void *ctx)
{
	MYSQL_BIND in[1];
	struct db_out o;
	int64_t kid = 0, pid = 0;
	int rc;

	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, &kid);
	db_out_i64(&o, &pid);
	if (db_exec(st, Q_PROJECT_KEY_LIST, sql_key_list, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_PROJECT_KEY_LIST, &o, __func__)) == 1)
		if (cb(ctx, kid, pid))
			break;
	db_end(st, Q_PROJECT_KEY_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------------ tags */

static const char sql_tag_insert[] =
    "INSERT INTO tags (tenant_id, tag_key, tag_value, created_at)"
    " VALUES (?, ?, ?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)";
static const char sql_tag_get[] =
    "SELECT id FROM tags WHERE tenant_id = ? AND tag_key = ? AND tag_value = ?";
static const char sql_tag_list[] =
    "SELECT id, tag_key, tag_value FROM tags WHERE tenant_id = ? ORDER BY tag_key, tag_value";

int store_tag_ensure(struct store *st, int64_t tenant_id, const char *key, const char *value,
                     int64_t *id)
{
	MYSQL_BIND in[3];
	unsigned long l[2];

	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], key, &l[0]);
	db_in_str(&in[2], value, &l[1]);
	if (store_change_exec(st, Q_TAG_INSERT, sql_tag_insert, in, __func__, CHANGE_TENANT,
	                      tenant_id, NULL) != ST_OK)
		return ST_ERR;
	*id = db_insert_id(st, Q_TAG_INSERT);
	return *id > 0 ? ST_OK : ST_ERR;
}

int store_tag_get(struct store *st, int64_t tenant_id, const char *key, const char *value,
                  int64_t *id)
{
	MYSQL_BIND in[3];
	unsigned long l[2];
	struct db_out o;
	int rc;

	*id = 0;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], key, &l[0]);
	db_in_str(&in[2], value, &l[1]);
	db_out_init(&o);
	db_out_i64(&o, id);
	if (db_exec(st, Q_TAG_GET, sql_tag_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_TAG_GET, &o, __func__);
	db_end(st, Q_TAG_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_tag_list(struct store *st, int64_t tenant_id, tag_cb cb, void *ctx)
{
	MYSQL_BIND in[1];
	struct tag_row g;
	struct db_out o;
	int rc;

	memset(&g, 0, sizeof(g));
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, &g.id);
	db_out_str(&o, g.key, sizeof(g.key));
	db_out_str(&o, g.value, sizeof(g.value));
	if (db_exec(st, Q_TAG_LIST, sql_tag_list, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_TAG_LIST, &o, __func__)) == 1)
		if (cb(ctx, &g))
			break;
	db_end(st, Q_TAG_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
