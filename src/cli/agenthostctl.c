/*
 * agenthostctl: the operators' command-line tool (tenants, API keys,
 * provider keys, agents, limits and plans, operator tokens, the reservation
 * reaper, the master key and schema migrations).
 *
 * DESIGN
 * The tool links the server's own modules (conf, secrets, store, registry)
 * so that what it writes is exactly what the server reads: keys are hashed
 * with the same pepper, credentials sealed with the same associated data,
 * provider names checked against the same registry.
 *
 * Commands are rows of cli_cmds: the words that name them, the handler, what
 * they need set up (database, master key, provider registry) and their
 * usage line. A command prints one JSON value on stdout (an object, or an
 * array for `list`) and nothing else, so scripts can pipe it to jq; errors
 * are one line "agenthostctl: <message>" on stderr. Exit status: 0 ok,
 * 1 failure, 2 usage error.
 *
 * Limits are validated with the server's own limit_validate and shown with
 * the server's own resolution (limits_resolve, or limits_init/limits_apply
 * for the plan and global views), so what the CLI says is what the server
 * enforces; a limit cannot be set at a scope its definition does not allow.
 *
 * Secrets: a new API key or operator token is printed once and never
 * stored; a provider credential is read from stdin (argv is visible in ps),
 * sealed, and wiped. None ever reaches an error message or an audit row.
 * Every mutation writes an audit row (actor_type "cli", actor the invoking
 * login).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mysql.h>
#include <sodium.h>

#include "common/conf.h"
#include "common/epochs.h"
#include "exec/ledger.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "enforce/admit.h"
#include "enforce/limits.h"
#include "enforce/limits_rows.h"
#include "providers/registry.h"
#include "store/admin.h"
#include "store/admission.h"
#include "store/lifecycle.h"
#include "store/limits.h"
#include "store/store.h"
#include "store/tools.h"
#include "store/usage.h"
#include "tenancy/admins.h"
#include "tenancy/export.h"
#include "tools/policy.h"
#include "tools/runner.h"
#include "tenancy/keys.h"
#include "tenancy/placement.h"
#include "store/tenantdb.h"

#define CLI_NAME "agenthostctl"

/* Handler results; CLI_HELP means usage was printed on request (exit 0). */
enum cli_rc { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_HELP = 3 };

/* What a command needs before its handler runs. */
#define CLI_NEED_DB 0x1       /* a store connection */
#define CLI_NEED_SECRETS 0x2  /* the master key (secrets_init) */
#define CLI_NEED_REGISTRY 0x4 /* the provider registry */

#define CLI_MAX_KEY_TTL (10LL * 365 * 86400) /* longest --expires-in */
#define CLI_MAX_GRACE (30LL * 86400)         /* longest --grace */
#define CLI_DEFAULT_GRACE 86400

struct cli;

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

/* ================================================================== output helpers */

/* Print "agenthostctl: message" on stderr; returns CLI_FAIL. */
static int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs(CLI_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

/* Print the usage line of cmd to f. */
static void cli_cmd_usage(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: " CLI_NAME " [-c FILE] %s%s%s%s%s\n", cmd->group, cmd->verb ? " " : "",
	        cmd->verb ? cmd->verb : "", cmd->args[0] ? " " : "", cmd->args);
}

/* Report a usage error for the current command; returns CLI_USAGE. */
static int cli_usage_error(struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cli_usage_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fputs(CLI_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_cmd_usage(stderr, c->cmd);
	return CLI_USAGE;
}

/*
 * Print v (stolen) as JSON on stdout followed by a newline. CLI_OK, or
 * CLI_FAIL when v is NULL (a builder failed) or stdout cannot be written.
 */
static int cli_emit(json_t *v)
{
	int rc = CLI_OK;

	if (v == NULL)
		return cli_error("cannot build the JSON output");
	if (json_dumpf(v, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		rc = cli_error("cannot write to stdout: %s", strerror(errno));
	json_decref(v);
	return rc;
}

/* RFC 3339 text of t into buf, or NULL when t is 0 (unset). */
static const char *cli_time(int64_t t, char *buf, size_t cap)
{
	if (t == 0)
		return NULL;
	util_iso8601(t, buf, cap);
	return buf;
}

/* Append v (stolen) to array a; -1 when either is missing or memory runs out. */
static int cli_array_add(json_t *a, json_t *v)
{
	if (v == NULL)
		return -1;
	return json_array_append_new(a, v);
}

/* json_pack with a message on failure (e.g. invalid UTF-8 in stored text). */
static json_t *cli_pack(const char *fmt, ...)
{
	json_error_t jerr;
	json_t *v;
	va_list ap;

	va_start(ap, fmt);
	v = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (v == NULL)
		cli_error("cannot encode output: %s", jerr.text);
	return v;
}

/*
 * jansson's free: wipe before freeing. JSON values here can hold a new API
 * key's secret, and jansson copies strings into its own allocations.
 */
static void cli_json_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

/* ================================================================== input validation */

/* 1 when s is an agent name: [A-Za-z0-9_-]{1,64}. */
static int cli_agent_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* 1 when s is a provider instance name as the registry spells them. */
static int cli_provider_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

/*
 * 1 when s is text we can store and print: at most max bytes, valid UTF-8,
 * no control characters except (when multiline) newline and tab.
 */
static int cli_text_ok(const char *s, size_t max, int multiline)
{
	size_t n = strlen(s);
	json_t *probe;

	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (multiline && (ch == '\n' || ch == '\t' || ch == '\r'))
			continue;
		if (ch < 0x20 || ch == 0x7f)
			return 0;
	}
	/* jansson refuses invalid UTF-8; that is exactly the check we want. */
	probe = json_string(s);
	if (probe == NULL)
		return 0;
	json_decref(probe);
	return 1;
}

/* ================================================================== argument parsing */

/*
 * Parse argv (the words after the command) into opts ("--name VALUE" or
 * "--name=VALUE") and up to maxpos positional arguments. "--" ends the
 * options. CLI_OK; CLI_HELP after printing usage for -h/--help; CLI_USAGE
 * after a message for an unknown, repeated or value-less option or too many
 * arguments.
 */
static int cli_args(struct cli *c, int argc, char **argv, struct cli_opt *opts, size_t nopts,
                    const char **pos, size_t maxpos, size_t *npos)
{
	int only_pos = 0;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		size_t nlen, k;

		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
			cli_cmd_usage(stdout, c->cmd);
			return CLI_HELP;
		}
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (*npos >= maxpos)
				return cli_usage_error(c, "unexpected argument '%s'", a);
			pos[(*npos)++] = a;
			continue;
		}
		if (a[1] != '-')
			return cli_usage_error(c, "unknown option '%s'", a);
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		for (k = 0; k < nopts; k++)
			if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0)
				break;
		if (k == nopts)
			return cli_usage_error(c, "unknown option '--%.*s'", (int)nlen, name);
		if (opts[k].value != NULL)
			return cli_usage_error(c, "option '--%s' given twice", opts[k].name);
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return cli_usage_error(c, "option '--%s' needs a value",
				                       opts[k].name);
			val = argv[++i];
		}
		opts[k].value = val;
	}
	return CLI_OK;
}

/* CLI_OK when option o was given, else a usage error naming it. */
static int cli_require(struct cli *c, const struct cli_opt *o)
{
	if (o->value == NULL)
		return cli_usage_error(c, "missing --%s", o->name);
	return CLI_OK;
}

/* Parse option o as an integer in [min,max] into *out; usage error otherwise. */
static int cli_opt_int(struct cli *c, const struct cli_opt *o, int64_t min, int64_t max,
                       int64_t *out)
{
	if (util_parse_i64(o->value, min, max, out) != 0)
		return cli_usage_error(c, "--%s: '%s' is not an integer in %" PRId64 "..%" PRId64,
		                       o->name, o->value, min, max);
	return CLI_OK;
}

/* ================================================================== shared steps */

/*
 * Find the tenant named by arg (numeric id or slug) into t. CLI_OK, or
 * CLI_FAIL after a message.
 */
static int cli_tenant(struct cli *c, const char *arg, struct tenant *t)
{
	int64_t id;
	int rc;

	if (util_parse_i64(arg, 1, INT64_MAX, &id) == 0)
		rc = store_tenant_get(c->st, id, t);
	else if (util_slug_ok(arg))
		rc = store_tenant_get_by_slug(c->st, arg, t);
	else
		return cli_error("'%s' is neither a tenant id nor a tenant slug", arg);
	if (rc == ST_NOTFOUND)
		return cli_error("tenant '%s' not found", arg);
	if (rc != ST_OK)
		return cli_error("database error while reading tenant '%s'", arg);
	return CLI_OK;
}

/*
 * Write an audit row for a successful mutation. detail (stolen, may be
 * NULL) is a JSON object with non-secret facts. CLI_OK, or CLI_FAIL with a
 * message: the change is made, but its record is missing and the operator
 * must know.
 */
static int cli_audit(struct cli *c, int64_t tenant_id, const char *action, const char *target,
                     json_t *detail)
{
	struct audit_entry a;
	char *text = NULL;
	int rc;

	if (detail != NULL) {
		text = json_dumps(detail, JSON_COMPACT);
		json_decref(detail);
		if (text == NULL)
			return cli_error("%s done, but the audit detail could not be encoded",
			                 action);
	}
	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	a.actor_type = "cli";
	a.actor_id = c->actor;
	a.action = action;
	a.target = target;
	a.outcome = "ok";
	a.detail = text;
	rc = store_audit(c->st, &a);
	free(text);
	if (rc != ST_OK)
		return cli_error("%s done, but the audit row could not be written", action);
	return CLI_OK;
}

/* Audit rc folded into the command's result: a failed audit makes the command fail. */
static int cli_finish(int emit_rc, int audit_rc)
{
	return emit_rc != CLI_OK ? emit_rc : audit_rc;
}

/* ================================================================== master-key, migrate */

