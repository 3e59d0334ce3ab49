/*
 * page_login.c: sign in and sign out.
 *
 * DESIGN
 * The login form is protected against CSRF by a double-submit token: GET
 * sets a random pre-session cookie and puts the same value in the form; POST
 * must bring both, equal. Failed sign-ins are counted per account and per
 * client address over LOGIN_WINDOW_S; past the limits every attempt is
 * refused (429) before any password is checked, so guessing cannot go
 * faster than the limit. An unknown name costs the same Argon2id
 * verification as a known one, so response time does not tell which names
 * exist. A successful sign-in starts a session whose random token only the
 * cookie holds (the database keeps its hash) and forgets the account's
 * failures.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/store.h"
#include "tenancy/admins.h"

#define LOGIN_WINDOW_S (15 * 60)
#define LOGIN_MAX_PER_NAME 5
#define LOGIN_MAX_PER_ADDR 20
#define LOGIN_PRE_MAX_AGE 3600

static pthread_once_t login_dummy_once = PTHREAD_ONCE_INIT;
static char login_dummy_hash[crypto_pwhash_STRBYTES];

/* A hash of a random password, verified against when the name is unknown. */
static void login_dummy_init(void)
{
	char pw[ADMIN_GENERATED_LEN + 1];

	if (admin_password_generate(pw, login_dummy_hash) != 0)
		login_dummy_hash[0] = '\0';
	sodium_memzero(pw, sizeof(pw));
}

/* Render the form with a fresh pre-session token and message (may be NULL). */
static void login_form(struct req *r, int status, const char *name, const char *message)
{
	struct page *p = page_new(r, "Sign in", NULL);
	char pre[65];

	dash_random_hex(pre, 32);
	dash_set_cookie(r, DASH_PRE_COOKIE, pre, LOGIN_PRE_MAX_AGE);
	page_set(p, "Csrf", pre);
	page_set(p, "Login.Name", name);
	if (message)
		page_set(p, "Login.Error", message);
	page_finish(p, status, "login.cs");
}

PAGE_FN(page_login_get)
{
	(void)id;
	(void)m;
	if (dash_available(r))
		login_form(r, 200, NULL, NULL);
}

/* Whether the form's csrf field equals the pre-session cookie. */
static int login_csrf_ok(const struct req *r)
{
	char form[80], cookie[80];

	if (dash_form(r, "csrf", form, sizeof(form)) != 1 ||
	    dash_cookie(r, DASH_PRE_COOKIE, cookie, sizeof(cookie)) != 1 || strlen(form) != 64 ||
	    strlen(cookie) != 64)
		return 0;
	return sodium_memcmp(form, cookie, 64) == 0;
}

PAGE_FN(page_login_post)
{
	char name[65], password[1024], ip[64], token[65], csrf[65], target[80];
	struct admin_user u;
	int64_t by_name = 0, by_ip = 0;
	uint8_t hash[32];
	int rc, good;

	(void)id;
	(void)m;
	if (!dash_available(r))
		return;
	if (!login_csrf_ok(r)) {
		login_form(
		    r, 403, NULL,
		    "The sign-in form expired or did not come from this site. Please try again.");
		return;
	}
	if (dash_form(r, "name", name, sizeof(name)) != 1 || name[0] == '\0' ||
	    dash_form(r, "password", password, sizeof(password)) != 1 || password[0] == '\0') {
		login_form(r, 400, NULL, "Enter your name and password.");
		return;
	}
	dash_client_addr(r, ip, sizeof(ip));
	snprintf(target, sizeof(target), "admin:%s", name);
	if (!dash_store_ok(
	        r, store_admin_login_failures(r->store, name, ip, LOGIN_WINDOW_S, &by_name, &by_ip),
	        NULL))
		goto out;
	if (by_name >= LOGIN_MAX_PER_NAME || by_ip >= LOGIN_MAX_PER_ADDR) {
		dash_audit(r, 0, "admin.login", target, "denied", "login_throttled");
		login_form(r, 429, name,
		           "Too many failed sign-ins. Wait 15 minutes, then try again.");
		goto out;
	}
	rc = store_admin_user_get(r->store, name, &u);
	if (rc != ST_OK && rc != ST_NOTFOUND) {
		dash_unavailable(r);
		goto out;
	}
	if (rc == ST_OK) {
		good = crypto_pwhash_str_verify(u.pw_hash, password, strlen(password)) == 0;
	} else {
		pthread_once(&login_dummy_once, login_dummy_init);
		/* the same work as a real check; whatever it says, the name is unknown */
		if (crypto_pwhash_str_verify(login_dummy_hash, password, strlen(password)) == 0)
			log_debug("dashboard: sign-in for an unknown name");
		good = 0;
	}
	if (!good) {
		if (store_admin_login_fail(r->store, name, ip) != ST_OK)
			log_warn("dashboard: failed sign-in not recorded");
		dash_audit(r, rc == ST_OK ? u.tenant_id : 0, "admin.login", target, "denied",
		           "bad_credentials");
		login_form(r, 401, name, "Wrong name or password.");
		goto out;
	}
	dash_random_hex(token, 32);
	dash_random_hex(csrf, 32);
	dash_token_hash(token, hash);
	if (store_admin_session_create(r->store, hash, csrf, u.id, ip) != ST_OK ||
	    store_admin_login_clear(r->store, name, LOGIN_WINDOW_S) != ST_OK) {
		dash_unavailable(r);
		goto out;
	}
	dash_audit(r, u.tenant_id, "admin.login", target, "ok", NULL);
	dash_set_cookie(r, DASH_PRE_COOKIE, "", 0);
	dash_set_cookie(r, DASH_COOKIE, token, DASH_MAX_S);
	dash_redirect(r, "/admin");
out:
	sodium_memzero(password, sizeof(password));
	sodium_memzero(token, sizeof(token));
}

PAGE_FN(page_logout)
{
	char token[80], target[80];
	uint8_t hash[32];
	const struct admin_session *s = dash_session();

	(void)id;
	(void)m;
	if (dash_cookie(r, DASH_COOKIE, token, sizeof(token)) == 1) {
		dash_token_hash(token, hash);
		if (store_admin_session_delete(r->store, hash) != ST_OK) {
			dash_unavailable(r);
			return;
		}
	}
	snprintf(target, sizeof(target), "admin:%s", s ? s->user.name : "");
	dash_audit(r, s ? s->user.tenant_id : 0, "admin.logout", target, "ok", NULL);
	dash_set_cookie(r, DASH_COOKIE, "", 0);
	dash_redirect(r, "/admin/login");
}
