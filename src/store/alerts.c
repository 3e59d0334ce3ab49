/*
 * alerts.c: webhooks, alert events and deliveries (see store/alerts.h).
 *
 * DESIGN
 * Everything here runs off the request path (the alert thread, the CLI, the
 * self-service API and the dashboard), a few statements a second at most,
 * so it uses the typed text builder (store/sql.h) rather than prepared
 * statements; every value still goes through its typed append.
 *
 * Once per event: alert_events has a unique key (tenant, kind, subject,
 * threshold, period). The claim is one transaction: INSERT IGNORE the
 * event; when this statement inserted it (ROW_COUNT() = 1), queue a
 * delivery per webhook. Any number of processes on any number of hosts may
 * try at once; exactly one inserts. Deliveries are claimed with an UPDATE
 * that stamps a random token and a deadline on due rows no one holds, then
 * read back by the token: a process that dies mid-send leaves its rows to
 * be claimed again after the deadline (a receiver may then see a delivery
 * twice: the X-Agenthost-Delivery id tells it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "store/alerts.h"
#include "store/db.h"
#include "store/sql.h"
#include "store/store.h"

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"

/* Column i of row as text ("" for NULL or past n). */
static const char *col(MYSQL_ROW row, unsigned n, unsigned i)
{
	return i < n && row[i] != NULL ? row[i] : "";
}

/* Column i as a number (0 for NULL or garbage). */
static int64_t col_i64(MYSQL_ROW row, unsigned n, unsigned i)
{
	int64_t v = 0;

	if (util_parse_i64(col(row, n, i), INT64_MIN, INT64_MAX, &v) != 0)
		return 0;
	return v;
}

/* ------------------------------------------------------------------ webhooks */

int store_webhook_add(struct store *st, int64_t tenant_id, const char *url, int64_t *id_out)
{
	struct sql q;
	int64_t id = 0;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "INSERT INTO webhooks (tenant_id, url, created_at) SELECT id, ");
	sql_str(&q, url);
	sql_lit(&q, ", UTC_TIMESTAMP(6) FROM tenants WHERE id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, "; SELECT IF(ROW_COUNT() = 1, LAST_INSERT_ID(), 0)");
	rc = sql_run_i64(st, &q, &id, __func__);
	sql_free(&q);
	if (rc != ST_OK)
		return ST_ERR;
	if (id == 0)
		return ST_NOTFOUND;
	*id_out = id;
	return ST_OK;
}

struct hook_rows {
	webhook_cb cb;
	void *ctx;
	int stop;
};

static void hook_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct hook_rows *h = ctx;
	struct webhook w;

	(void)set;
	(void)len;
	if (h->stop)
		return;
	memset(&w, 0, sizeof(w));
	w.id = col_i64(row, n, 0);
	w.tenant_id = col_i64(row, n, 1);
	util_strlcpy(w.url, col(row, n, 2), sizeof(w.url));
	w.created_at = col_i64(row, n, 3);
	h->stop = h->cb(h->ctx, &w) != 0;
}

