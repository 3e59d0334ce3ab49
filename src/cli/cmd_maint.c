/*
 * cmd_maint.c: agenthostctl master-key init, migrate, reap, purge,
 * verify-isolation, tenant export and tenant offboard: the commands that
 * keep the installation and the tenants' data in order, most of them run
 * from cron.
 *
 * DESIGN
 * Each does what a server process also does on its own (journals, the
 * reaper, housekeeping) or what only an operator decides (an export, an
 * offboarding, erasure past its date). One tenant that fails (its database
 * down) is reported and counted; the others are still done, and the exit
 * status is then 1. An archive is written beside its target and renamed,
 * so a reader never sees half of one.
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
#include "common/conf.h"
#include "crypto/secrets.h"
#include "enforce/admit.h"
#include "enforce/limits.h"
#include "exec/ledger.h"
#include "store/admission.h"
#include "store/lifecycle.h"
#include "store/projects.h"
#include "store/tenantdb.h"
#include "tenancy/export.h"

#define CLI_PURGE_BATCH 1000

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

/*
 * Purge one tenant's executions past its retention; *purged gets the count,
 * pg hears "purge" (rows so far) after each batch.
 */
static int cli_purge_tenant(struct cli *c, int64_t tenant_id, int batch, int dry_run,
                            const struct progress *pg, json_t *report, int64_t *purged)
{
	struct limits *lim = malloc(sizeof(*lim));
	int64_t days, n = 0, got;
	char item[32];
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
			snprintf(item, sizeof(item), "tenant %" PRId64, tenant_id);
			progress_report(pg, "purge", item, n, -1);
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

/* Erase every tenant whose offboarding period has passed; pg hears "erase" per tenant. */
static int cli_erase_due(struct cli *c, int batch, int dry_run, const struct progress *pg,
                         json_t *erased)
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
		progress_report(pg, "erase", t.slug, (int64_t)i + 1, (int64_t)due.n);
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
	int show_progress = cli_flag(&argc, argv, "progress");
	struct cli_progress prog;
	const struct progress *pg = NULL;
	char err[256], item[32];
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
	if (rc == CLI_OK)
		pg = cli_progress_start(&prog, "purge", show_progress);
	/* one tenant that cannot be purged (its database down) does not stop the others */
	for (size_t i = 0; rc == CLI_OK && i < ids.n; i++) {
		n = 0;
		snprintf(item, sizeof(item), "tenant %" PRId64, ids.id[i]);
		progress_report(pg, "tenant", item, (int64_t)i + 1, (int64_t)ids.n);
		if (cli_purge_tenant(c, ids.id[i], (int)batch, dry_run, pg, report, &n) != CLI_OK)
			failed++;
		total += n;
	}
	if (rc == CLI_OK && !opts[0].value &&
	    cli_erase_due(c, (int)batch, dry_run, pg, erased) != CLI_OK)
		failed++;
	/* and what admission and the dashboard no longer need (every server does it each minute
	 * too) */
	if (rc == CLI_OK && !opts[0].value && !dry_run) {
		progress_report(pg, "housekeeping", NULL, 0, -1);
		if (admit_set_timezone(c->conf->budget_timezone, err, sizeof(err)) < 0)
			rc = cli_error("budget_timezone: %s", err);
		else if (admit_housekeep(c->st, (int)batch, &housekept) != ST_OK)
			rc = cli_error("database error while deleting expired counters");
	}
	if (pg != NULL)
		cli_progress_end(&prog, rc == CLI_OK && failed == 0);
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
 * terminal) and audit it; manifest gets the archive's manifest. The
 * progress (agenthostctl(8)) is shown as what, in JSON lines when
 * show_progress.
 */
