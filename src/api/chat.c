/*
 * chat.c: POST /v1/chat/completions, OpenAI-compatible.
 *
 * DESIGN
 * The request is validated field by field (a tenant id in the body is
 * ignored: the tenant is the key's). Content given as an array of parts is
 * flattened to its text parts. Streaming is lazy: the SSE header goes out
 * with the first token, so a call that fails before producing anything
 * still gets a proper HTTP error status; after that, an error is sent as a
 * `data: {"error":...}` event (what OpenAI's clients raise on) followed by
 * `data: [DONE]`. With stream_options.include_usage the last chunk before
 * [DONE] carries usage with empty choices, as OpenAI does.
 *
 * Tool calling is passed through: the caller's tools, tool_choice,
 * parallel_tool_calls and response_format go to the adapter (provider.h),
 * assistant tool_calls and tool messages are checked (a tool message must
 * answer an earlier call, whose tool name Gemini needs) and the model's
 * calls come back as message.tool_calls, or streamed as delta.tool_calls
 * pieces as the adapter passes them (emit_tool), any call it did not pass
 * being sent whole before the finish chunk. Errors name their field (param).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/buf.h"
#include "common/util.h"
#include "common/valid.h"
#include "exec/execute.h"
#include "exec/rcache.h"
#include "exec/route.h"
#include "host/http.h"
#include "host/server.h"
#include "providers/registry.h"
#include "tenancy/identify.h"

#define CHAT_MAX_MESSAGES 1024
#define CHAT_MAX_TOOLS 128 /* tools offered, and tool calls of one assistant message */
#define CHAT_PARAM 128     /* room for any param we name (a refusal keeps 63 bytes) */

/* The conversation and tools of one request; strings point into the body or owned[]. */
struct chat_msgs {
	struct ah_message *m;
	char **owned;                /* flattened contents to free, one per message */
	struct ah_tool_call **calls; /* each assistant message's tool calls (array to free) */
	size_t n;
	struct ah_tool *tools;
	char **params; /* each tool's parameters schema, serialised */
	size_t n_tools;
	char *schema; /* response_format's json_schema.schema, serialised */
};

static void chat_msgs_free(struct chat_msgs *cm)
{
	for (size_t i = 0; i < cm->n; i++) {
		free(cm->owned[i]);
		free(cm->calls[i]);
	}
	for (size_t i = 0; i < cm->n_tools; i++)
		free(cm->params[i]);
	free(cm->owned);
	free(cm->calls);
	free(cm->m);
	free(cm->tools);
	free(cm->params);
	free(cm->schema);
}

static const char *chat_role(const char *role)
{
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return "system";
	if (strcmp(role, "user") == 0)
		return "user";
	if (strcmp(role, "assistant") == 0)
		return "assistant";
	if (strcmp(role, "tool") == 0)
		return "tool";
	return NULL;
}

/* Flatten a content value (string or array of parts) into a new string; NULL when invalid. */
static char *chat_content(json_t *c)
{
	struct buf b = BUF_INIT;
	size_t i;
	json_t *part;

	if (json_is_string(c))
		return strdup(json_string_value(c));
	if (c == NULL || json_is_null(c))
		return strdup("");
	if (!json_is_array(c))
		return NULL;
	json_array_foreach(c, i, part)
	{
		json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");

		if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 ||
		    !json_is_string(text)) {
			buf_free(&b);
			return NULL;
		}
		if (b.len && buf_putc(&b, '\n') < 0)
			goto oom;
		if (buf_puts(&b, json_string_value(text)) < 0)
			goto oom;
	}
	return buf_steal(&b);
oom:
	buf_free(&b);
	return NULL;
}

