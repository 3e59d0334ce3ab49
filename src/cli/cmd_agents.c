/*
 * cmd_agents.c: agenthostctl agent create and list, tool register, list,
 * enable and disable, tool-secret set and list.
 *
 * DESIGN
 * An agent names a catalogue model, or a name the tenant or its plan has a
 * route of (docs/ROUTING.md), and optionally registered tools; it
 * prints as the tenant API's agent (objects_agent). Tool definitions are
 * checked by tool_policy_def_check, the operator API's check, and print as
 * the operator API's tool. A tool secret is read from stdin and sealed
 * bound to tenant, tool, name and version, like a provider credential.
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
#include <math.h>

#include "crypto/secrets.h"
#include "store/routes.h"
#include "store/tools.h"
#include "tools/policy.h"
#include "tools/runner.h"

static int cmd_agent_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"tenant", NULL},      {"name", NULL},       {"model", NULL},    {"instructions", NULL},
	    {"temperature", NULL}, {"max-tokens", NULL}, {"max-steps", NULL}};
	static struct agent a; /* 8 KiB of instructions: keep it off the stack */
	static struct agent_tools at;
	static struct tool_def td;
	static struct route_row route; /* 4 KiB of targets */
	const char *tool_names[AGENT_MAX_TOOLS];
	struct model m;
	struct tenant t;
	char target[96];
	int64_t id = 0, maxtok, steps;
	size_t npos;
	int rc, ntools, routed;

	memset(&at, 0, sizeof(at));
	ntools = cli_multi(&argc, argv, "tool", tool_names, ARRAY_SIZE(tool_names));
	if (ntools < 0)
		return CLI_USAGE;
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	for (size_t i = 0; i < 3; i++)
		if ((rc = cli_require(c, &opts[i])) != CLI_OK)
			return rc;
	memset(&a, 0, sizeof(a));
	if (!valid_name(VALID_AGENT, opts[1].value))
		return cli_usage_error(c, "--name: '%s' must be %s", opts[1].value,
		                       valid_hint(VALID_AGENT));
	util_strlcpy(a.name, opts[1].value, sizeof(a.name));
	if (!valid_name(VALID_MODEL, opts[2].value))
		return cli_usage_error(c, "--model: '%s' is not a model name (%s)", opts[2].value,
		                       valid_hint(VALID_MODEL));
	util_strlcpy(a.model, opts[2].value, sizeof(a.model));
	if (opts[3].value != NULL) {
		if (!valid_text(opts[3].value, sizeof(a.instructions) - 1, 1))
			return cli_usage_error(c, "--instructions: at most %zu bytes of UTF-8 text",
			                       sizeof(a.instructions) - 1);
		util_strlcpy(a.instructions, opts[3].value, sizeof(a.instructions));
	}
	if (opts[4].value != NULL) {
		char *end;

		errno = 0;
		a.temperature = strtod(opts[4].value, &end);
		if (opts[4].value[0] == '\0' || *end != '\0' || errno != 0 ||
		    !isfinite(a.temperature) || a.temperature < 0.0 || a.temperature > 2.0)
			return cli_usage_error(c, "--temperature: '%s' is not a number in 0..2",
			                       opts[4].value);
		a.has_temperature = 1;
	}
	if (opts[5].value != NULL) {
		if ((rc = cli_opt_int(c, &opts[5], 1, 1000000, &maxtok)) != CLI_OK)
			return rc;
		a.max_tokens = (int)maxtok;
	}
	if (opts[6].value != NULL) {
		if ((rc = cli_opt_int(c, &opts[6], 1, AGENT_MAX_STEPS_MAX, &steps)) != CLI_OK)
			return rc;
		at.max_steps = (int)steps;
	}
	for (int i = 0; i < ntools; i++) {
		if (!valid_name(VALID_TOOL, tool_names[i]))
			return cli_usage_error(c, "--tool: '%s' is not a tool name", tool_names[i]);
		rc = store_tool_get(c->st, tool_names[i], &td);
		if (rc == ST_NOTFOUND)
			return cli_error("tool '%s' is not registered", tool_names[i]);
		if (rc != ST_OK)
			return cli_error("database error while reading tool '%s'", tool_names[i]);
		for (size_t k = 0; k < at.n; k++)
			if (strcmp(at.names[k], tool_names[i]) == 0)
				goto dup;
		util_strlcpy(at.names[at.n++], tool_names[i], sizeof(at.names[0]));
	dup:;
	}
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	a.tenant_id = t.id;
	/* a routed name (the tenant's route or its plan's) is taken as it is */
	memset(&m, 0, sizeof(m));
	routed = store_route_find(c->st, t.id, t.plan, a.model, &route);
	if (routed == ST_ERR)
		return cli_error("database error while reading the routes of '%s'", a.model);
	rc = routed == ST_OK ? ST_OK : store_model_get(c->st, a.model, &m);
	if (rc == ST_NOTFOUND)
		return cli_error("model '%s' does not exist (and has no route)", a.model);
	if (rc != ST_OK)
		return cli_error("database error while reading model '%s'", a.model);
	if (routed != ST_OK && strcmp(m.kind, "chat") != 0)
		return cli_error("model '%s' is an embedding model; an agent needs a chat model",
		                 a.model);
	rc = store_agent_create(c->st, &a, &id);
	if (rc == ST_CONFLICT)
		return cli_error("agent '%s' already exists for tenant '%s'", a.name, t.slug);
	if (rc != ST_OK)
		return cli_error("database error while creating agent '%s'", a.name);
	a.id = id;
	if ((at.n > 0 || at.max_steps > 0) && store_agent_tools_set(c->st, t.id, id, &at) != ST_OK)
		return cli_error("agent '%s' created, but its tools could not be stored", a.name);
	if (store_agent_get(c->st, t.id, id, &a) != ST_OK)
		a.created_at = util_unix_time();
	snprintf(target, sizeof(target), "agent:%s", a.name);
	rc = cli_audit(c, t.id, "agent.create", target,
	               cli_pack("{s:I, s:s, s:i}", "agent_id", (json_int_t)id, "model", a.model,
	                        "tools", (int)at.n));
	return cli_finish(cli_emit(objects_agent_tools(
	                      objects_agent(&a, routed == ST_OK ? NULL : m.provider), &at)),
	                  rc);
}

