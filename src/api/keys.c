/*
 * keys.c: the tenant's self-service API (scope "manage"): its API keys,
 * their scopes and their key_* limits.
 *
 *   GET  /v1/keys                  the tenant's keys
 *   POST /v1/keys                  {"name","scopes":[...],"expires_in"} -> the new key, once
 *   GET  /v1/keys/{id}             one key
 *   POST /v1/keys/{id}/rotate      {"grace_seconds"} -> the successor, once
 *   POST /v1/keys/{id}/revoke
 *   POST /v1/keys/{id}/scopes      {"scopes":[...]}
 *   GET  /v1/keys/{id}/limits      the key's effective limits (the /v1/limits shape)
 *   POST /v1/keys/{id}/limits      {"key_rpm": 60, "key_tpm": null, ...}
 *   GET  /admin/api/v1/tenants/{t}/keys               (operator) the tenant's keys
 *   POST /admin/api/v1/tenants/{t}/keys/{id}/scopes   (operator) any scopes
 *   POST /admin/api/v1/tenants/{t}/keys               (operator) create, any scopes
 *   GET  /admin/api/v1/tenants/{t}/keys/{id}          (operator) one key
 *   POST /admin/api/v1/tenants/{t}/keys/{id}/rotate   (operator) rotate
 *   POST /admin/api/v1/tenants/{t}/keys/{id}/revoke   (operator) revoke
 *
 * DESIGN
 * Keys are issued and rotated by tenancy/keys.c, as the CLI and the
 * dashboard do; only another of the caller's tenant's keys is ever found
 * (the store takes the tenant id), so another tenant's key id is a 404.
 * A key never gives more than it has: the scopes of a key made or changed
 * here must be within the calling key's (403 scope_denied otherwise), and a
 * key limit set here must be within what the tenant's plan and tenant
 * settings give (key_rpm no higher than the tenant-level key_rpm, and not
 * 0 = unlimited when that is set): the tenant narrows its keys, never
 * widens them. Every change is an audit row with the calling key's prefix
 * as the actor.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "tenancy/identify.h"
#include "tenancy/keys.h"

#define KEYS_MAX_TTL (10LL * 365 * 86400) /* longest expires_in, as the CLI */
#define KEYS_MAX_GRACE (30LL * 86400)     /* longest grace_seconds, as the CLI */
#define KEYS_DEFAULT_GRACE 86400

/* One audit row for a change made with the calling key (best effort: logged when it fails). */
static void keys_audit(struct req *r, const struct ident *id, const char *action, int64_t key_id,
                       const char *detail)
{
	struct audit_entry a;
	char target[32];

	snprintf(target, sizeof(target), "key:%" PRId64, key_id);
	memset(&a, 0, sizeof(a));
	a.tenant_id = id->tenant_id;
	a.actor_type = id->key_id != 0 ? "api_key" : "operator";
	a.actor_id = id->key_prefix;
	a.action = action;
	a.target = target;
	a.outcome = "ok";
	a.request_id = r->request_id;
	a.ip = r->remote_addr;
	a.detail = detail;
	a.end_user = r->end_user;
	if (store_audit(r->store, &a) != ST_OK)
		log_warn("api: audit row %s failed", action);
}

/* The key named by the path ({id}) into *k, or -1 after a 404/503. */
static int keys_target(struct req *r, const struct ident *id, const struct route_match *m,
                       struct api_key *k)
{
	int64_t key_id;
	int rc;

	if (m->n_params < 1 || util_parse_i64(m->params[0], 1, INT64_MAX, &key_id) != 0) {
		resp_error(r, R_not_found, "no such key");
		return -1;
	}
	rc = store_key_get(r->store, id->tenant_id, key_id, k);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no such key");
		return -1;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the key cannot be read");
		return -1;
	}
	return 0;
}

/*
 * "scopes" of body: an array of scope names (or one comma-separated string)
 * into *out; absent leaves *out. Within the caller's scopes, else 403
 * scope_denied. 0, or -1 after the answer.
 */
