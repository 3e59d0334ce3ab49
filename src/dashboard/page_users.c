/*
 * page_users.c: dashboard users (operators only).
 *
 * DESIGN
 * An operator adds users, changes roles, resets passwords and removes users.
 * Passwords are never typed by the operator: a new random one (128 bits, hex)
 * is generated, hashed with Argon2id and shown once on the result page for
 * the operator to hand over; a reset ends the user's sessions. An operator
 * cannot remove or demote themself, so a signed-in operator always remains.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/store.h"
#include "tenancy/admins.h"
#include "common/valid.h"

struct users_list {
	struct page *p;
	struct store *st;
};

static int users_row(void *ctx, const struct admin_user *u)
{
	struct users_list *l = ctx;
	struct tenant t;

	page_row(l->p, "Users");
	page_set(l->p, ".Name", u->name);
	page_set(l->p, ".Role", u->role);
	page_set(l->p, ".Mfa", u->mfa ? "1" : "");
	page_set_i64(l->p, ".TenantId", u->tenant_id);
	page_set_time(l->p, ".Created", u->created);
	if (u->tenant_id && store_tenant_get(l->st, u->tenant_id, &t) == ST_OK)
		page_set(l->p, ".Tenant", t.slug);
	return 0;
}

/* The users page; error: a form message; secret_for/secret: a password shown once. */
static void users_render(struct req *r, int status, const char *error, const char *secret_for,
                         const char *secret)
{
	struct users_list l = {page_new(r, "Dashboard users", "users"), r->store};

	page_store(l.p, store_admin_user_list(r->store, users_row, &l), NULL);
	if (error)
		page_set(l.p, "FormError", error);
	if (secret) {
		page_set(l.p, "Secret.For", secret_for);
		page_set(l.p, "Secret.Password", secret);
	}
	page_finish(l.p, status, "users.cs");
}

static int users_operator(struct req *r)
{
	if (dash_is_operator())
		return 1;
	if (dash_is_staff())
		dash_error(r, 403, "Only operators manage dashboard users.");
	else
		dash_not_found(r, "page");
	return 0;
}

PAGE_FN(page_users)
{
	(void)id;
	(void)m;
	if (users_operator(r))
		users_render(r, 200, NULL, NULL, NULL);
}

/* Parse role and tenant fields: 0 ok, else -1 after rendering the error. */
static int users_scope(struct req *r, const char *role, const char *tenant, int64_t *tid)
{
	struct tenant t;
	int64_t n;
	int rc;

	*tid = 0;
	if (strcmp(role, ADMIN_ROLE_OPERATOR) != 0 && strcmp(role, ADMIN_ROLE_SUPPORT) != 0 &&
	    strcmp(role, ADMIN_ROLE_TENANT) != 0) {
		users_render(r, 400, "Choose a role: operator, support or tenant_admin.", NULL,
		             NULL);
		return -1;
	}
	if (strcmp(role, ADMIN_ROLE_TENANT) != 0)
		return 0;
	if (tenant[0] == '\0') {
		users_render(r, 400, "A tenant_admin needs a tenant (its slug or id).", NULL, NULL);
		return -1;
	}
	if (util_parse_i64(tenant, 1, INT64_MAX, &n) == 0)
		rc = store_tenant_get(r->store, n, &t);
	else
		rc = store_tenant_get_by_slug(r->store, tenant, &t);
	if (rc == ST_NOTFOUND) {
		users_render(r, 400, "No tenant has this slug or id.", NULL, NULL);
		return -1;
	}
	if (!dash_store_ok(r, rc, NULL))
		return -1;
	*tid = t.id;
	return 0;
}

