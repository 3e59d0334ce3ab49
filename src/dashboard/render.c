/*
 * render.c: pages (ClearSilver), forms, cookies, admin sessions (see render.h).
 *
 * DESIGN
 * The only file that includes ClearSilver. The template cache maps a file
 * name to its text, read once under a mutex and never changed afterwards;
 * the CS loader hands ClearSilver a fresh malloc'd copy each time because
 * cs_parse_* takes ownership. A struct page owns one request's HDF; HDF and
 * CSPARSE objects are destroyed before the request ends. Only file names
 * made of [a-z0-9_.] are loaded, so an include cannot leave the template
 * directory. The error pages a request may end on (dash_fails) are written
 * once, here.
 *
 * ClearSilver's cs_config.h defines PACKAGE_* as empty strings, which clash
 * with autoconf's config.h: ClearSilver comes first, its PACKAGE_* go, then
 * config.h.
 */
#include <ClearSilver.h>

#undef PACKAGE_BUGREPORT
#undef PACKAGE_NAME
#undef PACKAGE_STRING
#undef PACKAGE_TARNAME
#undef PACKAGE_URL
#undef PACKAGE_VERSION

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <qrencode.h>
#include <sodium.h>

#include "common/buf.h"
#include "common/cidr.h"
#include "common/conf.h"
#include "common/log.h"
#include "crypto/secrets.h"
#include "enforce/authorize.h"
#include "enforce/limits.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/store.h"

#define RENDER_MAX_TEMPLATES 128 /* kept in memory; past it, read from the file each time */
#define RENDER_MAX_TEMPLATE_BYTES (256 * 1024)

struct render_tmpl {
	char name[64];
	char *text;
};

static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;
static struct render_tmpl render_cache[RENDER_MAX_TEMPLATES];
static size_t render_n;

static int dash_disabled; /* set once in dash_init, before threads start */
static __thread struct admin_session *dash_current;
static __thread struct admin_session dash_current_buf;

