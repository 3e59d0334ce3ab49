/*
 * alerts: the events a tenant's webhooks hear of, found and sent by a
 * background thread of every serving process (never on a request's path).
 *
 *   budget.threshold  a budget (usd/tokens, daily/monthly) reached one of the
 *                     tenant's alert_thresholds percents in its period
 *   budget.refusing   a hard budget began refusing calls (once per budget and
 *                     period; noted by the process that refused, in memory)
 *   key.expiring      an active key expires within ALERT_KEY_EXPIRY_S
 *   breaker.opened    the tenant's circuit breaker for a provider opened
 *
 * DESIGN
 * Every alert_interval_ms the thread reads what may be an event (counters
 * written in the last hour, expiring keys, open breakers), and claims each
 * event in the database (store_alert_claim): its unique row makes it happen
 * once whatever the number of processes and hosts, and queues a delivery
 * per webhook. Then it claims due deliveries and POSTs each (providers/hook.c)
 * signed with the webhook's secret:
 *   X-Agenthost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." body)>
 * A failed attempt is retried after webhook_retry_base_ms, doubling, until
 * webhook_max_attempts. docs/ENFORCEMENT.md "Alerts" is the receiver's guide.
 */
#ifndef AH_ALERTS_H
#define AH_ALERTS_H

#include <stdint.h>

struct conf;
struct store;

#define ALERT_KEY_EXPIRY_S (3 * 86400)

/*
 * A call of tenant_id was refused for its budget (message: the refusal's,
 * which names the budget). Only remembered in memory, for the alert thread;
 * safe from any thread, costs a lock and a copy.
 */
void alerts_note_refusal(int64_t tenant_id, const char *message);
/*
 * A call of end user name (uid: secrets_end_user_id) of tenant_id was
 * admitted under end-user budgets: the alert thread holds that end user's
 * counters against them for two minutes after (its rows carry no tenant).
 * Safe from any thread; a lock and a slot of a fixed table.
 */
void alerts_note_end_user(int64_t tenant_id, int64_t uid, const char *name);
/* One round: find events, then send what is due. Returns the deliveries attempted. */
int alerts_round(struct store *st, const struct conf *c);

#endif
