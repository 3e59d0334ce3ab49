/*
 * export.c: a tenant's data as an archive (see export.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/progress.h"
#include "common/tar.h"
#include "enforce/limits.h"
#include "store/lifecycle.h"
#include "store/store.h"
#include "tenancy/export.h"

#define EXPORT_PAGE 2000
/* rows of a table between two "read" progress reports */
#define EXPORT_PROGRESS_ROWS 1000

/* One file of the archive being spooled: its temp file, size, rows and digest. */
struct export_file {
	FILE *f;
	int64_t bytes, rows, lines;
	crypto_hash_sha256_state sha;
	int failed;
	const struct progress *pg; /* told every EXPORT_PROGRESS_ROWS lines */
	const char *table;
};

static int export_line(void *ctx, const char *json, size_t len)
{
	struct export_file *x = ctx;

	if (fwrite(json, 1, len, x->f) != len || fputc('\n', x->f) == EOF) {
		x->failed = 1;
		return -1;
	}
	crypto_hash_sha256_update(&x->sha, (const unsigned char *)json, len);
	crypto_hash_sha256_update(&x->sha, (const unsigned char *)"\n", 1);
	x->bytes += (int64_t)len + 1;
	if (++x->lines % EXPORT_PROGRESS_ROWS == 0)
		progress_report(x->pg, "read", x->table, x->lines, -1);
	return 0;
}

/* tenant.json: the tenant and every tenant-scope limit with its source (no secrets). */
static json_t *export_settings(struct store *st, const struct tenant *t)
{
	struct limits *lim = malloc(sizeof(*lim));
	const struct limit_def *d = limit_defs();
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I}", "id", (json_int_t)t->id,
	                      "slug", t->slug, "name", t->name, "plan", t->plan, "status",
	                      t->status == TENANT_ACTIVE ? "active" : "suspended", "isolation_mode",
	                      t->isolation, "created", (json_int_t)t->created_at);
	json_t *l = json_object();

	if (lim == NULL || o == NULL || l == NULL || limits_resolve(st, t->id, 0, lim) != ST_OK)
		goto fail;
	if (t->status != TENANT_ACTIVE &&
	    json_object_set_new(o, "suspended_reason", json_string(t->suspended_reason)) < 0)
		goto fail;
	for (int i = 0; i < LIM__MAX; i++) {
		if (!(d[i].scopes & LSB(LS_TENANT)))
			continue;
		if (json_object_set_new(l, d[i].name,
		                        json_pack("{s:s, s:s}", "value", lim->v[i].text, "source",
		                                  limit_scope_name(lim->v[i].source))) < 0)
			goto fail;
	}
	free(lim);
	if (json_object_set_new(o, "limits", l) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
fail:
	free(lim);
	json_decref(o);
	json_decref(l);
	return NULL;
}

int tenant_export(struct store *st, const struct tenant *t, FILE *out, json_t *manifest,
                  const struct progress *pg, char *err, size_t cap)
{
	size_t n;
	const struct life_table *tabs = store_life_tables(&n);
	struct export_file *x = calloc(n, sizeof(*x));
	json_t *files = json_array(), *settings = NULL;
	char *text = NULL, dir[80], name[200];
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	int64_t now = (int64_t)time(NULL);
	int rc = -1;

	snprintf(dir, sizeof(dir), "%s-export", t->slug);
	if (x == NULL || files == NULL) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		x[i].f = tmpfile();
		if (x[i].f == NULL) {
			snprintf(err, cap, "cannot create a temporary file: %s", strerror(errno));
			goto out;
		}
		crypto_hash_sha256_init(&x[i].sha);
		x[i].pg = pg;
		x[i].table = tabs[i].from;
		if (store_life_export(st, &tabs[i], t->id, EXPORT_PAGE, export_line, &x[i],
		                      &x[i].rows) != ST_OK ||
		    x[i].failed) {
			snprintf(err, cap, "cannot export %s of tenant '%s': %s", tabs[i].from,
			         t->slug,
			         x[i].failed ? "temporary file write failed" : "database error");
			goto out;
		}
		progress_report(pg, "read", tabs[i].from, x[i].rows, -1);
		crypto_hash_sha256_final(&x[i].sha, digest);
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		if (json_array_append_new(files,
		                          json_pack("{s:s, s:I, s:I, s:s}", "name", tabs[i].file,
		                                    "rows", (json_int_t)x[i].rows, "bytes",
		                                    (json_int_t)x[i].bytes, "sha256", hex)) < 0) {
			snprintf(err, cap, "out of memory");
			goto out;
		}
	}
	settings = export_settings(st, t);
	if (settings == NULL) {
		snprintf(err, cap, "cannot read the settings of tenant '%s'", t->slug);
		goto out;
	}
	if (json_object_set_new(manifest, "format", json_string(TENANT_EXPORT_FORMAT)) < 0 ||
	    json_object_set_new(manifest, "tenant_id", json_integer(t->id)) < 0 ||
	    json_object_set_new(manifest, "tenant", json_string(t->slug)) < 0 ||
	    json_object_set_new(manifest, "created", json_integer(now)) < 0 ||
	    json_object_set(manifest, "files", files) < 0) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	/* manifest.json and tenant.json first, then the data files */
	errno = 0;
	text = json_dumps(manifest, JSON_INDENT(2));
	snprintf(name, sizeof(name), "%s/manifest.json", dir);
	if (text == NULL || tar_add_data(out, name, text, strlen(text), now) < 0)
		goto write_failed;
	free(text);
	text = json_dumps(settings, JSON_INDENT(2));
	snprintf(name, sizeof(name), "%s/tenant.json", dir);
	if (text == NULL || tar_add_data(out, name, text, strlen(text), now) < 0)
		goto write_failed;
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/%s", dir, tabs[i].file);
		if (fflush(x[i].f) != 0 || fseek(x[i].f, 0, SEEK_SET) != 0 ||
		    tar_add_stream(out, name, x[i].f, x[i].bytes, now) < 0)
			goto write_failed;
		progress_report(pg, "write", tabs[i].file, (int64_t)i + 1, (int64_t)n);
	}
	if (tar_finish(out) < 0)
		goto write_failed;
	rc = 0;
	goto out;
write_failed:
	snprintf(err, cap, "cannot write the archive: %s",
	         errno ? strerror(errno) : "out of memory");
out:
	free(text);
	json_decref(settings);
	json_decref(files);
	for (size_t i = 0; x && i < n; i++)
		if (x[i].f)
			fclose(x[i].f);
	free(x);
	return rc;
}
