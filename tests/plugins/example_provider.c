/*
 * example_provider.c: a minimal provider plugin, "echo", that answers the
 * last user message reversed. It is the worked example of docs/PROVIDERS.md
 * and the plugin the unit tests load.
 *
 * DESIGN
 * A plugin is built out of tree against src/providers/provider.h alone, so
 * unlike the host's own files it does not include the build's config.h.
 * It is a local provider (AH_PROVIDER_LOCAL): the host calls generate() and
 * does no HTTP. It keeps no global state, so it is thread-safe as the ABI
 * requires. Build:
 *     cc -shared -fPIC -I src -o echo.so tests/plugins/example_provider.c
 * With -DWRONG_ABI it claims the next ABI version, which the host must refuse;
 * with -DOLD_ABI it claims version 2 (before tool_choice and response_format),
 * refused as well.
 */
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"

#if defined(WRONG_ABI)
#define EXAMPLE_ABI (AH_PROVIDER_ABI_VERSION + 1)
#elif defined(OLD_ABI)
#define EXAMPLE_ABI 2
#else
#define EXAMPLE_ABI AH_PROVIDER_ABI_VERSION
#endif

/* Copy s into a fixed buffer of the result, cut to fit. */
static void echo_set(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/*
 * Answer the last user message reversed (byte-wise, keeping UTF-8 sequences
 * whole). Streams the answer in one chunk when asked. 0, or -1 with
 * res->error_* set.
 */
static int echo_generate(const struct ah_call *call, ah_emit_fn emit, void *emit_ctx,
                         struct ah_result *res)
{
	const char *q = "";
	size_t i, n, at, len;
	char *out;

	for (i = call->n_messages; i > 0; i--) {
		if (strcmp(call->messages[i - 1].role, "user") == 0) {
			q = call->messages[i - 1].content;
			break;
		}
	}
	n = strlen(q);
	out = malloc(n + 1);
	if (out == NULL) {
		echo_set(res->error_code, sizeof(res->error_code), "provider_error");
		echo_set(res->error_message, sizeof(res->error_message), "echo: out of memory");
		return -1;
	}
	/* Walk characters from the end, copying each whole UTF-8 sequence. */
	at = 0;
	i = n;
	while (i > 0) {
		len = 1;
		while (i - len > 0 && ((unsigned char)q[i - len] & 0xC0) == 0x80)
			len++;
		memcpy(out + at, q + i - len, len);
		at += len;
		i -= len;
	}
	out[n] = '\0';
	if (call->stream && emit != NULL && n > 0 && emit(emit_ctx, out, n) != 0) {
		free(out);
		echo_set(res->error_code, sizeof(res->error_code), "client_disconnected");
		echo_set(res->error_message, sizeof(res->error_message),
		         "the client went away during the stream");
		return -1;
	}
	res->text = out;
	echo_set(res->finish_reason, sizeof(res->finish_reason), "stop");
	/* No usage reported: the host estimates it. */
	res->usage.have = 0;
	return 0;
}

static const struct ah_provider echo_provider = {
    .abi_version = EXAMPLE_ABI,
    .struct_size = sizeof(struct ah_provider),
    .name = "echo",
    .flags = AH_PROVIDER_LOCAL,
    .generate = echo_generate,
};

/* The one symbol the host looks up. */
const struct ah_provider *ah_provider_entry(void);

const struct ah_provider *ah_provider_entry(void)
{
	return &echo_provider;
}
