/*
 * ledger.c: many finished calls in one transaction (store_ledger_apply),
 * and the rollup statements of any number of executions
 * (store_rollups_sql, the one place that writes usage_daily, usage_5min
 * and usage_attr_daily). See store/ledger.h.
 *
 * DESIGN
 * Statements here are text built per batch, not per call, with the typed
 * builder of store/sql.h (numbers formatted, strings quoted, all appended
 * to one buffer). A batch costs
 * one round trip (two when some of its calls hold reservations, whose
 * state must be read under a lock first), whatever its size.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <mysqld_error.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/ledger.h"
#include "store/records.h"
#include "store/sql.h"

/* ------------------------------------------------------------------ rollups */

/* Upper bounds (ms) of usage_5min's latency columns; the last column is "more". */
static const int lat_bounds[] = {100, 250, 500, 1000, 2500, 5000, 10000};
#define LAT_N 8
#define ATTR_MAX 64 /* bytes kept of metadata "user" and "department" */

/* One rollup row being summed: its key and its figures. */
struct roll {
	int64_t tenant_id, key_id, agent_id;
	char day[11];   /* "" with created 0: the database's day */
	int64_t bucket; /* usage_5min; -1: the database's bucket */
	const char *model;
	char user[ATTR_MAX + 1], dept[ATTR_MAX + 1];
	int64_t requests, errors, succeeded, refused, failed;
	int64_t prompt, completion, cost, latency_sum;
	int64_t lat[LAT_N];
	int64_t cache_hits; /* calls answered from the response cache (usage_daily, _attr_daily) */
};