/* Whether name is a plain template file name. */
static int render_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= sizeof(render_cache[0].name) || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/* Read dir/name whole into a new NUL-terminated string; NULL on failure (logged). */
static char *render_read_file(const char *dir, const char *name, size_t *len)
{
	char path[512];
	char *text = NULL;
	FILE *f = NULL;
	long n;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		goto out;
	f = fopen(path, "rb");
	if (f == NULL) {
		log_error("dashboard: cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > RENDER_MAX_TEMPLATE_BYTES ||
	    fseek(f, 0, SEEK_SET) != 0) {
		log_error("dashboard: cannot size %s", path);
		goto out;
	}
	text = malloc((size_t)n + 1);
	if (text == NULL)
		goto out;
	if (fread(text, 1, (size_t)n, f) != (size_t)n) {
		log_error("dashboard: cannot read %s", path);
		free(text);
		text = NULL;
		goto out;
	}
	text[n] = '\0';
	if (len)
		*len = (size_t)n;
out:
	if (f)
		fclose(f);
	return text;
}

/* A fresh malloc'd copy of template name (cached); NULL when missing. */
static char *render_template_copy(const struct conf *c, const char *name)
{
	char *copy = NULL;
	const char *text = NULL;

	if (!render_name_ok(name))
		return NULL;
	pthread_mutex_lock(&render_lock);
	for (size_t i = 0; i < render_n; i++) {
		if (strcmp(render_cache[i].name, name) == 0) {
			text = render_cache[i].text;
			break;
		}
	}
	if (text == NULL) {
		char *t = render_read_file(c->template_dir, name, NULL);

		if (t && render_n < RENDER_MAX_TEMPLATES) {
			snprintf(render_cache[render_n].name, sizeof(render_cache[0].name), "%s",
			         name);
			render_cache[render_n].text = t;
			render_n++;
			text = t;
		} else if (t) {
			/* The cache is full (more templates than it was sized for): this
			 * page still renders, from the file, uncached. */
			pthread_mutex_unlock(&render_lock);
			return t;
		}
	}
	if (text)
		copy = strdup(text);
	pthread_mutex_unlock(&render_lock);
	return copy;
}

/* CSFILELOAD: templates come from the cache. */
static NEOERR *render_load(void *ctx, HDF *hdf, const char *filename, char **contents)
{
	(void)hdf;
	*contents = render_template_copy(ctx, filename);
	if (*contents == NULL)
		return nerr_raise(NERR_NOT_FOUND, "template %s not found", filename);
	return STATUS_OK;
}

/* CSOUTFUNC: append to a struct buf. */
static NEOERR *render_out(void *ctx, char *s)
{
	if (buf_puts(ctx, s) < 0)
		return nerr_raise(NERR_NOMEM, "out of memory");
	return STATUS_OK;
}

/* Log a NEOERR's message and free it. */
static void render_log_err(const char *what, NEOERR *err)
{
	STRING s;

	string_init(&s);
	nerr_error_string(err, &s);
	log_error("dashboard: %s: %s", what, s.buf ? s.buf : "unknown error");
	string_clear(&s);
	nerr_ignore(&err);
}

/* ------------------------------------------------------------------ sending */

/* Send body as text/html with Content-Length. */
static void render_send(struct req *r, int status, const char *ctype, const char *body, size_t n)
{
	dash_send(r, status, ctype, "no-store", body, n);
}

void dash_send(struct req *r, int status, const char *ctype, const char *cache, const char *body,
               size_t n)
{
	struct buf h = BUF_INIT;
	const char *st = status == 200   ? "OK"
	                 : status == 303 ? "See Other"
	                 : status == 403 ? "Forbidden"
	                 : status == 404 ? "Not Found"
	                 : status == 429 ? "Too Many Requests"
	                 : status == 400 ? "Bad Request"
	                 : status == 401 ? "Unauthorized"
	                 : status == 503 ? "Service Unavailable"
	                                 : "Error";

	if (r->headers_sent)
		return;
	r->headers_sent = 1;
	r->status = status;
	buf_printf(
	    &h,
	    "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nX-Request-Id: "
	    "%s\r\nCache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\nReferrer-Policy: same-origin\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src 'self'; script-src 'self'; "
	    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'\r\n",
	    status, st, ctype, n, r->request_id, cache);
	buf_append(&h, buf_str(&r->headers), r->headers.len);
	buf_puts(&h, "\r\n");
	if (h.data == NULL || r->write(r->io, h.data, h.len) < 0 ||
	    (n && r->write(r->io, body, n) < 0))
		r->client_gone = 1;
	buf_free(&h);
}

/* The bare error page, when even the error template cannot be rendered. */
static void render_plain_error(struct req *r, int status, const char *message)
{
	struct buf b = BUF_INIT;
	char *esc = NULL;

	if (neos_html_escape(message, (int)strlen(message), &esc) != STATUS_OK)
		esc = NULL;
	buf_printf(&b,
	           "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error</title>"
	           "</head><body><h1>%d</h1><p>%s</p></body></html>\n",
	           status, esc ? esc : "error");
	free(esc);
	render_send(r, status, "text/html; charset=utf-8", buf_str(&b), b.len);
	buf_free(&b);
}

/* Render tmpl with hdf and send it; -1 (nothing sent) on failure. Keeps hdf. */
static int render_to(struct req *r, int status, HDF *hdf, const char *tmpl)
{
	struct buf out = BUF_INIT;
	CSPARSE *cs = NULL;
	NEOERR *err;
	char *text = NULL;
	int rc = -1;

	err = cs_init(&cs, hdf);
	if (err != STATUS_OK) {
		render_log_err("cs_init", err);
		goto out;
	}
	err = cgi_register_strfuncs(cs);
	if (err != STATUS_OK) {
		render_log_err("cgi_register_strfuncs", err);
		goto out;
	}
	cs_register_fileload(cs, (void *)r->conf, render_load);
	text = render_template_copy(r->conf, tmpl);
	if (text == NULL) {
		log_error("dashboard: template %s missing", tmpl);
		goto out;
	}
	err = cs_parse_string(cs, text, strlen(text));
	text = NULL; /* owned by cs now, even on failure */
	if (err != STATUS_OK) {
		render_log_err(tmpl, err);
		goto out;
	}
	err = cs_render(cs, &out, render_out);
	if (err != STATUS_OK) {
		render_log_err(tmpl, err);
		goto out;
	}
	render_send(r, status, "text/html; charset=utf-8", buf_str(&out), out.len);
	rc = 0;
out:
	if (out.data) /* the page may hold a secret shown once (see wipe_secrets) */
		sodium_memzero(out.data, out.cap);
	free(text);
	if (cs)
		cs_destroy(&cs);
	buf_free(&out);
	return rc;
}

/*
 * Values shown once (a new API key, a generated password) are put under
 * "Secret." by the pages; they are wiped in place before the HDF is freed,
 * so they do not linger in freed heap memory of a long-lived process.
 */
static void wipe_secrets(HDF *hdf)
{
	for (HDF *n = hdf_obj_child(hdf_get_obj(hdf, "Secret")); n; n = hdf_obj_next(n)) {
		char *v = hdf_obj_value(n);

		if (v)
			sodium_memzero(v, strlen(v));
	}
}

/* ------------------------------------------------------------------ the error pages */

/* The pages a request ends on when something failed, each written once. */
enum dash_fail { DF_NOTFOUND, DF_DATABASE, DF_BUILD, DF_RENDER, DF__MAX };

static const struct {
	int status;
	const char *message; /* DF_NOTFOUND: a format taking what was not found */
} dash_fails[DF__MAX] = {
    [DF_NOTFOUND] = {404, "No such %s."},
    [DF_DATABASE] = {503, "The database is not available; try again shortly."},
    [DF_BUILD] = {500, "The page could not be built."},
    [DF_RENDER] = {500, "The page could not be rendered."},
};

/* The status and message (into msg) of failure f; what for DF_NOTFOUND (NULL: "page"). */
static int dash_fail_page(enum dash_fail f, const char *what, char *msg, size_t cap)
{
	if (f == DF_NOTFOUND)
		snprintf(msg, cap, dash_fails[f].message, what ? what : "page");
	else
		snprintf(msg, cap, "%s", dash_fails[f].message);
	return dash_fails[f].status;
}

/* The failure a store result other than ST_OK stands for. */
static enum dash_fail dash_store_fail(int rc)
{
	return rc == ST_NOTFOUND ? DF_NOTFOUND : DF_DATABASE;
}

/* ------------------------------------------------------------------ pages */

#define PAGE_NAME_MAX 128 /* longest HDF name a page sets */
#define PAGE_MAX_LISTS 48 /* lists one page fills with page_row / page_add (a chart uses 5) */

struct page {
	struct req *r;
	HDF *hdf;               /* NULL when the page could not be started */
	int fail_status;        /* 0, or the status of the sticky error */
	char fail_msg[160];     /* its message */
	char at[PAGE_NAME_MAX]; /* the node names starting with '.' go under */
	struct {
		char name[48]; /* list name, "" when the slot is free */
		int n;         /* rows started in it */
	} lists[PAGE_MAX_LISTS];
};

/* The page of a thread whose page could not be allocated: failed from the start. */
static __thread struct page page_spare;

int page_failed(const struct page *p)
{
	return p->fail_status != 0;
}

/* Make failure f (what: see dash_fail_page) p's sticky error, unless it has one already. */
static void page_fail(struct page *p, enum dash_fail f, const char *what)
{
	if (p->fail_status == 0)
		p->fail_status = dash_fail_page(f, what, p->fail_msg, sizeof(p->fail_msg));
}

void page_nomem(struct page *p)
{
	page_fail(p, DF_BUILD, NULL);
}

void page_unavailable(struct page *p)
{
	page_fail(p, DF_DATABASE, NULL);
}

int page_store(struct page *p, int rc, const char *what)
{
	if (rc == ST_OK)
		return 1;
	page_fail(p, dash_store_fail(rc), what);
	return 0;
}

/* The full HDF name of name on p into out; 0, or -1 with p failed. */
static int page_name(struct page *p, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s", name[0] == '.' ? p->at : "", name);

	if (name[0] == '.' && p->at[0] == '\0') {
		log_error("dashboard: %s: no row or node chosen", name);
		page_fail(p, DF_BUILD, NULL);
		return -1;
	}
	if (n < 0 || (size_t)n >= cap) {
		log_error("dashboard: HDF name %s%s too long", name[0] == '.' ? p->at : "", name);
		page_fail(p, DF_BUILD, NULL);
		return -1;
	}
	return 0;
}

/* Set full name to value without checks; a failure makes the page fail. */
static void page_put(struct page *p, const char *full, const char *value)
{
	NEOERR *err = hdf_set_value(p->hdf, full, value ? value : "");

	if (err != STATUS_OK) {
		render_log_err("hdf_set_value", err);
		page_fail(p, DF_BUILD, NULL);
	}
}

void page_set(struct page *p, const char *name, const char *value)
{
	char full[PAGE_NAME_MAX];

	if (p->fail_status || page_name(p, name, full, sizeof(full)) < 0)
		return;
	if (strncmp(full, "Config.", 7) == 0) { /* the escaping is render.c's */
		log_error("dashboard: a page may not set %s", full);
		page_fail(p, DF_BUILD, NULL);
		return;
	}
	page_put(p, full, value);
}

void page_setf(struct page *p, const char *name, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int rc;

	if (p->fail_status)
		return;
	va_start(ap, fmt);
	rc = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0)
		page_fail(p, DF_BUILD, NULL);
	else
		page_set(p, name, buf_str(&b));
	buf_free(&b);
}

