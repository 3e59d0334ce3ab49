/*
 * limits: what a tenant (and one of its keys) may do, and where each value
 * came from.
 *
 * DESIGN
 * Every limit is a row of limit_defs (limits.c): name, type, built-in
 * default, bounds, and which scopes may set it. Values are stored as text
 * in one table (scope, scope_id, name, value) at four scopes; the
 * effective value of a limit is the first set of:
 *     key (key_* limits only) -> tenant -> plan -> global -> built-in default
 * and carries its source, so the API and the CLI can say why a limit is
 * what it is. 0 (numbers) or "" (lists) means "no limit".
 *
 * Resolution reads all rows that may apply in one query. limits_get keeps
 * resolved limits per (tenant, key) in a process-wide cache that an edit
 * made through agenthost (CLI, dashboard, operator API) drops: at once on
 * the host where it was made, within one watch of change_log elsewhere.
 * LIMITS_CACHE_MS is the bound stated for every process and host.
 */
#ifndef AH_LIMITS_H
#define AH_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define LIMITS_CACHE_MS 1000

enum limit_id {
	LIM_RPM,                   /* requests per minute, tenant */
	LIM_TPM,                   /* tokens per minute (prompt + completion), tenant */
	LIM_CONCURRENCY,           /* requests in flight, tenant */
	LIM_KEY_RPM,               /* requests per minute, per API key */
	LIM_KEY_TPM,               /* tokens per minute, per API key */
	LIM_KEY_CONCURRENCY,       /* requests in flight, per API key */
	LIM_BUDGET_USD_DAILY,      /* micro-USD per calendar day (text "12.50" in USD) */
	LIM_BUDGET_USD_MONTHLY,    /* micro-USD per calendar month */
	LIM_BUDGET_TOKENS_DAILY,   /* tokens per calendar day */
	LIM_BUDGET_TOKENS_MONTHLY, /* tokens per calendar month */
	LIM_BUDGET_ENFORCEMENT,    /* "hard" | "soft" */
	LIM_MAX_TOKENS,         /* cap on max_tokens; also the default when a request sets none */
	LIM_ALLOWED_MODELS,     /* comma list of model names; "" = all */
	LIM_ALLOWED_AGENTS,     /* comma list of agent names; "" = all */
	LIM_IP_ALLOWLIST,       /* comma list of CIDRs (IPv4/IPv6); "" = any address */
	LIM_BREAKER_ERRORS,     /* upstream errors that open a tenant's breaker for a provider */
	LIM_BREAKER_WINDOW_S,   /* ... within this many seconds */
	LIM_BREAKER_COOLDOWN_S, /* open this long, then one probe */
	LIM_GLOBAL_BUDGET_USD_DAILY, /* all tenants together; global scope only */
	LIM_GLOBAL_BUDGET_USD_MONTHLY,
	LIM_GLOBAL_BUDGET_TOKENS_DAILY,
	LIM_GLOBAL_BUDGET_TOKENS_MONTHLY,
	LIM_RETENTION_DAYS, /* executions older than this are purged (agenthostctl purge); 0 = kept
	                     */
	LIM_DATA_REGION,    /* a label of where the tenant's data lives, shown and exported */
	LIM_DEFAULT_MODEL,  /* model of agents created without one */
	LIM_ALLOWED_TOOLS,  /* "*" or comma list of tool names; "" = no tool (not "all") */
	LIM_ISOLATION_MODE, /* shared | dedicated: where a new tenant's data goes */
	LIM_HOST_SHARE_PCT, /* percent of a process's calls in flight one tenant may hold */
	LIM_REQUEST_PROVIDER_KEY, /* "on": a call's X-Provider-Api-Key is its provider key */
	LIM_ALERT_THRESHOLDS,     /* percents of each budget that send an alert ("50,80,100") */
	LIM_DASH_IP_ALLOWLIST,    /* CIDRs the tenant's dashboard users may sign in from */
	LIM_DASH_SESSION_IDLE_S,  /* idle timeout of the tenant's dashboard sessions; 0 = 30 min */
	LIM_DASH_MFA,       /* "optional" | "required": TOTP for the tenant's dashboard users */
	LIM_RESPONSE_CACHE, /* "off" | "request" | "on": the response cache (rcache.h) */
	LIM_RESPONSE_CACHE_TTL_S,     /* seconds a cached answer is served; 0 = configuration's */
	LIM_RESPONSE_CACHE_MAX_BYTES, /* bytes of cached answers per tenant; 0 = configuration's */
	LIM_GUARDRAILS, /* ordered comma list of registered guardrails run on each call; "" = none
	                 */
	LIM_END_USER_BUDGET_USD_DAILY,      /* each end user of the tenant: micro-USD a day */
	LIM_END_USER_BUDGET_USD_MONTHLY,    /* ... a month */
	LIM_END_USER_BUDGET_TOKENS_DAILY,   /* ... tokens a day */
	LIM_END_USER_BUDGET_TOKENS_MONTHLY, /* ... tokens a month */
	LIM_END_USER_ALERT_THRESHOLDS, /* percents of an end user's budgets; unset: the tenant's */
	LIM__MAX
};

