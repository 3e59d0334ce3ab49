/*
 * changes.c: change_log, how the caches of every process learn that a fact
 * they hold changed (store_change*, store_changes_poll; see sql/015).
 *
 * DESIGN
 * A mutation of a cached fact writes its change_log row in the same
 * transaction, so the row exists exactly when the change does. After the
 * commit the host's epoch counters are bumped (common/epochs.h), which
 * drops the fact from every cache on this host at its next use; other
 * hosts poll change_log (store_changes_poll, the watcher in
 * host/background.c). A bump queued inside a transaction waits for
 * db_commit and is forgotten by db_rollback: a reader must never see the
 * bump before the new value is visible.
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"

static const char *const change_kinds[CHANGE__MAX] = {"tenant", "limits", "models", "keys"};

static const char sql_insert[] =
    "INSERT INTO change_log (kind, tenant_id, created_at) VALUES (?, ?, UTC_TIMESTAMP(6))";
/*
 * The window's change_log rows, and the api_keys and tenants rows written in
 * it by anything (changed_at, sql/015), as (source, id, at, kind, tenant):
 * source 0 is change_log, 1 a key, 2 a tenant; at is when it changed (unix
 * microseconds), so a row written twice shows twice.
 */
#define TS_US(c) "CAST(UNIX_TIMESTAMP(" c ") * 1000000 AS SIGNED)"
static const char sql_poll[] = "SELECT 0, id, " TS_US(
    "created_at") ", kind, tenant_id FROM change_log"
                  " WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND"
                  " UNION ALL SELECT 1, id, " TS_US(
                      "changed_at") ", 'tenant', tenant_id FROM api_keys"
                                    " WHERE changed_at >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND"
                                    " UNION ALL SELECT 2, id, " TS_US(
                                        "changed_at") ", 'tenant', id FROM tenants"
                                                      " WHERE changed_at >= UTC_TIMESTAMP(6) - "
                                                      "INTERVAL ? SECOND ORDER BY 1, 2, 3";

int store_change(struct store *st, enum store_change kind, int64_t tenant_id)
{
	MYSQL_BIND in[2];
	unsigned long l;

	if (kind < 0 || kind >= CHANGE__MAX)
		return ST_ERR;
	db_in_str(&in[0], change_kinds[kind], &l);
	db_in_i64(&in[1], &tenant_id);
	if (db_exec(st, Q_CHANGE_INSERT, sql_insert, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	if (!st->in_tx) {
		store_change_bump(kind, tenant_id);
		return ST_OK;
	}
	if (st->n_bumps < (int)(sizeof(st->bumps) / sizeof(st->bumps[0]))) {
		st->bumps[st->n_bumps].kind = (int)kind;
		st->bumps[st->n_bumps].tenant_id = tenant_id;
		st->n_bumps++;
	} else {
		st->bumps_all = 1; /* more changes than slots: invalidate everything instead */
	}
	return ST_OK;
}

int store_change_exec(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in,
                      const char *fn, enum store_change kind, int64_t tenant_id, uint64_t *affected)
{
	int rc, own = !st->in_tx;

	if (own && db_begin(st, fn) != ST_OK)
		return ST_ERR;
	rc = db_exec(st, q, sql, in, NULL, fn);
	if (rc != ST_OK)
		goto fail;
	if (affected)
		*affected = db_affected(st, q);
	/* Nothing matched: nothing changed, no row to log. */
	if ((affected == NULL || *affected > 0) && store_change(st, kind, tenant_id) != ST_OK) {
		rc = ST_ERR;
		goto fail;
	}
	if (own && db_commit(st, fn) != ST_OK)
		return ST_ERR;
	return ST_OK;
fail:
	if (own)
		db_rollback(st);
	return rc;
}

int store_changes_poll(struct store *st, int window_s, change_cb cb, void *ctx)
{
	struct store_change_row row;
	char kind[16];
	struct db_out o;
	MYSQL_BIND in[3];
	int rc;

	for (int i = 0; i < 3; i++)
		db_in_int(&in[i], &window_s);
	db_out_init(&o);
	db_out_int(&o, &row.source);
	db_out_i64(&o, &row.id);
	db_out_i64(&o, &row.at_us);
	db_out_str(&o, kind, sizeof(kind));
	db_out_i64(&o, &row.tenant_id);
	if (db_exec(st, Q_CHANGE_POLL, sql_poll, in, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_CHANGE_POLL, &o, __func__)) == 1) {
		for (int k = 0; k < CHANGE__MAX; k++)
			if (strcmp(kind, change_kinds[k]) == 0) {
				row.kind = (enum store_change)k;
				cb(ctx, &row);
				break;
			}
	}
	db_end(st, Q_CHANGE_POLL, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
