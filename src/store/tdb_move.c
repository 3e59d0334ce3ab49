/*
 * tdb_move.c: the primitives of moving a tenant between shared and
 * dedicated (see store/tenantdb.h; tenancy/placement.c runs a move).
 *
 * DESIGN
 * A move marks the tenant migrating (new reservations refused), copies
 * each table's rows of the tenant to the other side, checks both sides
 * agree (row count and a checksum of every column), switches the mode and
 * data_epoch in one statement, and deletes what the shared side no longer
 * owns. Copies skip rows already there, so a move interrupted anywhere is
 * run again from the start. On one server a copy is one INSERT ... SELECT;
 * across servers it pages through the source by primary key and inserts
 * through this process. Column lists are read from information_schema one
 * name per row and written back through sql_ident: nothing the server
 * returns is pasted into SQL unquoted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/sql.h"
#include "store/tdb.h"
#include "store/tenantdb.h"

static const char sql_migrating[] =
    "UPDATE tenants SET migrating = ?, updated_at = UTC_TIMESTAMP(6)"
    " WHERE id = ? AND migrating <> ?";
static const char sql_open[] =
    "SELECT COUNT(*) FROM reservations WHERE tenant_id = ? AND state = 'open'";
static const char sql_switch[] =
    "UPDATE tenants SET isolation_mode = IF(? = 1, 'dedicated', 'shared'), migrating = 0,"
    " data_epoch = data_epoch + 1, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";

/* ------------------------------------------------------------ the tenant's row */

int store_tdb_migrating(struct store *st, int64_t tenant_id, int on)
{
	MYSQL_BIND in[3];
	uint64_t n = 0;
	int rc;

	db_in_int(&in[0], &on);
	db_in_i64(&in[1], &tenant_id);
	db_in_int(&in[2], &on);
	rc = store_change_exec(st, Q_TDB_MIGRATING, sql_migrating, in, __func__, CHANGE_TENANT,
	                       tenant_id, &n);
	if (rc != ST_OK)
		return ST_ERR;
	return n == 1 ? ST_OK : ST_CONFLICT;
}

int store_tdb_open_reservations(struct store *st, int64_t tenant_id, int64_t *n)
{
	MYSQL_BIND in[1];
	struct db_out o;
	int rc;

	*n = 0;
	db_in_i64(&in[0], &tenant_id);
	db_out_init(&o);
	db_out_i64(&o, n);
	if (db_exec(st, Q_TDB_OPEN, sql_open, in, &o, __func__) != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_TDB_OPEN, &o, __func__);
	db_end(st, Q_TDB_OPEN, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}

int store_tdb_switch(struct store *st, int64_t tenant_id, int dedicated)
{
	MYSQL_BIND in[2];

	db_in_int(&in[0], &dedicated);
	db_in_i64(&in[1], &tenant_id);
	return store_change_exec(st, Q_TDB_SWITCH, sql_switch, in, __func__, CHANGE_TENANT,
	                         tenant_id, NULL) == ST_OK
	           ? ST_OK
	           : ST_ERR;
}

/* ------------------------------------------------------------ columns */

#define TDB_MAX_COLS 64
#define TDB_MAX_PK 6

/* Column names of a table, in order. */
struct tdb_cols {
	char name[TDB_MAX_COLS][65];
	size_t n;
	int over; /* more than fit */
};

static void cols_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct tdb_cols *c = ctx;

	(void)set;
	(void)len;
	if (n < 1 || row[0] == NULL)
		return;
	if (c->n == TDB_MAX_COLS || util_strlcpy(c->name[c->n], row[0], sizeof(c->name[0])) < 0)
		c->over = 1;
	else
		c->n++;
}

/*
 * The columns of table in the control database (key: its primary key
 * only, in key order; else every column but, with without_seq,
 * executions.seq, which the receiving side numbers itself). -1 when they
 * cannot be read or there are too many.
 */
static int columns_of(struct store *st, const char *table, int key, int without_seq,
                      struct tdb_cols *c)
{
	struct sql q;
	int rc;

	memset(c, 0, sizeof(*c));
	sql_init(&q, st);
	if (key)
		sql_lit(&q, "SELECT column_name FROM information_schema.statistics"
		            " WHERE index_name = 'PRIMARY' AND table_schema = ");
	else
		sql_lit(&q,
		        "SELECT column_name FROM information_schema.columns WHERE table_schema = ");
	sql_str(&q, st->name);
	sql_lit(&q, " AND table_name = ");
	sql_str(&q, table);
	if (without_seq)
		sql_lit(&q, " AND column_name <> 'seq'");
	if (key)
		sql_lit(&q, " ORDER BY seq_in_index");
	else
		sql_lit(&q, " ORDER BY ordinal_position");
	rc = sql_run(st, &q, cols_row, c, __func__);
	sql_free(&q);
	if (rc != ST_OK || c->over || c->n == 0 || (key && c->n > TDB_MAX_PK))
		return -1;
	return 0;
}

