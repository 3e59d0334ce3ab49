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
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/buf.h"
#include "common/util.h"
#include "exec/execute.h"
#include "host/http.h"
#include "host/server.h"
#include "tenancy/identify.h"

#define CHAT_MAX_MESSAGES 1024

struct chat_msgs {
	struct ah_message *m;
	char **owned; /* flattened contents to free */
	size_t n;
};

static void chat_msgs_free(struct chat_msgs *cm)
{
	for (size_t i = 0; i < cm->n; i++)
		free(cm->owned[i]);
	free(cm->owned);
	free(cm->m);
}

static const char *chat_role(const char *role)
{
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return "system";
	if (strcmp(role, "user") == 0)
		return "user";
	if (strcmp(role, "assistant") == 0)
		return "assistant";
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
	if (json_is_null(c))
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

static int chat_parse_messages(struct req *r, json_t *body, struct chat_msgs *cm)
{
	json_t *arr = json_object_get(body, "messages"), *msg;
	size_t i, n;

	memset(cm, 0, sizeof(*cm));
	if (!json_is_array(arr) || (n = json_array_size(arr)) == 0) {
		resp_error(r, R_invalid_request, "'messages' must be a non-empty array");
		return -1;
	}
	if (n > CHAT_MAX_MESSAGES) {
		resp_error(r, R_invalid_request, "'messages' has more than %d entries",
		           CHAT_MAX_MESSAGES);
		return -1;
	}
	cm->m = calloc(n, sizeof(*cm->m));
	cm->owned = calloc(n, sizeof(*cm->owned));
	if (cm->m == NULL || cm->owned == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return -1;
	}
	json_array_foreach(arr, i, msg)
	{
		json_t *role = json_object_get(msg, "role");
		const char *rl;

		if (!json_is_object(msg) || !json_is_string(role) ||
		    (rl = chat_role(json_string_value(role))) == NULL) {
			resp_error(
			    r, R_invalid_request,
			    "messages[%zu].role must be system, developer, user or assistant", i);
			return -1;
		}
		cm->owned[i] = chat_content(json_object_get(msg, "content"));
		if (cm->owned[i] == NULL) {
			resp_error(
			    r, R_invalid_request,
			    "messages[%zu].content must be a string or an array of text parts", i);
			return -1;
		}
		cm->n = i + 1;
		cm->m[i].role = rl;
		cm->m[i].content = cm->owned[i];
	}
	return 0;
}

struct chat_stream {
	struct req *r;
	const char *id;
	const char *model;
	int64_t created;
	int began;
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

	if (o->ok) {
		if (chat_stream_begin(cs) < 0)
			return;
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
	const char *model;
	char *metadata = NULL;
	int64_t n = 1, mt = 0, mct = 0;
	int has, has_mt = 0, has_mct = 0, include_usage = 0, streaming = 0;

	(void)m;
	memset(&call, 0, sizeof(call));
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
	if (chat_parse_messages(r, body, &cm) < 0)
		goto out;
	call.kind = "chat";
	call.model = model;
	call.messages = cm.m;
	call.n_messages = cm.n;
	call.max_tokens = has_mct ? (int)mct : has_mt ? (int)mt : 0;
	call.metadata =
	    metadata; /* recorded with the execution; "user"/"department" feed showback */
	if (exec_resolve(r, id, model, &out) < 0)
		goto out;
	exec_prepare(&call);
	memset(&cs, 0, sizeof(cs));
	cs.r = r;
	cs.id = call.id;
	cs.model = out.model.name;
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
	}
	exec_run(r, id, &call, &out);
	if (call.stream && (out.ok || cs.began)) {
		chat_finish_stream(&cs, &out, include_usage);
	} else if (!out.ok) {
		resp_refusal(r, &out.err);
	} else {
		resp_json(r, 200,
		          json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:o}", "id",
		                    call.id, "object", "chat.completion", "created",
		                    (json_int_t)out.created_at, "model", out.model.name, "choices",
		                    "index", 0, "message", "role", "assistant", "content",
		                    out.res.text ? out.res.text : "", "finish_reason",
		                    out.res.finish_reason[0] ? out.res.finish_reason : "stop",
		                    "usage", chat_usage(&out)));
	}
	exec_outcome_free(&out);
out:
	if (streaming)
		server_stream_release();
	chat_msgs_free(&cm);
	free(metadata);
	json_decref(body);
}
