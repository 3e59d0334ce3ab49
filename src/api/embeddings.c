/*
 * embeddings.c: POST /v1/embeddings, OpenAI-compatible.
 *
 * DESIGN
 * An embedding call is a model call like a chat completion: the model is
 * resolved and allowlisted, the call admitted (its worst case is the input's
 * bytes, priced as input tokens: an embedding has no output tokens),
 * executed through the provider's adapter (provider.h: a call with inputs)
 * and recorded as an execution of kind "embed" with its cost. Only a
 * catalogue model of kind "embedding" served by an adapter that declares
 * AH_PROVIDER_EMBEDDINGS is accepted; anything else is a 400 naming the
 * model before any admission. The adapter answers the vectors as JSON text;
 * they go out as numbers ("float", the default) or, with encoding_format
 * "base64" (what the official SDKs ask for), as the base64 of their
 * little-endian float32 bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "exec/execute.h"
#include "host/http.h"
#include "providers/registry.h"
#include "tenancy/identify.h"

#define EMBED_MAX_INPUTS 2048
#define EMBED_MAX_DIMENSIONS 4096

/*
 * input: a string or an array of 1..EMBED_MAX_INPUTS strings into *texts
 * (malloc'd array of pointers into body) and *n. 0, or -1 after a 400.
 */
static int embed_inputs(struct req *r, json_t *body, const char ***texts, size_t *n)
{
	json_t *in = json_object_get(body, "input"), *v;
	size_t i;

	*texts = NULL;
	*n = 0;
	if (json_is_string(in)) {
		*texts = malloc(sizeof(**texts));
		if (*texts == NULL)
			goto nomem;
		(*texts)[0] = json_string_value(in);
		*n = 1;
		goto check;
	}
	if (!json_is_array(in) || json_array_size(in) == 0 ||
	    json_array_size(in) > EMBED_MAX_INPUTS) {
		resp_error_param(r, R_invalid_request, "input",
		                 "'input' must be a string or an array of 1 to %d strings",
		                 EMBED_MAX_INPUTS);
		return -1;
	}
	*texts = calloc(json_array_size(in), sizeof(**texts));
	if (*texts == NULL)
		goto nomem;
	json_array_foreach(in, i, v)
	{
		if (!json_is_string(v)) {
			resp_error_param(
			    r, R_invalid_request, "input",
			    "'input' must hold strings (token arrays are not supported: "
			    "send the text)");
			return -1;
		}
		(*texts)[i] = json_string_value(v);
	}
	*n = json_array_size(in);
check:
	for (i = 0; i < *n; i++)
		if ((*texts)[i][0] == '\0') {
			resp_error_param(r, R_invalid_request, "input",
			                 "'input' must not hold an empty string (input %zu)", i);
			return -1;
		}
	return 0;
nomem:
	resp_error(r, R_server_busy, "out of memory");
	return -1;
}

/* One vector (a JSON array of numbers) as base64 of little-endian float32; NULL on OOM. */
static json_t *embed_base64(const json_t *vec)
{
	size_t i, n = json_array_size(vec),
	          b64len = sodium_base64_ENCODED_LEN(n * 4, sodium_base64_VARIANT_ORIGINAL);
	unsigned char *raw = malloc(n * 4 + 1);
	char *b64 = malloc(b64len);
	json_t *x, *out = NULL;

	if (raw == NULL || b64 == NULL)
		goto out;
	json_array_foreach(vec, i, x)
	{
		float f = (float)json_number_value(x);
		uint32_t u;

		memcpy(&u, &f, 4);
		raw[i * 4] = (unsigned char)u;
		raw[i * 4 + 1] = (unsigned char)(u >> 8);
		raw[i * 4 + 2] = (unsigned char)(u >> 16);
		raw[i * 4 + 3] = (unsigned char)(u >> 24);
	}
	sodium_bin2base64(b64, b64len, raw, n * 4, sodium_base64_VARIANT_ORIGINAL);
	out = json_string(b64);
out:
	free(raw);
	free(b64);
	return out;
}

