/*
 * executions.c: the record of every chat call and agent run
 * (store_execution_*), and the daily usage rollup it feeds.
 *
 * DESIGN
 * An execution row has a public id (chosen by the caller) and an internal
 * seq (AUTO_INCREMENT) that orders rows; seq never leaves the store. Lists
 * page by keyset on (tenant_id, seq): the cursor is the public id of the last
 * row shown, turned back into its seq, so a page costs an index range read
 * however deep it is, and rows inserted meanwhile never shift pages.
 * Each combination of list filters is its own shape of Q_EXEC_LIST (32),
 * so every variant has a plain WHERE clause the optimizer can match to an
 * index instead of "(? IS NULL OR col = ?)" guards. The variant's text is
 * rebuilt per call (a few appends) so a reconnect can always re-prepare it.
 * Recording writes the row and adds it to usage_daily, usage_5min and
 * usage_attr_daily (showback by metadata user/department) in one
 * transaction, so dashboards read totals from the rollups and never disagree.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/records.h"
#include "store/sql.h"
#include "store/store.h"

#define EXEC_COLS                                                                                  \
	"SELECT id, tenant_id, key_id, kind, COALESCE(agent_id, 0), agent_name, session_id, "      \
	"model,"                                                                                   \
	" provider, cred_source, status, reason_code, http_status, stream, prompt_tokens,"         \
	" completion_tokens, cost_micros, latency_ms, request_id, finish_reason, metadata, input," \
	" output, error_message, CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED), seq,"          \
	" end_user, cache_hit, guardrails FROM executions"

/* List filter bits: which optional conditions a list statement carries. */
enum {
	EF_KIND = 1 << 0,
	EF_AGENT = 1 << 1,
	EF_STATUS = 1 << 2,
	EF_SINCE = 1 << 3,
	EF_CURSOR = 1 << 4,
};
_Static_assert(EF_CURSOR * 2 == DB_EXEC_LIST_SHAPES, "one list statement per filter subset");

#define EXEC_INSERT_HEAD                                                                           \
	"INSERT INTO executions (tenant_id, id, kind, key_id, agent_id, agent_name, session_id,"   \
	" model, provider, cred_source, status, reason_code, http_status, stream, prompt_tokens,"  \
	" completion_tokens, cost_micros, latency_ms, request_id, finish_reason, metadata, input," \
	" output, error_message, end_user, cache_hit, guardrails, created_at)"

#define EXEC_LIST_MAX 100
#define EXEC_ERRMSG_MAX 255

static const char sql_insert[] =
    "INSERT INTO executions (tenant_id, id, kind, key_id, agent_id, agent_name, session_id,"
    " model, provider, cred_source, status, reason_code, http_status, stream, prompt_tokens,"
    " completion_tokens, cost_micros, latency_ms, request_id, finish_reason, metadata, input,"
    " output, error_message, end_user, cache_hit, guardrails, created_at) VALUES (?, ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))";
int store_rollup_sql(struct sql *q, const struct execution *e, int if_open)
{
	const struct execution *one[1] = {e};
	int64_t now[1] = {0};

	return store_rollups_sql(q, one, now, 1, if_open);
}

static const char sql_get[] = EXEC_COLS " WHERE tenant_id = ? AND id = ?";
static const char sql_seq[] = "SELECT seq FROM executions WHERE tenant_id = ? AND id = ?";

/* Bind a fixed-size struct string (bounded even if it lacks its NUL). */
#define BIND_FIXED(b, field, len) db_in_strn((b), (field), strnlen((field), sizeof(field)), (len))

/*
 * Record e (created_at and seq are assigned here) and add it to the day's
 * rollup for (tenant, key, agent, model), in one transaction. An
 * error_message longer than the column is cut at a character boundary.
 * ST_OK, ST_CONFLICT when the id exists for this tenant, ST_ERR.
 */
int store_execution_batch(struct store *d, const struct execution *e)
{
	struct sql q;
	int rc;

	sql_init(&q, d);
	sql_lit(&q, "START TRANSACTION; ");
	store_execution_head(&q);
	store_execution_values(&q, e, 0);
	sql_lit(&q, ";");
	store_rollup_sql(&q, e, 0);
	sql_lit(&q, " COMMIT");
	rc = sql_run(d, &q, NULL, NULL, __func__);
	sql_free(&q);
	d->in_tx = 0;
	return rc == ST_OK || rc == ST_CONFLICT ? rc : ST_ERR;
}

