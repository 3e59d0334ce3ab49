/*
 * db.c: the connection, the prepared-statement cache and the bind helpers
 * behind every store file (see db.h).
 *
 * DESIGN
 * The connection is opened with CLIENT_FOUND_ROWS so that an UPDATE reports
 * the rows it matched, not only the rows it changed: "0 rows" then always
 * means "no such row for this tenant", which is how the store tells
 * ST_NOTFOUND from success without an extra SELECT. Every connection runs in
 * UTC with strict SQL mode (set by MYSQL_INIT_COMMAND, so a reconnect gets
 * them too). Automatic reconnection in the connector stays off: a silent
 * reconnect would lose our prepared statements and session settings, so
 * db_exec reconnects itself and re-prepares.
 * Transactions use START TRANSACTION / COMMIT with autocommit left on, so a
 * failed transaction can never leave a connection stuck with autocommit off
 * (on Galera db_query turns it off for one guarded batch, below, and its
 * COMMIT or any failure turns it back on).
 *
 * Galera (db_nodes set, docs/SCALE-OUT.md): every connection goes to the
 * writer, the first listed node that is Synced and in the primary component,
 * chosen the same way by every process of every host, so hot rows are
 * written on one node and never conflict across nodes. A connection that
 * finds its node gone or outside the primary component (2006, 2013, 1047)
 * is dropped and the next statement connects to the writer again; the
 * process-wide db_writer says where the latest connection went, and
 * connections elsewhere follow it at their next statement outside a
 * transaction (so a node coming back draws every connection back, not half
 * of them). Sessions read with wsrep_sync_wait = 1: after a fail-over the
 * new writer may not have applied everything the old one committed.
 *
 * A multi-statement transaction that a brute-force abort cannot split. On
 * Galera a transaction aborted between two statements of one batch was seen
 * to report OK for every statement while the statements after the abort
 * committed on their own (autocommit). So on Galera db_query sends a text
 * that begins with "START TRANSACTION;" as "SET autocommit = 0; START
 * TRANSACTION; SAVEPOINT ah_tx; ...", and the COMMIT that ends it as
 * "RELEASE SAVEPOINT ah_tx; COMMIT; SET autocommit = 1": after an abort the
 * later statements land in a new transaction that is never committed, and
 * RELEASE fails there (the savepoint died with the aborted transaction, 1305),
 * so the batch ends in an error, its connection is dropped (rolled back) and
 * the caller runs it again. What is left is an abort between RELEASE and
 * COMMIT, which loses the whole transaction and nothing else: the ledger
 * checks after its commits (store_ledger_apply).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <sodium.h>

#include "common/epochs.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "store/db.h"
#include "store/store.h"

#define DB_INIT_COMMAND                                                                            \
	"SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
#define DB_INIT_COMMAND_CLUSTER DB_INIT_COMMAND ", wsrep_sync_wait = 1"

/* Galera's "node not ready for application use" (outside the primary component). */
#define DB_ER_NOT_READY ER_UNKNOWN_COM_ERROR

/*
 * Errors after which the connection (or its statements) cannot be trusted;
 * the statement did not run (1047 is answered before it does).
 */
static int db_retryable(unsigned int e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == ER_UNKNOWN_STMT_HANDLER ||
	       e == DB_ER_NOT_READY;
}

/* Index in db_nodes of the node the latest connection chose: the writer. */
static _Atomic int db_writer = -1;
/* Set once a store is opened with db_nodes (process-wide, like the configuration). */
static _Atomic int db_cluster_on;

int db_cluster(void)
{
	return atomic_load_explicit(&db_cluster_on, memory_order_relaxed);
}

/* Drop a connection (outside a transaction) that is not on the writer any more. */
void db_follow_writer(struct store *st)
{
	if (st->n_nodes && st->db && !st->in_tx &&
	    st->node != atomic_load_explicit(&db_writer, memory_order_relaxed)) {
		log_info("store: database node %d is the writer now; leaving node %d",
		         atomic_load(&db_writer) + 1, st->node + 1);
		db_disconnect(st);
	}
}

