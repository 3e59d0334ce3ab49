/*
 * sessions.c: conversation sessions and their messages (store_session_*).
 *
 * DESIGN
 * A session belongs to one tenant (primary key (tenant_id, id)); its
 * messages are numbered 1, 2, 3... per session, and message_count on the
 * session row is the highest number used. A turn (the user's message and
 * the assistant's answer) is appended under a row lock on the session, so
 * concurrent runs on one session get consecutive numbers and never collide.
 * Reading "the newest N messages" is therefore a range on the primary key
 * (seq > count - N), delivered oldest first, with no sort or OFFSET.
 * Sessions are tenant data and go through store_data_conn().
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/store.h"

#define SESSION_METADATA_MAX 4095

static const char sql_insert[] =
    "INSERT INTO sessions (tenant_id, id, agent_id, metadata, message_count, created_at,"
    " updated_at) SELECT ?, ?, NULLIF(?, 0), ?, 0, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)"
    " FROM DUAL WHERE ? = 0 OR EXISTS (SELECT 1 FROM agents a WHERE a.tenant_id = ?"
    " AND a.id = ?)";
/* The same for a dedicated tenant's database, which has no agents table: checked before. */
static const char sql_insert_data[] =
    "INSERT INTO sessions (tenant_id, id, agent_id, metadata, message_count, created_at,"
    " updated_at) VALUES (?, ?, NULLIF(?, 0), ?, 0, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
static const char sql_get[] = "SELECT id, tenant_id, COALESCE(agent_id, 0), metadata,"
                              " message_count, CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED),"
                              " CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED)"
                              " FROM sessions WHERE tenant_id = ? AND id = ?";
static const char sql_count[] = "SELECT message_count FROM sessions WHERE tenant_id = ? AND id = ?";
static const char sql_messages[] =
    "SELECT seq, role, content, run_id, CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED)"
    " FROM session_messages WHERE tenant_id = ? AND session_id = ? AND seq > ? AND seq <= ?"
    " ORDER BY seq";
static const char sql_lock[] =
    "SELECT message_count FROM sessions WHERE tenant_id = ? AND id = ? FOR UPDATE";
static const char sql_msg_insert[] =
    "INSERT INTO session_messages (tenant_id, session_id, seq, role, content, run_id,"
    " created_at) VALUES (?, ?, ?, 'user', ?, ?, UTC_TIMESTAMP(6)),"
    " (?, ?, ?, 'assistant', ?, ?, UTC_TIMESTAMP(6))";
static const char sql_bump[] = "UPDATE sessions SET message_count = ?,"
                               " updated_at = UTC_TIMESTAMP(6) WHERE tenant_id = ? AND id = ?";

/*
 * Create a session for tenant_id, optionally bound to one of its agents
 * (agent_id 0 = none), with metadata_json (NULL = "{}", at most 4095 bytes
 * of valid JSON). Writes the new "sess_..." id to id_out. ST_OK,
 * ST_NOTFOUND when agent_id is not this tenant's agent, ST_ERR.
 */
int store_session_create(struct store *st, int64_t tenant_id, int64_t agent_id,
                         const char *metadata_json, char id_out[40])
{
	struct store *d = store_data_conn(st, tenant_id);
	const char *meta = metadata_json ? metadata_json : "{}";
	MYSQL_BIND in[7];
	unsigned long l[2];
	char id[40];
	int rc;

	if (d == NULL)
		return ST_ERR;
	id_out[0] = '\0';
	if (strlen(meta) > SESSION_METADATA_MAX || agent_id < 0) {
		log_error("store: store_session_create: metadata longer than %d bytes or bad agent",
		          SESSION_METADATA_MAX);
		return ST_ERR;
	}
	if (d != st && agent_id != 0) {
		/* agents live in the control database, the session in the tenant's own */
		struct agent a;

		rc = store_agent_get(st, tenant_id, agent_id, &a);
		if (rc != ST_OK)
			return rc;
	}
	util_random_id("sess_", id, sizeof(id));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l[0]);
	db_in_i64(&in[2], &agent_id);
	db_in_str(&in[3], meta, &l[1]);
	db_in_i64(&in[4], &agent_id); /* the shared insert checks the agent in its EXISTS */
	db_in_i64(&in[5], &tenant_id);
	db_in_i64(&in[6], &agent_id);
	rc = db_exec(d, d == st ? Q_SESSION_INSERT : Q_SESSION_INSERT_DATA,
	             d == st ? sql_insert : sql_insert_data, in, NULL, __func__);
	if (rc != ST_OK)
		return rc;
	if (db_affected(d, d == st ? Q_SESSION_INSERT : Q_SESSION_INSERT_DATA) == 0)
		return ST_NOTFOUND;
	memcpy(id_out, id, sizeof(id));
	return ST_OK;
}

