/*
 * db: the store's private plumbing, shared by the files of src/store and nothing else.
 *
 * DESIGN
 * A struct store owns one MariaDB connection and a cache of prepared
 * statements indexed by enum db_q, one named slot per statement of
 * store/statements.h. Each store file keeps its SQL text next to
 * the code that uses it and hands it to db_exec(), which prepares it on first
 * use on this connection and keeps it until the connection goes away.
 * Parameters and result columns are described with small helpers that fill
 * MYSQL_BIND arrays, so a query reads as: bind inputs, db_exec, db_fetch
 * rows, db_end.
 *
 * A lost connection (2006/2013) or a statement the server forgot (1243) is
 * handled in db_exec: outside a transaction it reconnects once, re-prepares
 * and retries the statement; inside a transaction nothing can be replayed
 * safely, so it fails and the caller rolls back (db_rollback drops a
 * connection it cannot restore to a clean state, so the next call starts
 * fresh).
 *
 * On Galera (db_cluster()), db_query guards its multi-statement
 * transactions against being split by a brute-force abort: see db.c.
 *
 * Errors are logged here as "store: <function>: <MariaDB message>", never with
 * bound values: they may be key hashes or ciphertexts.
 */
#ifndef AH_STORE_DB_H
#define AH_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "common/buf.h"
#include "store/statements.h"
#include "common/conf.h"
#include "store/store.h"

/*
 * Prepared statement slots: Q_<NAME> for each entry of DB_STATEMENTS
 * (store/statements.h); a statement of several shapes holds one slot per
 * shape after its name, reached only through db_variant.
 */
enum db_q {
#define DB_Q_ENUM(name, shapes) Q_##name, Q_##name##__LAST = Q_##name + (shapes)-1,
	DB_STATEMENTS(DB_Q_ENUM)
#undef DB_Q_ENUM
	    Q__MAX
};

/* One pooled connection to a dedicated tenant's database (tenantdb.c). */
struct tdb_conn {
	int64_t tenant_id; /* 0: free slot */
	int epoch;         /* tenants.data_epoch it was opened for */
	int64_t used_us;   /* last use, for LRU eviction and the idle timeout */
	struct store *conn;
};

struct store {
	MYSQL *db;                /* NULL after a failed reconnect */
	MYSQL_STMT *stmt[Q__MAX]; /* prepared lazily, NULL until first use */
	int in_tx;                /* between db_begin and db_commit/db_rollback */
	char host[256];           /* connection parameters, kept for reconnects */
	char socket[256];
	char user[64];
	char password[256];
	char name[64];
	unsigned int port;
	unsigned int connect_timeout;     /* seconds */
	const struct conf_db_node *nodes; /* Galera nodes in writer order (the process's conf) */
	int n_nodes;                      /* 0: one server (host/socket/port above) */
	int node;                         /* index in nodes of the node connected to */
	int guarded;          /* a db_query transaction runs with autocommit off (db.c, "Galera") */
	char last_error[512]; /* message of the last failure, for callers reporting it */
	unsigned last_errno;  /* its MariaDB error number (0: none or not the server's) */
	/*
	 * Tenant routing (tenantdb.c). The context says where the data of the
	 * tenant this request works for lives; it is valid while ctx_gen equals
	 * gen (store_request_begin moves gen on), set by key identification or
	 * by the first lookup. pool holds this thread's connections to dedicated
	 * databases (pool_max of them, LRU).
	 */
	uint64_t gen, ctx_gen;
	int64_t ctx_tenant;
	int ctx_dedicated, ctx_epoch;
	struct tdb_conn *pool;
	int pool_max, pool_idle_s;
	int is_tenant_conn; /* this handle is a pooled connection to a tenant database */
	/*
	 * Epoch bumps of changes logged inside the open transaction (changes.c):
	 * run by db_commit, forgotten by db_rollback.
	 */
	struct {
		int kind; /* enum store_change */
		int64_t tenant_id;
	} bumps[16];
	int n_bumps;
	int bumps_all; /* more than fit: bump every epoch at commit */
};

/* Most columns any store query returns (executions has the widest rows). */
#define DB_MAX_COLS 32

enum db_col_type { DBC_I64, DBC_INT, DBC_DOUBLE, DBC_STR, DBC_BLOB, DBC_TEXT };