static int cli_export_to(struct cli *c, const struct tenant *t, const char *path, json_t *manifest,
                         const char *what, int show_progress)
{
	char tmp[4096], target[32], err[256];
	struct cli_progress prog;
	const struct progress *pg;
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
	pg = cli_progress_start(&prog, what, show_progress);
	rc = tenant_export(c->st, t, out, manifest, pg, err, sizeof(err)) == 0 ? CLI_OK : CLI_FAIL;
	cli_progress_end(&prog, rc == CLI_OK);
	if (rc != CLI_OK)
		cli_error("%s", err);
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
	int show_progress = cli_flag(&argc, argv, "progress");
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
	rc = cli_export_to(c, &t, opts[0].value, manifest, "tenant export", show_progress);
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
	int show_progress = cli_flag(&argc, argv, "progress");
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
	if (opts[2].value && !valid_text(opts[2].value, 200, 0))
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
	rc = manifest
	         ? cli_export_to(c, &t, opts[0].value, manifest, "tenant offboard", show_progress)
	         : cli_error("out of memory");
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

/*
 * Provider credentials that do not open with the master key (tampered, or not
 * sealed): the tenant's own (project_id 0) and each of its projects'.
 */
struct cli_unsealed {
	int64_t tenant_id, project_id, bad;
	struct cli_ids projects; /* the tenant's projects (their ids), read before their keys */
};

static int cli_unsealed_cb(void *ctx, const char *provider, const struct sealed_cred *sc)
{
	struct cli_unsealed *u = ctx;
	char plain[SECRETS_MAX_PLAIN + 1];
	int rc;

	rc = u->project_id
	         ? secrets_open_project(u->tenant_id, u->project_id, provider, sc->version,
	                                sc->nonce, sc->ct, sc->ct_len, plain, sizeof(plain))
	         : secrets_open(u->tenant_id, provider, sc->version, sc->nonce, sc->ct, sc->ct_len,
	                        plain, sizeof(plain));
	if (rc != 0)
		u->bad++;
	sodium_memzero(plain, sizeof(plain));
	return 0;
}

/* project_cb: remember one of the tenant's projects (ctx: struct cli_unsealed). */
static int cli_unsealed_project(void *ctx, const struct project *p)
{
	struct cli_unsealed *u = ctx;
	struct tenant as = {.id = p->id};

	return cli_ids_add(&u->projects, &as) < 0;
}

/* Count the unopenable credentials of tenant_id and of its projects into u. ST_OK or ST_ERR. */
static int cli_unsealed_tenant(struct store *st, int64_t tenant_id, struct cli_unsealed *u)
{
	u->tenant_id = tenant_id;
	u->project_id = 0;
	u->projects.n = 0;
	if (store_cred_list(st, tenant_id, cli_unsealed_cb, u) != ST_OK ||
	    store_project_list(st, tenant_id, cli_unsealed_project, u) != ST_OK)
		return ST_ERR;
	for (size_t i = 0; i < u->projects.n; i++) {
		u->project_id = u->projects.id[i];
		if (store_pcred_list(st, tenant_id, u->project_id, cli_unsealed_cb, u) != ST_OK)
			return ST_ERR;
	}
	u->project_id = 0;
	return ST_OK;
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
	int show_progress = cli_flag(&argc, argv, "progress");
	struct cli_progress prog;
	const struct progress *pg = NULL;
	struct tenant t;
	char item[32];
	size_t n, npos;
	int rc, started = 0;

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
	pg = cli_progress_start(&prog, "verify-isolation", show_progress);
	started = 1;
	checks = store_life_checks(&n);
	for (size_t i = 0; i < n; i++) {
		progress_report(pg, "check", checks[i].name, (int64_t)i + 1, (int64_t)n);
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
		snprintf(item, sizeof(item), "tenant %" PRId64, ids.id[i]);
		progress_report(pg, "credentials", item, (int64_t)i + 1, (int64_t)ids.n);
		if (cli_unsealed_tenant(c->st, ids.id[i], &u) != ST_OK)
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
		if (store_tdb_verify(c->st, tid, &o, cli_tdb_finding, &f, pg, err, sizeof(err)) !=
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
	                           "provider credentials (a tenant's or a project's) that do not"
	                           " decrypt with the master key bound to their own tenant and"
	                           " project (tampered, copied or not sealed)")) < 0) {
		rc = cli_error("out of memory");
		goto done;
	}
	cli_progress_end(&prog, 1);
	started = 0;
	rc = cli_emit(cli_pack("{s:O, s:I, s:s}", "checks", out, "findings", (json_int_t)findings,
	                       "scope", tid ? "tenant" : "all"));
	if (rc == CLI_OK && findings > 0)
		rc = CLI_FAIL;
done:
	if (started)
		cli_progress_end(&prog, 0);
	json_decref(out);
	free(ids.id);
	free(u.projects.id);
	return rc;
}

const struct cli_cmd cli_cmds_maint[] = {
    {"master-key", "init", cmd_master_key_init, 0, "[PATH]",
     "create the master key file if missing and check it"},
    {"migrate", NULL, cmd_migrate, CLI_NEED_DB, "[--sql-dir DIR]", "apply pending SQL migrations"},
    {"reap", NULL, cmd_reap, CLI_NEED_DB, "",
     "write what ended processes left in their journals, then expire reservations whose "
     "process died (billed at their full amount)"},
    {"purge", NULL, cmd_purge, CLI_NEED_DB,
     "[--tenant TENANT] [--batch N] [--dry-run] [--progress]",
     "delete executions past retention_days and erase offboarded tenants past their date"},
    {"verify-isolation", NULL, cmd_verify_isolation, CLI_NEED_DB | CLI_NEED_SECRETS,
     "[--tenant TENANT] [--progress]",
     "check tenant isolation and secret storage; exit 1 on any finding"},
    {"tenant", "export", cmd_tenant_export, CLI_NEED_DB, "TENANT --out FILE|- [--progress]",
     "write all of a tenant's data (no secrets) as a tar of JSON lines files"},
    {"tenant", "offboard", cmd_tenant_offboard, CLI_NEED_DB,
     "TENANT (--out FILE [--days N] [--reason TEXT] [--progress] | --undo)",
     "suspend, export, and erase after N days (default: retention, at least 30); --undo"},
};
const size_t cli_ncmds_maint = ARRAY_SIZE(cli_cmds_maint);
