/*
 * api: the tenant API handlers, one file per resource.
 *
 * Every handler receives the identified caller (id) and reads or writes only
 * that tenant's objects through the store; the route table in router.c says
 * which handler needs identification.
 */
#ifndef AH_API_H
#define AH_API_H

#include <jansson.h>

#include "host/router.h"
#include "store/store.h"

struct req;
struct tenant;
struct store;
struct ident;

/* params.c: typed body fields. Each returns 0 (absent or valid) or -1 after sending a 400. */
int api_str(struct req *r, json_t *o, const char *key, int required, size_t maxlen,
            const char **out);
int api_num(struct req *r, json_t *o, const char *key, double min, double max, int *has,
            double *out);
int api_int(struct req *r, json_t *o, const char *key, int64_t min, int64_t max, int *has,
            int64_t *out);
int api_bool(struct req *r, json_t *o, const char *key, int *out);
/* An optional JSON object field serialised (compact) into *text (malloc'd, NULL when absent). */
int api_object_text(struct req *r, json_t *o, const char *key, size_t maxbytes, char **text);
/*
 * The OpenAI "user" field of o as the call's end user (r->end_user, cut to
 * 64 bytes at a character boundary) unless X-Actor-Id already named one.
 * 0, or -1 after a 400 (not a string, control characters, over 256 bytes).
 */
int api_end_user(struct req *r, json_t *o);
/* Parse ?limit= (default def, 1..max); -1 after sending a 400. */
int api_limit(struct req *r, int def, int max, int *out);
/* A JSON value from stored object text ("{}" on NULL or invalid); new reference. */
json_t *api_json_from_text(const char *text);

/* health.c */
void api_healthz(struct req *r, const struct ident *id, const struct route_match *m);
void api_readyz(struct req *r, const struct ident *id, const struct route_match *m);
/* GET /metrics (api/metrics.c): the host's figures in the Prometheus text format. */
void api_metrics(struct req *r, const struct ident *id, const struct route_match *m);
/* openapi.c: GET /openapi.json, docs/openapi.json as compiled in */
void api_openapi(struct req *r, const struct ident *id, const struct route_match *m);
/* models.c */
void api_models_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_models_get(struct req *r, const struct ident *id, const struct route_match *m);
/* embeddings.c */
void api_embeddings(struct req *r, const struct ident *id, const struct route_match *m);
/* chat.c */
void api_chat_completions(struct req *r, const struct ident *id, const struct route_match *m);
/* agents.c */
void api_agents_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_agents_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_agents_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_agent_runs_create(struct req *r, const struct ident *id, const struct route_match *m);
/* runs.c */
void api_runs_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_runs_get(struct req *r, const struct ident *id, const struct route_match *m);
/* A run as the API shows it (new reference). */
json_t *api_run_json(const struct execution *e);
/* The run's steps (runs with tools; [] otherwise), or JSON null when the store failed. */
json_t *api_run_steps_json(struct req *r, int64_t tenant_id, const char *run_id);
/* sessions.c */
void api_sessions_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_sessions_get(struct req *r, const struct ident *id, const struct route_match *m);

