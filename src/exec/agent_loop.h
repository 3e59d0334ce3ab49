/*
 * agent_loop: a run of an agent that has tools.
 *
 * DESIGN
 * The run is a loop of steps, each recorded as a run_steps row:
 *   model step  one model call through exec_run (kind "step", its own id),
 *               so admission, budgets, rate limits and the breaker apply to
 *               every model call, and each is billed and rolled up like any
 *               other call;
 *   tool step   one tool call the model asked for: policy (the tool is
 *               allowed for the tenant by allowed_tools AND listed by the
 *               agent AND registered and enabled; its arguments validate
 *               against its schema), then the runner (tools/runner.h) with
 *               the tenant's secrets for that tool. A refusal or a failure
 *               becomes a tool error message for the model, never the end
 *               of the run.
 * A model step of an agent whose model name has a route is one routed call
 * (exec/route.h): its attempts are its steps, fallbacks included.
 * The loop ends when the model answers without tool calls (succeeded),
 * when a model call fails or is refused (the run ends with that reason, the
 * steps so far kept), or when max_steps model calls have asked for tools
 * (failed, max_steps_reached). The run's own execution row (kind "run")
 * carries the final answer and the sums of its model steps and is not
 * rolled up again.
 *
 * Mutating tools get AGENTHOST_IDEMPOTENCY_KEY: a hex BLAKE2b of (tenant,
 * agent, the request's Idempotency-Key header or else the run id, step
 * number). A run retried under the same Idempotency-Key that reaches the
 * same step passes the same key, so a tool that honours it writes once.
 */
#ifndef AH_AGENT_LOOP_H
#define AH_AGENT_LOOP_H

#include "exec/execute.h"
#include "exec/route.h"
#include "store/tools.h"

/*
 * Run call (kind "run", prepared; resolved, out->model set, unless rt is not
 * NULL) with the agent's tools. With rt (the route of the agent's model
 * name, exec/route.h) every model step goes through route_run: each attempt
 * is a model step row ("<instance>/<model> <credential>", a failed one with
 * its reason and execution "<step id>-a<n>"), and the run's model is the
 * target that served its last model step. Always fills out with the run's
 * outcome (text of the final answer, usage and cost summed over the model
 * steps) and records the run; returns 0 when the run succeeded, -1
 * otherwise. Nothing is sent.
 */
int agent_loop_run(struct req *r, const struct ident *id, const struct exec_call *call,
                   const struct agent_tools *tools, const struct route_def *rt,
                   struct exec_outcome *out);

#endif