static int cmd_master_key_init(struct cli *c, int argc, char **argv)
{
	const char *pos[1], *path;
	char err[512];
	size_t npos;
	int rc, created = 0;

	rc = cli_args(c, argc, argv, NULL, 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	path = npos ? pos[0] : c->conf->master_key_file;
	if (access(path, F_OK) != 0) {
		if (errno != ENOENT)
			return cli_error("master key file %s: %s", path, strerror(errno));
		if (secrets_create_master_key(path, err, sizeof(err)) != 0)
			return cli_error("%s", err);
		created = 1;
	}
	/* Prove the file (new or old) is one the server will accept. */
	if (secrets_init(path, err, sizeof(err)) != 0)
		return cli_error("%s", err);
	return cli_emit(cli_pack("{s:s, s:b}", "path", path, "created", created));
}

static int cmd_migrate(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"sql-dir", NULL}};
	const char *dir;
	char err[512] = "";
	size_t npos;
	int rc, saved, mrc, ntenant = 0;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	dir = opts[0].value ? opts[0].value : c->conf->sql_dir;
	/*
	 * store_migrate reports each file it applies on stdout; send those
	 * lines to stderr so stdout stays one JSON document.
	 */
	if (fflush(stdout) != 0)
		return cli_error("cannot write to stdout: %s", strerror(errno));
	saved = dup(STDOUT_FILENO);
	if (saved < 0)
		return cli_error("dup: %s", strerror(errno));
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		close(saved);
		return cli_error("dup2: %s", strerror(errno));
	}
	mrc = store_migrate(c->st, dir, err, sizeof(err));
	fflush(stdout);
	if (dup2(saved, STDOUT_FILENO) < 0) {
		close(saved);
		return cli_error("cannot restore stdout: %s", strerror(errno));
	}
	close(saved);
	if (mrc != ST_OK)
		return cli_error("migration failed: %s", err[0] ? err : "database error");
	/* every dedicated tenant's database gets sql/tenant/ too */
	{
		struct tdb_opts o = {c->conf, NULL, 0};
		struct conf dconf = *c->conf;

		util_strlcpy(dconf.sql_dir, dir, sizeof(dconf.sql_dir));
		o.conf = &dconf;
		if (store_tdb_migrate_all(c->st, &o, &ntenant, err, sizeof(err)) != ST_OK)
			return cli_error("migration of tenant databases failed after %d: %s",
			                 ntenant, err[0] ? err : "database error");
	}
	rc = cli_audit(c, 0, "schema.migrate", "schema", cli_pack("{s:s}", "sql_dir", dir));
	return cli_finish(cli_emit(cli_pack("{s:s, s:s, s:i}", "status", "ok", "sql_dir", dir,
	                                    "tenant_databases", ntenant)),
	                  rc);
}

/* ================================================================== tenants */

/* The public JSON form of a tenant. */
static json_t *cli_tenant_json(const struct tenant *t)
{
	char created[32];
	int susp = t->status == TENANT_SUSPENDED;

	return cli_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:b}", "id",
	                (json_int_t)t->id, "slug", t->slug, "name", t->name, "plan", t->plan,
	                "status", susp ? "suspended" : "active", "suspended_reason",
	                susp && t->suspended_reason[0] ? t->suspended_reason : NULL, "isolation",
	                t->isolation, "created_at",
	                cli_time(t->created_at, created, sizeof(created)), "data_db",
	                t->data_db[0] ? t->data_db : NULL, "migrating", t->migrating != 0);
}

static json_t *cli_new_key_json(const struct api_key *k, const char *secret);
static void cli_key_notice(void);
static int cli_admin_password(const char *name, char hash[crypto_pwhash_STRBYTES]);

static int cmd_tenant_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"name", NULL},   {"plan", NULL},      {"key", NULL},
	                         {"admin", NULL},  {"isolation", NULL}, {"db-host", NULL},
	                         {"db-port", NULL}};
	char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1], err[512];
	int64_t db_port = 0;
	int dedicated = 0;
	char pw_hash[crypto_pwhash_STRBYTES];
	uint8_t hash[SECRETS_HASH_LEN];
	struct life_onboard o;
	const char *pos[1], *what = "tenant";
	struct api_key k;
	struct tenant t;
	char target[32];
	int64_t id = 0, key_id = 0;
	json_t *out;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing SLUG");
	memset(&o, 0, sizeof(o));
	o.slug = pos[0];
	o.name = opts[0].value ? opts[0].value : o.slug;
	o.plan = opts[1].value ? opts[1].value : "free";
	o.key_name = opts[2].value;
	o.admin_name = opts[3].value;
	if (!util_slug_ok(o.slug))
		return cli_usage_error(c,
		                       "slug '%s': use 1-63 characters a-z, 0-9 and '-', not"
		                       " starting with '-' and not all digits (it would read as a"
		                       " tenant id)",
		                       o.slug);
	if (!cli_text_ok(o.name, 200, 0) || o.name[0] == '\0')
		return cli_usage_error(c, "--name: 1-200 bytes of UTF-8 text without control"
		                          " characters");
	if (!cli_text_ok(o.plan, 31, 0) || o.plan[0] == '\0')
		return cli_usage_error(c, "--plan: '%s' is not a plan name", o.plan);
	if (o.key_name && !cli_text_ok(o.key_name, 100, 0))
		return cli_usage_error(c, "--key: a key name of at most 100 bytes of text");
	if (o.admin_name && !admin_name_ok(o.admin_name))
		return cli_usage_error(c, "--admin: 1 to 64 of A-Z a-z 0-9 . _ - @");
	if (opts[4].value && strcmp(opts[4].value, "shared") != 0 &&
	    strcmp(opts[4].value, "dedicated") != 0)
		return cli_usage_error(c, "--isolation: shared or dedicated");
	if (opts[5].value && (!cli_text_ok(opts[5].value, 255, 0) || opts[5].value[0] == '\0'))
		return cli_usage_error(c, "--db-host: a host name or address");
	if (opts[6].value && util_parse_i64(opts[6].value, 1, 65535, &db_port) < 0)
		return cli_usage_error(c, "--db-port: 1-65535");
	if ((opts[5].value || opts[6].value) &&
	    (opts[4].value == NULL || strcmp(opts[4].value, "dedicated") != 0))
		return cli_usage_error(c, "--db-host and --db-port need --isolation dedicated");
	/* a dedicated database's account password is sealed with the master key */
	if (!secrets_ready() && secrets_init(c->conf->master_key_file, err, sizeof(err)) != 0 &&
	    (o.key_name || (opts[4].value && strcmp(opts[4].value, "dedicated") == 0)))
		return cli_error("%s", err);
	if (o.key_name) {
		if (!secrets_ready() &&
		    secrets_init(c->conf->master_key_file, err, sizeof(err)) != 0)
			return cli_error("%s", err);
		if (secrets_new_api_key(key, prefix, hash) != 0)
			return cli_error("cannot generate a key (master key not loaded)");
		o.key_prefix = prefix;
		o.key_hash = hash;
	}
	if (o.admin_name) {
		if (cli_admin_password(o.admin_name, pw_hash) != CLI_OK) {
			rc = CLI_FAIL;
			goto out;
		}
		o.admin_pw_hash = pw_hash;
	}
	/* tenant, key and admin in one transaction: all of them or none */
	rc = store_life_onboard(c->st, &o, &id, &key_id, &what);
	if (rc == ST_CONFLICT)
		rc = strcmp(what, "admin") == 0
		         ? cli_error("dashboard user '%s' already exists", o.admin_name)
		         : cli_error("tenant '%s' already exists", o.slug);
	else if (rc == ST_NOTFOUND)
		rc = cli_error("plan '%s' does not exist", o.plan);
	else if (rc != ST_OK)
		rc = cli_error("database error while creating tenant '%s'", o.slug);
	else if (placement_new_tenant(c->st, c->conf, id, opts[4].value, opts[5].value,
	                              (int)db_port, &dedicated, err, sizeof(err)) < 0)
		rc = cli_error("tenant '%s' not created: %s", o.slug, err);
	else if (store_tenant_get(c->st, id, &t) != ST_OK)
		rc = cli_error("tenant '%s' created (id %" PRId64 ") but could not be read back",
		               o.slug, id);
	else
		rc = CLI_OK;
	if (rc != CLI_OK)
		goto out;
	snprintf(target, sizeof(target), "tenant:%" PRId64, id);
	rc = cli_audit(c, id, "tenant.create", target,
	               cli_pack("{s:s, s:s, s:s?, s:s?, s:s}", "slug", o.slug, "plan", o.plan,
	                        "key", o.key_name ? prefix : NULL, "admin", o.admin_name,
	                        "isolation", dedicated ? "dedicated" : "shared"));
	out = cli_tenant_json(&t);
	if (out && o.key_name) {
		memset(&k, 0, sizeof(k));
		k.id = key_id;
		k.tenant_id = id;
		util_strlcpy(k.name, o.key_name, sizeof(k.name));
		util_strlcpy(k.prefix, prefix, sizeof(k.prefix));
		json_object_set_new(out, "api_key", cli_new_key_json(&k, key));
	}
	if (out && o.admin_name)
		json_object_set_new(out, "admin", json_string(o.admin_name));
	rc = cli_finish(cli_emit(out), rc);
	if (o.key_name)
		cli_key_notice();
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(pw_hash, sizeof(pw_hash));
	return rc;
}

/* tenant_cb: append one tenant to the JSON array ctx. */
static int cli_tenant_collect(void *ctx, const struct tenant *t)
{
	return cli_array_add(ctx, cli_tenant_json(t));
}

/*
 * The body of the "... list" commands: parse the arguments (--tenant TENANT
 * when per_tenant), let fill add the rows to a JSON array (ST_OK or a store
 * error), print the array. what names the rows in the error message.
 */
typedef int (*cli_fill_fn)(struct cli *c, const struct tenant *t, json_t *arr);
#define CLI_FILL_REPORTED (-2) /* fill printed its own error */

static int cli_list(struct cli *c, int argc, char **argv, int per_tenant, cli_fill_fn fill,
                    const char *what)
{
	struct cli_opt opts[] = {{"tenant", NULL}};
	struct tenant t;
	json_t *arr;
	size_t npos;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = cli_args(c, argc, argv, opts, per_tenant ? ARRAY_SIZE(opts) : 0, NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if (per_tenant) {
		if ((rc = cli_require(c, &opts[0])) != CLI_OK)
			return rc;
		if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
			return CLI_FAIL;
	}
	arr = json_array();
	if (arr == NULL)
		return cli_error("out of memory");
	rc = fill(c, per_tenant ? &t : NULL, arr);
	if (rc != ST_OK) {
		json_decref(arr);
		if (rc == CLI_FILL_REPORTED)
			return CLI_FAIL;
		return per_tenant ? cli_error("database error while listing %s of tenant '%s'",
		                              what, t.slug)
		                  : cli_error("database error while listing %s", what);
	}
	return cli_emit(arr);
}

static int fill_tenant_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	(void)t;
	return store_tenant_list(c->st, cli_tenant_collect, arr);
}

static int cmd_tenant_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 0, fill_tenant_list, "tenants");
}

static int cmd_tenant_show(struct cli *c, int argc, char **argv)
{
	const char *pos[1];
	struct tenant t;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, NULL, 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing TENANT");
	if (cli_tenant(c, pos[0], &t) != CLI_OK)
		return CLI_FAIL;
	return cli_emit(cli_tenant_json(&t));
}

/* Shared body of suspend and resume. */
static int cli_tenant_status(struct cli *c, int argc, char **argv, int suspend)
{
	struct cli_opt opts[] = {{"reason", NULL}};
	const char *pos[1], *reason = NULL;
	struct tenant t;
	char target[32];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, suspend ? ARRAY_SIZE(opts) : 0, pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing TENANT");
	if (suspend) {
		reason = opts[0].value ? opts[0].value : "";
		if (!cli_text_ok(reason, 255, 0))
			return cli_usage_error(c, "--reason: at most 255 bytes of UTF-8 text"
			                          " without control characters");
	}
	if (cli_tenant(c, pos[0], &t) != CLI_OK)
		return CLI_FAIL;
	rc = store_tenant_set_status(c->st, t.id, suspend ? TENANT_SUSPENDED : TENANT_ACTIVE,
	                             reason);
	if (rc != ST_OK)
		return cli_error("database error while updating tenant '%s'", t.slug);
	if (store_tenant_get(c->st, t.id, &t) != ST_OK)
		return cli_error("tenant '%s' updated but could not be read back", t.slug);
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	rc = cli_audit(c, t.id, suspend ? "tenant.suspend" : "tenant.resume", target,
	               suspend ? cli_pack("{s:s}", "reason", reason) : NULL);
	return cli_finish(cli_emit(cli_tenant_json(&t)), rc);
}

