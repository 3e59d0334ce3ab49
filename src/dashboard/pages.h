/*
 * pages: the dashboard's page handlers and their routes.
 *
 * DESIGN
 * One file per page (src/dashboard/page_*.c), one template per page
 * (templates/<page>.cs, which includes header.cs and footer.cs). Every route
 * except login and the static files is AUTH_ADMIN: the router finds the
 * session and checks CSRF on POST before the handler runs. Pages about one
 * tenant live under /admin/tenants/{id}/... and call dash_tenant_allowed()
 * first, so a tenant_admin who edits the id gets 404 and an audit row.
 * DASHBOARD_ROUTES is spliced into the router's table; keep it grouped by
 * page.
 */
#ifndef AH_DASHBOARD_PAGES_H
#define AH_DASHBOARD_PAGES_H

#include "host/router.h"

#define PAGE_FN(name) void name(struct req *r, const struct ident *id, const struct route_match *m)

PAGE_FN(page_login_get);
PAGE_FN(page_login_post);
PAGE_FN(page_logout);
PAGE_FN(page_static);
PAGE_FN(page_overview);
/* tenant pages: tenants, API keys, provider keys, budgets, audit log */
/* analytics pages: usage, showback, invoices, health, executions */
PAGE_FN(page_usage);
PAGE_FN(page_usage_csv);
PAGE_FN(page_showback);
PAGE_FN(page_invoice);
PAGE_FN(page_invoice_csv);
PAGE_FN(page_health);
PAGE_FN(page_executions);
PAGE_FN(page_execution);

/* clang-format off */
#define DASHBOARD_ROUTES \
	{"GET", "/admin/login", AUTH_NONE, 0, page_login_get}, \
	{"POST", "/admin/login", AUTH_NONE, 0, page_login_post}, \
	{"POST", "/admin/logout", AUTH_ADMIN, 0, page_logout}, \
	{"GET", "/admin/static/{}", AUTH_NONE, 0, page_static}, \
	{"GET", "/admin", AUTH_ADMIN, 0, page_overview}, \
	{"GET", "/admin/overview", AUTH_ADMIN, 0, page_overview}, \
	/* tenant pages */ \
	/* analytics pages */ \
	{"GET", "/admin/usage", AUTH_ADMIN, 0, page_usage}, \
	{"GET", "/admin/usage.csv", AUTH_ADMIN, 0, page_usage_csv}, \
	{"GET", "/admin/showback", AUTH_ADMIN, 0, page_showback}, \
	{"GET", "/admin/tenants/{}/invoice", AUTH_ADMIN, 0, page_invoice}, \
	{"GET", "/admin/tenants/{}/invoice.csv", AUTH_ADMIN, 0, page_invoice_csv}, \
	{"GET", "/admin/health", AUTH_ADMIN, 0, page_health}, \
	{"GET", "/admin/executions", AUTH_ADMIN, 0, page_executions}, \
	{"GET", "/admin/tenants/{}/executions/{}", AUTH_ADMIN, 0, page_execution},
/* clang-format on */

#endif
