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
#include "dashboard/cs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/analytics.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/dash_analytics.h"
#include "store/store.h"
#include "store/tools.h"

#define EXEC_PAGE 50

struct exec_list {
	HDF *hdf;
	int n, failed;
	int64_t last_seq;
};

/* Set prefix.* for one execution. */
static int exec_fields(HDF *hdf, const char *prefix, const struct dasha_exec *e)
{
	char k[96];
	int rc = 0;

#define SETK(field, fn, x) (snprintf(k, sizeof(k), "%s.%s", prefix, field), rc |= fn(hdf, k, x))
	SETK("TenantId", dash_set_i64, e->row.tenant_id);
	SETK("Tenant", dash_set, e->tenant_name);
	SETK("Seq", dash_set_i64, e->row.seq);
	SETK("Id", dash_set, e->row.id);
	SETK("Kind", dash_set, e->row.kind);
	SETK("KeyId", dash_set_i64, e->row.key_id);
	SETK("AgentId", dash_set_i64, e->row.agent_id);
	SETK("Agent", dash_set, e->row.agent_name);
	SETK("SessionId", dash_set, e->row.session_id);
	SETK("Model", dash_set, e->row.model);
	SETK("Provider", dash_set, e->row.provider);
	SETK("CredSource", dash_set, e->row.cred_source);
	SETK("Status", dash_set, e->row.status);
	SETK("Badge", dash_set,
	     strcmp(e->row.status, "succeeded") == 0 || strcmp(e->row.status, "ok") == 0 ||
	             strcmp(e->row.status, "completed") == 0
	         ? "ok"
	     : strcmp(e->row.status, "refused") == 0 ? "warn"
	                                             : "bad");
	SETK("ReasonCode", dash_set, e->row.reason_code);
	SETK("HttpStatus", dash_set_i64, e->row.http_status);
	SETK("Stream", dash_set_i64, e->row.stream);
	SETK("Prompt", dash_set_count, e->row.prompt_tokens);
	SETK("Completion", dash_set_count, e->row.completion_tokens);
	SETK("Tokens", dash_set_count, e->row.prompt_tokens + e->row.completion_tokens);
	SETK("Cost", dash_set_money, e->row.cost_micros);
	SETK("Latency", dash_set_count, e->row.latency_ms);
	SETK("RequestId", dash_set, e->row.request_id);
	SETK("FinishReason", dash_set, e->row.finish_reason);
	SETK("Error", dash_set, e->row.error_message);
	SETK("Created", dash_set_time, e->row.created_at);
#undef SETK
	return rc ? -1 : 0;
}

static int exec_list_cb(void *ctx, const struct dasha_exec *e)
{
	struct exec_list *l = ctx;
	char prefix[32];

	if (l->n < EXEC_PAGE) {
		snprintf(prefix, sizeof(prefix), "Rows.%d", l->n);
		if (exec_fields(l->hdf, prefix, e) < 0)
			l->failed = 1;
		l->last_seq = e->row.seq;
	}
	l->n++;
	return 0;
}

/* Read one text filter into out and echo it into Form.<name>; 0, or -1 when malformed. */
static int exec_filter(struct req *r, HDF *hdf, const char *q, const char *hname, char *out,
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
	dash_set(hdf, k, out);
	return 0;
}

