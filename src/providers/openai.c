/*
 * openai.c: the OpenAI-compatible chat completions adapter.
 *
 * DESIGN
 * One adapter serves every upstream speaking POST {base}/chat/completions:
 * OpenAI, DeepSeek, Mistral, OpenRouter, Ollama and vLLM differ only in base
 * URL and key, which the registry holds per instance. Streaming asks for
 * stream_options.include_usage so the final chunk carries real usage; servers
 * that ignore it simply leave usage to the host's estimate. Compatible
 * servers vary in what they put in chunks, so unknown fields are ignored and
 * only a malformed JSON chunk is an error.
 * Tool calling maps one to one: tools[] of type "function", assistant
 * messages with tool_calls (arguments are a JSON string on the wire), "tool"
 * messages with tool_call_id; streamed tool calls arrive as fragments keyed
 * by index and are joined here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "providers/adapters.h"
#include "providers/pjson.h"

struct openai_stream {
	struct buf text;            /* assistant text so far */
	char finish[32];            /* finish_reason seen, "" until then */
	struct ah_usage usage;      /* usage chunk, when sent */
	struct pjson_calls calls;   /* tool calls gathered from deltas */
	const struct ah_call *call; /* for its emit_tool (lives for the stream) */
};

/* Read an OpenAI usage object into u (u->have = 1 when it is an object). */
static void openai_usage(const json_t *usage, struct ah_usage *u)
{
	if (!json_is_object(usage))
		return;
	u->prompt_tokens = pjson_int(usage, "prompt_tokens");
	u->completion_tokens = pjson_int(usage, "completion_tokens");
	u->have = 1;
}

/* One conversation message in OpenAI form (new reference), or NULL when memory runs out. */
static json_t *openai_message(const struct ah_message *msg)
{
	json_t *m, *calls, *tc;
	size_t i;

	if (strcmp(msg->role, "tool") == 0)
		return json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
		                 msg->tool_call_id, "content", msg->content);
	if (msg->n_tool_calls == 0)
		return json_pack("{s:s, s:s}", "role", msg->role, "content", msg->content);
	calls = json_array();
	m = json_pack("{s:s, s:o?}", "role", msg->role, "content",
	              msg->content[0] != '\0' ? json_string(msg->content) : json_null());
	if (m == NULL || calls == NULL || json_object_set_new(m, "tool_calls", calls) != 0) {
		json_decref(calls);
		json_decref(m);
		return NULL;
	}
	for (i = 0; i < msg->n_tool_calls; i++) {
		tc = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", msg->tool_calls[i].id, "type",
		               "function", "function", "name", msg->tool_calls[i].name, "arguments",
		               msg->tool_calls[i].arguments);
		if (tc == NULL || json_array_append_new(calls, tc) != 0) {
			json_decref(m);
			return NULL;
		}
	}
	return m;
}

/* Add "tools" to body when the call offers any. 0, or -1 with res->error_* set. */
static int openai_tools(json_t *body, const struct ah_call *call, struct ah_result *res)
{
	json_t *tools, *schema, *t;
	size_t i;

	if (call->n_tools == 0)
		return 0;
	tools = json_array();
	if (tools == NULL || json_object_set_new(body, "tools", tools) != 0)
		return pjson_fail(res, R_provider_error, "openai: out of memory");
	for (i = 0; i < call->n_tools; i++) {
		schema = pjson_tool_schema(&call->tools[i], res);
		if (schema == NULL)
			return -1;
		t = json_pack("{s:s, s:{s:s, s:s, s:o}}", "type", "function", "function", "name",
		              call->tools[i].name, "description", call->tools[i].description,
		              "parameters", schema);
		if (t == NULL || json_array_append_new(tools, t) != 0)
			return pjson_fail(res, R_provider_error, "openai: out of memory");
	}
	return 0;
}

