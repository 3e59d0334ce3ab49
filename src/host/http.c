/*
 * http.c: request accessors and response writers (see http.h).
 *
 * DESIGN
 * Headers come as CGI params (HTTP_AUTHORIZATION ...), so a header lookup
 * maps the HTTP name to its param name. Complete responses are built in
 * memory and written with Content-Length in one go, so a failure while
 * building never leaves a half-sent 200. SSE responses are written and
 * flushed event by event; the first failed write marks the client gone and
 * every later write is a no-op returning -1.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conf.h"
#include "common/log.h"
#include "host/http.h"

const char *req_param(const struct req *r, const char *name)
{
	size_t n = strlen(name);

	if (r->env == NULL)
		return NULL;
	for (char **e = r->env; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

const char *req_header(const struct req *r, const char *name)
{
	char key[128];
	size_t i = 0, j = 0;

	if (strcasecmp(name, "Content-Type") != 0 && strcasecmp(name, "Content-Length") != 0) {
		memcpy(key, "HTTP_", 5);
		i = 5;
	}
	for (; name[j] && i < sizeof(key) - 1; j++, i++)
		key[i] = name[j] == '-' ? '_' : (char)toupper((unsigned char)name[j]);
	key[i] = '\0';
	return req_param(r, key);
}

int http_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode one application/x-www-form-urlencoded value of n bytes; -1 when bad or too long. */
static int url_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return -1;
			h = http_hexval((unsigned char)s[i + 1]);
			l = http_hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
			if (c == 0)
				return -1;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int http_form_value(const char *qs, size_t n, const char *name, char *out, size_t cap)
{
	const char *q = qs, *end = qs + n, *amp, *eq;
	size_t nl = strlen(name);

	while (q < end) {
		amp = memchr(q, '&', (size_t)(end - q));
		if (amp == NULL)
			amp = end;
		eq = memchr(q, '=', (size_t)(amp - q));
		if ((size_t)((eq ? eq : amp) - q) == nl && strncmp(q, name, nl) == 0) {
			if (eq == NULL) {
				if (cap)
					out[0] = '\0';
				return 1;
			}
			return url_decode(eq + 1, (size_t)(amp - eq - 1), out, cap) < 0 ? -1 : 1;
		}
		q = amp + 1;
	}
	return 0;
}

int req_query(const struct req *r, const char *name, char *out, size_t cap)
{
	return r->query ? http_form_value(r->query, strlen(r->query), name, out, cap) : 0;
}

/* Deepest nesting of arrays/objects in a JSON text, ignoring strings. */
static int json_depth(const char *s, size_t n, int limit)
{
	int d = 0, max = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++d > max)
				max = d;
			if (max > limit)
				return max;
		} else if (c == '}' || c == ']')
			d--;
	}
	return max;
}

json_t *req_json_object(struct req *r)
{
	json_error_t jerr;
	json_t *v;

	if (r->body.len == 0) {
		resp_error(r, R_invalid_json, "request body must be a JSON object");
		return NULL;
	}
	if (json_depth(r->body.data, r->body.len, r->conf->max_json_depth) >
	    r->conf->max_json_depth) {
		resp_error(r, R_json_too_deep, "JSON nesting deeper than %d levels",
		           r->conf->max_json_depth);
		return NULL;
	}
	v = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		resp_error(r, R_invalid_json, "malformed JSON at line %d column %d: %s", jerr.line,
		           jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		resp_error(r, R_invalid_json, "request body must be a JSON object");
		return NULL;
	}
	return v;
}