/* Map a MariaDB error number to a store return code. */
static int db_rc(unsigned int e)
{
	switch (e) {
	case ER_DUP_ENTRY:
	case ER_DUP_ENTRY_WITH_KEY_NAME:
		return ST_CONFLICT;
	case ER_NO_REFERENCED_ROW:
	case ER_NO_REFERENCED_ROW_2:
		return ST_NOTFOUND;
	default:
		return ST_ERR;
	}
}

/* ------------------------------------------------------------------ connection */

/* Connect st to the server its host/socket/port name. */
static int db_connect_one(struct store *st, char *err, size_t errlen)
{
	unsigned int timeout = st->connect_timeout;
	my_bool off = 0;
	const char *host, *sock;
	MYSQL *db;

	db = mysql_init(NULL);
	if (db == NULL) {
		snprintf(err, errlen, "cannot allocate a MariaDB connection");
		return -1;
	}
	if (mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout) ||
	    mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4") ||
	    mysql_options(db, MYSQL_OPT_RECONNECT, &off) ||
	    mysql_options(db, MYSQL_INIT_COMMAND,
	                  db_cluster() ? DB_INIT_COMMAND_CLUSTER : DB_INIT_COMMAND)) {
		snprintf(err, errlen, "cannot set MariaDB connection options: %s", mysql_error(db));
		mysql_close(db);
		return -1;
	}
	sock = st->socket[0] ? st->socket : NULL;
	host = sock ? "localhost" : (st->host[0] ? st->host : "127.0.0.1");
	if (mysql_real_connect(db, host, st->user, st->password, st->name, sock ? 0 : st->port,
	                       sock, CLIENT_FOUND_ROWS | CLIENT_MULTI_STATEMENTS) == NULL) {
		if (sock)
			snprintf(err, errlen, "cannot connect to MariaDB at %s: %s", sock,
			         mysql_error(db));
		else
			snprintf(err, errlen, "cannot connect to MariaDB at %s:%u: %s", host,
			         st->port, mysql_error(db));
		mysql_close(db);
		metrics_count(MC_DB_CONNECT_FAILED);
		return -1;
	}
	st->db = db;
	metrics_count(MC_DB_CONNECTS);
	metrics_gauge(MG_DB_CONNECTIONS, 1);
	return 0;
}

struct node_state {
	int wsrep_on, synced, primary;
};

static void node_state_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct node_state *ns = ctx;

	(void)set;
	(void)len;
	if (n != 2 || row[0] == NULL || row[1] == NULL)
		return;
	if (strcasecmp(row[0], "wsrep_on") == 0)
		ns->wsrep_on = strcasecmp(row[1], "ON") == 0;
	else if (strcasecmp(row[0], "wsrep_local_state_comment") == 0)
		ns->synced = strcmp(row[1], "Synced") == 0;
	else if (strcasecmp(row[0], "wsrep_cluster_status") == 0)
		ns->primary = strcmp(row[1], "Primary") == 0;
}

/*
 * 1 when st's server may be used: not a Galera node, or a node Synced in the
 * primary component; 0 when it is a node that is not; -1 when it cannot be
 * asked. SHOW is answered even outside the primary component, where SELECT
 * gets 1047.
 */
int db_node_ready(struct store *st, char *why, size_t whylen)
{
	static const char q[] = "SHOW GLOBAL VARIABLES LIKE 'wsrep_on';"
	                        " SHOW GLOBAL STATUS WHERE Variable_name IN"
	                        " ('wsrep_local_state_comment', 'wsrep_cluster_status')";
	struct node_state ns = {0, 0, 0};
	int set = 0, status;

	if (mysql_real_query(st->db, q, sizeof(q) - 1) != 0) {
		snprintf(why, whylen, "%s", mysql_error(st->db));
		return -1;
	}
	do {
		MYSQL_RES *res = mysql_store_result(st->db);
		MYSQL_ROW row;

		if (res == NULL) {
			snprintf(why, whylen, "%s", mysql_error(st->db));
			return -1;
		}
		while ((row = mysql_fetch_row(res)) != NULL)
			node_state_row(&ns, set, row, mysql_fetch_lengths(res),
			               mysql_num_fields(res));
		mysql_free_result(res);
		set++;
		status = mysql_next_result(st->db);
	} while (status == 0);
	if (status > 0) {
		snprintf(why, whylen, "%s", mysql_error(st->db));
		return -1;
	}
	if (!ns.wsrep_on)
		return 1;
	if (ns.synced && ns.primary)
		return 1;
	snprintf(why, whylen, "the Galera node is %s%s",
	         ns.primary ? "" : "outside the primary component",
	         ns.synced    ? ""
	         : ns.primary ? "not Synced"
	                      : " and not Synced");
	return 0;
}

