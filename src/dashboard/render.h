/*
 * render: the dashboard's pages, forms, cookies and admin sessions.
 *
 * DESIGN
 * A handler builds its answer as a struct page (page_new), the only way a
 * page reaches ClearSilver: render.c alone includes ClearSilver and sees the
 * HDF behind it. Setters never fail one by one; like a VSB, a page keeps its
 * first error (out of memory, a store result that is not ST_OK) and ignores
 * every later setter, and page_finish sends either the template
 * or that error's page. So a handler fills its page straight through and
 * looks at the outcome once. The template is parsed from a process-wide
 * cache of template texts and rendered into memory; only then is the
 * response sent, with a Content-Length. Variables are HTML-escaped by
 * default (Config.VarEscapeMode = html, set by page_new before cs_init; no
 * page may set Config.*). The pages a request ends on when something
 * failed (the 404 and 503 pages, and the "could not be built" 500) are
 * written once, in render.c, and every page reaches them through
 * dash_store_ok / page_store. The admin session of the request being
 * handled lives in a thread-local set by dash_authorize.
 */
#ifndef AH_DASHBOARD_RENDER_H
#define AH_DASHBOARD_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "host/router.h"
#include "store/admin.h"

struct req;
struct conf;

#define DASH_COOKIE "ah_admin"
#define DASH_PRE_COOKIE "ah_pre"
#define DASH_IDLE_S (30 * 60)
#define DASH_MAX_S (12 * 60 * 60)
#define DASH_STEP_MAX_S (5 * 60) /* a sign-in half done (code or enrolment due) lasts this long */
#define DASH_IDLE_MIN_S 60       /* the shortest idle timeout a tenant can set */

/* ------------------------------------------------------------------ building a page */

/* A page being built: the values its template reads and a sticky error. */
struct page;

/*
 * A new page for r with escaping configured, Prefix, the session's User.*
 * and Csrf, Page.Title = title and Page.Nav = nav (the highlighted menu
 * entry; NULL: none). Never NULL: when memory is short the page is one
 * that has failed already.
 */
struct page *page_new(struct req *r, const char *title, const char *nav);
/*
 * Send p: template tmpl (a file name under conf.template_dir) rendered
 * with status, or, when p has a sticky error, that error's page. A template
 * that cannot be rendered becomes a 500 page. Values under Secret. are
 * wiped before p is freed. Frees p.
 */
void page_finish(struct page *p, int status, const char *tmpl);
/* Whether p has a sticky error (its later setters do nothing). */
int page_failed(const struct page *p);
/* Make "the page could not be built" (500) p's sticky error: a handler ran out of memory. */
void page_nomem(struct page *p);
/* Make the 503 page of a database that did not answer p's sticky error. */
void page_unavailable(struct page *p);
/*
 * A store result for p: 1 when rc is ST_OK; otherwise the page dash_store_ok
 * maps rc to (404 naming what, a fixed word, or 503) becomes p's sticky
 * error, and 0. The first error stays: later ones do not replace it.
 */
int page_store(struct page *p, int rc, const char *what);

/*
 * Set a value. name is absolute ("Tenant.Name") or, starting with '.',
 * relative to the node page_row / page_at chose (".Name"). A NULL value is
 * "". A name that does not fit, or under Config., is a sticky 500 error.
 */