/* The string field name of meta, cut to ATTR_MAX bytes at a character boundary; "" if absent. */
static void attr_of(json_t *meta, const char *name, char out[ATTR_MAX + 1])
{
	const char *v = json_string_value(json_object_get(meta, name));
	size_t n = v ? strlen(v) : 0;

	if (n > ATTR_MAX) {
		n = ATTR_MAX;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	if (n)
		memcpy(out, v, n);
	out[n] = '\0';
}

/* The rollup figures of one execution at created_us (0: now by the database's clock). */
static void roll_of(const struct execution *e, int64_t created_us, struct roll *r)
{
	json_t *meta = NULL;

	memset(r, 0, sizeof(*r));
	r->tenant_id = e->tenant_id;
	r->key_id = e->key_id;
	r->agent_id = e->agent_id;
	r->model = e->model;
	r->bucket = -1;
	if (created_us > 0) {
		time_t t = (time_t)(created_us / 1000000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(r->day, sizeof(r->day), "%Y-%m-%d", &tm);
		r->bucket = (int64_t)t / 300;
	}
	if (e->metadata && e->metadata[0])
		meta = json_loads(e->metadata, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(meta)) {
		attr_of(meta, "user", r->user);
		attr_of(meta, "department", r->dept);
	}
	json_decref(meta);
	/* the call's end user (X-Actor-Id, OpenAI "user") is the showback user when named */
	if (e->end_user[0])
		util_strlcpy(r->user, e->end_user, sizeof(r->user));
	r->requests = 1;
	r->cache_hits = e->cache_hit != 0;
	r->errors = strcmp(e->status, "succeeded") != 0;
	r->prompt = e->prompt_tokens;
	r->completion = e->completion_tokens;
	r->cost = e->cost_micros;
	if (strcmp(e->status, "succeeded") == 0) {
		size_t i = 0;

		r->succeeded = 1;
		r->latency_sum = e->latency_ms;
		while (i < ARRAY_SIZE(lat_bounds) && e->latency_ms > lat_bounds[i])
			i++;
		r->lat[i] = 1;
	} else if (strcmp(e->status, "refused") == 0) {
		r->refused = 1;
	} else {
		r->failed = 1;
	}
}

static void roll_add(struct roll *to, const struct roll *r)
{
	to->requests += r->requests;
	to->errors += r->errors;
	to->succeeded += r->succeeded;
	to->refused += r->refused;
	to->failed += r->failed;
	to->prompt += r->prompt;
	to->completion += r->completion;
	to->cost += r->cost;
	to->latency_sum += r->latency_sum;
	to->cache_hits += r->cache_hits;
	for (int i = 0; i < LAT_N; i++)
		to->lat[i] += r->lat[i];
}

enum roll_table { RT_DAILY, RT_5MIN, RT_ATTR };

/* Do a and b fall in the same row of table t? */
static int roll_same(enum roll_table t, const struct roll *a, const struct roll *b)
{
	if (a->tenant_id != b->tenant_id)
		return 0;
	switch (t) {
	case RT_DAILY:
		return strcmp(a->day, b->day) == 0 && a->key_id == b->key_id &&
		       a->agent_id == b->agent_id && strcmp(a->model, b->model) == 0;
	case RT_5MIN:
		return a->bucket == b->bucket;
	default:
		return strcmp(a->day, b->day) == 0 && a->agent_id == b->agent_id &&
		       strcmp(a->model, b->model) == 0 && strcmp(a->user, b->user) == 0 &&
		       strcmp(a->dept, b->dept) == 0;
	}
}

/* Each table's primary key order (rows are written, and locked, in it). */
static int roll_cmp_head(const struct roll *a, const struct roll *b)
{
	if (a->tenant_id != b->tenant_id)
		return a->tenant_id < b->tenant_id ? -1 : 1;
	return strcmp(a->day, b->day);
}

static int roll_cmp_daily(const void *pa, const void *pb)
{
	const struct roll *a = pa, *b = pb;
	int c = roll_cmp_head(a, b);

	if (c)
		return c;
	if (a->key_id != b->key_id)
		return a->key_id < b->key_id ? -1 : 1;
	if (a->agent_id != b->agent_id)
		return a->agent_id < b->agent_id ? -1 : 1;
	return strcmp(a->model, b->model);
}

static int roll_cmp_5min(const void *pa, const void *pb)
{
	const struct roll *a = pa, *b = pb;

	if (a->tenant_id != b->tenant_id)
		return a->tenant_id < b->tenant_id ? -1 : 1;
	return a->bucket < b->bucket ? -1 : a->bucket > b->bucket;
}

static int roll_cmp_attr(const void *pa, const void *pb)
{
	const struct roll *a = pa, *b = pb;
	int c = roll_cmp_head(a, b);

	if (c)
		return c;
	if (a->agent_id != b->agent_id)
		return a->agent_id < b->agent_id ? -1 : 1;
	if ((c = strcmp(a->model, b->model)) != 0 || (c = strcmp(a->user, b->user)) != 0)
		return c;
	return strcmp(a->dept, b->dept);
}

/* "(" or "SELECT " before a row's values, and the matching end. */
static void roll_open(struct sql *q, int if_open, size_t i)
{
	if (if_open)
		sql_lit(q, " SELECT ");
	else if (i)
		sql_lit(q, ", (");
	else
		sql_lit(q, " VALUES (");
}

static void roll_close(struct sql *q, int if_open)
{
	if (if_open)
		sql_lit(q, " FROM DUAL WHERE @ah_open = 1");
	else
		sql_lit(q, ")");
}

static void roll_day(struct sql *q, const struct roll *r)
{
	if (r->day[0])
		sql_str(q, r->day);
	else
		sql_lit(q, "DATE(UTC_TIMESTAMP())");
}

/* ", v" for each of the n values */
static void roll_nums(struct sql *q, const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sql_lit(q, ", ");
		sql_i64(q, v[i]);
	}
}

static void roll_rows(struct sql *q, enum roll_table t, const struct roll *rows, size_t n,
                      int if_open)
{
	switch (t) {
	case RT_DAILY:
		sql_lit(q, " INSERT INTO usage_daily (tenant_id, day, key_id, agent_id, model,"
		           " requests, errors, prompt_tokens, completion_tokens, cost_micros,"
		           " cache_hits)");
		break;
	case RT_5MIN:
		sql_lit(q, " INSERT INTO usage_5min (tenant_id, bucket, requests, succeeded,"
		           " refused, failed, cost_micros, tokens, latency_ms_sum, lat_le_100,"
		           " lat_le_250, lat_le_500, lat_le_1000, lat_le_2500, lat_le_5000,"
		           " lat_le_10000, lat_gt_10000)");
		break;
	default:
		sql_lit(q, " INSERT INTO usage_attr_daily (tenant_id, day, agent_id, model,"
		           " user, department, requests, prompt_tokens, completion_tokens,"
		           " cost_micros, cache_hits)");
		break;
	}
	for (size_t i = 0; i < n; i++) {
		const struct roll *r = &rows[i];

		roll_open(q, if_open, i);
		sql_i64(q, r->tenant_id);
		sql_lit(q, ", ");
		switch (t) {
		case RT_DAILY: {
			const int64_t ids[] = {r->key_id, r->agent_id};
			const int64_t sums[] = {r->requests,   r->errors, r->prompt,
			                        r->completion, r->cost,   r->cache_hits};

			roll_day(q, r);
			roll_nums(q, ids, ARRAY_SIZE(ids));
			sql_lit(q, ", ");
			sql_str(q, r->model);
			roll_nums(q, sums, ARRAY_SIZE(sums));
			break;
		}
		case RT_5MIN: {
			const int64_t sums[] = {r->requests,   r->succeeded,
			                        r->refused,    r->failed,
			                        r->cost,       r->prompt + r->completion,
			                        r->latency_sum};

			if (r->bucket >= 0)
				sql_i64(q, r->bucket);
			else
				sql_lit(q, "UNIX_TIMESTAMP() DIV 300");
			roll_nums(q, sums, ARRAY_SIZE(sums));
			roll_nums(q, r->lat, LAT_N);
			break;
		}
		default: {
			const int64_t sums[] = {r->requests, r->prompt, r->completion, r->cost,
			                        r->cache_hits};

			roll_day(q, r);
			roll_nums(q, &r->agent_id, 1);
			sql_lit(q, ", ");
			sql_str(q, r->model);
			sql_lit(q, ", ");
			sql_str(q, r->user);
			sql_lit(q, ", ");
			sql_str(q, r->dept);
			roll_nums(q, sums, ARRAY_SIZE(sums));
			break;
		}
		}
		roll_close(q, if_open);
	}
	switch (t) {
	case RT_DAILY:
		sql_lit(q, " ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests),"
		           " errors = errors + VALUES(errors),"
		           " prompt_tokens = prompt_tokens + VALUES(prompt_tokens),"
		           " completion_tokens = completion_tokens + VALUES(completion_tokens),"
		           " cost_micros = cost_micros + VALUES(cost_micros),"
		           " cache_hits = cache_hits + VALUES(cache_hits);");
		break;
	case RT_5MIN:
		sql_lit(q, " ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests),"
		           " succeeded = succeeded + VALUES(succeeded),"
		           " refused = refused + VALUES(refused),"
		           " failed = failed + VALUES(failed),"
		           " cost_micros = cost_micros + VALUES(cost_micros),"
		           " tokens = tokens + VALUES(tokens),"
		           " latency_ms_sum = latency_ms_sum + VALUES(latency_ms_sum),"
		           " lat_le_100 = lat_le_100 + VALUES(lat_le_100),"
		           " lat_le_250 = lat_le_250 + VALUES(lat_le_250),"
		           " lat_le_500 = lat_le_500 + VALUES(lat_le_500),"
		           " lat_le_1000 = lat_le_1000 + VALUES(lat_le_1000),"
		           " lat_le_2500 = lat_le_2500 + VALUES(lat_le_2500),"
		           " lat_le_5000 = lat_le_5000 + VALUES(lat_le_5000),"
		           " lat_le_10000 = lat_le_10000 + VALUES(lat_le_10000),"
		           " lat_gt_10000 = lat_gt_10000 + VALUES(lat_gt_10000);");
		break;
	default:
		sql_lit(q, " ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests),"
		           " prompt_tokens = prompt_tokens + VALUES(prompt_tokens),"
		           " completion_tokens = completion_tokens + VALUES(completion_tokens),"
		           " cost_micros = cost_micros + VALUES(cost_micros),"
		           " cache_hits = cache_hits + VALUES(cache_hits);");
		break;
	}
}

int store_rollups_sql(struct sql *q, const struct execution *const *es, const int64_t *created_us,
                      size_t n, int if_open)
{
	struct roll *all, *rows;

	if (n == 0)
		return 0;
	if (if_open && n != 1) {
		q->failed = 1;
		return -1;
	}
	all = calloc(n, sizeof(*all));
	rows = calloc(n, sizeof(*rows));
	if (all == NULL || rows == NULL) {
		free(all);
		free(rows);
		q->failed = 1;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		roll_of(es[i], created_us[i], &all[i]);
	for (int t = RT_DAILY; t <= RT_ATTR; t++) {
		size_t m = 0;

		for (size_t i = 0; i < n; i++) {
			size_t j = 0;

			while (j < m && !roll_same((enum roll_table)t, &rows[j], &all[i]))
				j++;
			if (j == m)
				rows[m++] = all[i];
			else
				roll_add(&rows[j], &all[i]);
		}
		/* Key order: two batches never lock the same rows in opposite orders. */
		qsort(rows, m, sizeof(*rows),
		      t == RT_DAILY  ? roll_cmp_daily
		      : t == RT_5MIN ? roll_cmp_5min
		                     : roll_cmp_attr);
		roll_rows(q, (enum roll_table)t, rows, m, if_open);
	}
	free(all);
	free(rows);
	return sql_ok(q) ? 0 : -1;
}

/* ------------------------------------------------------------------ counters */

/* What a batch moves on one counter row. */
struct counter_delta {
	const struct ledger_counter *key;
	int64_t spent_micros, spent_tokens;
	int64_t requests; /* minute: requests counted; inflight: slots given back */
	int64_t rel_reserved_micros, rel_reserved_tokens; /* reservations released */
	int64_t rel_leased_micros, rel_leased_tokens, rel_leased_requests;
	/*
	 * The parts of spent and requests that came off the owner's lease: they
	 * count only while the owner lives. An owner reaped as silent had its
	 * leases charged whole (store_owner_close), which covers them; a replay
	 * of its journal afterwards writes its rows but adds nothing again.
	 */
	int64_t own_spent_micros, own_spent_tokens, own_requests;
};

static int counter_same(const struct ledger_counter *a, const struct ledger_counter *b)
{
	return a->scope == b->scope && a->scope_id == b->scope_id && a->window == b->window &&
	       strcmp(a->period, b->period) == 0;
}

/*
 * Append what rec's call does to each of its counters to d[0..*n) (room for
 * cap), one entry per counter; deltas_merge sums entries of one counter.
 * -1 when full.
 */
static int counter_deltas(const struct ledger_rec *rec, struct counter_delta *d, size_t *n,
                          size_t cap)
{
	int64_t actual_m = rec->e.cost_micros;
	int64_t actual_t = rec->e.prompt_tokens + rec->e.completion_tokens;
	/* A refused call was never admitted: it holds and spends nothing (its record has no
	 * counters); a call that ran counts whatever its outcome. */
	for (size_t i = 0; i < rec->n; i++) {
		const struct ledger_counter *c = &rec->c[i];
		struct counter_delta *x;
		int inflight = c->window == ADM_INFLIGHT;

		if (*n == cap)
			return -1;
		x = &d[(*n)++];
		memset(x, 0, sizeof(*x));
		x->key = c;
		switch (c->mode) {
		case LM_RESERVED:
			x->rel_reserved_micros = c->wc_micros;
			x->rel_reserved_tokens = c->wc_tokens;
			if (inflight)
				x->requests = 1; /* the slot is given back */
			break;
		case LM_LEASED:
			/* what the call spent leaves the lease; the rest of its worst case stays */
			if (!inflight && (c->held & LEASE_HELD_MICROS))
				x->rel_leased_micros = x->own_spent_micros = actual_m;
			if (!inflight && (c->held & LEASE_HELD_TOKENS))
				x->rel_leased_tokens = x->own_spent_tokens = actual_t;
			if (c->window == ADM_MINUTE) {
				if (c->held & LEASE_HELD_REQUESTS)
					x->rel_leased_requests = x->own_requests = 1;
				else
					x->requests = 1;
			}
			break;
		default:
			if (c->window == ADM_MINUTE)
				x->requests = 1;
			break;
		}
		if (!inflight) {
			x->spent_micros = actual_m - x->own_spent_micros;
			x->spent_tokens = actual_t - x->own_spent_tokens;
		}
	}
	return 0;
}

/*
 * What the batch's calls spent off their owner's lease rows: the same
 * amounts that leave the counters' leased (one owner per batch), in key
 * order, one statement. A row that is gone (its owner reaped) comes back
 * empty and holds nothing.
 */
static void lease_rows_sql(struct sql *q, const struct counter_delta *d, size_t n, int64_t owner_id)
{
	int first = 1;

	for (size_t i = 0; i < n; i++) {
		const struct counter_delta *x = &d[i];
		const struct ledger_counter *k = x->key;

		if (!x->rel_leased_micros && !x->rel_leased_tokens && !x->rel_leased_requests)
			continue;
		if (first)
			sql_lit(q, " INSERT INTO leases (owner_id, scope, scope_id, win, period,"
			           " d_micros, d_tokens, d_requests, updated_at) VALUES ");
		sql_comma(q, first);
		sql_lit(q, "(");
		sql_i64(q, owner_id);
		sql_lit(q, ", ");
		adm_key_sql(q, k->scope, k->scope_id, k->window, k->period);
		sql_lit(q, ", ");
		sql_i64(q, x->rel_leased_micros);
		sql_lit(q, ", ");
		sql_i64(q, x->rel_leased_tokens);
		sql_lit(q, ", ");
		sql_i64(q, x->rel_leased_requests);
		sql_lit(q, ", UTC_TIMESTAMP(6))");
		first = 0;
	}
	if (!first)
		sql_lit(q, " ON DUPLICATE KEY UPDATE"
		           " granted_micros = GREATEST(granted_micros - VALUES(d_micros), 0),"
		           " granted_tokens = GREATEST(granted_tokens - VALUES(d_tokens), 0),"
		           " granted_requests = GREATEST(granted_requests - VALUES(d_requests), 0),"
		           " updated_at = VALUES(updated_at);");
}

/*
 * One statement moving every counter of the batch. Released amounts are
 * subtracted on an existing row; a row that is missing (only possible for
 * counters a call did not hold) is created with what was spent. Were a
 * held row missing, the release would land as a reservation: never a
 * counter that admits more than it should.
 */
static int delta_cmp(const void *pa, const void *pb)
{
	const struct ledger_counter *a = ((const struct counter_delta *)pa)->key;
	const struct ledger_counter *b = ((const struct counter_delta *)pb)->key;

	return adm_key_cmp(a->scope, a->scope_id, a->window, a->period, b->scope, b->scope_id,
	                   b->window, b->period);
}

/* Sort d[0..*n) in key order (as every writer locks counters) and sum entries of one counter. */
static void deltas_merge(struct counter_delta *d, size_t *n)
{
	size_t m = 0;

	if (*n == 0)
		return;
	qsort(d, *n, sizeof(*d), delta_cmp);
	for (size_t i = 1; i < *n; i++) {
		struct counter_delta *x = &d[m];
		const struct counter_delta *y = &d[i];

		if (!counter_same(x->key, y->key)) {
			d[++m] = *y;
			continue;
		}
		x->spent_micros += y->spent_micros;
		x->spent_tokens += y->spent_tokens;
		x->requests += y->requests;
		x->rel_reserved_micros += y->rel_reserved_micros;
		x->rel_reserved_tokens += y->rel_reserved_tokens;
		x->rel_leased_micros += y->rel_leased_micros;
		x->rel_leased_tokens += y->rel_leased_tokens;
		x->rel_leased_requests += y->rel_leased_requests;
		x->own_spent_micros += y->own_spent_micros;
		x->own_spent_tokens += y->own_spent_tokens;
		x->own_requests += y->own_requests;
	}
	*n = m + 1;
	/* A counter the batch does not move (an in-flight row of calls on leases) is left alone. */
	m = 0;
	for (size_t i = 0; i < *n; i++) {
		const struct counter_delta *x = &d[i];

		if (x->spent_micros || x->spent_tokens || x->requests || x->rel_reserved_micros ||
		    x->rel_reserved_tokens || x->rel_leased_micros || x->rel_leased_tokens ||
		    x->rel_leased_requests || x->own_spent_micros || x->own_spent_tokens ||
		    x->own_requests)
			d[m++] = *x;
	}
	*n = m;
}

/* ", v + own * @own" (a part counted only while the lease owner lives), or ", v". */
static void own_sum(struct sql *q, int64_t v, int64_t own)
{
	sql_lit(q, ", ");
	sql_i64(q, v);
	if (own == 0)
		return;
	sql_lit(q, " + ");
	sql_i64(q, own);
	sql_lit(q, " * @own");
}

static void own_only(struct sql *q, int64_t own)
{
	if (own == 0) {
		sql_lit(q, ", 0");
		return;
	}
	sql_lit(q, ", ");
	sql_i64(q, own);
	sql_lit(q, " * @own");
}

static void counters_sql(struct sql *q, struct counter_delta *d, size_t n)
{
	if (n == 0)
		return;
	sql_lit(q, " INSERT INTO budget_counters (scope, scope_id, win, period, spent_micros,"
	           " spent_tokens, requests, reserved_micros, reserved_tokens, leased_micros,"
	           " leased_tokens, leased_requests, updated_at) VALUES ");
	for (size_t i = 0; i < n; i++) {
		const struct counter_delta *x = &d[i];

		sql_comma(q, i == 0);
		sql_lit(q, "(");
		adm_key_sql(q, x->key->scope, x->key->scope_id, x->key->window, x->key->period);
		own_sum(q, x->spent_micros, x->own_spent_micros);
		own_sum(q, x->spent_tokens, x->own_spent_tokens);
		own_sum(q, x->requests, x->own_requests);
		own_sum(q, x->rel_reserved_micros, 0);
		own_sum(q, x->rel_reserved_tokens, 0);
		own_only(q, x->rel_leased_micros);
		own_only(q, x->rel_leased_tokens);
		own_only(q, x->rel_leased_requests);
		sql_lit(q, ", UTC_TIMESTAMP(6))");
	}
	sql_lit(q, " ON DUPLICATE KEY UPDATE spent_micros = spent_micros + VALUES(spent_micros),"
	           " spent_tokens = spent_tokens + VALUES(spent_tokens),"
	           " requests = IF(win = 'inflight', GREATEST(requests - VALUES(requests), 0),"
	           " requests + VALUES(requests)),"
	           " reserved_micros = GREATEST(reserved_micros - VALUES(reserved_micros), 0),"
	           " reserved_tokens = GREATEST(reserved_tokens - VALUES(reserved_tokens), 0),"
	           " leased_micros = GREATEST(leased_micros - VALUES(leased_micros), 0),"
	           " leased_tokens = GREATEST(leased_tokens - VALUES(leased_tokens), 0),"
	           " leased_requests = GREATEST(leased_requests - VALUES(leased_requests), 0),"
	           " updated_at = VALUES(updated_at);");
}

/* ------------------------------------------------------------------ reading ids back */

/* Ids a query returned: reservations still open, or executions already written. */
struct id_set {
	int64_t *num; /* reservations */
	size_t n_num;
	char (*text)[48]; /* "tenant:exec_id" of rows that exist */
	size_t n_text;
	size_t cap;
};

static void id_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct id_set *s = ctx;

	(void)set;
	(void)len;
	if (n == 1 && row[0] && s->n_num < s->cap)
		util_parse_i64(row[0], 1, INT64_MAX, &s->num[s->n_num++]);
	else if (n == 2 && row[0] && row[1] && s->n_text < s->cap)
		snprintf(s->text[s->n_text++], sizeof(s->text[0]), "%s:%s", row[0], row[1]);
}

static int id_has_num(const struct id_set *s, int64_t v)
{
	for (size_t i = 0; i < s->n_num; i++)
		if (s->num[i] == v)
			return 1;
	return 0;
}

static int id_has_exec(const struct id_set *s, int64_t tenant_id, const char *id)
{
	char k[48];

	snprintf(k, sizeof(k), "%lld:%s", (long long)tenant_id, id);
	for (size_t i = 0; i < s->n_text; i++)
		if (strcmp(s->text[i], k) == 0)
			return 1;
	return 0;
}

/*
 * "(tenant_id = T AND id = 'id') OR ..." (exec_id with marks) of the
 * records selected by pick ("FALSE" when none), for a WHERE clause.
 */
static void exec_keys_sql(struct sql *q, struct ledger_rec *const *recs, size_t n, int marks,
                          int (*pick)(const struct ledger_rec *))
{
	int first = 1;

	/* An OR of equalities: a row-constructor IN list is a full index scan in MariaDB 10.11. */
	for (size_t i = 0; i < n; i++) {
		if (!pick(recs[i]))
			continue;
		if (!first)
			sql_lit(q, " OR ");
		sql_lit(q, "(tenant_id = ");
		sql_i64(q, recs[i]->e.tenant_id);
		if (marks)
			sql_lit(q, " AND exec_id = ");
		else
			sql_lit(q, " AND id = ");
		sql_str(q, recs[i]->e.id);
		sql_lit(q, ")");
		first = 0;
	}
	if (first)
		sql_lit(q, "FALSE");
}

/* ------------------------------------------------------------------ where each tenant's data is */

struct placement_rows {
	struct ledger_rec *const *recs;
	size_t n;
	struct id_set *open; /* reservations still open (the second result set) */
};

static void placement_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct placement_rows *p = ctx;
	int64_t id, ded, epoch;

	if (set != 0) {
		id_row(p->open, set, row, len, n);
		return;
	}
	if (n != 3 || !row[0] || !row[1] || !row[2] ||
	    util_parse_i64(row[0], 1, INT64_MAX, &id) < 0 ||
	    util_parse_i64(row[1], 0, 1, &ded) < 0 ||
	    util_parse_i64(row[2], 0, INT32_MAX, &epoch) < 0)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (p->recs[i]->e.tenant_id == id) {
			p->recs[i]->dedicated = (int)ded;
			p->recs[i]->data_epoch = (int)epoch;
		}
}

