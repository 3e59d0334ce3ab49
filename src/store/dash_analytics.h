/*
 * dash_analytics: the figures behind the dashboard's usage, invoice, health
 * and executions pages (store_dasha_*).
 *
 * DESIGN
 * Same conventions as store.h: ST_* return codes, SQL only in
 * dash_analytics.c. Usage and invoices read usage_daily, health reads
 * usage_5min, breakers and budget_counters: rollups whose size does not grow
 * with the number of executions. The executions list reads the executions
 * table by keyset (seq < before, newest first, LIMIT) on the primary key
 * (one tenant) or k_executions_seq (every tenant). tenant_id 0 means every
 * tenant (staff only: the caller decides).
 */
#ifndef AH_STORE_DASH_ANALYTICS_H
#define AH_STORE_DASH_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store;

/* How usage_daily rows are grouped. */
enum dasha_dim {
	DASHA_DAY,         /* label = YYYY-MM-DD */
	DASHA_MODEL,       /* label = model */
	DASHA_AGENT,       /* label = agent name ("" = no agent), id = agent_id */
	DASHA_KEY,         /* label = key name, id = key_id */
	DASHA_MODEL_AGENT, /* label = model, label2 = agent name (invoice line items) */
	DASHA_DETAIL,      /* day, model, agent, key: label = day, label2 = model, label3 = agent */
	DASHA_DIM__MAX
};

struct dasha_usage_row {
	char label[128];   /* see enum dasha_dim */
	char label2[128];  /* DASHA_MODEL_AGENT, DASHA_DETAIL */
	char label3[128];  /* DASHA_DETAIL: agent name */
	char label4[128];  /* DASHA_DETAIL: key name */
	int64_t id;        /* agent or key id (DASHA_AGENT, DASHA_KEY) */
	int64_t tenant_id; /* DASHA_DETAIL */
	int64_t requests, errors, prompt_tokens, completion_tokens, cost_micros;
	int64_t cache_hits; /* requests answered from the response cache (cost 0) */
};

struct dasha_exec_filter {
	int64_t tenant_id;     /* 0 = every tenant */
	int64_t before;        /* seq keyset: rows with seq < before; 0 = newest */
	char agent[65];        /* agent_name, "" = any */
	char model[128];       /* "" = any */
	char status[17];       /* "" = any */
	char reason_code[49];  /* "" = any */
	char from[11], to[11]; /* YYYY-MM-DD inclusive, "" = open */
	int limit; /* rows wanted (the caller asks one more to know about a next page) */
};

/*
 * An execution as the dashboard shows it: the row (struct execution,
 * store.h) and the tenant's name joined to it. row.error_message points at
 * error_text ("" when none); row.metadata, input and output are NULL (the
 * detail page gets them from store_dasha_exec_get's own out-parameters).
 */
struct dasha_exec {
	struct execution row;
	char tenant_name[201];
	char error_text[256];
	char *guardrails; /* store_dasha_exec_get: what the guardrails decided (JSON array
	                     text, malloc'd; the caller frees), NULL when none; lists: NULL */
};

struct dasha_health_row {
	int64_t tenant_id;
	char name[201];
	int64_t req15, failed15, refused15; /* last 15 minutes */
	int64_t req24, failed24, refused24; /* last 24 hours */
	int64_t lat24[8];                   /* latency histogram, 24 h (see admin_window) */
	int64_t lat15[8];                   /* latency histogram, 15 min */
	char open_breakers[256];            /* providers with an open breaker, comma-separated */
	int64_t day_spent, day_lim, month_spent, month_lim; /* current periods, micro-USD */
};

typedef int (*dasha_usage_cb)(void *ctx, const struct dasha_usage_row *row);
typedef int (*dasha_exec_cb)(void *ctx, const struct dasha_exec *e);
typedef int (*dasha_health_cb)(void *ctx, const struct dasha_health_row *h);

/*
 * usage_daily between from and to (YYYY-MM-DD, inclusive) for tenant_id (0:
 * every tenant), grouped by dim, largest cost first (DASHA_DAY: by day),
 * at most limit rows. cb returning non-zero stops. ST_OK or ST_ERR.
 */
int store_dasha_usage(struct store *st, int64_t tenant_id, const char *from, const char *to,
                      enum dasha_dim dim, int limit, dasha_usage_cb cb, void *ctx);

/* Executions matching f, newest first, at most f->limit. ST_OK or ST_ERR. */
int store_dasha_exec_list(struct store *st, const struct dasha_exec_filter *f, dasha_exec_cb cb,
                          void *ctx);

/*
 * One execution of tenant_id by its id, with its metadata, input and output
 * (malloc'd strings the caller frees; NULL when absent). ST_NOTFOUND or ST_OK.
 */
int store_dasha_exec_get(struct store *st, int64_t tenant_id, const char *id,
                         struct dasha_exec *out, char **metadata, char **input, char **output);

/*
 * Health figures per tenant (tenant_id 0: every tenant, at most limit from
 * offset, most failed calls in the last 15 minutes first).
 */
int store_dasha_health(struct store *st, int64_t tenant_id, int limit, int offset,
                       dasha_health_cb cb, void *ctx);

/* How usage_attr_daily rows are grouped (showback). */
enum dasha_attr {
	DASHA_BY_AGENT, /* label = agent name, id = agent_id */
	DASHA_BY_MODEL,
	DASHA_BY_USER,       /* label = metadata "user" ("" = not given) */
	DASHA_BY_DEPARTMENT, /* label = metadata "department" */
	DASHA_ATTR__MAX
};

/*
 * usage_attr_daily between from and to for tenant_id (0: every tenant)
 * grouped by attr, largest cost first, at most limit rows (errors is 0).
 */
int store_dasha_showback(struct store *st, int64_t tenant_id, const char *from, const char *to,
                         enum dasha_attr attr, int limit, dasha_usage_cb cb, void *ctx);

/* The tenant's name; ST_NOTFOUND when no such tenant. */
int store_dasha_tenant_name(struct store *st, int64_t tenant_id, char *name, size_t cap);

#endif
