/*
 * agent_loop.c: model step, tool steps, repeat (see agent_loop.h).
 *
 * DESIGN
 * The conversation grows in one array of struct ah_message; every string
 * and tool-call array it points at is remembered in an ownership list and
 * freed at the end. Tool secrets are opened only for the call that needs
 * them, into buffers wiped right after the tool ran.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "enforce/limits.h"
#include "exec/agent_loop.h"
#include "host/http.h"
#include "providers/registry.h"
#include "tenancy/identify.h"
#include "tools/policy.h"
#include "tools/runner.h"

/* One run's state. */
struct loop {
	struct req *r;
	const struct ident *id;
	const struct exec_call *call;
	const struct route_def *rt; /* the route of the agent's model name, or NULL */
	struct ah_message *m;       /* the conversation so far */
	size_t n, cap;
	void **own; /* everything m points at that the loop allocated */
	size_t nown, capown;
	struct tool_def *defs; /* the agent's registered tools */
	size_t ndefs;
	struct ah_tool *offer; /* the tools offered to the model */
	size_t noffer;
	const char *allowed; /* the tenant's allowed_tools */
	int step;            /* number of the last recorded step */
};

/* Remember p for the end (freed with free()); -1 (and p freed) when out of memory. */
static int loop_own(struct loop *L, void *p)
{
	if (p == NULL)
		return -1;
	if (L->nown == L->capown) {
		size_t cap = L->capown ? L->capown * 2 : 32;
		void **o = realloc(L->own, cap * sizeof(*o));

		if (o == NULL) {
			free(p);
			return -1;
		}
		L->own = o;
		L->capown = cap;
	}
	L->own[L->nown++] = p;
	return 0;
}

/* Append a zeroed message; NULL when out of memory. */
static struct ah_message *loop_push(struct loop *L)
{
	if (L->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 16;
		struct ah_message *m = realloc(L->m, cap * sizeof(*m));

		if (m == NULL)
			return NULL;
		L->m = m;
		L->cap = cap;
	}
	memset(&L->m[L->n], 0, sizeof(L->m[L->n]));
	return &L->m[L->n++];
}

static void loop_free(struct loop *L)
{
	for (size_t i = 0; i < L->nown; i++)
		free(L->own[i]);
	free(L->own);
	free(L->m);
	free(L->defs);
	free(L->offer);
}

/* The registered tool of that name among the agent's, or NULL. */
static const struct tool_def *loop_find(const struct loop *L, const char *name)
{
	for (size_t i = 0; i < L->ndefs; i++)
		if (strcmp(L->defs[i].name, name) == 0)
			return &L->defs[i];
	return NULL;
}

/* Record one step (a failure to record is logged: the run goes on). */
static void loop_record(struct loop *L, struct run_step *s)
{
	s->tenant_id = L->id->tenant_id;
	util_strlcpy(s->run_id, L->call->id, sizeof(s->run_id));
	s->step = ++L->step;
	if (store_run_step_insert(L->r->store, s) != ST_OK)
		log_error("agent_loop: run %s: step %d (%s %s) was not recorded", s->run_id,
		          s->step, s->kind, s->name);
}

/* route_step_fn: one attempt of a routed model step, recorded as the run's next step. */
static void loop_attempt(void *ctx, struct run_step *s)
{
	loop_record(ctx, s);
}

/*
 * The idempotency key of a mutating tool call at step: hex BLAKE2b-128 of
 * (tenant, agent, base, step) where base is the request's Idempotency-Key
 * or else the run id. out >= 33 bytes.
 */