/* limits.c */
void api_limits_get(struct req *r, const struct ident *id, const struct route_match *m);
/* Send l as {"object":"limits",...} (each limit with its source), or a 500. */
struct limits;
void api_limits_send(struct req *r, const struct limits *l);
/* keys.c: the tenant's self-service API (scope manage) */
void api_keys_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_keys_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_keys_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_keys_rotate(struct req *r, const struct ident *id, const struct route_match *m);
void api_keys_revoke(struct req *r, const struct ident *id, const struct route_match *m);
void api_keys_scopes(struct req *r, const struct ident *id, const struct route_match *m);
void api_keys_limits_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_keys_limits_set(struct req *r, const struct ident *id, const struct route_match *m);
/* ...and the operator's view: a tenant's keys, and setting a key's scopes */
void api_admin_tenant_keys(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_key_scopes(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_key_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_key_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_key_rotate(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_key_revoke(struct req *r, const struct ident *id, const struct route_match *m);
/* usage.c */
void api_usage_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_budget_get(struct req *r, const struct ident *id, const struct route_match *m);
/* admin_usage.c: the operator API (id is NULL: operators are not tenants) */
void api_admin_tenant_usage(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_limits(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_limit_set(struct req *r, const struct ident *id, const struct route_match *m);
/* admin_projects.c: a tenant's projects on the operator API */
struct project;
void api_admin_projects_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_projects_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_projects_delete(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_key_project(struct req *r, const struct ident *id, const struct route_match *m);
/*
 * The tenant of a project route (the operator's {t}, or the calling key's)
 * and its project {name} into *t and *p; *next gets the index of the path
 * parameter after the project's. 0, or -1 after a 400/404/503.
 */
int api_project_target(struct req *r, const struct ident *id, const struct route_match *m,
                       struct tenant *t, struct project *p, size_t *next);
/* ...the same handlers on the tenant's routes (/v1/projects..., scope manage: id is the caller) */
void api_admin_projects_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_projects_rename(struct req *r, const struct ident *id, const struct route_match *m);
void api_projects_limits_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_projects_limits_set(struct req *r, const struct ident *id, const struct route_match *m);
/* limits.c: the tenant's limits with its project's level, as GET .../limits answers them */
void api_project_limits_send(struct req *r, int64_t tenant_id, int64_t project_id);
/* limits.c: a limit's JSON value (string or integer) as text into out; -1 for another type */
int api_limit_value(const json_t *v, char *out, size_t cap);
/* The tenant's project called name into *p; 0, or -1 after a 400/404/503. */
int api_admin_project(struct req *r, const struct tenant *t, const char *name, struct project *p);
struct limit_value;
/* limits.c: one level (lv[LV__MAX]) as {"name":{"value","source"}} (new reference; NULL: memory) */
json_t *limits_level_json(const struct limit_value *lv, int level);
struct limits;
/* limits.c: the tenant's tags with budgets as a JSON array (new reference; NULL: memory) */
json_t *limits_tags_json(const struct limits *l);
/* The tenant named by s (numeric id, else slug) into *t: ST_OK, ST_NOTFOUND or ST_ERR. */
int api_admin_find_tenant(struct store *st, const char *s, struct tenant *t);
/* The tenant of an operator route's first path segment into *t (and r->tenant_id); 0, or -1
 * after a 404 not_found / 503 database_unavailable. */
int api_admin_tenant(struct req *r, const struct route_match *m, struct tenant *t);
/* One audit row of an operator's action (tenant_id 0: none; detail may be NULL); a failure to
 * write it is logged, never answered. */
void api_operator_audit(struct req *r, int64_t tenant_id, const char *action, const char *target,
                        const char *detail);
/* The same for a route of either API: the calling key (id, its prefix) or, id NULL, the operator.
 */
void api_actor_audit(struct req *r, const struct ident *id, int64_t tenant_id, const char *action,
                     const char *target, const char *detail);
/* admin_tenants.c: the tenant lifecycle on the operator API */
void api_admin_tenants_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenants_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_update(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_suspend(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_resume(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_content(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_export(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_move(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_offboard(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_offboard_undo(struct req *r, const struct ident *id,
                                    const struct route_match *m);
/* webhooks.c: the tenant's webhooks (scope manage) and the operator's view */
void api_webhooks_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_webhooks_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_webhooks_remove(struct req *r, const struct ident *id, const struct route_match *m);
void api_webhooks_deliveries(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_webhooks(struct req *r, const struct ident *id, const struct route_match *m);
/* admin_providers.c: a tenant's provider credentials (write-only) on the operator API */
void api_admin_provider_keys(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_provider_key_set(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_provider_key_clear(struct req *r, const struct ident *id,
                                  const struct route_match *m);
/* ...and a project's own keys, on the operator's and the tenant's (scope manage) routes */
void api_project_provider_keys(struct req *r, const struct ident *id, const struct route_match *m);
void api_project_provider_key_set(struct req *r, const struct ident *id,
                                  const struct route_match *m);
void api_project_provider_key_clear(struct req *r, const struct ident *id,
                                    const struct route_match *m);
/* routes.c: routes of tenants and plans (operator API) and the tenant's own (scope manage) */
void api_admin_tenant_routes(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_route_set(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tenant_route_delete(struct req *r, const struct ident *id,
                                   const struct route_match *m);
void api_admin_plan_routes(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_plan_route_set(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_plan_route_delete(struct req *r, const struct ident *id,
                                 const struct route_match *m);
void api_routes_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_routes_set(struct req *r, const struct ident *id, const struct route_match *m);
void api_routes_delete(struct req *r, const struct ident *id, const struct route_match *m);
/* Append the caller's aliases (route names that are not catalogue models) to data. 0 or -1. */
int api_route_aliases(struct req *r, const struct ident *id, json_t *data);
/* admin_plans.c: plans and their limits on the operator API */
void api_admin_plans_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_plans_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_plan_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_plan_update(struct req *r, const struct ident *id, const struct route_match *m);
/* admin_models.c: the model catalogue and its prices (with effective dates) */
void api_admin_models_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_models_create(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_model_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_model_update(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_model_price(struct req *r, const struct ident *id, const struct route_match *m);
/* admin_audit.c: GET /admin/api/v1/audit, the audit log with filters */
void api_admin_audit(struct req *r, const struct ident *id, const struct route_match *m);
/* admin_tools.c: the operator API's tool registry */
void api_admin_tools_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_tools_register(struct req *r, const struct ident *id, const struct route_match *m);
/* guardrails.c: the guardrail registry (operator) and a tenant's chain (operator, tenant) */
void api_admin_guardrails_list(struct req *r, const struct ident *id, const struct route_match *m);
void api_admin_guardrails_register(struct req *r, const struct ident *id,
                                   const struct route_match *m);
void api_admin_tenant_guardrails(struct req *r, const struct ident *id,
                                 const struct route_match *m);
void api_admin_tenant_guardrails_set(struct req *r, const struct ident *id,
                                     const struct route_match *m);
void api_guardrails_get(struct req *r, const struct ident *id, const struct route_match *m);
void api_guardrails_set(struct req *r, const struct ident *id, const struct route_match *m);

#endif
