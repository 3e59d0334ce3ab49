/*
 * buf: a growable byte buffer, always NUL-terminated.
 *
 * Used for request bodies, rendered responses and SQL-free string building.
 * Functions return 0 on success and -1 when memory runs out; after a failure
 * the buffer keeps its previous content.
 */
#ifndef AH_BUF_H
#define AH_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated content, NULL until first append */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_init(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Ensure room for n more bytes. */
int buf_reserve(struct buf *b, size_t n);
/* Empty the buffer but keep its memory. */
void buf_reset(struct buf *b);
/* Hand the content to the caller (who frees it); the buffer becomes empty. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);
/* Return content or "" when nothing was appended. */
const char *buf_str(const struct buf *b);

#endif
