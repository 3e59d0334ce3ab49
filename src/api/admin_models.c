/*
 * admin_models.c: the model catalogue and its prices on the operator API.
 *   GET  /admin/api/v1/models                 every model, enabled or not
 *   POST /admin/api/v1/models                 {"name","provider",...,prices}: create (201)
 *   GET  /admin/api/v1/models/{name}          one model with its price history
 *   POST /admin/api/v1/models/{name}          {"provider"?,"upstream_model"?,"kind"?,...}
 *   POST /admin/api/v1/models/{name}/prices   {"input_price_micros","output_price_micros",
 *                                              "effective_at"?}: a new price (201)
 *
 * DESIGN
 * Prices have effective dates (sql/026 model_prices): a price change is a
 * new row taking effect at a time not in the past, so the history is only
 * ever appended to. Admission prices each call with the row in effect when
 * it is admitted (store_model_get) and each execution stores its cost, so a
 * change never alters what past calls cost: usage, invoices and showback
 * read those stored costs. Every write is a CHANGE_MODELS change: each
 * process's model cache drops it at once, a future-dated price is picked up
 * within MODEL_CACHE_MS of its time. One audit row per call (model.create,
 * model.update, model.price), the operator as the actor, no tenant.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "host/http.h"
#include "store/store.h"

#define PRICE_MAX 1000000000000LL /* micro-USD per 1M tokens: $1M, a typo guard */
#define CONTEXT_MAX 100000000
#define EFFECTIVE_MAX_AHEAD (10LL * 365 * 86400)

/* The operator's JSON form of a catalogue entry (new reference; NULL: memory). */
static json_t *model_json(const struct model *m)
{
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:b, s:I}", "object", "model", "name",
	    m->name, "provider", m->provider, "upstream_model", m->upstream, "kind", m->kind,
	    "input_price_micros", (json_int_t)m->input_price, "output_price_micros",
	    (json_int_t)m->output_price, "context_window", m->context_window, "max_output",
	    m->max_output, "enabled", m->enabled, "created_at", (json_int_t)m->created_at);
}

/* model_price_cb: one price row into the JSON array ctx. */
static int model_price_row(void *ctx, const struct model_price *p)
{
	return json_array_append_new(
	           ctx, json_pack("{s:I, s:I, s:I, s:I, s:s}", "effective_at",
	                          (json_int_t)p->effective_at, "input_price_micros",
	                          (json_int_t)p->input_price, "output_price_micros",
	                          (json_int_t)p->output_price, "created_at",
	                          (json_int_t)p->created_at, "created_by", p->created_by)) != 0;
}

/* Answer status with model name read back, with its price history. */
static void model_reply(struct req *r, int status, const char *name)
{
	json_t *o = NULL, *prices = json_array();
	struct model m;

	if (prices != NULL && store_model_admin_get(r->store, name, &m) == ST_OK &&
	    store_model_prices(r->store, name, model_price_row, prices) == ST_OK)
		o = model_json(&m);
	if (o == NULL || json_object_set(o, "prices", prices) != 0) {
		json_decref(o);
		resp_error(r, R_database_unavailable, "the model cannot be read");
	} else {
		resp_json(r, status, o);
	}
	json_decref(prices);
}

static void model_audit(struct req *r, const char *name, const char *action, json_t *detail)
{
	char target[160], *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;

	snprintf(target, sizeof(target), "model:%s", name);
	api_operator_audit(r, 0, action, target, text);
	free(text);
}

/* The model of the path into *m (enabled or not); -1 after a 404/503. */
static int model_target(struct req *r, const struct route_match *m, struct model *out)
{
	int rc = m->n_params < 1 || !valid_name(VALID_MODEL, m->params[0])
	             ? ST_NOTFOUND
	             : store_model_admin_get(r->store, m->params[0], out);

	if (rc == ST_OK)
		return 0;
	if (rc == ST_NOTFOUND)
		resp_error(r, R_not_found, "no such model");
	else
		resp_error(r, R_database_unavailable, "the model catalogue is unavailable");
	return -1;
}

/*
 * The catalogue fields of body over *m (absent ones keep their value): provider,
 * upstream_model, kind, context_window, max_output, enabled. 0, or -1 after a 400.
 */
