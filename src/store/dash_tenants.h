/*
 * dash_tenants: the dashboard's reads and writes for its tenant, key, budget
 * and audit pages (store_dasht_*).
 *
 * DESIGN
 * Same conventions as store.h (ST_* codes, SQL only in dash_tenants.c).
 * What the existing store functions already do (tenant get/create/status,
 * keys, credentials, limits, plans) is not repeated here: this file holds
 * only the page-shaped queries. Every list is bounded and keyset-paginated
 * on a primary key or an index that leads with its filter, so a page costs
 * the same with 1,000 tenants or millions of audit rows.
 */
#ifndef AH_STORE_DASH_TENANTS_H
#define AH_STORE_DASH_TENANTS_H

#include <stdint.h>

#include "store/store.h"

#define DASHT_PAGE_MAX 100 /* most rows one list call returns */

/* One row of the tenant list. */
struct dasht_tenant_row {
	struct tenant t;
	int64_t month_cost_micros; /* usage_daily, this UTC month */
	int64_t day_requests;      /* usage_daily, today (UTC) */
};

typedef int (*dasht_tenant_cb)(void *ctx, const struct dasht_tenant_row *row);

/*
 * Tenants with id > after_id whose slug or name contains q (case-insensitive;
 * "" = all), by id, at most limit (1..DASHT_PAGE_MAX). *has_more is set when
 * more follow. ST_OK or ST_ERR.
 */
int store_dasht_tenants(struct store *st, const char *q, int64_t after_id, int limit,
                        dasht_tenant_cb cb, void *ctx, int *has_more);

/*
 * The first `limit` tenants by name (id, slug, name only; the tenant pickers
 * of the dashboard's filters). *has_more is set when more exist. ST_OK or ST_ERR.
 */
int store_dasht_tenant_names(struct store *st, int limit, dasht_tenant_cb cb, void *ctx,
                             int *has_more);

/* Set a tenant's name and plan. ST_NOTFOUND when the tenant or the plan does not exist. */
int store_dasht_tenant_update(struct store *st, int64_t id, const char *name, const char *plan);

/* A tenant's budget counter for one window and period (zeros when no row yet). */
struct dasht_counter {
	int64_t spent_micros, reserved_micros;
	int64_t spent_tokens, reserved_tokens;
	int64_t requests;
};

/*
 * The tenant-scope budget counters of the day period `day` ("2026-11-23")
 * and the month period `month` ("2026-11"), as admission keys them.
 * ST_OK (zeros for missing rows) or ST_ERR.
 */
int store_dasht_counters(struct store *st, int64_t tenant_id, const char *day, const char *month,
                         struct dasht_counter *day_out, struct dasht_counter *month_out);

struct dasht_audit_filter {
	int64_t tenant_id;   /* 0 = every tenant (staff only) */
	const char *action;  /* "" = any */
	const char *outcome; /* "" = any */
	int64_t before;      /* rows with id < before; 0 = newest */
	int limit;           /* 1..DASHT_PAGE_MAX */
};

struct dasht_audit_row {
	int64_t id;
	int64_t tenant_id; /* 0 when not tenant-specific */
	char tenant_slug[64];
	char actor_type[17];
	char actor_id[101];
	char action[65];
	char target[129];
	char outcome[17];
	char reason_code[49];
	char ip[46];
	int64_t created_at; /* unix seconds */
};

typedef int (*dasht_audit_cb)(void *ctx, const struct dasht_audit_row *row);

/* Audit rows newest first matching f; *has_more when older ones follow. ST_OK or ST_ERR. */
int store_dasht_audit(struct store *st, const struct dasht_audit_filter *f, dasht_audit_cb cb,
                      void *ctx, int *has_more);

#endif