/* Read message.tool_calls of a whole response into res. 0, or -1 with res->error_* set. */
static int openai_tool_calls(const json_t *msg, struct ah_result *res)
{
	const json_t *calls = json_object_get(msg, "tool_calls"), *tc, *fn, *args;
	const char *a;
	char *dumped;
	size_t i;
	int rc;

	if (!json_is_array(calls))
		return 0;
	json_array_foreach(calls, i, tc)
	{
		fn = pjson_obj(tc, "function");
		args = json_object_get(fn, "arguments");
		/* Some compatible servers send the arguments as an object, not a string. */
		dumped = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
		a = dumped != NULL ? dumped : json_is_string(args) ? json_string_value(args) : "{}";
		rc = pjson_add_tool_call(res, pjson_str(tc, "id"), pjson_str(fn, "name"), a);
		free(dumped);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/*
 * Add tool_choice, parallel_tool_calls and response_format as the call has
 * them (OpenAI's own shapes). 0, or -1 with res->error_* set.
 */
static int openai_options(json_t *body, const struct ah_call *call, struct ah_result *res)
{
	json_t *v = NULL, *schema;

	if (call->tool_choice != NULL && call->n_tools > 0) {
		if (strcmp(call->tool_choice, "function") == 0)
			v = json_pack("{s:s, s:{s:s}}", "type", "function", "function", "name",
			              call->tool_choice_name ? call->tool_choice_name : "");
		else
			v = json_string(call->tool_choice);
		if (v == NULL || json_object_set_new(body, "tool_choice", v) != 0)
			goto nomem;
	}
	if (call->has_parallel_tool_calls && call->n_tools > 0 &&
	    json_object_set_new(body, "parallel_tool_calls",
	                        json_boolean(call->parallel_tool_calls)) != 0)
		goto nomem;
	if (call->response_format == NULL)
		return 0;
	if (strcmp(call->response_format, "json_schema") == 0) {
		schema = pjson_parse(call->response_schema, strlen(call->response_schema));
		if (!json_is_object(schema)) {
			json_decref(schema);
			return pjson_fail(res, R_provider_error,
			                  "openai: the response schema is not a JSON object");
		}
		v = json_pack("{s:s, s:{s:s, s:o, s:b}}", "type", "json_schema", "json_schema",
		              "name", call->response_schema_name, "schema", schema, "strict",
		              call->response_schema_strict);
	} else {
		v = json_pack("{s:s}", "type", call->response_format);
	}
	if (v == NULL || json_object_set_new(body, "response_format", v) != 0)
		goto nomem;
	return 0;
nomem:
	return pjson_fail(res, R_provider_error, "openai: cannot build the request options");
}

/*
 * An embedding call: POST {base}/embeddings {"model", "input": [...],
 * "encoding_format": "float", "dimensions"}. 0, or -1 with res->error_* set.
 */
static int openai_build_embed(const struct ah_call *call, struct ah_http_request *out,
                              struct ah_result *res)
{
	json_t *body = NULL, *input;
	size_t i;
	int rc = -1;

	if (pjson_set_url(out, res, "%s/embeddings", call->base_url) != 0 ||
	    pjson_add_header(out, res, "Content-Type: application/json") != 0)
		return -1;
	if (call->api_key != NULL && call->api_key[0] != '\0' &&
	    pjson_add_header(out, res, "Authorization: Bearer %s", call->api_key) != 0)
		return -1;
	input = json_array();
	body = json_pack("{s:s, s:o, s:s}", "model", call->model, "input", input, "encoding_format",
	                 "float");
	if (body == NULL)
		goto nomem;
	for (i = 0; i < call->n_inputs; i++)
		if (json_array_append_new(input, json_string(call->inputs[i])) != 0)
			goto nomem;
	if (call->dimensions > 0 &&
	    json_object_set_new(body, "dimensions", json_integer(call->dimensions)) != 0)
		goto nomem;
	rc = pjson_set_body(out, body, res);
	json_decref(body);
	return rc;
nomem:
	json_decref(body);
	return pjson_fail(res, R_provider_error,
	                  "openai: cannot build the request (out of memory or invalid UTF-8)");
}

/* The vectors of an embeddings response (data[].embedding, by index). 0, or -1 + res. */
static int openai_parse_embed(const struct ah_call *call, const json_t *root, struct ah_result *res)
{
	const json_t *data = json_object_get(root, "data"), *d, *idx;
	json_t **vecs = calloc(call->n_inputs, sizeof(*vecs));
	size_t i;
	int rc = -1;

	if (vecs == NULL)
		return pjson_fail(res, R_provider_error, "openai: out of memory");
	if (!json_is_array(data) || json_array_size(data) != call->n_inputs) {
		pjson_fail(res, R_upstream_bad_response,
		           "openai: the embeddings response does not hold %zu vectors",
		           call->n_inputs);
		goto out;
	}
	json_array_foreach(data, i, d)
	{
		idx = json_object_get(d, "index");
		size_t at = json_is_integer(idx) ? (size_t)json_integer_value(idx) : i;

		if (at >= call->n_inputs || vecs[at] != NULL) {
			pjson_fail(res, R_upstream_bad_response,
			           "openai: the embeddings response has a bad index");
			goto out;
		}
		vecs[at] = json_object_get(d, "embedding");
	}
	rc = pjson_set_vectors(res, "openai", vecs, call->n_inputs);
	if (rc == 0)
		openai_usage(json_object_get(root, "usage"), &res->usage);
out:
	free(vecs);
	return rc;
}

/* Build POST {base}/chat/completions. 0, or -1 with res->error_* set. */
static int openai_build(const struct ah_call *call, struct ah_http_request *out,
                        struct ah_result *res)
{
	json_t *body = NULL, *msgs, *m, *opts;
	size_t i;
	int rc = -1;

	if (call->model == NULL || call->model[0] == '\0')
		return pjson_fail(res, R_provider_error, "openai: a model is required");
	if (call->n_inputs > 0)
		return openai_build_embed(call, out, res);
	if (pjson_set_url(out, res, "%s/chat/completions", call->base_url) != 0)
		goto out;
	if (pjson_add_header(out, res, "Content-Type: application/json") != 0)
		goto out;
	if (call->api_key != NULL && call->api_key[0] != '\0' &&
	    pjson_add_header(out, res, "Authorization: Bearer %s", call->api_key) != 0)
		goto out;
	if (call->stream && pjson_add_header(out, res, "Accept: text/event-stream") != 0)
		goto out;

	body = json_object();
	msgs = json_array();
	if (body == NULL || msgs == NULL || json_object_set_new(body, "messages", msgs) != 0)
		goto nomem;
	if (json_object_set_new(body, "model", json_string(call->model)) != 0)
		goto nomem;
	for (i = 0; i < call->n_messages; i++) {
		m = openai_message(&call->messages[i]);
		if (m == NULL || json_array_append_new(msgs, m) != 0)
			goto nomem;
	}
	if (openai_tools(body, call, res) != 0 || openai_options(body, call, res) != 0)
		goto out;
	if (json_object_set_new(body, "max_tokens", json_integer(call->max_tokens)) != 0 ||
	    pjson_add_sampling(body, call, "temperature", "top_p") != 0)
		goto nomem;
	if (call->stream) {
		opts = json_pack("{s:b}", "include_usage", 1);
		if (json_object_set_new(body, "stream", json_true()) != 0 || opts == NULL ||
		    json_object_set_new(body, "stream_options", opts) != 0)
			goto nomem;
	}
	rc = pjson_set_body(out, body, res);
	goto out;
nomem:
	rc = pjson_fail(res, R_provider_error,
	                "openai: cannot build the request (out of memory or invalid UTF-8)");
out:
	json_decref(body);
	return rc;
}

/* Parse a whole chat.completion (or an error body). 0, or -1 with res->error_* set. */
static int openai_parse(const struct ah_call *call, int status, const char *body, size_t len,
                        struct ah_result *res)
{
	json_t *root = NULL, *choice, *msg;
	const char *text, *fr, *emsg;
	int rc = -1;

	res->upstream_status = status;
	if (status >= 400)
		return pjson_http_error("openai", status, body, len, res);
	root = pjson_parse(body, len);
	if (!json_is_object(root)) {
		rc = pjson_fail(res, R_upstream_bad_response,
		                "openai: response is not a JSON object");
		goto out;
	}
	if ((emsg = pjson_error_message(root)) != NULL) {
		rc = pjson_fail(res, R_upstream_error, "openai upstream error: %s", emsg);
		goto out;
	}
	if (call != NULL && call->n_inputs > 0) {
		rc = openai_parse_embed(call, root, res);
		goto out;
	}
	choice = pjson_first(root, "choices");
	msg = pjson_obj(choice, "message");
	if (msg == NULL) {
		rc = pjson_fail(res, R_upstream_bad_response,
		                "openai: response has no choices[0].message");
		goto out;
	}
	/* content is null when the model answered with tool calls only. */
	text = pjson_str(msg, "content");
	if (text == NULL)
		text = "";
	if (pjson_set_text(res, text, strlen(text)) != 0 || openai_tool_calls(msg, res) != 0)
		goto out;
	fr = pjson_str(choice, "finish_reason");
	pjson_set_finish(res, fr != NULL ? fr : "stop");
	openai_usage(json_object_get(root, "usage"), &res->usage);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* Parse the error body of a failed streamed call. Always -1. */
static int openai_parse_error(int status, const char *body, size_t len, struct ah_result *res)
{
	return pjson_http_error("openai", status, body, len, res);
}

/* New stream state, or NULL when memory runs out. */
static void *openai_stream_begin(const struct ah_call *call)
{
	struct openai_stream *s = calloc(1, sizeof(*s));

	if (s != NULL) {
		buf_init(&s->text);
		s->call = call;
	}
	return s;
}

/*
 * Join the tool call fragments of one delta into s, passing each on to the
 * call's emit_tool when it has one. 0, 2 when emit_tool asked to stop, or -1
 * with res->error_* set.
 */
static int openai_stream_calls(struct openai_stream *s, const json_t *delta, struct ah_result *res)
{
	const json_t *calls = json_object_get(delta, "tool_calls"), *tc, *fn, *idx;
	const char *id, *name, *args;
	struct pjson_call *pc;
	size_t i, at;

	if (!json_is_array(calls))
		return 0;
	json_array_foreach(calls, i, tc)
	{
		idx = json_object_get(tc, "index");
		at = json_is_integer(idx) && json_integer_value(idx) >= 0
		         ? (size_t)json_integer_value(idx)
		         : i;
		pc = pjson_calls_at(&s->calls, at);
		if (pc == NULL)
			return pjson_fail(res, R_upstream_bad_response,
			                  "openai: bad tool call index in the stream");
		fn = pjson_obj(tc, "function");
		id = pjson_str(tc, "id");
		name = pjson_str(fn, "name");
		args = pjson_str(fn, "arguments");
		if (id != NULL && (pc->id.len > 0 || id[0] == '\0'))
			id = NULL; /* the first id stands */
		if ((id != NULL && buf_puts(&pc->id, id) != 0) ||
		    (name != NULL && buf_puts(&pc->name, name) != 0) ||
		    (args != NULL && buf_puts(&pc->args, args) != 0))
			return pjson_fail(res, R_provider_error,
			                  "openai: out of memory reading the stream");
		if (s->call != NULL && s->call->emit_tool != NULL &&
		    s->call->emit_tool(s->call->emit_tool_ctx, at, id, name, args ? args : "",
		                       args ? strlen(args) : 0) != 0)
			return 2;
	}
	return 0;
}

/* One "data:" chunk of a chat.completion.chunk stream; see provider.h for the return values. */
static int openai_stream_event(void *state, const char *event, const char *data, size_t len,
                               ah_emit_fn emit, void *emit_ctx, struct ah_result *res)
{
	struct openai_stream *s = state;
	json_t *root, *choice, *delta;
	const char *piece, *fr, *emsg;
	int rc = 0;

	(void)event;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
		return 1;
	root = pjson_parse(data, len);
	if (!json_is_object(root)) {
		rc = pjson_fail(res, R_upstream_bad_response, "openai: stream chunk is not JSON");
		goto out;
	}
	if ((emsg = pjson_error_message(root)) != NULL) {
		rc = pjson_fail(res, R_upstream_error, "openai upstream error: %s", emsg);
		goto out;
	}
	openai_usage(json_object_get(root, "usage"), &s->usage);
	choice = pjson_first(root, "choices");
	if (choice == NULL)
		goto out;
	fr = pjson_str(choice, "finish_reason");
	if (fr != NULL)
		util_strlcpy(s->finish, fr, sizeof(s->finish));
	delta = pjson_obj(choice, "delta");
	if ((rc = openai_stream_calls(s, delta, res)) != 0)
		goto out;
	piece = pjson_str(delta, "content");
	if (piece == NULL || piece[0] == '\0')
		goto out;
	if (buf_puts(&s->text, piece) != 0) {
		rc = pjson_fail(res, R_provider_error, "openai: out of memory reading the stream");
		goto out;
	}
	if (emit != NULL && emit(emit_ctx, piece, strlen(piece)) != 0)
		rc = 2;
out:
	json_decref(root);
	return rc;
}

/* Hand the gathered text, finish_reason and usage to res; free the state. */
static void openai_stream_end(void *state, struct ah_result *res)
{
	struct openai_stream *s = state;

	if (s == NULL)
		return;
	free(res->text);
	res->text = buf_steal(&s->text);
	if (s->finish[0] != '\0')
		pjson_set_finish(res, s->finish);
	res->usage = s->usage;
	pjson_calls_finish(&s->calls, res);
	free(s);
}

static const struct ah_provider openai_adapter = {
    .abi_version = AH_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct ah_provider),
    .name = "openai",
    .flags = AH_PROVIDER_JSON_OBJECT | AH_PROVIDER_JSON_SCHEMA | AH_PROVIDER_EMBEDDINGS,
    .build_request = openai_build,
    .parse_response = openai_parse,
    .stream_begin = openai_stream_begin,
    .stream_event = openai_stream_event,
    .stream_end = openai_stream_end,
    .parse_error = openai_parse_error,
    .generate = NULL,
};

const struct ah_provider *provider_openai_adapter(void)
{
	return &openai_adapter;
}
