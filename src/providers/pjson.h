/*
 * pjson: helpers shared by the HTTP provider adapters (JSON bodies, request
 * building, error bodies, results).
 *
 * DESIGN
 * The three wire formats differ in field names but share their plumbing:
 * a JSON body serialised compactly, "Name: value" headers that must not carry
 * CR/LF, an error body of the shape {"error": {"message": ...}} and the
 * mapping from HTTP status to a reason code. Keeping these here keeps each
 * adapter file about its own format only.
 */
#ifndef AH_PJSON_H
#define AH_PJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/reason.h"
#include "providers/provider.h"

/* Set res->error_code (code's name) and a formatted, truncated res->error_message. Returns -1. */
int pjson_fail(struct ah_result *res, enum reason code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reason code for an HTTP error status: upstream_auth_failed, upstream_rate_limited,
 * upstream_error. */
enum reason pjson_status_code(int http_status);
/*
 * Fill res for a failed upstream answer (status >= 400): the reason code from
 * the status and a message that quotes the upstream's own error text when the
 * body has one ({"error":{"message"}} or [{"error":...}]). Returns -1.
 */
int pjson_http_error(const char *provider, int http_status, const char *body, size_t len,
                     struct ah_result *res);
/* The upstream's error message in a parsed body, or NULL. */
const char *pjson_error_message(const json_t *root);

/* Parse len bytes of JSON; NULL when it is not valid JSON. */
json_t *pjson_parse(const char *body, size_t len);
/* obj[key] when it is a string, else NULL. */
const char *pjson_str(const json_t *obj, const char *key);
/* obj[key] as an integer (0 when absent, not a number, or beyond int64_t). */
int64_t pjson_int(const json_t *obj, const char *key);
/* obj[key] when it is an object, else NULL. */
json_t *pjson_obj(const json_t *obj, const char *key);
/* obj[key][0] when obj[key] is a non-empty array, else NULL. */
json_t *pjson_first(const json_t *obj, const char *key);

/* 1 when s can go into an HTTP header value (no CR, LF or NUL-truncation issues). */
int pjson_header_safe(const char *s);
/* Append a formatted "Name: value" header to out. 0, or -1 with res->error_* set. */
int pjson_add_header(struct ah_http_request *out, struct ah_result *res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set out->url from a format. 0, or -1 with res->error_* set. */
int pjson_set_url(struct ah_http_request *out, struct ah_result *res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Serialise body compactly into out->body. 0, or -1 with res->error_* set. */
int pjson_set_body(struct ah_http_request *out, const json_t *body, struct ah_result *res);
/* Add "temperature"/"top_p" style sampling fields to obj when the call has them. 0 or -1. */
int pjson_add_sampling(json_t *obj, const struct ah_call *call, const char *temp_key,
                       const char *top_p_key);

/* Copy s into res->finish_reason (truncated). */
void pjson_set_finish(struct ah_result *res, const char *s);
/* strdup of len bytes into res->text. 0, or -1 with res->error_* set. */
int pjson_set_text(struct ah_result *res, const char *s, size_t len);

/*
 * Tool calling. pjson_add_tool_call appends a copy of one call to
 * res->tool_calls; a NULL or empty id gets "call_N" (N its index), and NULL
 * or empty arguments become "{}". 0, or -1 with res->error_* set.
 */
int pjson_add_tool_call(struct ah_result *res, const char *id, const char *name,
                        const char *arguments);
/* t->parameters parsed; NULL with res->error_* set when it is not a JSON object. */
json_t *pjson_tool_schema(const struct ah_tool *t, struct ah_result *res);
/* A tool message's content as a JSON value: the parsed object when it is one, else
 * {"content": text} (new reference; NULL when memory runs out). */
json_t *pjson_tool_result_object(const struct ah_message *m);
/* A call's arguments parsed: an object, or NULL when they are not a JSON object. */
json_t *pjson_call_arguments(const struct ah_tool_call *tc);

/*
 * Embeddings: vecs[0..n) (borrowed), each a non-empty JSON array of numbers,
 * all of one length, become res->text as one JSON array (provider.h). 0, or
 * -1 with res->error_* set (upstream_bad_response naming provider).
 */
int pjson_set_vectors(struct ah_result *res, const char *provider, json_t *const *vecs, size_t n);

/* Tool calls gathered from stream deltas, by the upstream's index. */
struct pjson_call {
	struct buf id, name, args;
};
struct pjson_calls {
	struct pjson_call *v;
	size_t n;
};
/* The call at index (created, with every lower index, when new); NULL when out of memory
 * or index is absurd (> 127). */
struct pjson_call *pjson_calls_at(struct pjson_calls *c, size_t index);
/* Move the gathered calls into res (names required). 0, or -1 with res->error_* set. */
int pjson_calls_finish(struct pjson_calls *c, struct ah_result *res);
void pjson_calls_free(struct pjson_calls *c);

#endif
