/*
 * mock.c: the deterministic local provider used by the demo, tests and
 * benchmarks.
 *
 * DESIGN
 * The answer is a function of the conversation only: it echoes the start of
 * the last user message ("Mock answer to: ...") and continues with words
 * picked from a fixed list by a generator seeded with the FNV-1a hash of all
 * roles and contents. Same input, same text and usage; different input,
 * different text. The answer is a list of words joined by single spaces and
 * completion_tokens is exactly the number of words emitted, so tests and
 * budgets can predict costs. Directives in the last user message
 * ("[mock:error=...]", "[mock:words=N]", "[mock:latency=MS]",
 * "[mock:error_after=N]") simulate failures and sizes; docs/PROVIDERS.md
 * documents them. Words are produced lazily into one buffer reserved up
 * front, so even a 100000-word answer costs a handful of allocations.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/util.h"
#include "providers/adapters.h"
#include "providers/pjson.h"
#include "providers/registry.h"

#define MOCK_ECHO_CHARS 64     /* characters of the question echoed back */
#define MOCK_MAX_WORDS 100000  /* upper bound of [mock:words=N] */
#define MOCK_MAX_LATENCY 60000 /* upper bound of [mock:latency=MS] */

static const char *const mock_words[] = {
    "agent",    "answer", "budget",   "cache",   "context", "data",     "engine",  "fabric",
    "gateway",  "host",   "index",    "journal", "kernel",  "ledger",   "model",   "network",
    "output",   "plugin", "query",    "request", "stream",  "tenant",   "token",   "upstream",
    "value",    "worker", "yield",    "zone",    "adapter", "bounded",  "careful", "durable",
    "elastic",  "fair",   "graceful", "honest",  "idle",    "joined",   "keyed",   "local",
    "measured", "nimble", "ordered",  "patient", "quick",   "reliable", "steady",  "tidy",
    "uniform",  "valid",  "warm",     "exact",   "young",   "zealous",  "the",     "a",
    "of",       "and",    "to",       "in",      "with",    "for",      "on",      "by",
};

static const char *const mock_error_codes[] = {
    "upstream_error",        "upstream_timeout",     "upstream_unavailable",
    "upstream_rate_limited", "upstream_auth_failed",
};

struct mock_opts {
	char error[48];  /* [mock:error=CODE], "" when absent */
	int words;       /* [mock:words=N], -1 when absent */
	int latency_ms;  /* [mock:latency=MS], 0 when absent */
	int error_after; /* [mock:error_after=N], -1 when absent */
};

/* Word source: the echo prefix, the question's words, then generated words. */
struct mock_gen {
	const char *q;    /* next unread byte of the echoed question */
	const char *qend; /* end of the echoed part of the question */
	int fixed;        /* how many of "Mock" "answer" "to:" were given */
	uint64_t rng;     /* xorshift64* state */
};

/* Sleep ms milliseconds, resuming after signals. */
static void mock_sleep(int ms)
{
	struct timespec ts, rem;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

/* FNV-1a over every role and content, with separators so boundaries matter. */
static uint64_t mock_hash(const struct ah_call *call)
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *p;
	size_t i;

	for (i = 0; i < call->n_messages; i++) {
		for (p = (const unsigned char *)call->messages[i].role; *p != '\0'; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0x1f) * 1099511628211ULL;
		for (p = (const unsigned char *)call->messages[i].content; *p != '\0'; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0x1e) * 1099511628211ULL;
	}
	return h;
}

/* The last user message's content ("" when there is none). */
static const char *mock_question(const struct ah_call *call)
{
	size_t i;

	for (i = call->n_messages; i > 0; i--)
		if (strcmp(call->messages[i - 1].role, "user") == 0)
			return call->messages[i - 1].content;
	return "";
}

/* Parse a directive's integer value in [min,max]. 0 or -1. */
static int mock_int(const char *v, size_t n, int min, int max, int *out)
{
	char tmp[16];
	int64_t x;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	if (util_parse_i64(tmp, min, max, &x) != 0)
		return -1;
	*out = (int)x;
	return 0;
}

