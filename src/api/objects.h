/*
 * objects: the one JSON form of each object agenthost shows: tenants, API
 * keys, plans, agents, tools, dashboard users, operator tokens, provider
 * credentials and tool secrets. The tenant and operator APIs and
 * agenthostctl all print them through these functions.
 *
 * DESIGN
 * The field names are the API's (docs/API.md); where an object has no API
 * form yet, the CLI's. Times are unix seconds, as everywhere in the API, and
 * JSON null when unset. Optional facts are left out rather than null when
 * the API documents them that way (a tenant's suspended_reason, data_db,
 * migrating, erase_after). A builder reads nothing: what it shows beyond
 * the struct (a tenant's erase_after, an agent's provider) is an argument,
 * so a list can be built while the store streams it. Secrets appear only in
 * the "new" forms (objects_new_key, objects_new_operator_token), which the
 * caller prints once. Each builder returns a new reference, or NULL when
 * out of memory or a stored string is not UTF-8.
 */
#ifndef AH_API_OBJECTS_H
#define AH_API_OBJECTS_H

#include <stdint.h>

#include <jansson.h>

#include "store/admin.h"
#include "store/limits.h"
#include "store/guardrails.h"
#include "store/store.h"
#include "store/tools.h"
#include "store/usage.h"

/* Name of a key state ("active", "revoked", ...); "unknown" for another value. */
const char *objects_key_state(int state);

/*
 * {id, slug, name, plan, status, isolation_mode, created} and, when they
 * apply, suspended_reason, data_db, migrating (true) and erase_after
 * (unix seconds; pass 0 when the tenant is not being offboarded).
 */
json_t *objects_tenant(const struct tenant *t, int64_t erase_after);
/* {id, tenant_id, name, prefix, state, created_at, expires_at, grace_until, revoked_at,
 * last_used_at, rotated_to}: never the secret or its hash. */
json_t *objects_key(const struct api_key *k);
/* objects_key plus "key": the secret, shown once. */
json_t *objects_new_key(const struct api_key *k, const char *secret);
/* {id, name, description, created_at} */
json_t *objects_plan(const struct plan *p);
/* {object, id, name, model, provider, instructions, temperature, max_tokens, created_at,
 * updated_at}; provider NULL (JSON null) when the model is gone or not looked up. */
json_t *objects_agent(const struct agent *a, const char *provider);
/* Add an agent's "tools" and "max_steps" to o (stolen); o, or NULL when o was NULL. */
json_t *objects_agent_tools(json_t *o, const struct agent_tools *at);
/* {object, name, description, schema, exec_path, timeout_ms, max_output_bytes, mutating,
 * secrets, enabled, created_at, updated_at} */
json_t *objects_tool(const struct tool_def *t);
/* A registered guardrail: its settings shown (they are not secrets). */
json_t *objects_guardrail(const struct guardrail_def *g);
/* {id, name, role, tenant_id, created}: never the password hash. */
json_t *objects_admin(const struct admin_user *u);
/* {id, name, prefix, state, created_at, revoked_at, last_used_at}: never the hash. */
json_t *objects_operator_token(const struct operator_token *t);
/* objects_operator_token plus "token": the secret, shown once. */
json_t *objects_new_operator_token(const struct operator_token *t, const char *secret);
/* {tenant_id, provider, last4, version, updated_at}: never the ciphertext. */
json_t *objects_credential(int64_t tenant_id, const char *provider, const struct sealed_cred *c);
/* A project's own provider key: objects_credential with "project_id" and "project" (its name). */
json_t *objects_project_credential(int64_t tenant_id, int64_t project_id, const char *project,
                                   const char *provider, const struct sealed_cred *c);
/* {tenant_id, tool, name, version, updated_at}: never the value. */
json_t *objects_tool_secret(int64_t tenant_id, const char *tool, const char *name,
                            const struct sealed_cred *c);

/* A tenant's webhook (never its secret) and one delivery of the delivery log. */
struct webhook;
struct alert_log;
json_t *objects_webhook(const struct webhook *w);
json_t *objects_delivery(const struct alert_log *l);

#endif
