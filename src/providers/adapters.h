/*
 * adapters: the built-in provider adapters compiled into the host.
 *
 * DESIGN
 * Each built-in adapter lives in its own file and exposes one function
 * returning its static, read-only struct ah_provider, the same struct a
 * plugin returns from ah_provider_entry(). The registry (registry.c) lists
 * them; tests use them directly.
 */
#ifndef AH_ADAPTERS_H
#define AH_ADAPTERS_H

#include "providers/provider.h"

/* OpenAI-compatible chat completions (OpenAI, DeepSeek, Mistral, OpenRouter, Ollama, vLLM). */
const struct ah_provider *provider_openai_adapter(void);
/* Anthropic Messages API. */
const struct ah_provider *provider_anthropic_adapter(void);
/* Google Gemini generateContent. */
const struct ah_provider *provider_gemini_adapter(void);
/* The deterministic local mock provider. */
const struct ah_provider *provider_mock_adapter(void);

#endif
