/*
 * test_providers.c: unit and end-to-end tests of the provider layer.
 *
 * DESIGN
 * Adapters are tested without a network: build_request output is parsed back
 * and checked field by field, parse_response and stream_event get recorded
 * sample bodies. The SSE parser is fed every split of a tricky stream. The
 * mock is checked for determinism and its directives. Plugin loading builds
 * tests/plugins/example_provider.c twice with the system compiler. The
 * end-to-end cases run provider_invoke against tests/fakes/fake_upstream.py
 * (started here on a free port, or FAKE_UPSTREAM_URL), and are skipped when
 * python3 is missing.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/util.h"
#include "providers/adapters.h"
#include "providers/hook.h"
#include "providers/registry.h"
#include "providers/sse.h"
#include "testdb.h"

static char fake_url[256];  /* base URL of the fake upstream, "" when unavailable */
static pid_t fake_pid = -1; /* the fake we started, -1 when none */
static int fake_out = -1;   /* read end of its stdout, open while it runs */

static const char *srcdir(void)
{
	const char *s = getenv("srcdir");

	return s != NULL && s[0] != '\0' ? s : ".";
}

/* ---------------------------------------------------------------- helpers */

struct sink {
	struct buf text; /* everything emitted */
	int chunks;      /* emit calls */
	int stop_after;  /* return 1 on this call number (0 = never) */
};

static int sink_emit(void *ctx, const char *text, size_t len)
{
	struct sink *s = ctx;

	s->chunks++;
	ck_assert_int_eq(buf_append(&s->text, text, len), 0);
	return s->stop_after > 0 && s->chunks >= s->stop_after;
}

static struct ah_call base_call(const struct ah_message *m, size_t n)
{
	struct ah_call c;

	memset(&c, 0, sizeof(c));
	c.model = "test-model";
	c.messages = m;
	c.n_messages = n;
	c.max_tokens = 256;
	c.base_url = "http://127.0.0.1:9";
	c.api_key = "sk-test-123456";
	c.request_id = "0123456789abcdef0123456789abcdef";
	return c;
}

static const char *find_header(const struct ah_http_request *rq, const char *prefix)
{
	size_t i, n = strlen(prefix);

	for (i = 0; i < rq->n_headers; i++)
		if (strncasecmp(rq->headers[i], prefix, n) == 0)
			return rq->headers[i] + n;
	return NULL;
}

static void rq_free(struct ah_http_request *rq)
{
	size_t i;

	free(rq->url);
	for (i = 0; i < rq->n_headers; i++)
		free(rq->headers[i]);
	free(rq->body);
	memset(rq, 0, sizeof(*rq));
}

static json_t *rq_json(const struct ah_http_request *rq)
{
	json_error_t e;
	json_t *j = json_loadb(rq->body, rq->body_len, 0, &e);

	ck_assert_msg(j != NULL, "body is not JSON: %s", e.text);
	return j;
}

/* Feed a list of data payloads through an adapter's stream_event; returns the last rc. */
static int run_stream(const struct ah_provider *p, const char *const *events,
                      const char *const *data, size_t n, struct sink *sk, struct ah_result *res)
{
	struct ah_call c;
	void *st;
	size_t i;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	st = p->stream_begin(&c);
	ck_assert_ptr_nonnull(st);
	for (i = 0; i < n; i++) {
		rc = p->stream_event(st, events != NULL ? events[i] : "", data[i], strlen(data[i]),
		                     sink_emit, sk, res);
		if (rc != 0)
			break;
	}
	p->stream_end(st, res);
	return rc;
}

/* ---------------------------------------------------------------- SSE */

static int sse_rec(void *ctx, const char *event, const char *data, size_t len)
{
	struct buf *b = ctx;

	ck_assert_uint_eq(strlen(data), len);
	buf_printf(b, "[%s|%s]", event, data);
	return 0;
}

static const char sse_sample[] = ": comment line\r\n"
                                 "event: message_start\r\n"
                                 "data: {\"a\":1}\r\n"
                                 "\r\n"
                                 "data: line1\n"
                                 "data:line2\n"
                                 "id: 7\n"
                                 "retry: 100\n"
                                 "\n"
                                 "event: empty\n"
                                 "\n"
                                 "data\r"
                                 "\r"
                                 "event: x\r\n"
                                 "data:  two spaces\r\n"
                                 "\r\n"
                                 "data: [DONE]\n\n"
                                 "data: unfinished";

static const char sse_expect[] =
    "[message_start|{\"a\":1}][|line1\nline2][|][x| two spaces][|[DONE]]";

START_TEST(test_sse_whole)
{
	struct sse_parser p;
	struct buf out = BUF_INIT;

	sse_init(&p, sse_rec, &out);
	ck_assert_int_eq(sse_feed(&p, sse_sample, sizeof(sse_sample) - 1), 0);
	ck_assert_str_eq(buf_str(&out), sse_expect);
	sse_free(&p);
	buf_free(&out);
}
END_TEST

START_TEST(test_sse_every_split)
{
	size_t n = sizeof(sse_sample) - 1, i, j;

	for (i = 0; i <= n; i++) {
		struct sse_parser p;
		struct buf out = BUF_INIT;

		sse_init(&p, sse_rec, &out);
		ck_assert_int_eq(sse_feed(&p, sse_sample, i), 0);
		ck_assert_int_eq(sse_feed(&p, sse_sample + i, n - i), 0);
		ck_assert_msg(strcmp(buf_str(&out), sse_expect) == 0, "split at %zu: %s", i,
		              buf_str(&out));
		sse_free(&p);
		buf_free(&out);
	}
	/* One byte at a time. */
	{
		struct sse_parser p;
		struct buf out = BUF_INIT;

		sse_init(&p, sse_rec, &out);
		for (j = 0; j < n; j++)
			ck_assert_int_eq(sse_feed(&p, sse_sample + j, 1), 0);
		ck_assert_str_eq(buf_str(&out), sse_expect);
		sse_free(&p);
		buf_free(&out);
	}
}
END_TEST

static int sse_stop(void *ctx, const char *event, const char *data, size_t len)
{
	int *n = ctx;

	(void)event;
	(void)data;
	(void)len;
	return ++*n == 2 ? 7 : 0;
}

START_TEST(test_sse_stop)
{
	struct sse_parser p;
	int n = 0;

	sse_init(&p, sse_stop, &n);
	ck_assert_int_eq(sse_feed(&p, "data: a\n\ndata: b\n\ndata: c\n\n", 27), 7);
	ck_assert_int_eq(n, 2);
	sse_free(&p);
}
END_TEST

/* ---------------------------------------------------------------- openai */

static const struct ah_message conv[] = {
    {.role = "system", .content = "Be brief."},
    {.role = "system", .content = "Answer in English."},
    {.role = "user", .content = "Hello there"},
    {.role = "assistant", .content = "Hi!"},
    {.role = "user", .content = "What is 2+2?"},
};

