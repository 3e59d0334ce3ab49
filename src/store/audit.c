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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"

static const char sql_insert[] =
    "INSERT INTO audit_log (tenant_id, actor_type, actor_id, action, target, outcome,"
    " reason_code, request_id, ip, detail, end_user, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))";

#define AUDIT_PAGE_COLS                                                                            \
	"SELECT id, COALESCE(tenant_id, 0), actor_type, actor_id, action, target, outcome,"        \
	" COALESCE(reason_code, ''), COALESCE(request_id, ''), COALESCE(ip, ''),"                  \
	" COALESCE(detail, ''), COALESCE(end_user, ''),"                                           \
	" CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED) FROM audit_log"
#define AUDIT_PAGE_TAIL                                                                            \
	" id < ? AND (? = '' OR action = ?) AND (? = '' OR actor_type = ?)"                        \
	" AND (? = '' OR actor_id = ?) AND (? = '' OR outcome = ?) ORDER BY id DESC LIMIT ?"
/* shape 0: every tenant (primary key); shape 1: one tenant (k_audit_tenant) */
static const char *const sql_page[2] = {
    AUDIT_PAGE_COLS " WHERE" AUDIT_PAGE_TAIL,
    AUDIT_PAGE_COLS " WHERE tenant_id = ? AND" AUDIT_PAGE_TAIL,
};

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

int store_audit_page(struct store *st, const struct audit_filter *f, audit_row_cb cb, void *ctx,
                     int *has_more)
{
	const char *action = f->action ? f->action : "",
	           *atype = f->actor_type ? f->actor_type : "";
	const char *actor = f->actor_id ? f->actor_id : "", *outcome = f->outcome ? f->outcome : "";
	int64_t before = f->before > 0 ? f->before : INT64_MAX, tenant = f->tenant_id;
	int limit = f->limit >= 1 && f->limit <= 100 ? f->limit : 100, want = limit + 1, n = 0;
	int shape = tenant > 0, rc = 0;
	struct audit_row *row = malloc(sizeof(*row));
	MYSQL_BIND in[11], *p = in;
	unsigned long l[8];
	struct db_out o;
	enum db_q q = db_variant(Q_AUDIT_PAGE, (unsigned)shape);

	*has_more = 0;
	if (row == NULL)
		return ST_ERR;
	memset(row, 0, sizeof(*row));
	memset(in, 0, sizeof(in));
	if (shape)
		db_in_i64(p++, &tenant);
	db_in_i64(p++, &before);
	db_in_str(p++, action, &l[0]);
	db_in_str(p++, action, &l[1]);
	db_in_str(p++, atype, &l[2]);
	db_in_str(p++, atype, &l[3]);
	db_in_str(p++, actor, &l[4]);
	db_in_str(p++, actor, &l[5]);
	db_in_str(p++, outcome, &l[6]);
	db_in_str(p++, outcome, &l[7]);
	db_in_int(p++, &want);
	db_out_init(&o);
	db_out_i64(&o, &row->id);
	db_out_i64(&o, &row->tenant_id);
	db_out_str(&o, row->actor_type, sizeof(row->actor_type));
	db_out_str(&o, row->actor_id, sizeof(row->actor_id));
	db_out_str(&o, row->action, sizeof(row->action));
	db_out_str(&o, row->target, sizeof(row->target));
	db_out_str(&o, row->outcome, sizeof(row->outcome));
	db_out_str(&o, row->reason_code, sizeof(row->reason_code));
	db_out_str(&o, row->request_id, sizeof(row->request_id));
	db_out_str(&o, row->ip, sizeof(row->ip));
	db_out_str(&o, row->detail, sizeof(row->detail));
	db_out_str(&o, row->end_user, sizeof(row->end_user));
	db_out_i64(&o, &row->created_at);
	if (db_exec(st, q, sql_page[shape], in, &o, __func__) != ST_OK) {
		free(row);
		return ST_ERR;
	}
	while ((rc = db_fetch(st, q, &o, __func__)) == 1) {
		if (n++ == limit) {
			*has_more = 1;
			break;
		}
		if (cb(ctx, row))
			break;
	}
	db_end(st, q, &o);
	free(row);
	return rc < 0 ? ST_ERR : ST_OK;
}
