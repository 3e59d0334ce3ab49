/*
 * cmd_guardrails.c: agenthostctl guardrails register, list, enable, disable
 * and chain.
 *
 * DESIGN
 * The registry is the operator's (store/guardrails.h); definitions pass
 * guardrail_def_check (exec/guardrail.h), the operator API's check, against
 * this configuration's guardrail_dir. A chain is the limit "guardrails" at
 * the global, plan or tenant scope: `guardrails chain` checks that every
 * name is registered and then stores it like `limits set` would (the caches
 * of every process drop it), so `limits show` shows it with its source.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api/objects.h"
#include "cli/cli.h"
#include "common/conf.h"
#include "common/util.h"
#include "common/valid.h"
#include "exec/guardrail.h"
#include "store/guardrails.h"
#include "store/limits.h"

static int cmd_guardrails_register(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"exec", NULL}, {"stage", NULL}, {"timeout-ms", NULL}, {"description", NULL}};
	static struct guardrail_def g;
	const char *pos[1], *env[GUARDRAIL_ENV_VARS];
	char err[512];
	int64_t v;
	size_t npos, at = 0;
	int rc, nenv, created = 0;

	memset(&g, 0, sizeof(g));
	nenv = cli_multi(&argc, argv, "env", env, ARRAY_SIZE(env));
	if (nenv < 0)
		return CLI_USAGE;
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing the guardrail NAME");
	for (size_t i = 0; i < 3; i++)
		if ((rc = cli_require(c, &opts[i])) != CLI_OK)
			return rc;
	if (strlen(pos[0]) >= sizeof(g.name) || strlen(opts[0].value) >= sizeof(g.exec_path) ||
	    strlen(opts[1].value) >= sizeof(g.stage))
		return cli_usage_error(c, "NAME, --exec or --stage is too long");
	util_strlcpy(g.name, pos[0], sizeof(g.name));
	util_strlcpy(g.exec_path, opts[0].value, sizeof(g.exec_path));
	util_strlcpy(g.stage, opts[1].value, sizeof(g.stage));
	if ((rc = cli_opt_int(c, &opts[2], 1, GUARDRAIL_TIMEOUT_MAX, &v)) != CLI_OK)
		return rc;
	g.timeout_ms = (int)v;
	if (opts[3].value != NULL &&
	    util_strlcpy(g.description, opts[3].value, sizeof(g.description)) < 0)
		return cli_usage_error(c, "--description: at most %d bytes", GUARDRAIL_DESC_MAX);
	for (int i = 0; i < nenv; i++) {
		int n = snprintf(g.env + at, sizeof(g.env) - at, "%s%s", at ? "\n" : "", env[i]);

		if (n < 0 || (size_t)n >= sizeof(g.env) - at)
			return cli_usage_error(c, "--env: too many or too long");
		at += (size_t)n;
	}
	if (guardrail_def_check(&g, c->conf->guardrail_dir, err, sizeof(err)) < 0)
		return cli_error("guardrail '%s': %s", g.name, err);
	if (store_guardrail_register(c->st, &g, &created) != ST_OK ||
	    store_guardrail_get(c->st, g.name, &g) != ST_OK)
		return cli_error("database error while registering guardrail '%s'", g.name);
	rc = cli_audit(c, 0, created ? "guardrail.register" : "guardrail.update", g.name,
	               cli_pack("{s:s, s:s}", "exec_path", g.exec_path, "stage", g.stage));
	return cli_finish(cli_emit(objects_guardrail(&g)), rc);
}

/* guardrail_def_cb: append one guardrail to ctx. */
static int cli_guardrail_collect(void *ctx, const struct guardrail_def *g)
{
	return cli_array_add(ctx, objects_guardrail(g));
}

static int fill_guardrail_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	(void)t;
	return store_guardrail_list(c->st, cli_guardrail_collect, arr);
}

static int cmd_guardrails_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 0, fill_guardrail_list, "guardrails");
}

/* guardrails disable / enable NAME */
static int cli_guardrail_enable(struct cli *c, int argc, char **argv, int enabled)
{
	const char *pos[1];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, NULL, 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing the guardrail NAME");
	rc = valid_name(VALID_TOOL, pos[0]) ? store_guardrail_set_enabled(c->st, pos[0], enabled)
	                                    : ST_NOTFOUND;
	if (rc == ST_NOTFOUND)
		return cli_error("guardrail '%s' is not registered", pos[0]);
	if (rc != ST_OK)
		return cli_error("database error while changing guardrail '%s'", pos[0]);
	rc = cli_audit(c, 0, enabled ? "guardrail.enable" : "guardrail.disable", pos[0], NULL);
	return cli_finish(cli_emit(cli_pack("{s:s, s:b}", "name", pos[0], "enabled", enabled)), rc);
}

