/*
 * agents.c: per-tenant agents and their runs.
 *
 *   GET  /v1/agents               list
 *   POST /v1/agents               create {name, model, instructions?, temperature?, max_tokens?,
 *                                 tools?, max_steps?}
 *   GET  /v1/agents/{name}        one
 *   POST /v1/agents/{name}/runs   run {input, session_id?, metadata?, stream?}
 *
 * DESIGN
 * A run is the agent's instructions (as the system message), the session's
 * history when a session is given (newest RUN_HISTORY messages), then the
 * input. A successful run appends the turn to the session atomically; a
 * failed one leaves the session as it was. Streamed runs send named events:
 * run.created, run.output.delta, then run.completed or run.failed (whose
 * data is the run object), then "data: [DONE]". An agent with tools runs
 * through exec/agent_loop.c instead of one exec_run (not streamed: a
 * streamed run of such an agent is refused with tool_streaming_unsupported).
 * An agent's model may be a routed name (an alias or a catalogue model with
 * a route of the tenant or its plan): its model calls then go through
 * exec/route.c like a chat completion's, each with fallbacks, and the answer
 * (or the stream, whose headers go out with its first event) carries
 * X-Agenthost-Target of the attempt that ended the run's last model call.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "enforce/authorize.h"
#include "exec/agent_loop.h"
#include "exec/execute.h"
#include "exec/route.h"
#include "host/http.h"
#include "host/server.h"
#include "tenancy/identify.h"

#define RUN_HISTORY 100
#define RUN_MAX_INPUT (256 * 1024)

/* ------------------------------------------------------------------ agents' tools */

/*
 * Optional "tools" (array of registered tool names) and "max_steps" of a
 * create body into at. 0, or -1 after sending 400/503.
 */
static int agent_tools_parse(struct req *r, json_t *body, struct agent_tools *at)
{
	static __thread struct tool_def t;
	json_t *tools = json_object_get(body, "tools"), *v;
	int64_t steps = 0;
	int has_steps = 0, rc;
	size_t i;

	memset(at, 0, sizeof(*at));
	if (api_int(r, body, "max_steps", 1, AGENT_MAX_STEPS_MAX, &has_steps, &steps) < 0)
		return -1;
	at->max_steps = has_steps ? (int)steps : 0;
	if (tools == NULL || json_is_null(tools))
		return 0;
	if (!json_is_array(tools) || json_array_size(tools) > AGENT_MAX_TOOLS) {
		resp_error(r, R_invalid_request,
		           "'tools' must be an array of at most %d tool names", AGENT_MAX_TOOLS);
		return -1;
	}
	json_array_foreach(tools, i, v)
	{
		const char *name = json_string_value(v);

		if (name == NULL || strlen(name) > TOOL_NAME_MAX) {
			resp_error(r, R_invalid_request, "'tools' must hold tool names");
			return -1;
		}
		rc =
		    valid_name(VALID_TOOL, name) ? store_tool_get(r->store, name, &t) : ST_NOTFOUND;
		if (rc == ST_NOTFOUND) {
			resp_error(r, R_tool_not_found, "there is no tool named '%s'", name);
			return -1;
		}
		if (rc != ST_OK) {
			resp_error(r, R_database_unavailable, "the tool registry is unavailable");
			return -1;
		}
		for (size_t k = 0; k < at->n; k++)
			if (strcmp(at->names[k], name) == 0)
				goto next;
		util_strlcpy(at->names[at->n++], name, sizeof(at->names[0]));
	next:;
	}
	return 0;
}

/* ------------------------------------------------------------------ agents */

struct agents_list_ctx {
	struct store *st;
	json_t *data;
};

static int agents_add(void *ctx, const struct agent *a)
{
	struct agents_list_ctx *lc = ctx;

	json_array_append_new(lc->data, objects_agent(a, NULL));
	return 0;
}

void api_agents_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct agents_list_ctx lc = {r->store, json_array()};

	(void)m;
	if (store_agent_list(r->store, id->tenant_id, agents_add, &lc) != ST_OK) {
		json_decref(lc.data);
		resp_error(r, R_database_unavailable, "the agent store is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", lc.data));
}

