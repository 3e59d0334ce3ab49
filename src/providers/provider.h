/*
 * provider.h: the provider plugin ABI (version 3: tool choice, structured output).
 *
 * DESIGN
 * A provider adapter turns one chat call into its upstream wire format and
 * the upstream's answer back into text and usage. It does no I/O itself: the
 * host (upstream.c) owns libcurl, timeouts, SSE framing and cancellation, so
 * every adapter gets the same behaviour on slow, cut or failing upstreams.
 * Local providers (mock) set AH_PROVIDER_LOCAL and implement generate().
 *
 * Built-in adapters and plugins loaded from .so files use the same struct.
 * A plugin exports
 *     const struct ah_provider *ah_provider_entry(void);
 * and is refused unless abi_version == AH_PROVIDER_ABI_VERSION and
 * struct_size >= sizeof(struct ah_provider) of the host.
 *
 * Version 2 adds tool calling: the host offers tools (struct ah_tool) in
 * the call, the model's tool calls come back in ah_result.tool_calls (with
 * finish_reason "tool_calls"), and the conversation carries them back as
 * assistant messages with tool_calls and "tool" messages holding results.
 * Version 1 plugins are refused: their struct ah_message is smaller.
 *
 * Version 3 adds to struct ah_call what an OpenAI client may ask of tool
 * calling and output (tool_choice, parallel_tool_calls, response_format) and
 * the flags by which an adapter says which response formats it honours; the
 * host refuses a format the adapter does not declare before any admission.
 * It also adds embedding calls: a call with n_inputs > 0 (and no messages,
 * never streamed) asks for one vector per input, through the same
 * build_request/parse_response (or generate) an adapter has for chat; the
 * adapter answers res->text as a JSON array of arrays of numbers, one per
 * input in order, and usage.prompt_tokens (completion_tokens 0). Only an
 * adapter with AH_PROVIDER_EMBEDDINGS is given such a call.
 * Version 2 plugins are refused: their struct ah_call is smaller.
 *
 * Memory: strings a provider returns in struct ah_http_request and
 * struct ah_result are malloc'd by the provider and freed by the host with
 * free(); that includes ah_result.tool_calls (the array and each of its
 * three strings). Input strings belong to the host and live for the call.
 * Provider code must be thread-safe: many calls run at once.
 */
#ifndef AH_PROVIDER_H
#define AH_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#define AH_PROVIDER_ABI_VERSION 3
#define AH_PROVIDER_LOCAL 0x1       /* no HTTP: the host calls generate() */
#define AH_PROVIDER_JSON_OBJECT 0x2 /* honours response_format "json_object" */
#define AH_PROVIDER_JSON_SCHEMA 0x4 /* honours response_format "json_schema" */
#define AH_PROVIDER_EMBEDDINGS 0x8  /* answers embedding calls (n_inputs > 0) */

/* One tool call requested by the model. */
struct ah_tool_call {
	char *id;        /* the upstream's call id (generated when it has none) */
	char *name;      /* tool name */
	char *arguments; /* JSON object text */
};

/* A tool offered to the model. */
struct ah_tool {
	const char *name;        /* [A-Za-z0-9_-], at most 64 bytes */
	const char *description; /* UTF-8 text */
	const char *parameters;  /* JSON schema of the arguments (an object), as text */
};

struct ah_message {
	const char *role;    /* "system" | "user" | "assistant" | "tool" */
	const char *content; /* UTF-8 text ("" for an assistant turn with tool calls only) */
	/* role "assistant": the tool calls the model made in that turn. */
	const struct ah_tool_call *tool_calls;
	size_t n_tool_calls;
	/* role "tool": which call this answers, the tool's name, and 1 for an error result. */
	const char *tool_call_id;
	const char *tool_name;
	int tool_error;
};

/*
 * Streaming text sink. Returns 0 to continue, non-zero to stop the call
 * (client gone, limit reached); the provider then returns promptly.
 */
typedef int (*ah_emit_fn)(void *ctx, const char *text, size_t len);
/*
 * Streaming tool call sink (version 3), for adapters that stream tool calls:
 * one fragment of call index (its position in ah_result.tool_calls at the
 * end), with the id and name when this fragment carries them (else NULL)
 * and the next len bytes of its arguments text (len may be 0). The
 * arguments of all fragments of a call, joined, must be the call's final
 * arguments. Returns like ah_emit_fn. The host sends any call it did not
 * get this way (or got without id and name first) whole at the end.
 */
typedef int (*ah_tool_emit_fn)(void *ctx, size_t index, const char *id, const char *name,
                               const char *args, size_t len);

