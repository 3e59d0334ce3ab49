/*
 * fuzz_gemini: the gemini adapter's parsers of upstream responses, error bodies
 * and stream events (providers/gemini.c), through fuzz/provider.h.
 */
#include "config.h"

#include "fuzz/provider.h"
#include "providers/adapters.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_provider(provider_gemini_adapter(), data, size);
	return 0;
}
