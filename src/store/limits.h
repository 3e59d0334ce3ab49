/*
 * store/limits.h: the SQL side of limits (the `limits` table) and plans.
 *
 * DESIGN
 * A limit row is (scope, scope_id, name, value): scope "global" (scope_id
 * 0), "plan" (plan id), "tenant" (tenant id) or "key" (API key id). The
 * store neither validates names and values nor decides precedence: that is
 * src/enforce/limits.c, which hands over normalised text. Reading what
 * applies to a caller is one query (global rows, the rows of the tenant's
 * plan, the tenant's rows, and the key's rows only when the key belongs to
 * the tenant), so resolving limits costs one round trip.
 */
#ifndef AH_STORE_LIMITS_H
#define AH_STORE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_LIMIT_NAME_MAX 48    /* limits.name */
#define STORE_LIMIT_VALUE_MAX 1024 /* limits.value */

struct limit_row {
	char scope[12];                      /* "global" | "plan" | "tenant" | "key" | "project" */
	int64_t scope_id;                    /* 0 for global */
	char name[STORE_LIMIT_NAME_MAX + 1]; /* limit name as stored */
	char value[STORE_LIMIT_VALUE_MAX + 1]; /* value text as stored */
	char updated_by[101];                  /* who set it (CLI login, "migration:003") */
	int64_t updated_at;                    /* unix seconds */
};

/* Rows are valid during the callback only; nonzero from cb stops the listing. */
typedef int (*limit_row_cb)(void *ctx, const struct limit_row *r);

/*
 * Every row that can apply to (tenant_id, key_id): global, the tenant's
 * plan, the tenant, and key_id's rows when that key is the tenant's
 * (key_id 0: none); when the key is in a project, a row of scope
 * "project", its id and an empty name, then the project's rows; for each of
 * the tenant's tags a row of scope "tag", its id, an empty name and the
 * value "key=value", and the tag's rows. One query. ST_OK (also when nothing
 * is set) or ST_ERR.
 */
int store_limits_applicable(struct store *st, int64_t tenant_id, int64_t key_id, limit_row_cb cb,
                            void *ctx);
/* The rows set at one scope, by name. ST_OK or ST_ERR (also for an unknown scope). */
int store_limits_list(struct store *st, const char *scope, int64_t scope_id, limit_row_cb cb,
                      void *ctx);
/* Insert or replace one value (updated_by: who, at most 100 bytes). ST_OK or ST_ERR. */
int store_limit_set(struct store *st, const char *scope, int64_t scope_id, const char *name,
                    const char *value, const char *updated_by);
/* Remove one value. ST_OK, ST_NOTFOUND when it was not set, ST_ERR. */
int store_limit_unset(struct store *st, const char *scope, int64_t scope_id, const char *name);

struct plan {
	int64_t id;
	char name[33]; /* unique */
	char description[201];
	int64_t created_at; /* unix seconds */
};

typedef int (*plan_cb)(void *ctx, const struct plan *p);

/* Plans in id order. ST_OK or ST_ERR. */
int store_plan_list(struct store *st, plan_cb cb, void *ctx);
/* ST_OK with *id_out, ST_CONFLICT when the name exists, ST_ERR. */
int store_plan_create(struct store *st, const char *name, const char *description, int64_t *id_out);
/* ST_OK, ST_NOTFOUND, ST_ERR. */
int store_plan_get(struct store *st, const char *name, struct plan *out);
/*
 * Replace the description of plan id (at most 200 bytes), logged as a
 * limits change so every process rereads what it caches about plans.
 * ST_OK, ST_NOTFOUND for an unknown id, ST_ERR.
 */
int store_plan_update(struct store *st, int64_t id, const char *description);

#endif