void api_agents_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	const char *name, *model, *instructions;
	struct agent *a = calloc(1, sizeof(*a));
	struct agent_tools *at = calloc(1, sizeof(*at));
	struct route_def *rt = malloc(sizeof(*rt));
	struct model md;
	json_t *body;
	int64_t mt = 0;
	int has_mt, rc, routed;

	(void)m;
	body = req_json_object(r);
	if (at == NULL || rt == NULL) {
		if (body)
			resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (body == NULL || a == NULL) {
		if (body)
			resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (api_str(r, body, "name", 1, 64, &name) < 0 ||
	    api_str(r, body, "model", 1, 127, &model) < 0 ||
	    api_str(r, body, "instructions", 0, sizeof(a->instructions) - 1, &instructions) < 0 ||
	    api_num(r, body, "temperature", 0, 2, &a->has_temperature, &a->temperature) < 0 ||
	    api_int(r, body, "max_tokens", 1, 1000000, &has_mt, &mt) < 0)
		goto out;
	if (!valid_name(VALID_AGENT, name)) {
		resp_error(r, R_invalid_request, "'name' must be %s", valid_hint(VALID_AGENT));
		goto out;
	}
	if (agent_tools_parse(r, body, at) < 0)
		goto out;
	/* a routed name (the tenant's or its plan's) is the agent's model as it is */
	routed = valid_name(VALID_MODEL, model) ? route_lookup(r->store, id, model, rt) : 0;
	if (routed < 0) {
		resp_error(r, R_database_unavailable, "the routes are unavailable");
		goto out;
	}
	memset(&md, 0, sizeof(md));
	/* a name outside the rule cannot be in the catalogue */
	rc = routed                           ? ST_OK
	     : valid_name(VALID_MODEL, model) ? store_model_get(r->store, model, &md)
	                                      : ST_NOTFOUND;
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_model_not_found, "the model '%s' does not exist", model);
		goto out;
	}
	if (rc != ST_OK)
		goto unavailable;
	if (!routed && strcmp(md.kind, "chat") != 0) {
		resp_error_param(
		    r, R_invalid_request, "model",
		    "the model '%s' is an embedding model; an agent needs a chat model", model);
		goto out;
	}
	a->tenant_id = id->tenant_id;
	util_strlcpy(a->name, name, sizeof(a->name));
	util_strlcpy(a->model, model, sizeof(a->model));
	util_strlcpy(a->instructions, instructions ? instructions : "", sizeof(a->instructions));
	a->max_tokens = has_mt ? (int)mt : 0;
	rc = store_agent_create(r->store, a, &a->id);
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict, "an agent named '%s' already exists", name);
		goto out;
	}
	if (rc != ST_OK || store_agent_get(r->store, id->tenant_id, a->id, a) != ST_OK)
		goto unavailable;
	if ((at->n > 0 || at->max_steps > 0) &&
	    store_agent_tools_set(r->store, id->tenant_id, a->id, at) != ST_OK)
		goto unavailable;
	resp_json(r, 201, objects_agent_tools(objects_agent(a, routed ? NULL : md.provider), at));
	goto out;
unavailable:
	resp_error(r, R_database_unavailable, "the agent store is unavailable");
out:
	free(rt);
	free(at);
	free(a);
	json_decref(body);
}

/* Load the agent named in the path; -1 after sending 404/503. */
static int agent_load(struct req *r, const struct ident *id, const char *name, struct agent *a)
{
	int rc = valid_name(VALID_AGENT, name)
	             ? store_agent_get_by_name(r->store, id->tenant_id, name, a)
	             : ST_NOTFOUND;

	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "agent not found");
		return -1;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the agent store is unavailable");
		return -1;
	}
	return 0;
}

void api_agents_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct agent *a = malloc(sizeof(*a));
	struct model md;

	if (a == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (agent_load(r, id, m->params[0], a) == 0) {
		struct agent_tools at;

		if (store_agent_tools_get(r->store, id->tenant_id, a->id, &at) != ST_OK)
			resp_error(r, R_database_unavailable, "the agent store is unavailable");
		else
			resp_json(
			    r, 200,
			    objects_agent_tools(
			        objects_agent(a, store_model_get(r->store, a->model, &md) == ST_OK
			                             ? md.provider
			                             : NULL),
			        &at));
	}
	free(a);
}

/* ------------------------------------------------------------------ runs */

struct run_ctx {
	struct req *r;
	struct ah_message *m;
	char **owned;
	size_t n, cap;
	const struct exec_call *call;
	const struct agent *agent;
	int began;
};