static int cmd_tenant_suspend(struct cli *c, int argc, char **argv)
{
	return cli_tenant_status(c, argc, argv, 1);
}

static int cmd_tenant_resume(struct cli *c, int argc, char **argv)
{
	return cli_tenant_status(c, argc, argv, 0);
}

/* ================================================================== API keys */

static const char *const cli_key_states[] = {
    [KEY_ACTIVE] = "active",
    [KEY_REVOKED] = "revoked",
    [KEY_EXPIRED] = "expired",
    [KEY_ROTATED] = "rotated",
};

/* Name of a key state; "unknown" for a value this build does not know. */
static const char *cli_key_state(int s)
{
	if (s < 0 || (size_t)s >= ARRAY_SIZE(cli_key_states) || cli_key_states[s] == NULL)
		return "unknown";
	return cli_key_states[s];
}

/* The listing form of a key: never the secret or its hash. */
static json_t *cli_key_json(const struct api_key *k)
{
	char created[32], expires[32], grace[32], used[32];

	return cli_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:o}", "id",
	                (json_int_t)k->id, "name", k->name, "prefix", k->prefix, "state",
	                cli_key_state(k->state), "created_at",
	                cli_time(k->created_at, created, sizeof(created)), "expires_at",
	                cli_time(k->expires_at, expires, sizeof(expires)), "grace_until",
	                cli_time(k->grace_until, grace, sizeof(grace)), "last_used_at",
	                cli_time(k->last_used_at, used, sizeof(used)), "rotated_to",
	                k->rotated_to ? json_integer(k->rotated_to) : json_null());
}

/*
 * The one-time form of a new key, with its secret. The caller wipes its own
 * copy; jansson's copy is wiped when freed (cli_json_free).
 */
static json_t *cli_new_key_json(const struct api_key *k, const char *secret)
{
	char expires[32];

	return cli_pack("{s:I, s:I, s:s, s:s, s:s, s:s?}", "id", (json_int_t)k->id, "tenant_id",
	                (json_int_t)k->tenant_id, "name", k->name, "prefix", k->prefix, "key",
	                secret, "expires_at", cli_time(k->expires_at, expires, sizeof(expires)));
}

/* Tell the operator, once, that the secret is not kept anywhere. */
static void cli_key_notice(void)
{
	fputs(CLI_NAME ": store this key now; it cannot be shown again\n", stderr);
}

static int cmd_key_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"name", NULL}, {"expires-in", NULL}};
	char key[SECRETS_API_KEY_LEN + 1], prefix[SECRETS_DISPLAY_PREFIX_LEN + 1];
	char exp_text[32];
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
	if (!cli_text_ok(name, 100, 0))
		return cli_usage_error(c, "--name: at most 100 bytes of UTF-8 text without"
		                          " control characters");
	if (opts[2].value != NULL) {
		if ((rc = cli_opt_int(c, &opts[2], 60, CLI_MAX_KEY_TTL, &ttl)) != CLI_OK)
			return rc;
		expires_at = util_unix_time() + ttl;
	}
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	rc = keys_issue(c->st, t.id, name, expires_at, key, prefix, &id);
	if (rc == KEYS_NOSECRETS)
		return cli_error("cannot generate a key (master key not loaded)");
	if (rc != KEYS_OK)
		return cli_error("database error while creating a key for tenant '%s'", t.slug);
	/* Read back for the stored name and expiry; fall back to what we sent. */
	if (store_key_get(c->st, t.id, id, &k) != ST_OK) {
		memset(&k, 0, sizeof(k));
		k.id = id;
		k.tenant_id = t.id;
		util_strlcpy(k.name, name, sizeof(k.name));
		util_strlcpy(k.prefix, prefix, sizeof(k.prefix));
		k.expires_at = expires_at;
	}
	snprintf(target, sizeof(target), "key:%" PRId64, id);
	rc = cli_audit(c, t.id, "key.create", target,
	               cli_pack("{s:s, s:s?}", "prefix", prefix, "expires_at",
	                        cli_time(expires_at, exp_text, sizeof(exp_text))));
	rc = cli_finish(cli_emit(cli_new_key_json(&k, key)), rc);
	sodium_memzero(key, sizeof(key));
	cli_key_notice();
	return rc;
}

/* api_key_cb: append one key to the JSON array ctx. */
static int cli_key_collect(void *ctx, const struct api_key *k)
{
	return cli_array_add(ctx, cli_key_json(k));
}

static int fill_key_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	return store_key_list(c->st, t->id, cli_key_collect, arr);
}

static int cmd_key_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_key_list, "keys");
}

/*
 * Parse --tenant and --key of a key command, resolve the tenant into t and
 * load the key into k. CLI_OK, or a usage/failure code after a message.
 */
static int cli_key_target(struct cli *c, const struct cli_opt *topt, const struct cli_opt *kopt,
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
	char target[32], until[32];
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
		                 cli_key_state(old.state));
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
	if (store_key_get(c->st, t.id, new_id, &nk) != ST_OK) {
		memset(&nk, 0, sizeof(nk));
		nk.id = new_id;
		nk.tenant_id = t.id;
		util_strlcpy(nk.name, old.name, sizeof(nk.name));
		util_strlcpy(nk.prefix, prefix, sizeof(nk.prefix));
	}
	/* The database clock set the grace period; report its value when we can read it. */
	valid_until = util_unix_time() + grace;
	if (store_key_get(c->st, t.id, old.id, &old) == ST_OK && old.grace_until != 0)
		valid_until = old.grace_until;
	snprintf(target, sizeof(target), "key:%" PRId64, old.id);
	rc = cli_audit(c, t.id, "key.rotate", target,
	               cli_pack("{s:I, s:s, s:I}", "new_key_id", (json_int_t)new_id, "prefix",
	                        prefix, "grace_seconds", (json_int_t)grace));
	out = cli_new_key_json(&nk, key);
	sodium_memzero(key, sizeof(key));
	if (out != NULL &&
	    (json_object_set_new(out, "replaces", json_integer(old.id)) != 0 ||
	     json_object_set_new(out, "old_key_valid_until",
	                         json_string(cli_time(valid_until, until, sizeof(until)))) != 0)) {
		json_decref(out);
		out = NULL;
	}
	rc = cli_finish(cli_emit(out), rc);
	cli_key_notice();
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
	return cli_finish(
	    cli_emit(cli_pack("{s:I, s:s}", "id", (json_int_t)k.id, "state", "revoked")), rc);
}

/* ================================================================== provider keys */

/*
 * Read one line (the credential) from stdin into buf (cap bytes) without
 * stdio buffering, so no copy is left in a FILE buffer; the trailing
 * newline (and a CR before it) is stripped. On a terminal echo is turned off
 * and a prompt goes to stderr. CLI_OK with *len set, or CLI_FAIL after a
 * message (never containing the input). The caller wipes buf.
 */
static int cli_read_secret(const char *what, char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), echo_off = 0, rc = CLI_FAIL;
	size_t n = 0;
	char ch;

	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
			echo_off = 1;
	}
	if (tty)
		fprintf(stderr, "%s: ", what);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_error("cannot read the credential from stdin: %s", strerror(errno));
			goto out;
		}
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= cap) {
			cli_error("credential is longer than %d bytes", SECRETS_MAX_PLAIN);
			goto out;
		}
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0) {
		cli_error("empty credential on stdin");
		goto out;
	}
	if (n > SECRETS_MAX_PLAIN) {
		cli_error("credential is longer than %d bytes", SECRETS_MAX_PLAIN);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char u = (unsigned char)buf[i];

		if (u < 0x20 || u == 0x7f) {
			cli_error("credential contains control characters");
			goto out;
		}
	}
	*len = n;
	rc = CLI_OK;
out:
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (tty)
		fputc('\n', stderr);
	sodium_memzero(&ch, sizeof(ch));
	return rc;
}

static int cmd_provider_key_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"provider", NULL}};
	/* Room for the longest credential, a CR, and the NUL. */
	char plain[SECRETS_MAX_PLAIN + 3];
	struct sealed_cred cred;
	const char *provider;
	struct tenant t;
	char target[64];
	size_t npos, len = 0;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK || (rc = cli_require(c, &opts[1])) != CLI_OK)
		return rc;
	provider = opts[1].value;
	if (!cli_provider_name_ok(provider) || registry_find(provider) == NULL)
		return cli_error("unknown provider '%s' (not a configured provider instance)",
		                 provider);
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;

	snprintf(target, sizeof(target), "credential for provider %s", provider);
	if (cli_read_secret(target, plain, sizeof(plain), &len) != CLI_OK) {
		sodium_memzero(plain, sizeof(plain));
		return CLI_FAIL;
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
	               cli_pack("{s:s, s:i}", "provider", provider, "version", cred.version));
	return cli_finish(
	    cli_emit(cli_pack("{s:I, s:s, s:s, s:i}", "tenant_id", (json_int_t)t.id, "provider",
	                      provider, "last4", cred.last4, "version", cred.version)),
	    rc);
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
	if (!cli_provider_name_ok(provider))
		return cli_usage_error(c, "--provider: '%s' is not a provider name", provider);
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

/* cred_cb: append one credential's public facts (never the ciphertext) to ctx. */
static int cli_cred_collect(void *ctx, const char *provider, const struct sealed_cred *cr)
{
	char updated[32];

	return cli_array_add(ctx, cli_pack("{s:s, s:s, s:i, s:s?}", "provider", provider, "last4",
	                                   cr->last4, "version", cr->version, "updated_at",
	                                   cli_time(cr->updated_at, updated, sizeof(updated))));
}

static int fill_provider_key_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	return store_cred_list(c->st, t->id, cli_cred_collect, arr);
}

static int cmd_provider_key_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_provider_key_list, "credentials");
}

/*
 * Remove every "--name VALUE" / "--name=VALUE" (a repeatable option) from
 * argv before "--" into vals (at most max). The count, or -1 after a
 * message when one has no value or there are too many.
 */
static int cli_multi(int *argc, char **argv, const char *name, const char **vals, size_t max)
{
	size_t nlen = strlen(name);
	int n = 0, o = 0, only_pos = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!only_pos && strcmp(a, "--") == 0)
			only_pos = 1;
		if (!only_pos && a[0] == '-' && a[1] == '-' && strncmp(a + 2, name, nlen) == 0 &&
		    (a[2 + nlen] == '\0' || a[2 + nlen] == '=')) {
			const char *v = a[2 + nlen] == '=' ? a + 3 + nlen : NULL;

			if (v == NULL) {
				if (i + 1 >= *argc) {
					cli_error("option '--%s' needs a value", name);
					return -1;
				}
				v = argv[++i];
			}
			if ((size_t)n >= max) {
				cli_error("at most %zu --%s options", max, name);
				return -1;
			}
			vals[n++] = v;
			continue;
		}
		argv[o++] = argv[i];
	}
	*argc = o;
	return n;
}