/* v as a non-empty string without NUL of at most max bytes, else NULL. */
static const char *chat_text(json_t *v, size_t max)
{
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/*
 * An assistant message's tool_calls ([{id, type "function", function {name,
 * arguments}}]) into cm->calls[i] and m. 0, or -1 after a 400 naming the field.
 */
static int chat_parse_calls(struct req *r, struct chat_msgs *cm, size_t i, json_t *arr)
{
	char param[CHAT_PARAM];
	struct ah_tool_call *tc;
	json_t *c, *fn, *type;
	size_t j, n;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || (n = json_array_size(arr)) > CHAT_MAX_TOOLS) {
		snprintf(param, sizeof(param), "messages[%zu].tool_calls", i);
		resp_error_param(r, R_invalid_request, param,
		                 "'%s' must be an array of at most %d calls", param,
		                 CHAT_MAX_TOOLS);
		return -1;
	}
	if (n == 0)
		return 0;
	cm->calls[i] = tc = calloc(n, sizeof(*tc));
	if (tc == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return -1;
	}
	json_array_foreach(arr, j, c)
	{
		fn = json_object_get(c, "function");
		type = json_object_get(c, "type");
		snprintf(param, sizeof(param), "messages[%zu].tool_calls[%zu]", i, j);
		if (!json_is_object(c) || !json_is_object(fn) ||
		    (type != NULL &&
		     !(json_is_string(type) && strcmp(json_string_value(type), "function") == 0))) {
			resp_error_param(
			    r, R_invalid_request, param,
			    "'%s' must be {\"id\", \"type\": \"function\", \"function\": "
			    "{\"name\", \"arguments\"}}",
			    param);
			return -1;
		}
		tc[j].id = (char *)chat_text(json_object_get(c, "id"), 128);
		tc[j].name = (char *)chat_text(json_object_get(fn, "name"), 64);
		tc[j].arguments = (char *)chat_text(json_object_get(fn, "arguments"), 1 << 20);
		if (tc[j].id == NULL) {
			snprintf(param, sizeof(param), "messages[%zu].tool_calls[%zu].id", i, j);
			resp_error_param(r, R_invalid_request, param,
			                 "'%s' must be a non-empty string", param);
			return -1;
		}
		if (tc[j].name == NULL || !valid_name(VALID_TOOL, tc[j].name)) {
			snprintf(param, sizeof(param),
			         "messages[%zu].tool_calls[%zu].function.name", i, j);
			resp_error_param(r, R_invalid_request, param, "'%s' must be %s", param,
			                 valid_hint(VALID_TOOL));
			return -1;
		}
		if (tc[j].arguments == NULL) /* "" is what some clients send for no arguments */
			tc[j].arguments = "{}";
	}
	cm->m[i].tool_calls = tc;
	cm->m[i].n_tool_calls = n;
	return 0;
}

/*
 * A tool message: tool_call_id must name a call of an earlier assistant
 * message, whose tool name the adapters need (Gemini answers by name).
 * 0, or -1 after a 400.
 */
static int chat_parse_tool_msg(struct req *r, struct chat_msgs *cm, size_t i, json_t *msg)
{
	const char *id = chat_text(json_object_get(msg, "tool_call_id"), 128);
	char param[CHAT_PARAM];
	size_t k, j;

	snprintf(param, sizeof(param), "messages[%zu].tool_call_id", i);
	if (id == NULL) {
		resp_error_param(r, R_invalid_request, param,
		                 "'%s' is required in a message of role 'tool'", param);
		return -1;
	}
	for (k = i; k > 0; k--)
		for (j = 0; j < cm->m[k - 1].n_tool_calls; j++)
			if (strcmp(cm->m[k - 1].tool_calls[j].id, id) == 0) {
				cm->m[i].tool_call_id = id;
				cm->m[i].tool_name = cm->m[k - 1].tool_calls[j].name;
				return 0;
			}
	resp_error_param(r, R_invalid_request, param,
	                 "'%s' ('%.64s') answers no tool call of an earlier assistant message",
	                 param, id);
	return -1;
}

static int chat_parse_messages(struct req *r, json_t *body, struct chat_msgs *cm)
{
	json_t *arr = json_object_get(body, "messages"), *msg;
	char param[CHAT_PARAM];
	size_t i, n;

	if (!json_is_array(arr) || (n = json_array_size(arr)) == 0) {
		resp_error_param(r, R_invalid_request, "messages",
		                 "'messages' must be a non-empty array");
		return -1;
	}
	if (n > CHAT_MAX_MESSAGES) {
		resp_error_param(r, R_invalid_request, "messages",
		                 "'messages' has more than %d entries", CHAT_MAX_MESSAGES);
		return -1;
	}
	cm->m = calloc(n, sizeof(*cm->m));
	cm->owned = calloc(n, sizeof(*cm->owned));
	cm->calls = calloc(n, sizeof(*cm->calls));
	if (cm->m == NULL || cm->owned == NULL || cm->calls == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return -1;
	}
	json_array_foreach(arr, i, msg)
	{
		json_t *role = json_object_get(msg, "role");
		const char *rl;

		cm->n = i + 1;
		if (!json_is_object(msg) || !json_is_string(role) ||
		    (rl = chat_role(json_string_value(role))) == NULL) {
			snprintf(param, sizeof(param), "messages[%zu].role", i);
			resp_error_param(r, R_invalid_request, param,
			                 "%s must be system, developer, user, assistant or tool",
			                 param);
			return -1;
		}
		cm->owned[i] = chat_content(json_object_get(msg, "content"));
		if (cm->owned[i] == NULL) {
			snprintf(param, sizeof(param), "messages[%zu].content", i);
			resp_error_param(r, R_invalid_request, param,
			                 "%s must be a string or an array of text parts", param);
			return -1;
		}
		cm->m[i].role = rl;
		cm->m[i].content = cm->owned[i];
		if (strcmp(rl, "assistant") == 0 &&
		    chat_parse_calls(r, cm, i, json_object_get(msg, "tool_calls")) < 0)
			return -1;
		if (strcmp(rl, "tool") == 0 && chat_parse_tool_msg(r, cm, i, msg) < 0)
			return -1;
	}
	return 0;
}

