/*
 * admission.c: reservations and counters (see store/admission.h).
 *
 * DESIGN
 * Budget rows are hot: every admission of a tenant touches the same rows.
 * What limits throughput is how long their row locks are held, so the
 * statements that hold them are sent together, several to a round trip
 * (multi-statement text; MariaDB's compound statements would do it in one,
 * but compile a stored program on every call: measured ~0.5-0.8 ms of server
 * CPU each, more than the round trips they save).
 *
 * reserve (2 round trips):
 *   1. START TRANSACTION; INSERT the reservation; SELECT its id;
 *      INSERT ... ON DUPLICATE KEY UPDATE over the n counter rows: for an
 *      existing row the update first decides, under the row lock, whether
 *      the row admits the request (spent + reserved + worst case within the
 *      row's hard limits) and marks it with this request's random marker
 *      (last_admit); the following assignments add the reservation only
 *      where the marker was set (ODKU assignments run left to right, each
 *      seeing the ones before). A new row admits by construction: the caller
 *      refuses a worst case above a limit before asking.
 *      SELECT the rows back (marked or not; values for headers, messages).
 *   2. COMMIT when every row is marked, else ROLLBACK.
 *   The counter rows stay locked for one round trip and the commit.
 *
 * settle: a ledger record of one call (store/ledger.c, which writes batches
 *   of them): its reservation is locked and closed if still open, its
 *   counters moved from reserved to spent, its row and rollups written, in
 *   one transaction; a reservation the reaper closed first leaves the
 *   reaper's record standing (ST_CONFLICT).
 *
 * Text statements are built with store/sql.h (numbers formatted, strings
 * quoted); the connection never sees request text unescaped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/admission.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/ledger.h"
#include "store/records.h"
#include "store/sql.h"

static const char *const scope_names[ADM__SCOPES] = {"tenant",  "key", "global",
                                                     "project", "tag", "end_user"};
static const char *const window_names[ADM__WINDOWS] = {"minute", "day", "month", "inflight"};

static const char sql_reap_list[] =
    "SELECT id, tenant_id, key_id, micros, tokens, prompt_tokens, max_tokens, counters,"
    " exec_id, kind, model, provider, agent_id, agent_name, request_id, stream"
    " FROM reservations WHERE state = 'open' AND expires_at < UTC_TIMESTAMP(6)"
    " ORDER BY expires_at LIMIT ?";
static const char sql_counter_get[] =
    "SELECT spent_micros, reserved_micros, spent_tokens, reserved_tokens, requests,"
    " leased_micros, leased_tokens, leased_requests"
    " FROM budget_counters WHERE scope = ? AND scope_id = ? AND win = ? AND period = ?";
static const char sql_inflight_get[] =
    "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(leased_requests), 0) FROM budget_counters"
    " WHERE scope = 'tenant' AND scope_id = ? AND win = 'inflight'";
static const char sql_open_count[] =
    "SELECT COUNT(*) FROM reservations WHERE tenant_id = ? AND state = 'open'";

int adm_key_cmp(int scope_a, int64_t id_a, int window_a, const char *period_a, int scope_b,
                int64_t id_b, int window_b, const char *period_b)
{
	if (scope_a != scope_b)
		return scope_a < scope_b ? -1 : 1;
	if (id_a != id_b)
		return id_a < id_b ? -1 : 1;
	if (window_a != window_b)
		return window_a < window_b ? -1 : 1;
	return strcmp(period_a, period_b);
}

int adm_counter_cmp(const struct adm_counter *a, const struct adm_counter *b)
{
	return adm_key_cmp(a->scope, a->scope_id, a->window, a->period, b->scope, b->scope_id,
	                   b->window, b->period);
}

const char *adm_scope_name(int scope)
{
	return scope >= 0 && scope < ADM__SCOPES ? scope_names[scope] : "";
}

const char *adm_window_name(int window)
{
	return window >= 0 && window < ADM__WINDOWS ? window_names[window] : "";
}

void adm_key_sql(struct sql *q, int scope, int64_t scope_id, int window, const char *period)
{
	sql_str(q, adm_scope_name(scope));
	sql_lit(q, ", ");
	sql_i64(q, scope_id);
	sql_lit(q, ", ");
	sql_str(q, adm_window_name(window));
	sql_lit(q, ", ");
	sql_str(q, period);
}

void adm_key_match_sql(struct sql *q, int scope, int64_t scope_id, int window, const char *period)
{
	sql_lit(q, "(scope = ");
	sql_str(q, adm_scope_name(scope));
	sql_lit(q, " AND scope_id = ");
	sql_i64(q, scope_id);
	sql_lit(q, " AND win = ");
	sql_str(q, adm_window_name(window));
	sql_lit(q, " AND period = ");
	sql_str(q, period);
	sql_lit(q, ")");
}

/* "(scope = 'tenant' AND scope_id = 1 AND win = 'day' AND period = '2026-11-23') OR ..." */
static void sql_row_keys(struct sql *q, const struct adm_request *a)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct adm_counter *c = &a->c[i];

		if (i)
			sql_lit(q, " OR ");
		adm_key_match_sql(q, c->scope, c->scope_id, c->window, c->period);
	}
}

