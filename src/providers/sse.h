/*
 * sse: an incremental parser for text/event-stream (Server-Sent Events).
 *
 * DESIGN
 * Upstream streams arrive in arbitrary chunks from libcurl, so the parser
 * keeps the partial line between calls and may be fed one byte at a time.
 * It follows the WHATWG rules that matter for LLM APIs: CR, LF and CRLF end
 * lines (a CR at the end of one chunk and the LF starting the next count once),
 * "event:" names the event, "data:" lines are joined with "\n", lines starting
 * with ':' are comments, a blank line dispatches, one space after the colon is
 * dropped, and an event left unfinished at end of stream is discarded (a cut
 * stream must not look complete). Lines and events are capped so a hostile
 * upstream cannot grow memory without bound.
 */
#ifndef AH_SSE_H
#define AH_SSE_H

#include <stddef.h>

#include "common/buf.h"

#define SSE_MAX_EVENT (16u * 1024u * 1024u) /* cap on one line and on one event's data */

/*
 * Called once per dispatched event with the event name ("" when none was
 * given) and the joined data (NUL-terminated, len bytes). Return 0 to go on,
 * non-zero to stop: sse_feed then returns that value.
 */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data, size_t len);

struct sse_parser {
	struct buf line;       /* the current, unterminated line */
	struct buf data;       /* data lines of the current event, each followed by '\n' */
	char event[64];        /* event name of the current event ("" when none) */
	int have_data;         /* a data field was seen in the current event */
	int skip_lf;           /* the previous chunk ended with CR: drop a leading LF */
	sse_event_fn on_event; /* dispatch callback */
	void *ctx;             /* its context */
};

/* Prepare p to deliver events to fn(ctx, ...). Never fails. */
void sse_init(struct sse_parser *p, sse_event_fn fn, void *ctx);
/*
 * Feed n bytes. Returns 0 when all were consumed, the callback's non-zero
 * value when it asked to stop, or -1 when memory ran out or a line or an
 * event exceeded SSE_MAX_EVENT.
 */
int sse_feed(struct sse_parser *p, const char *chunk, size_t n);
/* Release the parser's memory (an unfinished event is discarded). */
void sse_free(struct sse_parser *p);

#endif
