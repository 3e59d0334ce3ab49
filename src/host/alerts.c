/*
 * alerts.c: find alert events and send their deliveries (see alerts.h).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "enforce/admit.h"
#include "enforce/limits.h"
#include "host/alerts.h"
#include "providers/hook.h"
#include "store/alerts.h"
#include "store/store.h"

#define ALERT_BATCH 20   /* deliveries claimed per round */
#define ALERT_CLAIM_S 60 /* a claimed delivery is this process's for so long */
#define ALERT_TIMEOUT_MS 10000
#define ALERT_KEEP_DAYS 62 /* the delivery log's memory: longer than any budget period */

/* The four budgets a counter row carries, with the limits that bound them. */
static const struct {
	const char *window; /* budget_counters.win */
	int usd;            /* 1: micro-USD, 0: tokens */
	int lim;            /* enum limit_id */
	const char *name;   /* the budget's name in events */
} alert_budgets[] = {
    {"day", 1, LIM_BUDGET_USD_DAILY, "budget_usd_daily"},
    {"month", 1, LIM_BUDGET_USD_MONTHLY, "budget_usd_monthly"},
    {"day", 0, LIM_BUDGET_TOKENS_DAILY, "budget_tokens_daily"},
    {"month", 0, LIM_BUDGET_TOKENS_MONTHLY, "budget_tokens_monthly"},
};

struct scan {
	struct store *st;
	struct limits *lim; /* the last tenant's limits (rows come ordered by tenant) */
	int64_t lim_tenant;
	int claimed;
};

/* Claim one event with its payload (stolen); logs a failure. */
static void alerts_claim(struct scan *sc, int64_t tenant_id, const char *kind, const char *subject,
                         int threshold, const char *period, json_t *payload)
{
	char *text;
	int rc;

	if (payload == NULL)
		return;
	json_object_set_new(payload, "event", json_string(kind));
	json_object_set_new(payload, "tenant_id", json_integer(tenant_id));
	json_object_set_new(payload, "created_at", json_integer(util_unix_time()));
	text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(payload);
	if (text == NULL)
		return;
	rc = store_alert_claim(sc->st, tenant_id, kind, subject, threshold, period, text);
	free(text);
	if (rc < 0)
		log_warn("alerts: tenant %" PRId64 ": %s %s could not be claimed", tenant_id, kind,
		         subject);
	else if (rc == 1) {
		sc->claimed++;
		log_info("alerts: tenant %" PRId64 ": %s %s %d%% %s", tenant_id, kind, subject,
		         threshold, period);
	}
}

/* Money or tokens as event text: "12.5" USD or a count. */
static json_t *alerts_amount(int usd, int64_t v)
{
	char t[32];

	if (!usd)
		return json_integer(v);
	limit_format_usd(v, t, sizeof(t));
	return json_string(t);
}

/* The limits of tenant_id into sc->lim (kept for the tenant's next rows); -1: next round. */
static int alerts_tenant(struct scan *sc, int64_t tenant_id)
{
	if (sc->lim_tenant != tenant_id) {
		if (limits_get(sc->st, tenant_id, 0, sc->lim) < 0) {
			sc->lim_tenant = 0;
			return -1;
		}
		sc->lim_tenant = tenant_id;
	}
	return 0;
}

/*
 * Claim a budget.threshold event for each percent of list that spent has
 * reached of limit. subject names the budget (the tenant's: its name; a
 * level's: "<scope>:<id>:<name>"); level (may be NULL) holds the level's
 * fields of the payload, merged in (borrowed).
 */
static void alerts_cross(struct scan *sc, int64_t tenant_id, const char *list, const char *subject,
                         int i, const char *period, int64_t spent, int64_t limit, int hard,
                         json_t *level)
{
	for (const char *p = list; *p;) {
		int64_t pct = 0;
		char item[8];
		size_t n = strcspn(p, ",");
		json_t *payload;

		if (n > 0 && n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			util_parse_i64(item, 1, 100, &pct);
		}
		p += n + (p[n] == ',');
		/* spent / limit >= pct / 100 (in doubles: no overflow at any size) */
		if (pct <= 0 || (double)spent * 100.0 < (double)limit * (double)pct)
			continue;
		payload =
		    json_pack("{s:s, s:s, s:I, s:o, s:o, s:b}", "budget", alert_budgets[i].name,
		              "period", period, "threshold_pct", (json_int_t)pct, "spent",
		              alerts_amount(alert_budgets[i].usd, spent), "limit",
		              alerts_amount(alert_budgets[i].usd, limit), "hard", hard);
		if (payload != NULL && level != NULL && json_object_update(payload, level) != 0) {
			json_decref(payload);
			payload = NULL;
		}
		alerts_claim(sc, tenant_id, "budget.threshold", subject, (int)pct, period, payload);
	}
}