START_TEST(test_openai_build)
{
	const struct ah_provider *p = provider_openai_adapter();
	struct ah_call c = base_call(conv, 5);
	struct ah_http_request rq;
	struct ah_result res;
	json_t *j, *m;

	memset(&rq, 0, sizeof(rq));
	memset(&res, 0, sizeof(res));
	c.has_temperature = 1;
	c.temperature = 0.5;
	c.stream = 1;
	ck_assert_int_eq(p->build_request(&c, &rq, &res), 0);
	ck_assert_str_eq(rq.url, "http://127.0.0.1:9/chat/completions");
	ck_assert_str_eq(find_header(&rq, "Authorization: "), "Bearer sk-test-123456");
	ck_assert_str_eq(find_header(&rq, "Content-Type: "), "application/json");
	j = rq_json(&rq);
	ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "test-model");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "max_tokens")), 256);
	ck_assert(json_real_value(json_object_get(j, "temperature")) == 0.5);
	ck_assert_ptr_null(json_object_get(j, "top_p"));
	ck_assert(json_is_true(json_object_get(j, "stream")));
	ck_assert(
	    json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "messages")), 5);
	m = json_array_get(json_object_get(j, "messages"), 4);
	ck_assert_str_eq(json_string_value(json_object_get(m, "role")), "user");
	ck_assert_str_eq(json_string_value(json_object_get(m, "content")), "What is 2+2?");
	json_decref(j);
	rq_free(&rq);

	/* No key: no Authorization header; not streamed: no stream fields. */
	c.api_key = "";
	c.stream = 0;
	ck_assert_int_eq(p->build_request(&c, &rq, &res), 0);
	ck_assert_ptr_null(find_header(&rq, "Authorization:"));
	j = rq_json(&rq);
	ck_assert_ptr_null(json_object_get(j, "stream"));
	ck_assert_ptr_null(json_object_get(j, "stream_options"));
	json_decref(j);
	rq_free(&rq);

	/* A key with a line break cannot inject headers. */
	c.api_key = "sk-evil\r\nX-Injected: 1";
	ck_assert_int_eq(p->build_request(&c, &rq, &res), -1);
	ck_assert_str_eq(res.error_code, "provider_error");
	rq_free(&rq);
}
END_TEST

START_TEST(test_openai_parse)
{
	const struct ah_provider *p = provider_openai_adapter();
	struct ah_result res;
	const char *ok = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	                 "\"assistant\",\"content\":\"Four.\"},\"finish_reason\":\"length\"}],"
	                 "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}";
	const char *nousage = "{\"choices\":[{\"message\":{\"content\":\"Hi\"},"
	                      "\"finish_reason\":\"stop\"}]}";
	const char *err = "{\"error\":{\"message\":\"Incorrect API key provided\","
	                  "\"type\":\"invalid_request_error\"}}";

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 200, ok, strlen(ok), &res), 0);
	ck_assert_str_eq(res.text, "Four.");
	ck_assert_str_eq(res.finish_reason, "length");
	ck_assert_int_eq(res.usage.have, 1);
	ck_assert_int_eq(res.usage.prompt_tokens, 12);
	ck_assert_int_eq(res.usage.completion_tokens, 3);
	provider_result_free(&res);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 200, nousage, strlen(nousage), &res), 0);
	ck_assert_str_eq(res.text, "Hi");
	ck_assert_int_eq(res.usage.have, 0);
	provider_result_free(&res);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 401, err, strlen(err), &res), -1);
	ck_assert_str_eq(res.error_code, "upstream_auth_failed");
	ck_assert_ptr_nonnull(strstr(res.error_message, "Incorrect API key provided"));
	ck_assert_int_eq(res.upstream_status, 401);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 200, "<html>", 6, &res), -1);
	ck_assert_str_eq(res.error_code, "upstream_bad_response");
}
END_TEST

START_TEST(test_openai_stream)
{
	const struct ah_provider *p = provider_openai_adapter();
	static const char *const data[] = {
	    "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
	    "\"finish_reason\":null}],\"usage\":null}",
	    "{\"choices\":[{\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}",
	    "{\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}",
	    "{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}",
	    "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}",
	    "[DONE]",
	};
	struct sink sk = {BUF_INIT, 0, 0};
	struct ah_result res;

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(run_stream(p, NULL, data, 6, &sk, &res), 1);
	ck_assert_str_eq(buf_str(&sk.text), "Hello");
	ck_assert_str_eq(res.text, "Hello");
	ck_assert_str_eq(res.finish_reason, "stop");
	ck_assert_int_eq(res.usage.have, 1);
	ck_assert_int_eq(res.usage.completion_tokens, 2);
	provider_result_free(&res);
	buf_free(&sk.text);

	/* The host stopping the stream: rc 2. */
	memset(&res, 0, sizeof(res));
	sk.chunks = 0;
	sk.stop_after = 1;
	ck_assert_int_eq(run_stream(p, NULL, data, 6, &sk, &res), 2);
	ck_assert_str_eq(res.text, "Hel");
	provider_result_free(&res);
	buf_free(&sk.text);

	/* An error chunk. */
	{
		static const char *const bad[] = {"{\"error\":{\"message\":\"overloaded\"}}"};

		memset(&res, 0, sizeof(res));
		ck_assert_int_eq(run_stream(p, NULL, bad, 1, &sk, &res), -1);
		ck_assert_str_eq(res.error_code, "upstream_error");
		ck_assert_ptr_nonnull(strstr(res.error_message, "overloaded"));
		provider_result_free(&res);
		buf_free(&sk.text);
	}
}
END_TEST

/* ---------------------------------------------------------------- anthropic */

START_TEST(test_anthropic_build)
{
	const struct ah_provider *p = provider_anthropic_adapter();
	struct ah_call c = base_call(conv, 5);
	struct ah_http_request rq;
	struct ah_result res;
	json_t *j, *msgs;

	memset(&rq, 0, sizeof(rq));
	memset(&res, 0, sizeof(res));
	c.has_top_p = 1;
	c.top_p = 0.25;
	c.stream = 1;
	ck_assert_int_eq(p->build_request(&c, &rq, &res), 0);
	ck_assert_str_eq(rq.url, "http://127.0.0.1:9/v1/messages");
	ck_assert_str_eq(find_header(&rq, "x-api-key: "), "sk-test-123456");
	ck_assert_str_eq(find_header(&rq, "anthropic-version: "), "2023-06-01");
	ck_assert_str_eq(find_header(&rq, "content-type: "), "application/json");
	ck_assert_ptr_null(find_header(&rq, "Authorization:"));
	j = rq_json(&rq);
	ck_assert_str_eq(json_string_value(json_object_get(j, "system")),
	                 "Be brief.\n\nAnswer in English.");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "max_tokens")), 256);
	ck_assert(json_real_value(json_object_get(j, "top_p")) == 0.25);
	ck_assert_ptr_null(json_object_get(j, "temperature"));
	ck_assert(json_is_true(json_object_get(j, "stream")));
	msgs = json_object_get(j, "messages");
	ck_assert_uint_eq(json_array_size(msgs), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
	                 "user");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
	                 "assistant");
	json_decref(j);
	rq_free(&rq);

	/* Only system messages: refused. */
	c.n_messages = 2;
	ck_assert_int_eq(p->build_request(&c, &rq, &res), -1);
	ck_assert_str_eq(res.error_code, "provider_error");
	rq_free(&rq);
}
END_TEST

START_TEST(test_anthropic_parse)
{
	const struct ah_provider *p = provider_anthropic_adapter();
	struct ah_result res;
	const char *ok =
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Four\"},{\"type\":\"tool_use\","
	    "\"id\":\"t\",\"name\":\"x\",\"input\":{}},{\"type\":\"text\",\"text\":\".\"}],"
	    "\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":10,"
	    "\"cache_read_input_tokens\":5,\"output_tokens\":2}}";
	const char *nousage = "{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],"
	                      "\"stop_reason\":\"end_turn\"}";
	const char *err = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
	                  "\"message\":\"Number of requests has exceeded your rate limit\"}}";

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 200, ok, strlen(ok), &res), 0);
	ck_assert_str_eq(res.text, "Four.");
	ck_assert_str_eq(res.finish_reason, "length");
	ck_assert_int_eq(res.usage.prompt_tokens, 15);
	ck_assert_int_eq(res.usage.completion_tokens, 2);
	ck_assert_int_eq(res.usage.have, 1);
	provider_result_free(&res);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 200, nousage, strlen(nousage), &res), 0);
	ck_assert_str_eq(res.finish_reason, "stop");
	ck_assert_int_eq(res.usage.have, 0);
	provider_result_free(&res);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 429, err, strlen(err), &res), -1);
	ck_assert_str_eq(res.error_code, "upstream_rate_limited");
	ck_assert_ptr_nonnull(strstr(res.error_message, "exceeded your rate limit"));
}
END_TEST

