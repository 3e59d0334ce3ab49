/*
 * cli: what the files of agenthostctl share: the command table row, one
 * invocation's state, argument parsing, output, audit rows and the steps
 * several commands take (find a tenant, read a secret from stdin, print a
 * list).
 *
 * DESIGN
 * Each cmd_*.c file holds one group of commands and exports its rows of the
 * command table (cgit's table-driven dispatcher): the words that name a
 * command, its handler, what it needs set up and its usage line.
 * agenthostctl.c joins the groups, finds the row and prepares what it
 * needs. A handler parses its words with cli_args, prints one JSON value
 * with cli_emit (objects through api/objects.h, the same builders as the
 * API) and audits a change with cli_audit. Errors are one line on stderr
 * (cli_error); handlers return enum cli_rc, which is the exit status.
 */
#ifndef AH_CLI_H
#define AH_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <sodium.h>

#include "common/conf.h"
#include "common/progress.h"
#include "store/store.h"

#define CLI_NAME "agenthostctl"

/* Handler results; CLI_HELP means usage was printed on request (exit 0). */
enum cli_rc { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_HELP = 3 };

/* What a command needs before its handler runs. */
#define CLI_NEED_DB 0x1       /* a store connection */
#define CLI_NEED_SECRETS 0x2  /* the master key (secrets_init) */
#define CLI_NEED_REGISTRY 0x4 /* the provider registry */

struct cli;

/* One row of the command table. */
struct cli_cmd {
	const char *group; /* first word, e.g. "tenant" */
	const char *verb;  /* second word, or NULL for one-word commands */
	int (*run)(struct cli *c, int argc, char **argv);
	unsigned need;       /* CLI_NEED_* */
	const char *args;    /* usage after the command words */
	const char *summary; /* one line for --help */
};

/* One invocation's state. */
struct cli {
	struct conf *conf;         /* loaded configuration */
	struct store *st;          /* database handle, when the command needs one */
	const struct cli_cmd *cmd; /* the command being run (for its usage line) */
	const char *actor;         /* login recorded in audit rows */
};

/* One "--name VALUE" option a command accepts. */
struct cli_opt {
	const char *name;  /* without the leading "--" */
	const char *value; /* NULL until given */
};

/* The rows of each command group (cmd_*.c), joined by agenthostctl.c. */
extern const struct cli_cmd cli_cmds_maint[], cli_cmds_tenants[], cli_cmds_keys[],
    cli_cmds_providers[], cli_cmds_agents[], cli_cmds_limits[], cli_cmds_admins[],
    cli_cmds_webhooks[], cli_cmds_guardrails[];
extern const size_t cli_ncmds_maint, cli_ncmds_tenants, cli_ncmds_keys, cli_ncmds_providers,
    cli_ncmds_agents, cli_ncmds_limits, cli_ncmds_admins, cli_ncmds_webhooks, cli_ncmds_guardrails;

/* ------------------------------------------------------------------ output */

/* Print "agenthostctl: message" on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the usage line of cmd to f. */
void cli_cmd_usage(FILE *f, const struct cli_cmd *cmd);
/* Print message and the current command's usage line on stderr; returns CLI_USAGE. */
int cli_usage_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Print v (stolen) as JSON on stdout followed by a newline. CLI_OK, or
 * CLI_FAIL when v is NULL (a builder failed) or stdout cannot be written.
 */
int cli_emit(json_t *v);
/* Append v (stolen) to array a; -1 when either is missing or memory runs out. */
int cli_array_add(json_t *a, json_t *v);
/* json_pack with a message on failure (e.g. invalid UTF-8 in stored text); NULL then. */
json_t *cli_pack(const char *fmt, ...);
/* jansson's free for the CLI: wipes before freeing (values can hold a new secret). */
void cli_json_free(void *p);
/* Tell the operator, once, that the secret just printed is not kept anywhere. */
void cli_secret_notice(const char *what);

/* ------------------------------------------------------------------ arguments */

/*
 * Parse argv (the words after the command) into opts ("--name VALUE" or
 * "--name=VALUE") and up to maxpos positional arguments. "--" ends the
 * options. CLI_OK; CLI_HELP after printing usage for -h/--help; CLI_USAGE
 * after a message for an unknown, repeated or value-less option or too many
 * arguments.
 */
int cli_args(struct cli *c, int argc, char **argv, struct cli_opt *opts, size_t nopts,
             const char **pos, size_t maxpos, size_t *npos);
/* CLI_OK when option o was given, else a usage error naming it. */
int cli_require(struct cli *c, const struct cli_opt *o);
/* Parse option o as an integer in [min,max] into *out; CLI_OK or a usage error. */
int cli_opt_int(struct cli *c, const struct cli_opt *o, int64_t min, int64_t max, int64_t *out);
/*
 * Remove every "--name" (a flag without a value) from argv before "--";
 * returns how many there were. cli_args knows only options with values.
 */
