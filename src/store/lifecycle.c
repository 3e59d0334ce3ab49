/*
 * lifecycle.c: retention purges, exports and isolation checks (see lifecycle.h).
 *
 * DESIGN
 * Export and check queries are text sent through db_query: they run from the
 * CLI, are built with store/sql.h from the constant tables below (sql_frag,
 * key columns as identifiers) plus numbers and quoted values, and the
 * tenant id travels as the session variable
 * @tenant set in the same batch. Keyset pages compare the row value of the
 * ordering columns with the last row seen, so each page is an index range
 * read whatever the table's size.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/lifecycle.h"
#include "store/sql.h"
#include "store/store.h"
#include "store/tenantdb.h"

#define LIFE_MAX_KEYS 6

static const char sql_purge[] = "DELETE FROM executions WHERE tenant_id = ?"
                                " AND created_at < UTC_TIMESTAMP(6) - INTERVAL ? DAY"
                                " ORDER BY created_at LIMIT ?";
static const char sql_purge_steps[] = "DELETE FROM run_steps WHERE tenant_id = ?"
                                      " AND created_at < UTC_TIMESTAMP(6) - INTERVAL ? DAY"
                                      " ORDER BY created_at LIMIT ?";

int store_life_purge_batch(struct store *st, int64_t tenant_id, int days, int batch,
                           int64_t *deleted)
{
	struct store *d = store_data_conn(st, tenant_id);
	MYSQL_BIND in[3];

	*deleted = 0;
	if (d == NULL)
		return ST_ERR;
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &tenant_id);
	db_in_int(&in[1], &days);
	db_in_int(&in[2], &batch);
	if (db_exec(d, Q_LIFE_PURGE, sql_purge, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	*deleted = (int64_t)db_affected(d, Q_LIFE_PURGE);
	/* the steps of the runs that went (same age; each batch at most batch rows) */
	if (db_exec(d, Q_LIFE_PURGE_STEPS, sql_purge_steps, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	if ((int64_t)db_affected(d, Q_LIFE_PURGE_STEPS) > *deleted)
		*deleted = (int64_t)db_affected(d, Q_LIFE_PURGE_STEPS);
	return ST_OK;
}

#define TS(c) "'" c "', DATE_FORMAT(" c ", '%Y-%m-%dT%H:%i:%s.%fZ')"

/* clang-format off */
static const struct life_table life_tables[] = {
	{"agents.jsonl", "agents",
	 "JSON_OBJECT('id', id, 'name', name, 'model', model, 'instructions', instructions,"
	 " 'temperature', temperature, 'max_tokens', max_tokens, " TS("created_at") ", "
	 TS("updated_at") ")",
	 {"id", NULL}, "tenant_id = @tenant"},
	{"api_keys.jsonl", "api_keys",
	 "JSON_OBJECT('id', id, 'name', name, 'prefix', prefix, " TS("created_at") ", "
	 TS("expires_at") ", " TS("revoked_at") ", " TS("grace_until") ", 'rotated_to', rotated_to, "
	 TS("last_used_at") ")",
	 {"id", NULL}, "tenant_id = @tenant"},
	{"provider_keys.jsonl", "provider_credentials",
	 "JSON_OBJECT('provider', provider, 'key_version', key_version, 'last4', last4, "
	 TS("created_at") ", " TS("updated_at") ")",
	 {"provider", NULL}, "tenant_id = @tenant"},
	{"project_provider_keys.jsonl", "project_provider_credentials",
	 "JSON_OBJECT('project_id', project_id, 'provider', provider, 'key_version', key_version,"
	 " 'last4', last4, " TS("created_at") ", " TS("updated_at") ")",
	 {"project_id", "provider", NULL}, "tenant_id = @tenant"},
	{"projects.jsonl", "projects",
	 "JSON_OBJECT('id', id, 'name', name, " TS("created_at") ")",
	 {"id", NULL}, "tenant_id = @tenant"},
	{"project_keys.jsonl", "project_keys",
	 "JSON_OBJECT('key_id', key_id, 'project_id', project_id)",
	 {"key_id", NULL}, "tenant_id = @tenant"},
	{"tags.jsonl", "tags",
	 "JSON_OBJECT('id', id, 'key', tag_key, 'value', tag_value, " TS("created_at") ")",
	 {"id", NULL}, "tenant_id = @tenant"},
	{"routes.jsonl", "routes",
	 "JSON_OBJECT('name', name, 'targets', JSON_EXTRACT(targets, '$'), " TS("created_at") ", "
	 TS("updated_at") ")",
	 {"name", NULL}, "owner_kind = 'tenant' AND owner_id = @tenant"},
	{"limits.jsonl", "limits",
	 "JSON_OBJECT('scope', scope, 'scope_id', scope_id, 'name', name, 'value', value, "
	 TS("updated_at") ", 'updated_by', updated_by)",
	 {"scope", "scope_id", "name", NULL},
	 "((scope = 'tenant' AND scope_id = @tenant) OR (scope = 'key' AND scope_id IN"
	 " (SELECT id FROM api_keys WHERE tenant_id = @tenant)) OR (scope = 'project' AND"
	 " scope_id IN (SELECT id FROM projects WHERE tenant_id = @tenant)) OR (scope = 'tag' AND"
	 " scope_id IN (SELECT id FROM tags WHERE tenant_id = @tenant)))"},
	{"sessions.jsonl", "sessions",
	 "JSON_OBJECT('id', id, 'agent_id', agent_id, 'metadata', JSON_QUERY(metadata, '$'),"
	 " 'message_count', message_count, " TS("created_at") ", " TS("updated_at") ")",
	 {"id", NULL}, "tenant_id = @tenant"},
	{"session_messages.jsonl", "session_messages",
	 "JSON_OBJECT('session_id', session_id, 'seq', seq, 'role', role, 'content', content,"
	 " 'run_id', run_id, " TS("created_at") ")",
	 {"session_id", "seq", NULL}, "tenant_id = @tenant"},
	{"executions.jsonl", "executions",
	 "JSON_OBJECT('id', id, 'seq', seq, 'kind', kind, 'key_id', key_id, 'agent_id', agent_id,"
	 " 'agent_name', agent_name, 'session_id', session_id, 'model', model, 'provider', provider,"
	 " 'cred_source', cred_source, 'status', status, 'reason_code', reason_code,"
	 " 'http_status', http_status, 'stream', stream, 'prompt_tokens', prompt_tokens,"
	 " 'completion_tokens', completion_tokens, 'cost_micros', cost_micros,"
	 " 'latency_ms', latency_ms, 'request_id', request_id, 'finish_reason', finish_reason,"
	 " 'metadata', metadata, 'input', input, 'output', output,"
	 " 'error_message', error_message, 'end_user', end_user, 'cache_hit', cache_hit,"
	 " 'guardrails', JSON_QUERY(guardrails, '$'), " TS("created_at") ")",
	 {"seq", NULL}, "tenant_id = @tenant"},
	{"usage_daily.jsonl", "usage_daily",
	 "JSON_OBJECT('day', day, 'key_id', key_id, 'agent_id', agent_id, 'model', model,"
	 " 'requests', requests, 'errors', errors, 'prompt_tokens', prompt_tokens,"
	 " 'completion_tokens', completion_tokens, 'cost_micros', cost_micros)",
	 {"day", "key_id", "agent_id", "model"}, "tenant_id = @tenant"},
	{"usage_attr_daily.jsonl", "usage_attr_daily",
	 "JSON_OBJECT('day', day, 'agent_id', agent_id, 'model', model, 'user', user,"
	 " 'department', department, 'requests', requests, 'prompt_tokens', prompt_tokens,"
	 " 'completion_tokens', completion_tokens, 'cost_micros', cost_micros)",
	 {"day", "agent_id", "model", "user", "department", NULL}, "tenant_id = @tenant"},
	{"usage_5min.jsonl", "usage_5min",
	 "JSON_OBJECT('bucket_start', bucket * 300, 'requests', requests, 'succeeded', succeeded,"
	 " 'refused', refused, 'failed', failed, 'cost_micros', cost_micros, 'tokens', tokens,"
	 " 'latency_ms_sum', latency_ms_sum)",
	 {"bucket", NULL}, "tenant_id = @tenant"},
	{"agent_tools.jsonl", "agent_tools",
	 "JSON_OBJECT('agent_id', agent_id, 'tool', tool, " TS("created_at") ")",
	 {"agent_id", "tool", NULL}, "tenant_id = @tenant"},
	{"tool_secrets.jsonl", "tool_secrets",
	 "JSON_OBJECT('tool', tool, 'name', name, 'key_version', key_version, " TS("created_at") ", "
	 TS("updated_at") ")",
	 {"tool", "name", NULL}, "tenant_id = @tenant"},
	{"run_steps.jsonl", "run_steps",
	 "JSON_OBJECT('run_id', run_id, 'step', step, 'kind', kind, 'name', name, 'call_id', call_id,"
	 " 'exec_id', exec_id, 'prompt_tokens', prompt_tokens, 'completion_tokens',"
	 " completion_tokens, 'cost_micros', cost_micros, 'duration_ms', duration_ms,"
	 " 'outcome', outcome, 'reason_code', reason_code, 'message', message, " TS("created_at") ")",
	 {"run_id", "step", NULL}, "tenant_id = @tenant"},
	{"audit_log.jsonl", "audit_log",
	 "JSON_OBJECT('id', id, 'actor_type', actor_type, 'actor_id', actor_id, 'action', action,"
	 " 'target', target, 'outcome', outcome, 'reason_code', reason_code,"
	 " 'request_id', request_id, 'ip', ip, 'detail', detail, " TS("created_at") ")",
	 {"id", NULL}, "tenant_id = @tenant"},
};
/* clang-format on */

const struct life_table *store_life_tables(size_t *n)
{
	*n = ARRAY_SIZE(life_tables);
	return life_tables;
}

struct life_page {
	const struct life_table *t;
	size_t nkeys;
	char *last[LIFE_MAX_KEYS]; /* key values of the last row seen (malloc'd) */
	int64_t rows, page_rows;
	life_line_cb cb;
	void *ctx;
	int stop, oom;
};

static void life_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct life_page *p = ctx;

	if (set != 0 || p->stop || n != 1 + p->nkeys) /* the SET returns no result set */
		return;
	p->page_rows++;
	p->rows++;
	if (row[0] && p->cb(p->ctx, row[0], len[0]) != 0)
		p->stop = 1;
	for (size_t i = 0; i < p->nkeys; i++) {
		free(p->last[i]);
		p->last[i] = row[1 + i] ? strndup(row[1 + i], len[1 + i]) : strdup("");
		if (p->last[i] == NULL)
			p->oom = 1;
	}
}

