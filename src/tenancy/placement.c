/*
 * tenancy/placement.c: placing new tenants and moving tenants between
 * isolation modes (see tenancy/placement.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cache.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/limits.h"
#include "store/lifecycle.h"
#include "tenancy/placement.h"

#define MOVE_ROUNDS 3 /* copy-and-verify rounds before a move gives up */

/* Undo a tenant created a moment ago: suspend, drop what was provisioned, erase. */
static void undo_create(struct store *st, const struct tdb_opts *o, int64_t tenant_id)
{
	char err[256];
	int64_t rows;

	store_tenant_set_status(st, tenant_id, TENANT_SUSPENDED, "onboarding failed");
	if (store_tdb_drop(st, tenant_id, o, err, sizeof(err)) != ST_OK)
		log_warn("placement: tenant %lld: %s", (long long)tenant_id, err);
	if (store_life_erase(st, tenant_id, 1000, &rows) != ST_OK)
		log_error("placement: tenant %lld could not be erased after a failed onboarding",
		          (long long)tenant_id);
}

int placement_new_tenant(struct store *st, const struct conf *conf, int64_t tenant_id,
                         const char *mode, const char *host, int port, int *dedicated, char *err,
                         size_t errlen)
{
	struct tdb_opts o = {conf, host, port};
	char resolved[16];

	*dedicated = 0;
	err[0] = '\0';
	if (mode == NULL) {
		/* struct limits is big (~57 KB): on the heap, not a request's stack */
		struct limits *lim = malloc(sizeof(*lim));

		if (lim == NULL || limits_resolve(st, tenant_id, 0, lim) < 0) {
			free(lim);
			snprintf(err, errlen, "cannot read the tenant's isolation_mode limit");
			undo_create(st, &o, tenant_id);
			return -1;
		}
		util_strlcpy(resolved, lim->v[LIM_ISOLATION_MODE].text, sizeof(resolved));
		free(lim);
		mode = resolved;
	}
	if (strcmp(mode, "shared") == 0)
		return 0;
	if (strcmp(mode, "dedicated") != 0) {
		snprintf(err, errlen, "isolation mode '%s': use shared or dedicated", mode);
		undo_create(st, &o, tenant_id);
		return -1;
	}
	if (store_tdb_provision(st, tenant_id, &o, err, errlen) != ST_OK ||
	    store_tdb_switch(st, tenant_id, 1) != ST_OK) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot switch the tenant to its database");
		undo_create(st, &o, tenant_id);
		return -1;
	}
	*dedicated = 1;
	return 0;
}

int placement_move_abort(struct store *st, int64_t tenant_id, char *err, size_t errlen)
{
	int rc = store_tdb_migrating(st, tenant_id, 0);

	if (rc == ST_CONFLICT) {
		snprintf(err, errlen, "the tenant is not being moved");
		return -1;
	}
	if (rc != ST_OK) {
		snprintf(err, errlen, "database error");
		return -1;
	}
	return 0;
}

/*
 * Copy every table of the move once; rows added go to rep->copied (or
 * *late); pg (may be NULL) hears each table's "copy".
 */
static int copy_all(struct store *st, const struct tdb_opts *o, int64_t tenant_id, int to_dedicated,
                    int with_rollups, const struct progress *pg, int64_t *added, char *err,
                    size_t errlen)
{
	const char *const *lists[2] = {store_tdb_content_tables(), store_tdb_rollup_tables()};

	for (int l = 0; l < (with_rollups ? 2 : 1); l++)
		for (const char *const *t = lists[l]; *t; t++) {
			int64_t rows = 0;

			if (store_tdb_copy(st, tenant_id, o, *t, to_dedicated, pg, &rows, err,
			                   errlen) != ST_OK)
				return -1;
			*added += rows;
		}
	return 0;
}