/*
 * Round trip 1: START TRANSACTION, read where each tenant's data is now,
 * locking those tenants' rows in share mode until the batch commits, and
 * lock the reservations of the records that hold one, reading which are
 * still open. A placement switch (an UPDATE of the row) waits for the
 * batch, and a batch begun after it routes by the new placement: no row
 * of a finished call is written to a side a move has already swept, and
 * none is written twice. Records whose reservation the reaper settled
 * first are marked LR_DROPPED.
 *
 * The reservations are read by primary key (FORCE INDEX): with few open
 * reservations the optimiser preferred k_reservations_open (state = 'open'),
 * whose locking read locked every open reservation and the gap after the
 * last one, where every new reservation is inserted: until the batch
 * committed, no call could be admitted one by one nor promoted anywhere
 * (bench/peers.sh: 1-7 s stalls; the INSERT ... SELECT waiting on that gap
 * held the table's AUTO-INC lock, so every other reservation waited too).
 */
static int apply_begin(struct store *st, struct ledger_rec *const *recs, size_t n)
{
	struct id_set open = {0};
	struct placement_rows p = {recs, n, &open};
	struct sql q;
	int rc = ST_ERR, any = 0;

	open.cap = n;
	open.num = calloc(n, sizeof(*open.num));
	if (open.num == NULL)
		return ST_ERR;
	sql_init(&q, st);
	sql_lit(&q, "START TRANSACTION; SELECT id, isolation_mode = 'dedicated', data_epoch"
	            " FROM tenants WHERE id IN (0");
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == LR_PENDING) {
			sql_lit(&q, ", ");
			sql_i64(&q, recs[i]->e.tenant_id);
		}
	sql_lit(&q, ") LOCK IN SHARE MODE;");
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == LR_PENDING && recs[i]->reservation_id) {
			if (any)
				sql_lit(&q, ", ");
			else
				sql_lit(&q, " SELECT id FROM reservations FORCE INDEX (PRIMARY)"
				            " WHERE state = 'open' AND id IN (");
			sql_i64(&q, recs[i]->reservation_id);
			any = 1;
		}
	if (any)
		sql_lit(&q, ") FOR UPDATE;");
	rc = sql_run(st, &q, placement_row, &p, __func__);
	if (rc != ST_OK)
		goto out;
	st->in_tx = 1;
	for (size_t i = 0; i < n; i++) {
		struct ledger_rec *r = recs[i];

		if (r->state != LR_PENDING || !r->reservation_id ||
		    id_has_num(&open, r->reservation_id))
			continue;
		r->state = LR_DROPPED;
		log_warn("ledger: execution %s: its reservation %lld was settled by the reaper "
		         "first (the call outlived its reservation); the reaper's record stands",
		         r->e.id, (long long)r->reservation_id);
	}
