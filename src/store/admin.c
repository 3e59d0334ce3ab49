/*
 * admin.c: dashboard users, sessions, login throttling, overview (see admin.h).
 *
 * DESIGN
 * Statements are the ADM_ entries of store/statements.h.
 * Session expiry is a WHERE clause on the database clock, and the same
 * lookup bumps last_seen in a second statement; a session found expired is
 * simply not found (the dashboard then asks for a new login).
 */
#include "config.h"

#include <string.h>

#include "store/admin.h"
#include "store/db.h"
#include "store/store.h"

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"

static const char sql_user_add[] =
    "INSERT INTO admin_users (name, pw_hash, role, tenant_id, created_at)"
    " VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6))";
static const char sql_user_get[] = "SELECT id, name, pw_hash, role, COALESCE(tenant_id, 0), " TS(
    "created_at") ", totp_enabled FROM admin_users WHERE name = ?";
static const char sql_user_pw[] = "UPDATE admin_users SET pw_hash = ? WHERE name = ?";
static const char sql_user_role[] = "UPDATE admin_users SET role = ?, tenant_id = ? WHERE name = ?";
static const char sql_user_list[] = "SELECT id, name, role, COALESCE(tenant_id, 0), " TS(
    "created_at") ", totp_enabled FROM admin_users ORDER BY name";
static const char sql_user_end_sessions[] =
    "DELETE s FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id WHERE u.name = ?";
static const char sql_user_count[] = "SELECT COUNT(*) FROM admin_users";
static const char sql_sess_add[] =
    "INSERT INTO admin_sessions (token_hash, csrf, user_id, created_at, last_seen, ip, stage)"
    " VALUES (?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), ?, ?)";
static const char sql_sess_get[] =
    "SELECT s.id, s.csrf, u.id, u.name, u.role, COALESCE(u.tenant_id, 0), " TS(
        "u.created_at") ", TIMESTAMPDIFF(SECOND, s.last_seen, UTC_TIMESTAMP(6)), u.totp_enabled,"
                        " s.stage, TIMESTAMPDIFF(SECOND, s.created_at, UTC_TIMESTAMP(6)) FROM "
                        "admin_sessions s JOIN admin_users u ON u.id = s.user_id"
                        " WHERE s.token_hash = ?"
                        " AND s.last_seen > UTC_TIMESTAMP(6) - INTERVAL ? SECOND"
                        " AND s.created_at > UTC_TIMESTAMP(6) - INTERVAL ? SECOND";
static const char sql_sess_touch[] =
    "UPDATE admin_sessions SET last_seen = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_sess_del[] = "DELETE FROM admin_sessions WHERE token_hash = ?";
/* count and seconds since the latest failure, of one slice of login_attempts */
#define FAIL_SLICE(cond)                                                                           \
	"(SELECT COUNT(*) FROM login_attempts WHERE " cond                                         \
	" AND at > UTC_TIMESTAMP(6) - INTERVAL ? SECOND),"                                         \
	" COALESCE((SELECT TIMESTAMPDIFF(SECOND, MAX(at), UTC_TIMESTAMP(6)) FROM login_attempts"   \
	" WHERE " cond " AND at > UTC_TIMESTAMP(6) - INTERVAL ? SECOND), 0)"
static const char sql_fail_count[] = "SELECT " FAIL_SLICE("name = ? AND ip = ?") ", " FAIL_SLICE(
    "ip = ?") ", " FAIL_SLICE("name = ?");
static const char sql_fail_add[] =
    "INSERT INTO login_attempts (name, ip, at) VALUES (?, ?, UTC_TIMESTAMP(6))";
static const char sql_fail_clear[] = "DELETE FROM login_attempts WHERE (name = ? AND ip = ?)"
                                     " OR at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND";
static const char sql_totp_get[] =
    "SELECT totp_nonce, totp_ct, totp_enabled, totp_last_step FROM admin_users WHERE id = ?";
static const char sql_totp_set[] = "UPDATE admin_users SET totp_nonce = ?, totp_ct = ?,"
                                   " totp_enabled = 0, totp_last_step = 0 WHERE id = ?";
static const char sql_totp_enable[] = "UPDATE admin_users SET totp_enabled = 1, totp_last_step = ?"
                                      " WHERE id = ? AND totp_enabled = 0 AND totp_ct IS NOT NULL";
