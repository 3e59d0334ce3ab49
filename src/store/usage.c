/*
 * usage.c: usage reports from the daily rollup, and operator tokens
 * (store_usage_*, store_operator_token_*).
 *
 * DESIGN
 * Reports read usage_daily, never executions: the rollup is written in the
 * same transaction as each execution row (executions.c), so its sums are
 * exact and a month of usage is at most a few hundred rows per tenant and
 * day to add up. The tenant is the leading column of the rollup's primary
 * key and is in every WHERE clause; agent names and key prefixes are
 * joined from agents and api_keys with the tenant in the join condition
 * too (LEFT JOIN: chat calls have no agent, and a row must never vanish
 * from a sum because its name cannot be found). Each group_by has its own
 * SQL text and therefore its own prepared statement slot.
 *
 * Operator tokens are stored like API keys: only the keyed hash, a display
 * prefix, and timestamps; a token is active while revoked_at is NULL, read
 * on every request (no cache), so a revocation holds from the next request.
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"
#include "store/usage.h"

#define TS(col) "CAST(FLOOR(UNIX_TIMESTAMP(" col ")) AS SIGNED)"

/* Sums as integers: SUM() of BIGINT is DECIMAL, which would not bind to an int64. */
#define USAGE_SUMS                                                                                 \
	"CAST(COALESCE(SUM(u.requests), 0) AS SIGNED), CAST(COALESCE(SUM(u.errors), 0) AS "        \
	"SIGNED),"                                                                                 \
	" CAST(COALESCE(SUM(u.prompt_tokens), 0) AS SIGNED),"                                      \
	" CAST(COALESCE(SUM(u.completion_tokens), 0) AS SIGNED),"                                  \
	" CAST(COALESCE(SUM(u.cost_micros), 0) AS SIGNED),"                                        \
	" CAST(COALESCE(SUM(u.cache_hits), 0) AS SIGNED)"

#define USAGE_RANGE " WHERE u.tenant_id = ? AND u.day >= ? AND u.day <= ?"

static const char sql_by_day[] = "SELECT DATE_FORMAT(u.day, '%Y-%m-%d'), 0, " USAGE_SUMS
                                 " FROM usage_daily u" USAGE_RANGE " GROUP BY u.day ORDER BY u.day";
static const char sql_by_model[] =
    "SELECT u.model, 0, " USAGE_SUMS " FROM usage_daily u" USAGE_RANGE
    " GROUP BY u.model ORDER BY u.model";
static const char sql_by_agent[] =
    "SELECT COALESCE(a.name, ''), u.agent_id, " USAGE_SUMS
    " FROM usage_daily u LEFT JOIN agents a ON a.tenant_id = u.tenant_id AND a.id = "
    "u.agent_id" USAGE_RANGE " GROUP BY u.agent_id, a.name ORDER BY u.agent_id";
static const char sql_by_key[] =
    "SELECT COALESCE(k.prefix, ''), u.key_id, " USAGE_SUMS
    " FROM usage_daily u LEFT JOIN api_keys k ON k.tenant_id = u.tenant_id AND k.id = "
    "u.key_id" USAGE_RANGE " GROUP BY u.key_id, k.prefix ORDER BY u.key_id";
/* usage_attr_daily keeps no error count: errors is 0 in this report (docs/API.md). */
static const char sql_by_end_user[] =
    "SELECT u.user, 0, CAST(COALESCE(SUM(u.requests), 0) AS SIGNED), 0,"
    " CAST(COALESCE(SUM(u.prompt_tokens), 0) AS SIGNED),"
    " CAST(COALESCE(SUM(u.completion_tokens), 0) AS SIGNED),"
    " CAST(COALESCE(SUM(u.cost_micros), 0) AS SIGNED),"
    " CAST(COALESCE(SUM(u.cache_hits), 0) AS SIGNED)"
    " FROM usage_attr_daily u" USAGE_RANGE " GROUP BY u.user ORDER BY u.user";