int store_webhook_list(struct store *st, int64_t tenant_id, webhook_cb cb, void *ctx)
{
	struct hook_rows h = {cb, ctx, 0};
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "SELECT id, tenant_id, url, " TS(
	                "created_at") " FROM webhooks"
	                              " WHERE removed_at IS NULL AND tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, " ORDER BY id");
	rc = sql_run(st, &q, hook_row, &h, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

int store_webhook_remove(struct store *st, int64_t tenant_id, int64_t id)
{
	struct sql q;
	int64_t n = 0;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "START TRANSACTION; UPDATE webhooks SET removed_at = UTC_TIMESTAMP(6)"
	            " WHERE removed_at IS NULL AND tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, " AND id = ");
	sql_i64(&q, id);
	sql_lit(&q, "; SET @ah_n = ROW_COUNT(); UPDATE alert_deliveries SET status = 'failed',"
	            " last_error = 'webhook removed' WHERE status = 'pending' AND @ah_n = 1"
	            " AND tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, " AND webhook_id = ");
	sql_i64(&q, id);
	sql_lit(&q, "; COMMIT; SELECT @ah_n");
	rc = sql_run_i64(st, &q, &n, __func__);
	sql_free(&q);
	if (rc != ST_OK)
		return ST_ERR;
	return n == 1 ? ST_OK : ST_NOTFOUND;
}

/* ------------------------------------------------------------------ what may be an event */

/*
 * Rows are gathered while the result is read and handed to the callback only
 * once the statement is done: a callback runs statements of its own on the
 * same connection, and one that fails closes it (db.c), which must never
 * happen under a result being read.
 */
struct gathered {
	void *v; /* n rows of size bytes */
	size_t n, cap, size;
	int failed; /* out of memory: the round is given up */
};

/* Room for one more row, zeroed; NULL when out of memory. */
static void *gather_slot(struct gathered *g)
{
	if (g->failed)
		return NULL;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		void *v = realloc(g->v, cap * g->size);

		if (v == NULL) {
			g->failed = 1;
			return NULL;
		}
		g->v = v;
		g->cap = cap;
	}
	return memset((char *)g->v + g->n++ * g->size, 0, g->size);
}

static void budget_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct alert_budget *a = gather_slot(ctx);

	(void)set;
	(void)len;
	if (a == NULL)
		return;
	a->tenant_id = col_i64(row, n, 0);
	util_strlcpy(a->window, col(row, n, 1), sizeof(a->window));
	util_strlcpy(a->period, col(row, n, 2), sizeof(a->period));
	a->spent_micros = col_i64(row, n, 3);
	a->lim_micros = col_i64(row, n, 4);
	a->spent_tokens = col_i64(row, n, 5);
	a->lim_tokens = col_i64(row, n, 6);
}

int store_alert_budgets(struct store *st, alert_budget_cb cb, void *ctx)
{
	struct gathered g = {NULL, 0, 0, sizeof(struct alert_budget), 0};
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "SELECT scope_id, win, period, spent_micros, lim_micros, spent_tokens,"
	            " lim_tokens FROM budget_counters WHERE scope = 'tenant'"
	            " AND win IN ('day', 'month')"
	            " AND updated_at > UTC_TIMESTAMP(6) - INTERVAL 1 HOUR"
	            " AND (spent_micros > 0 OR spent_tokens > 0)"
	            " ORDER BY scope_id, win, period LIMIT 10000");
	rc = sql_run(st, &q, budget_row, &g, __func__);
	sql_free(&q);
	for (size_t i = 0; rc == ST_OK && !g.failed && i < g.n; i++)
		if (cb(ctx, (const struct alert_budget *)g.v + i) != 0)
			break;
	free(g.v);
	return rc == ST_OK && !g.failed ? ST_OK : ST_ERR;
}

static void level_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct alert_level_budget *a = gather_slot(ctx);

	(void)set;
	(void)len;
	if (a == NULL)
		return;
	a->b.tenant_id = col_i64(row, n, 0);
	util_strlcpy(a->scope, col(row, n, 1), sizeof(a->scope));
	a->scope_id = col_i64(row, n, 2);
	util_strlcpy(a->b.window, col(row, n, 3), sizeof(a->b.window));
	util_strlcpy(a->b.period, col(row, n, 4), sizeof(a->b.period));
	a->b.spent_micros = col_i64(row, n, 5);
	a->b.lim_micros = col_i64(row, n, 6);
	a->b.spent_tokens = col_i64(row, n, 7);
	a->b.lim_tokens = col_i64(row, n, 8);
	a->has_list = col_i64(row, n, 9) != 0;
	util_strlcpy(a->list, col(row, n, 10), sizeof(a->list));
	util_strlcpy(a->enforcement, col(row, n, 11), sizeof(a->enforcement));
	util_strlcpy(a->label, col(row, n, 12), sizeof(a->label));
}

/* Run q (its rows in level_row's columns), then cb over them. */
static int level_run(struct store *st, struct sql *q, alert_level_cb cb, void *ctx, const char *fn)
{
	struct gathered g = {NULL, 0, 0, sizeof(struct alert_level_budget), 0};
	int rc = sql_run(st, q, level_row, &g, fn);

	for (size_t i = 0; rc == ST_OK && !g.failed && i < g.n; i++)
		if (cb(ctx, (const struct alert_level_budget *)g.v + i) != 0)
			break;
	free(g.v);
	return rc == ST_OK && !g.failed ? ST_OK : ST_ERR;
}

/* The counters' columns and the filter every level's rows share. */
#define LEVEL_COLS                                                                                 \
	" b.scope, b.scope_id, b.win, b.period, b.spent_micros, b.lim_micros, b.spent_tokens,"     \
	" b.lim_tokens"
#define LEVEL_RECENT                                                                               \
	" AND b.win IN ('day', 'month') AND b.updated_at > UTC_TIMESTAMP(6) - INTERVAL 1 HOUR"     \
	" AND (b.spent_micros > 0 OR b.spent_tokens > 0) AND (b.lim_micros > 0 OR b.lim_tokens > " \
	"0)"
