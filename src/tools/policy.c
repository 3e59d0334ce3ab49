/*
 * policy.c: tool allowlists and the JSON-schema subset validator (see policy.h).
 *
 * DESIGN
 * The validator walks schema and value together, depth-limited so a hostile
 * schema or argument cannot exhaust the stack, and stops at the first error.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/util.h"
#include "store/tools.h"
#include "tools/policy.h"
#include "tools/runner.h"
#include "common/valid.h"

#define POLICY_MAX_DEPTH 32

int tool_policy_listed(const char *list, const char *name)
{
	const char *p = list, *e;
	size_t n = strlen(name);

	if (list == NULL || name[0] == '\0')
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		e = p;
		while (*e != '\0' && *e != ',' && *e != ' ')
			e++;
		if ((e - p == 1 && *p == '*') || ((size_t)(e - p) == n && memcmp(p, name, n) == 0))
			return 1;
		p = e;
	}
	return 0;
}

/* 1 when value has JSON Schema type t. */
static int policy_type_is(const json_t *v, const char *t)
{
	if (strcmp(t, "object") == 0)
		return json_is_object(v);
	if (strcmp(t, "array") == 0)
		return json_is_array(v);
	if (strcmp(t, "string") == 0)
		return json_is_string(v);
	if (strcmp(t, "integer") == 0)
		return json_is_integer(v) || (json_is_real(v) && isfinite(json_real_value(v)) &&
		                              json_real_value(v) == floor(json_real_value(v)));
	if (strcmp(t, "number") == 0)
		return json_is_number(v);
	if (strcmp(t, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(t, "null") == 0)
		return json_is_null(v);
	return 0;
}

/* Set err to "path: what". Returns -1. */
static int policy_err(char *err, size_t cap, const char *path, const char *what)
{
	snprintf(err, cap, "%s: %s", path, what);
	return -1;
}

/* Number of UTF-8 characters in s. */
static size_t policy_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int policy_check(const json_t *schema, const json_t *v, const char *path, int depth,
                        char *err, size_t cap);

/* The object keywords: required, properties, additionalProperties. */
static int policy_object(const json_t *schema, const json_t *v, const char *path, int depth,
                         char *err, size_t cap)
{
	const json_t *req = json_object_get(schema, "required"), *props, *r, *sub, *val;
	const char *key;
	char sub_path[512];
	size_t i;

	json_array_foreach(req, i, r)
	{
		if (json_is_string(r) && json_object_get(v, json_string_value(r)) == NULL) {
			snprintf(sub_path, sizeof(sub_path), "%s.%s", path, json_string_value(r));
			return policy_err(err, cap, sub_path, "required property missing");
		}
	}
	props = json_object_get(schema, "properties");
	json_object_foreach((json_t *)v, key, val)
	{
		snprintf(sub_path, sizeof(sub_path), "%s.%s", path, key);
		sub = json_is_object(props) ? json_object_get(props, key) : NULL;
		if (sub == NULL) {
			if (json_is_false(json_object_get(schema, "additionalProperties")))
				return policy_err(err, cap, sub_path, "property not allowed");
			continue;
		}
		if (policy_check(sub, val, sub_path, depth + 1, err, cap) != 0)
			return -1;
	}
	return 0;
}

static int policy_check(const json_t *schema, const json_t *v, const char *path, int depth,
                        char *err, size_t cap)
{
	const json_t *type, *t, *en, *e, *items, *lim;
	char sub_path[512];
	size_t i;
	int match;

	if (depth > POLICY_MAX_DEPTH)
		return policy_err(err, cap, path, "nested too deeply");
	if (!json_is_object(schema))
		return 0;
	type = json_object_get(schema, "type");
	if (json_is_string(type) && !policy_type_is(v, json_string_value(type))) {
		snprintf(sub_path, sizeof(sub_path), "must be of type %s", json_string_value(type));
		return policy_err(err, cap, path, sub_path);
	}
	if (json_is_array(type)) {
		match = 0;
		json_array_foreach(type, i, t)
		{
			if (json_is_string(t) && policy_type_is(v, json_string_value(t)))
				match = 1;
		}
		if (!match)
			return policy_err(err, cap, path, "has none of the allowed types");
	}
	en = json_object_get(schema, "enum");
	if (json_is_array(en)) {
		match = 0;
		json_array_foreach(en, i, e)
		{
			if (json_equal((json_t *)e, (json_t *)v))
				match = 1;
		}
		if (!match)
			return policy_err(err, cap, path, "is not one of the allowed values");
	}
	if (json_is_number(v)) {
		lim = json_object_get(schema, "minimum");
		if (json_is_number(lim) && json_number_value(v) < json_number_value(lim))
			return policy_err(err, cap, path, "is below the minimum");
		lim = json_object_get(schema, "maximum");
		if (json_is_number(lim) && json_number_value(v) > json_number_value(lim))
			return policy_err(err, cap, path, "is above the maximum");
	}
	if (json_is_string(v)) {
		lim = json_object_get(schema, "minLength");
		if (json_is_integer(lim) &&
		    (json_int_t)policy_chars(json_string_value(v)) < json_integer_value(lim))
			return policy_err(err, cap, path, "is shorter than minLength");
		lim = json_object_get(schema, "maxLength");
		if (json_is_integer(lim) &&
		    (json_int_t)policy_chars(json_string_value(v)) > json_integer_value(lim))
			return policy_err(err, cap, path, "is longer than maxLength");
	}
	if (json_is_object(v) && policy_object(schema, v, path, depth, err, cap) != 0)
		return -1;
	items = json_object_get(schema, "items");
	if (json_is_array(v) && json_is_object(items)) {
		json_array_foreach(v, i, e)
		{
			snprintf(sub_path, sizeof(sub_path), "%s[%zu]", path, i);
			if (policy_check(items, e, sub_path, depth + 1, err, cap) != 0)
				return -1;
		}
	}
	return 0;
}

int tool_policy_validate(const json_t *schema, const json_t *value, char *err, size_t cap)
{
	err[0] = '\0';
	if (!json_is_object(value))
		return policy_err(err, cap, "$", "the arguments must be a JSON object");
	return policy_check(schema, value, "$", 0, err, cap);
}

int tool_policy_schema_ok(const json_t *schema)
{
	const json_t *t = json_object_get(schema, "type");

	if (!json_is_object(schema))
		return 0;
	return t == NULL || (json_is_string(t) && strcmp(json_string_value(t), "object") == 0);
}

int tool_policy_name_ok(const char *name)
{
	return valid_name(VALID_TOOL, name);
}

int tool_policy_def_check(const struct tool_def *t, char *err, size_t cap)
{
	const char *p = t->secret_names, *e;
	char name[TOOL_NAME_MAX + 1];
	json_error_t jerr;
	struct stat sb;
	json_t *schema;
	size_t n = 0;
	int ok;

	if (!tool_policy_name_ok(t->name)) {
		snprintf(err, cap, "the tool name must be 1-%d of A-Z a-z 0-9 _ -", TOOL_NAME_MAX);
		return -1;
	}
	schema = json_loads(t->schema, 0, &jerr);
	ok = schema != NULL && tool_policy_schema_ok(schema);
	json_decref(schema);
	if (!ok) {
		snprintf(err, cap, "the schema must be a JSON object of type \"object\"");
		return -1;
	}
	if (t->exec_path[0] != '/' || stat(t->exec_path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    access(t->exec_path, X_OK) != 0) {
		snprintf(err, cap, "the executable must be an absolute path to an executable file");
		return -1;
	}
	if (t->timeout_ms < 1 || t->timeout_ms > 600000) {
		snprintf(err, cap, "the timeout must be 1..600000 ms");
		return -1;
	}
	if (t->max_output_bytes < 1 || t->max_output_bytes > 64 * 1024 * 1024) {
		snprintf(err, cap, "the output cap must be 1..67108864 bytes");
		return -1;
	}
	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) >= sizeof(name)) {
			snprintf(err, cap, "a secret name is longer than %d bytes", TOOL_NAME_MAX);
			return -1;
		}
		memcpy(name, p, (size_t)(e - p));
		name[e - p] = '\0';
		if (!tool_runner_env_name_ok(name)) {
			snprintf(err, cap,
			         "secret names must be environment variable names (A-Z 0-9 _, not "
			         "starting with a digit or AGENTHOST_)");
			return -1;
		}
		if (++n > TOOL_RUNNER_MAX_ENV) {
			snprintf(err, cap, "at most %d secrets per tool", TOOL_RUNNER_MAX_ENV);
			return -1;
		}
		p = *e ? e + 1 : e;
	}
	return 0;
}
