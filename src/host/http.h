/*
 * http: one request and its response, independent of how it arrived.
 *
 * DESIGN
 * The worker (server.c) fills a struct req from FastCGI params or, in CGI
 * mode, from the process environment and stdin, then the router calls a
 * handler with it. Handlers read through req_* and answer through resp_*;
 * they never see FCGX. The response is built in memory and sent with a
 * Content-Length, except for Server-Sent Events, which are flushed event by
 * event. Every response carries X-Request-Id.
 */
#ifndef AH_HTTP_H
#define AH_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/reason.h"

struct store;
struct conf;

struct req {
	/* request */
	char **env;              /* NULL-terminated "NAME=value" params */
	const char *method;      /* REQUEST_METHOD */
	char path[2048];         /* decoded path below the mount prefix, no query */
	const char *query;       /* QUERY_STRING, "" when none */
	const char *remote_addr; /* REMOTE_ADDR */
	struct buf body;         /* request body (size-limited) */
	char request_id[33];     /* generated per request */
	int64_t start_us;        /* monotonic start time */

	/* context filled along the path */
	const struct conf *conf; /* process configuration */
	struct store *store;     /* this thread's store handle */
	int64_t tenant_id;       /* 0 until identified (for the log line) */
	const char *route;       /* route pattern, for the log line */
	char reason_code[48];    /* of an error response, for the log line */
	char operator_id[32];    /* operator API: "config" or "token:<id>", for audit rows */
	char model[64];          /* the model the request resolved, for /metrics ("" none) */
	enum reason reason;      /* of an error response, for /metrics */
	char end_user[65];       /* tenant API: X-Actor-Id, or the body's OpenAI "user"; "" */

	/* response */
	int status;         /* HTTP status sent */
	struct buf headers; /* extra "Name: value\r\n" lines */
	int headers_sent;   /* 1 once the header block went out */
	int client_gone;    /* 1 after a failed write */

	/* output (set by the server) */
	int (*write)(void *io, const void *p, size_t n); /* -1 on failure */
	int (*flush)(void *io);                          /* -1 on failure */
	void *io;
};

/* Value of one hexadecimal digit (percent-decoding), or -1. */
int http_hexval(int c);
/* A request header by HTTP name ("Authorization"), or NULL. */
const char *req_header(const struct req *r, const char *name);
/* A CGI/FastCGI param ("REQUEST_URI"), or NULL. */
const char *req_param(const struct req *r, const char *name);
/*
 * A query parameter, URL-decoded into out (cap bytes). Returns 1 when
 * present, 0 when absent, -1 when too long or malformed.
 */
int req_query(const struct req *r, const char *name, char *out, size_t cap);
/* The same for the n bytes of any application/x-www-form-urlencoded text (a form body). */
int http_form_value(const char *qs, size_t n, const char *name, char *out, size_t cap);
/*
 * Parse the body as a JSON object within conf limits. On failure sends the
 * error response (400 invalid_json / json_too_deep / invalid_request) and
 * returns NULL.
 */
json_t *req_json_object(struct req *r);

/* Add a response header line (name and value must not contain CR/LF). */
void resp_header(struct req *r, const char *name, const char *value);
/* Remove every header line named name (case-insensitive) added so far. */
void resp_header_drop(struct req *r, const char *name);
/* Add a response header with a decimal value. */
void resp_header_i64(struct req *r, const char *name, int64_t value);
/* Send a complete response of n bytes of content type ctype (not JSON: /metrics). */
void resp_body(struct req *r, int status, const char *ctype, const char *body, size_t n);
/* Send a complete JSON response; steals body. */
void resp_json(struct req *r, int status, json_t *body);
/*
 * Send rf as an OpenAI-shaped error with a stable reason_code:
 * {"error":{"message","type","code","param","reason_code","request_id"}}
 * ("param" names the request field at fault, null when none does).
 * Status and type are rf->reason's in the reason table
 * (common/tbl/reasons.h); Retry-After is added when rf->retry_after > 0.
 * A code recorded as 499 (the client went away) is answered 400 to a client
 * that is still there; R_none or a code that is never an HTTP answer is a
 * bug: logged, and answered 500 internal_error.
 */
void resp_refusal(struct req *r, const struct refusal *rf);
/* resp_refusal of reason with a formatted message. */
void resp_error(struct req *r, enum reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* resp_error naming the request field at fault (the error's "param", as OpenAI's). */
void resp_error_param(struct req *r, enum reason reason, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * resp_refusal with body instead of the plain error object (body: one from
 * resp_error_object with members added); steals body.
 */
void resp_refusal_body(struct req *r, const struct refusal *rf, json_t *body);
/* The error object of rf (not sent), for stream error events; new reference. */
json_t *resp_error_object(const struct req *r, const struct refusal *rf);
/* Name reason on the request's log line (for errors sent as stream events). */
void resp_note_reason(struct req *r, enum reason reason);

/* Begin a text/event-stream response (200). -1 when the client is gone. */
int resp_sse_begin(struct req *r);
/*
 * Start a streamed 200 response of content type ctype (no Content-Length;
 * the web server frames it) and return a stdio stream writing its body, or
 * NULL after a failure (the client is gone). Close it with fclose; a write
 * to a client that went away fails.
 */
FILE *resp_stream_begin(struct req *r, const char *ctype);
/* Send "event: <event>\n" (if event) + "data: <data>\n\n" and flush. -1 when gone. */
int resp_sse_send(struct req *r, const char *event, const char *data, size_t len);
/* Send a JSON value as one data event (steals v). */
int resp_sse_json(struct req *r, const char *event, json_t *v);
/* Send a ": ping" comment to detect a closed client. */
int resp_sse_ping(struct req *r);

#endif