void page_set_qr(struct page *p, const char *name, const char *text)
{
	char key[PAGE_NAME_MAX];
	struct buf b = BUF_INIT;
	QRcode *qr;
	int x, y, side, bad = 0;

	if (p->fail_status)
		return;
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL) {
		log_error("dashboard: no QR code for a %zu-byte text", strlen(text));
		page_fail(p, DF_BUILD, NULL);
		return;
	}
	side = qr->width + 8;
	for (y = 0; y < qr->width; y++)
		for (x = 0; x < qr->width; x++)
			if (qr->data[y * qr->width + x] & 1) /* bit 0: a dark module */
				bad |= buf_printf(&b, "M%d,%dh1v1h-1z", x + 4, y + 4) < 0;
	QRcode_free(qr);
	snprintf(key, sizeof(key), "%s.Size", name);
	page_set_i64(p, key, side);
	snprintf(key, sizeof(key), "%s.Path", name);
	if (bad)
		page_fail(p, DF_BUILD, NULL);
	else
		page_set(p, key, buf_str(&b));
	buf_free(&b);
}

void page_set_i64(struct page *p, const char *name, int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	page_set(p, name, s);
}

/* The slot of list on p (a free one the first time); NULL with p failed when none is left. */
static int *page_list_count(struct page *p, const char *list)
{
	for (size_t i = 0; i < PAGE_MAX_LISTS; i++) {
		if (p->lists[i].name[0] == '\0' &&
		    strlen(list) < sizeof(p->lists[i].name)) { /* first use of list */
			snprintf(p->lists[i].name, sizeof(p->lists[i].name), "%s", list);
			return &p->lists[i].n;
		}
		if (strcmp(p->lists[i].name, list) == 0)
			return &p->lists[i].n;
	}
	log_error("dashboard: list %s: too many lists or too long a name", list);
	page_fail(p, DF_BUILD, NULL);
	return NULL;
}

