/*
 * dash_analytics.c: usage, invoice, health and executions figures for the
 * dashboard (see dash_analytics.h).
 *
 * DESIGN
 * Statements are the DASHA_ entries of store/statements.h; a report has one
 * shape per dimension (db_variant).
 * Every statement has a one-tenant and an every-tenant text rather than
 * "(? = 0 OR tenant_id = ?)", so the one-tenant form walks the primary key
 * (tenant_id first) and the every-tenant form uses its own index. Optional
 * filters of the executions list are "(? = '' OR col = ?)" applied while
 * walking seq backwards; LIMIT bounds the walk once enough rows matched.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/admin.h"
#include "store/dash_analytics.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/store.h"
#include "common/util.h"

_Static_assert(DASHA_DIM__MAX == DB_DASHA_USAGE_SHAPES, "one usage statement per dimension");
_Static_assert(DASHA_ATTR__MAX == DB_DASHA_ATTR_SHAPES, "one showback statement per attribute");

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"

/* ------------------------------------------------------------ usage_daily */

/*
 * Sums are grouped in a derived table first and names joined to its (LIMITed)
 * rows afterwards, so agents and api_keys are read once per result row, not
 * once per usage_daily row.
 */
#define U_SUMS                                                                                     \
	" SUM(u.requests) r, SUM(u.errors) e, SUM(u.prompt_tokens) p,"                             \
	" SUM(u.completion_tokens) c, SUM(u.cost_micros) m, SUM(u.cache_hits) h FROM usage_daily " \
	"u"
#define U_ONE " WHERE u.tenant_id = ? AND u.day BETWEEN ? AND ?"
#define U_ALL " WHERE u.day BETWEEN ? AND ?"
#define U_OUT ", x.r, x.e, x.p, x.c, x.m, x.h FROM ("
#define J_AGENT " LEFT JOIN agents a ON a.tenant_id = x.t AND a.id = x.ag"
#define J_KEY " LEFT JOIN api_keys k ON k.id = x.kid"

/*
 * Per dim: the outer SELECT list (label, label2, label3, label4, id,
 * tenant_id), the inner grouping columns, the inner GROUP BY/ORDER BY/LIMIT,
 * the joins and the outer ORDER BY.
 */
struct dasha_shape {
	const char *outer, *inner, *group, *joins, *order;
};

static const struct dasha_shape usage_dims[DASHA_DIM__MAX] = {
    [DASHA_DAY] = {"DATE_FORMAT(x.d, '%Y-%m-%d'), '', '', '', 0, 0", "u.day d,",
                   " GROUP BY u.day ORDER BY u.day LIMIT ?", "", "x.d"},
    [DASHA_MODEL] = {"x.mo, '', '', '', 0, 0", "u.model mo,",
                     " GROUP BY u.model ORDER BY m DESC, u.model LIMIT ?", "", "x.m DESC, x.mo"},
    [DASHA_AGENT] = {"COALESCE(a.name, ''), '', '', '', x.ag, x.t", "u.tenant_id t, u.agent_id ag,",
                     " GROUP BY u.tenant_id, u.agent_id ORDER BY m DESC, t, ag LIMIT ?", J_AGENT,
                     "x.m DESC, x.t, x.ag"},
    [DASHA_KEY] = {"COALESCE(k.name, ''), '', '', '', x.kid, x.t", "u.tenant_id t, u.key_id kid,",
                   " GROUP BY u.tenant_id, u.key_id ORDER BY m DESC, t, kid LIMIT ?", J_KEY,
                   "x.m DESC, x.t, x.kid"},
    [DASHA_MODEL_AGENT] = {"x.mo, COALESCE(a.name, ''), '', '', x.ag, x.t",
                           "u.tenant_id t, u.model mo, u.agent_id ag,",
                           " GROUP BY u.tenant_id, u.model, u.agent_id ORDER BY mo, ag LIMIT ?",
                           J_AGENT, "x.mo, 2, x.ag"},
    [DASHA_DETAIL] = {"DATE_FORMAT(x.d, '%Y-%m-%d'), x.mo, COALESCE(a.name, ''),"
                      " COALESCE(k.name, ''), x.kid, x.t",
                      "u.tenant_id t, u.day d, u.model mo, u.agent_id ag, u.key_id kid,",
                      " GROUP BY u.tenant_id, u.day, u.model, u.agent_id, u.key_id"
                      " ORDER BY d, t, mo, ag, kid LIMIT ?",
                      J_AGENT J_KEY, "x.d, x.t, x.mo, x.ag, x.kid"},
};