/*
 * tools: [{"type": "function", "function": {"name", "description",
 * "parameters"}}] into cm->tools. 0, or -1 after a 400.
 */
static int chat_parse_tools(struct req *r, json_t *body, struct chat_msgs *cm)
{
	json_t *arr = json_object_get(body, "tools"), *t, *fn, *type, *desc, *params;
	char param[CHAT_PARAM];
	size_t i, j, n;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || (n = json_array_size(arr)) > CHAT_MAX_TOOLS) {
		resp_error_param(r, R_invalid_request, "tools",
		                 "'tools' must be an array of at most %d tools", CHAT_MAX_TOOLS);
		return -1;
	}
	if (n == 0)
		return 0;
	cm->tools = calloc(n, sizeof(*cm->tools));
	cm->params = calloc(n, sizeof(*cm->params));
	if (cm->tools == NULL || cm->params == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return -1;
	}
	json_array_foreach(arr, i, t)
	{
		struct ah_tool *at = &cm->tools[i];

		fn = json_object_get(t, "function");
		type = json_object_get(t, "type");
		snprintf(param, sizeof(param), "tools[%zu]", i);
		if (!json_is_object(t) || !json_is_object(fn) || !json_is_string(type) ||
		    strcmp(json_string_value(type), "function") != 0) {
			resp_error_param(
			    r, R_invalid_request, param,
			    "'%s' must be {\"type\": \"function\", \"function\": {...}} "
			    "(only function tools are supported)",
			    param);
			return -1;
		}
		at->name = chat_text(json_object_get(fn, "name"), 64);
		if (at->name == NULL || !valid_name(VALID_TOOL, at->name)) {
			snprintf(param, sizeof(param), "tools[%zu].function.name", i);
			resp_error_param(r, R_invalid_request, param, "'%s' must be %s", param,
			                 valid_hint(VALID_TOOL));
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(cm->tools[j].name, at->name) == 0) {
				snprintf(param, sizeof(param), "tools[%zu].function.name", i);
				resp_error_param(r, R_invalid_request, param,
				                 "the tool '%s' is offered twice", at->name);
				return -1;
			}
		desc = json_object_get(fn, "description");
		at->description = json_is_string(desc) ? json_string_value(desc) : "";
		if (desc != NULL && !json_is_null(desc) &&
		    (!json_is_string(desc) ||
		     strlen(at->description) != json_string_length(desc))) {
			snprintf(param, sizeof(param), "tools[%zu].function.description", i);
			resp_error_param(r, R_invalid_request, param, "'%s' must be a string",
			                 param);
			return -1;
		}
		params = json_object_get(fn, "parameters");
		if (params != NULL && !json_is_null(params) && !json_is_object(params)) {
			snprintf(param, sizeof(param), "tools[%zu].function.parameters", i);
			resp_error_param(r, R_invalid_request, param,
			                 "'%s' must be a JSON schema object", param);
			return -1;
		}
		cm->params[i] = json_is_object(params)
		                    ? json_dumps(params, JSON_COMPACT)
		                    : strdup("{\"type\":\"object\",\"properties\":{}}");
		cm->n_tools = i + 1;
		if (cm->params[i] == NULL) {
			resp_error(r, R_server_busy, "out of memory");
			return -1;
		}
		at->parameters = cm->params[i];
	}
	return 0;
}

