/*
 * agenthostctl: the operators' command-line tool (tenants, API keys,
 * provider keys, agents and tools, limits and plans, dashboard users and
 * operator tokens, the master key, migrations and the maintenance
 * commands). This file is the entry point: options, the command table and
 * what a command needs before it runs.
 *
 * DESIGN
 * The tool links the server's own modules (conf, secrets, store, registry)
 * so that what it writes is exactly what the server reads: keys are hashed
 * with the same pepper, credentials sealed with the same associated data,
 * provider names checked against the same registry, objects printed by the
 * API's own builders (api/objects.h).
 *
 * The command table is the rows each cmd_*.c file exports (cli.h), in the
 * order of cli_groups; --help lists them in that order. A command prints
 * one JSON value on stdout (an object, or an array for `list`) and nothing
 * else, so scripts can pipe it to jq; errors are one line
 * "agenthostctl: <message>" on stderr. Exit status: 0 ok, 1 failure,
 * 2 usage error.
 *
 * Secrets: a new API key or operator token is printed once and never
 * stored; a provider credential is read from stdin (argv is visible in ps),
 * sealed, and wiped. None ever reaches an error message or an audit row;
 * jansson's allocations are wiped when freed (cli_json_free). Every
 * mutation writes an audit row (actor_type "cli", actor the invoking
 * login).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <mysql.h>
#include <sodium.h>

#include "cli/cli.h"
#include "common/conf.h"
#include "common/epochs.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "providers/registry.h"

/* The command groups, in the order --help lists them. */
static const struct {
	const struct cli_cmd *rows;
	const size_t *n;
} cli_groups[] = {
    {cli_cmds_tenants, &cli_ncmds_tenants},       {cli_cmds_keys, &cli_ncmds_keys},
    {cli_cmds_providers, &cli_ncmds_providers},   {cli_cmds_agents, &cli_ncmds_agents},
    {cli_cmds_limits, &cli_ncmds_limits},         {cli_cmds_admins, &cli_ncmds_admins},
    {cli_cmds_maint, &cli_ncmds_maint},           {cli_cmds_webhooks, &cli_ncmds_webhooks},
    {cli_cmds_guardrails, &cli_ncmds_guardrails},
};

/* Row i of the joined command table, or NULL past its end. */
static const struct cli_cmd *cli_cmd_at(size_t i)
{
	for (size_t g = 0; g < ARRAY_SIZE(cli_groups); g++) {
		if (i < *cli_groups[g].n)
			return &cli_groups[g].rows[i];
		i -= *cli_groups[g].n;
	}
	return NULL;
}

/* The general usage text. */
static void cli_usage(FILE *f)
{
	const struct cli_cmd *cmd;

	fprintf(f,
	        "usage: " CLI_NAME " [-c FILE] COMMAND [ARGS...]\n"
	        "\n"
	        "  -c FILE     configuration file (default $AGENTHOST_CONF or %s)\n"
	        "  -h, --help  this text; COMMAND --help shows one command's usage\n"
	        "  -V          print the version\n"
	        "\n"
	        "TENANT is a numeric tenant id or a tenant slug. Output is JSON on stdout;\n"
	        "errors go to stderr. Exit status: 0 ok, 1 failure, 2 usage error.\n"
	        "\n"
	        "commands:\n",
	        conf_path(NULL));
	for (size_t i = 0; (cmd = cli_cmd_at(i)) != NULL; i++) {
		char words[48];

		snprintf(words, sizeof(words), "%s%s%s", cmd->group, cmd->verb ? " " : "",
		         cmd->verb ? cmd->verb : "");
		fprintf(f, "  %-22s %s\n", words, cmd->summary);
	}
}

/* The command named by argv[0] (and argv[1]), or NULL; *words gets how many words it used. */
static const struct cli_cmd *cli_find(int argc, char **argv, int *words)
{
	const struct cli_cmd *cmd;

	for (size_t i = 0; (cmd = cli_cmd_at(i)) != NULL; i++) {
		if (strcmp(argv[0], cmd->group) != 0)
			continue;
		if (cmd->verb == NULL) {
			*words = 1;
			return cmd;
		}
		if (argc >= 2 && strcmp(argv[1], cmd->verb) == 0) {
			*words = 2;
			return cmd;
		}
	}
	return NULL;
}

/*
 * Print (to f, unless NULL) the usage lines of every command whose first
 * word is group; returns how many there are.
 */
static int cli_group_usage(FILE *f, const char *group)
{
	const struct cli_cmd *cmd;
	int n = 0;

	for (size_t i = 0; (cmd = cli_cmd_at(i)) != NULL; i++)
		if (strcmp(group, cmd->group) == 0) {
			if (f != NULL)
				cli_cmd_usage(f, cmd);
			n++;
		}
	return n;
}