PAGE_FN(page_executions)
{
	struct dasha_exec_filter f;
	struct exec_list l;
	int64_t tenant, d;
	int bad = 0;
	HDF *hdf;

	(void)id;
	(void)m;
	if ((tenant = dasha_scope(r)) < 0)
		return;
	if ((hdf = dash_page_new(r)) == NULL) {
		dash_error(r, 500, "Out of memory.");
		return;
	}
	memset(&f, 0, sizeof(f));
	f.tenant_id = tenant;
	f.before = dash_query_id(r, "before");
	f.limit = EXEC_PAGE + 1;
	bad |= exec_filter(r, hdf, "agent", "Agent", f.agent, sizeof(f.agent));
	bad |= exec_filter(r, hdf, "model", "Model", f.model, sizeof(f.model));
	bad |= exec_filter(r, hdf, "status", "Status", f.status, sizeof(f.status));
	bad |=
	    exec_filter(r, hdf, "reason_code", "ReasonCode", f.reason_code, sizeof(f.reason_code));
	bad |= exec_filter(r, hdf, "from", "From", f.from, sizeof(f.from));
	bad |= exec_filter(r, hdf, "to", "To", f.to, sizeof(f.to));
	if (tenant > 0)
		dash_set_i64(hdf, "Form.TenantId", tenant);
	if (bad || (f.from[0] && !dasha_parse_day(f.from, &d)) ||
	    (f.to[0] && !dasha_parse_day(f.to, &d))) {
		dash_set(hdf, "FormError",
		         "Filters are too long, or dates are not written YYYY-MM-DD.");
		dash_set(hdf, "Page.Title", "Executions");
		dash_set(hdf, "Page.Nav", "executions");
		dash_render(r, 400, hdf, "executions.cs");
		return;
	}
	memset(&l, 0, sizeof(l));
	l.hdf = hdf;
	if (store_dasha_exec_list(r->store, &f, exec_list_cb, &l) != ST_OK) {
		hdf_destroy(&hdf);
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	if (l.n > EXEC_PAGE)
		dash_set_i64(hdf, "Pager.Before", l.last_seq);
	dash_set_i64(hdf, "Pager.Paged", f.before > 0);
	if (l.failed || dash_set(hdf, "Page.Title", "Executions") < 0 ||
	    dash_set(hdf, "Page.Nav", "executions") < 0) {
		hdf_destroy(&hdf);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	dash_render(r, 200, hdf, "executions.cs");
}

struct steps_fill {
	HDF *hdf;
	int n, failed;
};

/* One tool-loop step of a run as Exec.Steps.N.* */
static int step_row(void *ctx, const struct run_step *st)
{
	struct steps_fill *f = ctx;
	char k[64];

#define SET(field, fn, v)                                                                          \
	(snprintf(k, sizeof(k), "Exec.Steps.%d." field, f->n), f->failed |= fn(f->hdf, k, v))
	SET("Step", dash_set_i64, st->step);
	SET("Kind", dash_set, st->kind);
	SET("Name", dash_set, st->name);
	SET("Tokens", dash_set_count, st->prompt_tokens + st->completion_tokens);
	SET("Cost", dash_set_money, st->cost_micros);
	SET("Duration", dash_set_i64, st->duration_ms);
	SET("Outcome", dash_set, st->outcome);
	SET("Reason", dash_set, st->reason_code);
	SET("Message", dash_set, st->message);
#undef SET
	f->n++;
	return 0;
}

PAGE_FN(page_execution)
{
	struct steps_fill steps = {0};
	struct dasha_exec e;
	char *meta = NULL, *input = NULL, *output = NULL, *end;
	long long t = strtoll(m->params[0], &end, 10);
	int rc, content;
	HDF *hdf;

	(void)id;
	if (*end || t <= 0) {
		dash_error(r, 404, "No such execution.");
		return;
	}
	if (!dash_tenant_allowed(r, t))
		return;
	rc = store_dasha_exec_get(r->store, t, m->params[1], &e, &meta, &input, &output);
	if (rc == ST_NOTFOUND) {
		dash_error(r, 404, "No such execution.");
		return;
	}
	if (rc != ST_OK) {
		dash_error(r, 503, "The database is not available; try again shortly.");
		return;
	}
	/* support triages without customer content; see docs/DASHBOARD.md */
	content = dash_is_operator() || !dash_is_staff();
	if ((hdf = dash_page_new(r)) == NULL || exec_fields(hdf, "Exec", &e) < 0 ||
	    dash_set(hdf, "Exec.Metadata", meta ? meta : "") < 0 ||
	    dash_set_i64(hdf, "Exec.ShowContent", content) < 0 ||
	    (content && (dash_set(hdf, "Exec.Input", input ? input : "") < 0 ||
	                 dash_set(hdf, "Exec.Output", output ? output : "") < 0)) ||
	    (steps.hdf = hdf, store_run_steps_list(r->store, t, e.row.id, step_row, &steps)) !=
	        ST_OK ||
	    steps.failed || dash_set(hdf, "Page.Title", "Execution") < 0 ||
	    dash_set(hdf, "Page.Nav", "executions") < 0) {
		if (hdf)
			hdf_destroy(&hdf);
		free(meta);
		free(input);
		free(output);
		dash_error(r, 500, "The page could not be built.");
		return;
	}
	free(meta);
	free(input);
	free(output);
	dash_render(r, 200, hdf, "execution.cs");
}