PAGE_FN(page_users_add)
{
	char name[80] = "", role[32] = "", tenant[80] = "", target[96];
	char pw[ADMIN_GENERATED_LEN + 1], hash[crypto_pwhash_STRBYTES];
	int64_t tid;
	int rc;

	(void)id;
	(void)m;
	if (!users_operator(r))
		return;
	if (dash_form(r, "name", name, sizeof(name)) < 0 ||
	    dash_form(r, "role", role, sizeof(role)) < 0 ||
	    dash_form(r, "tenant", tenant, sizeof(tenant)) < 0 || !valid_name(VALID_ADMIN, name)) {
		users_render(r, 400, "A name is 1 to 64 of A-Z a-z 0-9 . _ - @.", NULL, NULL);
		return;
	}
	if (users_scope(r, role, tenant, &tid) < 0)
		return;
	if (admin_password_generate(pw, hash) != 0) {
		dash_error(r, 503, "Out of memory while hashing the password; try again.");
		return;
	}
	rc = store_admin_user_add(r->store, name, hash, role, tid);
	sodium_memzero(hash, sizeof(hash));
	if (rc == ST_CONFLICT) {
		users_render(r, 400, "A user with this name exists already.", NULL, NULL);
	} else if (dash_store_ok(r, rc, "tenant")) {
		snprintf(target, sizeof(target), "admin:%s", name);
		dash_audit(r, tid, "admin.add", target, "ok", NULL);
		users_render(r, 200, NULL, name, pw);
	}
	sodium_memzero(pw, sizeof(pw));
}

/* The user named in the URL, not the signed-in one; 0, or -1 after an answer. */
static int users_other(struct req *r, const struct route_match *m, struct admin_user *u)
{
	const struct admin_session *s = dash_session();
	if (!dash_store_ok(r, store_admin_user_get(r->store, m->params[0], u), "user"))
		return -1;
	if (s && s->user.id == u->id) {
		users_render(r, 400, "You cannot change or remove your own account here.", NULL,
		             NULL);
		return -1;
	}
	return 0;
}

PAGE_FN(page_users_role)
{
	char role[32] = "", tenant[80] = "", target[96];
	struct admin_user u;
	int64_t tid;

	(void)id;
	if (!users_operator(r) || users_other(r, m, &u) < 0)
		return;
	if (dash_form(r, "role", role, sizeof(role)) < 0 ||
	    dash_form(r, "tenant", tenant, sizeof(tenant)) < 0) {
		users_render(r, 400, "The form was malformed.", NULL, NULL);
		return;
	}
	if (users_scope(r, role, tenant, &tid) < 0)
		return;
	if (!dash_store_ok(r, store_admin_user_set_role(r->store, u.name, role, tid), "user"))
		return;
	snprintf(target, sizeof(target), "admin:%s", u.name);
	dash_audit(r, tid, "admin.role", target, "ok", NULL);
	dash_redirect(r, "/admin/users");
}

PAGE_FN(page_users_password)
{
	char pw[ADMIN_GENERATED_LEN + 1], hash[crypto_pwhash_STRBYTES], target[96];
	struct admin_user u;
	int rc;

	(void)id;
	if (!users_operator(r) || users_other(r, m, &u) < 0)
		return;
	if (admin_password_generate(pw, hash) != 0) {
		dash_error(r, 503, "Out of memory while hashing the password; try again.");
		return;
	}
	rc = store_admin_user_set_password(r->store, u.name, hash); /* ends their sessions */
	sodium_memzero(hash, sizeof(hash));
	if (dash_store_ok(r, rc, "user")) {
		snprintf(target, sizeof(target), "admin:%s", u.name);
		dash_audit(r, u.tenant_id, "admin.passwd", target, "ok", NULL);
		users_render(r, 200, NULL, u.name, pw);
	}
	sodium_memzero(pw, sizeof(pw));
}

PAGE_FN(page_users_delete)
{
	char confirm[8], target[96];
	struct admin_user u;

	(void)id;
	if (!users_operator(r) || users_other(r, m, &u) < 0)
		return;
	if (dash_form(r, "confirm", confirm, sizeof(confirm)) != 1 || strcmp(confirm, "yes") != 0) {
		users_render(r, 400, "Tick the confirmation box to remove a user.", NULL, NULL);
		return;
	}
	if (!dash_store_ok(r, store_admin_user_delete(r->store, u.name), "user"))
		return;
	snprintf(target, sizeof(target), "admin:%s", u.name);
	dash_audit(r, u.tenant_id, "admin.remove", target, "ok", NULL);
	dash_redirect(r, "/admin/users");
}
