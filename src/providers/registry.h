/*
 * registry: provider instances by name, and the call into them.
 *
 * DESIGN
 * An adapter (struct ah_provider) is code; an instance is an adapter plus
 * settings from the config: "openai", "deepseek", "mistral", "openrouter",
 * "ollama" and "vllm" are instances of the OpenAI-compatible adapter with
 * their own base URL and platform key; "anthropic", "gemini" and "mock" are
 * instances of their own adapters. Plugins named in `plugins` add adapters,
 * and an instance of the same name. The registry is built once at start,
 * before threads, and is read-only afterwards.
 */
#ifndef AH_REGISTRY_H
#define AH_REGISTRY_H

#include <stddef.h>

#include "common/conf.h"
#include "common/reason.h"
#include "providers/provider.h"

struct provider_instance {
	const char *name; /* instance name */
	const struct ah_provider *adapter;
	char base_url[256];     /* from config or the adapter's default */
	char platform_key[512]; /* platform credential, "" when none */
	int timeout_ms;         /* whole-call timeout */
	int connect_timeout_ms;
};

/* Build the registry from c (loads plugins). 0, or -1 with err naming the plugin or key. */
int registry_init(const struct conf *c, char *err, size_t errlen);
void registry_free(void);
/* Instance by name, or NULL. */
const struct provider_instance *registry_find(const char *name);
/* Iterate instances: returns the i-th or NULL past the end. */
const struct provider_instance *registry_at(size_t i);
/* Load one plugin .so; refused with a clear err when the ABI does not match. */
int registry_load_plugin(const char *path, char *err, size_t errlen);

/*
 * Make one call through inst with call->api_key set by the caller.
 * Streams through emit when call->stream (emit may be NULL otherwise).
 * Always fills res; returns 0 on success, -1 on failure with
 * res->error_code one of: upstream_timeout, upstream_unavailable,
 * upstream_error, upstream_auth_failed, upstream_rate_limited,
 * upstream_bad_response, client_disconnected, provider_error.
 * On failure after partial streaming, res->text/usage hold what was produced
 * (usage estimated when the upstream did not report it).
 * Uses one curl easy handle per thread, reused across calls.
 */
/*
 * Check key against inst's upstream with one cheap authenticated call (GET
 * its model list; agenthostctl provider-key set --verify), outside any
 * request. 0 when the upstream accepts it; -1 with a message in err (the
 * key refused, another status, unreachable, or an adapter without a check).
 * The key is never put in err.
 */
int provider_verify_key(const struct provider_instance *inst, const char *key, char *err,
                        size_t errlen);
int provider_invoke(const struct provider_instance *inst, const struct ah_call *call,
                    ah_emit_fn emit, void *emit_ctx, struct ah_result *res);
/* Free what res owns. */
void provider_result_free(struct ah_result *res);
/*
 * The reason of a failed res: its error_code (text, as the plugin ABI
 * carries it) when a provider may report that code (RF_PROVIDER in
 * common/tbl/reasons.h), else provider_error.
 */
enum reason provider_reason(const struct ah_result *res);
/* Rough token estimate for text (about 4 bytes a token, at least 1 for non-empty). */
int64_t provider_estimate_tokens(const char *text, size_t len);
/* Release this thread's curl handle (call at thread exit). */
void provider_thread_cleanup(void);

#endif
