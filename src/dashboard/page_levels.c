/*
 * page_levels.c: one API key's page: its own level (budgets, budget
 * enforcement, model allowlist) with what it spent, its rate and
 * concurrency limits, and the form that sets them.
 *
 * DESIGN
 * The key's level is a level of its own below the tenant (enforce/limits.h):
 * a call must fit the key's budgets and the tenant's, and a model must be in
 * both lists, so setting the key's level can only narrow what the tenant
 * allows; a tenant_admin may set it freely. key_rpm, key_tpm and
 * key_concurrency at the key scope replace, for this key, the value the
 * tenant (or its plan) gives every key: a tenant_admin may not raise them
 * above that value (an operator may). Every value goes through
 * limit_validate; an empty field unsets the key's value, a field not sent is
 * left alone; each change is one audit row (limit.set / limit.unset, target
 * as the CLI writes it). Spent and reserved come from the key's
 * budget_counters rows of the current day and month, which admission books
 * for every call (enforce/admit.c).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/valid.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "enforce/admit.h"
#include "enforce/limits.h"
#include "enforce/limits_rows.h"
#include "host/http.h"
#include "store/admission.h"
#include "store/limits.h"
#include "store/projects.h"
#include "store/store.h"

/* The limits the form edits, in form order: the key's level, then its rates. */
static const int key_fields[] = {LIM_BUDGET_USD_DAILY,
                                 LIM_BUDGET_USD_MONTHLY,
                                 LIM_BUDGET_TOKENS_DAILY,
                                 LIM_BUDGET_TOKENS_MONTHLY,
                                 LIM_BUDGET_ENFORCEMENT,
                                 LIM_ALLOWED_MODELS,
                                 LIM_KEY_RPM,
                                 LIM_KEY_TPM,
                                 LIM_KEY_CONCURRENCY,
                                 LIM_ALERT_THRESHOLDS};
#define KEY_NFIELDS (sizeof(key_fields) / sizeof(key_fields[0]))

struct key_rows {
	char value[KEY_NFIELDS][STORE_LIMIT_VALUE_MAX + 1];
};

/* limit_row_cb: the values set at the key scope, by form field. */
static int key_row(void *ctx, const struct limit_row *row)
{
	struct key_rows *k = ctx;

	for (size_t i = 0; i < KEY_NFIELDS; i++)
		if (strcmp(row->name, limit_defs()[key_fields[i]].name) == 0)
			util_strlcpy(k->value[i], row->value, sizeof(k->value[i]));
	return 0;
}

/* The key of .../keys/{kid}... of tenant t into k; 0 when a page was sent. */
static int key_load(struct req *r, const struct route_match *m, const struct tenant *t,
                    struct api_key *k)
{
	int64_t kid = 0;

	if (m->n_params < 2 || util_parse_i64(m->params[1], 1, INT64_MAX, &kid) != 0) {
		dash_not_found(r, "key");
		return 0;
	}
	return dash_store_ok(r, store_key_get(r->store, t->id, kid, k), "key");
}

/* The key's counter of window (ADM_DAY / ADM_MONTH) in period into c. ST_OK or ST_ERR. */
static int key_counter(struct store *st, int64_t key_id, int window, const char *period,
                       struct adm_counter *c)
{
	memset(c, 0, sizeof(*c));
	c->scope = ADM_KEY;
	c->scope_id = key_id;
	c->window = window;
	util_strlcpy(c->period, period, sizeof(c->period));
	return store_admit_counter_get(st, c);
}

/* One budget of the key as a row of Windows: the key's limit and the tenant's. */
static void key_window(struct page *p, const char *label, int usd, const struct limit_value *kv,
                       const struct limit_value *tv, int64_t spent, int64_t reserved)
{
	int64_t left = kv->num - spent - reserved;

	page_row(p, "Windows");
	page_set(p, ".Label", label);
	if (usd) {
		page_set_money(p, ".Spent", spent);
		page_set_money(p, ".Reserved", reserved);
	} else {
		page_set_count(p, ".Spent", spent);
		page_set_count(p, ".Reserved", reserved);
	}
	page_set_i64(p, ".HasLimit", kv->num > 0);
	if (kv->num > 0) {
		if (usd) {
			page_set_money(p, ".Limit", kv->num);
			page_set_money(p, ".Remaining", left > 0 ? left : 0);
		} else {
			page_set_count(p, ".Limit", kv->num);
			page_set_count(p, ".Remaining", left > 0 ? left : 0);
		}
		page_set_pct(p, ".Pct", spent + reserved, kv->num);
	}
	page_set(p, ".TenantValue", tv->num > 0 ? tv->text : "");
	page_set(p, ".TenantSource", limit_scope_name(tv->source));
}

