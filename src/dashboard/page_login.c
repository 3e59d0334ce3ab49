/*
 * page_login.c: sign in (password, then a TOTP or recovery code when the
 * user has one) and sign out.
 *
 * DESIGN
 * The login form is protected against CSRF by a double-submit token: GET
 * sets a random pre-session cookie and puts the same value in the form; POST
 * must bring both, equal. An unknown name costs the same Argon2id
 * verification as a known one, so response time does not tell which names
 * exist.
 *
 * Throttling slows guessing and never locks an account: failed sign-ins
 * (wrong passwords and wrong codes alike) are rows of login_attempts, and
 * before any check an attempt must wait out the delay of each slice of
 * login_slices: this account from this address (growing: 1 s after the 3rd
 * failure, doubling to 15 min), this address for any account (growing from
 * the 20th), and this account from any address (a flat 2 s from the 10th:
 * the bound by which an attacker's failures can slow the real user signing
 * in from elsewhere, while a guesser spread over many addresses still gets
 * one try per 2 s). The page says how long to wait.
 *
 * A right password starts a session at a stage: full, or a code due (the
 * user has TOTP), or an enrolment due (MFA required and none set up); a
 * half-done session reaches only the ROUTE_SIGNIN_STEP routes and lives
 * DASH_STEP_MAX_S. The step that completes the sign-in replaces it with a
 * new full session (a new token), and only then are this address's
 * failures of the account forgotten, so a guesser who knows the password
 * does not reset the delays of the code.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "crypto/secrets.h"
#include "crypto/totp.h"
#include "store/admin.h"
#include "store/store.h"
#include "tenancy/admins.h"

#define LOGIN_PRE_MAX_AGE 3600

/* One slice of the failures that delay an attempt. */
struct login_slice {
	int free;    /* failures that cost nothing */
	int cap_s;   /* the longest delay */
	int growing; /* 1: 1 s doubling per failure past free; 0: cap_s flat */
};

enum login_slice_id { SL_PAIR, SL_ADDR, SL_NAME, SL__MAX };

static const struct login_slice login_slices[SL__MAX] = {
    [SL_PAIR] = {3, 15 * 60, 1},             /* this account from this address */
    [SL_ADDR] = {20, 15 * 60, 1},            /* any account from this address */
    [SL_NAME] = {10, LOGIN_NAME_DELAY_S, 0}, /* this account from anywhere: the small bound */
};

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

/* The delay owed after n failures of slice sl. */
static int64_t login_delay(const struct login_slice *sl, int64_t n)
{
	int64_t d;

	if (n < sl->free)
		return 0;
	if (!sl->growing)
		return sl->cap_s;
	d = n - sl->free >= 20 ? sl->cap_s : (int64_t)1 << (n - sl->free);
	return d > sl->cap_s ? sl->cap_s : d;
}

int login_wait(struct req *r, const char *name, const char *ip, int64_t *wait_s)
{
	struct admin_throttle t;
	int64_t n[SL__MAX], ago[SL__MAX], w;
	int i;

	*wait_s = 0;
	if (store_admin_login_throttle(r->store, name, ip, LOGIN_WINDOW_S, &t) != ST_OK)
		return -1;
	n[SL_PAIR] = t.pair_n;
	ago[SL_PAIR] = t.pair_ago;
	n[SL_ADDR] = t.addr_n;
	ago[SL_ADDR] = t.addr_ago;
	n[SL_NAME] = t.name_n;
	ago[SL_NAME] = t.name_ago;
	for (i = 0; i < SL__MAX; i++) {
		w = login_delay(&login_slices[i], n[i]) - ago[i];
		if (w > *wait_s)
			*wait_s = w;
	}
	return 0;
}

void login_wait_message(int64_t wait_s, char *out, size_t cap)
{
	if (wait_s < 120)
		snprintf(out, cap, "Too many failed sign-ins. Try again in %lld second%s.",
		         (long long)wait_s, wait_s == 1 ? "" : "s");
	else
		snprintf(out, cap, "Too many failed sign-ins. Try again in %lld minutes.",
		         (long long)((wait_s + 59) / 60));
}