static const char sql_totp_use[] = "UPDATE admin_users SET totp_last_step = ?"
                                   " WHERE id = ? AND totp_enabled = 1 AND totp_last_step < ?";
static const char sql_totp_clear[] = "UPDATE admin_users SET totp_nonce = NULL, totp_ct = NULL,"
                                     " totp_enabled = 0, totp_last_step = 0 WHERE name = ?";
static const char sql_rec_del[] = "DELETE FROM admin_recovery_codes WHERE user_id = ?";
static const char sql_rec_del_name[] = "DELETE r FROM admin_recovery_codes r"
                                       " JOIN admin_users u ON u.id = r.user_id WHERE u.name = ?";
static const char sql_rec_add[] =
    "INSERT INTO admin_recovery_codes (user_id, code_hash, used_at) VALUES (?, ?, NULL)";
static const char sql_rec_use[] = "UPDATE admin_recovery_codes SET used_at = UTC_TIMESTAMP(6)"
                                  " WHERE user_id = ? AND code_hash = ? AND used_at IS NULL";
static const char sql_rec_left[] =
    "SELECT COUNT(*) FROM admin_recovery_codes WHERE user_id = ? AND used_at IS NULL";
static const char sql_overview[] =
    "SELECT t.id, t.slug, t.name,"
    " COALESCE(SUM(CASE WHEN u.day = UTC_DATE() THEN u.cost_micros END), 0),"
    " COALESCE(SUM(u.cost_micros), 0),"
    " COALESCE(SUM(CASE WHEN u.day = UTC_DATE() THEN u.requests END), 0),"
    " COALESCE(SUM(u.requests), 0),"
    " COALESCE(SUM(CASE WHEN u.day = UTC_DATE() THEN u.errors END), 0),"
    " COALESCE(SUM(u.errors), 0),"
    " COALESCE((SELECT b.lim_micros FROM budget_counters b WHERE b.scope = 'tenant'"
    " AND b.scope_id = t.id AND b.win = 'day' ORDER BY b.period DESC LIMIT 1), 0),"
    " COALESCE((SELECT b.lim_micros FROM budget_counters b WHERE b.scope = 'tenant'"
    " AND b.scope_id = t.id AND b.win = 'month' ORDER BY b.period DESC LIMIT 1), 0)"
    " FROM tenants t LEFT JOIN usage_daily u ON u.tenant_id = t.id"
    " AND u.day >= DATE_FORMAT(UTC_DATE(), '%Y-%m-01')"
    " WHERE (? = 0 OR t.id = ?) GROUP BY t.id, t.slug, t.name"
    " ORDER BY 5 DESC, t.id";

#define WINDOW_SUMS                                                                                \
	"SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(succeeded), 0), COALESCE(SUM(refused), "  \
	"0),"                                                                                      \
	" COALESCE(SUM(failed), 0), COALESCE(SUM(cost_micros), 0), COALESCE(SUM(tokens), 0),"      \
	" COALESCE(SUM(latency_ms_sum), 0), COALESCE(SUM(lat_le_100), 0),"                         \
	" COALESCE(SUM(lat_le_250), 0), COALESCE(SUM(lat_le_500), 0), COALESCE(SUM(lat_le_1000), " \
	"0),"                                                                                      \
	" COALESCE(SUM(lat_le_2500), 0), COALESCE(SUM(lat_le_5000), 0),"                           \
	" COALESCE(SUM(lat_le_10000), 0), COALESCE(SUM(lat_gt_10000), 0) FROM usage_5min"
static const char sql_window_one[] =
    WINDOW_SUMS " WHERE tenant_id = ? AND bucket >= UNIX_TIMESTAMP() DIV 300 - ?";
static const char sql_window_all[] = WINDOW_SUMS " WHERE bucket >= UNIX_TIMESTAMP() DIV 300 - ?";
/* Hours by the 5-minute buckets they hold (12 each): one grouped query per chart. */
#define HOURS_SUMS                                                                                 \
	"SELECT bucket DIV 12, SUM(requests), SUM(succeeded), SUM(refused), SUM(failed),"          \
	" SUM(cost_micros), SUM(tokens), SUM(latency_ms_sum), SUM(lat_le_100), SUM(lat_le_250),"   \
	" SUM(lat_le_500), SUM(lat_le_1000), SUM(lat_le_2500), SUM(lat_le_5000),"                  \
	" SUM(lat_le_10000), SUM(lat_gt_10000) FROM usage_5min"