/* OpenAI's list of embeddings from the adapter's vectors text; NULL when unusable. */
static json_t *embed_data(const char *text, size_t n, int base64)
{
	json_t *vecs = text ? json_loads(text, 0, NULL) : NULL, *data = json_array(), *v, *e;
	size_t i;

	if (!json_is_array(vecs) || json_array_size(vecs) != n || data == NULL)
		goto fail;
	json_array_foreach(vecs, i, v)
	{
		e = json_pack("{s:s, s:I, s:o}", "object", "embedding", "index", (json_int_t)i,
		              "embedding", base64 ? embed_base64(v) : json_incref(v));
		if (e == NULL || json_array_append_new(data, e) != 0)
			goto fail;
	}
	json_decref(vecs);
	return data;
fail:
	json_decref(vecs);
	json_decref(data);
	return NULL;
}

/* 0 when out->model is an embedding model on an adapter with embeddings, else -1 after a 400. */
static int embed_check_model(struct req *r, const struct exec_outcome *out)
{
	const struct provider_instance *inst = registry_find(out->model.provider);

	if (strcmp(out->model.kind, "embedding") != 0) {
		resp_error_param(r, R_invalid_request, "model",
		                 "the model '%s' is not an embedding model (use "
		                 "/v1/chat/completions)",
		                 out->model.name);
		return -1;
	}
	if (inst == NULL || !(inst->adapter->flags & AH_PROVIDER_EMBEDDINGS)) {
		resp_error_param(r, R_invalid_request, "model",
		                 "the provider '%s' of model '%s' does not serve embeddings",
		                 out->model.provider, out->model.name);
		return -1;
	}
	return 0;
}

void api_embeddings(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *data;
	const char **texts = NULL, *model, *fmt, *user;
	struct exec_call call;
	struct exec_outcome out;
	int64_t dims = 0;
	int has_dims = 0, base64 = 0;

	(void)m;
	memset(&call, 0, sizeof(call));
	body = req_json_object(r);
	if (body == NULL)
		return;
	if (api_str(r, body, "model", 1, 127, &model) < 0 ||
	    api_str(r, body, "encoding_format", 0, 16, &fmt) < 0 ||
	    api_str(r, body, "user", 0, 256, &user) < 0 ||
	    api_int(r, body, "dimensions", 1, EMBED_MAX_DIMENSIONS, &has_dims, &dims) < 0 ||
	    embed_inputs(r, body, &texts, &call.n_inputs) < 0)
		goto out;
	if (fmt != NULL && strcmp(fmt, "float") != 0 && strcmp(fmt, "base64") != 0) {
		resp_error_param(r, R_invalid_request, "encoding_format",
		                 "'encoding_format' must be \"float\" or \"base64\"");
		goto out;
	}
	base64 = fmt != NULL && strcmp(fmt, "base64") == 0;
	call.kind = "embed";
	call.model = model;
	call.inputs = texts;
	call.dimensions = has_dims ? (int)dims : 0;
	if (exec_resolve(r, id, model, &out) < 0)
		goto out;
	if (embed_check_model(r, &out) < 0) {
		exec_outcome_free(&out);
		goto out;
	}
	exec_prepare(&call);
	if (exec_run(r, id, &call, &out) < 0) {
		resp_refusal(r, &out.err);
	} else if ((data = embed_data(out.res.text, call.n_inputs, base64)) == NULL) {
		/* Recorded as succeeded (the upstream answered and is paid for); say so. */
		resp_error(r, R_upstream_bad_response,
		           "the provider's embeddings could not be read back");
	} else {
		resp_json(r, 200,
		          json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data,
		                    "model", out.model.name, "usage", "prompt_tokens",
		                    (json_int_t)out.res.usage.prompt_tokens, "total_tokens",
		                    (json_int_t)out.res.usage.prompt_tokens));
	}
	exec_outcome_free(&out);
out:
	free(texts);
	json_decref(body);
}
