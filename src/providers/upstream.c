/*
 * upstream.c: provider_invoke, the single entry to a model call (see
 * registry.h), and the libcurl transport for HTTP adapters.
 *
 * DESIGN
 * Adapters only translate; this file owns the network. Each worker thread
 * keeps one curl easy handle (thread-local, reset between calls) so
 * connections and TLS sessions to an upstream are reused without locking.
 * Redirects are never followed: a provider answering 3xx is misconfigured,
 * and following one would resend the credential to a new host. Responses
 * are capped at 16 MiB. A streamed 2xx response is fed through the SSE
 * parser to the adapter as it arrives; a streamed error status is collected
 * and parsed as an error body. The host stops a transfer by returning 0 from
 * the write callback (the client went away or the adapter failed), which
 * curl reports as a write error that we map from our own flags.
 *
 * Every failure ends as one of the reason codes listed in registry.h with a
 * short message safe for tenants: curl's strerror text or the upstream's own
 * error text, never a header, the URL's query or the credential (the key is
 * also scrubbed from the final message in case an upstream echoes it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/util.h"
#include "host/sched.h"
#include "providers/pjson.h"
#include "providers/registry.h"
#include "providers/sse.h"

#define UP_MAX_BODY (16u * 1024u * 1024u) /* cap on a non-streamed response body */
#define UP_INBOX_MAX (64u * 1024u)        /* stream bytes waiting for their request */
#define UP_POOL 64                        /* idle easy handles kept per thread */

static __thread CURL *up_curl;          /* for calls outside a request coroutine */
static __thread CURL *up_pool[UP_POOL]; /* for calls in coroutines: one handle per call */
static __thread int up_npool;

/* State of one HTTP transfer, shared by the curl callbacks. */
struct up_xfer {
	const struct ah_provider *ad; /* the adapter */
	const struct ah_call *call;   /* the call (with base_url/api_key resolved) */
	struct ah_result *res;        /* where errors go */
	CURL *curl;                   /* the handle, for getinfo in callbacks */
	ah_emit_fn emit;              /* caller's sink, NULL for non-streamed calls */
	void *emit_ctx;
	int mode;              /* UP_MODE_* once the status is known */
	long status;           /* HTTP status */
	struct buf body;       /* collected body (non-streamed or error) */
	struct sse_parser sse; /* SSE framing of a streamed body */
	void *state;           /* adapter stream state */
	int events;            /* SSE events delivered */
	int complete;          /* the adapter said the stream is complete */
	int stopped;           /* emit asked to stop */
	int failed;            /* the adapter reported an error (res->error_* set) */
	int overflow;          /* body exceeded UP_MAX_BODY */
	int nomem;             /* out of memory in a callback */
	/* Parked mode (in a request coroutine, host/sched.h): the write callback runs in
	 * the scheduler, so it only queues stream bytes here and wakes the request. */
	struct coro *co;
	struct buf inbox;
	int paused; /* the callback refused bytes with CURL_WRITEFUNC_PAUSE */
};

enum { UP_MODE_UNKNOWN, UP_MODE_COLLECT, UP_MODE_SSE };

int64_t provider_estimate_tokens(const char *text, size_t len)
{
	if (text == NULL || len == 0)
		return 0;
	return (int64_t)((len + 3) / 4);
}

void provider_result_free(struct ah_result *res)
{
	if (res == NULL)
		return;
	free(res->text);
	res->text = NULL;
	for (size_t i = 0; i < res->n_tool_calls; i++) {
		free(res->tool_calls[i].id);
		free(res->tool_calls[i].name);
		free(res->tool_calls[i].arguments);
	}
	free(res->tool_calls);
	res->tool_calls = NULL;
	res->n_tool_calls = 0;
}

void provider_thread_cleanup(void)
{
	if (up_curl != NULL) {
		curl_easy_cleanup(up_curl);
		up_curl = NULL;
	}
	while (up_npool > 0)
		curl_easy_cleanup(up_pool[--up_npool]);
}

