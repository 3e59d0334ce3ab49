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
PAGE_FN(page_plans);
PAGE_FN(page_plans_create);
PAGE_FN(page_plan);
PAGE_FN(page_plan_save);
PAGE_FN(page_global);
PAGE_FN(page_global_save);
PAGE_FN(page_users);
PAGE_FN(page_users_add);
PAGE_FN(page_users_role);
PAGE_FN(page_users_password);
PAGE_FN(page_users_delete);
/* tenant pages: tenants, API keys, provider keys, budgets, audit log */
/* analytics pages: usage, showback, invoices, health, executions */

/* clang-format off */
#define DASHBOARD_ROUTES \
	{"GET", "/admin/login", AUTH_NONE, 0, page_login_get}, \
	{"POST", "/admin/login", AUTH_NONE, 0, page_login_post}, \
	{"POST", "/admin/logout", AUTH_ADMIN, 0, page_logout}, \
	{"GET", "/admin/static/{}", AUTH_NONE, 0, page_static}, \
	{"GET", "/admin", AUTH_ADMIN, 0, page_overview}, \
	{"GET", "/admin/overview", AUTH_ADMIN, 0, page_overview}, \
	{"GET", "/admin/plans", AUTH_ADMIN, 0, page_plans}, \
	{"POST", "/admin/plans", AUTH_ADMIN, 0, page_plans_create}, \
	{"GET", "/admin/plans/{}", AUTH_ADMIN, 0, page_plan}, \
	{"POST", "/admin/plans/{}", AUTH_ADMIN, 0, page_plan_save}, \
	{"GET", "/admin/global", AUTH_ADMIN, 0, page_global}, \
	{"POST", "/admin/global", AUTH_ADMIN, 0, page_global_save}, \
	{"GET", "/admin/users", AUTH_ADMIN, 0, page_users}, \
	{"POST", "/admin/users", AUTH_ADMIN, 0, page_users_add}, \
	{"POST", "/admin/users/{}/role", AUTH_ADMIN, 0, page_users_role}, \
	{"POST", "/admin/users/{}/password", AUTH_ADMIN, 0, page_users_password}, \
	{"POST", "/admin/users/{}/delete", AUTH_ADMIN, 0, page_users_delete}, \
	/* tenant pages */ \
	/* analytics pages */
/* clang-format on */

#endif