void page_set(struct page *p, const char *name, const char *value);
void page_setf(struct page *p, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void page_set_i64(struct page *p, const char *name, int64_t v);
/* Money from micro-USD ("$1,234.56"; below a cent "$0.0042"), see dash_fmt_money. */
void page_set_money(struct page *p, const char *name, int64_t micros);
/* A count with thousands separators ("1,234,567"). */
void page_set_count(struct page *p, const char *name, int64_t n);
/* Unix seconds as "2026-11-23 14:05 UTC"; "" when unix_s <= 0. */
void page_set_time(struct page *p, const char *name, int64_t unix_s);
/* part/whole as a whole percentage for a bar, 0 to 100 ("0" when whole is 0). */
void page_set_pct(struct page *p, const char *name, int64_t part, int64_t whole);
/* part/whole as a percentage with one decimal ("0.5%"), "–" when whole is 0. */
void page_set_rate(struct page *p, const char *name, int64_t part, int64_t whole);

/*
 * A QR code of text (byte mode, error correction M) for an inline SVG:
 * name.Size gets the side in modules with a 4-module quiet zone, name.Path
 * the SVG path data of the dark modules ("M4,4h1v1h-1z..."; digits and
 * letters only, so HTML escaping leaves it as it is). A sticky 500 error
 * when the text does not fit a QR code.
 */
void page_set_qr(struct page *p, const char *name, const char *text);

/*
 * Start the next row of list ("Tenants" → Tenants.0, Tenants.1, ...):
 * names starting with '.' now go under it. Returns the row's index, or -1
 * when p has failed.
 */
int page_row(struct page *p, const char *list);
/* Make names starting with '.' go under node ("Exec", "Windows.UsdDay"). */
void page_at(struct page *p, const char *node);
/* Append a plain value to list (list.N = value), e.g. the plan names of a <select>. */
void page_add(struct page *p, const char *list, const char *value);

/* ------------------------------------------------------------------ whole answers */

/* Send body with Content-Length, the security headers and this Cache-Control. */
void dash_send(struct req *r, int status, const char *ctype, const char *cache, const char *body,
               size_t n);
/* Send a 303 to path below the mount prefix. */
void dash_redirect(struct req *r, const char *path);
/* Send the error page with status and message (escaped like every value). */
void dash_error(struct req *r, int status, const char *message);
/* The 404 page: "No such <what>." (what: a fixed word, "page", "tenant", ...). */
void dash_not_found(struct req *r, const char *what);
/* The 503 page of a database that did not answer. */
void dash_unavailable(struct req *r);
/*
 * The one mapping of a store result to the page a request ends on: 1 when
 * rc is ST_OK (nothing sent); else sends the 404 page naming what (NULL:
 * "page") for ST_NOTFOUND, the 503 page for anything else, and returns 0.
 */
int dash_store_ok(struct req *r, int rc, const char *what);

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
 * check the CSRF field on POST (403), apply the user's tenant policy (idle
 * timeout, address allowlist) and make it current. A session whose sign-in
 * is half done (a code or an enrolment due) reaches only routes flagged
 * ROUTE_SIGNIN_STEP and is sent to its step from any other; it expires
 * after DASH_STEP_MAX_S. 0 to go on, -1 when a response was sent.
 */
int dash_authorize(struct req *r, unsigned route_flags);

/* What a dashboard user's tenant (and the configuration) ask of its sign-ins. */
struct dash_policy {
	char ip_allowlist[1024]; /* dashboard_ip_allowlist; "" = any address */
	int idle_s;              /* idle timeout of its sessions */
	int mfa_required;        /* a TOTP code is required (role in dashboard_mfa_roles, or the
	                            tenant's dashboard_mfa limit) */
};
/*
 * The policy for user u: staff roles have only the configuration's MFA rule
 * and the default idle timeout; a tenant_admin has its tenant's limits. 0,
 * or -1 when the limits could not be read (the caller sends the 503 page).
 */
int dash_policy(struct req *r, const struct admin_user *u, struct dash_policy *out);
/*
 * Whether the client's address is allowed by pol; when not, writes an audit
 * row (admin.ip_denied) and sends a 403 page naming the address, returning 0.
 */
int dash_policy_addr_ok(struct req *r, const struct dash_policy *pol, const struct admin_user *u);
/* The session of the current request (after dash_authorize), or NULL. */
const struct admin_session *dash_session(void);
/*
 * Whether the current session may see tenant_id; when not, writes an audit
 * row (admin.cross_tenant) and sends 404, returning 0.
 */
int dash_tenant_allowed(struct req *r, int64_t tenant_id);
/*
 * The current session was replaced (a sign-in step completed): pages built
 * from now on carry csrf and the full stage, so their forms work with the
 * new cookie.
 */
void dash_session_renewed(const char *csrf);
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
 * Number formatting, the one place for it (the page_set_* setters use it):
 * money from micro-USD ("$1,234.56"; below a cent: "$0.0042"), counts with
 * thousands separators ("1,234,567").
 */
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
