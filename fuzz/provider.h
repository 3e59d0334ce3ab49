/*
 * provider.h (fuzz): one harness for the adapters' parsers of what an
 * upstream sends. The first byte picks the path and the HTTP status:
 * parse_response (whole body), parse_error, or a stream whose events are the
 * rest of the input split at 0x00 bytes, each "name\x01data" or just data;
 * a first byte with 0x80 set makes a parse_response an embedding call's
 * (two inputs, no messages) for an adapter that has embeddings.
 */
#ifndef AH_FUZZ_PROVIDER_H
#define AH_FUZZ_PROVIDER_H

#include "fuzz/fuzz.h"
#include "providers/provider.h"
#include "providers/registry.h"

static int fuzz_emit(void *ctx, const char *text, size_t len)
{
	size_t *total = ctx;

	(void)text;
	*total += len;
	return 0;
}

static int fuzz_emit_tool(void *ctx, size_t index, const char *id, const char *name,
                          const char *args, size_t len)
{
	size_t *total = ctx;

	(void)index;
	(void)id;
	(void)name;
	(void)args;
	*total += len;
	return 0;
}

static inline void fuzz_provider(const struct ah_provider *p, const uint8_t *data, size_t size)
{
	static const int statuses[] = {200, 400, 401, 403, 404, 429, 500, 503};
	static const char *const inputs[] = {"one", "two"};
	struct ah_message m = {.role = "user", .content = "hi"};
	int embed;
	struct ah_call c;
	struct ah_result res;
	size_t emitted = 0;
	int mode, status;

	if (size == 0)
		return;
	mode = data[0] % 3;
	embed = (data[0] & 0x80) && (p->flags & AH_PROVIDER_EMBEDDINGS);
	status = statuses[(data[0] / 3) % (sizeof(statuses) / sizeof(statuses[0]))];
	data++;
	size--;
	memset(&c, 0, sizeof(c));
	memset(&res, 0, sizeof(res));
	c.model = "fuzz-model";
	c.messages = &m;
	c.n_messages = 1;
	c.max_tokens = 64;
	c.stream = mode == 2;
	if (c.stream) {
		c.emit_tool = fuzz_emit_tool;
		c.emit_tool_ctx = &emitted;
	}
	if (embed && mode == 0) {
		c.messages = NULL;
		c.n_messages = 0;
		c.inputs = inputs;
		c.n_inputs = 2;
	}
	if (mode == 0) {
		char *body = fuzz_strndup(data, size);

		p->parse_response(&c, status, body, size, &res);
		free(body);
	} else if (mode == 1) {
		char *body = fuzz_strndup(data, size);

		if (p->parse_error != NULL)
			p->parse_error(status, body, size, &res);
		else
			p->parse_response(&c, status, body, size, &res);
		free(body);
	} else {
		void *st = p->stream_begin(&c);

		if (st == NULL)
			return;
		while (size > 0) {
			size_t n, nl;
			const uint8_t *ev = fuzz_part(&data, &size, 0x00, &n);
			const uint8_t *sep = memchr(ev, 0x01, n);
			char *name = fuzz_strndup(ev, sep != NULL ? (size_t)(sep - ev) : 0);
			char *payload;
			int rc;

			nl = sep != NULL ? n - (size_t)(sep - ev) - 1 : n;
			payload = fuzz_strndup(sep != NULL ? sep + 1 : ev, nl);
			rc = p->stream_event(st, name, payload, nl, fuzz_emit, &emitted, &res);
			free(name);
			free(payload);
			if (rc != 0)
				break;
		}
		p->stream_end(st, &res);
	}
	provider_result_free(&res);
}

#endif
