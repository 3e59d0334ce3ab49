/*
 * audit.c: the audit trail (store_audit).
 *
 * DESIGN
 * One append-only row per security-relevant action: who (actor type and
 * id), what (action, target), how it ended (outcome, reason code) and the
 * request it belongs to. Callers pass identifiers only, never secrets; the
 * free-text fields are cut to their columns rather than losing the row,
 * because a missing audit row is worse than a shortened one.
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"

static const char sql_insert[] =
    "INSERT INTO audit_log (tenant_id, actor_type, actor_id, action, target, outcome,"
    " reason_code, request_id, ip, detail, end_user, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))";

/* Bind s cut to max bytes (a character boundary), or NULL. */
static void audit_bind(MYSQL_BIND *b, const char *s, size_t max, unsigned long *len)
{
	if (s == NULL)
		db_in_null(b);
	else
		db_in_strn(b, s, db_utf8_cut(s, max), len);
}

/* Append a to the audit log (tenant_id 0 = not tenant-specific). ST_OK or ST_ERR. */
int store_audit(struct store *st, const struct audit_entry *a)
{
	MYSQL_BIND in[11];
	unsigned long l[10];

	if (a->actor_type == NULL || a->action == NULL || a->outcome == NULL) {
		log_error("store: store_audit: missing actor_type, action or outcome");
		return ST_ERR;
	}
	db_in_i64_or_null(&in[0], &a->tenant_id);
	audit_bind(&in[1], a->actor_type, 16, &l[0]);
	audit_bind(&in[2], a->actor_id ? a->actor_id : "", 100, &l[1]);
	audit_bind(&in[3], a->action, 64, &l[2]);
	audit_bind(&in[4], a->target ? a->target : "", 128, &l[3]);
	audit_bind(&in[5], a->outcome, 16, &l[4]);
	audit_bind(&in[6], a->reason_code, 48, &l[5]);
	audit_bind(&in[7], a->request_id, 32, &l[6]);
	audit_bind(&in[8], a->ip, 45, &l[7]);
	audit_bind(&in[9], a->detail, 65535, &l[8]);
	audit_bind(&in[10], a->end_user ? a->end_user : "", 64, &l[9]);
	return db_exec(st, Q_AUDIT_INSERT, sql_insert, in, NULL, __func__) == ST_OK ? ST_OK
	                                                                            : ST_ERR;
}
