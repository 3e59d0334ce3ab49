/*
 * page_account.c: the signed-in user's own account: two-factor (TOTP)
 * enrolment and recovery codes.
 *
 * DESIGN
 * Enrolment is two steps. POST /admin/account/mfa makes a new 160-bit
 * secret, stores it sealed (crypto/secrets.c) and unconfirmed, and shows it
 * once: as a QR code of its otpauth:// URI (drawn server-side as inline
 * SVG by render.c) and as base32 text. Reloading does not show it again;
 * starting over makes a new one. POST /admin/account/mfa/confirm takes the
 * first code, which turns MFA on (its step becomes the last used one, so it
 * cannot be replayed at sign-in), and shows ACCOUNT_RECOVERY_N recovery
 * codes once; only their keyed hashes are stored. A session sent here
 * because MFA is required (stage "enrolment due") becomes a full session
 * with a new token when the enrolment is confirmed. A set-up secret is
 * never shown again and cannot be replaced from the dashboard without an
 * operator clearing it (agenthostctl admin mfa-reset), so a stolen session
 * cannot move a user's second factor to another device. New recovery codes
 * need a current code.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "crypto/secrets.h"
#include "crypto/totp.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/store.h"

/* The account page with status and message (may be NULL). */
static void account_page(struct req *r, int status, const char *message)
{
	const struct admin_session *s = dash_session();
	struct page *p = page_new(r, "Your account", "account");
	struct dash_policy pol;
	int64_t left = 0;

	if (dash_policy(r, &s->user, &pol) < 0)
		page_unavailable(p);
	if (s->user.mfa)
		page_store(p, store_admin_recovery_left(r->store, s->user.id, &left), NULL);
	page_set(p, "Account.Name", s->user.name);
	page_set(p, "Account.Role", s->user.role);
	page_set_i64(p, "Account.Mfa", s->user.mfa);
	page_set_i64(p, "Account.Required", pol.mfa_required);
	page_set_i64(p, "Account.EnrolDue", s->stage == ADMIN_STAGE_ENROL);
	page_set_i64(p, "Account.RecoveryLeft", left);
	if (message)
		page_set(p, "Account.Error", message);
	page_finish(p, status, "account.cs");
}

/*
 * 1 when the session may use the account pages: signed in, or sent here to
 * enrol; a sign-in whose code is still due goes back to the code step (0).
 */
static int account_stage_ok(struct req *r)
{
	if (dash_session()->stage != ADMIN_STAGE_CODE)
		return 1;
	dash_redirect(r, "/admin/login/code");
	return 0;
}

PAGE_FN(page_account)
{
	(void)id;
	(void)m;
	if (account_stage_ok(r))
		account_page(r, 200, NULL);
}

