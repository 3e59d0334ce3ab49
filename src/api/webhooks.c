/*
 * webhooks.c: a tenant's webhooks and their delivery log, on the tenant API
 * (scope manage) and the operator API.
 *
 *   GET  /v1/webhooks                    the tenant's webhooks
 *   POST /v1/webhooks {"url"}            -> 201, the webhook and its signing secret, once
 *   POST /v1/webhooks/{id}/remove
 *   GET  /v1/webhooks/deliveries?limit=  the delivery log, newest first
 *   GET  /admin/api/v1/tenants/{id-or-slug}/webhooks   both, for an operator
 *
 * DESIGN
 * A URL is tenant data: hook_url_check (providers/hook.c) refuses anything
 * that is not a plain http(s) URL, and private or loopback hosts unless the
 * operator allows them (conf webhook_allow_private). The secret is derived
 * from the master key and the webhook's id (crypto/secrets.c): shown in the
 * answer that creates the webhook, never stored; a new secret is a new
 * webhook. Events and deliveries are made by the alert thread
 * (host/alerts.c), never here.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "host/http.h"
#include "providers/hook.h"
#include "store/alerts.h"
#include "tenancy/identify.h"

#define HOOKS_MAX 10 /* webhooks per tenant */

/* webhook_cb: append one webhook to the JSON array ctx. */
static int hooks_collect(void *ctx, const struct webhook *w)
{
	json_t *o = objects_webhook(w);

	return o == NULL || json_array_append_new(ctx, o) != 0;
}

/* alert_log_cb: append one delivery to the JSON array ctx. */
static int hooks_log_collect(void *ctx, const struct alert_log *l)
{
	json_t *o = objects_delivery(l);

	return o == NULL || json_array_append_new(ctx, o) != 0;
}

/* An audit row for a change made with the calling key. */
static void hooks_audit(struct req *r, const struct ident *id, const char *action, int64_t hook_id)
{
	struct audit_entry a;
	char target[40];

	snprintf(target, sizeof(target), "webhook:%" PRId64, hook_id);
	memset(&a, 0, sizeof(a));
	a.tenant_id = id->tenant_id;
	a.actor_type = "api_key";
	a.actor_id = id->key_prefix;
	a.action = action;
	a.target = target;
	a.outcome = "ok";
	a.request_id = r->request_id;
	a.ip = r->remote_addr;
	a.end_user = r->end_user;
	if (store_audit(r->store, &a) != ST_OK)
		log_warn("api: audit row %s failed", action);
}

void api_webhooks_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *arr = json_array();

	(void)m;
	if (arr == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	if (store_webhook_list(r->store, id->tenant_id, hooks_collect, arr) != ST_OK) {
		json_decref(arr);
		resp_error(r, R_database_unavailable, "the webhooks cannot be read");
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", arr));
}

/* webhook_cb: count. */
static int hooks_count(void *ctx, const struct webhook *w)
{
	(void)w;
	(*(int *)ctx)++;
	return 0;
}

void api_webhooks_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	char err[160], secret[SECRETS_WEBHOOK_SECRET_LEN + 1];
	struct webhook w;
	const char *url;
	json_t *body, *out;
	int n = 0, rc;

	(void)m;
	body = req_json_object(r);
	if (body == NULL)
		return;
	if (api_str(r, body, "url", 1, WEBHOOK_URL_MAX, &url) < 0)
		goto done;
	if (hook_url_check(url, r->conf->webhook_allow_private, err, sizeof(err)) != 0) {
		resp_error(r, R_invalid_request, "'url': %s", err);
		goto done;
	}
	if (store_webhook_list(r->store, id->tenant_id, hooks_count, &n) != ST_OK) {
		resp_error(r, R_database_unavailable, "the webhooks cannot be read");
		goto done;
	}
	if (n >= HOOKS_MAX) {
		resp_error(r, R_conflict, "a tenant has at most %d webhooks; remove one first",
		           HOOKS_MAX);
		goto done;
	}
	memset(&w, 0, sizeof(w));
	rc = store_webhook_add(r->store, id->tenant_id, url, &w.id);
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the webhook cannot be stored");
		goto done;
	}
	if (secrets_webhook_secret(id->tenant_id, w.id, secret) != 0) {
		store_webhook_remove(r->store, id->tenant_id, w.id);
		resp_error(r, R_internal_error,
		           "no signing secret can be made (master key not loaded)");
		goto done;
	}
	w.tenant_id = id->tenant_id;
	util_strlcpy(w.url, url, sizeof(w.url));
	w.created_at = util_unix_time();
	hooks_audit(r, id, "webhook.create", w.id);
	out = objects_webhook(&w);
	if (out != NULL)
		json_object_set_new(out, "secret", json_string(secret));
	sodium_memzero(secret, sizeof(secret));
	resp_json(r, 201, out);
done:
	json_decref(body);
}

void api_webhooks_remove(struct req *r, const struct ident *id, const struct route_match *m)
{
	int64_t hid;
	int rc;

	if (m->n_params < 1 || util_parse_i64(m->params[0], 1, INT64_MAX, &hid) != 0) {
		resp_error(r, R_not_found, "no such webhook");
		return;
	}
	rc = store_webhook_remove(r->store, id->tenant_id, hid);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "no such webhook");
		return;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the webhook cannot be removed");
		return;
	}
	hooks_audit(r, id, "webhook.remove", hid);
	resp_json(
	    r, 200,
	    json_pack("{s:s, s:I, s:b}", "object", "webhook", "id", (json_int_t)hid, "removed", 1));
}

/* The tenant's delivery log as a list (new reference), or NULL after an error answer. */
static json_t *hooks_log(struct req *r, int64_t tenant_id)
{
	json_t *arr = json_array();
	int limit = 50;

	if (arr == NULL) {
		resp_error(r, R_server_busy, "out of memory");
		return NULL;
	}
	if (api_limit(r, 50, 500, &limit) < 0) {
		json_decref(arr);
		return NULL;
	}
	if (store_alert_log(r->store, tenant_id, limit, hooks_log_collect, arr) != ST_OK) {
		json_decref(arr);
		resp_error(r, R_database_unavailable, "the delivery log cannot be read");
		return NULL;
	}
	return arr;
}

void api_webhooks_deliveries(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *arr;

	(void)m;
	arr = hooks_log(r, id->tenant_id);
	if (arr != NULL)
		resp_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", arr));
}

void api_admin_tenant_webhooks(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tenant t;
	json_t *hooks, *log;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	hooks = json_array();
	if (hooks == NULL || store_webhook_list(r->store, t.id, hooks_collect, hooks) != ST_OK) {
		json_decref(hooks);
		resp_error(r, R_database_unavailable, "the webhooks cannot be read");
		return;
	}
	log = hooks_log(r, t.id);
	if (log == NULL) {
		json_decref(hooks);
		return;
	}
	resp_json(r, 200,
	          json_pack("{s:s, s:I, s:o, s:o}", "object", "tenant_webhooks", "tenant_id",
	                    (json_int_t)t.id, "webhooks", hooks, "deliveries", log));
}
