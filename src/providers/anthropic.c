/*
 * anthropic.c: the Anthropic Messages API adapter.
 *
 * DESIGN
 * The Messages API keeps system text out of the message list: every system
 * message is joined (blank line between) into the top-level "system" string,
 * and the rest are sent as user/assistant turns. Stop reasons are mapped to
 * OpenAI's names so the host and the tenant see one vocabulary. Prompt usage
 * counts cache writes and reads too, since they are billed input. Stream
 * events are dispatched on the JSON "type" field (the SSE event name is the
 * same word), so either framing works.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "providers/adapters.h"
#include "providers/pjson.h"

struct anthropic_stream {
	struct buf text;            /* assistant text so far */
	char finish[32];            /* mapped stop_reason, "" until seen */
	struct ah_usage usage;      /* from message_start and message_delta */
	struct pjson_calls calls;   /* tool_use blocks, in order */
	int block_call[128];        /* content block index -> position in calls, -1 for none */
	const struct ah_call *call; /* for its emit_tool (lives for the stream) */
};

/* OpenAI-style finish_reason for an Anthropic stop_reason. */
static const char *anthropic_finish(const char *stop)
{
	static const struct {
		const char *from, *to;
	} map[] = {
	    {"end_turn", "stop"},       {"stop_sequence", "stop"},     {"max_tokens", "length"},
	    {"tool_use", "tool_calls"}, {"refusal", "content_filter"}, {"pause_turn", "stop"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(stop, map[i].from) == 0)
			return map[i].to;
	return "stop";
}

/* Input tokens of a usage object, cache writes and reads included. */
static int64_t anthropic_input(const json_t *usage)
{
	return pjson_int(usage, "input_tokens") + pjson_int(usage, "cache_creation_input_tokens") +
	       pjson_int(usage, "cache_read_input_tokens");
}

/* Add "tools" to body when the call offers any. 0, or -1 with res->error_* set. */
static int anthropic_tools(json_t *body, const struct ah_call *call, struct ah_result *res)
{
	json_t *tools, *schema, *t;
	size_t i;

	if (call->n_tools == 0)
		return 0;
	tools = json_array();
	if (tools == NULL || json_object_set_new(body, "tools", tools) != 0)
		return pjson_fail(res, R_provider_error, "anthropic: out of memory");
	for (i = 0; i < call->n_tools; i++) {
		schema = pjson_tool_schema(&call->tools[i], res);
		if (schema == NULL)
			return -1;
		t = json_pack("{s:s, s:s, s:o}", "name", call->tools[i].name, "description",
		              call->tools[i].description, "input_schema", schema);
		if (t == NULL || json_array_append_new(tools, t) != 0)
			return pjson_fail(res, R_provider_error, "anthropic: out of memory");
	}
	return 0;
}

/*
 * An assistant turn with tool calls: its text (when any) and one tool_use
 * block a call. New reference, or NULL with res->error_* set.
 */
static json_t *anthropic_tool_use(const struct ah_message *msg, struct ah_result *res)
{
	json_t *m, *blocks, *b, *input;
	size_t i;

	blocks = json_array();
	m = json_pack("{s:s, s:o}", "role", "assistant", "content", blocks);
	if (m == NULL)
		goto nomem;
	if (msg->content[0] != '\0') {
		b = json_pack("{s:s, s:s}", "type", "text", "text", msg->content);
		if (b == NULL || json_array_append_new(blocks, b) != 0)
			goto nomem;
	}
	for (i = 0; i < msg->n_tool_calls; i++) {
		input = pjson_call_arguments(&msg->tool_calls[i]);
		if (input == NULL) {
			json_decref(m);
			pjson_fail(res, R_provider_error,
			           "anthropic: the arguments of tool call %s are not a JSON object",
			           msg->tool_calls[i].id);
			return NULL;
		}
		b = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id",
		              msg->tool_calls[i].id, "name", msg->tool_calls[i].name, "input",
		              input);
		if (b == NULL || json_array_append_new(blocks, b) != 0)
			goto nomem;
	}
	return m;
nomem:
	json_decref(m);
	pjson_fail(res, R_provider_error, "anthropic: out of memory");
	return NULL;
}