#define HOURS_SINCE " bucket >= (UNIX_TIMESTAMP() DIV 3600 - ?) * 12"
static const char sql_hours_one[] =
    HOURS_SUMS " WHERE tenant_id = ? AND" HOURS_SINCE " GROUP BY bucket DIV 12 ORDER BY 1";
static const char sql_hours_all[] =
    HOURS_SUMS " WHERE" HOURS_SINCE " GROUP BY bucket DIV 12 ORDER BY 1";

static const char sql_user_del[] = "DELETE FROM admin_users WHERE name = ?";
static const char sql_plans[] = "SELECT p.id, p.name, p.description, " TS(
    "p.created_at") ", COUNT(t.id) FROM plans p"
                    " LEFT JOIN tenants t ON t.plan_id = p.id GROUP BY p.id, p.name, "
                    "p.description, p.created_at"
                    " ORDER BY p.name";
static const char sql_global[] =
    "SELECT COALESCE(SUM(CASE WHEN day = UTC_DATE() THEN cost_micros END), 0),"
    " COALESCE(SUM(cost_micros), 0),"
    " COALESCE(SUM(CASE WHEN day = UTC_DATE() THEN prompt_tokens + completion_tokens END), 0),"
    " COALESCE(SUM(prompt_tokens + completion_tokens), 0)"
    " FROM usage_daily WHERE day >= DATE_FORMAT(UTC_DATE(), '%Y-%m-01')";

/* Run a statement without result rows; ST_OK, ST_CONFLICT, ST_NOTFOUND or ST_ERR. */
static int admin_exec(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in,
                      const char *fn)
{
	return db_exec(st, q, sql, in, NULL, fn);
}

/* End every session of user name (after a password or role change). */
static int admin_end_sessions(struct store *st, const char *name)
{
	MYSQL_BIND in[1];
	unsigned long l;

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l);
	return admin_exec(st, Q_ADM_USER_END_SESSIONS, sql_user_end_sessions, in, __func__);
}

int store_admin_user_add(struct store *st, const char *name, const char *pw_hash, const char *role,
                         int64_t tenant_id)
{
	MYSQL_BIND in[4];
	unsigned long l[3];

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l[0]);
	db_in_str(&in[1], pw_hash, &l[1]);
	db_in_str(&in[2], role, &l[2]);
	db_in_i64_or_null(&in[3], &tenant_id);
	return admin_exec(st, Q_ADM_USER_ADD, sql_user_add, in, __func__);
}

int store_admin_user_get(struct store *st, const char *name, struct admin_user *out)
{
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l);
	db_out_init(&o);
	db_out_i64(&o, &out->id);
	db_out_str(&o, out->name, sizeof(out->name));
	db_out_str(&o, out->pw_hash, sizeof(out->pw_hash));
	db_out_str(&o, out->role, sizeof(out->role));
	db_out_i64(&o, &out->tenant_id);
	db_out_i64(&o, &out->created);
	db_out_int(&o, &out->mfa);
	if (db_exec(st, Q_ADM_USER_GET, sql_user_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ADM_USER_GET, &o, __func__);
	db_end(st, Q_ADM_USER_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_admin_user_set_password(struct store *st, const char *name, const char *pw_hash)
{
	MYSQL_BIND in[2];
	unsigned long l[2];
	int rc;

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], pw_hash, &l[0]);
	db_in_str(&in[1], name, &l[1]);
	rc = admin_exec(st, Q_ADM_USER_PW, sql_user_pw, in, __func__);
	if (rc != ST_OK)
		return rc;
	if (!db_affected(st, Q_ADM_USER_PW))
		return ST_NOTFOUND;
	return admin_end_sessions(st, name);
}

int store_admin_user_set_role(struct store *st, const char *name, const char *role,
                              int64_t tenant_id)
{
	MYSQL_BIND in[3];
	unsigned long l[2];
	int rc;

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], role, &l[0]);
	db_in_i64_or_null(&in[1], &tenant_id);
	db_in_str(&in[2], name, &l[1]);
	rc = admin_exec(st, Q_ADM_USER_ROLE, sql_user_role, in, __func__);
	if (rc != ST_OK)
		return rc;
	return db_affected(st, Q_ADM_USER_ROLE) ? ST_OK : ST_NOTFOUND;
}