/*
 * Connect st: to its server, or with db_nodes to the writer, the first node
 * in the list that is Synced in the primary component (every host applies
 * the same rule, so they agree while they see the same cluster).
 */
int db_connect(struct store *st, char *err, size_t errlen)
{
	char why[256];
	size_t used = 0;

	if (st->n_nodes == 0)
		return db_connect_one(st, err, errlen);
	err[0] = '\0';
	for (int i = 0; i < st->n_nodes; i++) {
		const struct conf_db_node *d = &st->nodes[i];
		int ready;

		util_strlcpy(st->host, d->host, sizeof(st->host));
		util_strlcpy(st->socket, d->socket, sizeof(st->socket));
		st->port = (unsigned int)d->port;
		if (db_connect_one(st, why, sizeof(why)) < 0) {
			used += (size_t)snprintf(err + used, used < errlen ? errlen - used : 0,
			                         "%s%s", used ? "; " : "", why);
			continue;
		}
		ready = db_node_ready(st, why, sizeof(why));
		if (ready == 1) {
			st->node = i;
			if (atomic_exchange(&db_writer, i) != i)
				log_info("store: writing to database node %d (%s, port %d)", i + 1,
				         d->socket[0] ? d->socket : d->host, d->port);
			return 0;
		}
		mysql_close(st->db);
		st->db = NULL;
		metrics_gauge(MG_DB_CONNECTIONS, -1);
		used += (size_t)snprintf(err + used, used < errlen ? errlen - used : 0,
		                         "%snode %d: %s", used ? "; " : "", i + 1, why);
	}
	if (used >= errlen && errlen > 4)
		memcpy(err + errlen - 4, "...", 4);
	return -1;
}

int db_change_user(struct store *st, const char *user, const char *password, const char *name)
{
	size_t i;

	if (st->db == NULL || st->in_tx)
		return -1;
	if (mysql_change_user(st->db, user, password, name) != 0) {
		log_warn("store: cannot switch a pooled connection to %s: %s", name,
		         mysql_error(st->db));
		db_disconnect(st);
		return -1;
	}
	/* the connector detached the statements: closing them only frees memory */
	for (i = 0; i < Q__MAX; i++) {
		if (st->stmt[i]) {
			mysql_stmt_close(st->stmt[i]);
			st->stmt[i] = NULL;
		}
	}
	/* a changed user starts a fresh session: UTC and strict mode again */
	if (mysql_query(st->db, DB_INIT_COMMAND) != 0) {
		log_warn("store: %s: %s", name, mysql_error(st->db));
		db_disconnect(st);
		return -1;
	}
	if (util_strlcpy(st->user, user, sizeof(st->user)) < 0 ||
	    util_strlcpy(st->password, password, sizeof(st->password)) < 0 ||
	    util_strlcpy(st->name, name, sizeof(st->name)) < 0) {
		db_disconnect(st);
		return -1;
	}
	return 0;
}

void db_set_nodes(struct store *st, const struct conf *c)
{
	st->nodes = c->db_node;
	st->n_nodes = c->n_db_nodes;
	if (st->n_nodes)
		atomic_store(&db_cluster_on, 1);
}

