/*
 * router.c: the route table and dispatch (see router.h).
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "enforce/authorize.h"
#include "enforce/idempotency.h"
#include "enforce/limits.h"
#include "exec/ledger.h"
#include "common/cidr.h"
#include "common/conf.h"
#include "common/util.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "host/router.h"
#include "tenancy/identify.h"
#include "tenancy/operator.h"

/* clang-format off */
#define INF KEY_SCOPE_INFERENCE
#define RD KEY_SCOPE_READ
#define MG KEY_SCOPE_MANAGE
static const struct route routes[] = {
	{"GET", "/healthz", AUTH_NONE, 0, api_healthz},
	{"GET", "/readyz", AUTH_NONE, 0, api_readyz},
	{"GET", "/metrics", AUTH_METRICS, 0, api_metrics},
	{"GET", "/openapi.json", AUTH_NONE, 0, api_openapi},
	{"GET", "/v1/models", AUTH_TENANT, ROUTE_SCOPES(INF | RD), api_models_list},
	{"GET", "/v1/models/{}", AUTH_TENANT, ROUTE_SCOPES(INF | RD), api_models_get},
	{"POST", "/v1/chat/completions", AUTH_TENANT, ROUTE_IDEMPOTENT | ROUTE_SCOPES(INF), api_chat_completions},
	{"POST", "/v1/embeddings", AUTH_TENANT, ROUTE_IDEMPOTENT | ROUTE_SCOPES(INF), api_embeddings},
	{"GET", "/v1/agents", AUTH_TENANT, ROUTE_SCOPES(INF | RD), api_agents_list},
	{"POST", "/v1/agents", AUTH_TENANT, ROUTE_IDEMPOTENT | ROUTE_SCOPES(INF), api_agents_create},
	{"GET", "/v1/agents/{}", AUTH_TENANT, ROUTE_SCOPES(INF | RD), api_agents_get},
	{"POST", "/v1/agents/{}/runs", AUTH_TENANT, ROUTE_IDEMPOTENT | ROUTE_SCOPES(INF), api_agent_runs_create},
	{"GET", "/v1/runs", AUTH_TENANT, ROUTE_SCOPES(RD), api_runs_list},
	{"GET", "/v1/runs/{}", AUTH_TENANT, ROUTE_SCOPES(RD), api_runs_get},
	{"POST", "/v1/sessions", AUTH_TENANT, ROUTE_IDEMPOTENT | ROUTE_SCOPES(INF), api_sessions_create},
	{"GET", "/v1/sessions/{}", AUTH_TENANT, ROUTE_SCOPES(RD), api_sessions_get},
	{"GET", "/v1/limits", AUTH_TENANT, ROUTE_SCOPES(RD), api_limits_get},
	{"GET", "/v1/budget", AUTH_TENANT, ROUTE_SCOPES(RD), api_budget_get},
	{"GET", "/v1/usage", AUTH_TENANT, ROUTE_SCOPES(RD), api_usage_get},
	/* the tenant's self-service API (api/keys.c) */
	{"GET", "/v1/keys", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_list},
	{"POST", "/v1/keys", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_create},
	{"GET", "/v1/keys/{}", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_get},
	{"POST", "/v1/keys/{}/rotate", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_rotate},
	{"POST", "/v1/keys/{}/revoke", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_revoke},
	{"POST", "/v1/keys/{}/scopes", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_scopes},
	{"GET", "/v1/keys/{}/limits", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_limits_get},
	{"POST", "/v1/keys/{}/limits", AUTH_TENANT, ROUTE_SCOPES(MG), api_keys_limits_set},
	{"POST", "/v1/keys/{}/project", AUTH_TENANT, ROUTE_SCOPES(MG), api_admin_key_project},
	/* ...its projects (api/admin_projects.c, api/admin_providers.c) */
	{"GET", "/v1/projects", AUTH_TENANT, ROUTE_SCOPES(MG), api_admin_projects_list},
	{"POST", "/v1/projects", AUTH_TENANT, ROUTE_SCOPES(MG), api_admin_projects_create},
	{"GET", "/v1/projects/{}", AUTH_TENANT, ROUTE_SCOPES(MG), api_admin_projects_get},
	{"POST", "/v1/projects/{}/rename", AUTH_TENANT, ROUTE_SCOPES(MG), api_admin_projects_rename},
	{"POST", "/v1/projects/{}/delete", AUTH_TENANT, ROUTE_SCOPES(MG), api_admin_projects_delete},
	{"GET", "/v1/projects/{}/limits", AUTH_TENANT, ROUTE_SCOPES(MG), api_projects_limits_get},
	{"POST", "/v1/projects/{}/limits", AUTH_TENANT, ROUTE_SCOPES(MG), api_projects_limits_set},
	{"GET", "/v1/projects/{}/provider-keys", AUTH_TENANT, ROUTE_SCOPES(MG),
	 api_project_provider_keys},
	{"POST", "/v1/projects/{}/provider-keys/{}", AUTH_TENANT, ROUTE_SCOPES(MG),
	 api_project_provider_key_set},
	{"POST", "/v1/projects/{}/provider-keys/{}/clear", AUTH_TENANT, ROUTE_SCOPES(MG),
	 api_project_provider_key_clear},
	{"GET", "/v1/webhooks", AUTH_TENANT, ROUTE_SCOPES(MG), api_webhooks_list},
	{"POST", "/v1/webhooks", AUTH_TENANT, ROUTE_SCOPES(MG), api_webhooks_create},
	{"GET", "/v1/webhooks/deliveries", AUTH_TENANT, ROUTE_SCOPES(MG), api_webhooks_deliveries},
	{"POST", "/v1/webhooks/{}/remove", AUTH_TENANT, ROUTE_SCOPES(MG), api_webhooks_remove},
	{"GET", "/v1/routes", AUTH_TENANT, ROUTE_SCOPES(MG), api_routes_list},
	{"POST", "/v1/routes", AUTH_TENANT, ROUTE_SCOPES(MG), api_routes_set},
	{"POST", "/v1/routes/{}/delete", AUTH_TENANT, ROUTE_SCOPES(MG), api_routes_delete},
	DASHBOARD_ROUTES
	{"POST", "/admin/api/v1/tenants", AUTH_OPERATOR, 0, api_admin_tenants_create},
	{"GET", "/admin/api/v1/tenants", AUTH_OPERATOR, 0, api_admin_tenants_list},
	{"GET", "/admin/api/v1/tenants/{}", AUTH_OPERATOR, 0, api_admin_tenant_get},
	{"POST", "/admin/api/v1/tenants/{}", AUTH_OPERATOR, 0, api_admin_tenant_update},
	{"POST", "/admin/api/v1/tenants/{}/suspend", AUTH_OPERATOR, 0, api_admin_tenant_suspend},
	{"POST", "/admin/api/v1/tenants/{}/resume", AUTH_OPERATOR, 0, api_admin_tenant_resume},
	{"POST", "/admin/api/v1/tenants/{}/content", AUTH_OPERATOR, 0, api_admin_tenant_content},
	{"GET", "/admin/api/v1/tenants/{}/export", AUTH_OPERATOR, 0, api_admin_tenant_export},
	{"POST", "/admin/api/v1/tenants/{}/move", AUTH_OPERATOR, 0, api_admin_tenant_move},
	{"POST", "/admin/api/v1/tenants/{}/offboard", AUTH_OPERATOR, 0, api_admin_tenant_offboard},
	{"POST", "/admin/api/v1/tenants/{}/offboard/undo", AUTH_OPERATOR, 0,
	 api_admin_tenant_offboard_undo},
	{"GET", "/admin/api/v1/tenants/{}/usage", AUTH_OPERATOR, 0, api_admin_tenant_usage},
	{"GET", "/admin/api/v1/tenants/{}/limits", AUTH_OPERATOR, 0, api_admin_tenant_limits},
	{"GET", "/admin/api/v1/tenants/{}/webhooks", AUTH_OPERATOR, 0, api_admin_tenant_webhooks},
	{"GET", "/admin/api/v1/tenants/{}/keys", AUTH_OPERATOR, 0, api_admin_tenant_keys},
	{"POST", "/admin/api/v1/tenants/{}/keys", AUTH_OPERATOR, 0, api_admin_key_create},
	{"GET", "/admin/api/v1/tenants/{}/keys/{}", AUTH_OPERATOR, 0, api_admin_key_get},
	{"POST", "/admin/api/v1/tenants/{}/keys/{}/rotate", AUTH_OPERATOR, 0, api_admin_key_rotate},
	{"POST", "/admin/api/v1/tenants/{}/keys/{}/revoke", AUTH_OPERATOR, 0, api_admin_key_revoke},
	{"POST", "/admin/api/v1/tenants/{}/keys/{}/scopes", AUTH_OPERATOR, 0, api_admin_key_scopes},
	{"POST", "/admin/api/v1/tenants/{}/limits", AUTH_OPERATOR, 0, api_admin_tenant_limit_set},
	{"GET", "/admin/api/v1/tenants/{}/provider-keys", AUTH_OPERATOR, 0, api_admin_provider_keys},
	{"POST", "/admin/api/v1/tenants/{}/provider-keys/{}", AUTH_OPERATOR, 0,
	 api_admin_provider_key_set},
	{"POST", "/admin/api/v1/tenants/{}/provider-keys/{}/clear", AUTH_OPERATOR, 0,
	 api_admin_provider_key_clear},
	{"GET", "/admin/api/v1/tenants/{}/projects", AUTH_OPERATOR, 0, api_admin_projects_list},
	{"POST", "/admin/api/v1/tenants/{}/projects", AUTH_OPERATOR, 0, api_admin_projects_create},
	{"GET", "/admin/api/v1/tenants/{}/projects/{}", AUTH_OPERATOR, 0, api_admin_projects_get},
	{"POST", "/admin/api/v1/tenants/{}/projects/{}/rename", AUTH_OPERATOR, 0,
	 api_admin_projects_rename},
	{"POST", "/admin/api/v1/tenants/{}/projects/{}/delete", AUTH_OPERATOR, 0,
	 api_admin_projects_delete},
	{"GET", "/admin/api/v1/tenants/{}/projects/{}/provider-keys", AUTH_OPERATOR, 0,
	 api_project_provider_keys},
	{"POST", "/admin/api/v1/tenants/{}/projects/{}/provider-keys/{}", AUTH_OPERATOR, 0,
	 api_project_provider_key_set},
	{"POST", "/admin/api/v1/tenants/{}/projects/{}/provider-keys/{}/clear", AUTH_OPERATOR, 0,
	 api_project_provider_key_clear},
	{"POST", "/admin/api/v1/tenants/{}/keys/{}/project", AUTH_OPERATOR, 0, api_admin_key_project},
	{"GET", "/admin/api/v1/tenants/{}/routes", AUTH_OPERATOR, 0, api_admin_tenant_routes},
	{"POST", "/admin/api/v1/tenants/{}/routes", AUTH_OPERATOR, 0, api_admin_tenant_route_set},
	{"POST", "/admin/api/v1/tenants/{}/routes/{}/delete", AUTH_OPERATOR, 0,
	 api_admin_tenant_route_delete},
	{"GET", "/admin/api/v1/plans/{}/routes", AUTH_OPERATOR, 0, api_admin_plan_routes},
	{"POST", "/admin/api/v1/plans/{}/routes", AUTH_OPERATOR, 0, api_admin_plan_route_set},
	{"POST", "/admin/api/v1/plans/{}/routes/{}/delete", AUTH_OPERATOR, 0,
	 api_admin_plan_route_delete},
	{"GET", "/admin/api/v1/plans", AUTH_OPERATOR, 0, api_admin_plans_list},
	{"POST", "/admin/api/v1/plans", AUTH_OPERATOR, 0, api_admin_plans_create},
	{"GET", "/admin/api/v1/plans/{}", AUTH_OPERATOR, 0, api_admin_plan_get},
	{"POST", "/admin/api/v1/plans/{}", AUTH_OPERATOR, 0, api_admin_plan_update},
	{"GET", "/admin/api/v1/models", AUTH_OPERATOR, 0, api_admin_models_list},
	{"POST", "/admin/api/v1/models", AUTH_OPERATOR, 0, api_admin_models_create},
	{"GET", "/admin/api/v1/models/{}", AUTH_OPERATOR, 0, api_admin_model_get},
	{"POST", "/admin/api/v1/models/{}", AUTH_OPERATOR, 0, api_admin_model_update},
	{"POST", "/admin/api/v1/models/{}/prices", AUTH_OPERATOR, 0, api_admin_model_price},
	{"GET", "/admin/api/v1/audit", AUTH_OPERATOR, 0, api_admin_audit},
	/* tools: the operator's tool registry */
	{"GET", "/admin/api/v1/tools", AUTH_OPERATOR, 0, api_admin_tools_list},
	{"POST", "/admin/api/v1/tools", AUTH_OPERATOR, 0, api_admin_tools_register},
	/* guardrails: the operator's registry, tenants' chains (api/guardrails.c) */
	{"GET", "/admin/api/v1/guardrails", AUTH_OPERATOR, 0, api_admin_guardrails_list},
	{"POST", "/admin/api/v1/guardrails", AUTH_OPERATOR, 0, api_admin_guardrails_register},
	{"GET", "/admin/api/v1/tenants/{}/guardrails", AUTH_OPERATOR, 0, api_admin_tenant_guardrails},
	{"POST", "/admin/api/v1/tenants/{}/guardrails", AUTH_OPERATOR, 0, api_admin_tenant_guardrails_set},
	{"GET", "/v1/guardrails", AUTH_TENANT, ROUTE_SCOPES(RD | MG), api_guardrails_get},
	{"POST", "/v1/guardrails", AUTH_TENANT, ROUTE_SCOPES(MG), api_guardrails_set},
};
#undef INF
#undef RD
#undef MG
/* clang-format on */

