/*
 * admit.c: admission control for one model call (see admit.h).
 *
 * DESIGN
 * The counter rows a call books are derived from the caller's effective
 * limits: the tenant's and the key's day and month rows always (so spend is
 * known the moment a budget is set; the key's rows carry the key's own
 * level, enforce/limits.h), minute rows for the tenant and the key when a
 * rate limit applies, inflight rows when a concurrency limit applies, and
 * the global day/month rows only when a global budget is set — those rows
 * are shared by every tenant, so they serialize all admissions (that cost is
 * paid only by installations that ask for it). A worst case that exceeds a
 * hard limit on its own is refused without a round trip. A call that names
 * its end user (the OpenAI "user" field, X-Actor-Id) of a tenant with
 * end-user budgets books that end user's day and month rows as well (scope
 * end_user, the id a keyed hash of the name: secrets_end_user_id), admitted
 * by the same leases and reservations as every other row.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "enforce/admit.h"
#include "enforce/lease.h"
#include "enforce/limits.h"
#include "host/alerts.h"
#include "host/http.h"
#include "host/sched.h"
#include "store/leases.h"
#include "store/lifecycle.h"
#include "store/store.h"
#include "tenancy/identify.h"

int admit_set_timezone(const char *tz, char *err, size_t errlen)
{
	char path[256];
	struct stat sb;

	if (strcmp(tz, "UTC") != 0) {
		if (tz[0] == '\0' || tz[0] == '/' || strstr(tz, "..") ||
		    (size_t)snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz) >=
		        sizeof(path) ||
		    stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			snprintf(err, errlen, "budget_timezone: unknown time zone '%s'", tz);
			return -1;
		}
	}
	if (setenv("TZ", tz, 1) != 0) {
		snprintf(err, errlen, "budget_timezone: %s", strerror(errno));
		return -1;
	}
	tzset();
	return 0;
}

void admit_periods(int64_t t, char minute[20], char day[20], char month[20])
{
	/* Every call asks for the same second: the calendar is worked out once a second. */
	static __thread int64_t last_t = -1;
	static __thread char last_minute[20], last_day[20], last_month[20];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t != last_t) {
		localtime_r(&tt, &tm);
		strftime(last_minute, 20, "%Y-%m-%d %H:%M", &tm);
		strftime(last_day, 20, "%Y-%m-%d", &tm);
		strftime(last_month, 20, "%Y-%m", &tm);
		last_t = t;
	}
	memcpy(minute, last_minute, 20);
	memcpy(day, last_day, 20);
	memcpy(month, last_month, 20);
}

void admit_expired_periods(int64_t t, char minute[20], char day[20], char month[20])
{
	char unused1[20], unused2[20];

	admit_periods(t - 3600, minute, unused1, unused2);
	admit_periods(t - 3 * 86400, unused1, day, unused2);
	admit_periods(t - 70 * 86400, unused1, unused2, month);
}

int admit_housekeep(struct store *st, int batch, int64_t *rows)
{
	char minute[20], day[20], month[20];
	struct life_housekeeping h;
	int rc;

	admit_expired_periods((int64_t)time(NULL), minute, day, month);
	rc = store_life_housekeep(st, minute, day, month, batch, &h);
	*rows = h.counters + h.reservations + h.usage_5min + h.logins + h.sessions + h.changes;
	if (*rows)
		log_info(
		    "housekeeping: deleted %lld counter rows, %lld reservations, %lld five-minute"
		    " buckets, %lld failed sign-ins, %lld expired sessions",
		    (long long)h.counters, (long long)h.reservations, (long long)h.usage_5min,
		    (long long)h.logins, (long long)h.sessions);
	return rc;
}