void db_disconnect(struct store *st)
{
	size_t i;

	/*
	 * mysql_close detaches the statements first, so closing them afterwards
	 * only frees memory and sends nothing down a connection that may be dead.
	 */
	if (st->db) {
		mysql_close(st->db);
		st->db = NULL;
		metrics_gauge(MG_DB_CONNECTIONS, -1);
	}
	for (i = 0; i < Q__MAX; i++) {
		if (st->stmt[i]) {
			mysql_stmt_close(st->stmt[i]);
			st->stmt[i] = NULL;
		}
	}
	st->in_tx = 0;
	st->guarded = 0;
	st->n_bumps = 0; /* a transaction that dies with its connection changed nothing */
	st->bumps_all = 0;
}

void db_free(struct store *st)
{
	if (st == NULL)
		return;
	if (st->in_tx)
		db_rollback(st);
	db_disconnect(st);
	sodium_memzero(st->password, sizeof(st->password));
	free(st);
}

/* ------------------------------------------------------------------ parameters */

void db_in_i64(MYSQL_BIND *b, const int64_t *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = (void *)v;
}

void db_in_int(MYSQL_BIND *b, const int *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = (void *)v;
}

void db_in_double(MYSQL_BIND *b, const double *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_DOUBLE;
	b->buffer = (void *)v;
}

void db_in_strn(MYSQL_BIND *b, const char *s, size_t n, unsigned long *len)
{
	memset(b, 0, sizeof(*b));
	*len = (unsigned long)n;
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)s;
	b->buffer_length = *len;
	b->length = len;
}

void db_in_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	if (s == NULL) {
		db_in_null(b);
		return;
	}
	db_in_strn(b, s, strlen(s), len);
}

void db_in_blob(MYSQL_BIND *b, const void *p, size_t n, unsigned long *len)
{
	memset(b, 0, sizeof(*b));
	*len = (unsigned long)n;
	b->buffer_type = MYSQL_TYPE_BLOB;
	b->buffer = (void *)p;
	b->buffer_length = *len;
	b->length = len;
}

void db_in_null(MYSQL_BIND *b)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_NULL;
}

void db_in_i64_or_null(MYSQL_BIND *b, const int64_t *v)
{
	if (*v == 0)
		db_in_null(b);
	else
		db_in_i64(b, v);
}

/* ------------------------------------------------------------------ result columns */

void db_out_init(struct db_out *o)
{
	memset(o, 0, sizeof(*o));
}

/* Describe the next column; the caller sets the buffer. Aborts on overflow (a programming error).
 */
static MYSQL_BIND *db_out_add(struct db_out *o, enum db_col_type t, size_t *idx)
{
	MYSQL_BIND *b;

	if (o->n >= DB_MAX_COLS) {
		log_error("store: more than %d result columns", DB_MAX_COLS);
		abort();
	}
	*idx = o->n++;
	b = &o->bind[*idx];
	o->type[*idx] = t;
	b->length = &o->len[*idx];
	b->is_null = &o->null[*idx];
	b->error = &o->err[*idx];
	return b;
}

size_t db_out_i64(struct db_out *o, int64_t *v)
{
	size_t i;
	MYSQL_BIND *b = db_out_add(o, DBC_I64, &i);

	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	return i;
}

size_t db_out_int(struct db_out *o, int *v)
{
	size_t i;
	MYSQL_BIND *b = db_out_add(o, DBC_INT, &i);

	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = v;
	return i;
}

size_t db_out_double(struct db_out *o, double *v)
{
	size_t i;
	MYSQL_BIND *b = db_out_add(o, DBC_DOUBLE, &i);

	b->buffer_type = MYSQL_TYPE_DOUBLE;
	b->buffer = v;
	return i;
}

size_t db_out_str(struct db_out *o, char *buf, size_t cap)
{
	size_t i;
	MYSQL_BIND *b = db_out_add(o, DBC_STR, &i);

	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = buf;
	b->buffer_length = (unsigned long)(cap - 1); /* room for our NUL */
	o->cap[i] = cap;
	return i;
}

size_t db_out_blob(struct db_out *o, void *buf, size_t cap)
{
	size_t i;
	MYSQL_BIND *b = db_out_add(o, DBC_BLOB, &i);

	b->buffer_type = MYSQL_TYPE_BLOB;
	b->buffer = buf;
	b->buffer_length = (unsigned long)cap;
	o->cap[i] = cap;
	return i;
}

