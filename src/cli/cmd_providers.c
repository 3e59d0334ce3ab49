/*
 * cmd_providers.c: agenthostctl provider-key set, clear and list (a
 * tenant's own provider credentials, BYOK).
 *
 * DESIGN
 * The credential is read from stdin (argv is visible in ps), sealed by
 * tenancy/keys.c under the master key bound to tenant, provider and
 * version, and wiped; only its last 4 characters are ever shown. A
 * provider must be a configured instance to be set, but any well-formed
 * name can be cleared (a provider removed from the configuration).
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
#include "providers/registry.h"
#include "tenancy/keys.h"

static int cmd_provider_key_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"provider", NULL}};
	/* Room for the longest credential, a CR, and the NUL. */
	char plain[SECRETS_MAX_PLAIN + 3];
	struct sealed_cred cred;
	const char *provider;
	struct tenant t;
	char target[64];
	char verr[256];
	size_t npos, len = 0;
	int rc, verify;

	verify = cli_flag(&argc, argv, "verify") > 0;
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK || (rc = cli_require(c, &opts[1])) != CLI_OK)
		return rc;
	provider = opts[1].value;
	if (!valid_name(VALID_PROVIDER, provider) || registry_find(provider) == NULL)
		return cli_error("unknown provider '%s' (not a configured provider instance)",
		                 provider);
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;

	snprintf(target, sizeof(target), "credential for provider %s", provider);
	if (cli_read_secret(target, plain, sizeof(plain), &len) != CLI_OK) {
		sodium_memzero(plain, sizeof(plain));
		return CLI_FAIL;
	}
	/* --verify: one cheap call upstream with the key before anything is stored */
	if (verify &&
	    provider_verify_key(registry_find(provider), plain, verr, sizeof(verr)) != 0) {
		sodium_memzero(plain, sizeof(plain));
		return cli_error("not stored: %s", verr);
	}
	rc = keys_byok_set(c->st, t.id, provider, plain, len, &cred);
	sodium_memzero(plain, sizeof(plain));
	if (rc == KEYS_NOSECRETS)
		return cli_error("cannot seal the credential (master key not loaded?)");
	if (rc != KEYS_OK)
		return cli_error("database error while storing the %s credential of tenant '%s'",
		                 provider, t.slug);
	snprintf(target, sizeof(target), "provider_key:%s", provider);
	rc = cli_audit(c, t.id, "provider_key.set", target,
	               cli_pack("{s:s, s:i, s:b}", "provider", provider, "version", cred.version,
	                        "verified", verify));
	if (cred.updated_at == 0)
		cred.updated_at = util_unix_time();
	return cli_finish(cli_emit(objects_credential(t.id, provider, &cred)), rc);
}

static int cmd_provider_key_clear(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"provider", NULL}};
	const char *provider;
	struct tenant t;
	char target[64];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK || (rc = cli_require(c, &opts[1])) != CLI_OK)
		return rc;
	provider = opts[1].value;
	/* No registry check: a credential of a since-removed provider must stay clearable. */
	if (!valid_name(VALID_PROVIDER, provider))
		return cli_usage_error(c, "--provider: '%s' is not a provider name (%s)", provider,
		                       valid_hint(VALID_PROVIDER));
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	rc = store_cred_clear(c->st, t.id, provider);
	if (rc == ST_NOTFOUND)
		return cli_error("tenant '%s' has no %s credential", t.slug, provider);
	if (rc != ST_OK)
		return cli_error("database error while clearing the %s credential of tenant '%s'",
		                 provider, t.slug);
	snprintf(target, sizeof(target), "provider_key:%s", provider);
	rc = cli_audit(c, t.id, "provider_key.clear", target,
	               cli_pack("{s:s}", "provider", provider));
	return cli_finish(cli_emit(cli_pack("{s:I, s:s, s:b}", "tenant_id", (json_int_t)t.id,
	                                    "provider", provider, "cleared", 1)),
	                  rc);
}

/* cred_cb: append one credential's public facts (never the ciphertext). */
static int cli_cred_collect(void *ctx, const char *provider, const struct sealed_cred *cr)
{
	struct cli_tenant_rows *tr = ctx;

	return cli_array_add(tr->arr, objects_credential(tr->tenant_id, provider, cr));
}

static int fill_provider_key_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	struct cli_tenant_rows tr = {arr, t->id};

	return store_cred_list(c->st, t->id, cli_cred_collect, &tr);
}

static int cmd_provider_key_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_provider_key_list, "credentials");
}

const struct cli_cmd cli_cmds_providers[] = {
    {"provider-key", "set", cmd_provider_key_set,
     CLI_NEED_DB | CLI_NEED_SECRETS | CLI_NEED_REGISTRY,
     "--tenant TENANT --provider NAME [--verify]  < credential",
     "store a tenant's own provider credential (read from stdin; --verify: check it upstream"
     " first)"},
    {"provider-key", "clear", cmd_provider_key_clear, CLI_NEED_DB,
     "--tenant TENANT --provider NAME", "delete a tenant's provider credential"},
    {"provider-key", "list", cmd_provider_key_list, CLI_NEED_DB, "--tenant TENANT",
     "list a tenant's provider credentials (last 4 characters only)"},
};
const size_t cli_ncmds_providers = ARRAY_SIZE(cli_cmds_providers);
