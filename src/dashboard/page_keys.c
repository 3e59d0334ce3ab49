/*
 * page_keys.c: a tenant's API keys: list, create, rotate, revoke.
 *
 * DESIGN
 * Keys are made by keys_issue / keys_rotate (src/tenancy/keys.c), the same
 * code agenthostctl uses; only the keyed hash is stored. A new secret is
 * shown once, on the answer to the POST itself (no redirect, so it is never
 * in a URL or a later page), in a read-only field with a copy button.
 * Revoking needs a ticked confirmation box, which works without JS. The
 * grace period of a rotation is a fixed choice list, checked here.
 * tenant_admin acts on its own tenant, operator on any, support reads.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/store.h"
#include "tenancy/keys.h"
#include "common/valid.h"

#define KEYS_MAX_EXPIRY_DAYS 3650

/* Grace periods offered when rotating (seconds) and their labels. */
static const struct {
	int64_t seconds;
	const char *label;
} keys_graces[] = {
    {0, "none: the old key stops now"},
    {3600, "1 hour"},
    {86400, "24 hours"},
    {7 * 86400, "7 days"},
};

struct keys_ctx {
	struct page *p;
	int64_t now;
};

/* "2 h 14 min", "3 d 4 h", "45 s" for a duration in seconds. */
static void keys_fmt_left(int64_t s, char *out, size_t cap)
{
	if (s >= 86400)
		snprintf(out, cap, "%" PRId64 " d %" PRId64 " h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, cap, "%" PRId64 " h %" PRId64 " min", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, cap, "%" PRId64 " min", s / 60);
	else
		snprintf(out, cap, "%" PRId64 " s", s);
}

static int keys_row(void *ctx, const struct api_key *k)
{
	struct keys_ctx *c = ctx;
	struct page *p = c->p;
	char left[48], status[96], scopes[32];
	const char *badge = "active";

	status[0] = '\0';
	switch (k->state) {
	case KEY_REVOKED:
		badge = "revoked";
		snprintf(status, sizeof(status), "revoked");
		break;
	case KEY_EXPIRED:
		badge = "expired";
		snprintf(status, sizeof(status), "expired");
		break;
	case KEY_ROTATED:
		badge = "expired";
		snprintf(status, sizeof(status), "rotated; grace ended");
		break;
	default:
		if (k->grace_until > 0) {
			badge = "grace";
			keys_fmt_left(k->grace_until - c->now > 0 ? k->grace_until - c->now : 0,
			              left, sizeof(left));
			snprintf(status, sizeof(status), "rotating: old key works for %s", left);
		} else {
			snprintf(status, sizeof(status), "active");
		}
	}
	page_row(p, "Keys");
	page_set_i64(p, ".Id", k->id);
	page_set(p, ".Name", k->name);
	page_set(p, ".Prefix", k->prefix);
	page_set(p, ".Badge", badge);
	page_set(p, ".Status", status);
	keys_scopes_format(k->scopes, scopes, sizeof(scopes));
	page_set(p, ".Scopes", scopes);
	page_set_time(p, ".Created", k->created_at);
	if (k->rotated_to >
	    0) /* after a rotation both keys have one name: say which replaced which */
		page_set_i64(p, ".RotatedTo", k->rotated_to);
	page_set_i64(p, ".Active", k->state == KEY_ACTIVE);
	page_set_i64(p, ".Rotatable", k->state == KEY_ACTIVE && k->rotated_to == 0);
	if (k->last_used_at > 0)
		page_set_time(p, ".LastUsed", k->last_used_at);
	if (k->expires_at > 0)
		page_set_time(p, ".Expires", k->expires_at);
	if (k->grace_until > 0)
		page_set_time(p, ".GraceUntil", k->grace_until);
	return 0;
}

/* The key list of t, with an error and the typed values when a form failed. */
static void keys_render(struct req *r, int status, const struct tenant *t, const char *err,
                        const char *name, const char *days)
{
	struct page *p = page_new(r, "API keys", "keys");
	struct keys_ctx c = {p, util_unix_time()};
	char done[16];

	page_store(p, store_key_list(r->store, t->id, keys_row, &c), NULL);
	for (size_t i = 0; i < sizeof(keys_graces) / sizeof(keys_graces[0]); i++) {
		page_row(p, "Graces");
		page_set_i64(p, ".Seconds", keys_graces[i].seconds);
		page_set(p, ".Label", keys_graces[i].label);
	}
	if (dash_query(r, "done", done, sizeof(done)) == 1 && strcmp(done, "revoked") == 0)
		page_set(p, "Flash", "Key revoked: it no longer works.");
	page_set_tenant(p, t);
	if (err)
		page_set(p, "FormError", err);
	page_set(p, "Form.Name", name);
	page_set(p, "Form.Days", days);
	page_finish(p, status, "keys.cs");
}

PAGE_FN(page_keys)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	keys_render(r, 200, &t, NULL, "", "");
}

/* Show a new secret once. old_until > 0 for a rotation. */
static void keys_secret(struct req *r, const struct tenant *t, const char *secret,
                        const char *prefix, int64_t key_id, int64_t old_id, int64_t old_until)
{
	struct page *p = page_new(r, "New API key", "keys");

	page_set_tenant(p, t);
	page_set(p, "Secret.Key", secret);
	page_set(p, "Secret.Prefix", prefix);
	page_set_i64(p, "Secret.Id", key_id);
	if (old_id > 0) {
		page_set_i64(p, "Secret.OldId", old_id);
		page_set_time(p, "Secret.OldUntil", old_until);
	}
	page_finish(p, 200, "key_secret.cs");
}