/* tool_choice and parallel_tool_calls into call. 0, or -1 after a 400. */
static int chat_parse_choice(struct req *r, json_t *body, const struct chat_msgs *cm,
                             struct exec_call *call)
{
	json_t *tc = json_object_get(body, "tool_choice");
	const char *s = NULL, *name = NULL;
	size_t i;

	if (json_object_get(body, "functions") || json_object_get(body, "function_call")) {
		resp_error_param(r, R_invalid_request, "functions",
		                 "'functions' and 'function_call' are replaced by 'tools' and "
		                 "'tool_choice'");
		return -1;
	}
	if (api_bool(r, body, "parallel_tool_calls", &call->parallel_tool_calls) < 0)
		return -1;
	call->has_parallel_tool_calls =
	    json_is_boolean(json_object_get(body, "parallel_tool_calls"));
	if (tc == NULL || json_is_null(tc))
		return 0;
	if (json_is_string(tc)) {
		s = json_string_value(tc);
		if (strcmp(s, "auto") != 0 && strcmp(s, "none") != 0 && strcmp(s, "required") != 0)
			s = NULL;
	} else if (json_is_object(tc) && json_is_string(json_object_get(tc, "type")) &&
	           strcmp(json_string_value(json_object_get(tc, "type")), "function") == 0) {
		name = chat_text(json_object_get(json_object_get(tc, "function"), "name"), 64);
		s = name ? "function" : NULL;
	}
	if (s == NULL) {
		resp_error_param(r, R_invalid_request, "tool_choice",
		                 "'tool_choice' must be \"auto\", \"none\", \"required\" or "
		                 "{\"type\": \"function\", \"function\": {\"name\"}}");
		return -1;
	}
	if (cm->n_tools == 0 && strcmp(s, "auto") != 0 && strcmp(s, "none") != 0) {
		resp_error_param(r, R_invalid_request, "tool_choice",
		                 "'tool_choice' %s needs 'tools'", s);
		return -1;
	}
	if (name != NULL) {
		for (i = 0; i < cm->n_tools && strcmp(cm->tools[i].name, name) != 0; i++)
			;
		if (i == cm->n_tools) {
			resp_error_param(r, R_invalid_request, "tool_choice",
			                 "'tool_choice' names '%.64s', which is not among 'tools'",
			                 name);
			return -1;
		}
	}
	call->tool_choice = s;
	call->tool_choice_name = name;
	return 0;
}

/*
 * response_format: {"type": "text" | "json_object" | "json_schema",
 * "json_schema": {"name", "schema", "strict"}} into call. 0, or -1 after a 400.
 */
static int chat_parse_format(struct req *r, json_t *body, struct chat_msgs *cm,
                             struct exec_call *call)
{
	json_t *rf = json_object_get(body, "response_format"), *js, *schema, *strict;
	const char *type;

	if (rf == NULL || json_is_null(rf))
		return 0;
	type = json_is_object(rf) ? chat_text(json_object_get(rf, "type"), 32) : NULL;
	if (type == NULL || (strcmp(type, "text") != 0 && strcmp(type, "json_object") != 0 &&
	                     strcmp(type, "json_schema") != 0)) {
		resp_error_param(r, R_invalid_request, "response_format",
		                 "'response_format' must be {\"type\": \"text\"}, {\"type\": "
		                 "\"json_object\"} or {\"type\": \"json_schema\", \"json_schema\": "
		                 "{...}}");
		return -1;
	}
	if (strcmp(type, "text") == 0)
		return 0;
	call->response_format = type;
	if (strcmp(type, "json_object") == 0)
		return 0;
	js = json_object_get(rf, "json_schema");
	call->response_schema_name = chat_text(json_object_get(js, "name"), 64);
	if (!json_is_object(js) || call->response_schema_name == NULL ||
	    !valid_name(VALID_TOOL, call->response_schema_name)) {
		resp_error_param(r, R_invalid_request, "response_format.json_schema.name",
		                 "'response_format.json_schema.name' must be %s",
		                 valid_hint(VALID_TOOL));
		return -1;
	}
	schema = json_object_get(js, "schema");
	strict = json_object_get(js, "strict");
	if ((schema != NULL && !json_is_null(schema) && !json_is_object(schema)) ||
	    (strict != NULL && !json_is_null(strict) && !json_is_boolean(strict))) {
		resp_error_param(
		    r, R_invalid_request, "response_format.json_schema",
		    "'response_format.json_schema' needs 'schema' as a JSON schema object "
		    "and 'strict' as true or false");
		return -1;
	}
	cm->schema = json_is_object(schema) ? json_dumps(schema, JSON_COMPACT) : strdup("{}");
	if (cm->schema == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return -1;
	}
	call->response_schema = cm->schema;
	call->response_schema_strict = json_is_true(strict);
	return 0;
}

