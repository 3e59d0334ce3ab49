/*
 * pjson.c: JSON and request helpers shared by the HTTP adapters (see pjson.h).
 *
 * DESIGN
 * Error texts end up in tenant-visible errors and in execution rows, so every
 * message written here is cut to fit res->error_message on a UTF-8 boundary
 * and has control characters replaced: an upstream cannot inject lines or
 * escape sequences through its error text. The caller (upstream.c) scrubs
 * the credential from the final message as a second line of defence.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/util.h"
#include "providers/pjson.h"

#define PJSON_MAX_CALLS 128 /* tool calls in one model turn */

/* Make s (NUL-terminated, in a buffer of cap bytes) printable and cut it on a UTF-8 boundary. */
static void pjson_clean(char *s, size_t cap)
{
	size_t n = strlen(s), i;

	if (n + 1 >= cap && n > 0) {
		/* vsnprintf cut the text: back off to the start of a UTF-8 sequence. */
		i = n;
		while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
			i--;
		if (i > 0 && (unsigned char)s[i - 1] >= 0xC0)
			i--;
		s[i] = '\0';
		n = i;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
}

int pjson_fail(struct ah_result *res, enum reason code, const char *fmt, ...)
{
	va_list ap;

	/* The plugin ABI carries the code as text. */
	util_strlcpy(res->error_code, reason_name(code), sizeof(res->error_code));
	/*
	 * GCC 12 with -fsanitize=undefined sees UBSan's null check on fmt and
	 * warns "null format string" (format-truncation); fmt is never NULL.
	 */
	if (fmt == NULL)
		fmt = "";
	va_start(ap, fmt);
	vsnprintf(res->error_message, sizeof(res->error_message), fmt, ap);
	va_end(ap);
	pjson_clean(res->error_message, sizeof(res->error_message));
	return -1;
}

enum reason pjson_status_code(int http_status)
{
	if (http_status == 401 || http_status == 403)
		return R_upstream_auth_failed;
	if (http_status == 429)
		return R_upstream_rate_limited;
	return R_upstream_error;
}

const char *pjson_error_message(const json_t *root)
{
	const json_t *err;
	const char *msg;

	if (json_is_array(root))
		root = json_array_get(root, 0);
	if (!json_is_object(root))
		return NULL;
	err = json_object_get(root, "error");
	if (json_is_string(err))
		return json_string_value(err);
	if (!json_is_object(err))
		return NULL;
	msg = pjson_str(err, "message");
	if (msg != NULL && msg[0] != '\0')
		return msg;
	return pjson_str(err, "type");
}

int pjson_http_error(const char *provider, int http_status, const char *body, size_t len,
                     struct ah_result *res)
{
	json_t *root = pjson_parse(body, len);
	const char *msg = root != NULL ? pjson_error_message(root) : NULL;

	res->upstream_status = http_status;
	if (msg != NULL)
		pjson_fail(res, pjson_status_code(http_status), "%s upstream returned HTTP %d: %s",
		           provider, http_status, msg);
	else
		pjson_fail(res, pjson_status_code(http_status), "%s upstream returned HTTP %d",
		           provider, http_status);
	json_decref(root);
	return -1;
}

json_t *pjson_parse(const char *body, size_t len)
{
	json_error_t jerr;

	if (body == NULL || len == 0)
		return NULL;
	return json_loadb(body, len, 0, &jerr);
}

const char *pjson_str(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t pjson_int(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* A number no int64_t can hold counts as absent (the cast would be undefined). */
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
			return 0;
		return (int64_t)d;
	}
	return 0;
}

json_t *pjson_obj(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_object(v) ? v : NULL;
}

json_t *pjson_first(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return NULL;
	return json_array_get(v, 0);
}

int pjson_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

int pjson_add_header(struct ah_http_request *out, struct ah_result *res, const char *fmt, ...)
{
	va_list ap;
	char *h = NULL;
	int n;

	if (out->n_headers >= AH_MAX_HEADERS)
		return pjson_fail(res, R_provider_error, "too many upstream request headers");
	va_start(ap, fmt);
	n = vasprintf(&h, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pjson_fail(res, R_provider_error, "out of memory building the request");
	if (!pjson_header_safe(h)) {
		free(h);
		return pjson_fail(res, R_provider_error,
		                  "a request header value contains a line break");
	}
	out->headers[out->n_headers++] = h;
	return 0;
}

int pjson_set_url(struct ah_http_request *out, struct ah_result *res, const char *fmt, ...)
{
	va_list ap;
	char *u = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&u, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pjson_fail(res, R_provider_error, "out of memory building the request");
	free(out->url);
	out->url = u;
	return 0;
}

int pjson_set_body(struct ah_http_request *out, const json_t *body, struct ah_result *res)
{
	char *s = json_dumps(body, JSON_COMPACT);

	if (s == NULL)
		return pjson_fail(res, R_provider_error, "out of memory building the request");
	free(out->body);
	out->body = s;
	out->body_len = strlen(s);
	return 0;
}

int pjson_add_sampling(json_t *obj, const struct ah_call *call, const char *temp_key,
                       const char *top_p_key)
{
	if (call->has_temperature &&
	    json_object_set_new(obj, temp_key, json_real(call->temperature)) != 0)
		return -1;
	if (call->has_top_p && json_object_set_new(obj, top_p_key, json_real(call->top_p)) != 0)
		return -1;
	return 0;
}

void pjson_set_finish(struct ah_result *res, const char *s)
{
	util_strlcpy(res->finish_reason, s, sizeof(res->finish_reason));
}

int pjson_set_text(struct ah_result *res, const char *s, size_t len)
{
	char *t = malloc(len + 1);

	if (t == NULL)
		return pjson_fail(res, R_provider_error, "out of memory reading the response");
	memcpy(t, s, len);
	t[len] = '\0';
	free(res->text);
	res->text = t;
	return 0;
}

int pjson_add_tool_call(struct ah_result *res, const char *id, const char *name,
                        const char *arguments)
{
	struct ah_tool_call *v, *tc;
	char gen[32];

	if (name == NULL || name[0] == '\0')
		return pjson_fail(res, R_upstream_bad_response, "a tool call has no name");
	if (res->n_tool_calls >= PJSON_MAX_CALLS)
		return pjson_fail(res, R_upstream_bad_response, "more than %d tool calls in a turn",
		                  PJSON_MAX_CALLS);
	v = realloc(res->tool_calls, (res->n_tool_calls + 1) * sizeof(*v));
	if (v == NULL)
		return pjson_fail(res, R_provider_error, "out of memory reading tool calls");
	res->tool_calls = v;
	if (id == NULL || id[0] == '\0') {
		snprintf(gen, sizeof(gen), "call_%zu", res->n_tool_calls);
		id = gen;
	}
	if (arguments == NULL || arguments[0] == '\0')
		arguments = "{}";
	tc = &v[res->n_tool_calls];
	tc->id = strdup(id);
	tc->name = strdup(name);
	tc->arguments = strdup(arguments);
	if (tc->id == NULL || tc->name == NULL || tc->arguments == NULL) {
		free(tc->id);
		free(tc->name);
		free(tc->arguments);
		return pjson_fail(res, R_provider_error, "out of memory reading tool calls");
	}
	res->n_tool_calls++;
	return 0;
}

json_t *pjson_tool_schema(const struct ah_tool *t, struct ah_result *res)
{
	json_t *v = pjson_parse(t->parameters, strlen(t->parameters));

	if (!json_is_object(v)) {
		json_decref(v);
		pjson_fail(res, R_provider_error, "tool %s: parameters is not a JSON object",
		           t->name);
		return NULL;
	}
	return v;
}

json_t *pjson_tool_result_object(const struct ah_message *m)
{
	json_t *v = pjson_parse(m->content, strlen(m->content));

	if (json_is_object(v))
		return v;
	json_decref(v);
	return json_pack("{s:s}", "content", m->content);
}

json_t *pjson_call_arguments(const struct ah_tool_call *tc)
{
	json_t *v = pjson_parse(tc->arguments, strlen(tc->arguments));

	if (json_is_object(v))
		return v;
	json_decref(v);
	return NULL;
}

struct pjson_call *pjson_calls_at(struct pjson_calls *c, size_t index)
{
	struct pjson_call *v;
	size_t i;

	if (index >= PJSON_MAX_CALLS)
		return NULL;
	if (index < c->n)
		return &c->v[index];
	v = realloc(c->v, (index + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	c->v = v;
	for (i = c->n; i <= index; i++) {
		buf_init(&v[i].id);
		buf_init(&v[i].name);
		buf_init(&v[i].args);
	}
	c->n = index + 1;
	return &c->v[index];
}

int pjson_calls_finish(struct pjson_calls *c, struct ah_result *res)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < c->n && rc == 0; i++)
		rc = pjson_add_tool_call(res, buf_str(&c->v[i].id), buf_str(&c->v[i].name),
		                         buf_str(&c->v[i].args));
	pjson_calls_free(c);
	return rc;
}

void pjson_calls_free(struct pjson_calls *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		buf_free(&c->v[i].id);
		buf_free(&c->v[i].name);
		buf_free(&c->v[i].args);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

int pjson_set_vectors(struct ah_result *res, const char *provider, json_t *const *vecs, size_t n)
{
	json_t *all = json_array(), *x;
	size_t i, j, dim = 0;
	char *text;

	if (all == NULL)
		return pjson_fail(res, R_provider_error, "%s: out of memory", provider);
	for (i = 0; i < n; i++) {
		if (!json_is_array(vecs[i]) || json_array_size(vecs[i]) == 0 ||
		    (i > 0 && json_array_size(vecs[i]) != dim))
			goto bad;
		dim = json_array_size(vecs[i]);
		json_array_foreach(vecs[i], j, x)
		{
			if (!json_is_number(x))
				goto bad;
		}
		if (json_array_append(all, vecs[i]) != 0) {
			json_decref(all);
			return pjson_fail(res, R_provider_error, "%s: out of memory", provider);
		}
	}
	text = json_dumps(all, JSON_COMPACT);
	json_decref(all);
	if (text == NULL)
		return pjson_fail(res, R_provider_error, "%s: out of memory", provider);
	free(res->text);
	res->text = text;
	return 0;
bad:
	json_decref(all);
	return pjson_fail(res, R_upstream_bad_response,
	                  "%s: embedding %zu is not a list of numbers of the same length as the "
	                  "others",
	                  provider, i);
}
