/*
 * cmd_keys.c: agenthostctl key create, list, rotate and revoke (a tenant's
 * API keys).
 *
 * DESIGN
 * Keys are issued and rotated by tenancy/keys.c, as the dashboard does; the
 * secret is printed once (objects_new_key) and wiped, only its keyed hash
 * and display prefix are stored. A key is named by --tenant and --key
 * together, so another tenant's key id is "not found".
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
#include "tenancy/keys.h"

#define CLI_MAX_KEY_TTL (10LL * 365 * 86400) /* longest --expires-in */
#define CLI_MAX_GRACE (30LL * 86400)         /* longest --grace */
#define CLI_DEFAULT_GRACE 86400

static int cmd_key_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"tenant", NULL}, {"name", NULL}, {"expires-in", NULL}, {"scopes", NULL}};
	char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char exp_text[32], scopes_text[32];
	int scopes = KEY_SCOPES_DEFAULT;
	const char *name;
	struct tenant t;
	struct api_key k;
	char target[32];
	int64_t ttl = 0, expires_at = 0, id = 0;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK)
		return rc;
	name = opts[1].value ? opts[1].value : "";
	if (!valid_name(VALID_KEY_NAME, name))
		return cli_usage_error(c, "--name: %s", valid_hint(VALID_KEY_NAME));
	if (opts[2].value != NULL) {
		if ((rc = cli_opt_int(c, &opts[2], 60, CLI_MAX_KEY_TTL, &ttl)) != CLI_OK)
			return rc;
		expires_at = util_unix_time() + ttl;
	}
	if (opts[3].value != NULL && keys_scopes_parse(opts[3].value, &scopes) != 0)
		return cli_usage_error(c, "--scopes: a comma list of inference, read, manage");
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	rc = keys_issue(c->st, t.id, name, expires_at, scopes, key, prefix, &id);
	if (rc == KEYS_NOSECRETS)
		return cli_error("cannot generate a key (master key not loaded)");
	if (rc != KEYS_OK)
		return cli_error("database error while creating a key for tenant '%s'", t.slug);
	cli_key_read_back(c, t.id, id, name, prefix, expires_at, &k);
	/* the audit row keeps its RFC 3339 date: audit details are read by people */
	if (expires_at != 0)
		util_iso8601(expires_at, exp_text, sizeof(exp_text));
	snprintf(target, sizeof(target), "key:%" PRId64, id);
	keys_scopes_format(scopes, scopes_text, sizeof(scopes_text));
	rc = cli_audit(c, t.id, "key.create", target,
	               cli_pack("{s:s, s:s?, s:s}", "prefix", prefix, "expires_at",
	                        expires_at != 0 ? exp_text : NULL, "scopes", scopes_text));
	rc = cli_finish(cli_emit(objects_new_key(&k, key)), rc);
	sodium_memzero(key, sizeof(key));
	cli_secret_notice("key");
	return rc;
}

/* api_key_cb: append one key to the JSON array ctx. */
static int cli_key_collect(void *ctx, const struct api_key *k)
{
	return cli_array_add(ctx, objects_key(k));
}

static int fill_key_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	return store_key_list(c->st, t->id, cli_key_collect, arr);
}

static int cmd_key_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_key_list, "keys");
}

int cli_key_target(struct cli *c, const struct cli_opt *topt, const struct cli_opt *kopt,
                   struct tenant *t, struct api_key *k)
{
	int64_t key_id;
	int rc;

	if ((rc = cli_require(c, topt)) != CLI_OK || (rc = cli_require(c, kopt)) != CLI_OK)
		return rc;
	if ((rc = cli_opt_int(c, kopt, 1, INT64_MAX, &key_id)) != CLI_OK)
		return rc;
	if (cli_tenant(c, topt->value, t) != CLI_OK)
		return CLI_FAIL;
	rc = store_key_get(c->st, t->id, key_id, k);
	if (rc == ST_NOTFOUND)
		return cli_error("key %" PRId64 " not found for tenant '%s'", key_id, t->slug);
	if (rc != ST_OK)
		return cli_error("database error while reading key %" PRId64, key_id);
	return CLI_OK;
}