/* Count and checksum every table on both sides; 1 when all agree, 0 when not, -1 on error. */
static int verify_all(struct store *st, const struct tdb_opts *o, int64_t tenant_id,
                      int to_dedicated, const struct progress *pg, struct move_report *rep,
                      char *err, size_t errlen)
{
	const char *const *lists[2] = {store_tdb_content_tables(), store_tdb_rollup_tables()};
	int agree = 1, ntables = 0;

	for (int l = 0; l < (to_dedicated ? 2 : 1); l++)
		for (const char *const *t = lists[l]; *t; t++)
			ntables++;
	rep->n_tables = 0;
	for (int l = 0; l < (to_dedicated ? 2 : 1); l++)
		for (const char *const *t = lists[l]; *t; t++) {
			struct tdb_table_check *c = &rep->tables[rep->n_tables];

			if (rep->n_tables == PLACEMENT_MAX_TABLES)
				return -1;
			memset(c, 0, sizeof(*c));
			c->table = *t;
			if (store_tdb_check(st, tenant_id, o, to_dedicated, c, err, errlen) !=
			    ST_OK)
				return -1;
			rep->n_tables++;
			progress_report(pg, "verify", *t, rep->n_tables, ntables);
			if (c->src_rows != c->dst_rows || c->src_sum != c->dst_sum)
				agree = 0;
		}
	return agree;
}

/* Put the tenant back as it was before the move began (nothing was deleted yet). */
static void move_back(struct store *st, const struct tdb_opts *o, int64_t tenant_id,
                      int to_dedicated)
{
	char err[256];
	int64_t rows;

	if (to_dedicated) {
		if (store_tdb_drop(st, tenant_id, o, err, sizeof(err)) != ST_OK)
			log_warn("placement: tenant %lld: %s", (long long)tenant_id, err);
	} else {
		/* the shared side held none of its content before: remove what was copied */
		for (const char *const *t = store_tdb_content_tables(); *t; t++)
			if (store_tdb_delete_shared(st, tenant_id, *t, 1000, &rows) != ST_OK)
				log_warn("placement: tenant %lld: cannot remove copied rows of %s",
				         (long long)tenant_id, *t);
	}
	if (store_tdb_migrating(st, tenant_id, 0) == ST_ERR)
		log_error(
		    "placement: tenant %lld is still marked migrating; run agenthostctl tenant "
		    "move --abort",
		    (long long)tenant_id);
}

/*
 * Sleep until every process has seen a change committed now (the caches'
 * bound, common/cache.h, and a margin), or drain_s seconds if longer.
 */
static void settle_wait(int drain_s)
{
	int64_t us = CACHE_TRUST_US + 250 * 1000LL;

	if ((int64_t)drain_s * 1000000 > us)
		us = (int64_t)drain_s * 1000000;
	while (us > 0) {
		int64_t step = us > 500000 ? 500000 : us;

		usleep((useconds_t)step);
		us -= step;
	}
}

