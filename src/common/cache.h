/*
 * cache: a bounded, process-wide map for facts read from the database on
 * the hot path (API keys, limits, models, provider keys, breakers), with a
 * stated staleness bound.
 *
 * DESIGN
 * A cached value is used only while all of these hold:
 *   - the change counters it depends on (common/epochs.h: its tenant's slot,
 *     and a global slot) are what they were before it was read, so a change
 *     made on this host drops it at the next request;
 *   - the process's change watcher (host/background.c, polling change_log)
 *     succeeded within CACHE_TRUST_US, so a change made on another host is
 *     seen within one watch interval; when the watcher stalls (database
 *     unreachable) every lookup misses and goes to the database, which then
 *     answers or fails closed;
 *   - it is younger than the cache's time to live (a safety net for changes
 *     made behind agenthost's back, e.g. by hand in SQL) and than the
 *     deadline it was stored with (a key whose grace period ends).
 * Storage is set-associative (CACHE_WAYS entries per set, the oldest
 * replaced), allocated once: memory does not grow with traffic. Values are
 * copied in and out under a striped lock; a value that is a pointer to a
 * shared object gets ref/unref callbacks instead.
 */
#ifndef AH_CACHE_H
#define AH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/epochs.h"

#define CACHE_WAYS 8
#define CACHE_TRUST_US (1500 * 1000LL) /* the watcher must have succeeded this recently */
#define CACHE_NO_GLOBAL (-1)
/*
 * The time to live of the hot path's caches (keys, limits, credentials,
 * routes, breakers): only a safety net for changes made behind agenthost's
 * back (by hand in SQL), since every change made through agenthost reaches
 * every process through the change counters and the watcher. Long enough
 * that a tenant calling every few minutes stays warm on each process
 * (docs/ENFORCEMENT.md section 14).
 */
#define CACHE_SAFETY_NET_US (900 * 1000000LL)

/* Taken before a value is read from the database (cache_begin). */
struct cache_begin {
	uint64_t any;  /* EPOCH_ANY then */
	uint64_t gen;  /* this process's cache generation then */
	int64_t at_us; /* monotonic time */
};

/* What a stored value depends on. */
struct cache_stamp {
	int64_t tenant_id; /* 0: depends on no tenant */
	int global;        /* enum epoch_global, or CACHE_NO_GLOBAL */
	uint64_t tenant_epoch, global_epoch, gen;
	int64_t at_us; /* monotonic time its read began */
};

struct cache_ops {
	void (*ref)(void *val);   /* a copy handed out (val points at the stored value) */
	void (*unref)(void *val); /* a stored value dropped */
};

struct cache;

/*
 * A cache of capacity entries (rounded up to whole sets) of key_size-byte
 * keys and val_size-byte values, each living at most ttl_us. ops may be
 * NULL (plain copies). NULL when out of memory.
 */
struct cache *cache_new(const char *name, size_t key_size, size_t val_size, size_t capacity,
                        int64_t ttl_us, const struct cache_ops *ops);
void cache_free(struct cache *c);
/* Call before reading a value to cache from the database. */
void cache_begin(struct cache_begin *b);
/*
 * After the read: the stamp of a value depending on tenant_id (0: none) and
 * global (or CACHE_NO_GLOBAL). 1 when nothing changed on this host since b
 * was taken, so the value may be stored with this stamp; 0 when something
 * did (the value is fine to use once, not to keep). The tenant may be known
 * only from the read itself: that is why the stamp is taken afterwards.
 */
int cache_stamp(struct cache_stamp *s, const struct cache_begin *b, int64_t tenant_id, int global);
/* 1 with *val filled when key has a valid value; 0 otherwise. key is key_size bytes. */
int cache_get(struct cache *c, const void *key, void *val);
/* Store val under key with stamp s, valid at most until until_us (monotonic; 0: the TTL only). */
void cache_put(struct cache *c, const void *key, const void *val, const struct cache_stamp *s,
               int64_t until_us);
/* Drop key. */
void cache_drop(struct cache *c, const void *key);

/* The watcher: a poll that started at start_us succeeded (all changes before it are applied). */
void cache_trust(int64_t start_us);
/* Stop trusting cached values (the watcher is stopping). */
void cache_distrust(void);
/* Drop every value cached so far by this process (the watcher missed changes). */
void cache_flush_all(void);
/* 1 while cached values may be used. */
int cache_trusted(void);

/* Counters for tests and metrics. */
struct cache_stats {
	uint64_t hits, misses, puts;
};
void cache_stats(const struct cache *c, struct cache_stats *out);

#endif
