/*
 * tools.c: the tool registry, tenant tool secrets, agents' tool lists and
 * run steps (see store/tools.h).
 *
 * DESIGN
 * Statements are the TOOL_ and STEP_ entries of store/statements.h. Tenant data
 * (secrets, agent tools, run steps, the run row) goes through
 * store_data_conn() like executions and sessions; the registry lives in the
 * control database.
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/records.h"
#include "store/store.h"
#include "store/tools.h"

#define BIND_FIXED(b, field, len) db_in_strn((b), (field), strnlen((field), sizeof(field)), (len))

#define TOOL_COLS                                                                                  \
	"SELECT id, name, description, schema_json, exec_path, timeout_ms, max_output_bytes,"      \
	" mutating, secret_names, enabled, CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED),"     \
	" CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED) FROM tools"

static const char sql_register[] =
    "INSERT INTO tools (name, description, schema_json, exec_path, timeout_ms, max_output_bytes,"
    " mutating, secret_names, enabled, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"
    " ON DUPLICATE KEY UPDATE description = VALUES(description),"
    " schema_json = VALUES(schema_json), exec_path = VALUES(exec_path),"
    " timeout_ms = VALUES(timeout_ms), max_output_bytes = VALUES(max_output_bytes),"
    " mutating = VALUES(mutating), secret_names = VALUES(secret_names), enabled = 1,"
    " updated_at = VALUES(updated_at)";
static const char sql_get[] = TOOL_COLS " WHERE name = ?";
static const char sql_list[] = TOOL_COLS " ORDER BY name";
static const char sql_enable[] =
    "UPDATE tools SET enabled = ?, updated_at = UTC_TIMESTAMP(6) WHERE name = ?";

static const char sql_secret_put[] =
    "INSERT INTO tool_secrets (tenant_id, tool, name, key_version, nonce, ciphertext,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"
    " ON DUPLICATE KEY UPDATE key_version = VALUES(key_version), nonce = VALUES(nonce),"
    " ciphertext = VALUES(ciphertext), updated_at = VALUES(updated_at)";
static const char sql_secret_version[] =
    "SELECT key_version FROM tool_secrets WHERE tenant_id = ? AND tool = ? AND name = ?";
static const char sql_secret_list[] =
    "SELECT tool, name, key_version, CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED)"
    " FROM tool_secrets WHERE tenant_id = ? ORDER BY tool, name";
static const char sql_secret_sealed[] =
    "SELECT name, key_version, nonce, ciphertext,"
    " CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED)"
    " FROM tool_secrets WHERE tenant_id = ? AND tool = ? ORDER BY name";

static const char sql_agent_del[] = "DELETE FROM agent_tools WHERE tenant_id = ? AND agent_id = ?";
static const char sql_agent_add[] =
    "INSERT INTO agent_tools (tenant_id, agent_id, tool, created_at)"
    " VALUES (?, ?, ?, UTC_TIMESTAMP(6))";
static const char sql_agent_steps[] =
    "UPDATE agents SET max_steps = ? WHERE tenant_id = ? AND id = ?";
static const char sql_agent_get[] =
    "SELECT tool FROM agent_tools WHERE tenant_id = ? AND agent_id = ? ORDER BY tool";
static const char sql_agent_get_steps[] =
    "SELECT COALESCE(max_steps, 0) FROM agents WHERE tenant_id = ? AND id = ?";

static const char sql_step_insert[] =
    "INSERT INTO run_steps (tenant_id, run_id, step, kind, name, call_id, exec_id,"
    " prompt_tokens, completion_tokens, cost_micros, duration_ms, outcome, reason_code,"
    " message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))";
static const char sql_step_list[] =
    "SELECT step, kind, name, call_id, exec_id, prompt_tokens, completion_tokens, cost_micros,"
    " duration_ms, outcome, reason_code, message,"
    " CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED)"
    " FROM run_steps WHERE tenant_id = ? AND run_id = ? ORDER BY step";

/* ------------------------------------------------------------------ registry */