out:
	free(open.num);
	sql_free(&q);
	return rc;
}

/* ------------------------------------------------------------------ a dedicated tenant */

static int pick_all(const struct ledger_rec *r)
{
	(void)r;
	return 1;
}

/*
 * The rows and rollups of one dedicated tenant's pending records, in its own
 * database. Records whose row is there already (recover) are skipped.
 */
static int apply_tenant_data(struct store *st, struct ledger_rec **recs, size_t n, int recover)
{
	const struct execution **es = NULL;
	int64_t *created = NULL;
	struct sql q;
	struct store *d;
	size_t m = 0;
	int rc = ST_ERR;

	store_route_set(st, recs[0]->e.tenant_id, 1, recs[0]->data_epoch);
	d = store_data_conn(st, recs[0]->e.tenant_id);
	if (d == NULL)
		return ST_ERR;
	sql_init(&q, d);
	if (recover) {
		struct id_set have = {0};

		have.cap = n;
		have.text = calloc(n, sizeof(*have.text));
		if (have.text == NULL)
			return ST_ERR;
		sql_lit(&q, "SELECT tenant_id, id FROM executions WHERE ");
		exec_keys_sql(&q, recs, n, 0, pick_all);
		if (sql_run(d, &q, id_row, &have, __func__) != ST_OK) {
			free(have.text);
			sql_free(&q);
			return ST_ERR;
		}
		for (size_t i = 0; i < n; i++)
			if (id_has_exec(&have, recs[i]->e.tenant_id, recs[i]->e.id))
				recs[i]->data_done = 1;
		free(have.text);
		sql_reset(&q);
	}
	es = calloc(n, sizeof(*es));
	created = calloc(n, sizeof(*created));
	if (es == NULL || created == NULL)
		goto out;
	sql_lit(&q, "START TRANSACTION; ");
	store_execution_head(&q);
	for (size_t i = 0; i < n; i++) {
		if (recs[i]->data_done)
			continue;
		sql_comma(&q, m == 0);
		if (store_execution_values(&q, &recs[i]->e, recs[i]->created_us) < 0)
			goto out;
		es[m] = &recs[i]->e;
		created[m++] = recs[i]->created_us;
	}
	if (m == 0) {
		rc = ST_OK;
		goto out;
	}
	sql_lit(&q, ";");
	store_rollups_sql(&q, es, created, m, 0);
	sql_lit(&q, " COMMIT");
	rc = sql_run(d, &q, NULL, NULL, __func__);
	d->in_tx = 0;
	if (rc == ST_OK)
		for (size_t i = 0; i < n; i++)
			recs[i]->data_done = 1;
out:
	free(es);
	free(created);
	sql_free(&q);
	return rc;
}

