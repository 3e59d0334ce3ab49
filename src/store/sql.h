/*
 * sql: a small typed builder for the store's text statements.
 *
 * DESIGN
 * Text statements (batches sent in one round trip, DDL, statements whose
 * shape varies) are built by appending typed pieces to one struct buf:
 * program text (sql_lit: string literals only, checked by the compiler;
 * sql_frag: a fragment chosen from a static table of this program), string
 * values (sql_str: always quoted and escaped by the connection's character
 * set), identifiers (sql_ident: backquoted, backticks doubled) and numbers
 * (sql_i64 and friends: formatted here). There is no printf: a value can
 * reach the text only through the function of its type, so no caller can
 * forget to quote (every connection allows stacked statements, where one
 * unquoted value is an injection).
 *
 * Errors are sticky, as in varnish's vsb: an append that fails (memory, no
 * connection to quote with, an unusable identifier) marks the builder and
 * later appends do nothing; sql_run refuses a failed builder. Appends write
 * into the one buffer (amortised growth, no allocation per value): the
 * ledger batch and lease grants build thousands of values a second.
 */
#ifndef AH_STORE_SQL_H
#define AH_STORE_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "store/db.h"

struct sql {
	struct buf b;     /* the statement text so far */
	struct store *st; /* the connection whose character set quotes strings */
	int failed;       /* an append failed: the text is incomplete */
};

/* An empty builder quoting with st's connection (st may change with sql_use). */
void sql_init(struct sql *q, struct store *st);
/* Quote with st from now on (text moving from one server to another). */
void sql_use(struct sql *q, struct store *st);
/* Empty the text and clear the failure; the memory is kept. */
void sql_reset(struct sql *q);
void sql_free(struct sql *q);
/* 1 when every append so far succeeded. */
int sql_ok(const struct sql *q);

/* Program text: s must be a string literal (the "" s "" makes anything else a compile error). */
#define sql_lit(q, s) sql_text_((q), "" s "", sizeof("" s "") - 1)
void sql_text_(struct sql *q, const char *s, size_t n);
/*
 * A fragment of SQL this program wrote, picked from a static table (a
 * column list, a condition): never a value that came from outside.
 */
void sql_frag(struct sql *q, const char *frag);
/* s as a quoted, escaped string literal; NULL appends NULL. */
void sql_str(struct sql *q, const char *s);
/* The n bytes at s (NULs included), quoted. */
void sql_strn(struct sql *q, const char *s, size_t n);
/*
 * name as an identifier, `name` with any backtick doubled; an empty name
 * or one with a control byte fails the builder (the server judges length).
 */
void sql_ident(struct sql *q, const char *name);
/* `db`.`name` */
void sql_ident2(struct sql *q, const char *db, const char *name);
void sql_i64(struct sql *q, int64_t v);
/* a unix time in microseconds as FROM_UNIXTIME(s.ffffff) */
void sql_time_us(struct sql *q, int64_t us);
/* ", " unless first (lists of values) */
void sql_comma(struct sql *q, int first);

/*
 * Send the text with db_query on st (which need not be the quoting
 * connection) and read its result sets through cb. ST_ERR without sending
 * when an append failed; otherwise db_query's code.
 */
int sql_run(struct store *st, const struct sql *q, db_row_cb cb, void *ctx, const char *fn);

/*
 * sql_run, reading the first column of the last row the text returns as a
 * number into *v (0 when no row). ST_ERR when it is not a number.
 */
int sql_run_i64(struct store *st, const struct sql *q, int64_t *v, const char *fn);

#endif
