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
 * exclusively, after every transaction that holds it. Values are numbers formatted here and
 * strings quoted with db_quote.
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

static const char *const scope_names[ADM__SCOPES] = {"tenant", "key", "global"};
static const char *const window_names[ADM__WINDOWS] = {"minute", "day", "month", "inflight"};

/* "(scope, scope_id, win, period)" = the key of c, as a row constructor. */
static int key_sql(struct store *st, struct buf *b, const struct adm_counter *c)
{
	if (buf_printf(b, "('%s', %lld, '%s', ", scope_names[c->scope], (long long)c->scope_id,
	               window_names[c->window]) < 0 ||
	    db_quote(st, b, c->period) < 0)
		return -1;
	return buf_putc(b, ')');
}

/*
 * "(scope = .. AND scope_id = .. AND win = .. AND period = ..)": MariaDB 10.11
 * reads a row-constructor IN list over the four key columns with a full
 * scan (locking every row under FOR UPDATE); an OR of these is a range on
 * the primary key.
 */
static int key_match_sql(struct store *st, struct buf *b, const struct adm_counter *c)
{
	if (buf_printf(b, "(scope = '%s' AND scope_id = %lld AND win = '%s' AND period = ",
	               scope_names[c->scope], (long long)c->scope_id,
	               window_names[c->window]) < 0 ||
	    db_quote(st, b, c->period) < 0)
		return -1;
	return buf_putc(b, ')');
}