/* ------------------------------------------------------------------ the batch */

static int pick_shared_pending(const struct ledger_rec *r)
{
	return r->state == LR_PENDING && !r->dedicated;
}

static int pick_dedicated_pending(const struct ledger_rec *r)
{
	return r->state == LR_PENDING && r->dedicated;
}

/*
 * Recover mode, round trip 2 (inside the transaction apply_begin opened):
 * which records are written already, a shared tenant's by its row, a
 * dedicated tenant's by its mark. Those are marked LR_DONE.
 */
static int apply_recover_lookup(struct store *st, struct ledger_rec *const *recs, size_t n)
{
	struct id_set have = {0};
	struct sql q;
	int rc;

	have.cap = n;
	have.text = calloc(n, sizeof(*have.text));
	if (have.text == NULL)
		return ST_ERR;
	sql_init(&q, st);
	sql_lit(&q, "SELECT tenant_id, id FROM executions WHERE ");
	exec_keys_sql(&q, recs, n, 0, pick_shared_pending);
	sql_lit(&q, "; SELECT tenant_id, exec_id FROM ledger_marks WHERE ");
	exec_keys_sql(&q, recs, n, 1, pick_dedicated_pending);
	rc = sql_run(st, &q, id_row, &have, __func__);
	if (rc == ST_OK)
		for (size_t i = 0; i < n; i++)
			if (recs[i]->state == LR_PENDING &&
			    id_has_exec(&have, recs[i]->e.tenant_id, recs[i]->e.id))
				recs[i]->state = LR_DONE;
	free(have.text);
	sql_free(&q);
	return rc;
}