void resp_header(struct req *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return;
	buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

void resp_header_drop(struct req *r, const char *name)
{
	size_t n = strlen(name), i = 0, w = 0;
	char *d = r->headers.data;

	while (d != NULL && i < r->headers.len) {
		char *eol = strstr(d + i, "\r\n");
		size_t len = eol != NULL ? (size_t)(eol - (d + i)) + 2 : r->headers.len - i;

		if (!(len > n && d[i + n] == ':' && strncasecmp(d + i, name, n) == 0)) {
			memmove(d + w, d + i, len);
			w += len;
		}
		i += len;
	}
	if (d != NULL) {
		r->headers.len = w;
		d[w] = '\0';
	}
}

void resp_header_i64(struct req *r, const char *name, int64_t value)
{
	char v[24];

	snprintf(v, sizeof(v), "%lld", (long long)value);
	resp_header(r, name, v);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

static int out_write(struct req *r, const void *p, size_t n)
{
	if (r->client_gone)
		return -1;
	if (n && r->write(r->io, p, n) < 0) {
		r->client_gone = 1;
		return -1;
	}
	return 0;
}

/* Write the header block. length < 0 means no Content-Length (streaming). */
static int send_headers(struct req *r, int status, const char *ctype, long long length)
{
	struct buf h = BUF_INIT;
	int rc;

	if (r->headers_sent)
		return -1;
	r->headers_sent = 1;
	r->status = status;
	buf_printf(&h, "Status: %d %s\r\nContent-Type: %s\r\nX-Request-Id: %s\r\n", status,
	           status_text(status), ctype, r->request_id);
	if (length >= 0)
		buf_printf(&h, "Content-Length: %lld\r\n", length);
	buf_puts(&h, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
	buf_append(&h, buf_str(&r->headers), r->headers.len);
	buf_puts(&h, "\r\n");
	rc = h.data ? out_write(r, h.data, h.len) : -1;
	buf_free(&h);
	return rc;
}

void resp_body(struct req *r, int status, const char *ctype, const char *body, size_t n)
{
	if (send_headers(r, status, ctype, (long long)n) == 0)
		out_write(r, body, n);
}

void resp_json(struct req *r, int status, json_t *body)
{
	char *s = NULL;

	if (r->headers_sent) {
		json_decref(body);
		return;
	}
	if (body)
		s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL) {
		static const char oom[] = "{\"error\":{\"message\":\"out of memory\","
		                          "\"type\":\"api_error\",\"code\":\"internal_error\","
		                          "\"reason_code\":\"internal_error\"}}\n";
		send_headers(r, 500, "application/json", (long long)sizeof(oom) - 1);
		out_write(r, oom, sizeof(oom) - 1);
		return;
	}
	size_t n = strlen(s);
	if (send_headers(r, status, "application/json", (long long)n + 1) == 0) {
		out_write(r, s, n);
		out_write(r, "\n", 1);
	}
	free(s);
}

/*
 * The reason and status rf is answered with: a code that cannot be an
 * answer becomes internal_error (logged when log is set: once per response).
 */
static int resp_refusal_status(const struct req *r, const struct refusal *rf, enum reason *reason,
                               int log)
{
	int status = reason_status(rf->reason);

	*reason = rf->reason;
	if (rf->reason == R_none || status == 0) {
		if (log)
			log_error("http: request %s: reason '%s' is not an HTTP answer",
			          r->request_id, reason_name(rf->reason));
		*reason = R_internal_error;
		return reason_status(*reason);
	}
	/* 499 is what the execution records; a client still listening gets a plain 400. */
	return status == 499 ? 400 : status;
}

/* Length of the valid UTF-8 sequence at s, or 0 when the byte there does not start one. */
static size_t http_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Copy s into out (cap bytes), each byte of an invalid UTF-8 sequence made '?'. */
static void http_utf8_clean(char *out, size_t cap, const char *s)
{
	size_t i, n;

	snprintf(out, cap, "%s", s);
	for (i = 0; out[i] != '\0'; i += n ? n : 1) {
		n = http_utf8_len((const unsigned char *)out + i);
		if (n == 0)
			out[i] = '?';
	}
}

json_t *resp_error_object(const struct req *r, const struct refusal *rf)
{
	enum reason reason;
	char msg[sizeof(rf->message)], param[sizeof(rf->param)];

	resp_refusal_status(r, rf, &reason, 0);
	/*
	 * jansson refuses invalid UTF-8, and a message may quote request bytes (a parser's
	 * error text) or be cut inside a character by a "%.100s": such bytes become '?',
	 * or the client would get a 500 instead of this error.
	 */
	http_utf8_clean(msg, sizeof(msg), rf->message);
	http_utf8_clean(param, sizeof(param), rf->param);
	return json_pack("{s:{s:s, s:s, s:s, s:s?, s:s, s:s}}", "error", "message", msg, "type",
	                 reason_type(reason), "code", reason_name(reason), "param",
	                 param[0] ? param : NULL, "reason_code", reason_name(reason), "request_id",
	                 r->request_id);
}

void resp_note_reason(struct req *r, enum reason reason)
{
	r->reason = reason;
	snprintf(r->reason_code, sizeof(r->reason_code), "%s", reason_name(reason));
}

void resp_refusal_body(struct req *r, const struct refusal *rf, json_t *body)
{
	enum reason reason;
	int status = resp_refusal_status(r, rf, &reason, 1);

	if (rf->retry_after > 0)
		resp_header_i64(r, "Retry-After", rf->retry_after);
	resp_note_reason(r, reason);
	resp_json(r, status, body);
}

void resp_refusal(struct req *r, const struct refusal *rf)
{
	resp_refusal_body(r, rf, resp_error_object(r, rf));
}

void resp_error(struct req *r, enum reason reason, const char *fmt, ...)
{
	struct refusal rf;
	va_list ap;

	va_start(ap, fmt);
	reason_vset(&rf, reason, fmt, ap);
	va_end(ap);
	resp_refusal(r, &rf);
}

void resp_error_param(struct req *r, enum reason reason, const char *param, const char *fmt, ...)
{
	struct refusal rf;
	va_list ap;

	va_start(ap, fmt);
	reason_vset(&rf, reason, fmt, ap);
	va_end(ap);
	reason_param(&rf, param);
	resp_refusal(r, &rf);
}

int resp_sse_begin(struct req *r)
{
	resp_header(r, "X-Accel-Buffering", "no");
	if (send_headers(r, 200, "text/event-stream; charset=utf-8", -1) < 0)
		return -1;
	return r->flush(r->io) < 0 ? (r->client_gone = 1, -1) : 0;
}

static ssize_t stream_write(void *cookie, const char *p, size_t n)
{
	struct req *r = cookie;

	if (r->client_gone || out_write(r, p, n) < 0)
		return -1;
	return (ssize_t)n;
}

static int stream_close(void *cookie)
{
	struct req *r = cookie;

	if (r->client_gone || r->flush(r->io) < 0) {
		r->client_gone = 1;
		return -1;
	}
	return 0;
}

FILE *resp_stream_begin(struct req *r, const char *ctype)
{
	cookie_io_functions_t io = {
	    .read = NULL, .write = stream_write, .seek = NULL, .close = stream_close};
	FILE *f;

	resp_header(r, "X-Accel-Buffering", "no");
	if (send_headers(r, 200, ctype, -1) < 0)
		return NULL;
	f = fopencookie(r, "w", io);
	if (f == NULL)
		r->client_gone = 1;
	return f;
}

int resp_sse_send(struct req *r, const char *event, const char *data, size_t len)
{
	if (r->client_gone)
		return -1;
	if (event && (out_write(r, "event: ", 7) < 0 || out_write(r, event, strlen(event)) < 0 ||
	              out_write(r, "\n", 1) < 0))
		return -1;
	if (out_write(r, "data: ", 6) < 0 || out_write(r, data, len) < 0 ||
	    out_write(r, "\n\n", 2) < 0)
		return -1;
	if (r->flush(r->io) < 0) {
		r->client_gone = 1;
		return -1;
	}
	return 0;
}

int resp_sse_json(struct req *r, const char *event, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	int rc;

	json_decref(v);
	if (s == NULL)
		return -1;
	rc = resp_sse_send(r, event, s, strlen(s));
	free(s);
	return rc;
}

int resp_sse_ping(struct req *r)
{
	if (out_write(r, ": ping\n\n", 8) < 0)
		return -1;
	if (r->flush(r->io) < 0) {
		r->client_gone = 1;
		return -1;
	}
	return 0;
}