int store_admin_user_list(struct store *st, admin_user_cb cb, void *ctx)
{
	struct admin_user u;
	struct db_out o;
	int rc;

	memset(&u, 0, sizeof(u));
	db_out_init(&o);
	db_out_i64(&o, &u.id);
	db_out_str(&o, u.name, sizeof(u.name));
	db_out_str(&o, u.role, sizeof(u.role));
	db_out_i64(&o, &u.tenant_id);
	db_out_i64(&o, &u.created);
	db_out_int(&o, &u.mfa);
	if (db_exec(st, Q_ADM_USER_LIST, sql_user_list, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_ADM_USER_LIST, &o, __func__)) == 1) {
		if (cb(ctx, &u) != 0)
			break;
	}
	db_end(st, Q_ADM_USER_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_admin_user_count(struct store *st, int64_t *n)
{
	struct db_out o;
	int rc;

	*n = 0;
	db_out_init(&o);
	db_out_i64(&o, n);
	if (db_exec(st, Q_ADM_USER_COUNT, sql_user_count, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ADM_USER_COUNT, &o, __func__);
	db_end(st, Q_ADM_USER_COUNT, &o);
	return rc == 1 ? ST_OK : ST_ERR;
}

int store_admin_session_create(struct store *st, const uint8_t hash[32], const char *csrf,
                               int64_t user_id, const char *ip, int stage)
{
	MYSQL_BIND in[5];
	unsigned long l[3];

	memset(in, 0, sizeof(in));
	db_in_blob(&in[0], hash, 32, &l[0]);
	db_in_str(&in[1], csrf, &l[1]);
	db_in_i64(&in[2], &user_id);
	db_in_str(&in[3], ip ? ip : "", &l[2]);
	db_in_int(&in[4], &stage);
	return admin_exec(st, Q_ADM_SESS_ADD, sql_sess_add, in, __func__);
}

int store_admin_session_get(struct store *st, const uint8_t hash[32], int idle_s, int max_s,
                            struct admin_session *out)
{
	struct db_out o;
	MYSQL_BIND in[3], tin[1];
	unsigned long l;
	int64_t idle_for = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(in));
	db_in_blob(&in[0], hash, 32, &l);
	db_in_int(&in[1], &idle_s);
	db_in_int(&in[2], &max_s);
	db_out_init(&o);
	db_out_i64(&o, &out->id);
	db_out_str(&o, out->csrf, sizeof(out->csrf));
	db_out_i64(&o, &out->user.id);
	db_out_str(&o, out->user.name, sizeof(out->user.name));
	db_out_str(&o, out->user.role, sizeof(out->user.role));
	db_out_i64(&o, &out->user.tenant_id);
	db_out_i64(&o, &out->user.created);
	db_out_i64(&o, &idle_for);
	db_out_int(&o, &out->user.mfa);
	db_out_int(&o, &out->stage);
	db_out_i64(&o, &out->age_s);
	if (db_exec(st, Q_ADM_SESS_GET, sql_sess_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ADM_SESS_GET, &o, __func__);
	db_end(st, Q_ADM_SESS_GET, &o);
	if (rc < 0)
		return ST_ERR;
	if (rc == 0)
		return ST_NOTFOUND;
	out->idle_s = idle_for;
	/* last_seen moves at most once per ADMIN_TOUCH_S: one write per page is not needed. */
	if (idle_for < ADMIN_TOUCH_S)
		return ST_OK;
	memset(tin, 0, sizeof(tin));
	db_in_i64(&tin[0], &out->id);
	return admin_exec(st, Q_ADM_SESS_TOUCH, sql_sess_touch, tin, __func__) == ST_OK ? ST_OK
	                                                                                : ST_ERR;
}

int store_admin_session_delete(struct store *st, const uint8_t hash[32])
{
	MYSQL_BIND in[1];
	unsigned long l;

	memset(in, 0, sizeof(in));
	db_in_blob(&in[0], hash, 32, &l);
	return admin_exec(st, Q_ADM_SESS_DEL, sql_sess_del, in, __func__);
}

int store_admin_login_throttle(struct store *st, const char *name, const char *ip, int window_s,
                               struct admin_throttle *out)
{
	struct db_out o;
	MYSQL_BIND in[14];
	unsigned long l[8];
	const char *addr = ip ? ip : "";
	int rc, i;

	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(in));
	/* each slice takes its condition's values and the window, twice */
	for (i = 0; i < 2; i++) {
		db_in_str(&in[3 * i], name, &l[2 * i]);
		db_in_str(&in[3 * i + 1], addr, &l[2 * i + 1]);
		db_in_int(&in[3 * i + 2], &window_s);
		db_in_str(&in[6 + 2 * i], addr, &l[4 + i]);
		db_in_int(&in[6 + 2 * i + 1], &window_s);
		db_in_str(&in[10 + 2 * i], name, &l[6 + i]);
		db_in_int(&in[10 + 2 * i + 1], &window_s);
	}
	db_out_init(&o);
	db_out_i64(&o, &out->pair_n);
	db_out_i64(&o, &out->pair_ago);
	db_out_i64(&o, &out->addr_n);
	db_out_i64(&o, &out->addr_ago);
	db_out_i64(&o, &out->name_n);
	db_out_i64(&o, &out->name_ago);
	if (db_exec(st, Q_ADM_FAIL_COUNT, sql_fail_count, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ADM_FAIL_COUNT, &o, __func__);
	db_end(st, Q_ADM_FAIL_COUNT, &o);
	return rc == 1 ? ST_OK : ST_ERR;
}

int store_admin_login_fail(struct store *st, const char *name, const char *ip)
{
	MYSQL_BIND in[2];
	unsigned long l[2];

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l[0]);
	db_in_str(&in[1], ip ? ip : "", &l[1]);
	return admin_exec(st, Q_ADM_FAIL_ADD, sql_fail_add, in, __func__);
}

int store_admin_login_clear(struct store *st, const char *name, const char *ip, int window_s)
{
	MYSQL_BIND in[3];
	unsigned long l[2];

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l[0]);
	db_in_str(&in[1], ip ? ip : "", &l[1]);
	db_in_int(&in[2], &window_s);
	return admin_exec(st, Q_ADM_FAIL_CLEAR, sql_fail_clear, in, __func__);
}