/* The page; err and typed (KEY_NFIELDS values) when the form failed. */
static void key_render(struct req *r, int status, const struct tenant *t, const struct api_key *k,
                       const char *err, char typed[][STORE_LIMIT_VALUE_MAX + 1])
{
	const struct limit_def *defs = limit_defs();
	struct page *p = page_new(r, "API key", "keys");
	struct limits *l = malloc(sizeof(*l));
	struct key_rows *kr = calloc(1, sizeof(*kr));
	struct adm_counter day, month;
	char minute[20], dayp[20], monthp[20], done[16];

	admit_periods(util_unix_time(), minute, dayp, monthp);
	if (l == NULL || kr == NULL || limits_resolve(r->store, t->id, k->id, l) != 0)
		page_unavailable(p);
	else if (page_store(p, store_limits_list(r->store, "key", k->id, key_row, kr), NULL) &&
	         page_store(p, key_counter(r->store, k->id, ADM_DAY, dayp, &day), NULL))
		page_store(p, key_counter(r->store, k->id, ADM_MONTH, monthp, &month), NULL);
	if (page_failed(p))
		goto out;
	key_window(p, "USD today", 1, &l->key[LV_BUDGET_USD_DAILY], &l->v[LIM_BUDGET_USD_DAILY],
	           day.spent_micros, day.reserved_micros + day.leased_micros);
	key_window(p, "USD this month", 1, &l->key[LV_BUDGET_USD_MONTHLY],
	           &l->v[LIM_BUDGET_USD_MONTHLY], month.spent_micros,
	           month.reserved_micros + month.leased_micros);
	key_window(p, "Tokens today", 0, &l->key[LV_BUDGET_TOKENS_DAILY],
	           &l->v[LIM_BUDGET_TOKENS_DAILY], day.spent_tokens,
	           day.reserved_tokens + day.leased_tokens);
	key_window(p, "Tokens this month", 0, &l->key[LV_BUDGET_TOKENS_MONTHLY],
	           &l->v[LIM_BUDGET_TOKENS_MONTHLY], month.spent_tokens,
	           month.reserved_tokens + month.leased_tokens);
	for (size_t i = 0; i < KEY_NFIELDS; i++) {
		int id = key_fields[i], lv = limit_level_of(id);
		/* key_* limits are the tenant's table's; the others the key's own level */
		const struct limit_value *eff =
		    (defs[id].scopes & LSB(LS_KEY)) ? &l->v[id] : &l->key[lv];

		page_row(p, "Form");
		page_set(p, ".Name", defs[id].name);
		page_set(p, ".Help",
		         (defs[id].scopes & LSB(LS_KEY))
		             ? defs[id].help
		             : "this key's own; the tenant's applies as well");
		page_set(p, ".Value", typed ? typed[i] : kr->value[i]);
		page_set(p, ".Effective", eff->text);
		page_set(p, ".Source", limit_scope_name(eff->source));
		page_set(p, ".TenantValue", lv >= 0 ? l->v[id].text : "");
		page_set_i64(p, ".IsEnum", defs[id].type == LT_ENUM);
		page_set_i64(p, ".IsList", defs[id].type == LT_LIST);
	}
	if (dash_query(r, "done", done, sizeof(done)) == 1 && strcmp(done, "saved") == 0)
		page_set(p, "Flash", "Key limits saved; admission applies them within a second.");
	page_set_tenant(p, t);
	page_set_i64(p, "Key.Id", k->id);
	page_set(p, "Key.Name", k->name);
	page_set(p, "Key.Prefix", k->prefix);
	if (l->project_id != 0) {
		struct project pr;

		if (page_store(p, store_project_get_id(r->store, t->id, l->project_id, &pr),
		               NULL)) {
			page_set_i64(p, "Key.ProjectId", pr.id);
			page_set(p, "Key.Project", pr.name);
		}
	}
	page_set(p, "Period.Day", dayp);
	page_set(p, "Period.Month", monthp);
	page_set(p, "Enforcement", limits_key_hard(l) ? "hard" : "soft");
	if (err)
		page_set(p, "FormError", err);
out:
	page_finish(p, status, "key.cs");
	free(l);
	free(kr);
}

PAGE_FN(page_key)
{
	struct tenant t;
	struct api_key k;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !key_load(r, m, &t, &k))
		return;
	key_render(r, 200, &t, &k, NULL, NULL);
}

/*
 * 1 when a tenant_admin may set value (normalised) of key_* limit id: at
 * most what the key gets without a value of its own (tv, the tenant view),
 * when that is a limit.
 */
static int key_within_tenant(const struct limit_value *tv, int id, const char *value)
{
	char norm[64], err[160];
	int64_t n = 0;

	if (tv->num == 0)
		return 1;
	if (limit_validate(id, value, norm, sizeof(norm), err, sizeof(err)) != 0 ||
	    util_parse_i64(norm, 0, INT64_MAX, &n) != 0)
		return 0;
	return n > 0 && n <= tv->num;
}