int store_tool_register(struct store *st, const struct tool_def *t, int *created)
{
	MYSQL_BIND in[8];
	unsigned long l[6];
	int rc;

	if (t->name[0] == '\0' || t->exec_path[0] == '\0' || t->schema[0] == '\0' ||
	    t->timeout_ms <= 0 || t->max_output_bytes <= 0) {
		log_error("store: store_tool_register: incomplete tool definition");
		return ST_ERR;
	}
	BIND_FIXED(&in[0], t->name, &l[0]);
	BIND_FIXED(&in[1], t->description, &l[1]);
	BIND_FIXED(&in[2], t->schema, &l[2]);
	BIND_FIXED(&in[3], t->exec_path, &l[3]);
	db_in_int(&in[4], &t->timeout_ms);
	db_in_int(&in[5], &t->max_output_bytes);
	db_in_int(&in[6], &t->mutating);
	BIND_FIXED(&in[7], t->secret_names, &l[4]);
	rc = db_exec(st, Q_TOOL_REGISTER, sql_register, in, NULL, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	/* 1 row affected for an insert, 2 for an update (updated_at always changes). */
	if (created)
		*created = db_affected(st, Q_TOOL_REGISTER) == 1;
	return ST_OK;
}

/* Describe the TOOL_COLS columns into o, landing in t. */
static void tool_bind(struct db_out *o, struct tool_def *t)
{
	db_out_init(o);
	db_out_i64(o, &t->id);
	db_out_str(o, t->name, sizeof(t->name));
	db_out_str(o, t->description, sizeof(t->description));
	db_out_str(o, t->schema, sizeof(t->schema));
	db_out_str(o, t->exec_path, sizeof(t->exec_path));
	db_out_int(o, &t->timeout_ms);
	db_out_int(o, &t->max_output_bytes);
	db_out_int(o, &t->mutating);
	db_out_str(o, t->secret_names, sizeof(t->secret_names));
	db_out_int(o, &t->enabled);
	db_out_i64(o, &t->created_at);
	db_out_i64(o, &t->updated_at);
}

int store_tool_get(struct store *st, const char *name, struct tool_def *out)
{
	char key[TOOL_NAME_MAX + 1];
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	/* Copied first: name may point into *out (a lookup of out->name refreshes out). */
	if (name == NULL || strlen(name) > TOOL_NAME_MAX) {
		memset(out, 0, sizeof(*out));
		return ST_NOTFOUND;
	}
	util_strlcpy(key, name, sizeof(key));
	memset(out, 0, sizeof(*out));
	db_in_str(&in[0], key, &l);
	tool_bind(&o, out);
	rc = db_exec(st, Q_TOOL_GET, sql_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_TOOL_GET, &o, __func__);
	db_end(st, Q_TOOL_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_tool_list(struct store *st, tool_def_cb cb, void *ctx)
{
	static _Thread_local struct tool_def t; /* 12 KiB: off the stack */
	struct db_out o;
	int rc;

	memset(&t, 0, sizeof(t));
	tool_bind(&o, &t);
	rc = db_exec(st, Q_TOOL_LIST, sql_list, NULL, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_TOOL_LIST, &o, __func__)) == 1)
		if (cb(ctx, &t))
			break;
	db_end(st, Q_TOOL_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_tool_set_enabled(struct store *st, const char *name, int enabled)
{
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	db_in_int(&in[0], &enabled);
	db_in_str(&in[1], name, &l);
	rc = db_exec(st, Q_TOOL_ENABLE, sql_enable, in, NULL, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	return db_affected(st, Q_TOOL_ENABLE) == 0 ? ST_NOTFOUND : ST_OK;
}

/* ------------------------------------------------------------------ tenant tool secrets */

int store_tool_secret_put(struct store *st, int64_t tenant_id, const char *tool, const char *name,
                          const struct sealed_cred *c)
{
	struct store *d = st; /* credentials and agent tools live in the control database */
	MYSQL_BIND in[6];
	unsigned long l[4];

	if (tool == NULL || name == NULL || *tool == '\0' || *name == '\0' || c->ct_len < 16 ||
	    c->ct_len > sizeof(c->ct)) {
		log_error("store: store_tool_secret_put: malformed secret");
		return ST_ERR;
	}
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], tool, &l[0]);
	db_in_str(&in[2], name, &l[1]);
	db_in_int(&in[3], &c->version);
	db_in_blob(&in[4], c->nonce, sizeof(c->nonce), &l[2]);
	db_in_blob(&in[5], c->ct, c->ct_len, &l[3]);
	return db_exec(d, Q_TOOL_SECRET_PUT, sql_secret_put, in, NULL, __func__);
}

int store_tool_secret_version(struct store *st, int64_t tenant_id, const char *tool,
                              const char *name, int *version)
{
	struct store *d = st; /* credentials and agent tools live in the control database */
	struct db_out o;
	MYSQL_BIND in[3];
	unsigned long l[2];
	int rc;

	*version = 0;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], tool, &l[0]);
	db_in_str(&in[2], name, &l[1]);
	db_out_init(&o);
	db_out_int(&o, version);
	rc = db_exec(d, Q_TOOL_SECRET_VERSION, sql_secret_version, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(d, Q_TOOL_SECRET_VERSION, &o, __func__);
	db_end(d, Q_TOOL_SECRET_VERSION, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_tool_secret_list(struct store *st, int64_t tenant_id, tool_secret_cb cb, void *ctx)
{
	struct store *d = st; /* credentials and agent tools live in the control database */
	char tool[TOOL_NAME_MAX + 1], name[TOOL_NAME_MAX + 1];
	struct sealed_cred c;
	struct db_out o;
	MYSQL_BIND in[1];
	int rc;

	memset(&c, 0, sizeof(c));
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_str(&o, tool, sizeof(tool));
	db_out_str(&o, name, sizeof(name));
	db_out_int(&o, &c.version);
	db_out_i64(&o, &c.updated_at);
	rc = db_exec(d, Q_TOOL_SECRET_LIST, sql_secret_list, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, Q_TOOL_SECRET_LIST, &o, __func__)) == 1)
		if (cb(ctx, tool, name, &c))
			break;
	db_end(d, Q_TOOL_SECRET_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_tool_secrets_sealed(struct store *st, int64_t tenant_id, const char *tool,
                              tool_secret_cb cb, void *ctx)
{
	struct store *d = st; /* credentials and agent tools live in the control database */
	char name[TOOL_NAME_MAX + 1];
	struct sealed_cred c;
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	size_t ct;
	int rc;

	memset(&c, 0, sizeof(c));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], tool, &l);
	db_out_init(&o);
	db_out_str(&o, name, sizeof(name));
	db_out_int(&o, &c.version);
	db_out_blob(&o, c.nonce, sizeof(c.nonce));
	ct = db_out_blob(&o, c.ct, sizeof(c.ct));
	db_out_i64(&o, &c.updated_at);
	rc = db_exec(d, Q_TOOL_SECRET_SEALED, sql_secret_sealed, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, Q_TOOL_SECRET_SEALED, &o, __func__)) == 1) {
		if (o.len[ct - 1] != sizeof(c.nonce) || o.len[ct] > sizeof(c.ct) ||
		    o.len[ct] < 16) {
			log_error("store: %s: stored tool secret is malformed", __func__);
			rc = ST_ERR;
			break;
		}
		c.ct_len = o.len[ct];
		if (cb(ctx, tool, name, &c))
			break;
	}
	db_end(d, Q_TOOL_SECRET_SEALED, &o);
	memset(&c, 0, sizeof(c));
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------------ agents' tools */