size_t db_out_text(struct db_out *o)
{
	size_t i;
	MYSQL_BIND *b = db_out_add(o, DBC_TEXT, &i);

	/* No buffer: the fetch reports the length, db_fetch then reads the column. */
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = NULL;
	b->buffer_length = 0;
	return i;
}

void db_out_free(struct db_out *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->text[i]);
		o->text[i] = NULL;
	}
}

/* ------------------------------------------------------------------ statements */

/* How many shapes each statement has (1 for most), from store/statements.h. */
static const unsigned char db_shapes[Q__MAX] = {
#define DB_Q_SHAPES(name, shapes) [Q_##name] = (shapes),
    DB_STATEMENTS(DB_Q_SHAPES)
#undef DB_Q_SHAPES
};

enum db_q db_variant(enum db_q q, unsigned i)
{
	if ((unsigned)q >= Q__MAX || i >= db_shapes[q]) {
		log_error("store: statement %d has no shape %u", (int)q, i);
		abort();
	}
	return (enum db_q)((unsigned)q + i);
}

int db_exec(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in, struct db_out *out,
            const char *fn)
{
	char cerr[512];
	const char *msg;
	unsigned int e;
	MYSQL_STMT *s;
	int attempt, rc;

	/* A thread whose store could not be opened (the database was down): its server said why. */
	if (st == NULL)
		return ST_ERR;
	db_follow_writer(st);
	for (attempt = 0; attempt < 2; attempt++) {
		if (st->db == NULL) {
			if (st->in_tx) {
				log_error("store: %s: connection lost inside a transaction", fn);
				return ST_ERR;
			}
			if (db_connect(st, cerr, sizeof(cerr))) {
				snprintf(st->last_error, sizeof(st->last_error), "%s", cerr);
				log_error("store: %s: %s", fn, cerr);
				return ST_ERR;
			}
		}
		s = st->stmt[q];
		if (s == NULL) {
			s = mysql_stmt_init(st->db);
			if (s == NULL) {
				e = mysql_errno(st->db);
				msg = mysql_error(st->db);
				goto fail;
			}
			if (mysql_stmt_prepare(s, sql, (unsigned long)strlen(sql))) {
				e = mysql_stmt_errno(s);
				/* Keep the message: closing s frees it. */
				snprintf(cerr, sizeof(cerr), "%s", mysql_stmt_error(s));
				msg = cerr;
				mysql_stmt_close(s);
				goto fail;
			}
			st->stmt[q] = s;
		}
		mysql_stmt_free_result(s);
		if (in && mysql_stmt_bind_param(s, in))
			goto fail_stmt;
		if (mysql_stmt_execute(s))
			goto fail_stmt;
		if (out) {
			if (mysql_stmt_store_result(s))
				goto fail_stmt;
			if (mysql_stmt_bind_result(s, out->bind))
				goto fail_stmt;
		}
		return ST_OK;
	fail_stmt:
		e = mysql_stmt_errno(s);
		msg = mysql_stmt_error(s);
	fail:
		snprintf(st->last_error, sizeof(st->last_error), "%s", msg);
		st->last_errno = e;
		rc = db_rc(e);
		if (rc != ST_ERR)
			return rc;
		if (db_retryable(e) && !st->in_tx && attempt == 0) {
			log_warn("store: %s: %s; reconnecting", fn, msg);
			db_disconnect(st);
			continue;
		}
		log_error("store: %s: %s", fn, msg);
		return ST_ERR;
	}
	return ST_ERR;
}

