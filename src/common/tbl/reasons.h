/*
 * tbl/reasons.h: every reason_code the server can emit, one row each.
 *
 * DESIGN
 * An X-macro table in the shape of varnish-cache's include/tbl/ tables: the
 * includer defines REASON(name, status, type, flags, doc) and includes this
 * file, which has no include guard on purpose. common/reason.h turns it
 * into enum reason (R_<name>) and common/reason.c into the name, status,
 * type and flags lookups, so a code and its status cannot part;
 * tests/unit/test_reasons.c checks it against the table in docs/API.md both
 * ways, so the docs cannot drift.
 *
 *   name    the reason_code, as sent and as stored in execution / run-step rows
 *   status  the HTTP status it is answered with; 499 is recorded on the
 *           execution, never sent (see resp_refusal); 0: never an HTTP
 *           answer (tool steps, reaped reservations)
 *   type    the OpenAI-style error type of the answer
 *   flags   RF_RETRY: always answered with Retry-After;
 *           RF_PROVIDER: a provider may report it (res->error_code, the plugin ABI);
 *           RF_UPSTREAM: the upstream's fault (counts against the tenant's breaker)
 *   doc     one line: when it is sent
 *
 * Keep rows grouped by status; a new code needs its row here and in docs/API.md.
 */

/* 400 */
REASON(invalid_json, 400, invalid_request_error, 0,
       "the body is not a JSON object, is malformed, or repeats a key")
REASON(json_too_deep, 400, invalid_request_error, 0, "the body nests deeper than max_json_depth")
REASON(invalid_request, 400, invalid_request_error, 0,
       "a field is missing, of the wrong type or out of range; a malformed path segment")
REASON(invalid_cursor, 400, invalid_request_error, 0, "cursor is not from this tenant's list")
REASON(too_many_headers, 400, invalid_request_error, 0, "more request headers than max_headers")
REASON(tool_streaming_unsupported, 400, invalid_request_error, 0,
       "stream: true on a run of an agent that has tools")
REASON(invalid_tool, 400, invalid_request_error, 0, "operator API: the tool definition is invalid")
REASON(invalid_guardrail, 400, invalid_request_error, 0,
       "a guardrail definition or a guardrail chain is invalid")

/* 401 */
REASON(missing_api_key, 401, authentication_error, 0, "no Authorization header")
REASON(invalid_api_key, 401, authentication_error, 0, "not a Bearer key, malformed, or unknown")
REASON(key_revoked, 401, authentication_error, 0, "the key was revoked")
REASON(key_expired, 401, authentication_error, 0,
       "past its expiry, or rotated and past its grace period")
REASON(invalid_operator_token, 401, authentication_error, 0,
       "operator routes: missing, wrong or revoked operator token")

/* 403 */
REASON(tenant_key_not_allowed, 403, permission_error, 0,
       "operator routes: a tenant API key was sent")
REASON(tenant_mismatch, 403, permission_error, 0, "X-Tenant-ID names another tenant")
REASON(tenant_not_served, 403, permission_error, 0,
       "this pool of processes does not serve the key's tenant (serve_tenants, exclude_tenants)")
REASON(tenant_suspended, 403, permission_error, 0, "the tenant is suspended")
REASON(provider_key_not_allowed, 403, permission_error, 0,
       "X-Provider-Api-Key was sent but the tenant's request_provider_key is off")
REASON(scope_denied, 403, permission_error, 0,
       "the API key's scopes do not include what the route needs")
REASON(model_not_allowed, 403, permission_error, 0,
       "the model is not in the tenant's allowed_models")
REASON(project_model_not_allowed, 403, permission_error, 0,
       "the model is not in the allowed_models of the calling key's project")
REASON(key_model_not_allowed, 403, permission_error, 0,
       "the model is not in the calling API key's own allowed_models")
REASON(agent_not_allowed, 403, permission_error, 0,
       "the agent is not in the tenant's allowed_agents")
REASON(ip_not_allowed, 403, permission_error, 0,
       "the client address is outside the tenant's ip_allowlist")
REASON(guardrail_denied, 403, permission_error, 0,
       "a guardrail of the tenant's chain denied the prompt or the answer")

/* 404 */
REASON(not_found, 404, not_found_error, 0, "no such endpoint, or no such object for this tenant")
REASON(model_not_found, 404, not_found_error, 0, "the model is not in the catalogue")
REASON(tool_not_found, 404, not_found_error, 0,
       "POST /v1/agents: a name in tools is not a registered tool")

/* 405, 409, 413, 414, 422 */
REASON(method_not_allowed, 405, invalid_request_error, 0, "known path, other method")
REASON(conflict, 409, conflict_error, 0, "an object with that name exists")
REASON(idempotency_conflict, 409, conflict_error, 0,
       "the Idempotency-Key was used with another request body")
REASON(idempotency_in_progress, 409, conflict_error, RF_RETRY,
       "the first request with this Idempotency-Key is still running")
REASON(session_agent_mismatch, 409, conflict_error, 0, "the session is bound to another agent")
REASON(move_failed, 409, conflict_error, 0, "operator API: a tenant move did not happen")
REASON(not_offboarding, 409, conflict_error, 0, "operator API: the tenant is not being offboarded")
REASON(body_too_large, 413, invalid_request_error, 0, "body over max_body_bytes")
REASON(uri_too_long, 414, invalid_request_error, 0, "request URI over 2 KiB")
REASON(unsupported_media_type, 415, invalid_request_error, 0,
       "an API request has a body whose Content-Type is not application/json")
REASON(max_steps_reached, 422, invalid_request_error, 0,
       "a run with tools still asked for tools after max_steps model calls")

