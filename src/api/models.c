/*
 * models.c: GET /v1/models, the models this tenant may use, in OpenAI's
 * list shape ({"object":"list","data":[{"id","object":"model",...}]}).
 */
#include "config.h"

#include "api/api.h"
#include "host/http.h"
#include "tenancy/identify.h"

static int models_add(void *ctx, const struct model *m)
{
	json_t *data = ctx;

	json_array_append_new(data,
	                      json_pack("{s:s, s:s, s:I, s:s, s:i, s:i}", "id", m->name, "object",
	                                "model", "created", (json_int_t)m->created_at, "owned_by",
	                                m->provider, "context_window", m->context_window,
	                                "max_output_tokens", m->max_output));
	return 0;
}

void api_models_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *data = json_array();

	(void)m;
	if (store_model_list(r->store, id->tenant_id, models_add, data) != ST_OK) {
		json_decref(data);
		resp_error(r, R_database_unavailable, "the model catalogue is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}
