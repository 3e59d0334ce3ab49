/*
 * objects.c: the JSON form of each object (see objects.h).
 */
#include "config.h"

#include <string.h>

#include "api/objects.h"
#include "store/alerts.h"
#include "tenancy/keys.h"
#include "common/util.h"

/* A time as the API shows it: unix seconds, or null when unset (0). */
static json_t *objects_time(int64_t t)
{
	return t != 0 ? json_integer((json_int_t)t) : json_null();
}

/* Set key of o to v (stolen); o, or NULL (o freed) when o or v is missing. */
static json_t *objects_add(json_t *o, const char *key, json_t *v)
{
	if (o == NULL || v == NULL || json_object_set_new(o, key, v) != 0) {
		json_decref(o);
		if (o == NULL)
			json_decref(v);
		return NULL;
	}
	return o;
}

static const char *const objects_key_states[] = {
    [KEY_ACTIVE] = "active",
    [KEY_REVOKED] = "revoked",
    [KEY_EXPIRED] = "expired",
    [KEY_ROTATED] = "rotated",
};

const char *objects_key_state(int s)
{
	if (s < 0 || (size_t)s >= ARRAY_SIZE(objects_key_states) || objects_key_states[s] == NULL)
		return "unknown";
	return objects_key_states[s];
}

json_t *objects_tenant(const struct tenant *t, int64_t erase_after)
{
	int susp = t->status == TENANT_SUSPENDED;
	json_t *o;

	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id", (json_int_t)t->id, "slug",
	              t->slug, "name", t->name, "plan", t->plan, "status",
	              susp ? "suspended" : "active", "isolation_mode", t->isolation, "created",
	              (json_int_t)t->created_at, "log_content", t->log_content);
	if (o != NULL && susp)
		o = objects_add(o, "suspended_reason", json_string(t->suspended_reason));
	if (o != NULL && t->data_db[0] != '\0')
		o = objects_add(o, "data_db", json_string(t->data_db));
	if (o != NULL && t->migrating)
		o = objects_add(o, "migrating", json_true());
	if (o != NULL && erase_after != 0)
		o = objects_add(o, "erase_after", json_integer((json_int_t)erase_after));
	return o;
}

/* A key's scopes as a JSON array of names (new reference). */
static json_t *objects_scopes(int scopes)
{
	json_t *a = json_array();

	for (int i = 0; a != NULL && keys_scope_name(i) != NULL; i++)
		if (scopes & (1 << i))
			json_array_append_new(a, json_string(keys_scope_name(i)));
	return a;
}

json_t *objects_key(const struct api_key *k)
{
	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
	                 (json_int_t)k->id, "tenant_id", (json_int_t)k->tenant_id, "name", k->name,
	                 "prefix", k->prefix, "state", objects_key_state(k->state), "created_at",
	                 objects_time(k->created_at), "expires_at", objects_time(k->expires_at),
	                 "grace_until", objects_time(k->grace_until), "revoked_at",
	                 objects_time(k->revoked_at), "last_used_at", objects_time(k->last_used_at),
	                 "rotated_to", k->rotated_to ? json_integer(k->rotated_to) : json_null(),
	                 "scopes", objects_scopes(k->scopes));
}

json_t *objects_new_key(const struct api_key *k, const char *secret)
{
	return objects_add(objects_key(k), "key", json_string(secret));
}

json_t *objects_plan(const struct plan *p)
{
	return json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)p->id, "name", p->name,
	                 "description", p->description, "created_at", objects_time(p->created_at));
}

json_t *objects_agent(const struct agent *a, const char *provider)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:s?, s:s, s:o, s:o, s:o, s:o}", "object", "agent",
	                 "id", (json_int_t)a->id, "name", a->name, "model", a->model, "provider",
	                 provider, "instructions", a->instructions, "temperature",
	                 a->has_temperature ? json_real(a->temperature) : json_null(), "max_tokens",
	                 a->max_tokens > 0 ? json_integer(a->max_tokens) : json_null(),
	                 "created_at", objects_time(a->created_at), "updated_at",
	                 objects_time(a->updated_at));
}

json_t *objects_agent_tools(json_t *o, const struct agent_tools *at)
{
	json_t *names = json_array();

	for (size_t i = 0; names != NULL && i < at->n; i++)
		if (json_array_append_new(names, json_string(at->names[i])) != 0) {
			json_decref(names);
			names = NULL;
		}
	o = objects_add(o, "tools", names);
	return objects_add(o, "max_steps",
	                   json_integer(at->max_steps > 0 ? at->max_steps : AGENT_DEFAULT_STEPS));
}

