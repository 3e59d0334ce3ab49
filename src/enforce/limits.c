/*
 * limits.c: the limit definitions, validation, resolution by precedence and
 * the per-thread cache (see limits.h and limits_rows.h).
 *
 * DESIGN
 * limit_defs is the one table that says what a limit is: its type, built-in
 * default, bounds and the scopes that may set it. Everything else reads it:
 * validation (CLI, admin), resolution (every request), the API and CLI views.
 * Stored text is validated again when it is applied, so a hand-edited row
 * that does not parse is ignored with a warning instead of becoming a limit
 * nobody meant; the value under it (plan, global, default) stays in force.
 *
 * Resolution is one store query (store_limits_applicable) plus pure code.
 * limits_get keeps resolved (tenant, key) pairs in a process-wide cache
 * (common/cache.h), packed small: an edit through agenthost drops them on
 * this host at once and on other hosts within one watch of change_log
 * (store/changes.c); LIMITS_CACHE_MS is the bound stated for both. A hit
 * copies the entry out and allocates nothing.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/cache.h"
#include "common/cidr.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/limits.h"
#include "enforce/limits_rows.h"
#include "store/limits.h"
#include "store/store.h"

#define LIMITS_CACHE_ENTRIES 32768 /* a (tenant, key) pair per entry: as many as the key cache */

#define COUNT_MAX 1000000000000LL  /* 10^12 */
#define USD_MAX 10000000000000LL   /* 10,000,000 USD in micro-USD */
#define MAX_TOKENS_MAX 100000000LL /* fits an int for the callers */
#define BREAKER_ERRORS_MAX 1000000LL
#define BREAKER_SECONDS_MAX 86400LL
#define LIST_ITEM_MAX 128

#define G LSB(LS_GLOBAL)
#define P LSB(LS_PLAN)
#define T LSB(LS_TENANT)
#define K LSB(LS_KEY)

