/*
 * dash_analytics.c: usage, invoice, health and executions figures for the
 * dashboard (see dash_analytics.h).
 *
 * DESIGN
 * Statements use the Q_DASHA_FIRST range of db.h, one offset each (Q_DA).
 * Every statement has a one-tenant and an every-tenant text rather than
 * "(? = 0 OR tenant_id = ?)", so the one-tenant form walks the primary key
 * (tenant_id first) and the every-tenant form uses its own index. Optional
 * filters of the executions list are "(? = '' OR col = ?)" applied while
 * walking seq backwards; LIMIT bounds the walk once enough rows matched.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/dash_analytics.h"
#include "store/db.h"
#include "store/store.h"

#define Q_DA(n) ((enum db_q)(Q_DASHA_FIRST + (n)))
#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"

/* ------------------------------------------------------------ usage_daily */

#define U_SUMS                                                                                     \
	" SUM(u.requests), SUM(u.errors), SUM(u.prompt_tokens), SUM(u.completion_tokens),"         \
	" SUM(u.cost_micros) FROM usage_daily u"                                                   \
	" LEFT JOIN agents a ON a.tenant_id = u.tenant_id AND a.id = u.agent_id"                   \
	" LEFT JOIN api_keys k ON k.id = u.key_id"
#define U_ONE " WHERE u.tenant_id = ? AND u.day BETWEEN ? AND ?"
#define U_ALL " WHERE u.day BETWEEN ? AND ?"

/* SELECT list (label, label2, label3, label4, id, tenant_id) and tail (GROUP/ORDER) per dim. */
static const struct {
	const char *sel, *tail;
} usage_dims[DASHA_DIM__MAX] = {
    [DASHA_DAY] = {"SELECT DATE_FORMAT(u.day, '%Y-%m-%d'), '', '', '', 0, 0,",
                   " GROUP BY u.day ORDER BY u.day LIMIT ?"},
    [DASHA_MODEL] = {"SELECT u.model, '', '', '', 0, 0,",
                     " GROUP BY u.model ORDER BY SUM(u.cost_micros) DESC, u.model LIMIT ?"},
    [DASHA_AGENT] = {"SELECT COALESCE(MAX(a.name), ''), '', '', '', u.agent_id, u.tenant_id,",
                     " GROUP BY u.tenant_id, u.agent_id"
                     " ORDER BY SUM(u.cost_micros) DESC, u.tenant_id, u.agent_id LIMIT ?"},
    [DASHA_KEY] = {"SELECT COALESCE(MAX(k.name), ''), '', '', '', u.key_id, u.tenant_id,",
                   " GROUP BY u.tenant_id, u.key_id"
                   " ORDER BY SUM(u.cost_micros) DESC, u.tenant_id, u.key_id LIMIT ?"},
    [DASHA_MODEL_AGENT] = {"SELECT u.model, COALESCE(MAX(a.name), ''), '', '', u.agent_id,"
                           " u.tenant_id,",
                           " GROUP BY u.tenant_id, u.model, u.agent_id"
                           " ORDER BY u.model, 2, u.agent_id LIMIT ?"},
    [DASHA_DETAIL] = {"SELECT DATE_FORMAT(u.day, '%Y-%m-%d'), u.model, COALESCE(MAX(a.name), ''),"
                      " COALESCE(MAX(k.name), ''), u.key_id, u.tenant_id,",
                      " GROUP BY u.tenant_id, u.day, u.model, u.agent_id, u.key_id"
                      " ORDER BY u.day, u.tenant_id, u.model, u.agent_id, u.key_id LIMIT ?"},
};

int store_dasha_usage(struct store *st, int64_t tenant_id, const char *from, const char *to,
                      enum dasha_dim dim, int limit, dasha_usage_cb cb, void *ctx)
{
	/* Statement texts built once: (dim, one/all) -> slot 2 * dim + all. */
	static char sql[DASHA_DIM__MAX][2][1024];
	static int built;
	struct dasha_usage_row row;
	struct db_out o;
	MYSQL_BIND in[4];
	unsigned long l[2];
	int all = tenant_id == 0, n = 0, rc;
	enum db_q q;