/* alert_budget_cb: the thresholds this counter has reached, and a used-up hard budget. */
static int alerts_budget(void *ctx, const struct alert_budget *b)
{
	struct scan *sc = ctx;
	const char *list;

	if (alerts_tenant(sc, b->tenant_id) < 0)
		return 0; /* next round */
	list = sc->lim->v[LIM_ALERT_THRESHOLDS].text;
	for (size_t i = 0; i < ARRAY_SIZE(alert_budgets); i++) {
		int64_t limit = sc->lim->v[alert_budgets[i].lim].num;
		int64_t spent = alert_budgets[i].usd ? b->spent_micros : b->spent_tokens;
		int hard = strcmp(sc->lim->v[LIM_BUDGET_ENFORCEMENT].text, "hard") == 0;

		if (strcmp(b->window, alert_budgets[i].window) != 0 || limit <= 0)
			continue;
		alerts_cross(sc, b->tenant_id, list, alert_budgets[i].name, (int)i, b->period,
		             spent, limit, hard, NULL);
		if (hard && spent >= limit)
			alerts_claim(sc, b->tenant_id, "budget.refusing", alert_budgets[i].name,
			             100, b->period,
			             json_pack("{s:s, s:s, s:o, s:o}", "budget",
			                       alert_budgets[i].name, "period", b->period, "spent",
			                       alerts_amount(alert_budgets[i].usd, spent), "limit",
			                       alerts_amount(alert_budgets[i].usd, limit)));
	}
	return 0;
}

/*
 * alert_level_cb: a level's counter (a key's, a project's, a tag's, an end
 * user's) against its budget, with the level's own list of percents or, when
 * it has none, the tenant's (an end user's: end_user_alert_thresholds when
 * set). The tenant of an end user's row comes from the note (ctx's
 * end_user fields).
 */
struct level_scan {
	struct scan *sc;
	const struct eu_note *notes; /* for end users: who each id is */
	size_t n;
};

struct eu_note {
	int64_t uid, tenant_id, seen_us;
	char name[65];
};

/* The levels with rows of their own, and the fields that name one in an event. */
static const struct alert_level {
	const char *scope, *id, *label;
} alert_levels[] = {
    {"key", "key_id", "prefix"},
    {"project", "project_id", "project"},
    {"tag", "tag_id", "tag"},
};

static int alerts_level(void *ctx, const struct alert_level_budget *lb)
{
	struct level_scan *ls = ctx;
	struct scan *sc = ls->sc;
	const struct alert_budget *b = &lb->b;
	int64_t tenant_id = b->tenant_id;
	const struct alert_level *lv = NULL;
	const char *list, *name = "";
	json_t *level;
	char subject[65];
	int hard;

	if (strcmp(lb->scope, "end_user") == 0) {
		for (size_t i = 0; i < ls->n; i++)
			if (ls->notes[i].uid == lb->scope_id) {
				tenant_id = ls->notes[i].tenant_id;
				name = ls->notes[i].name;
			}
	}
	if (tenant_id == 0 || alerts_tenant(sc, tenant_id) < 0)
		return 0;
	if (strcmp(lb->scope, "end_user") == 0) {
		const struct limit_value *v = &sc->lim->v[LIM_END_USER_ALERT_THRESHOLDS];

		list = v->source != LS_DEFAULT ? v->text : sc->lim->v[LIM_ALERT_THRESHOLDS].text;
		hard = strcmp(sc->lim->v[LIM_BUDGET_ENFORCEMENT].text, "hard") == 0;
		level = json_pack("{s:s, s:s}", "level", "end_user", "end_user", name);
	} else {
		list = lb->has_list ? lb->list : sc->lim->v[LIM_ALERT_THRESHOLDS].text;
		hard = strcmp(lb->enforcement[0] ? lb->enforcement
		                                 : sc->lim->v[LIM_BUDGET_ENFORCEMENT].text,
		              "hard") == 0;
		for (size_t i = 0; i < ARRAY_SIZE(alert_levels); i++)
			if (strcmp(lb->scope, alert_levels[i].scope) == 0)
				lv = &alert_levels[i];
		if (lv == NULL)
			return 0;
		level = json_pack("{s:s, s:I, s:s}", "level", lv->scope, lv->id,
		                  (json_int_t)lb->scope_id, lv->label, lb->label);
	}
	if (level == NULL)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(alert_budgets); i++) {
		int64_t limit = alert_budgets[i].usd ? b->lim_micros : b->lim_tokens;
		int64_t spent = alert_budgets[i].usd ? b->spent_micros : b->spent_tokens;

		if (strcmp(b->window, alert_budgets[i].window) != 0 || limit <= 0)
			continue;
		snprintf(subject, sizeof(subject), "%s:%lld:%s", lb->scope, (long long)lb->scope_id,
		         alert_budgets[i].name);
		alerts_cross(sc, tenant_id, list, subject, (int)i, b->period, spent, limit, hard,
		             level);
	}
	json_decref(level);
	return 0;
}