int page_row(struct page *p, const char *list)
{
	char node[PAGE_NAME_MAX];
	int *n, i;

	if (p->fail_status || (n = page_list_count(p, list)) == NULL)
		return -1;
	i = (*n)++;
	snprintf(node, sizeof(node), "%s.%d", list, i);
	page_at(p, node);
	return p->fail_status ? -1 : i;
}

void page_at(struct page *p, const char *node)
{
	if (p->fail_status)
		return;
	if (strlen(node) >= sizeof(p->at)) {
		log_error("dashboard: HDF node %s too long", node);
		page_fail(p, DF_BUILD, NULL);
		return;
	}
	snprintf(p->at, sizeof(p->at), "%s", node);
}

void page_add(struct page *p, const char *list, const char *value)
{
	char name[PAGE_NAME_MAX];
	int *n;

	if (p->fail_status || (n = page_list_count(p, list)) == NULL)
		return;
	snprintf(name, sizeof(name), "%s.%d", list, (*n)++);
	page_set(p, name, value);
}

struct page *page_new(struct req *r, const char *title, const char *nav)
{
	const struct admin_session *s = dash_current;
	struct page *p = calloc(1, sizeof(*p));
	NEOERR *err;

	if (p == NULL) {
		memset(&page_spare, 0, sizeof(page_spare));
		page_spare.r = r;
		page_fail(&page_spare, DF_BUILD, NULL);
		return &page_spare;
	}
	p->r = r;
	err = hdf_init(&p->hdf);
	if (err != STATUS_OK) {
		render_log_err("hdf_init", err);
		p->hdf = NULL;
		page_fail(p, DF_BUILD, NULL);
		return p;
	}
	/* before anything else and before cs_init: every variable is escaped */
	page_put(p, "Config.VarEscapeMode", "html");
	page_set(p, "Prefix", r->conf->mount_prefix);
	page_set(p, "Page.Title", title);
	if (nav)
		page_set(p, "Page.Nav", nav);
	if (s) {
		page_set(p, "User.Name", s->user.name);
		page_set(p, "User.Role", s->user.role);
		page_set_i64(p, "User.TenantId", s->user.tenant_id);
		page_set(p, "Csrf", s->csrf);
	}
	return p;
}