/* Key bindings of counter c into in[0..3]. */
struct key_bind {
	unsigned long len[3];
};

static void bind_key(MYSQL_BIND *in, const struct adm_counter *c, struct key_bind *kb)
{
	db_in_str(&in[0], scope_names[c->scope], &kb->len[0]);
	db_in_i64(&in[1], &c->scope_id);
	db_in_str(&in[2], window_names[c->window], &kb->len[1]);
	db_in_str(&in[3], c->period, &kb->len[2]);
}

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

int adm_scope_of(const char *name)
{
	return name_index(scope_names, ADM__SCOPES, name);
}

int adm_window_of(const char *name)
{
	return name_index(window_names, ADM__WINDOWS, name);
}

/* "scope:id:window:period|..." for the reservation row. */
int adm_counters_text(const struct adm_request *a, char *out, size_t cap)
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

/* Parse counters_text back into a->c (keys only). */
static int counters_parse(const char *text, struct adm_request *a)
{
	char copy[1024], *save = NULL, *item;

	if (util_strlcpy(copy, text, sizeof(copy)) < 0)
		return -1;
	a->n = 0;
	for (item = strtok_r(copy, "|", &save); item; item = strtok_r(NULL, "|", &save)) {
		char *p1 = strchr(item, ':'), *p2, *p3;
		struct adm_counter *c;
		int64_t id;

		if (a->n == ADM_MAX_COUNTERS || p1 == NULL || (p2 = strchr(p1 + 1, ':')) == NULL ||
		    (p3 = strchr(p2 + 1, ':')) == NULL)
			return -1;
		*p1 = *p2 = *p3 = '\0';
		c = &a->c[a->n];
		memset(c, 0, sizeof(*c));
		c->scope = name_index(scope_names, ADM__SCOPES, item);
		c->window = name_index(window_names, ADM__WINDOWS, p2 + 1);
		if (c->scope < 0 || c->window < 0 ||
		    util_parse_i64(p1 + 1, 0, INT64_MAX, &id) < 0 ||
		    util_strlcpy(c->period, p3 + 1, sizeof(c->period)) < 0)
			return -1;
		c->scope_id = id;
		a->n++;
	}
	return 0;
}

static void owner_name(char *out, size_t cap)
{
	char host[48] = "";

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(out, cap, "%s:%d", host, (int)getpid());
}

/* ------------------------------------------------------------------ reserve */

struct reserve_read {
	struct adm_request *a;
	int64_t reservation_id;
	int admitted_rows;
};