/* "`a`, `b`, ..." */
static void cols_sql(struct sql *q, const struct tdb_cols *c)
{
	for (size_t i = 0; i < c->n; i++) {
		sql_comma(q, i == 0);
		sql_ident(q, c->name[i]);
	}
}

/* Where the tenant's database is (name, server), from its row; -1 when it has none. */
static int place_of(struct store *st, int64_t tenant_id, struct tdb_where *w)
{
	if (tdb_lookup(st, tenant_id, w) != ST_OK || w->db[0] == '\0')
		return -1;
	sodium_memzero(w->secret, sizeof(w->secret));
	return 0;
}

/* ------------------------------------------------------------ copies */

/* A page of rows read from one server, written to the other (store_tdb_copy across servers). */
struct across {
	const char *ddb, *table;
	const struct tdb_cols *cols;
	size_t npk;
	struct sql ins;         /* the INSERT being filled, quoting with the destination */
	char *last[TDB_MAX_PK]; /* key of the last row read (malloc'ed) */
	int64_t page_rows, added;
	int rows_in_ins, failed;
};

#define ACROSS_PAGE 500
#define ACROSS_FLUSH (4 << 20) /* bytes of VALUES per INSERT, well under max_allowed_packet */

static int across_flush(struct across *x)
{
	int64_t n = 0;
	int rc;

	if (x->rows_in_ins == 0)
		return 0;
	sql_lit(&x->ins, "; SELECT ROW_COUNT()");
	rc = sql_run_i64(x->ins.st, &x->ins, &n, __func__);
	sql_reset(&x->ins);
	x->rows_in_ins = 0;
	if (rc != ST_OK)
		return -1;
	x->added += n;
	return 0;
}

static void across_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct across *x = ctx;
	size_t ncols = x->cols->n;

	(void)set;
	if (x->failed || n != ncols + x->npk)
		return;
	if (x->rows_in_ins == 0) {
		sql_lit(&x->ins, "INSERT IGNORE INTO ");
		sql_ident2(&x->ins, x->ddb, x->table);
		sql_lit(&x->ins, " (");
		cols_sql(&x->ins, x->cols);
		sql_lit(&x->ins, ") VALUES ");
	}
	sql_comma(&x->ins, x->rows_in_ins == 0);
	sql_lit(&x->ins, "(");
	for (size_t i = 0; i < ncols; i++) {
		sql_comma(&x->ins, i == 0);
		if (row[i] == NULL)
			sql_lit(&x->ins, "NULL");
		else
			sql_strn(&x->ins, row[i], len[i]);
	}
	sql_lit(&x->ins, ")");
	x->rows_in_ins++;
	for (size_t i = 0; i < x->npk; i++) {
		free(x->last[i]);
		x->last[i] = strdup(row[ncols + i] ? row[ncols + i] : "");
		if (x->last[i] == NULL)
			x->failed = 1;
	}
	x->page_rows++;
	if (!sql_ok(&x->ins) || (x->ins.b.len > ACROSS_FLUSH && across_flush(x) < 0))
		x->failed = 1;
}

/*
 * Copy tenant_id's rows of table from src (database sdb) to dst (database
 * ddb) through this process, in keyset pages of the primary key: the two
 * databases are on different servers.
 */
