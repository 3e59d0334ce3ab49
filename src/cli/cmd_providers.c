/*
 * cmd_providers.c: agenthostctl provider-key set, clear and list (a
 * tenant's own provider credentials, BYOK, or with --project a project's
 * own, used before the tenant's for the project's keys; --pool NAME: one key
 * of the tenant's key pool for the provider), and route set, list and delete
 * (routes of a tenant or a plan, docs/ROUTING.md).
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
#include "exec/route.h"
#include "store/limits.h"
#include "store/routes.h"
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

/*
 * The stored name of the credential: the provider, or with --pool one key of
 * the tenant's key pool for it, "<provider>#<pool>" (sql/027_routes.sql).
 * CLI_OK, or a usage error for a bad pool name.
 */
static int cli_cred_name(struct cli *c, const char *provider, const char *pool, char *out,
                         size_t cap)
{
	if (pool == NULL) {
		util_strlcpy(out, provider, cap);
		return CLI_OK;
	}
	if (!valid_name(VALID_POOL, pool))
		return cli_usage_error(c, "--pool: %s", valid_hint(VALID_POOL));
	snprintf(out, cap, "%s#%s", provider, pool);
	return CLI_OK;
}

static int cmd_provider_key_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"tenant", NULL}, {"provider", NULL}, {"project", NULL}, {"pool", NULL}};
	/* Room for the longest credential, a CR, and the NUL. */
	char plain[SECRETS_MAX_PLAIN + 3];
	struct sealed_cred cred;
	const char *provider;
	struct project p;
	struct tenant t;
	char target[128], name[80];
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
	if (opts[3].value && opts[2].value)
		return cli_usage_error(c, "--pool: key pools are the tenant's, not a project's");
	if ((rc = cli_cred_name(c, provider, opts[3].value, name, sizeof(name))) != CLI_OK)
		return rc;
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	if ((rc = cli_key_owner(c, &opts[2], &t, &p)) != CLI_OK)
		return rc;

	snprintf(target, sizeof(target), "credential for provider %s", name);
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
	rc = keys_byok_set_project(c->st, t.id, p.id, name, plain, len, &cred);
	sodium_memzero(plain, sizeof(plain));
	if (rc == KEYS_NOSECRETS)
		return cli_error("cannot seal the credential (master key not loaded?)");
	if (rc != KEYS_OK)
		return cli_error("database error while storing the %s credential of tenant '%s'",
		                 name, t.slug);
	cli_cred_target(target, sizeof(target), &p, name);
	rc = cli_audit(c, t.id, "provider_key.set", target,
	               cli_pack("{s:s, s:i, s:b, s:o}", "provider", name, "version", cred.version,
	                        "verified", verify, "project_id",
	                        p.id ? json_integer(p.id) : json_null()));
	if (cred.updated_at == 0)
		cred.updated_at = util_unix_time();
	return cli_finish(cli_emit(cli_cred_json(t.id, &p, name, &cred)), rc);
}

static int cmd_provider_key_clear(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"tenant", NULL}, {"provider", NULL}, {"project", NULL}, {"pool", NULL}};
	const char *provider;
	struct project p;
	struct tenant t;
	char target[128], name[80];
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
	if (opts[3].value && opts[2].value)
		return cli_usage_error(c, "--pool: key pools are the tenant's, not a project's");
	if ((rc = cli_cred_name(c, provider, opts[3].value, name, sizeof(name))) != CLI_OK)
		return rc;
	provider = name;
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

/* ------------------------------------------------------------------ routes */

/* Whose routes: --tenant or --plan (exactly one). */
struct cli_route_owner {
	enum route_owner owner;
	struct tenant t; /* ROUTE_TENANT */
	const char *plan;
	int64_t tenant_id; /* for the audit row: the tenant, or 0 for a plan */
	char target[200];
};

/* Resolve --tenant / --plan into o. CLI_OK, or a usage error / CLI_FAIL. */
static int cli_route_owner(struct cli *c, const struct cli_opt *tenant, const struct cli_opt *plan,
                           struct cli_route_owner *o)
{
	struct plan p;
	int rc;

	memset(o, 0, sizeof(*o));
	if ((tenant->value == NULL) == (plan->value == NULL))
		return cli_usage_error(c, "name exactly one of --tenant and --plan");
	if (tenant->value != NULL) {
		o->owner = ROUTE_TENANT;
		if (cli_tenant(c, tenant->value, &o->t) != CLI_OK)
			return CLI_FAIL;
		o->tenant_id = o->t.id;
		o->plan = "";
		return CLI_OK;
	}
	o->owner = ROUTE_PLAN;
	o->plan = plan->value;
	rc = strlen(plan->value) < 32 ? store_plan_get(c->st, plan->value, &p) : ST_NOTFOUND;
	if (rc == ST_NOTFOUND)
		return cli_error("no plan '%s'", plan->value);
	if (rc != ST_OK)
		return cli_error("database error while reading plan '%s'", plan->value);
	return CLI_OK;
}

/* The audit target of route name of o. */
static const char *cli_route_target(struct cli_route_owner *o, const char *name)
{
	if (o->owner == ROUTE_PLAN)
		snprintf(o->target, sizeof(o->target), "plan:%s/route:%s", o->plan, name);
	else
		snprintf(o->target, sizeof(o->target), "route:%s", name);
	return o->target;
}

/* A stored route in the API's form. */
static json_t *cli_route_json(const struct route_row *row)
{
	json_t *targets = json_loads(row->targets, 0, NULL);

	return cli_pack("{s:s, s:s, s:s, s:o, s:I}", "object", "route", "name", row->name, "owner",
	                row->owner == ROUTE_PLAN ? "plan" : "tenant", "targets",
	                targets ? targets : json_array(), "updated_at",
	                (json_int_t)row->updated_at);
}