static void reserve_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct reserve_read *rr = ctx;
	struct adm_request *a = rr->a;
	int64_t v[6], sid;
	size_t k;

	(void)len;
	if (set == 0 && n >= 1 && row[0]) {
		util_parse_i64(row[0], 0, INT64_MAX, &rr->reservation_id);
		return;
	}
	if (set != 1 || n < 13)
		return;
	for (int i = 0; i < 6; i++)
		if (row[i] == NULL || util_parse_i64(row[i], INT64_MIN, INT64_MAX, &v[i]) < 0)
			return;
	if (row[7] == NULL || util_parse_i64(row[7], 0, INT64_MAX, &sid) < 0 || !row[6] ||
	    !row[8] || !row[9])
		return;
	for (k = 0; k < a->n; k++) {
		struct adm_counter *c = &a->c[k];

		if (c->scope_id == sid && strcmp(scope_names[c->scope], row[6]) == 0 &&
		    strcmp(window_names[c->window], row[8]) == 0 && strcmp(c->period, row[9]) == 0)
			break;
	}
	if (k == a->n)
		return;
	a->c[k].spent_micros = v[0];
	a->c[k].reserved_micros = v[1];
	a->c[k].spent_tokens = v[2];
	a->c[k].reserved_tokens = v[3];
	a->c[k].requests = v[4];
	a->c[k].admitted = v[5] != 0;
	for (int i = 0; i < 3; i++)
		if (row[10 + i] == NULL || util_parse_i64(row[10 + i], 0, INT64_MAX, &v[i]) < 0)
			return;
	a->c[k].leased_micros = v[0];
	a->c[k].leased_tokens = v[1];
	a->c[k].leased_requests = v[2];
	rr->admitted_rows += a->c[k].admitted;
}

/* ", v" for each of the n values */
static void adm_nums(struct sql *q, const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sql_lit(q, ", ");
		sql_i64(q, v[i]);
	}
}

void adm_reservation_sql(struct sql *q, const struct adm_request *a, const char *counters,
                         const char *owner, int expires_s)
{
	const char *texts[] = {counters, a->exec_id, a->kind, a->model, a->provider};
	const int64_t sizes[] = {a->micros, a->tokens, a->prompt_tokens, a->max_tokens};

	sql_lit(q, " INSERT INTO reservations (tenant_id, key_id, state, micros, tokens,"
	           " prompt_tokens, max_tokens, counters, exec_id, kind, model, provider,"
	           " agent_id, agent_name, request_id, stream, owner, created_at, expires_at)"
	           " SELECT ");
	sql_i64(q, a->tenant_id);
	sql_lit(q, ", ");
	sql_i64(q, a->key_id);
	sql_lit(q, ", 'open'");
	adm_nums(q, sizes, ARRAY_SIZE(sizes));
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		sql_lit(q, ", ");
		sql_str(q, texts[i] ? texts[i] : "");
	}
	adm_nums(q, &a->agent_id, 1);
	sql_lit(q, ", ");
	sql_str(q, a->agent_name ? a->agent_name : "");
	sql_lit(q, ", ");
	sql_str(q, a->request_id ? a->request_id : "");
	sql_lit(q, ", ");
	sql_i64(q, a->stream ? 1 : 0);
	sql_lit(q, ", ");
	sql_str(q, owner);
	sql_lit(q, ", UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ");
	sql_i64(q, expires_s);
	sql_lit(q, " SECOND");
}