static int keys_scopes_field(struct req *r, const struct ident *id, json_t *body, int *out)
{
	json_t *v = json_object_get(body, "scopes"), *item;
	char text[64];
	size_t i, o = 0;
	int set;

	if (v == NULL)
		return 0;
	if (json_is_string(v)) {
		util_strlcpy(text, json_string_value(v), sizeof(text));
	} else if (json_is_array(v)) {
		text[0] = '\0';
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item) ||
			    o + json_string_length(item) + 2 >= sizeof(text)) {
				resp_error(r, R_invalid_request,
				           "'scopes' must be a list of: inference, read, manage");
				return -1;
			}
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", o ? "," : "",
			                      json_string_value(item));
		}
	} else {
		resp_error(r, R_invalid_request,
		           "'scopes' must be a list of: inference, read, manage");
		return -1;
	}
	if (keys_scopes_parse(text, &set) != 0) {
		resp_error(r, R_invalid_request,
		           "'scopes' must name one or more of inference, read, manage, each once");
		return -1;
	}
	if ((set & ~id->scopes) != 0) {
		char have[32];

		keys_scopes_format(id->scopes, have, sizeof(have));
		resp_error(r, R_scope_denied,
		           "a key cannot give scopes it does not have (this key has: %s)", have);
		return -1;
	}
	*out = set;
	return 0;
}

/* api_key_cb: append one key to the JSON array ctx. */
static int keys_collect(void *ctx, const struct api_key *k)
{
	json_t *o = objects_key(k);

	return o == NULL || json_array_append_new(ctx, o) != 0;
}

void api_keys_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *arr = json_array();

	(void)m;
	if (arr == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (store_key_list(r->store, id->tenant_id, keys_collect, arr) != ST_OK) {
		json_decref(arr);
		resp_error(r, R_database_unavailable, "the keys cannot be read");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", arr));
}

void api_keys_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct api_key k;

	if (keys_target(r, id, m, &k) == 0)
		resp_json(r, 200, objects_key(&k));
}

/* Send the key just issued (id new_id) with its secret, then wipe the secret. */
static void keys_send_new(struct req *r, const struct ident *id, int64_t new_id, char *key,
                          json_t *extra)
{
	struct api_key k;
	json_t *out;

	if (store_key_get(r->store, id->tenant_id, new_id, &k) != ST_OK) {
		/* made all the same: the caller must not lose the secret */
		memset(&k, 0, sizeof(k));
		k.id = new_id;
		k.tenant_id = id->tenant_id;
	}
	out = objects_new_key(&k, key);
	sodium_memzero(key, SECRETS_API_KEY_LEN + 1);
	if (out != NULL && extra != NULL)
		json_object_update(out, extra);
	json_decref(extra);
	resp_json(r, 201, out);
}

void api_keys_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char detail[160], scopes_text[32];
	const char *name = "";
	int64_t ttl = 0, expires_at = 0, new_id = 0;
	int scopes = KEY_SCOPES_DEFAULT, has_ttl = 0, rc;
	json_t *body;

	(void)m;
	body = req_json_object(r);
	if (body == NULL)
		return;
	if (api_str(r, body, "name", 0, 100, &name) < 0 ||
	    api_int(r, body, "expires_in", 60, KEYS_MAX_TTL, &has_ttl, &ttl) < 0 ||
	    keys_scopes_field(r, id, body, &scopes) < 0)
		goto out;
	if (name == NULL)
		name = "";
	if (!valid_name(VALID_KEY_NAME, name)) {
		resp_error(r, R_invalid_request, "'name' must be %s", valid_hint(VALID_KEY_NAME));
		goto out;
	}
	if (has_ttl)
		expires_at = util_unix_time() + ttl;
	rc = keys_issue(r->store, id->tenant_id, name, expires_at, scopes, key, prefix, &new_id);
	if (rc == KEYS_NOSECRETS) {
		resp_error(r, R_internal_error, "keys cannot be made now (master key not loaded)");
		goto out;
	}
	if (rc != KEYS_OK) {
		resp_error(r, R_database_unavailable, "the key cannot be stored");
		goto out;
	}
	keys_scopes_format(scopes, scopes_text, sizeof(scopes_text));
	snprintf(detail, sizeof(detail), "{\"prefix\":\"%s\",\"scopes\":\"%s\"}", prefix,
	         scopes_text);
	keys_audit(r, id, "key.create", new_id, detail);
	keys_send_new(r, id, new_id, key, NULL);
out:
	json_decref(body);
}

