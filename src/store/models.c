/*
 * models.c: the model catalogue (store_model_*).
 *
 * DESIGN
 * One row per public model name: which provider instance serves it, the
 * upstream model id, list prices (integer micro-USD per 1M tokens) and
 * limits. A disabled model is invisible to both lookups, so switching a model
 * off takes effect for every process on its next request. Plans will restrict
 * the list per tenant later; the tenant id is already part of the call.
 */
#include "config.h"

#include <string.h>

#include "common/epochs.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/store.h"

/* The price in effect now: the newest model_prices row not in the future, else the list price. */
#define MODEL_PRICE_NOW(col)                                                                       \
	"COALESCE((SELECT mp." col " FROM model_prices mp WHERE mp.model = models.name"            \
	" AND mp.effective_at <= UTC_TIMESTAMP(6) ORDER BY mp.effective_at DESC LIMIT 1),"         \
	" models." col ")"

#define MODEL_PRICE_IN MODEL_PRICE_NOW("input_price_micros")
#define MODEL_PRICE_OUT MODEL_PRICE_NOW("output_price_micros")
#define MODEL_COLS                                                                                 \
	"SELECT name, provider, upstream_model, kind, " MODEL_PRICE_IN ", " MODEL_PRICE_OUT        \
	", context_window, max_output, CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED), enabled" \
	" FROM models"

static const char sql_get[] = MODEL_COLS " WHERE name = ? AND enabled <> 0";
static const char sql_list[] = MODEL_COLS " WHERE enabled <> 0 ORDER BY name";
static const char sql_admin_get[] = MODEL_COLS " WHERE name = ?";
static const char sql_admin_list[] = MODEL_COLS " ORDER BY name";
static const char sql_insert[] =
    "INSERT INTO models (name, provider, upstream_model, kind, input_price_micros,"
    " output_price_micros, context_window, max_output, enabled, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))";
static const char sql_update[] =
    "UPDATE models SET provider = ?, upstream_model = ?, kind = ?, context_window = ?,"
    " max_output = ?, enabled = ? WHERE name = ?";
/* a price from now (effective 0) or from a given time, never before now */
static const char sql_price_insert[] =
    "INSERT INTO model_prices (model, effective_at, input_price_micros, output_price_micros,"
    " created_at, created_by)"
    " SELECT name, IF(? = 0, UTC_TIMESTAMP(6), FROM_UNIXTIME(?)), ?, ?, UTC_TIMESTAMP(6), ?"
    " FROM models WHERE name = ? AND (? = 0 OR FROM_UNIXTIME(?) >= UTC_TIMESTAMP())";
static const char sql_prices[] =
    "SELECT CAST(FLOOR(UNIX_TIMESTAMP(effective_at)) AS SIGNED), input_price_micros,"
    " output_price_micros, CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED), created_by"
    " FROM model_prices WHERE model = ? ORDER BY effective_at";

/* Describe the MODEL_COLS columns into o, landing in m. */
static void model_bind(struct db_out *o, struct model *m)
{
	db_out_init(o);
	db_out_str(o, m->name, sizeof(m->name));
	db_out_str(o, m->provider, sizeof(m->provider));
	db_out_str(o, m->upstream, sizeof(m->upstream));
	db_out_str(o, m->kind, sizeof(m->kind));
	db_out_i64(o, &m->input_price);
	db_out_i64(o, &m->output_price);
	db_out_int(o, &m->context_window);
	db_out_int(o, &m->max_output);
	db_out_i64(o, &m->created_at);
	db_out_int(o, &m->enabled);
}

/* The enabled model called name: ST_OK, ST_NOTFOUND (unknown or disabled), ST_ERR. */
/*
 * Every call looks its model up; the catalogue changes rarely. Each thread
 * keeps the models it resolved (found or not) for MODEL_CACHE_MS, so a
 * price or catalogue edit reaches every process within that bound.
 */