/* The tenant's session id: ST_OK, ST_NOTFOUND (also another tenant's), ST_ERR. */
int store_session_get(struct store *st, int64_t tenant_id, const char *id, struct session *out)
{
	struct store *d = store_data_conn(st, tenant_id);
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	if (d == NULL)
		return ST_ERR;
	memset(out, 0, sizeof(*out));
	if (id == NULL)
		return ST_NOTFOUND;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l);
	db_out_init(&o);
	db_out_str(&o, out->id, sizeof(out->id));
	db_out_i64(&o, &out->tenant_id);
	db_out_i64(&o, &out->agent_id);
	db_out_str(&o, out->metadata, sizeof(out->metadata));
	db_out_int(&o, &out->message_count);
	db_out_i64(&o, &out->created_at);
	db_out_i64(&o, &out->updated_at);
	rc = db_exec(d, Q_SESSION_GET, sql_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(d, Q_SESSION_GET, &o, __func__);
	db_end(d, Q_SESSION_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/*
 * Call cb for the session's messages, oldest first: all of them (limit 0)
 * or the newest limit. Nonzero from cb stops. ST_OK, ST_NOTFOUND when the
 * session is not this tenant's, ST_ERR.
 */
int store_session_messages(struct store *st, int64_t tenant_id, const char *id, int limit,
                           message_cb cb, void *ctx)
{
	struct store *d = store_data_conn(st, tenant_id);
	struct message m;
	struct db_out o;
	MYSQL_BIND in[4];
	unsigned long l;
	size_t content;
	int count = 0, from, rc;

	if (d == NULL)
		return ST_ERR;
	if (id == NULL)
		return ST_NOTFOUND;
	if (limit < 0) {
		log_error("store: store_session_messages: negative limit");
		return ST_ERR;
	}
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l);
	db_out_init(&o);
	db_out_int(&o, &count);
	rc = db_exec(d, Q_SESSION_COUNT, sql_count, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(d, Q_SESSION_COUNT, &o, __func__);
	db_end(d, Q_SESSION_COUNT, &o);
	if (rc != 1)
		return rc == 0 ? ST_NOTFOUND : ST_ERR;
	/* Bounded above by the count read, so turns appended meanwhile don't widen the window. */
	from = (limit > 0 && count > limit) ? count - limit : 0;
	db_in_int(&in[2], &from);
	db_in_int(&in[3], &count);
	memset(&m, 0, sizeof(m));
	db_out_init(&o);
	db_out_int(&o, &m.seq);
	db_out_str(&o, m.role, sizeof(m.role));
	content = db_out_text(&o);
	db_out_str(&o, m.run_id, sizeof(m.run_id));
	db_out_i64(&o, &m.created_at);
	rc = db_exec(d, Q_SESSION_MESSAGES, sql_messages, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, Q_SESSION_MESSAGES, &o, __func__)) == 1) {
		m.content = o.text[content] ? o.text[content] : "";
		if (cb(ctx, &m))
			break;
	}
	db_end(d, Q_SESSION_MESSAGES, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Append one turn (user message n+1, assistant message n+2, both tagged
 * with run_id) in one transaction under a lock on the session row. ST_OK,
 * ST_NOTFOUND when the session is not this tenant's, ST_ERR.
 */
int store_session_append_turn(struct store *st, int64_t tenant_id, const char *id,
                              const char *user_content, const char *assistant_content,
                              const char *run_id)
{
	struct store *d = store_data_conn(st, tenant_id);
	const char *run = run_id ? run_id : "";
	const char *uc = user_content ? user_content : "";
	const char *ac = assistant_content ? assistant_content : "";
	struct db_out o;
	MYSQL_BIND in[10];
	unsigned long l[7];
	int count = 0, user_seq, asst_seq, rc;

	if (d == NULL)
		return ST_ERR;
	if (id == NULL)
		return ST_NOTFOUND;
	if (db_begin(d, __func__) != ST_OK)
		return ST_ERR;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l[0]);
	db_out_init(&o);
	db_out_int(&o, &count);
	rc = db_exec(d, Q_SESSION_LOCK, sql_lock, in, &o, __func__);
	if (rc != ST_OK) {
		rc = ST_ERR;
		goto fail;
	}
	rc = db_fetch(d, Q_SESSION_LOCK, &o, __func__);
	db_end(d, Q_SESSION_LOCK, &o);
	if (rc != 1) {
		rc = rc == 0 ? ST_NOTFOUND : ST_ERR;
		goto fail;
	}
	if (count > 0x7ffffffd) {
		log_error("store: store_session_append_turn: session is full");
		rc = ST_ERR;
		goto fail;
	}
	user_seq = count + 1;
	asst_seq = count + 2;
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l[0]);
	db_in_int(&in[2], &user_seq);
	db_in_str(&in[3], uc, &l[1]);
	db_in_str(&in[4], run, &l[2]);
	db_in_i64(&in[5], &tenant_id);
	db_in_str(&in[6], id, &l[3]);
	db_in_int(&in[7], &asst_seq);
	db_in_str(&in[8], ac, &l[4]);
	db_in_str(&in[9], run, &l[5]);
	rc = db_exec(d, Q_SESSION_MSG_INSERT, sql_msg_insert, in, NULL, __func__);
	if (rc != ST_OK) {
		rc = ST_ERR;
		goto fail;
	}
	db_in_int(&in[0], &asst_seq);
	db_in_i64(&in[1], &tenant_id);
	db_in_str(&in[2], id, &l[6]);
	rc = db_exec(d, Q_SESSION_BUMP, sql_bump, in, NULL, __func__);
	if (rc != ST_OK) {
		rc = ST_ERR;
		goto fail;
	}
	return db_commit(d, __func__);
fail:
	db_rollback(d);
	return rc;
}
