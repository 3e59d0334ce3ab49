/*
 * page_key_limits.c: one API key's page: its own level (budgets, budget
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
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "enforce/admit.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "store/admission.h"
#include "store/limits.h"
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
                                 LIM_KEY_CONCURRENCY};
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