/* The level's own row of limit NAME, matched on its scope (the enums differ: compared apart). */
#define LEVEL_LIMIT(alias, name)                                                                   \
	" LEFT JOIN limits " alias " ON " alias ".scope_id = b.scope_id AND " alias                \
	".name = '" name "' AND ((b.scope = 'key' AND " alias                                      \
	".scope = 'key') OR (b.scope = 'project' AND " alias                                       \
	".scope = 'project') OR (b.scope = 'tag' AND " alias ".scope = 'tag'))"

int store_alert_level_budgets(struct store *st, alert_level_cb cb, void *ctx)
{
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(
	    &q,
	    "SELECT COALESCE(k.tenant_id, p.tenant_id, g.tenant_id, 0)," LEVEL_COLS ","
	    " l.value IS NOT NULL, COALESCE(l.value, ''), COALESCE(e.value, ''),"
	    " COALESCE(k.prefix, p.name, CONCAT(g.tag_key, '=', g.tag_value), '')"
	    " FROM budget_counters b"
	    " LEFT JOIN api_keys k ON b.scope = 'key' AND k.id = b.scope_id"
	    " LEFT JOIN projects p ON b.scope = 'project' AND p.id = b.scope_id"
	    " LEFT JOIN tags g ON b.scope = 'tag' AND g.id = b.scope_id" LEVEL_LIMIT(
	        "l", "alert_thresholds")
	        LEVEL_LIMIT(
	            "e",
	            "budget_enforcement") " WHERE b.scope IN ('key', 'project', 'tag')" LEVEL_RECENT
	                                  " ORDER BY 1, b.scope, b.scope_id, b.win, b.period LIMIT "
	                                  "10000");
	rc = level_run(st, &q, cb, ctx, __func__);
	sql_free(&q);
	return rc;
}

int store_alert_end_user_budgets(struct store *st, const int64_t *ids, size_t n, alert_level_cb cb,
                                 void *ctx)
{
	struct sql q;
	int rc;

	if (n == 0)
		return ST_OK;
	sql_init(&q, st);
	sql_lit(&q, "SELECT 0," LEVEL_COLS ", 0, '', '', '' FROM budget_counters b"
	            " WHERE b.scope = 'end_user' AND b.scope_id IN (");
	for (size_t i = 0; i < n; i++) {
		sql_comma(&q, i == 0);
		sql_i64(&q, ids[i]);
	}
	sql_lit(&q, ")" LEVEL_RECENT " ORDER BY b.scope_id, b.win, b.period");
	rc = level_run(st, &q, cb, ctx, __func__);
	sql_free(&q);
	return rc;
}

static void fact_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct alert_fact *a = gather_slot(ctx);

	(void)set;
	(void)len;
	if (a == NULL)
		return;
	a->tenant_id = col_i64(row, n, 0);
	util_strlcpy(a->subject, col(row, n, 1), sizeof(a->subject));
	util_strlcpy(a->period, col(row, n, 2), sizeof(a->period));
	util_strlcpy(a->detail, col(row, n, 3), sizeof(a->detail));
	a->at = col_i64(row, n, 4);
}

/* Run q, then cb over its fact rows. */
static int facts_run(struct store *st, struct sql *q, alert_fact_cb cb, void *ctx, const char *fn)
{
	struct gathered g = {NULL, 0, 0, sizeof(struct alert_fact), 0};
	int rc = sql_run(st, q, fact_row, &g, fn);

	sql_free(q);
	for (size_t i = 0; rc == ST_OK && !g.failed && i < g.n; i++)
		if (cb(ctx, (const struct alert_fact *)g.v + i) != 0)
			break;
	free(g.v);
	return rc == ST_OK && !g.failed ? ST_OK : ST_ERR;
}

int store_alert_keys_expiring(struct store *st, int64_t within_s, alert_fact_cb cb, void *ctx)
{
	struct sql q;

	sql_init(&q, st);
	sql_lit(&q,
	        "SELECT tenant_id, CONCAT('key:', id),"
	        " DATE_FORMAT(expires_at, '%Y-%m-%dT%H:%i:%s'), prefix, " TS(
	            "expires_at") " FROM api_keys WHERE revoked_at IS NULL AND grace_until IS NULL"
	                          " AND expires_at > UTC_TIMESTAMP(6)"
	                          " AND expires_at <= UTC_TIMESTAMP(6) + INTERVAL ");
	sql_i64(&q, within_s);
	sql_lit(&q, " SECOND ORDER BY id LIMIT 10000");
	return facts_run(st, &q, cb, ctx, __func__);
}

