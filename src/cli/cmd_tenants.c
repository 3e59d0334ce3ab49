/*
 * cmd_tenants.c: agenthostctl tenant create, list, show, suspend, resume
 * and move.
 *
 * DESIGN
 * A tenant is created with its first API key and dashboard user in one
 * transaction (store_life_onboard), then placed (placement_new_tenant: its
 * own database when dedicated); a failed placement erases it. Every command
 * prints the tenant as api/objects.h builds it, the form the operator API
 * answers with. A move is placement_move's, reported table by table.
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
#include "store/lifecycle.h"
#include "tenancy/admins.h"
#include "tenancy/placement.h"

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
	if (!valid_name(VALID_SLUG, o.slug))
		return cli_usage_error(c,
		                       "slug '%s': use %s (all digits would read as a tenant id)",
		                       o.slug, valid_hint(VALID_SLUG));
	if (!valid_name(VALID_TENANT_NAME, o.name))
		return cli_usage_error(c, "--name: %s", valid_hint(VALID_TENANT_NAME));
	if (!valid_name(VALID_PLAN, o.plan))
		return cli_usage_error(c, "--plan: '%s' is not a plan name (%s)", o.plan,
		                       valid_hint(VALID_PLAN));
	if (o.key_name && !valid_name(VALID_KEY_NAME, o.key_name))
		return cli_usage_error(c, "--key: a key name of %s", valid_hint(VALID_KEY_NAME));
	if (o.admin_name && !valid_name(VALID_ADMIN, o.admin_name))
		return cli_usage_error(c, "--admin: %s", valid_hint(VALID_ADMIN));
	if (opts[4].value && strcmp(opts[4].value, "shared") != 0 &&
	    strcmp(opts[4].value, "dedicated") != 0)
		return cli_usage_error(c, "--isolation: shared or dedicated");
	if (opts[5].value && (!valid_text(opts[5].value, 255, 0) || opts[5].value[0] == '\0'))
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
	out = cli_tenant_json(c, &t);
	if (out && o.key_name) {
		cli_key_read_back(c, id, key_id, o.key_name, prefix, 0, &k);
		json_object_set_new(out, "api_key", objects_new_key(&k, key));
	}
	if (out && o.admin_name)
		json_object_set_new(out, "admin", json_string(o.admin_name));
	rc = cli_finish(cli_emit(out), rc);
	if (o.key_name)
		cli_secret_notice("key");
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(pw_hash, sizeof(pw_hash));
	return rc;
}

/* A growable array of tenants: the list is read first, then each one's offboarding date. */
struct cli_tenants {
	struct tenant *t;
	size_t n, cap;
};

/* tenant_cb: copy t into the struct cli_tenants ctx. */
static int cli_tenants_add(void *ctx, const struct tenant *t)
{
	struct cli_tenants *ts = ctx;

	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? 2 * ts->cap : 64;
		struct tenant *p = realloc(ts->t, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		ts->t = p;
		ts->cap = cap;
	}
	ts->t[ts->n++] = *t;
	return 0;
}

static int fill_tenant_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	struct cli_tenants ts = {0};
	int rc = ST_OK;

	(void)t;
	/* no query while another one streams: the dates are read after the listing */
	if (store_tenant_list(c->st, cli_tenants_add, &ts) != ST_OK)
		rc = ST_ERR;
	for (size_t i = 0; rc == ST_OK && i < ts.n; i++)
		if (cli_array_add(arr, cli_tenant_json(c, &ts.t[i])) < 0) {
			cli_error("cannot build the JSON output");
			rc = CLI_FILL_REPORTED;
		}
	free(ts.t);
	return rc;
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
	return cli_emit(cli_tenant_json(c, &t));
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
		if (!valid_text(reason, 255, 0))
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
	return cli_finish(cli_emit(cli_tenant_json(c, &t)), rc);
}

static int cmd_tenant_suspend(struct cli *c, int argc, char **argv)
{
	return cli_tenant_status(c, argc, argv, 1);
}

static int cmd_tenant_resume(struct cli *c, int argc, char **argv)
{
	return cli_tenant_status(c, argc, argv, 0);
}

/*
 * tenant move TENANT --to dedicated|shared [--wait-seconds N] [--drain-seconds N]
 * [--progress] | --abort
 */
static int cmd_tenant_move(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"to", NULL},
	                         {"wait-seconds", NULL},
	                         {"drain-seconds", NULL},
	                         {"db-host", NULL},
	                         {"db-port", NULL}};
	int abort_move = cli_flag(&argc, argv, "abort");
	int show_progress = cli_flag(&argc, argv, "progress");
	struct cli_progress prog;
	const struct progress *pg;
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
	if (opts[3].value && (!valid_text(opts[3].value, 255, 0) || opts[3].value[0] == '\0'))
		return cli_usage_error(c, "--db-host: a host name or address");
	if (opts[4].value && util_parse_i64(opts[4].value, 1, 65535, &db_port) < 0)
		return cli_usage_error(c, "--db-port: 1-65535");
	pg = cli_progress_start(&prog, "tenant move", show_progress);
	rc = placement_move(c->st, c->conf, t.id, to_dedicated, opts[3].value, (int)db_port,
	                    (int)wait_s, (int)drain_s, &rep, pg, err, sizeof(err));
	cli_progress_end(&prog, rc == 0);
	if (rc < 0) {
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

const struct cli_cmd cli_cmds_tenants[] = {
    {"tenant", "create", cmd_tenant_create, CLI_NEED_DB,
     "SLUG [--name NAME] [--plan PLAN] [--key KEYNAME] [--admin ADMINNAME]"
     " [--isolation shared|dedicated [--db-host HOST] [--db-port PORT]]",
     "create a tenant, with its first API key and tenant_admin (password on stdin), all or none"},
    {"tenant", "list", cmd_tenant_list, CLI_NEED_DB, "", "list tenants"},
    {"tenant", "move", cmd_tenant_move, CLI_NEED_DB | CLI_NEED_SECRETS,
     "TENANT --to dedicated|shared [--db-host HOST] [--db-port PORT] [--wait-seconds N]"
     " [--drain-seconds N] [--progress] | TENANT --abort",
     "move a tenant's data between the shared database and one of its own"},
    {"tenant", "show", cmd_tenant_show, CLI_NEED_DB, "TENANT", "show one tenant"},
    {"tenant", "suspend", cmd_tenant_suspend, CLI_NEED_DB, "TENANT [--reason TEXT]",
     "suspend a tenant (its API calls are refused)"},
    {"tenant", "resume", cmd_tenant_resume, CLI_NEED_DB, "TENANT", "resume a tenant"},
};
const size_t cli_ncmds_tenants = ARRAY_SIZE(cli_cmds_tenants);