/* ------------------------------------------------------------------ two-factor */

int store_admin_totp_get(struct store *st, int64_t user_id, struct admin_totp *out)
{
	struct db_out o;
	MYSQL_BIND in[1];
	size_t ci, ni;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &user_id);
	db_out_init(&o);
	ni = db_out_blob(&o, out->nonce, sizeof(out->nonce));
	ci = db_out_blob(&o, out->ct, sizeof(out->ct));
	db_out_int(&o, &out->enabled);
	db_out_i64(&o, &out->last_step);
	if (db_exec(st, Q_ADM_TOTP_GET, sql_totp_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ADM_TOTP_GET, &o, __func__);
	if (rc == 1) {
		/* a NULL, cut or malformed value is "no secret" */
		if (o.null[ci] || o.null[ni] || o.len[ni] != sizeof(out->nonce) ||
		    o.len[ci] > sizeof(out->ct))
			out->ct_len = 0;
		else
			out->ct_len = o.len[ci];
	}
	db_end(st, Q_ADM_TOTP_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_admin_totp_set(struct store *st, int64_t user_id, const uint8_t nonce[24],
                         const uint8_t *ct, size_t ct_len)
{
	MYSQL_BIND in[3];
	unsigned long l[2];
	int rc;

	memset(in, 0, sizeof(in));
	db_in_blob(&in[0], nonce, 24, &l[0]);
	db_in_blob(&in[1], ct, ct_len, &l[1]);
	db_in_i64(&in[2], &user_id);
	rc = admin_exec(st, Q_ADM_TOTP_SET, sql_totp_set, in, __func__);
	if (rc == ST_OK && !db_affected(st, Q_ADM_TOTP_SET))
		return ST_NOTFOUND;
	return rc;
}

int store_admin_totp_enable(struct store *st, int64_t user_id, int64_t step)
{
	MYSQL_BIND in[2];
	int rc;

	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &step);
	db_in_i64(&in[1], &user_id);
	rc = admin_exec(st, Q_ADM_TOTP_ENABLE, sql_totp_enable, in, __func__);
	if (rc == ST_OK && !db_affected(st, Q_ADM_TOTP_ENABLE))
		return ST_NOTFOUND;
	return rc;
}

int store_admin_totp_use(struct store *st, int64_t user_id, int64_t step)
{
	MYSQL_BIND in[3];
	int rc;

	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &step);
	db_in_i64(&in[1], &user_id);
	db_in_i64(&in[2], &step);
	rc = admin_exec(st, Q_ADM_TOTP_USE, sql_totp_use, in, __func__);
	if (rc == ST_OK && !db_affected(st, Q_ADM_TOTP_USE))
		return ST_CONFLICT;
	return rc;
}