static int cmd_route_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"tenant", NULL}, {"plan", NULL}, {"name", NULL}, {"targets", NULL}};
	struct cli_route_owner o;
	struct route_def *rt = NULL;
	struct route_row *row = NULL;
	char err[256], param[64];
	json_t *targets = NULL, *canon = NULL;
	char *text = NULL;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[2])) != CLI_OK || (rc = cli_require(c, &opts[3])) != CLI_OK)
		return rc;
	if (!valid_name(VALID_MODEL, opts[2].value))
		return cli_usage_error(c, "--name: %s", valid_hint(VALID_MODEL));
	if ((rc = cli_route_owner(c, &opts[0], &opts[1], &o)) != CLI_OK)
		return rc;
	rt = calloc(1, sizeof(*rt));
	row = calloc(1, sizeof(*row));
	if (rt == NULL || row == NULL) {
		rc = cli_error("out of memory");
		goto out;
	}
	targets = json_loads(opts[3].value, 0, NULL);
	if (targets == NULL) {
		rc = cli_usage_error(c, "--targets: not JSON (a JSON array of targets)");
		goto out;
	}
	if (route_parse(targets, rt, err, sizeof(err), param, sizeof(param)) < 0 ||
	    route_check_models(c->st, rt, err, sizeof(err)) < 0) {
		rc = cli_usage_error(c, "--targets: %s", err);
		goto out;
	}
	canon = route_targets_json(rt);
	text = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
	if (text == NULL || strlen(text) > ROUTE_TARGETS_MAX) {
		rc = cli_error("the targets cannot be stored");
		goto out;
	}
	rc = store_route_put(c->st, o.owner, o.tenant_id, o.plan, opts[2].value, text);
	if (rc != ST_OK) {
		rc = cli_error("database error while storing route '%s'", opts[2].value);
		goto out;
	}
	rc = cli_audit(c, o.tenant_id, "route.set", cli_route_target(&o, opts[2].value),
	               cli_pack("{s:O}", "targets", canon));
	row->owner = o.owner;
	util_strlcpy(row->name, opts[2].value, sizeof(row->name));
	util_strlcpy(row->targets, text, sizeof(row->targets));
	row->updated_at = util_unix_time();
	rc = cli_finish(cli_emit(cli_route_json(row)), rc);
out:
	free(text);
	json_decref(canon);
	json_decref(targets);
	free(rt);
	free(row);
	return rc;
}

static int cmd_route_delete(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"plan", NULL}, {"name", NULL}};
	struct cli_route_owner o;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[2])) != CLI_OK)
		return rc;
	if ((rc = cli_route_owner(c, &opts[0], &opts[1], &o)) != CLI_OK)
		return rc;
	rc = store_route_delete(c->st, o.owner, o.tenant_id, o.plan, opts[2].value);
	if (rc == ST_NOTFOUND)
		return cli_error("no route '%s'", opts[2].value);
	if (rc != ST_OK)
		return cli_error("database error while deleting route '%s'", opts[2].value);
	rc = cli_audit(c, o.tenant_id, "route.delete", cli_route_target(&o, opts[2].value), NULL);
	return cli_finish(cli_emit(cli_pack("{s:s, s:s, s:b}", "object", "route", "name",
	                                    opts[2].value, "deleted", 1)),
	                  rc);
}

/* route_cb: one route into the array ctx. */
static int cli_route_collect(void *ctx, const struct route_row *row)
{
	return cli_array_add(ctx, cli_route_json(row));
}

static int cmd_route_list(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"plan", NULL}};
	struct cli_route_owner o;
	json_t *arr;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_route_owner(c, &opts[0], &opts[1], &o)) != CLI_OK)
		return rc;
	if ((arr = json_array()) == NULL)
		return cli_error("out of memory");
	if (store_route_list(c->st, o.owner, o.tenant_id, o.plan, cli_route_collect, arr) !=
	    ST_OK) {
		json_decref(arr);
		return cli_error("database error while listing routes");
	}
	return cli_emit(arr);
}

const struct cli_cmd cli_cmds_providers[] = {
    {"provider-key", "set", cmd_provider_key_set,
     CLI_NEED_DB | CLI_NEED_SECRETS | CLI_NEED_REGISTRY,
     "--tenant TENANT --provider NAME [--project NAME | --pool KEY] [--verify]  < credential",
     "store a tenant's (or one project's) own provider credential (read from stdin; --pool:"
     " one key of the tenant's key pool; --verify: check it upstream first)"},
    {"provider-key", "clear", cmd_provider_key_clear, CLI_NEED_DB,
     "--tenant TENANT --provider NAME [--project NAME | --pool KEY]",
     "delete a tenant's (or one project's) provider credential"},
    {"provider-key", "list", cmd_provider_key_list, CLI_NEED_DB, "--tenant TENANT [--project NAME]",
     "list a tenant's (or one project's) provider credentials (last 4 characters only)"},
    {"route", "set", cmd_route_set, CLI_NEED_DB | CLI_NEED_REGISTRY,
     "(--tenant TENANT | --plan PLAN) --name NAME --targets JSON",
     "set the route of a model name or alias: an ordered, weighted list of targets"},
    {"route", "list", cmd_route_list, CLI_NEED_DB, "(--tenant TENANT | --plan PLAN)",
     "list the routes of a tenant or a plan"},
    {"route", "delete", cmd_route_delete, CLI_NEED_DB,
     "(--tenant TENANT | --plan PLAN) --name NAME", "delete a route"},
};
const size_t cli_ncmds_providers = ARRAY_SIZE(cli_cmds_providers);
