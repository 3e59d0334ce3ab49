/*
 * store/alerts.h: webhooks, alert events and their deliveries (sql/021).
 *
 * An event is claimed once for all processes and hosts by its unique row
 * (tenant, kind, subject, threshold, period); the process that inserts it
 * queues one delivery per webhook of the tenant in the same transaction.
 * Deliveries are claimed by a process before they are sent, so two never
 * send one at once.
 */
#ifndef AH_STORE_ALERTS_H
#define AH_STORE_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define WEBHOOK_URL_MAX 500

struct webhook {
	int64_t id;
	int64_t tenant_id;
	char url[WEBHOOK_URL_MAX + 1];
	int64_t created_at;
};

typedef int (*webhook_cb)(void *ctx, const struct webhook *w);

/* A new webhook of tenant_id: ST_OK with *id_out, ST_NOTFOUND (no such tenant), ST_ERR. */
int store_webhook_add(struct store *st, int64_t tenant_id, const char *url, int64_t *id_out);
/* The tenant's webhooks (not removed), in id order. ST_OK or ST_ERR. */
int store_webhook_list(struct store *st, int64_t tenant_id, webhook_cb cb, void *ctx);
/* Remove one (its pending deliveries are dropped). ST_OK, ST_NOTFOUND, ST_ERR. */
int store_webhook_remove(struct store *st, int64_t tenant_id, int64_t id);

/* A budget counter that may have crossed a threshold (tenant scope, day/month). */
struct alert_budget {
	int64_t tenant_id;
	char window[8];  /* "day" | "month" */
	char period[17]; /* the counter's period */
	int64_t spent_micros, lim_micros, spent_tokens, lim_tokens;
};
typedef int (*alert_budget_cb)(void *ctx, const struct alert_budget *b);
/*
 * Tenant day/month counters written in the last hour with something spent,
 * ordered by tenant (the caller holds them against the tenant's limits).
 * ST_OK or ST_ERR.
 */
int store_alert_budgets(struct store *st, alert_budget_cb cb, void *ctx);

/*
 * A counter of a level below the tenant (key, project, tag, end user) that
 * may have crossed a threshold: its budget as admission last applied it
 * (the row's lim_*), the level's own alert_thresholds and
 * budget_enforcement when set there, and a label for the event (the key's
 * prefix, the project's name, the tag's key=value; "" for an end user).
 */
struct alert_level_budget {
	struct alert_budget b; /* tenant_id (0 for an end user: the caller knows it) */
	char scope[12];        /* "key" | "project" | "tag" | "end_user" */
	int64_t scope_id;
	int has_list; /* the level has its own alert_thresholds */
	char list[400];
	char enforcement[8]; /* the level's own budget_enforcement, "" when the tenant's */
	char label[200];
};
typedef int (*alert_level_cb)(void *ctx, const struct alert_level_budget *b);
/*
 * Key, project and tag day/month counters with a budget, written in the
 * last hour with something spent, ordered by tenant. ST_OK or ST_ERR.
 */
int store_alert_level_budgets(struct store *st, alert_level_cb cb, void *ctx);
/*
 * The day/month counters of the n end users ids (scope_id of scope
 * end_user) with a budget and something spent in the last hour; tenant_id
 * is 0 in the rows. ST_OK or ST_ERR.
 */
int store_alert_end_user_budgets(struct store *st, const int64_t *ids, size_t n, alert_level_cb cb,
                                 void *ctx);

/* Something that is an event by itself: an expiring key, an opened breaker. */
struct alert_fact {
	int64_t tenant_id;
	char subject[65]; /* "key:12" / the provider */
	char period[33];  /* what makes it this occurrence: the expiry date, the opening time */
	char detail[65];  /* the key's prefix / "" */
	int64_t at;       /* unix seconds: when the key expires / the breaker opened */
};
typedef int (*alert_fact_cb)(void *ctx, const struct alert_fact *f);
/* Active keys that expire within within_s seconds. ST_OK or ST_ERR. */
int store_alert_keys_expiring(struct store *st, int64_t within_s, alert_fact_cb cb, void *ctx);
/* Breakers that opened in the last hour and are open. ST_OK or ST_ERR. */
int store_alert_breakers_open(struct store *st, alert_fact_cb cb, void *ctx);

/*
 * Claim the event (tenant, kind, subject, threshold, period) with its JSON
 * payload and queue a delivery to each of the tenant's webhooks, in one
 * transaction. 1 when this call made it, 0 when it existed already, -1 on
 * error.
 */
int store_alert_claim(struct store *st, int64_t tenant_id, const char *kind, const char *subject,
                      int threshold, const char *period, const char *payload);

/* A delivery claimed for sending. */
struct alert_delivery {
	int64_t id, event_id, webhook_id, tenant_id;
	int attempts; /* made before this one */
	char kind[33];
	char url[WEBHOOK_URL_MAX + 1];
	char *payload; /* malloc'd; the callback may keep it only during the call */
};
typedef int (*alert_delivery_cb)(void *ctx, const struct alert_delivery *d);
/*
 * Claim up to max due deliveries for claim_s seconds under token (32 hex
 * characters) and call cb for each. ST_OK or ST_ERR.
 */
int store_alert_due(struct store *st, const char *token, int max, int claim_s, alert_delivery_cb cb,
                    void *ctx);
/*
 * The outcome of one attempt: delivered, or failed with http_status (0: no
 * answer) and error; retry_ms > 0 schedules the next attempt, else the
 * delivery has failed for good. ST_OK or ST_ERR.
 */
int store_alert_attempt(struct store *st, int64_t id, int delivered, int http_status,
                        const char *error, int64_t retry_ms);

/* One row of the delivery log. */
struct alert_log {
	int64_t id, event_id, webhook_id;
	char kind[33], subject[65], period[33], status[16], url[WEBHOOK_URL_MAX + 1];
	char last_error[256];
	int threshold, attempts, last_status;
	int64_t created_at, delivered_at;
};
typedef int (*alert_log_cb)(void *ctx, const struct alert_log *l);
/* The tenant's latest deliveries, newest first (limit 1..500). ST_OK or ST_ERR. */
int store_alert_log(struct store *st, int64_t tenant_id, int limit, alert_log_cb cb, void *ctx);

/*
 * Forget deliveries that ended more than days ago (batch at most) and the
 * events left without deliveries past the same age: no event can happen
 * again that late (budget periods have ended, the key expired, the breaker
 * opened long ago). ST_OK or ST_ERR.
 */
int store_alert_prune(struct store *st, int days, int batch);

#endif