int store_agent_tools_set(struct store *st, int64_t tenant_id, int64_t agent_id,
                          const struct agent_tools *t)
{
	struct store *d = st; /* credentials and agent tools live in the control database */
	MYSQL_BIND in[3];
	unsigned long l;
	int rc;

	if (t->n > AGENT_MAX_TOOLS)
		return ST_ERR;
	if (db_begin(d, __func__) != ST_OK)
		return ST_ERR;
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &agent_id);
	rc = db_exec(d, Q_TOOL_AGENT_DEL, sql_agent_del, in, NULL, __func__);
	for (size_t i = 0; rc == ST_OK && i < t->n; i++) {
		db_in_i64(&in[0], &tenant_id);
		db_in_i64(&in[1], &agent_id);
		db_in_str(&in[2], t->names[i], &l);
		rc = db_exec(d, Q_TOOL_AGENT_ADD, sql_agent_add, in, NULL, __func__);
	}
	if (rc == ST_OK) {
		if (t->max_steps > 0)
			db_in_int(&in[0], &t->max_steps);
		else
			db_in_null(&in[0]);
		db_in_i64(&in[1], &tenant_id);
		db_in_i64(&in[2], &agent_id);
		rc = db_exec(d, Q_TOOL_AGENT_STEPS, sql_agent_steps, in, NULL, __func__);
		if (rc == ST_OK && db_affected(d, Q_TOOL_AGENT_STEPS) == 0)
			rc = ST_NOTFOUND;
	}
	if (rc != ST_OK) {
		db_rollback(d);
		return rc == ST_NOTFOUND || rc == ST_CONFLICT ? rc : ST_ERR;
	}
	return db_commit(d, __func__);
}