/* Read the [mock:key=value] directives of q into o. 0, or -1 with res->error_* set. */
static int mock_directives(const char *q, struct mock_opts *o, struct ah_result *res)
{
	const char *p = q, *key, *eq, *end;
	size_t klen, vlen, i;

	o->error[0] = '\0';
	o->words = -1;
	o->latency_ms = 0;
	o->error_after = -1;
	while ((p = strstr(p, "[mock:")) != NULL) {
		key = p + 6;
		end = strchr(key, ']');
		eq = strchr(key, '=');
		if (end == NULL || eq == NULL || eq > end)
			return pjson_fail(res, "provider_error",
			                  "mock: a directive must look like [mock:key=value]");
		klen = (size_t)(eq - key);
		vlen = (size_t)(end - eq - 1);
		if (klen == 5 && memcmp(key, "error", 5) == 0) {
			for (i = 0; i < ARRAY_SIZE(mock_error_codes); i++)
				if (strlen(mock_error_codes[i]) == vlen &&
				    memcmp(mock_error_codes[i], eq + 1, vlen) == 0)
					break;
			if (i == ARRAY_SIZE(mock_error_codes))
				return pjson_fail(res, "provider_error",
				                  "mock: [mock:error=...] takes upstream_error, "
				                  "upstream_timeout, upstream_unavailable, "
				                  "upstream_rate_limited or upstream_auth_failed");
			util_strlcpy(o->error, mock_error_codes[i], sizeof(o->error));
		} else if (klen == 5 && memcmp(key, "words", 5) == 0) {
			if (mock_int(eq + 1, vlen, 1, MOCK_MAX_WORDS, &o->words) != 0)
				return pjson_fail(res, "provider_error",
				                  "mock: [mock:words=N] takes 1..%d",
				                  MOCK_MAX_WORDS);
		} else if (klen == 7 && memcmp(key, "latency", 7) == 0) {
			if (mock_int(eq + 1, vlen, 0, MOCK_MAX_LATENCY, &o->latency_ms) != 0)
				return pjson_fail(res, "provider_error",
				                  "mock: [mock:latency=MS] takes 0..%d",
				                  MOCK_MAX_LATENCY);
		} else if (klen == 11 && memcmp(key, "error_after", 11) == 0) {
			if (mock_int(eq + 1, vlen, 0, MOCK_MAX_WORDS, &o->error_after) != 0)
				return pjson_fail(res, "provider_error",
				                  "mock: [mock:error_after=N] takes 0..%d",
				                  MOCK_MAX_WORDS);
		} else {
			return pjson_fail(res, "provider_error",
			                  "mock: unknown directive (known: error, words, latency, "
			                  "error_after)");
		}
		p = end + 1;
	}
	return 0;
}

