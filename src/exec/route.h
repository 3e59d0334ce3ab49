/*
 * route: a chat call routed over an ordered, weighted list of targets with
 * fallbacks (docs/ROUTING.md).
 *
 * DESIGN
 * A route maps a name (a catalogue model or an alias) to targets, each a
 * provider instance, a catalogue model and a credential ("auto": the usual
 * chain of execute.c; "platform"; "tenant": the tenant's own key; "pool:<name>":
 * one key of the tenant's key pool for that provider). A tenant's route of a
 * name hides its plan's. Routes are read through a per-process cache (the
 * tenant's slot and the limits epoch, common/cache.h): no round trip on a warm
 * call.
 *
 * The order of attempts: targets by tier (1 first); within a tier a weighted
 * shuffle, so that load spreads by weight and the rest of the tier, then the
 * later tiers, are the fallbacks. Each attempt is a whole exec_run: admitted
 * for its own target's price (a pricier fallback that does not fit is refused
 * with the budget's reason, never exceeded), checked against its breaker,
 * called and recorded. A failed attempt that falls over is recorded under
 * "<id>-a<n>" (cost 0 unless it produced tokens); the attempt that ends the
 * call is recorded under the call's own id, and when there was more than one
 * attempt every attempt is a run_steps row of the call (kind "model").
 * A call falls over on 429, 5xx, timeouts, an open breaker and a target
 * without a usable credential, and only while nothing was streamed to the
 * client.
 */
#ifndef AH_ROUTE_H
#define AH_ROUTE_H

#include <stddef.h>

#include <jansson.h>

#include "exec/execute.h"
#include "store/routes.h"
#include "store/tools.h"

struct provider_instance;

#define ROUTE_MAX_TARGETS 8
#define ROUTE_POOL_NAME_MAX 10 /* "pool:" + name fits an execution's cred_source */

struct route_target {
	char provider[32];   /* provider instance */
	char model[128];     /* catalogue model */
	char credential[24]; /* auto | platform | tenant | pool:<name> */
	int tier;            /* 1.. ; lower first */
	int weight;          /* 1..1000 within its tier */
};

struct route_def {
	enum route_owner owner; /* whose route it is */
	size_t n;               /* targets */
	struct route_target t[ROUTE_MAX_TARGETS];
};

/*
 * Check a targets array (the API's and the CLI's form) into rt: every
 * target's provider a configured instance, model a name, credential and the
 * numbers in range (the catalogue is checked by route_check_models). 0, or
 * -1 with a message in err and the offending field in param.
 */
int route_parse(json_t *targets, struct route_def *rt, char *err, size_t errlen, char *param,
                size_t pcap);
/* 0 when every target's model is an enabled chat model of the catalogue; -1 with err. */
int route_check_models(struct store *st, const struct route_def *rt, char *err, size_t errlen);
/* The targets as the canonical JSON array (new reference, NULL when out of memory). */
json_t *route_targets_json(const struct route_def *rt);
/*
 * The route of name for the caller (its own, else its plan's), cached.
 * 1 found (out filled), 0 none, -1 the store failed.
 */
int route_lookup(struct store *st, const struct ident *id, const char *name, struct route_def *out);
/*
 * 0 when every target's adapter honours the call's response_format (-1 after a
 * 400 naming the first that does not), as chat.c checks a plain model.
 */
int route_check_format(struct req *r, const struct exec_call *call, const struct route_def *rt);
/*
 * Each attempt of a routed call as a run_steps row (kind "model", name
 * "<instance>/<model> <credential>", exec_id the attempt's execution, its
 * outcome and reason), handed over in order once the call ended.
 */
typedef void (*route_step_fn)(void *ctx, struct run_step *s);

/*
 * Run call over rt's targets (see DESIGN). When served_model is not NULL it
 * is pointed at the model of the attempt about to run (the name a chat
 * stream's chunks carry). The response gets X-Agenthost-Target for the
 * attempt that ended the call (replacing one an earlier call of the same
 * request set: a run's model steps). With step NULL, a call of more than one
 * attempt records every attempt as a run_steps row of call->id (chat, a run
 * without tools); otherwise step gets every attempt, one too, and records it
 * (a model step of a run with tools: exec/agent_loop.c).
 * Returns what exec_run returns; out is the outcome of that attempt.
 */
int route_run(struct req *r, const struct ident *id, struct exec_call *call,
              const struct route_def *rt, struct exec_outcome *out, const char **served_model,
              route_step_fn step, void *step_ctx);
/*
 * The credential of an attempt (execute.c's hook): 1 "auto" (use the usual
 * chain), 0 key and out->cred_source set, -1 with out's error set.
 */
int route_credential(struct req *r, const struct ident *id, const char *credential,
                     const struct provider_instance *inst, char *key, size_t cap,
                     struct exec_outcome *out);
/*
 * The order of attempts for one call into order[] (rt->n indexes of rt->t):
 * by tier, and within a tier a weighted shuffle (each place drawn by weight
 * among the targets not yet placed).
 */
void route_order(const struct route_def *rt, size_t order[ROUTE_MAX_TARGETS]);
/* 1 when a failed attempt with outcome out falls over to the next target. */
int route_falls_back(const struct exec_outcome *out);

#endif