static const struct limit_def defs[LIM__MAX] = {
    [LIM_RPM] = {"rpm", LT_COUNT, "0", 0, COUNT_MAX, NULL, G | P | T,
                 "requests per minute for the tenant (0 = no limit)"},
    [LIM_TPM] = {"tpm", LT_COUNT, "0", 0, COUNT_MAX, NULL, G | P | T,
                 "tokens per minute (prompt + completion) for the tenant (0 = no limit)"},
    [LIM_CONCURRENCY] = {"concurrency", LT_COUNT, "0", 0, COUNT_MAX, NULL, G | P | T,
                         "requests in flight for the tenant (0 = no limit)"},
    [LIM_KEY_RPM] = {"key_rpm", LT_COUNT, "0", 0, COUNT_MAX, NULL, G | P | T | K,
                     "requests per minute for each API key (0 = no limit)"},
    [LIM_KEY_TPM] = {"key_tpm", LT_COUNT, "0", 0, COUNT_MAX, NULL, G | P | T | K,
                     "tokens per minute for each API key (0 = no limit)"},
    [LIM_KEY_CONCURRENCY] = {"key_concurrency", LT_COUNT, "0", 0, COUNT_MAX, NULL, G | P | T | K,
                             "requests in flight for each API key (0 = no limit)"},
    [LIM_BUDGET_USD_DAILY] = {"budget_usd_daily", LT_USD, "0", 0, USD_MAX, NULL, G | P | T,
                              "USD per calendar day for the tenant (0 = no limit)"},
    [LIM_BUDGET_USD_MONTHLY] = {"budget_usd_monthly", LT_USD, "0", 0, USD_MAX, NULL, G | P | T,
                                "USD per calendar month for the tenant (0 = no limit)"},
    [LIM_BUDGET_TOKENS_DAILY] = {"budget_tokens_daily", LT_COUNT, "0", 0, COUNT_MAX, NULL,
                                 G | P | T,
                                 "tokens per calendar day for the tenant (0 = no limit)"},
    [LIM_BUDGET_TOKENS_MONTHLY] = {"budget_tokens_monthly", LT_COUNT, "0", 0, COUNT_MAX, NULL,
                                   G | P | T,
                                   "tokens per calendar month for the tenant (0 = no limit)"},
    [LIM_BUDGET_ENFORCEMENT] = {"budget_enforcement", LT_ENUM, "hard", 0, 0, "hard|soft", G | P | T,
                                "hard: refuse over budget; soft: allow, warn and audit"},
    [LIM_MAX_TOKENS] = {"max_tokens", LT_COUNT, "0", 0, MAX_TOKENS_MAX, NULL, G | P | T,
                        "cap on a request's max_tokens, and its value when unset (0 = none)"},
    [LIM_ALLOWED_MODELS] = {"allowed_models", LT_LIST, "", 0, 0, NULL, G | P | T,
                            "comma list of model names the tenant may use (empty = all)"},
    [LIM_ALLOWED_AGENTS] = {"allowed_agents", LT_LIST, "", 0, 0, NULL, G | P | T,
                            "comma list of agent names the tenant may run (empty = all)"},
    [LIM_IP_ALLOWLIST] = {"ip_allowlist", LT_CIDRS, "", 0, 0, NULL, G | P | T,
                          "comma list of client CIDRs, IPv4 or IPv6 (empty = any address)"},
    [LIM_BREAKER_ERRORS] = {"breaker_errors", LT_COUNT, "5", 0, BREAKER_ERRORS_MAX, NULL, G | P | T,
                            "upstream errors that open a tenant's breaker (0 = never opens)"},
    [LIM_BREAKER_WINDOW_S] = {"breaker_window_s", LT_COUNT, "60", 1, BREAKER_SECONDS_MAX, NULL,
                              G | P | T, "seconds in which breaker_errors are counted"},
    [LIM_BREAKER_COOLDOWN_S] = {"breaker_cooldown_s", LT_COUNT, "30", 1, BREAKER_SECONDS_MAX, NULL,
                                G | P | T, "seconds an open breaker waits before a probe"},
    [LIM_GLOBAL_BUDGET_USD_DAILY] = {"global_budget_usd_daily", LT_USD, "0", 0, USD_MAX, NULL, G,
                                     "USD per calendar day over all tenants (0 = no limit)"},
    [LIM_GLOBAL_BUDGET_USD_MONTHLY] = {"global_budget_usd_monthly", LT_USD, "0", 0, USD_MAX, NULL,
                                       G, "USD per calendar month over all tenants (0 = no limit)"},
    [LIM_GLOBAL_BUDGET_TOKENS_DAILY] = {"global_budget_tokens_daily", LT_COUNT, "0", 0, COUNT_MAX,
                                        NULL, G,
                                        "tokens per calendar day over all tenants (0 = no limit)"},
    [LIM_GLOBAL_BUDGET_TOKENS_MONTHLY] = {"global_budget_tokens_monthly", LT_COUNT, "0", 0,
                                          COUNT_MAX, NULL, G,
                                          "tokens per calendar month over all tenants"
                                          " (0 = no limit)"},
    [LIM_RETENTION_DAYS] = {"retention_days", LT_COUNT, "0", 0, 36500, NULL, G | P | T,
                            "executions older than this many days are purged by agenthostctl"
                            " purge (rollups are kept; 0 = keep forever)"},
    [LIM_DATA_REGION] = {"data_region", LT_LIST, "", 0, 0, NULL, G | P | T,
                         "label of the region holding the tenant's data (informational)"},
    [LIM_DEFAULT_MODEL] = {"default_model", LT_LIST, "", 0, 0, NULL, G | P | T,
                           "model given to agents created without one"},
    [LIM_ISOLATION_MODE] = {"isolation_mode", LT_ENUM, "shared", 0, 0, "shared|dedicated", G | P,
                            "where a new tenant's data goes: the shared database or one of its"
                            " own (a tenant's mode changes with agenthostctl tenant move)"},
    [LIM_HOST_SHARE_PCT] = {"host_share_pct", LT_COUNT, "25", 0, 100, NULL, G | P | T,
                            "percent of a process's calls in flight (max_inflight) the tenant may"
                            " hold (0 = no cap; a busy process also holds it to a fair part)"},
    [LIM_DASH_IP_ALLOWLIST] = {"dashboard_ip_allowlist", LT_CIDRS, "", 0, 0, NULL, G | P | T,
                               "comma list of CIDRs the tenant's dashboard users may sign in and"
                               " work from (empty = any address)"},
    [LIM_DASH_SESSION_IDLE_S] = {"dashboard_session_idle_s", LT_COUNT, "0", 0, 43200, NULL,
                                 G | P | T,
                                 "seconds of inactivity that end a dashboard session of the"
                                 " tenant's users (0 = 1800; below 60 counts as 60)"},
    [LIM_DASH_MFA] = {"dashboard_mfa", LT_ENUM, "optional", 0, 0, "optional|required", G | P | T,
                      "required: the tenant's dashboard users must sign in with a TOTP code"},
    [LIM_ALLOWED_TOOLS] = {"allowed_tools", LT_LIST, "", 0, 0, NULL, G | P | T,
                           "tools the tenant's agents may call: * or a comma list (empty = none)"},
    [LIM_REQUEST_PROVIDER_KEY] = {"request_provider_key", LT_ENUM, "off", 0, 0, "off|on", G | P | T,
                                  "on: a call's X-Provider-Api-Key header is its provider key"
                                  " (never stored or logged; off: such a call is refused)"},
    [LIM_END_USER_BUDGET_USD_DAILY] = {"end_user_budget_usd_daily", LT_USD, "0", 0, USD_MAX, NULL,
                                       G | P | T,
                                       "USD per calendar day for each end user of the tenant"
                                       " (the call's user / X-Actor-Id; 0 = no limit)"},
    [LIM_END_USER_BUDGET_USD_MONTHLY] = {"end_user_budget_usd_monthly", LT_USD, "0", 0, USD_MAX,
                                         NULL, G | P | T,
                                         "USD per calendar month for each end user of the"
                                         " tenant (0 = no limit)"},
    [LIM_END_USER_BUDGET_TOKENS_DAILY] = {"end_user_budget_tokens_daily", LT_COUNT, "0", 0,
                                          COUNT_MAX, NULL, G | P | T,
                                          "tokens per calendar day for each end user of the"
                                          " tenant (0 = no limit)"},
    [LIM_END_USER_BUDGET_TOKENS_MONTHLY] = {"end_user_budget_tokens_monthly", LT_COUNT, "0", 0,
                                            COUNT_MAX, NULL, G | P | T,
                                            "tokens per calendar month for each end user of the"
                                            " tenant (0 = no limit)"},
    [LIM_END_USER_ALERT_THRESHOLDS] = {"end_user_alert_thresholds", LT_LIST, "", 0, 0, NULL,
                                       G | P | T,
                                       "percents (1-100) of each end user's budgets whose"
                                       " crossing is sent to the tenant's webhooks (unset: the"
                                       " tenant's alert_thresholds)"},
    [LIM_ALERT_THRESHOLDS] = {"alert_thresholds", LT_LIST, "50,80,100", 0, 0, NULL, G | P | T,
                              "percents (1-100) of each budget whose crossing is sent to the"
                              " tenant's webhooks, once per period (empty = no budget alerts)"},
    [LIM_RESPONSE_CACHE] = {"response_cache", LT_ENUM, "request", 0, 0, "off|request|on", G | P | T,
                            "the response cache of chat completions: on (every call), request"
                            " (calls sending X-Agenthost-Cache: on) or off (never)"},
    [LIM_RESPONSE_CACHE_TTL_S] = {"response_cache_ttl_s", LT_COUNT, "0", 0, 2592000, NULL,
                                  G | P | T,
                                  "seconds a cached answer is served (0 = the configuration's"
                                  " response_cache_ttl_s)"},
    [LIM_RESPONSE_CACHE_MAX_BYTES] = {"response_cache_max_bytes", LT_COUNT, "0", 0, COUNT_MAX, NULL,
                                      G | P | T,
                                      "bytes of cached answers the tenant keeps, oldest evicted"
                                      " first (0 = the configuration's"
                                      " response_cache_max_bytes)"},
    [LIM_GUARDRAILS] = {"guardrails", LT_LIST, "", 0, 0, NULL, G | P | T,
                        "registered guardrails run on each model call, in this order (comma"
                        " list; empty = none; docs/ROUTING.md, Guardrails)"},
};