static void reserve_sql(struct sql *q, const struct adm_request *a, int64_t marker,
                        const char *counters, const char *owner)
{
	size_t order[ADM_MAX_COUNTERS];

	sql_lit(q, "START TRANSACTION;");
	adm_reservation_sql(q, a, counters, owner, a->expires_s);
	/*
	 * The reservation is made only while the tenant is not being moved: the
	 * INSERT ... SELECT reads its row with a shared lock, so a move that sets
	 * migrating waits for reservations being made, and none is made after.
	 * No row inserted: id 0 (LAST_INSERT_ID() alone would repeat an old one).
	 */
	sql_lit(q, " FROM tenants WHERE id = ");
	sql_i64(q, a->tenant_id);
	sql_lit(q, " AND migrating = 0;"
	           " SELECT IF(ROW_COUNT() = 1, LAST_INSERT_ID(), 0);"
	           " INSERT INTO budget_counters (scope, scope_id, win, period, reserved_micros,"
	           " reserved_tokens, requests, lim_micros, lim_tokens, lim_requests, last_admit,"
	           " updated_at) VALUES ");
	/* Rows in key order (adm_key_cmp): locked in the same order by everyone. */
	for (size_t i = 0; i < a->n; i++) {
		size_t j = i;

		while (j > 0 && adm_counter_cmp(&a->c[order[j - 1]], &a->c[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t k = 0; k < a->n; k++) {
		const struct adm_counter *c = &a->c[order[k]];
		const int64_t v[] = {a->micros,
		                     a->tokens,
		                     1,
		                     c->hard ? c->max_micros : 0,
		                     c->hard ? c->max_tokens : 0,
		                     c->max_requests,
		                     marker};

		sql_comma(q, k == 0);
		sql_lit(q, "(");
		adm_key_sql(q, c->scope, c->scope_id, c->window, c->period);
		adm_nums(q, v, ARRAY_SIZE(v));
		sql_lit(q, ", UTC_TIMESTAMP(6))");
	}
	/* What processes hold as leases (sql/016) counts as reserved. */
	sql_lit(q, " ON DUPLICATE KEY UPDATE"
	           " last_admit = IF((VALUES(lim_micros) = 0 OR spent_micros + reserved_micros"
	           " + leased_micros + VALUES(reserved_micros) <= VALUES(lim_micros))"
	           " AND (VALUES(lim_tokens) = 0 OR spent_tokens + reserved_tokens + leased_tokens"
	           " + VALUES(reserved_tokens) <= VALUES(lim_tokens))"
	           " AND (VALUES(lim_requests) = 0 OR requests + leased_requests + 1"
	           " <= VALUES(lim_requests)),"
	           " VALUES(last_admit), last_admit),"
	           " reserved_micros = IF(last_admit = VALUES(last_admit),"
	           " reserved_micros + VALUES(reserved_micros), reserved_micros),"
	           " reserved_tokens = IF(last_admit = VALUES(last_admit),"
	           " reserved_tokens + VALUES(reserved_tokens), reserved_tokens),"
	           " requests = IF(last_admit = VALUES(last_admit), requests + 1, requests),"
	           " lim_micros = VALUES(lim_micros), lim_tokens = VALUES(lim_tokens),"
	           " lim_requests = VALUES(lim_requests), updated_at = VALUES(updated_at);");
	sql_lit(q, " SELECT spent_micros, reserved_micros, spent_tokens, reserved_tokens,"
	           " requests, last_admit = ");
	sql_i64(q, marker);
	sql_lit(q, ", scope, scope_id, win, period, leased_micros,"
	           " leased_tokens, leased_requests FROM budget_counters WHERE ");
	sql_row_keys(q, a);
}

static int admit_reserve_once(struct store *st, struct adm_request *a, int64_t *reservation_id,
                              int *refused);

static void found_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	(void)set;
	(void)row;
	(void)len;
	(void)n;
	*(int *)ctx = 1;
}

/*
 * A COMMIT whose answer was lost with its connection (the node died, a
 * fail-over) may have committed. 1 when reservation id is there, looked up
 * on a new connection (on Galera the new writer, reading causally: a write
 * set the old writer had replicated is seen); 0 when it is not or cannot be
 * asked. Without this, a committed reservation of a call answered 503 would
 * be billed by the reaper at its worst case.
 */
static int reserve_committed(struct store *st, int64_t id)
{
	struct sql q;
	int rc, found = 0;

	sql_init(&q, st);
	sql_lit(&q, "SELECT 1 FROM reservations WHERE id = ");
	sql_i64(&q, id);
	rc = sql_run(st, &q, found_row, &found, __func__);
	sql_free(&q);
	if (rc != ST_OK)
		return 0;
	if (found)
		log_warn("store: reservation %lld committed although its COMMIT was not answered",
		         (long long)id);
	return found;
}

int store_admit_reserve(struct store *st, struct adm_request *a, int64_t *reservation_id,
                        int *refused)
{
	int rc;

	/* A deadlock or lock timeout rolled it back whole: run it again. */
	for (int i = 0;; i++) {
		rc = admit_reserve_once(st, a, reservation_id, refused);
		if (rc != ST_ERR || !db_retry(st, i))
			return rc;
	}
}

static int admit_reserve_once(struct store *st, struct adm_request *a, int64_t *reservation_id,
                              int *refused)
{
	struct reserve_read rr = {a, 0, 0};
	struct sql q;
	char counters[1024], owner[64];
	int64_t marker;
	int rc;

	*refused = -1;
	*reservation_id = 0;
	if (a->n == 0 || a->n > ADM_MAX_COUNTERS ||
	    adm_counters_text(a, counters, sizeof(counters)) < 0) {
		log_error("store: store_admit_reserve: bad counter list");
		return ST_ERR;
	}
	if (st->db == NULL) {
		char err[256];

		if (db_connect(st, err, sizeof(err)) < 0) {
			log_error("store: store_admit_reserve: %s", err);
			return ST_ERR;
		}
	}
	util_random_bytes(&marker, sizeof(marker));
	marker = (marker & INT64_MAX) | 1;
	owner_name(owner, sizeof(owner));
	for (size_t i = 0; i < a->n; i++)
		a->c[i].admitted = 0;
	sql_init(&q, st);
	reserve_sql(&q, a, marker, counters, owner);
	/* Safe to retry if the connection was found dead: nothing ran yet. */
	rc = sql_run(st, &q, reserve_row, &rr, __func__);
	sql_free(&q);
	if (rc != ST_OK)
		return ST_ERR;
	st->in_tx = 1;
	if (rr.admitted_rows == (int)a->n && rr.reservation_id > 0) {
		rc = db_query(st, "COMMIT", 6, NULL, NULL, __func__);
		st->in_tx = 0;
		/* a conflict was rolled back; a lost answer is looked up */
		if (rc != ST_OK && (db_conflicted(st) || !reserve_committed(st, rr.reservation_id)))
			return ST_ERR;
		*reservation_id = rr.reservation_id;
		return ST_OK;
	}
	rc = db_query(st, "ROLLBACK", 8, NULL, NULL, __func__);
	st->in_tx = 0;
	if (rc != ST_OK)
		return ST_ERR;
	if (rr.admitted_rows == (int)a->n)
		return ST_CONFLICT; /* the tenant is being moved (see reserve_sql) */
	for (size_t i = 0; i < a->n; i++)
		if (!a->c[i].admitted) {
			*refused = (int)i;
			return ST_OK;
		}
	return ST_ERR;
}

/* ------------------------------------------------------------------ settle */

struct settle_read {
	int closed;
};

static void settle_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct settle_read *sr = ctx;

	(void)set;
	(void)len;
	if (n >= 1 && row[0])
		sr->closed = strcmp(row[0], "1") == 0;
}

/* How a settle batch starts and what it adds to the rollups. */
enum settle_mode {
	SM_IN_TX,  /* the caller began and wrote the row; rollups when with_usage */
	SM_SUMMARY /* begin; the control summary only if this settle closed the reservation */
};

/*
 * When reservation id is still open, move its amounts on the counters to
 * spent at actual and close it as state; add e to the rollups (with_usage);
 * COMMIT. *closed says whether the reservation was still open (the
 * statement that closes it counts it).
 */
static int settle_sql_run(struct store *st, int64_t id, const char *state,
                          const struct adm_request *a, int64_t actual_micros, int64_t actual_tokens,
                          const struct execution *e, int with_usage, enum settle_mode mode,
                          int *closed)
{
	struct settle_read sr = {0};
	struct sql q;
	int rc;

	sql_init(&q, st);
	if (mode != SM_IN_TX)
		sql_lit(&q, "START TRANSACTION; ");
	/*
	 * Close the reservation first (the order admission locks in: reservation,
	 * then counters); ROW_COUNT() says whether it was still open, and only
	 * then do its amounts move on the counters: single-table updates by
	 * primary key, cheaper for the server than a join.
	 */
	sql_lit(&q, "UPDATE reservations SET state = ");
	sql_str(&q, state);
	sql_lit(&q, ", settled_at = UTC_TIMESTAMP(6) WHERE id = ");
	sql_i64(&q, id);
	sql_lit(&q, " AND state = 'open'; SET @ah_open = ROW_COUNT();"
	            " UPDATE budget_counters SET reserved_micros = GREATEST(reserved_micros - ");
	sql_i64(&q, a->micros);
	sql_lit(&q, ", 0), spent_micros = spent_micros + IF(win = 'inflight', 0, ");
	sql_i64(&q, actual_micros);
	sql_lit(&q, "), reserved_tokens = GREATEST(reserved_tokens - ");
	sql_i64(&q, a->tokens);
	sql_lit(&q, ", 0), spent_tokens = spent_tokens + IF(win = 'inflight', 0, ");
	sql_i64(&q, actual_tokens);
	sql_lit(&q, "), requests = IF(win = 'inflight', GREATEST(requests - 1, 0), requests),"
	            " updated_at = UTC_TIMESTAMP(6) WHERE @ah_open = 1 AND (");
	sql_row_keys(&q, a);
	sql_lit(&q, "); SELECT @ah_open;");
	if (with_usage)
		store_rollup_sql(&q, e, mode == SM_SUMMARY);
	sql_lit(&q, " COMMIT");
	if (!sql_ok(&q)) {
		sql_free(&q);
		if (mode == SM_IN_TX)
			db_rollback(st);
		return ST_ERR;
	}
	rc = sql_run(st, &q, settle_row, &sr, __func__);
	sql_free(&q);
	st->in_tx = 0;
	*closed = sr.closed;
	return rc == ST_OK || rc == ST_CONFLICT ? rc : ST_ERR;
}

int store_admit_settle(struct store *st, int64_t reservation_id, const struct adm_request *a,
                       const struct execution *e)
{
	struct ledger_rec rec, *one[1] = {&rec};
	int rc;

	if (a->n > ADM_MAX_COUNTERS)
		return ST_ERR;
	memset(&rec, 0, sizeof(rec));
	rec.e = *e;
	rec.created_us = util_wall_us();
	rec.reservation_id = reservation_id;
	if (store_data_conn(st, e->tenant_id) != st) {
		rec.dedicated = 1;
		rec.data_epoch = st->ctx_epoch;
	}
	for (size_t i = 0; reservation_id && i < a->n; i++) {
		struct ledger_counter *c = &rec.c[rec.n++];

		c->scope = (unsigned char)a->c[i].scope;
		c->window = (unsigned char)a->c[i].window;
		c->mode = LM_RESERVED;
		c->scope_id = a->c[i].scope_id;
		util_strlcpy(c->period, a->c[i].period, sizeof(c->period));
		c->wc_micros = a->micros;
		c->wc_tokens = a->tokens;
	}
	rc = store_ledger_apply(st, one, 1, 0);
	if (rc == ST_CONFLICT)
		rc = store_ledger_apply(st, one, 1, 1);
	if (rec.state == LR_DROPPED)
		return ST_CONFLICT;
	return rec.state == LR_DONE ? ST_OK : ST_ERR;
}

/* ------------------------------------------------------------------ reap */

struct reaped {
	int64_t id;
	struct adm_request a;
	char counters[1024], exec_id[40], kind[8], model[128], provider[32], agent_name[65],
	    request_id[33];
};

/* Settle one overdue reservation at its full amount and record it. */
/* What the reaper needs of an execution found in a tenant's database. */
struct found_exec {
	struct execution e;
	char metadata[4096];
	int found;
};

static int found_cb(void *ctx, const struct execution *e)
{
	struct found_exec *f = ctx;

	f->e = *e;
	f->e.input = f->e.output = f->e.error_message = NULL;
	f->e.metadata = NULL;
	if (e->metadata && util_strlcpy(f->metadata, e->metadata, sizeof(f->metadata)) == 0)
		f->e.metadata = f->metadata;
	f->found = 1;
	return 1;
}

/*
 * An overdue reservation of a dedicated tenant. Its process may have
 * recorded the call in the tenant's database and died before settling the
 * counters: then the counters are settled at the actual cost of that row.
 * Otherwise the worst-case row is written there first (data first, as in
 * settle) and the counters settled at the worst case. Either way the
 * control summary gets the row only if this closed the reservation.
 */
static int reap_dedicated(struct store *st, struct store *d, struct reaped *rp,
                          struct execution *worst)
{
	struct found_exec f;
	int closed = 0, rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&f, 0, sizeof(f));
		rc = store_execution_get(st, rp->a.tenant_id, rp->exec_id, found_cb, &f);
		if (rc == ST_OK && f.found) {
			rc = settle_sql_run(st, rp->id, "settled", &rp->a, f.e.cost_micros,
			                    f.e.prompt_tokens + f.e.completion_tokens, &f.e, 1,
			                    SM_SUMMARY, &closed);
			if (rc == ST_OK && closed)
				log_warn("store: reservation %lld of tenant %lld: its process "
				         "ended after "
				         "recording execution %s; settled at its actual cost",
				         (long long)rp->id, (long long)rp->a.tenant_id,
				         rp->exec_id);
			return rc != ST_OK ? rc : closed ? 1 : 0;
		}
		if (rc != ST_NOTFOUND)
			return ST_ERR;
		rc = store_execution_batch(d, worst);
		if (rc == ST_CONFLICT)
			continue; /* its process recorded it just now: settle at actual */
		if (rc != ST_OK)
			return ST_ERR;
		rc = settle_sql_run(st, rp->id, "expired", &rp->a, rp->a.micros, rp->a.tokens,
		                    worst, 1, SM_SUMMARY, &closed);
		if (rc == ST_OK && closed)
			log_warn(
			    "store: reaped reservation %lld of tenant %lld (execution %s), billed "
			    "%lld micro-USD",
			    (long long)rp->id, (long long)rp->a.tenant_id, rp->exec_id,
			    (long long)rp->a.micros);
		return rc != ST_OK ? rc : closed ? 1 : 0;
	}
	return ST_ERR;
}