int cli_flag(int *argc, char **argv, const char *name);
/*
 * Remove every "--name VALUE" / "--name=VALUE" (a repeatable option) from
 * argv before "--" into vals (at most max). The count, or -1 after a
 * message when one has no value or there are too many.
 */
int cli_multi(int *argc, char **argv, const char *name, const char **vals, size_t max);

/* ------------------------------------------------------------------ shared steps */

/* The tenant named by arg (numeric id or slug) into t. CLI_OK, or CLI_FAIL after a message. */
int cli_tenant(struct cli *c, const char *arg, struct tenant *t);
/* The tenant's JSON form (api/objects.h) with its erase_after read from the store. */
json_t *cli_tenant_json(struct cli *c, const struct tenant *t);
/*
 * Write an audit row for a successful mutation. detail (stolen, may be
 * NULL) is a JSON object with non-secret facts. CLI_OK, or CLI_FAIL with a
 * message: the change is made, but its record is missing and the operator
 * must know.
 */
int cli_audit(struct cli *c, int64_t tenant_id, const char *action, const char *target,
              json_t *detail);
/* Audit rc folded into the command's result: a failed audit makes the command fail. */
int cli_finish(int emit_rc, int audit_rc);
/*
 * Read one line (a credential, a password) from stdin into buf (cap bytes)
 * without stdio buffering, so no copy is left in a FILE buffer; the
 * trailing newline (and a CR before it) is stripped. On a terminal echo is
 * turned off and the prompt what goes to stderr. CLI_OK with *len set, or
 * CLI_FAIL after a message (never containing the input). The caller wipes
 * buf.
 */
int cli_read_secret(const char *what, char *buf, size_t cap, size_t *len);
/*
 * The key id of tenant_id as stored into k, read back for its dates; when
 * that read fails, what the caller knows (name, prefix, expires_at).
 */
void cli_key_read_back(struct cli *c, int64_t tenant_id, int64_t id, const char *name,
                       const char *prefix, int64_t expires_at, struct api_key *k);
/*
 * Resolve --tenant (topt) and --key (kopt, the key's id) into t and k: the
 * key must be that tenant's. CLI_OK, or a usage/failure code after a
 * message (cmd_keys.c; limits use it for the key scope).
 */
int cli_key_target(struct cli *c, const struct cli_opt *topt, const struct cli_opt *kopt,
                   struct tenant *t, struct api_key *k);
struct project;
/* The tenant's project called name into *p. CLI_OK, or a failure after a message (cmd_limits.c). */
int cli_project(struct cli *c, const struct tenant *t, const char *name, struct project *p);
/* Read a dashboard password for name from stdin and hash it (Argon2id) into hash. */
int cli_admin_password(const char *name, char hash[crypto_pwhash_STRBYTES]);

/*
 * Every "list" command: no positional argument, --tenant TENANT exactly when
 * per_tenant, and one JSON array of the objects the group's show/create
 * commands print, all rows (no paging). fill adds the rows to arr and
 * returns ST_OK, a store error, or CLI_FILL_REPORTED after its own message;
 * what names the rows in the error message.
 */
typedef int (*cli_fill_fn)(struct cli *c, const struct tenant *t, json_t *arr);
#define CLI_FILL_REPORTED (-2)
int cli_list(struct cli *c, int argc, char **argv, int per_tenant, cli_fill_fn fill,
             const char *what);

/* A list being filled with one tenant's rows, for callbacks that are not told the tenant. */
struct cli_tenant_rows {
	json_t *arr;       /* the list */
	int64_t tenant_id; /* whose rows they are */
};

/* A growable list of tenant ids (purge, verify-isolation). */
struct cli_ids {
	int64_t *id;
	size_t n, cap;
};
/* tenant_cb: append t's id to the struct cli_ids ctx; 0, or -1 when out of memory. */
int cli_ids_add(void *ctx, const struct tenant *t);

/* ------------------------------------------------------------------ progress */

/*
 * Progress of a long command on stderr (agenthostctl(8), PROGRESS): with
 * --progress one JSON object per step and line; else, when stderr is a
 * terminal, one line rewritten in place (at most every 100 ms); else
 * nothing. The result stays the one JSON value on stdout.
 */
struct cli_progress {
	struct progress pg; /* handed to the operation */
	const char *what;   /* the command, e.g. "tenant move" */
	int json, tty, drawn;
	int64_t start_us, drawn_us;
	char last_phase[24];
};
/*
 * Start p for command what; json: --progress was given. The struct progress
 * to pass down, or NULL when nothing is shown.
 */
const struct progress *cli_progress_start(struct cli_progress *p, const char *what, int json);
/* The end: the line cleared at a terminal; a last "done" or "failed" line in JSON. */
void cli_progress_end(struct cli_progress *p, int ok);

#endif