static const char sql_total[] = "SELECT '', 0, " USAGE_SUMS " FROM usage_daily u" USAGE_RANGE;

static const char sql_op_insert[] =
    "INSERT INTO operator_tokens (name, prefix, token_hash, created_at)"
    " VALUES (?, ?, ?, UTC_TIMESTAMP(6))";
static const char sql_op_check[] =
    "SELECT id FROM operator_tokens WHERE token_hash = ? AND revoked_at IS NULL";
static const char sql_op_touch[] =
    "UPDATE operator_tokens SET last_used_at = UTC_TIMESTAMP(6) WHERE id = ? AND"
    " (last_used_at IS NULL OR last_used_at < UTC_TIMESTAMP(6) - INTERVAL 60 SECOND)";
static const char sql_op_revoke[] = "UPDATE operator_tokens SET revoked_at = COALESCE(revoked_at,"
                                    " UTC_TIMESTAMP(6)) WHERE id = ?";
static const char sql_op_list[] = "SELECT id, name, prefix, " TS("created_at") ", " TS(
    "revoked_at") ", " TS("last_used_at") " FROM operator_tokens ORDER BY id";

/* One report kind: its group_by name, statement and SQL. */
static const struct {
	const char *name;
	enum db_q q;
	const char *sql;
} usage_reports[] = {
    {"day", Q_USAGE_BY_DAY, sql_by_day},
    {"model", Q_USAGE_BY_MODEL, sql_by_model},
    {"agent", Q_USAGE_BY_AGENT, sql_by_agent},
    {"key", Q_USAGE_BY_KEY, sql_by_key},
    {"end_user", Q_USAGE_BY_END_USER, sql_by_end_user},
    {"total", Q_USAGE_TOTAL, sql_total},
};