static int model_fields(struct req *r, json_t *body, struct model *m)
{
	const char *provider = NULL, *upstream = NULL, *kind = NULL;
	int64_t ctx = 0, maxo = 0;
	int has_ctx = 0, has_max = 0, enabled = m->enabled;

	if (api_str(r, body, "provider", 0, 31, &provider) < 0 ||
	    api_str(r, body, "upstream_model", 0, 127, &upstream) < 0 ||
	    api_str(r, body, "kind", 0, 16, &kind) < 0 ||
	    api_int(r, body, "context_window", 1, CONTEXT_MAX, &has_ctx, &ctx) < 0 ||
	    api_int(r, body, "max_output", 1, CONTEXT_MAX, &has_max, &maxo) < 0 ||
	    api_bool(r, body, "enabled", &enabled) < 0)
		return -1;
	if (provider != NULL && !valid_name(VALID_PROVIDER, provider)) {
		resp_error_param(r, R_invalid_request, "provider", "'provider': %s",
		                 valid_hint(VALID_PROVIDER));
		return -1;
	}
	if (upstream != NULL && !valid_text(upstream, 127, 0)) {
		resp_error_param(
		    r, R_invalid_request, "upstream_model",
		    "'upstream_model': 1-127 bytes of text without control characters");
		return -1;
	}
	if (kind != NULL && strcmp(kind, "chat") != 0 && strcmp(kind, "embedding") != 0) {
		resp_error_param(r, R_invalid_request, "kind", "'kind': chat or embedding");
		return -1;
	}
	if (provider)
		util_strlcpy(m->provider, provider, sizeof(m->provider));
	if (upstream)
		util_strlcpy(m->upstream, upstream, sizeof(m->upstream));
	if (kind)
		util_strlcpy(m->kind, kind, sizeof(m->kind));
	if (has_ctx)
		m->context_window = (int)ctx;
	if (has_max)
		m->max_output = (int)maxo;
	m->enabled = enabled ? 1 : 0;
	if (m->max_output > m->context_window) {
		resp_error_param(r, R_invalid_request, "max_output",
		                 "'max_output' cannot exceed 'context_window'");
		return -1;
	}
	return 0;
}

/* Both prices of body (required) into *in and *out. 0, or -1 after a 400. */
static int model_prices_field(struct req *r, json_t *body, int64_t *in, int64_t *out)
{
	int has_in = 0, has_out = 0;

	if (api_int(r, body, "input_price_micros", 0, PRICE_MAX, &has_in, in) < 0 ||
	    api_int(r, body, "output_price_micros", 0, PRICE_MAX, &has_out, out) < 0)
		return -1;
	if (!has_in || !has_out) {
		resp_error_param(r, R_invalid_request,
		                 has_in ? "output_price_micros" : "input_price_micros",
		                 "'input_price_micros' and 'output_price_micros' are required"
		                 " (micro-USD per 1M tokens)");
		return -1;
	}
	return 0;
}

/* model_cb: one model into the JSON array ctx. */
static int model_collect(void *ctx, const struct model *m)
{
	json_t *o = model_json(m);

	return o == NULL || json_array_append_new(ctx, o) != 0;
}