/* ================================================================== agents */

/* The public JSON form of an agent; provider is NULL when the model is gone. */
static json_t *cli_agent_json(const struct agent *a, const char *provider)
{
	char created[32];

	return cli_pack("{s:I, s:s, s:s, s:s?, s:s, s:o, s:o, s:s?}", "id", (json_int_t)a->id,
	                "name", a->name, "model", a->model, "provider", provider, "instructions",
	                a->instructions, "temperature",
	                a->has_temperature ? json_real(a->temperature) : json_null(), "max_tokens",
	                a->max_tokens > 0 ? json_integer(a->max_tokens) : json_null(), "created_at",
	                cli_time(a->created_at, created, sizeof(created)));
}

static int cmd_agent_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"tenant", NULL},      {"name", NULL},       {"model", NULL},    {"instructions", NULL},
	    {"temperature", NULL}, {"max-tokens", NULL}, {"max-steps", NULL}};
	static struct agent a; /* 8 KiB of instructions: keep it off the stack */
	static struct agent_tools at;
	static struct tool_def td;
	const char *tool_names[AGENT_MAX_TOOLS];
	struct model m;
	struct tenant t;
	char target[96];
	int64_t id = 0, maxtok, steps;
	size_t npos;
	int rc, ntools;

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
	if (!cli_agent_name_ok(opts[1].value))
		return cli_usage_error(c, "--name: '%s' must be 1-64 of A-Z a-z 0-9 _ -",
		                       opts[1].value);
	util_strlcpy(a.name, opts[1].value, sizeof(a.name));
	if (!cli_text_ok(opts[2].value, sizeof(a.model) - 1, 0) || opts[2].value[0] == '\0')
		return cli_usage_error(c, "--model: '%s' is not a model name", opts[2].value);
	util_strlcpy(a.model, opts[2].value, sizeof(a.model));
	if (opts[3].value != NULL) {
		if (!cli_text_ok(opts[3].value, sizeof(a.instructions) - 1, 1))
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
		if (!tool_policy_name_ok(tool_names[i]))
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
	rc = store_model_get(c->st, a.model, &m);
	if (rc == ST_NOTFOUND)
		return cli_error("model '%s' does not exist", a.model);
	if (rc != ST_OK)
		return cli_error("database error while reading model '%s'", a.model);
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
	{
		json_t *o = cli_agent_json(&a, m.provider), *names = json_array();

		for (size_t i = 0; i < at.n; i++)
			json_array_append_new(names, json_string(at.names[i]));
		if (o != NULL) {
			json_object_set_new(o, "tools", names);
			json_object_set_new(
			    o, "max_steps",
			    json_integer(at.max_steps > 0 ? at.max_steps : AGENT_DEFAULT_STEPS));
		} else {
			json_decref(names);
		}
		return cli_finish(cli_emit(o), rc);
	}
}

/* agent_cb: append one agent to ctx; the provider is filled in after the listing. */
static int cli_agent_collect(void *ctx, const struct agent *a)
{
	return cli_array_add(ctx, cli_agent_json(a, NULL));
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

/* ================================================================== limits and plans */

/*
 * Remove every "--name" (a flag without a value) from argv before "--";
 * returns how many there were. cli_args knows only options with values.
 */
static int cli_flag(int *argc, char **argv, const char *name)
{
	int n = 0, o = 0, only_pos = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!only_pos && strcmp(a, "--") == 0)
			only_pos = 1;
		if (!only_pos && a[0] == '-' && a[1] == '-' && strcmp(a + 2, name) == 0) {
			n++;
			continue;
		}
		argv[o++] = argv[i];
	}
	*argc = o;
	return n;
}

/* 1 when s is a plan name: 1-32 of [a-z0-9_-], starting with a letter or digit. */
static int cli_plan_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || s[0] == '-' || s[0] == '_')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return 0;
	return 1;
}

/* The scope a limits command works on, resolved. */
struct cli_scope {
	enum limit_scope scope; /* LS_GLOBAL, LS_PLAN, LS_TENANT or LS_KEY */
	int64_t scope_id;       /* 0, plan id, tenant id or key id */
	struct plan p;          /* LS_PLAN */
	struct tenant t;        /* LS_TENANT, LS_KEY */
	int64_t key_id;         /* LS_KEY */
	char label[160];        /* for messages: "plan 'free'", "key 12 of tenant 'acme'" */
};

/*
 * Resolve "--global | --plan P | --tenant T [--key ID]" into s. CLI_OK, or a
 * usage/failure code after a message.
 */
static int cli_scope_get(struct cli *c, int global, const struct cli_opt *plan,
                         const struct cli_opt *tenant, const struct cli_opt *key,
                         struct cli_scope *s)
{
	int given = (global > 0) + (plan->value != NULL) + (tenant->value != NULL);
	int rc;

	memset(s, 0, sizeof(*s));
	if (global > 1)
		return cli_usage_error(c, "option '--global' given twice");
	if (given != 1)
		return cli_usage_error(
		    c, "give exactly one of --global, --plan PLAN, --tenant TENANT");
	if (key->value != NULL && tenant->value == NULL)
		return cli_usage_error(c, "--key needs --tenant (a key belongs to a tenant)");
	if (global) {
		s->scope = LS_GLOBAL;
		snprintf(s->label, sizeof(s->label), "the global scope");
		return CLI_OK;
	}
	if (plan->value != NULL) {
		if (!cli_plan_name_ok(plan->value))
			return cli_usage_error(c, "--plan: '%s' is not a plan name", plan->value);
		rc = store_plan_get(c->st, plan->value, &s->p);
		if (rc == ST_NOTFOUND)
			return cli_error("plan '%s' does not exist", plan->value);
		if (rc != ST_OK)
			return cli_error("database error while reading plan '%s'", plan->value);
		s->scope = LS_PLAN;
		s->scope_id = s->p.id;
		snprintf(s->label, sizeof(s->label), "plan '%s'", s->p.name);
		return CLI_OK;
	}
	if (key->value != NULL) {
		struct api_key k;

		if ((rc = cli_key_target(c, tenant, key, &s->t, &k)) != CLI_OK)
			return rc;
		s->scope = LS_KEY;
		s->scope_id = k.id;
		s->key_id = k.id;
		snprintf(s->label, sizeof(s->label), "key %" PRId64 " of tenant '%s'", k.id,
		         s->t.slug);
		return CLI_OK;
	}
	if (cli_tenant(c, tenant->value, &s->t) != CLI_OK)
		return CLI_FAIL;
	s->scope = LS_TENANT;
	s->scope_id = s->t.id;
	snprintf(s->label, sizeof(s->label), "tenant '%s'", s->t.slug);
	return CLI_OK;
}

/* The names of the scopes a limit may be set at, as "global, plan, tenant". */
static void cli_scope_list(unsigned scopes, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (int s = LS_GLOBAL; s < LS__MAX; s++)
		if (scopes & LSB(s)) {
			int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
			                 limit_scope_name((enum limit_scope)s));

			if (w < 0 || (size_t)w >= cap - used)
				return;
			used += (size_t)w;
		}
}

/* Print every limit name on stderr (after an unknown one). */
static void cli_limit_names(void)
{
	const struct limit_def *d = limit_defs();

	fputs(CLI_NAME ": limits:", stderr);
	for (int i = 0; i < LIM__MAX; i++)
		fprintf(stderr, "%s %s", i ? "," : "", d[i].name);
	fputc('\n', stderr);
}

/* limit_row_cb: apply a stored row to the struct limits in ctx (plan and global views). */
static int cli_limit_apply(void *ctx, const struct limit_row *r)
{
	int s = limit_scope_by_name(r->scope);

	if (s > LS_DEFAULT)
		limits_apply(ctx, (enum limit_scope)s, r->name, r->value);
	return 0;
}

/* What cli_limit_annotate needs: the limits map and the scope being shown. */
struct cli_annotate {
	json_t *map;
	const char *scope;
	int failed;
};

/* limit_row_cb: add who set it and when to the entry of a limit set at the shown scope. */
static int cli_limit_annotate(void *ctx, const struct limit_row *r)
{
	struct cli_annotate *a = ctx;
	json_t *e = json_object_get(a->map, r->name);
	const char *src = json_string_value(json_object_get(e, "source"));
	char at[32];

	if (e == NULL || src == NULL || strcmp(src, a->scope) != 0)
		return 0;
	if (json_object_set_new(e, "updated_by", json_string(r->updated_by)) != 0 ||
	    json_object_set_new(e, "updated_at",
	                        json_string(cli_time(r->updated_at, at, sizeof(at)))) != 0)
		a->failed = 1;
	return 0;
}

/* The effective limits of s: its own rows over what it inherits. 0, or -1 on a store error. */
static int cli_scope_limits(struct cli *c, const struct cli_scope *s, struct limits *l)
{
	switch (s->scope) {
	case LS_GLOBAL:
		limits_init(l, 0, 0);
		return store_limits_list(c->st, "global", 0, cli_limit_apply, l) == ST_OK ? 0 : -1;
	case LS_PLAN:
		limits_init(l, 0, 0);
		if (store_limits_list(c->st, "global", 0, cli_limit_apply, l) != ST_OK)
			return -1;
		return store_limits_list(c->st, "plan", s->p.id, cli_limit_apply, l) == ST_OK ? 0
		                                                                              : -1;
	case LS_TENANT:
		return limits_resolve(c->st, s->t.id, 0, l);
	case LS_KEY:
		return limits_resolve(c->st, s->t.id, s->key_id, l);
	default:
		return -1;
	}
}

static int cmd_limits_show(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"plan", NULL}, {"tenant", NULL}, {"key", NULL}};
	static struct limits l; /* ~23 KiB: keep it off the stack */
	const struct limit_def *defs = limit_defs();
	struct cli_annotate ann;
	struct cli_scope s;
	json_t *out, *map;
	size_t npos;
	int global, rc;

	global = cli_flag(&argc, argv, "global");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_scope_get(c, global, &opts[0], &opts[1], &opts[2], &s)) != CLI_OK)
		return rc;
	if (cli_scope_limits(c, &s, &l) < 0)
		return cli_error("database error while reading the limits of %s", s.label);
	map = json_object();
	if (map == NULL)
		return cli_error("out of memory");
	for (int i = 0; i < LIM__MAX; i++)
		if (json_object_set_new(map, defs[i].name,
		                        cli_pack("{s:s, s:s}", "value", l.v[i].text, "source",
		                                 limit_scope_name(l.v[i].source))) != 0) {
			json_decref(map);
			return cli_error("cannot build the JSON output");
		}
	ann.map = map;
	ann.scope = limit_scope_name(s.scope);
	ann.failed = 0;
	if (store_limits_list(c->st, ann.scope, s.scope_id, cli_limit_annotate, &ann) != ST_OK) {
		json_decref(map);
		return cli_error("database error while reading the limits of %s", s.label);
	}
	if (ann.failed) {
		json_decref(map);
		return cli_error("cannot build the JSON output");
	}
	out =
	    cli_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "scope", ann.scope, "plan",
	             s.scope == LS_PLAN     ? json_string(s.p.name)
	             : s.scope >= LS_TENANT ? json_string(s.t.plan)
	                                    : json_null(),
	             "tenant_id", s.scope >= LS_TENANT ? json_integer(s.t.id) : json_null(),
	             "tenant", s.scope >= LS_TENANT ? json_string(s.t.slug) : json_null(), "key_id",
	             s.scope == LS_KEY ? json_integer(s.key_id) : json_null(), "limits", map);
	return cli_emit(out);
}