static int run_push(struct run_ctx *rc, const char *role, const char *content)
{
	if (rc->n == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 8;
		struct ah_message *m = realloc(rc->m, cap * sizeof(*m));
		char **o;

		if (m == NULL)
			return -1;
		rc->m = m;
		o = realloc(rc->owned, cap * sizeof(*o));
		if (o == NULL)
			return -1;
		rc->owned = o;
		rc->cap = cap;
	}
	rc->owned[rc->n] = strdup(content);
	if (rc->owned[rc->n] == NULL)
		return -1;
	memset(&rc->m[rc->n], 0, sizeof(rc->m[rc->n]));
	rc->m[rc->n].role = strcmp(role, "assistant") == 0 ? "assistant"
	                    : strcmp(role, "system") == 0  ? "system"
	                                                   : "user";
	rc->m[rc->n].content = rc->owned[rc->n];
	rc->n++;
	return 0;
}

static int run_history(void *ctx, const struct message *msg)
{
	return run_push(ctx, msg->role, msg->content);
}

static void run_ctx_free(struct run_ctx *rc)
{
	for (size_t i = 0; i < rc->n; i++)
		free(rc->owned[i]);
	free(rc->owned);
	free(rc->m);
}

static int run_stream_begin(struct run_ctx *rc)
{
	if (rc->began)
		return 0;
	rc->began = 1;
	if (resp_sse_begin(rc->r) < 0)
		return -1;
	return resp_sse_json(rc->r, "run.created",
	                     json_pack("{s:s, s:s, s:s, s:s, s:s?}", "id", rc->call->id, "object",
	                               "run", "agent", rc->agent->name, "status", "running",
	                               "session_id", rc->call->session_id));
}

static int run_emit(void *ctx, const char *text, size_t len)
{
	struct run_ctx *rc = ctx;

	if (server_stopping())
		return 1;
	if (run_stream_begin(rc) < 0)
		return -1;
	return resp_sse_json(rc->r, "run.output.delta",
	                     json_pack("{s:s, s:s%}", "run_id", rc->call->id, "delta", text, len));
}

/* The run as the API shows it, from the call and its outcome. */
static json_t *run_result_json(struct req *r, const struct ident *id, const struct exec_call *call,
                               const struct exec_outcome *o)
{
	struct execution e;

	exec_execution(r, id, call, o, &e);
	return api_run_json(&e);
}

/*
 * A routed run whose last target was refused before exec_run (its model left
 * the catalogue, is not allowed, or its provider is not on this host) has no
 * execution yet: record the run (nothing was admitted or spent, so nothing
 * is rolled up) so that GET /v1/runs/{id} finds the run the error names.
 */
static void run_record_unrun(struct req *r, const struct ident *id, const struct exec_call *call,
                             struct exec_outcome *out)
{
	struct execution e;

	out->created_at = util_unix_time();
	exec_execution(r, id, call, out, &e);
	if (store_run_record(r->store, &e) == ST_OK)
		out->recorded = 1;
	else
		log_error("agents: UNRECORDED run id=%s tenant=%lld status=%s", e.id,
		          (long long)e.tenant_id, e.status);
}

