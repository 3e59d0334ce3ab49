/*
 * cmd_admins.c: agenthostctl admin add, passwd, role and list (dashboard
 * users), operator-token create, list and revoke (operator API tokens).
 *
 * DESIGN
 * Passwords are read from stdin and stored as Argon2id hashes
 * (tenancy/admins.c, as the dashboard does); a tenant_admin is bound to one
 * tenant, the other roles to none. An operator token is ah_op_ + 43
 * base64url characters, printed once; only its keyed hash (the API key
 * pepper) and display prefix are stored.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/objects.h"
#include "cli/cli.h"
#include "common/util.h"
#include "common/valid.h"
#include "crypto/secrets.h"
#include "store/admin.h"
#include "store/usage.h"
#include "tenancy/admins.h"

/* Whether role is one of the dashboard roles. */
static int cli_admin_role_ok(const char *role)
{
	return strcmp(role, ADMIN_ROLE_OPERATOR) == 0 || strcmp(role, ADMIN_ROLE_SUPPORT) == 0 ||
	       strcmp(role, ADMIN_ROLE_TENANT) == 0;
}

/* Role and --tenant checked together: tenant_admin needs a tenant, the others none. */
static int cli_admin_scope(struct cli *c, const char *role, const char *tenant, int64_t *tid)
{
	struct tenant t;

	*tid = 0;
	if (!cli_admin_role_ok(role))
		return cli_usage_error(c, "role must be operator, support or tenant_admin");
	if (strcmp(role, ADMIN_ROLE_TENANT) == 0) {
		if (tenant == NULL)
			return cli_usage_error(c, "a tenant_admin needs --tenant TENANT");
		if (cli_tenant(c, tenant, &t) != CLI_OK)
			return CLI_FAIL;
		*tid = t.id;
	} else if (tenant) {
		return cli_usage_error(c, "--tenant is only for the tenant_admin role");
	}
	return CLI_OK;
}

static int cmd_admin_add(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"role", NULL}, {"tenant", NULL}};
	char hash[crypto_pwhash_STRBYTES], target[96];
	const char *pos[1];
	struct admin_user u;
	int64_t tid;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	if (!valid_name(VALID_ADMIN, pos[0]))
		return cli_usage_error(c, "NAME: %s", valid_hint(VALID_ADMIN));
	if ((rc = cli_require(c, &opts[0])) != CLI_OK ||
	    (rc = cli_admin_scope(c, opts[0].value, opts[1].value, &tid)) != CLI_OK)
		return rc;
	rc = store_admin_user_get(c->st, pos[0], &u);
	if (rc == ST_OK)
		return cli_error("dashboard user '%s' already exists", pos[0]);
	if (rc != ST_NOTFOUND)
		return cli_error("database error while reading dashboard user '%s'", pos[0]);
	if (cli_admin_password(pos[0], hash) != CLI_OK)
		return CLI_FAIL;
	rc = store_admin_user_add(c->st, pos[0], hash, opts[0].value, tid);
	sodium_memzero(hash, sizeof(hash));
	if (rc == ST_CONFLICT)
		return cli_error("dashboard user '%s' already exists", pos[0]);
	if (rc != ST_OK)
		return cli_error("database error while adding dashboard user '%s'", pos[0]);
	if (store_admin_user_get(c->st, pos[0], &u) != ST_OK)
		return cli_error("dashboard user '%s' added but could not be read back", pos[0]);
	snprintf(target, sizeof(target), "admin:%s", u.name);
	rc = cli_audit(c, tid, "admin.add", target, cli_pack("{s:s}", "role", u.role));
	return cli_finish(cli_emit(objects_admin(&u)), rc);
}