/*
 * Append a tool result to msgs: into the previous user turn when that one
 * already holds tool results (Anthropic wants all results of a turn in one
 * message), else as a new user turn. 0, or -1 when memory runs out.
 */
static int anthropic_tool_result(json_t *msgs, const struct ah_message *msg, int *prev_results)
{
	json_t *last, *blocks, *b;

	b = json_pack("{s:s, s:s, s:s, s:b}", "type", "tool_result", "tool_use_id",
	              msg->tool_call_id, "content", msg->content, "is_error", msg->tool_error);
	if (b == NULL)
		return -1;
	last = json_array_get(msgs, json_array_size(msgs) - 1);
	if (*prev_results && last != NULL) {
		blocks = json_object_get(last, "content");
		return json_array_append_new(blocks, b);
	}
	last = json_pack("{s:s, s:[o]}", "role", "user", "content", b);
	if (last == NULL || json_array_append_new(msgs, last) != 0)
		return -1;
	*prev_results = 1;
	return 0;
}

/*
 * Add tool_choice: OpenAI's "auto"/"none"/"required"/function become
 * {"type":"auto"|"none"|"any"|"tool"}, and parallel_tool_calls false becomes
 * its disable_parallel_tool_use. 0, or -1 with res->error_* set.
 */
static int anthropic_tool_choice(json_t *body, const struct ah_call *call, struct ah_result *res)
{
	const char *type = "auto";
	json_t *tc;

	if (call->n_tools == 0 || (call->tool_choice == NULL &&
	                           !(call->has_parallel_tool_calls && !call->parallel_tool_calls)))
		return 0;
	if (call->tool_choice == NULL || strcmp(call->tool_choice, "auto") == 0)
		type = "auto";
	else if (strcmp(call->tool_choice, "none") == 0)
		type = "none";
	else if (strcmp(call->tool_choice, "required") == 0)
		type = "any";
	else if (strcmp(call->tool_choice, "function") == 0)
		type = "tool";
	tc = json_pack("{s:s}", "type", type);
	if (tc == NULL || json_object_set_new(body, "tool_choice", tc) != 0)
		goto nomem;
	if (strcmp(type, "tool") == 0 &&
	    json_object_set_new(
	        tc, "name", json_string(call->tool_choice_name ? call->tool_choice_name : "")) != 0)
		goto nomem;
	if (strcmp(type, "none") != 0 && call->has_parallel_tool_calls &&
	    !call->parallel_tool_calls &&
	    json_object_set_new(tc, "disable_parallel_tool_use", json_true()) != 0)
		goto nomem;
	return 0;
nomem:
	return pjson_fail(res, R_provider_error, "anthropic: cannot build tool_choice");
}

/* Build POST {base}/v1/messages. 0, or -1 with res->error_* set. */
static int anthropic_build(const struct ah_call *call, struct ah_http_request *out,
                           struct ah_result *res)
{
	json_t *body = NULL, *msgs, *m;
	struct buf sys = BUF_INIT;
	const char *role;
	size_t i, n_turns = 0;
	int rc = -1, prev_results = 0;

	if (call->model == NULL || call->model[0] == '\0')
		return pjson_fail(res, R_provider_error, "anthropic: a model is required");
	if (pjson_set_url(out, res, "%s/v1/messages", call->base_url) != 0 ||
	    pjson_add_header(out, res, "content-type: application/json") != 0 ||
	    pjson_add_header(out, res, "anthropic-version: 2023-06-01") != 0)
		goto out;
	if (call->api_key != NULL && call->api_key[0] != '\0' &&
	    pjson_add_header(out, res, "x-api-key: %s", call->api_key) != 0)
		goto out;
	if (call->stream && pjson_add_header(out, res, "accept: text/event-stream") != 0)
		goto out;

