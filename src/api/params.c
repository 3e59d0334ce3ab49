/*
 * params.c: typed access to JSON request fields with clear 400s.
 *
 * DESIGN
 * Handlers validate every field they use through these helpers, so every
 * bad value gets the same error shape: 400 invalid_request naming the field.
 * Unknown fields are ignored (OpenAI clients send many); a field of the
 * wrong type is refused, never coerced.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "host/http.h"

int api_str(struct req *r, json_t *o, const char *key, int required, size_t maxlen,
            const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required) {
			resp_error_param(r, R_invalid_request, key, "'%s' is required", key);
			return -1;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		resp_error_param(r, R_invalid_request, key, "'%s' must be a string", key);
		return -1;
	}
	if (json_string_length(v) > maxlen) {
		resp_error_param(r, R_invalid_request, key, "'%s' is longer than %zu bytes", key,
		                 maxlen);
		return -1;
	}
	if (memchr(json_string_value(v), '\0', json_string_length(v))) {
		resp_error_param(r, R_invalid_request, key, "'%s' contains a NUL character", key);
		return -1;
	}
	if (required && json_string_length(v) == 0) {
		resp_error_param(r, R_invalid_request, key, "'%s' must not be empty", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int api_num(struct req *r, json_t *o, const char *key, double min, double max, int *has,
            double *out)
{
	json_t *v = json_object_get(o, key);
	double d;

	*has = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v)) {
		resp_error_param(r, R_invalid_request, key, "'%s' must be a number", key);
		return -1;
	}
	d = json_number_value(v);
	if (!isfinite(d) || d < min || d > max) {
		resp_error_param(r, R_invalid_request, key, "'%s' must be between %g and %g", key,
		                 min, max);
		return -1;
	}
	*has = 1;
	*out = d;
	return 0;
}

int api_int(struct req *r, json_t *o, const char *key, int64_t min, int64_t max, int *has,
            int64_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;

	*has = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v)) {
		resp_error_param(r, R_invalid_request, key, "'%s' must be an integer", key);
		return -1;
	}
	i = json_integer_value(v);
	if (i < min || i > max) {
		resp_error_param(r, R_invalid_request, key, "'%s' must be between %lld and %lld",
		                 key, (long long)min, (long long)max);
		return -1;
	}
	*has = 1;
	*out = i;
	return 0;
}

int api_bool(struct req *r, json_t *o, const char *key, int *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		resp_error_param(r, R_invalid_request, key, "'%s' must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int api_object_text(struct req *r, json_t *o, const char *key, size_t maxbytes, char **text)
{
	json_t *v = json_object_get(o, key);

	*text = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		resp_error_param(r, R_invalid_request, key, "'%s' must be an object", key);
		return -1;
	}
	*text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (*text == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return -1;
	}
	if (strlen(*text) > maxbytes) {
		free(*text);
		*text = NULL;
		resp_error_param(r, R_invalid_request, key, "'%s' is larger than %zu bytes", key,
		                 maxbytes);
		return -1;
	}
	return 0;
}

int api_limit(struct req *r, int def, int max, int *out)
{
	char s[16];
	int rc = req_query(r, "limit", s, sizeof(s));
	char *end;
	long v;

	*out = def;
	if (rc == 0)
		return 0;
	if (rc > 0) {
		v = strtol(s, &end, 10);
		if (*s && *end == '\0' && v >= 1 && v <= max) {
			*out = (int)v;
			return 0;
		}
	}
	resp_error_param(r, R_invalid_request, "limit",
	                 "'limit' must be a whole number from 1 to %d", max);
	return -1;
}

json_t *api_json_from_text(const char *text)
{
	json_t *v = text && *text ? json_loads(text, 0, NULL) : NULL;

	return v ? v : json_object();
}

int api_end_user(struct req *r, json_t *o)
{
	const char *v = NULL;
	size_t n;

	if (api_str(r, o, "user", 0, 256, &v) < 0)
		return -1;
	if (v == NULL || *v == '\0' || r->end_user[0] != '\0')
		return 0;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			resp_error(r, R_invalid_request, "'user' contains a control character");
			return -1;
		}
	/* cut to the column at a character boundary: a long id still names its user */
	n = strlen(v);
	if (n >= sizeof(r->end_user)) {
		n = sizeof(r->end_user) - 1;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(r->end_user, v, n);
	r->end_user[n] = '\0';
	return 0;
}