/* admin mfa-reset NAME: clear a user's TOTP secret and recovery codes (a lost device). */
static int cmd_admin_mfa_reset(struct cli *c, int argc, char **argv)
{
	const char *pos[1];
	struct admin_user u;
	char target[96];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, NULL, 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	rc = store_admin_user_get(c->st, pos[0], &u);
	if (rc == ST_NOTFOUND)
		return cli_error("dashboard user '%s' not found", pos[0]);
	if (rc != ST_OK)
		return cli_error("database error while reading dashboard user '%s'", pos[0]);
	rc = store_admin_totp_clear(c->st, pos[0]);
	if (rc == ST_NOTFOUND)
		return cli_error("dashboard user '%s' not found", pos[0]);
	if (rc != ST_OK)
		return cli_error("database error while clearing two-factor of '%s'", pos[0]);
	snprintf(target, sizeof(target), "admin:%s", u.name);
	rc = cli_audit(c, u.tenant_id, "admin.mfa_reset", target,
	               cli_pack("{s:b}", "had_mfa", u.mfa));
	return cli_finish(cli_emit(objects_admin(&u)), rc);
}

static int cmd_admin_passwd(struct cli *c, int argc, char **argv)
{
	char hash[crypto_pwhash_STRBYTES], target[96];
	const char *pos[1];
	struct admin_user u;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, NULL, 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	rc = store_admin_user_get(c->st, pos[0], &u);
	if (rc == ST_NOTFOUND)
		return cli_error("dashboard user '%s' not found", pos[0]);
	if (rc != ST_OK)
		return cli_error("database error while reading dashboard user '%s'", pos[0]);
	if (cli_admin_password(pos[0], hash) != CLI_OK)
		return CLI_FAIL;
	rc = store_admin_user_set_password(c->st, pos[0], hash);
	sodium_memzero(hash, sizeof(hash));
	if (rc != ST_OK)
		return cli_error("database error while setting the password of '%s'", pos[0]);
	snprintf(target, sizeof(target), "admin:%s", u.name);
	rc = cli_audit(c, u.tenant_id, "admin.passwd", target, NULL);
	return cli_finish(cli_emit(objects_admin(&u)), rc);
}

static int cmd_admin_role(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}};
	const char *pos[2];
	struct admin_user u;
	char target[96];
	int64_t tid;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 2, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 2)
		return cli_usage_error(c, "expected NAME ROLE");
	if ((rc = cli_admin_scope(c, pos[1], opts[0].value, &tid)) != CLI_OK)
		return rc;
	rc = store_admin_user_set_role(c->st, pos[0], pos[1], tid);
	if (rc == ST_NOTFOUND)
		return cli_error("dashboard user '%s' not found", pos[0]);
	if (rc != ST_OK)
		return cli_error("database error while changing the role of '%s'", pos[0]);
	if (store_admin_user_get(c->st, pos[0], &u) != ST_OK)
		return cli_error("role of '%s' changed but could not be read back", pos[0]);
	snprintf(target, sizeof(target), "admin:%s", u.name);
	rc = cli_audit(c, tid, "admin.role", target, cli_pack("{s:s}", "role", u.role));
	return cli_finish(cli_emit(objects_admin(&u)), rc);
}

static int cli_admin_collect(void *ctx, const struct admin_user *u)
{
	return cli_array_add(ctx, objects_admin(u));
}

static int fill_admin_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	(void)t;
	return store_admin_user_list(c->st, cli_admin_collect, arr);
}

static int cmd_admin_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 0, fill_admin_list, "dashboard users");
}

#define CLI_OP_TOKEN_PREFIX "ah_op_"
#define CLI_OP_TOKEN_LEN (sizeof(CLI_OP_TOKEN_PREFIX) - 1 + 43)