/* Audit target text of a limit at a scope: "limit:tenant:3:rpm". */
static void cli_limit_target(const struct cli_scope *s, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "limit:%s:%" PRId64 ":%s", limit_scope_name(s->scope), s->scope_id,
	         name);
}

static int cmd_limits_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"plan", NULL}, {"tenant", NULL}, {"key", NULL}};
	const struct limit_def *defs = limit_defs();
	char value[STORE_LIMIT_VALUE_MAX + 1], err[256], where[64], target[128];
	const char *pos[2], *scope;
	struct cli_scope s;
	size_t npos;
	int global, id, rc;

	global = cli_flag(&argc, argv, "global");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 2, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 2)
		return cli_usage_error(c, "missing NAME and VALUE");
	id = limit_by_name(pos[0]);
	if (id < 0) {
		rc = cli_usage_error(c, "unknown limit '%s'", pos[0]);
		cli_limit_names();
		return rc;
	}
	if (limit_validate(id, pos[1], value, sizeof(value), err, sizeof(err)) != 0)
		return cli_usage_error(c, "%s", err);
	if ((rc = cli_scope_get(c, global, &opts[0], &opts[1], &opts[2], &s)) != CLI_OK)
		return rc;
	if (!(defs[id].scopes & LSB(s.scope))) {
		cli_scope_list(defs[id].scopes, where, sizeof(where));
		return cli_usage_error(
		    c, "limit '%s' cannot be set at the %s scope (it can be set at: %s)",
		    defs[id].name, limit_scope_name(s.scope), where);
	}
	scope = limit_scope_name(s.scope);
	if (store_limit_set(c->st, scope, s.scope_id, defs[id].name, value, c->actor) != ST_OK)
		return cli_error("database error while setting %s for %s", defs[id].name, s.label);
	cli_limit_target(&s, defs[id].name, target, sizeof(target));
	rc = cli_audit(c, s.scope >= LS_TENANT ? s.t.id : 0, "limit.set", target,
	               cli_pack("{s:s, s:I, s:s, s:s}", "scope", scope, "scope_id",
	                        (json_int_t)s.scope_id, "name", defs[id].name, "value", value));
	return cli_finish(cli_emit(cli_pack("{s:s, s:I, s:s, s:s, s:s}", "scope", scope, "scope_id",
	                                    (json_int_t)s.scope_id, "name", defs[id].name, "value",
	                                    value, "updated_by", c->actor)),
	                  rc);
}

static int cmd_limits_unset(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"plan", NULL}, {"tenant", NULL}, {"key", NULL}};
	char target[128];
	const char *pos[1], *scope, *name;
	struct cli_scope s;
	size_t npos;
	int global, rc;

	global = cli_flag(&argc, argv, "global");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	name = pos[0];
	/* An unknown name is accepted: a hand-made row must stay removable. */
	if (!cli_text_ok(name, STORE_LIMIT_NAME_MAX, 0) || name[0] == '\0')
		return cli_usage_error(c, "'%s' is not a limit name", name);
	if ((rc = cli_scope_get(c, global, &opts[0], &opts[1], &opts[2], &s)) != CLI_OK)
		return rc;
	scope = limit_scope_name(s.scope);
	rc = store_limit_unset(c->st, scope, s.scope_id, name);
	if (rc == ST_NOTFOUND)
		return cli_emit(cli_pack("{s:s, s:I, s:s, s:b}", "scope", scope, "scope_id",
		                         (json_int_t)s.scope_id, "name", name, "removed", 0));
	if (rc != ST_OK)
		return cli_error("database error while unsetting %s for %s", name, s.label);
	cli_limit_target(&s, name, target, sizeof(target));
	rc = cli_audit(c, s.scope >= LS_TENANT ? s.t.id : 0, "limit.unset", target,
	               cli_pack("{s:s, s:I, s:s}", "scope", scope, "scope_id",
	                        (json_int_t)s.scope_id, "name", name));
	return cli_finish(cli_emit(cli_pack("{s:s, s:I, s:s, s:b}", "scope", scope, "scope_id",
	                                    (json_int_t)s.scope_id, "name", name, "removed", 1)),
	                  rc);
}

/* The JSON form of a plan. */
static json_t *cli_plan_json(const struct plan *p)
{
	char created[32];

	return cli_pack("{s:I, s:s, s:s, s:s?}", "id", (json_int_t)p->id, "name", p->name,
	                "description", p->description, "created_at",
	                cli_time(p->created_at, created, sizeof(created)));
}

/* plan_cb: append one plan to the JSON array ctx. */
static int cli_plan_collect(void *ctx, const struct plan *p)
{
	return cli_array_add(ctx, cli_plan_json(p));
}

static int fill_plan_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	(void)t;
	return store_plan_list(c->st, cli_plan_collect, arr);
}

static int cmd_plan_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 0, fill_plan_list, "plans");
}

static int cmd_plan_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"description", NULL}};
	const char *pos[1], *name, *desc;
	struct plan p;
	char target[48];
	int64_t id = 0;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	name = pos[0];
	desc = opts[0].value ? opts[0].value : "";
	if (!cli_plan_name_ok(name))
		return cli_usage_error(c,
		                       "plan name '%s': use 1-32 characters a-z, 0-9, '_' and"
		                       " '-', starting with a letter or digit",
		                       name);
	if (!cli_text_ok(desc, 200, 0))
		return cli_usage_error(c, "--description: at most 200 bytes of UTF-8 text without"
		                          " control characters");
	rc = store_plan_create(c->st, name, desc, &id);
	if (rc == ST_CONFLICT)
		return cli_error("plan '%s' already exists", name);
	if (rc != ST_OK)
		return cli_error("database error while creating plan '%s'", name);
	if (store_plan_get(c->st, name, &p) != ST_OK) {
		memset(&p, 0, sizeof(p));
		p.id = id;
		util_strlcpy(p.name, name, sizeof(p.name));
		util_strlcpy(p.description, desc, sizeof(p.description));
	}
	snprintf(target, sizeof(target), "plan:%s", name);
	rc = cli_audit(c, 0, "plan.create", target,
	               cli_pack("{s:I, s:s}", "plan_id", (json_int_t)p.id, "description", desc));
	return cli_finish(cli_emit(cli_plan_json(&p)), rc);
}

/* ================================================================== reaper, operator tokens */

static int cmd_reap(struct cli *c, int argc, char **argv)
{
	size_t npos;
	int rc, n = 0, journals = 0;

	rc = cli_args(c, argc, argv, NULL, 0, NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	/* First what ended processes answered but did not write: it settles at the actual cost. */
	if (ledger_recover(c->conf, c->st, &journals) != ST_OK)
		return cli_error("could not write the journals of ended processes (see the log)");
	if (store_admit_reap(c->st, 1000, &n) != ST_OK)
		return cli_error("database error while expiring reservations");
	/* Only a reap that changed something is worth a row (cron runs this often). */
	rc = n > 0 || journals > 0
	         ? cli_audit(c, 0, "reservation.reap", "reservations",
	                     cli_pack("{s:i, s:i}", "reaped", n, "journals", journals))
	         : CLI_OK;
	return cli_finish(cli_emit(cli_pack("{s:i, s:i}", "reaped", n, "journals", journals)), rc);
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
	if (!cli_text_ok(name, 100, 0) || name[0] == '\0')
		return cli_usage_error(c, "--name: 1-100 bytes of UTF-8 text without control"
		                          " characters");
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
	rc = cli_finish(cli_emit(cli_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "name",
	                                  name, "prefix", prefix, "token", token)),
	                rc);
	sodium_memzero(token, sizeof(token));
	fputs(CLI_NAME ": store this token now; it cannot be shown again\n", stderr);
	return rc;
}

/* operator_token_cb: append one token's public facts (never the hash) to ctx. */
static int cli_operator_token_collect(void *ctx, const struct operator_token *t)
{
	char created[32], revoked[32], used[32];

	return cli_array_add(
	    ctx,
	    cli_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?}", "id", (json_int_t)t->id, "name",
	             t->name, "prefix", t->prefix, "state", t->revoked_at ? "revoked" : "active",
	             "created_at", cli_time(t->created_at, created, sizeof(created)), "revoked_at",
	             cli_time(t->revoked_at, revoked, sizeof(revoked)), "last_used_at",
	             cli_time(t->last_used_at, used, sizeof(used))));
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

/* ================================================================== tools (issue 6) */

/* The public JSON form of a registered tool. */
static json_t *cli_tool_json(const struct tool_def *t)
{
	json_t *schema = json_loads(t->schema, 0, NULL), *secrets = json_array();
	const char *p = t->secret_names, *e;
	char created[32], updated[32];

	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		json_array_append_new(secrets, json_stringn(p, (size_t)(e - p)));
		p = *e ? e + 1 : e;
	}
	return cli_pack("{s:s, s:s, s:o, s:s, s:i, s:i, s:b, s:o, s:b, s:s?, s:s?}", "name",
	                t->name, "description", t->description, "schema",
	                schema ? schema : json_null(), "exec_path", t->exec_path, "timeout_ms",
	                t->timeout_ms, "max_output_bytes", t->max_output_bytes, "mutating",
	                t->mutating, "secrets", secrets, "enabled", t->enabled, "created_at",
	                cli_time(t->created_at, created, sizeof(created)), "updated_at",
	                cli_time(t->updated_at, updated, sizeof(updated)));
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
	if (!tool_policy_name_ok(pos[0]))
		return cli_usage_error(c, "NAME: '%s' must be 1-%d of A-Z a-z 0-9 _ -", pos[0],
		                       TOOL_NAME_MAX);
	if (strlen(opts[0].value) >= sizeof(t.exec_path))
		return cli_usage_error(c, "--exec: path too long");
	util_strlcpy(t.exec_path, opts[0].value, sizeof(t.exec_path));
	if ((rc = cli_tool_schema(c, opts[1].value, &t)) != CLI_OK)
		return rc;
	if (!cli_text_ok(opts[2].value, TOOL_DESC_MAX, 1) || opts[2].value[0] == '\0')
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
	return cli_finish(cli_emit(cli_tool_json(&t)), rc);
}