/* A handle for one call: the thread's own outside coroutines, else one from the pool. */
static CURL *up_handle_get(void)
{
	if (!sched_in_coro()) {
		if (up_curl == NULL)
			up_curl = curl_easy_init();
		return up_curl;
	}
	if (up_npool > 0)
		return up_pool[--up_npool];
	return curl_easy_init();
}

static void up_handle_put(CURL *c)
{
	if (c == NULL || c == up_curl)
		return;
	if (up_npool < UP_POOL) {
		up_pool[up_npool++] = c;
		return;
	}
	curl_easy_cleanup(c);
}

/* Free what an adapter put in a request. */
static void up_request_free(struct ah_http_request *rq)
{
	size_t i;

	free(rq->url);
	for (i = 0; i < rq->n_headers && i < AH_MAX_HEADERS; i++)
		free(rq->headers[i]);
	free(rq->body);
	memset(rq, 0, sizeof(*rq));
}

/* The emit wrapper adapters call: remembers that the caller asked to stop. */
static int up_emit(void *ctx, const char *text, size_t len)
{
	struct up_xfer *x = ctx;
	int rc;

	if (x->emit == NULL || len == 0)
		return 0;
	rc = x->emit(x->emit_ctx, text, len);
	if (rc != 0)
		x->stopped = 1;
	return rc;
}

/* SSE dispatch: hand one event to the adapter. Non-zero stops the parser. */
static int up_on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct up_xfer *x = ctx;
	int rc;

	if (x->complete)
		return 0;
	x->events++;
	rc = x->ad->stream_event(x->state, event, data, len, up_emit, x, x->res);
	if (rc == 0 && !x->stopped)
		return 0;
	if (rc == 1) {
		x->complete = 1;
		return x->stopped;
	}
	if (rc == 2 || x->stopped) {
		x->stopped = 1;
		return 1;
	}
	x->failed = 1;
	if (x->res->error_code[0] == '\0')
		pjson_fail(x->res, R_upstream_bad_response, "%s: cannot read the stream",
		           x->ad->name);
	return 1;
}

/* Decide at the first body byte whether to parse SSE or collect the body. */
static void up_pick_mode(struct up_xfer *x)
{
	char *ctype = NULL;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
	x->mode = UP_MODE_COLLECT;
	if (x->emit == NULL || x->status < 200 || x->status >= 300 || x->state == NULL)
		return;
	/* A server that ignores "stream" answers JSON: collect it and emit it whole. */
	if (curl_easy_getinfo(x->curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK &&
	    ctype != NULL && util_has_prefix_ci(ctype, "application/json"))
		return;
	x->mode = UP_MODE_SSE;
}

/* libcurl write callback. Returns n to go on, 0 to abort the transfer. */
static size_t up_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct up_xfer *x = ud;
	size_t n = size * nmemb;
	int rc;

	if (x->mode == UP_MODE_UNKNOWN)
		up_pick_mode(x);
	if (x->mode == UP_MODE_COLLECT) {
		if (x->body.len + n > UP_MAX_BODY) {
			x->overflow = 1;
			return 0;
		}
		if (buf_append(&x->body, ptr, n) != 0) {
			x->nomem = 1;
			return 0;
		}
		return n;
	}
	if (x->complete)
		return n;
	if (x->co != NULL) {
		/* In the scheduler: queue for the request, which parses and emits. */
		if (x->inbox.len > 0 && x->inbox.len + n > UP_INBOX_MAX) {
			x->paused = 1;
			sched_wake(x->co);
			return CURL_WRITEFUNC_PAUSE;
		}
		if (buf_append(&x->inbox, ptr, n) != 0) {
			x->nomem = 1;
			return 0;
		}
		sched_wake(x->co);
		return n;
	}
	rc = sse_feed(&x->sse, ptr, n);
	if (rc == 0)
		return n;
	if (rc == -1 && !x->stopped && !x->failed)
		x->overflow = 1;
	return 0;
}

