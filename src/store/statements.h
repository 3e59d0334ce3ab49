/*
 * statements.h: every prepared statement of the store, one named entry each.
 *
 * DESIGN
 * One X-macro table, DB_STATEMENTS(X), lists each statement as
 * X(NAME, SHAPES); db.h turns it into enum db_q (Q_NAME) and db.c into the
 * table of shape counts. The SQL text stays next to the code that runs it,
 * in the file named by the comment above its group; this table only gives
 * it a slot in the per-connection statement cache.
 *
 * A statement whose text comes in several shapes (one per combination of
 * optional filters, one per report dimension) declares how many; shape i is
 * named db_variant(Q_NAME, i), which checks i against that count. Nothing
 * else computes a statement id, so two statements can never share a slot.
 */
#ifndef AH_STORE_STATEMENTS_H
#define AH_STORE_STATEMENTS_H

/* Shapes of the list statements whose counts other headers define. */
#define DB_EXEC_LIST_SHAPES 32  /* executions.c: one per subset of 5 optional filters */
#define DB_DASHA_USAGE_SHAPES 6 /* dash_analytics.c: DASHA_DIM__MAX */
#define DB_DASHA_ATTR_SHAPES 4  /* dash_analytics.c: DASHA_ATTR__MAX */

#define DB_STATEMENTS(X)                                                                           \
	/* migrate.c */                                                                            \
	X(MIG_ENSURE, 1)                                                                           \
	X(MIG_LIST, 1)                                                                             \
	X(MIG_INSERT, 1)                                                                           \
	/* tenants.c */                                                                            \
	X(TENANT_INSERT, 1)                                                                        \
	X(TENANT_GET, 1)                                                                           \
	X(TENANT_GET_SLUG, 1)                                                                      \
	X(TENANT_LIST, 1)                                                                          \
	X(TENANT_SET_STATUS, 1)                                                                    \
	X(TENANT_SET_LOG_CONTENT, 1)                                                               \
	X(TENANT_PAGE, 1)                                                                          \
	/* keys.c */                                                                               \
	X(KEY_AUTH, 1)                                                                             \
	X(KEY_INSERT, 1)                                                                           \
	X(KEY_GET, 1)                                                                              \
	X(KEY_LIST, 1)                                                                             \
	X(KEY_REVOKE, 1)                                                                           \
	X(KEY_LOCK, 1)                                                                             \
	X(KEY_SET_GRACE, 1)                                                                        \
	X(KEY_TOUCH, 1)                                                                            \
	X(KEY_SET_SCOPES, 1)                                                                       \
	/* credentials.c */                                                                        \
	X(CRED_PUT, 2)                                                                             \
	X(CRED_GET, 2)                                                                             \
	X(CRED_CLEAR, 2)                                                                           \
	X(CRED_LIST, 2)                                                                            \
	/* models.c */                                                                             \
	X(MODEL_GET, 1)                                                                            \
	X(MODEL_LIST, 1)                                                                           \
	X(MODEL_ADMIN_GET, 1)                                                                      \
	X(MODEL_ADMIN_LIST, 1)                                                                     \
	X(MODEL_INSERT, 1)                                                                         \
	X(MODEL_UPDATE, 1)                                                                         \
	X(MODEL_PRICE_INSERT, 1)                                                                   \
	X(MODEL_PRICES, 1)                                                                         \
	/* agents.c */                                                                             \
	X(AGENT_INSERT, 1)                                                                         \
	X(AGENT_GET, 1)                                                                            \
	X(AGENT_GET_NAME, 1)                                                                       \
	X(AGENT_LIST, 1)                                                                           \
	/* sessions.c */                                                                           \
	X(SESSION_INSERT, 1)                                                                       \
	X(SESSION_INSERT_DATA, 1)                                                                  \
	X(SESSION_GET, 1)                                                                          \
	X(SESSION_COUNT, 1)                                                                        \
	X(SESSION_MESSAGES, 1)                                                                     \
	X(SESSION_LOCK, 1)                                                                         \
	X(SESSION_MSG_INSERT, 1)                                                                   \
	X(SESSION_BUMP, 1)                                                                         \
	/* executions.c */                                                                         \
	X(EXEC_INSERT, 1)                                                                          \
	X(EXEC_GET, 1)                                                                             \
	X(EXEC_SEQ, 1)                                                                             \
	X(EXEC_LIST, DB_EXEC_LIST_SHAPES)                                                          \
	/* audit.c */                                                                              \
	X(AUDIT_INSERT, 1)                                                                         \
	X(AUDIT_PAGE, 2)                                                                           \
	/* changes.c */                                                                            \
	X(CHANGE_INSERT, 1)                                                                        \
	X(CHANGE_POLL, 1)                                                                          \
	/* leases.c */                                                                             \
	X(LEASE_HEARTBEAT, 1)                                                                      \
	X(LEASE_SILENT, 1)                                                                         \
	X(LEASE_RECALLS, 1)                                                                        \
	/* limits.c */                                                                             \
	X(LIM_APPLICABLE, 1)                                                                       \
	X(LIM_LIST, 1)                                                                             \
	X(LIM_SET, 1)                                                                              \
	X(LIM_UNSET, 1)                                                                            \
	/* projects.c */                                                                           \
	X(PROJECT_INSERT, 1)                                                                       \
	X(PROJECT_GET, 1)                                                                          \
	X(PROJECT_GET_ID, 1)                                                                       \
	X(PROJECT_LIST, 1)                                                                         \
	X(PROJECT_RENAME, 1)                                                                       \
	X(PROJECT_DEL_KEYS, 1)                                                                     \
	X(PROJECT_DEL_LIMITS, 1)                                                                   \
	X(PROJECT_DEL_CREDS, 1)                                                                    \
	X(PROJECT_DEL, 1)                                                                          \
	X(PROJECT_KEY_SET, 1)                                                                      \
	X(PROJECT_KEY_UNSET, 1)                                                                    \
	X(PROJECT_OF_KEY, 1)                                                                       \
	X(PROJECT_KEY_LIST, 1)                                                                     \
	X(TAG_INSERT, 1)                                                                           \
	X(TAG_GET, 1)                                                                              \
	X(TAG_LIST, 1)                                                                             \
	X(PLAN_LIST, 1)                                                                            \
	X(PLAN_CREATE, 1)                                                                          \
	X(PLAN_GET, 1)                                                                             \
	X(PLAN_UPDATE, 1)                                                                          \
	/* admission.c */                                                                          \
	X(COUNTER_GET, 1)                                                                          \
	X(INFLIGHT_GET, 1)                                                                         \
	X(OPEN_COUNT, 1)                                                                           \
	X(REAP_LIST, 1)                                                                            \
	/* guards.c: idempotency, breakers */                                                      \
	X(IDEM_INSERT, 1)                                                                          \
	X(IDEM_GET, 1)                                                                             \
	X(IDEM_DROP_EXPIRED, 1)                                                                    \
	X(IDEM_FINISH, 1)                                                                          \
	X(IDEM_RELEASE, 1)                                                                         \
	X(IDEM_PURGE, 1)                                                                           \
	X(BRK_GET, 1)                                                                              \
	X(BRK_CLAIM, 1)                                                                            \
	X(BRK_FAIL, 1)                                                                             \
	X(BRK_PROBE_OK, 1)                                                                         \
	X(BRK_PROBE_FAIL, 1)                                                                       \
	X(BRK_COUNTS, 1)                                                                           \
	/* usage.c: usage reports, operator tokens */                                              \
	X(USAGE_BY_DAY, 1)                                                                         \
	X(USAGE_BY_MODEL, 1)                                                                       \
	X(USAGE_BY_AGENT, 1)                                                                       \
	X(USAGE_BY_KEY, 1)                                                                         \
	X(USAGE_BY_END_USER, 1)                                                                    \
	X(USAGE_TOTAL, 1)                                                                          \
	X(OP_INSERT, 1)                                                                            \
	X(OP_CHECK, 1)                                                                             \
	X(OP_TOUCH, 1)                                                                             \
	X(OP_REVOKE, 1)                                                                            \
	X(OP_LIST, 1)                                                                              \
	/* admin.c: dashboard users, sessions, throttling, overview */                             \
	X(ADM_USER_ADD, 1)                                                                         \
	X(ADM_USER_GET, 1)                                                                         \
	X(ADM_USER_PW, 1)                                                                          \
	X(ADM_USER_ROLE, 1)                                                                        \
	X(ADM_USER_LIST, 1)                                                                        \
	X(ADM_USER_COUNT, 1)                                                                       \
	X(ADM_USER_DEL, 1)                                                                         \
	X(ADM_USER_END_SESSIONS, 1)                                                                \
	X(ADM_SESS_ADD, 1)                                                                         \
	X(ADM_SESS_GET, 1)                                                                         \
	X(ADM_SESS_TOUCH, 1)                                                                       \
	X(ADM_SESS_DEL, 1)                                                                         \
	X(ADM_FAIL_COUNT, 1)                                                                       \
	X(ADM_FAIL_ADD, 1)                                                                         \
	X(ADM_FAIL_CLEAR, 1)                                                                       \
	X(ADM_TOTP_GET, 1)                                                                         \
	X(ADM_TOTP_SET, 1)                                                                         \
	X(ADM_TOTP_ENABLE, 1)                                                                      \
	X(ADM_TOTP_USE, 1)                                                                         \
	X(ADM_TOTP_CLEAR, 1)                                                                       \
	X(ADM_RECOVERY_DEL, 1)                                                                     \
	X(ADM_RECOVERY_ADD, 1)                                                                     \
	X(ADM_RECOVERY_USE, 1)                                                                     \
	X(ADM_RECOVERY_LEFT, 1)                                                                    \
	X(ADM_OVERVIEW, 1)                                                                         \
	X(ADM_WINDOW_ONE, 1)                                                                       \
	X(ADM_WINDOW_ALL, 1)                                                                       \
	X(ADM_HOURS_ONE, 1)                                                                        \
	X(ADM_HOURS_ALL, 1)                                                                        \
	X(ADM_PLANS, 1)                                                                            \
	X(ADM_GLOBAL, 1)                                                                           \
	/* tools.c: tool registry, tenant tool secrets, run steps */                               \
	X(TOOL_REGISTER, 1)                                                                        \
	X(TOOL_GET, 1)                                                                             \
	X(TOOL_LIST, 1)                                                                            \
	X(TOOL_ENABLE, 1)                                                                          \
	X(TOOL_SECRET_PUT, 1)                                                                      \
	X(TOOL_SECRET_VERSION, 1)                                                                  \
	X(TOOL_SECRET_LIST, 1)                                                                     \
	X(TOOL_SECRET_SEALED, 1)                                                                   \
	X(TOOL_AGENT_DEL, 1)                                                                       \
	X(TOOL_AGENT_ADD, 1)                                                                       \
	X(TOOL_AGENT_STEPS, 1)                                                                     \
	X(TOOL_AGENT_GET, 1)                                                                       \
	X(TOOL_AGENT_GET_STEPS, 1)                                                                 \
	X(STEP_INSERT, 1)                                                                          \
	X(STEP_LIST, 1)                                                                            \
	/* guardrails.c: the guardrail registry */                                                 \
	X(GRAIL_REGISTER, 1)                                                                       \
	X(GRAIL_GET, 1)                                                                            \
	X(GRAIL_LIST, 1)                                                                           \
	X(GRAIL_ENABLE, 1)                                                                         \
	/* dash_tenants.c: the dashboard's tenant, budget and audit pages */                       \
	X(DASHT_TENANTS, 1)                                                                        \
	X(DASHT_TENANT_NAMES, 1)                                                                   \
	X(DASHT_UPDATE, 1)                                                                         \
	X(DASHT_COUNTERS, 1)                                                                       \
	X(DASHT_AUDIT_TENANT, 1)                                                                   \
	X(DASHT_AUDIT_ALL, 1)                                                                      \
	X(DASHT_AUDIT_ACTION, 1)                                                                   \
	/* dash_analytics.c: usage, showback, health, executions pages */                          \
	X(DASHA_USAGE_ONE, DB_DASHA_USAGE_SHAPES)                                                  \
	X(DASHA_USAGE_ALL, DB_DASHA_USAGE_SHAPES)                                                  \
	X(DASHA_SHOWBACK_ONE, DB_DASHA_ATTR_SHAPES)                                                \
	X(DASHA_SHOWBACK_ALL, DB_DASHA_ATTR_SHAPES)                                                \
	X(DASHA_EXEC_ONE, 1)                                                                       \
	X(DASHA_EXEC_ALL, 1)                                                                       \
	X(DASHA_EXEC_GET, 1)                                                                       \
	X(DASHA_HEALTH_ONE, 1)                                                                     \
	X(DASHA_HEALTH_ALL, 1)                                                                     \
	X(DASHA_TENANT_NAME, 1)                                                                    \
	/* lifecycle.c: retention, offboarding */                                                  \
	X(LIFE_PURGE, 1)                                                                           \
	X(LIFE_PURGE_STEPS, 1)                                                                     \
	X(LIFE_OFFBOARD_SET, 1)                                                                    \
	X(LIFE_OFFBOARD_CLEAR, 1)                                                                  \
	X(LIFE_OFFBOARD_GET, 1)                                                                    \
	X(LIFE_DUE, 1)                                                                             \
	/* tdb_route.c, tdb_provision.c, tdb_move.c: dedicated databases */                        \
	X(TDB_LOOKUP, 1)                                                                           \
	X(TDB_SAVE, 1)                                                                             \
	X(TDB_CLEAR, 1)                                                                            \
	X(TDB_LIST, 1)                                                                             \
	X(TDB_MIGRATING, 1)                                                                        \
	X(TDB_OPEN, 1)                                                                             \
	X(TDB_SWITCH, 1)                                                                           \
	/* routes.c: routes of plans and tenants */                                                \
	X(ROUTE_FIND, 1)                                                                           \
	X(ROUTE_PUT_TENANT, 1)                                                                     \
	X(ROUTE_PUT_PLAN, 1)                                                                       \
	X(ROUTE_DEL_TENANT, 1)                                                                     \
	X(ROUTE_DEL_PLAN, 1)                                                                       \
	X(ROUTE_LIST_TENANT, 1)                                                                    \
	X(ROUTE_LIST_PLAN, 1)                                                                      \
	X(ROUTE_PURGE, 1)

#endif