static int pick_done_shared(const struct ledger_rec *r)
{
	return r->state == LR_DONE && !r->dedicated;
}

static int pick_done_dedicated(const struct ledger_rec *r)
{
	return r->state == LR_DONE && r->dedicated;
}

/*
 * Galera: after the batch's COMMIT answered OK, look its calls up (a shared
 * tenant's by its row, a dedicated tenant's by its mark). A brute-force abort
 * just before COMMIT loses the whole transaction (db.c guards the batch
 * against losing part of it), so a call not found was not written at all:
 * it goes back to LR_PENDING and *lost is set. ST_OK, or ST_ERR when the
 * check itself failed: then every call of the batch goes back to LR_PENDING,
 * to be written in recover mode, which finds what did commit by its id.
 */
static int apply_verify(struct store *st, struct ledger_rec *const *recs, size_t n, int *lost)
{
	struct id_set have = {0};
	struct sql q;
	int rc = ST_ERR;

	*lost = 0;
	have.cap = n;
	have.text = calloc(n, sizeof(*have.text));
	if (have.text == NULL)
		return ST_ERR;
	sql_init(&q, st);
	sql_lit(&q, "SELECT tenant_id, id FROM executions WHERE ");
	exec_keys_sql(&q, recs, n, 0, pick_done_shared);
	sql_lit(&q, "; SELECT tenant_id, exec_id FROM ledger_marks WHERE ");
	exec_keys_sql(&q, recs, n, 1, pick_done_dedicated);
	if (!sql_ok(&q))
		goto fail;
	rc = sql_run(st, &q, id_row, &have, __func__);
	for (size_t i = 0; rc != ST_OK && i < n; i++)
		if (recs[i]->state == LR_DONE)
			recs[i]->state = LR_PENDING;
	if (rc != ST_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == LR_DONE &&
		    !id_has_exec(&have, recs[i]->e.tenant_id, recs[i]->e.id)) {
			log_warn("ledger: execution %s: its batch answered COMMIT but is not there "
			         "(aborted by the cluster); writing it again",
			         recs[i]->e.id);
			recs[i]->state = LR_PENDING;
			*lost = 1;
		}
out:
	free(have.text);
	sql_free(&q);
	return rc;
fail:
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == LR_DONE)
			recs[i]->state = LR_PENDING;
	goto out;
}

