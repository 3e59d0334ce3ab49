/*
 * guardrails (store): the operator's registry of guardrail checks
 * (store_guardrail_*).
 *
 * DESIGN
 * Like the tool registry (store/tools.h) the registry is the operator's: no
 * tenant id, in the control database. Which checks a tenant's calls go
 * through is not stored here: it is the limit "guardrails" (an ordered
 * list, tenant, plan or global scope; enforce/limits.h), so it is cached and
 * inherited like every other limit. What each check decided is stored with
 * the call's execution row (executions.guardrails).
 */
#ifndef AH_STORE_GUARDRAILS_H
#define AH_STORE_GUARDRAILS_H

#include <stdint.h>

#include "store/store.h"

#define GUARDRAIL_NAME_MAX 64
#define GUARDRAIL_DESC_MAX 1024
#define GUARDRAIL_PATH_MAX 1024
#define GUARDRAIL_ENV_MAX 2048 /* NAME=value lines */
#define GUARDRAIL_ENV_VARS 16  /* settings of one check */
#define GUARDRAIL_TIMEOUT_MAX 60000

struct guardrail_def {
	int64_t id;
	char name[GUARDRAIL_NAME_MAX + 1];        /* valid_name VALID_TOOL, unique */
	char description[GUARDRAIL_DESC_MAX + 1]; /* for people; "" allowed */
	char exec_path[GUARDRAIL_PATH_MAX + 1];   /* absolute, under guardrail_dir */
	char stage[8];                            /* "before" | "after" | "both" */
	int timeout_ms;                           /* wall-clock limit per check */
	char env[GUARDRAIL_ENV_MAX + 1];          /* "NAME=value\n..." settings, "" = none */
	int enabled;                              /* 0: skipped in every chain */
	int64_t created_at;                       /* unix seconds */
	int64_t updated_at;
};

typedef int (*guardrail_def_cb)(void *ctx, const struct guardrail_def *g);

/* Insert g, or update the guardrail of that name (and enable it). *created 1 when new. */
int store_guardrail_register(struct store *st, const struct guardrail_def *g, int *created);
/* ST_OK, ST_NOTFOUND, ST_ERR. Disabled ones are found too (check ->enabled). */
int store_guardrail_get(struct store *st, const char *name, struct guardrail_def *out);
/* Every guardrail by name; nonzero from cb stops. ST_OK or ST_ERR. */
int store_guardrail_list(struct store *st, guardrail_def_cb cb, void *ctx);
/* ST_OK, ST_NOTFOUND when no such guardrail, ST_ERR. */
int store_guardrail_set_enabled(struct store *st, const char *name, int enabled);

#endif
