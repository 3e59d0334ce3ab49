/*
 * operator: who may call the operator API (/admin/api/v1/...).
 *
 * DESIGN
 * Operators authenticate with "Authorization: Bearer <operator token>",
 * never with a tenant API key (a tenant key is refused even if valid).
 * Tokens come from the config (`operator_token`, compared in constant time)
 * or from `agenthostctl operator-token create`, which stores only a keyed
 * hash (like API keys) in the operator_tokens table.
 */
#ifndef AH_OPERATOR_H
#define AH_OPERATOR_H

struct req;

/* 0 when r carries a valid operator token; else -1 after sending 401/403. */
int operator_identify(struct req *r);

#endif
