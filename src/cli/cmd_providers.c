/*
 * cmd_providers.c: agenthostctl provider-key set, clear and list (a
 * tenant's own provider credentials, BYOK, or with --project a project's
 * own, used before the tenant's for the project's keys).
 *
 * DESIGN
 * The credential is read from stdin (argv is visible in ps), sealed by
 * tenancy/keys.c under the master key bound to tenant, provider and
 * version (and project), and wiped; only its last 4 characters are ever shown. A
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
#include "store/projects.h"
#include "tenancy/keys.h"

/* --project NAME of tenant t into *p (id 0 without the option). CLI_OK or a failure. */
static int cli_key_owner(struct cli *c, const struct cli_opt *o, const struct tenant *t,
                         struct project *p)
{
	memset(p, 0, sizeof(*p));
	if (o->value == NULL)
		return CLI_OK;
	return cli_project(c, t, o->value, p);
}

/* The credential's JSON form: the tenant's, or the project's when p names one. */
static json_t *cli_cred_json(int64_t tenant_id, const struct project *p, const char *provider,
                             const struct sealed_cred *cr)
{
	if (p->id == 0)
		return objects_credential(tenant_id, provider, cr);
	return objects_project_credential(tenant_id, p->id, p->name, provider, cr);
}

/* The audit target of provider's key of the tenant or of project p. */
static void cli_cred_target(char *out, size_t cap, const struct project *p, const char *provider)
{
	if (p->id == 0)
		snprintf(out, cap, "provider_key:%s", provider);
	else
		snprintf(out, cap, "project:%" PRId64 ":provider_key:%s", p->id, provider);
}

static int cmd_provider_key_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"provider", NULL}, {"project", NULL}};
	/* Room for the longest credential, a CR, and the NUL. */
	char plain[SECRETS_MAX_PLAIN + 3];
	struct sealed_cred cred;
	const char *provider;
	struct project p;
	struct tenant t;
	char target[128];
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
	if ((rc = cli_key_owner(c, &opts[2], &t, &p)) != CLI_OK)
		return rc;

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
	rc = keys_byok_set_project(c->st, t.id, p.id, provider, plain, len, &cred);
	sodium_memzero(plain, sizeof(plain));
	if (rc == KEYS_NOSECRETS)
		return cli_error("cannot seal the credential (master key not loaded?)");
	if (rc != KEYS_OK)
		return cli_error("database error while storing the %s credential of tenant '%s'",
		                 provider, t.slug);
	cli_cred_target(target, sizeof(target), &p, provider);
	rc = cli_audit(c, t.id, "provider_key.set", target,
	               cli_pack("{s:s, s:i, s:b, s:o}", "provider", provider, "version",
	                        cred.version, "verified", verify, "project_id",
	                        p.id ? json_integer(p.id) : json_null()));
	if (cred.updated_at == 0)
		cred.updated_at = util_unix_time();
	return cli_finish(cli_emit(cli_cred_json(t.id, &p, provider, &cred)), rc);
}

static int cmd_provider_key_clear(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"provider", NULL}, {"project", NULL}};
	const char *provider;
	struct project p;
	struct tenant t;
	char target[128];
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
	if ((rc = cli_key_owner(c, &opts[2], &t, &p)) != CLI_OK)
		return rc;
	rc = p.id ? store_pcred_clear(c->st, t.id, p.id, provider)
	          : store_cred_clear(c->st, t.id, provider);
	if (rc == ST_NOTFOUND)
		return p.id ? cli_error("project '%s' of tenant '%s' has no %s credential", p.name,
		                        t.slug, provider)
		            : cli_error("tenant '%s' has no %s credential", t.slug, provider);
	if (rc != ST_OK)
		return cli_error("database error while clearing the %s credential of tenant '%s'",
		                 provider, t.slug);
	cli_cred_target(target, sizeof(target), &p, provider);
	rc = cli_audit(c, t.id, "provider_key.clear", target,
	               cli_pack("{s:s, s:o}", "provider", provider, "project_id",
	                        p.id ? json_integer(p.id) : json_null()));
	return cli_finish(
	    cli_emit(cli_pack("{s:I, s:s, s:o, s:b}", "tenant_id", (json_int_t)t.id, "provider",
	                      provider, "project", p.id ? json_string(p.name) : json_null(),
	                      "cleared", 1)),
	    rc);
}

/* cred_cb's context: the list, the tenant and the project (id 0: the tenant's own keys). */
struct cli_cred_rows {
	json_t *arr;
	int64_t tenant_id;
	const struct project *p;
};

/* cred_cb: append one credential's public facts (never the ciphertext). */
static int cli_cred_collect(void *ctx, const char *provider, const struct sealed_cred *cr)
{
	struct cli_cred_rows *tr = ctx;

	return cli_array_add(tr->arr, cli_cred_json(tr->tenant_id, tr->p, provider, cr));
}

static int cmd_provider_key_list(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"project", NULL}};
	struct cli_cred_rows tr;
	struct project p;
	struct tenant t;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK)
		return rc;
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	if ((rc = cli_key_owner(c, &opts[1], &t, &p)) != CLI_OK)
		return rc;
	tr.arr = json_array();
	tr.tenant_id = t.id;
	tr.p = &p;
	if (tr.arr == NULL)
		return cli_error("out of memory");
	rc = p.id ? store_pcred_list(c->st, t.id, p.id, cli_cred_collect, &tr)
	          : store_cred_list(c->st, t.id, cli_cred_collect, &tr);
	if (rc != ST_OK) {
		json_decref(tr.arr);
		return cli_error("database error while listing credentials of tenant '%s'", t.slug);
	}
	return cli_emit(tr.arr);
}

const struct cli_cmd cli_cmds_providers[] = {
    {"provider-key", "set", cmd_provider_key_set,
     CLI_NEED_DB | CLI_NEED_SECRETS | CLI_NEED_REGISTRY,
     "--tenant TENANT --provider NAME [--project NAME] [--verify]  < credential",
     "store a tenant's (or one project's) own provider credential (read from stdin;"
     " --verify: check it upstream first)"},
    {"provider-key", "clear", cmd_provider_key_clear, CLI_NEED_DB,
     "--tenant TENANT --provider NAME [--project NAME]",
     "delete a tenant's (or one project's) provider credential"},
    {"provider-key", "list", cmd_provider_key_list, CLI_NEED_DB, "--tenant TENANT [--project NAME]",
     "list a tenant's (or one project's) provider credentials (last 4 characters only)"},
};
const size_t cli_ncmds_providers = ARRAY_SIZE(cli_cmds_providers);