void api_keys_rotate(struct req *r, const struct ident *id, const struct route_match *m)
{
	char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char detail[160];
	struct api_key old;
	int64_t grace = KEYS_DEFAULT_GRACE, new_id = 0, valid_until;
	int has_grace = 0, rc;
	json_t *body = NULL;

	if (keys_target(r, id, m, &old) < 0)
		return;
	if (r->body.len > 0) {
		body = req_json_object(r);
		if (body == NULL)
			return;
		if (api_int(r, body, "grace_seconds", 0, KEYS_MAX_GRACE, &has_grace, &grace) < 0)
			goto out;
	}
	if (old.state != KEY_ACTIVE || old.rotated_to != 0) {
		resp_error(r, R_conflict,
		           "key %" PRId64 " is %s; only an active key can be rotated", old.id,
		           old.rotated_to ? "already rotated" : objects_key_state(old.state));
		goto out;
	}
	rc = keys_rotate(r->store, id->tenant_id, old.id, grace, key, prefix, &new_id);
	if (rc == KEYS_NOTFOUND) {
		resp_error(r, R_not_found, "no such key");
		goto out;
	}
	if (rc == KEYS_NOSECRETS) {
		resp_error(r, R_internal_error, "keys cannot be made now (master key not loaded)");
		goto out;
	}
	if (rc != KEYS_OK) {
		resp_error(r, R_database_unavailable, "the key cannot be rotated");
		goto out;
	}
	valid_until = util_unix_time() + grace;
	if (store_key_get(r->store, id->tenant_id, old.id, &old) == ST_OK && old.grace_until != 0)
		valid_until = old.grace_until;
	snprintf(detail, sizeof(detail),
	         "{\"new_key_id\":%" PRId64 ",\"prefix\":\"%s\",\"grace_seconds\":%" PRId64 "}",
	         new_id, prefix, grace);
	keys_audit(r, id, "key.rotate", old.id, detail);
	keys_send_new(r, id, new_id, key,
	              json_pack("{s:I, s:I}", "replaces", (json_int_t)old.id, "old_key_valid_until",
	                        (json_int_t)valid_until));
out:
	json_decref(body);
}

void api_keys_revoke(struct req *r, const struct ident *id, const struct route_match *m)
{
	char detail[80];
	struct api_key k;
	int rc;

	if (keys_target(r, id, m, &k) < 0)
		return;
	rc = store_key_revoke(r->store, id->tenant_id, k.id);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no such key");
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the key cannot be revoked");
		return;
	}
	snprintf(detail, sizeof(detail), "{\"prefix\":\"%s\"}", k.prefix);
	keys_audit(r, id, "key.revoke", k.id, detail);
	if (store_key_get(r->store, id->tenant_id, k.id, &k) != ST_OK)
		k.state = KEY_REVOKED;
	resp_json(r, 200, objects_key(&k));
}

void api_keys_scopes(struct req *r, const struct ident *id, const struct route_match *m)
{
	char detail[120], text[32];
	struct api_key k;
	int scopes = -1, rc;
	json_t *body;

	if (keys_target(r, id, m, &k) < 0)
		return;
	body = req_json_object(r);
	if (body == NULL)
		return;
	if (keys_scopes_field(r, id, body, &scopes) < 0)
		goto out;
	if (scopes < 0) {
		resp_error(r, R_invalid_request, "'scopes' is required");
		goto out;
	}
	rc = store_key_set_scopes(r->store, id->tenant_id, k.id, scopes);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no such key");
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the key cannot be changed");
		goto out;
	}
	keys_scopes_format(scopes, text, sizeof(text));
	snprintf(detail, sizeof(detail), "{\"prefix\":\"%s\",\"scopes\":\"%s\"}", k.prefix, text);
	keys_audit(r, id, "key.scopes", k.id, detail);
	k.scopes = scopes;
	resp_json(r, 200, objects_key(&k));
out:
	json_decref(body);
}

/* Send the effective limits of (tenant, key) in the GET /v1/limits shape. */
static void keys_limits_send(struct req *r, int64_t tenant_id, int64_t key_id)
{
	struct limits *l = malloc(sizeof(*l));

	if (l == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (limits_resolve(r->store, tenant_id, key_id, l) < 0)
		resp_error(r, R_database_unavailable, "the limits cannot be read");
	else
		api_limits_send(r, l);
	free(l);
}

void api_keys_limits_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct api_key k;

	if (keys_target(r, id, m, &k) == 0)
		keys_limits_send(r, id->tenant_id, k.id);
}

/*
 * Check one key limit against what the tenant gets without it (tl): a
 * number, within the plan (limits_within, as a project's). 0, or -1 with a
 * message in err.
 */
static int keys_limit_within(const struct limits *tl, int lid, const char *norm, char *err,
                             size_t errlen)
{
	const struct limit_def *d = &limit_defs()[lid];

	if (d->type != LT_COUNT && lid != LIM_ALERT_THRESHOLDS) {
		snprintf(err, errlen, "'%s' cannot be set through the API", d->name);
		return -1;
	}
	return limits_within(tl, lid, norm, err, errlen);
}