/* 429 */
REASON(rpm_exceeded, 429, rate_limit_error, RF_RETRY, "requests per minute of the tenant")
REASON(key_rpm_exceeded, 429, rate_limit_error, RF_RETRY, "requests per minute of the key")
REASON(tpm_exceeded, 429, rate_limit_error, RF_RETRY, "tokens per minute of the tenant")
REASON(key_tpm_exceeded, 429, rate_limit_error, RF_RETRY, "tokens per minute of the key")
REASON(concurrency_exceeded, 429, rate_limit_error, RF_RETRY, "requests in flight for the tenant")
REASON(project_rpm_exceeded, 429, rate_limit_error, RF_RETRY,
       "requests per minute of the calling key's project")
REASON(project_tpm_exceeded, 429, rate_limit_error, RF_RETRY,
       "tokens per minute of the calling key's project")
REASON(project_concurrency_exceeded, 429, rate_limit_error, RF_RETRY,
       "requests in flight for the calling key's project")
REASON(key_concurrency_exceeded, 429, rate_limit_error, RF_RETRY, "requests in flight for the key")
REASON(tenant_share_exceeded, 429, rate_limit_error, RF_RETRY,
       "the tenant holds its share of this process's calls in flight")
REASON(tenant_budget_exceeded, 429, insufficient_quota, RF_RETRY,
       "a hard budget of the tenant would be exceeded by the worst case")
REASON(project_budget_exceeded, 429, insufficient_quota, RF_RETRY,
       "a hard budget of the calling key's project would be exceeded by the worst case")
REASON(tag_budget_exceeded, 429, insufficient_quota, RF_RETRY,
       "a hard budget of a metadata tag the call carries would be exceeded by the worst case")
REASON(key_budget_exceeded, 429, insufficient_quota, RF_RETRY,
       "a hard budget of the calling API key would be exceeded by the worst case")
REASON(end_user_budget_exceeded, 429, insufficient_quota, RF_RETRY,
       "a hard budget of each end user would be exceeded for the call's end user")

/* 499: recorded, never sent */
REASON(client_disconnected, 499, invalid_request_error, RF_PROVIDER,
       "the client went away during the call")

/* 500 */
REASON(credential_unusable, 500, api_error, 0,
       "the tenant's stored provider key cannot be decrypted")
REASON(internal_error, 500, api_error, 0, "a bug; the request id finds the log line")

/* 502 */
REASON(upstream_error, 502, api_error, RF_PROVIDER | RF_UPSTREAM,
       "the provider answered with an error")
REASON(upstream_auth_failed, 502, api_error, RF_PROVIDER | RF_UPSTREAM,
       "the provider refused the credential")
REASON(upstream_rate_limited, 502, api_error, RF_PROVIDER | RF_UPSTREAM,
       "the provider answered 429")
REASON(upstream_unavailable, 502, api_error, RF_PROVIDER | RF_UPSTREAM,
       "the provider could not be reached")
REASON(upstream_bad_response, 502, api_error, RF_PROVIDER | RF_UPSTREAM,
       "the provider's answer could not be understood")
REASON(provider_error, 502, api_error, RF_PROVIDER | RF_UPSTREAM, "any other provider failure")
REASON(budget_reservation_exhausted, 502, api_error, 0,
       "a stream outgrew its reservation and was ended")
REASON(guardrail_failed, 502, api_error, 0,
       "a guardrail crashed, timed out or gave no valid verdict: the call fails closed")

/* 503 */
REASON(tenant_migrating, 503, api_error, RF_RETRY,
       "the tenant's data is being moved between databases")
REASON(provider_not_configured, 503, api_error, 0,
       "the model's provider has no credential or is not loaded")
REASON(database_unavailable, 503, api_error, 0, "MariaDB is unreachable; retry")
REASON(server_busy, 503, api_error, 0,
       "this process holds its maximum of calls in flight or streams, or memory ran out")
REASON(not_ready, 503, api_error, 0, "/readyz only")
REASON(global_budget_exceeded, 503, api_error, RF_RETRY,
       "the platform's budget over all tenants is exhausted")
REASON(circuit_open, 503, api_error, RF_RETRY, "this tenant's calls to the provider kept failing")
REASON(provisioning_failed, 503, api_error, 0,
       "operator API: a dedicated tenant's database could not be made")
REASON(export_failed, 503, api_error, 0, "operator API: the export failed before any byte was sent")

/* 504 */
REASON(upstream_timeout, 504, api_error, RF_PROVIDER | RF_UPSTREAM,
       "the provider did not answer within its timeout")

/* Never an HTTP answer: recorded on executions and run steps */
REASON(reservation_expired, 0, api_error, 0, "the process serving a call ended before it settled")
REASON(tool_not_allowed, 0, api_error, 0,
       "tool step: not allowed for the tenant or the agent, or disabled")
REASON(tool_arguments_invalid, 0, api_error, 0, "tool step: the arguments fail the tool's schema")
REASON(tool_timeout, 0, api_error, 0, "tool step: the tool ran past its timeout")
REASON(tool_output_too_large, 0, api_error, 0, "tool step: the tool wrote more than its output cap")
REASON(tool_crashed, 0, api_error, 0, "tool step: the tool was killed by a signal")
REASON(tool_failed, 0, api_error, 0,
       "tool step: the tool exited non-zero or could not be talked to")
REASON(tool_invalid_output, 0, api_error, 0,
       "tool step: the tool's output is not the protocol's JSON")
REASON(tool_spawn_failed, 0, api_error, 0, "tool step: the tool could not be started")