void api_agent_runs_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct agent *a = malloc(sizeof(*a));
	struct agent_tools *at = calloc(1, sizeof(*at));
	struct route_def *rt = malloc(sizeof(*rt));
	struct run_ctx rc;
	struct exec_call call;
	struct exec_outcome out;
	struct session s;
	const char *input = NULL, *session_id = NULL;
	char *metadata = NULL;
	json_t *body = NULL, *run;
	int st, streaming = 0, routed = 0;

	(void)m;
	memset(&rc, 0, sizeof(rc));
	memset(&call, 0, sizeof(call));
	memset(&out, 0, sizeof(out)); /* freed on every path after the model is known */
	if (a == NULL || at == NULL || rt == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (agent_load(r, id, m->params[0], a) < 0)
		goto out;
	if (id->lim && authorize_agent(r, id->lim, a->name) < 0)
		goto out;
	if (store_agent_tools_get(r->store, id->tenant_id, a->id, at) != ST_OK)
		goto unavailable;
	body = req_json_object(r);
	if (body == NULL)
		goto out;
	if (api_str(r, body, "input", 1, RUN_MAX_INPUT, &input) < 0 || api_end_user(r, body) < 0 ||
	    api_str(r, body, "session_id", 0, 39, &session_id) < 0 ||
	    api_object_text(r, body, "metadata", 4000, &metadata) < 0 ||
	    api_bool(r, body, "stream", &call.stream) < 0)
		goto out;
	if (call.stream && at->n > 0) {
		resp_error(r, R_tool_streaming_unsupported,
		           "this agent has tools: runs with tools are not streamed; send "
		           "\"stream\": false");
		goto out;
	}
	if (session_id) {
		st = store_session_get(r->store, id->tenant_id, session_id, &s);
		if (st == ST_NOTFOUND) {
			resp_error(r, R_not_found, "session not found");
			goto out;
		}
		if (st != ST_OK)
			goto unavailable;
		if (s.agent_id && s.agent_id != a->id) {
			resp_error(r, R_session_agent_mismatch,
			           "this session belongs to another agent");
			goto out;
		}
	}
	if (a->instructions[0] && run_push(&rc, "system", a->instructions) < 0)
		goto oom;
	if (session_id && store_session_messages(r->store, id->tenant_id, session_id, RUN_HISTORY,
	                                         run_history, &rc) != ST_OK)
		goto unavailable;
	if (run_push(&rc, "user", input) < 0)
		goto oom;

	call.kind = "run";
	call.model = a->model;
	call.messages = rc.m;
	call.n_messages = rc.n;
	call.agent = a;
	call.session_id = session_id;
	call.metadata = metadata;
	call.input = input;
	/* a route of the agent's model name takes its model calls over (exec/route.h) */
	routed = route_lookup(r->store, id, a->model, rt);
	if (routed < 0) {
		resp_error(r, R_database_unavailable, "the routes are unavailable");
		goto out;
	}
	/* (a route's targets are chat models of the catalogue: route_check_models) */
	if (routed) /* the run's model until a target serves (a run ended before any) */
		util_strlcpy(out.model.name, a->model, sizeof(out.model.name));
	if (!routed && exec_resolve(r, id, a->model, &out) < 0)
		goto out;
	if (!routed && strcmp(out.model.kind, "chat") != 0) {
		resp_error_param(
		    r, R_invalid_request, "model",
		    "the agent's model '%s' is an embedding model; give it a chat model",
		    out.model.name);
		exec_outcome_free(&out);
		goto out;
	}
	exec_prepare(&call);
	rc.r = r;
	rc.call = &call;
	rc.agent = a;
	if (call.stream) {
		if (server_stream_acquire() < 0) {
			resp_error(r, R_server_busy,
			           "too many streams in progress on this server; retry shortly");
			goto out;
		}
		streaming = 1;
		call.emit = run_emit;
		call.emit_ctx = &rc;
	}
	if (at->n > 0)
		agent_loop_run(r, id, &call, at, routed ? rt : NULL, &out);
	else if (routed && route_run(r, id, &call, rt, &out, NULL, NULL, NULL) < 0 &&
	         out.created_at == 0)
		run_record_unrun(r, id, &call, &out);
	else if (!routed)
		exec_run(r, id, &call, &out);
	if (out.ok && session_id &&
	    store_session_append_turn(r->store, id->tenant_id, session_id,
	                              out.input_redacted ? out.input_redacted : input,
	                              out.res.text ? out.res.text : "", call.id) != ST_OK) {
		exec_fail(&out, R_database_unavailable,
		          "the run succeeded but the session could not be updated");
	}
	run = run_result_json(r, id, &call, &out);
	/* with tools, or routed: the steps (a routed run's attempts when it fell over) */
	if (run && (at->n > 0 || routed))
		json_object_set_new(run, "steps", api_run_steps_json(r, id->tenant_id, call.id));
	if (call.stream && (out.ok || rc.began)) {
		if (run_stream_begin(&rc) == 0) {
			if (!out.ok)
				resp_note_reason(r, out.err.reason);
			resp_sse_json(r, out.ok ? "run.completed" : "run.failed", run);
			resp_sse_send(r, NULL, "[DONE]", 6);
		} else {
			json_decref(run);
		}
	} else if (out.ok) {
		resp_json(r, 200, run);
	} else {
		json_t *err = resp_error_object(r, &out.err);

		json_object_set_new(json_object_get(err, "error"), "run_id", json_string(call.id));
		json_object_set_new(err, "run", run);
		resp_refusal_body(r, &out.err, err);
	}
	exec_outcome_free(&out);
	goto out;
oom:
	resp_error(r, R_server_busy, "out of memory");
	goto out;
unavailable:
	resp_error(r, R_database_unavailable, "the store is unavailable");
out:
	if (streaming)
		server_stream_release();
	run_ctx_free(&rc);
	free(metadata);
	free(rt);
	free(at);
	free(a);
	json_decref(body);
}