/* The Retry-After header of a throttled attempt. */
static void login_retry_after(struct req *r, int64_t wait_s)
{
	char v[24];

	snprintf(v, sizeof(v), "%lld", (long long)wait_s);
	resp_header(r, "Retry-After", v);
}

int login_session_start(struct req *r, const struct admin_user *u, const char *ip, int stage,
                        char *csrf_out)
{
	char token[65], csrf[65];
	uint8_t hash[32];
	int rc;

	dash_random_hex(token, 32);
	dash_random_hex(csrf, 32);
	dash_token_hash(token, hash);
	rc = store_admin_session_create(r->store, hash, csrf, u->id, ip, stage);
	if (rc == ST_OK)
		dash_set_cookie(r, DASH_COOKIE, token, DASH_MAX_S);
	if (rc == ST_OK && csrf_out)
		memcpy(csrf_out, csrf, sizeof(csrf));
	sodium_memzero(token, sizeof(token));
	return rc == ST_OK ? 0 : -1;
}

int login_complete(struct req *r, const struct admin_user *u, const char *how)
{
	char token[80], ip[64], target[80], csrf[65];
	uint8_t hash[32];

	dash_client_addr(r, ip, sizeof(ip));
	if (dash_cookie(r, DASH_COOKIE, token, sizeof(token)) == 1) {
		dash_token_hash(token, hash);
		if (store_admin_session_delete(r->store, hash) != ST_OK)
			return -1;
	}
	if (login_session_start(r, u, ip, ADMIN_STAGE_FULL, csrf) < 0 ||
	    store_admin_login_clear(r->store, u->name, ip, LOGIN_WINDOW_S) != ST_OK)
		return -1;
	dash_session_renewed(csrf);
	snprintf(target, sizeof(target), "admin:%s", u->name);
	dash_audit(r, u->tenant_id, "admin.login", target, "ok", how);
	return 0;
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
	char name[65], password[1024], ip[64], target[80], msg[120];
	struct dash_policy pol;
	struct admin_user u;
	int64_t wait_s = 0;
	int rc, good, stage;

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
	if (login_wait(r, name, ip, &wait_s) < 0) {
		dash_unavailable(r);
		goto out;
	}
	if (wait_s > 0) {
		dash_audit(r, 0, "admin.login", target, "denied", "login_throttled");
		login_wait_message(wait_s, msg, sizeof(msg));
		login_retry_after(r, wait_s);
		login_form(r, 429, name, msg);
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
	if (dash_policy(r, &u, &pol) < 0) {
		dash_unavailable(r);
		goto out;
	}
	if (!dash_policy_addr_ok(r, &pol, &u))
		goto out;
	stage = u.mfa ? ADMIN_STAGE_CODE : pol.mfa_required ? ADMIN_STAGE_ENROL : ADMIN_STAGE_FULL;
	if (stage == ADMIN_STAGE_FULL) {
		if (login_complete(r, &u, NULL) < 0) {
			dash_unavailable(r);
			goto out;
		}
		dash_set_cookie(r, DASH_PRE_COOKIE, "", 0);
		dash_redirect(r, "/admin");
		goto out;
	}
	if (login_session_start(r, &u, ip, stage, NULL) < 0) {
		dash_unavailable(r);
		goto out;
	}
	dash_audit(r, u.tenant_id, "admin.login", target, "ok",
	           stage == ADMIN_STAGE_CODE ? "code_due" : "enrolment_due");
	dash_set_cookie(r, DASH_PRE_COOKIE, "", 0);
	dash_redirect(r, stage == ADMIN_STAGE_CODE ? "/admin/login/code" : "/admin/account");
out:
	sodium_memzero(password, sizeof(password));
}

/* The code form of a half-done sign-in, with status and message (may be NULL). */
static void login_code_form(struct req *r, int status, const char *message)
{
	struct page *p = page_new(r, "Sign in: code", NULL);

	if (message)
		page_set(p, "Login.Error", message);
	page_finish(p, status, "login_code.cs");
}

PAGE_FN(page_login_code)
{
	const struct admin_session *s = dash_session();

	(void)id;
	(void)m;
	if (s->stage != ADMIN_STAGE_CODE) {
		dash_redirect(r, s->stage == ADMIN_STAGE_ENROL ? "/admin/account" : "/admin");
		return;
	}
	login_code_form(r, 200, NULL);
}

int login_code_check(struct req *r, const struct admin_user *u, const char *code, int *replay)
{
	struct admin_totp t;
	uint8_t key[64], hash[SECRETS_HASH_LEN];
	char norm[32];
	size_t i, n = 0;
	int64_t step;
	int klen, rc;

	*replay = 0;
	for (i = 0; code[i] && n + 1 < sizeof(norm); i++) {
		char c = code[i];

		if (c == ' ' || c == '-')
			continue;
		norm[n++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	norm[n] = '\0';
	if (n == TOTP_DIGITS && strspn(norm, "0123456789") == n) {
		if (store_admin_totp_get(r->store, u->id, &t) != ST_OK)
			return -1;
		if (!t.enabled || t.ct_len == 0)
			return 0;
		klen = secrets_open_totp(u->id, t.nonce, t.ct, t.ct_len, key, sizeof(key));
		if (klen <= 0) {
			log_error("dashboard: the TOTP secret of user %lld does not open",
			          (long long)u->id);
			return 0;
		}
		step = totp_verify(key, (size_t)klen, norm, (int64_t)time(NULL));
		sodium_memzero(key, sizeof(key));
		if (step == 0)
			return 0;
		rc = store_admin_totp_use(r->store, u->id, step);
		if (rc == ST_CONFLICT)
			*replay = 1;
		return rc == ST_OK ? 1 : rc == ST_CONFLICT ? 0 : -1;
	}
	if (n != ACCOUNT_RECOVERY_LEN)
		return 0;
	secrets_hash_recovery(u->id, norm, hash);
	sodium_memzero(norm, sizeof(norm));
	rc = store_admin_recovery_use(r->store, u->id, hash);
	return rc == ST_OK ? 1 : rc == ST_NOTFOUND ? 0 : -1;
}

PAGE_FN(page_login_code_post)
{
	const struct admin_session *s = dash_session();
	char code[64], ip[64], target[80], msg[120];
	int64_t wait_s = 0;
	int ok, replay = 0;

	(void)id;
	(void)m;
	if (s->stage != ADMIN_STAGE_CODE) {
		dash_redirect(r, s->stage == ADMIN_STAGE_ENROL ? "/admin/account" : "/admin");
		return;
	}
	dash_client_addr(r, ip, sizeof(ip));
	snprintf(target, sizeof(target), "admin:%s", s->user.name);
	if (login_wait(r, s->user.name, ip, &wait_s) < 0) {
		dash_unavailable(r);
		return;
	}
	if (wait_s > 0) {
		dash_audit(r, s->user.tenant_id, "admin.login", target, "denied",
		           "login_throttled");
		login_wait_message(wait_s, msg, sizeof(msg));
		login_retry_after(r, wait_s);
		login_code_form(r, 429, msg);
		return;
	}
	if (dash_form(r, "code", code, sizeof(code)) != 1 || code[0] == '\0') {
		login_code_form(r, 400,
		                "Enter the 6-digit code from your authenticator app, or a"
		                " recovery code.");
		return;
	}
	ok = login_code_check(r, &s->user, code, &replay);
	sodium_memzero(code, sizeof(code));
	if (ok < 0) {
		dash_unavailable(r);
		return;
	}
	if (!ok) {
		if (store_admin_login_fail(r->store, s->user.name, ip) != ST_OK)
			log_warn("dashboard: failed sign-in not recorded");
		dash_audit(r, s->user.tenant_id, "admin.login", target, "denied",
		           replay ? "code_replayed" : "bad_code");
		login_code_form(r, 401,
		                replay ? "That code was used already. Wait for the next one."
		                       : "Wrong code.");
		return;
	}
	if (login_complete(r, &s->user, "mfa") < 0) {
		dash_unavailable(r);
		return;
	}
	dash_redirect(r, "/admin");
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
