/*
 * admit: admission control for one model call, between authorization and
 * the provider.
 *
 * DESIGN
 * Before the call: the worst case (an upper bound of the prompt's tokens —
 * its bytes plus per-message overhead, since no tokenizer packs less than a
 * byte a token — plus max_tokens, at the model's prices) is reserved against
 * every limit that applies (requests and tokens per minute for the tenant
 * and the key, USD and token budgets per day and month for the tenant and
 * globally, concurrency) in one atomic step in MariaDB (store/admission.h).
 * During a stream the produced tokens are counted; the stream is ended
 * cleanly when it would exceed what was reserved. After the call the
 * reservation settles to the actual cost together with the execution row.
 * Soft budgets admit and warn (X-Budget-Warning, audit row). Responses
 * carry OpenAI-style X-RateLimit-* headers and X-Budget-* headers.
 * Periods are calendar-aligned in conf budget_timezone (set as the process
 * TZ at start, before threads).
 */
#ifndef AH_ADMIT_H
#define AH_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/reason.h"
#include "enforce/lease.h"
#include "providers/provider.h"
#include "store/admission.h"

struct req;
struct ident;
struct model;

struct admission {
	struct adm_request a;       /* what was (or would have been) reserved */
	int64_t reservation_id;     /* 0 when nothing is reserved one by one */
	struct lease_ticket ticket; /* admitted on this process's leases (state TK_LEASED) */
	int64_t prompt_bound;       /* upper bound of the prompt's tokens */
	int max_tokens;             /* completion tokens reserved */
	int64_t now;                /* unix seconds at admission */
	char day[20], month[20], minute[20];
	const char *metadata;     /* the call's metadata (JSON object text or NULL): its tags */
	const struct limits *lim; /* the caller's limits (set by admit_reserve) */
};

/*
 * Admit one call of model m for the caller (id->lim must be set): on this
 * process's leases when they have room (no round trip; adm->ticket), else
 * by a reservation of its own (adm->reservation_id; a refusal while leases
 * hold the counter recalls them and tries again, for at most
 * LEASE_RECALL_WAIT_MS). On success returns 0 with one of them set and the
 * X-RateLimit-* / X-Budget-* headers added to r (X-Budget-Warning and an
 * audit row when a soft budget is exceeded). When refused returns -1 with
 * rf set (its retry_after: when the call could pass); while the tenant's
 * data moves, -1 with tenant_migrating; on a store failure, -1 with
 * database_unavailable. Nothing is sent.
 */
int admit_reserve(struct req *r, const struct ident *id, const struct model *m,
                  int64_t prompt_bound, int max_tokens, struct admission *adm, struct refusal *rf);
/* Worst-case micro-USD of prompt + completion tokens at m's prices (rounded up). */
int64_t admit_cost(const struct model *m, int64_t prompt_tokens, int64_t completion_tokens);
/*
 * Upper bound of the prompt tokens of messages: bytes + 8 per message + 16
 * (no tokenizer packs less than a byte into a token; the constants cover
 * role and framing tokens), with the bytes of assistant tool calls (id, name,
 * arguments) and of tool messages' call ids.
 */
int64_t admit_prompt_bound(const struct ah_message *m, size_t n);
/* The tokens the offered tools add to a prompt: their bytes + 16 a tool. */
int64_t admit_tools_bound(const struct ah_tool *t, size_t n);
/* The same bound for the n texts of an embedding call (priced as input tokens only). */
int64_t admit_input_bound(const char *const *inputs, size_t n);

/* Calendar keys for t in the budget time zone: minute "YYYY-MM-DD HH:MM", day, month "YYYY-MM-01".
 */
void admit_periods(int64_t t, char minute[20], char day[20], char month[20]);
/*
 * Periods before which budget counter rows are no longer needed at time t:
 * minutes older than an hour, days older than 3 days, months older than 70
 * days (store_life_housekeep deletes them).
 */
void admit_expired_periods(int64_t t, char minute[20], char day[20], char month[20]);
/* Delete what admission and the dashboard no longer need (see store_life_housekeep). */
int admit_housekeep(struct store *st, int batch, int64_t *rows);
/* Seconds until the end of the window that contains t. */
int64_t admit_seconds_left(int64_t t, int window);
/* Set the process time zone for budget calendars (call before threads). 0, or -1 with err. */
int admit_set_timezone(const char *tz, char *err, size_t errlen);

#endif
