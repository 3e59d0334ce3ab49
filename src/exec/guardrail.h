/*
 * guardrail: a tenant's ordered chain of checks run before and after a
 * model call (guardrail_*).
 *
 * DESIGN
 * A guardrail is a program the operator registered (store/guardrails.h)
 * under guardrail_dir; a tenant's chain is its effective limit
 * "guardrails" (tenant, plan or global: an ordered list of names). Each
 * check runs through the tool runner (tools/runner.h: the same fork/execve
 * with a clean environment, rlimits, timeout and output cap; the request
 * parks on its output and exit, the thread serves others), reads the call
 * as JSON on stdin and prints one verdict on stdout:
 *
 *   {"action":"allow"}
 *   {"action":"deny","reason":"..."}
 *   {"action":"redact","messages":[{"role":..,"content":..},...]}  (before)
 *   {"action":"redact","content":"..."}                            (after)
 *
 * validated strictly: any other shape, a crash, a timeout, a non-zero exit
 * or output that is not JSON is a failed check, and the call fails closed
 * (502 guardrail_failed). A denial stops the chain (403 guardrail_denied);
 * a redaction replaces what the next check and the provider (before) or
 * the client (after) see. Checks of a disabled guardrail are skipped. What
 * each check decided (name, stage, action, reason, ms) is kept as a JSON
 * array for the execution row (executions.guardrails).
 */
#ifndef AH_EXEC_GUARDRAIL_H
#define AH_EXEC_GUARDRAIL_H

#include <stddef.h>

#include <jansson.h>

#include "common/reason.h"
#include "providers/provider.h"
#include "store/guardrails.h"

struct req;
struct ident;
struct exec_call;

#define GUARDRAIL_CHAIN_MAX 8 /* checks in one chain */

struct guardrail_run {
	size_t n;                   /* checks in the chain (0: none) */
	struct guardrail_def *defs; /* n loaded definitions (malloc'd) */
	int has_before, has_after;  /* an enabled check runs at that stage */
	json_t *decisions;          /* array of what each check decided */
	json_t *keep;               /* verdicts whose strings msgs points into */
	struct ah_message *msgs;    /* the redacted messages, or NULL */
	size_t n_msgs;
	const char *dir; /* guardrail_dir of the configuration */
};

/*
 * Load the tenant's chain (its effective "guardrails" limit) into g. 0 (g->n
 * may be 0: no chain), or -1 with err set: a name that is not registered
 * (502 guardrail_failed: fail closed) or the store unavailable.
 */
int guardrail_load(struct req *r, const struct ident *id, struct guardrail_run *g,
                   struct refusal *err);
/*
 * Run the chain's before-checks on call's messages. 0: go ahead (g->msgs
 * set when a check redacted: send those instead), or -1 with err set
 * (guardrail_denied or guardrail_failed).
 */
int guardrail_before(const struct ident *id, const struct exec_call *call, const char *model,
                     struct guardrail_run *g, struct refusal *err);
/*
 * Run the chain's after-checks on the answer *text (malloc'd; replaced by
 * a malloc'd copy when a check redacts). 0, or -1 with err set.
 */
int guardrail_after(const struct ident *id, const struct exec_call *call, const char *model,
                    struct guardrail_run *g, char **text, struct refusal *err);
/* The decisions as JSON array text (malloc'd), or NULL when the chain is empty. */
char *guardrail_decisions_text(const struct guardrail_run *g);
/* Free what g owns. */
void guardrail_run_free(struct guardrail_run *g);
/*
 * Check a definition before it is registered: name, stage, an executable
 * regular file under dir, timeout, settings. 0, or -1 with a message in err.
 */
int guardrail_def_check(const struct guardrail_def *d, const char *dir, char *err, size_t errlen);
/*
 * Check an ordered chain (comma list): every name registered (enabled or
 * not), at most GUARDRAIL_CHAIN_MAX, none twice. 0, -1 with err set
 * (invalid_guardrail), -2 when the store failed.
 */
int guardrail_chain_check(struct store *st, const char *chain, char *err, size_t errlen);
/*
 * Does a tenant's own chain keep every check of the chain it would inherit
 * (its plan's, else the global one)? A check the operator put on a plan is
 * not the tenant's to remove: the tenant's self-service API and its
 * dashboard users are held to this, an operator is not. 0, -1 with err set
 * (naming the check), -2 when the store failed.
 */
int guardrail_chain_keeps(struct store *st, int64_t tenant_id, const char *chain, char *err,
                          size_t errlen);

#endif
