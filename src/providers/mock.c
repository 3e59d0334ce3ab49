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
 * documents them. Tool calling is scripted the same way:
 * "[mock:tool=NAME {json args}]" (repeatable) makes the mock request those
 * tools, once by default or for "[mock:tool_rounds=N]" turns, whether or not
 * they were offered (so policy refusals can be tested); once the rounds are
 * used up and tool results follow the last user message, it answers with
 * text quoting every result. Words are produced lazily into one buffer reserved up
 * front, so even a 100000-word answer costs a handful of allocations.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "providers/adapters.h"
#include "host/sched.h"
#include "providers/pjson.h"
#include "providers/registry.h"

#define MOCK_ECHO_CHARS 64     /* characters of the question echoed back */
#define MOCK_MAX_WORDS 100000  /* upper bound of [mock:words=N] */
#define MOCK_MAX_LATENCY 60000 /* upper bound of [mock:latency=MS] */
#define MOCK_MAX_TOOLS 8       /* [mock:tool=...] directives per message */
#define MOCK_MAX_ROUNDS 1000   /* upper bound of [mock:tool_rounds=N] */
#define MOCK_EMBED_DIM 64      /* embedding size when none is asked for */
#define MOCK_EMBED_MAX 4096    /* largest embedding size */

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

static const enum reason mock_error_codes[] = {
    R_upstream_error,        R_upstream_timeout,     R_upstream_unavailable,
    R_upstream_rate_limited, R_upstream_auth_failed,
};

struct mock_opts {
	enum reason error; /* [mock:error=CODE], R_none when absent */
	int words;         /* [mock:words=N], -1 when absent */
	int latency_ms;    /* [mock:latency=MS], 0 when absent */
	int error_after;   /* [mock:error_after=N], -1 when absent */
	int tool_rounds;   /* [mock:tool_rounds=N], 1 when absent */
	size_t n_tools;    /* [mock:tool=NAME ARGS] directives */
	struct {
		char name[65];
		const char *args; /* JSON object text inside the question */
		size_t args_len;
	} tools[MOCK_MAX_TOOLS];
};

/* Word source: the echo prefix, the question's words, then generated words. */
struct mock_gen {
	const char *q;    /* next unread byte of the echoed question */
	const char *qend; /* end of the echoed part of the question */
	int fixed;        /* how many of "Mock" "answer" "to:" were given */
	uint64_t rng;     /* xorshift64* state */
};

/*
 * Sleep ms milliseconds. In a request coroutine this parks the request on a
 * timer (host/sched.h): a mock call that "takes" 30 s holds no thread.
 */
static void mock_sleep(int ms)
{
	if (ms > 0)
		sched_sleep_us((int64_t)ms * 1000);
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

/*
 * Parse "[mock:tool=NAME {args}]" starting at p (at "[mock:") into o;
 * *next is set past the closing bracket. The arguments are optional ({}),
 * and may hold ']' since they are read as JSON. 0, or -1 with res->error_* set.
 */
static int mock_tool_directive(const char *p, struct mock_opts *o, const char **next,
                               struct ah_result *res)
{
	const char *name = p + 11, *q = name;
	json_error_t jerr;
	json_t *args;
	size_t n;

	while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
	       *q == '_' || *q == '-')
		q++;
	n = (size_t)(q - name);
	if (n == 0 || n >= sizeof(o->tools[0].name))
		return pjson_fail(res, R_provider_error,
		                  "mock: [mock:tool=NAME {args}] needs a tool name of 1..64 "
		                  "characters [A-Za-z0-9_-]");
	if (o->n_tools == MOCK_MAX_TOOLS)
		return pjson_fail(res, R_provider_error,
		                  "mock: at most %d [mock:tool=...] directives", MOCK_MAX_TOOLS);
	memcpy(o->tools[o->n_tools].name, name, n);
	o->tools[o->n_tools].name[n] = '\0';
	while (*q == ' ')
		q++;
	o->tools[o->n_tools].args = "{}";
	o->tools[o->n_tools].args_len = 2;
	if (*q == '{') {
		args = json_loads(q, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!json_is_object(args)) {
			json_decref(args);
			return pjson_fail(
			    res, R_provider_error,
			    "mock: the arguments of [mock:tool=%s ...] are not a JSON "
			    "object",
			    o->tools[o->n_tools].name);
		}
		json_decref(args);
		/* With JSON_DISABLE_EOF_CHECK, position is the number of bytes read. */
		o->tools[o->n_tools].args = q;
		o->tools[o->n_tools].args_len = (size_t)jerr.position;
		q += jerr.position;
		while (*q == ' ')
			q++;
	}
	if (*q != ']')
		return pjson_fail(res, R_provider_error,
		                  "mock: a tool directive must look like [mock:tool=NAME {args}]");
	o->n_tools++;
	*next = q + 1;
	return 0;
}