PAGE_FN(page_key_limits_set)
{
	const struct limit_def *defs = limit_defs();
	const struct admin_session *s = dash_session();
	char(*typed)[STORE_LIMIT_VALUE_MAX + 1] = calloc(KEY_NFIELDS, sizeof(*typed));
	char(*norm)[STORE_LIMIT_VALUE_MAX + 1] = calloc(KEY_NFIELDS, sizeof(*norm));
	struct key_rows *kr = calloc(1, sizeof(*kr));
	struct limits *tl = malloc(sizeof(*tl));
	char err[300], msg[400], target[128], path[128], who[101];
	int absent[KEY_NFIELDS];
	struct tenant t;
	struct api_key k;

	(void)id;
	if (typed == NULL || norm == NULL || kr == NULL || tl == NULL) {
		dash_unavailable(r);
		goto out;
	}
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !key_load(r, m, &t, &k))
		goto out;
	if (store_limits_list(r->store, "key", k.id, key_row, kr) != ST_OK ||
	    limits_resolve(r->store, t.id, 0, tl) != 0) {
		dash_unavailable(r);
		goto out;
	}
	for (size_t i = 0; i < KEY_NFIELDS; i++) {
		int f = dash_form(r, defs[key_fields[i]].name, typed[i], STORE_LIMIT_VALUE_MAX + 1);

		absent[i] = f == 0; /* a field not sent leaves its limit as it is */
		if (f != 1)
			typed[i][0] = '\0';
		if (f < 0) {
			snprintf(msg, sizeof(msg), "%s: the value is too long.",
			         defs[key_fields[i]].name);
			key_render(r, 400, &t, &k, msg, typed);
			goto out;
		}
	}
	for (size_t i = 0; i < KEY_NFIELDS; i++) {
		int lid = key_fields[i];

		if (absent[i]) {
			util_strlcpy(norm[i], kr->value[i], STORE_LIMIT_VALUE_MAX + 1);
			continue;
		}
		norm[i][0] = '\0';
		if (typed[i][0] == '\0')
			continue;
		if (limit_validate(lid, typed[i], norm[i], STORE_LIMIT_VALUE_MAX + 1, err,
		                   sizeof(err)) != 0) {
			key_render(r, 400, &t, &k, err, typed);
			goto out;
		}
		if ((defs[lid].scopes & LSB(LS_KEY)) && !dash_is_operator() &&
		    !key_within_tenant(&tl->v[lid], lid, norm[i])) {
			snprintf(msg, sizeof(msg),
			         "%s: at most %s, what the tenant gives each key; ask an operator"
			         " for more.",
			         defs[lid].name, tl->v[lid].text);
			key_render(r, 400, &t, &k, msg, typed);
			goto out;
		}
	}
	snprintf(who, sizeof(who), "admin:%s", s ? s->user.name : "");
	for (size_t i = 0; i < KEY_NFIELDS; i++) {
		const char *name = defs[key_fields[i]].name;
		int rc;

		if (strcmp(norm[i], kr->value[i]) == 0)
			continue; /* unchanged */
		snprintf(target, sizeof(target), "limit:key:%" PRId64 ":%s", k.id, name);
		if (norm[i][0] == '\0') {
			rc = store_limit_unset(r->store, "key", k.id, name);
			if (rc != ST_OK && rc != ST_NOTFOUND) {
				dash_unavailable(r);
				goto out;
			}
			dash_audit(r, t.id, "limit.unset", target, "ok", NULL);
		} else {
			if (!dash_store_ok(
			        r, store_limit_set(r->store, "key", k.id, name, norm[i], who),
			        NULL))
				goto out;
			dash_audit(r, t.id, "limit.set", target, "ok", NULL);
		}
	}
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/keys/%" PRId64 "?done=saved", t.id,
	         k.id);
	dash_redirect(r, path);
out:
	free(typed);
	free(norm);
	free(kr);
	free(tl);
}

/* ================================================================== projects */

/* The level limits a project's form edits, in form order. */
static const int project_fields[] = {LIM_BUDGET_USD_DAILY,
                                     LIM_BUDGET_USD_MONTHLY,
                                     LIM_BUDGET_TOKENS_DAILY,
                                     LIM_BUDGET_TOKENS_MONTHLY,
                                     LIM_BUDGET_ENFORCEMENT,
                                     LIM_ALLOWED_MODELS,
                                     LIM_RPM,
                                     LIM_TPM,
                                     LIM_CONCURRENCY,
                                     LIM_ALERT_THRESHOLDS};
#define PROJECT_NFIELDS (sizeof(project_fields) / sizeof(project_fields[0]))

struct project_rows {
	char value[PROJECT_NFIELDS][STORE_LIMIT_VALUE_MAX + 1];
};

/* limit_row_cb: the values set at the project scope, by form field. */
static int project_row(void *ctx, const struct limit_row *row)
{
	struct project_rows *pr = ctx;

	for (size_t i = 0; i < PROJECT_NFIELDS; i++)
		if (strcmp(row->name, limit_defs()[project_fields[i]].name) == 0)
			util_strlcpy(pr->value[i], row->value, sizeof(pr->value[i]));
	return 0;
}