/*
 * The result columns of one query. Fixed columns land in caller buffers;
 * DBC_TEXT columns are fetched into memory owned here (text[i], NULL for SQL
 * NULL), valid until the next db_fetch or db_out_free.
 */
struct db_out {
	MYSQL_BIND bind[DB_MAX_COLS];
	enum db_col_type type[DB_MAX_COLS];
	unsigned long len[DB_MAX_COLS]; /* length of the value as stored */
	my_bool null[DB_MAX_COLS];      /* SQL NULL (fixed columns then read as 0 or "") */
	my_bool err[DB_MAX_COLS];       /* truncation flag set by the connector */
	size_t cap[DB_MAX_COLS];        /* caller buffer size for DBC_STR/DBC_BLOB */
	char *text[DB_MAX_COLS];        /* DBC_TEXT values of the current row */
	size_t n;                       /* columns described */
};

/*
 * Run one mutation statement (slot q) and its change_log row (kind,
 * tenant_id) in one transaction (the caller's, when one is open), bumping
 * the host's epochs after the commit. *affected (may be NULL) gets the rows
 * the statement matched; when it matched none nothing is logged. The
 * statement's store return code (ST_OK, ST_CONFLICT, ST_NOTFOUND, ST_ERR).
 */
int store_change_exec(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in,
                      const char *fn, enum store_change kind, int64_t tenant_id,
                      uint64_t *affected);
/* Run (db_commit) or forget (db_rollback) the bumps queued in st. */
void db_bumps_run(struct store *st);

/* Connect st using the parameters stored in it; 0, or -1 with err filled. */
int db_connect(struct store *st, char *err, size_t errlen);
/*
 * Switch st's live connection to another account and database
 * (COM_CHANGE_USER: no new connection); its prepared statements are dropped
 * and the session settings set again. 0, or -1 with st disconnected.
 */
int db_change_user(struct store *st, const char *user, const char *password, const char *name);
/* Close every statement and the connection (st stays reusable for db_connect). */
void db_disconnect(struct store *st);
/* Galera: the nodes of the configuration (db_nodes) st chooses the writer among. */
void db_set_nodes(struct store *st, const struct conf *c);
/* Drop st's connection (outside a transaction) when it is not on the writer any more. */
void db_follow_writer(struct store *st);
/*
 * 1 when st's node is Synced in the primary component (or not a Galera node),
 * 0 when it is a node that is not, -1 when it cannot be asked; why says what.
 */
int db_node_ready(struct store *st, char *why, size_t whylen);
/*
 * Roll back, close and free a handle that owns no pool of tenant
 * connections (a pooled or provisioning connection), wiping its password.
 */
void db_free(struct store *st);

/* ----------------------------------------------------------- parameters */

void db_in_i64(MYSQL_BIND *b, const int64_t *v);
void db_in_int(MYSQL_BIND *b, const int *v);
void db_in_double(MYSQL_BIND *b, const double *v);
/* A string parameter; s NULL binds SQL NULL. len is storage the bind points at. */
void db_in_str(MYSQL_BIND *b, const char *s, unsigned long *len);
/* A string parameter of explicit length (s not NULL). */
void db_in_strn(MYSQL_BIND *b, const char *s, size_t n, unsigned long *len);
void db_in_blob(MYSQL_BIND *b, const void *p, size_t n, unsigned long *len);
void db_in_null(MYSQL_BIND *b);
/* 0 binds SQL NULL (for optional ids and unix times); otherwise the value. */
void db_in_i64_or_null(MYSQL_BIND *b, const int64_t *v);

/* ----------------------------------------------------------- result columns */

void db_out_init(struct db_out *o);
/* Each returns the column index, for reading o->null[i] or o->len[i] after a fetch. */
size_t db_out_i64(struct db_out *o, int64_t *v);
size_t db_out_int(struct db_out *o, int *v);
size_t db_out_double(struct db_out *o, double *v);
/* NUL-terminated into buf[cap]; longer values are cut (schemas size the buffers). */
size_t db_out_str(struct db_out *o, char *buf, size_t cap);
/* Raw bytes into buf[cap]; o->len[i] tells the stored length (> cap means truncated). */
size_t db_out_blob(struct db_out *o, void *buf, size_t cap);
/* Any length; o->text[i] after each fetch. */
size_t db_out_text(struct db_out *o);
/* Free the DBC_TEXT values of the last row. */
void db_out_free(struct db_out *o);