int store_alert_breakers_open(struct store *st, alert_fact_cb cb, void *ctx)
{
	struct sql q;

	sql_init(&q, st);
	sql_lit(&q, "SELECT tenant_id, provider,"
	            " DATE_FORMAT(opened_at, '%Y-%m-%dT%H:%i:%s.%f'), '', " TS(
	                "opened_at") " FROM breakers WHERE state = 'open' AND opened_at IS NOT NULL"
	                             " AND opened_at > UTC_TIMESTAMP(6) - INTERVAL 1 HOUR"
	                             " ORDER BY tenant_id, provider LIMIT 10000");
	return facts_run(st, &q, cb, ctx, __func__);
}

/* ------------------------------------------------------------------ events and deliveries */

int store_alert_claim(struct store *st, int64_t tenant_id, const char *kind, const char *subject,
                      int threshold, const char *period, const char *payload)
{
	struct sql q;
	int64_t ev = 0;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "START TRANSACTION; INSERT IGNORE INTO alert_events (tenant_id, kind, subject,"
	            " threshold, period, payload, created_at) VALUES (");
	sql_i64(&q, tenant_id);
	sql_lit(&q, ", ");
	sql_str(&q, kind);
	sql_lit(&q, ", ");
	sql_str(&q, subject);
	sql_lit(&q, ", ");
	sql_i64(&q, threshold);
	sql_lit(&q, ", ");
	sql_str(&q, period);
	sql_lit(&q, ", ");
	sql_str(&q, payload);
	sql_lit(&q, ", UTC_TIMESTAMP(6)); SET @ah_ev = IF(ROW_COUNT() = 1, LAST_INSERT_ID(), 0);"
	            " INSERT INTO alert_deliveries (event_id, webhook_id, tenant_id, next_at,"
	            " created_at) SELECT @ah_ev, id, tenant_id, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)"
	            " FROM webhooks WHERE @ah_ev <> 0 AND removed_at IS NULL AND tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, "; COMMIT; SELECT @ah_ev");
	/*
	 * Processes on every host claim the same events at once: two inserts of
	 * one event can deadlock (the loser is rolled back whole). Run again; the
	 * second try finds the event made and claims nothing.
	 */
	for (int i = 0;; i++) {
		rc = sql_run_i64(st, &q, &ev, __func__);
		if (rc == ST_OK || !db_retry(st, i))
			break;
	}
	sql_free(&q);
	if (rc != ST_OK)
		return -1;
	return ev != 0;
}

static void due_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct gathered *g = ctx;
	struct alert_delivery *a;

	(void)len;
	(void)set;
	if (n < 8 || (a = gather_slot(g)) == NULL)
		return;
	a->id = col_i64(row, n, 0);
	a->event_id = col_i64(row, n, 1);
	a->webhook_id = col_i64(row, n, 2);
	a->tenant_id = col_i64(row, n, 3);
	a->attempts = (int)col_i64(row, n, 4);
	util_strlcpy(a->kind, col(row, n, 5), sizeof(a->kind));
	util_strlcpy(a->url, col(row, n, 6), sizeof(a->url));
	a->payload = strdup(col(row, n, 7));
	if (a->payload == NULL) {
		g->n--;
		g->failed = 1;
	}
}

int store_alert_due(struct store *st, const char *token, int max, int claim_s, alert_delivery_cb cb,
                    void *ctx)
{
	struct gathered g = {NULL, 0, 0, sizeof(struct alert_delivery), 0};
	struct alert_delivery *d;
	struct sql q;
	int rc, stop = 0;

	sql_init(&q, st);
	sql_lit(&q, "UPDATE alert_deliveries SET claim = ");
	sql_str(&q, token);
	sql_lit(&q, ", claim_until = UTC_TIMESTAMP(6) + INTERVAL ");
	sql_i64(&q, claim_s);
	sql_lit(&q, " SECOND WHERE status = 'pending' AND next_at <= UTC_TIMESTAMP(6)"
	            " AND (claim_until IS NULL OR claim_until < UTC_TIMESTAMP(6))"
	            " ORDER BY next_at, id LIMIT ");
	sql_i64(&q, max);
	sql_lit(&q, "; SELECT d.id, d.event_id, d.webhook_id, d.tenant_id, d.attempts, e.kind,"
	            " w.url, e.payload FROM alert_deliveries d"
	            " JOIN alert_events e ON e.id = d.event_id"
	            " JOIN webhooks w ON w.id = d.webhook_id AND w.tenant_id = d.tenant_id"
	            " WHERE d.status = 'pending' AND d.claim = ");
	sql_str(&q, token);
	sql_lit(&q, " ORDER BY d.id");
	rc = sql_run(st, &q, due_row, &g, __func__);
	sql_free(&q);
	/* What could not be read stays claimed until claim_s passes, then is due again. */
	d = g.v;
	for (size_t i = 0; i < g.n; i++) {
		if (rc == ST_OK && !stop)
			stop = cb(ctx, &d[i]) != 0;
		free(d[i].payload);
	}
	free(g.v);
	return rc == ST_OK && !g.failed ? ST_OK : ST_ERR;
}

