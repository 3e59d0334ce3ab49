/*
 * tools (store): the tool registry, tenants' tool secrets, agents' tool
 * lists and the steps of runs with tools (store_tool_*, store_run_*).
 *
 * DESIGN
 * The registry (tools) is the operator's: no tenant id. Everything else is
 * tenant data and every query takes the tenant id as the leading key column,
 * so another tenant's secret, agent or run is simply not found. Tool
 * secrets are stored sealed only (crypto/secrets.h); listing them returns
 * names and dates, never a ciphertext.
 */
#ifndef AH_STORE_TOOLS_H
#define AH_STORE_TOOLS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define TOOL_NAME_MAX 64
#define TOOL_DESC_MAX 1024
#define TOOL_SCHEMA_MAX 8192
#define TOOL_PATH_MAX 1024
#define TOOL_SECRETS_MAX 1024   /* comma list of secret names */
#define AGENT_MAX_TOOLS 32      /* tools one agent may list */
#define AGENT_DEFAULT_STEPS 8   /* max_steps when the agent sets none */
#define AGENT_MAX_STEPS_MAX 100 /* largest max_steps accepted */

struct tool_def {
	int64_t id;
	char name[TOOL_NAME_MAX + 1];            /* [A-Za-z0-9_-], unique */
	char description[TOOL_DESC_MAX + 1];     /* shown to the model */
	char schema[TOOL_SCHEMA_MAX + 1];        /* JSON schema of the arguments (an object) */
	char exec_path[TOOL_PATH_MAX + 1];       /* absolute path of the executable */
	int timeout_ms;                          /* wall-clock limit per call */
	int max_output_bytes;                    /* stdout cap per call */
	int mutating;                            /* 1: gets AGENTHOST_IDEMPOTENCY_KEY */
	char secret_names[TOOL_SECRETS_MAX + 1]; /* comma list of env names, "" = none */
	int enabled;
	int64_t created_at; /* unix seconds */
	int64_t updated_at;
};

typedef int (*tool_def_cb)(void *ctx, const struct tool_def *t);

/* Insert t, or update the tool of that name (and enable it). *created 1 when new. */
int store_tool_register(struct store *st, const struct tool_def *t, int *created);
/* ST_OK, ST_NOTFOUND, ST_ERR. Disabled tools are found too (check ->enabled). */
int store_tool_get(struct store *st, const char *name, struct tool_def *out);
/* Every tool by name; nonzero from cb stops. */
int store_tool_list(struct store *st, tool_def_cb cb, void *ctx);
/* ST_NOTFOUND when no such tool. */
int store_tool_set_enabled(struct store *st, const char *name, int enabled);

/* ------------------------------------------------------------------ tenant tool secrets */

typedef int (*tool_secret_cb)(void *ctx, const char *tool, const char *name,
                              const struct sealed_cred *c);

/* Insert or replace the tenant's sealed value of secret name of tool (c->last4 unused). */
int store_tool_secret_put(struct store *st, int64_t tenant_id, const char *tool, const char *name,
                          const struct sealed_cred *c);
/* The current version of a secret: ST_OK with *version, ST_NOTFOUND, ST_ERR. */
int store_tool_secret_version(struct store *st, int64_t tenant_id, const char *tool,
                              const char *name, int *version);
/* Names, versions and dates of the tenant's secrets (c->ct_len 0: no ciphertext read). */
int store_tool_secret_list(struct store *st, int64_t tenant_id, tool_secret_cb cb, void *ctx);
/* The sealed secrets of one tool for the tenant (with ciphertexts), for a call. */
int store_tool_secrets_sealed(struct store *st, int64_t tenant_id, const char *tool,
                              tool_secret_cb cb, void *ctx);

/* ------------------------------------------------------------------ agents' tools */

struct agent_tools {
	size_t n;
	char names[AGENT_MAX_TOOLS][TOOL_NAME_MAX + 1];
	int max_steps; /* 0 = AGENT_DEFAULT_STEPS */
};

/* Replace the agent's tool list and max_steps (0 = default) in one transaction. */
int store_agent_tools_set(struct store *st, int64_t tenant_id, int64_t agent_id,
                          const struct agent_tools *t);
/* The agent's tools (by name) and max_steps. ST_OK (n may be 0) or ST_ERR. */
int store_agent_tools_get(struct store *st, int64_t tenant_id, int64_t agent_id,
                          struct agent_tools *out);

/* ------------------------------------------------------------------ run steps */

struct run_step {
	int64_t tenant_id;
	char run_id[40];
	int step;         /* 1, 2, ... in order */
	char kind[8];     /* "model" | "tool" */
	char name[129];   /* model name or tool name */
	char call_id[65]; /* the model's tool call id (tool steps) */
	char exec_id[40]; /* the step's execution id (model steps) */
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t cost_micros;
	int duration_ms;
	char outcome[16];     /* "succeeded" | "failed" | "refused" */
	char reason_code[48]; /* "" when succeeded */
	char message[256];    /* safe to show; "" when none */
	int64_t created_at;   /* filled by reads */
};

typedef int (*run_step_cb)(void *ctx, const struct run_step *s);

int store_run_step_insert(struct store *st, const struct run_step *s);
/* The run's steps in order. ST_OK (none is fine) or ST_ERR. */
int store_run_steps_list(struct store *st, int64_t tenant_id, const char *run_id, run_step_cb cb,
                         void *ctx);
/*
 * Write the run's own execution row (kind "run") without adding it to
 * usage_daily: its model calls were recorded and rolled up as steps.
 */
int store_run_record(struct store *st, const struct execution *e);

#endif