/* project_cb: one row of the Projects list. */
static int projects_row(void *ctx, const struct project *pr)
{
	struct page *p = ctx;

	page_row(p, "Projects");
	page_set_i64(p, ".Id", pr->id);
	page_set(p, ".Name", pr->name);
	page_set_i64(p, ".Keys", pr->keys);
	page_set_time(p, ".Created", pr->created_at);
	return 0;
}

/* The projects page; err and the typed name when the create form failed. */
static void projects_render(struct req *r, int status, const struct tenant *t, const char *err,
                            const char *name)
{
	struct page *p = page_new(r, "Projects", "projects");
	char done[16];

	page_store(p, store_project_list(r->store, t->id, projects_row, p), NULL);
	if (dash_query(r, "done", done, sizeof(done)) == 1 && strcmp(done, "deleted") == 0)
		page_set(p, "Flash", "Project deleted; its keys are in no project now.");
	page_set_tenant(p, t);
	if (err)
		page_set(p, "FormError", err);
	page_set(p, "Form.Name", name);
	page_finish(p, status, "projects.cs");
}

PAGE_FN(page_projects)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	projects_render(r, 200, &t, NULL, "");
}

PAGE_FN(page_project_create)
{
	struct tenant t;
	char name[PROJECT_NAME_MAX + 2], msg[200], target[48], path[96];
	int64_t pid = 0;
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		return;
	if (dash_form(r, "name", name, sizeof(name)) != 1 || !valid_name(VALID_PROJECT, name)) {
		snprintf(msg, sizeof(msg), "Project name: %s.", valid_hint(VALID_PROJECT));
		projects_render(r, 400, &t, msg, name);
		return;
	}
	rc = store_project_create(r->store, t.id, name, &pid);
	if (rc == ST_CONFLICT) {
		projects_render(r, 400, &t, "This tenant already has a project of that name.",
		                name);
		return;
	}
	if (!dash_store_ok(r, rc, NULL))
		return;
	snprintf(target, sizeof(target), "project:%" PRId64, pid);
	dash_audit(r, t.id, "project.create", target, "ok", NULL);
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/projects/%" PRId64, t.id, pid);
	dash_redirect(r, path);
}

int page_project_load(struct req *r, const struct route_match *m, const struct tenant *t,
                      struct project *pr)
{
	int64_t pid = 0;

	if (m->n_params < 2 || util_parse_i64(m->params[1], 1, INT64_MAX, &pid) != 0) {
		dash_not_found(r, "project");
		return 0;
	}
	return dash_store_ok(r, store_project_get_id(r->store, t->id, pid, pr), "project");
}

/* What the project page's key lists need: the project and which key is where. */
struct project_keys_ctx {
	struct page *p;
	int64_t project_id;
	int64_t *kid, *pid; /* project_keys rows */
	size_t n, cap;
};

/* project_key_cb: remember one (key, project) pair. */
static int project_pair(void *ctx, int64_t key_id, int64_t project_id)
{
	struct project_keys_ctx *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		int64_t *k = realloc(c->kid, cap * sizeof(*k)), *q;

		if (k == NULL)
			return 1;
		c->kid = k;
		q = realloc(c->pid, cap * sizeof(*q));
		if (q == NULL)
			return 1;
		c->pid = q;
		c->cap = cap;
	}
	c->kid[c->n] = key_id;
	c->pid[c->n++] = project_id;
	return 0;
}

/* api_key_cb: a key of this project (Keys) or one that can join it (Others). */
static int project_key_row(void *ctx, const struct api_key *k)
{
	struct project_keys_ctx *c = ctx;
	int64_t in = 0;

	for (size_t i = 0; i < c->n; i++)
		if (c->kid[i] == k->id)
			in = c->pid[i];
	if (in != c->project_id && k->state != KEY_ACTIVE)
		return 0; /* only usable keys are offered */
	page_row(c->p, in == c->project_id ? "Keys" : "Others");
	page_set_i64(c->p, ".Id", k->id);
	page_set(c->p, ".Name", k->name);
	page_set(c->p, ".Prefix", k->prefix);
	page_set_i64(c->p, ".Elsewhere", in != 0 && in != c->project_id);
	return 0;
}