static void loop_idem_key(const struct loop *L, int step, char *out, size_t cap)
{
	static const char domain[] = "agenthost:tool-idempotency:v1";
	const char *hdr = req_header(L->r, "Idempotency-Key");
	const char *base = hdr != NULL && hdr[0] != '\0' ? hdr : L->call->id;
	crypto_generichash_state h;
	uint8_t d[16], num[8];
	uint64_t v, blen = strlen(base);

	crypto_generichash_init(&h, NULL, 0, sizeof(d));
	crypto_generichash_update(&h, (const uint8_t *)domain, sizeof(domain));
	for (int k = 0; k < 4; k++) {
		v = k == 0   ? (uint64_t)L->id->tenant_id
		    : k == 1 ? (uint64_t)(L->call->agent ? L->call->agent->id : 0)
		    : k == 2 ? blen
		             : (uint64_t)step;
		for (int i = 0; i < 8; i++)
			num[i] = (uint8_t)(v >> (8 * i));
		crypto_generichash_update(&h, num, sizeof(num));
		if (k == 2)
			crypto_generichash_update(&h, (const uint8_t *)base, blen);
	}
	crypto_generichash_final(&h, d, sizeof(d));
	sodium_bin2hex(out, cap, d, sizeof(d));
}

/* The tenant's opened secrets for one call. */
struct loop_secrets {
	const struct tool_def *t;
	int64_t tenant_id;
	struct tool_env env[TOOL_RUNNER_MAX_ENV];
	char *val[TOOL_RUNNER_MAX_ENV];
	char names[TOOL_RUNNER_MAX_ENV][TOOL_NAME_MAX + 1];
	size_t n;
	int broken; /* a stored value did not open */
};

/* tool_secret_cb: open one sealed value if the tool (still) declares its name. */
static int loop_secret_open(void *ctx, const char *tool, const char *name,
                            const struct sealed_cred *c)
{
	struct loop_secrets *ls = ctx;
	char *v;

	if (!tool_policy_listed(ls->t->secret_names, name) || ls->n == TOOL_RUNNER_MAX_ENV ||
	    !tool_runner_env_name_ok(name))
		return 0;
	v = malloc(SECRETS_MAX_PLAIN + 1);
	if (v == NULL)
		return 0;
	if (secrets_open_tool(ls->tenant_id, tool, name, c->version, c->nonce, c->ct, c->ct_len, v,
	                      SECRETS_MAX_PLAIN + 1) < 0) {
		log_error("agent_loop: tenant %lld: the stored secret %s of tool %s does not open",
		          (long long)ls->tenant_id, name, tool);
		sodium_memzero(v, SECRETS_MAX_PLAIN + 1);
		free(v);
		ls->broken = 1;
		return 0;
	}
	util_strlcpy(ls->names[ls->n], name, sizeof(ls->names[ls->n]));
	ls->val[ls->n] = v;
	ls->env[ls->n].name = ls->names[ls->n];
	ls->env[ls->n].value = v;
	ls->n++;
	return 0;
}

static void loop_secrets_wipe(struct loop_secrets *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		sodium_memzero(ls->val[i], SECRETS_MAX_PLAIN + 1);
		free(ls->val[i]);
	}
	ls->n = 0;
}