START_TEST(test_anthropic_stream)
{
	const struct ah_provider *p = provider_anthropic_adapter();
	static const char *const ev[] = {
	    "message_start",       "content_block_start", "ping",          "content_block_delta",
	    "content_block_delta", "content_block_stop",  "message_delta", "message_stop"};
	static const char *const data[] = {
	    "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":"
	    "25,\"output_tokens\":1}}}",
	    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
	    "\"text\":\"\"}}",
	    "{\"type\":\"ping\"}",
	    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	    "\"text\":\"Hello\"}}",
	    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	    "\"text\":\"!\"}}",
	    "{\"type\":\"content_block_stop\",\"index\":0}",
	    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":"
	    "{\"output_tokens\":15}}",
	    "{\"type\":\"message_stop\"}",
	};
	static const char *const err_ev[] = {"error"};
	static const char *const err_data[] = {
	    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
	    "\"Overloaded\"}}"};
	struct sink sk = {BUF_INIT, 0, 0};
	struct ah_result res;

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(run_stream(p, ev, data, 8, &sk, &res), 1);
	ck_assert_str_eq(buf_str(&sk.text), "Hello!");
	ck_assert_str_eq(res.text, "Hello!");
	ck_assert_str_eq(res.finish_reason, "stop");
	ck_assert_int_eq(res.usage.prompt_tokens, 25);
	ck_assert_int_eq(res.usage.completion_tokens, 15);
	provider_result_free(&res);
	buf_free(&sk.text);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(run_stream(p, err_ev, err_data, 1, &sk, &res), -1);
	ck_assert_str_eq(res.error_code, "upstream_unavailable");
	ck_assert_ptr_nonnull(strstr(res.error_message, "Overloaded"));
	provider_result_free(&res);
	buf_free(&sk.text);
}
END_TEST

/* ---------------------------------------------------------------- gemini */

START_TEST(test_gemini_build)
{
	const struct ah_provider *p = provider_gemini_adapter();
	struct ah_call c = base_call(conv, 5);
	struct ah_http_request rq;
	struct ah_result res;
	json_t *j, *contents, *gen;

	memset(&rq, 0, sizeof(rq));
	memset(&res, 0, sizeof(res));
	c.model = "gemini-2.0-flash";
	c.has_temperature = 1;
	c.temperature = 1.0;
	c.has_top_p = 1;
	c.top_p = 0.5;
	ck_assert_int_eq(p->build_request(&c, &rq, &res), 0);
	ck_assert_str_eq(rq.url,
	                 "http://127.0.0.1:9/v1beta/models/gemini-2.0-flash:generateContent");
	ck_assert_str_eq(find_header(&rq, "x-goog-api-key: "), "sk-test-123456");
	ck_assert_ptr_null(strstr(rq.url, "key="));
	j = rq_json(&rq);
	contents = json_object_get(j, "contents");
	ck_assert_uint_eq(json_array_size(contents), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(contents, 1), "role")),
	                 "model");
	ck_assert_str_eq(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(json_array_get(contents, 2), "parts"), 0), "text")),
	    "What is 2+2?");
	ck_assert_str_eq(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(json_object_get(j, "systemInstruction"), "parts"),
	                       0),
	        "text")),
	    "Be brief.\n\nAnswer in English.");
	gen = json_object_get(j, "generationConfig");
	ck_assert_int_eq(json_integer_value(json_object_get(gen, "maxOutputTokens")), 256);
	ck_assert(json_real_value(json_object_get(gen, "temperature")) == 1.0);
	ck_assert(json_real_value(json_object_get(gen, "topP")) == 0.5);
	json_decref(j);
	rq_free(&rq);

	c.stream = 1;
	c.model = "models/gemini-pro";
	ck_assert_int_eq(p->build_request(&c, &rq, &res), 0);
	ck_assert_str_eq(rq.url, "http://127.0.0.1:9/v1beta/models/gemini-pro:"
	                         "streamGenerateContent?alt=sse");
	rq_free(&rq);

	c.model = "../../x?key=1";
	ck_assert_int_eq(p->build_request(&c, &rq, &res), -1);
	ck_assert_str_eq(res.error_code, "provider_error");
	rq_free(&rq);
}
END_TEST

START_TEST(test_gemini_parse)
{
	const struct ah_provider *p = provider_gemini_adapter();
	struct ah_result res;
	const char *ok =
	    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
	    "\"thinking\",\"thought\":true},{\"text\":\"Fo\"},{\"text\":\"ur\"}]},"
	    "\"finishReason\":\"MAX_TOKENS\"}],\"usageMetadata\":{\"promptTokenCount\":"
	    "7,\"candidatesTokenCount\":2,\"totalTokenCount\":9}}";
	const char *safety = "{\"candidates\":[{\"finishReason\":\"SAFETY\"}]}";
	const char *err = "{\"error\":{\"code\":400,\"message\":\"API key not valid\","
	                  "\"status\":\"INVALID_ARGUMENT\"}}";

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 200, ok, strlen(ok), &res), 0);
	ck_assert_str_eq(res.text, "Four");
	ck_assert_str_eq(res.finish_reason, "length");
	ck_assert_int_eq(res.usage.prompt_tokens, 7);
	ck_assert_int_eq(res.usage.completion_tokens, 2);
	ck_assert_int_eq(res.usage.have, 1);
	provider_result_free(&res);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 200, safety, strlen(safety), &res), 0);
	ck_assert_str_eq(res.text, "");
	ck_assert_str_eq(res.finish_reason, "content_filter");
	ck_assert_int_eq(res.usage.have, 0);
	provider_result_free(&res);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(p->parse_response(NULL, 400, err, strlen(err), &res), -1);
	ck_assert_str_eq(res.error_code, "upstream_error");
	ck_assert_ptr_nonnull(strstr(res.error_message, "API key not valid"));
}
END_TEST

START_TEST(test_gemini_stream)
{
	const struct ah_provider *p = provider_gemini_adapter();
	static const char *const data[] = {
	    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"}}]}",
	    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}],\"role\":\"model\"},"
	    "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,"
	    "\"candidatesTokenCount\":2}}",
	};
	struct sink sk = {BUF_INIT, 0, 0};
	struct ah_result res;

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(run_stream(p, NULL, data, 2, &sk, &res), 0);
	ck_assert_str_eq(buf_str(&sk.text), "Hello");
	ck_assert_int_eq(sk.chunks, 2);
	ck_assert_str_eq(res.text, "Hello");
	ck_assert_str_eq(res.finish_reason, "stop");
	ck_assert_int_eq(res.usage.prompt_tokens, 4);
	ck_assert_int_eq(res.usage.completion_tokens, 2);
	provider_result_free(&res);
	buf_free(&sk.text);
}
END_TEST

/* ---------------------------------------------------------------- mock */

static int count_words(const char *s)
{
	int n = 0, in = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ') {
			in = 0;
		} else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

static int mock_call(const char *question, int max_tokens, int stream, struct sink *sk,
                     struct ah_result *res)
{
	struct ah_message m[2] = {{.role = "system", .content = "You are a test."},
	                          {.role = "user", .content = question}};
	struct ah_call c = base_call(m, 2);
	struct provider_instance inst;

	memset(&inst, 0, sizeof(inst));
	inst.name = "mock";
	inst.adapter = provider_mock_adapter();
	c.max_tokens = max_tokens;
	c.stream = stream;
	return provider_invoke(&inst, &c, stream ? sink_emit : NULL, sk, res);
}