/* ------------------------------------------------------------------ end users */

#define EU_NOTES 4096          /* end users remembered per process (a hash table, by id) */
#define EU_KEEP_US 120000000LL /* ... for two minutes after their last call */

/* End users of tenants with end-user budgets this process admitted calls of, recently. */
static struct {
	pthread_mutex_t mu;
	struct eu_note v[EU_NOTES];
} eu = {.mu = PTHREAD_MUTEX_INITIALIZER};

void alerts_note_end_user(int64_t tenant_id, int64_t uid, const char *name)
{
	int64_t now = util_now_us();
	size_t h = (size_t)((uint64_t)uid % EU_NOTES);

	pthread_mutex_lock(&eu.mu);
	for (size_t probe = 0; probe < 8; probe++) {
		struct eu_note *e = &eu.v[(h + probe) % EU_NOTES];

		if (e->uid == uid || e->uid == 0 || now - e->seen_us > EU_KEEP_US) {
			if (e->uid != uid) {
				e->uid = uid;
				e->tenant_id = tenant_id;
				util_strlcpy(e->name, name, sizeof(e->name));
			}
			e->seen_us = now;
			break;
		}
	}
	pthread_mutex_unlock(&eu.mu);
}

/* The end users noted in the last two minutes, their counters against their budgets. */
static void alerts_end_users(struct scan *sc)
{
	struct eu_note *v = malloc(sizeof(eu.v));
	int64_t *ids = malloc(EU_NOTES * sizeof(*ids));
	int64_t now = util_now_us();
	struct level_scan ls = {sc, v, 0};

	if (v == NULL || ids == NULL)
		goto out;
	pthread_mutex_lock(&eu.mu);
	for (size_t i = 0; i < EU_NOTES; i++)
		if (eu.v[i].uid != 0 && now - eu.v[i].seen_us <= EU_KEEP_US)
			v[ls.n++] = eu.v[i];
	pthread_mutex_unlock(&eu.mu);
	for (size_t i = 0; i < ls.n; i++)
		ids[i] = v[i].uid;
	for (size_t at = 0; at < ls.n; at += 500)
		store_alert_end_user_budgets(sc->st, ids + at, ls.n - at < 500 ? ls.n - at : 500,
		                             alerts_level, &ls);
out:
	free(v);
	free(ids);
}

/* alert_fact_cb: a key about to expire. */
static int alerts_key(void *ctx, const struct alert_fact *f)
{
	alerts_claim(ctx, f->tenant_id, "key.expiring", f->subject, 0, f->period,
	             json_pack("{s:s, s:s, s:I}", "key", f->subject, "prefix", f->detail,
	                       "expires_at", (json_int_t)f->at));
	return 0;
}

/* alert_fact_cb: a breaker that opened. */
static int alerts_breaker(void *ctx, const struct alert_fact *f)
{
	alerts_claim(
	    ctx, f->tenant_id, "breaker.opened", f->subject, 0, f->period,
	    json_pack("{s:s, s:I}", "provider", f->subject, "opened_at", (json_int_t)f->at));
	return 0;
}

/* ------------------------------------------------------------------ refusals */

#define ALERT_NOTES 64

/* Budget refusals seen by this process since the alert thread last looked. */
static struct {
	pthread_mutex_t mu;
	size_t n;
	struct {
		int64_t tenant_id;
		int month, tokens;
	} v[ALERT_NOTES];
} notes = {PTHREAD_MUTEX_INITIALIZER, 0, {{0, 0, 0}}};

void alerts_note_refusal(int64_t tenant_id, const char *message)
{
	int month = strncmp(message, "monthly", 7) == 0;
	int tokens = strstr(message, "token budget") != NULL;

	pthread_mutex_lock(&notes.mu);
	for (size_t i = 0; i < notes.n; i++)
		if (notes.v[i].tenant_id == tenant_id && notes.v[i].month == month &&
		    notes.v[i].tokens == tokens)
			goto out;
	if (notes.n < ALERT_NOTES) {
		notes.v[notes.n].tenant_id = tenant_id;
		notes.v[notes.n].month = month;
		notes.v[notes.n].tokens = tokens;
		notes.n++;
	}
out:
	pthread_mutex_unlock(&notes.mu);
}