PAGE_FN(page_key_create)
{
	struct tenant t;
	char name[140], days[16], key[SECRETS_API_KEY_LEN + 1],
	    prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char target[40];
	char yes[8];
	int64_t n_days = 0, expires_at = 0, kid = 0;
	int rc, scopes = 0;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	if (dash_form(r, "name", name, sizeof(name)) != 1)
		name[0] = '\0';
	/* one checkbox per scope: scope_inference, scope_read, scope_manage */
	for (int i = 0; keys_scope_name(i) != NULL; i++) {
		char field[32];

		snprintf(field, sizeof(field), "scope_%s", keys_scope_name(i));
		if (dash_form(r, field, yes, sizeof(yes)) == 1 && strcmp(yes, "yes") == 0)
			scopes |= 1 << i;
	}
	if (dash_form(r, "expires_days", days, sizeof(days)) != 1)
		days[0] = '\0';
	if (!valid_name(VALID_KEY_NAME, name)) {
		keys_render(r, 400, &t,
		            "Name: at most 100 characters of text, no control characters.", name,
		            days);
		return;
	}
	if (days[0] != '\0') {
		if (util_parse_i64(days, 1, KEYS_MAX_EXPIRY_DAYS, &n_days) != 0) {
			keys_render(
			    r, 400, &t,
			    "Expires after: a whole number of days from 1 to 3650, or empty for"
			    " never.",
			    name, days);
			return;
		}
		expires_at = util_unix_time() + n_days * 86400;
	}
	if (scopes == 0) {
		keys_render(r, 400, &t, "Scopes: tick at least one of inference, read and manage.",
		            name, days);
		return;
	}
	rc = keys_issue(r->store, t.id, name, expires_at, scopes, key, prefix, &kid);
	if (rc == KEYS_NOSECRETS) {
		dash_error(r, 503, "The server has no master key loaded; keys cannot be made.");
		return;
	}
	if (rc != KEYS_OK) {
		dash_unavailable(r);
		return;
	}
	snprintf(target, sizeof(target), "key:%" PRId64, kid);
	dash_audit(r, t.id, "key.create", target, "ok", NULL);
	keys_secret(r, &t, key, prefix, kid, 0, 0);
	sodium_memzero(key, sizeof(key));
}

/* The key of .../keys/{kid}/... for t; 0 when a page was sent. */
static int keys_target(struct req *r, const struct route_match *m, const struct tenant *t,
                       struct api_key *k)
{
	int64_t kid = 0;
	int rc;

	if (m->n_params < 2 || util_parse_i64(m->params[1], 1, INT64_MAX, &kid) != 0) {
		dash_not_found(r, "key");
		return 0;
	}
	rc = store_key_get(r->store, t->id, kid, k);
	return dash_store_ok(r, rc, "key");
}

PAGE_FN(page_key_rotate)
{
	struct tenant t;
	struct api_key old;
	char grace_s[16], key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char target[40];
	int64_t grace = -1, new_id = 0, until;
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !keys_target(r, m, &t, &old))
		return;
	if (dash_form(r, "grace", grace_s, sizeof(grace_s)) == 1)
		for (size_t i = 0; i < sizeof(keys_graces) / sizeof(keys_graces[0]); i++) {
			char v[24];

			snprintf(v, sizeof(v), "%" PRId64, keys_graces[i].seconds);
			if (strcmp(v, grace_s) == 0)
				grace = keys_graces[i].seconds;
		}
	if (grace < 0) {
		keys_render(r, 400, &t, "Grace period: choose one of the listed periods.", "", "");
		return;
	}
	if (old.state != KEY_ACTIVE || old.rotated_to != 0) {
		keys_render(
		    r, 400, &t,
		    "Only an active key that was not rotated yet can be rotated; create a new"
		    " key instead.",
		    "", "");
		return;
	}
	rc = keys_rotate(r->store, t.id, old.id, grace, key, prefix, &new_id);
	if (rc == KEYS_NOSECRETS) {
		dash_error(r, 503, "The server has no master key loaded; keys cannot be made.");
		return;
	}
	if (rc == KEYS_NOTFOUND) {
		dash_not_found(r, "key");
		return;
	}
	if (rc != KEYS_OK) {
		dash_unavailable(r);
		return;
	}
	until = util_unix_time() + grace;
	if (store_key_get(r->store, t.id, old.id, &old) == ST_OK && old.grace_until != 0)
		until = old.grace_until;
	snprintf(target, sizeof(target), "key:%" PRId64, old.id);
	dash_audit(r, t.id, "key.rotate", target, "ok", NULL);
	keys_secret(r, &t, key, prefix, new_id, old.id, until);
	sodium_memzero(key, sizeof(key));
}

PAGE_FN(page_key_revoke)
{
	struct tenant t;
	struct api_key k;
	char confirm[8], target[40], path[80];

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !keys_target(r, m, &t, &k))
		return;
	if (dash_form(r, "confirm", confirm, sizeof(confirm)) != 1 || strcmp(confirm, "yes") != 0) {
		keys_render(r, 400, &t,
		            "To revoke a key, tick the box that confirms it, then press Revoke.",
		            "", "");
		return;
	}
	if (!dash_store_ok(r, store_key_revoke(r->store, t.id, k.id), "key"))
		return;
	snprintf(target, sizeof(target), "key:%" PRId64, k.id);
	dash_audit(r, t.id, "key.revoke", target, "ok", NULL);
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/keys?done=revoked", t.id);
	dash_redirect(r, path);
}