/* One project's page; err and typed (PROJECT_NFIELDS values) when a form failed. */
static void project_render(struct req *r, int status, const struct tenant *t,
                           const struct project *pr, const char *err,
                           char typed[][STORE_LIMIT_VALUE_MAX + 1])
{
	const struct limit_def *defs = limit_defs();
	struct page *p = page_new(r, "Project", "projects");
	struct limits *l = malloc(sizeof(*l));
	struct project_rows *kr = calloc(1, sizeof(*kr));
	struct project_keys_ctx pk = {p, pr->id, NULL, NULL, 0, 0};
	struct adm_counter day, month;
	char minute[20], dayp[20], monthp[20], done[16];

	admit_periods(util_unix_time(), minute, dayp, monthp);
	if (l == NULL || kr == NULL || limits_resolve(r->store, t->id, 0, l) != 0)
		page_unavailable(p);
	else if (page_store(p, store_limits_list(r->store, "project", pr->id, project_row, kr),
	                    NULL) &&
	         page_store(p, store_project_key_list(r->store, t->id, project_pair, &pk), NULL) &&
	         page_store(p, store_key_list(r->store, t->id, project_key_row, &pk), NULL)) {
		memset(&day, 0, sizeof(day));
		day.scope = ADM_PROJECT;
		day.scope_id = pr->id;
		day.window = ADM_DAY;
		util_strlcpy(day.period, dayp, sizeof(day.period));
		month = day;
		month.window = ADM_MONTH;
		util_strlcpy(month.period, monthp, sizeof(month.period));
		if (page_store(p, store_admit_counter_get(r->store, &day), NULL))
			page_store(p, store_admit_counter_get(r->store, &month), NULL);
	}
	if (page_failed(p))
		goto out;
	/* the project's own values, from its rows */
	for (size_t i = 0; i < PROJECT_NFIELDS; i++)
		if (kr->value[i][0])
			limits_apply(l, LS_PROJECT, defs[project_fields[i]].name, kr->value[i]);
	key_window(p, "USD today", 1, &l->project[LV_BUDGET_USD_DAILY], &l->v[LIM_BUDGET_USD_DAILY],
	           day.spent_micros, day.reserved_micros + day.leased_micros);
	key_window(p, "USD this month", 1, &l->project[LV_BUDGET_USD_MONTHLY],
	           &l->v[LIM_BUDGET_USD_MONTHLY], month.spent_micros,
	           month.reserved_micros + month.leased_micros);
	key_window(p, "Tokens today", 0, &l->project[LV_BUDGET_TOKENS_DAILY],
	           &l->v[LIM_BUDGET_TOKENS_DAILY], day.spent_tokens,
	           day.reserved_tokens + day.leased_tokens);
	key_window(p, "Tokens this month", 0, &l->project[LV_BUDGET_TOKENS_MONTHLY],
	           &l->v[LIM_BUDGET_TOKENS_MONTHLY], month.spent_tokens,
	           month.reserved_tokens + month.leased_tokens);
	for (size_t i = 0; i < PROJECT_NFIELDS; i++) {
		int id = project_fields[i];
		const struct limit_value *own = &l->project[limit_level_of(id)];

		page_row(p, "Form");
		page_set(p, ".Name", defs[id].name);
		page_set(p, ".Help",
		         "the project's own, for all its keys together; the tenant's"
		         " applies as well");
		page_set(p, ".Value", typed ? typed[i] : kr->value[i]);
		page_set(p, ".Effective", own->text);
		page_set(p, ".Source", limit_scope_name(own->source));
		page_set(p, ".TenantValue", l->v[id].text);
		page_set_i64(p, ".IsEnum", defs[id].type == LT_ENUM);
		page_set_i64(p, ".IsList", defs[id].type == LT_LIST);
	}
	page_project_provider_keys(p, r, t->id, pr->id);
	if (dash_query(r, "done", done, sizeof(done)) == 1) {
		if (strcmp(done, "saved") == 0)
			page_set(p, "Flash",
			         "Project saved; admission applies it within a second.");
		else if (strcmp(done, "renamed") == 0)
			page_set(p, "Flash",
			         "Project renamed; its keys, limits and provider keys stay.");
		else if (strcmp(done, "keyset") == 0)
			page_set(p, "Flash",
			         "Provider key saved (sealed): the project's keys use it.");
		else if (strcmp(done, "keycleared") == 0)
			page_set(p, "Flash",
			         "Provider key cleared: the project's keys use the tenant's"
			         " or the platform's again.");
	}
	page_set_tenant(p, t);
	page_set_i64(p, "Project.Id", pr->id);
	page_set(p, "Project.Name", pr->name);
	page_set(p, "Period.Day", dayp);
	page_set(p, "Period.Month", monthp);
	page_set(p, "Enforcement", limits_project_hard(l) ? "hard" : "soft");
	if (err)
		page_set(p, "FormError", err);
out:
	page_finish(p, status, "project.cs");
	free(pk.kid);
	free(pk.pid);
	free(l);
	free(kr);
}

void page_project_render(struct req *r, int status, const struct tenant *t,
                         const struct project *pr, const char *err)
{
	project_render(r, status, t, pr, err, NULL);
}

PAGE_FN(page_project)
{
	struct tenant t;
	struct project pr;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_project_load(r, m, &t, &pr))
		return;
	project_render(r, 200, &t, &pr, NULL, NULL);
}