START_TEST(test_mock_deterministic)
{
	struct ah_result a, b, d;

	ck_assert_int_eq(mock_call("What is the answer?", 1000, 0, NULL, &a), 0);
	ck_assert_int_eq(mock_call("What is the answer?", 1000, 0, NULL, &b), 0);
	ck_assert_int_eq(mock_call("What is the question?", 1000, 0, NULL, &d), 0);
	ck_assert_str_eq(a.text, b.text);
	ck_assert_str_ne(a.text, d.text);
	ck_assert_ptr_nonnull(strstr(a.text, "Mock answer to: What is the answer?"));
	ck_assert_str_eq(a.finish_reason, "stop");
	ck_assert_int_eq(a.usage.have, 1);
	ck_assert_int_eq(a.usage.prompt_tokens, b.usage.prompt_tokens);
	ck_assert_int_eq(a.usage.completion_tokens, count_words(a.text));
	ck_assert_int_eq(a.usage.completion_tokens, b.usage.completion_tokens);
	/* 3 prefix words + 4 echoed + 12..40 generated. */
	ck_assert_int_ge(a.usage.completion_tokens, 19);
	ck_assert_int_le(a.usage.completion_tokens, 47);
	/* prompt: estimate of each content + 4 per message */
	ck_assert_int_eq(a.usage.prompt_tokens,
	                 provider_estimate_tokens("You are a test.", 15) + 4 +
	                     provider_estimate_tokens("What is the answer?", 19) + 4);
	provider_result_free(&a);
	provider_result_free(&b);
	provider_result_free(&d);
}
END_TEST