int store_execution_record(struct store *st, const struct execution *e)
{
	struct store *d = store_data_conn(st, e->tenant_id);
	struct sql q;
	int rc;

	if (d == NULL)
		return ST_ERR;
	if (d == st) {
		if (db_begin(d, __func__) != ST_OK)
			return ST_ERR;
		rc = store_execution_write(d, e, 1);
		if (rc != ST_OK) {
			db_rollback(d);
			return rc;
		}
		return db_commit(d, __func__);
	}
	/*
	 * A dedicated tenant: its own database gets the row and rollups, then the
	 * control database its summary (data first: a crash in between leaves the
	 * summary one call short, never the tenant's record).
	 */
	rc = store_execution_batch(d, e);
	if (rc != ST_OK)
		return rc;
	sql_init(&q, st);
	sql_lit(&q, "START TRANSACTION;");
	store_rollup_sql(&q, e, 0);
	sql_lit(&q, " COMMIT");
	rc = sql_run(st, &q, NULL, NULL, __func__);
	sql_free(&q);
	if (rc != ST_OK)
		log_error(
		    "store: execution %s of tenant %lld is recorded but missing from the summary",
		    e->id, (long long)e->tenant_id);
	return ST_OK;
}

void store_execution_head(struct sql *q)
{
	sql_lit(q, EXEC_INSERT_HEAD " VALUES ");
}

int store_execution_values(struct sql *q, const struct execution *e, int64_t created_us)
{
	const char *fixed[] = {e->agent_name,  e->session_id, e->model,      e->provider,
	                       e->cred_source, e->status,     e->reason_code};

	if (e->id[0] == '\0' || e->model[0] == '\0' || e->status[0] == '\0' ||
	    e->prompt_tokens < 0 || e->completion_tokens < 0 || e->cost_micros < 0) {
		q->failed = 1;
		return -1;
	}
	sql_lit(q, "(");
	sql_i64(q, e->tenant_id);
	sql_lit(q, ", ");
	sql_str(q, e->id);
	sql_lit(q, ", ");
	sql_str(q, e->kind);
	sql_lit(q, ", ");
	sql_i64(q, e->key_id);
	sql_lit(q, ", ");
	if (e->agent_id)
		sql_i64(q, e->agent_id);
	else
		sql_lit(q, "NULL");
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		sql_lit(q, ", ");
		sql_str(q, fixed[i]);
	}
	sql_lit(q, ", ");
	sql_i64(q, e->http_status);
	sql_lit(q, ", ");
	sql_i64(q, e->stream ? 1 : 0);
	sql_lit(q, ", ");
	sql_i64(q, e->prompt_tokens);
	sql_lit(q, ", ");
	sql_i64(q, e->completion_tokens);
	sql_lit(q, ", ");
	sql_i64(q, e->cost_micros);
	sql_lit(q, ", ");
	sql_i64(q, e->latency_ms);
	sql_lit(q, ", ");
	sql_str(q, e->request_id);
	sql_lit(q, ", ");
	sql_str(q, e->finish_reason);
	sql_lit(q, ", ");
	sql_str(q, e->metadata);
	sql_lit(q, ", ");
	sql_str(q, e->input);
	sql_lit(q, ", ");
	sql_str(q, e->output);
	sql_lit(q, ", ");
	if (e->error_message)
		sql_strn(q, e->error_message, db_utf8_cut(e->error_message, EXEC_ERRMSG_MAX));
	else
		sql_lit(q, "NULL");
	sql_lit(q, ", ");
	sql_strn(q, e->end_user, strnlen(e->end_user, sizeof(e->end_user)));
	sql_lit(q, ", ");
	sql_i64(q, e->cache_hit ? 1 : 0);
	sql_lit(q, ", ");
	if (e->guardrails)
		sql_str(q, e->guardrails);
	else
		sql_lit(q, "NULL");
	sql_lit(q, ", ");
	if (created_us > 0)
		sql_time_us(q, created_us);
	else
		sql_lit(q, "UTC_TIMESTAMP(6)");
	sql_lit(q, ")");
	return sql_ok(q) ? 0 : -1;
}