PAGE_FN(page_project_limits_set)
{
	const struct limit_def *defs = limit_defs();
	const struct admin_session *s = dash_session();
	char(*typed)[STORE_LIMIT_VALUE_MAX + 1] = calloc(PROJECT_NFIELDS, sizeof(*typed));
	char(*norm)[STORE_LIMIT_VALUE_MAX + 1] = calloc(PROJECT_NFIELDS, sizeof(*norm));
	struct project_rows *kr = calloc(1, sizeof(*kr));
	char err[300], msg[400], target[128], path[128], who[101];
	int absent[PROJECT_NFIELDS];
	struct tenant t;
	struct project pr;

	(void)id;
	if (typed == NULL || norm == NULL || kr == NULL) {
		dash_unavailable(r);
		goto out;
	}
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !page_project_load(r, m, &t, &pr))
		goto out;
	if (store_limits_list(r->store, "project", pr.id, project_row, kr) != ST_OK) {
		dash_unavailable(r);
		goto out;
	}
	for (size_t i = 0; i < PROJECT_NFIELDS; i++) {
		int f =
		    dash_form(r, defs[project_fields[i]].name, typed[i], STORE_LIMIT_VALUE_MAX + 1);

		absent[i] = f == 0;
		if (f != 1)
			typed[i][0] = '\0';
		if (f < 0) {
			snprintf(msg, sizeof(msg), "%s: the value is too long.",
			         defs[project_fields[i]].name);
			project_render(r, 400, &t, &pr, msg, typed);
			goto out;
		}
	}
	for (size_t i = 0; i < PROJECT_NFIELDS; i++) {
		if (absent[i]) {
			util_strlcpy(norm[i], kr->value[i], STORE_LIMIT_VALUE_MAX + 1);
			continue;
		}
		norm[i][0] = '\0';
		if (typed[i][0] != '\0' &&
		    limit_validate(project_fields[i], typed[i], norm[i], STORE_LIMIT_VALUE_MAX + 1,
		                   err, sizeof(err)) != 0) {
			project_render(r, 400, &t, &pr, err, typed);
			goto out;
		}
	}
	snprintf(who, sizeof(who), "admin:%s", s ? s->user.name : "");
	for (size_t i = 0; i < PROJECT_NFIELDS; i++) {
		const char *name = defs[project_fields[i]].name;
		int rc;

		if (strcmp(norm[i], kr->value[i]) == 0)
			continue;
		snprintf(target, sizeof(target), "limit:project:%" PRId64 ":%s", pr.id, name);
		if (norm[i][0] == '\0') {
			rc = store_limit_unset(r->store, "project", pr.id, name);
			if (rc != ST_OK && rc != ST_NOTFOUND) {
				dash_unavailable(r);
				goto out;
			}
			dash_audit(r, t.id, "limit.unset", target, "ok", NULL);
		} else {
			if (!dash_store_ok(
			        r, store_limit_set(r->store, "project", pr.id, name, norm[i], who),
			        NULL))
				goto out;
			dash_audit(r, t.id, "limit.set", target, "ok", NULL);
		}
	}
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/projects/%" PRId64 "?done=saved",
	         t.id, pr.id);
	dash_redirect(r, path);
out:
	free(typed);
	free(norm);
	free(kr);
}

/* POST .../projects/{pid}/keys: key_id joins the project, or leaves it with remove=1. */
PAGE_FN(page_project_keys_set)
{
	struct tenant t;
	struct project pr;
	struct api_key k;
	char kid_s[24], rm[8], target[48], path[128];
	int64_t kid = 0;
	int remove, rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !page_project_load(r, m, &t, &pr))
		return;
	remove = dash_form(r, "remove", rm, sizeof(rm)) == 1 && strcmp(rm, "1") == 0;
	if (dash_form(r, "key_id", kid_s, sizeof(kid_s)) != 1 ||
	    util_parse_i64(kid_s, 1, INT64_MAX, &kid) != 0) {
		project_render(r, 400, &t, &pr, "Choose one of the tenant's keys.", NULL);
		return;
	}
	rc = store_key_get(r->store, t.id, kid, &k);
	if (rc == ST_NOTFOUND) {
		project_render(r, 400, &t, &pr, "Choose one of the tenant's keys.", NULL);
		return;
	}
	if (!dash_store_ok(r, rc, "key"))
		return;
	if (remove) {
		int64_t in = 0;

		if (store_project_of_key(r->store, t.id, k.id, &in) != ST_OK) {
			dash_unavailable(r);
			return;
		}
		if (in != pr.id) {
			project_render(r, 400, &t, &pr, "That key is not in this project.", NULL);
			return;
		}
	}
	rc = store_project_key_set(r->store, t.id, k.id, remove ? 0 : pr.id);
	if (rc != ST_OK && rc != ST_NOTFOUND) {
		dash_unavailable(r);
		return;
	}
	snprintf(target, sizeof(target), "key:%" PRId64, k.id);
	dash_audit(r, t.id, remove ? "project.remove_key" : "project.add_key", target, "ok", NULL);
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/projects/%" PRId64, t.id, pr.id);
	dash_redirect(r, path);
}

