/*
 * page_static.c: the dashboard's stylesheet, script and icon, from
 * conf.static_dir.
 *
 * DESIGN
 * Only plain file names ([a-z0-9_-] and one dot) with a known extension are
 * served, so a request cannot leave static_dir. Files are read on each
 * request (they are small and in the page cache) and may be cached by the
 * browser for five minutes. /favicon.ico (what browsers ask for by
 * themselves, at the top of the mount) is static_dir/favicon.ico, cached for
 * a day; the pages name favicon.svg in their head.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"

#define STATIC_MAX_BYTES (512 * 1024)

/* The Content-Type of a servable file name, or NULL. */
static const char *static_type(const char *name)
{
	const char *dot = strchr(name, '.');
	size_t n = strlen(name);

	if (n == 0 || n > 64 || dot == NULL || dot == name || strchr(dot + 1, '.'))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return NULL;
	}
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".ico") == 0)
		return "image/x-icon";
	return NULL;
}

/* Send the file name of static_dir (404 when not servable or absent) with Cache-Control cache. */
static void static_send(struct req *r, const char *name, const char *cache)
{
	const char *type = static_type(name);
	char path[512];
	char *data = NULL;
	FILE *f = NULL;
	long n;

	if (type == NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", r->conf->static_dir, name) >=
	        sizeof(path) ||
	    (f = fopen(path, "rb")) == NULL) {
		dash_send(r, 404, "text/plain; charset=utf-8", "no-store", "not found\n", 10);
		return;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > STATIC_MAX_BYTES ||
	    fseek(f, 0, SEEK_SET) != 0 || (data = malloc((size_t)n + 1)) == NULL ||
	    fread(data, 1, (size_t)n, f) != (size_t)n) {
		dash_send(r, 500, "text/plain; charset=utf-8", "no-store", "unreadable\n", 11);
		goto out;
	}
	dash_send(r, 200, type, cache, data, (size_t)n);
out:
	free(data);
	fclose(f);
}

PAGE_FN(page_static)
{
	(void)id;
	static_send(r, m->params[0], "public, max-age=300");
}

PAGE_FN(page_favicon)
{
	(void)id;
	(void)m;
	static_send(r, "favicon.ico", "public, max-age=86400");
}