static int reap_one(struct store *st, struct reaped *rp)
{
	struct execution e;
	struct store *d;
	int closed, rc, with_usage = 1;

	if (counters_parse(rp->counters, &rp->a) < 0 || rp->a.n == 0) {
		log_error("store: reap: reservation %lld has an unreadable counter list",
		          (long long)rp->id);
		return ST_ERR;
	}
	memset(&e, 0, sizeof(e));
	util_strlcpy(e.id, rp->exec_id, sizeof(e.id));
	e.tenant_id = rp->a.tenant_id;
	e.key_id = rp->a.key_id;
	util_strlcpy(e.kind, rp->kind, sizeof(e.kind));
	e.agent_id = rp->a.agent_id;
	util_strlcpy(e.agent_name, rp->agent_name, sizeof(e.agent_name));
	util_strlcpy(e.model, rp->model, sizeof(e.model));
	util_strlcpy(e.provider, rp->provider, sizeof(e.provider));
	util_strlcpy(e.cred_source, "none", sizeof(e.cred_source));
	util_strlcpy(e.status, "failed", sizeof(e.status));
	util_strlcpy(e.reason_code, "reservation_expired", sizeof(e.reason_code));
	e.http_status = 0;
	e.stream = rp->a.stream;
	e.prompt_tokens = rp->a.prompt_tokens;
	e.completion_tokens = rp->a.max_tokens;
	e.cost_micros = rp->a.micros;
	util_strlcpy(e.request_id, rp->request_id, sizeof(e.request_id));
	e.error_message = "the process serving this call ended before it settled; billed at the "
	                  "reserved worst case";

	d = store_data_conn(st, e.tenant_id);
	if (d == NULL)
		return ST_ERR; /* tried again on the next round */
	if (d != st)
		return reap_dedicated(st, d, rp, &e);
	if (db_begin(st, __func__) != ST_OK)
		return ST_ERR;
	rc = store_execution_write(st, &e, 0);
	if (rc == ST_CONFLICT) {
		/*
		 * The call was recorded (and rolled up) without this reservation: its
		 * admission's reply was lost. Close it, billing the worst case to the
		 * budget only: conservative, never under-billed.
		 */
		db_rollback(st);
		if (db_begin(st, __func__) != ST_OK)
			return ST_ERR;
		with_usage = 0;
	} else if (rc != ST_OK) {
		db_rollback(st);
		return rc;
	}
	rc = settle_sql_run(st, rp->id, "expired", &rp->a, rp->a.micros, rp->a.tokens, &e,
	                    with_usage, SM_IN_TX, &closed);
	if (rc != ST_OK)
		return rc;
	if (closed)
		log_warn(
		    "store: reaped reservation %lld of tenant %lld (execution %s), billed %lld "
		    "micro-USD",
		    (long long)rp->id, (long long)rp->a.tenant_id, rp->exec_id,
		    (long long)rp->a.micros);
	return closed ? 1 : 0;
}

