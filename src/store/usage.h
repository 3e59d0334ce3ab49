/*
 * store/usage.h: usage reports (from the usage_daily rollup, never raw
 * executions) and operator tokens.
 */
#ifndef AH_STORE_USAGE_H
#define AH_STORE_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct usage_row {
	char group[128];  /* day "YYYY-MM-DD", model name, agent name or key prefix */
	int64_t group_id; /* agent or key id when grouped by them, else 0 */
	int64_t requests;
	int64_t errors;
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t cost_micros;
	int64_t cache_hits; /* requests answered from the response cache (cost 0) */
};

typedef int (*usage_cb)(void *ctx, const struct usage_row *u);

/*
 * Usage of tenant_id from start_day to end_day inclusive ("YYYY-MM-DD"),
 * grouped by "day", "model", "agent", "key", "end_user" (usage_attr_daily's
 * user: the call's end user, else its metadata "user"; "" for neither) or
 * "total", in group order.
 */
int store_usage_report(struct store *st, int64_t tenant_id, const char *start_day,
                       const char *end_day, const char *group_by, usage_cb cb, void *ctx);

struct operator_token {
	int64_t id;
	char name[101];
	char prefix[16]; /* display prefix */
	int64_t created_at;
	int64_t revoked_at; /* 0 = active */
	int64_t last_used_at;
};

typedef int (*operator_token_cb)(void *ctx, const struct operator_token *t);

int store_operator_token_insert(struct store *st, const char *name, const char *prefix,
                                const uint8_t hash[32], int64_t *id_out);
/* ST_OK when hash names an active token (*id_out set), ST_NOTFOUND otherwise. */
int store_operator_token_check(struct store *st, const uint8_t hash[32], int64_t *id_out);
int store_operator_token_revoke(struct store *st, int64_t id);
int store_operator_token_list(struct store *st, operator_token_cb cb, void *ctx);

#endif
