/*
 * admin_tools.c: the operator API's tool registry.
 *
 *   GET  /admin/api/v1/tools   every registered tool
 *   POST /admin/api/v1/tools   register or update {name, description, schema,
 *                              exec_path, timeout_ms, max_output_bytes,
 *                              mutating?, secrets?, enabled?}
 *
 * DESIGN
 * The router has checked the operator token (operator.c). Definitions are
 * checked by tool_policy_def_check, the same check as `agenthostctl tool
 * register`, so both ways register the same tools. Every change is audited.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/util.h"
#include "host/http.h"
#include "store/tools.h"
#include "tools/policy.h"

static int admin_tools_add(void *ctx, const struct tool_def *t)
{
	json_array_append_new(ctx, objects_tool(t));
	return 0;
}

void api_admin_tools_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *data = json_array();

	(void)id;
	(void)m;
	if (store_tool_list(r->store, admin_tools_add, data) != ST_OK) {
		json_decref(data);
		resp_error(r, R_database_unavailable, "the tool registry is unavailable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

/* The "secrets" array of body as a comma list into t; -1 after a 400. */
static int admin_tools_secrets(struct req *r, json_t *body, struct tool_def *t)
{
	json_t *arr = json_object_get(body, "secrets"), *v;
	size_t i, at = 0;

	t->secret_names[0] = '\0';
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		goto bad;
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0;

		if (n == 0 || at + n + 2 > sizeof(t->secret_names))
			goto bad;
		if (at > 0)
			t->secret_names[at++] = ',';
		memcpy(t->secret_names + at, s, n + 1);
		at += n;
	}
	return 0;
bad:
	resp_error(r, R_invalid_request, "'secrets' must be an array of secret names");
	return -1;
}

void api_admin_tools_register(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tool_def *t = calloc(1, sizeof(*t));
	const char *name, *desc, *path;
	struct audit_entry a;
	char err[256], *schema = NULL;
	json_t *body;
	int64_t timeout = 0, cap = 0;
	int has, mutating = 0, enabled = 1, created = 0, rc;

	(void)id;
	(void)m;
	body = req_json_object(r);
	if (body == NULL || t == NULL) {
		if (body)
			resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (api_str(r, body, "name", 1, TOOL_NAME_MAX, &name) < 0 ||
	    api_str(r, body, "description", 1, TOOL_DESC_MAX, &desc) < 0 ||
	    api_str(r, body, "exec_path", 1, TOOL_PATH_MAX, &path) < 0 ||
	    api_int(r, body, "timeout_ms", 1, 600000, &has, &timeout) < 0 ||
	    api_int(r, body, "max_output_bytes", 1, 64 * 1024 * 1024, &has, &cap) < 0 ||
	    api_bool(r, body, "mutating", &mutating) < 0 ||
	    api_object_text(r, body, "schema", TOOL_SCHEMA_MAX, &schema) < 0 ||
	    admin_tools_secrets(r, body, t) < 0)
		goto out;
	if (json_object_get(body, "enabled") != NULL && api_bool(r, body, "enabled", &enabled) < 0)
		goto out;
	if (schema == NULL || timeout == 0 || cap == 0) {
		resp_error(r, R_invalid_request,
		           "'schema', 'timeout_ms' and 'max_output_bytes' are required");
		goto out;
	}
	util_strlcpy(t->name, name, sizeof(t->name));
	util_strlcpy(t->description, desc, sizeof(t->description));
	util_strlcpy(t->schema, schema, sizeof(t->schema));
	util_strlcpy(t->exec_path, path, sizeof(t->exec_path));
	t->timeout_ms = (int)timeout;
	t->max_output_bytes = (int)cap;
	t->mutating = mutating;
	if (tool_policy_def_check(t, err, sizeof(err)) < 0) {
		resp_error(r, R_invalid_tool, "%s", err);
		goto out;
	}
	rc = store_tool_register(r->store, t, &created);
	if (rc == ST_OK && !enabled)
		rc = store_tool_set_enabled(r->store, t->name, 0);
	if (rc != ST_OK || store_tool_get(r->store, t->name, t) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tool registry is unavailable");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.actor_type = "admin";
	a.actor_id = "operator-api";
	a.action = created ? "tool.register" : "tool.update";
	a.target = t->name;
	a.outcome = "ok";
	a.request_id = r->request_id;
	store_audit(r->store, &a);
	resp_json(r, created ? 201 : 200, objects_tool(t));
out:
	free(schema);
	free(t);
	json_decref(body);
}