int db_fetch(struct store *st, enum db_q q, struct db_out *o, const char *fn)
{
	MYSQL_STMT *s = st->stmt[q];
	MYSQL_BIND b;
	unsigned long l;
	size_t i, n;
	int rc;

	db_out_free(o);
	rc = mysql_stmt_fetch(s);
	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc == 1) {
		log_error("store: %s: %s", fn, mysql_stmt_error(s));
		return ST_ERR;
	}
	/* MYSQL_DATA_TRUNCATED is expected: DBC_TEXT columns are bound without a buffer. */
	for (i = 0; i < o->n; i++) {
		switch (o->type[i]) {
		case DBC_I64:
			if (o->null[i])
				*(int64_t *)o->bind[i].buffer = 0;
			break;
		case DBC_INT:
			if (o->null[i])
				*(int *)o->bind[i].buffer = 0;
			break;
		case DBC_DOUBLE:
			if (o->null[i])
				*(double *)o->bind[i].buffer = 0;
			break;
		case DBC_STR:
			n = o->null[i] ? 0 : o->len[i];
			if (n > o->cap[i] - 1)
				n = o->cap[i] - 1;
			((char *)o->bind[i].buffer)[n] = '\0';
			break;
		case DBC_BLOB:
			if (o->null[i])
				o->len[i] = 0;
			break;
		case DBC_TEXT:
			if (o->null[i])
				break;
			o->text[i] = malloc((size_t)o->len[i] + 1);
			if (o->text[i] == NULL) {
				log_error("store: %s: out of memory", fn);
				return ST_ERR;
			}
			if (o->len[i] > 0) {
				memset(&b, 0, sizeof(b));
				b.buffer_type = MYSQL_TYPE_STRING;
				b.buffer = o->text[i];
				b.buffer_length = o->len[i] + 1;
				b.length = &l;
				if (mysql_stmt_fetch_column(s, &b, (unsigned int)i, 0)) {
					log_error("store: %s: %s", fn, mysql_stmt_error(s));
					return ST_ERR;
				}
			}
			o->text[i][o->len[i]] = '\0';
			break;
		}
	}
	return 1;
}

void db_end(struct store *st, enum db_q q, struct db_out *out)
{
	if (out)
		db_out_free(out);
	if (st->stmt[q])
		mysql_stmt_free_result(st->stmt[q]);
}

uint64_t db_affected(struct store *st, enum db_q q)
{
	return (uint64_t)mysql_stmt_affected_rows(st->stmt[q]);
}

int64_t db_insert_id(struct store *st, enum db_q q)
{
	return (int64_t)mysql_stmt_insert_id(st->stmt[q]);
}

/* ------------------------------------------------------------------ transactions */

int db_begin(struct store *st, const char *fn)
{
	static const char begin[] = "START TRANSACTION";
	char cerr[512];
	unsigned int e;
	int attempt;

	if (st == NULL)
		return ST_ERR;
	if (st->in_tx) {
		log_error("store: %s: transaction already open", fn);
		return ST_ERR;
	}
	db_follow_writer(st);
	for (attempt = 0; attempt < 2; attempt++) {
		if (st->db == NULL && db_connect(st, cerr, sizeof(cerr))) {
			log_error("store: %s: %s", fn, cerr);
			return ST_ERR;
		}
		if (mysql_real_query(st->db, begin, sizeof(begin) - 1) == 0) {
			st->in_tx = 1;
			return ST_OK;
		}
		e = mysql_errno(st->db);
		if (db_retryable(e) && attempt == 0) {
			log_warn("store: %s: %s; reconnecting", fn, mysql_error(st->db));
			db_disconnect(st);
			continue;
		}
		log_error("store: %s: %s", fn, mysql_error(st->db));
		return ST_ERR;
	}
	return ST_ERR;
}

/*
 * What a commit announces: the epochs of the changes logged in the
 * transaction (changes.c queues them), so db_commit needs nothing above it.
 */
void store_change_bump(enum store_change kind, int64_t tenant_id)
{
	switch (kind) {
	case CHANGE_TENANT:
		epochs_bump_tenant(tenant_id);
		break;
	case CHANGE_LIMITS:
		epochs_bump_global(EPOCH_LIMITS);
		break;
	case CHANGE_MODELS:
		epochs_bump_global(EPOCH_MODELS);
		break;
	case CHANGE_KEYS:
		epochs_bump_global(EPOCH_KEYS);
		break;
	default:
		break;
	}
}

void db_bumps_run(struct store *st)
{
	if (st->bumps_all)
		epochs_bump_all();
	else
		for (int i = 0; i < st->n_bumps; i++)
			store_change_bump((enum store_change)st->bumps[i].kind,
			                  st->bumps[i].tenant_id);
	st->n_bumps = 0;
	st->bumps_all = 0;
}