PAGE_FN(page_project_delete)
{
	struct tenant t;
	struct project pr;
	char confirm[8], target[48], path[96];

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !page_project_load(r, m, &t, &pr))
		return;
	if (dash_form(r, "confirm", confirm, sizeof(confirm)) != 1 || strcmp(confirm, "yes") != 0) {
		project_render(r, 400, &t, &pr,
		               "To delete the project, tick the box that confirms it, then press"
		               " Delete.",
		               NULL);
		return;
	}
	if (!dash_store_ok(r, store_project_delete(r->store, t.id, pr.id), "project"))
		return;
	snprintf(target, sizeof(target), "project:%" PRId64, pr.id);
	dash_audit(r, t.id, "project.delete", target, "ok", NULL);
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/projects?done=deleted", t.id);
	dash_redirect(r, path);
}

PAGE_FN(page_project_rename)
{
	struct tenant t;
	struct project pr;
	char name[PROJECT_NAME_MAX + 2], target[48], path[128], detail[200], msg[200];
	int rc;

	(void)id;
	if (!page_tenant_load(r, m, &t) || !page_may_write(r) || !page_project_load(r, m, &t, &pr))
		return;
	if (dash_form(r, "name", name, sizeof(name)) != 1 || !valid_name(VALID_PROJECT, name)) {
		snprintf(msg, sizeof(msg), "New name: %s.", valid_hint(VALID_PROJECT));
		project_render(r, 400, &t, &pr, msg, NULL);
		return;
	}
	rc = strcmp(name, pr.name) == 0 ? ST_OK : store_project_rename(r->store, t.id, pr.id, name);
	if (rc == ST_CONFLICT) {
		project_render(r, 400, &t, &pr, "This tenant already has a project with that name.",
		               NULL);
		return;
	}
	if (!dash_store_ok(r, rc, "project"))
		return;
	snprintf(target, sizeof(target), "project:%" PRId64, pr.id);
	snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}", pr.name, name);
	dash_audit(r, t.id, "project.rename", target, "ok", detail);
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/projects/%" PRId64 "?done=renamed",
	         t.id, pr.id);
	dash_redirect(r, path);
}

/* ================================================================== tags */

/* The limits a tag's form edits, in form order (a tag carries no model list). */
static const int tag_fields[] = {LIM_BUDGET_USD_DAILY,    LIM_BUDGET_USD_MONTHLY,
                                 LIM_BUDGET_TOKENS_DAILY, LIM_BUDGET_TOKENS_MONTHLY,
                                 LIM_BUDGET_ENFORCEMENT,  LIM_ALERT_THRESHOLDS};
#define TAG_NFIELDS (sizeof(tag_fields) / sizeof(tag_fields[0]))

/* The tags page; err and the typed values (tag, then TAG_NFIELDS) when the form failed. */
static void tags_render(struct req *r, int status, const struct tenant *t, const char *err,
                        const char *typed_tag, char typed[][STORE_LIMIT_VALUE_MAX + 1])
{
	const struct limit_def *defs = limit_defs();
	struct page *p = page_new(r, "Tag budgets", "projects");
	struct limits *l = malloc(sizeof(*l));
	char minute[20], dayp[20], monthp[20], done[16], v[32];

	admit_periods(util_unix_time(), minute, dayp, monthp);
	if (l == NULL || limits_resolve(r->store, t->id, 0, l) != 0) {
		page_unavailable(p);
		goto out;
	}
	for (int i = 0; i < l->ntags; i++) {
		const struct limit_tag *g = &l->tags[i];
		struct adm_counter day, month;

		memset(&day, 0, sizeof(day));
		day.scope = ADM_TAG;
		day.scope_id = g->id;
		day.window = ADM_DAY;
		util_strlcpy(day.period, dayp, sizeof(day.period));
		month = day;
		month.window = ADM_MONTH;
		util_strlcpy(month.period, monthp, sizeof(month.period));
		if (!page_store(p, store_admit_counter_get(r->store, &day), NULL) ||
		    !page_store(p, store_admit_counter_get(r->store, &month), NULL))
			goto out;
		page_row(p, "Tags");
		page_set(p, ".Key", g->key);
		page_set(p, ".Value", g->value);
		page_set_money(p, ".UsdDay",
		               day.spent_micros + day.reserved_micros + day.leased_micros);
		page_set_money(p, ".UsdMonth",
		               month.spent_micros + month.reserved_micros + month.leased_micros);
		page_set_count(p, ".TokDay",
		               day.spent_tokens + day.reserved_tokens + day.leased_tokens);
		page_set_count(p, ".TokMonth",
		               month.spent_tokens + month.reserved_tokens + month.leased_tokens);
		for (size_t f = 0; f < TAG_NFIELDS; f++) {
			int id = tag_fields[f], lv = limit_level_of(id);
			char node[48];

			snprintf(node, sizeof(node), ".L%zu", f);
			if (!g->set[lv])
				page_set(p, node, "");
			else if (lv == LV_ALERT_THRESHOLDS)
				page_set(p, node, g->alerts);
			else if (lv == LV_BUDGET_ENFORCEMENT)
				page_set(p, node, g->hard ? "hard" : "soft");
			else if (defs[id].type == LT_USD) {
				limit_format_usd(g->num[lv], v, sizeof(v));
				page_set(p, node, v);
			} else {
				snprintf(v, sizeof(v), "%" PRId64, g->num[lv]);
				page_set(p, node, v);
			}
		}
	}
	for (size_t f = 0; f < TAG_NFIELDS; f++) {
		page_row(p, "Form");
		page_set(p, ".Name", defs[tag_fields[f]].name);
		page_set(p, ".Value", typed ? typed[f] : "");
		page_set_i64(p, ".IsEnum", defs[tag_fields[f]].type == LT_ENUM);
	}
	if (dash_query(r, "done", done, sizeof(done)) == 1 && strcmp(done, "saved") == 0)
		page_set(p, "Flash", "Tag budgets saved; admission applies them within a second.");
	page_set_tenant(p, t);
	page_set(p, "Form.Tag", typed_tag ? typed_tag : "");
	page_set(p, "Period.Day", dayp);
	page_set(p, "Period.Month", monthp);
	if (err)
		page_set(p, "FormError", err);
out:
	page_finish(p, status, "tags.cs");
	free(l);
}