/* tool_def_cb: append one tool to ctx. */
static int cli_tool_collect(void *ctx, const struct tool_def *t)
{
	return cli_array_add(ctx, cli_tool_json(t));
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
	rc = tool_policy_name_ok(pos[0]) ? store_tool_set_enabled(c->st, pos[0], enabled)
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
	if (!tool_policy_name_ok(opts[1].value))
		return cli_usage_error(c, "--tool: '%s' is not a tool name", opts[1].value);
	rc = store_tool_get(c->st, opts[1].value, &td);
	if (rc == ST_NOTFOUND)
		return cli_error("tool '%s' is not registered", opts[1].value);
	if (rc != ST_OK)
		return cli_error("database error while reading tool '%s'", opts[1].value);
	if (!tool_runner_env_name_ok(opts[2].value) ||
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
	return cli_finish(
	    cli_emit(cli_pack("{s:I, s:s, s:s, s:i}", "tenant_id", (json_int_t)t.id, "tool",
	                      td.name, "name", opts[2].value, "version", cred.version)),
	    rc);
}

/* tool_secret_cb: append one secret's name and dates (never its value) to ctx. */
static int cli_tool_secret_collect(void *ctx, const char *tool, const char *name,
                                   const struct sealed_cred *cr)
{
	char updated[32];

	return cli_array_add(ctx, cli_pack("{s:s, s:s, s:i, s:s?}", "tool", tool, "name", name,
	                                   "version", cr->version, "updated_at",
	                                   cli_time(cr->updated_at, updated, sizeof(updated))));
}

static int fill_tool_secret_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	return store_tool_secret_list(c->st, t->id, cli_tool_secret_collect, arr);
}

static int cmd_tool_secret_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_tool_secret_list, "tool secrets");
}

/* ================================================================== dispatch */

/* ================================================================== dashboard users */

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

/* Read a password from stdin and hash it with Argon2id into hash. */
static int cli_admin_password(const char *name, char hash[crypto_pwhash_STRBYTES])
{
	char pw[SECRETS_MAX_PLAIN + 3], what[96];
	size_t len = 0;
	int rc = CLI_FAIL;

	snprintf(what, sizeof(what), "password for %s", name);
	if (cli_read_secret(what, pw, sizeof(pw), &len) != CLI_OK)
		goto out;
	if (len < ADMIN_PASSWORD_MIN) {
		cli_error("the password must be at least %d characters", ADMIN_PASSWORD_MIN);
		goto out;
	}
	if (admin_password_hash(pw, len, hash) != 0) {
		cli_error("out of memory while hashing the password");
		goto out;
	}
	rc = CLI_OK;
out:
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

static json_t *cli_admin_json(const struct admin_user *u)
{
	return cli_pack("{s:I, s:s, s:s, s:I, s:I}", "id", (json_int_t)u->id, "name", u->name,
	                "role", u->role, "tenant_id", (json_int_t)u->tenant_id, "created",
	                (json_int_t)u->created);
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
	if (!admin_name_ok(pos[0]))
		return cli_usage_error(c, "NAME: 1 to 64 of A-Z a-z 0-9 . _ - @");
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
	return cli_finish(cli_emit(cli_admin_json(&u)), rc);
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
	return cli_finish(cli_emit(cli_admin_json(&u)), rc);
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
	return cli_finish(cli_emit(cli_admin_json(&u)), rc);
}

static int cli_admin_collect(void *ctx, const struct admin_user *u)
{
	return cli_array_add(ctx, cli_admin_json(u));
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

/* ================================================================== tenant lifecycle */

#define CLI_PURGE_BATCH 1000

struct cli_ids {
	int64_t *id;
	size_t n, cap;
};

static int cli_ids_add(void *ctx, const struct tenant *t)
{
	struct cli_ids *ids = ctx;

	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 64;
		int64_t *p = realloc(ids->id, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		ids->id = p;
		ids->cap = cap;
	}
	ids->id[ids->n++] = t->id;
	return 0;
}

/* Purge one tenant's executions past its retention; *purged gets the count. */
static int cli_purge_tenant(struct cli *c, int64_t tenant_id, int batch, int dry_run,
                            json_t *report, int64_t *purged)
{
	struct limits *lim = malloc(sizeof(*lim));
	int64_t days, n = 0, got;
	int rc = CLI_OK;

	*purged = 0;
	if (lim == NULL)
		return cli_error("out of memory");
	if (limits_resolve(c->st, tenant_id, 0, lim) != ST_OK) {
		free(lim);
		return cli_error("database error while reading the limits of tenant %" PRId64,
		                 tenant_id);
	}
	days = lim->v[LIM_RETENTION_DAYS].num;
	free(lim);
	if (days <= 0)
		return CLI_OK; /* kept forever */
	if (!dry_run) {
		do {
			if (store_life_purge_batch(c->st, tenant_id, (int)days, batch, &got) !=
			    ST_OK)
				return cli_error("database error while purging tenant %" PRId64,
				                 tenant_id);
			n += got;
		} while (got == batch);
	}
	*purged = n;
	if (cli_array_add(report, cli_pack("{s:I, s:I, s:I}", "tenant_id", (json_int_t)tenant_id,
	                                   "retention_days", (json_int_t)days, "purged",
	                                   (json_int_t)n)) < 0)
		rc = cli_error("out of memory");
	return rc;
}

static int cli_erase_collect(void *ctx, int64_t tenant_id)
{
	struct cli_ids *ids = ctx;
	struct tenant t = {.id = tenant_id};

	return cli_ids_add(ids, &t);
}

/* Erase every tenant whose offboarding period has passed. */
static int cli_erase_due(struct cli *c, int batch, int dry_run, json_t *erased)
{
	struct cli_ids due = {0};
	struct tenant t;
	char target[96];
	int64_t rows = 0;
	int rc = CLI_OK, failed = 0;

	if (store_life_due(c->st, cli_erase_collect, &due) != ST_OK) {
		free(due.id);
		return cli_error("database error while listing offboarded tenants");
	}
	for (size_t i = 0; rc == CLI_OK && i < due.n; i++) {
		if (store_tenant_get(c->st, due.id[i], &t) != ST_OK) {
			rc = cli_error("database error while reading tenant %" PRId64, due.id[i]);
			break;
		}
		if (!dry_run && strcmp(t.isolation, "dedicated") == 0) {
			struct tdb_opts o = {c->conf, NULL, 0};
			char err[512];

			/* its database and account go first; the row then says shared */
			if (store_tdb_drop(c->st, t.id, &o, err, sizeof(err)) != ST_OK) {
				cli_error("tenant '%s': %s (run purge again)", t.slug, err);
				failed++;
				continue;
			}
		}
		if (!dry_run && store_life_erase(c->st, t.id, batch, &rows) != ST_OK) {
			cli_error("database error while erasing tenant '%s' (run purge again to"
			          " finish)",
			          t.slug);
			failed++;
			continue;
		}
		snprintf(target, sizeof(target), "tenant:%" PRId64 ":%s", t.id, t.slug);
		/* The tenant's own audit rows went with it: this row is the system's record. */
		if (!dry_run)
			rc = cli_audit(c, 0, "tenant.erase", target,
			               cli_pack("{s:I}", "rows", (json_int_t)rows));
		if (cli_array_add(erased, cli_pack("{s:I, s:s, s:I}", "tenant_id", (json_int_t)t.id,
		                                   "slug", t.slug, "rows", (json_int_t)rows)) < 0)
			rc = cli_error("out of memory");
	}
	free(due.id);
	return rc == CLI_OK && failed ? CLI_FAIL : rc;
}

static int cmd_purge(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"batch", NULL}};
	struct cli_ids ids = {0};
	json_t *report = json_array(), *erased = json_array();
	int64_t batch = CLI_PURGE_BATCH, total = 0, n, housekept = 0;
	int dry_run = cli_flag(&argc, argv, "dry-run");
	char err[256];
	struct tenant t;
	size_t npos;
	int rc, failed = 0;

	if (report == NULL || erased == NULL) {
		rc = cli_error("out of memory");
		goto out;
	}
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		goto out;
	if (opts[1].value && util_parse_i64(opts[1].value, 1, 100000, &batch) != 0) {
		rc = cli_usage_error(c, "--batch: a number 1..100000");
		goto out;
	}
	if (opts[0].value) {
		if ((rc = cli_tenant(c, opts[0].value, &t)) != CLI_OK)
			goto out;
		rc = cli_ids_add(&ids, &t) < 0 ? cli_error("out of memory") : CLI_OK;
	} else if (store_tenant_list(c->st, cli_ids_add, &ids) != ST_OK) {
		rc = cli_error("database error while listing tenants");
	}
	/* one tenant that cannot be purged (its database down) does not stop the others */
	for (size_t i = 0; rc == CLI_OK && i < ids.n; i++) {
		n = 0;
		if (cli_purge_tenant(c, ids.id[i], (int)batch, dry_run, report, &n) != CLI_OK)
			failed++;
		total += n;
	}
	if (rc == CLI_OK && !opts[0].value &&
	    cli_erase_due(c, (int)batch, dry_run, erased) != CLI_OK)
		failed++;
	/* and what admission and the dashboard no longer need (every server does it each minute
	 * too) */
	if (rc == CLI_OK && !opts[0].value && !dry_run) {
		if (admit_set_timezone(c->conf->budget_timezone, err, sizeof(err)) < 0)
			rc = cli_error("budget_timezone: %s", err);
		else if (admit_housekeep(c->st, (int)batch, &housekept) != ST_OK)
			rc = cli_error("database error while deleting expired counters");
	}
	if (rc != CLI_OK)
		goto out;
	rc = total > 0 && !dry_run
	         ? cli_audit(c, opts[0].value ? ids.id[0] : 0, "executions.purge", "executions",
	                     cli_pack("{s:I}", "purged", (json_int_t)total))
	         : CLI_OK;
	rc = cli_finish(
	    cli_emit(cli_pack("{s:O, s:I, s:O, s:I, s:b, s:i}", "tenants", report, "purged",
	                      (json_int_t)total, "erased", erased, "housekeeping_rows",
	                      (json_int_t)housekept, "dry_run", dry_run, "failures", failed)),
	    rc);
	if (rc == CLI_OK && failed > 0)
		rc = CLI_FAIL; /* each failure was reported on stderr */
out:
	json_decref(report);
	json_decref(erased);
	free(ids.id);
	return rc;
}

/*
 * Export tenant t to path ("-": standard output, which must not be a
 * terminal) and audit it; manifest gets the archive's manifest.
 */