enum limit_type {
	LT_COUNT, /* whole number >= 0 */
	LT_USD,   /* "12.50" in text, micro-USD in .num */
	LT_ENUM,  /* one of the def's choices */
	LT_LIST,  /* comma-separated names */
	LT_CIDRS, /* comma-separated CIDRs */
	LT__MAX
};

/* LS_PROJECT and LS_TAG are last: they only set a level's own values, never the chain. */
enum limit_scope { LS_DEFAULT, LS_GLOBAL, LS_PLAN, LS_TENANT, LS_KEY, LS_PROJECT, LS_TAG, LS__MAX };

/* Scopes a limit may be set at (bit set of 1 << enum limit_scope). */
#define LSB(s) (1u << (s))

struct limit_def {
	const char *name; /* as stored and shown: "rpm", "budget_usd_daily", ... */
	enum limit_type type;
	const char *def;     /* built-in default as text */
	int64_t min, max;    /* bounds for LT_COUNT (and LT_USD in micro-USD) */
	const char *choices; /* LT_ENUM: "hard|soft" */
	unsigned scopes;     /* where it may be set */
	const char *help;    /* one line for the CLI and the docs */
};

struct limit_value {
	char text[1024]; /* effective value as text ("" = none) */
	int64_t num;     /* LT_COUNT value or micro-USD for LT_USD; 0 = unlimited */
	enum limit_scope source;
};

/*
 * The limits a key, or the project its key belongs to, sets for itself: a
 * level of its own below the tenant (global > tenant > project > key). A
 * call must fit every level's budgets, and its model must be in every
 * level's allowlist. They are stored under the tenant limit's name at
 * scope key or project (budget_usd_daily at key 12), so they never replace
 * the tenant's value the way key_rpm does. Unset: "" and 0 (no limit;
 * budget_enforcement "" means the tenant's).
 */
enum level_limit {
	LV_BUDGET_USD_DAILY,
	LV_BUDGET_USD_MONTHLY,
	LV_BUDGET_TOKENS_DAILY,
	LV_BUDGET_TOKENS_MONTHLY,
	LV_BUDGET_ENFORCEMENT,
	LV_ALLOWED_MODELS,
	LV_RPM, /* a project's rates and concurrency (not a key's: key_* are those) */
	LV_TPM,
	LV_CONCURRENCY,
	LV_ALERT_THRESHOLDS, /* the level's own alert percents (unset: the tenant's list) */
	LV__MAX
};

#define LIMITS_TAGS_MAX 16 /* tags with budgets a tenant may have */
#define LIMITS_TAG_KEY_MAX 64
#define LIMITS_TAG_VALUE_MAX 128

/*
 * A tenant's tag with budgets: a call whose metadata holds key = value (a
 * string) must fit them. Only the budgets and budget_enforcement can be
 * set at a tag (LV_ALLOWED_MODELS stays unset).
 */
struct limit_tag {
	int64_t id;
	char key[LIMITS_TAG_KEY_MAX + 1];
	char value[LIMITS_TAG_VALUE_MAX + 1];
	int64_t num[LV__MAX];       /* budgets (0: none); LV_BUDGET_ENFORCEMENT: see hard */
	unsigned char set[LV__MAX]; /* set at the tag */
	int hard;                   /* -1: the tenant's enforcement */
	char alerts[400];           /* its alert_thresholds when set[LV_ALERT_THRESHOLDS] */
};