/* ----------------------------------------------------------- statements */

/*
 * Shape i of statement q (a statement declared with several shapes in
 * store/statements.h). i past the declared count is a programming error:
 * logged, and the process aborts rather than run the wrong statement.
 */
enum db_q db_variant(enum db_q q, unsigned i);

/*
 * Execute the statement in slot q (prepared from sql on first use) with the
 * parameters in (NULL when it has none). When out is given the result set is
 * read into client memory (so callbacks may run other queries) and bound to
 * out. Returns ST_OK, ST_CONFLICT (duplicate key), ST_NOTFOUND (a foreign
 * key's parent is missing) or ST_ERR (logged with fn). Reconnects and retries
 * once outside a transaction, as described above.
 */
int db_exec(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in, struct db_out *out,
            const char *fn);
/* 1 with a row in out, 0 at the end, ST_ERR (logged) on failure. */
int db_fetch(struct store *st, enum db_q q, struct db_out *out, const char *fn);
/* Release the result set of q and out's row memory. */
void db_end(struct store *st, enum db_q q, struct db_out *out);
/* Rows matched by the last UPDATE/DELETE (the connection uses CLIENT_FOUND_ROWS). */
uint64_t db_affected(struct store *st, enum db_q q);
/* AUTO_INCREMENT value of the last INSERT of q. */
int64_t db_insert_id(struct store *st, enum db_q q);

/* ----------------------------------------------------------- transactions */

/* START TRANSACTION (reconnecting once if the connection is gone); ST_OK or ST_ERR. */
int db_begin(struct store *st, const char *fn);
int db_commit(struct store *st, const char *fn);
/* Roll back; drops the connection when that fails so no half state survives. */
void db_rollback(struct store *st);

/* ----------------------------------------------------------- text statements */

/*
 * For statements whose shape varies, sent several to a round trip
 * (the connection has CLIENT_MULTI_STATEMENTS): every value is a literal,
 * appended through the typed builder of store/sql.h (strings through
 * db_quote, identifiers and numbers through their own appends), never
 * through printf. Prepared statements remain the rule everywhere else.
 */
typedef void (*db_row_cb)(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n);

/* Append s to b as a quoted, escaped SQL string literal; -1 without a connection or memory. */
int db_quote(struct store *st, struct buf *b, const char *s);
/* The same for the n bytes at s (which may hold NULs). */
int db_quote_n(struct store *st, struct buf *b, const char *s, size_t n);
/*
 * Send sql and read every result set it returns, calling cb for each row
 * (set = index of the result set). Reconnects and retries once when the
 * connection was found dead when sending (never after CR_SERVER_LOST, when
 * the statement may have run); on any other error the
 * connection is dropped (nothing half-done survives). ST_OK, ST_CONFLICT or
 * ST_ERR (logged with fn).
 */
int db_query(struct store *st, const char *sql, size_t len, db_row_cb cb, void *ctx,
             const char *fn);

/*
 * 1 when the last failure of st left nothing behind and running the whole
 * transaction again is safe: a deadlock or lock wait timeout (on Galera also
 * a certification failure or a brute-force abort, 1213), a node not ready
 * for use (1047, outside the primary component) or a failed commit (1180).
 */
int db_conflicted(const struct store *st);
/* How many times a transaction that conflicted is run again. */
#define DB_CONFLICT_RETRIES 4
/*
 * Whether attempt i (from 0) of a transaction that just failed should be run
 * again: 1 after a short growing pause (1, 2, 4, 8 ms ... with jitter) when
 * db_conflicted(st) and i < DB_CONFLICT_RETRIES, else 0. The retry loops of
 * admission, leases and the ledger use it.
 */
int db_retry(struct store *st, int i);

/* 1 when this process's configuration names Galera nodes (db_nodes). */
int db_cluster(void);

/*
 * Cut s to at most max bytes without splitting a UTF-8 sequence; returns the
 * new length. For free-text columns where losing the tail beats losing the row.
 */
size_t db_utf8_cut(const char *s, size_t max);

#endif