struct ah_call {
	const char *model;                 /* upstream model id */
	const struct ah_message *messages; /* in order; system messages included */
	size_t n_messages;
	int has_temperature;
	double temperature;
	int has_top_p;
	double top_p;
	int max_tokens;              /* > 0, always set by the host */
	int stream;                  /* 1 = ask the upstream to stream */
	const char *base_url;        /* instance base URL, no trailing slash */
	const char *api_key;         /* credential for this call; "" when none */
	const char *request_id;      /* for upstream tracing headers */
	int mock_latency_ms;         /* mock only: configured latency */
	int mock_stream_delay_ms;    /* mock only: delay between chunks */
	const struct ah_tool *tools; /* tools the model may call, or NULL */
	size_t n_tools;
	/* Version 3. */
	const char *tool_choice;      /* NULL (upstream default) | "auto" | "none" | "required" |
	                                 "function" (then tool_choice_name says which) */
	const char *tool_choice_name; /* the tool forced by tool_choice "function" */
	int has_parallel_tool_calls;  /* 1 when the caller set parallel_tool_calls */
	int parallel_tool_calls;      /* 0: at most one tool call per turn */
	const char *response_format;  /* NULL (text) | "json_object" | "json_schema" */
	const char *response_schema;  /* "json_schema": the schema (JSON object text) */
	const char *response_schema_name; /* "json_schema": its name ([A-Za-z0-9_-]) */
	int response_schema_strict;       /* "json_schema": 1 when strict was asked */
	const char *const *inputs;        /* an embedding call: the texts to embed, or NULL */
	size_t n_inputs;                  /* > 0 makes this an embedding call */
	int dimensions;                   /* embedding size asked for; 0 = the model's own */
	ah_tool_emit_fn emit_tool;        /* streamed calls: tool call fragments, or NULL */
	void *emit_tool_ctx;
};

struct ah_usage {
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int have; /* 1 when the upstream reported usage */
};

#define AH_MAX_HEADERS 16

struct ah_http_request {
	char *url;                     /* malloc'd */
	char *headers[AH_MAX_HEADERS]; /* "Name: value", malloc'd */
	size_t n_headers;
	char *body; /* malloc'd JSON */
	size_t body_len;
};

struct ah_result {
	char *text;             /* malloc'd full assistant text ("" allowed); NULL on error */
	char finish_reason[32]; /* "stop" | "length" | "content_filter" | ... (OpenAI names) */
	struct ah_usage usage;
	char error_code[48];             /* reason_code when the call failed, "" otherwise */
	char error_message[256];         /* safe to show to the tenant: no credentials */
	int upstream_status;             /* HTTP status from upstream, 0 if none */
	struct ah_tool_call *tool_calls; /* malloc'd array of the model's tool calls, or NULL */
	size_t n_tool_calls;
};

struct ah_provider {
	uint32_t abi_version; /* AH_PROVIDER_ABI_VERSION */
	uint32_t struct_size; /* sizeof(struct ah_provider) when built */
	const char *name;     /* adapter name: "openai", "anthropic", "gemini", "mock", ... */
	uint32_t flags;       /* AH_PROVIDER_LOCAL */

	/* HTTP providers: build the request (URL, headers incl. auth, JSON body). 0 or -1 +
	 * res->error_*. */
	int (*build_request)(const struct ah_call *call, struct ah_http_request *out,
	                     struct ah_result *res);
	/* HTTP providers, non-streamed: parse the whole response (any status). 0 ok, -1 failed
	 * (res->error_* set). */
	int (*parse_response)(const struct ah_call *call, int http_status, const char *body,
	                      size_t len, struct ah_result *res);
	/* HTTP providers, streamed: per-call state. */
	void *(*stream_begin)(const struct ah_call *call);
	/*
	 * One SSE event (event name or "" , data payload). Emit text deltas through
	 * emit. Returns 0 to continue, 1 when the stream is complete, -1 on a
	 * protocol or upstream error (res->error_* set), or emit's non-zero result
	 * passed through as 2 (stopped by the host).
	 */
	int (*stream_event)(void *state, const char *event, const char *data, size_t len,
	                    ah_emit_fn emit, void *emit_ctx, struct ah_result *res);
	/* Fill res with text, finish_reason and usage gathered so far; free state. */
	void (*stream_end)(void *state, struct ah_result *res);
	/* Parse an error body of a failed streamed call (status >= 400). May be NULL:
	 * parse_response is used. */
	int (*parse_error)(int http_status, const char *body, size_t len, struct ah_result *res);

	/* Local providers: produce the answer, streaming through emit when call->stream. */
	int (*generate)(const struct ah_call *call, ah_emit_fn emit, void *emit_ctx,
	                struct ah_result *res);
};

typedef const struct ah_provider *(*ah_provider_entry_fn)(void);

#endif
