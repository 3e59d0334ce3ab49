/*
 * allcache.c: a short-lived cache of all-tenant report rows (see allcache.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashboard/allcache.h"
#include "store/store.h"

#define ALLCACHE_SLOTS 32

struct allcache_entry {
	char key[96];
	time_t expires;
	void *rows;
	size_t n, size;
};

static pthread_mutex_t allcache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct allcache_entry allcache[ALLCACHE_SLOTS];

struct collect {
	struct dasha_usage_row *rows;
	size_t n, cap;
	int oom;
};

static int collect_row(void *ctx, const struct dasha_usage_row *row)
{
	struct collect *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct dasha_usage_row *p = realloc(c->rows, cap * sizeof(*p));

		if (p == NULL) {
			c->oom = 1;
			return 1;
		}
		c->rows = p;
		c->cap = cap;
	}
	c->rows[c->n++] = *row;
	return 0;
}

void *allcache_get(const char *key, size_t size, size_t *n)
{
	void *copy = NULL;
	time_t now = time(NULL);

	pthread_mutex_lock(&allcache_lock);
	for (size_t i = 0; i < ALLCACHE_SLOTS; i++) {
		struct allcache_entry *e = &allcache[i];

		if (e->expires > now && e->size == size && strcmp(e->key, key) == 0) {
			copy = malloc((e->n ? e->n : 1) * size);
			if (copy) {
				if (e->n)
					memcpy(copy, e->rows, e->n * size);
				*n = e->n;
			}
			break;
		}
	}
	pthread_mutex_unlock(&allcache_lock);
	return copy;
}

void allcache_put(const char *key, const void *rows, size_t n, size_t size)
{
	struct allcache_entry *slot = NULL;
	void *copy = malloc((n ? n : 1) * size), *old;

	if (copy == NULL)
		return;
	if (n)
		memcpy(copy, rows, n * size);

	pthread_mutex_lock(&allcache_lock);
	for (size_t i = 0; i < ALLCACHE_SLOTS; i++) {
		struct allcache_entry *e = &allcache[i];

		if (strcmp(e->key, key) == 0) {
			slot = e;
			break;
		}
		if (slot == NULL || e->expires < slot->expires)
			slot = e;
	}
	old = slot->rows;
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->rows = copy;
	slot->n = n;
	slot->size = size;
	slot->expires = time(NULL) + ALLCACHE_TTL_S;
	pthread_mutex_unlock(&allcache_lock);
	free(old);
}

/* The rows of key from the cache or from query (kind 'u' or 's'), replayed to cb. */
static int cached(struct store *st, char kind, int what, const char *from, const char *to,
                  int limit, dasha_usage_cb cb, void *ctx)
{
	struct collect c = {0};
	struct dasha_usage_row *rows;
	char key[96];
	size_t n = 0;
	int rc;

	snprintf(key, sizeof(key), "%c|%d|%s|%s|%d", kind, what, from, to, limit);
	rows = allcache_get(key, sizeof(*rows), &n);
	if (rows == NULL) {
		rc = kind == 'u' ? store_dasha_usage(st, 0, from, to, (enum dasha_dim)what, limit,
		                                     collect_row, &c)
		                 : store_dasha_showback(st, 0, from, to, (enum dasha_attr)what,
		                                        limit, collect_row, &c);
		if (rc != ST_OK || c.oom) {
			free(c.rows);
			return ST_ERR;
		}
		rows = c.rows;
		n = c.n;
		allcache_put(key, rows, n, sizeof(*rows));
	}
	for (size_t i = 0; i < n; i++)
		if (cb(ctx, &rows[i]) != 0)
			break;
	free(rows);
	return ST_OK;
}

int allcache_usage(struct store *st, int64_t tenant_id, const char *from, const char *to,
                   enum dasha_dim dim, int limit, dasha_usage_cb cb, void *ctx)
{
	if (tenant_id != 0)
		return store_dasha_usage(st, tenant_id, from, to, dim, limit, cb, ctx);
	return cached(st, 'u', (int)dim, from, to, limit, cb, ctx);
}

int allcache_showback(struct store *st, int64_t tenant_id, const char *from, const char *to,
                      enum dasha_attr attr, int limit, dasha_usage_cb cb, void *ctx)
{
	if (tenant_id != 0)
		return store_dasha_showback(st, tenant_id, from, to, attr, limit, cb, ctx);
	return cached(st, 's', (int)attr, from, to, limit, cb, ctx);
}