	if ((unsigned)dim >= DASHA_DIM__MAX)
		return ST_ERR;
	if (!__atomic_load_n(&built, __ATOMIC_ACQUIRE)) {
		/* Idempotent: racing threads write the same bytes before publishing. */
		for (int d = 0; d < DASHA_DIM__MAX; d++)
			for (int a = 0; a < 2; a++)
				snprintf(sql[d][a], sizeof(sql[d][a]), "%s%s%s%s",
				         usage_dims[d].sel, U_SUMS, a ? U_ALL : U_ONE,
				         usage_dims[d].tail);
		__atomic_store_n(&built, 1, __ATOMIC_RELEASE);
	}
	q = Q_DA(2 * (int)dim + all);
	memset(in, 0, sizeof(in));
	if (!all)
		db_in_i64(&in[n++], &tenant_id);
	db_in_str(&in[n++], from, &l[0]);
	db_in_str(&in[n++], to, &l[1]);
	db_in_int(&in[n++], &limit);
	memset(&row, 0, sizeof(row));
	db_out_init(&o);
	db_out_str(&o, row.label, sizeof(row.label));
	db_out_str(&o, row.label2, sizeof(row.label2));
	db_out_str(&o, row.label3, sizeof(row.label3));
	db_out_str(&o, row.label4, sizeof(row.label4));
	db_out_i64(&o, &row.id);
	db_out_i64(&o, &row.tenant_id);
	db_out_i64(&o, &row.requests);
	db_out_i64(&o, &row.errors);
	db_out_i64(&o, &row.prompt_tokens);
	db_out_i64(&o, &row.completion_tokens);
	db_out_i64(&o, &row.cost_micros);
	if (db_exec(st, q, sql[dim][all], in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1)
		if (cb(ctx, &row) != 0)
			break;
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------ usage_attr_daily */

#define A_SUMS                                                                                     \
	" SUM(u.requests), 0, SUM(u.prompt_tokens), SUM(u.completion_tokens),"                     \
	" SUM(u.cost_micros) FROM usage_attr_daily u"                                              \
	" LEFT JOIN agents a ON a.tenant_id = u.tenant_id AND a.id = u.agent_id"
#define A_TAIL " ORDER BY SUM(u.cost_micros) DESC, 1 LIMIT ?"

static const char *const attr_sel[DASHA_ATTR__MAX][2] = {
    [DASHA_BY_AGENT] = {"SELECT COALESCE(MAX(a.name), ''), '', '', '', u.agent_id, u.tenant_id,",
                        " GROUP BY u.tenant_id, u.agent_id"},
    [DASHA_BY_MODEL] = {"SELECT u.model, '', '', '', 0, 0,", " GROUP BY u.model"},
    [DASHA_BY_USER] = {"SELECT u.user, '', '', '', 0, 0,", " GROUP BY u.user"},
    [DASHA_BY_DEPARTMENT] = {"SELECT u.department, '', '', '', 0, 0,", " GROUP BY u.department"},
};

int store_dasha_showback(struct store *st, int64_t tenant_id, const char *from, const char *to,
                         enum dasha_attr attr, int limit, dasha_usage_cb cb, void *ctx)
{
	static char sql[DASHA_ATTR__MAX][2][768];
	static int built;
	struct dasha_usage_row row;
	struct db_out o;
	MYSQL_BIND in[4];
	unsigned long l[2];
	int all = tenant_id == 0, n = 0, rc;
	enum db_q q;

	if ((unsigned)attr >= DASHA_ATTR__MAX)
		return ST_ERR;
	if (!__atomic_load_n(&built, __ATOMIC_ACQUIRE)) {
		for (int d = 0; d < DASHA_ATTR__MAX; d++)
			for (int a = 0; a < 2; a++)
				snprintf(sql[d][a], sizeof(sql[d][a]), "%s%s%s%s%s", attr_sel[d][0],
				         A_SUMS, a ? U_ALL : U_ONE, attr_sel[d][1], A_TAIL);
		__atomic_store_n(&built, 1, __ATOMIC_RELEASE);
	}
	q = Q_DA(24 + 2 * (int)attr + all);
	memset(in, 0, sizeof(in));
	if (!all)
		db_in_i64(&in[n++], &tenant_id);
	db_in_str(&in[n++], from, &l[0]);
	db_in_str(&in[n++], to, &l[1]);
	db_in_int(&in[n++], &limit);
	memset(&row, 0, sizeof(row));
	db_out_init(&o);
	db_out_str(&o, row.label, sizeof(row.label));
	db_out_str(&o, row.label2, sizeof(row.label2));
	db_out_str(&o, row.label3, sizeof(row.label3));
	db_out_str(&o, row.label4, sizeof(row.label4));
	db_out_i64(&o, &row.id);
	db_out_i64(&o, &row.tenant_id);
	db_out_i64(&o, &row.requests);
	db_out_i64(&o, &row.errors);
	db_out_i64(&o, &row.prompt_tokens);
	db_out_i64(&o, &row.completion_tokens);
	db_out_i64(&o, &row.cost_micros);
	if (db_exec(st, q, sql[attr][all], in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1)
		if (cb(ctx, &row) != 0)
			break;
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------ executions */

#define E_COLS                                                                                     \
	"SELECT e.tenant_id, e.seq, t.name, e.id, e.kind, e.key_id, COALESCE(e.agent_id, 0),"      \
	" e.agent_name, e.session_id, e.model, e.provider, e.cred_source, e.status,"               \
	" e.reason_code, e.http_status, e.stream, e.prompt_tokens, e.completion_tokens,"           \
	" e.cost_micros, e.latency_ms, e.request_id, e.finish_reason,"                             \
	" COALESCE(e.error_message, ''), " TS("e.created_at")
#define E_FILTERS                                                                                  \
	" AND e.seq < ? AND (? = '' OR e.agent_name = ?) AND (? = '' OR e.model = ?)"              \
	" AND (? = '' OR e.status = ?) AND (? = '' OR e.reason_code = ?)"                          \
	" AND (? = '' OR e.created_at >= CAST(? AS DATE))"                                         \
	" AND (? = '' OR e.created_at < CAST(? AS DATE) + INTERVAL 1 DAY)"                         \
	" ORDER BY e.seq DESC LIMIT ?"

static const char sql_exec_one[] = E_COLS " FROM executions e JOIN tenants t ON t.id = e.tenant_id"
                                          " WHERE e.tenant_id = ?" E_FILTERS;
static const char sql_exec_all[] =
    E_COLS " FROM executions e FORCE INDEX (k_executions_seq) JOIN tenants t ON t.id = e.tenant_id"
           " WHERE 1 = 1" E_FILTERS;
static const char sql_exec_get[] = E_COLS ", e.metadata, e.input, e.output"
                                          " FROM executions e JOIN tenants t ON t.id = e.tenant_id"
                                          " WHERE e.tenant_id = ? AND e.id = ?";

/* Bind the columns of E_COLS into e. */
static void exec_out(struct db_out *o, struct dasha_exec *e)
{
	db_out_init(o);
	db_out_i64(o, &e->tenant_id);
	db_out_i64(o, &e->seq);
	db_out_str(o, e->tenant_name, sizeof(e->tenant_name));
	db_out_str(o, e->id, sizeof(e->id));
	db_out_str(o, e->kind, sizeof(e->kind));
	db_out_i64(o, &e->key_id);
	db_out_i64(o, &e->agent_id);
	db_out_str(o, e->agent_name, sizeof(e->agent_name));
	db_out_str(o, e->session_id, sizeof(e->session_id));
	db_out_str(o, e->model, sizeof(e->model));
	db_out_str(o, e->provider, sizeof(e->provider));
	db_out_str(o, e->cred_source, sizeof(e->cred_source));
	db_out_str(o, e->status, sizeof(e->status));
	db_out_str(o, e->reason_code, sizeof(e->reason_code));
	db_out_i64(o, &e->http_status);
	db_out_i64(o, &e->stream);
	db_out_i64(o, &e->prompt_tokens);
	db_out_i64(o, &e->completion_tokens);
	db_out_i64(o, &e->cost_micros);
	db_out_i64(o, &e->latency_ms);
	db_out_str(o, e->request_id, sizeof(e->request_id));
	db_out_str(o, e->finish_reason, sizeof(e->finish_reason));
	db_out_str(o, e->error_message, sizeof(e->error_message));
	db_out_i64(o, &e->created);
}

int store_dasha_exec_list(struct store *st, const struct dasha_exec_filter *f, dasha_exec_cb cb,
                          void *ctx)
{
	struct dasha_exec e;
	struct db_out o;
	MYSQL_BIND in[17];
	unsigned long l[12];
	int64_t before = f->before > 0 ? f->before : INT64_MAX;
	int limit = f->limit, n = 0, rc, all = f->tenant_id == 0;
	const char *vals[6] = {f->agent, f->model, f->status, f->reason_code, f->from, f->to};
	enum db_q q = Q_DA(16 + all);

	memset(in, 0, sizeof(in));
	if (!all)
		db_in_i64(&in[n++], &f->tenant_id);
	db_in_i64(&in[n++], &before);
	for (int i = 0; i < 6; i++) {
		db_in_str(&in[n++], vals[i], &l[2 * i]);
		db_in_str(&in[n++], vals[i], &l[2 * i + 1]);
	}
	db_in_int(&in[n++], &limit);
	memset(&e, 0, sizeof(e));
	exec_out(&o, &e);
	if (db_exec(st, q, all ? sql_exec_all : sql_exec_one, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1)
		if (cb(ctx, &e) != 0)
			break;
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* A malloc'd copy of s, or NULL for NULL (or when memory ran out). */
static char *dasha_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int store_dasha_exec_get(struct store *st, int64_t tenant_id, const char *id,
                         struct dasha_exec *out, char **metadata, char **input, char **output)
{
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	size_t cm, ci, co;
	int rc;

	*metadata = *input = *output = NULL;
	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l);
	exec_out(&o, out);
	cm = db_out_text(&o);
	ci = db_out_text(&o);
	co = db_out_text(&o);
	if (db_exec(st, Q_DA(18), sql_exec_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_DA(18), &o, __func__);
	if (rc == 1) {
		*metadata = dasha_dup(o.text[cm]);
		*input = dasha_dup(o.text[ci]);
		*output = dasha_dup(o.text[co]);
	}
	db_end(st, Q_DA(18), &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* ------------------------------------------------------------ health */

#define B15 "u.bucket >= UNIX_TIMESTAMP() DIV 300 - 2"
#define S15(c) " COALESCE(SUM(CASE WHEN " B15 " THEN u." c " END), 0),"
#define S24(c) " COALESCE(SUM(u." c "), 0),"
#define LAT(S)                                                                                     \
	S("lat_le_100")                                                                            \
	S("lat_le_250")                                                                            \
	S("lat_le_500")                                                                            \
	S("lat_le_1000") S("lat_le_2500") S("lat_le_5000") S("lat_le_10000") S("lat_gt_10000")
#define BUDGET(col, win, fmt)                                                                      \
	" COALESCE((SELECT b." col " FROM budget_counters b WHERE b.scope = 'tenant'"              \
	" AND b.scope_id = t.id AND b.win = '" win "'"                                             \
	" AND b.period = DATE_FORMAT(UTC_DATE(), '" fmt "')), 0)"
#define H_SQL(where)                                                                               \
	"SELECT t.id, t.name," S15("requests") S15("failed") S15("refused") S24("requests")        \
	    S24("failed") S24("refused") LAT(S24) LAT(                                             \
	        S15) " COALESCE((SELECT GROUP_CONCAT(br.provider ORDER BY br.provider SEPARATOR "  \
	             "', ')"                                                                       \
	             " FROM breakers br WHERE br.tenant_id = t.id AND br.state = 'open'), "        \
	             "'')," BUDGET("spent_micros", "day", "%Y-%m-%d") "," BUDGET(                  \
	                 "lim_micros", "day",                                                      \
	                 "%Y-%m-%d") "," BUDGET("spent_micros", "month",                           \
	                                        "%Y-%m") "," BUDGET("lim_micros", "month",         \
	                                                            "%Y-%m") " FROM tenants t "    \
	                                                                     "LEFT JOIN "          \
	                                                                     "usage_5min u ON "    \
	                                                                     "u.tenant_id = t.id"  \
	                                                                     " AND u.bucket >= "   \
	                                                                     "UNIX_TIMESTAMP() "   \
	                                                                     "DIV 300 - 287" where \
	                                                                     " GROUP BY t.id, "    \
	                                                                     "t.name ORDER BY 4 "  \
	                                                                     "DESC, 5 DESC, 7 "    \
	                                                                     "DESC, t.id LIMIT ? " \
	                                                                     "OFFSET ?"

static const char sql_health_one[] = H_SQL(" WHERE t.id = ?");
static const char sql_health_all[] = H_SQL("");

int store_dasha_health(struct store *st, int64_t tenant_id, int limit, int offset,
                       dasha_health_cb cb, void *ctx)
{
	struct dasha_health_row h;
	struct db_out o;
	MYSQL_BIND in[3];
	int n = 0, rc, all = tenant_id == 0;
	enum db_q q = Q_DA(20 + all);

	memset(in, 0, sizeof(in));
	if (!all)
		db_in_i64(&in[n++], &tenant_id);
	db_in_int(&in[n++], &limit);
	db_in_int(&in[n++], &offset);
	memset(&h, 0, sizeof(h));
	db_out_init(&o);
	db_out_i64(&o, &h.tenant_id);
	db_out_str(&o, h.name, sizeof(h.name));
	db_out_i64(&o, &h.req15);
	db_out_i64(&o, &h.failed15);
	db_out_i64(&o, &h.refused15);
	db_out_i64(&o, &h.req24);
	db_out_i64(&o, &h.failed24);
	db_out_i64(&o, &h.refused24);
	for (int i = 0; i < 8; i++)
		db_out_i64(&o, &h.lat24[i]);
	for (int i = 0; i < 8; i++)
		db_out_i64(&o, &h.lat15[i]);
	db_out_str(&o, h.open_breakers, sizeof(h.open_breakers));
	db_out_i64(&o, &h.day_spent);
	db_out_i64(&o, &h.day_lim);
	db_out_i64(&o, &h.month_spent);
	db_out_i64(&o, &h.month_lim);
	if (db_exec(st, q, all ? sql_health_all : sql_health_one, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1)
		if (cb(ctx, &h) != 0)
			break;
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

static const char sql_tenant_name[] = "SELECT name FROM tenants WHERE id = ?";

int store_dasha_tenant_name(struct store *st, int64_t tenant_id, char *name, size_t cap)
{
	struct db_out o;
	MYSQL_BIND in[1];
	int rc;

	name[0] = '\0';
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_str(&o, name, cap);
	if (db_exec(st, Q_DA(22), sql_tenant_name, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_DA(22), &o, __func__);
	db_end(st, Q_DA(22), &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}
