/*
 * fuzz_openai: the openai adapter's parsers of upstream responses, error bodies
 * and stream events (providers/openai.c), through fuzz/provider.h.
 */
#include "config.h"

#include "fuzz/provider.h"
#include "providers/adapters.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_provider(provider_openai_adapter(), data, size);
	return 0;
}
