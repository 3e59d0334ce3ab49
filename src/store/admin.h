/*
 * admin: dashboard users, their sessions, login throttling and the overview
 * figures (store_admin_*).
 *
 * DESIGN
 * Same conventions as store.h: ST_* return codes, SQL only in admin.c.
 * Passwords arrive already hashed (Argon2id strings from crypto_pwhash_str)
 * and session tokens as 32-byte hashes: nothing secret crosses this API.
 * Session timeouts are evaluated by the database clock in the lookup, so all
 * processes agree on them.
 */
#ifndef AH_STORE_ADMIN_H
#define AH_STORE_ADMIN_H

#include <stdint.h>

#include "store/limits.h"

struct store;

#define ADMIN_TOUCH_S 30 /* a session's last_seen is refreshed at most this often */

#define ADMIN_ROLE_OPERATOR "operator"
#define ADMIN_ROLE_SUPPORT "support"
#define ADMIN_ROLE_TENANT "tenant_admin"

struct admin_user {
	int64_t id;
	char name[65];
	char pw_hash[256];
	char role[16];     /* operator | support | tenant_admin */
	int64_t tenant_id; /* tenant_admin only, else 0 */
	int64_t created;   /* unix seconds */
	int mfa;           /* 1 when a TOTP secret is enrolled and confirmed */
};

/* admin_sessions.stage: how far the sign-in behind a session has come. */
enum admin_stage {
	ADMIN_STAGE_FULL = 0,  /* signed in */
	ADMIN_STAGE_CODE = 1,  /* password given, a TOTP or recovery code due */
	ADMIN_STAGE_ENROL = 2, /* password given, MFA required and not set up yet */
	ADMIN_STAGE__MAX
};

struct admin_session {
	int64_t id;
	char csrf[65];
	struct admin_user user; /* pw_hash left empty */
	int stage;              /* enum admin_stage */
	int64_t idle_s;         /* seconds since last_seen (before this request's touch) */
	int64_t age_s;          /* seconds since created */
};

/* Failed sign-ins in the throttle window: counts and seconds since the latest. */
struct admin_throttle {
	int64_t pair_n, pair_ago; /* this account from this address */
	int64_t addr_n, addr_ago; /* any account from this address */
	int64_t name_n, name_ago; /* this account from any address */
};

/* A user's TOTP secret as stored: sealed (crypto/secrets.c), never in clear. */
struct admin_totp {
	uint8_t nonce[24];
	uint8_t ct[128];
	size_t ct_len;     /* 0: none */
	int enabled;       /* confirmed by a first code */
	int64_t last_step; /* the last 30 s step whose code was accepted */
};

struct admin_overview_row {
	int64_t tenant_id;
	char slug[64];
	char name[201];
	int64_t day_cost_micros, month_cost_micros;
	int64_t day_requests, month_requests;
	int64_t day_errors, month_errors;
	int64_t day_budget_micros, month_budget_micros; /* 0 = none recorded */
};

/* Sums of usage_5min over a window, for one tenant or all. */
struct admin_window {
	int64_t requests, succeeded, refused, failed;
	int64_t cost_micros, tokens, latency_ms_sum;
	int64_t lat[8]; /* calls that took <= 100, 250, 500, 1000, 2500, 5000, 10000 ms, more */
};

typedef int (*admin_user_cb)(void *ctx, const struct admin_user *u);
typedef int (*admin_overview_cb)(void *ctx, const struct admin_overview_row *row);

/* ST_CONFLICT when the name exists, ST_NOTFOUND when tenant_id is unknown. */
int store_admin_user_add(struct store *st, const char *name, const char *pw_hash, const char *role,
                         int64_t tenant_id);
/* ST_NOTFOUND when no such user. */
int store_admin_user_get(struct store *st, const char *name, struct admin_user *out);
/* ST_NOTFOUND when no such user. */
int store_admin_user_set_password(struct store *st, const char *name, const char *pw_hash);
/* ST_NOTFOUND when no such user (or tenant); tenant_id 0 for roles without one. */
int store_admin_user_set_role(struct store *st, const char *name, const char *role,
                              int64_t tenant_id);
/* Every user by name (pw_hash left empty); cb returning non-zero stops. */
int store_admin_user_list(struct store *st, admin_user_cb cb, void *ctx);
/* Number of users (for "create the first operator"). */
int store_admin_user_count(struct store *st, int64_t *n);

/* Record a new session for user_id from ip at stage (enum admin_stage). */
int store_admin_session_create(struct store *st, const uint8_t hash[32], const char *csrf,
                               int64_t user_id, const char *ip, int stage);
