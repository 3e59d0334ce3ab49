/*
 * execute: run one model call for an identified tenant and record it.
 *
 * DESIGN
 * The handler parses its request into a struct exec_call; exec_run then
 *   1. resolves the model in the catalogue and the provider instance,
 *   2. picks the credential: the tenant's own key for that provider (BYOK,
 *      opened only for the call and wiped after), else the platform key,
 *      else none for a self-hosted (loopback) upstream or the local mock,
 *   3. admits it (enforce/admit.h): caps max_tokens at the plan's cap,
 *      reserves the worst case against every limit, checks the tenant's
 *      circuit breaker for the provider,
 *   4. runs the tenant's guardrails before the call (exec/guardrail.h: a
 *      denial or a failed check ends it unbilled; a redaction is what the
 *      provider sees), calls the provider (streaming through the handler's
 *      emit callback, counting what flows so a stream never outgrows its
 *      reservation; with after-checks the answer is fetched whole and
 *      released to the stream once they passed), runs the after-checks,
 *   5. prices the usage, settles the reservation and writes the execution
 *      row and the day's rollup in one transaction — also for refusals,
 *      failures and cut streams,
 * and reports the outcome for the handler to render. Which credential
 * source was used is recorded, never the credential.
 */
#ifndef AH_EXECUTE_H
#define AH_EXECUTE_H

#include <stdint.h>

#include "common/reason.h"
#include "providers/provider.h"
#include "store/store.h"

struct req;
struct ident;
struct rcache;

struct exec_call {
	const char *kind;  /* "chat" | "run" | "embed" */
	const char *model; /* catalogue name */
	const struct ah_message *messages;
	size_t n_messages;
	int has_temperature;
	double temperature;
	int has_top_p;
	double top_p;
	int max_tokens; /* 0 = agent/config default */
	int stream;
	const struct agent *agent; /* or NULL */
	const char *session_id;    /* or NULL */
	const char *metadata;      /* JSON object text or NULL */
	const char *input;         /* run input to store, or NULL */
	size_t
	    output_max; /* chat with log_content on: store the answer too, cut to this many bytes */
	ah_emit_fn emit; /* streaming sink (stream only) */
	void *emit_ctx;
	ah_tool_emit_fn emit_tool; /* streamed tool call fragments (stream only), or NULL */
	void *emit_tool_ctx;
	char id[40];                 /* public id, set by exec_prepare */
	const struct ah_tool *tools; /* tools offered to the model, or NULL */
	size_t n_tools;
	/* The caller's tool_choice, parallel_tool_calls and response_format (see provider.h). */
	const char *tool_choice;
	const char *tool_choice_name;
	int has_parallel_tool_calls;
	int parallel_tool_calls;
	const char *response_format;
	const char *response_schema;
	const char *response_schema_name;
	int response_schema_strict;
	/* kind "embed": the texts to embed (no messages) and the size asked for (0 = default). */
	const char *const *inputs;
	size_t n_inputs;
	int dimensions;
	struct rcache *cache; /* the response cache's plan (exec/rcache.h), or NULL: not used */
	/* A routed attempt (exec/route.c), else NULL: the target's credential, and the id
	 * the attempt is recorded under when it fails and falls over to the next target. */
	const char *route_credential;
	const char *fallback_id;
};

struct exec_outcome {
	int ok;               /* 1 when the call succeeded */
	struct refusal err;   /* when not ok: why (its status and type are the table's) */
	struct model model;   /* resolved catalogue entry */
	struct ah_result res; /* text, finish_reason, usage */
	int64_t cost_micros;
	int latency_ms;
	int64_t created_at; /* unix seconds */
	char cred_source[16];
	int refused;      /* 1 when admission refused the call (the provider was not called) */
	int recorded;     /* 1 when the execution row was written */
	int cache_hit;    /* 1 when answered from the response cache (no upstream call, cost 0) */
	int streamed;     /* 1 once any output went to the client's stream (no fallback after) */
	char *guardrails; /* what the tenant's guardrails decided (JSON array text), or NULL */
	char *input_redacted; /* the stored input after a before-check redacted it, or NULL */
};

/*
 * Resolve the model before any output: fills out->model. 0 ok, or -1 after
 * sending 404 model_not_found, 403 model_not_allowed or 503.
 */
int exec_resolve(struct req *r, const struct ident *id, const char *model_name,
                 struct exec_outcome *out);
/*
 * Whether this caller may call model m now: the model allowlist of its
 * limits (tenant and key), a provider instance on this host, and a usable
 * credential (the tenant's own key, the platform's, or none needed: a local
 * or loopback provider). 1 yes, 0 no, -1 when the credential store failed.
 */
int exec_model_callable(struct req *r, const struct ident *id, const struct model *m);
/*
 * Give call an id ("chatcmpl-...", "run_..." or "embd-...") so a stream can name it
 * before the provider answers.
 */
void exec_prepare(struct exec_call *call);
/*
 * Run the call after exec_resolve. Always fills out and records the
 * execution; returns 0 when the call succeeded, -1 otherwise (nothing is
 * sent: the handler renders the outcome, streamed or not).
 */
int exec_run(struct req *r, const struct ident *id, const struct exec_call *call,
             struct exec_outcome *out);
/* The execution row of call and its outcome (strings point into call and out). */
void exec_execution(const struct req *r, const struct ident *id, const struct exec_call *call,
                    const struct exec_outcome *out, struct execution *e);
/* The execution status of an outcome: succeeded | refused | cancelled | failed. */
const char *exec_status_name(const struct exec_outcome *out);
/*
 * The tenant's sealed provider key named provider (an instance, or
 * "<instance>#<pool key name>"), through the process's credential cache:
 * ST_OK, ST_NOTFOUND, ST_ERR.
 */
int exec_sealed_cred(struct store *st, int64_t tenant_id, const char *provider,
                     struct sealed_cred *sc);
/* Free what out owns. */
void exec_outcome_free(struct exec_outcome *out);
/* Mark out failed or refused for reason, with a formatted message (reason_set). Returns -1. */
int exec_fail(struct exec_outcome *out, enum reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "0.000123" from micro-USD, into out (>= 24 bytes). */
void exec_format_usd(int64_t micros, char *out, size_t cap);

#endif