	body = json_object();
	msgs = json_array();
	if (body == NULL || msgs == NULL || json_object_set_new(body, "messages", msgs) != 0)
		goto nomem;
	for (i = 0; i < call->n_messages; i++) {
		role = call->messages[i].role;
		if (strcmp(role, "system") == 0) {
			if ((sys.len > 0 && buf_puts(&sys, "\n\n") != 0) ||
			    buf_puts(&sys, call->messages[i].content) != 0)
				goto nomem;
			continue;
		}
		n_turns++;
		if (strcmp(role, "tool") == 0) {
			if (anthropic_tool_result(msgs, &call->messages[i], &prev_results) != 0)
				goto nomem;
			continue;
		}
		prev_results = 0;
		if (call->messages[i].n_tool_calls > 0) {
			m = anthropic_tool_use(&call->messages[i], res);
			if (m == NULL)
				goto out;
			if (json_array_append_new(msgs, m) != 0)
				goto nomem;
			continue;
		}
		m = json_pack("{s:s, s:s}", "role",
		              strcmp(role, "assistant") == 0 ? "assistant" : "user", "content",
		              call->messages[i].content);
		if (m == NULL || json_array_append_new(msgs, m) != 0)
			goto nomem;
	}
	if (anthropic_tools(body, call, res) != 0 || anthropic_tool_choice(body, call, res) != 0)
		goto out;
	if (n_turns == 0) {
		rc = pjson_fail(res, R_provider_error,
		                "anthropic: at least one user or assistant message is required");
		goto out;
	}
	if (json_object_set_new(body, "model", json_string(call->model)) != 0 ||
	    json_object_set_new(body, "max_tokens", json_integer(call->max_tokens)) != 0 ||
	    pjson_add_sampling(body, call, "temperature", "top_p") != 0)
		goto nomem;
	if (sys.len > 0 && json_object_set_new(body, "system", json_string(buf_str(&sys))) != 0)
		goto nomem;
	if (call->stream && json_object_set_new(body, "stream", json_true()) != 0)
		goto nomem;
	rc = pjson_set_body(out, body, res);
	goto out;
nomem:
	rc = pjson_fail(res, R_provider_error,
	                "anthropic: cannot build the request (out of memory or invalid UTF-8)");
out:
	buf_free(&sys);
	json_decref(body);
	return rc;
}

/* Parse a whole Messages response (or an error body). 0, or -1 with res->error_* set. */
static int anthropic_parse(const struct ah_call *call, int status, const char *body, size_t len,
                           struct ah_result *res)
{
	json_t *root = NULL, *content, *block, *usage, *input;
	struct buf text = BUF_INIT;
	char *args;
	const char *t, *stop, *emsg;
	size_t i;
	int rc = -1;

	(void)call;
	res->upstream_status = status;
	if (status >= 400)
		return pjson_http_error("anthropic", status, body, len, res);
	root = pjson_parse(body, len);
	if (!json_is_object(root)) {
		rc = pjson_fail(res, R_upstream_bad_response,
		                "anthropic: response is not a JSON object");
		goto out;
	}
	if ((emsg = pjson_error_message(root)) != NULL) {
		rc = pjson_fail(res, R_upstream_error, "anthropic upstream error: %s", emsg);
		goto out;
	}
	content = json_object_get(root, "content");
	if (!json_is_array(content)) {
		rc = pjson_fail(res, R_upstream_bad_response, "anthropic: response has no content");
		goto out;
	}
	json_array_foreach(content, i, block)
	{
		t = pjson_str(block, "type");
		if (t != NULL && strcmp(t, "tool_use") == 0) {
			input = json_object_get(block, "input");
			args = input != NULL ? json_dumps(input, JSON_COMPACT) : NULL;
			if (input != NULL && args == NULL) {
				rc = pjson_fail(res, R_provider_error, "anthropic: out of memory");
				goto out;
			}
			t = pjson_str(block, "name");
			rc = pjson_add_tool_call(res, pjson_str(block, "id"), t, args);
			free(args);
			if (rc != 0)
				goto out;
			rc = -1;
			continue;
		}
		if (t == NULL || strcmp(t, "text") != 0 || (t = pjson_str(block, "text")) == NULL)
			continue;
		if (buf_puts(&text, t) != 0) {
			rc = pjson_fail(res, R_provider_error, "anthropic: out of memory");
			goto out;
		}
	}
	if (pjson_set_text(res, buf_str(&text), text.len) != 0)
		goto out;
	stop = pjson_str(root, "stop_reason");
	pjson_set_finish(res, anthropic_finish(stop != NULL ? stop : "end_turn"));
	usage = pjson_obj(root, "usage");
	if (usage != NULL) {
		res->usage.prompt_tokens = anthropic_input(usage);
		res->usage.completion_tokens = pjson_int(usage, "output_tokens");
		res->usage.have = 1;
	}
	rc = 0;
out:
	buf_free(&text);
	json_decref(root);
	return rc;
}