static int cmd_guardrails_disable(struct cli *c, int argc, char **argv)
{
	return cli_guardrail_enable(c, argc, argv, 0);
}

static int cmd_guardrails_enable(struct cli *c, int argc, char **argv)
{
	return cli_guardrail_enable(c, argc, argv, 1);
}

/* guardrails chain (--global | --plan P | --tenant T) (NAME,NAME... | --clear) */
static int cmd_guardrails_chain(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"plan", NULL}, {"tenant", NULL}};
	const char *pos[1], *scope = "global";
	char err[256], target[160];
	struct tenant t;
	struct plan p;
	int64_t scope_id = 0, tenant_id = 0;
	size_t npos;
	int global, clear, rc;

	global = cli_flag(&argc, argv, "global");
	clear = cli_flag(&argc, argv, "clear");
	if (global < 0 || clear < 0)
		return CLI_USAGE;
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((global > 0) + (opts[0].value != NULL) + (opts[1].value != NULL) != 1)
		return cli_usage_error(
		    c, "give exactly one of --global, --plan PLAN, --tenant TENANT");
	if ((npos == 1) == (clear > 0))
		return cli_usage_error(c, "give either the chain (NAME,NAME...) or --clear");
	if (opts[0].value != NULL) {
		rc = valid_name(VALID_PLAN, opts[0].value)
		         ? store_plan_get(c->st, opts[0].value, &p)
		         : ST_NOTFOUND;
		if (rc == ST_NOTFOUND)
			return cli_error("plan '%s' does not exist", opts[0].value);
		if (rc != ST_OK)
			return cli_error("database error while reading plan '%s'", opts[0].value);
		scope = "plan";
		scope_id = p.id;
	} else if (opts[1].value != NULL) {
		if (cli_tenant(c, opts[1].value, &t) != CLI_OK)
			return CLI_FAIL;
		scope = "tenant";
		scope_id = tenant_id = t.id;
	}
	snprintf(target, sizeof(target), "%s:%lld:guardrails", scope, (long long)scope_id);
	if (clear) {
		rc = store_limit_unset(c->st, scope, scope_id, "guardrails");
		if (rc != ST_OK && rc != ST_NOTFOUND)
			return cli_error("database error while clearing the chain");
		rc = cli_audit(c, tenant_id, "limit.unset", target, NULL);
		return cli_finish(cli_emit(cli_pack("{s:s, s:I, s:n}", "scope", scope, "scope_id",
		                                    (json_int_t)scope_id, "chain")),
		                  rc);
	}
	rc = guardrail_chain_check(c->st, pos[0], err, sizeof(err));
	if (rc == -2)
		return cli_error("database error while reading the guardrail registry");
	if (rc < 0)
		return cli_error("%s", err);
	if (store_limit_set(c->st, scope, scope_id, "guardrails", pos[0], c->actor) != ST_OK)
		return cli_error("database error while storing the chain");
	rc = cli_audit(c, tenant_id, "limit.set", target, cli_pack("{s:s}", "value", pos[0]));
	return cli_finish(cli_emit(cli_pack("{s:s, s:I, s:s}", "scope", scope, "scope_id",
	                                    (json_int_t)scope_id, "chain", pos[0])),
	                  rc);
}

const struct cli_cmd cli_cmds_guardrails[] = {
    {"guardrails", "register", cmd_guardrails_register, CLI_NEED_DB,
     "NAME --exec PATH --stage before|after|both --timeout-ms N [--description TEXT]"
     " [--env NAME=VALUE]...",
     "register (or update) a guardrail check; PATH must be under guardrail_dir"},
    {"guardrails", "list", cmd_guardrails_list, CLI_NEED_DB, "", "list registered guardrails"},
    {"guardrails", "disable", cmd_guardrails_disable, CLI_NEED_DB, "NAME",
     "skip a guardrail in every chain"},
    {"guardrails", "enable", cmd_guardrails_enable, CLI_NEED_DB, "NAME",
     "run a disabled guardrail again"},
    {"guardrails", "chain", cmd_guardrails_chain, CLI_NEED_DB,
     "(--global | --plan PLAN | --tenant TENANT) (NAME[,NAME]... | --clear)",
     "set the ordered chain of guardrails of a scope (the limit guardrails)"},
};
const size_t cli_ncmds_guardrails = ARRAY_SIZE(cli_cmds_guardrails);
