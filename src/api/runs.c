/*
 * runs.c: GET /v1/runs/{id} and GET /v1/runs (keyset pagination).
 *
 * DESIGN
 * Both read through the store with the caller's tenant, so another
 * tenant's run id answers 404 exactly like a missing one. The cursor is
 * the id of the last run of the previous page (opaque to clients); paging
 * by key, never OFFSET, stays fast at any depth.
 */
#include "config.h"

#include <string.h>

#include "api/api.h"
#include "common/util.h"
#include "exec/execute.h"
#include "host/http.h"
#include "store/tools.h"
#include "tenancy/identify.h"

json_t *api_run_json(const struct execution *e)
{
	char cost[32];
	json_t *o, *err = json_null();

	exec_format_usd(e->cost_micros, cost, sizeof(cost));
	if (e->reason_code[0])
		err = json_pack("{s:s, s:s}", "reason_code", e->reason_code, "message",
		                e->error_message ? e->error_message : "");
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:{s:I, s:I, s:I}, s:s, "
	              "s:i, s:s, s:o, s:o, s:I, s:s, s:b}",
	              "id", e->id, "object", "run", "agent", e->agent_name, "status", e->status,
	              "model", e->model, "provider", e->provider, "credential_source",
	              e->cred_source, "input", e->input, "output", e->output, "usage",
	              "prompt_tokens", (json_int_t)e->prompt_tokens, "completion_tokens",
	              (json_int_t)e->completion_tokens, "total_tokens",
	              (json_int_t)(e->prompt_tokens + e->completion_tokens), "cost_usd", cost,
	              "latency_ms", e->latency_ms, "finish_reason", e->finish_reason, "metadata",
	              api_json_from_text(e->metadata), "error", err, "created_at",
	              (json_int_t)e->created_at, "request_id", e->request_id, "stream", e->stream);
	if (o) {
		json_object_set_new(o, "session_id",
		                    e->session_id[0] ? json_string(e->session_id) : json_null());
		json_object_set_new(o, "end_user",
		                    e->end_user[0] ? json_string(e->end_user) : json_null());
		/* what the tenant's guardrails decided (docs/ROUTING.md, Guardrails) */
		json_object_set_new(o, "guardrails",
		                    e->guardrails ? api_json_from_text(e->guardrails)
		                                  : json_null());
	}
	return o;
}

/* run_step_cb: one step as the API shows it. */
static int runs_step_add(void *ctx, const struct run_step *s)
{
	char cost[32];
	json_t *o;

	exec_format_usd(s->cost_micros, cost, sizeof(cost));
	o = json_pack("{s:i, s:s, s:s, s:s, s:{s:I, s:I}, s:s, s:i, s:I}", "step", s->step, "kind",
	              s->kind, "name", s->name, "outcome", s->outcome, "usage", "prompt_tokens",
	              (json_int_t)s->prompt_tokens, "completion_tokens",
	              (json_int_t)s->completion_tokens, "cost_usd", cost, "duration_ms",
	              s->duration_ms, "created_at", (json_int_t)s->created_at);
	if (o == NULL)
		return 1;
	if (s->call_id[0])
		json_object_set_new(o, "tool_call_id", json_string(s->call_id));
	json_object_set_new(o, "error",
	                    s->reason_code[0] ? json_pack("{s:s, s:s}", "reason_code",
	                                                  s->reason_code, "message", s->message)
	                                      : json_null());
	json_array_append_new(ctx, o);
	return 0;
}

json_t *api_run_steps_json(struct req *r, int64_t tenant_id, const char *run_id)
{
	json_t *steps = json_array();

	if (store_run_steps_list(r->store, tenant_id, run_id, runs_step_add, steps) != ST_OK) {
		json_decref(steps);
		return json_null();
	}
	return steps;
}

static int runs_collect(void *ctx, const struct execution *e)
{
	json_t **slot = ctx;

	*slot = api_run_json(e);
	return 0;
}

void api_runs_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *run = NULL;
	int rc;

	if (strncmp(m->params[0], "run_", 4) != 0) {
		resp_error(r, R_not_found, "run not found");
		return;
	}
	rc = store_execution_get(r->store, id->tenant_id, m->params[0], runs_collect, &run);
	if (rc == ST_NOTFOUND || (rc == ST_OK && run == NULL)) {
		resp_error(r, R_not_found, "run not found");
		return;
	}
	if (rc != ST_OK) {
		json_decref(run);
		resp_error(r, R_database_unavailable, "the run store is unavailable");
		return;
	}
	json_object_set_new(run, "steps", api_run_steps_json(r, id->tenant_id, m->params[0]));
	resp_json(r, 200, run);
}

static int runs_append(void *ctx, const struct execution *e)
{
	json_t *data = ctx;

	json_array_append_new(data, api_run_json(e));
	return 0;
}

void api_runs_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	char agent[65], status[16], since[40], cursor[40];
	struct exec_filter f;
	json_t *data, *last;
	int has_more = 0, rc;

	(void)m;
	memset(&f, 0, sizeof(f));
	f.kind = "run";
	if (api_limit(r, 20, 100, &f.limit) < 0)
		return;
	if ((rc = req_query(r, "agent", agent, sizeof(agent))) < 0)
		goto bad_agent;
	if (rc > 0)
		f.agent_name = agent;
	if ((rc = req_query(r, "status", status, sizeof(status))) < 0)
		goto bad_status;
	if (rc > 0) {
		if (strcmp(status, "succeeded") && strcmp(status, "failed") &&
		    strcmp(status, "cancelled") && strcmp(status, "refused"))
			goto bad_status;
		f.status = status;
	}
	if ((rc = req_query(r, "since", since, sizeof(since))) < 0 ||
	    (rc > 0 && util_parse_time(since, &f.since) < 0)) {
		resp_error(r, R_invalid_request,
		           "'since' must be a date (YYYY-MM-DD), an RFC 3339 time or unix seconds");
		return;
	}
	if ((rc = req_query(r, "cursor", cursor, sizeof(cursor))) < 0 ||
	    (rc > 0 && strncmp(cursor, "run_", 4) != 0)) {
		resp_error(r, R_invalid_cursor, "'cursor' is not a cursor from this list");
		return;
	}
	if (rc > 0)
		f.cursor = cursor;
	data = json_array();
	rc = store_execution_list(r->store, id->tenant_id, &f, runs_append, data, &has_more);
	if (rc == ST_NOTFOUND) {
		json_decref(data);
		resp_error(r, R_invalid_cursor, "'cursor' is not a cursor from this list");
		return;
	}
	if (rc != ST_OK) {
		json_decref(data);
		resp_error(r, R_database_unavailable, "the run store is unavailable");
		return;
	}
	last = json_array_size(data) ? json_array_get(data, json_array_size(data) - 1) : NULL;
	resp_json(r, 200,
	          json_pack("{s:s, s:o, s:b, s:O}", "object", "list", "data", data, "has_more",
	                    has_more, "next_cursor",
	                    has_more && last ? json_object_get(last, "id") : json_null()));
	return;
bad_agent:
	resp_error(r, R_invalid_request, "'agent' is not a valid agent name");
	return;
bad_status:
	resp_error(r, R_invalid_request,
	           "'status' must be succeeded, failed, cancelled or refused");
}
