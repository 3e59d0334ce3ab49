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
PAGE_FN(page_tenants);
PAGE_FN(page_tenant_create);
PAGE_FN(page_tenant);
PAGE_FN(page_tenant_edit);
PAGE_FN(page_tenant_suspend);
PAGE_FN(page_tenant_resume);
PAGE_FN(page_keys);
PAGE_FN(page_key_create);
PAGE_FN(page_key_rotate);
PAGE_FN(page_key_revoke);
PAGE_FN(page_key);
PAGE_FN(page_key_limits_set);
PAGE_FN(page_projects);
PAGE_FN(page_project_create);
PAGE_FN(page_project);
PAGE_FN(page_project_limits_set);
PAGE_FN(page_project_keys_set);
PAGE_FN(page_project_delete);
PAGE_FN(page_tags);
PAGE_FN(page_tags_set);
PAGE_FN(page_provider_keys);
PAGE_FN(page_provider_key_set);
PAGE_FN(page_provider_key_clear);
PAGE_FN(page_budgets);
PAGE_FN(page_budgets_set);
PAGE_FN(page_audit);
struct tenant;
struct page;
/*
 * The tenant of a /admin/tenants/{id}/... URL into t after dash_tenant_allowed;
 * 1 to go on, 0 when a 404/503 page was sent (page_tenants.c).
 */
int page_tenant_load(struct req *r, const struct route_match *m, struct tenant *t);
/* 1 when the session may change things (not support); else sends 403 and returns 0. */
int page_may_write(struct req *r);
/* 1 when s is at most max bytes of UTF-8 without control characters. */
int page_text_ok(const char *s, size_t max);
/* Tenant.* (Id, Slug, Name, Plan, Status) for the tenant pages' headings. */
void page_set_tenant(struct page *p, const struct tenant *t);
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
	{"GET", "/admin/tenants", AUTH_ADMIN, 0, page_tenants}, \
	{"POST", "/admin/tenants", AUTH_ADMIN, 0, page_tenant_create}, \
	{"GET", "/admin/tenants/{}", AUTH_ADMIN, 0, page_tenant}, \
	{"POST", "/admin/tenants/{}", AUTH_ADMIN, 0, page_tenant_edit}, \
	{"POST", "/admin/tenants/{}/suspend", AUTH_ADMIN, 0, page_tenant_suspend}, \
	{"POST", "/admin/tenants/{}/resume", AUTH_ADMIN, 0, page_tenant_resume}, \
	{"GET", "/admin/tenants/{}/keys", AUTH_ADMIN, 0, page_keys}, \
	{"POST", "/admin/tenants/{}/keys", AUTH_ADMIN, 0, page_key_create}, \
	{"POST", "/admin/tenants/{}/keys/{}/rotate", AUTH_ADMIN, 0, page_key_rotate}, \
	{"POST", "/admin/tenants/{}/keys/{}/revoke", AUTH_ADMIN, 0, page_key_revoke}, \
	{"GET", "/admin/tenants/{}/keys/{}", AUTH_ADMIN, 0, page_key}, \
	{"POST", "/admin/tenants/{}/keys/{}/limits", AUTH_ADMIN, 0, page_key_limits_set}, \
	{"GET", "/admin/tenants/{}/projects", AUTH_ADMIN, 0, page_projects}, \
	{"POST", "/admin/tenants/{}/projects", AUTH_ADMIN, 0, page_project_create}, \
	{"GET", "/admin/tenants/{}/projects/{}", AUTH_ADMIN, 0, page_project}, \
	{"POST", "/admin/tenants/{}/projects/{}/limits", AUTH_ADMIN, 0, page_project_limits_set}, \
	{"POST", "/admin/tenants/{}/projects/{}/keys", AUTH_ADMIN, 0, page_project_keys_set}, \
	{"POST", "/admin/tenants/{}/projects/{}/delete", AUTH_ADMIN, 0, page_project_delete}, \
	{"GET", "/admin/tenants/{}/tags", AUTH_ADMIN, 0, page_tags}, \
	{"POST", "/admin/tenants/{}/tags", AUTH_ADMIN, 0, page_tags_set}, \
	{"GET", "/admin/tenants/{}/provider-keys", AUTH_ADMIN, 0, page_provider_keys}, \
	{"POST", "/admin/tenants/{}/provider-keys", AUTH_ADMIN, 0, page_provider_key_set}, \
	{"POST", "/admin/tenants/{}/provider-keys/{}/clear", AUTH_ADMIN, 0, page_provider_key_clear}, \
	{"GET", "/admin/tenants/{}/budgets", AUTH_ADMIN, 0, page_budgets}, \
	{"POST", "/admin/tenants/{}/budgets", AUTH_ADMIN, 0, page_budgets_set}, \
	{"GET", "/admin/audit", AUTH_ADMIN, 0, page_audit}, \
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