int store_admin_totp_clear(struct store *st, const char *name)
{
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l);
	rc = admin_exec(st, Q_ADM_TOTP_CLEAR, sql_totp_clear, in, __func__);
	if (rc != ST_OK)
		return rc;
	if (!db_affected(st, Q_ADM_TOTP_CLEAR))
		return ST_NOTFOUND;
	rc = admin_exec(st, Q_ADM_RECOVERY_DEL, sql_rec_del_name, in, __func__);
	if (rc != ST_OK)
		return rc;
	return admin_end_sessions(st, name);
}

int store_admin_recovery_set(struct store *st, int64_t user_id, const uint8_t (*hashes)[32],
                             size_t n)
{
	MYSQL_BIND in[2];
	unsigned long l;
	size_t i;
	int rc;

	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &user_id);
	rc = admin_exec(st, Q_ADM_RECOVERY_DEL, sql_rec_del, in, __func__);
	for (i = 0; rc == ST_OK && i < n; i++) {
		memset(in, 0, sizeof(in));
		db_in_i64(&in[0], &user_id);
		db_in_blob(&in[1], hashes[i], 32, &l);
		rc = admin_exec(st, Q_ADM_RECOVERY_ADD, sql_rec_add, in, __func__);
	}
	return rc;
}

int store_admin_recovery_use(struct store *st, int64_t user_id, const uint8_t hash[32])
{
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &user_id);
	db_in_blob(&in[1], hash, 32, &l);
	rc = admin_exec(st, Q_ADM_RECOVERY_USE, sql_rec_use, in, __func__);
	if (rc == ST_OK && !db_affected(st, Q_ADM_RECOVERY_USE))
		return ST_NOTFOUND;
	return rc;
}

int store_admin_recovery_left(struct store *st, int64_t user_id, int64_t *n)
{
	struct db_out o;
	MYSQL_BIND in[1];
	int rc;

	*n = 0;
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &user_id);
	db_out_init(&o);
	db_out_i64(&o, n);
	if (db_exec(st, Q_ADM_RECOVERY_LEFT, sql_rec_left, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ADM_RECOVERY_LEFT, &o, __func__);
	db_end(st, Q_ADM_RECOVERY_LEFT, &o);
	return rc == 1 ? ST_OK : ST_ERR;
}