/*
 * About 57 KB (every limit's text, the key's and project's levels, the tags):
 * never a local of code a request runs, whose coroutine stack is 256 KB
 * (host/sched.c); malloc it, or use the cached one (limits_get / id->lim).
 */
struct limits {
	int64_t tenant_id;
	int64_t key_id;
	int64_t project_id; /* the key's project, 0 when it is in none */
	struct limit_value v[LIM__MAX];
	struct limit_value key[LV__MAX];     /* the key's own level (source LS_KEY when set) */
	struct limit_value project[LV__MAX]; /* its project's level (source LS_PROJECT) */
	int ntags;                           /* the tenant's tags with budgets */
	struct limit_tag tags[LIMITS_TAGS_MAX];
};

/* The definitions table (LIM__MAX rows, in enum order). */
const struct limit_def *limit_defs(void);
/* Index of a limit by name, or -1. */
int limit_by_name(const char *name);
/* The limit id of level limit lv (enum level_limit), or -1. */
int limit_level_id(int lv);
/* The level limit (enum level_limit) limit id is, or -1 when it is not one. */
int limit_level_of(int id);
/*
 * 1 when limit id may be stored at scope: a scope of its definition, the
 * key or project scope for a level limit (that level's own value), or the
 * tag scope for a budget or budget_enforcement.
 */
int limit_settable(int id, enum limit_scope scope);
/* 1 when the key level's budgets are hard (its budget_enforcement, else the tenant's). */
int limits_key_hard(const struct limits *l);
/* 1 when the project level's budgets are hard (its budget_enforcement, else the tenant's). */
int limits_project_hard(const struct limits *l);
/* 1 when tag g's budgets are hard (its budget_enforcement, else the tenant's). */
int limits_tag_hard(const struct limits *l, const struct limit_tag *g);
/*
 * Split "key=value" into a tag's key and value (the rules of valid_name
 * VALID_TAG_KEY / list items). 0, or -1 with a message in err.
 */
int limits_tag_parse(const char *kv, char key[LIMITS_TAG_KEY_MAX + 1],
                     char value[LIMITS_TAG_VALUE_MAX + 1], char *err, size_t errlen);
/* "default" | "global" | "plan" | "tenant" | "key" */
const char *limit_scope_name(enum limit_scope s);
/* Scope by name, or -1. */
int limit_scope_by_name(const char *s);
/*
 * Check and normalise value for limit id (numbers in bounds, USD with at most
 * 6 decimals, enum choices, list items [A-Za-z0-9._:/-], CIDRs parse).
 * out gets the normalised text. 0, or -1 with a message in err naming the limit.
 */
int limit_validate(int id, const char *value, char *out, size_t outcap, char *err, size_t errlen);
/* Format micro-USD as "12.500000"-style text trimmed to "12.5"; out >= 32 bytes. */
void limit_format_usd(int64_t micros, char *out, size_t cap);

/*
 * Effective limits of (tenant, key) (key_id 0: tenant view). Uses the
 * process cache (an edit shows within LIMITS_CACHE_MS). 0, or -1 when the
 * store failed.
 */
int limits_get(struct store *st, int64_t tenant_id, int64_t key_id, struct limits *out);
/* The same without the cache (for the CLI and admin pages). */
int limits_resolve(struct store *st, int64_t tenant_id, int64_t key_id, struct limits *out);
/*
 * 0 when value (valid for limit id) stays within what the tenant's
 * effective limits tl give: a number or amount from 1 to the tenant's
 * (any when the tenant has none; 0 = unlimited only then), a list within
 * the tenant's list. What a tenant sets for its keys and projects itself
 * (the self-service API) must be; an operator may set anything. 0, or -1
 * with a message naming the limit in err.
 */
int limits_within(const struct limits *tl, int id, const char *value, char *err, size_t errlen);
/* 1 when name is in the comma list (an empty list allows everything). */
int limits_list_allows(const char *list, const char *name);

#endif
