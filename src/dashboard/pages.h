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

#include <stddef.h>
#include <stdint.h>

#include "host/router.h"

#define PAGE_FN(name) void name(struct req *r, const struct ident *id, const struct route_match *m)

PAGE_FN(page_login_get);
PAGE_FN(page_login_post);
PAGE_FN(page_login_code);
PAGE_FN(page_login_code_post);
PAGE_FN(page_logout);
/* the signed-in user's own account: two-factor enrolment, recovery codes */
PAGE_FN(page_account);
PAGE_FN(page_account_mfa);
PAGE_FN(page_account_mfa_confirm);
PAGE_FN(page_account_recovery);

struct admin_user;
#define LOGIN_WINDOW_S (15 * 60) /* failed sign-ins older than this are forgotten */
#define LOGIN_NAME_DELAY_S 2     /* the most an account's failures elsewhere delay its user */
#define ACCOUNT_RECOVERY_N 10    /* recovery codes per enrolment */
#define ACCOUNT_RECOVERY_LEN 10  /* base32 characters of one ("ABCDE-FGHIJ" as shown) */
/*
 * Seconds the next sign-in attempt of name from ip must still wait (0: may
 * go on) into *wait_s (page_login.c, DESIGN). 0, or -1 when the store failed.
 */
int login_wait(struct req *r, const char *name, const char *ip, int64_t *wait_s);
/* "Too many failed sign-ins. Try again in N seconds." */
void login_wait_message(int64_t wait_s, char *out, size_t cap);
/*
 * A new session of u from ip at stage, its cookie set; its CSRF token into
 * csrf (65 bytes) when not NULL. 0, or -1 when the store failed.
 */
int login_session_start(struct req *r, const struct admin_user *u, const char *ip, int stage,
                        char *csrf_out);
/*
 * Finish a sign-in: replace the request's session (if any) by a new full
 * one, forget this address's failures of u, audit it (how: NULL or "mfa").
 * 0, or -1 when the store failed.
 */
int login_complete(struct req *r, const struct admin_user *u, const char *how);
/*
 * Whether code (6 digits: a TOTP code, newer than the last one accepted;
 * else one of u's unused recovery codes) is right now, spending it. 1
 * right, 0 wrong, -1 store failure; *replay is set when a TOTP code was
 * right but already used.
 */
int login_code_check(struct req *r, const struct admin_user *u, const char *code, int *replay);
PAGE_FN(page_static);
PAGE_FN(page_favicon);
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
PAGE_FN(page_tenant_content);
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
PAGE_FN(page_project_rename);
PAGE_FN(page_project_provider_key_set);
PAGE_FN(page_project_provider_key_clear);
struct project;
struct tenant;
struct page;
/* page_levels.c: one project's page (status, err: a failed form's message, or NULL) */
void page_project_render(struct req *r, int status, const struct tenant *t,
                         const struct project *pr, const char *err);
/* page_levels.c: the project of .../projects/{pid}... into pr; 0 when a page was sent */
int page_project_load(struct req *r, const struct route_match *m, const struct tenant *t,
                      struct project *pr);
/* page_provider_keys.c: the project's own provider keys (PKeys) and the providers (Providers) */
void page_project_provider_keys(struct page *p, struct req *r, int64_t tenant_id,
                                int64_t project_id);
PAGE_FN(page_tags);
PAGE_FN(page_tags_set);
PAGE_FN(page_provider_keys);
PAGE_FN(page_provider_key_set);
PAGE_FN(page_provider_key_clear);
PAGE_FN(page_routes);
PAGE_FN(page_route_set);
PAGE_FN(page_route_delete);
PAGE_FN(page_plan_routes);
PAGE_FN(page_plan_route_set);
PAGE_FN(page_plan_route_delete);
PAGE_FN(page_budgets);
PAGE_FN(page_tenant_access);
PAGE_FN(page_tenant_access_save);
PAGE_FN(page_budgets_set);
PAGE_FN(page_audit);
PAGE_FN(page_webhooks);
PAGE_FN(page_guardrails);
PAGE_FN(page_guardrails_set);
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
/*
 * For staff, the tenants a filter form may pick (TenantChoices.N: Id, Slug,
 * Name; by name, at most PAGE_PICKER_MAX, TenantChoices.More set when there
 * are more) for templates/picker.cs; nothing for a tenant_admin, whose pages
 * show its own tenant only. One query (two when the selected tenant is not
 * among the first PAGE_PICKER_MAX: it is added, so the form keeps it).
 */
