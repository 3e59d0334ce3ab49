/*
 * runner: run one tool call as a separate program, CGI style.
 *
 * DESIGN
 * A tool is an executable the operator registered (so is a guardrail,
 * exec/guardrail.c: the same runner runs both). Each call forks it into
 * its own process group with: the call JSON on stdin; a clean environment
 * holding only AGENTHOST_TENANT_ID, AGENTHOST_RUN_ID, AGENTHOST_TOOL, the
 * idempotency key for mutating tools, and that tenant's secrets for that
 * tool; no inherited descriptors beyond 0-2 (stderr is /dev/null); a fresh
 * private working directory, removed afterwards; rlimits on CPU time,
 * address space, file size, processes and core dumps. The host reads stdout
 * up to the tool's output cap and waits up to its time limit; past either the
 * whole process group is killed. Every failure (cannot start, crash,
 * non-zero exit, timeout, oversized or non-JSON output) becomes a tool error
 * with a reason code, never a hung call. Everything the child does between
 * fork and execve is async-signal-safe: the host is multi-threaded.
 */
#ifndef AH_TOOLS_RUNNER_H
#define AH_TOOLS_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "common/reason.h"

#define TOOL_RUNNER_MAX_ENV 32 /* secrets per tool call */

/* One environment variable for the tool: NAME=value. */
struct tool_env {
	const char *name;  /* [A-Z_][A-Z0-9_]*, not starting with AGENTHOST_ */
	const char *value; /* no NUL inside */
};

struct tool_run_spec {
	const char *exec_path; /* absolute path of the executable */
	const char *tool;      /* tool name, for AGENTHOST_TOOL */
	const char *name_var;  /* the variable naming it: NULL = "AGENTHOST_TOOL" (a guardrail:
	                          "AGENTHOST_GUARDRAIL", exec/guardrail.c) */
	int64_t tenant_id;
	const char *run_id;
	const char *idempotency_key; /* AGENTHOST_IDEMPOTENCY_KEY, or NULL */
	const struct tool_env *secrets;
	size_t n_secrets;
	const char *input; /* the call JSON written to stdin */
	size_t input_len;
	int timeout_ms;           /* wall-clock limit, > 0 */
	size_t max_output;        /* stdout cap in bytes, > 0 */
	int64_t max_memory_bytes; /* RLIMIT_AS; 0 = 512 MiB */
	int64_t max_file_bytes;   /* RLIMIT_FSIZE; 0 = 16 MiB */
	int max_processes;        /* RLIMIT_NPROC; 0 = 64 */
	const char *tmp_dir;      /* parent of the working directory; NULL = $TMPDIR or /tmp */
};

struct tool_run_result {
	int ok;             /* 1: exit status 0 and stdout is JSON */
	char *output;       /* malloc'd stdout (JSON when ok), NULL when none */
	struct refusal err; /* when not ok: tool_spawn_failed, tool_timeout,
	                       tool_output_too_large, tool_crashed, tool_failed or
	                       tool_invalid_output; the message is safe to show (no secrets) */
	int duration_ms;
	int exit_status; /* exit code, -1 when killed */
	int term_signal; /* signal that ended it, 0 when none */
};

/* Run one call. Always fills out; returns 0 when out->ok, -1 otherwise. */
int tool_runner_run(const struct tool_run_spec *s, struct tool_run_result *out);
/* Free what out owns. */
void tool_run_result_free(struct tool_run_result *out);
/* 1 when name can be an environment variable name for a tool secret (VALID_SECRET). */
int tool_runner_env_name_ok(const char *name);

#endif
