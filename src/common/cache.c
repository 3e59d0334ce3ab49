/*
 * cache.c: bounded set-associative cache with epoch stamps (see cache.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/cache.h"
#include "common/util.h"

#define CACHE_LOCKS 64

struct cache_entry {
	int used;
	struct cache_stamp stamp;
	int64_t until_us; /* 0: no deadline besides the TTL */
	                  /* key bytes, then value bytes, follow (aligned to 8) */
};

struct cache {
	const char *name;
	size_t key_size, val_size, entry_size;
	size_t sets;
	int64_t ttl_us;
	struct cache_ops ops;
	int has_ops;
	pthread_rwlock_t locks[CACHE_LOCKS]; /* readers share; a put writes */
	_Atomic uint64_t hits, misses, puts;
	unsigned char *entries; /* sets * CACHE_WAYS entries */
};

static _Atomic int64_t cache_trust_from; /* start of the last good watch; 0: never */
static _Atomic uint64_t cache_gen;       /* cache_flush_all moves it on */

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

static struct cache_entry *entry_at(const struct cache *c, size_t set, size_t way)
{
	return (struct cache_entry *)(c->entries + (set * CACHE_WAYS + way) * c->entry_size);
}

static unsigned char *entry_key(struct cache_entry *e)
{
	return (unsigned char *)(e + 1);
}

static unsigned char *entry_val(const struct cache *c, struct cache_entry *e)
{
	return entry_key(e) + ALIGN8(c->key_size);
}

/* FNV-1a over the key. */
static uint64_t cache_hash(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

struct cache *cache_new(const char *name, size_t key_size, size_t val_size, size_t capacity,
                        int64_t ttl_us, const struct cache_ops *ops)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->name = name;
	c->key_size = key_size;
	c->val_size = val_size;
	c->entry_size = sizeof(struct cache_entry) + ALIGN8(key_size) + ALIGN8(val_size);
	c->sets = (capacity + CACHE_WAYS - 1) / CACHE_WAYS;
	if (c->sets == 0)
		c->sets = 1;
	c->ttl_us = ttl_us;
	if (ops) {
		c->ops = *ops;
		c->has_ops = 1;
	}
	c->entries = calloc(c->sets * CACHE_WAYS, c->entry_size);
	if (c->entries == NULL) {
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < CACHE_LOCKS; i++)
		pthread_rwlock_init(&c->locks[i], NULL);
	return c;
}

void cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	for (size_t s = 0; s < c->sets; s++)
		for (size_t w = 0; w < CACHE_WAYS; w++) {
			struct cache_entry *e = entry_at(c, s, w);

			if (e->used && c->has_ops && c->ops.unref)
				c->ops.unref(entry_val(c, e));
		}
	for (size_t i = 0; i < CACHE_LOCKS; i++)
		pthread_rwlock_destroy(&c->locks[i]);
	free(c->entries);
	free(c);
}

void cache_begin(struct cache_begin *b)
{
	b->at_us = util_now_us();
	b->gen = atomic_load(&cache_gen);
	b->any = epochs_global(EPOCH_ANY);
}

int cache_stamp(struct cache_stamp *s, const struct cache_begin *b, int64_t tenant_id, int global)
{
	s->tenant_id = tenant_id;
	s->global = global;
	s->tenant_epoch = tenant_id ? epochs_tenant(tenant_id) : 0;
	s->global_epoch = global >= 0 ? epochs_global((enum epoch_global)global) : 0;
	s->gen = b->gen;
	s->at_us = b->at_us;
	/* EPOCH_ANY moves after every other counter: unchanged means none moved. */
	return epochs_global(EPOCH_ANY) == b->any;
}

void cache_flush_all(void)
{
	atomic_fetch_add(&cache_gen, 1);
}

void cache_trust(int64_t start_us)
{
	atomic_store(&cache_trust_from, start_us);
}

void cache_distrust(void)
{
	atomic_store(&cache_trust_from, 0);
}

int cache_trusted(void)
{
	int64_t from = atomic_load(&cache_trust_from);

	return from > 0 && util_now_us() - from < CACHE_TRUST_US;
}