START_TEST(test_mock_cap_and_words)
{
	struct ah_result r;
	struct sink sk = {BUF_INIT, 0, 0};

	ck_assert_int_eq(mock_call("long please", 5, 0, NULL, &r), 0);
	ck_assert_str_eq(r.finish_reason, "length");
	ck_assert_int_eq(r.usage.completion_tokens, 5);
	ck_assert_str_eq(r.text, "Mock answer to: long please");
	provider_result_free(&r);

	ck_assert_int_eq(mock_call("[mock:words=1000] go", 100000, 1, &sk, &r), 0);
	ck_assert_int_eq(r.usage.completion_tokens, 1000);
	ck_assert_int_eq(count_words(r.text), 1000);
	ck_assert_int_eq(sk.chunks, 1000);
	ck_assert_str_eq(buf_str(&sk.text), r.text);
	ck_assert_str_eq(r.finish_reason, "stop");
	provider_result_free(&r);
	buf_free(&sk.text);

	ck_assert_int_eq(mock_call("[mock:words=0]", 100, 0, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "provider_error");
	provider_result_free(&r);
}
END_TEST

START_TEST(test_mock_errors)
{
	struct ah_result r;
	struct sink sk = {BUF_INIT, 0, 0};

	ck_assert_int_eq(mock_call("hi [mock:error=upstream_rate_limited]", 100, 0, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_rate_limited");
	ck_assert_str_eq(r.error_message, "mock provider simulated upstream_rate_limited");
	provider_result_free(&r);

	ck_assert_int_eq(mock_call("hi [mock:error=made_up]", 100, 0, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "provider_error");
	provider_result_free(&r);

	ck_assert_int_eq(mock_call("x [mock:error_after=4]", 100, 1, &sk, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_error");
	ck_assert_int_eq(sk.chunks, 4);
	ck_assert_str_eq(r.text, "Mock answer to: x");
	ck_assert_int_eq(r.usage.completion_tokens, 4);
	provider_result_free(&r);
	buf_free(&sk.text);

	/* The client going away stops the stream at once. */
	memset(&sk, 0, sizeof(sk));
	sk.stop_after = 3;
	ck_assert_int_eq(mock_call("[mock:words=50] q", 100, 1, &sk, &r), -1);
	ck_assert_str_eq(r.error_code, "client_disconnected");
	ck_assert_int_eq(sk.chunks, 3);
	ck_assert_int_eq(r.usage.completion_tokens, 3);
	provider_result_free(&r);
	buf_free(&sk.text);
}
END_TEST

START_TEST(test_mock_latency)
{
	struct ah_result r;
	int64_t t0 = util_now_us();

	ck_assert_int_eq(mock_call("[mock:latency=120] hi", 100, 0, NULL, &r), 0);
	ck_assert_int_ge(util_now_us() - t0, 120000);
	provider_result_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- registry */

START_TEST(test_registry_builtin)
{
	struct conf c;
	char err[256] = "";
	const struct provider_instance *i;

	conf_defaults(&c);
	ck_assert_int_eq(conf_set(&c, "provider.deepseek.api_key", "sk-platform", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(
	    conf_set(&c, "provider.ollama.base_url", "http://127.0.0.1:1/v1/", err, sizeof(err)),
	    0);
	ck_assert_int_eq(registry_init(&c, err, sizeof(err)), 0);
	i = registry_find("openai");
	ck_assert_ptr_nonnull(i);
	ck_assert_str_eq(i->base_url, "https://api.openai.com/v1");
	ck_assert_str_eq(i->platform_key, "");
	i = registry_find("deepseek");
	ck_assert_str_eq(i->adapter->name, "openai");
	ck_assert_str_eq(i->platform_key, "sk-platform");
	ck_assert_str_eq(registry_find("ollama")->base_url, "http://127.0.0.1:1/v1");
	ck_assert_str_eq(registry_find("gemini")->adapter->name, "gemini");
	ck_assert_str_eq(registry_find("anthropic")->base_url, "https://api.anthropic.com");
	ck_assert(registry_find("mock")->adapter->flags & AH_PROVIDER_LOCAL);
	ck_assert_ptr_null(registry_find("nope"));
	ck_assert_ptr_nonnull(registry_at(8));
	ck_assert_ptr_null(registry_at(9));
	registry_free();

	conf_defaults(&c);
	ck_assert_int_eq(conf_set(&c, "provider.opanai.api_key", "k", err, sizeof(err)), 0);
	ck_assert_int_eq(registry_init(&c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "provider.opanai: unknown provider");
	ck_assert_ptr_null(registry_find("openai"));
}
END_TEST

/* Build the example plugin into dir; 0 on success. */
static int build_plugin(const char *dir, const char *name, const char *extra)
{
	char cmd[2048];
	const char *cc = getenv("CC");

	snprintf(cmd, sizeof(cmd),
	         "%s -shared -fPIC %s -I%s/src -o %s/%s %s/tests/plugins/example_provider.c",
	         cc != NULL && cc[0] != '\0' ? cc : "cc", extra, srcdir(), dir, name, srcdir());
	return system(cmd);
}

START_TEST(test_plugin_abi)
{
	char dir[200];
	char good[256], bad[256], err[512] = "";
	struct ah_message m = {.role = "user", .content = "héllo"};
	struct ah_call c = base_call(&m, 1);
	const struct provider_instance *inst;
	struct ah_result r;

	ck_assert_int_eq(testdb_tmpdir("ah_plugin", dir, sizeof(dir)), 0);
	ck_assert_int_eq(build_plugin(dir, "echo.so", ""), 0);
	ck_assert_int_eq(build_plugin(dir, "echo_wrong.so", "-DWRONG_ABI"), 0);
	snprintf(good, sizeof(good), "%s/echo.so", dir);
	snprintf(bad, sizeof(bad), "%s/echo_wrong.so", dir);

	ck_assert_int_eq(registry_load_plugin(bad, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "ABI"));
	ck_assert_ptr_nonnull(strstr(err, bad));
	ck_assert_ptr_null(registry_find("echo"));

	/* A version 2 plugin (before tool_choice and response_format) is refused, versions named.
	 */
	ck_assert_int_eq(build_plugin(dir, "echo_v1.so", "-DOLD_ABI"), 0);
	snprintf(bad, sizeof(bad), "%s/echo_v1.so", dir);
	ck_assert_int_eq(registry_load_plugin(bad, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "ABI version 2, host speaks 3"));
	unlink(bad);
	snprintf(bad, sizeof(bad), "%s/echo_wrong.so", dir);

	ck_assert_int_eq(registry_load_plugin(good, err, sizeof(err)), 0);
	inst = registry_find("echo");
	ck_assert_ptr_nonnull(inst);
	ck_assert_int_eq(provider_invoke(inst, &c, NULL, NULL, &r), 0);
	ck_assert_str_eq(r.text, "olléh");
	ck_assert_int_eq(r.usage.have, 0);
	ck_assert_int_gt(r.usage.prompt_tokens, 0);
	provider_result_free(&r);

	/* Same name again: a clash. */
	ck_assert_int_eq(registry_load_plugin(good, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "clashes"));
	ck_assert_int_eq(registry_load_plugin("/nonexistent/x.so", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.so"));
	registry_free();
	unlink(good);
	unlink(bad);
	rmdir(dir);
}
END_TEST

/* ---------------------------------------------------------------- end to end */

struct e2e {
	const char *name; /* adapter */
	const char *path; /* base URL suffix on the fake */
	const struct ah_provider *(*ad)(void);
};

static const struct e2e e2e_cases[] = {
    {"openai", "/openai/v1", provider_openai_adapter},
    {"anthropic", "/anthropic", provider_anthropic_adapter},
    {"gemini", "/gemini", provider_gemini_adapter},
};

static void e2e_inst(const struct e2e *e, struct provider_instance *inst, char *url, size_t cap)
{
	memset(inst, 0, sizeof(*inst));
	inst->name = e->name;
	inst->adapter = e->ad();
	snprintf(url, cap, "%s%s", fake_url, e->path);
	util_strlcpy(inst->base_url, url, sizeof(inst->base_url));
	inst->timeout_ms = 5000;
	inst->connect_timeout_ms = 2000;
}

static size_t e2e_collect(char *p, size_t s, size_t n, void *ud)
{
	buf_append(ud, p, s * n);
	return s * n;
}

/* GET /_last from the fake. */
static json_t *fake_last(void)
{
	CURL *c = curl_easy_init();
	struct buf b = BUF_INIT;
	char url[300];
	json_t *j;

	snprintf(url, sizeof(url), "%s/_last", fake_url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, e2e_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	j = json_loads(buf_str(&b), 0, NULL);
	buf_free(&b);
	ck_assert_ptr_nonnull(j);
	return j;
}

static const char *last_header(json_t *last, const char *name)
{
	return json_string_value(json_object_get(json_object_get(last, "headers"), name));
}

START_TEST(test_e2e_plain)
{
	const struct e2e *e = &e2e_cases[_i];
	struct provider_instance inst;
	struct ah_message m[] = {{.role = "system", .content = "be nice"},
	                         {.role = "user", .content = "hello world"}};
	struct ah_call c = base_call(m, 2);
	struct ah_result r;
	char url[300], expect[128];
	json_t *last;

	e2e_inst(e, &inst, url, sizeof(url));
	c.base_url = NULL;
	c.model = "fake-model";
	ck_assert_int_eq(provider_invoke(&inst, &c, NULL, NULL, &r), 0);
	snprintf(expect, sizeof(expect), "fake %s reply to: hello world", e->name);
	ck_assert_str_eq(r.text, expect);
	ck_assert_str_eq(r.finish_reason, "stop");
	ck_assert_int_eq(r.usage.have, 1);
	ck_assert_int_eq(r.usage.completion_tokens, 6);
	ck_assert_int_eq(r.usage.prompt_tokens, 4);
	ck_assert_int_eq(r.upstream_status, 200);
	provider_result_free(&r);

	last = fake_last();
	if (strcmp(e->name, "openai") == 0)
		ck_assert_str_eq(last_header(last, "authorization"), "Bearer sk-test-123456");
	else if (strcmp(e->name, "anthropic") == 0)
		ck_assert_str_eq(last_header(last, "x-api-key"), "sk-test-123456");
	else
		ck_assert_str_eq(last_header(last, "x-goog-api-key"), "sk-test-123456");
	ck_assert_str_eq(last_header(last, "x-request-id"), "0123456789abcdef0123456789abcdef");
	ck_assert_ptr_null(strstr(json_string_value(json_object_get(last, "path")), "key="));
	json_decref(last);

	/* No credential: the fake answers 401 in the provider's shape. */
	c.api_key = "";
	ck_assert_int_eq(provider_invoke(&inst, &c, NULL, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_auth_failed");
	ck_assert_int_eq(r.upstream_status, 401);
	ck_assert_ptr_nonnull(strstr(r.error_message, "missing credential"));
	provider_result_free(&r);
}
END_TEST

START_TEST(test_e2e_stream)
{
	const struct e2e *e = &e2e_cases[_i];
	struct provider_instance inst;
	struct ah_message m[] = {{.role = "user", .content = "stream me please"}};
	struct ah_call c = base_call(m, 1);
	struct ah_result r;
	struct sink sk = {BUF_INIT, 0, 0};
	char url[300], expect[128];

	e2e_inst(e, &inst, url, sizeof(url));
	c.base_url = url;
	c.stream = 1;
	ck_assert_int_eq(provider_invoke(&inst, &c, sink_emit, &sk, &r), 0);
	snprintf(expect, sizeof(expect), "fake %s reply to: stream me please", e->name);
	ck_assert_str_eq(r.text, expect);
	ck_assert_str_eq(buf_str(&sk.text), expect);
	ck_assert_int_eq(sk.chunks, 7);
	ck_assert_str_eq(r.finish_reason, "stop");
	ck_assert_int_eq(r.usage.have, 1);
	ck_assert_int_eq(r.usage.prompt_tokens, 3);
	ck_assert_int_eq(r.usage.completion_tokens, 7);
	provider_result_free(&r);
	buf_free(&sk.text);

	/* Client gone after two chunks. */
	memset(&sk, 0, sizeof(sk));
	sk.stop_after = 2;
	ck_assert_int_eq(provider_invoke(&inst, &c, sink_emit, &sk, &r), -1);
	ck_assert_str_eq(r.error_code, "client_disconnected");
	ck_assert_int_eq(sk.chunks, 2);
	ck_assert_int_eq(r.usage.completion_tokens > 0, 1);
	provider_result_free(&r);
	buf_free(&sk.text);

	/* Cut stream: partial text, upstream_error. */
	memset(&sk, 0, sizeof(sk));
	m[0].content = "please CUT here";
	ck_assert_int_eq(provider_invoke(&inst, &c, sink_emit, &sk, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_error");
	snprintf(expect, sizeof(expect), "fake %s", e->name);
	ck_assert_str_eq(r.text, expect);
	ck_assert_int_gt(r.usage.completion_tokens, 0);
	provider_result_free(&r);
	buf_free(&sk.text);

	/* A compatible server that ignores "stream" and answers JSON: emitted whole. */
	if (strcmp(e->name, "openai") == 0) {
		memset(&sk, 0, sizeof(sk));
		m[0].content = "NOSTREAM x";
		ck_assert_int_eq(provider_invoke(&inst, &c, sink_emit, &sk, &r), 0);
		ck_assert_str_eq(r.text, "fake openai reply to: NOSTREAM x");
		ck_assert_str_eq(buf_str(&sk.text), r.text);
		ck_assert_int_eq(sk.chunks, 1);
		ck_assert_int_eq(r.usage.have, 1);
		provider_result_free(&r);
		buf_free(&sk.text);
	}

	/* Error status on a streamed call. */
	memset(&sk, 0, sizeof(sk));
	m[0].content = "FAIL429";
	ck_assert_int_eq(provider_invoke(&inst, &c, sink_emit, &sk, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_rate_limited");
	ck_assert_ptr_nonnull(strstr(r.error_message, "simulated rate limit"));
	ck_assert_int_eq(sk.chunks, 0);
	provider_result_free(&r);
	buf_free(&sk.text);
}
END_TEST

START_TEST(test_e2e_errors)
{
	const struct e2e *e = &e2e_cases[_i];
	struct provider_instance inst;
	struct ah_message m[] = {{.role = "user", .content = "FAIL500 please"}};
	struct ah_call c = base_call(m, 1);
	struct ah_result r;
	char url[300];
	int64_t t0;

	e2e_inst(e, &inst, url, sizeof(url));
	c.base_url = url;
	ck_assert_int_eq(provider_invoke(&inst, &c, NULL, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_error");
	ck_assert_int_eq(r.upstream_status, 500);
	ck_assert_ptr_nonnull(strstr(r.error_message, "simulated failure"));
	ck_assert_ptr_null(strstr(r.error_message, "sk-test"));
	provider_result_free(&r);

	m[0].content = "SLOW please";
	inst.timeout_ms = 400;
	t0 = util_now_us();
	ck_assert_int_eq(provider_invoke(&inst, &c, NULL, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_timeout");
	ck_assert_int_lt(util_now_us() - t0, 3000000);
	provider_result_free(&r);

	/* Nothing listens on port 9 of localhost (discard is never enabled here). */
	c.base_url = "http://127.0.0.1:9";
	ck_assert_int_eq(provider_invoke(&inst, &c, NULL, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "upstream_unavailable");
	ck_assert_ptr_null(strstr(r.error_message, "sk-test"));
	provider_result_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- tool calling (ABI v2) */

static const struct ah_tool tool_defs[] = {
    {"lookup", "Look a thing up.",
     "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"]}"},
};

static const struct ah_tool_call tool_prev_call[] = {
    {"call_a", "lookup", "{\"n\":1}"},
};

/* A conversation with one finished tool round: user, assistant call, tool result. */
static void tool_convo(struct ah_message m[4], const char *question)
{
	memset(m, 0, 4 * sizeof(*m));
	m[0].role = "system";
	m[0].content = "Use tools.";
	m[1].role = "user";
	m[1].content = question;
	m[2].role = "assistant";
	m[2].content = "";
	m[2].tool_calls = tool_prev_call;
	m[2].n_tool_calls = 1;
	m[3].role = "tool";
	m[3].content = "{\"value\":\"ok\"}";
	m[3].tool_call_id = "call_a";
	m[3].tool_name = "lookup";
}

START_TEST(test_tools_build)
{
	const struct e2e *e = &e2e_cases[_i];
	const struct ah_provider *p = e->ad();
	struct ah_message m[4];
	struct ah_call c;
	struct ah_http_request rq;
	struct ah_result r;
	json_t *j, *t, *x;

	tool_convo(m, "look up 1");
	c = base_call(m, 4);
	c.tools = tool_defs;
	c.n_tools = 1;
	memset(&rq, 0, sizeof(rq));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(p->build_request(&c, &rq, &r), 0);
	j = rq_json(&rq);
	if (strcmp(e->name, "openai") == 0) {
		t = json_array_get(json_object_get(j, "tools"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(t, "type")), "function");
		x = json_object_get(t, "function");
		ck_assert_str_eq(json_string_value(json_object_get(x, "name")), "lookup");
		ck_assert(json_is_object(json_object_get(x, "parameters")));
		x = json_array_get(json_object_get(j, "messages"), 2);
		ck_assert(json_is_null(json_object_get(x, "content")));
		x = json_array_get(json_object_get(x, "tool_calls"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(x, "id")), "call_a");
		x = json_object_get(x, "function");
		ck_assert_str_eq(json_string_value(json_object_get(x, "arguments")), "{\"n\":1}");
		x = json_array_get(json_object_get(j, "messages"), 3);
		ck_assert_str_eq(json_string_value(json_object_get(x, "role")), "tool");
		ck_assert_str_eq(json_string_value(json_object_get(x, "tool_call_id")), "call_a");
	} else if (strcmp(e->name, "anthropic") == 0) {
		t = json_array_get(json_object_get(j, "tools"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(t, "name")), "lookup");
		ck_assert(json_is_object(json_object_get(t, "input_schema")));
		x = json_array_get(json_object_get(j, "messages"), 1);
		ck_assert_str_eq(json_string_value(json_object_get(x, "role")), "assistant");
		x = json_array_get(json_object_get(x, "content"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(x, "type")), "tool_use");
		ck_assert_int_eq(
		    json_integer_value(json_object_get(json_object_get(x, "input"), "n")), 1);
		x = json_array_get(json_object_get(j, "messages"), 2);
		ck_assert_str_eq(json_string_value(json_object_get(x, "role")), "user");
		x = json_array_get(json_object_get(x, "content"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(x, "type")), "tool_result");
		ck_assert_str_eq(json_string_value(json_object_get(x, "tool_use_id")), "call_a");
		ck_assert(json_is_false(json_object_get(x, "is_error")));
	} else {
		t = json_array_get(json_object_get(j, "tools"), 0);
		t = json_array_get(json_object_get(t, "functionDeclarations"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(t, "name")), "lookup");
		x = json_array_get(json_object_get(j, "contents"), 1);
		ck_assert_str_eq(json_string_value(json_object_get(x, "role")), "model");
		x = json_object_get(json_array_get(json_object_get(x, "parts"), 0), "functionCall");
		ck_assert_str_eq(json_string_value(json_object_get(x, "name")), "lookup");
		x = json_array_get(json_object_get(j, "contents"), 2);
		x = json_object_get(json_array_get(json_object_get(x, "parts"), 0),
		                    "functionResponse");
		ck_assert_str_eq(
		    json_string_value(json_object_get(json_object_get(x, "response"), "value")),
		    "ok");
	}
	json_decref(j);
	rq_free(&rq);

	/* A tool whose schema is not a JSON object is refused before any request. */
	{
		struct ah_tool bad = {"lookup", "x", "[1]"};

		c.tools = &bad;
		memset(&rq, 0, sizeof(rq));
		ck_assert_int_eq(p->build_request(&c, &rq, &r), -1);
		ck_assert_str_eq(r.error_code, "provider_error");
		rq_free(&rq);
	}
}
END_TEST

/* The model's tool call comes back whole, streamed or not; the results go back in. */
START_TEST(test_e2e_tools)
{
	const struct e2e *e = &e2e_cases[_i / 2];
	int stream = _i % 2;
	struct provider_instance inst;
	struct ah_message m[4];
	struct ah_call c;
	struct ah_result r;
	struct sink sk;
	char url[300], expect[128];

	e2e_inst(e, &inst, url, sizeof(url));
	memset(m, 0, sizeof(m));
	m[0].role = "user";
	m[0].content = "TOOLCALL please";
	c = base_call(m, 1);
	c.base_url = NULL;
	c.model = "fake-model";
	c.tools = tool_defs;
	c.n_tools = 1;
	c.stream = stream;
	memset(&sk, 0, sizeof(sk));
	buf_init(&sk.text);
	ck_assert_int_eq(provider_invoke(&inst, &c, stream ? sink_emit : NULL, &sk, &r), 0);
	ck_assert_str_eq(r.finish_reason, "tool_calls");
	ck_assert_int_eq(r.n_tool_calls, 1);
	ck_assert_str_eq(r.tool_calls[0].name, "lookup");
	ck_assert_str_eq(r.tool_calls[0].arguments, "{\"n\":42,\"q\":\"fake\"}");
	if (strcmp(e->name, "gemini") == 0)
		ck_assert_str_eq(r.tool_calls[0].id, "call_0");
	else
		ck_assert_str_eq(r.tool_calls[0].id, "call_fake_1");

	/* Feed the call and a result back: the answer quotes the result. */
	m[1].role = "assistant";
	m[1].content = r.text;
	m[1].tool_calls = r.tool_calls;
	m[1].n_tool_calls = r.n_tool_calls;
	m[2].role = "tool";
	m[2].content = strcmp(e->name, "gemini") == 0 ? "{\"v\":7}" : "seven";
	m[2].tool_call_id = r.tool_calls[0].id;
	m[2].tool_name = r.tool_calls[0].name;
	c.n_messages = 3;
	{
		struct ah_result r2;

		ck_assert_int_eq(provider_invoke(&inst, &c, stream ? sink_emit : NULL, &sk, &r2),
		                 0);
		if (strcmp(e->name, "gemini") == 0)
			snprintf(expect, sizeof(expect), "fake gemini tool results: {\"v\": 7}");
		else
			snprintf(expect, sizeof(expect), "fake %s tool results: seven", e->name);
		ck_assert_str_eq(r2.text, expect);
		ck_assert_str_eq(r2.finish_reason, "stop");
		ck_assert_int_eq(r2.n_tool_calls, 0);
		provider_result_free(&r2);
	}
	provider_result_free(&r);
	buf_free(&sk.text);
}
END_TEST

START_TEST(test_mock_tools)
{
	const struct ah_provider *p = provider_mock_adapter();
	struct ah_message m[6];
	struct ah_call c;
	struct ah_result r;
	struct ah_tool_call tc = {"call_0_0", "calc", "{\"expr\":\"[1]\"}"};

	memset(m, 0, sizeof(m));
	m[0].role = "user";
	m[0].content = "compute [mock:tool=calc {\"expr\": \"[1]\"}] now [mock:words=3]";
	c = base_call(m, 1);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(p->generate(&c, NULL, NULL, &r), 0);
	ck_assert_str_eq(r.finish_reason, "tool_calls");
	ck_assert_int_eq(r.n_tool_calls, 1);
	ck_assert_str_eq(r.tool_calls[0].id, "call_0_0");
	ck_assert_str_eq(r.tool_calls[0].name, "calc");
	ck_assert_str_eq(r.tool_calls[0].arguments, "{\"expr\": \"[1]\"}");
	ck_assert_str_eq(r.text, "");
	provider_result_free(&r);

	/* After the result: text quoting it. */
	m[1].role = "assistant";
	m[1].content = "";
	m[1].tool_calls = &tc;
	m[1].n_tool_calls = 1;
	m[2].role = "tool";
	m[2].content = "{\"value\": 1}";
	m[2].tool_call_id = "call_0_0";
	m[2].tool_name = "calc";
	c.n_messages = 3;
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(p->generate(&c, NULL, NULL, &r), 0);
	ck_assert_str_eq(r.text, "Tool results: calc: {\"value\": 1}");
	ck_assert_str_eq(r.finish_reason, "stop");
	ck_assert_int_eq(r.usage.completion_tokens, 5);
	ck_assert_int_eq(r.n_tool_calls, 0);
	provider_result_free(&r);

	/* tool_rounds=2: a second round of calls before answering. */
	m[0].content = "[mock:tool=calc] [mock:tool_rounds=2]";
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(p->generate(&c, NULL, NULL, &r), 0);
	ck_assert_int_eq(r.n_tool_calls, 1);
	ck_assert_str_eq(r.tool_calls[0].id, "call_1_0");
	ck_assert_str_eq(r.tool_calls[0].arguments, "{}");
	provider_result_free(&r);

	/* Bad directives are clear errors. */
	m[0].content = "[mock:tool=calc {nope]";
	c.n_messages = 1;
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(p->generate(&c, NULL, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "provider_error");
	ck_assert_ptr_nonnull(strstr(r.error_message, "not a JSON object"));
	provider_result_free(&r);
	m[0].content = "[mock:tool= {}]";
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(p->generate(&c, NULL, NULL, &r), -1);
	ck_assert_ptr_nonnull(strstr(r.error_message, "tool name"));
	provider_result_free(&r);
}
END_TEST

/* provider_invoke refuses incomplete tool parts instead of handing NULLs to adapters. */
/* emit_tool: a record "index:id:name:args;" per fragment (id, name "-" when absent). */
static int tool_rec(void *ctx, size_t index, const char *id, const char *name, const char *args,
                    size_t len)
{
	struct buf *b = ctx;

	ck_assert_int_eq(buf_printf(b, "%zu:%s:%s:%.*s;", index, id ? id : "-", name ? name : "-",
	                            (int)len, args),
	                 0);
	return 0;
}

/* Streamed tool calls are passed on piece by piece (ABI 3) and still gathered whole. */
START_TEST(test_stream_emit_tool)
{
	static const char *const oa[] = {
	    "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\","
	    "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]"
	    "}",
	    "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\":1}\"}}]}}]}",
	    "{\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
	    "[DONE]",
	};
	static const char *const an_ev[] = {"content_block_start", "content_block_delta",
	                                    "content_block_delta", "message_stop"};
	static const char *const an[] = {
	    "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
	    "\"tool_use\",\"id\":\"tu1\",\"name\":\"g\",\"input\":{}}}",
	    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\"{\\\"b\\\"\"}}",
	    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\":2}\"}}",
	    "{\"type\":\"message_stop\"}",
	};
	const struct {
		const struct ah_provider *p;
		const char *const *ev, *const *data;
		size_t n;
		const char *want, *args;
	} cases[] = {
	    {provider_openai_adapter(), NULL, oa, 4, "0:c1:f:{\"a\";0:-:-::1};", "{\"a\":1}"},
	    {provider_anthropic_adapter(), an_ev, an, 4, "0:tu1:g:;0:-:-:{\"b\";0:-:-::2};",
	     "{\"b\":2}"},
	};
	struct sink sk = {BUF_INIT, 0, 0};

	for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
		struct buf rec = BUF_INIT;
		struct ah_result res;
		struct ah_call c;
		void *st;
		int rc = 0;

		memset(&c, 0, sizeof(c));
		memset(&res, 0, sizeof(res));
		c.emit_tool = tool_rec;
		c.emit_tool_ctx = &rec;
		st = cases[k].p->stream_begin(&c);
		for (size_t i = 0; i < cases[k].n && rc == 0; i++)
			rc = cases[k].p->stream_event(st, cases[k].ev ? cases[k].ev[i] : "",
			                              cases[k].data[i], strlen(cases[k].data[i]),
			                              sink_emit, &sk, &res);
		ck_assert_int_eq(rc, 1);
		cases[k].p->stream_end(st, &res);
		ck_assert_str_eq(buf_str(&rec), cases[k].want);
		ck_assert_uint_eq(res.n_tool_calls, 1);
		ck_assert_str_eq(res.tool_calls[0].arguments, cases[k].args);
		provider_result_free(&res);
		buf_free(&rec);
	}
	buf_free(&sk.text);
}
END_TEST

/* Embedding calls (ABI 3): each adapter's request and answer, and the mock's vectors. */
START_TEST(test_embeddings)
{
	static const char *const in[] = {"alpha beta", "gamma"};
	const struct ah_provider *oa = provider_openai_adapter(), *ge = provider_gemini_adapter(),
	                         *mo = provider_mock_adapter();
	struct ah_call c = base_call(NULL, 0);
	struct ah_http_request rq;
	struct ah_result res, res2;
	json_t *j;
	const char *oa_ok = "{\"data\":[{\"index\":1,\"embedding\":[3,4]},"
	                    "{\"index\":0,\"embedding\":[1,2]}],\"usage\":{\"prompt_tokens\":3}}";
	const char *oa_bad = "{\"data\":[{\"embedding\":[1]},{\"embedding\":[1,2]}]}";
	const char *ge_ok = "{\"embeddings\":[{\"values\":[1,2]},{\"values\":[3,4]}]}";

	c.inputs = in;
	c.n_inputs = 2;
	c.dimensions = 2;
	ck_assert(oa->flags & AH_PROVIDER_EMBEDDINGS);
	ck_assert(ge->flags & AH_PROVIDER_EMBEDDINGS);
	ck_assert(!(provider_anthropic_adapter()->flags & AH_PROVIDER_EMBEDDINGS));

	memset(&rq, 0, sizeof(rq));
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(oa->build_request(&c, &rq, &res), 0);
	ck_assert_str_eq(rq.url, "http://127.0.0.1:9/embeddings");
	j = rq_json(&rq);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "input")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "dimensions")), 2);
	ck_assert_ptr_null(json_object_get(j, "messages"));
	json_decref(j);
	rq_free(&rq);
	ck_assert_int_eq(oa->parse_response(&c, 200, oa_ok, strlen(oa_ok), &res), 0);
	ck_assert_str_eq(res.text, "[[1,2],[3,4]]"); /* back in input order */
	ck_assert_int_eq(res.usage.prompt_tokens, 3);
	ck_assert_int_eq(res.usage.completion_tokens, 0);
	provider_result_free(&res);
	memset(&res, 0, sizeof(res));
	/* A vector missing or of another length is a bad response. */
	ck_assert_int_eq(oa->parse_response(&c, 200, oa_bad, strlen(oa_bad), &res), -1);
	ck_assert_str_eq(res.error_code, "upstream_bad_response");
	provider_result_free(&res);
	memset(&res, 0, sizeof(res));

	ck_assert_int_eq(ge->build_request(&c, &rq, &res), 0);
	ck_assert_str_eq(rq.url, "http://127.0.0.1:9/v1beta/models/test-model:batchEmbedContents");
	j = rq_json(&rq);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(j, "requests"), 1), "model")),
	                 "models/test-model");
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_array_get(json_object_get(j, "requests"), 0),
	                                       "outputDimensionality")),
	    2);
	json_decref(j);
	rq_free(&rq);
	ck_assert_int_eq(ge->parse_response(&c, 200, ge_ok, strlen(ge_ok), &res), 0);
	ck_assert_str_eq(res.text, "[[1,2],[3,4]]");
	provider_result_free(&res);

	/* The mock: same text, same unit vector; another text, another vector. */
	memset(&res, 0, sizeof(res));
	memset(&res2, 0, sizeof(res2));
	c.dimensions = 0;
	ck_assert_int_eq(mo->generate(&c, NULL, NULL, &res), 0);
	ck_assert_int_eq(mo->generate(&c, NULL, NULL, &res2), 0);
	ck_assert_str_eq(res.text, res2.text);
	ck_assert_int_eq(res.usage.prompt_tokens, 3);
	j = json_loads(res.text, 0, NULL);
	ck_assert_uint_eq(json_array_size(json_array_get(j, 0)), 64);
	{
		double norm = 0;
		size_t i;
		json_t *x;

		json_array_foreach(json_array_get(j, 0), i, x) norm +=
		    json_number_value(x) * json_number_value(x);
		ck_assert(norm > 0.999 && norm < 1.001);
	}
	ck_assert(!json_equal(json_array_get(j, 0), json_array_get(j, 1)));
	json_decref(j);
	provider_result_free(&res);
	provider_result_free(&res2);
}
END_TEST

START_TEST(test_invoke_tool_checks)
{
	struct provider_instance inst;
	struct ah_message m[2];
	struct ah_call c;
	struct ah_result r;

	memset(&inst, 0, sizeof(inst));
	inst.name = "mock";
	inst.adapter = provider_mock_adapter();
	memset(m, 0, sizeof(m));
	m[0].role = "user";
	m[0].content = "hi";
	m[1].role = "tool";
	m[1].content = "x";
	c = base_call(m, 2);
	ck_assert_int_eq(provider_invoke(&inst, &c, NULL, NULL, &r), -1);
	ck_assert_str_eq(r.error_code, "provider_error");
	ck_assert_ptr_nonnull(strstr(r.error_message, "call id"));
	provider_result_free(&r);
}
END_TEST

/* Start the fake upstream on a free port; fills fake_url or leaves it "". */
static void fake_start(void)
{
	const char *env = getenv("FAKE_UPSTREAM_URL");
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char script[512], port[16], line[64];
	int s, fds[2];
	struct pollfd pfd;
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		util_strlcpy(fake_url, env, sizeof(fake_url));
		return;
	}
	snprintf(script, sizeof(script), "%s/tests/fakes/fake_upstream.py", srcdir());
	if (access(script, R_OK) != 0)
		return;
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) != 0) {
		if (s >= 0)
			close(s);
		return;
	}
	close(s);
	snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));
	if (pipe(fds) != 0)
		return;
	fake_pid = fork();
	if (fake_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, "--port", port, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	if (fake_pid > 0 && poll(&pfd, 1, 10000) == 1 && (n = read(fds[0], line, 63)) > 0) {
		line[n] = '\0';
		if (strncmp(line, "ready", 5) == 0)
			snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%s", port);
	}
	/* The read end stays open while the fake runs: it may write "ready" in pieces, and a
	 * write after the reader closed would kill it with a broken pipe. */
	fake_out = fds[0];
	if (fake_url[0] == '\0' && fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
		fake_pid = -1;
	}
}

/* Webhook URLs: the shape rules, and private hosts refused unless allowed. */
START_TEST(test_hook_url_check)
{
	static const char *const bad[] = {
	    "",
	    "ftp://example.com/x",
	    "example.com/x",
	    "http://user:pw@example.com/x",
	    "https://example.com/x#frag",
	    "https://exa mple.com/",
	    "javascript:alert(1)",
	};
	static const char *const private_hosts[] = {
	    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/",
	    "http://192.168.1.1/",        "http://172.16.0.9/",    "http://169.254.169.254/latest",
	    "http://[::1]/hook",          "http://[fe80::1]/",     "http://0.0.0.0/",
	    "http://[::ffff:127.0.0.1]/",
	};
	char err[160];

	ck_assert_int_eq(hook_url_check("https://hooks.example.com/a?b=c", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(hook_url_check("http://203.0.113.7:8443/x", 0, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hook_url_check(bad[i], 1, err, sizeof(err)) == -1 && err[0],
		              "accepted %s", bad[i]);
	for (size_t i = 0; i < sizeof(private_hosts) / sizeof(private_hosts[0]); i++) {
		ck_assert_msg(hook_url_check(private_hosts[i], 0, err, sizeof(err)) == -1,
		              "accepted %s", private_hosts[i]);
		ck_assert_msg(strstr(err, "private") != NULL, "%s: %s", private_hosts[i], err);
		ck_assert_msg(hook_url_check(private_hosts[i], 1, err, sizeof(err)) == 0,
		              "refused %s with private addresses allowed: %s", private_hosts[i],
		              err);
	}
}
END_TEST

static Suite *providers_suite(void)
{
	Suite *s = suite_create("providers");
	TCase *t;

	t = tcase_create("sse");
	tcase_add_test(t, test_sse_whole);
	tcase_add_test(t, test_sse_every_split);
	tcase_add_test(t, test_sse_stop);
	suite_add_tcase(s, t);

	t = tcase_create("adapters");
	tcase_add_test(t, test_openai_build);
	tcase_add_test(t, test_openai_parse);
	tcase_add_test(t, test_openai_stream);
	tcase_add_test(t, test_anthropic_build);
	tcase_add_test(t, test_anthropic_parse);
	tcase_add_test(t, test_anthropic_stream);
	tcase_add_test(t, test_gemini_build);
	tcase_add_test(t, test_gemini_parse);
	tcase_add_test(t, test_gemini_stream);
	suite_add_tcase(s, t);

	t = tcase_create("mock");
	tcase_add_test(t, test_mock_deterministic);
	tcase_add_test(t, test_mock_cap_and_words);
	tcase_add_test(t, test_mock_errors);
	tcase_add_test(t, test_mock_latency);
	suite_add_tcase(s, t);

	t = tcase_create("registry");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_registry_builtin);
	tcase_add_test(t, test_plugin_abi);
	tcase_add_loop_test(t, test_tools_build, 0, 3);
	tcase_add_test(t, test_mock_tools);
	tcase_add_test(t, test_invoke_tool_checks);
	tcase_add_test(t, test_embeddings);
	tcase_add_test(t, test_stream_emit_tool);
	tcase_add_test(t, test_hook_url_check);
	suite_add_tcase(s, t);

	if (fake_url[0] != '\0') {
		t = tcase_create("e2e");
		tcase_set_timeout(t, 30);
		tcase_add_loop_test(t, test_e2e_plain, 0, 3);
		tcase_add_loop_test(t, test_e2e_stream, 0, 3);
		tcase_add_loop_test(t, test_e2e_errors, 0, 3);
		tcase_add_loop_test(t, test_e2e_tools, 0, 6);
		suite_add_tcase(s, t);
	} else {
		fprintf(stderr, "test_providers: fake upstream unavailable (no python3?); "
		                "skipping end-to-end cases\n");
	}
	return s;
}

int main(void)
{
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	fake_start();
	rc = testdb_run(providers_suite());
	provider_thread_cleanup();
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
	if (fake_out >= 0)
		close(fake_out);
	curl_global_cleanup();
	return rc;
}