#undef G
#undef P
#undef T
#undef K

static const char *const scope_names[LS__MAX] = {
    [LS_DEFAULT] = "default", [LS_GLOBAL] = "global",   [LS_PLAN] = "plan", [LS_TENANT] = "tenant",
    [LS_KEY] = "key",         [LS_PROJECT] = "project", [LS_TAG] = "tag",
};

static int lim_item_char(int c);
static int lim_check(int id, const char *value, char *out, size_t outcap, int64_t *num, char *err,
                     size_t errlen);

/* The level limits (enum level_limit order): what a key may set for itself. */
static const int level_ids[LV__MAX] = {
    [LV_BUDGET_USD_DAILY] = LIM_BUDGET_USD_DAILY,
    [LV_BUDGET_USD_MONTHLY] = LIM_BUDGET_USD_MONTHLY,
    [LV_BUDGET_TOKENS_DAILY] = LIM_BUDGET_TOKENS_DAILY,
    [LV_BUDGET_TOKENS_MONTHLY] = LIM_BUDGET_TOKENS_MONTHLY,
    [LV_BUDGET_ENFORCEMENT] = LIM_BUDGET_ENFORCEMENT,
    [LV_ALLOWED_MODELS] = LIM_ALLOWED_MODELS,
    [LV_RPM] = LIM_RPM,
    [LV_TPM] = LIM_TPM,
    [LV_CONCURRENCY] = LIM_CONCURRENCY,
    [LV_ALERT_THRESHOLDS] = LIM_ALERT_THRESHOLDS,
};

/* ================================================================== definitions */

/* See limits.h. */
int limit_level_id(int lv)
{
	return lv >= 0 && lv < LV__MAX ? level_ids[lv] : -1;
}

/* See limits.h. */
int limit_level_of(int id)
{
	for (int i = 0; i < LV__MAX; i++)
		if (level_ids[i] == id)
			return i;
	return -1;
}

/* See limits.h. */
int limit_settable(int id, enum limit_scope scope)
{
	int lv = limit_level_of(id);

	if (id < 0 || id >= LIM__MAX || scope <= LS_DEFAULT || scope >= LS__MAX)
		return 0;
	if (scope == LS_TAG) /* budgets only: a tag does not choose models or rates */
		return lv >= 0 && (lv < LV_ALLOWED_MODELS || lv == LV_ALERT_THRESHOLDS);
	if (scope == LS_KEY && lv >= LV_RPM && lv <= LV_CONCURRENCY) /* key_rpm, key_tpm, ... */
		return (defs[id].scopes & LSB(scope)) != 0;
	return (defs[id].scopes & LSB(scope)) != 0 ||
	       ((scope == LS_KEY || scope == LS_PROJECT) && lv >= 0);
}