int store_admit_reap(struct store *st, int max, int *reaped)
{
	struct reaped *list, cur;
	struct db_out o;
	int64_t lim = max > 0 ? max : 100;
	MYSQL_BIND in[1];
	size_t n = 0;
	int rc;

	*reaped = 0;
	list = calloc((size_t)lim, sizeof(*list));
	if (list == NULL)
		return ST_ERR;
	db_in_i64(&in[0], &lim);
	memset(&cur, 0, sizeof(cur));
	db_out_init(&o);
	db_out_i64(&o, &cur.id);
	db_out_i64(&o, &cur.a.tenant_id);
	db_out_i64(&o, &cur.a.key_id);
	db_out_i64(&o, &cur.a.micros);
	db_out_i64(&o, &cur.a.tokens);
	db_out_i64(&o, &cur.a.prompt_tokens);
	db_out_i64(&o, &cur.a.max_tokens);
	db_out_str(&o, cur.counters, sizeof(cur.counters));
	db_out_str(&o, cur.exec_id, sizeof(cur.exec_id));
	db_out_str(&o, cur.kind, sizeof(cur.kind));
	db_out_str(&o, cur.model, sizeof(cur.model));
	db_out_str(&o, cur.provider, sizeof(cur.provider));
	db_out_i64(&o, &cur.a.agent_id);
	db_out_str(&o, cur.agent_name, sizeof(cur.agent_name));
	db_out_str(&o, cur.request_id, sizeof(cur.request_id));
	db_out_int(&o, &cur.a.stream);
	rc = db_exec(st, Q_REAP_LIST, sql_reap_list, in, &o, __func__);
	if (rc != ST_OK)
		goto out;
	while (n < (size_t)lim && (rc = db_fetch(st, Q_REAP_LIST, &o, __func__)) == 1)
		list[n++] = cur;
	db_end(st, Q_REAP_LIST, &o);
	if (rc < 0)
		goto out;
	rc = ST_OK;
	for (size_t i = 0; i < n; i++) {
		int one = reap_one(st, &list[i]);

		if (one > 0)
			(*reaped)++;
		else if (one < 0)
			rc = ST_ERR;
	}
out:
	free(list);
	return rc;
}