/* 1 when s is exactly "YYYY-MM-DD" in shape (the database checks the calendar). */
static int usage_day_shape_ok(const char *s)
{
	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

/*
 * Usage of tenant_id from start_day to end_day inclusive, grouped by
 * group_by ("day", "model", "agent", "key", "end_user" or "total"), rows in group
 * order; "total" yields exactly one row (zeros when nothing was used).
 * cb returning nonzero stops the walk. ST_OK, or ST_ERR (also for an
 * unknown group_by or a malformed day: callers validate first).
 */
int store_usage_report(struct store *st, int64_t tenant_id, const char *start_day,
                       const char *end_day, const char *group_by, usage_cb cb, void *ctx)
{
	/*
	 * Rollups are read from the control database for every tenant: it holds
	 * the summary of dedicated tenants too (written when each call settles),
	 * next to the agents and keys the report names.
	 */
	struct store *d = st;
	struct usage_row u;
	struct db_out o;
	MYSQL_BIND in[3];
	unsigned long l[2];
	enum db_q q;
	size_t i;
	int rc;

	if (group_by == NULL || !usage_day_shape_ok(start_day) || !usage_day_shape_ok(end_day)) {
		log_error("store: store_usage_report: bad group or day");
		return ST_ERR;
	}
	for (i = 0; i < sizeof(usage_reports) / sizeof(usage_reports[0]); i++)
		if (strcmp(usage_reports[i].name, group_by) == 0)
			break;
	if (i == sizeof(usage_reports) / sizeof(usage_reports[0])) {
		log_error("store: store_usage_report: unknown group_by");
		return ST_ERR;
	}
	q = usage_reports[i].q;
	memset(&u, 0, sizeof(u));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], start_day, &l[0]);
	db_in_str(&in[2], end_day, &l[1]);
	db_out_init(&o);
	db_out_str(&o, u.group, sizeof(u.group));
	db_out_i64(&o, &u.group_id);
	db_out_i64(&o, &u.requests);
	db_out_i64(&o, &u.errors);
	db_out_i64(&o, &u.prompt_tokens);
	db_out_i64(&o, &u.completion_tokens);
	db_out_i64(&o, &u.cost_micros);
	db_out_i64(&o, &u.cache_hits);
	rc = db_exec(d, q, usage_reports[i].sql, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(d, q, &o, __func__)) == 1)
		if (cb(ctx, &u))
			break;
	db_end(d, q, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Store a new operator token (its keyed hash and display prefix only).
 * ST_OK with *id_out (may be NULL), ST_CONFLICT when the hash is already
 * stored, ST_ERR.
 */
int store_operator_token_insert(struct store *st, const char *name, const char *prefix,
                                const uint8_t hash[32], int64_t *id_out)
{
	MYSQL_BIND in[3];
	unsigned long l[3];
	int rc;

	if (name == NULL || prefix == NULL || *name == '\0') {
		log_error("store: store_operator_token_insert: missing name or prefix");
		return ST_ERR;
	}
	db_in_str(&in[0], name, &l[0]);
	db_in_str(&in[1], prefix, &l[1]);
	db_in_blob(&in[2], hash, 32, &l[2]);
	rc = db_exec(st, Q_OP_INSERT, sql_op_insert, in, NULL, __func__);
	if (rc != ST_OK)
		return rc == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	if (id_out)
		*id_out = db_insert_id(st, Q_OP_INSERT);
	return ST_OK;
}

/*
 * ST_OK when hash names an active (not revoked) token, with *id_out set
 * (may be NULL); ST_NOTFOUND otherwise; ST_ERR. Records the use at most
 * once a minute (best effort: a failed touch does not refuse the token).
 */
int store_operator_token_check(struct store *st, const uint8_t hash[32], int64_t *id_out)
{
	struct db_out o;
	MYSQL_BIND in[1];
	unsigned long l;
	int64_t id = 0;
	int rc;

	db_in_blob(&in[0], hash, 32, &l);
	db_out_init(&o);
	db_out_i64(&o, &id);
	rc = db_exec(st, Q_OP_CHECK, sql_op_check, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_OP_CHECK, &o, __func__);
	db_end(st, Q_OP_CHECK, &o);
	if (rc < 0)
		return ST_ERR;
	if (rc == 0)
		return ST_NOTFOUND;
	db_in_i64(&in[0], &id);
	if (db_exec(st, Q_OP_TOUCH, sql_op_touch, in, NULL, __func__) != ST_OK)
		log_warn("store: store_operator_token_check: last_used_at not updated");
	if (id_out)
		*id_out = id;
	return ST_OK;
}

/*
 * Revoke token id now (revoking twice keeps the first time and is ST_OK).
 * ST_NOTFOUND when there is no such token, ST_ERR.
 */
int store_operator_token_revoke(struct store *st, int64_t id)
{
	MYSQL_BIND in[1];

	db_in_i64(&in[0], &id);
	if (db_exec(st, Q_OP_REVOKE, sql_op_revoke, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	return db_affected(st, Q_OP_REVOKE) == 0 ? ST_NOTFOUND : ST_OK;
}

/* Call cb for each operator token in id order; nonzero from cb stops. ST_OK or ST_ERR. */
int store_operator_token_list(struct store *st, operator_token_cb cb, void *ctx)
{
	struct operator_token t;
	struct db_out o;
	int rc;

	memset(&t, 0, sizeof(t));
	db_out_init(&o);
	db_out_i64(&o, &t.id);
	db_out_str(&o, t.name, sizeof(t.name));
	db_out_str(&o, t.prefix, sizeof(t.prefix));
	db_out_i64(&o, &t.created_at);
	db_out_i64(&o, &t.revoked_at);
	db_out_i64(&o, &t.last_used_at);
	rc = db_exec(st, Q_OP_LIST, sql_op_list, NULL, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_OP_LIST, &o, __func__)) == 1)
		if (cb(ctx, &t))
			break;
	db_end(st, Q_OP_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
