/*
 * gemini.c: the Google Gemini generateContent adapter.
 *
 * DESIGN
 * The model goes into the URL path, so it is checked against a strict
 * character set first (a model id must not be able to change the path or
 * add a query); the key travels only in the x-goog-api-key header, never in
 * the URL, so it cannot leak through logs of URLs. Streaming uses
 * :streamGenerateContent?alt=sse, where every event is a complete
 * GenerateContentResponse carrying the next piece of text; the last ones
 * carry finishReason and usageMetadata. There is no end marker, so the
 * stream is complete when the transfer ends after a finishReason (upstream.c
 * treats a finish_reason as completion). Parts marked "thought" are model
 * reasoning, not answer text, and are skipped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "providers/adapters.h"
#include "providers/pjson.h"

struct gemini_stream {
	struct buf text;          /* answer text so far */
	char finish[32];          /* mapped finishReason, "" until seen */
	struct ah_usage usage;    /* latest usageMetadata */
	struct pjson_calls calls; /* functionCall parts, in order */
};

/* OpenAI-style finish_reason for a Gemini finishReason. */
static const char *gemini_finish(const char *fr)
{
	static const struct {
		const char *from, *to;
	} map[] = {
	    {"STOP", "stop"},
	    {"MAX_TOKENS", "length"},
	    {"SAFETY", "content_filter"},
	    {"RECITATION", "content_filter"},
	    {"BLOCKLIST", "content_filter"},
	    {"PROHIBITED_CONTENT", "content_filter"},
	    {"SPII", "content_filter"},
	    {"IMAGE_SAFETY", "content_filter"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(fr, map[i].from) == 0)
			return map[i].to;
	return "stop";
}

/* The model id without a leading "models/", or NULL when it has characters unsafe in a path. */
static const char *gemini_model(const char *model)
{
	const char *p;

	if (model == NULL)
		return NULL;
	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	if (model[0] == '\0' || model[0] == '.')
		return NULL;
	for (p = model; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return NULL;
	return model;
}

/* Append {"role":role,"parts":[{"text":text}]} to contents. 0 or -1. */
static int gemini_add_content(json_t *contents, const char *role, const char *text)
{
	json_t *c = json_pack("{s:s, s:[{s:s}]}", "role", role, "parts", "text", text);

	if (c == NULL || json_array_append_new(contents, c) != 0)
		return -1;
	return 0;
}

/* Add "tools" (one functionDeclarations list) when the call offers any. 0, or -1 + res. */
static int gemini_tools(json_t *body, const struct ah_call *call, struct ah_result *res)
{
	json_t *decls, *tools, *schema, *d;
	size_t i;

	if (call->n_tools == 0)
		return 0;
	decls = json_array();
	tools = json_pack("[{s:o}]", "functionDeclarations", decls);
	if (tools == NULL || json_object_set_new(body, "tools", tools) != 0)
		return pjson_fail(res, R_provider_error, "gemini: out of memory");
	for (i = 0; i < call->n_tools; i++) {
		schema = pjson_tool_schema(&call->tools[i], res);
		if (schema == NULL)
			return -1;
		d = json_pack("{s:s, s:s, s:o}", "name", call->tools[i].name, "description",
		              call->tools[i].description, "parameters", schema);
		if (d == NULL || json_array_append_new(decls, d) != 0)
			return pjson_fail(res, R_provider_error, "gemini: out of memory");
	}
	return 0;
}

/*
 * Add toolConfig for tool_choice ("auto" AUTO, "none" NONE, "required" ANY,
 * a function: ANY limited to it). Gemini has no switch for parallel calls:
 * parallel_tool_calls is not sent. 0, or -1 with res->error_* set.
 */
static int gemini_tool_config(json_t *body, const struct ah_call *call, struct ah_result *res)
{
	const char *mode = "AUTO", *c = call->tool_choice;
	json_t *fcc;

	if (call->n_tools == 0 || c == NULL)
		return 0;
	if (strcmp(c, "none") == 0)
		mode = "NONE";
	else if (strcmp(c, "required") == 0 || strcmp(c, "function") == 0)
		mode = "ANY";
	fcc = json_pack("{s:s}", "mode", mode);
	if (fcc == NULL ||
	    json_object_set_new(body, "toolConfig",
	                        json_pack("{s:o}", "functionCallingConfig", fcc)) != 0)
		goto nomem;
	if (strcmp(c, "function") == 0 &&
	    json_object_set_new(
	        fcc, "allowedFunctionNames",
	        json_pack("[s]", call->tool_choice_name ? call->tool_choice_name : "")) != 0)
		goto nomem;
	return 0;
nomem:
	return pjson_fail(res, R_provider_error, "gemini: cannot build toolConfig");
}

/*
 * Structured output: responseMimeType application/json, and the schema as
 * responseJsonSchema (JSON Schema) for "json_schema". 0, or -1 + res.
 */
static int gemini_response_format(json_t *gen, const struct ah_call *call, struct ah_result *res)
{
	json_t *schema;

	if (call->response_format == NULL)
		return 0;
	if (json_object_set_new(gen, "responseMimeType", json_string("application/json")) != 0)
		return pjson_fail(res, R_provider_error, "gemini: out of memory");
	if (strcmp(call->response_format, "json_schema") != 0)
		return 0;
	schema = pjson_parse(call->response_schema, strlen(call->response_schema));
	if (!json_is_object(schema)) {
		json_decref(schema);
		return pjson_fail(res, R_provider_error,
		                  "gemini: the response schema is not a JSON object");
	}
	if (json_object_set_new(gen, "responseJsonSchema", schema) != 0)
		return pjson_fail(res, R_provider_error, "gemini: out of memory");
	return 0;
}

/* A model turn with function calls (and its text, when any). New reference, or NULL + res. */
static json_t *gemini_calls_turn(const struct ah_message *msg, struct ah_result *res)
{
	json_t *parts = json_array(), *c, *p, *args;
	size_t i;

	c = json_pack("{s:s, s:o}", "role", "model", "parts", parts);
	if (c == NULL)
		goto nomem;
	if (msg->content[0] != '\0') {
		p = json_pack("{s:s}", "text", msg->content);
		if (p == NULL || json_array_append_new(parts, p) != 0)
			goto nomem;
	}
	for (i = 0; i < msg->n_tool_calls; i++) {
		args = pjson_call_arguments(&msg->tool_calls[i]);
		if (args == NULL) {
			json_decref(c);
			pjson_fail(res, R_provider_error,
			           "gemini: the arguments of tool call %s are not a JSON object",
			           msg->tool_calls[i].id);
			return NULL;
		}
		p = json_pack("{s:{s:s, s:o}}", "functionCall", "name", msg->tool_calls[i].name,
		              "args", args);
		if (p == NULL || json_array_append_new(parts, p) != 0)
			goto nomem;
	}
	return c;
nomem:
	json_decref(c);
	pjson_fail(res, R_provider_error, "gemini: out of memory");
	return NULL;
}

/*
 * Append a functionResponse part: to the previous user turn when it holds
 * responses already (all responses of a turn go together), else as a new
 * user turn. 0, or -1 when memory runs out.
 */
static int gemini_tool_result(json_t *contents, const struct ah_message *msg, int *prev)
{
	json_t *resp = pjson_tool_result_object(msg), *part, *last;

	if (resp == NULL)
		return -1;
	part = json_pack("{s:{s:s, s:o}}", "functionResponse", "name", msg->tool_name, "response",
	                 resp);
	if (part == NULL)
		return -1;
	last = json_array_get(contents, json_array_size(contents) - 1);
	if (*prev && last != NULL)
		return json_array_append_new(json_object_get(last, "parts"), part);
	last = json_pack("{s:s, s:[o]}", "role", "user", "parts", part);
	if (last == NULL || json_array_append_new(contents, last) != 0)
		return -1;
	*prev = 1;
	return 0;
}

/*
 * An embedding call: POST {base}/v1beta/models/{model}:batchEmbedContents,
 * one request per input (with outputDimensionality when asked). The model
 * was checked by the caller. 0, or -1 with res->error_* set.
 */
static int gemini_build_embed(const struct ah_call *call, const char *model,
                              struct ah_http_request *out, struct ah_result *res)
{
	json_t *body = NULL, *reqs, *one;
	char name[160];
	size_t i;
	int rc;

	if (pjson_set_url(out, res, "%s/v1beta/models/%s:batchEmbedContents", call->base_url,
	                  model) != 0 ||
	    pjson_add_header(out, res, "Content-Type: application/json") != 0)
		return -1;
	if (call->api_key != NULL && call->api_key[0] != '\0' &&
	    pjson_add_header(out, res, "x-goog-api-key: %s", call->api_key) != 0)
		return -1;
	snprintf(name, sizeof(name), "models/%s", model);
	reqs = json_array();
	body = json_pack("{s:o}", "requests", reqs);
	if (body == NULL)
		goto nomem;
	for (i = 0; i < call->n_inputs; i++) {
		one = json_pack("{s:s, s:{s:[{s:s}]}}", "model", name, "content", "parts", "text",
		                call->inputs[i]);
		if (one == NULL || json_array_append_new(reqs, one) != 0)
			goto nomem;
		if (call->dimensions > 0 &&
		    json_object_set_new(one, "outputDimensionality",
		                        json_integer(call->dimensions)) != 0)
			goto nomem;
	}
	rc = pjson_set_body(out, body, res);
	json_decref(body);
	return rc;
nomem:
	json_decref(body);
	return pjson_fail(res, R_provider_error,
	                  "gemini: cannot build the request (out of memory or invalid UTF-8)");
}

/* The vectors of a batchEmbedContents answer (embeddings[].values). 0, or -1 + res. */
static int gemini_parse_embed(const struct ah_call *call, const json_t *root, struct ah_result *res)
{
	const json_t *embs = json_object_get(root, "embeddings");
	json_t **vecs;
	size_t i;
	int rc;

	if (!json_is_array(embs) || json_array_size(embs) != call->n_inputs)
		return pjson_fail(res, R_upstream_bad_response,
		                  "gemini: the embeddings response does not hold %zu vectors",
		                  call->n_inputs);
	vecs = calloc(call->n_inputs, sizeof(*vecs));
	if (vecs == NULL)
		return pjson_fail(res, R_provider_error, "gemini: out of memory");
	for (i = 0; i < call->n_inputs; i++)
		vecs[i] = json_object_get(json_array_get(embs, i), "values");
	rc = pjson_set_vectors(res, "gemini", vecs, call->n_inputs);
	free(vecs);
	return rc;
}

/* Build POST {base}/v1beta/models/{model}:generateContent. 0, or -1 with res->error_* set. */
static int gemini_build(const struct ah_call *call, struct ah_http_request *out,
                        struct ah_result *res)
{
	json_t *body = NULL, *contents, *gen, *si, *turn;
	struct buf sys = BUF_INIT;
	const char *model = gemini_model(call->model), *role;
	size_t i;
	int rc = -1, prev = 0;

	if (model == NULL)
		return pjson_fail(res, R_provider_error,
		                  "gemini: the model id must be letters, digits, '-', '_' or '.'");
	if (call->n_inputs > 0)
		return gemini_build_embed(call, model, out, res);
	if (pjson_set_url(out, res, "%s/v1beta/models/%s:%s", call->base_url, model,
	                  call->stream ? "streamGenerateContent?alt=sse" : "generateContent") !=
	        0 ||
	    pjson_add_header(out, res, "Content-Type: application/json") != 0)
		goto out;
	if (call->api_key != NULL && call->api_key[0] != '\0' &&
	    pjson_add_header(out, res, "x-goog-api-key: %s", call->api_key) != 0)
		goto out;
	if (call->stream && pjson_add_header(out, res, "Accept: text/event-stream") != 0)
		goto out;

	body = json_object();
	contents = json_array();
	if (body == NULL || contents == NULL ||
	    json_object_set_new(body, "contents", contents) != 0)
		goto nomem;
	for (i = 0; i < call->n_messages; i++) {
		role = call->messages[i].role;
		if (strcmp(role, "system") == 0) {
			if ((sys.len > 0 && buf_puts(&sys, "\n\n") != 0) ||
			    buf_puts(&sys, call->messages[i].content) != 0)
				goto nomem;
			continue;
		}
		if (strcmp(role, "tool") == 0) {
			if (gemini_tool_result(contents, &call->messages[i], &prev) != 0)
				goto nomem;
			continue;
		}
		prev = 0;
		if (call->messages[i].n_tool_calls > 0) {
			turn = gemini_calls_turn(&call->messages[i], res);
			if (turn == NULL)
				goto out;
			if (json_array_append_new(contents, turn) != 0)
				goto nomem;
			continue;
		}
		if (gemini_add_content(contents, strcmp(role, "assistant") == 0 ? "model" : "user",
		                       call->messages[i].content) != 0)
			goto nomem;
	}
	if (json_array_size(contents) == 0) {
		rc = pjson_fail(res, R_provider_error,
		                "gemini: at least one user or assistant message is required");
		goto out;
	}
	if (gemini_tools(body, call, res) != 0 || gemini_tool_config(body, call, res) != 0)
		goto out;
	if (sys.len > 0) {
		si = json_pack("{s:[{s:s}]}", "parts", "text", buf_str(&sys));
		if (si == NULL || json_object_set_new(body, "systemInstruction", si) != 0)
			goto nomem;
	}
	gen = json_pack("{s:i}", "maxOutputTokens", call->max_tokens);
	if (gen == NULL || json_object_set_new(body, "generationConfig", gen) != 0 ||
	    pjson_add_sampling(gen, call, "temperature", "topP") != 0)
		goto nomem;
	if (gemini_response_format(gen, call, res) != 0)
		goto out;
	rc = pjson_set_body(out, body, res);
	goto out;
nomem:
	rc = pjson_fail(res, R_provider_error,
	                "gemini: cannot build the request (out of memory or invalid UTF-8)");
out:
	buf_free(&sys);
	json_decref(body);
	return rc;
}

/*
 * Take text, finishReason and usageMetadata from one GenerateContentResponse.
 * 0, or -1 with res->error_* set.
 */
static int gemini_take(const json_t *root, struct buf *text, char *finish, size_t fcap,
                       struct ah_usage *usage, struct pjson_calls *calls, struct ah_result *res)
{
	json_t *cand, *parts, *part, *um, *pf, *fc, *args;
	struct pjson_call *pc;
	const char *t, *fr, *id;
	char *a;
	size_t i;
	int bad;

	cand = pjson_first(root, "candidates");
	parts = json_object_get(pjson_obj(cand, "content"), "parts");
	if (json_is_array(parts)) {
		json_array_foreach(parts, i, part)
		{
			if (json_is_true(json_object_get(part, "thought")))
				continue;
			fc = pjson_obj(part, "functionCall");
			if (fc != NULL) {
				/* Gemini sends each call whole; newer versions give it an id. */
				pc = pjson_calls_at(calls, calls->n);
				args = json_object_get(fc, "args");
				a = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
				t = pjson_str(fc, "name");
				id = pjson_str(fc, "id");
				bad = pc == NULL || (args != NULL && a == NULL) ||
				      (t != NULL && buf_puts(&pc->name, t) != 0) ||
				      (id != NULL && buf_puts(&pc->id, id) != 0) ||
				      (a != NULL && buf_puts(&pc->args, a) != 0);
				free(a);
				if (bad)
					return pjson_fail(
					    res, R_provider_error,
					    "gemini: out of memory or too many calls");
				continue;
			}
			t = pjson_str(part, "text");
			if (t != NULL && buf_puts(text, t) != 0)
				return pjson_fail(res, R_provider_error, "gemini: out of memory");
		}
	}
	fr = pjson_str(cand, "finishReason");
	if (fr != NULL)
		util_strlcpy(finish, gemini_finish(fr), fcap);
	/* A prompt blocked before generation has no candidates, only promptFeedback. */
	pf = pjson_obj(root, "promptFeedback");
	if (cand == NULL && pjson_str(pf, "blockReason") != NULL)
		util_strlcpy(finish, "content_filter", fcap);
	um = pjson_obj(root, "usageMetadata");
	if (um != NULL) {
		usage->prompt_tokens = pjson_int(um, "promptTokenCount");
		/* Thinking tokens are billed as output. */
		usage->completion_tokens =
		    pjson_int(um, "candidatesTokenCount") + pjson_int(um, "thoughtsTokenCount");
		usage->have = 1;
	}
	return 0;
}

/* Parse a whole GenerateContentResponse (or an error body). 0, or -1 with res->error_* set. */
static int gemini_parse(const struct ah_call *call, int status, const char *body, size_t len,
                        struct ah_result *res)
{
	json_t *root = NULL;
	struct buf text = BUF_INIT;
	struct pjson_calls calls = {NULL, 0};
	char finish[32] = "";
	const char *emsg;
	int rc = -1;

	res->upstream_status = status;
	if (status >= 400)
		return pjson_http_error("gemini", status, body, len, res);
	root = pjson_parse(body, len);
	if (!json_is_object(root)) {
		rc = pjson_fail(res, R_upstream_bad_response,
		                "gemini: response is not a JSON object");
		goto out;
	}
	if ((emsg = pjson_error_message(root)) != NULL) {
		rc = pjson_fail(res, R_upstream_error, "gemini upstream error: %s", emsg);
		goto out;
	}
	if (call != NULL && call->n_inputs > 0) {
		rc = gemini_parse_embed(call, root, res);
		goto out;
	}
	if (pjson_first(root, "candidates") == NULL && pjson_obj(root, "promptFeedback") == NULL) {
		rc = pjson_fail(res, R_upstream_bad_response, "gemini: response has no candidates");
		goto out;
	}
	if (gemini_take(root, &text, finish, sizeof(finish), &res->usage, &calls, res) != 0 ||
	    pjson_set_text(res, buf_str(&text), text.len) != 0)
		goto out;
	/* Gemini says STOP after function calls; the host wants "tool_calls". */
	if (calls.n > 0 && strcmp(finish, "length") != 0)
		util_strlcpy(finish, "tool_calls", sizeof(finish));
	if (pjson_calls_finish(&calls, res) != 0)
		goto out;
	pjson_set_finish(res, finish[0] != '\0' ? finish : "stop");
	rc = 0;
out:
	pjson_calls_free(&calls);
	buf_free(&text);
	json_decref(root);
	return rc;
}

/* Parse the error body of a failed streamed call. Always -1. */
static int gemini_parse_error(int status, const char *body, size_t len, struct ah_result *res)
{
	return pjson_http_error("gemini", status, body, len, res);
}

/* New stream state, or NULL when memory runs out. */
static void *gemini_stream_begin(const struct ah_call *call)
{
	struct gemini_stream *s = calloc(1, sizeof(*s));

	(void)call;
	if (s != NULL)
		buf_init(&s->text);
	return s;
}

/* One alt=sse event (a full GenerateContentResponse); see provider.h for the return values. */
static int gemini_stream_event(void *state, const char *event, const char *data, size_t len,
                               ah_emit_fn emit, void *emit_ctx, struct ah_result *res)
{
	struct gemini_stream *s = state;
	json_t *root;
	const char *emsg;
	size_t before = s->text.len;
	int rc = 0;

	(void)event;
	root = pjson_parse(data, len);
	if (!json_is_object(root)) {
		rc = pjson_fail(res, R_upstream_bad_response, "gemini: stream event is not JSON");
		goto out;
	}
	if ((emsg = pjson_error_message(root)) != NULL) {
		rc = pjson_fail(res, R_upstream_error, "gemini upstream error: %s", emsg);
		goto out;
	}
	rc = gemini_take(root, &s->text, s->finish, sizeof(s->finish), &s->usage, &s->calls, res);
	if (rc == 0 && s->text.len > before && emit != NULL &&
	    emit(emit_ctx, s->text.data + before, s->text.len - before) != 0)
		rc = 2;
out:
	json_decref(root);
	return rc;
}

/* Hand the gathered text, finish_reason and usage to res; free the state. */
static void gemini_stream_end(void *state, struct ah_result *res)
{
	struct gemini_stream *s = state;

	if (s == NULL)
		return;
	free(res->text);
	res->text = buf_steal(&s->text);
	if (s->finish[0] != '\0')
		pjson_set_finish(res, s->calls.n > 0 && strcmp(s->finish, "length") != 0
		                          ? "tool_calls"
		                          : s->finish);
	res->usage = s->usage;
	pjson_calls_finish(&s->calls, res);
	free(s);
}

static const struct ah_provider gemini_adapter = {
    .abi_version = AH_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct ah_provider),
    .name = "gemini",
    .flags = AH_PROVIDER_JSON_OBJECT | AH_PROVIDER_JSON_SCHEMA | AH_PROVIDER_EMBEDDINGS,
    .build_request = gemini_build,
    .parse_response = gemini_parse,
    .stream_begin = gemini_stream_begin,
    .stream_event = gemini_stream_event,
    .stream_end = gemini_stream_end,
    .parse_error = gemini_parse_error,
    .generate = NULL,
};

const struct ah_provider *provider_gemini_adapter(void)
{
	return &gemini_adapter;
}