int64_t admit_seconds_left(int64_t t, int window)
{
	time_t tt = (time_t)t, end;
	struct tm tm;

	localtime_r(&tt, &tm);
	switch (window) {
	case ADM_MINUTE:
		return 60 - tm.tm_sec;
	case ADM_DAY:
		tm.tm_mday++;
		break;
	case ADM_MONTH:
		tm.tm_mon++;
		tm.tm_mday = 1;
		break;
	default:
		return 1;
	}
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	end = mktime(&tm);
	return end > tt ? (int64_t)(end - tt) : 1;
}

int64_t admit_cost(const struct model *m, int64_t prompt_tokens, int64_t completion_tokens)
{
	int64_t units = prompt_tokens * m->input_price + completion_tokens * m->output_price;

	return units <= 0 ? 0 : (units + 999999) / 1000000;
}

int64_t admit_prompt_bound(const struct ah_message *m, size_t n)
{
	int64_t b = 16;

	for (size_t i = 0; i < n; i++) {
		b += (int64_t)strlen(m[i].content) + 8;
		for (size_t j = 0; j < m[i].n_tool_calls; j++)
			b += (int64_t)(strlen(m[i].tool_calls[j].id) +
			               strlen(m[i].tool_calls[j].name) +
			               strlen(m[i].tool_calls[j].arguments)) +
			     8;
		if (m[i].tool_call_id != NULL)
			b += (int64_t)strlen(m[i].tool_call_id) + 8;
	}
	return b;
}

int64_t admit_tools_bound(const struct ah_tool *t, size_t n)
{
	int64_t b = 0;

	for (size_t i = 0; i < n; i++)
		b += (int64_t)(strlen(t[i].name) + strlen(t[i].description) +
		               strlen(t[i].parameters)) +
		     16;
	return b;
}

int64_t admit_input_bound(const char *const *inputs, size_t n)
{
	int64_t b = 16;

	for (size_t i = 0; i < n; i++)
		b += (int64_t)strlen(inputs[i]) + 8;
	return b;
}

static struct adm_counter *add_counter(struct adm_request *a, int scope, int64_t scope_id,
                                       int window, const char *period)
{
	struct adm_counter *c = &a->c[a->n++];

	memset(c, 0, sizeof(*c));
	c->scope = scope;
	c->scope_id = scope_id;
	c->window = window;
	util_strlcpy(c->period, period, sizeof(c->period));
	c->hard = 1;
	return c;
}

/*
 * Tags with budgets one call may carry (two counters each): with the 16
 * other rows at most and the end user's two (their ids up to 19 digits),
 * the reservation's list of rows stays within its 1024 bytes
 * (store/admission.c adm_counters_text).
 */
#define ADMIT_TAGS_MAX 3

/*
 * The day and month rows of every tag with budgets the call's metadata
 * carries (a string equal to the tag's value). 0, or -1 when it carries
 * more than ADMIT_TAGS_MAX of them.
 */
static int admit_tag_counters(const struct limits *l, struct admission *adm)
{
	json_t *meta;
	int n = 0, rc = 0;

	if (l->ntags == 0 || adm->metadata == NULL)
		return 0;
	meta = json_loads(adm->metadata, 0, NULL);
	if (!json_is_object(meta)) {
		json_decref(meta);
		return 0;
	}
	for (int i = 0; i < l->ntags; i++) {
		const struct limit_tag *g = &l->tags[i];
		const char *v = json_string_value(json_object_get(meta, g->key));
		struct adm_counter *c;

		if (v == NULL || g->key[0] == '\0' || strcmp(v, g->value) != 0)
			continue;
		if (++n > ADMIT_TAGS_MAX) {
			rc = -1;
			break;
		}
		c = add_counter(&adm->a, ADM_TAG, g->id, ADM_DAY, adm->day);
		c->max_micros = g->num[LV_BUDGET_USD_DAILY];
		c->max_tokens = g->num[LV_BUDGET_TOKENS_DAILY];
		c->hard = limits_tag_hard(l, g);
		c = add_counter(&adm->a, ADM_TAG, g->id, ADM_MONTH, adm->month);
		c->max_micros = g->num[LV_BUDGET_USD_MONTHLY];
		c->max_tokens = g->num[LV_BUDGET_TOKENS_MONTHLY];
		c->hard = limits_tag_hard(l, g);
	}
	json_decref(meta);
	return rc;
}

