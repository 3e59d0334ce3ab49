/*
 * sse.c: incremental text/event-stream parser (see sse.h).
 *
 * DESIGN
 * Bytes are scanned with memchr-like loops for the next CR or LF; a line
 * that lies wholly inside one chunk is processed in place without copying,
 * only a line split across chunks is gathered in p->line. Data of the
 * current event accumulates in p->data with a '\n' after each data line; the
 * final '\n' is dropped at dispatch, which gives the spec's joining rule.
 */
#include "config.h"

#include <string.h>

#include "common/buf.h"
#include "providers/sse.h"

/* Reset p for the next event. */
static void sse_reset_event(struct sse_parser *p)
{
	buf_reset(&p->data);
	p->event[0] = '\0';
	p->have_data = 0;
}

/* Deliver the current event, if any. Returns the callback's value, 0 when nothing was sent. */
static int sse_dispatch(struct sse_parser *p)
{
	int rc;
	size_t len;

	if (!p->have_data) {
		sse_reset_event(p);
		return 0;
	}
	len = p->data.len;
	if (len > 0 && p->data.data[len - 1] == '\n')
		len--;
	if (p->data.data != NULL)
		p->data.data[len] = '\0';
	rc = p->on_event(p->ctx, p->event, p->data.data != NULL ? p->data.data : "", len);
	sse_reset_event(p);
	return rc;
}

/*
 * Process one complete line (without its terminator). Returns 0, the
 * callback's non-zero value, or -1 on memory or size limits.
 */
static int sse_line(struct sse_parser *p, const char *s, size_t n)
{
	const char *colon, *val;
	size_t flen, vlen;

	if (n == 0)
		return sse_dispatch(p);
	if (s[0] == ':')
		return 0;
	colon = memchr(s, ':', n);
	if (colon != NULL) {
		flen = (size_t)(colon - s);
		val = colon + 1;
		vlen = n - flen - 1;
		if (vlen > 0 && val[0] == ' ') {
			val++;
			vlen--;
		}
	} else {
		flen = n;
		val = "";
		vlen = 0;
	}
	if (flen == 4 && memcmp(s, "data", 4) == 0) {
		if (p->data.len + vlen + 1 > SSE_MAX_EVENT)
			return -1;
		if (buf_append(&p->data, val, vlen) != 0 || buf_putc(&p->data, '\n') != 0)
			return -1;
		p->have_data = 1;
	} else if (flen == 5 && memcmp(s, "event", 5) == 0) {
		/* Event names of the APIs we speak are short; a longer one is cut, not an error. */
		if (vlen >= sizeof(p->event))
			vlen = sizeof(p->event) - 1;
		memcpy(p->event, val, vlen);
		p->event[vlen] = '\0';
	}
	/* "id", "retry" and unknown fields are ignored, as the spec says. */
	return 0;
}

void sse_init(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	buf_init(&p->line);
	buf_init(&p->data);
	p->event[0] = '\0';
	p->have_data = 0;
	p->skip_lf = 0;
	p->on_event = fn;
	p->ctx = ctx;
}

int sse_feed(struct sse_parser *p, const char *chunk, size_t n)
{
	size_t i = 0, start;
	int rc;

	if (n > 0 && p->skip_lf) {
		p->skip_lf = 0;
		if (chunk[0] == '\n')
			i = 1;
	}
	while (i < n) {
		start = i;
		while (i < n && chunk[i] != '\n' && chunk[i] != '\r')
			i++;
		if (i == n) {
			/* No terminator in this chunk: keep the partial line for later. */
			if (p->line.len + (n - start) > SSE_MAX_EVENT)
				return -1;
			if (buf_append(&p->line, chunk + start, n - start) != 0)
				return -1;
			break;
		}
		if (p->line.len > 0) {
			if (p->line.len + (i - start) > SSE_MAX_EVENT)
				return -1;
			if (buf_append(&p->line, chunk + start, i - start) != 0)
				return -1;
			rc = sse_line(p, p->line.data, p->line.len);
			buf_reset(&p->line);
		} else {
			if (i - start > SSE_MAX_EVENT)
				return -1;
			rc = sse_line(p, chunk + start, i - start);
		}
		if (chunk[i] == '\r') {
			if (i + 1 < n) {
				if (chunk[i + 1] == '\n')
					i++;
			} else {
				p->skip_lf = 1;
			}
		}
		i++;
		if (rc != 0)
			return rc;
	}
	return 0;
}

void sse_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	p->event[0] = '\0';
	p->have_data = 0;
	p->skip_lf = 0;
}