/* 0 when the model's adapter honours call's response_format, else -1 after a 400. */
static int chat_check_format(struct req *r, const struct exec_call *call,
                             const struct exec_outcome *out)
{
	const struct provider_instance *inst = registry_find(out->model.provider);
	uint32_t need;

	if (call->response_format == NULL || inst == NULL)
		return 0;
	need = strcmp(call->response_format, "json_schema") == 0 ? AH_PROVIDER_JSON_SCHEMA
	                                                         : AH_PROVIDER_JSON_OBJECT;
	if (inst->adapter->flags & need)
		return 0;
	resp_error_param(r, R_invalid_request, "response_format",
	                 "the model '%s' (provider '%s') does not support response_format '%s'",
	                 out->model.name, out->model.provider, call->response_format);
	return -1;
}

/*
 * The OpenAI form of n of the model's tool calls from the first:
 * [{id, type, function {name, arguments}}], each with its "index" for a
 * stream delta (stream). New reference, NULL when memory runs out.
 */
static json_t *chat_tool_calls(const struct ah_result *res, size_t first, size_t n, int stream)
{
	json_t *arr = json_array(), *c;

	for (size_t i = first; arr != NULL && i < first + n && i < res->n_tool_calls; i++) {
		c = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", res->tool_calls[i].id, "type",
		              "function", "function", "name", res->tool_calls[i].name, "arguments",
		              res->tool_calls[i].arguments);
		if (c != NULL && stream &&
		    json_object_set_new(c, "index", json_integer((json_int_t)i)) != 0) {
			json_decref(c);
			c = NULL;
		}
		if (c == NULL || json_array_append_new(arr, c) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* The answer as an assistant message; content is null when it holds only tool calls. */
static json_t *chat_message(const struct ah_result *res)
{
	const char *text = res->text ? res->text : "";
	json_t *m;

	if (res->n_tool_calls == 0)
		return json_pack("{s:s, s:s}", "role", "assistant", "content", text);
	m = json_pack("{s:s, s:s?, s:o*}", "role", "assistant", "content", text[0] ? text : NULL,
	              "tool_calls", chat_tool_calls(res, 0, res->n_tool_calls, 0));
	return m;
}

#define CHAT_STREAMED_CALLS 128 /* tool calls followed as they stream (upstream indexes) */

struct chat_stream {
	struct req *r;
	const char *id;
	const char *model;
	int64_t created;
	int began;
	/* Per tool call index: 1 streamed (its id and name went out first), -1 left for the
	 * end (its first fragment had no id or name), 0 not seen; and argument bytes sent. */
	signed char call_state[CHAT_STREAMED_CALLS];
	size_t call_sent[CHAT_STREAMED_CALLS];
};

static json_t *chat_chunk(const struct chat_stream *cs, json_t *delta, const char *finish)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}", "id", cs->id, "object",
	                 "chat.completion.chunk", "created", (json_int_t)cs->created, "model",
	                 cs->model, "choices", "index", 0, "delta", delta, "finish_reason", finish);
}

static int chat_stream_begin(struct chat_stream *cs)
{
	if (cs->began)
		return 0;
	cs->began = 1;
	if (resp_sse_begin(cs->r) < 0)
		return -1;
	return resp_sse_json(
	    cs->r, NULL,
	    chat_chunk(cs, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL));
}

static int chat_emit(void *ctx, const char *text, size_t len)
{
	struct chat_stream *cs = ctx;

	if (server_stopping())
		return 1;
	if (chat_stream_begin(cs) < 0)
		return -1;
	return resp_sse_json(cs->r, NULL,
	                     chat_chunk(cs, json_pack("{s:s%}", "content", text, len), NULL));
}

/*
 * ah_tool_emit_fn: a tool call fragment as a chunk with one delta.tool_calls
 * entry, OpenAI's way: the first with index, id, type and name, the rest
 * with index and an arguments piece. A call whose first fragment lacks its
 * id or name is left to chat_finish_stream, which sends it whole.
 */