int store_admin_overview(struct store *st, int64_t tenant_id, admin_overview_cb cb, void *ctx)
{
	struct admin_overview_row row;
	struct db_out o;
	MYSQL_BIND in[2];
	int rc;

	memset(&row, 0, sizeof(row));
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, &row.tenant_id);
	db_out_str(&o, row.slug, sizeof(row.slug));
	db_out_str(&o, row.name, sizeof(row.name));
	db_out_i64(&o, &row.day_cost_micros);
	db_out_i64(&o, &row.month_cost_micros);
	db_out_i64(&o, &row.day_requests);
	db_out_i64(&o, &row.month_requests);
	db_out_i64(&o, &row.day_errors);
	db_out_i64(&o, &row.month_errors);
	db_out_i64(&o, &row.day_budget_micros);
	db_out_i64(&o, &row.month_budget_micros);
	if (db_exec(st, Q_ADM_OVERVIEW, sql_overview, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_ADM_OVERVIEW, &o, __func__)) == 1) {
		if (cb(ctx, &row) != 0)
			break;
	}
	db_end(st, Q_ADM_OVERVIEW, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_admin_window(struct store *st, int64_t tenant_id, int seconds, struct admin_window *out)
{
	struct db_out o;
	MYSQL_BIND in[2];
	int buckets = seconds / 300, rc;
	enum db_q q = tenant_id ? Q_ADM_WINDOW_ONE : Q_ADM_WINDOW_ALL;

	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(in));
	if (tenant_id) {
		db_in_i64(&in[0], &tenant_id);
		db_in_int(&in[1], &buckets);
	} else {
		db_in_int(&in[0], &buckets);
	}
	db_out_init(&o);
	db_out_i64(&o, &out->requests);
	db_out_i64(&o, &out->succeeded);
	db_out_i64(&o, &out->refused);
	db_out_i64(&o, &out->failed);
	db_out_i64(&o, &out->cost_micros);
	db_out_i64(&o, &out->tokens);
	db_out_i64(&o, &out->latency_ms_sum);
	for (size_t i = 0; i < 8; i++)
		db_out_i64(&o, &out->lat[i]);
	if (db_exec(st, q, tenant_id ? sql_window_one : sql_window_all, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, q, &o, __func__);
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_admin_hours(struct store *st, int64_t tenant_id, int hours, admin_hour_cb cb, void *ctx)
{
	struct admin_hour h;
	struct db_out o;
	MYSQL_BIND in[2];
	int back = hours - 1, rc;
	enum db_q q = tenant_id ? Q_ADM_HOURS_ONE : Q_ADM_HOURS_ALL;

	memset(&h, 0, sizeof(h));
	memset(in, 0, sizeof(in));
	if (tenant_id) {
		db_in_i64(&in[0], &tenant_id);
		db_in_int(&in[1], &back);
	} else {
		db_in_int(&in[0], &back);
	}
	db_out_init(&o);
	db_out_i64(&o, &h.hour);
	db_out_i64(&o, &h.w.requests);
	db_out_i64(&o, &h.w.succeeded);
	db_out_i64(&o, &h.w.refused);
	db_out_i64(&o, &h.w.failed);
	db_out_i64(&o, &h.w.cost_micros);
	db_out_i64(&o, &h.w.tokens);
	db_out_i64(&o, &h.w.latency_ms_sum);
	for (size_t i = 0; i < 8; i++)
		db_out_i64(&o, &h.w.lat[i]);
	if (db_exec(st, q, tenant_id ? sql_hours_one : sql_hours_all, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, q, &o, __func__)) == 1)
		if (cb(ctx, &h) != 0)
			break;
	db_end(st, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_admin_user_delete(struct store *st, const char *name)
{
	MYSQL_BIND in[1];
	unsigned long l;
	int rc;

	memset(in, 0, sizeof(in));
	db_in_str(&in[0], name, &l);
	rc = admin_exec(st, Q_ADM_USER_DEL, sql_user_del, in,
	                __func__); /* sessions go by ON DELETE CASCADE */
	if (rc != ST_OK)
		return rc;
	return db_affected(st, Q_ADM_USER_DEL) ? ST_OK : ST_NOTFOUND;
}

int store_admin_plans(struct store *st, int (*cb)(void *ctx, const struct admin_plan_row *p),
                      void *ctx)
{
	struct admin_plan_row p;
	struct db_out o;
	int rc;

	memset(&p, 0, sizeof(p));
	db_out_init(&o);
	db_out_i64(&o, &p.plan.id);
	db_out_str(&o, p.plan.name, sizeof(p.plan.name));
	db_out_str(&o, p.plan.description, sizeof(p.plan.description));
	db_out_i64(&o, &p.plan.created_at);
	db_out_i64(&o, &p.tenants);
	if (db_exec(st, Q_ADM_PLANS, sql_plans, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_ADM_PLANS, &o, __func__)) == 1)
		if (cb(ctx, &p) != 0)
			break;
	db_end(st, Q_ADM_PLANS, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_admin_global(struct store *st, struct admin_global *out)
{
	struct db_out o;
	int rc;

	memset(out, 0, sizeof(*out));
	db_out_init(&o);
	db_out_i64(&o, &out->day_micros);
	db_out_i64(&o, &out->month_micros);
	db_out_i64(&o, &out->day_tokens);
	db_out_i64(&o, &out->month_tokens);
	if (db_exec(st, Q_ADM_GLOBAL, sql_global, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_ADM_GLOBAL, &o, __func__);
	db_end(st, Q_ADM_GLOBAL, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