/*
 * The day and month rows of the call's end user when the tenant gives each
 * end user a budget (end_user_budget_*); a call naming none, or a tenant
 * without such a budget, books none (nothing is known of end users then).
 */
static void admit_end_user_counters(const struct req *r, const struct limits *l,
                                    struct admission *adm)
{
	const struct limit_value *v = l->v;
	int hard = strcmp(v[LIM_BUDGET_ENFORCEMENT].text, "soft") != 0;
	struct adm_counter *c;
	int64_t uid;

	if (r->end_user[0] == '\0')
		return;
	if (!v[LIM_END_USER_BUDGET_USD_DAILY].num && !v[LIM_END_USER_BUDGET_TOKENS_DAILY].num &&
	    !v[LIM_END_USER_BUDGET_USD_MONTHLY].num && !v[LIM_END_USER_BUDGET_TOKENS_MONTHLY].num)
		return;
	if ((uid = secrets_end_user_id(adm->a.tenant_id, r->end_user)) == 0)
		return;
	c = add_counter(&adm->a, ADM_END_USER, uid, ADM_DAY, adm->day);
	c->max_micros = v[LIM_END_USER_BUDGET_USD_DAILY].num;
	c->max_tokens = v[LIM_END_USER_BUDGET_TOKENS_DAILY].num;
	c->hard = hard;
	c = add_counter(&adm->a, ADM_END_USER, uid, ADM_MONTH, adm->month);
	c->max_micros = v[LIM_END_USER_BUDGET_USD_MONTHLY].num;
	c->max_tokens = v[LIM_END_USER_BUDGET_TOKENS_MONTHLY].num;
	c->hard = hard;
	/* its rows carry no tenant: the alert thread learns who it is here */
	alerts_note_end_user(adm->a.tenant_id, uid, r->end_user);
}

/* The tag of counter c ("department=research"), for messages; "" when unknown. */
static void admit_tag_name(const struct admission *adm, const struct adm_counter *c, char *out,
                           size_t cap)
{
	out[0] = '\0';
	for (int i = 0; adm->lim && i < adm->lim->ntags; i++)
		if (adm->lim->tags[i].id == c->scope_id)
			snprintf(out, cap, "%s=%s", adm->lim->tags[i].key, adm->lim->tags[i].value);
}

