/*
 * operator.c: who may call the operator API (see operator.h).
 *
 * DESIGN
 * The order of the checks is chosen so that nothing secret leaks and no
 * tenant can pass: the scheme first, then the shape of a tenant API key
 * (refused with 403 even when the key is valid, so a tenant never reaches
 * another tenant's usage by accident of configuration), then the config
 * token in constant time, then the keyed hash in operator_tokens (read on
 * every request: a revoked token is refused from the next request on).
 * With no config token and no stored token every request is refused with
 * 401, never let through. The token is never logged or echoed; the hash is
 * wiped after the lookup.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "host/http.h"
#include "store/store.h"
#include "store/usage.h"
#include "tenancy/operator.h"

/* Longer bearer values are not tokens of ours; refusing them early bounds the hashing work. */
#define OPERATOR_TOKEN_MAX 512

/* Send the one 401 every failed operator authentication gets. */
static int operator_refuse(struct req *r, const char *msg)
{
	resp_error(r, R_invalid_operator_token, "%s", msg);
	return -1;
}

/*
 * 0 when r carries a valid operator token (config or stored); else -1
 * after sending 401 invalid_operator_token, 403 tenant_key_not_allowed
 * (a tenant API key) or 503 database_unavailable (the token store could
 * not be read and the config token did not match).
 */
int operator_identify(struct req *r)
{
	const char *auth = req_header(r, "Authorization"), *tok;
	uint8_t hash[SECRETS_HASH_LEN];
	int64_t token_id = 0;
	size_t len;
	int rc;

	if (auth == NULL || *auth == '\0')
		return operator_refuse(r, "no operator token: send it as 'Authorization: Bearer "
		                          "<operator token>'");
	if (!util_has_prefix_ci(auth, "Bearer "))
		return operator_refuse(r, "the Authorization header must use the Bearer scheme");
	tok = auth + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	if (len == 0 || len > OPERATOR_TOKEN_MAX)
		return operator_refuse(r, "the operator token is not valid");
	if (secrets_api_key_shape_ok(tok, len)) {
		resp_error(r, R_tenant_key_not_allowed,
		           "operator routes take operator tokens, not tenant keys");
		return -1;
	}
	if (r->conf->operator_token[0] != '\0' && util_streq_ct(tok, r->conf->operator_token)) {
		log_debug("operator: config token accepted request=%s", r->request_id);
		snprintf(r->operator_id, sizeof(r->operator_id), "config");
		return 0;
	}
	secrets_hash_api_key(tok, len, hash);
	rc = store_operator_token_check(r->store, hash, &token_id);
	sodium_memzero(hash, sizeof(hash));
	if (rc == ST_NOTFOUND)
		return operator_refuse(r, "the operator token is not valid");
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable,
		           "the token store is unavailable; retry shortly");
		return -1;
	}
	log_debug("operator: token %lld accepted request=%s", (long long)token_id, r->request_id);
	snprintf(r->operator_id, sizeof(r->operator_id), "token:%lld", (long long)token_id);
	return 0;
}