static int copy_across(struct store *st, struct store *src, const char *sdb, struct store *dst,
                       const char *ddb, const char *table, const struct tdb_cols *cols,
                       int64_t tenant_id, const struct progress *pg, int64_t *rows, char *err,
                       size_t errlen)
{
	struct tdb_cols pk;
	struct across x;
	struct sql q;
	int rc = ST_OK;

	memset(&x, 0, sizeof(x));
	if (columns_of(st, table, 1, 0, &pk) < 0) {
		snprintf(err, errlen, "cannot read the primary key of %s", table);
		return ST_ERR;
	}
	x.ddb = ddb;
	x.table = table;
	x.cols = cols;
	x.npk = pk.n;
	sql_init(&x.ins, dst);
	sql_init(&q, src);
	for (;;) {
		sql_reset(&q);
		sql_lit(&q, "SELECT ");
		cols_sql(&q, cols);
		sql_lit(&q, ", ");
		cols_sql(&q, &pk);
		sql_lit(&q, " FROM ");
		sql_ident2(&q, sdb, table);
		sql_lit(&q, " WHERE tenant_id = ");
		sql_i64(&q, tenant_id);
		if (x.last[0]) {
			sql_lit(&q, " AND (");
			cols_sql(&q, &pk);
			sql_lit(&q, ") > (");
			for (size_t i = 0; i < x.npk; i++) {
				sql_comma(&q, i == 0);
				sql_str(&q, x.last[i]);
			}
			sql_lit(&q, ")");
		}
		sql_lit(&q, " ORDER BY ");
		cols_sql(&q, &pk);
		sql_lit(&q, " LIMIT ");
		sql_i64(&q, ACROSS_PAGE);
		x.page_rows = 0;
		if (sql_run(src, &q, across_row, &x, __func__) != ST_OK || x.failed ||
		    across_flush(&x) < 0) {
			snprintf(err, errlen, "copying %s across servers failed: %s", table,
			         src->last_error[0] ? src->last_error : dst->last_error);
			rc = ST_ERR;
			break;
		}
		if (x.page_rows < ACROSS_PAGE)
			break;
		progress_report(pg, "copy", table, x.added, -1);
	}
	*rows = x.added;
	for (size_t i = 0; i < TDB_MAX_PK; i++)
		free(x.last[i]);
	sql_free(&x.ins);
	sql_free(&q);
	return rc;
}

/* Provisioning connections to both sides: the control database and the tenant's. */
static int both_sides(struct store *st, const struct tdb_opts *o, const struct tdb_where *w,
                      struct store **ctl, struct store **ten, char *err, size_t errlen)
{
	*ctl = tdb_admin(st, o, NULL, 0, st->name, err, errlen);
	*ten = *ctl ? tdb_admin(st, o, w->host, w->port, w->db, err, errlen) : NULL;
	if (*ten == NULL) {
		db_free(*ctl);
		*ctl = NULL;
		return -1;
	}
	return 0;
}

int store_tdb_copy(struct store *st, int64_t tenant_id, const struct tdb_opts *o, const char *table,
                   int to_dedicated, const struct progress *pg, int64_t *rows, char *err,
                   size_t errlen)
{
	struct tdb_cols cols;
	struct tdb_where w;
	struct store *a, *ctl, *ten;
	struct sql q;
	int rc;

	*rows = 0;
	if (!tdb_known_table(table)) {
		snprintf(err, errlen, "%s is not a tenant table", table);
		return ST_ERR;
	}
	if (place_of(st, tenant_id, &w) < 0) {
		snprintf(err, errlen, "the tenant has no database");
		return ST_ERR;
	}
	/*
	 * executions.seq is numbered afresh on the receiving side, in the order
	 * of the source (ORDER BY seq): it never leaves the store, and a late row
	 * copied after the switch must not collide with one numbered there since.
	 */
	if (columns_of(st, table, 0, strcmp(table, "executions") == 0, &cols) < 0) {
		snprintf(err, errlen, "cannot read the columns of %s", table);
		return ST_ERR;
	}
	if (w.host[0]) { /* another server: through this process */
		if (both_sides(st, o, &w, &ctl, &ten, err, errlen) < 0)
			return ST_ERR;
		rc = to_dedicated ? copy_across(st, ctl, st->name, ten, w.db, table, &cols,
		                                tenant_id, pg, rows, err, errlen)
		                  : copy_across(st, ten, w.db, ctl, st->name, table, &cols,
		                                tenant_id, pg, rows, err, errlen);
		db_free(ctl);
		db_free(ten);
		if (rc == ST_OK)
			progress_report(pg, "copy", table, *rows, -1);
		return rc;
	}
	a = tdb_admin(st, o, NULL, 0, NULL, err, errlen);
	if (a == NULL)
		return ST_ERR;
	/*
	 * The same server: one INSERT ... SELECT. READ COMMITTED: the copy takes
	 * no shared locks on the source rows, so other tenants' writes next to
	 * this tenant's range never wait for it. Rows already on the other side
	 * (a copy run again) are skipped.
	 */
	sql_init(&q, a);
	sql_lit(&q, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;"
	            " INSERT IGNORE INTO ");
	sql_ident2(&q, to_dedicated ? w.db : st->name, table);
	sql_lit(&q, " (");
	cols_sql(&q, &cols);
	sql_lit(&q, ") SELECT ");
	cols_sql(&q, &cols);
	sql_lit(&q, " FROM ");
	sql_ident2(&q, to_dedicated ? st->name : w.db, table);
	sql_lit(&q, " WHERE tenant_id = ");
	sql_i64(&q, tenant_id);
	if (strcmp(table, "executions") == 0)
		sql_lit(&q, " ORDER BY seq");
	sql_lit(&q, "; SELECT ROW_COUNT()");
	rc = sql_run_i64(a, &q, rows, __func__);
	if (rc != ST_OK)
		snprintf(err, errlen, "copying %s failed: %s", table, a->last_error);
	else
		progress_report(pg, "copy", table, *rows, -1);
	sql_free(&q);
	db_free(a);
	return rc == ST_OK ? ST_OK : ST_ERR;
}

