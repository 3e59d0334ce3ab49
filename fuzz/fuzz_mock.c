/*
 * fuzz_mock: the mock provider (providers/mock.c) reads directives such as
 * "[mock:error=...]" out of the last user message: the input is that message,
 * answered whole or streamed (first byte), with max_tokens from the second.
 * Inputs naming the latency directive are skipped: it sleeps for real.
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "providers/adapters.h"
#include "providers/registry.h"

static int emit(void *ctx, const char *text, size_t len)
{
	(void)ctx;
	(void)text;
	(void)len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ah_message m[2] = {{.role = "system", .content = "fuzz"}, {.role = "user"}};
	struct provider_instance inst;
	struct ah_result res;
	struct ah_call c;
	char *text;

	if (size < 2)
		return 0;
	/* [mock:latency=MS] really waits (up to a minute): a timeout, not a finding. */
	if (memmem(data, size, "latency", 7) != NULL)
		return 0;
	text = fuzz_strndup(data + 2, size - 2);
	m[1].content = text;
	memset(&c, 0, sizeof(c));
	memset(&inst, 0, sizeof(inst));
	memset(&res, 0, sizeof(res));
	inst.name = "mock";
	inst.adapter = provider_mock_adapter();
	c.model = "mock-1";
	c.messages = m;
	c.n_messages = 2;
	c.stream = data[0] & 1;
	c.max_tokens = 1 + data[1];
	c.request_id = "0123456789abcdef0123456789abcdef";
	provider_invoke(&inst, &c, c.stream ? emit : NULL, NULL, &res);
	provider_result_free(&res);
	free(text);
	return 0;
}
