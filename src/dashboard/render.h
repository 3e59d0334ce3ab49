/*
 * render: ClearSilver pages, forms, cookies and admin sessions of the dashboard.
 *
 * DESIGN
 * Every page builds its own HDF (dash_page_new), fills it and calls
 * dash_render, which parses the template through a process-wide cache of
 * template texts, renders into memory and only then sends the response with
 * a Content-Length. Variables are HTML-escaped by default
 * (Config.VarEscapeMode = html before cs_init). The admin session of the
 * request being handled lives in a thread-local set by dash_authorize.
 */
#ifndef AH_DASHBOARD_RENDER_H
#define AH_DASHBOARD_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "host/router.h"
#include "store/admin.h"

struct req;
struct conf;
struct _hdf;

#define DASH_COOKIE "ah_admin"
#define DASH_PRE_COOKIE "ah_pre"
#define DASH_IDLE_S (30 * 60)
#define DASH_MAX_S (12 * 60 * 60)

/* A new HDF with the escaping configuration and the session's user; NULL on failure. */
struct _hdf *dash_page_new(struct req *r);
/*
 * Render template tmpl (a file name under conf.template_dir) with hdf and
 * send it as text/html with status. Frees hdf. On failure sends a 500 page.
 */
void dash_render(struct req *r, int status, struct _hdf *hdf, const char *tmpl);
/* Set hdf name to value; -1 on failure (logged). */
int dash_set(struct _hdf *hdf, const char *name, const char *value);
int dash_set_i64(struct _hdf *hdf, const char *name, int64_t v);

/* Send body with Content-Length, the security headers and this Cache-Control. */
void dash_send(struct req *r, int status, const char *ctype, const char *cache, const char *body,
               size_t n);
/* Send a 303 to path below the mount prefix. */
void dash_redirect(struct req *r, const char *path);
/* Send a small HTML error page. */
void dash_error(struct req *r, int status, const char *message);

/* Cookie name's value into out; 1 found, 0 absent, -1 too long. */
int dash_cookie(const struct req *r, const char *name, char *out, size_t cap);
/* Add a Set-Cookie (HttpOnly, SameSite=Strict, Path=/admin, Secure with HTTPS=on). */
void dash_set_cookie(struct req *r, const char *name, const char *value, int max_age);
/* A url-encoded form field of the body into out; 1 found, 0 absent, -1 bad/too long. */
int dash_form(const struct req *r, const char *name, char *out, size_t cap);
/* Fill out (2*n+1) with n random bytes in hex. */
void dash_random_hex(char *out, size_t n);
/* The 32-byte hash under which a session token is stored. */
void dash_token_hash(const char *token, uint8_t hash[32]);

/*
 * AUTH_ADMIN: find the session from the cookie (none: 303 to /admin/login),
 * check the CSRF field on POST (403), and make it current. 0 to go on, -1
 * when a response was sent.
 */
int dash_authorize(struct req *r);
/* The session of the current request (after dash_authorize), or NULL. */
const struct admin_session *dash_session(void);
/*
 * Whether the current session may see tenant_id; when not, writes an audit
 * row (admin.cross_tenant) and sends 404, returning 0.
 */
int dash_tenant_allowed(struct req *r, int64_t tenant_id);
/* Forget the current session (after the request). */
void dash_clear(void);

/*
 * Once in main before threads: nerr_init and a check that conf->template_dir
 * holds the templates (when it does not, the dashboard is off and says so,
 * the API is unaffected). 0, or -1 with err.
 */
int dash_init(const struct conf *c, char *err, size_t cap);
/* 1 when the dashboard can render; else sends a 503 page and returns 0. */
int dash_available(struct req *r);

/* The client's address (trusted proxies honoured) into out; "" when unknown. */
void dash_client_addr(const struct req *r, char *out, size_t cap);
/* A query parameter into out; 1 found, 0 absent, -1 bad/too long. */
int dash_query(const struct req *r, const char *name, char *out, size_t cap);
/* A query or form value parsed as a positive id; 0 when absent or malformed. */
int64_t dash_query_id(const struct req *r, const char *name);

/*
 * Number formatting, the one place for it: money from micro-USD ("$1,234.56";
 * below a cent: "$0.0042"), counts with thousands separators ("1,234,567"),
 * unix seconds as "2026-11-23 14:05 UTC", a ratio as a percentage.
 */
int dash_set_money(struct _hdf *hdf, const char *name, int64_t micros);
int dash_set_count(struct _hdf *hdf, const char *name, int64_t n);
int dash_set_time(struct _hdf *hdf, const char *name, int64_t unix_s);
int dash_set_pct(struct _hdf *hdf, const char *name, int64_t part, int64_t whole);
/* part/whole as a percentage with one decimal ("0.5%"), "–" when whole is 0. */
int dash_set_rate(struct _hdf *hdf, const char *name, int64_t part, int64_t whole);
void dash_fmt_money(char *out, size_t cap, int64_t micros);
void dash_fmt_count(char *out, size_t cap, int64_t n);
/*
 * The pct-th percentile of a usage_5min latency histogram (struct
 * admin_window.lat) as the bound of its bucket: "≤ 250 ms", "> 10 s", or "–"
 * when empty.
 */
void dash_fmt_latency_pct(char *out, size_t cap, const int64_t lat[8], int pct);

/*
 * Write an audit row for the current admin (actor "admin", the client's
 * address, the request id); failures are logged, never shown.
 */
void dash_audit(struct req *r, int64_t tenant_id, const char *action, const char *target,
                const char *outcome, const char *reason_code);

/* Whether the current session's role is one of these. */
int dash_is_operator(void);
int dash_is_staff(void); /* operator or support: may see every tenant */

#endif