static int key_where(struct store *st, struct buf *b, const struct adm_counter *c)
{
	buf_puts(b, " WHERE ");
	return key_match_sql(st, b, c);
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

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ owners */

int store_owner_register(struct store *st, const char *host, int pid, const char *journal,
                         int64_t *id)
{
	struct buf b = BUF_INIT;
	int64_t got = 0;
	int rc;

	*id = 0;
	if (st->db == NULL) {
		char err[256];

		if (db_connect(st, err, sizeof(err)) < 0)
			return ST_ERR;
	}
	buf_puts(&b, "INSERT INTO owners (host, pid, journal, started_at, heartbeat_at) VALUES (");
	db_quote(st, &b, host);
	buf_printf(&b, ", %d, ", pid);
	db_quote(st, &b, journal);
	buf_puts(&b, ", UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))");
	if (b.data == NULL)
		return ST_ERR;
	rc = db_query(st, b.data, b.len, NULL, NULL, __func__);
	buf_free(&b);
	if (rc != ST_OK || st->db == NULL)
		return ST_ERR;
	got = (int64_t)mysql_insert_id(st->db);
	if (got <= 0)
		return ST_ERR;
	*id = got;
	return ST_OK;
}

int store_owner_heartbeat(struct store *st, int64_t owner_id)
{
	static const char sql[] = "UPDATE owners SET heartbeat_at = UTC_TIMESTAMP(6) WHERE id = ?";
	MYSQL_BIND in[1];

	db_in_i64(&in[0], &owner_id);
	if (db_exec(st, Q_LEASE_HEARTBEAT, sql, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	return db_affected(st, Q_LEASE_HEARTBEAT) == 1 ? ST_OK : ST_NOTFOUND;
}

int store_owners_silent(struct store *st, int silent_s, owner_cb cb, void *ctx)
{
	static const char sql[] =
	    "SELECT id, host, pid, journal,"
	    " CAST(TIMESTAMPDIFF(SECOND, heartbeat_at, UTC_TIMESTAMP(6)) AS SIGNED)"
	    " FROM owners WHERE heartbeat_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND ORDER BY id"
	    " LIMIT 100";
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
	scope = name_index(scope_names, ADM__SCOPES, row[0]);
	win = name_index(window_names, ADM__WINDOWS, row[2]);
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
	struct buf b = BUF_INIT;
	size_t order[LEASE_GRANT_MAX];
	int any = 0, rc = ST_ERR;

	if (n == 0)
		return ST_OK;
	if (st->db == NULL) {
		char err[256];

		if (db_connect(st, err, sizeof(err)) < 0)
			return ST_ERR;
	}
	buf_printf(&b,
	           "START TRANSACTION; SELECT id FROM owners WHERE id = %lld LOCK IN SHARE MODE;"
	           " INSERT INTO budget_counters (scope, scope_id, win, period, lim_micros,"
	           " lim_tokens, lim_requests, updated_at) VALUES ",
	           (long long)owner_id);
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

		buf_puts(&b, k ? ", (" : "(");
		buf_printf(&b, "'%s', %lld, '%s', ", scope_names[c->scope], (long long)c->scope_id,
		           window_names[c->window]);
		if (db_quote(st, &b, c->period) < 0)
			goto out;
		buf_printf(&b, ", %lld, %lld, %lld, UTC_TIMESTAMP(6))", (long long)c->max_micros,
		           (long long)c->max_tokens, (long long)c->max_requests);
	}
	buf_puts(&b, " ON DUPLICATE KEY UPDATE lim_micros = VALUES(lim_micros),"
	             " lim_tokens = VALUES(lim_tokens), lim_requests = VALUES(lim_requests);"
	             " SELECT scope, scope_id, win, period, spent_micros, reserved_micros,"
	             " leased_micros, spent_tokens, reserved_tokens, leased_tokens, requests,"
	             " leased_requests FROM budget_counters FORCE INDEX (PRIMARY) WHERE ");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(&b, " OR ");
		if (key_match_sql(st, &b, asks[i].c) < 0)
			goto out;
	}
	buf_puts(&b, " FOR UPDATE");
	if (b.data == NULL)
		goto out;
	rc = db_query(st, b.data, b.len, grant_row, &g, __func__);
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
	buf_reset(&b);
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
		buf_printf(&b,
		           " UPDATE budget_counters FORCE INDEX (PRIMARY) SET leased_micros = "
		           "leased_micros + %lld,"
		           " leased_tokens = leased_tokens + %lld, leased_requests = "
		           "leased_requests + %lld,"
		           " updated_at = UTC_TIMESTAMP(6)",
		           (long long)gm, (long long)gt, (long long)gr);
		if (key_where(st, &b, c) < 0)
			goto out;
		buf_printf(
		    &b,
		    "; INSERT INTO leases (owner_id, scope, scope_id, win, period, granted_micros,"
		    " granted_tokens, granted_requests, updated_at) VALUES (%lld, '%s', %lld, "
		    "'%s', ",
		    (long long)owner_id, scope_names[c->scope], (long long)c->scope_id,
		    window_names[c->window]);
		if (db_quote(st, &b, c->period) < 0)
			goto out;
		buf_printf(&b,
		           ", %lld, %lld, %lld, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE"
		           " granted_micros = granted_micros + VALUES(granted_micros),"
		           " granted_tokens = granted_tokens + VALUES(granted_tokens),"
		           " granted_requests = granted_requests + VALUES(granted_requests),"
		           " updated_at = VALUES(updated_at);",
		           (long long)gm, (long long)gt, (long long)gr);
		any = 1;
	}
	if (!any) {
		db_rollback(st);
		rc = ST_OK;
		goto out;
	}
	buf_puts(&b, " COMMIT");
	if (b.data == NULL) {
		db_rollback(st);
		rc = ST_ERR;
		goto out;
	}
	rc = db_query(st, b.data, b.len, NULL, NULL, __func__);
	st->in_tx = 0;
	if (rc != ST_OK) {
		for (size_t i = 0; i < n; i++)
			asks[i].got_micros = asks[i].got_tokens = asks[i].got_requests = 0;
		rc = ST_ERR;
	}
out:
	if (st->in_tx)
		db_rollback(st);
	buf_free(&b);
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
static void own_lock_sql(struct buf *b, int64_t owner_id)
{
	buf_printf(
	    b,
	    "START TRANSACTION; SELECT COUNT(*) INTO @own FROM owners WHERE id = %lld LOCK IN"
	    " SHARE MODE;",
	    (long long)owner_id);
}

int store_lease_return(struct store *st, int64_t owner_id, const struct lease_give *gives, size_t n)
{
	struct own_read o = {0};
	struct buf b = BUF_INIT;
	const struct adm_counter **cs = NULL;
	size_t *order = NULL;
	int rc;

	if (n == 0)
		return ST_OK;
	cs = calloc(n, sizeof(*cs));
	order = calloc(n, sizeof(*order));
	if (cs == NULL || order == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
		cs[i] = gives[i].c;
	key_order(cs, n, order);
	own_lock_sql(&b, owner_id);
	for (size_t k = 0; k < n; k++) {
		const struct lease_give *g = &gives[order[k]];

		buf_printf(&b,
		           " UPDATE budget_counters FORCE INDEX (PRIMARY) SET"
		           " leased_micros = GREATEST(leased_micros - %lld * @own, 0),"
		           " leased_tokens = GREATEST(leased_tokens - %lld * @own, 0),"
		           " leased_requests = GREATEST(leased_requests - %lld * @own, 0)",
		           (long long)g->micros, (long long)g->tokens, (long long)g->requests);
		if (key_where(st, &b, g->c) < 0)
			goto oom;
		buf_printf(&b,
		           "; UPDATE leases FORCE INDEX (PRIMARY) SET granted_micros = "
		           "GREATEST(granted_micros - %lld, 0),"
		           " granted_tokens = GREATEST(granted_tokens - %lld, 0),"
		           " granted_requests = GREATEST(granted_requests - %lld, 0),"
		           " updated_at = UTC_TIMESTAMP(6) WHERE owner_id = %lld AND ",
		           (long long)g->micros, (long long)g->tokens, (long long)g->requests,
		           (long long)owner_id);
		if (key_match_sql(st, &b, g->c) < 0 || buf_putc(&b, ';') < 0)
			goto oom;
	}
	buf_puts(&b, " SELECT @own; COMMIT");
	if (b.data == NULL)
		goto oom;
	rc = db_query(st, b.data, b.len, own_row, &o, __func__);
	st->in_tx = 0;
	buf_free(&b);
	free(cs);
	free(order);
	if (rc != ST_OK)
		return ST_ERR;
	return o.own ? ST_OK : ST_NOTFOUND;
oom:
	buf_free(&b);
	free(cs);
	free(order);
	return ST_ERR;
}

/* ------------------------------------------------------------------ promotions */

/* "scope:id:window:period|..." of a (the reaper reads it back). */
static int counters_text(const struct adm_request *a, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < a->n; i++) {
		const struct adm_counter *c = &a->c[i];
		int k = snprintf(out + o, cap - o, "%s%s:%lld:%s:%s", i ? "|" : "",
		                 scope_names[c->scope], (long long)c->scope_id,
		                 window_names[c->window], c->period);

		if (k < 0 || (size_t)k >= cap - o)
			return -1;
		o += (size_t)k;
	}
	return 0;
}

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
	struct buf b = BUF_INIT;
	struct promo_sum *sums = NULL;
	char counters[1024];
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
	own_lock_sql(&b, owner_id);
	buf_puts(&b, " SELECT @own;");
	for (size_t i = 0; i < n; i++) {
		const struct adm_request *a = p[i].a;
		const char *texts[] = {a->exec_id, a->kind, a->model, a->provider};

		p[i].reservation_id = 0;
		if (counters_text(a, counters, sizeof(counters)) < 0)
			goto oom;
		buf_printf(
		    &b,
		    " INSERT INTO reservations (tenant_id, key_id, state, micros, tokens,"
		    " prompt_tokens, max_tokens, counters, exec_id, kind, model, provider,"
		    " agent_id, agent_name, request_id, stream, owner, created_at, expires_at)"
		    " SELECT %lld, %lld, 'open', %lld, %lld, %lld, %lld, ",
		    (long long)a->tenant_id, (long long)a->key_id, (long long)a->micros,
		    (long long)a->tokens, (long long)a->prompt_tokens, (long long)a->max_tokens);
		db_quote(st, &b, counters);
		for (size_t k = 0; k < ARRAY_SIZE(texts); k++) {
			buf_puts(&b, ", ");
			db_quote(st, &b, texts[k] ? texts[k] : "");
		}
		buf_printf(&b, ", %lld, ", (long long)a->agent_id);
		db_quote(st, &b, a->agent_name ? a->agent_name : "");
		buf_puts(&b, ", ");
		db_quote(st, &b, a->request_id ? a->request_id : "");
		buf_printf(
		    &b,
		    ", %d, 'owner:%lld', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL %d SECOND"
		    " FROM DUAL WHERE @own = 1; SELECT IF(ROW_COUNT() = 1, LAST_INSERT_ID(), 0);",
		    a->stream ? 1 : 0, (long long)owner_id, a->expires_s > 1 ? a->expires_s : 1);
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

		buf_printf(&b,
		           " UPDATE budget_counters FORCE INDEX (PRIMARY) SET reserved_micros = "
		           "reserved_micros + %lld,"
		           " reserved_tokens = reserved_tokens + %lld, requests = requests + %lld,"
		           " leased_micros = GREATEST(leased_micros - %lld, 0),"
		           " leased_tokens = GREATEST(leased_tokens - %lld, 0),"
		           " leased_requests = GREATEST(leased_requests - %lld, 0)",
		           (long long)x->reserved_micros, (long long)x->reserved_tokens,
		           (long long)x->requests, (long long)x->lm, (long long)x->lt,
		           (long long)x->lr);
		if (key_where(st, &b, x->c) < 0)
			goto oom;
		buf_puts(&b, " AND @own = 1;");
	}
	for (size_t j = 0; j < nsum; j++) {
		const struct promo_sum *x = &sums[j];

		if (!x->lm && !x->lt && !x->lr)
			continue;
		buf_printf(&b,
		           " UPDATE leases FORCE INDEX (PRIMARY) SET granted_micros = "
		           "GREATEST(granted_micros - %lld, 0),"
		           " granted_tokens = GREATEST(granted_tokens - %lld, 0),"
		           " granted_requests = GREATEST(granted_requests - %lld, 0)"
		           " WHERE owner_id = %lld AND ",
		           (long long)x->lm, (long long)x->lt, (long long)x->lr,
		           (long long)owner_id);
		if (key_match_sql(st, &b, x->c) < 0 || buf_putc(&b, ';') < 0)
			goto oom;
	}
	buf_puts(&b, " COMMIT");
	if (b.data == NULL)
		goto oom;
	rc = db_query(st, b.data, b.len, promote_row, &pr, __func__);
	st->in_tx = 0;
	buf_free(&b);
	free(sums);
	if (rc != ST_OK) {
		for (size_t i = 0; i < n; i++)
			p[i].reservation_id = 0;
		return ST_ERR;
	}
	return pr.own ? ST_OK : ST_NOTFOUND;
oom:
	buf_free(&b);
	free(sums);
	return ST_ERR;
}