void api_admin_models_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *data = json_array();

	(void)id;
	(void)m;
	if (data == NULL || store_model_admin_list(r->store, model_collect, data) != ST_OK) {
		json_decref(data);
		resp_error(r, R_database_unavailable, "the model catalogue is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void api_admin_model_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct model mod;

	(void)id;
	if (model_target(r, m, &mod) == 0)
		model_reply(r, 200, mod.name);
}

void api_admin_models_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *detail = NULL;
	const char *name = NULL;
	struct model mod;
	int rc;

	(void)id;
	(void)m;
	if ((body = req_json_object(r)) == NULL)
		return;
	memset(&mod, 0, sizeof(mod));
	mod.enabled = 1;
	util_strlcpy(mod.kind, "chat", sizeof(mod.kind));
	if (api_str(r, body, "name", 1, 127, &name) < 0)
		goto out;
	if (!valid_name(VALID_MODEL, name) || strchr(name, '/') != NULL) {
		resp_error_param(r, R_invalid_request, "name",
		                 "'name': 1-127 of A-Z, a-z, 0-9 and . _ : @ - (no '/': it is a "
		                 "path segment)");
		goto out;
	}
	util_strlcpy(mod.name, name, sizeof(mod.name));
	util_strlcpy(mod.upstream, name, sizeof(mod.upstream));
	if (model_fields(r, body, &mod) < 0 ||
	    model_prices_field(r, body, &mod.input_price, &mod.output_price) < 0)
		goto out;
	if (mod.provider[0] == '\0' || mod.context_window == 0 || mod.max_output == 0) {
		resp_error(r, R_invalid_request,
		           "'provider', 'context_window' and 'max_output' are required");
		goto out;
	}
	rc = store_model_insert(r->store, &mod, r->operator_id);
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict, "a model called '%s' exists", mod.name);
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the model cannot be stored");
		goto out;
	}
	detail = model_json(&mod);
	model_audit(r, mod.name, "model.create", detail);
	model_reply(r, 201, mod.name);
out:
	json_decref(detail);
	json_decref(body);
}

void api_admin_model_update(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *detail = NULL;
	struct model mod;
	int rc;

	(void)id;
	if (model_target(r, m, &mod) < 0)
		return;
	if ((body = req_json_object(r)) == NULL)
		return;
	if (json_object_get(body, "input_price_micros") ||
	    json_object_get(body, "output_price_micros")) {
		resp_error(
		    r, R_invalid_request,
		    "prices change with POST /admin/api/v1/models/{name}/prices (with the time "
		    "they take effect)");
		goto out;
	}
	if (json_object_size(body) == 0) {
		resp_error(r, R_invalid_request, "nothing to change");
		goto out;
	}
	if (model_fields(r, body, &mod) < 0)
		goto out;
	rc = store_model_update(r->store, &mod);
	if (rc != ST_OK) {
		resp_error(r, rc == ST_NOTFOUND ? R_not_found : R_database_unavailable,
		           rc == ST_NOTFOUND ? "no such model" : "the model cannot be stored");
		goto out;
	}
	detail = json_deep_copy(body);
	model_audit(r, mod.name, "model.update", detail);
	model_reply(r, 200, mod.name);
out:
	json_decref(detail);
	json_decref(body);
}

void api_admin_model_price(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *je, *detail = NULL;
	int64_t in = 0, outp = 0, effective = 0, now = util_unix_time();
	struct model mod;
	int rc;

	(void)id;
	if (model_target(r, m, &mod) < 0)
		return;
	if ((body = req_json_object(r)) == NULL)
		return;
	if (model_prices_field(r, body, &in, &outp) < 0)
		goto out;
	je = json_object_get(body, "effective_at");
	if (je != NULL && !json_is_null(je)) {
		if (json_is_integer(je))
			effective = json_integer_value(je);
		else if (!json_is_string(je) ||
		         util_parse_time(json_string_value(je), &effective) < 0)
			effective = -1;
		if (effective <= 0 || effective > now + EFFECTIVE_MAX_AHEAD) {
			resp_error_param(
			    r, R_invalid_request, "effective_at",
			    "'effective_at': unix seconds or an RFC 3339 time, at most "
			    "10 years ahead");
			goto out;
		}
	}
	rc = store_model_price_add(r->store, mod.name, effective, in, outp, r->operator_id);
	if (rc == ST_NOTFOUND) {
		resp_error_param(r, R_invalid_request, "effective_at",
		                 "'effective_at' is in the past: a price change never alters what "
		                 "calls already cost");
		goto out;
	}
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict, "a price of '%s' already takes effect at that time",
		           mod.name);
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the price cannot be stored");
		goto out;
	}
	detail = json_pack("{s:I, s:I, s:I}", "input_price_micros", (json_int_t)in,
	                   "output_price_micros", (json_int_t)outp, "effective_at",
	                   (json_int_t)(effective ? effective : now));
	model_audit(r, mod.name, "model.price", detail);
	model_reply(r, 201, mod.name);
out:
	json_decref(detail);
	json_decref(body);
}