/* Free p (its secrets wiped first). */
static void page_free(struct page *p)
{
	if (p->hdf) {
		wipe_secrets(p->hdf);
		hdf_destroy(&p->hdf);
	}
	if (p != &page_spare)
		free(p);
}

/* The error page: error.cs, or a bare page when even that cannot be rendered. */
static void render_error(struct req *r, int status, const char *message)
{
	struct page *p = page_new(r, "Error", NULL);

	snprintf(r->reason_code, sizeof(r->reason_code), "dashboard_%d", status);
	page_set_i64(p, "Error.Status", status);
	page_set(p, "Error.Message", message);
	if (p->fail_status || render_to(r, status, p->hdf, "error.cs") < 0)
		render_plain_error(r, status, message);
	page_free(p);
}

void page_finish(struct page *p, int status, const char *tmpl)
{
	char msg[sizeof(p->fail_msg)];

	if (p->fail_status) { /* copied: the error page may reuse page_spare */
		snprintf(msg, sizeof(msg), "%s", p->fail_msg);
		render_error(p->r, p->fail_status, msg);
	} else if (render_to(p->r, status, p->hdf, tmpl) < 0) {
		status = dash_fail_page(DF_RENDER, NULL, msg, sizeof(msg));
		render_error(p->r, status, msg);
	}
	page_free(p);
}

/* ------------------------------------------------------------------ whole answers */

void dash_error(struct req *r, int status, const char *message)
{
	render_error(r, status, message);
}

/* Send the page of failure f. */
static void dash_fail(struct req *r, enum dash_fail f, const char *what)
{
	char msg[160];
	int status = dash_fail_page(f, what, msg, sizeof(msg));

	render_error(r, status, msg);
}

void dash_not_found(struct req *r, const char *what)
{
	dash_fail(r, DF_NOTFOUND, what);
}

void dash_unavailable(struct req *r)
{
	dash_fail(r, DF_DATABASE, NULL);
}

int dash_store_ok(struct req *r, int rc, const char *what)
{
	if (rc == ST_OK)
		return 1;
	dash_fail(r, dash_store_fail(rc), what);
	return 0;
}

void dash_redirect(struct req *r, const char *path)
{
	char loc[512];

	snprintf(loc, sizeof(loc), "%s%s", r->conf->mount_prefix, path);
	resp_header(r, "Location", loc);
	render_send(r, 303, "text/html; charset=utf-8", "", 0);
}

int dash_cookie(const struct req *r, const char *name, char *out, size_t cap)
{
	const char *h = req_header(r, "Cookie");
	size_t nl = strlen(name);

	if (h == NULL)
		return 0;
	while (*h) {
		while (*h == ' ' || *h == ';')
			h++;
		if (strncmp(h, name, nl) == 0 && h[nl] == '=') {
			const char *v = h + nl + 1;
			size_t n = strcspn(v, ";");

			if (n >= cap)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 1;
		}
		h += strcspn(h, ";");
	}
	return 0;
}

void dash_set_cookie(struct req *r, const char *name, const char *value, int max_age)
{
	const char *https = req_param(r, "HTTPS");
	char v[512];

	snprintf(v, sizeof(v), "%s=%s; Path=%s/admin; HttpOnly; SameSite=Strict%s; Max-Age=%d",
	         name, value, r->conf->mount_prefix,
	         https && strcasecmp(https, "on") == 0 ? "; Secure" : "", max_age);
	resp_header(r, "Set-Cookie", v);
}