/* See limits.h. */
int limits_tag_hard(const struct limits *l, const struct limit_tag *g)
{
	return g->hard < 0 ? strcmp(l->v[LIM_BUDGET_ENFORCEMENT].text, "soft") != 0 : g->hard;
}

/* See limits.h. */
int limits_tag_parse(const char *kv, char key[LIMITS_TAG_KEY_MAX + 1],
                     char value[LIMITS_TAG_VALUE_MAX + 1], char *err, size_t errlen)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	size_t kn, vn;

	if (eq == NULL) {
		snprintf(err, errlen, "a tag is KEY=VALUE (department=research)");
		return -1;
	}
	kn = (size_t)(eq - kv);
	vn = strlen(eq + 1);
	if (kn == 0 || kn > LIMITS_TAG_KEY_MAX || vn == 0 || vn > LIMITS_TAG_VALUE_MAX) {
		snprintf(err, errlen, "a tag is KEY=VALUE, KEY 1-%d and VALUE 1-%d bytes",
		         LIMITS_TAG_KEY_MAX, LIMITS_TAG_VALUE_MAX);
		return -1;
	}
	for (size_t i = 0; i < kn + 1 + vn; i++)
		if (i != kn && !lim_item_char((unsigned char)kv[i])) {
			snprintf(
			    err, errlen,
			    "tag '%.64s': use A-Z a-z 0-9 and . _ : / @ - on both sides of '='",
			    kv);
			return -1;
		}
	memcpy(key, kv, kn);
	key[kn] = '\0';
	memcpy(value, eq + 1, vn + 1);
	return 0;
}

/* 1 when the level's enforcement (else the tenant's) is hard. */
static int level_hard(const struct limits *l, const struct limit_value *lv)
{
	const char *e = lv[LV_BUDGET_ENFORCEMENT].text;

	if (e[0] == '\0')
		e = l->v[LIM_BUDGET_ENFORCEMENT].text;
	return strcmp(e, "soft") != 0;
}

/* See limits.h. */
int limits_key_hard(const struct limits *l)
{
	return level_hard(l, l->key);
}

/* See limits.h. */
int limits_project_hard(const struct limits *l)
{
	return level_hard(l, l->project);
}

/* The definitions table, LIM__MAX rows in enum order. */
const struct limit_def *limit_defs(void)
{
	return defs;
}

/* Index of the limit called name, or -1. */
int limit_by_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < LIM__MAX; i++)
		if (strcmp(defs[i].name, name) == 0)
			return i;
	return -1;
}

/* The name of scope s; "unknown" outside the enum. */
const char *limit_scope_name(enum limit_scope s)
{
	if ((int)s < 0 || s >= LS__MAX)
		return "unknown";
	return scope_names[s];
}

/* The scope called s, or -1. */
int limit_scope_by_name(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < LS__MAX; i++)
		if (strcmp(scope_names[i], s) == 0)
			return i;
	return -1;
}

/* ================================================================== validation */

/* The bytes of s without leading and trailing blanks: *start and the length. */
static size_t lim_trim(const char *s, size_t n, const char **start)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*start = s;
	return n;
}

/* Parse n decimal digits (no sign) at s, at most 13 of them; 0 ok, -1 bad. */
static int lim_digits(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 13)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Parse a USD amount ("12", "12.5", "0.000001") at s (n bytes) into micro-USD; 0 or -1. */
static int lim_parse_usd(const char *s, size_t n, int64_t *micros)
{
	const char *dot = memchr(s, '.', n);
	size_t ni = dot ? (size_t)(dot - s) : n, nf = dot ? n - ni - 1 : 0;
	int64_t whole, frac = 0;

	/* 10,000,000 has 8 digits: more cannot be in bounds, and must not overflow. */
	if (ni == 0 || ni > 8 || lim_digits(s, ni, &whole) < 0)
		return -1;
	if (dot) {
		if (nf == 0 || nf > 6 || lim_digits(dot + 1, nf, &frac) < 0)
			return -1;
		for (size_t i = nf; i < 6; i++)
			frac *= 10;
	}
	*micros = whole * 1000000 + frac;
	return 0;
}

/* Format micro-USD as the shortest decimal text: 12500000 -> "12.5", 0 -> "0". */
void limit_format_usd(int64_t micros, char *out, size_t cap)
{
	uint64_t m = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
	char frac[8];
	int len;

	if (cap == 0)
		return;
	snprintf(frac, sizeof(frac), "%06" PRIu64, m % 1000000);
	len = 6;
	while (len > 0 && frac[len - 1] == '0')
		len--;
	frac[len] = '\0';
	snprintf(out, cap, "%s%" PRIu64 "%s%s", micros < 0 ? "-" : "", m / 1000000, len ? "." : "",
	         frac);
}