static int ledger_apply_once(struct store *st, struct ledger_rec *const *recs, size_t n,
                             int recover);

/*
 * The batch as one transaction, run again from its start when the cluster
 * rolled it back (db_retry: conflicts, a node leaving the primary component)
 * and, on Galera, checked after COMMIT (apply_verify). A rerun is in recover
 * mode: whatever did commit is found by its execution id and not written twice.
 */
int store_ledger_apply(struct store *st, struct ledger_rec *const *recs, size_t n, int recover)
{
	int rc, lost;

	for (int i = 0;; i++) {
		rc = ledger_apply_once(st, recs, n, recover);
		if (rc == ST_OK && db_cluster()) {
			if (apply_verify(st, recs, n, &lost) != ST_OK)
				return ST_ERR; /* pending again: the next try is in recover mode */
			if (lost) {
				rc = ST_ERR;
				st->last_errno = ER_LOCK_DEADLOCK; /* what the abort was */
			}
		}
		if (rc == ST_OK || rc == ST_CONFLICT || !db_retry(st, i))
			return rc;
		recover = 1;
	}
}

static int ledger_apply_once(struct store *st, struct ledger_rec *const *recs, size_t n,
                             int recover)
{
	struct ledger_rec **ded = NULL;
	const struct execution **es = NULL;
	int64_t *created = NULL;
	struct counter_delta *deltas = NULL;
	struct sql q;
	size_t m = 0, ndelta = 0;
	int64_t owner = 0;
	int rc = ST_ERR, first;

	if (n == 0)
		return ST_OK;
	if (st->db == NULL) {
		char err[256];

		if (db_connect(st, err, sizeof(err)) < 0) {
			log_error("store: store_ledger_apply: %s", err);
			return ST_ERR;
		}
	}
	sql_init(&q, st);
	ded = calloc(n, sizeof(*ded));
	es = calloc(n, sizeof(*es));
	created = calloc(n, sizeof(*created));
	deltas = calloc(n * ADM_MAX_COUNTERS, sizeof(*deltas));
	if (ded == NULL || es == NULL || created == NULL || deltas == NULL)
		goto out;

	/* One owner's leases per batch (a process re-registered after being reaped has two). */
	for (size_t i = 0; i < n; i++) {
		if (recs[i]->state != LR_PENDING || recs[i]->owner_id == 0)
			continue;
		if (owner == 0)
			owner = recs[i]->owner_id;
		else if (recs[i]->owner_id != owner)
			recs[i]->state = -1; /* the next batch */
	}
	if (apply_begin(st, recs, n) != ST_OK ||
	    (recover && apply_recover_lookup(st, recs, n) != ST_OK))
		goto out;
	/* Data first: each dedicated tenant's rows in its own database. */
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		if (recs[i]->state != LR_PENDING || !recs[i]->dedicated || recs[i]->data_done)
			continue;
		for (size_t j = i; j < n; j++)
			if (recs[j]->state == LR_PENDING && recs[j]->dedicated &&
			    !recs[j]->data_done && recs[j]->e.tenant_id == recs[i]->e.tenant_id)
				ded[k++] = recs[j];
		if (apply_tenant_data(st, ded, k, recover) == ST_CONFLICT)
			apply_tenant_data(st, ded, k, 1); /* some rows are there: only the others */
		for (size_t j = 0; j < k; j++)
			if (!ded[j]->data_done)
				ded[j]->state =
				    -1; /* not this time: its tenant's database failed */
	}
	/* The control transaction's writes; the leases' owner locked first (a reaped owner moves
	 * no lease). */
	if (owner) {
		sql_lit(&q, " SELECT COUNT(*) INTO @own FROM owners WHERE id = ");
		sql_i64(&q, owner);
		sql_lit(&q, " LOCK IN SHARE MODE;");
	} else {
		sql_lit(&q, " SET @own = 1;");
	}
	sql_lit(&q, " UPDATE reservations FORCE INDEX (PRIMARY) SET state = 'settled',"
	            " settled_at = UTC_TIMESTAMP(6) WHERE state = 'open' AND id IN (0");
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == LR_PENDING && recs[i]->reservation_id) {
			sql_lit(&q, ", ");
			sql_i64(&q, recs[i]->reservation_id);
		}
	sql_lit(&q, ");");
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == LR_PENDING &&
		    counter_deltas(recs[i], deltas, &ndelta, n * ADM_MAX_COUNTERS) < 0)
			goto out;
	deltas_merge(deltas, &ndelta);
	counters_sql(&q, deltas, ndelta);
	if (owner)
		lease_rows_sql(&q, deltas, ndelta, owner);
	first = 1;
	for (size_t i = 0; i < n; i++) {
		if (recs[i]->state != LR_PENDING)
			continue;
		es[m] = &recs[i]->e;
		created[m++] = recs[i]->created_us;
		if (recs[i]->dedicated)
			continue;
		if (first) {
			sql_lit(&q, " ");
			store_execution_head(&q);
		}
		sql_comma(&q, first);
		if (store_execution_values(&q, &recs[i]->e, recs[i]->created_us) < 0)
			goto out;
		first = 0;
	}
	if (!first)
		sql_lit(&q, ";");
	/* Shared tenants' rollups, and dedicated tenants' summary: the same rows here. */
	if (m)
		store_rollups_sql(&q, es, created, m, 0);
	first = 1;
	for (size_t i = 0; i < n; i++) {
		if (recs[i]->state != LR_PENDING || !recs[i]->dedicated)
			continue;
		if (first)
			sql_lit(
			    &q,
			    " INSERT INTO ledger_marks (tenant_id, exec_id, created_at) VALUES ");
		sql_comma(&q, first);
		sql_lit(&q, "(");
		sql_i64(&q, recs[i]->e.tenant_id);
		sql_lit(&q, ", ");
		sql_str(&q, recs[i]->e.id);
		sql_lit(&q, ", UTC_TIMESTAMP(6))");
		first = 0;
	}
	if (!first)
		sql_lit(&q, ";");
	sql_lit(&q, " COMMIT");
	rc = sql_run(st, &q, NULL, NULL, __func__);
	st->in_tx = 0;
	if (rc == ST_OK)
		for (size_t i = 0; i < n; i++)
			if (recs[i]->state == LR_PENDING)
				recs[i]->state = LR_DONE;
out:
	if (st->in_tx)
		db_rollback(st);
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == -1)
			recs[i]->state = LR_PENDING;
	free(ded);
	free(es);
	free(created);
	free(deltas);
	sql_free(&q);
	for (size_t i = 0; i < n; i++)
		if (recs[i]->state == LR_PENDING)
			return rc == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	return ST_OK;
}
