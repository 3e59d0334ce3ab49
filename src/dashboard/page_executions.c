/*
 * page_executions.c: the executions list (GET /admin/executions) and one
 * execution (GET /admin/tenants/{tid}/executions/{id}).
 *
 * DESIGN
 * The list is keyset-paginated on seq (newest first, EXEC_PAGE rows, a
 * "before" cursor), one indexed walk per page whatever the table's size. The
 * detail page shows every column except secrets (the execution row holds
 * none: keys appear as ids). The prompt (input) and output are shown to
 * operators and to the tenant's own tenant_admin, never to support, whose
 * role is read-only triage without customer content.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/analytics.h"
#include <jansson.h>

#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/dash_analytics.h"
#include "store/store.h"
#include "store/tools.h"

#define EXEC_PAGE 50

struct exec_list {
	struct page *p;
	int n;
	int64_t last_seq;
};

/* The fields of one execution under the node page_row / page_at chose. */
static void exec_fields(struct page *p, const struct dasha_exec *e)
{
	page_set_i64(p, ".TenantId", e->row.tenant_id);
	page_set(p, ".Tenant", e->tenant_name);
	page_set_i64(p, ".Seq", e->row.seq);
	page_set(p, ".Id", e->row.id);
	page_set(p, ".Kind", e->row.kind);
	page_set_i64(p, ".KeyId", e->row.key_id);
	page_set_i64(p, ".AgentId", e->row.agent_id);
	page_set(p, ".Agent", e->row.agent_name);
	page_set(p, ".SessionId", e->row.session_id);
	page_set(p, ".Model", e->row.model);
	page_set(p, ".Provider", e->row.provider);
	page_set(p, ".CredSource", e->row.cred_source);
	page_set(p, ".Status", e->row.status);
	page_set(p, ".Badge",
	         strcmp(e->row.status, "succeeded") == 0 || strcmp(e->row.status, "ok") == 0 ||
	                 strcmp(e->row.status, "completed") == 0
	             ? "ok"
	         : strcmp(e->row.status, "refused") == 0 ? "warn"
	                                                 : "bad");
	page_set(p, ".ReasonCode", e->row.reason_code);
	page_set_i64(p, ".HttpStatus", e->row.http_status);
	page_set_i64(p, ".Stream", e->row.stream);
	page_set_i64(p, ".CacheHit", e->row.cache_hit);
	page_set_count(p, ".Prompt", e->row.prompt_tokens);
	page_set_count(p, ".Completion", e->row.completion_tokens);
	page_set_count(p, ".Tokens", e->row.prompt_tokens + e->row.completion_tokens);
	page_set_money(p, ".Cost", e->row.cost_micros);
	page_set_count(p, ".Latency", e->row.latency_ms);
	page_set(p, ".RequestId", e->row.request_id);
	page_set(p, ".EndUser", e->row.end_user);
	page_set(p, ".FinishReason", e->row.finish_reason);
	page_set(p, ".Error", e->row.error_message);
	page_set_time(p, ".Created", e->row.created_at);
}

static int exec_list_cb(void *ctx, const struct dasha_exec *e)
{
	struct exec_list *l = ctx;

	if (l->n < EXEC_PAGE) {
		page_row(l->p, "Rows");
		exec_fields(l->p, e);
		l->last_seq = e->row.seq;
	}
	l->n++;
	return 0;
}

/* Read one text filter into out and echo it into Form.<name>; 0, or -1 when malformed. */
static int exec_filter(struct req *r, struct page *p, const char *q, const char *hname, char *out,
                       size_t cap)
{
	char k[32];
	int rc = dash_query(r, q, out, cap);

	if (rc < 0) {
		out[0] = '\0';
		return -1;
	}
	if (rc == 0)
		out[0] = '\0';
	snprintf(k, sizeof(k), "Form.%s", hname);
	page_set(p, k, out);
	return 0;
}