int db_commit(struct store *st, const char *fn)
{
	if (st->db == NULL || mysql_commit(st->db)) {
		if (st->db) {
			st->last_errno = mysql_errno(st->db);
			log_error("store: %s: commit: %s", fn, mysql_error(st->db));
		}
		db_rollback(st);
		return ST_ERR;
	}
	st->in_tx = 0;
	if (st->guarded) {
		st->guarded = 0;
		if (mysql_autocommit(st->db, 1))
			db_disconnect(st);
	}
	db_bumps_run(st);
	return ST_OK;
}

void db_rollback(struct store *st)
{
	if (st->db && (mysql_rollback(st->db) || (st->guarded && mysql_autocommit(st->db, 1)))) {
		log_warn("store: rollback failed (%s); dropping the connection",
		         mysql_error(st->db));
		db_disconnect(st);
	}
	st->guarded = 0;
	st->in_tx = 0;
	st->n_bumps = 0;
	st->bumps_all = 0;
}

int db_conflicted(const struct store *st)
{
	switch (st->last_errno) {
	case ER_LOCK_DEADLOCK:
	case ER_LOCK_WAIT_TIMEOUT:
	case DB_ER_NOT_READY:
	case ER_ERROR_DURING_COMMIT:
	case ER_SP_DOES_NOT_EXIST: /* a guarded transaction was aborted under it (db_query) */
		return 1;
	default:
		return 0;
	}
}

int db_retry(struct store *st, int i)
{
	struct timespec ts;
	uint32_t jitter;

	if (!db_conflicted(st) || i >= DB_CONFLICT_RETRIES)
		return 0;
	/* a node leaving the primary component: reconnect (to the writer) before the next try */
	if (st->last_errno == DB_ER_NOT_READY && !st->in_tx)
		db_disconnect(st);
	util_random_bytes(&jitter, sizeof(jitter));
	ts.tv_sec = 0;
	ts.tv_nsec = (long)((1000000u << i) + jitter % (1000000u << i));
	nanosleep(&ts, NULL);
	return 1;
}

size_t db_utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* ----------------------------------------------------------- text statements */

int db_quote(struct store *st, struct buf *b, const char *s)
{
	return db_quote_n(st, b, s, strlen(s));
}

int db_quote_n(struct store *st, struct buf *b, const char *s, size_t n)
{
	char err[256];

	if (st == NULL)
		return -1;
	/*
	 * Escaping needs the connection's character set: a connection a failed
	 * statement closed is opened again here, as the statement would open it
	 * (else every text statement after one failure fails to build).
	 */
	if (st->db == NULL && !st->in_tx && db_connect(st, err, sizeof(err)) < 0) {
		log_error("store: %s", err);
		return -1;
	}
	if (st->db == NULL || buf_reserve(b, 2 * n + 3) < 0)
		return -1;
	b->data[b->len++] = '\'';
	b->len += mysql_real_escape_string(st->db, b->data + b->len, s, (unsigned long)n);
	b->data[b->len++] = '\'';
	b->data[b->len] = '\0';
	return 0;
}

/* Read every result set of the statement just sent; 0, or the MariaDB error number. */
static unsigned int db_drain(struct store *st, db_row_cb cb, void *ctx)
{
	int set = 0, status;

	do {
		MYSQL_RES *res = mysql_store_result(st->db);

		if (res) {
			unsigned n = mysql_num_fields(res);
			MYSQL_ROW row;

			while ((row = mysql_fetch_row(res)) != NULL)
				if (cb)
					cb(ctx, set, row, mysql_fetch_lengths(res), n);
			mysql_free_result(res);
			set++;
		} else if (mysql_field_count(st->db) != 0) {
			return mysql_errno(st->db);
		}
		status = mysql_next_result(st->db);
		if (status > 0)
			return mysql_errno(st->db);
	} while (status == 0);
	return 0;
}

static int db_query_text(struct store *st, const char *sql, size_t len, db_row_cb cb, void *ctx,
                         const char *fn);