#define PAGE_PICKER_MAX 2000
void page_tenant_choices(struct req *r, struct page *p, int64_t selected);
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
	{"GET", "/admin/login/code", AUTH_ADMIN, ROUTE_SIGNIN_STEP, page_login_code}, \
	{"POST", "/admin/login/code", AUTH_ADMIN, ROUTE_SIGNIN_STEP, page_login_code_post}, \
	{"POST", "/admin/logout", AUTH_ADMIN, ROUTE_SIGNIN_STEP, page_logout}, \
	{"GET", "/admin/account", AUTH_ADMIN, ROUTE_SIGNIN_STEP, page_account}, \
	{"POST", "/admin/account/mfa", AUTH_ADMIN, ROUTE_SIGNIN_STEP, page_account_mfa}, \
	{"POST", "/admin/account/mfa/confirm", AUTH_ADMIN, ROUTE_SIGNIN_STEP, page_account_mfa_confirm}, \
	{"POST", "/admin/account/recovery", AUTH_ADMIN, 0, page_account_recovery}, \
	{"GET", "/admin/static/{}", AUTH_NONE, 0, page_static}, \
	{"GET", "/favicon.ico", AUTH_NONE, 0, page_favicon}, \
	{"GET", "/admin", AUTH_ADMIN, 0, page_overview}, \
	{"GET", "/admin/", AUTH_ADMIN, 0, page_overview}, \
	{"GET", "/admin/overview", AUTH_ADMIN, 0, page_overview}, \
	{"GET", "/admin/plans", AUTH_ADMIN, 0, page_plans}, \
	{"POST", "/admin/plans", AUTH_ADMIN, 0, page_plans_create}, \
	{"GET", "/admin/plans/{}", AUTH_ADMIN, 0, page_plan}, \
	{"POST", "/admin/plans/{}", AUTH_ADMIN, 0, page_plan_save}, \
	{"GET", "/admin/plans/{}/routes", AUTH_ADMIN, 0, page_plan_routes}, \
	{"POST", "/admin/plans/{}/routes", AUTH_ADMIN, 0, page_plan_route_set}, \
	{"POST", "/admin/plans/{}/routes/delete", AUTH_ADMIN, 0, page_plan_route_delete}, \
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
	{"POST", "/admin/tenants/{}/content", AUTH_ADMIN, 0, page_tenant_content}, \
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
	{"POST", "/admin/tenants/{}/projects/{}/rename", AUTH_ADMIN, 0, page_project_rename}, \
	{"POST", "/admin/tenants/{}/projects/{}/provider-keys", AUTH_ADMIN, 0, \
	 page_project_provider_key_set}, \
	{"POST", "/admin/tenants/{}/projects/{}/provider-keys/{}/clear", AUTH_ADMIN, 0, \
	 page_project_provider_key_clear}, \
	{"GET", "/admin/tenants/{}/tags", AUTH_ADMIN, 0, page_tags}, \
	{"POST", "/admin/tenants/{}/tags", AUTH_ADMIN, 0, page_tags_set}, \
	{"GET", "/admin/tenants/{}/provider-keys", AUTH_ADMIN, 0, page_provider_keys}, \
	{"POST", "/admin/tenants/{}/provider-keys", AUTH_ADMIN, 0, page_provider_key_set}, \
	{"POST", "/admin/tenants/{}/provider-keys/{}/clear", AUTH_ADMIN, 0, page_provider_key_clear}, \
	{"GET", "/admin/tenants/{}/routes", AUTH_ADMIN, 0, page_routes}, \
	{"POST", "/admin/tenants/{}/routes", AUTH_ADMIN, 0, page_route_set}, \
	{"POST", "/admin/tenants/{}/routes/delete", AUTH_ADMIN, 0, page_route_delete}, \
	{"GET", "/admin/tenants/{}/webhooks", AUTH_ADMIN, 0, page_webhooks}, \
	{"GET", "/admin/tenants/{}/guardrails", AUTH_ADMIN, 0, page_guardrails}, \
	{"POST", "/admin/tenants/{}/guardrails", AUTH_ADMIN, 0, page_guardrails_set}, \
	{"GET", "/admin/tenants/{}/budgets", AUTH_ADMIN, 0, page_budgets}, \
	{"POST", "/admin/tenants/{}/budgets", AUTH_ADMIN, 0, page_budgets_set}, \
	{"GET", "/admin/tenants/{}/access", AUTH_ADMIN, 0, page_tenant_access}, \
	{"POST", "/admin/tenants/{}/access", AUTH_ADMIN, 0, page_tenant_access_save}, \
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