/* Statement texts, built once, per (dim, one/all). */
static char usage_sql[DASHA_DIM__MAX][2][1280];
static pthread_once_t usage_once = PTHREAD_ONCE_INIT;

static void usage_build(void)
{
	for (int d = 0; d < DASHA_DIM__MAX; d++)
		for (int a = 0; a < 2; a++)
			snprintf(usage_sql[d][a], sizeof(usage_sql[d][a]),
			         "SELECT %s" U_OUT "SELECT %s" U_SUMS "%s%s) x%s ORDER BY %s",
			         usage_dims[d].outer, usage_dims[d].inner, a ? U_ALL : U_ONE,
			         usage_dims[d].group, usage_dims[d].joins, usage_dims[d].order);
}

/*
 * Run report statement sql as slot q (one tenant, or all with tenant_id 0)
 * over [from, to] and hand each row to cb. Both report families (usage_daily
 * and usage_attr_daily) have the same parameters and output columns.
 */
static int report_run(struct store *st, enum db_q q, const char *sql, int64_t tenant_id,
                      const char *from, const char *to, int limit, dasha_usage_cb cb, void *ctx)
{
	struct dasha_usage_row row;
	struct db_out o;
	MYSQL_BIND in[4];
	unsigned long l[2];
	int n = 0, rc;

	memset(in, 0, sizeof(in));
	if (tenant_id != 0)
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
	db_out_i64(&o, &row.cache_hits);
	if (db_exec(st, q, sql, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1)
		if (cb(ctx, &row) != 0)
			break;
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_dasha_usage(struct store *st, int64_t tenant_id, const char *from, const char *to,
                      enum dasha_dim dim, int limit, dasha_usage_cb cb, void *ctx)
{
	int all = tenant_id == 0;

	if ((unsigned)dim >= DASHA_DIM__MAX)
		return ST_ERR;
	pthread_once(&usage_once, usage_build);
	return report_run(st, db_variant(all ? Q_DASHA_USAGE_ALL : Q_DASHA_USAGE_ONE, dim),
	                  usage_sql[dim][all], tenant_id, from, to, limit, cb, ctx);
}

/* ------------------------------------------------------------ usage_attr_daily */

#define A_SUMS                                                                                     \
	" SUM(u.requests) r, 0 e, SUM(u.prompt_tokens) p,"                                         \
	" SUM(u.completion_tokens) c, SUM(u.cost_micros) m, SUM(u.cache_hits) h"                   \
	" FROM usage_attr_daily u"

/* As usage_dims, over usage_attr_daily. */
static const struct dasha_shape attr_dims[DASHA_ATTR__MAX] = {
    [DASHA_BY_AGENT] = {"COALESCE(a.name, ''), '', '', '', x.ag, x.t",
                        "u.tenant_id t, u.agent_id ag,",
                        " GROUP BY u.tenant_id, u.agent_id ORDER BY m DESC, t, ag LIMIT ?", J_AGENT,
                        "x.m DESC, x.t, x.ag"},
    [DASHA_BY_MODEL] = {"x.g, '', '', '', 0, 0", "u.model g,",
                        " GROUP BY u.model ORDER BY m DESC, g LIMIT ?", "", "x.m DESC, x.g"},
    [DASHA_BY_USER] = {"x.g, '', '', '', 0, 0", "u.user g,",
                       " GROUP BY u.user ORDER BY m DESC, g LIMIT ?", "", "x.m DESC, x.g"},
    [DASHA_BY_DEPARTMENT] = {"x.g, '', '', '', 0, 0", "u.department g,",
                             " GROUP BY u.department ORDER BY m DESC, g LIMIT ?", "",
                             "x.m DESC, x.g"},
};

static char attr_sql[DASHA_ATTR__MAX][2][1280];
static pthread_once_t attr_once = PTHREAD_ONCE_INIT;

static void attr_build(void)
{
	for (int d = 0; d < DASHA_ATTR__MAX; d++)
		for (int a = 0; a < 2; a++)
			snprintf(attr_sql[d][a], sizeof(attr_sql[d][a]),
			         "SELECT %s" U_OUT "SELECT %s" A_SUMS "%s%s) x%s ORDER BY %s",
			         attr_dims[d].outer, attr_dims[d].inner, a ? U_ALL : U_ONE,
			         attr_dims[d].group, attr_dims[d].joins, attr_dims[d].order);
}

int store_dasha_showback(struct store *st, int64_t tenant_id, const char *from, const char *to,
                         enum dasha_attr attr, int limit, dasha_usage_cb cb, void *ctx)
{
	int all = tenant_id == 0;

	if ((unsigned)attr >= DASHA_ATTR__MAX)
		return ST_ERR;
	pthread_once(&attr_once, attr_build);
	return report_run(st, db_variant(all ? Q_DASHA_SHOWBACK_ALL : Q_DASHA_SHOWBACK_ONE, attr),
	                  attr_sql[attr][all], tenant_id, from, to, limit, cb, ctx);
}

/* ------------------------------------------------------------ executions */

#define E_COLS_NAMED(name)                                                                         \
	"SELECT e.tenant_id, e.seq, " name ", e.id, e.kind, e.key_id, COALESCE(e.agent_id, 0),"    \
	" e.agent_name, e.session_id, e.model, e.provider, e.cred_source, e.status,"               \
	" e.reason_code, e.http_status, e.stream, e.prompt_tokens, e.completion_tokens,"           \
	" e.cost_micros, e.latency_ms, e.request_id, e.finish_reason,"                             \
	" COALESCE(e.error_message, ''), " TS("e.created_at") ", e.end_user, e.cache_hit"
#define E_COLS E_COLS_NAMED("t.name")
/* One tenant's rows come from where its data lives (store_data_conn): no join with tenants. */
#define E_COLS_ONE E_COLS_NAMED("''")
#define E_FILTERS                                                                                  \
	" AND e.seq < ? AND (? = '' OR e.agent_name = ?) AND (? = '' OR e.model = ?)"              \
	" AND (? = '' OR e.status = ?) AND (? = '' OR e.reason_code = ?)"                          \
	" AND (? = '' OR e.created_at >= CAST(? AS DATE))"                                         \
	" AND (? = '' OR e.created_at < CAST(? AS DATE) + INTERVAL 1 DAY)"                         \
	" ORDER BY e.seq DESC LIMIT ?"

static const char sql_exec_one[] = E_COLS_ONE " FROM executions e WHERE e.tenant_id = ?" E_FILTERS;
static const char sql_exec_all[] =
    E_COLS " FROM executions e FORCE INDEX (k_executions_seq) JOIN tenants t ON t.id = e.tenant_id"
           " WHERE 1 = 1" E_FILTERS;
static const char sql_exec_get[] =
    E_COLS_ONE ", e.metadata, e.input, e.output, e.guardrails"
               " FROM executions e WHERE e.tenant_id = ? AND e.id = ?";

/* Bind the columns of E_COLS into x. */
static void exec_out(struct db_out *o, struct dasha_exec *x)
{
	struct execution *e = &x->row;

	e->error_message = x->error_text;
	db_out_init(o);
	db_out_i64(o, &e->tenant_id);
	db_out_i64(o, &e->seq);
	db_out_str(o, x->tenant_name, sizeof(x->tenant_name));
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
	db_out_int(o, &e->http_status);
	db_out_int(o, &e->stream);
	db_out_i64(o, &e->prompt_tokens);
	db_out_i64(o, &e->completion_tokens);
	db_out_i64(o, &e->cost_micros);
	db_out_int(o, &e->latency_ms);
	db_out_str(o, e->request_id, sizeof(e->request_id));
	db_out_str(o, e->finish_reason, sizeof(e->finish_reason));
	db_out_str(o, x->error_text, sizeof(x->error_text));
	db_out_i64(o, &e->created_at);
	db_out_str(o, e->end_user, sizeof(e->end_user));
	db_out_int(o, &e->cache_hit);
}

/* The tenant's display name (the list and detail show it); -1 when it cannot be read. */
static int tenant_name_of(struct store *st, int64_t tenant_id, char *out, size_t cap)
{
	struct tenant t;
	int rc = store_tenant_get(st, tenant_id, &t);

	if (rc == ST_NOTFOUND) {
		out[0] = '\0';
		return 0;
	}
	if (rc != ST_OK)
		return -1;
	util_strlcpy(out, t.name, cap);
	return 0;
}

int store_dasha_exec_list(struct store *st, const struct dasha_exec_filter *f, dasha_exec_cb cb,
                          void *ctx)
{
	struct store *d;
	struct dasha_exec e;
	char tname[sizeof(e.tenant_name)];
	struct db_out o;
	MYSQL_BIND in[17];
	unsigned long l[12];
	int64_t before = f->before > 0 ? f->before : INT64_MAX;
	int limit = f->limit, n = 0, rc, all = f->tenant_id == 0;
	const char *vals[6] = {f->agent, f->model, f->status, f->reason_code, f->from, f->to};
	enum db_q q = all ? Q_DASHA_EXEC_ALL : Q_DASHA_EXEC_ONE;

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
	if (!all && tenant_name_of(st, f->tenant_id, tname, sizeof(tname)) < 0)
		return ST_ERR;
	/*
	 * One tenant: from where its data lives. All tenants: the shared
	 * database, so dedicated tenants' executions are listed per tenant only
	 * (docs/ISOLATION.md); the page says so.
	 */
	d = all ? st : store_data_conn(st, f->tenant_id);
	if (d == NULL)
		return ST_ERR;
	exec_out(&o, &e);
	if (db_exec(d, q, all ? sql_exec_all : sql_exec_one, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, q, &o, __func__)) == 1) {
		if (!all)
			util_strlcpy(e.tenant_name, tname, sizeof(e.tenant_name));
		if (cb(ctx, &e) != 0)
			break;
	}
	db_end(d, q, &o);
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
	struct store *d;
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	size_t cm, ci, co, cg;
	int rc;

	*metadata = *input = *output = NULL;
	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], id, &l);
	d = store_data_conn(st, tenant_id);
	if (d == NULL)
		return ST_ERR;
	exec_out(&o, out);
	cm = db_out_text(&o);
	ci = db_out_text(&o);
	co = db_out_text(&o);
	cg = db_out_text(&o);
	if (db_exec(d, Q_DASHA_EXEC_GET, sql_exec_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(d, Q_DASHA_EXEC_GET, &o, __func__);
	if (rc == 1) {
		*metadata = dasha_dup(o.text[cm]);
		*input = dasha_dup(o.text[ci]);
		*output = dasha_dup(o.text[co]);
		out->guardrails = dasha_dup(o.text[cg]);
	}
	db_end(d, Q_DASHA_EXEC_GET, &o);
	if (rc < 0)
		return ST_ERR;
	if (rc == 1 &&
	    tenant_name_of(st, tenant_id, out->tenant_name, sizeof(out->tenant_name)) < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* ------------------------------------------------------------ health */

/*
 * One row per tenant with its last 15 minutes (a small derived table over the
 * newest buckets of usage_5min, read through k_usage_5min_bucket), open
 * breakers and current budget counters, worst first; the 24-hour figures are
 * then read per listed tenant by store_admin_window (a primary-key range), so
 * a page costs 50 small reads instead of aggregating every tenant's day.
 */
#define LAT_SUMS(p)                                                                                \
	" SUM(" p "lat_le_100) l0, SUM(" p "lat_le_250) l1, SUM(" p "lat_le_500) l2,"              \
	" SUM(" p "lat_le_1000) l3, SUM(" p "lat_le_2500) l4, SUM(" p "lat_le_5000) l5,"           \
	" SUM(" p "lat_le_10000) l6, SUM(" p "lat_gt_10000) l7"
#define BUDGET(col, win, fmt)                                                                      \
	" COALESCE((SELECT b." col " FROM budget_counters b WHERE b.scope = 'tenant'"              \
	" AND b.scope_id = t.id AND b.win = '" win "'"                                             \
	" AND b.period = DATE_FORMAT(UTC_DATE(), '" fmt "')), 0)"
/* clang-format off */
#define H_SQL(where)                                                                               \
	"SELECT t.id, t.name, COALESCE(w.r, 0), COALESCE(w.f, 0), COALESCE(w.x, 0),"               \
	" COALESCE(w.l0, 0), COALESCE(w.l1, 0), COALESCE(w.l2, 0), COALESCE(w.l3, 0),"             \
	" COALESCE(w.l4, 0), COALESCE(w.l5, 0), COALESCE(w.l6, 0), COALESCE(w.l7, 0),"             \
	" COALESCE((SELECT GROUP_CONCAT(br.provider ORDER BY br.provider SEPARATOR ', ')"          \
	" FROM breakers br WHERE br.tenant_id = t.id AND br.state = 'open'), '') brk,"             \
	BUDGET("spent_micros", "day", "%Y-%m-%d") ","                                              \
	BUDGET("lim_micros", "day", "%Y-%m-%d") ","                                                \
	BUDGET("spent_micros", "month", "%Y-%m") ","                                               \
	BUDGET("lim_micros", "month", "%Y-%m")                                                     \
	" FROM tenants t LEFT JOIN (SELECT tenant_id, SUM(requests) r, SUM(failed) f,"             \
	" SUM(refused) x," LAT_SUMS("") " FROM usage_5min"                                         \
	" WHERE bucket >= UNIX_TIMESTAMP() DIV 300 - 2 GROUP BY tenant_id) w"                      \
	" ON w.tenant_id = t.id" where                                                             \
	" ORDER BY brk <> '' DESC, 4 DESC, 5 DESC, t.id LIMIT ? OFFSET ?"
/* clang-format on */

static const char sql_health_one[] = H_SQL(" WHERE t.id = ?");
static const char sql_health_all[] = H_SQL("");

int store_dasha_health(struct store *st, int64_t tenant_id, int limit, int offset,
                       dasha_health_cb cb, void *ctx)
{
	struct dasha_health_row h;
	struct db_out o;
	MYSQL_BIND in[3];
	int n = 0, rc, all = tenant_id == 0;
	enum db_q q = all ? Q_DASHA_HEALTH_ALL : Q_DASHA_HEALTH_ONE;

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
	for (int i = 0; i < 8; i++)
		db_out_i64(&o, &h.lat15[i]);
	db_out_str(&o, h.open_breakers, sizeof(h.open_breakers));
	db_out_i64(&o, &h.day_spent);
	db_out_i64(&o, &h.day_lim);
	db_out_i64(&o, &h.month_spent);
	db_out_i64(&o, &h.month_lim);
	if (db_exec(st, q, all ? sql_health_all : sql_health_one, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1) {
		struct admin_window w;

		if (store_admin_window(st, h.tenant_id, 24 * 3600, &w) != ST_OK) {
			rc = ST_ERR;
			break;
		}
		h.req24 = w.requests;
		h.failed24 = w.failed;
		h.refused24 = w.refused;
		memcpy(h.lat24, w.lat, sizeof(h.lat24));
		if (cb(ctx, &h) != 0)
			break;
	}
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
	if (db_exec(st, Q_DASHA_TENANT_NAME, sql_tenant_name, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_DASHA_TENANT_NAME, &o, __func__);
	db_end(st, Q_DASHA_TENANT_NAME, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}