#define GUARD_BEGIN "SET autocommit = 0; START TRANSACTION; SAVEPOINT ah_tx;"
#define GUARD_COMMIT "RELEASE SAVEPOINT ah_tx; COMMIT; SET autocommit = 1"

/*
 * The text db_query sends for sql on Galera (see DESIGN): into out when it
 * differs from sql, with *begins / *ends set when sql begins / ends a
 * guarded transaction; 0, or -1 out of memory.
 */
static int db_guard_text(const struct store *st, const char *sql, size_t len, struct buf *out,
                         int *begins, int *ends)
{
	static const char begin[] = "START TRANSACTION;", commit[] = "COMMIT",
	                  rollback[] = "ROLLBACK";
	const size_t nb = sizeof(begin) - 1, nc = sizeof(commit) - 1;
	size_t head = 0, tail = len;

	*begins = *ends = 0;
	if (!st->in_tx && len >= nb && memcmp(sql, begin, nb) == 0) {
		head = nb;
		*begins = 1;
	} else if (!st->guarded) {
		return 0;
	}
	if (len == sizeof(rollback) - 1 && memcmp(sql, rollback, len) == 0) {
		*ends = 1;
		return buf_puts(out, "ROLLBACK; SET autocommit = 1");
	}
	if (len - head >= nc && memcmp(sql + len - nc, commit, nc) == 0 &&
	    (len == nc || sql[len - nc - 1] == ' ' || sql[len - nc - 1] == ';')) {
		tail = len - nc;
		*ends = 1;
	}
	if (head == 0 && !*ends)
		return 0;
	if (head)
		buf_puts(out, GUARD_BEGIN);
	buf_append(out, sql + head, tail - head);
	if (*ends)
		buf_puts(out, GUARD_COMMIT);
	return out->data ? 0 : -1;
}

int db_query(struct store *st, const char *sql, size_t len, db_row_cb cb, void *ctx, const char *fn)
{
	struct buf g = BUF_INIT;
	int rc, begins = 0, ends = 0;

	if (st == NULL)
		return ST_ERR;
	st->last_errno = 0;
	db_follow_writer(st);
	if (db_cluster() && db_guard_text(st, sql, len, &g, &begins, &ends) < 0) {
		buf_free(&g);
		log_error("store: %s: out of memory", fn);
		return ST_ERR;
	}
	rc = db_query_text(st, g.data ? g.data : sql, g.data ? g.len : len, cb, ctx, fn);
	/* (a failure dropped the connection, and its guard with it) */
	if (rc == ST_OK)
		st->guarded = begins && !ends ? 1 : ends ? 0 : st->guarded;
	buf_free(&g);
	return rc;
}

static int db_query_text(struct store *st, const char *sql, size_t len, db_row_cb cb, void *ctx,
                         const char *fn)
{
	char err[256];

	for (int attempt = 0; attempt < 2; attempt++) {
		unsigned int e;

		if (st->db == NULL && db_connect(st, err, sizeof(err)) < 0) {
			log_error("store: %s: %s", fn, err);
			return ST_ERR;
		}
		if (mysql_real_query(st->db, sql, (unsigned long)len) == 0 &&
		    (e = db_drain(st, cb, ctx)) == 0)
			return ST_OK;
		e = mysql_errno(st->db);
		/*
		 * Only a connection found dead when sending (2006) is retried: after
		 * CR_SERVER_LOST the statement may have run, and these statements
		 * (a reservation) must not run twice.
		 */
		if (e == CR_SERVER_GONE_ERROR && !st->in_tx && attempt == 0) {
			db_disconnect(st);
			continue;
		}
		snprintf(st->last_error, sizeof(st->last_error), "%s", mysql_error(st->db));
		st->last_errno = e;
		/* A conflict the caller runs again is not worth an error line. */
		if (db_conflicted(st))
			log_debug("store: %s: %s", fn, mysql_error(st->db));
		else
			log_error("store: %s: %s", fn, mysql_error(st->db));
		/* Whatever the statement left open (a transaction, results) dies with it. */
		db_disconnect(st);
		return db_rc(e) == ST_CONFLICT ? ST_CONFLICT : ST_ERR;
	}
	return ST_ERR;
}