/* Is e (used) still valid at now? */
static int entry_valid(const struct cache *c, const struct cache_entry *e, int64_t now)
{
	const struct cache_stamp *s = &e->stamp;

	if (now - s->at_us >= c->ttl_us || (e->until_us && now >= e->until_us) ||
	    s->gen != atomic_load_explicit(&cache_gen, memory_order_relaxed))
		return 0;
	if (s->tenant_id && epochs_tenant(s->tenant_id) != s->tenant_epoch)
		return 0;
	if (s->global >= 0 && epochs_global((enum epoch_global)s->global) != s->global_epoch)
		return 0;
	return 1;
}

static void entry_clear(struct cache *c, struct cache_entry *e)
{
	if (e->used && c->has_ops && c->ops.unref)
		c->ops.unref(entry_val(c, e));
	e->used = 0;
}

int cache_get(struct cache *c, const void *key, void *val)
{
	uint64_t h = cache_hash(key, c->key_size);
	size_t set = (size_t)(h % c->sets);
	pthread_rwlock_t *lk = &c->locks[set % CACHE_LOCKS];
	int64_t now = util_now_us();
	int hit = 0;

	if (!cache_trusted()) {
		atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
		return 0;
	}
	/* Lookups share the lock; an entry that is no longer valid stays until a put replaces it.
	 */
	pthread_rwlock_rdlock(lk);
	for (size_t w = 0; w < CACHE_WAYS; w++) {
		struct cache_entry *e = entry_at(c, set, w);

		if (!e->used || memcmp(entry_key(e), key, c->key_size) != 0)
			continue;
		if (entry_valid(c, e, now)) {
			memcpy(val, entry_val(c, e), c->val_size);
			if (c->has_ops && c->ops.ref)
				c->ops.ref(val);
			hit = 1;
		}
		break;
	}
	pthread_rwlock_unlock(lk);
	atomic_fetch_add_explicit(hit ? &c->hits : &c->misses, 1, memory_order_relaxed);
	return hit;
}

void cache_put(struct cache *c, const void *key, const void *val, const struct cache_stamp *s,
               int64_t until_us)
{
	uint64_t h = cache_hash(key, c->key_size);
	size_t set = (size_t)(h % c->sets);
	pthread_rwlock_t *lk = &c->locks[set % CACHE_LOCKS];
	struct cache_entry *victim = NULL;

	pthread_rwlock_wrlock(lk);
	/* The same key, else a free way, else the oldest entry. */
	for (size_t w = 0; w < CACHE_WAYS && victim == NULL; w++) {
		struct cache_entry *e = entry_at(c, set, w);

		if (e->used && memcmp(entry_key(e), key, c->key_size) == 0)
			victim = e;
	}
	for (size_t w = 0; w < CACHE_WAYS && victim == NULL; w++) {
		struct cache_entry *e = entry_at(c, set, w);

		if (!e->used)
			victim = e;
	}
	if (victim == NULL) {
		victim = entry_at(c, set, 0);
		for (size_t w = 1; w < CACHE_WAYS; w++) {
			struct cache_entry *e = entry_at(c, set, w);

			if (e->stamp.at_us < victim->stamp.at_us)
				victim = e;
		}
	}
	entry_clear(c, victim);
	victim->stamp = *s;
	victim->until_us = until_us;
	memcpy(entry_key(victim), key, c->key_size);
	memcpy(entry_val(c, victim), val, c->val_size);
	if (c->has_ops && c->ops.ref)
		c->ops.ref(entry_val(c, victim));
	victim->used = 1;
	pthread_rwlock_unlock(lk);
	atomic_fetch_add_explicit(&c->puts, 1, memory_order_relaxed);
}

void cache_drop(struct cache *c, const void *key)
{
	uint64_t h = cache_hash(key, c->key_size);
	size_t set = (size_t)(h % c->sets);
	pthread_rwlock_t *lk = &c->locks[set % CACHE_LOCKS];

	pthread_rwlock_wrlock(lk);
	for (size_t w = 0; w < CACHE_WAYS; w++) {
		struct cache_entry *e = entry_at(c, set, w);

		if (e->used && memcmp(entry_key(e), key, c->key_size) == 0)
			entry_clear(c, e);
	}
	pthread_rwlock_unlock(lk);
}

void cache_stats(const struct cache *c, struct cache_stats *out)
{
	out->hits = atomic_load(&c->hits);
	out->misses = atomic_load(&c->misses);
	out->puts = atomic_load(&c->puts);
}