/* The counter rows this call books, from the limits. */
static void admit_counters(const struct ident *id, struct admission *adm)
{
	const struct limits *l = id->lim;
	struct adm_request *a = &adm->a;
	struct adm_counter *c;
	int hard = strcmp(l->v[LIM_BUDGET_ENFORCEMENT].text, "soft") != 0;

	a->n = 0;
	if (l->v[LIM_RPM].num || l->v[LIM_TPM].num) {
		c = add_counter(a, ADM_TENANT, id->tenant_id, ADM_MINUTE, adm->minute);
		c->max_requests = l->v[LIM_RPM].num;
		c->max_tokens = l->v[LIM_TPM].num;
	}
	if (l->v[LIM_KEY_RPM].num || l->v[LIM_KEY_TPM].num) {
		c = add_counter(a, ADM_KEY, id->key_id, ADM_MINUTE, adm->minute);
		c->max_requests = l->v[LIM_KEY_RPM].num;
		c->max_tokens = l->v[LIM_KEY_TPM].num;
	}
	c = add_counter(a, ADM_TENANT, id->tenant_id, ADM_DAY, adm->day);
	c->max_micros = l->v[LIM_BUDGET_USD_DAILY].num;
	c->max_tokens = l->v[LIM_BUDGET_TOKENS_DAILY].num;
	c->hard = hard;
	c = add_counter(a, ADM_TENANT, id->tenant_id, ADM_MONTH, adm->month);
	c->max_micros = l->v[LIM_BUDGET_USD_MONTHLY].num;
	c->max_tokens = l->v[LIM_BUDGET_TOKENS_MONTHLY].num;
	c->hard = hard;
	/*
	 * The key's own level, below the tenant's: its day and month rows are booked
	 * always, like the tenant's, so a key's spend is known the moment a budget is
	 * set for it (unlimited rows need no lease; the ledger adds to them per batch).
	 */
	c = add_counter(a, ADM_KEY, id->key_id, ADM_DAY, adm->day);
	c->max_micros = l->key[LV_BUDGET_USD_DAILY].num;
	c->max_tokens = l->key[LV_BUDGET_TOKENS_DAILY].num;
	c->hard = limits_key_hard(l);
	c = add_counter(a, ADM_KEY, id->key_id, ADM_MONTH, adm->month);
	c->max_micros = l->key[LV_BUDGET_USD_MONTHLY].num;
	c->max_tokens = l->key[LV_BUDGET_TOKENS_MONTHLY].num;
	c->hard = limits_key_hard(l);
	/* The key's project, a level between the tenant and the key: its rows, for every call. */
	if (l->project_id && (l->project[LV_RPM].num || l->project[LV_TPM].num)) {
		c = add_counter(a, ADM_PROJECT, l->project_id, ADM_MINUTE, adm->minute);
		c->max_requests = l->project[LV_RPM].num;
		c->max_tokens = l->project[LV_TPM].num;
	}
	if (l->project_id && l->project[LV_CONCURRENCY].num) {
		c = add_counter(a, ADM_PROJECT, l->project_id, ADM_INFLIGHT, "");
		c->max_requests = l->project[LV_CONCURRENCY].num;
	}
	if (l->project_id) {
		c = add_counter(a, ADM_PROJECT, l->project_id, ADM_DAY, adm->day);
		c->max_micros = l->project[LV_BUDGET_USD_DAILY].num;
		c->max_tokens = l->project[LV_BUDGET_TOKENS_DAILY].num;
		c->hard = limits_project_hard(l);
		c = add_counter(a, ADM_PROJECT, l->project_id, ADM_MONTH, adm->month);
		c->max_micros = l->project[LV_BUDGET_USD_MONTHLY].num;
		c->max_tokens = l->project[LV_BUDGET_TOKENS_MONTHLY].num;
		c->hard = limits_project_hard(l);
	}
	if (l->v[LIM_GLOBAL_BUDGET_USD_DAILY].num || l->v[LIM_GLOBAL_BUDGET_TOKENS_DAILY].num) {
		c = add_counter(a, ADM_GLOBAL, 0, ADM_DAY, adm->day);
		c->max_micros = l->v[LIM_GLOBAL_BUDGET_USD_DAILY].num;
		c->max_tokens = l->v[LIM_GLOBAL_BUDGET_TOKENS_DAILY].num;
	}
	if (l->v[LIM_GLOBAL_BUDGET_USD_MONTHLY].num || l->v[LIM_GLOBAL_BUDGET_TOKENS_MONTHLY].num) {
		c = add_counter(a, ADM_GLOBAL, 0, ADM_MONTH, adm->month);
		c->max_micros = l->v[LIM_GLOBAL_BUDGET_USD_MONTHLY].num;
		c->max_tokens = l->v[LIM_GLOBAL_BUDGET_TOKENS_MONTHLY].num;
	}
	if (l->v[LIM_CONCURRENCY].num) {
		c = add_counter(a, ADM_TENANT, id->tenant_id, ADM_INFLIGHT, "");
		c->max_requests = l->v[LIM_CONCURRENCY].num;
	}
	if (l->v[LIM_KEY_CONCURRENCY].num) {
		c = add_counter(a, ADM_KEY, id->key_id, ADM_INFLIGHT, "");
		c->max_requests = l->v[LIM_KEY_CONCURRENCY].num;
	}
}