/* The table's key columns, "`a`, `b`" */
static void life_keys(struct sql *q, const struct life_page *p)
{
	for (size_t i = 0; i < p->nkeys; i++) {
		sql_comma(q, i == 0);
		sql_ident(q, p->t->key[i]);
	}
}

int store_life_export(struct store *st, const struct life_table *t, int64_t tenant_id, int page,
                      life_line_cb cb, void *ctx, int64_t *rows)
{
	struct life_page p;
	struct sql q;
	int rc = ST_OK;

	/* content tables are read from where the tenant's data lives; the rest from control */
	for (const char *const *c = store_tdb_content_tables(); *c; c++)
		if (strcmp(*c, t->from) == 0) {
			st = store_data_conn(st, tenant_id);
			if (st == NULL) {
				*rows = 0;
				return ST_ERR;
			}
			break;
		}
	memset(&p, 0, sizeof(p));
	p.t = t;
	p.cb = cb;
	p.ctx = ctx;
	while (p.nkeys < LIFE_MAX_KEYS && t->key[p.nkeys])
		p.nkeys++;
	sql_init(&q, st);
	for (;;) {
		sql_reset(&q);
		sql_lit(&q, "SET @tenant = ");
		sql_i64(&q, tenant_id);
		sql_lit(&q, "; SELECT ");
		sql_frag(&q, t->json);
		for (size_t i = 0; i < p.nkeys; i++) {
			sql_lit(&q, ", ");
			sql_ident(&q, t->key[i]);
		}
		sql_lit(&q, " FROM ");
		sql_ident(&q, t->from);
		sql_lit(&q, " WHERE ");
		sql_frag(&q, t->where);
		if (p.rows > 0) {
			sql_lit(&q, " AND (");
			life_keys(&q, &p);
			sql_lit(&q, ") > (");
			for (size_t i = 0; i < p.nkeys; i++) {
				sql_comma(&q, i == 0);
				sql_str(&q, p.last[i]);
			}
			sql_lit(&q, ")");
		}
		sql_lit(&q, " ORDER BY ");
		life_keys(&q, &p);
		sql_lit(&q, " LIMIT ");
		sql_i64(&q, page);
		if (!sql_ok(&q))
			goto oom;
		p.page_rows = 0;
		if (sql_run(st, &q, life_row, &p, __func__) != ST_OK) {
			rc = ST_ERR;
			break;
		}
		if (p.oom)
			goto oom;
		if (p.stop || p.page_rows < page)
			break;
	}
	goto out;
oom:
	log_error("store: %s: out of memory", __func__);
	rc = ST_ERR;
out:
	*rows = p.rows;
	for (size_t i = 0; i < LIFE_MAX_KEYS; i++)
		free(p.last[i]);
	sql_free(&q);
	return rc;
}