/* agent_cb: append one agent to ctx; the provider is filled in after the listing. */
static int cli_agent_collect(void *ctx, const struct agent *a)
{
	return cli_array_add(ctx, objects_agent(a, NULL));
}

/* The tenant's agents, each with the provider of its model. */
static int fill_agent_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	struct model m;
	json_t *o;
	size_t i;
	int rc;

	if (store_agent_list(c->st, t->id, cli_agent_collect, arr) != ST_OK)
		return ST_ERR;
	/* Models are looked up after the listing: no query while another one streams. */
	json_array_foreach(arr, i, o)
	{
		const char *model = json_string_value(json_object_get(o, "model"));

		if (model == NULL)
			continue;
		rc = store_model_get(c->st, model, &m);
		if (rc == ST_OK) {
			if (json_object_set_new(o, "provider", json_string(m.provider)) != 0) {
				cli_error("out of memory");
				return CLI_FILL_REPORTED;
			}
		} else if (rc != ST_NOTFOUND) {
			cli_error("database error while reading model '%s'", model);
			return CLI_FILL_REPORTED;
		}
	}
	return ST_OK;
}

static int cmd_agent_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_agent_list, "agents");
}

/* --schema: inline JSON (starts with '{') or a file holding it, into t->schema. */
static int cli_tool_schema(struct cli *c, const char *arg, struct tool_def *t)
{
	FILE *f;
	size_t n;

	if (arg[0] == '{') {
		if (strlen(arg) >= sizeof(t->schema))
			return cli_usage_error(c, "--schema: longer than %d bytes",
			                       TOOL_SCHEMA_MAX);
		util_strlcpy(t->schema, arg, sizeof(t->schema));
		return CLI_OK;
	}
	f = fopen(arg, "r");
	if (f == NULL)
		return cli_error("--schema: cannot open '%s': %s", arg, strerror(errno));
	n = fread(t->schema, 1, sizeof(t->schema) - 1, f);
	t->schema[n] = '\0';
	if (ferror(f) || (n == sizeof(t->schema) - 1 && fgetc(f) != EOF)) {
		fclose(f);
		return cli_error("--schema: cannot read '%s' or it is longer than %d bytes", arg,
		                 TOOL_SCHEMA_MAX);
	}
	fclose(f);
	return CLI_OK;
}