static const char *const window_words[ADM__WINDOWS] = {"per-minute", "daily", "monthly",
                                                       "concurrency"};

/* The refusal of a call by counter c, with the seconds until it may pass. */
static void admit_refusal(const struct admission *adm, const struct adm_counter *c,
                          struct refusal *rf)
{
	/* Each refusal names its level: the reason codes and the words of each scope. */
	static const struct {
		enum reason rpm, tpm, conc, budget;
		const char *who, *whose;
	} lv[ADM__SCOPES] = {
	    [ADM_TENANT] = {R_rpm_exceeded, R_tpm_exceeded, R_concurrency_exceeded,
	                    R_tenant_budget_exceeded, "tenant", "the tenant's"},
	    [ADM_KEY] = {R_key_rpm_exceeded, R_key_tpm_exceeded, R_key_concurrency_exceeded,
	                 R_key_budget_exceeded, "API key", "this API key's"},
	    [ADM_GLOBAL] = {R_rpm_exceeded, R_tpm_exceeded, R_concurrency_exceeded,
	                    R_global_budget_exceeded, "platform", "the platform's"},
	    [ADM_PROJECT] = {R_project_rpm_exceeded, R_project_tpm_exceeded,
	                     R_project_concurrency_exceeded, R_project_budget_exceeded,
	                     "key's project", "this key's project's"},
	    [ADM_TAG] = {R_rpm_exceeded, R_tpm_exceeded, R_concurrency_exceeded,
	                 R_tag_budget_exceeded, "tag", "the tag's"},
	    [ADM_END_USER] = {R_rpm_exceeded, R_tpm_exceeded, R_concurrency_exceeded,
	                      R_end_user_budget_exceeded, "end user", "this end user's"},
	};
	int sc = c->scope >= 0 && c->scope < ADM__SCOPES ? c->scope : ADM_TENANT;
	/* What processes hold as leases counts as used (store/admission.c admits the same way). */
	int over_requests =
	    c->max_requests && c->requests + c->leased_requests + 1 > c->max_requests;
	int over_tokens =
	    c->max_tokens &&
	    c->spent_tokens + c->reserved_tokens + c->leased_tokens + adm->a.tokens > c->max_tokens;
	int over_micros =
	    c->max_micros &&
	    c->spent_micros + c->reserved_micros + c->leased_micros + adm->a.micros > c->max_micros;
	int64_t retry_after = admit_seconds_left(adm->now, c->window);
	char lim[32], used[32], tag[LIMITS_TAG_KEY_MAX + LIMITS_TAG_VALUE_MAX + 2];
	char whose[sizeof(tag) + 32];

	if (c->scope == ADM_TAG) {
		admit_tag_name(adm, c, tag, sizeof(tag));
		snprintf(whose, sizeof(whose), "the tag %s's", tag);
	} else {
		snprintf(whose, sizeof(whose), "%s", lv[sc].whose);
	}
	if (c->window == ADM_INFLIGHT) {
		reason_set(rf, lv[sc].conc,
		           "%lld requests already in flight for this %s (limit %lld)",
		           (long long)c->requests, lv[sc].who, (long long)c->max_requests);
		rf->retry_after = 1;
		return;
	}
	if (c->window == ADM_MINUTE && over_requests) {
		reason_set(rf, lv[sc].rpm,
		           "request rate limit of %lld per minute reached for this %s",
		           (long long)c->max_requests, lv[sc].who);
	} else if (c->window == ADM_MINUTE) {
		reason_set(rf, lv[sc].tpm,
		           "token rate limit of %lld per minute reached for this %s (this request "
		           "may use up to %lld tokens)",
		           (long long)c->max_tokens, lv[sc].who, (long long)adm->a.tokens);
	} else if (c->scope == ADM_GLOBAL) {
		reason_set(rf, R_global_budget_exceeded,
		           "the platform's %s budget is exhausted; retry later",
		           window_words[c->window]);
	} else if (over_tokens && !over_micros) {
		reason_set(
		    rf, lv[sc].budget,
		    "%s %s token budget of %lld would be exceeded: %lld used, %lld reserved, "
		    "this request may use up to %lld",
		    whose, window_words[c->window], (long long)c->max_tokens,
		    (long long)c->spent_tokens, (long long)c->reserved_tokens,
		    (long long)adm->a.tokens);
	} else {
		limit_format_usd(c->max_micros, lim, sizeof(lim));
		limit_format_usd(c->spent_micros + c->reserved_micros + c->leased_micros, used,
		                 sizeof(used));
		reason_set(rf, lv[sc].budget,
		           "%s %s budget of $%s would be exceeded: $%s spent or reserved, this "
		           "request may cost up to $%.6f",
		           whose, window_words[c->window], lim, used, (double)adm->a.micros / 1e6);
	}
	rf->retry_after = retry_after;
}