/* Read the [mock:key=value] directives of q into o. 0, or -1 with res->error_* set. */
static int mock_directives(const char *q, struct mock_opts *o, struct ah_result *res)
{
	const char *p = q, *key, *eq, *end;
	size_t klen, vlen, i;

	o->error = R_none;
	o->words = -1;
	o->latency_ms = 0;
	o->error_after = -1;
	o->tool_rounds = 1;
	o->n_tools = 0;
	while ((p = strstr(p, "[mock:")) != NULL) {
		if (strncmp(p + 6, "tool=", 5) == 0) {
			if (mock_tool_directive(p, o, &p, res) != 0)
				return -1;
			continue;
		}
		key = p + 6;
		end = strchr(key, ']');
		eq = strchr(key, '=');
		if (end == NULL || eq == NULL || eq > end)
			return pjson_fail(res, R_provider_error,
			                  "mock: a directive must look like [mock:key=value]");
		klen = (size_t)(eq - key);
		vlen = (size_t)(end - eq - 1);
		if (klen == 5 && memcmp(key, "error", 5) == 0) {
			for (i = 0; i < ARRAY_SIZE(mock_error_codes); i++)
				if (strlen(reason_name(mock_error_codes[i])) == vlen &&
				    memcmp(reason_name(mock_error_codes[i]), eq + 1, vlen) == 0)
					break;
			if (i == ARRAY_SIZE(mock_error_codes))
				return pjson_fail(res, R_provider_error,
				                  "mock: [mock:error=...] takes upstream_error, "
				                  "upstream_timeout, upstream_unavailable, "
				                  "upstream_rate_limited or upstream_auth_failed");
			o->error = mock_error_codes[i];
		} else if (klen == 5 && memcmp(key, "words", 5) == 0) {
			if (mock_int(eq + 1, vlen, 1, MOCK_MAX_WORDS, &o->words) != 0)
				return pjson_fail(res, R_provider_error,
				                  "mock: [mock:words=N] takes 1..%d",
				                  MOCK_MAX_WORDS);
		} else if (klen == 7 && memcmp(key, "latency", 7) == 0) {
			if (mock_int(eq + 1, vlen, 0, MOCK_MAX_LATENCY, &o->latency_ms) != 0)
				return pjson_fail(res, R_provider_error,
				                  "mock: [mock:latency=MS] takes 0..%d",
				                  MOCK_MAX_LATENCY);
		} else if (klen == 11 && memcmp(key, "error_after", 11) == 0) {
			if (mock_int(eq + 1, vlen, 0, MOCK_MAX_WORDS, &o->error_after) != 0)
				return pjson_fail(res, R_provider_error,
				                  "mock: [mock:error_after=N] takes 0..%d",
				                  MOCK_MAX_WORDS);
		} else if (klen == 11 && memcmp(key, "tool_rounds", 11) == 0) {
			if (mock_int(eq + 1, vlen, 1, MOCK_MAX_ROUNDS, &o->tool_rounds) != 0)
				return pjson_fail(res, R_provider_error,
				                  "mock: [mock:tool_rounds=N] takes 1..%d",
				                  MOCK_MAX_ROUNDS);
		} else {
			return pjson_fail(res, R_provider_error,
			                  "mock: unknown directive (known: error, words, latency, "
			                  "error_after, tool, tool_rounds)");
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

/* Index just past the last user message (0 when there is none). */
static size_t mock_after_user(const struct ah_call *call)
{
	size_t i;

	for (i = call->n_messages; i > 0; i--)
		if (strcmp(call->messages[i - 1].role, "user") == 0)
			return i;
	return 0;
}

/*
 * Request the scripted tools: one call per [mock:tool=...] directive, ids
 * "call_R_K" for round R and directive K. 0, or -1 with res->error_* set.
 */
static int mock_request_tools(const struct mock_opts *o, int round, struct ah_result *res)
{
	char id[48], *args;
	size_t k;
	int rc;

	for (k = 0; k < o->n_tools; k++) {
		snprintf(id, sizeof(id), "call_%d_%zu", round, k);
		args = strndup(o->tools[k].args, o->tools[k].args_len);
		if (args == NULL)
			return pjson_fail(res, R_provider_error, "mock: out of memory");
		rc = pjson_add_tool_call(res, id, o->tools[k].name, args);
		res->usage.completion_tokens += provider_estimate_tokens(args, strlen(args)) + 4;
		free(args);
		if (rc != 0)
			return -1;
	}
	if (pjson_set_text(res, "", 0) != 0)
		return -1;
	pjson_set_finish(res, "tool_calls");
	return 0;
}

/*
 * The answer after tool results: "Tool results: NAME: CONTENT | ..." over the
 * tool messages after the last user message, cut to max_tokens words (one
 * completion token a word), streamed word by word. 0, or -1 with res->error_* set.
 */
static int mock_quote_results(const struct ah_call *call, size_t from, ah_emit_fn emit,
                              void *emit_ctx, struct ah_result *res)
{
	struct buf all = BUF_INIT, text = BUF_INIT;
	const char *p, *w;
	int64_t words = 0;
	size_t i, at;
	int rc = -1, first = 1, stream = call->stream && emit != NULL;

	if (buf_puts(&all, "Tool results:") != 0)
		goto nomem;
	for (i = from; i < call->n_messages; i++) {
		if (strcmp(call->messages[i].role, "tool") != 0)
			continue;
		if (buf_printf(&all, "%s %s%s: %s", first ? "" : " |", call->messages[i].tool_name,
		               call->messages[i].tool_error ? " (error)" : "",
		               call->messages[i].content) != 0)
			goto nomem;
		first = 0;
	}
	p = buf_str(&all);
	pjson_set_finish(res, "stop");
	while (*p != '\0') {
		while (*p != '\0' && mock_is_space((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (call->max_tokens > 0 && words >= call->max_tokens) {
			pjson_set_finish(res, "length");
			break;
		}
		w = p;
		while (*p != '\0' && !mock_is_space((unsigned char)*p))
			p++;
		at = text.len;
		if ((words > 0 && buf_putc(&text, ' ') != 0) ||
		    buf_append(&text, w, (size_t)(p - w)) != 0)
			goto nomem;
		words++;
		res->usage.completion_tokens = words;
		if (stream && emit(emit_ctx, text.data + at, text.len - at) != 0) {
			pjson_fail(res, R_client_disconnected,
			           "the client went away during the stream");
			goto out;
		}
	}
	rc = 0;
	goto out;
nomem:
	pjson_fail(res, R_provider_error, "mock: out of memory");
out:
	if (rc == 0 || text.len > 0) {
		free(res->text);
		res->text = buf_steal(&text);
		if (res->text == NULL)
			rc = pjson_fail(res, R_provider_error, "mock: out of memory");
	}
	buf_free(&all);
	buf_free(&text);
	return rc;
}

/* Produce the answer; see provider.h. */
/* The next number of the xorshift64* sequence in *h, uniform in [-1, 1). */
static double mock_unit(uint64_t *h)
{
	*h ^= *h >> 12;
	*h ^= *h << 25;
	*h ^= *h >> 27;
	return (double)((*h * 2685821657736338717ULL) >> 11) / 9007199254740992.0 * 2 - 1;
}

/*
 * An embedding call: for each input a vector of call->dimensions (default
 * MOCK_EMBED_DIM) numbers from a generator seeded by the FNV-1a hash of the
 * text, scaled to length 1: the same text always gets the same vector.
 * prompt_tokens is the number of words (at least 1 an input). Directives in
 * any input ([mock:error=CODE], [mock:latency=MS]) apply. 0, or -1 + res.
 */
static int mock_embed(const struct ah_call *call, struct ah_result *res)
{
	struct buf out = BUF_INIT;
	struct mock_opts o;
	const unsigned char *p;
	double norm, x;
	int dim = call->dimensions > 0 ? call->dimensions : MOCK_EMBED_DIM, latency = 0, words;
	uint64_t h, seed;
	size_t i;
	int k;

	if (dim > MOCK_EMBED_MAX)
		return pjson_fail(res, R_provider_error, "mock: at most %d dimensions",
		                  MOCK_EMBED_MAX);
	for (i = 0; i < call->n_inputs; i++) {
		if (mock_directives(call->inputs[i], &o, res) != 0)
			return -1;
		if (o.error != R_none)
			return pjson_fail(res, o.error, "mock provider simulated %s",
			                  reason_name(o.error));
		latency += o.latency_ms;
	}
	mock_sleep(call->mock_latency_ms + latency);
	if (buf_putc(&out, '[') != 0)
		goto nomem;
	for (i = 0; i < call->n_inputs; i++) {
		h = 14695981039346656037ULL;
		words = 0;
		for (p = (const unsigned char *)call->inputs[i]; *p != '\0'; p++) {
			h = (h ^ *p) * 1099511628211ULL;
			words +=
			    !mock_is_space(*p) &&
			    (p == (const unsigned char *)call->inputs[i] || mock_is_space(p[-1]));
		}
		res->usage.prompt_tokens += words > 0 ? words : 1;
		/* Two passes over the same sequence: its length, then the scaled numbers. */
		seed = h;
		norm = 0;
		for (k = 0; k < dim; k++) {
			x = mock_unit(&h);
			norm += x * x;
		}
		norm = norm > 0 ? sqrt(norm) : 1;
		h = seed;
		if (buf_puts(&out, i ? ",[" : "[") != 0)
			goto nomem;
		for (k = 0; k < dim; k++)
			if (buf_printf(&out, "%s%.6f", k ? "," : "", mock_unit(&h) / norm) != 0)
				goto nomem;
		if (buf_putc(&out, ']') != 0)
			goto nomem;
	}
	if (buf_putc(&out, ']') != 0)
		goto nomem;
	res->usage.have = 1;
	free(res->text);
	res->text = buf_steal(&out);
	pjson_set_finish(res, "stop");
	return res->text != NULL ? 0 : pjson_fail(res, R_provider_error, "mock: out of memory");
nomem:
	buf_free(&out);
	return pjson_fail(res, R_provider_error, "mock: out of memory");
}

static int mock_generate(const struct ah_call *call, ah_emit_fn emit, void *emit_ctx,
                         struct ah_result *res)
{
	struct mock_opts o;
	struct mock_gen g;
	struct buf text = BUF_INIT;
	const char *q = mock_question(call), *w;
	uint64_t h;
	int64_t total, limit, i, prompt = 0;
	size_t n, at, from;
	int rc = -1, stream = call->stream && emit != NULL, rounds = 0, results = 0;

	if (call->n_inputs > 0)
		return mock_embed(call, res);
	for (n = 0; n < call->n_messages; n++)
		prompt += provider_estimate_tokens(call->messages[n].content,
		                                   strlen(call->messages[n].content)) +
		          4;
	res->usage.prompt_tokens = prompt;
	res->usage.have = 1;
	if (mock_directives(q, &o, res) != 0)
		goto out;
	mock_sleep(call->mock_latency_ms + o.latency_ms);
	if (o.error != R_none) {
		pjson_fail(res, o.error, "mock provider simulated %s", reason_name(o.error));
		goto out;
	}
	from = mock_after_user(call);
	for (n = from; n < call->n_messages; n++) {
		if (strcmp(call->messages[n].role, "assistant") == 0 &&
		    call->messages[n].n_tool_calls > 0)
			rounds++;
		if (strcmp(call->messages[n].role, "tool") == 0)
			results++;
	}
	if (o.n_tools > 0 && rounds < o.tool_rounds)
		return mock_request_tools(&o, rounds, res);
	if (results > 0)
		return mock_quote_results(call, from, emit, emit_ctx, res);

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
		pjson_fail(res, R_provider_error, "mock: out of memory");
		goto out;
	}
	for (i = 0; i < limit; i++) {
		mock_next(&g, &w, &n);
		at = text.len;
		if ((i > 0 && buf_putc(&text, ' ') != 0) || buf_append(&text, w, n) != 0) {
			pjson_fail(res, R_provider_error, "mock: out of memory");
			goto out;
		}
		res->usage.completion_tokens = i + 1;
		if (!stream)
			continue;
		if (i > 0)
			mock_sleep(call->mock_stream_delay_ms);
		if (emit(emit_ctx, text.data + at, text.len - at) != 0) {
			pjson_fail(res, R_client_disconnected,
			           "the client went away during the stream");
			goto out;
		}
	}
	if (o.error_after >= 0) {
		pjson_fail(res, R_upstream_error,
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
			rc = pjson_fail(res, R_provider_error, "mock: out of memory");
	}
	buf_free(&text);
	return rc;
}

static const struct ah_provider mock_adapter = {
    .abi_version = AH_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct ah_provider),
    .name = "mock",
    .flags = AH_PROVIDER_LOCAL | AH_PROVIDER_EMBEDDINGS,
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