/* Parse the error body of a failed streamed call. Always -1. */
static int anthropic_parse_error(int status, const char *body, size_t len, struct ah_result *res)
{
	return pjson_http_error("anthropic", status, body, len, res);
}

/* New stream state, or NULL when memory runs out. */
static void *anthropic_stream_begin(const struct ah_call *call)
{
	struct anthropic_stream *s = calloc(1, sizeof(*s));

	size_t i;

	if (s == NULL)
		return NULL;
	s->call = call;
	buf_init(&s->text);
	for (i = 0; i < ARRAY_SIZE(s->block_call); i++)
		s->block_call[i] = -1;
	return s;
}

/* The gathered tool call of content block index, or NULL. */
static struct pjson_call *anthropic_block_call(struct anthropic_stream *s, const json_t *root)
{
	int64_t idx = pjson_int(root, "index");

	if (idx < 0 || idx >= (int64_t)ARRAY_SIZE(s->block_call) || s->block_call[idx] < 0)
		return NULL;
	return &s->calls.v[s->block_call[idx]];
}

/*
 * content_block_start of a tool_use block: start a call, and pass its id and
 * name on to emit_tool. 0, 2 when emit_tool asked to stop, or -1 with
 * res->error_* set.
 */
static int anthropic_stream_tool_start(struct anthropic_stream *s, const json_t *root,
                                       struct ah_result *res)
{
	const json_t *block = pjson_obj(root, "content_block");
	const char *t = pjson_str(block, "type");
	int64_t idx = pjson_int(root, "index");
	struct pjson_call *pc;
	size_t pos = s->calls.n;

	if (t == NULL || strcmp(t, "tool_use") != 0)
		return 0;
	if (idx < 0 || idx >= (int64_t)ARRAY_SIZE(s->block_call))
		return pjson_fail(res, R_upstream_bad_response,
		                  "anthropic: bad content block index in the stream");
	pc = pjson_calls_at(&s->calls, pos);
	if (pc == NULL)
		return pjson_fail(res, R_provider_error, "anthropic: out of memory");
	s->block_call[idx] = (int)pos;
	t = pjson_str(block, "id");
	if (t != NULL && buf_puts(&pc->id, t) != 0)
		return pjson_fail(res, R_provider_error, "anthropic: out of memory");
	t = pjson_str(block, "name");
	if (t != NULL && buf_puts(&pc->name, t) != 0)
		return pjson_fail(res, R_provider_error, "anthropic: out of memory");
	if (s->call != NULL && s->call->emit_tool != NULL &&
	    s->call->emit_tool(s->call->emit_tool_ctx, pos, buf_str(&pc->id), buf_str(&pc->name),
	                       "", 0) != 0)
		return 2;
	return 0;
}

/* Reason code for an in-stream error event's error.type. */
static enum reason anthropic_error_code(const char *type)
{
	if (type == NULL)
		return R_upstream_error;
	if (strcmp(type, "rate_limit_error") == 0)
		return R_upstream_rate_limited;
	if (strcmp(type, "authentication_error") == 0 || strcmp(type, "permission_error") == 0)
		return R_upstream_auth_failed;
	if (strcmp(type, "overloaded_error") == 0)
		return R_upstream_unavailable;
	return R_upstream_error;
}