/* Headers from the counters' read-back values. */
static void admit_headers(struct req *r, const struct admission *adm)
{
	char v[64];

	for (size_t i = 0; i < adm->a.n; i++) {
		const struct adm_counter *c = &adm->a.c[i];
		int64_t left;

		if (c->scope == ADM_TENANT && c->window == ADM_MINUTE) {
			snprintf(v, sizeof(v), "%llds",
			         (long long)admit_seconds_left(adm->now, ADM_MINUTE));
			if (c->max_requests) {
				left = c->max_requests - c->requests;
				resp_header_i64(r, "X-RateLimit-Limit-Requests", c->max_requests);
				resp_header_i64(r, "X-RateLimit-Remaining-Requests",
				                left > 0 ? left : 0);
				resp_header(r, "X-RateLimit-Reset-Requests", v);
			}
			if (c->max_tokens) {
				left = c->max_tokens - c->spent_tokens - c->reserved_tokens;
				resp_header_i64(r, "X-RateLimit-Limit-Tokens", c->max_tokens);
				resp_header_i64(r, "X-RateLimit-Remaining-Tokens",
				                left > 0 ? left : 0);
				resp_header(r, "X-RateLimit-Reset-Tokens", v);
			}
		}
		if (c->scope == ADM_TENANT && (c->window == ADM_DAY || c->window == ADM_MONTH)) {
			const char *w = c->window == ADM_DAY ? "Daily" : "Monthly";
			char name[64];

			if (c->max_micros) {
				left = c->max_micros - c->spent_micros - c->reserved_micros;
				limit_format_usd(c->max_micros, v, sizeof(v));
				snprintf(name, sizeof(name), "X-Budget-Limit-USD-%s", w);
				resp_header(r, name, v);
				limit_format_usd(left > 0 ? left : 0, v, sizeof(v));
				snprintf(name, sizeof(name), "X-Budget-Remaining-USD-%s", w);
				resp_header(r, name, v);
			}
			if (c->max_tokens) {
				left = c->max_tokens - c->spent_tokens - c->reserved_tokens;
				snprintf(name, sizeof(name), "X-Budget-Limit-Tokens-%s", w);
				resp_header_i64(r, name, c->max_tokens);
				snprintf(name, sizeof(name), "X-Budget-Remaining-Tokens-%s", w);
				resp_header_i64(r, name, left > 0 ? left : 0);
			}
		}
	}
}