/*
 * The live session with this token hash: idle for less than idle_s and
 * younger than max_s. Bumps last_seen (when older than ADMIN_TOUCH_S, so the
 * idle timeout is exact to that). ST_NOTFOUND when absent or expired.
 */
int store_admin_session_get(struct store *st, const uint8_t hash[32], int idle_s, int max_s,
                            struct admin_session *out);
/* End a session (ST_OK also when it was already gone). */
int store_admin_session_delete(struct store *st, const uint8_t hash[32]);

/*
 * Failed sign-ins of the last window_s seconds for (name, ip), ip and name:
 * how many and how long ago the latest was (by the database clock).
 */
int store_admin_login_throttle(struct store *st, const char *name, const char *ip, int window_s,
                               struct admin_throttle *out);
/* Record a failed sign-in (a wrong password or a wrong code). */
int store_admin_login_fail(struct store *st, const char *name, const char *ip);
/*
 * Forget the failed sign-ins of name from ip (after a successful one; the
 * failures from other addresses stay) and every row older than window_s.
 */
int store_admin_login_clear(struct store *st, const char *name, const char *ip, int window_s);

/* ------------------------------------------------------------------ two-factor */

/* The TOTP state of user_id into out (ct_len 0 when none). ST_NOTFOUND when no such user. */
int store_admin_totp_get(struct store *st, int64_t user_id, struct admin_totp *out);
/* Store a new, unconfirmed sealed secret (replacing any earlier one; MFA is off until confirmed).
 */
int store_admin_totp_set(struct store *st, int64_t user_id, const uint8_t nonce[24],
                         const uint8_t *ct, size_t ct_len);
/* Confirm the pending secret with the step of its first code. ST_NOTFOUND when none pending. */
int store_admin_totp_enable(struct store *st, int64_t user_id, int64_t step);
/*
 * Spend step: ST_OK when it is later than the last accepted step (and
 * becomes it), ST_CONFLICT when not (a replayed code).
 */
int store_admin_totp_use(struct store *st, int64_t user_id, int64_t step);
/* Remove user name's secret and recovery codes (MFA off). ST_NOTFOUND when no such user. */
int store_admin_totp_clear(struct store *st, const char *name);
/* Replace user_id's recovery codes with these n hashes. */
int store_admin_recovery_set(struct store *st, int64_t user_id, const uint8_t (*hashes)[32],
                             size_t n);
/* Spend an unused recovery code: ST_OK, or ST_NOTFOUND when none matches. */
int store_admin_recovery_use(struct store *st, int64_t user_id, const uint8_t hash[32]);
/* How many unused recovery codes user_id has. */
int store_admin_recovery_left(struct store *st, int64_t user_id, int64_t *n);

/*
 * Spend, requests and errors today and this month (UTC days from
 * usage_daily) with the latest budget limits, for one tenant or (tenant_id 0)
 * for every tenant.
 */
int store_admin_overview(struct store *st, int64_t tenant_id, admin_overview_cb cb, void *ctx);

/* usage_5min summed over the last `seconds` (whole buckets) for tenant_id, or every tenant (0). */
int store_admin_window(struct store *st, int64_t tenant_id, int seconds, struct admin_window *out);

/* One hour of usage_5min (the charts of the overview, tenant and health pages). */
struct admin_hour {
	int64_t hour;          /* unix seconds DIV 3600 */
	struct admin_window w; /* its calls, cost and latency histogram */
};
typedef int (*admin_hour_cb)(void *ctx, const struct admin_hour *h);
/*
 * usage_5min of the last `hours` hours (the current one included, by the
 * database clock) for tenant_id, or every tenant (0), one grouped query,
 * one row per hour that has calls, oldest first. ST_OK or ST_ERR.
 */
int store_admin_hours(struct store *st, int64_t tenant_id, int hours, admin_hour_cb cb, void *ctx);

/* Delete a dashboard user and its sessions. ST_NOTFOUND when no such user. */
int store_admin_user_delete(struct store *st, const char *name);

/* A plans row (struct plan, store/limits.h) and how many tenants are on it. */
struct admin_plan_row {
	struct plan plan;
	int64_t tenants; /* tenants on this plan */
};
/* Every plan with its number of tenants, by name. */
int store_admin_plans(struct store *st, int (*cb)(void *ctx, const struct admin_plan_row *p),
                      void *ctx);

/* Spend and tokens of every tenant together, today and this month (UTC, usage_daily). */
struct admin_global {
	int64_t day_micros, month_micros, day_tokens, month_tokens;
};
int store_admin_global(struct store *st, struct admin_global *out);

#endif