int placement_move(struct store *st, const struct conf *conf, int64_t tenant_id, int to_dedicated,
                   const char *host, int port, int wait_s, int drain_s, struct move_report *rep,
                   const struct progress *pg, char *err, size_t errlen)
{
	struct tdb_opts o = {conf, host, port};
	int64_t reported = -1;
	int64_t start = util_now_us(), open = 0, rows;
	struct tenant t;
	int agree = 0, dedicated;

	memset(rep, 0, sizeof(*rep));
	rep->to_dedicated = to_dedicated;
	err[0] = '\0';
	if (store_tenant_get(st, tenant_id, &t) != ST_OK) {
		snprintf(err, errlen, "cannot read the tenant");
		return -1;
	}
	dedicated = strcmp(t.isolation, "dedicated") == 0;
	if (dedicated == to_dedicated) {
		snprintf(err, errlen, "the tenant is already %s", t.isolation);
		return -1;
	}
	if (!to_dedicated) {
		/* the shared side must hold none of its content: a copy back must not merge */
		struct tdb_table_check c;

		for (const char *const *tb = store_tdb_content_tables(); *tb; tb++) {
			memset(&c, 0, sizeof(c));
			c.table = *tb;
			if (store_tdb_check(st, tenant_id, &o, 0, &c, err, errlen) != ST_OK)
				return -1;
			if (c.dst_rows != 0) {
				snprintf(err, errlen,
				         "the shared %s already holds %lld row(s) of this tenant;"
				         " see agenthostctl verify-isolation",
				         *tb, (long long)c.dst_rows);
				return -1;
			}
		}
	}
	switch (store_tdb_migrating(st, tenant_id, 1)) {
	case ST_OK:
		break;
	case ST_CONFLICT:
		snprintf(err, errlen,
		         "a move of this tenant is in progress (if it crashed: agenthostctl "
		         "tenant move TENANT --abort)");
		return -1;
	default:
		snprintf(err, errlen, "database error");
		return -1;
	}
	/*
	 * Every call admitted before the mark settles, where it started. A
	 * process sees the mark within the caches' bound; a call it admitted on
	 * its lease before then holds a reservation once it has run
	 * promote_after_ms, or has ended: so after the drain (at least the
	 * bound and a promotion) no reservation left means no call left.
	 */
	for (int drained = 0;;) {
		if (store_tdb_open_reservations(st, tenant_id, &open) != ST_OK) {
			snprintf(err, errlen, "cannot count open reservations");
			goto back;
		}
		if (open != reported) {
			progress_report(pg, "wait", "reservations", open, -1);
			reported = open;
		}
		if (open == 0 && drained)
			break;
		if (open == 0) {
			settle_wait(drain_s);
			drained = 1;
			continue;
		}
		if (util_now_us() - start > (int64_t)wait_s * 1000000) {
			snprintf(err, errlen, "%lld call(s) still open after %d s", (long long)open,
			         wait_s);
			goto back;
		}
		usleep(100000);
	}
	rep->waited_ms = (util_now_us() - start) / 1000;
	if (to_dedicated) {
		progress_report(pg, "provision", NULL, 0, -1);
		if (store_tdb_provision(st, tenant_id, &o, err, errlen) != ST_OK)
			goto back;
	}
	for (rep->rounds = 1; rep->rounds <= MOVE_ROUNDS; rep->rounds++) {
		if (copy_all(st, &o, tenant_id, to_dedicated, to_dedicated, pg, &rep->copied, err,
		             errlen) < 0)
			goto back;
		agree = verify_all(st, &o, tenant_id, to_dedicated, pg, rep, err, errlen);
		if (agree != 0)
			break;
	}
	if (agree < 0)
		goto back;
	if (agree == 0) {
		snprintf(err, errlen, "the copy does not match its source after %d rounds",
		         MOVE_ROUNDS);
		goto back;
	}
	progress_report(pg, "switch", NULL, 0, -1);
	if (store_tdb_switch(st, tenant_id, to_dedicated) != ST_OK) {
		snprintf(err, errlen, "cannot switch the tenant's mode");
		goto back;
	}
	/*
	 * Switched: new calls go to the new side once their process has seen
	 * the switch (within the caches' bound: wait that long). A write that
	 * passed identification before the mark and arrived after the copy is
	 * on the old side: copy it over (rows already there are skipped) before
	 * the old side goes. Finished calls' rows need no wait: the ledger reads
	 * the placement under a share lock the switch waited for.
	 */
	settle_wait(drain_s);
	/* the late rows are one figure, reported after */
	if (copy_all(st, &o, tenant_id, to_dedicated, 0, NULL, &rep->late_rows, err, errlen) < 0) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n,
		         " (switched; the old side is kept: run the move's"
		         " clean-up again with verify-isolation)");
		return -1;
	}
	progress_report(pg, "late", NULL, rep->late_rows, -1);
	if (to_dedicated) {
		for (const char *const *tb = store_tdb_content_tables(); *tb; tb++) {
			if (store_tdb_delete_shared(st, tenant_id, *tb, 1000, &rows) != ST_OK) {
				snprintf(err, errlen,
				         "switched, but deleting the shared %s failed: "
				         "verify-isolation lists what is left",
				         *tb);
				return -1;
			}
			rep->deleted += rows;
			progress_report(pg, "delete", *tb, rows, -1);
		}
		/* the cache is not moved: the tenant starts afresh on its own database */
		if (store_tdb_delete_shared(st, tenant_id, "response_cache", 1000, &rows) != ST_OK)
			log_warn("placement: tenant %lld: cannot delete its shared cached answers",
			         (long long)tenant_id);
	} else {
		for (int i = 0; i < rep->n_tables; i++)
			rep->deleted += rep->tables[i].src_rows;
		progress_report(pg, "delete", "database", rep->deleted, -1);
		if (store_tdb_drop(st, tenant_id, &o, err, errlen) != ST_OK)
			return -1;
	}
	rep->total_ms = (util_now_us() - start) / 1000;
	return 0;
back:
	move_back(st, &o, tenant_id, to_dedicated);
	return -1;
}