int store_agent_tools_get(struct store *st, int64_t tenant_id, int64_t agent_id,
                          struct agent_tools *out)
{
	struct store *d = st; /* credentials and agent tools live in the control database */
	char name[TOOL_NAME_MAX + 1];
	struct db_out o;
	MYSQL_BIND in[2];
	int rc;

	memset(out, 0, sizeof(*out));
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &agent_id);
	db_out_init(&o);
	db_out_str(&o, name, sizeof(name));
	rc = db_exec(d, Q_TOOL_AGENT_GET, sql_agent_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, Q_TOOL_AGENT_GET, &o, __func__)) == 1)
		if (out->n < AGENT_MAX_TOOLS)
			memcpy(out->names[out->n++], name, sizeof(name));
	db_end(d, Q_TOOL_AGENT_GET, &o);
	if (rc < 0)
		return ST_ERR;
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &agent_id);
	db_out_init(&o);
	db_out_int(&o, &out->max_steps);
	rc = db_exec(d, Q_TOOL_AGENT_GET_STEPS, sql_agent_get_steps, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(d, Q_TOOL_AGENT_GET_STEPS, &o, __func__);
	db_end(d, Q_TOOL_AGENT_GET_STEPS, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------------ run steps */

int store_run_step_insert(struct store *st, const struct run_step *s)
{
	struct store *d = store_data_conn(st, s->tenant_id);
	MYSQL_BIND in[14];
	unsigned long l[9];

	if (d == NULL)
		return ST_ERR;
	db_in_i64(&in[0], &s->tenant_id);
	BIND_FIXED(&in[1], s->run_id, &l[0]);
	db_in_int(&in[2], &s->step);
	BIND_FIXED(&in[3], s->kind, &l[1]);
	db_in_strn(&in[4], s->name, db_utf8_cut(s->name, 128), &l[2]);
	BIND_FIXED(&in[5], s->call_id, &l[3]);
	BIND_FIXED(&in[6], s->exec_id, &l[4]);
	db_in_i64(&in[7], &s->prompt_tokens);
	db_in_i64(&in[8], &s->completion_tokens);
	db_in_i64(&in[9], &s->cost_micros);
	db_in_int(&in[10], &s->duration_ms);
	BIND_FIXED(&in[11], s->outcome, &l[5]);
	BIND_FIXED(&in[12], s->reason_code, &l[6]);
	db_in_strn(&in[13], s->message, db_utf8_cut(s->message, 255), &l[7]);
	return db_exec(d, Q_STEP_INSERT, sql_step_insert, in, NULL, __func__);
}

int store_run_steps_list(struct store *st, int64_t tenant_id, const char *run_id, run_step_cb cb,
                         void *ctx)
{
	struct store *d = store_data_conn(st, tenant_id);
	struct run_step s;
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	if (d == NULL)
		return ST_ERR;
	memset(&s, 0, sizeof(s));
	s.tenant_id = tenant_id;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], run_id, &l);
	util_strlcpy(s.run_id, run_id, sizeof(s.run_id));
	db_out_init(&o);
	db_out_int(&o, &s.step);
	db_out_str(&o, s.kind, sizeof(s.kind));
	db_out_str(&o, s.name, sizeof(s.name));
	db_out_str(&o, s.call_id, sizeof(s.call_id));
	db_out_str(&o, s.exec_id, sizeof(s.exec_id));
	db_out_i64(&o, &s.prompt_tokens);
	db_out_i64(&o, &s.completion_tokens);
	db_out_i64(&o, &s.cost_micros);
	db_out_int(&o, &s.duration_ms);
	db_out_str(&o, s.outcome, sizeof(s.outcome));
	db_out_str(&o, s.reason_code, sizeof(s.reason_code));
	db_out_str(&o, s.message, sizeof(s.message));
	db_out_i64(&o, &s.created_at);
	rc = db_exec(d, Q_STEP_LIST, sql_step_list, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, Q_STEP_LIST, &o, __func__)) == 1)
		if (cb(ctx, &s))
			break;
	db_end(d, Q_STEP_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_run_record(struct store *st, const struct execution *e)
{
	struct store *d = store_data_conn(st, e->tenant_id);
	int rc;

	if (d == NULL)
		return ST_ERR;
	if (db_begin(d, __func__) != ST_OK)
		return ST_ERR;
	rc = store_execution_write(d, e, 0);
	if (rc != ST_OK) {
		db_rollback(d);
		return rc;
	}
	return db_commit(d, __func__);
}