/* The login to record as the actor: the sudo caller first, since root tells nothing. */
static const char *cli_actor(void)
{
	const char *u = getenv("SUDO_USER");

	if (u == NULL || *u == '\0')
		u = getenv("USER");
	if (u == NULL || *u == '\0')
		u = "root";
	return u;
}

int main(int argc, char **argv)
{
	static struct conf conf;
	struct cli c;
	const struct cli_cmd *cmd;
	const char *cpath = NULL;
	char err[512];
	int i = 1, words = 0, rc = CLI_FAIL, registry_up = 0, mysql_up = 0, lv;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_usage(stdout);
			return 0;
		}
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf(CLI_NAME " %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				cli_error("%s needs a file name", a);
				cli_usage(stderr);
				return CLI_USAGE;
			}
			cpath = argv[i + 1];
			i += 2;
			continue;
		}
		if (strncmp(a, "--config=", 9) == 0) {
			cpath = a + 9;
			i++;
			continue;
		}
		cli_error("unknown option '%s'", a);
		cli_usage(stderr);
		return CLI_USAGE;
	}
	if (i >= argc) {
		cli_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		cli_usage(stdout);
		return 0;
	}
	cmd = cli_find(argc - i, argv + i, &words);
	if (cmd == NULL) {
		if (i + 1 < argc &&
		    (strcmp(argv[i + 1], "-h") == 0 || strcmp(argv[i + 1], "--help") == 0) &&
		    cli_group_usage(stdout, argv[i]) > 0)
			return 0;
		if (cli_group_usage(NULL, argv[i]) == 0) {
			cli_error("unknown command '%s'", argv[i]);
			cli_usage(stderr);
		} else {
			if (i + 1 < argc)
				cli_error("unknown command '%s %s'", argv[i], argv[i + 1]);
			else
				cli_error("'%s' needs a subcommand", argv[i]);
			cli_group_usage(stderr, argv[i]);
		}
		return CLI_USAGE;
	}

	if (sodium_init() < 0)
		return cli_error("libsodium failed to initialise");
	json_set_alloc_funcs(malloc, cli_json_free);
	if (mysql_library_init(0, NULL, NULL) != 0)
		return cli_error("cannot initialise the MariaDB client library");
	mysql_up = 1;

	memset(&c, 0, sizeof(c));
	c.conf = &conf;
	c.cmd = cmd;
	c.actor = cli_actor();

	conf_defaults(&conf);
	/* --help after the command needs no configuration: answer it first. */
	for (int k = i + words; k < argc && strcmp(argv[k], "--") != 0; k++)
		if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
			cli_cmd_usage(stdout, cmd);
			rc = CLI_OK;
			goto out;
		}
	if (conf_load(&conf, conf_path(cpath), err, sizeof(err)) != 0) {
		rc = cli_error("%s", err);
		goto out;
	}
	lv = log_level_parse(conf.log_level);
	if (lv >= 0)
		log_set_level((enum log_level)lv);
	if ((cmd->need & CLI_NEED_SECRETS) &&
	    secrets_init(conf.master_key_file, err, sizeof(err)) != 0) {
		rc = cli_error("%s", err);
		goto out;
	}
	/*
	 * Any command that reads tenant data may meet a dedicated tenant, whose
	 * database password the master key opens: load it when it is there (a
	 * command that then needs it and lacks it says so).
	 */
	if ((cmd->need & CLI_NEED_DB) && !secrets_ready() &&
	    access(conf.master_key_file, R_OK) == 0)
		secrets_init(conf.master_key_file, err, sizeof(err));
	if (cmd->need & CLI_NEED_REGISTRY) {
		if (registry_init(&conf, err, sizeof(err)) != 0) {
			rc = cli_error("provider registry: %s", err);
			goto out;
		}
		registry_up = 1;
	}
	if (cmd->need & CLI_NEED_DB) {
		/*
		 * A change made here reaches the servers of this host at once through
		 * the shared epochs (when this user may write them), else within one
		 * watch of change_log.
		 */
		epochs_open(conf.state_dir, 0, err, sizeof(err));
		c.st = store_open(&conf, err, sizeof(err));
		if (c.st == NULL) {
			rc = cli_error("cannot connect to the database: %s", err);
			goto out;
		}
	}
	rc = cmd->run(&c, argc - i - words, argv + i + words);
	if (rc == CLI_HELP)
		rc = CLI_OK;
out:
	if (c.st != NULL)
		store_close(c.st);
	if (registry_up)
		registry_free();
	if (mysql_up)
		mysql_library_end();
	return rc;
}
