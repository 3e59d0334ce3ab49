/*
 * fuzz_tool_args: a model's tool arguments against a tool's schema
 * (tools/policy.c). The input is "schema JSON\nargument JSON"; both are
 * parsed with jansson as the host does, then checked and validated.
 */
#include "config.h"

#include <jansson.h>

#include "fuzz/fuzz.h"
#include "tools/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ns, na;
	const uint8_t *s = fuzz_part(&data, &size, '\n', &ns);
	const uint8_t *a = fuzz_part(&data, &size, '\n', &na);
	json_t *schema = json_loadb((const char *)s, ns, JSON_DECODE_ANY, NULL);
	json_t *args = json_loadb((const char *)a, na, JSON_DECODE_ANY, NULL);
	char err[256];

	if (schema != NULL && args != NULL && tool_policy_schema_ok(schema))
		tool_policy_validate(schema, args, err, sizeof(err));
	json_decref(schema);
	json_decref(args);
	return 0;
}
