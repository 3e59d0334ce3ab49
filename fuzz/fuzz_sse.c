/*
 * fuzz_sse: the SSE framer (providers/sse.c) fed in chunks: the input is
 * split at each 0xff byte into the chunks libcurl would hand over, so CR at
 * a chunk's end and LF at the next one's start, partial lines and long
 * events are all reached.
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "providers/sse.h"

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	size_t *events = ctx;

	/* The data is NUL-terminated at len and the name bounded. */
	if (data[len] != '\0' || strlen(event) >= 64)
		abort();
	(*events)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_parser p;
	size_t events = 0;

	sse_init(&p, on_event, &events);
	while (size > 0) {
		size_t n;
		const uint8_t *chunk = fuzz_part(&data, &size, 0xff, &n);

		if (sse_feed(&p, (const char *)chunk, n) != 0)
			break;
	}
	sse_free(&p);
	return 0;
}
