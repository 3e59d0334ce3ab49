/*
 * allcache: all-tenant usage and showback figures, cached per process.
 *
 * DESIGN
 * Staff views over every tenant add up the rollups of all tenants for a
 * period (with 1,000 tenants and 30 days, ~50 ms a query, four queries a
 * page). Those sums move slowly and are not used for any decision, so each
 * process keeps the rows of such a query for ALLCACHE_TTL_S seconds (the
 * pages say the figures may be that old). Single-tenant views are never
 * cached: they are fast and a tenant admin expects to see its latest call.
 * The cache is a small array under a mutex, held only to look up or to
 * store; two threads missing at once both query, and the later one's rows
 * replace the earlier.
 */
#ifndef AH_DASHBOARD_ALLCACHE_H
#define AH_DASHBOARD_ALLCACHE_H

#include <stddef.h>

#include "store/dash_analytics.h"

#define ALLCACHE_TTL_S 60

/* A malloc'd copy of the rows (of size bytes each) cached under key, or NULL. */
void *allcache_get(const char *key, size_t size, size_t *n);
/* Cache a copy of n rows of size bytes under key for ALLCACHE_TTL_S. */
void allcache_put(const char *key, const void *rows, size_t n, size_t size);

/* store_dasha_usage, through the cache when tenant_id is 0. */
int allcache_usage(struct store *st, int64_t tenant_id, const char *from, const char *to,
                   enum dasha_dim dim, int limit, dasha_usage_cb cb, void *ctx);
/* store_dasha_showback, through the cache when tenant_id is 0. */
int allcache_showback(struct store *st, int64_t tenant_id, const char *from, const char *to,
                      enum dasha_attr attr, int limit, dasha_usage_cb cb, void *ctx);

#endif