/* ------------------------------------------------------------ checks and cleanup */

struct check_read {
	int64_t rows;
	uint64_t sum;
	int got;
};

static void check_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct check_read *c = ctx;
	int64_t v;

	(void)set;
	(void)len;
	if (n >= 2 && row[0] && row[1]) {
		util_parse_i64(row[0], 0, INT64_MAX, &c->rows);
		if (util_parse_i64(row[1], 0, INT64_MAX, &v) == 0)
			c->sum = (uint64_t)v;
		c->got = 1;
	}
}

/*
 * COUNT and SUM(CRC32) of the tenant's rows of table in database db, over
 * every column as IFNULL(col, '\N') (NULL and '' must not checksum alike).
 */
static int table_sum(struct store *a, const char *db, const char *table,
                     const struct tdb_cols *cols, int64_t tenant_id, int64_t *rows, uint64_t *sum)
{
	struct check_read c = {0, 0, 0};
	struct sql q;
	int rc;

	sql_init(&q, a);
	sql_lit(&q, "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|'");
	for (size_t i = 0; i < cols->n; i++) {
		sql_lit(&q, ", IFNULL(");
		sql_ident(&q, cols->name[i]);
		sql_lit(&q, ", '\\\\N')");
	}
	sql_lit(&q, "))), 0) FROM ");
	sql_ident2(&q, db, table);
	sql_lit(&q, " WHERE tenant_id = ");
	sql_i64(&q, tenant_id);
	rc = sql_run(a, &q, check_row, &c, __func__);
	sql_free(&q);
	if (rc != ST_OK || !c.got)
		return ST_ERR;
	*rows = c.rows;
	*sum = c.sum;
	return ST_OK;
}

int store_tdb_check(struct store *st, int64_t tenant_id, const struct tdb_opts *o, int to_dedicated,
                    struct tdb_table_check *c, char *err, size_t errlen)
{
	struct tdb_cols cols;
	struct tdb_where w;
	struct store *ctl, *ten;
	int64_t crows = 0, trows = 0;
	uint64_t csum = 0, tsum = 0;
	int rc;

	if (!tdb_known_table(c->table) || place_of(st, tenant_id, &w) < 0) {
		snprintf(err, errlen, "cannot check %s: unknown table or no tenant database",
		         c->table);
		return ST_ERR;
	}
	if (columns_of(st, c->table, 0, strcmp(c->table, "executions") == 0, &cols) < 0) {
		snprintf(err, errlen, "cannot read the columns of %s", c->table);
		return ST_ERR;
	}
	if (both_sides(st, o, &w, &ctl, &ten, err, errlen) < 0)
		return ST_ERR;
	rc = table_sum(ctl, st->name, c->table, &cols, tenant_id, &crows, &csum);
	if (rc == ST_OK)
		rc = table_sum(ten, w.db, c->table, &cols, tenant_id, &trows, &tsum);
	if (rc != ST_OK)
		snprintf(err, errlen, "cannot checksum %s: %s", c->table,
		         ctl->last_error[0] ? ctl->last_error : ten->last_error);
	c->src_rows = to_dedicated ? crows : trows;
	c->src_sum = to_dedicated ? csum : tsum;
	c->dst_rows = to_dedicated ? trows : crows;
	c->dst_sum = to_dedicated ? tsum : csum;
	db_free(ctl);
	db_free(ten);
	return rc;
}

int store_tdb_delete_shared(struct store *st, int64_t tenant_id, const char *table, int batch,
                            int64_t *rows)
{
	struct sql q;
	int rc = ST_OK;

	*rows = 0;
	if (!tdb_known_table(table))
		return ST_ERR;
	sql_init(&q, st);
	for (;;) {
		int64_t n = 0;

		sql_reset(&q);
		sql_lit(&q, "DELETE FROM ");
		sql_ident(&q, table);
		sql_lit(&q, " WHERE tenant_id = ");
		sql_i64(&q, tenant_id);
		sql_lit(&q, " LIMIT ");
		sql_i64(&q, batch > 0 ? batch : 1000);
		sql_lit(&q, "; SELECT ROW_COUNT()");
		rc = sql_run_i64(st, &q, &n, __func__);
		if (rc != ST_OK)
			break;
		*rows += n;
		if (n == 0)
			break;
	}
	sql_free(&q);
	return rc == ST_OK ? ST_OK : ST_ERR;
}