/* 1 for bytes that separate words in the echoed question. */
static int mock_is_space(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

/* Set up g for question q: the echo stops after MOCK_ECHO_CHARS UTF-8 characters. */
static void mock_gen_init(struct mock_gen *g, const char *q, uint64_t seed)
{
	const unsigned char *p = (const unsigned char *)q;
	int chars = 0;

	while (*p != '\0' && chars < MOCK_ECHO_CHARS) {
		p++;
		while ((*p & 0xC0) == 0x80)
			p++;
		chars++;
	}
	g->q = q;
	g->qend = (const char *)p;
	g->fixed = 0;
	g->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ULL;
}

/* Number of words in the echo prefix of g (computed without consuming g). */
static int mock_prefix_words(const struct mock_gen *g)
{
	const char *p = g->q;
	int n = 3;

	while (p < g->qend) {
		while (p < g->qend && mock_is_space((unsigned char)*p))
			p++;
		if (p == g->qend)
			break;
		n++;
		while (p < g->qend && !mock_is_space((unsigned char)*p))
			p++;
	}
	return n;
}

/* The next word of the answer: sets *w and *n. */
static void mock_next(struct mock_gen *g, const char **w, size_t *n)
{
	static const char *const fixed[] = {"Mock", "answer", "to:"};
	const char *s;

	if (g->fixed < 3) {
		*w = fixed[g->fixed];
		*n = strlen(*w);
		g->fixed++;
		return;
	}
	while (g->q < g->qend && mock_is_space((unsigned char)*g->q))
		g->q++;
	if (g->q < g->qend) {
		s = g->q;
		while (g->q < g->qend && !mock_is_space((unsigned char)*g->q))
			g->q++;
		*w = s;
		*n = (size_t)(g->q - s);
		return;
	}
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	*w = mock_words[((g->rng * 2685821657736338717ULL) >> 32) % ARRAY_SIZE(mock_words)];
	*n = strlen(*w);
}

/* Produce the answer; see provider.h. */
static int mock_generate(const struct ah_call *call, ah_emit_fn emit, void *emit_ctx,
                         struct ah_result *res)
{
	struct mock_opts o;
	struct mock_gen g;
	struct buf text = BUF_INIT;
	const char *q = mock_question(call), *w;
	uint64_t h;
	int64_t total, limit, i, prompt = 0;
	size_t n, at;
	int rc = -1, stream = call->stream && emit != NULL;

	for (n = 0; n < call->n_messages; n++)
		prompt += provider_estimate_tokens(call->messages[n].content,
		                                   strlen(call->messages[n].content)) +
		          4;
	res->usage.prompt_tokens = prompt;
	res->usage.have = 1;
	if (mock_directives(q, &o, res) != 0)
		goto out;
	mock_sleep(call->mock_latency_ms + o.latency_ms);
	if (o.error[0] != '\0') {
		pjson_fail(res, o.error, "mock provider simulated %s", o.error);
		goto out;
	}

	h = mock_hash(call);
	mock_gen_init(&g, q, h);
	total = o.words > 0 ? o.words : mock_prefix_words(&g) + 12 + (int64_t)(h % 29);
	limit = total;
	if (call->max_tokens > 0 && limit > call->max_tokens)
		limit = call->max_tokens;
	if (o.error_after >= 0) {
		/* A cut stream: exactly N words (within max_tokens), then the failure. */
		limit = o.error_after;
		if (call->max_tokens > 0 && limit > call->max_tokens)
			limit = call->max_tokens;
	}
	if (buf_reserve(&text, (size_t)limit * 9 + 1) != 0) {
		pjson_fail(res, "provider_error", "mock: out of memory");
		goto out;
	}
	for (i = 0; i < limit; i++) {
		mock_next(&g, &w, &n);
		at = text.len;
		if ((i > 0 && buf_putc(&text, ' ') != 0) || buf_append(&text, w, n) != 0) {
			pjson_fail(res, "provider_error", "mock: out of memory");
			goto out;
		}
		res->usage.completion_tokens = i + 1;
		if (!stream)
			continue;
		if (i > 0)
			mock_sleep(call->mock_stream_delay_ms);
		if (emit(emit_ctx, text.data + at, text.len - at) != 0) {
			pjson_fail(res, "client_disconnected",
			           "the client went away during the stream");
			goto out;
		}
	}
	if (o.error_after >= 0) {
		pjson_fail(res, "upstream_error",
		           "mock provider simulated upstream_error (stream cut after %lld words)",
		           (long long)limit);
		goto out;
	}
	pjson_set_finish(res, limit < total ? "length" : "stop");
	rc = 0;
out:
	if (rc == 0 || text.len > 0) {
		free(res->text);
		res->text = buf_steal(&text);
		if (res->text == NULL)
			rc = pjson_fail(res, "provider_error", "mock: out of memory");
	}
	buf_free(&text);
	return rc;
}

static const struct ah_provider mock_adapter = {
    .abi_version = AH_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct ah_provider),
    .name = "mock",
    .flags = AH_PROVIDER_LOCAL,
    .build_request = NULL,
    .parse_response = NULL,
    .stream_begin = NULL,
    .stream_event = NULL,
    .stream_end = NULL,
    .parse_error = NULL,
    .generate = mock_generate,
};

const struct ah_provider *provider_mock_adapter(void)
{
	return &mock_adapter;
}
