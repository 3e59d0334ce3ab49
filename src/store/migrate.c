/*
 * migrate.c: apply the numbered SQL files in sql/ (store_migrate).
 *
 * DESIGN
 * A migration is a file named NNN_name.sql (NNN: decimal digits, the version).
 * The versions already applied are rows of schema_migrations; the others are
 * applied in increasing version order, each sent whole as one multi-statement
 * query (multi-statement mode is switched on for that query only and off
 * again, so no other store query can ever carry a second statement), then
 * recorded. DDL commits implicitly in MariaDB, so a file is not atomic: every
 * migration is written to be safe to run again (IF NOT EXISTS, upserts) and a
 * failure names the file and the statement number for the operator to fix
 * and re-run.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/store.h"

#define MIG_MAX_FILES 1000
#define MIG_MAX_BYTES (4L * 1024 * 1024)

static const char sql_ensure[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 " version INT NOT NULL PRIMARY KEY,"
                                 " name VARCHAR(200) NOT NULL,"
                                 " applied_at DATETIME(6) NOT NULL"
                                 ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
static const char sql_list[] = "SELECT version FROM schema_migrations";
static const char sql_insert[] = "INSERT INTO schema_migrations (version, name, applied_at)"
                                 " VALUES (?, ?, UTC_TIMESTAMP(6))";

struct mig_file {
	int version;
	char name[256];
};

/* Order files by version. */
static int mig_cmp(const void *a, const void *b)
{
	const struct mig_file *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Parse "NNN_name.sql" into its version; -1 when the name is not a migration. */
static int mig_version(const char *name)
{
	size_t len = strlen(name), i = 0;
	int v = 0;

	if (len < 6 || strcmp(name + len - 4, ".sql") != 0)
		return -1;
	while (isdigit((unsigned char)name[i])) {
		if (v > 99999999)
			return -1;
		v = v * 10 + (name[i] - '0');
		i++;
	}
	if (i == 0 || name[i] != '_')
		return -1;
	return v;
}

/* Read path whole into b; 0 or -1 with err. */
static int mig_read(const char *path, struct buf *b, char *err, size_t errlen)
{
	char chunk[8192];
	size_t n;
	FILE *f;
	int rc = -1;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > (size_t)MIG_MAX_BYTES) {
			snprintf(err, errlen, "%s: larger than %ld bytes", path, MIG_MAX_BYTES);
			goto out;
		}
		if (buf_append(b, chunk, n)) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

/*
 * Run sql (several statements) on st's connection. 0, or -1 with err naming
 * file and the failing statement (counted from 1).
 */
static int mig_run(struct store *st, const char *file, const char *sql, size_t len, char *err,
                   size_t errlen)
{
	MYSQL *db = st->db;
	MYSQL_RES *res;
	int n = 1, status, rc = -1;

	if (mysql_set_server_option(db, MYSQL_OPTION_MULTI_STATEMENTS_ON)) {
		snprintf(err, errlen, "%s: %s", file, mysql_error(db));
		return -1;
	}
	if (mysql_real_query(db, sql, (unsigned long)len)) {
		snprintf(err, errlen, "%s: statement 1: %s", file, mysql_error(db));
		goto out;
	}
	for (;;) {
		res = mysql_store_result(db);
		if (res)
			mysql_free_result(res);
		else if (mysql_field_count(db) != 0) {
			snprintf(err, errlen, "%s: statement %d: %s", file, n, mysql_error(db));
			goto out;
		}
		status = mysql_next_result(db);
		if (status < 0)
			break;
		n++;
		if (status > 0) {
			snprintf(err, errlen, "%s: statement %d: %s", file, n, mysql_error(db));
			goto out;
		}
	}
	rc = 0;
out:
	if (mysql_set_server_option(db, MYSQL_OPTION_MULTI_STATEMENTS_OFF) && rc == 0) {
		snprintf(err, errlen, "%s: %s", file, mysql_error(db));
		rc = -1;
	}
	return rc;
}

/* Collect the migration files of dir, sorted; 0 or -1 with err. */
static int mig_scan(const char *dir, struct mig_file **files_out, size_t *n_out, char *err,
                    size_t errlen)
{
	struct mig_file *files = NULL;
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;
	int v, rc = -1;

	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	files = calloc(MIG_MAX_FILES, sizeof(*files));
	if (files == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		v = mig_version(de->d_name);
		if (v < 0)
			continue;
		if (n == MIG_MAX_FILES) {
			snprintf(err, errlen, "%s: more than %d migrations", dir, MIG_MAX_FILES);
			goto out;
		}
		files[n].version = v;
		if (util_strlcpy(files[n].name, de->d_name, sizeof(files[n].name))) {
			snprintf(err, errlen, "%s: file name too long", dir);
			goto out;
		}
		n++;
	}
	qsort(files, n, sizeof(*files), mig_cmp);
	for (i = 1; i < n; i++) {
		if (files[i].version == files[i - 1].version) {
			snprintf(err, errlen, "%s and %s share version %d", files[i - 1].name,
			         files[i].name, files[i].version);
			goto out;
		}
	}
	*files_out = files;
	*n_out = n;
	files = NULL;
	rc = 0;
out:
	free(files);
	closedir(d);
	return rc;
}

/* 1 when version is one of applied[n]. */
static int mig_applied(const int *applied, size_t n, int version)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (applied[i] == version)
			return 1;
	return 0;
}