json_t *objects_tool(const struct tool_def *t)
{
	json_t *schema = json_loads(t->schema, 0, NULL), *secrets = json_array();
	const char *p = t->secret_names, *e;

	while (secrets != NULL && *p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		json_array_append_new(secrets, json_stringn(p, (size_t)(e - p)));
		p = *e ? e + 1 : e;
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:i, s:i, s:b, s:o, s:b, s:o, s:o}", "object",
	                 "tool", "name", t->name, "description", t->description, "schema",
	                 schema ? schema : json_null(), "exec_path", t->exec_path, "timeout_ms",
	                 t->timeout_ms, "max_output_bytes", t->max_output_bytes, "mutating",
	                 t->mutating, "secrets", secrets, "enabled", t->enabled, "created_at",
	                 objects_time(t->created_at), "updated_at", objects_time(t->updated_at));
}

json_t *objects_guardrail(const struct guardrail_def *g)
{
	json_t *env = json_object();
	const char *p = g->env, *e, *eq;

	while (env != NULL && *p != '\0') {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq != NULL) {
			char name[GUARDRAIL_NAME_MAX + 1];
			size_t n = (size_t)(eq - p) < sizeof(name) - 1 ? (size_t)(eq - p)
			                                               : sizeof(name) - 1;

			memcpy(name, p, n);
			name[n] = '\0';
			json_object_set_new(env, name, json_stringn(eq + 1, (size_t)(e - eq - 1)));
		}
		p = *e ? e + 1 : e;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:b, s:o, s:o}", "object",
	                 "guardrail", "name", g->name, "description", g->description, "exec_path",
	                 g->exec_path, "stage", g->stage, "timeout_ms", g->timeout_ms, "env",
	                 env ? env : json_null(), "enabled", g->enabled, "created_at",
	                 objects_time(g->created_at), "updated_at", objects_time(g->updated_at));
}

json_t *objects_admin(const struct admin_user *u)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:I, s:b}", "id", (json_int_t)u->id, "name", u->name,
	                 "role", u->role, "tenant_id", (json_int_t)u->tenant_id, "created",
	                 (json_int_t)u->created, "mfa", u->mfa);
}

json_t *objects_operator_token(const struct operator_token *t)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)t->id, "name",
	                 t->name, "prefix", t->prefix, "state",
	                 t->revoked_at ? "revoked" : "active", "created_at",
	                 objects_time(t->created_at), "revoked_at", objects_time(t->revoked_at),
	                 "last_used_at", objects_time(t->last_used_at));
}

json_t *objects_new_operator_token(const struct operator_token *t, const char *secret)
{
	return objects_add(objects_operator_token(t), "token", json_string(secret));
}

json_t *objects_credential(int64_t tenant_id, const char *provider, const struct sealed_cred *c)
{
	return json_pack("{s:I, s:s, s:s, s:i, s:o}", "tenant_id", (json_int_t)tenant_id,
	                 "provider", provider, "last4", c->last4, "version", c->version,
	                 "updated_at", objects_time(c->updated_at));
}

json_t *objects_project_credential(int64_t tenant_id, int64_t project_id, const char *project,
                                   const char *provider, const struct sealed_cred *c)
{
	json_t *o = objects_credential(tenant_id, provider, c);

	if (o != NULL && (json_object_set_new(o, "project_id", json_integer(project_id)) ||
	                  json_object_set_new(o, "project", json_string(project)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *objects_tool_secret(int64_t tenant_id, const char *tool, const char *name,
                            const struct sealed_cred *c)
{
	return json_pack("{s:I, s:s, s:s, s:i, s:o}", "tenant_id", (json_int_t)tenant_id, "tool",
	                 tool, "name", name, "version", c->version, "updated_at",
	                 objects_time(c->updated_at));
}

json_t *objects_webhook(const struct webhook *w)
{
	return json_pack("{s:s, s:I, s:I, s:s, s:o}", "object", "webhook", "id", (json_int_t)w->id,
	                 "tenant_id", (json_int_t)w->tenant_id, "url", w->url, "created_at",
	                 objects_time(w->created_at));
}

json_t *objects_delivery(const struct alert_log *l)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:s, s:o, "
	                 "s:o}",
	                 "object", "webhook_delivery", "id", (json_int_t)l->id, "event_id",
	                 (json_int_t)l->event_id, "webhook_id", (json_int_t)l->webhook_id, "url",
	                 l->url, "event", l->kind, "threshold_pct", l->threshold, "subject",
	                 l->subject, "period", l->period, "status", l->status, "attempts",
	                 l->attempts, "last_http_status", l->last_status, "last_error",
	                 l->last_error, "created_at", objects_time(l->created_at), "delivered_at",
	                 objects_time(l->delivered_at));
}