/* Soft budgets: admitted, but say so (header) and audit the crossing once. */
static void admit_soft_check(struct req *r, const struct ident *id, const struct admission *adm)
{
	for (size_t i = 0; i < adm->a.n; i++) {
		const struct adm_counter *c = &adm->a.c[i];
		int64_t after_m = c->spent_micros + c->reserved_micros;
		int64_t after_t = c->spent_tokens + c->reserved_tokens;
		char detail[160];

		if (c->hard || c->scope == ADM_GLOBAL || c->window == ADM_MINUTE ||
		    c->window == ADM_INFLIGHT)
			continue;
		if (!((c->max_micros && after_m > c->max_micros) ||
		      (c->max_tokens && after_t > c->max_tokens)))
			continue;
		snprintf(detail, sizeof(detail), "%s%s budget exceeded (soft enforcement)",
		         c->scope == ADM_KEY        ? "API key's "
		         : c->scope == ADM_PROJECT  ? "project's "
		         : c->scope == ADM_TAG      ? "tag's "
		         : c->scope == ADM_END_USER ? "end user's "
		                                    : "",
		         window_words[c->window]);
		resp_header(r, "X-Budget-Warning", detail);
		/* Audit only the request that crossed the line, not every one after it. */
		if ((c->max_micros && after_m - adm->a.micros <= c->max_micros) ||
		    (c->max_tokens && after_t - adm->a.tokens <= c->max_tokens)) {
			struct audit_entry ae = {0};
			char js[200], target[64];

			snprintf(
			    js, sizeof(js),
			    "{\"window\":\"%s\",\"period\":\"%s\",\"spent_reserved_micros\":%lld,"
			    "\"limit_micros\":%lld}",
			    c->window == ADM_DAY ? "day" : "month", c->period, (long long)after_m,
			    (long long)c->max_micros);
			ae.tenant_id = id->tenant_id;
			ae.actor_type = "api_key";
			ae.actor_id = id->key_prefix;
			ae.action = "budget.soft_exceeded";
			if (c->scope == ADM_KEY || c->scope == ADM_PROJECT || c->scope == ADM_TAG ||
			    c->scope == ADM_END_USER)
				snprintf(target, sizeof(target), "budget:%s:%lld:%s",
				         c->scope == ADM_KEY       ? "key"
				         : c->scope == ADM_PROJECT ? "project"
				         : c->scope == ADM_TAG     ? "tag"
				                                   : "end_user",
				         (long long)c->scope_id,
				         c->window == ADM_DAY ? "daily" : "monthly");
			else
				snprintf(target, sizeof(target), "budget:%s",
				         c->window == ADM_DAY ? "daily" : "monthly");
			ae.target = target;
			ae.outcome = "ok";
			ae.reason_code =
			    reason_name(c->scope == ADM_KEY        ? R_key_budget_exceeded
			                : c->scope == ADM_PROJECT  ? R_project_budget_exceeded
			                : c->scope == ADM_TAG      ? R_tag_budget_exceeded
			                : c->scope == ADM_END_USER ? R_end_user_budget_exceeded
			                                           : R_tenant_budget_exceeded);
			ae.request_id = r->request_id;
			ae.ip = r->remote_addr;
			ae.detail = js;
			ae.end_user = r->end_user;
			store_audit(r->store, &ae);
		}
	}
}

/* Headers from what this process knows of the counters of a call admitted on leases. */
static void admit_lease_view(struct admission *adm)
{
	for (size_t i = 0; i < adm->a.n; i++)
		lease_view(&adm->ticket, i, &adm->a.c[i]);
}

/*
 * A call refused one by one on counter c while leases held some of c: ask
 * the holders to give back what they do not use and try again, for at most
 * LEASE_RECALL_WAIT_MS, until admitted or the leases stop shrinking.
 * ST_OK with *refused (-1: admitted), or the store's error.
 */