PAGE_FN(page_tags)
{
	struct tenant t;

	(void)id;
	if (!page_tenant_load(r, m, &t))
		return;
	tags_render(r, 200, &t, NULL, NULL, NULL);
}

/*
 * POST .../tags: tag (KEY=VALUE) and its five fields; every field is sent
 * by the form: a value sets it at the tag, an empty one removes it.
 */
PAGE_FN(page_tags_set)
{
	const struct limit_def *defs = limit_defs();
	const struct admin_session *s = dash_session();
	char(*typed)[STORE_LIMIT_VALUE_MAX + 1] = calloc(TAG_NFIELDS, sizeof(*typed));
	char(*norm)[STORE_LIMIT_VALUE_MAX + 1] = calloc(TAG_NFIELDS, sizeof(*norm));
	char tag[LIMITS_TAG_KEY_MAX + LIMITS_TAG_VALUE_MAX + 4], tk[LIMITS_TAG_KEY_MAX + 1],
	    tv[LIMITS_TAG_VALUE_MAX + 1];
	char err[300], target[256], path[96], who[101];
	struct tenant t;
	int64_t tag_id = 0;
	int any = 0;

	(void)id;
	if (typed == NULL || norm == NULL) {
		dash_unavailable(r);
		goto out;
	}
	if (!page_tenant_load(r, m, &t) || !page_may_write(r))
		goto out;
	for (size_t f = 0; f < TAG_NFIELDS; f++)
		if (dash_form(r, defs[tag_fields[f]].name, typed[f], STORE_LIMIT_VALUE_MAX + 1) !=
		    1)
			typed[f][0] = '\0';
	if (dash_form(r, "tag", tag, sizeof(tag)) != 1)
		tag[0] = '\0';
	if (limits_tag_parse(tag, tk, tv, err, sizeof(err)) < 0) {
		tags_render(r, 400, &t, err, tag, typed);
		goto out;
	}
	for (size_t f = 0; f < TAG_NFIELDS; f++) {
		norm[f][0] = '\0';
		if (typed[f][0] != '\0' &&
		    limit_validate(tag_fields[f], typed[f], norm[f], STORE_LIMIT_VALUE_MAX + 1, err,
		                   sizeof(err)) != 0) {
			tags_render(r, 400, &t, err, tag, typed);
			goto out;
		}
		any |= norm[f][0] != '\0';
	}
	if (any && !dash_store_ok(r, store_tag_ensure(r->store, t.id, tk, tv, &tag_id), NULL))
		goto out;
	if (!any) {
		int rc = store_tag_get(r->store, t.id, tk, tv, &tag_id);

		if (rc == ST_NOTFOUND) {
			tags_render(r, 400, &t, "Give at least one budget for a new tag.", tag,
			            typed);
			goto out;
		}
		if (!dash_store_ok(r, rc, NULL))
			goto out;
	}
	snprintf(who, sizeof(who), "admin:%s", s ? s->user.name : "");
	for (size_t f = 0; f < TAG_NFIELDS; f++) {
		const char *name = defs[tag_fields[f]].name;
		int rc;

		snprintf(target, sizeof(target), "limit:tag:%" PRId64 ":%s", tag_id, name);
		if (norm[f][0] == '\0') {
			rc = store_limit_unset(r->store, "tag", tag_id, name);
			if (rc == ST_NOTFOUND)
				continue;
			if (rc != ST_OK) {
				dash_unavailable(r);
				goto out;
			}
			dash_audit(r, t.id, "limit.unset", target, "ok", NULL);
		} else {
			if (!dash_store_ok(
			        r, store_limit_set(r->store, "tag", tag_id, name, norm[f], who),
			        NULL))
				goto out;
			dash_audit(r, t.id, "limit.set", target, "ok", NULL);
		}
	}
	snprintf(path, sizeof(path), "/admin/tenants/%" PRId64 "/tags?done=saved", t.id);
	dash_redirect(r, path);
out:
	free(typed);
	free(norm);
}