#define MODEL_CACHE_SLOTS 32

static __thread struct {
	struct model m;
	int found;      /* 0: the name is not (or no longer) in the catalogue */
	int64_t at_us;  /* monotonic time of the lookup, 0 = empty */
	uint64_t epoch; /* EPOCH_MODELS then: a logged catalogue change drops the entry */
} model_cache[MODEL_CACHE_SLOTS];

static unsigned model_slot(const char *name)
{
	unsigned h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % MODEL_CACHE_SLOTS;
}

int store_model_get(struct store *st, const char *name, struct model *out)
{
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int64_t now = util_now_us();
	uint64_t epoch = epochs_global(EPOCH_MODELS);
	unsigned slot;
	int rc;

	memset(out, 0, sizeof(*out));
	if (name == NULL)
		return ST_NOTFOUND;
	slot = model_slot(name);
	if (model_cache[slot].at_us && now - model_cache[slot].at_us < MODEL_CACHE_MS * 1000 &&
	    model_cache[slot].epoch == epoch && strcmp(model_cache[slot].m.name, name) == 0) {
		*out = model_cache[slot].m;
		return model_cache[slot].found ? ST_OK : ST_NOTFOUND;
	}
	db_in_str(&in[0], name, &l);
	model_bind(&o, out);
	rc = db_exec(st, Q_MODEL_GET, sql_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_MODEL_GET, &o, __func__);
	db_end(st, Q_MODEL_GET, &o);
	if (rc < 0)
		return ST_ERR;
	if (strlen(name) < sizeof(out->name)) {
		model_cache[slot].m = *out;
		util_strlcpy(model_cache[slot].m.name, name, sizeof(model_cache[slot].m.name));
		model_cache[slot].found = rc == 1;
		model_cache[slot].at_us = now;
		model_cache[slot].epoch = epoch;
	}
	if (rc != 1)
		memset(out, 0, sizeof(*out));
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* Call cb for every enabled model by name; nonzero from cb stops. ST_OK or ST_ERR. */
int store_model_list(struct store *st, int64_t tenant_id, model_cb cb, void *ctx)
{
	struct db_out o;
	struct model m;
	int rc;

	(void)tenant_id;
	memset(&m, 0, sizeof(m));
	model_bind(&o, &m);
	rc = db_exec(st, Q_MODEL_LIST, sql_list, NULL, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_MODEL_LIST, &o, __func__)) == 1)
		if (cb(ctx, &m))
			break;
	db_end(st, Q_MODEL_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------------ the operator's catalogue */

int store_model_admin_get(struct store *st, const char *name, struct model *out)
{
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	memset(out, 0, sizeof(*out));
	if (name == NULL)
		return ST_NOTFOUND;
	db_in_str(&in[0], name, &l);
	model_bind(&o, out);
	if (db_exec(st, Q_MODEL_ADMIN_GET, sql_admin_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_MODEL_ADMIN_GET, &o, __func__);
	db_end(st, Q_MODEL_ADMIN_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_model_admin_list(struct store *st, model_cb cb, void *ctx)
{
	struct db_out o;
	struct model m;
	int rc;

	memset(&m, 0, sizeof(m));
	model_bind(&o, &m);
	if (db_exec(st, Q_MODEL_ADMIN_LIST, sql_admin_list, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_MODEL_ADMIN_LIST, &o, __func__)) == 1)
		if (cb(ctx, &m))
			break;
	db_end(st, Q_MODEL_ADMIN_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Add a price row of model name effective at `effective` (unix seconds; 0 =
 * now). The statement itself refuses a time in the past (no row: ST_NOTFOUND,
 * like an unknown model; the caller tells them apart).
 */
static int model_price_insert(struct store *st, const char *name, int64_t effective, int64_t input,
                              int64_t output, const char *by)
{
	MYSQL_BIND in[9];
	unsigned long l[2];
	uint64_t n = 0;
	int rc;

	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &effective);
	db_in_i64(&in[1], &effective);
	db_in_i64(&in[2], &input);
	db_in_i64(&in[3], &output);
	db_in_strn(&in[4], by, db_utf8_cut(by, 100), &l[0]);
	db_in_str(&in[5], name, &l[1]);
	db_in_i64(&in[6], &effective);
	db_in_i64(&in[7], &effective);
	rc = store_change_exec(st, Q_MODEL_PRICE_INSERT, sql_price_insert, in, __func__,
	                       CHANGE_MODELS, 0, &n);
	if (rc != ST_OK)
		return rc == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

/* Bind the writable catalogue fields of m (provider ... enabled) into in (6 slots). */
static void model_in_fields(MYSQL_BIND *in, unsigned long *l, struct model *m)
{
	db_in_str(&in[0], m->provider, &l[0]);
	db_in_str(&in[1], m->upstream, &l[1]);
	db_in_str(&in[2], m->kind, &l[2]);
	db_in_int(&in[3], &m->context_window);
	db_in_int(&in[4], &m->max_output);
	db_in_int(&in[5], &m->enabled);
}

int store_model_insert(struct store *st, const struct model *m, const char *by)
{
	struct model c = *m;
	MYSQL_BIND in[10];
	unsigned long l[4];
	int rc;

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], c.name, &l[0]);
	db_in_str(&in[1], c.provider, &l[1]);
	db_in_str(&in[2], c.upstream, &l[2]);
	db_in_str(&in[3], c.kind, &l[3]);
	db_in_i64(&in[4], &c.input_price);
	db_in_i64(&in[5], &c.output_price);
	db_in_int(&in[6], &c.context_window);
	db_in_int(&in[7], &c.max_output);
	db_in_int(&in[8], &c.enabled);
	if (db_begin(st, __func__) != ST_OK)
		return ST_ERR;
	rc =
	    store_change_exec(st, Q_MODEL_INSERT, sql_insert, in, __func__, CHANGE_MODELS, 0, NULL);
	if (rc == ST_OK)
		rc = model_price_insert(st, c.name, 0, c.input_price, c.output_price, by);
	if (rc != ST_OK) {
		db_rollback(st);
		return rc == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	}
	return db_commit(st, __func__) == ST_OK ? ST_OK : ST_ERR;
}

int store_model_update(struct store *st, const struct model *m)
{
	struct model c = *m;
	MYSQL_BIND in[7];
	unsigned long l[4];
	uint64_t n = 0;
	int rc;

	memset(in, 0, sizeof(in));
	model_in_fields(in, l, &c);
	db_in_str(&in[6], c.name, &l[3]);
	rc = store_change_exec(st, Q_MODEL_UPDATE, sql_update, in, __func__, CHANGE_MODELS, 0, &n);
	if (rc != ST_OK)
		return ST_ERR;
	return n == 0 ? ST_NOTFOUND : ST_OK;
}

int store_model_price_add(struct store *st, const char *name, int64_t effective, int64_t input,
                          int64_t output, const char *by)
{
	if (name == NULL || input < 0 || output < 0 || effective < 0) {
		log_error("store: %s: missing model or negative price or time", __func__);
		return ST_ERR;
	}
	return model_price_insert(st, name, effective, input, output, by ? by : "");
}

int store_model_prices(struct store *st, const char *name, model_price_cb cb, void *ctx)
{
	struct model_price p;
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l);
	db_out_init(&o);
	db_out_i64(&o, &p.effective_at);
	db_out_i64(&o, &p.input_price);
	db_out_i64(&o, &p.output_price);
	db_out_i64(&o, &p.created_at);
	db_out_str(&o, p.created_by, sizeof(p.created_by));
	if (db_exec(st, Q_MODEL_PRICES, sql_prices, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_MODEL_PRICES, &o, __func__)) == 1)
		if (cb(ctx, &p))
			break;
	db_end(st, Q_MODEL_PRICES, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
