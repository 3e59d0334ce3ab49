/*
 * leases.c: owners, lease grants and returns, promotions, recalls, closing
 * an ended owner (see store/leases.h).
 *
 * DESIGN
 * Grants take two round trips with the counter rows locked in between (the
 * grant is computed here from what the first read); they happen when a
 * lease runs out, not per call. Returns, promotions and closes take one:
 * "SELECT COUNT(*) INTO @own ... LOCK IN SHARE MODE" locks the owner's row
 * first (shared: a process's grants, returns and ledger batches run side by
 * side) and every later statement is conditioned on @own, so an owner that
 * was reaped meanwhile changes nothing; closing an owner takes the row
 * exclusively, after every transaction that holds it. Text statements are
 * built with store/sql.h (numbers formatted, strings quoted).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/leases.h"
#include "store/records.h"
#include "store/sql.h"

/* " WHERE (scope = .. AND ..)": one counter row by its primary key. */
static void key_where(struct sql *q, const struct adm_counter *c)
{
	sql_lit(q, " WHERE ");
	adm_key_match_sql(q, c->scope, c->scope_id, c->window, c->period);
}

/* " AND (scope = .. AND ..)" */
static void key_and(struct sql *q, const struct adm_counter *c)
{
	sql_lit(q, " AND ");
	adm_key_match_sql(q, c->scope, c->scope_id, c->window, c->period);
}

/* ", v" for each of the n values */
static void lease_nums(struct sql *q, const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sql_lit(q, ", ");
		sql_i64(q, v[i]);
	}
}