/* ------------------------------------------------------------------ reads */

int store_admit_counter_get(struct store *st, struct adm_counter *c)
{
	MYSQL_BIND in[4];
	struct key_bind kb;
	struct db_out o;
	int rc;

	c->spent_micros = c->reserved_micros = c->spent_tokens = c->reserved_tokens = 0;
	c->requests = c->leased_micros = c->leased_tokens = c->leased_requests = 0;
	bind_key(in, c, &kb);
	db_out_init(&o);
	db_out_i64(&o, &c->spent_micros);
	db_out_i64(&o, &c->reserved_micros);
	db_out_i64(&o, &c->spent_tokens);
	db_out_i64(&o, &c->reserved_tokens);
	db_out_i64(&o, &c->requests);
	db_out_i64(&o, &c->leased_micros);
	db_out_i64(&o, &c->leased_tokens);
	db_out_i64(&o, &c->leased_requests);
	rc = db_exec(st, Q_COUNTER_GET, sql_counter_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_COUNTER_GET, &o, __func__);
	db_end(st, Q_COUNTER_GET, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_admit_inflight(struct store *st, int64_t tenant_id, int64_t *inflight, int64_t *leased,
                         int64_t *open_reservations)
{
	MYSQL_BIND in[1];
	struct db_out o;
	int rc;

	*inflight = *leased = *open_reservations = 0;
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, inflight);
	db_out_i64(&o, leased);
	if (db_exec(st, Q_INFLIGHT_GET, sql_inflight_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_INFLIGHT_GET, &o, __func__);
	db_end(st, Q_INFLIGHT_GET, &o);
	if (rc < 0)
		return ST_ERR;
	db_out_init(&o);
	db_out_i64(&o, open_reservations);
	if (db_exec(st, Q_OPEN_COUNT, sql_open_count, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_OPEN_COUNT, &o, __func__);
	db_end(st, Q_OPEN_COUNT, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