/* The tool-error text fed back to the model: {"error": {"reason_code", "message"}}. */
static char *loop_error_json(const char *code, const char *message)
{
	json_t *o = json_pack("{s:{s:s, s:s}}", "error", "reason_code", code, "message", message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

/*
 * Run the tool call tc into s (outcome, reason) and return the content of
 * the tool message (malloc'd; *is_error set), NULL when out of memory.
 */
static char *loop_tool_call(struct loop *L, const struct ah_tool_call *tc, struct run_step *s,
                            int *is_error)
{
	static __thread struct loop_secrets ls;
	const struct tool_def *t = loop_find(L, tc->name);
	struct tool_run_spec spec;
	struct tool_run_result res;
	json_t *args = NULL, *schema = NULL, *input = NULL;
	json_error_t jerr;
	char verr[256], idem[33], *in_text = NULL, *content = NULL;

	*is_error = 1;
	if (t == NULL || !t->enabled || !tool_policy_listed(L->allowed, tc->name)) {
		util_strlcpy(s->outcome, "refused", sizeof(s->outcome));
		util_strlcpy(s->reason_code, reason_name(R_tool_not_allowed),
		             sizeof(s->reason_code));
		snprintf(s->message, sizeof(s->message),
		         "the tool '%.64s' is not available to this agent", tc->name);
		goto refuse;
	}
	args = json_loads(tc->arguments ? tc->arguments : "", JSON_REJECT_DUPLICATES, &jerr);
	schema = json_loads(t->schema, 0, &jerr);
	if (schema == NULL)
		log_error("agent_loop: tool %s: the registered schema does not parse", t->name);
	verr[0] = '\0';
	if (args == NULL || !json_is_object(args))
		util_strlcpy(verr, "$: the arguments must be a JSON object", sizeof(verr));
	else if (schema == NULL)
		util_strlcpy(verr, "$: the tool's schema is unusable", sizeof(verr));
	else
		tool_policy_validate(schema, args, verr, sizeof(verr));
	if (verr[0] != '\0') {
		util_strlcpy(s->outcome, "refused", sizeof(s->outcome));
		util_strlcpy(s->reason_code, reason_name(R_tool_arguments_invalid),
		             sizeof(s->reason_code));
		snprintf(s->message, sizeof(s->message), "invalid arguments for '%s': %s", t->name,
		         verr);
		goto refuse;
	}

	input =
	    json_pack("{s:s, s:s, s:s, s:i, s:O}", "tool", t->name, "call_id", tc->id ? tc->id : "",
	              "run_id", L->call->id, "step", L->step + 1, "arguments", args);
	in_text = input ? json_dumps(input, JSON_COMPACT) : NULL;
	if (in_text == NULL)
		goto oom;
	memset(&ls, 0, sizeof(ls));
	ls.t = t;
	ls.tenant_id = L->id->tenant_id;
	if (t->secret_names[0] != '\0' &&
	    store_tool_secrets_sealed(L->r->store, L->id->tenant_id, t->name, loop_secret_open,
	                              &ls) != ST_OK) {
		loop_secrets_wipe(&ls);
		util_strlcpy(s->outcome, "failed", sizeof(s->outcome));
		util_strlcpy(s->reason_code, reason_name(R_database_unavailable),
		             sizeof(s->reason_code));
		util_strlcpy(s->message, "the tool's secrets could not be read",
		             sizeof(s->message));
		goto refuse;
	}
	memset(&spec, 0, sizeof(spec));
	spec.exec_path = t->exec_path;
	spec.tool = t->name;
	spec.tenant_id = L->id->tenant_id;
	spec.run_id = L->call->id;
	if (t->mutating) {
		loop_idem_key(L, L->step + 1, idem, sizeof(idem));
		spec.idempotency_key = idem;
	}
	spec.secrets = ls.env;
	spec.n_secrets = ls.n;
	spec.input = in_text;
	spec.input_len = strlen(in_text);
	spec.timeout_ms = t->timeout_ms;
	spec.max_output = (size_t)t->max_output_bytes;
	tool_runner_run(&spec, &res);
	loop_secrets_wipe(&ls);
	s->duration_ms = res.duration_ms;
	if (res.ok) {
		util_strlcpy(s->outcome, "succeeded", sizeof(s->outcome));
		content = res.output;
		res.output = NULL;
		*is_error = 0;
	} else {
		util_strlcpy(s->outcome, "failed", sizeof(s->outcome));
		util_strlcpy(s->reason_code, reason_name(res.err.reason), sizeof(s->reason_code));
		util_strlcpy(s->message, res.err.message, sizeof(s->message));
		content = loop_error_json(s->reason_code, s->message);
	}
	tool_run_result_free(&res);
	goto out;
refuse:
	content = loop_error_json(s->reason_code, s->message);
	goto out;
oom:
	content = NULL;
out:
	free(in_text);
	json_decref(input);
	json_decref(args);
	json_decref(schema);
	return content;
}

/* Load the agent's tools and decide which are offered. 0, or -1 when the store failed. */
static int loop_load_tools(struct loop *L, const struct agent_tools *at)
{
	int rc;

	L->defs = calloc(at->n ? at->n : 1, sizeof(*L->defs));
	L->offer = calloc(at->n ? at->n : 1, sizeof(*L->offer));
	if (L->defs == NULL || L->offer == NULL)
		return -1;
	for (size_t i = 0; i < at->n; i++) {
		struct tool_def *t = &L->defs[L->ndefs];

		rc = store_tool_get(L->r->store, at->names[i], t);
		if (rc == ST_NOTFOUND)
			continue;
		if (rc != ST_OK)
			return -1;
		L->ndefs++;
		if (!t->enabled || !tool_policy_listed(L->allowed, t->name))
			continue;
		L->offer[L->noffer].name = t->name;
		L->offer[L->noffer].description = t->description;
		L->offer[L->noffer].parameters = t->schema;
		L->noffer++;
	}
	return 0;
}

/*
 * One model step: call, record, add its usage to out. Returns 1 when the
 * model asked for tools (their calls appended to the conversation), 0 when
 * the run ended (out says how), -1 out of memory.
 */
static int loop_model(struct loop *L, int last, int max_steps, struct exec_outcome *out)
{
	struct exec_call sc = *L->call;
	struct exec_outcome so;
	struct run_step s;
	struct ah_message *am;
	int rc = 0;

	sc.kind = "step";
	util_random_id("stp_", sc.id, sizeof(sc.id));
	sc.messages = L->m;
	sc.n_messages = L->n;
	sc.stream = 0;
	sc.emit = NULL;
	sc.emit_ctx = NULL;
	sc.input = NULL;
	sc.metadata = NULL;
	sc.tools = L->offer;
	sc.n_tools = L->noffer;
	memset(&so, 0, sizeof(so));
	if (L->rt != NULL) {
		/* every attempt is a step (loop_attempt); the run's model is the last served */
		route_run(L->r, L->id, &sc, L->rt, &so, NULL, loop_attempt, L);
		if (so.model.name[0])
			out->model = so.model;
	} else {
		so.model = out->model;
		exec_run(L->r, L->id, &sc, &so);

		memset(&s, 0, sizeof(s));
		util_strlcpy(s.kind, "model", sizeof(s.kind));
		util_strlcpy(s.name, out->model.name, sizeof(s.name));
		util_strlcpy(s.exec_id, sc.id, sizeof(s.exec_id));
		s.prompt_tokens = so.res.usage.prompt_tokens;
		s.completion_tokens = so.res.usage.completion_tokens;
		s.cost_micros = so.cost_micros;
		s.duration_ms = so.latency_ms;
		util_strlcpy(s.outcome, exec_status_name(&so), sizeof(s.outcome));
		if (!so.ok) {
			util_strlcpy(s.reason_code, reason_name(so.err.reason),
			             sizeof(s.reason_code));
			util_strlcpy(s.message, so.err.message, sizeof(s.message));
		}
		loop_record(L, &s);
	}

	out->res.usage.prompt_tokens += so.res.usage.prompt_tokens;
	out->res.usage.completion_tokens += so.res.usage.completion_tokens;
	out->res.usage.have = 1;
	out->cost_micros += so.cost_micros;
	if (so.cred_source[0])
		util_strlcpy(out->cred_source, so.cred_source, sizeof(out->cred_source));
	util_strlcpy(out->res.finish_reason, so.res.finish_reason, sizeof(out->res.finish_reason));

	if (!so.ok) {
		/* The step's refusal ends the run as it is, Retry-After included. */
		out->ok = 0;
		out->err = so.err;
		out->refused = so.refused;
		goto out;
	}
	if (so.res.n_tool_calls == 0) {
		out->ok = 1;
		free(out->res.text);
		out->res.text = so.res.text;
		so.res.text = NULL;
		if (out->res.text == NULL)
			out->res.text = strdup("");
		goto out;
	}
	if (last) {
		exec_fail(out, R_max_steps_reached,
		          "the model still asked for tools after max_steps (%d) model calls",
		          max_steps);
		goto out;
	}
	/* The assistant turn with its tool calls: the loop owns them from here. */
	am = loop_push(L);
	if (am == NULL || loop_own(L, so.res.tool_calls) < 0) {
		rc = -1;
		goto out;
	}
	am->role = "assistant";
	am->tool_calls = so.res.tool_calls;
	am->n_tool_calls = so.res.n_tool_calls;
	for (size_t i = 0; i < so.res.n_tool_calls; i++) {
		struct ah_tool_call *tc = &so.res.tool_calls[i];

		if ((tc->id && loop_own(L, tc->id) < 0) ||
		    (tc->name && loop_own(L, tc->name) < 0) ||
		    (tc->arguments && loop_own(L, tc->arguments) < 0))
			rc = -1;
	}
	so.res.tool_calls = NULL;
	so.res.n_tool_calls = 0;
	am->content = so.res.text ? so.res.text : "";
	if (so.res.text && loop_own(L, so.res.text) < 0)
		rc = -1;
	so.res.text = NULL;
	if (rc == 0)
		rc = 1;
out:
	exec_outcome_free(&so);
	return rc;
}

/* The tool steps of the model's last turn; 0, or -1 out of memory. */
static int loop_tools(struct loop *L)
{
	const struct ah_message *am = &L->m[L->n - 1];
	const struct ah_tool_call *calls = am->tool_calls;
	size_t n = am->n_tool_calls;

	for (size_t i = 0; i < n; i++) {
		const struct ah_tool_call *tc = &calls[i];
		struct ah_message *tm;
		struct run_step s;
		char *content;
		int is_error;

		memset(&s, 0, sizeof(s));
		util_strlcpy(s.kind, "tool", sizeof(s.kind));
		util_strlcpy(s.name, tc->name ? tc->name : "", sizeof(s.name));
		util_strlcpy(s.call_id, tc->id ? tc->id : "", sizeof(s.call_id));
		content = loop_tool_call(L, tc, &s, &is_error);
		if (content == NULL || loop_own(L, content) < 0)
			return -1;
		loop_record(L, &s);
		tm = loop_push(L);
		if (tm == NULL)
			return -1;
		tm->role = "tool";
		tm->content = content;
		tm->tool_call_id = tc->id ? tc->id : "";
		tm->tool_name = tc->name ? tc->name : "";
		tm->tool_error = is_error;
	}
	return 0;
}

int agent_loop_run(struct req *r, const struct ident *id, const struct exec_call *call,
                   const struct agent_tools *tools, const struct route_def *rt,
                   struct exec_outcome *out)
{
	struct limits *lim = NULL;
	struct execution e;
	struct loop L;
	int64_t t0 = util_now_us();
	int max_steps = tools->max_steps > 0 ? tools->max_steps : AGENT_DEFAULT_STEPS, rc = 0;

	memset(&L, 0, sizeof(L));
	L.r = r;
	L.id = id;
	L.call = call;
	L.rt = rt;
	out->created_at = util_unix_time();
	out->ok = 0;
	/* The allowlist is a boundary, not a limit: it holds even with enforcement off. */
	if (id->lim != NULL) {
		L.allowed = id->lim->v[LIM_ALLOWED_TOOLS].text;
	} else {
		lim = malloc(sizeof(*lim));
		if (lim == NULL || limits_get(r->store, id->tenant_id, id->key_id, lim) < 0) {
			exec_fail(out, R_database_unavailable, "the limits are unavailable");
			goto record;
		}
		L.allowed = lim->v[LIM_ALLOWED_TOOLS].text;
	}
	if (loop_load_tools(&L, tools) < 0) {
		exec_fail(out, R_database_unavailable, "the tool registry is unavailable");
		goto record;
	}
	for (size_t i = 0; i < call->n_messages; i++) {
		struct ah_message *m = loop_push(&L);

		if (m == NULL)
			goto oom;
		*m = call->messages[i];
	}
	for (int calls = 1;; calls++) {
		rc = loop_model(&L, calls >= max_steps, max_steps, out);
		if (rc < 0)
			goto oom;
		if (rc == 0)
			break;
		if (loop_tools(&L) < 0)
			goto oom;
	}
	goto record;
oom:
	exec_fail(out, R_server_busy, "out of memory");
record:
	out->latency_ms = (int)((util_now_us() - t0) / 1000);
	exec_execution(r, id, call, out, &e);
	if (store_run_record(r->store, &e) == ST_OK)
		out->recorded = 1;
	else
		log_error("agent_loop: UNRECORDED run id=%s tenant=%lld status=%s", e.id,
		          (long long)e.tenant_id, e.status);
	loop_free(&L);
	free(lim);
	return out->ok ? 0 : -1;
}