int store_execution_write(struct store *d, const struct execution *e, int with_usage)
{
	MYSQL_BIND in[27];
	unsigned long l[17];
	struct sql rq;
	int rc;

	if (e->id[0] == '\0' || e->model[0] == '\0' || e->status[0] == '\0' ||
	    e->prompt_tokens < 0 || e->completion_tokens < 0 || e->cost_micros < 0) {
		log_error("store: store_execution_record: missing id, model or status, or negative "
		          "usage");
		return ST_ERR;
	}
	db_in_i64(&in[0], &e->tenant_id);
	BIND_FIXED(&in[1], e->id, &l[0]);
	BIND_FIXED(&in[2], e->kind, &l[1]);
	db_in_i64(&in[3], &e->key_id);
	db_in_i64_or_null(&in[4], &e->agent_id);
	BIND_FIXED(&in[5], e->agent_name, &l[2]);
	BIND_FIXED(&in[6], e->session_id, &l[3]);
	BIND_FIXED(&in[7], e->model, &l[4]);
	BIND_FIXED(&in[8], e->provider, &l[5]);
	BIND_FIXED(&in[9], e->cred_source, &l[6]);
	BIND_FIXED(&in[10], e->status, &l[7]);
	BIND_FIXED(&in[11], e->reason_code, &l[8]);
	db_in_int(&in[12], &e->http_status);
	db_in_int(&in[13], &e->stream);
	db_in_i64(&in[14], &e->prompt_tokens);
	db_in_i64(&in[15], &e->completion_tokens);
	db_in_i64(&in[16], &e->cost_micros);
	db_in_int(&in[17], &e->latency_ms);
	BIND_FIXED(&in[18], e->request_id, &l[9]);
	BIND_FIXED(&in[19], e->finish_reason, &l[10]);
	db_in_str(&in[20], e->metadata, &l[11]);
	db_in_str(&in[21], e->input, &l[12]);
	db_in_str(&in[22], e->output, &l[13]);
	if (e->error_message)
		db_in_strn(&in[23], e->error_message,
		           db_utf8_cut(e->error_message, EXEC_ERRMSG_MAX), &l[14]);
	else
		db_in_null(&in[23]);
	BIND_FIXED(&in[24], e->end_user, &l[15]);
	db_in_int(&in[25], &e->cache_hit);
	if (e->guardrails)
		db_in_str(&in[26], e->guardrails, &l[16]);
	else
		db_in_null(&in[26]);
	rc = db_exec(d, Q_EXEC_INSERT, sql_insert, in, NULL, __func__);
	if (rc != ST_OK)
		return rc == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	if (!with_usage)
		return ST_OK;
	/* the rollups as one batch from store_rollup_sql, the one place that writes them */
	sql_init(&rq, d);
	store_rollup_sql(&rq, e, 0);
	rc = sql_run(d, &rq, NULL, NULL, __func__);
	sql_free(&rq);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

/* Describe the EXEC_COLS columns into o, landing in e; text columns stay in o->text. */
static void exec_bind(struct db_out *o, struct execution *e)
{
	db_out_init(o);
	db_out_str(o, e->id, sizeof(e->id));
	db_out_i64(o, &e->tenant_id);
	db_out_i64(o, &e->key_id);
	db_out_str(o, e->kind, sizeof(e->kind));
	db_out_i64(o, &e->agent_id);
	db_out_str(o, e->agent_name, sizeof(e->agent_name));
	db_out_str(o, e->session_id, sizeof(e->session_id));
	db_out_str(o, e->model, sizeof(e->model));
	db_out_str(o, e->provider, sizeof(e->provider));
	db_out_str(o, e->cred_source, sizeof(e->cred_source));
	db_out_str(o, e->status, sizeof(e->status));
	db_out_str(o, e->reason_code, sizeof(e->reason_code));
	db_out_int(o, &e->http_status);
	db_out_int(o, &e->stream);
	db_out_i64(o, &e->prompt_tokens);
	db_out_i64(o, &e->completion_tokens);
	db_out_i64(o, &e->cost_micros);
	db_out_int(o, &e->latency_ms);
	db_out_str(o, e->request_id, sizeof(e->request_id));
	db_out_str(o, e->finish_reason, sizeof(e->finish_reason));
	db_out_text(o); /* 20 metadata */
	db_out_text(o); /* 21 input */
	db_out_text(o); /* 22 output */
	db_out_text(o); /* 23 error_message */
	db_out_i64(o, &e->created_at);
	db_out_i64(o, &e->seq);
	db_out_str(o, e->end_user, sizeof(e->end_user));
	db_out_int(o, &e->cache_hit);
	db_out_text(o); /* 28 guardrails */
}

/* Point e's text fields at the row just fetched into o. */
static void exec_texts(const struct db_out *o, struct execution *e)
{
	e->metadata = o->text[20];
	e->input = o->text[21];
	e->output = o->text[22];
	e->error_message = o->text[23];
	e->guardrails = o->text[28];
}

/* Call cb once with the tenant's execution id: ST_OK, ST_NOTFOUND, ST_ERR. */
int store_execution_get(struct store *st, int64_t tenant_id, const char *id, exec_cb cb, void *ctx)
{
	struct store *d = store_data_conn(st, tenant_id);
	struct execution e;
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	if (d == NULL)
		return ST_ERR;
	if (id == NULL)
		return ST_NOTFOUND;
	memset(&e, 0, sizeof(e));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l);
	exec_bind(&o, &e);
	rc = db_exec(d, Q_EXEC_GET, sql_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(d, Q_EXEC_GET, &o, __func__);
	if (rc == 1) {
		exec_texts(&o, &e);
		cb(ctx, &e);
	}
	db_end(d, Q_EXEC_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* The seq of the tenant's execution id into *seq: ST_OK, ST_NOTFOUND, ST_ERR. */
static int exec_seq(struct store *d, int64_t tenant_id, const char *id, int64_t *seq)
{
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l);
	db_out_init(&o);
	db_out_i64(&o, seq);
	rc = db_exec(d, Q_EXEC_SEQ, sql_seq, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(d, Q_EXEC_SEQ, &o, __func__);
	db_end(d, Q_EXEC_SEQ, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* The SQL of the list variant with filter bits mask into b; 0 or -1 (out of memory). */
static int exec_list_sql(struct buf *b, unsigned mask)
{
	if (buf_puts(b, EXEC_COLS " WHERE tenant_id = ?"))
		return -1;
	if ((mask & EF_KIND) && buf_puts(b, " AND kind = ?"))
		return -1;
	if ((mask & EF_AGENT) && buf_puts(b, " AND agent_name = ?"))
		return -1;
	if ((mask & EF_STATUS) && buf_puts(b, " AND status = ?"))
		return -1;
	if ((mask & EF_SINCE) && buf_puts(b, " AND created_at >= FROM_UNIXTIME(?)"))
		return -1;
	if ((mask & EF_CURSOR) && buf_puts(b, " AND seq < ?"))
		return -1;
	return buf_puts(b, " ORDER BY seq DESC LIMIT ?");
}

/*
 * Call cb for up to f->limit (1..100) of the tenant's executions matching f,
 * newest first, after f->cursor when given; empty filter strings mean "any".
 * *has_more tells whether another page exists (its cursor is the id of the
 * last row delivered). Nonzero from cb stops. ST_OK, ST_NOTFOUND when the
 * cursor is not one of this tenant's executions, ST_ERR.
 */
int store_execution_list(struct store *st, int64_t tenant_id, const struct exec_filter *f,
                         exec_cb cb, void *ctx, int *has_more)
{
	struct store *d = store_data_conn(st, tenant_id);
	struct buf sql = BUF_INIT;
	struct execution e;
	struct db_out o;
	MYSQL_BIND in[7];
	unsigned long l[3];
	unsigned mask = 0;
	int64_t cursor_seq = 0, since = f->since;
	int limit = f->limit + 1, n = 0, nin = 0, rc;
	enum db_q q;

	if (d == NULL)
		return ST_ERR;
	*has_more = 0;
	if (f->limit < 1 || f->limit > EXEC_LIST_MAX || f->since < 0) {
		log_error("store: store_execution_list: limit must be 1..%d", EXEC_LIST_MAX);
		return ST_ERR;
	}
	if (f->cursor && *f->cursor) {
		rc = exec_seq(d, tenant_id, f->cursor, &cursor_seq);
		if (rc != ST_OK)
			return rc;
		mask |= EF_CURSOR;
	}
	db_in_i64(&in[nin++], &tenant_id);
	if (f->kind && *f->kind) {
		mask |= EF_KIND;
		db_in_str(&in[nin++], f->kind, &l[0]);
	}
	if (f->agent_name && *f->agent_name) {
		mask |= EF_AGENT;
		db_in_str(&in[nin++], f->agent_name, &l[1]);
	}
	if (f->status && *f->status) {
		mask |= EF_STATUS;
		db_in_str(&in[nin++], f->status, &l[2]);
	}
	if (since > 0) {
		mask |= EF_SINCE;
		db_in_i64(&in[nin++], &since);
	}
	if (mask & EF_CURSOR)
		db_in_i64(&in[nin++], &cursor_seq);
	db_in_int(&in[nin++], &limit);
	q = db_variant(Q_EXEC_LIST, mask);
	/* Always built: a reconnect inside db_exec must be able to prepare it again. */
	if (exec_list_sql(&sql, mask)) {
		log_error("store: store_execution_list: out of memory");
		buf_free(&sql);
		return ST_ERR;
	}
	memset(&e, 0, sizeof(e));
	exec_bind(&o, &e);
	rc = db_exec(d, q, buf_str(&sql), in, &o, __func__);
	buf_free(&sql);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, q, &o, __func__)) == 1) {
		if (n == f->limit) {
			*has_more = 1;
			break;
		}
		n++;
		exec_texts(&o, &e);
		if (cb(ctx, &e))
			break;
	}
	db_end(d, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