/*
 * Apply every migration of dir not yet recorded, in order, printing
 * "applied NNN_name.sql" for each. ST_OK, or ST_ERR with err naming the file
 * and the database's message.
 */
int store_migrate_dir(struct store *st, const char *dir, int quiet, char *err, size_t errlen)
{
	struct mig_file *files = NULL;
	struct buf path = BUF_INIT, sql = BUF_INIT;
	struct db_out out;
	MYSQL_BIND in[2];
	unsigned long nlen;
	int *applied = NULL, v, r, rc = ST_ERR;
	size_t n_files = 0, n_applied = 0, i;

	if (mig_scan(dir, &files, &n_files, err, errlen))
		goto out;
	if (db_exec(st, Q_MIG_ENSURE, sql_ensure, NULL, NULL, __func__) != ST_OK) {
		snprintf(err, errlen, "cannot create schema_migrations: %s", st->last_error);
		goto out;
	}
	applied = calloc(MIG_MAX_FILES + 1, sizeof(*applied));
	if (applied == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	db_out_init(&out);
	db_out_int(&out, &v);
	if (db_exec(st, Q_MIG_LIST, sql_list, NULL, &out, __func__) != ST_OK) {
		snprintf(err, errlen, "cannot read schema_migrations: %s", st->last_error);
		goto out;
	}
	while ((r = db_fetch(st, Q_MIG_LIST, &out, __func__)) == 1 && n_applied < MIG_MAX_FILES)
		applied[n_applied++] = v;
	db_end(st, Q_MIG_LIST, &out);
	if (r < 0) {
		snprintf(err, errlen, "cannot read schema_migrations");
		goto out;
	}
	for (i = 0; i < n_files; i++) {
		if (mig_applied(applied, n_applied, files[i].version))
			continue;
		buf_reset(&path);
		buf_reset(&sql);
		if (buf_printf(&path, "%s/%s", dir, files[i].name)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (mig_read(path.data, &sql, err, errlen))
			goto out;
		if (st->db == NULL && db_connect(st, err, errlen) < 0)
			goto out;
		if (sql.len > 0 && mig_run(st, files[i].name, sql.data, sql.len, err, errlen))
			goto out;
		db_in_int(&in[0], &files[i].version);
		db_in_str(&in[1], files[i].name, &nlen);
		if (db_exec(st, Q_MIG_INSERT, sql_insert, in, NULL, __func__) != ST_OK) {
			snprintf(err, errlen, "%s: applied but not recorded: %s", files[i].name,
			         st->last_error);
			goto out;
		}
		if (!quiet) {
			printf("applied %s\n", files[i].name);
			fflush(stdout);
		}
	}
	rc = ST_OK;
out:
	buf_free(&path);
	buf_free(&sql);
	free(applied);
	free(files);
	return rc;
}

int store_migrate(struct store *st, const char *dir, char *err, size_t errlen)
{
	return store_migrate_dir(st, dir, 0, err, errlen);
}
