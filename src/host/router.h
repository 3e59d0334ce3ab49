/*
 * router: method + path → handler, from one table.
 *
 * DESIGN
 * Each row says what its handler needs (auth kind), so identification runs
 * before any handler that needs it and no handler can forget it. Patterns
 * are literal segments and "{}" placeholders; captured segments are
 * percent-decoded. The path is the request's REQUEST_URI below the mount
 * prefix: never SCRIPT_NAME/PATH_INFO, whose split differs by web server.
 */
#ifndef AH_ROUTER_H
#define AH_ROUTER_H

#include <stddef.h>

struct req;
struct ident;

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 256

enum route_auth {
	AUTH_NONE,     /* anyone */
	AUTH_TENANT,   /* a tenant API key (then the tenant's IP allowlist) */
	AUTH_OPERATOR, /* an operator token, never a tenant key */
	AUTH_ADMIN,    /* a dashboard session cookie (CSRF checked on POST) */
	AUTH_METRICS,  /* a client in metrics_allow, or an operator token */
	AUTH__MAX
};

#define ROUTE_IDEMPOTENT 0x1  /* honours Idempotency-Key */
#define ROUTE_SIGNIN_STEP 0x2 /* AUTH_ADMIN: also for a session whose sign-in is half done */
/*
 * AUTH_TENANT: the key needs one of the scopes s (bit set of enum key_scope,
 * store.h) in its scopes, else 403 scope_denied; no ROUTE_SCOPES: any key.
 */
#define ROUTE_SCOPES(s) ((unsigned)(s) << 8)
#define ROUTE_SCOPES_OF(flags) ((int)(((flags) >> 8) & 0xffu))

struct route_match {
	char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX]; /* decoded "{}" segments */
	size_t n_params;
};

typedef void (*route_fn)(struct req *r, const struct ident *id, const struct route_match *m);

struct route {
	const char *method;   /* "GET", "POST", ... */
	const char *pattern;  /* "/v1/runs/{}" */
	enum route_auth auth; /* what must happen before the handler */
	unsigned flags;       /* ROUTE_* */
	route_fn fn;
};

/*
 * Match path against pattern, filling m. 1 on match, 0 otherwise, -1 when
 * a captured segment is malformed or too long.
 */
int router_match(const char *pattern, const char *path, struct route_match *m);
/*
 * Route r (r->path, r->method): identify when needed, check the key's scopes
 * (403 scope_denied), call the handler or send 404/405.
 */
void router_dispatch(struct req *r);
/* Free what the calling thread kept for its requests (at its end). */
void router_thread_end(void);

#endif