static int cmd_tool_register(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"exec", NULL},
	                         {"schema", NULL},
	                         {"description", NULL},
	                         {"timeout-ms", NULL},
	                         {"max-output-bytes", NULL}};
	static struct tool_def t;
	const char *pos[1], *secrets[TOOL_RUNNER_MAX_ENV];
	json_t *schema;
	char err[256];
	int64_t v;
	size_t npos, at = 0;
	int rc, nsec, created = 0;

	memset(&t, 0, sizeof(t));
	t.mutating = cli_flag(&argc, argv, "mutating") > 0;
	nsec = cli_multi(&argc, argv, "secret", secrets, ARRAY_SIZE(secrets));
	if (nsec < 0)
		return CLI_USAGE;
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing the tool NAME");
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if ((rc = cli_require(c, &opts[i])) != CLI_OK)
			return rc;
	util_strlcpy(t.name, pos[0], sizeof(t.name));
	if (!valid_name(VALID_TOOL, pos[0]))
		return cli_usage_error(c, "NAME: '%s' must be %s", pos[0], valid_hint(VALID_TOOL));
	if (strlen(opts[0].value) >= sizeof(t.exec_path))
		return cli_usage_error(c, "--exec: path too long");
	util_strlcpy(t.exec_path, opts[0].value, sizeof(t.exec_path));
	if ((rc = cli_tool_schema(c, opts[1].value, &t)) != CLI_OK)
		return rc;
	if (!valid_text(opts[2].value, TOOL_DESC_MAX, 1) || opts[2].value[0] == '\0')
		return cli_usage_error(c, "--description: 1-%d bytes of UTF-8 text", TOOL_DESC_MAX);
	util_strlcpy(t.description, opts[2].value, sizeof(t.description));
	if ((rc = cli_opt_int(c, &opts[3], 1, 600000, &v)) != CLI_OK)
		return rc;
	t.timeout_ms = (int)v;
	if ((rc = cli_opt_int(c, &opts[4], 1, 64 * 1024 * 1024, &v)) != CLI_OK)
		return rc;
	t.max_output_bytes = (int)v;
	for (int i = 0; i < nsec; i++) {
		size_t n = strlen(secrets[i]);

		if (at + n + 2 > sizeof(t.secret_names))
			return cli_usage_error(c, "--secret: too many or too long");
		if (at > 0)
			t.secret_names[at++] = ',';
		memcpy(t.secret_names + at, secrets[i], n + 1);
		at += n;
	}
	if (tool_policy_def_check(&t, err, sizeof(err)) < 0)
		return cli_error("tool '%s': %s", t.name, err);
	/* Store the schema compact, as the model will see it. */
	schema = json_loads(t.schema, 0, NULL);
	if (schema != NULL) {
		char *compact = json_dumps(schema, JSON_COMPACT);

		if (compact != NULL && strlen(compact) < sizeof(t.schema))
			util_strlcpy(t.schema, compact, sizeof(t.schema));
		free(compact);
		json_decref(schema);
	}
	if (store_tool_register(c->st, &t, &created) != ST_OK ||
	    store_tool_get(c->st, t.name, &t) != ST_OK)
		return cli_error("database error while registering tool '%s'", t.name);
	rc = cli_audit(c, 0, created ? "tool.register" : "tool.update", t.name,
	               cli_pack("{s:s, s:b}", "exec_path", t.exec_path, "mutating", t.mutating));
	return cli_finish(cli_emit(objects_tool(&t)), rc);
}

/* tool_def_cb: append one tool to ctx. */
static int cli_tool_collect(void *ctx, const struct tool_def *t)
{
	return cli_array_add(ctx, objects_tool(t));
}

static int fill_tool_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	(void)t;
	return store_tool_list(c->st, cli_tool_collect, arr);
}

static int cmd_tool_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 0, fill_tool_list, "tools");
}

/* tool disable / enable NAME */
static int cli_tool_enable(struct cli *c, int argc, char **argv, int enabled)
{
	const char *pos[1];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, NULL, 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing the tool NAME");
	rc = valid_name(VALID_TOOL, pos[0]) ? store_tool_set_enabled(c->st, pos[0], enabled)
	                                    : ST_NOTFOUND;
	if (rc == ST_NOTFOUND)
		return cli_error("tool '%s' is not registered", pos[0]);
	if (rc != ST_OK)
		return cli_error("database error while changing tool '%s'", pos[0]);
	rc = cli_audit(c, 0, enabled ? "tool.enable" : "tool.disable", pos[0], NULL);
	return cli_finish(cli_emit(cli_pack("{s:s, s:b}", "name", pos[0], "enabled", enabled)), rc);
}

static int cmd_tool_disable(struct cli *c, int argc, char **argv)
{
	return cli_tool_enable(c, argc, argv, 0);
}

static int cmd_tool_enable(struct cli *c, int argc, char **argv)
{
	return cli_tool_enable(c, argc, argv, 1);
}