static int chat_emit_tool(void *ctx, size_t index, const char *id, const char *name,
                          const char *args, size_t len)
{
	struct chat_stream *cs = ctx;
	json_t *tc;

	if (server_stopping())
		return 1;
	if (index >= CHAT_STREAMED_CALLS || cs->call_state[index] < 0)
		return 0;
	if (cs->call_state[index] == 0) {
		if (id == NULL || id[0] == '\0' || name == NULL || name[0] == '\0') {
			cs->call_state[index] = -1;
			return 0;
		}
		cs->call_state[index] = 1;
		tc = json_pack("{s:I, s:s, s:s, s:{s:s, s:s%}}", "index", (json_int_t)index, "id",
		               id, "type", "function", "function", "name", name, "arguments", args,
		               len);
	} else if (len == 0) {
		return 0;
	} else {
		tc = json_pack("{s:I, s:{s:s%}}", "index", (json_int_t)index, "function",
		               "arguments", args, len);
	}
	cs->call_sent[index] += len;
	if (chat_stream_begin(cs) < 0)
		return -1;
	return resp_sse_json(cs->r, NULL,
	                     chat_chunk(cs, json_pack("{s:[o*]}", "tool_calls", tc), NULL));
}

static json_t *chat_usage(const struct exec_outcome *o)
{
	return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)o->res.usage.prompt_tokens,
	                 "completion_tokens", (json_int_t)o->res.usage.completion_tokens,
	                 "total_tokens",
	                 (json_int_t)(o->res.usage.prompt_tokens + o->res.usage.completion_tokens));
}

static void chat_finish_stream(struct chat_stream *cs, const struct exec_outcome *o,
                               int include_usage)
{
	struct req *r = cs->r;
	json_t *calls;

	if (o->ok) {
		if (chat_stream_begin(cs) < 0)
			return;
		/*
		 * Calls streamed as they came are complete (but for arguments the upstream never
		 * sent, which the adapter made "{}"); every other call goes out whole now.
		 */
		for (size_t i = 0; i < o->res.n_tool_calls; i++) {
			const char *args = o->res.tool_calls[i].arguments;

			if (i < CHAT_STREAMED_CALLS && cs->call_state[i] > 0) {
				if (cs->call_sent[i] > 0 || args[0] == '\0')
					continue;
				calls = json_pack("[{s:I, s:{s:s}}]", "index", (json_int_t)i,
				                  "function", "arguments", args);
			} else {
				calls = chat_tool_calls(&o->res, i, 1, 1);
			}
			if (resp_sse_json(
			        r, NULL,
			        chat_chunk(cs, json_pack("{s:o*}", "tool_calls", calls), NULL)) < 0)
				return;
		}
		resp_sse_json(r, NULL,
		              chat_chunk(cs, json_object(),
		                         o->res.finish_reason[0] ? o->res.finish_reason : "stop"));
		if (include_usage)
			resp_sse_json(r, NULL,
			              json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", cs->id,
			                        "object", "chat.completion.chunk", "created",
			                        (json_int_t)cs->created, "model", cs->model,
			                        "choices", "usage", chat_usage(o)));
	} else {
		resp_note_reason(r, o->err.reason);
		resp_sse_json(r, NULL, resp_error_object(r, &o->err));
	}
	resp_sse_send(r, NULL, "[DONE]", 6);
}