/* name percent-encoded for a URI label (RFC 3986 unreserved kept) into out. */
static void account_uri_escape(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < cap; in++) {
		unsigned char c = (unsigned char)*in;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

PAGE_FN(page_account_mfa)
{
	const struct admin_session *s = dash_session();
	uint8_t secret[TOTP_SECRET_LEN], nonce[SECRETS_NONCE_LEN];
	uint8_t ct[TOTP_SECRET_LEN + SECRETS_MAC_LEN];
	char b32[TOTP_B32_MAX], label[200], uri[400];
	struct page *p;
	size_t ct_len = 0;

	(void)id;
	(void)m;
	if (!account_stage_ok(r))
		return;
	if (s->user.mfa) {
		account_page(r, 409,
		             "Two-factor sign-in is set up already. An operator can clear it"
		             " (agenthostctl admin mfa-reset) if the device is lost.");
		return;
	}
	randombytes_buf(secret, sizeof(secret));
	if (secrets_seal_totp(s->user.id, secret, sizeof(secret), nonce, ct, &ct_len) != 0 ||
	    totp_b32_encode(secret, sizeof(secret), b32, sizeof(b32)) != 0) {
		sodium_memzero(secret, sizeof(secret));
		dash_error(r, 500, "The secret could not be sealed (is the master key loaded?).");
		return;
	}
	sodium_memzero(secret, sizeof(secret));
	if (!dash_store_ok(r, store_admin_totp_set(r->store, s->user.id, nonce, ct, ct_len), NULL))
		goto out;
	account_uri_escape(s->user.name, label, sizeof(label));
	snprintf(uri, sizeof(uri),
	         "otpauth://totp/agenthost:%s?secret=%s&issuer=agenthost&algorithm=SHA1&digits=%d"
	         "&period=%d",
	         label, b32, TOTP_DIGITS, TOTP_PERIOD_S);
	p = page_new(r, "Set up two-factor sign-in", NULL);
	page_set(p, "Secret.Uri", uri);
	page_set(p, "Secret.Base32", b32);
	page_set_qr(p, "Qr", uri);
	page_finish(p, 200, "account_mfa.cs");
out:
	sodium_memzero(b32, sizeof(b32));
	sodium_memzero(uri, sizeof(uri));
}

/*
 * New recovery codes for user_id: stored hashed, shown on a page that says
 * so (title). Sends the page; 0, or -1 when the store failed (503 sent).
 */
static int account_codes_page(struct req *r, int64_t user_id, const char *title)
{
	uint8_t hashes[ACCOUNT_RECOVERY_N][32], raw[8];
	char codes[ACCOUNT_RECOVERY_N][TOTP_B32_MAX], shown[16];
	struct page *p;
	int i, rc = 0;

	for (i = 0; i < ACCOUNT_RECOVERY_N; i++) {
		randombytes_buf(raw, sizeof(raw));
		totp_b32_encode(raw, sizeof(raw), codes[i], sizeof(codes[i]));
		codes[i][ACCOUNT_RECOVERY_LEN] = '\0';
		secrets_hash_recovery(user_id, codes[i], hashes[i]);
	}
	sodium_memzero(raw, sizeof(raw));
	if (!dash_store_ok(r,
	                   store_admin_recovery_set(r->store, user_id, (const uint8_t(*)[32])hashes,
	                                            ACCOUNT_RECOVERY_N),
	                   NULL)) {
		rc = -1;
		goto out;
	}
	p = page_new(r, title, NULL);
	for (i = 0; i < ACCOUNT_RECOVERY_N; i++) {
		snprintf(shown, sizeof(shown), "%.5s-%.5s", codes[i], codes[i] + 5);
		page_add(p, "Secret.Codes", shown);
	}
	sodium_memzero(shown, sizeof(shown));
	page_finish(p, 200, "account_codes.cs");
out:
	sodium_memzero(codes, sizeof(codes));
	return rc;
}

PAGE_FN(page_account_mfa_confirm)
{
	const struct admin_session *s = dash_session();
	struct admin_totp t;
	uint8_t key[64];
	char code[32], target[80];
	int64_t step = 0;
	int klen;

	(void)id;
	(void)m;
	if (!account_stage_ok(r))
		return;
	if (s->user.mfa) {
		dash_redirect(r, "/admin/account");
		return;
	}
	if (dash_form(r, "code", code, sizeof(code)) != 1 || code[0] == '\0') {
		account_page(r, 400, "Enter the 6-digit code your authenticator app shows.");
		return;
	}
	if (!dash_store_ok(r, store_admin_totp_get(r->store, s->user.id, &t), NULL))
		return;
	if (t.enabled || t.ct_len == 0) {
		account_page(r, 409, "No set-up is in progress: start again.");
		return;
	}
	klen = secrets_open_totp(s->user.id, t.nonce, t.ct, t.ct_len, key, sizeof(key));
	if (klen > 0)
		step = totp_verify(key, (size_t)klen, code, (int64_t)time(NULL));
	sodium_memzero(key, sizeof(key));
	if (step == 0) {
		account_page(r, 400,
		             "That code does not match. Check the device's clock, then start the"
		             " set-up again.");
		return;
	}
	if (!dash_store_ok(r, store_admin_totp_enable(r->store, s->user.id, step), NULL))
		return;
	snprintf(target, sizeof(target), "admin:%s", s->user.name);
	dash_audit(r, s->user.tenant_id, "admin.mfa_enrol", target, "ok", NULL);
	if (s->stage == ADMIN_STAGE_ENROL && login_complete(r, &s->user, "mfa_enrolled") < 0) {
		dash_unavailable(r);
		return;
	}
	account_codes_page(r, s->user.id, "Two-factor sign-in is on");
}

PAGE_FN(page_account_recovery)
{
	const struct admin_session *s = dash_session();
	char code[64], target[80], ip[64], msg[120];
	int64_t wait_s = 0;
	int ok, replay = 0;

	(void)id;
	(void)m;
	if (!s->user.mfa) {
		account_page(r, 409, "Set up two-factor sign-in first.");
		return;
	}
	if (dash_form(r, "code", code, sizeof(code)) != 1 ||
	    strspn(code, "0123456789 ") != strlen(code) || code[0] == '\0') {
		account_page(r, 400, "Enter a current 6-digit code to make new recovery codes.");
		return;
	}
	/* a stolen session must not be a way around the sign-in throttle */
	dash_client_addr(r, ip, sizeof(ip));
	if (login_wait(r, s->user.name, ip, &wait_s) < 0) {
		dash_unavailable(r);
		return;
	}
	if (wait_s > 0) {
		login_wait_message(wait_s, msg, sizeof(msg));
		account_page(r, 429, msg);
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
			log_warn("dashboard: failed code not recorded");
		account_page(r, 400,
		             replay ? "That code was used already. Wait for the next one."
		                    : "Wrong code.");
		return;
	}
	snprintf(target, sizeof(target), "admin:%s", s->user.name);
	dash_audit(r, s->user.tenant_id, "admin.mfa_recovery", target, "ok", NULL);
	account_codes_page(r, s->user.id, "New recovery codes");
}