/* Tables keyed by tenant_id whose rows must belong to an existing tenant. */
#define ORPHANS(tbl)                                                                               \
	"SELECT COUNT(*) FROM " tbl " x LEFT JOIN tenants t ON t.id = x.tenant_id"                 \
	" WHERE t.id IS NULL AND (@tenant = 0 OR x.tenant_id = @tenant)"
/* Tenant data that a dedicated tenant must not have in the shared database. */
#define SHARED_ROWS(tbl)                                                                           \
	"SELECT COUNT(*) FROM " tbl " x JOIN tenants t ON t.id = x.tenant_id"                      \
	" WHERE t.isolation_mode = 'dedicated' AND (@tenant = 0 OR t.id = @tenant)"

/* clang-format off */
static const struct life_check life_checks[] = {
	{"orphan_api_keys", "API keys of a tenant that does not exist", ORPHANS("api_keys")},
	{"orphan_provider_keys", "provider credentials of a tenant that does not exist",
	 ORPHANS("provider_credentials")},
	{"orphan_agents", "agents of a tenant that does not exist", ORPHANS("agents")},
	{"orphan_projects", "projects of a tenant that does not exist", ORPHANS("projects")},
	{"orphan_project_keys", "project memberships of a tenant that does not exist",
	 ORPHANS("project_keys")},
	{"orphan_project_provider_keys", "project provider credentials of a tenant that does not"
	 " exist", ORPHANS("project_provider_credentials")},
	{"orphan_tags", "tags with budgets of a tenant that does not exist", ORPHANS("tags")},
	{"project_keys_across_tenants",
	 "a key in a project of another tenant, or a membership naming a key or project that does"
	 " not exist",
	 "SELECT COUNT(*) FROM project_keys x LEFT JOIN api_keys k ON k.id = x.key_id"
	 " LEFT JOIN projects p ON p.id = x.project_id WHERE (@tenant = 0 OR x.tenant_id = @tenant)"
	 " AND (k.id IS NULL OR p.id IS NULL OR k.tenant_id <> x.tenant_id"
	 " OR p.tenant_id <> x.tenant_id)"},
	{"project_provider_keys_across_tenants",
	 "a project's provider credential whose project does not exist or is another tenant's",
	 "SELECT COUNT(*) FROM project_provider_credentials x LEFT JOIN projects p"
	 " ON p.id = x.project_id WHERE (@tenant = 0 OR x.tenant_id = @tenant)"
	 " AND (p.id IS NULL OR p.tenant_id <> x.tenant_id)"},
	{"level_limits_orphaned",
	 "limits of a project or a tag that does not exist (whose tenant cannot be told)",
	 "SELECT COUNT(*) FROM limits l LEFT JOIN projects p ON l.scope = 'project'"
	 " AND p.id = l.scope_id LEFT JOIN tags g ON l.scope = 'tag' AND g.id = l.scope_id"
	 " WHERE @tenant = 0 AND ((l.scope = 'project' AND p.id IS NULL)"
	 " OR (l.scope = 'tag' AND g.id IS NULL))"},
	{"orphan_sessions", "sessions of a tenant that does not exist", ORPHANS("sessions")},
	{"orphan_session_messages", "session messages of a tenant that does not exist",
	 ORPHANS("session_messages")},
	{"orphan_executions", "executions of a tenant that does not exist", ORPHANS("executions")},
	{"orphan_usage_daily", "daily usage of a tenant that does not exist", ORPHANS("usage_daily")},
	{"orphan_usage_attr_daily", "showback rollups of a tenant that does not exist",
	 ORPHANS("usage_attr_daily")},
	{"orphan_usage_5min", "five-minute usage of a tenant that does not exist",
	 ORPHANS("usage_5min")},
	{"orphan_tool_secrets", "tool secrets of a tenant that does not exist", ORPHANS("tool_secrets")},
	{"orphan_agent_tools", "agent tool lists of a tenant that does not exist",
	 ORPHANS("agent_tools")},
	{"orphan_run_steps", "run steps of a tenant that does not exist", ORPHANS("run_steps")},
	{"orphan_webhooks", "webhooks of a tenant that does not exist", ORPHANS("webhooks")},
	{"orphan_alert_events", "alert events of a tenant that does not exist",
	 ORPHANS("alert_events")},
	{"orphan_alert_deliveries", "webhook deliveries of a tenant that does not exist",
	 ORPHANS("alert_deliveries")},
	{"orphan_reservations", "budget reservations of a tenant that does not exist",
	 ORPHANS("reservations")},
	{"orphan_idempotency_keys", "idempotency records of a tenant that does not exist",
	 ORPHANS("idempotency_keys")},
	{"orphan_response_cache", "cached answers of a tenant that does not exist",
	 ORPHANS("response_cache")},
	{"orphan_audit_rows", "audit rows naming a tenant that does not exist",
	 "SELECT COUNT(*) FROM audit_log x LEFT JOIN tenants t ON t.id = x.tenant_id"
	 " WHERE x.tenant_id IS NOT NULL AND x.tenant_id <> 0 AND t.id IS NULL"
	 " AND (@tenant = 0 OR x.tenant_id = @tenant)"},
	{"dedicated_rows_in_shared_executions",
	 "executions of a dedicated tenant stored in the shared database", SHARED_ROWS("executions")},
	{"dedicated_rows_in_shared_sessions",
	 "sessions of a dedicated tenant stored in the shared database", SHARED_ROWS("sessions")},
	{"dedicated_rows_in_shared_session_messages",
	 "session messages of a dedicated tenant stored in the shared database",
	 SHARED_ROWS("session_messages")},
	{"dedicated_rows_in_shared_run_steps",
	 "run steps of a dedicated tenant stored in the shared database", SHARED_ROWS("run_steps")},
	{"dedicated_rows_in_shared_response_cache",
	 "cached answers of a dedicated tenant stored in the shared database",
	 SHARED_ROWS("response_cache")},
	{"provider_keys_not_sealed",
	 "provider credentials without a nonce, a key version or room for the MAC (not encrypted)",
	 "SELECT COUNT(*) FROM provider_credentials WHERE (@tenant = 0 OR tenant_id = @tenant) AND"
	 " (key_version < 1 OR nonce = REPEAT(X'00', 24) OR LENGTH(ciphertext) <= 16"
	 " OR CHAR_LENGTH(last4) > 4)"},
	{"project_provider_keys_not_sealed",
	 "project provider credentials without a nonce, a key version or room for the MAC (not"
	 " encrypted)",
	 "SELECT COUNT(*) FROM project_provider_credentials WHERE (@tenant = 0 OR tenant_id ="
	 " @tenant) AND (key_version < 1 OR nonce = REPEAT(X'00', 24) OR LENGTH(ciphertext) <= 16"
	 " OR CHAR_LENGTH(last4) > 4)"},
	{"tool_secrets_not_sealed",
	 "tool secrets without a nonce, a key version or room for the MAC (not encrypted)",
	 "SELECT COUNT(*) FROM tool_secrets WHERE (@tenant = 0 OR tenant_id = @tenant) AND"
	 " (key_version < 1 OR nonce = REPEAT(X'00', 24) OR LENGTH(ciphertext) <= 16)"},
	{"api_keys_replayable",
	 "API keys whose stored form could be replayed: a hash that is not 32 bytes, or a display"
	 " prefix long enough to be a key",
	 "SELECT COUNT(*) FROM api_keys WHERE (@tenant = 0 OR tenant_id = @tenant) AND"
	 " (LENGTH(key_hash) <> 32 OR key_hash = REPEAT(X'00', 32) OR CHAR_LENGTH(prefix) > 15)"},
	{"api_keys_in_text",
	 "a full API key (ah_live_ followed by its secret) found in names, metadata or audit details",
	 "SELECT (SELECT COUNT(*) FROM api_keys WHERE (@tenant = 0 OR tenant_id = @tenant)"
	 " AND name REGEXP 'ah_live_[A-Za-z0-9_-]{20,}') + (SELECT COUNT(*) FROM audit_log"
	 " WHERE (@tenant = 0 OR tenant_id = @tenant) AND detail REGEXP"
	 " 'ah_live_[A-Za-z0-9_-]{20,}')"},
	{"admin_passwords_not_hashed", "dashboard users whose password is not an Argon2id hash",
	 "SELECT COUNT(*) FROM admin_users WHERE (@tenant = 0 OR tenant_id = @tenant)"
	 " AND pw_hash NOT LIKE '$argon2id$%'"},
	{"admin_totp_not_sealed",
	 "dashboard users whose two-factor secret is not sealed (no nonce or MAC room), or who have"
	 " two-factor on without a secret",
	 "SELECT COUNT(*) FROM admin_users WHERE (@tenant = 0 OR tenant_id = @tenant) AND"
	 " ((totp_ct IS NOT NULL AND (totp_nonce IS NULL OR totp_nonce = REPEAT(X'00', 24)"
	 " OR LENGTH(totp_ct) <= 16)) OR (totp_enabled = 1 AND totp_ct IS NULL))"},
};
/* clang-format on */