/* Map a curl failure to a reason code and message. Returns -1. */
static int up_curl_error(struct up_xfer *x, CURLcode cc)
{
	const char *name = x->ad->name;

	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return pjson_fail(x->res, R_upstream_timeout, "%s upstream timed out", name);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		if (x->events > 0)
			return pjson_fail(x->res, R_upstream_error,
			                  "%s upstream stream was cut: %s", name,
			                  curl_easy_strerror(cc));
		return pjson_fail(x->res, R_upstream_unavailable, "%s upstream unavailable: %s",
		                  name, curl_easy_strerror(cc));
	case CURLE_PARTIAL_FILE:
		return pjson_fail(x->res, R_upstream_error, "%s upstream response was cut", name);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return pjson_fail(x->res, R_provider_error, "%s: the base URL is not usable", name);
	default:
		return pjson_fail(x->res, R_upstream_unavailable, "%s upstream request failed: %s",
		                  name, curl_easy_strerror(cc));
	}
}

/* Set up the thread's handle for one POST. 0, or -1 with res->error_* set. */
static int up_setup(CURL *c, const struct provider_instance *inst, struct ah_http_request *rq,
                    struct curl_slist *hdrs, struct up_xfer *x)
{
	int timeout = inst->timeout_ms > 0 ? inst->timeout_ms : 120000;
	int connect = inst->connect_timeout_ms > 0 ? inst->connect_timeout_ms : 10000;

	if (curl_easy_setopt(c, CURLOPT_URL, rq->url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body != NULL ? rq->body : "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	                     (curl_off_t)(rq->body != NULL ? rq->body_len : 0)) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "identity") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "agenthost/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, up_write) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, x) != CURLE_OK)
		return pjson_fail(x->res, R_provider_error, "%s: cannot configure the HTTP client",
		                  inst->name);
	return 0;
}

/* The headers of rq as a curl list (plus "Expect:" and the request id). NULL when out of memory. */
static struct curl_slist *up_headers(const struct ah_http_request *rq, const char *request_id)
{
	struct curl_slist *l = NULL, *t;
	char rid[80];
	size_t i;