/* Claim a budget.refusing event for each refusal noted since the last round. */
static void alerts_refusals(struct scan *sc)
{
	char minute[20], day[20], month[20];
	size_t n;
	struct {
		int64_t tenant_id;
		int month, tokens;
	} v[ALERT_NOTES];

	pthread_mutex_lock(&notes.mu);
	n = notes.n;
	memcpy(v, notes.v, n * sizeof(v[0]));
	notes.n = 0;
	pthread_mutex_unlock(&notes.mu);
	admit_periods(util_unix_time(), minute, day, month);
	for (size_t i = 0; i < n; i++) {
		const char *budget =
		    v[i].tokens ? (v[i].month ? "budget_tokens_monthly" : "budget_tokens_daily")
		                : (v[i].month ? "budget_usd_monthly" : "budget_usd_daily");
		const char *period = v[i].month ? month : day;

		alerts_claim(sc, v[i].tenant_id, "budget.refusing", budget, 100, period,
		             json_pack("{s:s, s:s}", "budget", budget, "period", period));
	}
}

struct send {
	struct store *st;
	const struct conf *c;
	int n;
};

/* alert_delivery_cb: sign and POST one delivery, then record the attempt. */
static int alerts_send(void *ctx, const struct alert_delivery *d)
{
	struct send *sd = ctx;
	char sig[65], h_sig[128], h_event[80], h_id[64], err[160];
	const char *hdrs[3] = {h_sig, h_event, h_id};
	size_t len = strlen(d->payload);
	int64_t ts = util_unix_time(), retry = 0;
	long status = 0;
	int ok;

	sd->n++;
	if (secrets_webhook_sign(d->tenant_id, d->webhook_id, ts, d->payload, len, sig) != 0) {
		store_alert_attempt(sd->st, d->id, 0, 0, "master key not loaded", 0);
		return 0;
	}
	snprintf(h_sig, sizeof(h_sig), "X-Agenthost-Signature: t=%" PRId64 ",v1=%s", ts, sig);
	snprintf(h_event, sizeof(h_event), "X-Agenthost-Event: %s", d->kind);
	snprintf(h_id, sizeof(h_id), "X-Agenthost-Delivery: %" PRId64, d->id);
	ok =
	    hook_post(d->url, hdrs, ARRAY_SIZE(hdrs), d->payload, len, sd->c->webhook_allow_private,
	              ALERT_TIMEOUT_MS, &status, err, sizeof(err)) == 0;
	if (!ok && d->attempts + 1 < sd->c->webhook_max_attempts) {
		retry = sd->c->webhook_retry_base_ms;
		for (int i = 0; i < d->attempts && retry < 86400000; i++)
			retry *= 2;
	}
	if (!ok)
		log_warn("alerts: delivery %" PRId64 " (tenant %" PRId64 ", %s) attempt %d: %s%s",
		         d->id, d->tenant_id, d->kind, d->attempts + 1, err,
		         retry ? "; will retry" : "; given up");
	store_alert_attempt(sd->st, d->id, ok, (int)status, ok ? "" : err, retry);
	return 0;
}

int alerts_round(struct store *st, const struct conf *c)
{
	static _Thread_local int64_t next_prune;
	struct scan sc = {st, NULL, 0, 0};
	struct send sd = {st, c, 0};
	uint8_t raw[16];
	char token[33];

	sc.lim = malloc(sizeof(*sc.lim));
	if (sc.lim != NULL) {
		struct level_scan ls = {&sc, NULL, 0};

		store_alert_budgets(st, alerts_budget, &sc);
		store_alert_level_budgets(st, alerts_level, &ls);
		alerts_end_users(&sc);
		free(sc.lim);
	}
	alerts_refusals(&sc);
	store_alert_keys_expiring(st, ALERT_KEY_EXPIRY_S, alerts_key, &sc);
	store_alert_breakers_open(st, alerts_breaker, &sc);
	if (util_unix_time() >= next_prune) {
		next_prune = util_unix_time() + 3600;
		store_alert_prune(st, ALERT_KEEP_DAYS, 10000);
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(token, sizeof(token), raw, sizeof(raw));
	store_alert_due(st, token, ALERT_BATCH, ALERT_CLAIM_S, alerts_send, &sd);
	return sd.n;
}