static int cli_export_to(struct cli *c, const struct tenant *t, const char *path, json_t *manifest)
{
	char tmp[4096], target[32], err[256];
	FILE *out;
	int rc;

	if (strcmp(path, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			return cli_error("refusing to write an archive to a terminal");
		out = stdout;
	} else {
		/* written beside the target and renamed: a reader never sees half an archive */
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial", path) >= sizeof(tmp))
			return cli_error("--out: path too long");
		out = fopen(tmp, "wb");
		if (out == NULL)
			return cli_error("cannot create %s: %s", tmp, strerror(errno));
	}
	rc = tenant_export(c->st, t, out, manifest, err, sizeof(err)) == 0 ? CLI_OK
	                                                                   : cli_error("%s", err);
	if (out != stdout) {
		if (fclose(out) != 0 && rc == CLI_OK)
			rc = cli_error("cannot write %s: %s", tmp, strerror(errno));
		if (rc == CLI_OK && rename(tmp, path) != 0)
			rc = cli_error("cannot rename %s: %s", tmp, strerror(errno));
		if (rc != CLI_OK)
			unlink(tmp);
	}
	if (rc != CLI_OK)
		return rc;
	snprintf(target, sizeof(target), "tenant:%" PRId64, t->id);
	return cli_audit(c, t->id, "tenant.export", target, json_deep_copy(manifest));
}

static int cmd_tenant_export(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"out", NULL}};
	const char *pos[1];
	json_t *manifest = json_object();
	struct tenant t;
	size_t npos;
	int rc;

	if (manifest == NULL)
		return cli_error("out of memory");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		goto done;
	if (npos != 1 || opts[0].value == NULL) {
		rc = cli_usage_error(c, "expected TENANT --out FILE (FILE '-' is standard output)");
		goto done;
	}
	if ((rc = cli_tenant(c, pos[0], &t)) != CLI_OK)
		goto done;
	rc = cli_export_to(c, &t, opts[0].value, manifest);
	if (rc != CLI_OK)
		goto done;
	if (strcmp(opts[0].value, "-") == 0) { /* the manifest goes to stderr then */
		json_dumpf(manifest, stderr, JSON_INDENT(2));
		fputc('\n', stderr);
	} else {
		rc = cli_emit(json_incref(manifest));
	}
done:
	json_decref(manifest);
	return rc;
}

static int cmd_tenant_offboard(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"out", NULL}, {"days", NULL}, {"reason", NULL}};
	int undo = cli_flag(&argc, argv, "undo");
	const char *pos[1];
	int64_t days = -1, after = 0;
	struct limits *lim = NULL;
	json_t *manifest;
	char target[32], reason[300];
	struct tenant t;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing TENANT");
	if (undo && (opts[0].value || opts[1].value || opts[2].value))
		return cli_usage_error(c, "--undo takes no other option");
	if (!undo && opts[0].value == NULL)
		return cli_usage_error(c,
		                       "missing --out FILE (the tenant's data is exported first)");
	if (opts[1].value && util_parse_i64(opts[1].value, 0, 36500, &days) != 0)
		return cli_usage_error(c, "--days: a number of days 0..36500");
	if (opts[2].value && !cli_text_ok(opts[2].value, 200, 0))
		return cli_usage_error(c, "--reason: at most 200 bytes of text");
	if ((rc = cli_tenant(c, pos[0], &t)) != CLI_OK)
		return rc;
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	if (store_life_offboard_after(c->st, t.id, &after) != ST_OK)
		return cli_error("database error while reading tenant '%s'", t.slug);
	if (undo) {
		if (after == 0)
			return cli_error("tenant '%s' is not being offboarded", t.slug);
		if (store_life_offboard(c->st, t.id, -1) != ST_OK ||
		    store_tenant_set_status(c->st, t.id, TENANT_ACTIVE, NULL) != ST_OK)
			return cli_error("database error while undoing the offboarding of '%s'",
			                 t.slug);
		rc = cli_audit(c, t.id, "tenant.offboard_undo", target, NULL);
		return cli_finish(
		    cli_emit(cli_pack("{s:s, s:s}", "tenant", t.slug, "status", "active")), rc);
	}
	if (days < 0) { /* the tenant's retention, at least 30 days to change one's mind */
		lim = malloc(sizeof(*lim));
		if (lim == NULL || limits_resolve(c->st, t.id, 0, lim) != ST_OK) {
			free(lim);
			return cli_error("cannot read the limits of tenant '%s'", t.slug);
		}
		days = lim->v[LIM_RETENTION_DAYS].num > 30 ? lim->v[LIM_RETENTION_DAYS].num : 30;
		free(lim);
	}
	snprintf(reason, sizeof(reason), "offboarding%s%s", opts[2].value ? ": " : "",
	         opts[2].value ? opts[2].value : "");
	/* Suspend first: nothing new arrives while the export is written. */
	if (store_tenant_set_status(c->st, t.id, TENANT_SUSPENDED, reason) != ST_OK)
		return cli_error("database error while suspending tenant '%s'", t.slug);
	manifest = json_object();
	rc = manifest ? cli_export_to(c, &t, opts[0].value, manifest) : cli_error("out of memory");
	json_decref(manifest);
	if (rc != CLI_OK)
		return cli_error("tenant '%s' is suspended but the export failed; nothing will be"
		                 " erased (run offboard again, or --undo)",
		                 t.slug);
	if (store_life_offboard(c->st, t.id, (int)days) != ST_OK ||
	    store_life_offboard_after(c->st, t.id, &after) != ST_OK)
		return cli_error("database error while scheduling the erasure of '%s'", t.slug);
	rc = cli_audit(
	    c, t.id, "tenant.offboard", target,
	    cli_pack("{s:I, s:s}", "erase_after", (json_int_t)after, "export", opts[0].value));
	return cli_finish(
	    cli_emit(cli_pack("{s:s, s:s, s:I, s:s}", "tenant", t.slug, "status", "offboarding",
	                      "erase_after", (json_int_t)after, "export", opts[0].value)),
	    rc);
}

/* Provider credentials that do not open with the master key (tampered, or not sealed). */
struct cli_unsealed {
	int64_t tenant_id, bad;
	int failed;
};

static int cli_unsealed_cb(void *ctx, const char *provider, const struct sealed_cred *sc)
{
	struct cli_unsealed *u = ctx;
	char plain[SECRETS_MAX_PLAIN + 1];

	if (secrets_open(u->tenant_id, provider, sc->version, sc->nonce, sc->ct, sc->ct_len, plain,
	                 sizeof(plain)) != 0)
		u->bad++;
	sodium_memzero(plain, sizeof(plain));
	return 0;
}

/* Findings of store_tdb_verify, counted per check; details name the tenant. */
struct cli_tdb_findings {
	int64_t grants, missing, foreign;
	json_t *list;
};

static void cli_tdb_finding(void *ctx, int64_t tenant_id, const char *check, const char *detail)
{
	struct cli_tdb_findings *f = ctx;

	if (strcmp(check, "dedicated_grants_beyond_db") == 0)
		f->grants++;
	else if (strcmp(check, "dedicated_db_missing") == 0)
		f->missing++;
	else
		f->foreign++;
	cli_array_add(f->list, cli_pack("{s:I, s:s, s:s}", "tenant_id", (json_int_t)tenant_id,
	                                "check", check, "detail", detail));
}

static int cmd_verify_isolation(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}};
	struct cli_ids ids = {0};
	struct cli_unsealed u = {0};
	const struct life_check *checks;
	json_t *out = json_array();
	int64_t tid = 0, count, findings = 0;
	struct tenant t;
	size_t n, npos;
	int rc;

	if (out == NULL)
		return cli_error("out of memory");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		goto done;
	if (opts[0].value) {
		if ((rc = cli_tenant(c, opts[0].value, &t)) != CLI_OK)
			goto done;
		tid = t.id;
	}
	checks = store_life_checks(&n);
	for (size_t i = 0; i < n; i++) {
		if (store_life_check(c->st, &checks[i], tid, &count) != ST_OK) {
			rc = cli_error("database error in check %s", checks[i].name);
			goto done;
		}
		findings += count;
		if (cli_array_add(out,
		                  cli_pack("{s:s, s:I, s:s}", "check", checks[i].name, "findings",
		                           (json_int_t)count, "meaning", checks[i].meaning)) < 0) {
			rc = cli_error("out of memory");
			goto done;
		}
	}
	/* Every stored provider credential must open with the master key under its own tenant. */
	if (tid) {
		rc = cli_ids_add(&ids, &t) < 0 ? cli_error("out of memory") : CLI_OK;
	} else if (store_tenant_list(c->st, cli_ids_add, &ids) != ST_OK) {
		rc = cli_error("database error while listing tenants");
	}
	for (size_t i = 0; rc == CLI_OK && i < ids.n; i++) {
		u.tenant_id = ids.id[i];
		if (store_cred_list(c->st, ids.id[i], cli_unsealed_cb, &u) != ST_OK)
			rc = cli_error("database error while reading provider credentials");
	}
	if (rc != CLI_OK)
		goto done;
	findings += u.bad;
	{
		struct cli_tdb_findings f = {0, 0, 0, json_array()};
		struct tdb_opts o = {c->conf, NULL, 0};
		char err[512] = "";

		if (f.list == NULL) {
			rc = cli_error("out of memory");
			goto done;
		}
		if (store_tdb_verify(c->st, tid, &o, cli_tdb_finding, &f, err, sizeof(err)) !=
		    ST_OK) {
			json_decref(f.list);
			rc = cli_error("cannot check dedicated databases: %s", err);
			goto done;
		}
		findings += f.grants + f.missing + f.foreign;
		if (cli_array_add(out, cli_pack("{s:s, s:I, s:s, s:o}", "check",
		                                "dedicated_grants_beyond_db", "findings",
		                                (json_int_t)f.grants, "meaning",
		                                "a dedicated tenant's account holds a privilege"
		                                " beyond its own database",
		                                "details", f.list)) < 0 ||
		    cli_array_add(out, cli_pack("{s:s, s:I, s:s}", "check", "dedicated_db_missing",
		                                "findings", (json_int_t)f.missing, "meaning",
		                                "a dedicated tenant without its database or"
		                                " account")) < 0 ||
		    cli_array_add(out, cli_pack("{s:s, s:I, s:s}", "check",
		                                "foreign_rows_in_dedicated_db", "findings",
		                                (json_int_t)f.foreign, "meaning",
		                                "rows of another tenant inside a dedicated"
		                                " tenant's database")) < 0) {
			rc = cli_error("out of memory");
			goto done;
		}
	}
	if (cli_array_add(out,
	                  cli_pack("{s:s, s:I, s:s}", "check", "provider_keys_unopenable",
	                           "findings", (json_int_t)u.bad, "meaning",
	                           "provider credentials that do not decrypt with the master key"
	                           " bound to their own tenant (tampered, copied or not"
	                           " sealed)")) < 0) {
		rc = cli_error("out of memory");
		goto done;
	}
	rc = cli_emit(cli_pack("{s:O, s:I, s:s}", "checks", out, "findings", (json_int_t)findings,
	                       "scope", tid ? "tenant" : "all"));
	if (rc == CLI_OK && findings > 0)
		rc = CLI_FAIL;
done:
	json_decref(out);
	free(ids.id);
	return rc;
}

