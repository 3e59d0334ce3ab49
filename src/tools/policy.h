/*
 * policy: may this tool call run? Allowlists and argument validation.
 *
 * DESIGN
 * A call runs only when the tool is allowed for the tenant (its effective
 * allowed_tools limit: "*" or a comma-separated list of names) and listed by
 * the agent, and when its arguments are a JSON object valid against the
 * tool's schema. The validator implements the subset of JSON Schema that
 * tool schemas use: type (one name or a list), properties, required, enum,
 * items, additionalProperties: false, and minimum/maximum, minLength/
 * maxLength. Unknown keywords are ignored, as JSON Schema specifies. Error
 * texts name the path of the first offending value and go back to the model,
 * so they never quote the value itself.
 */
#ifndef AH_TOOLS_POLICY_H
#define AH_TOOLS_POLICY_H

#include <stddef.h>

#include <jansson.h>

/* 1 when name is in list ("*" allows every tool; NULL or "" allows none). */
int tool_policy_listed(const char *list, const char *name);
/*
 * Validate value against schema. 0, or -1 with err naming the path and the
 * rule (e.g. "$.expr: required property missing").
 */
int tool_policy_validate(const json_t *schema, const json_t *value, char *err, size_t cap);
/* 1 when schema is usable: a JSON object whose "type", if given, is "object". */
int tool_policy_schema_ok(const json_t *schema);
/* 1 when name can be a tool name (common/valid.h's VALID_TOOL rule). */
int tool_policy_name_ok(const char *name);

struct tool_def;
/*
 * Check a tool definition before it is registered (CLI and operator API):
 * name, description, schema, an absolute path to an executable regular
 * file, limits in range, secret names usable as environment variables.
 * 0, or -1 with err saying what is wrong.
 */
int tool_policy_def_check(const struct tool_def *t, char *err, size_t cap);

#endif
