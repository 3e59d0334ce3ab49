/*
 * sql.c: the typed builder of text statements (see store/sql.h).
 *
 * DESIGN
 * Every append reserves what it needs and writes in place: strings are
 * escaped by db_quote (mysql_real_escape_string, the connection's character
 * set), numbers are formatted by hand (no vsnprintf pass to size them).
 * After a failure the buffer keeps the text before it and every later
 * append returns at once.
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "store/sql.h"

void sql_init(struct sql *q, struct store *st)
{
	buf_init(&q->b);
	q->st = st;
	q->failed = 0;
}

void sql_use(struct sql *q, struct store *st)
{
	q->st = st;
}

void sql_reset(struct sql *q)
{
	buf_reset(&q->b);
	q->failed = 0;
}

void sql_free(struct sql *q)
{
	buf_free(&q->b);
	q->failed = 0;
}

int sql_ok(const struct sql *q)
{
	return !q->failed && q->b.data != NULL;
}

void sql_text_(struct sql *q, const char *s, size_t n)
{
	if (!q->failed && buf_append(&q->b, s, n) < 0)
		q->failed = 1;
}

void sql_frag(struct sql *q, const char *frag)
{
	sql_text_(q, frag, strlen(frag));
}

void sql_str(struct sql *q, const char *s)
{
	if (s == NULL)
		sql_lit(q, "NULL");
	else if (!q->failed && db_quote(q->st, &q->b, s) < 0)
		q->failed = 1;
}

void sql_strn(struct sql *q, const char *s, size_t n)
{
	if (!q->failed && db_quote_n(q->st, &q->b, s, n) < 0)
		q->failed = 1;
}

void sql_ident(struct sql *q, const char *name)
{
	size_t n = strlen(name);

	if (q->failed)
		return;
	if (n == 0 || buf_reserve(&q->b, 2 * n + 2) < 0) {
		q->failed = 1;
		return;
	}
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20) {
			q->failed = 1;
			return;
		}
	q->b.data[q->b.len++] = '`';
	for (const char *p = name; *p; p++) {
		if (*p == '`')
			q->b.data[q->b.len++] = '`';
		q->b.data[q->b.len++] = *p;
	}
	q->b.data[q->b.len++] = '`';
	q->b.data[q->b.len] = '\0';
}

void sql_ident2(struct sql *q, const char *db, const char *name)
{
	sql_ident(q, db);
	sql_lit(q, ".");
	sql_ident(q, name);
}

/* Decimal digits of v, at least width of them (zero-padded). */
static void sql_digits(struct sql *q, uint64_t v, int neg, int width)
{
	char d[24];
	int n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		d[sizeof(d) - 1 - n++] = '0';
	if (neg)
		d[sizeof(d) - 1 - n++] = '-';
	sql_text_(q, d + sizeof(d) - n, (size_t)n);
}

void sql_i64(struct sql *q, int64_t v)
{
	/* the magnitude of INT64_MIN does not fit an int64 */
	sql_digits(q, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0, 1);
}

void sql_time_us(struct sql *q, int64_t us)
{
	sql_lit(q, "FROM_UNIXTIME(");
	sql_i64(q, us / 1000000);
	sql_lit(q, ".");
	sql_digits(q, (uint64_t)(us < 0 ? -(us % 1000000) : us % 1000000), 0, 6);
	sql_lit(q, ")");
}

void sql_comma(struct sql *q, int first)
{
	if (!first)
		sql_lit(q, ", ");
}

int sql_run(struct store *st, const struct sql *q, db_row_cb cb, void *ctx, const char *fn)
{
	if (!sql_ok(q)) {
		log_error("store: %s: the statement could not be built", fn);
		return ST_ERR;
	}
	return db_query(st, q->b.data, q->b.len, cb, ctx, fn);
}

struct sql_i64_read {
	int64_t v;
	int got, bad;
};

static void sql_i64_row(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct sql_i64_read *r = ctx;

	(void)set;
	(void)len;
	if (n < 1 || row[0] == NULL)
		return;
	r->got = 1;
	r->bad = util_parse_i64(row[0], INT64_MIN, INT64_MAX, &r->v) < 0;
}

int sql_run_i64(struct store *st, const struct sql *q, int64_t *v, const char *fn)
{
	struct sql_i64_read r = {0, 0, 0};
	int rc = sql_run(st, q, sql_i64_row, &r, fn);

	*v = rc == ST_OK && r.got && !r.bad ? r.v : 0;
	return rc == ST_OK && r.bad ? ST_ERR : rc;
}