/* tenant move TENANT --to dedicated|shared [--wait-seconds N] [--drain-seconds N] | --abort */
static int cmd_tenant_move(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"to", NULL},
	                         {"wait-seconds", NULL},
	                         {"drain-seconds", NULL},
	                         {"db-host", NULL},
	                         {"db-port", NULL}};
	int abort_move = cli_flag(&argc, argv, "abort");
	int64_t db_port = 0;
	struct move_report rep;
	const char *pos[1];
	char err[512] = "", target[32];
	int64_t wait_s = 300, drain_s = 2;
	struct tenant t;
	json_t *tables;
	size_t npos;
	int rc, to_dedicated;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing TENANT");
	if ((rc = cli_tenant(c, pos[0], &t)) != CLI_OK)
		return rc;
	snprintf(target, sizeof(target), "tenant:%" PRId64, t.id);
	if (abort_move > 0) {
		if (placement_move_abort(c->st, t.id, err, sizeof(err)) < 0)
			return cli_error("%s", err);
		rc = cli_audit(c, t.id, "tenant.move_abort", target, NULL);
		return cli_finish(
		    cli_emit(cli_pack("{s:s, s:s}", "tenant", t.slug, "migrating", "cleared")), rc);
	}
	if (opts[0].value == NULL ||
	    (strcmp(opts[0].value, "dedicated") != 0 && strcmp(opts[0].value, "shared") != 0))
		return cli_usage_error(c, "--to dedicated or --to shared");
	if (opts[1].value && util_parse_i64(opts[1].value, 1, 86400, &wait_s) < 0)
		return cli_usage_error(c, "--wait-seconds: 1-86400");
	if (opts[2].value && util_parse_i64(opts[2].value, 0, 3600, &drain_s) < 0)
		return cli_usage_error(c, "--drain-seconds: 0-3600");
	to_dedicated = strcmp(opts[0].value, "dedicated") == 0;
	if ((opts[3].value || opts[4].value) && !to_dedicated)
		return cli_usage_error(c, "--db-host and --db-port go with --to dedicated");
	if (opts[3].value && (!cli_text_ok(opts[3].value, 255, 0) || opts[3].value[0] == '\0'))
		return cli_usage_error(c, "--db-host: a host name or address");
	if (opts[4].value && util_parse_i64(opts[4].value, 1, 65535, &db_port) < 0)
		return cli_usage_error(c, "--db-port: 1-65535");
	if (placement_move(c->st, c->conf, t.id, to_dedicated, opts[3].value, (int)db_port,
	                   (int)wait_s, (int)drain_s, &rep, err, sizeof(err)) < 0) {
		cli_audit(c, t.id, "tenant.move", target,
		          cli_pack("{s:s, s:s, s:s}", "to", opts[0].value, "outcome", "failed",
		                   "error", err));
		return cli_error("move of tenant '%s' failed: %s", t.slug, err);
	}
	tables = json_array();
	for (int i = 0; tables && i < rep.n_tables; i++) {
		char sum[24];

		snprintf(sum, sizeof(sum), "%016llx", (unsigned long long)rep.tables[i].dst_sum);
		cli_array_add(tables,
		              cli_pack("{s:s, s:I, s:s}", "table", rep.tables[i].table, "rows",
		                       (json_int_t)rep.tables[i].dst_rows, "checksum", sum));
	}
	rc = cli_audit(c, t.id, "tenant.move", target,
	               cli_pack("{s:s, s:I, s:I, s:I}", "to", opts[0].value, "copied",
	                        (json_int_t)rep.copied, "late_rows", (json_int_t)rep.late_rows,
	                        "deleted", (json_int_t)rep.deleted));
	return cli_finish(
	    cli_emit(cli_pack("{s:s, s:s, s:o*, s:I, s:I, s:I, s:i, s:I, s:I}", "tenant", t.slug,
	                      "isolation", opts[0].value, "tables", tables, "copied",
	                      (json_int_t)rep.copied, "late_rows", (json_int_t)rep.late_rows,
	                      "deleted", (json_int_t)rep.deleted, "rounds", rep.rounds, "waited_ms",
	                      (json_int_t)rep.waited_ms, "total_ms", (json_int_t)rep.total_ms)),
	    rc);
}

static const struct cli_cmd cli_cmds[] = {
    {"master-key", "init", cmd_master_key_init, 0, "[PATH]",
     "create the master key file if missing and check it"},
    {"migrate", NULL, cmd_migrate, CLI_NEED_DB, "[--sql-dir DIR]", "apply pending SQL migrations"},
    {"tenant", "create", cmd_tenant_create, CLI_NEED_DB,
     "SLUG [--name NAME] [--plan PLAN] [--key KEYNAME] [--admin ADMINNAME]"
     " [--isolation shared|dedicated [--db-host HOST] [--db-port PORT]]",
     "create a tenant, with its first API key and tenant_admin (password on stdin), all or none"},
    {"tenant", "list", cmd_tenant_list, CLI_NEED_DB, "", "list tenants"},
    {"tenant", "move", cmd_tenant_move, CLI_NEED_DB | CLI_NEED_SECRETS,
     "TENANT --to dedicated|shared [--db-host HOST] [--db-port PORT] [--wait-seconds N]"
     " [--drain-seconds N] | TENANT --abort",
     "move a tenant's data between the shared database and one of its own"},
    {"tenant", "show", cmd_tenant_show, CLI_NEED_DB, "TENANT", "show one tenant"},
    {"tenant", "suspend", cmd_tenant_suspend, CLI_NEED_DB, "TENANT [--reason TEXT]",
     "suspend a tenant (its API calls are refused)"},
    {"tenant", "resume", cmd_tenant_resume, CLI_NEED_DB, "TENANT", "resume a tenant"},
    {"key", "create", cmd_key_create, CLI_NEED_DB | CLI_NEED_SECRETS,
     "--tenant TENANT [--name NAME] [--expires-in SECONDS]",
     "create an API key (the secret is shown once)"},
    {"key", "list", cmd_key_list, CLI_NEED_DB, "--tenant TENANT", "list a tenant's API keys"},
    {"key", "rotate", cmd_key_rotate, CLI_NEED_DB | CLI_NEED_SECRETS,
     "--tenant TENANT --key ID [--grace SECONDS]",
     "replace a key; the old one stays valid for the grace period"},
    {"key", "revoke", cmd_key_revoke, CLI_NEED_DB, "--tenant TENANT --key ID",
     "revoke an API key now"},
    {"provider-key", "set", cmd_provider_key_set,
     CLI_NEED_DB | CLI_NEED_SECRETS | CLI_NEED_REGISTRY,
     "--tenant TENANT --provider NAME  < credential",
     "store a tenant's own provider credential (read from stdin)"},
    {"provider-key", "clear", cmd_provider_key_clear, CLI_NEED_DB,
     "--tenant TENANT --provider NAME", "delete a tenant's provider credential"},
    {"provider-key", "list", cmd_provider_key_list, CLI_NEED_DB, "--tenant TENANT",
     "list a tenant's provider credentials (last 4 characters only)"},
    {"agent", "create", cmd_agent_create, CLI_NEED_DB,
     "--tenant TENANT --name NAME --model MODEL [--instructions TEXT] [--temperature X]"
     " [--max-tokens N] [--tool TOOL]... [--max-steps N]",
     "create an agent"},
    {"agent", "list", cmd_agent_list, CLI_NEED_DB, "--tenant TENANT", "list a tenant's agents"},
    {"limits", "show", cmd_limits_show, CLI_NEED_DB,
     "(--global | --plan PLAN | --tenant TENANT [--key ID])",
     "effective limits of a scope, each with its source"},
    {"limits", "set", cmd_limits_set, CLI_NEED_DB,
     "(--global | --plan PLAN | --tenant TENANT [--key ID]) NAME VALUE", "set a limit at a scope"},
    {"limits", "unset", cmd_limits_unset, CLI_NEED_DB,
     "(--global | --plan PLAN | --tenant TENANT [--key ID]) NAME",
     "remove a limit from a scope (the inherited value applies)"},
    {"plan", "list", cmd_plan_list, CLI_NEED_DB, "", "list plans"},
    {"plan", "create", cmd_plan_create, CLI_NEED_DB, "NAME [--description TEXT]",
     "create a plan (it inherits the global limits)"},
    {"reap", NULL, cmd_reap, CLI_NEED_DB, "",
     "write what ended processes left in their journals, then expire reservations whose "
     "process died (billed at their full amount)"},
    {"operator-token", "create", cmd_operator_token_create, CLI_NEED_DB | CLI_NEED_SECRETS,
     "--name NAME", "create an operator API token (shown once)"},
    {"operator-token", "list", cmd_operator_token_list, CLI_NEED_DB, "",
     "list operator tokens (display prefix only)"},
    {"operator-token", "revoke", cmd_operator_token_revoke, CLI_NEED_DB, "ID",
     "revoke an operator token now"},
    {"admin", "add", cmd_admin_add, CLI_NEED_DB,
     "NAME --role operator|support|tenant_admin [--tenant TENANT]",
     "add a dashboard user (password read from stdin, at least 12 characters)"},
    {"admin", "passwd", cmd_admin_passwd, CLI_NEED_DB, "NAME",
     "set a dashboard user's password (stdin) and end their sessions"},
    {"admin", "role", cmd_admin_role, CLI_NEED_DB, "NAME ROLE [--tenant TENANT]",
     "change a dashboard user's role"},
    {"admin", "list", cmd_admin_list, CLI_NEED_DB, "", "list dashboard users"},
    {"tenant", "export", cmd_tenant_export, CLI_NEED_DB, "TENANT --out FILE|-",
     "write all of a tenant's data (no secrets) as a tar of JSON lines files"},
    {"tenant", "offboard", cmd_tenant_offboard, CLI_NEED_DB,
     "TENANT (--out FILE [--days N] [--reason TEXT] | --undo)",
     "suspend, export, and erase after N days (default: retention, at least 30); --undo"},
    {"purge", NULL, cmd_purge, CLI_NEED_DB, "[--tenant TENANT] [--batch N] [--dry-run]",
     "delete executions past retention_days and erase offboarded tenants past their date"},
    {"verify-isolation", NULL, cmd_verify_isolation, CLI_NEED_DB | CLI_NEED_SECRETS,
     "[--tenant TENANT]", "check tenant isolation and secret storage; exit 1 on any finding"},
    /* tools (issue 6) */
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

/* The general usage text. */
static void cli_usage(FILE *f)
{
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
	for (size_t i = 0; i < ARRAY_SIZE(cli_cmds); i++) {
		const struct cli_cmd *cmd = &cli_cmds[i];
		char words[48];

		snprintf(words, sizeof(words), "%s%s%s", cmd->group, cmd->verb ? " " : "",
		         cmd->verb ? cmd->verb : "");
		fprintf(f, "  %-22s %s\n", words, cmd->summary);
	}
}

/* The command named by argv[0] (and argv[1]), or NULL; *words gets how many words it used. */
static const struct cli_cmd *cli_find(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < ARRAY_SIZE(cli_cmds); i++) {
		const struct cli_cmd *cmd = &cli_cmds[i];

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
	int n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cli_cmds); i++)
		if (strcmp(group, cli_cmds[i].group) == 0) {
			if (f != NULL)
				cli_cmd_usage(f, &cli_cmds[i]);
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