/* order[0..n) = the indexes of cs sorted by key (the order every writer locks counters in). */
static void key_order(const struct adm_counter *const *cs, size_t n, size_t *order)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		while (j > 0 && adm_counter_cmp(cs[order[j - 1]], cs[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

/* ------------------------------------------------------------------ owners */

static void register_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	(void)set;
	(void)len;
	if (n == 1 && row[0] != NULL)
		util_parse_i64(row[0], 1, INT64_MAX, (int64_t *)ctx);
}

/*
 * The owners row and its heartbeat row (store/leases.h). The heartbeat has a
 * row of its own: the owners row is share-locked by every grant, return,
 * promotion and ledger batch of the process, and an exclusive lock waiting
 * on it every half second would queue them all behind it (031_owner_beats).
 * An autocommit multi-statement: the two rows are written by one round
 * trip; a failure between them leaves an owner without a beat, which the
 * reaper reads by its registration time (silent: closed like any other).
 */
int store_owner_register(struct store *st, const char *host, int pid, const char *journal,
                         int64_t *id)
{
	struct sql q;
	int64_t got = 0;
	int rc;

	*id = 0;
	if (st->db == NULL) {
		char err[256];

		if (db_connect(st, err, sizeof(err)) < 0)
			return ST_ERR;
	}
	sql_init(&q, st);
	sql_lit(&q, "INSERT INTO owners (host, pid, journal, started_at, heartbeat_at) VALUES (");
	sql_str(&q, host);
	sql_lit(&q, ", ");
	sql_i64(&q, pid);
	sql_lit(&q, ", ");
	sql_str(&q, journal);
	sql_lit(&q, ", UTC_TIMESTAMP(6), UTC_TIMESTAMP(6));"
	            " INSERT INTO owner_beats (owner_id, heartbeat_at)"
	            " VALUES (LAST_INSERT_ID(), UTC_TIMESTAMP(6)); SELECT LAST_INSERT_ID()");
	rc = sql_run(st, &q, register_row, &got, __func__);
	sql_free(&q);
	if (rc != ST_OK || got <= 0)
		return ST_ERR;
	*id = got;
	return ST_OK;
}

int store_owner_heartbeat(struct store *st, int64_t owner_id)
{
	static const char sql[] =
	    "UPDATE owner_beats SET heartbeat_at = UTC_TIMESTAMP(6) WHERE owner_id = ?";
	MYSQL_BIND in[1];

	db_in_i64(&in[0], &owner_id);
	if (db_exec(st, Q_LEASE_HEARTBEAT, sql, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	return db_affected(st, Q_LEASE_HEARTBEAT) == 1 ? ST_OK : ST_NOTFOUND;
}

int store_owners_silent(struct store *st, int silent_s, owner_cb cb, void *ctx)
{
	static const char sql[] =
	    "SELECT o.id, o.host, o.pid, o.journal, CAST(TIMESTAMPDIFF(SECOND,"
	    " GREATEST(o.heartbeat_at, COALESCE(b.heartbeat_at, o.heartbeat_at)),"
	    " UTC_TIMESTAMP(6)) AS SIGNED) FROM owners o LEFT JOIN owner_beats b ON"
	    " b.owner_id = o.id WHERE GREATEST(o.heartbeat_at, COALESCE(b.heartbeat_at,"
	    " o.heartbeat_at)) < UTC_TIMESTAMP(6) - INTERVAL ? SECOND ORDER BY o.id LIMIT 100";
	struct owner_row o;
	struct db_out out;
	MYSQL_BIND in[1];
	int rc;

	db_in_int(&in[0], &silent_s);
	memset(&o, 0, sizeof(o));
	db_out_init(&out);
	db_out_i64(&out, &o.id);
	db_out_str(&out, o.host, sizeof(o.host));
	db_out_int(&out, &o.pid);
	db_out_str(&out, o.journal, sizeof(o.journal));
	db_out_i64(&out, &o.silent_s);
	if (db_exec(st, Q_LEASE_SILENT, sql, in, &out, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_LEASE_SILENT, &out, __func__)) == 1)
		if (cb(ctx, &o))
			break;
	db_end(st, Q_LEASE_SILENT, &out);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------------ grants */

struct grant_read {
	struct lease_ask *asks;
	size_t n;
	int owner_found;
};

static void grant_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct grant_read *g = ctx;
	int64_t v[8], sid;
	int scope, win;

	(void)len;
	if (set == 0) {
		g->owner_found = n >= 1 && row[0] != NULL;
		return;
	}
	if (n < 12 || !row[0] || !row[1] || !row[2] || !row[3])
		return;
	scope = adm_scope_of(row[0]);
	win = adm_window_of(row[2]);
	if (scope < 0 || win < 0 || util_parse_i64(row[1], INT64_MIN, INT64_MAX, &sid) < 0)
		return;
	for (int i = 0; i < 8; i++)
		if (!row[4 + i] || util_parse_i64(row[4 + i], INT64_MIN, INT64_MAX, &v[i]) < 0)
			return;
	for (size_t k = 0; k < g->n; k++) {
		struct adm_counter *c = g->asks[k].c;

		if (c->scope != scope || c->scope_id != sid || c->window != win ||
		    strcmp(c->period, row[3]) != 0)
			continue;
		c->spent_micros = v[0];
		c->reserved_micros = v[1];
		c->leased_micros = v[2];
		c->spent_tokens = v[3];
		c->reserved_tokens = v[4];
		c->leased_tokens = v[5];
		c->requests = v[6];
		c->leased_requests = v[7];
	}
}

/*
 * What one dimension can grant: 0 when unlimited (not leased), -1 when the
 * headroom is below tail_calls of need (admit one by one), else the grant.
 */
static int64_t grant_of(int64_t lim, int64_t used, int64_t need, int64_t want, int tail_calls,
                        int divisor)
{
	int64_t free_, g;

	if (lim <= 0)
		return 0;
	free_ = lim - used;
	if (need <= 0)
		need = 1;
	if (free_ < need || free_ / need < tail_calls)
		return -1;
	g = need + (free_ - need) / (divisor > 0 ? divisor : 1);
	if (want < need)
		want = need;
	return g < want ? g : want;
}

static int lease_grant_once(struct store *st, int64_t owner_id, struct lease_ask *asks, size_t n);

int store_lease_grant(struct store *st, int64_t owner_id, struct lease_ask *asks, size_t n)
{
	int rc;

	for (int i = 0;; i++) {
		rc = lease_grant_once(st, owner_id, asks, n);
		if (rc != ST_ERR || !db_retry(st, i))
			return rc;
	}
}

static int lease_grant_once(struct store *st, int64_t owner_id, struct lease_ask *asks, size_t n)
{
	struct grant_read g = {asks, n, 0};
	struct sql q;
	size_t order[LEASE_GRANT_MAX];
	int any = 0, rc = ST_ERR;

	if (n == 0)
		return ST_OK;
	if (st->db == NULL) {
		char err[256];

		if (db_connect(st, err, sizeof(err)) < 0)
			return ST_ERR;
	}
	sql_init(&q, st);
	sql_lit(&q, "START TRANSACTION; SELECT id FROM owners WHERE id = ");
	sql_i64(&q, owner_id);
	sql_lit(&q, " LOCK IN SHARE MODE;"
	            " INSERT INTO budget_counters (scope, scope_id, win, period, lim_micros,"
	            " lim_tokens, lim_requests, updated_at) VALUES ");
	{
		const struct adm_counter *cs[LEASE_GRANT_MAX];

		if (n > LEASE_GRANT_MAX)
			goto out;
		for (size_t i = 0; i < n; i++)
			cs[i] = asks[i].c;
		key_order(cs, n, order);
	}
	for (size_t k = 0; k < n; k++) {
		const struct adm_counter *c = asks[order[k]].c;
		const int64_t lim[] = {c->max_micros, c->max_tokens, c->max_requests};

		sql_comma(&q, k == 0);
		sql_lit(&q, "(");
		adm_key_sql(&q, c->scope, c->scope_id, c->window, c->period);
		lease_nums(&q, lim, ARRAY_SIZE(lim));
		sql_lit(&q, ", UTC_TIMESTAMP(6))");
	}
	sql_lit(&q, " ON DUPLICATE KEY UPDATE lim_micros = VALUES(lim_micros),"
	            " lim_tokens = VALUES(lim_tokens), lim_requests = VALUES(lim_requests);"
	            " SELECT scope, scope_id, win, period, spent_micros, reserved_micros,"
	            " leased_micros, spent_tokens, reserved_tokens, leased_tokens, requests,"
	            " leased_requests FROM budget_counters FORCE INDEX (PRIMARY) WHERE ");
	for (size_t i = 0; i < n; i++) {
		const struct adm_counter *c = asks[i].c;

		if (i)
			sql_lit(&q, " OR ");
		adm_key_match_sql(&q, c->scope, c->scope_id, c->window, c->period);
	}
	sql_lit(&q, " FOR UPDATE");
	rc = sql_run(st, &q, grant_row, &g, __func__);
	if (rc != ST_OK) {
		rc = ST_ERR;
		goto out;
	}
	st->in_tx = 1;
	if (!g.owner_found) {
		db_rollback(st);
		rc = ST_NOTFOUND;
		goto out;
	}
	sql_reset(&q);
	for (size_t k = 0; k < n; k++) {
		struct lease_ask *a = &asks[order[k]];
		const struct adm_counter *c = a->c;
		int inflight = c->window == ADM_INFLIGHT;
		int64_t gm, gt, gr;

		/* In-flight rows lease slots only; the others money and tokens, and minutes
		 * requests. */
		gm = inflight ? 0
		              : grant_of(c->max_micros,
		                         c->spent_micros + c->reserved_micros + c->leased_micros,
		                         a->need_micros, a->want_micros, a->tail_calls, a->divisor);
		gt = inflight ? 0
		              : grant_of(c->max_tokens,
		                         c->spent_tokens + c->reserved_tokens + c->leased_tokens,
		                         a->need_tokens, a->want_tokens, a->tail_calls, a->divisor);
		gr = c->window == ADM_DAY || c->window == ADM_MONTH
		         ? 0
		         : grant_of(c->max_requests, c->requests + c->leased_requests,
		                    a->need_requests, a->want_requests, a->tail_calls, a->divisor);
		a->got_micros = a->got_tokens = a->got_requests = 0;
		a->tail = gm < 0 || gt < 0 || gr < 0;
		if (a->tail || (gm == 0 && gt == 0 && gr == 0))
			continue;
		a->got_micros = gm;
		a->got_tokens = gt;
		a->got_requests = gr;
		{
			const int64_t got[] = {gm, gt, gr};

			sql_lit(&q,
			        " UPDATE budget_counters FORCE INDEX (PRIMARY) SET leased_micros ="
			        " leased_micros + ");
			sql_i64(&q, gm);
			sql_lit(&q, ", leased_tokens = leased_tokens + ");
			sql_i64(&q, gt);
			sql_lit(&q, ", leased_requests = leased_requests + ");
			sql_i64(&q, gr);
			sql_lit(&q, ", updated_at = UTC_TIMESTAMP(6)");
			key_where(&q, c);
			sql_lit(&q, "; INSERT INTO leases (owner_id, scope, scope_id, win, period,"
			            " granted_micros, granted_tokens, granted_requests, updated_at)"
			            " VALUES (");
			sql_i64(&q, owner_id);
			sql_lit(&q, ", ");
			adm_key_sql(&q, c->scope, c->scope_id, c->window, c->period);
			lease_nums(&q, got, ARRAY_SIZE(got));
			sql_lit(&q,
			        ", UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE"
			        " granted_micros = granted_micros + VALUES(granted_micros),"
			        " granted_tokens = granted_tokens + VALUES(granted_tokens),"
			        " granted_requests = granted_requests + VALUES(granted_requests),"
			        " updated_at = VALUES(updated_at);");
		}
		any = 1;
	}
	if (!any) {
		db_rollback(st);
		rc = ST_OK;
		goto out;
	}
	sql_lit(&q, " COMMIT");
	if (!sql_ok(&q)) {
		db_rollback(st);
		rc = ST_ERR;
		goto out;
	}
	rc = sql_run(st, &q, NULL, NULL, __func__);
	st->in_tx = 0;
	if (rc != ST_OK) {
		for (size_t i = 0; i < n; i++)
			asks[i].got_micros = asks[i].got_tokens = asks[i].got_requests = 0;
		rc = ST_ERR;
	}
out:
	if (st->in_tx)
		db_rollback(st);
	sql_free(&q);
	return rc;
}

/* ------------------------------------------------------------------ returns */

struct own_read {
	int own;
};

static void own_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct own_read *o = ctx;

	(void)set;
	(void)len;
	if (n >= 1 && row[0])
		o->own = strcmp(row[0], "1") == 0;
}

/* "START TRANSACTION; lock the owner (shared) into @own" */
static void own_lock_sql(struct sql *q, int64_t owner_id)
{
	sql_lit(q, "START TRANSACTION; SELECT COUNT(*) INTO @own FROM owners WHERE id = ");
	sql_i64(q, owner_id);
	sql_lit(q, " LOCK IN SHARE MODE;");
}

/*
 * " UPDATE leases SET granted_x = GREATEST(granted_x - v, 0), ... WHERE
 * owner_id = o AND <c's key>;": what leaves one lease row (touch: and its
 * updated_at moves).
 */
static void lease_take_sql(struct sql *q, int64_t owner_id, const struct adm_counter *c,
                           int64_t micros, int64_t tokens, int64_t requests, int touch)
{
	sql_lit(q, " UPDATE leases FORCE INDEX (PRIMARY) SET"
	           " granted_micros = GREATEST(granted_micros - ");
	sql_i64(q, micros);
	sql_lit(q, ", 0), granted_tokens = GREATEST(granted_tokens - ");
	sql_i64(q, tokens);
	sql_lit(q, ", 0), granted_requests = GREATEST(granted_requests - ");
	sql_i64(q, requests);
	sql_lit(q, ", 0)");
	if (touch)
		sql_lit(q, ", updated_at = UTC_TIMESTAMP(6)");
	sql_lit(q, " WHERE owner_id = ");
	sql_i64(q, owner_id);
	key_and(q, c);
	sql_lit(q, ";");
}

int store_lease_return(struct store *st, int64_t owner_id, const struct lease_give *gives, size_t n)
{
	struct own_read o = {0};
	struct sql q;
	const struct adm_counter **cs = NULL;
	size_t *order = NULL;
	int rc;

	if (n == 0)
		return ST_OK;
	sql_init(&q, st);
	cs = calloc(n, sizeof(*cs));
	order = calloc(n, sizeof(*order));
	if (cs == NULL || order == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
		cs[i] = gives[i].c;
	key_order(cs, n, order);
	own_lock_sql(&q, owner_id);
	for (size_t k = 0; k < n; k++) {
		const struct lease_give *g = &gives[order[k]];

		sql_lit(&q, " UPDATE budget_counters FORCE INDEX (PRIMARY) SET"
		            " leased_micros = GREATEST(leased_micros - ");
		sql_i64(&q, g->micros);
		sql_lit(&q, " * @own, 0), leased_tokens = GREATEST(leased_tokens - ");
		sql_i64(&q, g->tokens);
		sql_lit(&q, " * @own, 0), leased_requests = GREATEST(leased_requests - ");
		sql_i64(&q, g->requests);
		sql_lit(&q, " * @own, 0)");
		key_where(&q, g->c);
		sql_lit(&q, ";");
		lease_take_sql(&q, owner_id, g->c, g->micros, g->tokens, g->requests, 1);
	}
	sql_lit(&q, " SELECT @own; COMMIT");
	rc = sql_run(st, &q, own_row, &o, __func__);
	st->in_tx = 0;
	sql_free(&q);
	free(cs);
	free(order);
	if (rc != ST_OK)
		return ST_ERR;
	return o.own ? ST_OK : ST_NOTFOUND;
oom:
	sql_free(&q);
	free(cs);
	free(order);
	return ST_ERR;
}

/* ------------------------------------------------------------------ promotions */

struct promote_read {
	struct lease_promotion *p;
	size_t n, next;
	int own;
};

static void promote_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct promote_read *pr = ctx;

	(void)len;
	if (n < 1 || row[0] == NULL)
		return;
	if (set == 0) {
		pr->own = strcmp(row[0], "1") == 0;
		return;
	}
	if (pr->next < pr->n)
		util_parse_i64(row[0], 0, INT64_MAX, &pr->p[pr->next++].reservation_id);
}

/* What a promotion batch moves on one counter. */
struct promo_sum {
	const struct adm_counter *c;
	int64_t reserved_micros, reserved_tokens, requests, lm, lt, lr;
};

static int promo_cmp(const void *a, const void *b)
{
	return adm_counter_cmp(((const struct promo_sum *)a)->c, ((const struct promo_sum *)b)->c);
}

int store_lease_promote(struct store *st, int64_t owner_id, struct lease_promotion *p, size_t n)
{
	struct promote_read pr = {p, n, 0, 0};
	struct sql q;
	struct promo_sum *sums = NULL;
	char counters[1024], owner[32];
	size_t nsum = 0;
	int rc;

	if (n == 0)
		return ST_OK;
	if (st->db == NULL) {
		char err[256];

		if (db_connect(st, err, sizeof(err)) < 0)
			return ST_ERR;
	}
	sums = calloc(n * ADM_MAX_COUNTERS, sizeof(*sums));
	if (sums == NULL)
		return ST_ERR;
	sql_init(&q, st);
	own_lock_sql(&q, owner_id);
	sql_lit(&q, " SELECT @own;");
	snprintf(owner, sizeof(owner), "owner:%lld", (long long)owner_id);
	for (size_t i = 0; i < n; i++) {
		const struct adm_request *a = p[i].a;

		p[i].reservation_id = 0;
		if (adm_counters_text(a, counters, sizeof(counters)) < 0)
			goto oom;
		adm_reservation_sql(&q, a, counters, owner, a->expires_s > 1 ? a->expires_s : 1);
		sql_lit(&q, " FROM DUAL WHERE @own = 1;"
		            " SELECT IF(ROW_COUNT() = 1, LAST_INSERT_ID(), 0);");
	}
	/*
	 * As if reserved one by one: every row gets each call's worst case,
	 * minutes and in-flight rows its request; what the lease held of it
	 * leaves the lease. Summed per counter, in key order.
	 */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < p[i].a->n; k++) {
			const struct adm_counter *c = &p[i].a->c[k];
			struct promo_sum *x = NULL;
			int held = p[i].held[k];

			for (size_t j = 0; j < nsum && x == NULL; j++)
				if (adm_counter_cmp(sums[j].c, c) == 0)
					x = &sums[j];
			if (x == NULL) {
				if (nsum == n * ADM_MAX_COUNTERS)
					goto oom;
				x = &sums[nsum++];
				memset(x, 0, sizeof(*x));
				x->c = c;
			}
			x->reserved_micros += p[i].a->micros;
			x->reserved_tokens += p[i].a->tokens;
			x->requests += c->window == ADM_MINUTE || c->window == ADM_INFLIGHT;
			x->lm += (held & LEASE_HELD_MICROS) ? p[i].a->micros : 0;
			x->lt += (held & LEASE_HELD_TOKENS) ? p[i].a->tokens : 0;
			x->lr += (held & LEASE_HELD_REQUESTS) ? 1 : 0;
		}
	qsort(sums, nsum, sizeof(*sums), promo_cmp);
	for (size_t j = 0; j < nsum; j++) {
		const struct promo_sum *x = &sums[j];

		sql_lit(&q, " UPDATE budget_counters FORCE INDEX (PRIMARY) SET reserved_micros ="
		            " reserved_micros + ");
		sql_i64(&q, x->reserved_micros);
		sql_lit(&q, ", reserved_tokens = reserved_tokens + ");
		sql_i64(&q, x->reserved_tokens);
		sql_lit(&q, ", requests = requests + ");
		sql_i64(&q, x->requests);
		sql_lit(&q, ", leased_micros = GREATEST(leased_micros - ");
		sql_i64(&q, x->lm);
		sql_lit(&q, ", 0), leased_tokens = GREATEST(leased_tokens - ");
		sql_i64(&q, x->lt);
		sql_lit(&q, ", 0), leased_requests = GREATEST(leased_requests - ");
		sql_i64(&q, x->lr);
		sql_lit(&q, ", 0)");
		key_where(&q, x->c);
		sql_lit(&q, " AND @own = 1;");
	}
	for (size_t j = 0; j < nsum; j++) {
		const struct promo_sum *x = &sums[j];

		if (!x->lm && !x->lt && !x->lr)
			continue;
		lease_take_sql(&q, owner_id, x->c, x->lm, x->lt, x->lr, 0);
	}
	sql_lit(&q, " COMMIT");
	rc = sql_run(st, &q, promote_row, &pr, __func__);
	st->in_tx = 0;
	sql_free(&q);
	free(sums);
	if (rc != ST_OK) {
		for (size_t i = 0; i < n; i++)
			p[i].reservation_id = 0;
		return ST_ERR;
	}
	return pr.own ? ST_OK : ST_NOTFOUND;
oom:
	sql_free(&q);
	free(sums);
	return ST_ERR;
}

/* ------------------------------------------------------------------ recalls */

int store_lease_recall(struct store *st, const struct adm_counter *c)
{
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q,
	        "INSERT INTO lease_recalls (scope, scope_id, win, period, created_at) VALUES (");
	adm_key_sql(&q, c->scope, c->scope_id, c->window, c->period);
	sql_lit(&q, ", UTC_TIMESTAMP(6))");
	rc = sql_run(st, &q, NULL, NULL, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

int store_lease_recalls(struct store *st, int window_s, recall_cb cb, void *ctx)
{
	static const char sql[] = "SELECT DISTINCT scope, scope_id, win, period FROM lease_recalls"
	                          " WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND";
	char scope[16], win[16], period[20];
	int64_t sid;
	struct db_out o;
	MYSQL_BIND in[1];
	int rc;

	db_in_int(&in[0], &window_s);
	db_out_init(&o);
	db_out_str(&o, scope, sizeof(scope));
	db_out_i64(&o, &sid);
	db_out_str(&o, win, sizeof(win));
	db_out_str(&o, period, sizeof(period));
	if (db_exec(st, Q_LEASE_RECALLS, sql, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_LEASE_RECALLS, &o, __func__)) == 1) {
		int s = adm_scope_of(scope);
		int w = adm_window_of(win);

		if (s >= 0 && w >= 0)
			cb(ctx, s, sid, w, period);
	}
	db_end(st, Q_LEASE_RECALLS, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------------ closing an owner */

int store_owner_close(struct store *st, int64_t owner_id, int silent_s)
{
	struct own_read o = {0};
	struct sql q;
	int charge = silent_s > 0, rc;

	/*
	 * The owner's row exclusively (after every transaction of its process
	 * that holds it), and, charged, only while it is still silent. One
	 * statement moves every counter the owner held: joined with its lease
	 * rows. Charged: what the leases held becomes spent (calls in flight are
	 * unknown; never under-billed); else it is only given back.
	 */
	sql_init(&q, st);
	sql_lit(&q, "START TRANSACTION; SELECT COUNT(*) INTO @own FROM owners o LEFT JOIN"
	            " owner_beats b ON b.owner_id = o.id WHERE o.id = ");
	sql_i64(&q, owner_id);
	if (charge) {
		/* the beat row locked too: a heartbeat is before this (not silent) or after (gone)
		 */
		sql_lit(&q,
		        " AND GREATEST(o.heartbeat_at, COALESCE(b.heartbeat_at, o.heartbeat_at))"
		        " < UTC_TIMESTAMP(6) - INTERVAL ");
		sql_i64(&q, silent_s);
		sql_lit(&q, " SECOND");
	}
	sql_lit(&q, " FOR UPDATE;"
	            " UPDATE budget_counters c JOIN leases l ON l.scope = c.scope AND"
	            " l.scope_id = c.scope_id AND l.win = c.win AND l.period = c.period"
	            " SET c.leased_micros = GREATEST(c.leased_micros - l.granted_micros, 0),"
	            " c.leased_tokens = GREATEST(c.leased_tokens - l.granted_tokens, 0),"
	            " c.leased_requests = GREATEST(c.leased_requests - l.granted_requests, 0),");
	if (charge)
		sql_lit(&q,
		        " c.spent_micros = c.spent_micros + IF(c.win = 'inflight', 0,"
		        " l.granted_micros),"
		        " c.spent_tokens = c.spent_tokens + IF(c.win = 'inflight', 0,"
		        " l.granted_tokens),"
		        " c.requests = c.requests + IF(c.win = 'minute', l.granted_requests, 0),");
	sql_lit(&q, " c.updated_at = UTC_TIMESTAMP(6) WHERE l.owner_id = ");
	sql_i64(&q, owner_id);
	sql_lit(&q, " AND @own = 1; DELETE FROM leases WHERE owner_id = ");
	sql_i64(&q, owner_id);
	sql_lit(&q, " AND @own = 1; DELETE FROM owner_beats WHERE owner_id = ");
	sql_i64(&q, owner_id);
	sql_lit(&q, " AND @own = 1; DELETE FROM owners WHERE id = ");
	sql_i64(&q, owner_id);
	sql_lit(&q, " AND @own = 1; SELECT @own; COMMIT");
	rc = sql_run(st, &q, own_row, &o, __func__);
	st->in_tx = 0;
	sql_free(&q);
	if (rc != ST_OK)
		return ST_ERR;
	return o.own ? ST_OK : ST_NOTFOUND;
}