static int cmd_key_rotate(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"key", NULL}, {"grace", NULL}};
	char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char target[32];
	struct api_key old, nk;
	struct tenant t;
	int64_t grace = CLI_DEFAULT_GRACE, new_id = 0, valid_until;
	json_t *out;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if (opts[2].value != NULL &&
	    (rc = cli_opt_int(c, &opts[2], 0, CLI_MAX_GRACE, &grace)) != CLI_OK)
		return rc;
	if ((rc = cli_key_target(c, &opts[0], &opts[1], &t, &old)) != CLI_OK)
		return rc;
	if (old.state != KEY_ACTIVE)
		return cli_error("key %" PRId64 " is %s; only an active key can be rotated", old.id,
		                 objects_key_state(old.state));
	if (old.rotated_to != 0)
		return cli_error("key %" PRId64 " was already rotated to key %" PRId64, old.id,
		                 old.rotated_to);
	rc = keys_rotate(c->st, t.id, old.id, grace, key, prefix, &new_id);
	if (rc == KEYS_NOSECRETS)
		return cli_error("cannot generate a key (master key not loaded)");
	if (rc == KEYS_NOTFOUND)
		return cli_error("key %" PRId64 " not found for tenant '%s'", old.id, t.slug);
	if (rc != KEYS_OK)
		return cli_error("database error while rotating key %" PRId64, old.id);
	cli_key_read_back(c, t.id, new_id, old.name, prefix, 0, &nk);
	/* The database clock set the grace period; report its value when we can read it. */
	valid_until = util_unix_time() + grace;
	if (store_key_get(c->st, t.id, old.id, &old) == ST_OK && old.grace_until != 0)
		valid_until = old.grace_until;
	snprintf(target, sizeof(target), "key:%" PRId64, old.id);
	rc = cli_audit(c, t.id, "key.rotate", target,
	               cli_pack("{s:I, s:s, s:I}", "new_key_id", (json_int_t)new_id, "prefix",
	                        prefix, "grace_seconds", (json_int_t)grace));
	out = objects_new_key(&nk, key);
	sodium_memzero(key, sizeof(key));
	if (out != NULL &&
	    (json_object_set_new(out, "replaces", json_integer(old.id)) != 0 ||
	     json_object_set_new(out, "old_key_valid_until", json_integer(valid_until)) != 0)) {
		json_decref(out);
		out = NULL;
	}
	rc = cli_finish(cli_emit(out), rc);
	cli_secret_notice("key");
	return rc;
}

static int cmd_key_revoke(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"key", NULL}};
	struct api_key k;
	struct tenant t;
	char target[32];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_key_target(c, &opts[0], &opts[1], &t, &k)) != CLI_OK)
		return rc;
	rc = store_key_revoke(c->st, t.id, k.id);
	if (rc == ST_NOTFOUND)
		return cli_error("key %" PRId64 " not found for tenant '%s'", k.id, t.slug);
	if (rc != ST_OK)
		return cli_error("database error while revoking key %" PRId64, k.id);
	snprintf(target, sizeof(target), "key:%" PRId64, k.id);
	rc = cli_audit(c, t.id, "key.revoke", target, cli_pack("{s:s}", "prefix", k.prefix));
	if (store_key_get(c->st, t.id, k.id, &k) != ST_OK)
		k.state = KEY_REVOKED; /* revoked all the same; only its new dates are unknown */
	return cli_finish(cli_emit(objects_key(&k)), rc);
}

static int cmd_key_scopes(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"key", NULL}, {"scopes", NULL}};
	char target[32], text[32];
	struct api_key k;
	struct tenant t;
	size_t npos;
	int rc, scopes = 0;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[2])) != CLI_OK)
		return rc;
	if (keys_scopes_parse(opts[2].value, &scopes) != 0)
		return cli_usage_error(c, "--scopes: a comma list of inference, read, manage");
	if ((rc = cli_key_target(c, &opts[0], &opts[1], &t, &k)) != CLI_OK)
		return rc;
	rc = store_key_set_scopes(c->st, t.id, k.id, scopes);
	if (rc == ST_NOTFOUND)
		return cli_error("key %" PRId64 " not found for tenant '%s'", k.id, t.slug);
	if (rc != ST_OK)
		return cli_error("database error while changing key %" PRId64, k.id);
	keys_scopes_format(scopes, text, sizeof(text));
	snprintf(target, sizeof(target), "key:%" PRId64, k.id);
	rc = cli_audit(c, t.id, "key.scopes", target,
	               cli_pack("{s:s, s:s}", "prefix", k.prefix, "scopes", text));
	k.scopes = scopes;
	return cli_finish(cli_emit(objects_key(&k)), rc);
}

const struct cli_cmd cli_cmds_keys[] = {
    {"key", "create", cmd_key_create, CLI_NEED_DB | CLI_NEED_SECRETS,
     "--tenant TENANT [--name NAME] [--expires-in SECONDS] [--scopes inference,read,manage]",
     "create an API key (the secret is shown once; scopes default to inference,read)"},
    {"key", "scopes", cmd_key_scopes, CLI_NEED_DB, "--tenant TENANT --key ID --scopes LIST",
     "set what an API key may call (inference, read, manage)"},
    {"key", "list", cmd_key_list, CLI_NEED_DB, "--tenant TENANT", "list a tenant's API keys"},
    {"key", "rotate", cmd_key_rotate, CLI_NEED_DB | CLI_NEED_SECRETS,
     "--tenant TENANT --key ID [--grace SECONDS]",
     "replace a key; the old one stays valid for the grace period"},
    {"key", "revoke", cmd_key_revoke, CLI_NEED_DB, "--tenant TENANT --key ID",
     "revoke an API key now"},
};
const size_t cli_ncmds_keys = ARRAY_SIZE(cli_cmds_keys);