const struct life_check *store_life_checks(size_t *n)
{
	*n = ARRAY_SIZE(life_checks);
	return life_checks;
}

static void life_count_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	(void)len;
	if (set == 0 && n >= 1 && row[0])
		*(int64_t *)ctx = strtoll(row[0], NULL, 10);
}

int store_life_check(struct store *st, const struct life_check *c, int64_t tenant_id,
                     int64_t *count)
{
	struct sql q;
	int rc;

	*count = -1;
	sql_init(&q, st);
	sql_lit(&q, "SET @tenant = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, "; ");
	sql_frag(&q, c->sql);
	rc = sql_run(st, &q, life_count_row, count, __func__);
	sql_free(&q);
	if (rc == ST_OK && *count < 0)
		rc = ST_ERR;
	return rc == ST_OK ? ST_OK : ST_ERR;
}

static const char sql_offboard_set[] =
    "UPDATE tenants SET offboard_after = UTC_TIMESTAMP(6) + INTERVAL ? DAY,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_offboard_clear[] =
    "UPDATE tenants SET offboard_after = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_offboard_get[] =
    "SELECT COALESCE(CAST(FLOOR(UNIX_TIMESTAMP(offboard_after)) AS SIGNED), 0)"
    " FROM tenants WHERE id = ?";
static const char sql_due[] = "SELECT id FROM tenants WHERE offboard_after IS NOT NULL"
                              " AND offboard_after <= UTC_TIMESTAMP(6) AND status = 1";

int store_life_offboard(struct store *st, int64_t tenant_id, int days)
{
	MYSQL_BIND in[2];
	enum db_q q = days >= 0 ? Q_LIFE_OFFBOARD_SET : Q_LIFE_OFFBOARD_CLEAR;
	uint64_t n = 0;
	int rc;

	memset(in, 0, sizeof(in));
	if (days >= 0) {
		db_in_int(&in[0], &days);
		db_in_i64(&in[1], &tenant_id);
	} else {
		db_in_i64(&in[0], &tenant_id);
	}
	rc = store_change_exec(st, q, days >= 0 ? sql_offboard_set : sql_offboard_clear, in,
	                       __func__, CHANGE_TENANT, tenant_id, &n);
	if (rc != ST_OK)
		return ST_ERR;
	return n ? ST_OK : ST_NOTFOUND;
}

int store_life_offboard_after(struct store *st, int64_t tenant_id, int64_t *at)
{
	struct db_out o;
	MYSQL_BIND in[1];
	int rc;

	*at = 0;
	memset(in, 0, sizeof(in));
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, at);
	if (db_exec(st, Q_LIFE_OFFBOARD_GET, sql_offboard_get, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_LIFE_OFFBOARD_GET, &o, __func__);
	db_end(st, Q_LIFE_OFFBOARD_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_life_due(struct store *st, int (*cb)(void *ctx, int64_t tenant_id), void *ctx)
{
	struct db_out o;
	int64_t id = 0;
	int rc;

	db_out_init(&o);
	db_out_i64(&o, &id);
	if (db_exec(st, Q_LIFE_DUE, sql_due, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_LIFE_DUE, &o, __func__)) == 1)
		if (cb(ctx, id) != 0)
			break;
	db_end(st, Q_LIFE_DUE, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

/*
 * Every table holding rows of a tenant, children before parents, with the
 * condition that selects the tenant's rows (@tenant). Keep in step with the
 * schema: verify-isolation's orphan checks and the export cover the same.
 */
/* clang-format off */
static const char *const life_erase[] = {
	"session_messages WHERE tenant_id = @tenant",
	"sessions WHERE tenant_id = @tenant",
	"run_steps WHERE tenant_id = @tenant",
	"executions WHERE tenant_id = @tenant",
	"usage_daily WHERE tenant_id = @tenant",
	"usage_5min WHERE tenant_id = @tenant",
	"usage_attr_daily WHERE tenant_id = @tenant",
	"reservations WHERE tenant_id = @tenant",
	"idempotency_keys WHERE tenant_id = @tenant",
	"response_cache WHERE tenant_id = @tenant",
	"breakers WHERE tenant_id = @tenant",
	"budget_counters WHERE (scope = 'tenant' AND scope_id = @tenant) OR (scope = 'key' AND"
	" scope_id IN (SELECT id FROM api_keys WHERE tenant_id = @tenant))",
	"limits WHERE (scope = 'tenant' AND scope_id = @tenant) OR (scope = 'key' AND"
	" scope_id IN (SELECT id FROM api_keys WHERE tenant_id = @tenant))",
	"admin_sessions WHERE user_id IN (SELECT id FROM admin_users WHERE tenant_id = @tenant)",
	"admin_users WHERE tenant_id = @tenant",
	"provider_credentials WHERE tenant_id = @tenant",
	"routes WHERE owner_kind = 'tenant' AND owner_id = @tenant",
	"alert_deliveries WHERE tenant_id = @tenant",
	"alert_events WHERE tenant_id = @tenant",
	"webhooks WHERE tenant_id = @tenant",
	"tool_secrets WHERE tenant_id = @tenant",
	"agent_tools WHERE tenant_id = @tenant",
	"agents WHERE tenant_id = @tenant",
	"budget_counters WHERE scope = 'project' AND"
	" scope_id IN (SELECT id FROM projects WHERE tenant_id = @tenant)",
	"limits WHERE scope = 'project' AND"
	" scope_id IN (SELECT id FROM projects WHERE tenant_id = @tenant)",
	"project_keys WHERE tenant_id = @tenant",
	"project_provider_credentials WHERE tenant_id = @tenant",
	"projects WHERE tenant_id = @tenant",
	"budget_counters WHERE scope = 'tag' AND"
	" scope_id IN (SELECT id FROM tags WHERE tenant_id = @tenant)",
	"limits WHERE scope = 'tag' AND scope_id IN (SELECT id FROM tags WHERE tenant_id = @tenant)",
	"tags WHERE tenant_id = @tenant",
	"api_keys WHERE tenant_id = @tenant",
	"audit_log WHERE tenant_id = @tenant",
};
/* clang-format on */

int store_life_erase(struct store *st, int64_t tenant_id, int batch, int64_t *rows)
{
	struct sql q;
	int64_t got, status = -1;
	int rc = ST_OK;

	*rows = 0;
	sql_init(&q, st);
	sql_lit(&q, "SELECT COALESCE((SELECT status FROM tenants WHERE id = ");
	sql_i64(&q, tenant_id);
	sql_lit(&q, "), -1)");
	if (sql_run_i64(st, &q, &status, __func__) != ST_OK)
		rc = ST_ERR;
	else if (status < 0)
		rc = ST_NOTFOUND;
	else if (status == 0)
		rc = ST_CONFLICT; /* an active tenant is never erased */
	for (size_t i = 0; rc == ST_OK && i < ARRAY_SIZE(life_erase); i++) {
		do {
			got = 0;
			sql_reset(&q);
			sql_lit(&q, "SET @tenant = ");
			sql_i64(&q, tenant_id);
			sql_lit(&q, "; DELETE FROM ");
			sql_frag(&q, life_erase[i]);
			sql_lit(&q, " LIMIT ");
			sql_i64(&q, batch);
			sql_lit(&q, "; SELECT ROW_COUNT()");
			if (sql_run_i64(st, &q, &got, __func__) != ST_OK) {
				rc = ST_ERR;
				break;
			}
			*rows += got;
		} while (got == batch);
	}
	if (rc == ST_OK) {
		sql_reset(&q);
		sql_lit(&q, "DELETE FROM tenants WHERE id = ");
		sql_i64(&q, tenant_id);
		sql_lit(&q, " AND status <> 0; SELECT ROW_COUNT()");
		got = 0;
		if (sql_run_i64(st, &q, &got, __func__) != ST_OK)
			rc = ST_ERR;
		*rows += got;
	}
	/* Its keys are gone with it: every cache drops what it held of the tenant. */
	if (rc == ST_OK && store_change(st, CHANGE_TENANT, tenant_id) != ST_OK)
		rc = ST_ERR;
	sql_free(&q);
	return rc;
}

int store_life_onboard(struct store *st, const struct life_onboard *o, int64_t *tenant_id,
                       int64_t *key_id, const char **what)
{
	int rc;

	*tenant_id = 0;
	*key_id = 0;
	*what = "tenant";
	if (db_begin(st, __func__) != ST_OK)
		return ST_ERR;
	rc = store_tenant_create(st, o->slug, o->name, o->plan, tenant_id);
	if (rc == ST_OK && o->key_name) {
		*what = "key";
		rc = store_key_insert(st, *tenant_id, o->key_name, o->key_prefix, o->key_hash, 0,
		                      KEY_SCOPES_DEFAULT, key_id);
	}
	if (rc == ST_OK && o->admin_name) {
		*what = "admin";
		rc = store_admin_user_add(st, o->admin_name, o->admin_pw_hash, ADMIN_ROLE_TENANT,
		                          *tenant_id);
	}
	if (rc == ST_OK)
		rc = db_commit(st, __func__);
	else
		db_rollback(st);
	if (rc != ST_OK) {
		*tenant_id = 0;
		*key_id = 0;
	}
	return rc;
}

/*
 * Run "<sql_prefix>[ win = 'w' AND period < 'cut'] LIMIT batch" until fewer
 * rows go; sql_prefix is a DELETE this file wrote.
 */
static int life_delete_all(struct store *st, const char *sql_prefix, const char *win,
                           const char *cut, int batch, int64_t *total)
{
	struct sql q;
	int64_t got;
	int rc = ST_OK;

	sql_init(&q, st);
	do {
		got = 0;
		sql_reset(&q);
		/*
		 * These deletes scan (their conditions have no index: which rows hold
		 * nothing). In REPEATABLE READ a scan locks every row it reads until
		 * the statement ends, and several processes' housekeeping ran side by
		 * side: grants, ledger batches and reservations of live counters
		 * waited seconds behind them (bench: a 4 s stall of every process).
		 * READ COMMITTED for this statement only (SET TRANSACTION without
		 * SESSION: the next transaction) keeps locks on the rows it deletes.
		 */
		sql_lit(&q, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; ");
		sql_frag(&q, sql_prefix);
		if (win) {
			sql_lit(&q, " win = ");
			sql_str(&q, win);
			sql_lit(&q, " AND period < ");
			sql_str(&q, cut);
		}
		sql_lit(&q, " LIMIT ");
		sql_i64(&q, batch);
		sql_lit(&q, "; SELECT ROW_COUNT()");
		if (sql_run_i64(st, &q, &got, __func__) != ST_OK) {
			rc = ST_ERR;
			break;
		}
		*total += got;
	} while (got == batch);
	sql_free(&q);
	return rc;
}

/*
 * Lease rows that hold nothing: whose owner is gone (a batch of a reaped
 * owner made them), or given back minutes ago (a row per minute and counter
 * would pile up; a grant makes the row again). No index serves that
 * condition, and an index on what grants write would cost every grant; after
 * a load of 10,000 tenants the table holds ~230,000 rows, most of them live
 * day and month leases. A DELETE ... LIMIT scanning for them read the whole
 * table again for every batch and locked what it read: four processes'
 * housekeeping stalled every grant for seconds (bench/peers.sh, p99 4 s).
 * So the table is read once by a plain SELECT (a consistent read: no lock),
 * and the rows found are deleted by their keys, the condition checked again
 * (a row granted since stays): rows of one owner, scope, window and period
 * (most of them share those) by one DELETE with their scope ids IN a list
 * of at most batch, a range of the primary key. (A disjunction of 1,000
 * whole keys took MariaDB 0.2-1 s to optimise; a row IN list is no range
 * at all.) Each DELETE locks only the rows it deletes; LIFE_SWEEP_MAX rows
 * per scan, then a new scan.
 */
#define LIFE_SWEEP_MAX 50000
#define LIFE_LEASE_EMPTY                                                                           \
	"granted_micros = 0 AND granted_tokens = 0 AND granted_requests = 0 AND"                   \
	" (owner_id NOT IN (SELECT id FROM owners) OR"                                             \
	" updated_at < UTC_TIMESTAMP(6) - INTERVAL 2 MINUTE)"

struct life_sweep {
	struct store *st;
	struct sql *del; /* one DELETE per group of at most batch rows */
	size_t n, cap;
	int batch, in_last, found, failed;
	char group[128]; /* owner, scope, window and period of del[n - 1] */
};

static struct sql *life_sweep_next(struct life_sweep *w)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct sql *d = realloc(w->del, cap * sizeof(*d));

		if (d == NULL)
			return NULL;
		for (size_t i = w->cap; i < cap; i++)
			sql_init(&d[i], w->st);
		w->del = d;
		w->cap = cap;
	}
	sql_reset(&w->del[w->n]);
	return &w->del[w->n++];
}

static void life_sweep_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct life_sweep *w = ctx;
	char group[128];
	struct sql *q;

	(void)len;
	if (set != 0 || n < 5 || !row[0] || !row[1] || !row[2] || !row[3] || !row[4] || w->failed)
		return;
	snprintf(group, sizeof(group), "%s\t%s\t%s\t%s", row[0], row[1], row[3], row[4]);
	if (w->n == 0 || w->in_last == w->batch || strcmp(group, w->group) != 0) {
		if ((q = life_sweep_next(w)) == NULL) {
			w->failed = 1;
			return;
		}
		memcpy(w->group, group, sizeof(group));
		sql_lit(q, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;"
		           " DELETE FROM leases WHERE owner_id = ");
		sql_i64(q, strtoll(row[0], NULL, 10));
		sql_lit(q, " AND scope = ");
		sql_str(q, row[1]);
		sql_lit(q, " AND win = ");
		sql_str(q, row[3]);
		sql_lit(q, " AND period = ");
		sql_str(q, row[4]);
		sql_lit(q, " AND scope_id IN (");
		w->in_last = 0;
	} else {
		q = &w->del[w->n - 1];
		sql_lit(q, ", ");
	}
	sql_i64(q, strtoll(row[2], NULL, 10));
	w->in_last++;
	w->found++;
}

static int life_sweep_leases(struct store *st, int batch, int64_t *total)
{
	struct life_sweep w = {0};
	struct sql find;
	int64_t gone;
	int rc = ST_OK;

	w.st = st;
	w.batch = batch > 0 ? batch : 1000;
	sql_init(&find, st);
	sql_lit(&find, "SELECT owner_id, scope, scope_id, win, period FROM leases WHERE ");
	sql_frag(&find, LIFE_LEASE_EMPTY);
	sql_lit(&find, " ORDER BY owner_id, scope, win, period, scope_id LIMIT ");
	sql_i64(&find, LIFE_SWEEP_MAX);
	do {
		gone = 0;
		w.n = 0;
		w.in_last = w.found = w.failed = 0;
		if (sql_run(st, &find, life_sweep_row, &w, __func__) != ST_OK || w.failed) {
			rc = ST_ERR;
			break;
		}
		for (size_t i = 0; rc == ST_OK && i < w.n; i++) {
			int64_t got = 0;

			sql_lit(&w.del[i], ") AND ");
			sql_frag(&w.del[i], LIFE_LEASE_EMPTY);
			sql_lit(&w.del[i], "; SELECT ROW_COUNT()");
			if (sql_run_i64(st, &w.del[i], &got, __func__) != ST_OK)
				rc = ST_ERR;
			gone += got;
		}
		*total += gone;
		/* (a full scan again only if this one was cut short and made progress) */
	} while (rc == ST_OK && w.found == LIFE_SWEEP_MAX && gone > 0);
	sql_free(&find);
	for (size_t i = 0; i < w.cap; i++)
		sql_free(&w.del[i]);
	free(w.del);
	return rc;
}

int store_life_housekeep(struct store *st, const char *minute_cut, const char *day_cut,
                         const char *month_cut, int batch, struct life_housekeeping *out)
{
	/* clang-format off */
	static const char counters[] =
	    "DELETE FROM budget_counters WHERE reserved_micros = 0 AND reserved_tokens = 0 AND"
	    " leased_micros = 0 AND leased_tokens = 0 AND leased_requests = 0 AND";
	/* clang-format on */
	const char *wins[3] = {"minute", "day", "month"},
	           *cuts[3] = {minute_cut, day_cut, month_cut};
	int rc = ST_OK;

	memset(out, 0, sizeof(*out));
	for (int i = 0; rc == ST_OK && i < 3; i++)
		rc = life_delete_all(st, counters, wins[i], cuts[i], batch, &out->counters);
	if (rc == ST_OK)
		rc =
		    life_delete_all(st,
		                    "DELETE FROM reservations WHERE state IN ('settled', 'expired')"
		                    " AND expires_at < UTC_TIMESTAMP(6) - INTERVAL 1 DAY",
		                    NULL, NULL, batch, &out->reservations);
	if (rc == ST_OK)
		rc =
		    life_delete_all(st,
		                    "DELETE FROM usage_5min WHERE bucket < UNIX_TIMESTAMP() DIV 300"
		                    " - 8 * 288",
		                    NULL, NULL, batch, &out->usage_5min);
	if (rc == ST_OK)
		rc = life_delete_all(st,
		                     "DELETE FROM login_attempts WHERE at < UTC_TIMESTAMP(6)"
		                     " - INTERVAL 1 DAY",
		                     NULL, NULL, batch, &out->logins);
	if (rc == ST_OK)
		rc = life_delete_all(
		    st,
		    "DELETE FROM admin_sessions WHERE last_seen < UTC_TIMESTAMP(6)"
		    " - INTERVAL 1 DAY OR created_at < UTC_TIMESTAMP(6) - INTERVAL 2 DAY",
		    NULL, NULL, batch, &out->sessions);
	if (rc == ST_OK)
		rc = life_delete_all(st,
		                     "DELETE FROM change_log WHERE created_at < UTC_TIMESTAMP(6)"
		                     " - INTERVAL 1 HOUR",
		                     NULL, NULL, batch, &out->changes);
	if (rc == ST_OK)
		rc = life_delete_all(st,
		                     "DELETE FROM ledger_marks WHERE created_at < UTC_TIMESTAMP(6)"
		                     " - INTERVAL 2 DAY",
		                     NULL, NULL, batch, &out->changes);
	if (rc == ST_OK)
		rc = life_delete_all(st,
		                     "DELETE FROM lease_recalls WHERE created_at < UTC_TIMESTAMP(6)"
		                     " - INTERVAL 1 HOUR",
		                     NULL, NULL, batch, &out->changes);
	if (rc == ST_OK)
		rc = life_sweep_leases(st, batch, &out->changes);
	return rc;
}

int store_life_turn(struct store *st, const char *name, int every_s, const char *who, int *mine)
{
	struct sql q;
	int64_t got = 0;
	int rc;

	*mine = 0;
	sql_init(&q, st);
	sql_lit(&q, "UPDATE turns SET next_at = UTC_TIMESTAMP(6) + INTERVAL ");
	sql_i64(&q, every_s);
	sql_lit(&q, " SECOND, taken_by = ");
	sql_str(&q, who);
	sql_lit(&q, " WHERE name = ");
	sql_str(&q, name);
	sql_lit(&q, " AND next_at <= UTC_TIMESTAMP(6); SELECT ROW_COUNT()");
	rc = sql_run_i64(st, &q, &got, __func__);
	sql_free(&q);
	*mine = rc == ST_OK && got == 1;
	return rc;
}
