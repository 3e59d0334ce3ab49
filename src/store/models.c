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

#include "common/util.h"
#include "store/db.h"
#include "store/store.h"

#define MODEL_COLS                                                                                 \
	"SELECT name, provider, upstream_model, kind, input_price_micros, output_price_micros,"    \
	" context_window, max_output, CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED)"           \
	" FROM models"

static const char sql_get[] = MODEL_COLS " WHERE name = ? AND enabled <> 0";
static const char sql_list[] = MODEL_COLS " WHERE enabled <> 0 ORDER BY name";

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
	int found;     /* 0: the name is not (or no longer) in the catalogue */
	int64_t at_us; /* monotonic time of the lookup, 0 = empty */
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
	unsigned slot;
	int rc;

	memset(out, 0, sizeof(*out));
	if (name == NULL)
		return ST_NOTFOUND;
	slot = model_slot(name);
	if (model_cache[slot].at_us && now - model_cache[slot].at_us < MODEL_CACHE_MS * 1000 &&
	    strcmp(model_cache[slot].m.name, name) == 0) {
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