/* 1 when c may appear in a list item (ASCII only, whatever the locale). */
static int lim_item_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '/' || c == '@' || c == '-';
}

/* 1 when the n bytes at item are already one of the comma-separated items of list. */
static int lim_list_has(const char *list, const char *item, size_t n)
{
	const char *p = list;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && memcmp(p, item, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

/* Append item (n bytes) to the comma list out unless present; -1 when out is full. */
static int lim_list_add(char *out, size_t cap, const char *item, size_t n, int64_t *count)
{
	size_t used = strlen(out);

	if (lim_list_has(out, item, n))
		return 0;
	if (used + (used ? 1 : 0) + n + 1 > cap)
		return -1;
	if (used)
		out[used++] = ',';
	memcpy(out + used, item, n);
	out[used + n] = '\0';
	(*count)++;
	return 0;
}

/* Validate and normalise a comma list (names or CIDRs) of limit d into out. */
static int lim_validate_list(const struct limit_def *d, const char *v, char *out, size_t outcap,
                             int64_t *count, char *err, size_t errlen)
{
	const char *p = v;

	out[0] = '\0';
	*count = 0;
	for (;;) {
		const char *e = strchr(p, ','), *item;
		size_t len = lim_trim(p, e ? (size_t)(e - p) : strlen(p), &item);

		if (len > 0) {
			char canon[CIDR_TEXT_MAX];

			if (d->type == LT_CIDRS) {
				if (cidr_canon(item, len, canon, sizeof(canon)) < 0) {
					snprintf(
					    err, errlen,
					    "%s: '%.*s' is not an IPv4 or IPv6 address or CIDR",
					    d->name, (int)(len > 64 ? 64 : len), item);
					return -1;
				}
				item = canon;
				len = strlen(canon);
			} else {
				if (len > LIST_ITEM_MAX) {
					snprintf(err, errlen, "%s: an item is longer than %d bytes",
					         d->name, LIST_ITEM_MAX);
					return -1;
				}
				/* allowed_tools: "*" stands for every registered tool. */
				for (size_t i = 0; i < len; i++)
					if (!lim_item_char((unsigned char)item[i]) &&
					    !(d == &defs[LIM_ALLOWED_TOOLS] && len == 1 &&
					      item[0] == '*')) {
						snprintf(
						    err, errlen,
						    "%s: '%.*s' is not a name (use A-Z a-z 0-9 and"
						    " . _ : / @ -)",
						    d->name, (int)(len > 64 ? 64 : len), item);
						return -1;
					}
			}
			if (lim_list_add(out, outcap, item, len, count) < 0) {
				snprintf(err, errlen, "%s: the list is longer than %zu bytes",
				         d->name, outcap - 1);
				return -1;
			}
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

/*
 * Check and normalise value for limit id into out (numbers without leading
 * zeros, USD as its shortest decimal, enum choices in lower case, lists
 * trimmed and deduplicated, CIDRs canonical). *num gets the number (count,
 * micro-USD, enum index or list length). 0, or -1 with err naming the limit.
 */
/* Every item of the normalised list is a whole percent 1..100. 0, or -1 with err. */
static int lim_check_percents(const struct limit_def *d, const char *list, char *err, size_t errlen)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		char item[8];
		int64_t v;

		if (n == 0 || n >= sizeof(item)) {
			snprintf(err, errlen, "%s: each item must be a percent from 1 to 100",
			         d->name);
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (util_parse_i64(item, 1, 100, &v) != 0) {
			snprintf(err, errlen, "%s: '%s' is not a percent from 1 to 100", d->name,
			         item);
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int lim_check(int id, const char *value, char *out, size_t outcap, int64_t *num, char *err,
                     size_t errlen)
{
	const struct limit_def *d;
	const char *v;
	size_t n;
	int64_t x = 0;

	if (err && errlen)
		err[0] = '\0';
	if (id < 0 || id >= LIM__MAX) {
		snprintf(err, errlen, "unknown limit");
		return -1;
	}
	d = &defs[id];
	if (value == NULL || out == NULL || outcap == 0) {
		snprintf(err, errlen, "%s: missing value", d->name);
		return -1;
	}
	n = lim_trim(value, strlen(value), &v);
	switch (d->type) {
	case LT_COUNT:
		if (lim_digits(v, n, &x) < 0 || x < d->min || x > d->max) {
			snprintf(err, errlen,
			         "%s: '%.64s' is not a whole number in %" PRId64 "..%" PRId64,
			         d->name, value, d->min, d->max);
			return -1;
		}
		if (snprintf(out, outcap, "%" PRId64, x) >= (int)outcap)
			goto toolong;
		break;
	case LT_USD:
		if (lim_parse_usd(v, n, &x) < 0 || x < d->min || x > d->max) {
			snprintf(err, errlen,
			         "%s: '%.64s' is not a USD amount in 0..10000000 with at most 6"
			         " decimals",
			         d->name, value);
			return -1;
		}
		if (outcap < 32)
			goto toolong;
		limit_format_usd(x, out, outcap);
		break;
	case LT_ENUM: {
		const char *c = d->choices;
		int idx = 0;

		for (;;) {
			const char *bar = strchr(c, '|');
			size_t cl = bar ? (size_t)(bar - c) : strlen(c);

			if (cl == n && strncasecmp(c, v, n) == 0)
				break;
			if (bar == NULL) {
				snprintf(err, errlen, "%s: '%.64s' is not one of %s", d->name,
				         value, d->choices);
				return -1;
			}
			c = bar + 1;
			idx++;
		}
		if (n + 1 > outcap)
			goto toolong;
		for (size_t i = 0; i < n; i++)
			out[i] = (char)tolower((unsigned char)v[i]);
		out[n] = '\0';
		x = idx;
		break;
	}
	case LT_LIST:
	case LT_CIDRS:
		if (lim_validate_list(d, v, out, outcap, &x, err, errlen) < 0)
			return -1;
		if ((id == LIM_ALERT_THRESHOLDS || id == LIM_END_USER_ALERT_THRESHOLDS) &&
		    lim_check_percents(d, out, err, errlen) < 0)
			return -1;
		break;
	default:
		snprintf(err, errlen, "%s: limit of an unknown type", d->name);
		return -1;
	}
	if (num)
		*num = x;
	return 0;
toolong:
	snprintf(err, errlen, "%s: no room for the value", d->name);
	return -1;
}

/* See limits.h. */
int limit_validate(int id, const char *value, char *out, size_t outcap, char *err, size_t errlen)
{
	return lim_check(id, value, out, outcap, NULL, err, errlen);
}

/* ================================================================== resolution */

/* Every limit at its built-in default. */
void limits_init(struct limits *l, int64_t tenant_id, int64_t key_id)
{
	char err[160];

	l->tenant_id = tenant_id;
	l->key_id = key_id;
	for (int i = 0; i < LIM__MAX; i++) {
		struct limit_value *v = &l->v[i];

		v->source = LS_DEFAULT;
		if (lim_check(i, defs[i].def, v->text, sizeof(v->text), &v->num, err, sizeof(err)) <
		    0) {
			/* A broken built-in default is a bug in defs[]; fail towards "none". */
			log_error("limits: built-in default of %s: %s", defs[i].name, err);
			v->text[0] = '\0';
			v->num = 0;
		}
	}
	l->project_id = 0;
	l->ntags = 0;
	for (int i = 0; i < LV__MAX; i++) {
		l->key[i].text[0] = l->project[i].text[0] = '\0';
		l->key[i].num = l->project[i].num = 0;
		l->key[i].source = l->project[i].source = LS_DEFAULT;
	}
}

/* See limits_rows.h. */
int limits_apply(struct limits *l, enum limit_scope scope, const char *name, const char *value)
{
	char text[sizeof(l->v[0].text)], err[256];
	int id = limit_by_name(name);
	struct limit_value *dst;
	int64_t num = 0;

	if (id < 0) {
		log_warn("limits: ignoring unknown limit '%.48s' at scope %s", name ? name : "",
		         limit_scope_name(scope));
		return -1;
	}
	if (!limit_settable(id, scope)) {
		log_warn("limits: ignoring %s set at scope %s, where it cannot be set",
		         defs[id].name, limit_scope_name(scope));
		return -1;
	}
	/* A level limit at the key or project scope is that level's own, not the tenant's. */
	if (defs[id].scopes & LSB(scope))
		dst = &l->v[id];
	else if (scope == LS_PROJECT)
		dst = &l->project[limit_level_of(id)];
	else
		dst = &l->key[limit_level_of(id)];
	if (scope <= dst->source)
		return 0;
	if (lim_check(id, value, text, sizeof(text), &num, err, sizeof(err)) < 0) {
		log_warn("limits: ignoring an invalid stored value at scope %s: %s",
		         limit_scope_name(scope), err);
		return -1;
	}
	memcpy(dst->text, text, strlen(text) + 1);
	dst->num = num;
	dst->source = scope;
	return 1;
}

/* The tag of id in l, added when new; NULL when l has LIMITS_TAGS_MAX already. */
static struct limit_tag *limits_tag_of(struct limits *l, int64_t id)
{
	struct limit_tag *g;

	for (int i = 0; i < l->ntags; i++)
		if (l->tags[i].id == id)
			return &l->tags[i];
	if (l->ntags == LIMITS_TAGS_MAX) {
		log_warn(
		    "limits: tenant %lld has more than %d tags with budgets; ignoring tag %lld",
		    (long long)l->tenant_id, LIMITS_TAGS_MAX, (long long)id);
		return NULL;
	}
	g = &l->tags[l->ntags++];
	memset(g, 0, sizeof(*g));
	g->id = id;
	g->hard = -1;
	return g;
}

/* A row of scope tag: its name (empty name, value "key=value") or one of its budgets. */
static void limits_tag_row(struct limits *l, const struct limit_row *r)
{
	struct limit_tag *g = limits_tag_of(l, r->scope_id);
	char text[sizeof(g->alerts)], err[160];
	int id = limit_by_name(r->name), lv = limit_level_of(id);
	int64_t num = 0;

	if (g == NULL)
		return;
	if (r->name[0] == '\0') {
		if (limits_tag_parse(r->value, g->key, g->value, err, sizeof(err)) < 0)
			log_warn("limits: tag %lld: %s", (long long)r->scope_id, err);
		return;
	}
	if (!limit_settable(id, LS_TAG) ||
	    lim_check(id, r->value, text, sizeof(text), &num, err, sizeof(err)) < 0) {
		log_warn("limits: ignoring %.48s at tag %lld", r->name, (long long)r->scope_id);
		return;
	}
	g->set[lv] = 1;
	if (lv == LV_BUDGET_ENFORCEMENT)
		g->hard = strcmp(text, "soft") != 0;
	else if (lv == LV_ALERT_THRESHOLDS)
		util_strlcpy(g->alerts, text, sizeof(g->alerts));
	else
		g->num[lv] = num;
}

/* limit_row_cb: apply one stored row to the struct limits in ctx. */
static int limits_row(void *ctx, const struct limit_row *r)
{
	int s = limit_scope_by_name(r->scope);

	if (s < 0) {
		log_warn("limits: ignoring a row of unknown scope");
		return 0;
	}
	if (s == LS_TAG) {
		limits_tag_row(ctx, r);
		return 0;
	}
	/* The key's project, named by a row without a name (store_limits_applicable). */
	if (s == LS_PROJECT && r->name[0] == '\0') {
		((struct limits *)ctx)->project_id = r->scope_id;
		return 0;
	}
	limits_apply(ctx, (enum limit_scope)s, r->name, r->value);
	return 0;
}

/* See limits.h: defaults, then every applicable row, without the cache. */
int limits_resolve(struct store *st, int64_t tenant_id, int64_t key_id, struct limits *out)
{
	limits_init(out, tenant_id, key_id);
	if (store_limits_applicable(st, tenant_id, key_id, limits_row, out) != ST_OK)
		return -1;
	return 0;
}

/* ================================================================== process cache */

/*
 * A resolved set of limits kept compact: numbers and sources, the texts in
 * one arena (most are short; lists and CIDRs may not be). Immutable once
 * stored, shared by reference between the cache and its readers.
 */
#define PACKED_N (LIM__MAX + 2 * LV__MAX) /* the limits, the key's level, the project's */

struct limits_packed {
	_Atomic int refs;
	int64_t project_id;
	int ntags;
	struct limit_tag *tags; /* ntags, in the arena's allocation */
	int64_t num[PACKED_N];
	unsigned char source[PACKED_N];
	uint32_t off[PACKED_N]; /* of each text in arena */
	char arena[];
};

/* Value i of l in packed order: l->v[], then l->key[], then l->project[]. */
static const struct limit_value *packed_slot(const struct limits *l, int i)
{
	if (i < LIM__MAX)
		return &l->v[i];
	return i < LIM__MAX + LV__MAX ? &l->key[i - LIM__MAX] : &l->project[i - LIM__MAX - LV__MAX];
}

static void packed_ref(void *val)
{
	struct limits_packed *p = *(struct limits_packed **)val;

	atomic_fetch_add(&p->refs, 1);
}

static void packed_unref(void *val)
{
	struct limits_packed *p = *(struct limits_packed **)val;

	if (atomic_fetch_sub(&p->refs, 1) == 1)
		free(p);
}

static const struct cache_ops packed_ops = {packed_ref, packed_unref};
static struct cache *limits_cache;
static pthread_once_t limits_cache_once = PTHREAD_ONCE_INIT;

static void limits_cache_init(void)
{
	limits_cache = cache_new("limits", 2 * sizeof(int64_t), sizeof(struct limits_packed *),
	                         LIMITS_CACHE_ENTRIES, CACHE_SAFETY_NET_US, &packed_ops);
}

/* A packed copy of l (refs 0), or NULL when out of memory. */
static struct limits_packed *limits_pack(const struct limits *l)
{
	size_t len[PACKED_N], total = 0, o = 0;
	struct limits_packed *p;

	for (int i = 0; i < PACKED_N; i++)
		total += (len[i] = strlen(packed_slot(l, i)->text)) + 1;
	p = malloc(sizeof(*p) + total + (size_t)l->ntags * sizeof(struct limit_tag) +
	           _Alignof(struct limit_tag));
	if (p == NULL)
		return NULL;
	atomic_init(&p->refs, 0);
	p->project_id = l->project_id;
	p->ntags = l->ntags;
	{ /* the tags after the texts, aligned */
		uintptr_t a = (uintptr_t)(p->arena + total);

		a = (a + _Alignof(struct limit_tag) - 1) &
		    ~(uintptr_t)(_Alignof(struct limit_tag) - 1);
		p->tags = (struct limit_tag *)a;
		if (l->ntags)
			memcpy(p->tags, l->tags, (size_t)l->ntags * sizeof(struct limit_tag));
	}
	for (int i = 0; i < PACKED_N; i++) {
		const struct limit_value *v = packed_slot(l, i);

		p->num[i] = v->num;
		p->source[i] = (unsigned char)v->source;
		p->off[i] = (uint32_t)o;
		memcpy(p->arena + o, v->text, len[i] + 1);
		o += len[i] + 1;
	}
	return p;
}

static void limits_unpack(const struct limits_packed *p, int64_t tenant_id, int64_t key_id,
                          struct limits *out)
{
	out->tenant_id = tenant_id;
	out->key_id = key_id;
	out->project_id = p->project_id;
	out->ntags = p->ntags;
	if (p->ntags)
		memcpy(out->tags, p->tags, (size_t)p->ntags * sizeof(struct limit_tag));
	for (int i = 0; i < PACKED_N; i++) {
		const char *t = p->arena + p->off[i];
		struct limit_value *v = (struct limit_value *)packed_slot(out, i);

		memcpy(v->text, t, strlen(t) + 1);
		v->num = p->num[i];
		v->source = (enum limit_scope)p->source[i];
	}
}

/* See limits.h. */
int limits_get(struct store *st, int64_t tenant_id, int64_t key_id, struct limits *out)
{
	int64_t key[2] = {tenant_id, key_id};
	struct limits_packed *p = NULL;
	struct cache_begin b;
	struct cache_stamp s;

	pthread_once(&limits_cache_once, limits_cache_init);
	if (limits_cache && cache_get(limits_cache, key, &p)) {
		limits_unpack(p, tenant_id, key_id, out);
		packed_unref(&p);
		return 0;
	}
	cache_begin(&b);
	if (limits_resolve(st, tenant_id, key_id, out) < 0)
		return -1;
	if (limits_cache && cache_stamp(&s, &b, tenant_id, EPOCH_LIMITS) &&
	    (p = limits_pack(out)) != NULL) {
		packed_ref(&p);
		cache_put(limits_cache, key, &p, &s, 0);
		packed_unref(&p);
	}
	return 0;
}

/* See limits.h. */
int limits_within(const struct limits *tl, int id, const char *value, char *err, size_t errlen)
{
	const struct limit_def *d;
	const struct limit_value *cap;
	char text[sizeof(tl->v[0].text)], e[256];
	int64_t num = 0;

	if (id < 0 || id >= LIM__MAX ||
	    lim_check(id, value, text, sizeof(text), &num, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s", id >= 0 && id < LIM__MAX ? e : "no such limit");
		return -1;
	}
	d = &defs[id];
	cap = &tl->v[id];
	if (id == LIM_ALERT_THRESHOLDS || id == LIM_END_USER_ALERT_THRESHOLDS)
		return 0; /* when to be told: nothing the plan bounds */
	switch (d->type) {
	case LT_COUNT:
	case LT_USD:
		if (cap->num == 0 || (num > 0 && num <= cap->num))
			return 0;
		snprintf(err, errlen,
		         "'%s' must be above 0 and at most %s (the tenant's plan allows %s)",
		         d->name, cap->text, cap->text);
		return -1;
	case LT_LIST:
		if (cap->text[0] == '\0')
			return 0;
		for (const char *p = text;;) {
			const char *c = strchr(p, ','), *item;
			size_t len = lim_trim(p, c ? (size_t)(c - p) : strlen(p), &item);
			char one[256];

			if (len == 0 || len >= sizeof(one))
				break;
			memcpy(one, item, len);
			one[len] = '\0';
			if (!limits_list_allows(cap->text, one)) {
				snprintf(err, errlen, "'%s': '%s' is not in the tenant's list (%s)",
				         d->name, one, cap->text);
				return -1;
			}
			if (c == NULL)
				return 0;
			p = c + 1;
		}
		snprintf(err, errlen, "'%s' must name some of the tenant's list (%s)", d->name,
		         cap->text);
		return -1;
	default:
		return 0; /* an enum or CIDRs narrow nothing the plan gives */
	}
}

/* See limits.h. */
int limits_list_allows(const char *list, const char *name)
{
	const char *p = list;
	size_t n;

	if (list == NULL || list[0] == '\0')
		return 1;
	if (name == NULL)
		return 0;
	n = strlen(name);
	for (;;) {
		const char *e = strchr(p, ','), *item;
		size_t len = lim_trim(p, e ? (size_t)(e - p) : strlen(p), &item);

		if (len == n && len > 0 && memcmp(item, name, n) == 0)
			return 1;
		if (e == NULL)
			return 0;
		p = e + 1;
	}
}