static int cmd_operator_token_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"name", NULL}};
	unsigned char raw[32];
	char token[CLI_OP_TOKEN_LEN + 8], b64[48], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char target[48];
	uint8_t hash[SECRETS_HASH_LEN];
	struct operator_token ot;
	const char *name;
	int64_t id = 0;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK)
		return rc;
	name = opts[0].value;
	if (!valid_name(VALID_TOKEN_NAME, name))
		return cli_usage_error(c, "--name: %s", valid_hint(VALID_TOKEN_NAME));
	if (!secrets_ready())
		return cli_error("cannot generate a token (master key not loaded)");
	randombytes_buf(raw, sizeof(raw));
	if (util_b64url_encode(raw, sizeof(raw), b64) != 43) {
		sodium_memzero(raw, sizeof(raw));
		sodium_memzero(b64, sizeof(b64));
		return cli_error("cannot encode the token");
	}
	snprintf(token, sizeof(token), "%s%s", CLI_OP_TOKEN_PREFIX, b64);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(b64, sizeof(b64));
	memcpy(prefix, token, SECRETS_DISPLAY_PREFIX_LEN);
	prefix[SECRETS_DISPLAY_PREFIX_LEN] = '\0';
	secrets_hash_api_key(token, strlen(token), hash);
	rc = store_operator_token_insert(c->st, name, prefix, hash, &id);
	if (rc != ST_OK) {
		sodium_memzero(token, sizeof(token));
		if (rc == ST_CONFLICT)
			return cli_error("an operator token with this name or hash already exists");
		return cli_error("database error while storing the operator token");
	}
	snprintf(target, sizeof(target), "operator_token:%" PRId64, id);
	rc = cli_audit(c, 0, "operator_token.create", target,
	               cli_pack("{s:s, s:s}", "name", name, "prefix", prefix));
	memset(&ot, 0, sizeof(ot));
	ot.id = id;
	util_strlcpy(ot.name, name, sizeof(ot.name));
	util_strlcpy(ot.prefix, prefix, sizeof(ot.prefix));
	ot.created_at = util_unix_time();
	rc = cli_finish(cli_emit(objects_new_operator_token(&ot, token)), rc);
	sodium_memzero(token, sizeof(token));
	cli_secret_notice("token");
	return rc;
}

/* operator_token_cb: append one token's public facts (never the hash) to ctx. */
static int cli_operator_token_collect(void *ctx, const struct operator_token *t)
{
	return cli_array_add(ctx, objects_operator_token(t));
}

static int fill_operator_token_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	(void)t;
	return store_operator_token_list(c->st, cli_operator_token_collect, arr);
}

static int cmd_operator_token_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 0, fill_operator_token_list, "operator tokens");
}

static int cmd_operator_token_revoke(struct cli *c, int argc, char **argv)
{
	const char *pos[1];
	char target[48];
	int64_t id;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, NULL, 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing ID");
	if (util_parse_i64(pos[0], 1, INT64_MAX, &id) != 0)
		return cli_usage_error(c, "ID: '%s' is not a positive integer", pos[0]);
	rc = store_operator_token_revoke(c->st, id);
	if (rc == ST_NOTFOUND)
		return cli_error("operator token %" PRId64 " not found", id);
	if (rc != ST_OK)
		return cli_error("database error while revoking operator token %" PRId64, id);
	snprintf(target, sizeof(target), "operator_token:%" PRId64, id);
	rc = cli_audit(c, 0, "operator_token.revoke", target, NULL);
	return cli_finish(
	    cli_emit(cli_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "revoked")), rc);
}

const struct cli_cmd cli_cmds_admins[] = {
    {"admin", "add", cmd_admin_add, CLI_NEED_DB,
     "NAME --role operator|support|tenant_admin [--tenant TENANT]",
     "add a dashboard user (password read from stdin, at least 12 characters)"},
    {"admin", "passwd", cmd_admin_passwd, CLI_NEED_DB, "NAME",
     "set a dashboard user's password (stdin) and end their sessions"},
    {"admin", "role", cmd_admin_role, CLI_NEED_DB, "NAME ROLE [--tenant TENANT]",
     "change a dashboard user's role"},
    {"admin", "list", cmd_admin_list, CLI_NEED_DB, "", "list dashboard users"},
    {"admin", "mfa-reset", cmd_admin_mfa_reset, CLI_NEED_DB, "NAME",
     "clear a dashboard user's two-factor secret and recovery codes, and end their sessions"},
    {"operator-token", "create", cmd_operator_token_create, CLI_NEED_DB | CLI_NEED_SECRETS,
     "--name NAME", "create an operator API token (shown once)"},
    {"operator-token", "list", cmd_operator_token_list, CLI_NEED_DB, "",
     "list operator tokens (display prefix only)"},
    {"operator-token", "revoke", cmd_operator_token_revoke, CLI_NEED_DB, "ID",
     "revoke an operator token now"},
};
const size_t cli_ncmds_admins = ARRAY_SIZE(cli_cmds_admins);