void api_keys_limits_set(struct req *r, const struct ident *id, const struct route_match *m)
{
	char text[1024], norm[1024], err[256], who[64];
	struct limits *tl = NULL;
	struct api_key k;
	const char *name;
	json_t *body = NULL, *v, *detail = NULL;
	int lid;

	if (keys_target(r, id, m, &k) < 0)
		return;
	body = req_json_object(r);
	if (body == NULL)
		return;
	tl = malloc(sizeof(*tl));
	detail = json_object();
	if (tl == NULL || detail == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		goto out;
	}
	if (limits_resolve(r->store, id->tenant_id, 0, tl) < 0) {
		resp_error(r, R_database_unavailable, "the limits cannot be read");
		goto out;
	}
	if (json_object_size(body) == 0) {
		resp_error(r, R_invalid_request, "name at least one key limit (key_rpm, ...)");
		goto out;
	}
	/* everything is checked before anything is written */
	json_object_foreach(body, name, v)
	{
		lid = limit_by_name(name);
		if (lid < 0 ||
		    !((limit_defs()[lid].scopes & LSB(LS_KEY)) || lid == LIM_ALERT_THRESHOLDS)) {
			resp_error(r, R_invalid_request, "'%s' is not a limit of a key", name);
			goto out;
		}
		if (json_is_null(v))
			continue;
		if (api_limit_value(v, text, sizeof(text)) < 0) {
			resp_error(r, R_invalid_request, "'%s' must be a number or null", name);
			goto out;
		}
		if (limit_validate(lid, text, norm, sizeof(norm), err, sizeof(err)) != 0 ||
		    keys_limit_within(tl, lid, norm, err, sizeof(err)) != 0) {
			resp_error(r, R_invalid_request, "%s", err);
			goto out;
		}
	}
	snprintf(who, sizeof(who), "api_key:%s", id->key_prefix);
	json_object_foreach(body, name, v)
	{
		int rc;

		lid = limit_by_name(name);
		if (json_is_null(v)) {
			rc = store_limit_unset(r->store, "key", k.id, name);
			if (rc == ST_NOTFOUND)
				rc = ST_OK;
			json_object_set_new(detail, name, json_null());
		} else {
			api_limit_value(v, text, sizeof(text));
			limit_validate(lid, text, norm, sizeof(norm), err, sizeof(err));
			rc = store_limit_set(r->store, "key", k.id, name, norm, who);
			json_object_set_new(detail, name, json_string(norm));
		}
		if (rc != ST_OK) {
			resp_error(r, R_database_unavailable, "the limit '%s' cannot be stored",
			           name);
			goto out;
		}
	}
	{
		char *dump = json_dumps(detail, JSON_COMPACT);

		keys_audit(r, id, "key.limits", k.id, dump);
		free(dump);
	}
	keys_limits_send(r, id->tenant_id, k.id);
out:
	json_decref(detail);
	json_decref(body);
	free(tl);
}

/* ------------------------------------------------------------------ operator API */

void api_admin_tenant_keys(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct ident as;
	struct tenant t;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	memset(&as, 0, sizeof(as));
	as.tenant_id = t.id;
	api_keys_list(r, &as, m);
}

/*
 * Run the tenant API's handler fn for the tenant of the operator route's
 * first segment, with the key id of its second segment (if any) as fn's
 * only parameter: the operator acts as the tenant's own manage key with
 * every scope, audited as itself (actor type operator, its token's name).
 */
static void keys_as_operator(struct req *r, const struct route_match *m,
                             void (*fn)(struct req *, const struct ident *,
                                        const struct route_match *))
{
	struct route_match km;
	struct ident as;
	struct tenant t;

	if (api_admin_tenant(r, m, &t) < 0)
		return;
	r->tenant_id = t.id;
	memset(&as, 0, sizeof(as));
	as.tenant_id = t.id;
	as.scopes = KEY_SCOPES_ALL;
	util_strlcpy(as.key_prefix, r->operator_id, sizeof(as.key_prefix));
	memset(&km, 0, sizeof(km));
	if (m->n_params > 1) {
		km.n_params = 1;
		util_strlcpy(km.params[0], m->params[1], sizeof(km.params[0]));
	}
	fn(r, &as, &km);
}

void api_admin_key_scopes(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	keys_as_operator(r, m, api_keys_scopes);
}

void api_admin_key_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	keys_as_operator(r, m, api_keys_create);
}

void api_admin_key_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	keys_as_operator(r, m, api_keys_get);
}

void api_admin_key_rotate(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	keys_as_operator(r, m, api_keys_rotate);
}

void api_admin_key_revoke(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	keys_as_operator(r, m, api_keys_revoke);
}