int store_alert_attempt(struct store *st, int64_t id, int delivered, int http_status,
                        const char *error, int64_t retry_ms)
{
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "UPDATE alert_deliveries SET attempts = attempts + 1, claim = NULL,"
	            " claim_until = NULL, last_status = ");
	sql_i64(&q, http_status);
	sql_lit(&q, ", last_error = ");
	sql_strn(&q, error ? error : "", db_utf8_cut(error ? error : "", 255));
	if (delivered)
		sql_lit(&q, ", status = 'delivered', delivered_at = UTC_TIMESTAMP(6)");
	else if (retry_ms > 0) {
		sql_lit(&q, ", next_at = UTC_TIMESTAMP(6) + INTERVAL ");
		sql_i64(&q, retry_ms * 1000);
		sql_lit(&q, " MICROSECOND");
	} else
		sql_lit(&q, ", status = 'failed'");
	sql_lit(&q, " WHERE status = 'pending' AND id = ");
	sql_i64(&q, id);
	rc = sql_run(st, &q, NULL, NULL, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

struct log_rows {
	alert_log_cb cb;
	void *ctx;
	int stop;
};

static void log_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct log_rows *lr = ctx;
	struct alert_log l;

	(void)set;
	(void)len;
	if (lr->stop)
		return;
	memset(&l, 0, sizeof(l));
	l.id = col_i64(row, n, 0);
	l.event_id = col_i64(row, n, 1);
	l.webhook_id = col_i64(row, n, 2);
	util_strlcpy(l.kind, col(row, n, 3), sizeof(l.kind));
	util_strlcpy(l.subject, col(row, n, 4), sizeof(l.subject));
	util_strlcpy(l.period, col(row, n, 5), sizeof(l.period));
	l.threshold = (int)col_i64(row, n, 6);
	util_strlcpy(l.status, col(row, n, 7), sizeof(l.status));
	l.attempts = (int)col_i64(row, n, 8);
	l.last_status = (int)col_i64(row, n, 9);
	util_strlcpy(l.last_error, col(row, n, 10), sizeof(l.last_error));
	l.created_at = col_i64(row, n, 11);
	l.delivered_at = col_i64(row, n, 12);
	util_strlcpy(l.url, col(row, n, 13), sizeof(l.url));
	lr->stop = lr->cb(lr->ctx, &l) != 0;
}

int store_alert_log(struct store *st, int64_t tenant_id, int limit, alert_log_cb cb, void *ctx)
{
	struct log_rows lr = {cb, ctx, 0};
	struct sql q;
	int rc;

	if (limit < 1 || limit > 500)
		limit = 100;
	sql_init(&q, st);
	sql_lit(
	    &q,
	    "SELECT d.id, d.event_id, d.webhook_id, e.kind, e.subject, e.period,"
	    " e.threshold, d.status, d.attempts, d.last_status, d.last_error,"
	    " " TS("d.created_at") ", " TS(
	        "d.delivered_at") ", w.url"
	                          " FROM alert_deliveries d JOIN alert_events e ON e.id = "
	                          "d.event_id"
	                          " JOIN webhooks w ON w.id = d.webhook_id WHERE d.tenant_id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, " ORDER BY d.id DESC LIMIT ");
	sql_i64(&q, limit);
	rc = sql_run(st, &q, log_row, &lr, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

int store_alert_prune(struct store *st, int days, int batch)
{
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "DELETE FROM alert_deliveries WHERE status <> 'pending'"
	            " AND created_at < UTC_TIMESTAMP(6) - INTERVAL ");
	sql_i64(&q, days);
	sql_lit(&q, " DAY LIMIT ");
	sql_i64(&q, batch);
	sql_lit(&q,
	        "; DELETE e FROM alert_events e WHERE e.created_at < UTC_TIMESTAMP(6) - INTERVAL ");
	sql_i64(&q, days);
	sql_lit(&q,
	        " DAY AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.event_id = e.id)");
	rc = sql_run(st, &q, NULL, NULL, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}