/* ------------------------------------------------------------------ recalls */

int store_lease_recall(struct store *st, const struct adm_counter *c)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_puts(&b,
	         "INSERT INTO lease_recalls (scope, scope_id, win, period, created_at) VALUES ");
	if (key_sql(st, &b, c) < 0 || b.len < 2) {
		buf_free(&b);
		return ST_ERR;
	}
	/* key_sql wrote "(...)": the row's values but the time */
	b.len--;
	b.data[b.len] = '\0';
	buf_puts(&b, ", UTC_TIMESTAMP(6))");
	if (b.data == NULL) {
		buf_free(&b);
		return ST_ERR;
	}
	rc = db_query(st, b.data, b.len, NULL, NULL, __func__);
	buf_free(&b);
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
		int s = name_index(scope_names, ADM__SCOPES, scope);
		int w = name_index(window_names, ADM__WINDOWS, win);

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
	struct buf b = BUF_INIT;
	int charge = silent_s > 0, rc;

	/*
	 * The owner's row exclusively (after every transaction of its process
	 * that holds it), and, charged, only while it is still silent. One
	 * statement moves every counter the owner held: joined with its lease
	 * rows. Charged: what the leases held becomes spent (calls in flight are
	 * unknown; never under-billed); else it is only given back.
	 */
	buf_printf(&b, "START TRANSACTION; SELECT COUNT(*) INTO @own FROM owners WHERE id = %lld",
	           (long long)owner_id);
	if (charge)
		buf_printf(&b, " AND heartbeat_at < UTC_TIMESTAMP(6) - INTERVAL %d SECOND",
		           silent_s);
	buf_puts(&b, " FOR UPDATE;");
	buf_printf(
	    &b,
	    " UPDATE budget_counters c JOIN leases l ON l.scope = c.scope AND"
	    " l.scope_id = c.scope_id AND l.win = c.win AND l.period = c.period"
	    " SET c.leased_micros = GREATEST(c.leased_micros - l.granted_micros, 0),"
	    " c.leased_tokens = GREATEST(c.leased_tokens - l.granted_tokens, 0),"
	    " c.leased_requests = GREATEST(c.leased_requests - l.granted_requests, 0),"
	    " c.spent_micros = c.spent_micros + IF(c.win = 'inflight', 0, %d * l.granted_micros),"
	    " c.spent_tokens = c.spent_tokens + IF(c.win = 'inflight', 0, %d * l.granted_tokens),"
	    " c.requests = c.requests + IF(c.win = 'minute', %d * l.granted_requests, 0),"
	    " c.updated_at = UTC_TIMESTAMP(6)"
	    " WHERE l.owner_id = %lld AND @own = 1;"
	    " DELETE FROM leases WHERE owner_id = %lld AND @own = 1;"
	    " DELETE FROM owners WHERE id = %lld AND @own = 1; SELECT @own; COMMIT",
	    charge ? 1 : 0, charge ? 1 : 0, charge ? 1 : 0, (long long)owner_id,
	    (long long)owner_id, (long long)owner_id);
	if (b.data == NULL)
		return ST_ERR;
	rc = db_query(st, b.data, b.len, own_row, &o, __func__);
	st->in_tx = 0;
	buf_free(&b);
	if (rc != ST_OK)
		return ST_ERR;
	return o.own ? ST_OK : ST_NOTFOUND;
}