void api_chat_completions(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *so;
	struct chat_msgs cm = {0};
	struct exec_call call;
	struct exec_outcome out;
	struct chat_stream cs;
	struct rcache rc;
	struct route_def rt;
	const char *model;
	char *metadata = NULL, *input = NULL;
	int64_t n = 1, mt = 0, mct = 0;
	int has, has_mt = 0, has_mct = 0, include_usage = 0, streaming = 0, routed;

	(void)m;
	memset(&call, 0, sizeof(call));
	memset(&out, 0, sizeof(out)); /* freed on every path, a routed call's too */
	body = req_json_object(r);
	if (body == NULL)
		return;
	if (api_str(r, body, "model", 1, 127, &model) < 0 ||
	    api_num(r, body, "temperature", 0, 2, &call.has_temperature, &call.temperature) < 0 ||
	    api_num(r, body, "top_p", 0, 1, &call.has_top_p, &call.top_p) < 0 ||
	    api_int(r, body, "max_tokens", 1, 1000000, &has_mt, &mt) < 0 ||
	    api_int(r, body, "max_completion_tokens", 1, 1000000, &has_mct, &mct) < 0 ||
	    api_int(r, body, "n", 1, 1, &has, &n) < 0 ||
	    api_bool(r, body, "stream", &call.stream) < 0 ||
	    api_object_text(r, body, "metadata", 4000, &metadata) < 0 || api_end_user(r, body) < 0)
		goto out;
	so = json_object_get(body, "stream_options");
	if (so && !json_is_null(so)) {
		if (!json_is_object(so) || api_bool(r, so, "include_usage", &include_usage) < 0) {
			if (!r->headers_sent)
				resp_error(r, R_invalid_request,
				           "'stream_options' must be an object");
			goto out;
		}
	}
	if (chat_parse_messages(r, body, &cm) < 0 || chat_parse_tools(r, body, &cm) < 0 ||
	    chat_parse_choice(r, body, &cm, &call) < 0 ||
	    chat_parse_format(r, body, &cm, &call) < 0)
		goto out;
	call.kind = "chat";
	call.model = model;
	call.messages = cm.m;
	call.n_messages = cm.n;
	call.tools = cm.tools;
	call.n_tools = cm.n_tools;
	call.max_tokens = has_mct ? (int)mct : has_mt ? (int)mt : 0;
	call.metadata =
	    metadata;          /* recorded with the execution; "user"/"department" feed showback */
	if (id->log_content) { /* the tenant records prompts and answers (API.md, log_content) */
		char *msgs = json_dumps(json_object_get(body, "messages"), JSON_COMPACT);

		input =
		    msgs ? util_utf8_cut_dup(msgs, (size_t)r->conf->log_content_max_bytes) : NULL;
		free(msgs);
		call.input = input;
		call.output_max = (size_t)r->conf->log_content_max_bytes;
	}
	/* a route of the name (the tenant's or its plan's) takes the call over (exec/route.h) */
	routed = route_lookup(r->store, id, model, &rt);
	if (routed < 0) {
		resp_error(r, R_database_unavailable, "the routes are unavailable");
		goto out;
	}
	if (routed) {
		if (route_check_format(r, &call, &rt) < 0)
			goto out;
	} else {
		if (exec_resolve(r, id, model, &out) < 0)
			goto out;
		if (strcmp(out.model.kind, "embedding") == 0) {
			resp_error_param(
			    r, R_invalid_request, "model",
			    "the model '%s' is an embedding model (use /v1/embeddings)",
			    out.model.name);
			exec_outcome_free(&out);
			goto out;
		}
		if (chat_check_format(r, &call, &out) < 0) {
			exec_outcome_free(&out);
			goto out;
		}
	}
	if (rcache_plan(r, id, body, &rc) < 0) {
		exec_outcome_free(&out);
		goto out;
	}
	call.cache = rc.state ? &rc : NULL; /* the response cache (exec/rcache.h) */
	exec_prepare(&call);
	memset(&cs, 0, sizeof(cs));
	cs.r = r;
	cs.id = call.id;
	cs.model = routed ? model : out.model.name;
	cs.created = util_unix_time();
	if (call.stream) {
		if (server_stream_acquire() < 0) {
			resp_error(r, R_server_busy,
			           "too many streams in progress on this server; retry shortly");
			goto out;
		}
		streaming = 1;
		call.emit = chat_emit;
		call.emit_ctx = &cs;
		call.emit_tool = chat_emit_tool;
		call.emit_tool_ctx = &cs;
	}
	if (routed)
		route_run(r, id, &call, &rt, &out, &cs.model, NULL, NULL);
	else
		exec_run(r, id, &call, &out);
	if (call.stream && (out.ok || cs.began)) {
		chat_finish_stream(&cs, &out, include_usage);
	} else if (!out.ok) {
		resp_refusal(r, &out.err);
	} else {
		resp_json(r, 200,
		          json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s}], s:o}", "id", call.id,
		                    "object", "chat.completion", "created",
		                    (json_int_t)out.created_at, "model", out.model.name, "choices",
		                    "index", 0, "message", chat_message(&out.res), "finish_reason",
		                    out.res.finish_reason[0] ? out.res.finish_reason : "stop",
		                    "usage", chat_usage(&out)));
	}
	exec_outcome_free(&out);
out:
	if (streaming)
		server_stream_release();
	chat_msgs_free(&cm);
	free(metadata);
	free(input);
	json_decref(body);
}
