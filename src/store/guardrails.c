/*
 * guardrails.c: the guardrail registry (see store/guardrails.h).
 *
 * DESIGN
 * Statements are the GRAIL_ entries of store/statements.h, all on the
 * control connection (the registry is not tenant data).
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/guardrails.h"
#include "store/store.h"

#define BIND_FIXED(b, field, len) db_in_strn((b), (field), strnlen((field), sizeof(field)), (len))

#define GRAIL_COLS                                                                                 \
	"SELECT id, name, description, exec_path, stage, timeout_ms, env, enabled,"                \
	" CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED),"                                      \
	" CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED) FROM guardrails"

static const char sql_register[] =
    "INSERT INTO guardrails (name, description, exec_path, stage, timeout_ms, env, enabled,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"
    " ON DUPLICATE KEY UPDATE description = VALUES(description),"
    " exec_path = VALUES(exec_path), stage = VALUES(stage), timeout_ms = VALUES(timeout_ms),"
    " env = VALUES(env), enabled = 1, updated_at = VALUES(updated_at)";
static const char sql_get[] = GRAIL_COLS " WHERE name = ?";
static const char sql_list[] = GRAIL_COLS " ORDER BY name";
static const char sql_enable[] =
    "UPDATE guardrails SET enabled = ?, updated_at = UTC_TIMESTAMP(6) WHERE name = ?";

int store_guardrail_register(struct store *st, const struct guardrail_def *g, int *created)
{
	MYSQL_BIND in[6];
	unsigned long l[5];

	if (g->name[0] == '\0' || g->exec_path[0] == '\0' || g->stage[0] == '\0' ||
	    g->timeout_ms <= 0) {
		log_error("store: store_guardrail_register: incomplete guardrail definition");
		return ST_ERR;
	}
	BIND_FIXED(&in[0], g->name, &l[0]);
	BIND_FIXED(&in[1], g->description, &l[1]);
	BIND_FIXED(&in[2], g->exec_path, &l[2]);
	BIND_FIXED(&in[3], g->stage, &l[3]);
	db_in_int(&in[4], &g->timeout_ms);
	BIND_FIXED(&in[5], g->env, &l[4]);
	if (db_exec(st, Q_GRAIL_REGISTER, sql_register, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	/* 1 row affected for an insert, 2 for an update (updated_at always changes). */
	if (created)
		*created = db_affected(st, Q_GRAIL_REGISTER) == 1;
	return ST_OK;
}

/* Describe the GRAIL_COLS columns into o, landing in g. */
static void grail_bind(struct db_out *o, struct guardrail_def *g)
{
	db_out_init(o);
	db_out_i64(o, &g->id);
	db_out_str(o, g->name, sizeof(g->name));
	db_out_str(o, g->description, sizeof(g->description));
	db_out_str(o, g->exec_path, sizeof(g->exec_path));
	db_out_str(o, g->stage, sizeof(g->stage));
	db_out_int(o, &g->timeout_ms);
	db_out_str(o, g->env, sizeof(g->env));
	db_out_int(o, &g->enabled);
	db_out_i64(o, &g->created_at);
	db_out_i64(o, &g->updated_at);
}

int store_guardrail_get(struct store *st, const char *name, struct guardrail_def *out)
{
	char key[GUARDRAIL_NAME_MAX + 1];
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	/* Copied first: name may point into *out. */
	if (name == NULL || strlen(name) > GUARDRAIL_NAME_MAX) {
		memset(out, 0, sizeof(*out));
		return ST_NOTFOUND;
	}
	util_strlcpy(key, name, sizeof(key));
	memset(out, 0, sizeof(*out));
	db_in_str(&in[0], key, &l);
	grail_bind(&o, out);
	if (db_exec(st, Q_GRAIL_GET, sql_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_GRAIL_GET, &o, __func__);
	db_end(st, Q_GRAIL_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_guardrail_list(struct store *st, guardrail_def_cb cb, void *ctx)
{
	static _Thread_local struct guardrail_def g; /* 4 KiB: off the stack */
	struct db_out o;
	int rc;

	memset(&g, 0, sizeof(g));
	grail_bind(&o, &g);
	if (db_exec(st, Q_GRAIL_LIST, sql_list, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_GRAIL_LIST, &o, __func__)) == 1)
		if (cb(ctx, &g))
			break;
	db_end(st, Q_GRAIL_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_guardrail_set_enabled(struct store *st, const char *name, int enabled)
{
	MYSQL_BIND in[2];
	unsigned long l;

	db_in_int(&in[0], &enabled);
	db_in_str(&in[1], name, &l);
	if (db_exec(st, Q_GRAIL_ENABLE, sql_enable, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	return db_affected(st, Q_GRAIL_ENABLE) == 0 ? ST_NOTFOUND : ST_OK;
}