PAGE_FN(page_executions)
{
	struct dasha_exec_filter f;
	struct exec_list l;
	struct page *p;
	int64_t tenant, d;
	int bad = 0;

	(void)id;
	(void)m;
	if ((tenant = dasha_scope(r)) < 0)
		return;
	p = page_new(r, "Executions", "executions");
	page_tenant_choices(r, p, tenant);
	memset(&f, 0, sizeof(f));
	f.tenant_id = tenant;
	f.before = dash_query_id(r, "before");
	f.limit = EXEC_PAGE + 1;
	bad |= exec_filter(r, p, "agent", "Agent", f.agent, sizeof(f.agent));
	bad |= exec_filter(r, p, "model", "Model", f.model, sizeof(f.model));
	bad |= exec_filter(r, p, "status", "Status", f.status, sizeof(f.status));
	bad |= exec_filter(r, p, "reason_code", "ReasonCode", f.reason_code, sizeof(f.reason_code));
	bad |= exec_filter(r, p, "from", "From", f.from, sizeof(f.from));
	bad |= exec_filter(r, p, "to", "To", f.to, sizeof(f.to));
	if (tenant > 0)
		page_set_i64(p, "Form.TenantId", tenant);
	if (bad || (f.from[0] && !dasha_parse_day(f.from, &d)) ||
	    (f.to[0] && !dasha_parse_day(f.to, &d))) {
		page_set(p, "FormError",
		         "Filters are too long, or dates are not written YYYY-MM-DD.");
		page_finish(p, 400, "executions.cs");
		return;
	}
	memset(&l, 0, sizeof(l));
	l.p = p;
	page_store(p, store_dasha_exec_list(r->store, &f, exec_list_cb, &l), NULL);
	if (l.n > EXEC_PAGE)
		page_set_i64(p, "Pager.Before", l.last_seq);
	page_set_i64(p, "Pager.Paged", f.before > 0);
	page_finish(p, 200, "executions.cs");
}

/* One tool-loop step of a run as Exec.Steps.N.* */
static int step_row(void *ctx, const struct run_step *st)
{
	struct page *p = ctx;

	page_row(p, "Exec.Steps");
	page_set_i64(p, ".Step", st->step);
	page_set(p, ".Kind", st->kind);
	page_set(p, ".Name", st->name);
	page_set_count(p, ".Tokens", st->prompt_tokens + st->completion_tokens);
	page_set_money(p, ".Cost", st->cost_micros);
	page_set_i64(p, ".Duration", st->duration_ms);
	page_set(p, ".Outcome", st->outcome);
	page_set(p, ".Reason", st->reason_code);
	page_set(p, ".Message", st->message);
	return 0;
}

/* What the tenant's guardrails decided (JSON array text) as Exec.Guardrails.N.* */
static void guardrail_rows(struct page *p, const char *text)
{
	json_t *arr = text ? json_loads(text, 0, NULL) : NULL, *g;
	size_t i;

	page_set_i64(p, "Exec.HasGuardrails", text != NULL);
	json_array_foreach(arr, i, g)
	{
		page_row(p, "Exec.Guardrails");
		page_set(p, ".Name", json_string_value(json_object_get(g, "name")));
		page_set(p, ".Stage", json_string_value(json_object_get(g, "stage")));
		page_set(p, ".Action", json_string_value(json_object_get(g, "action")));
		page_set(p, ".Reason", json_string_value(json_object_get(g, "reason")));
		page_set_i64(p, ".Ms", json_integer_value(json_object_get(g, "ms")));
	}
	json_decref(arr);
}

PAGE_FN(page_execution)
{
	struct dasha_exec e;
	char *meta = NULL, *input = NULL, *output = NULL, *end;
	long long t = strtoll(m->params[0], &end, 10);
	int content;
	struct page *p;

	(void)id;
	if (*end || t <= 0) {
		dash_not_found(r, "execution");
		return;
	}
	if (!dash_tenant_allowed(r, t))
		return;
	if (!dash_store_ok(
	        r, store_dasha_exec_get(r->store, t, m->params[1], &e, &meta, &input, &output),
	        "execution"))
		return;
	/* support triages without customer content; see docs/DASHBOARD.md */
	content = dash_is_operator() || !dash_is_staff();
	p = page_new(r, "Execution", "executions");
	page_at(p, "Exec");
	exec_fields(p, &e);
	page_set(p, "Exec.Metadata", meta);
	page_set_i64(p, "Exec.ShowContent", content);
	if (content) {
		struct tenant tn;

		page_set(p, "Exec.Input", input);
		page_set(p, "Exec.Output", output);
		/* why a chat completion shows no prompt: the tenant's setting, now */
		if ((input == NULL || output == NULL) &&
		    page_store(p, store_tenant_get(r->store, t, &tn), "tenant"))
			page_set_i64(p, "Exec.LogContent", tn.log_content);
	}
	guardrail_rows(p, e.guardrails);
	free(e.guardrails);
	free(meta);
	free(input);
	free(output);
	page_store(p, store_run_steps_list(r->store, t, e.row.id, step_row, p), NULL);
	page_finish(p, 200, "execution.cs");
}
