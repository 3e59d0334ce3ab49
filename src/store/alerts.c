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

struct budget_rows {
	alert_budget_cb cb;
	void *ctx;
	int stop;
};

static void budget_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct budget_rows *b = ctx;
	struct alert_budget a;

	(void)set;
	(void)len;
	if (b->stop)
		return;
	memset(&a, 0, sizeof(a));
	a.tenant_id = col_i64(row, n, 0);
	util_strlcpy(a.window, col(row, n, 1), sizeof(a.window));
	util_strlcpy(a.period, col(row, n, 2), sizeof(a.period));
	a.spent_micros = col_i64(row, n, 3);
	a.lim_micros = col_i64(row, n, 4);
	a.spent_tokens = col_i64(row, n, 5);
	a.lim_tokens = col_i64(row, n, 6);
	b->stop = b->cb(b->ctx, &a) != 0;
}

int store_alert_budgets(struct store *st, alert_budget_cb cb, void *ctx)
{
	struct budget_rows b = {cb, ctx, 0};
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "SELECT scope_id, win, period, spent_micros, lim_micros, spent_tokens,"
	            " lim_tokens FROM budget_counters WHERE scope = 'tenant'"
	            " AND win IN ('day', 'month')"
	            " AND updated_at > UTC_TIMESTAMP(6) - INTERVAL 1 HOUR"
	            " AND (spent_micros > 0 OR spent_tokens > 0)"
	            " ORDER BY scope_id, win, period LIMIT 10000");
	rc = sql_run(st, &q, budget_row, &b, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

struct fact_rows {
	alert_fact_cb cb;
	void *ctx;
	int stop;
};

static void fact_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct fact_rows *f = ctx;
	struct alert_fact a;

	(void)set;
	(void)len;
	if (f->stop)
		return;
	memset(&a, 0, sizeof(a));
	a.tenant_id = col_i64(row, n, 0);
	util_strlcpy(a.subject, col(row, n, 1), sizeof(a.subject));
	util_strlcpy(a.period, col(row, n, 2), sizeof(a.period));
	util_strlcpy(a.detail, col(row, n, 3), sizeof(a.detail));
	a.at = col_i64(row, n, 4);
	f->stop = f->cb(f->ctx, &a) != 0;
}

int store_alert_keys_expiring(struct store *st, int64_t within_s, alert_fact_cb cb, void *ctx)
{
	struct fact_rows f = {cb, ctx, 0};
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q,
	        "SELECT tenant_id, CONCAT('key:', id),"
	        " DATE_FORMAT(expires_at, '%Y-%m-%dT%H:%i:%s'), prefix, " TS(
	            "expires_at") " FROM api_keys WHERE revoked_at IS NULL AND grace_until IS NULL"
	                          " AND expires_at > UTC_TIMESTAMP(6)"
	                          " AND expires_at <= UTC_TIMESTAMP(6) + INTERVAL ");
	sql_i64(&q, within_s);
	sql_lit(&q, " SECOND ORDER BY id LIMIT 10000");
	rc = sql_run(st, &q, fact_row, &f, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

int store_alert_breakers_open(struct store *st, alert_fact_cb cb, void *ctx)
{
	struct fact_rows f = {cb, ctx, 0};
	struct sql q;
	int rc;

	sql_init(&q, st);
	sql_lit(&q, "SELECT tenant_id, provider,"
	            " DATE_FORMAT(opened_at, '%Y-%m-%dT%H:%i:%s.%f'), '', " TS(
	                "opened_at") " FROM breakers WHERE state = 'open' AND opened_at IS NOT NULL"
	                             " AND opened_at > UTC_TIMESTAMP(6) - INTERVAL 1 HOUR"
	                             " ORDER BY tenant_id, provider LIMIT 10000");
	rc = sql_run(st, &q, fact_row, &f, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
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
	rc = sql_run_i64(st, &q, &ev, __func__);
	sql_free(&q);
	if (rc != ST_OK)
		return -1;
	return ev != 0;
}

struct due_rows {
	alert_delivery_cb cb;
	void *ctx;
	int stop;
};

static void due_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct due_rows *d = ctx;
	struct alert_delivery a;

	(void)len;
	if (d->stop || n < 8)
		return;
	(void)set;
	memset(&a, 0, sizeof(a));
	a.id = col_i64(row, n, 0);
	a.event_id = col_i64(row, n, 1);
	a.webhook_id = col_i64(row, n, 2);
	a.tenant_id = col_i64(row, n, 3);
	a.attempts = (int)col_i64(row, n, 4);
	util_strlcpy(a.kind, col(row, n, 5), sizeof(a.kind));
	util_strlcpy(a.url, col(row, n, 6), sizeof(a.url));
	a.payload = strdup(col(row, n, 7));
	if (a.payload == NULL)
		return;
	d->stop = d->cb(d->ctx, &a) != 0;
	free(a.payload);
}

int store_alert_due(struct store *st, const char *token, int max, int claim_s, alert_delivery_cb cb,
                    void *ctx)
{
	struct due_rows d = {cb, ctx, 0};
	struct sql q;
	int rc;

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
	rc = sql_run(st, &q, due_row, &d, __func__);
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
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