	/* Without this curl waits for "100 Continue" on bigger bodies: a wasted round trip. */
	if ((t = curl_slist_append(l, "Expect:")) == NULL)
		goto fail;
	l = t;
	for (i = 0; i < rq->n_headers && i < AH_MAX_HEADERS; i++) {
		if (rq->headers[i] == NULL || !pjson_header_safe(rq->headers[i]))
			continue;
		if ((t = curl_slist_append(l, rq->headers[i])) == NULL)
			goto fail;
		l = t;
	}
	if (request_id != NULL && request_id[0] != '\0' && pjson_header_safe(request_id) &&
	    strlen(request_id) < 48) {
		snprintf(rid, sizeof(rid), "X-Request-Id: %s", request_id);
		if ((t = curl_slist_append(l, rid)) == NULL)
			goto fail;
		l = t;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/*
 * The transfer in a request coroutine: the scheduler's multi handle moves the
 * bytes while the request is parked; the request wakes to parse and emit what
 * arrived (which may park it again on a slow client), then resumes a paused
 * transfer. Returns the transfer's result like curl_easy_perform.
 */
static CURLcode up_perform_parked(struct up_xfer *x)
{
	CURLcode cc = CURLE_OK;

	if (sched_xfer_start(x->curl) < 0) {
		x->co = NULL;
		return curl_easy_perform(x->curl);
	}
	for (;;) {
		int done = sched_xfer_done(x->curl, &cc);

		if (x->inbox.len > 0) {
			int rc = x->complete ? 0 : sse_feed(&x->sse, x->inbox.data, x->inbox.len);

			x->inbox.len = 0;
			if (rc != 0) {
				if (rc == -1 && !x->stopped && !x->failed)
					x->overflow = 1;
				cc = CURLE_WRITE_ERROR;
				break;
			}
		}
		if (done)
			break;
		if (x->paused) {
			x->paused = 0;
			curl_easy_pause(x->curl, CURLPAUSE_CONT); /* may queue bytes at once */
			continue;
		}
		sched_park(-1);
	}
	sched_xfer_stop(x->curl);
	x->co = NULL;
	return cc;
}

/* A streamed call whose upstream answered plain JSON: parse it and emit it whole. */
static int up_finish_json_stream(struct up_xfer *x)
{
	int rc =
	    x->ad->parse_response(x->call, (int)x->status, buf_str(&x->body), x->body.len, x->res);

	if (rc != 0)
		return -1;
	if (x->res->text != NULL && up_emit(x, x->res->text, strlen(x->res->text)) != 0)
		return pjson_fail(x->res, R_client_disconnected,
		                  "the client went away during the stream");
	return 0;
}

/* Turn an HTTP error status into res->error_*. Returns -1. */
static int up_http_error(struct up_xfer *x)
{
	enum reason code = pjson_status_code((int)x->status);

	if (x->state != NULL && x->ad->parse_error != NULL)
		x->ad->parse_error((int)x->status, buf_str(&x->body), x->body.len, x->res);
	else
		x->ad->parse_response(x->call, (int)x->status, buf_str(&x->body), x->body.len,
		                      x->res);
	free(x->res->text);
	x->res->text = NULL;
	/* The status decides the reason code, whatever the adapter chose. */
	util_strlcpy(x->res->error_code, reason_name(code), sizeof(x->res->error_code));
	if (x->res->error_message[0] == '\0')
		pjson_fail(x->res, code, "%s upstream returned HTTP %ld", x->ad->name, x->status);
	return -1;
}

/* One HTTP call through an adapter. 0, or -1 with res->error_* set. */
static int up_http(const struct provider_instance *inst, const struct ah_call *call,
                   ah_emit_fn emit, void *emit_ctx, struct ah_result *res)
{
	const struct ah_provider *ad = inst->adapter;
	struct ah_http_request rq;
	struct curl_slist *hdrs = NULL;
	struct up_xfer x;
	struct ah_result scratch;
	CURLcode cc;
	int rc = -1, streaming = call->stream && emit != NULL && ad->stream_begin != NULL &&
	                         ad->stream_event != NULL && ad->stream_end != NULL;
	struct ah_call c = *call;

	memset(&rq, 0, sizeof(rq));
	memset(&x, 0, sizeof(x));
	buf_init(&x.body);
	buf_init(&x.inbox);
	sse_init(&x.sse, up_on_event, &x);
	/* An adapter without streaming gets a plain call; the whole text is emitted at the end. */
	c.stream = streaming;
	x.ad = ad;
	x.call = &c;
	x.res = res;
	x.emit = call->stream ? emit : NULL;
	x.emit_ctx = emit_ctx;

	if (ad->build_request(&c, &rq, res) != 0) {
		if (res->error_code[0] == '\0')
			pjson_fail(res, R_provider_error, "%s: cannot build the request", ad->name);
		goto out;
	}
	if (rq.url == NULL ||
	    (strncmp(rq.url, "http://", 7) != 0 && strncmp(rq.url, "https://", 8) != 0)) {
		pjson_fail(res, R_provider_error, "%s: the base URL must be http:// or https://",
		           ad->name);
		goto out;
	}
	if ((x.curl = up_handle_get()) == NULL) {
		pjson_fail(res, R_provider_error, "cannot create an HTTP client");
		goto out;
	}
	curl_easy_reset(x.curl);
	if ((hdrs = up_headers(&rq, call->request_id)) == NULL) {
		pjson_fail(res, R_provider_error, "out of memory building the request");
		goto out;
	}
	if (streaming && (x.state = ad->stream_begin(&c)) == NULL) {
		pjson_fail(res, R_provider_error, "%s: cannot start the stream", ad->name);
		goto out;
	}
	if (up_setup(x.curl, inst, &rq, hdrs, &x) != 0)
		goto out;

	if (sched_in_coro()) {
		x.co = sched_self();
		cc = up_perform_parked(&x);
	} else {
		cc = curl_easy_perform(x.curl);
	}
	if (x.mode == UP_MODE_UNKNOWN)
		curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &x.status);
	res->upstream_status = (int)x.status;

	if (x.state != NULL && (x.mode == UP_MODE_SSE || x.mode == UP_MODE_UNKNOWN)) {
		/* What was streamed so far is the result, even when the call failed. */
		ad->stream_end(x.state, res);
		x.state = NULL;
	}
	if (x.stopped) {
		pjson_fail(res, R_client_disconnected, "the client went away during the stream");
	} else if (x.failed) {
		if (res->error_code[0] == '\0')
			pjson_fail(res, R_upstream_error, "%s upstream reported an error",
			           ad->name);
	} else if (x.overflow) {
		pjson_fail(res, R_upstream_bad_response, "%s upstream response is too large",
		           ad->name);
	} else if (x.nomem) {
		pjson_fail(res, R_provider_error, "out of memory reading the response");
	} else if (cc != CURLE_OK && !(x.complete && cc == CURLE_WRITE_ERROR)) {
		up_curl_error(&x, cc);
	} else if (x.status >= 400) {
		if (x.state != NULL) {
			/* The stream state was never used: release it into a scratch result. */
			memset(&scratch, 0, sizeof(scratch));
			ad->stream_end(x.state, &scratch);
			x.state = NULL;
			provider_result_free(&scratch);
		}
		up_http_error(&x);
	} else if (x.status < 200 || x.status >= 300) {
		pjson_fail(res, R_upstream_error,
		           "%s upstream answered HTTP %ld (redirects are not followed)", ad->name,
		           x.status);
	} else if (x.mode == UP_MODE_SSE) {
		if (!x.complete && res->finish_reason[0] == '\0')
			pjson_fail(res, R_upstream_error,
			           "%s upstream stream ended before completion", ad->name);
		else
			rc = 0;
	} else if (x.emit != NULL) {
		rc = up_finish_json_stream(&x);
	} else {
		rc = ad->parse_response(&c, (int)x.status, buf_str(&x.body), x.body.len, res);
		if (rc != 0 && res->error_code[0] == '\0')
			pjson_fail(res, R_upstream_bad_response, "%s: cannot read the response",
			           ad->name);
	}
out:
	if (x.state != NULL) {
		memset(&scratch, 0, sizeof(scratch));
		ad->stream_end(x.state, &scratch);
		provider_result_free(&scratch);
	}
	if (x.curl != NULL) {
		/* Drop pointers into this call's memory before the handle is reused. */
		curl_easy_setopt(x.curl, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(x.curl, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(x.curl, CURLOPT_WRITEDATA, NULL);
		up_handle_put(x.curl);
	}
	curl_slist_free_all(hdrs);
	/* Headers carry the credential: wipe before freeing. */
	for (size_t i = 0; i < rq.n_headers && i < AH_MAX_HEADERS; i++)
		if (rq.headers[i] != NULL)
			explicit_bzero(rq.headers[i], strlen(rq.headers[i]));
	up_request_free(&rq);
	sse_free(&x.sse);
	buf_free(&x.body);
	buf_free(&x.inbox);
	return rc;
}

/* Replace every occurrence of key in s with "[redacted]" (in place, truncating). */
static void up_scrub(char *s, size_t cap, const char *key)
{
	static const char red[] = "[redacted]";
	size_t klen, rlen = sizeof(red) - 1, tail;
	char *p;

	if (key == NULL || (klen = strlen(key)) < 4)
		return;
	while ((p = strstr(s, key)) != NULL) {
		tail = strlen(p + klen);
		if ((size_t)(p - s) + rlen + tail + 1 > cap)
			tail = cap - 1 - (size_t)(p - s) - rlen;
		memmove(p + rlen, p + klen, tail);
		memcpy(p, red, rlen);
		p[rlen + tail] = '\0';
	}
}

enum reason provider_reason(const struct ah_result *res)
{
	enum reason code = reason_lookup(res->error_code);

	/* Only the codes a provider may report (RF_PROVIDER): a plugin cannot speak for admission.
	 */
	return reason_flags(code) & RF_PROVIDER ? code : R_provider_error;
}

/*
 * Check the tool parts of a call: every offered tool has a name, a
 * description and a parameters schema; every tool message names its call and
 * tool; every assistant tool call has an id, a name and arguments. Adapters
 * then never see NULL there. 0, or -1 with res->error_* set.
 */
static int up_check_tools(const struct ah_call *call, struct ah_result *res)
{
	const struct ah_message *m;
	size_t i, j;

	if (call->n_tools > 0 && call->tools == NULL)
		return pjson_fail(res, R_provider_error, "the call has no tools array");
	for (i = 0; i < call->n_tools; i++)
		if (call->tools[i].name == NULL || call->tools[i].name[0] == '\0' ||
		    call->tools[i].description == NULL || call->tools[i].parameters == NULL)
			return pjson_fail(res, R_provider_error,
			                  "tool %zu has no name, description or parameters", i);
	for (i = 0; i < call->n_messages; i++) {
		m = &call->messages[i];
		if (strcmp(m->role, "tool") == 0 &&
		    (m->tool_call_id == NULL || m->tool_name == NULL))
			return pjson_fail(res, R_provider_error,
			                  "tool message %zu has no call id or tool name", i);
		if (m->n_tool_calls > 0 && m->tool_calls == NULL)
			return pjson_fail(res, R_provider_error,
			                  "message %zu has no tool_calls array", i);
		for (j = 0; j < m->n_tool_calls; j++)
			if (m->tool_calls[j].id == NULL || m->tool_calls[j].name == NULL ||
			    m->tool_calls[j].arguments == NULL)
				return pjson_fail(res, R_provider_error,
				                  "tool call %zu of message %zu is incomplete", j,
				                  i);
	}
	return 0;
}

int provider_invoke(const struct provider_instance *inst, const struct ah_call *call,
                    ah_emit_fn emit, void *emit_ctx, struct ah_result *res)
{
	struct ah_call c;
	const struct ah_provider *ad;
	int64_t prompt = 0;
	size_t i;
	int rc;

	memset(res, 0, sizeof(*res));
	if (inst == NULL || inst->adapter == NULL || call == NULL)
		return pjson_fail(res, R_provider_error, "no provider for this call");
	ad = inst->adapter;
	if (call->n_messages > 0 && call->messages == NULL)
		return pjson_fail(res, R_provider_error, "the call has no messages");
	for (i = 0; i < call->n_messages; i++)
		if (call->messages[i].role == NULL || call->messages[i].content == NULL)
			return pjson_fail(res, R_provider_error,
			                  "message %zu has no role or content", i);
	if (up_check_tools(call, res) != 0)
		return -1;
	for (i = 0; i < call->n_inputs; i++)
		if (call->inputs == NULL || call->inputs[i] == NULL)
			return pjson_fail(res, R_provider_error, "embedding input %zu is missing",
			                  i);
	if (call->n_inputs > 0 && !(ad->flags & AH_PROVIDER_EMBEDDINGS))
		return pjson_fail(res, R_provider_error, "%s: the adapter has no embeddings",
		                  ad->name);
	c = *call;
	if (c.base_url == NULL || c.base_url[0] == '\0')
		c.base_url = inst->base_url;
	if (c.api_key == NULL)
		c.api_key = "";
	if (c.request_id == NULL)
		c.request_id = "";
	if (c.model == NULL)
		c.model = "";
	if (emit == NULL || c.n_inputs > 0)
		c.stream = 0;
	if (!c.stream)
		c.emit_tool = NULL;

	if (ad->flags & AH_PROVIDER_LOCAL)
		rc = ad->generate(&c, emit, emit_ctx, res);
	else
		rc = up_http(inst, &c, emit, emit_ctx, res);

	if (rc != 0) {
		rc = -1;
		if (provider_reason(res) == R_provider_error) {
			util_strlcpy(res->error_code, reason_name(R_provider_error),
			             sizeof(res->error_code));
			if (res->error_message[0] == '\0')
				pjson_fail(res, R_provider_error, "%s: the provider failed",
				           ad->name);
		}
	} else {
		res->error_code[0] = '\0';
		res->error_message[0] = '\0';
		if (res->text == NULL && pjson_set_text(res, "", 0) != 0)
			rc = -1;
		if (res->finish_reason[0] == '\0')
			pjson_set_finish(res, "stop");
	}
	if (!res->usage.have) {
		if (rc == 0 || (res->text != NULL && res->text[0] != '\0')) {
			for (i = 0; i < c.n_messages; i++)
				prompt += provider_estimate_tokens(c.messages[i].content,
				                                   strlen(c.messages[i].content));
			for (i = 0; i < c.n_inputs; i++)
				prompt +=
				    provider_estimate_tokens(c.inputs[i], strlen(c.inputs[i]));
			res->usage.prompt_tokens = prompt;
			/* An embedding's text is its vectors: no output tokens. */
			res->usage.completion_tokens =
			    res->text != NULL && c.n_inputs == 0
			        ? provider_estimate_tokens(res->text, strlen(res->text))
			        : 0;
			for (i = 0; i < res->n_tool_calls; i++)
				res->usage.completion_tokens +=
				    provider_estimate_tokens(res->tool_calls[i].arguments,
				                             strlen(res->tool_calls[i].arguments)) +
				    4;
		}
	} else if (rc != 0 && res->usage.completion_tokens == 0 && res->text != NULL) {
		/* A cut stream reported the prompt but not the output: estimate that part. */
		res->usage.completion_tokens =
		    provider_estimate_tokens(res->text, strlen(res->text));
	}
	up_scrub(res->error_message, sizeof(res->error_message), c.api_key);
	return rc;
}

/* ------------------------------------------------------------------ key check */

/* The cheapest authenticated call of each built-in adapter: list the models. */
static const struct {
	const char *adapter;
	const char *path; /* appended to the instance's base URL */
} up_models_paths[] = {
    {"openai", "/models"},
    {"anthropic", "/v1/models"},
    {"gemini", "/v1beta/models"},
};

/* CURLOPT_WRITEFUNCTION that keeps nothing: the check needs the status only. */
static size_t up_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

int provider_verify_key(const struct provider_instance *inst, const char *key, char *err,
                        size_t errlen)
{
	const struct ah_provider *ad = inst->adapter;
	const struct ah_message ping = {.role = "user", .content = "ping"};
	struct ah_http_request rq;
	struct ah_result res;
	struct ah_call call;
	struct curl_slist *hdrs = NULL;
	const char *path = NULL;
	char url[512];
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	int connect = inst->connect_timeout_ms > 0 ? inst->connect_timeout_ms : 10000;
	int rc = -1;

	memset(&rq, 0, sizeof(rq));
	memset(&res, 0, sizeof(res));
	for (size_t i = 0; i < ARRAY_SIZE(up_models_paths); i++)
		if (strcmp(ad->name, up_models_paths[i].adapter) == 0)
			path = up_models_paths[i].path;
	if (path == NULL || ad->build_request == NULL) {
		snprintf(err, errlen, "provider '%s' (adapter %s) has no key check", inst->name,
		         ad->name);
		return -1;
	}
	/* the adapter's own headers (its auth header and version headers) for a dummy call */
	memset(&call, 0, sizeof(call));
	call.model = "verify";
	call.messages = &ping;
	call.n_messages = 1;
	call.max_tokens = 1;
	call.base_url = inst->base_url;
	call.api_key = key;
	if (ad->build_request(&call, &rq, &res) != 0) {
		snprintf(err, errlen, "provider '%s': the request cannot be built", inst->name);
		goto out;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s%s", inst->base_url, path) >= sizeof(url) ||
	    (hdrs = up_headers(&rq, NULL)) == NULL || (c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "provider '%s': out of memory or URL too long", inst->name);
		goto out;
	}
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "agenthost/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, up_discard) != CURLE_OK) {
		snprintf(err, errlen, "provider '%s': cannot configure the HTTP client",
		         inst->name);
		goto out;
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "provider '%s': the check did not reach it: %s", inst->name,
		         curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 401 || status == 403)
		snprintf(err, errlen, "provider '%s' refused the key (HTTP %ld)", inst->name,
		         status);
	else if (status < 200 || status > 299)
		snprintf(err, errlen, "provider '%s': the check answered HTTP %ld", inst->name,
		         status);
	else
		rc = 0;
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	up_request_free(&rq);
	provider_result_free(&res);
	return rc;
}