static int cmd_tool_secret_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"tool", NULL}, {"name", NULL}};
	static struct tool_def td;
	char plain[SECRETS_MAX_PLAIN + 3], label[160], target[160];
	struct sealed_cred cred;
	struct tenant t;
	size_t npos, len = 0;
	int rc, version = 0;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if ((rc = cli_require(c, &opts[i])) != CLI_OK)
			return rc;
	if (!valid_name(VALID_TOOL, opts[1].value))
		return cli_usage_error(c, "--tool: '%s' is not a tool name", opts[1].value);
	rc = store_tool_get(c->st, opts[1].value, &td);
	if (rc == ST_NOTFOUND)
		return cli_error("tool '%s' is not registered", opts[1].value);
	if (rc != ST_OK)
		return cli_error("database error while reading tool '%s'", opts[1].value);
	if (!valid_name(VALID_SECRET, opts[2].value) ||
	    !tool_policy_listed(td.secret_names, opts[2].value))
		return cli_error("tool '%s' declares no secret named '%s' (it has: %s)", td.name,
		                 opts[2].value, td.secret_names[0] ? td.secret_names : "none");
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	rc = store_tool_secret_version(c->st, t.id, td.name, opts[2].value, &version);
	if (rc != ST_OK && rc != ST_NOTFOUND)
		return cli_error("database error while reading the secret");
	memset(&cred, 0, sizeof(cred));
	cred.version = version + 1;
	snprintf(label, sizeof(label), "tool %s secret %s", td.name, opts[2].value);
	if (cli_read_secret(label, plain, sizeof(plain), &len) != CLI_OK) {
		sodium_memzero(plain, sizeof(plain));
		return CLI_FAIL;
	}
	rc = secrets_seal_tool(t.id, td.name, opts[2].value, cred.version, plain, len, cred.nonce,
	                       cred.ct, &cred.ct_len);
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0)
		return cli_error("cannot seal the secret (master key not loaded?)");
	if (store_tool_secret_put(c->st, t.id, td.name, opts[2].value, &cred) != ST_OK)
		return cli_error("database error while storing the secret");
	snprintf(target, sizeof(target), "tool_secret:%s/%s", td.name, opts[2].value);
	rc = cli_audit(c, t.id, "tool_secret.set", target,
	               cli_pack("{s:s, s:s, s:i}", "tool", td.name, "name", opts[2].value,
	                        "version", cred.version));
	cred.updated_at = util_unix_time();
	return cli_finish(cli_emit(objects_tool_secret(t.id, td.name, opts[2].value, &cred)), rc);
}

/* tool_secret_cb: append one secret's name and dates (never its value). */
static int cli_tool_secret_collect(void *ctx, const char *tool, const char *name,
                                   const struct sealed_cred *cr)
{
	struct cli_tenant_rows *tr = ctx;

	return cli_array_add(tr->arr, objects_tool_secret(tr->tenant_id, tool, name, cr));
}

static int fill_tool_secret_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	struct cli_tenant_rows tr = {arr, t->id};

	return store_tool_secret_list(c->st, t->id, cli_tool_secret_collect, &tr);
}

static int cmd_tool_secret_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_tool_secret_list, "tool secrets");
}

const struct cli_cmd cli_cmds_agents[] = {
    {"agent", "create", cmd_agent_create, CLI_NEED_DB,
     "--tenant TENANT --name NAME --model MODEL [--instructions TEXT] [--temperature X]"
     " [--max-tokens N] [--tool TOOL]... [--max-steps N]",
     "create an agent"},
    {"agent", "list", cmd_agent_list, CLI_NEED_DB, "--tenant TENANT", "list a tenant's agents"},
    {"tool", "register", cmd_tool_register, CLI_NEED_DB,
     "NAME --exec PATH --schema FILE|JSON --description TEXT --timeout-ms N"
     " --max-output-bytes N [--secret NAME]... [--mutating]",
     "register (or update) a tool agents may call"},
    {"tool", "list", cmd_tool_list, CLI_NEED_DB, "", "list registered tools"},
    {"tool", "disable", cmd_tool_disable, CLI_NEED_DB, "NAME", "stop a tool from being called"},
    {"tool", "enable", cmd_tool_enable, CLI_NEED_DB, "NAME", "enable a disabled tool again"},
    {"tool-secret", "set", cmd_tool_secret_set, CLI_NEED_DB | CLI_NEED_SECRETS,
     "--tenant TENANT --tool TOOL --name NAME  < value",
     "store a tenant's value of a tool's secret (read from stdin)"},
    {"tool-secret", "list", cmd_tool_secret_list, CLI_NEED_DB, "--tenant TENANT",
     "list a tenant's tool secrets (names and dates, never values)"},
};
const size_t cli_ncmds_agents = ARRAY_SIZE(cli_cmds_agents);