/* One Messages stream event; see provider.h for the return values. */
static int anthropic_stream_event(void *state, const char *event, const char *data, size_t len,
                                  ah_emit_fn emit, void *emit_ctx, struct ah_result *res)
{
	struct anthropic_stream *s = state;
	struct pjson_call *pc;
	json_t *root, *obj, *usage;
	const char *type, *piece, *stop, *emsg;
	int rc = 0;

	root = pjson_parse(data, len);
	if (!json_is_object(root)) {
		rc =
		    pjson_fail(res, R_upstream_bad_response, "anthropic: stream event is not JSON");
		goto out;
	}
	type = pjson_str(root, "type");
	if (type == NULL)
		type = event;
	if (strcmp(type, "message_start") == 0) {
		usage = pjson_obj(pjson_obj(root, "message"), "usage");
		if (usage != NULL) {
			s->usage.prompt_tokens = anthropic_input(usage);
			s->usage.completion_tokens = pjson_int(usage, "output_tokens");
			s->usage.have = 1;
		}
	} else if (strcmp(type, "content_block_start") == 0) {
		rc = anthropic_stream_tool_start(s, root, res);
	} else if (strcmp(type, "content_block_delta") == 0) {
		obj = pjson_obj(root, "delta");
		piece = pjson_str(obj, "type");
		if (piece != NULL && strcmp(piece, "input_json_delta") == 0) {
			pc = anthropic_block_call(s, root);
			piece = pjson_str(obj, "partial_json");
			if (pc == NULL || piece == NULL)
				rc = pjson_fail(
				    res, R_upstream_bad_response,
				    "anthropic: input_json_delta outside a tool_use block");
			else if (buf_puts(&pc->args, piece) != 0)
				rc = pjson_fail(res, R_provider_error, "anthropic: out of memory");
			else if (s->call != NULL && s->call->emit_tool != NULL &&
			         s->call->emit_tool(s->call->emit_tool_ctx,
			                            (size_t)(pc - s->calls.v), NULL, NULL, piece,
			                            strlen(piece)) != 0)
				rc = 2;
			goto out;
		}
		if (piece == NULL || strcmp(piece, "text_delta") != 0)
			goto out;
		piece = pjson_str(obj, "text");
		if (piece == NULL || piece[0] == '\0')
			goto out;
		if (buf_puts(&s->text, piece) != 0) {
			rc = pjson_fail(res, R_provider_error, "anthropic: out of memory");
			goto out;
		}
		if (emit != NULL && emit(emit_ctx, piece, strlen(piece)) != 0)
			rc = 2;
	} else if (strcmp(type, "message_delta") == 0) {
		stop = pjson_str(pjson_obj(root, "delta"), "stop_reason");
		if (stop != NULL)
			util_strlcpy(s->finish, anthropic_finish(stop), sizeof(s->finish));
		usage = pjson_obj(root, "usage");
		if (usage != NULL) {
			/* output_tokens here is cumulative for the whole message. */
			s->usage.completion_tokens = pjson_int(usage, "output_tokens");
			if (json_object_get(usage, "input_tokens") != NULL)
				s->usage.prompt_tokens = anthropic_input(usage);
			s->usage.have = 1;
		}
	} else if (strcmp(type, "message_stop") == 0) {
		rc = 1;
	} else if (strcmp(type, "error") == 0) {
		obj = pjson_obj(root, "error");
		emsg = pjson_str(obj, "message");
		rc = pjson_fail(res, anthropic_error_code(pjson_str(obj, "type")),
		                "anthropic upstream error: %s", emsg != NULL ? emsg : "unknown");
	}
	/* ping, content_block_stop and new event types need nothing. */
out:
	json_decref(root);
	return rc;
}

/* Hand the gathered text, finish_reason and usage to res; free the state. */
static void anthropic_stream_end(void *state, struct ah_result *res)
{
	struct anthropic_stream *s = state;

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

static const struct ah_provider anthropic_adapter = {
    .abi_version = AH_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct ah_provider),
    .name = "anthropic",
    .flags = 0,
    .build_request = anthropic_build,
    .parse_response = anthropic_parse,
    .stream_begin = anthropic_stream_begin,
    .stream_event = anthropic_stream_event,
    .stream_end = anthropic_stream_end,
    .parse_error = anthropic_parse_error,
    .generate = NULL,
};

const struct ah_provider *provider_anthropic_adapter(void)
{
	return &anthropic_adapter;
}