/* Percent-decode one path segment of n bytes into out; -1 when bad, too long or has NUL or '/'. */
static int router_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return -1;
			h = http_hexval((unsigned char)s[i + 1]);
			l = http_hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
			if (c == 0 || c == '/')
				return -1;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int router_match(const char *pattern, const char *path, struct route_match *m)
{
	const char *p = pattern, *s = path;

	m->n_params = 0;
	while (*p && *s) {
		if (p[0] == '{' && p[1] == '}') {
			const char *end = strchr(s, '/');
			size_t n = end ? (size_t)(end - s) : strlen(s);

			if (m->n_params == ROUTE_MAX_PARAMS)
				return 0;
			if (n == 0)
				return 0;
			if (router_decode(s, n, m->params[m->n_params], ROUTE_PARAM_MAX) < 0)
				return -1;
			m->n_params++;
			p += 2;
			s += n;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/*
 * Reads see what was answered before them: a GET waits (briefly) until this
 * host's processes have written the calls they had journaled (exec/ledger.h).
 */
#define ROUTER_BARRIER_MS 250

static void router_barrier(const struct req *r)
{
	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
		ledger_barrier(ROUTER_BARRIER_MS);
}

/* "inference or read": the scopes of a route's bit set, for the refusal's message. */
static const char *router_scope_names(int scopes)
{
	switch (scopes) {
	case KEY_SCOPE_INFERENCE:
		return "inference";
	case KEY_SCOPE_READ:
		return "read";
	case KEY_SCOPE_MANAGE:
		return "manage";
	case KEY_SCOPE_INFERENCE | KEY_SCOPE_READ:
		return "inference or read";
	default:
		return "right";
	}
}

/*
 * The end user the caller names in X-Actor-Id into r->end_user: 1 to 64
 * printable ASCII characters. 0 (also when absent), or -1 after a 400.
 * (The OpenAI "user" field of a chat body, read by api/chat.c, counts when
 * the header is absent.)
 */
static int router_end_user(struct req *r)
{
	const char *h = req_header(r, "X-Actor-Id");
	size_t n;

	r->end_user[0] = '\0';
	if (h == NULL)
		return 0;
	n = strlen(h);
	for (size_t i = 0; i < n; i++)
		if (h[i] < 0x20 || h[i] > 0x7e)
			n = 0;
	if (n == 0 || n >= sizeof(r->end_user)) {
		resp_error(r, R_invalid_request,
		           "X-Actor-Id must be 1 to 64 printable ASCII characters");
		return -1;
	}
	memcpy(r->end_user, h, n + 1);
	return 0;
}

/*
 * The limits of the requests a worker thread serves (struct limits, ~57 KB):
 * one buffer per request, from a pool of this thread's, neither malloc'd per
 * request nor on the request's coroutine stack. A thread runs many requests
 * at once, as coroutines that park on upstream I/O: each one keeps its buffer
 * from identification to its end (one buffer per thread was rewritten by the
 * next request while the first was parked, which then went on with another
 * tenant's limits). Only this thread takes and gives back, and its coroutines
 * never run at the same time: no lock. router_thread_end frees the pool.
 */
struct lim_buf {
	struct lim_buf *next; /* in the pool */
	struct limits l;
};

#define LIM_POOL_MAX 64 /* buffers kept per thread; more in use are malloc'd and freed */

static __thread struct lim_buf *lim_pool;
static __thread int lim_pooled;

/* A buffer for one request's limits; NULL when out of memory. */
static struct limits *lim_take(void)
{
	struct lim_buf *b = lim_pool;

	if (b != NULL) {
		lim_pool = b->next;
		lim_pooled--;
	} else if ((b = malloc(sizeof(*b))) == NULL) {
		return NULL;
	}
	return &b->l;
}

/* Give back what lim_take gave (NULL: nothing). */
static void lim_give(struct limits *l)
{
	struct lim_buf *b;

	if (l == NULL)
		return;
	b = (struct lim_buf *)(void *)((char *)l - offsetof(struct lim_buf, l));
	if (lim_pooled >= LIM_POOL_MAX) {
		free(b);
		return;
	}
	b->next = lim_pool;
	lim_pool = b;
	lim_pooled++;
}

void router_thread_end(void)
{
	while (lim_pool != NULL) {
		struct lim_buf *b = lim_pool;

		lim_pool = b->next;
		free(b);
	}
	lim_pooled = 0;
}

/*
 * 1 when the body of an API request may be read as JSON: none, or one whose
 * Content-Type is application/json (parameters after ';' ignored); else 0
 * after sending 415 unsupported_media_type. A form or text body is refused
 * before it reaches a parser that would misread it.
 */
static int router_json_body(struct req *r)
{
	static const char want[] = "application/json";
	const char *ct = r->body.len ? req_header(r, "Content-Type") : NULL;
	size_t n;

	if (r->body.len == 0)
		return 1;
	if (ct != NULL) {
		while (*ct == ' ' || *ct == '\t')
			ct++;
		n = strcspn(ct, "; \t");
		if (n == sizeof(want) - 1 && strncasecmp(ct, want, n) == 0)
			return 1;
	}
	resp_error(
	    r, R_unsupported_media_type,
	    "the request body must be JSON sent with 'Content-Type: application/json'%s%.64s%s",
	    ct ? " (got '" : "", ct ? ct : "", ct ? "')" : "");
	return 0;
}

/*
 * 1 when the client (as authorize_client_addr decides it, trusted proxies
 * considered) is in metrics_allow; 0 otherwise or when it is empty.
 */
static int router_metrics_allowed(const struct req *r)
{
	char addr[64];

	if (r->conf->metrics_allow[0] == '\0' || authorize_client_addr(r, addr, sizeof(addr)) < 0)
		return 0;
	return cidr_list_contains(r->conf->metrics_allow, addr) == 1;
}

/* Identify and authorize as the route demands, then run its handler. */
static void router_run(struct req *r, const struct route *rt, const struct route_match *m)
{
	struct limits *lim = NULL;
	struct ident id;

	if ((rt->auth == AUTH_TENANT || rt->auth == AUTH_OPERATOR) && !router_json_body(r))
		return;
	switch (rt->auth) {
	case AUTH_NONE:
		rt->fn(r, NULL, m);
		return;
	case AUTH_OPERATOR:
		if (operator_identify(r) < 0)
			return;
		router_barrier(r);
		rt->fn(r, NULL, m);
		return;
	case AUTH_METRICS:
		if (!router_metrics_allowed(r) && operator_identify(r) < 0)
			return;
		rt->fn(r, NULL, m);
		return;
	case AUTH_ADMIN:
		if (dash_authorize(r, rt->flags) == 0) {
			router_barrier(r);
			rt->fn(r, NULL, m);
		}
		dash_clear();
		return;
	case AUTH_TENANT:
		if (identify_request(r, &id) < 0)
			return;
		if (ROUTE_SCOPES_OF(rt->flags) != 0 &&
		    (id.scopes & ROUTE_SCOPES_OF(rt->flags)) == 0) {
			resp_error(r, R_scope_denied,
			           "this API key may not call %s %s (it needs the %s scope)",
			           r->method, rt->pattern,
			           router_scope_names(ROUTE_SCOPES_OF(rt->flags)));
			return;
		}
		if (router_end_user(r) < 0)
			return;
		id.lim = NULL;
		if (r->conf->enforcement) {
			if ((lim = lim_take()) == NULL) {
				resp_error(r, R_server_busy, "out of memory");
				return;
			}
			if (authorize_request(r, &id, lim) < 0) {
				lim_give(lim);
				return;
			}
			id.lim = lim;
		}
		router_barrier(r);
		if ((rt->flags & ROUTE_IDEMPOTENT) && req_header(r, "Idempotency-Key"))
			idempotency_run(r, &id, m, rt->fn);
		else
			rt->fn(r, &id, m);
		lim_give(lim);
		return;
	default:
		resp_error(r, R_internal_error, "route without an auth kind");
		return;
	}
}

void router_dispatch(struct req *r)
{
	struct route_match m;
	int path_known = 0;
	char allow[64] = "";

	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const struct route *rt = &routes[i];
		int rc = router_match(rt->pattern, r->path, &m);

		if (rc < 0) {
			r->route = rt->pattern;
			resp_error(r, R_invalid_request, "malformed path segment");
			return;
		}
		if (rc == 0)
			continue;
		if (strcmp(rt->method, r->method) != 0) {
			path_known = 1;
			if (strlen(allow) + strlen(rt->method) + 3 < sizeof(allow)) {
				if (*allow)
					strcat(allow, ", ");
				strcat(allow, rt->method);
			}
			continue;
		}
		r->route = rt->pattern;
		router_run(r, rt, &m);
		return;
	}
	if (path_known) {
		resp_header(r, "Allow", allow);
		resp_error(r, R_method_not_allowed, "%s is not allowed here (allowed: %s)",
		           r->method, allow);
		return;
	}
	resp_error(r, R_not_found, "no such endpoint");
}
