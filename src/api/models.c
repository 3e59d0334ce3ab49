/*
 * models.c: GET /v1/models and GET /v1/models/{id}, in OpenAI's shapes
 * ({"object":"list","data":[{"id","object":"model","created","owned_by"}]}).
 *
 * DESIGN
 * The list holds only what this caller can call now
 * (exec_model_callable): a model refused by the tenant's or the key's
 * allowlist, served by a provider this host lacks, or needing a credential
 * the tenant has not got is left out, so a client that picks from the list
 * never meets 403 model_not_allowed or 503 provider_not_configured. GET of
 * one model answers 404 model_not_found for anything the list leaves out
 * (as OpenAI does for a model the organisation cannot use). The caller's
 * aliases (routes whose name is not a catalogue model, docs/ROUTING.md) are
 * listed after the models, owned_by "agenthost".
 */
#include "config.h"

#include "api/api.h"
#include "exec/execute.h"
#include "exec/route.h"
#include "host/http.h"
#include "tenancy/identify.h"

/* A catalogue entry in OpenAI's model shape, with our limits and kind. */
static json_t *models_json(const struct model *m)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:i, s:i}", "id", m->name, "object", "model",
	                 "created", (json_int_t)m->created_at, "owned_by", m->provider,
	                 "context_window", m->context_window, "max_output_tokens", m->max_output);
}

struct models_ctx {
	struct req *r;
	const struct ident *id;
	json_t *data;
	int failed; /* the credential store failed */
};

static int models_add(void *ctx, const struct model *m)
{
	struct models_ctx *mc = ctx;
	int rc = exec_model_callable(mc->r, mc->id, m);

	if (rc < 0) {
		mc->failed = 1;
		return 1;
	}
	if (rc == 1)
		json_array_append_new(mc->data, models_json(m));
	return 0;
}

void api_models_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct models_ctx mc = {r, id, json_array(), 0};

	(void)m;
	if (store_model_list(r->store, id->tenant_id, models_add, &mc) != ST_OK || mc.failed ||
	    api_route_aliases(r, id, mc.data) < 0) {
		json_decref(mc.data);
		resp_error(r, R_database_unavailable, "the model catalogue is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", mc.data));
}

void api_models_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct model mod;
	int rc = store_model_get(r->store, m->params[0], &mod), ok;

	if (rc == ST_OK) {
		ok = exec_model_callable(r, id, &mod);
		rc = ok == 1 ? ST_OK : ok == 0 ? ST_NOTFOUND : ST_ERR;
	}
	if (rc == ST_NOTFOUND) {
		/* an alias: a route of the caller whose name is no catalogue model */
		struct route_def rt;
		int ar = route_lookup(r->store, id, m->params[0], &rt);

		if (ar < 0)
			rc = ST_ERR;
		else if (ar > 0 && store_model_get(r->store, m->params[0], &mod) == ST_NOTFOUND) {
			resp_json(r, 200,
			          json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", m->params[0],
			                    "object", "model", "created", (json_int_t)0, "owned_by",
			                    "agenthost", "route",
			                    rt.owner == ROUTE_TENANT ? "tenant" : "plan"));
			return;
		}
	}
	if (rc == ST_ERR) {
		resp_error(r, R_database_unavailable, "the model catalogue is unavailable");
		return;
	}
	if (rc != ST_OK) {
		resp_error_param(
		    r, R_model_not_found, "model",
		    "the model '%.100s' does not exist or you do not have access to it",
		    m->params[0]);
		return;
	}
	resp_json(r, 200, models_json(&mod));
}