int dash_form(const struct req *r, const char *name, char *out, size_t cap)
{
	return http_form_value(buf_str(&r->body), r->body.len, name, out, cap);
}

void dash_random_hex(char *out, size_t n)
{
	unsigned char b[64];

	if (n > sizeof(b))
		n = sizeof(b);
	randombytes_buf(b, n);
	sodium_bin2hex(out, 2 * n + 1, b, n);
	sodium_memzero(b, sizeof(b));
}

void dash_token_hash(const char *token, uint8_t hash[32])
{
	secrets_hash_api_key(token, strlen(token), hash);
}

void dash_session_renewed(const char *csrf)
{
	if (dash_current == NULL)
		return;
	snprintf(dash_current_buf.csrf, sizeof(dash_current_buf.csrf), "%s", csrf);
	dash_current_buf.stage = ADMIN_STAGE_FULL;
}

const struct admin_session *dash_session(void)
{
	return dash_current;
}

void dash_clear(void)
{
	dash_current = NULL;
}

int dash_available(struct req *r)
{
	if (!dash_disabled)
		return 1;
	render_plain_error(r, 503,
	                   "The dashboard is not installed on this server (its templates are"
	                   " missing; see template_dir).");
	return 0;
}

/* Whether list (comma separated) names role. */
static int dash_role_listed(const char *list, const char *role)
{
	size_t n = strlen(role);
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		const char *s = p;
		size_t k = len;

		while (k > 0 && (*s == ' ' || *s == '\t'))
			s++, k--;
		while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
			k--;
		if (k == n && memcmp(s, role, n) == 0)
			return 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int dash_policy(struct req *r, const struct admin_user *u, struct dash_policy *out)
{
	struct limits *lim;
	int64_t idle;

	memset(out, 0, sizeof(*out));
	out->idle_s = DASH_IDLE_S;
	out->mfa_required = dash_role_listed(r->conf->dashboard_mfa_roles, u->role);
	if (strcmp(u->role, ADMIN_ROLE_TENANT) != 0 || u->tenant_id <= 0)
		return 0;
	/* large (every limit's text): not on the request's coroutine stack */
	lim = malloc(sizeof(*lim));
	if (lim == NULL || limits_get(r->store, u->tenant_id, 0, lim) < 0) {
		free(lim);
		return -1;
	}
	snprintf(out->ip_allowlist, sizeof(out->ip_allowlist), "%s",
	         lim->v[LIM_DASH_IP_ALLOWLIST].text);
	idle = lim->v[LIM_DASH_SESSION_IDLE_S].num;
	if (idle > 0)
		out->idle_s = idle < DASH_IDLE_MIN_S ? DASH_IDLE_MIN_S : (int)idle;
	if (strcmp(lim->v[LIM_DASH_MFA].text, "required") == 0)
		out->mfa_required = 1;
	free(lim);
	return 0;
}

int dash_policy_addr_ok(struct req *r, const struct dash_policy *pol, const struct admin_user *u)
{
	char ip[64], target[80], msg[200];

	if (pol->ip_allowlist[0] == '\0')
		return 1;
	dash_client_addr(r, ip, sizeof(ip));
	if (ip[0] && cidr_list_contains(pol->ip_allowlist, ip) == 1)
		return 1;
	snprintf(target, sizeof(target), "admin:%s", u->name);
	dash_audit(r, u->tenant_id, "admin.ip_denied", target, "denied", "ip_not_allowed");
	snprintf(msg, sizeof(msg),
	         "Your tenant's dashboard cannot be used from this address (%s). Ask your"
	         " operator to add it to dashboard_ip_allowlist.",
	         ip[0] ? ip : "unknown");
	dash_error(r, 403, msg);
	return 0;
}

/* Where a half-done sign-in continues. */
static const char *dash_step_path(int stage)
{
	return stage == ADMIN_STAGE_ENROL ? "/admin/account" : "/admin/login/code";
}

int dash_authorize(struct req *r, unsigned route_flags)
{
	struct dash_policy pol;
	char token[80], csrf[80];
	uint8_t hash[32];
	int rc;

	dash_current = NULL;
	if (!dash_available(r))
		return -1;
	if (dash_cookie(r, DASH_COOKIE, token, sizeof(token)) != 1 || strlen(token) != 64) {
		dash_redirect(r, "/admin/login");
		return -1;
	}
	dash_token_hash(token, hash);
	/* idle is checked below against the user's policy; the query bounds it by the longest */
	rc = store_admin_session_get(r->store, hash, DASH_MAX_S, DASH_MAX_S, &dash_current_buf);
	if (rc == ST_OK && dash_policy(r, &dash_current_buf.user, &pol) < 0)
		rc = ST_ERR;
	if (rc == ST_OK && (dash_current_buf.idle_s >= pol.idle_s ||
	                    (dash_current_buf.stage != ADMIN_STAGE_FULL &&
	                     dash_current_buf.age_s >= DASH_STEP_MAX_S))) {
		if (store_admin_session_delete(r->store, hash) != ST_OK)
			rc = ST_ERR;
		else
			rc = ST_NOTFOUND;
	}
	if (rc == ST_NOTFOUND) {
		dash_set_cookie(r, DASH_COOKIE, "", 0);
		dash_redirect(r, "/admin/login");
		return -1;
	}
	if (rc != ST_OK) {
		dash_unavailable(r);
		return -1;
	}
	if (!dash_policy_addr_ok(r, &pol, &dash_current_buf.user))
		return -1;
	if (dash_current_buf.stage != ADMIN_STAGE_FULL && !(route_flags & ROUTE_SIGNIN_STEP)) {
		dash_redirect(r, dash_step_path(dash_current_buf.stage));
		return -1;
	}
	if (strcmp(r->method, "POST") == 0) {
		if (dash_form(r, "csrf", csrf, sizeof(csrf)) != 1 ||
		    strlen(csrf) != strlen(dash_current_buf.csrf) ||
		    sodium_memcmp(csrf, dash_current_buf.csrf, strlen(csrf)) != 0) {
			dash_error(r, 403,
			           "The form has expired or did not come from this site. "
			           "Reload the page and try again.");
			return -1;
		}
	}
	dash_current = &dash_current_buf;
	r->tenant_id = dash_current->user.tenant_id;
	return 0;
}

void dash_audit(struct req *r, int64_t tenant_id, const char *action, const char *target,
                const char *outcome, const char *reason_code)
{
	const struct admin_session *s = dash_current;
	struct audit_entry a;
	char ip[64];

	dash_client_addr(r, ip, sizeof(ip));
	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	a.actor_type = "admin";
	a.actor_id = s ? s->user.name : "";
	a.action = action;
	a.target = target;
	a.outcome = outcome;
	a.reason_code = reason_code;
	a.request_id = r->request_id;
	a.ip = ip;
	if (store_audit(r->store, &a) != ST_OK)
		log_warn("dashboard: audit row %s failed", action);
}

int dash_tenant_allowed(struct req *r, int64_t tenant_id)
{
	const struct admin_session *s = dash_current;
	char target[48];

	if (s && strcmp(s->user.role, ADMIN_ROLE_TENANT) != 0)
		return 1;
	if (s && s->user.tenant_id == tenant_id)
		return 1;
	snprintf(target, sizeof(target), "tenant:%lld", (long long)tenant_id);
	dash_audit(r, s ? s->user.tenant_id : 0, "admin.cross_tenant", target, "denied",
	           "not_found");
	dash_not_found(r, "page");
	return 0;
}

int dash_init(const struct conf *c, char *err, size_t cap)
{
	char path[512];
	NEOERR *e = nerr_init();

	if (e != STATUS_OK) {
		nerr_ignore(&e);
		snprintf(err, cap, "ClearSilver failed to initialise");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/header.cs", c->template_dir);
	if (access(path, R_OK) != 0) {
		/* The API does not need the templates: serve it, and say why /admin is off. */
		log_warn("dashboard: disabled: template_dir %s has no readable header.cs (%s)",
		         c->template_dir, strerror(errno));
		dash_disabled = 1;
	}
	return 0;
}

void dash_client_addr(const struct req *r, char *out, size_t cap)
{
	if (authorize_client_addr(r, out, cap) < 0)
		snprintf(out, cap, "%s", "");
}

int dash_query(const struct req *r, const char *name, char *out, size_t cap)
{
	return req_query(r, name, out, cap);
}

int64_t dash_query_id(const struct req *r, const char *name)
{
	char v[24];
	char *end;
	long long n;

	if (req_query(r, name, v, sizeof(v)) != 1 && dash_form(r, name, v, sizeof(v)) != 1)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n <= 0)
		return 0;
	return (int64_t)n;
}

/* Digits of n (>= 0) with thousands separators into out. */
static void fmt_grouped(char *out, size_t cap, unsigned long long n)
{
	char d[32];
	size_t len = (size_t)snprintf(d, sizeof(d), "%llu", n), o = 0;

	for (size_t i = 0; i < len && o + 2 < cap; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = d[i];
	}
	out[o] = '\0';
}

void dash_fmt_count(char *out, size_t cap, int64_t n)
{
	unsigned long long u = n < 0 ? (unsigned long long)(-(n + 1)) + 1 : (unsigned long long)n;

	if (n < 0 && cap > 1) {
		out[0] = '-';
		fmt_grouped(out + 1, cap - 1, u);
	} else {
		fmt_grouped(out, cap, u);
	}
}

void dash_fmt_money(char *out, size_t cap, int64_t micros)
{
	char whole[32];
	const char *sign = micros < 0 ? "-" : "";
	unsigned long long u =
	    micros < 0 ? (unsigned long long)(-(micros + 1)) + 1 : (unsigned long long)micros;

	if (u > 0 && u < 10000) { /* under a cent: four decimals */
		if (u < 100)
			snprintf(out, cap, "%s<$0.0001", sign);
		else
			snprintf(out, cap, "%s$0.%04llu", sign, u / 100);
		return;
	}
	u = (u + 5000) / 10000; /* cents, rounded half up */
	fmt_grouped(whole, sizeof(whole), u / 100);
	snprintf(out, cap, "%s$%s.%02llu", sign, whole, u % 100);
}

void dash_fmt_latency_pct(char *out, size_t cap, const int64_t lat[8], int pct)
{
	static const char *const label[8] = {"≤ 100 ms", "≤ 250 ms", "≤ 500 ms", "≤ 1 s",
	                                     "≤ 2.5 s",  "≤ 5 s",    "≤ 10 s",   "> 10 s"};
	int64_t total = 0, seen = 0;

	for (size_t i = 0; i < 8; i++)
		total += lat[i];
	if (total <= 0) {
		snprintf(out, cap, "–");
		return;
	}
	for (size_t i = 0; i < 8; i++) {
		seen += lat[i];
		/* the first bucket holding the ceil(pct% of total)-th call */
		if (seen * 100 >= total * pct) {
			snprintf(out, cap, "%s", label[i]);
			return;
		}
	}
	snprintf(out, cap, "%s", label[7]);
}

void page_set_money(struct page *p, const char *name, int64_t micros)
{
	char s[48];

	dash_fmt_money(s, sizeof(s), micros);
	page_set(p, name, s);
}

void page_set_count(struct page *p, const char *name, int64_t n)
{
	char s[40];

	dash_fmt_count(s, sizeof(s), n);
	page_set(p, name, s);
}

void page_set_time(struct page *p, const char *name, int64_t unix_s)
{
	char s[40] = "";
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (unix_s > 0 && gmtime_r(&t, &tm))
		strftime(s, sizeof(s), "%Y-%m-%d %H:%M UTC", &tm);
	page_set(p, name, s);
}

void page_set_pct(struct page *p, const char *name, int64_t part, int64_t whole)
{
	char s[16];

	if (whole <= 0)
		snprintf(s, sizeof(s), "0");
	else if (part >= whole)
		snprintf(s, sizeof(s), "100");
	else
		snprintf(s, sizeof(s), "%lld", (long long)(part * 100 / whole));
	page_set(p, name, s);
}

void page_set_rate(struct page *p, const char *name, int64_t part, int64_t whole)
{
	char s[16];

	if (whole <= 0)
		snprintf(s, sizeof(s), "–");
	else
		snprintf(s, sizeof(s), "%.1f%%", (double)part * 100.0 / (double)whole);
	page_set(p, name, s);
}

int dash_is_operator(void)
{
	return dash_current && strcmp(dash_current->user.role, ADMIN_ROLE_OPERATOR) == 0;
}

int dash_is_staff(void)
{
	return dash_current && strcmp(dash_current->user.role, ADMIN_ROLE_TENANT) != 0;
}