static int admit_recall(struct req *r, struct admission *adm, int64_t *reservation_id, int *refused)
{
	int64_t start = util_now_us(), deadline = start + LEASE_RECALL_WAIT_MS * 1000LL;
	int64_t before, last_drop = start;
	unsigned sleep_ms = 10;
	int rc = ST_OK;

	for (;;) {
		struct adm_counter *c = &adm->a.c[*refused];

		before = c->leased_micros + c->leased_tokens + c->leased_requests;
		if (before <= 0)
			return rc;
		/* Our own lease first: no need to wait for that. A recall is best effort. */
		if (!lease_give_back(r->store, c))
			store_lease_recall(r->store, c);
		if (util_now_us() >= deadline)
			return rc;
		sched_sleep_us((int64_t)sleep_ms * 1000); /* parked: the thread serves others */
		if (sleep_ms < 80)
			sleep_ms *= 2;
		rc = store_admit_reserve(r->store, &adm->a, reservation_id, refused);
		if (rc != ST_OK || *refused < 0)
			return rc;
		c = &adm->a.c[*refused];
		/* Nothing came back for as long as the holders take to hear a recall and give
		 * back (a watch, a tick, a return): what they hold is in use. Done. */
		if (c->leased_micros + c->leased_tokens + c->leased_requests < before)
			last_drop = util_now_us();
		else if (util_now_us() - last_drop > LEASE_RECALL_QUIET_MS * 1000LL)
			return rc;
	}
}

int admit_reserve(struct req *r, const struct ident *id, const struct model *m,
                  int64_t prompt_bound, int max_tokens, struct admission *adm, struct refusal *rf)
{
	int refused = -1;

	adm->now = util_unix_time();
	adm->reservation_id = 0;
	adm->prompt_bound = prompt_bound;
	adm->max_tokens = max_tokens;
	admit_periods(adm->now, adm->minute, adm->day, adm->month);
	adm->a.tenant_id = id->tenant_id;
	adm->a.key_id = id->key_id;
	adm->a.prompt_tokens = prompt_bound;
	adm->a.max_tokens = max_tokens;
	adm->a.tokens = prompt_bound + max_tokens;
	adm->a.micros = admit_cost(m, prompt_bound, max_tokens);
	adm->a.expires_s =
	    (r->conf->upstream_timeout_ms + 999) / 1000 + r->conf->reservation_grace_s;
	adm->lim = id->lim;
	admit_counters(id, adm);
	if (admit_tag_counters(id->lim, adm) < 0)
		return reason_set(rf, R_invalid_request,
		                  "metadata: this call carries more than %d tags with budgets",
		                  ADMIT_TAGS_MAX);
	admit_end_user_counters(r, id->lim, adm);

	/* A worst case above a hard limit on its own can never be admitted. */
	for (size_t i = 0; i < adm->a.n && refused < 0; i++) {
		const struct adm_counter *c = &adm->a.c[i];

		if (c->hard && ((c->max_micros && adm->a.micros > c->max_micros) ||
		                (c->max_tokens && adm->a.tokens > c->max_tokens)))
			refused = (int)i;
	}
	/* Most calls: on this process's leases, without a round trip. */
	if (refused < 0 && lease_admit(r->store, &adm->a, &adm->ticket) == LEASE_OK) {
		metrics_count(MC_ADMIT_LEASE);
		admit_lease_view(adm);
		admit_headers(r, adm);
		admit_soft_check(r, id, adm);
		return 0;
	}
	if (refused < 0) {
		int rc = store_admit_reserve(r->store, &adm->a, &adm->reservation_id, &refused);

		if (rc == ST_OK && refused >= 0)
			rc = admit_recall(r, adm, &adm->reservation_id, &refused);

		if (rc != ST_OK)
			metrics_count(MC_ADMIT_ERROR);
		if (rc == ST_CONFLICT) {
			reason_set(rf, R_tenant_migrating,
			           "this tenant's data is being moved; retry shortly");
			rf->retry_after = 2;
			return -1;
		}
		if (rc != ST_OK)
			return reason_set(rf, R_database_unavailable,
			                  "admission control is unavailable; retry shortly");
	}
	admit_headers(r, adm);
	if (refused >= 0) {
		metrics_count(MC_ADMIT_REFUSED);
		admit_refusal(adm, &adm->a.c[refused], rf);
		return -1;
	}
	metrics_count(MC_ADMIT_RESERVATION);
	admit_soft_check(r, id, adm);
	return 0;
}
