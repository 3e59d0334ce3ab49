/*
 * routes: the routes table (sql/027_routes.sql): a model name or alias of a
 * plan or a tenant and its targets, kept as checked JSON text.
 *
 * DESIGN
 * The store neither parses nor checks targets: exec/route.c does, before a
 * put and after a read. A plan's routes are addressed by plan name (its id
 * is looked up in the same statement). Every write is a change (store/changes.c):
 * a tenant's route a change of that tenant, a plan's a limits change (the
 * global epoch of plan-level settings), so every process's route cache drops it.
 */
#ifndef AH_STORE_ROUTES_H
#define AH_STORE_ROUTES_H

#include <stdint.h>

#include "store/store.h"

#define ROUTE_NAME_MAX 127     /* bytes of a route name (a model name or an alias) */
#define ROUTE_TARGETS_MAX 4096 /* bytes of the stored targets JSON */

enum route_owner { ROUTE_PLAN, ROUTE_TENANT, ROUTE__OWNERS };

struct route_row {
	enum route_owner owner;              /* whose route */
	char name[ROUTE_NAME_MAX + 1];       /* model name or alias */
	char targets[ROUTE_TARGETS_MAX + 1]; /* JSON array text */
	int64_t updated_at;                  /* unix seconds */
};

typedef int (*route_cb)(void *ctx, const struct route_row *row);

/*
 * The route of name for a tenant of plan: the tenant's own, else its plan's.
 * ST_OK with out filled, ST_NOTFOUND, ST_ERR.
 */
int store_route_find(struct store *st, int64_t tenant_id, const char *plan, const char *name,
                     struct route_row *out);
/*
 * Insert or replace the route name of a tenant (owner ROUTE_TENANT, tenant_id)
 * or of a plan (ROUTE_PLAN, plan by name). ST_OK, ST_NOTFOUND when the plan
 * does not exist, ST_ERR.
 */
int store_route_put(struct store *st, enum route_owner owner, int64_t tenant_id, const char *plan,
                    const char *name, const char *targets);
/* Delete it: ST_OK, ST_NOTFOUND when there was none, ST_ERR. */
int store_route_delete(struct store *st, enum route_owner owner, int64_t tenant_id,
                       const char *plan, const char *name);
/*
 * Call cb for each route of the owner by name (ROUTE_TENANT: tenant_id;
 * ROUTE_PLAN: plan); nonzero from cb stops. ST_OK or ST_ERR.
 */
int store_route_list(struct store *st, enum route_owner owner, int64_t tenant_id, const char *plan,
                     route_cb cb, void *ctx);
/* Delete every route of a tenant (offboarding). ST_OK or ST_ERR. */
int store_route_purge_tenant(struct store *st, int64_t tenant_id);

#endif
