/*
 * lifecycle: what the tenant lifecycle needs from the database — retention
 * purges, a tenant's data exported as JSON lines, and the checks of
 * `agenthostctl verify-isolation` (store_life_*).
 *
 * DESIGN
 * These run from the CLI, off the request path. A purge deletes in small
 * batches, each its own short transaction on the (tenant_id, created_at)
 * index, so traffic is never locked out for long; rollups are kept. An
 * export reads each table of one tenant in keyset pages (never the whole
 * table in memory) and lets MariaDB build each line with JSON_OBJECT, so
 * types survive; secret columns (key hashes, sealed credentials, password
 * hashes) are never selected. Each isolation check is one query returning a
 * count, named so the report says what was found where.
 */
#ifndef AH_STORE_LIFECYCLE_H
#define AH_STORE_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * Delete up to batch executions of tenant_id created more than days ago, and
 * up to batch run steps as old. *deleted gets the larger of the two counts
 * (0: nothing left to purge; batch: call again).
 */
int store_life_purge_batch(struct store *st, int64_t tenant_id, int days, int batch,
                           int64_t *deleted);

/* One exported file: its name in the archive and how to read it. */
struct life_table {
	const char *file;   /* "executions.jsonl" */
	const char *from;   /* "executions" (a table of the tenant's data) */
	const char *json;   /* JSON_OBJECT(...) expression of one row */
	const char *key[6]; /* ordering/keyset columns, NULL-terminated */
	const char *where;  /* the tenant condition, with %lld for the id */
};

/* The tables of an export, in archive order; *n gets their number. */
const struct life_table *store_life_tables(size_t *n);

/* Called with each exported line (JSON text without newline); non-zero stops. */
typedef int (*life_line_cb)(void *ctx, const char *json, size_t len);

/* Stream every row of t for tenant_id to cb in pages of page rows; *rows gets the count. */
int store_life_export(struct store *st, const struct life_table *t, int64_t tenant_id, int page,
                      life_line_cb cb, void *ctx, int64_t *rows);

/* One isolation check: a name, what a finding means, and the query counting them. */
struct life_check {
	const char *name;
	const char *meaning;
	const char *sql; /* one row, one count column; %lld = tenant filter id (0 = all) */
};

const struct life_check *store_life_checks(size_t *n);
/* Run check c (tenant_id 0 = every tenant); *count gets the number of findings. */
int store_life_check(struct store *st, const struct life_check *c, int64_t tenant_id,
                     int64_t *count);

/*
 * Offboarding: set (days >= 0: erase after that many days) or clear (days
 * < 0) the tenant's offboard_after. ST_NOTFOUND when no such tenant.
 */
int store_life_offboard(struct store *st, int64_t tenant_id, int days);
/* The tenant's offboard_after as unix seconds, 0 when not offboarding. */
int store_life_offboard_after(struct store *st, int64_t tenant_id, int64_t *at);
/* Call cb for every tenant whose offboard_after has passed. */
int store_life_due(struct store *st, int (*cb)(void *ctx, int64_t tenant_id), void *ctx);
/*
 * Erase the tenant: every row of it in every table, in batches of batch rows
 * (each its own transaction), then the tenant row. *rows gets the count.
 * The tenant must be suspended; ST_CONFLICT otherwise.
 */
int store_life_erase(struct store *st, int64_t tenant_id, int batch, int64_t *rows);

/* A new tenant with, optionally, its first API key and its first dashboard admin. */
struct life_onboard {
	const char *slug, *name, *plan;
	const char *key_name;      /* NULL: no key */
	const char *key_prefix;    /* display prefix of the key */
	const uint8_t *key_hash;   /* its 32-byte keyed hash */
	const char *admin_name;    /* NULL: no admin */
	const char *admin_pw_hash; /* Argon2id string */
};
/*
 * Create all of o in one transaction: either everything exists afterwards
 * or nothing does. ST_CONFLICT (*what: "tenant" or "admin") when the slug or
 * the admin name is taken, ST_NOTFOUND when the plan does not exist.
 */
int store_life_onboard(struct store *st, const struct life_onboard *o, int64_t *tenant_id,
                       int64_t *key_id, const char **what);

/* What one housekeeping pass deleted. */
struct life_housekeeping {
	int64_t counters, reservations, usage_5min, logins, sessions, changes;
};
/*
 * Delete, in batches of at most batch rows each, what nothing needs any
 * more: budget counter rows of periods that ended (minute periods before
 * minute_cut, day before day_cut, month before month_cut: period texts as
 * admission writes them, in the budget time zone) and hold no reservation;
 * settled or reaped reservations older than a day; usage_5min buckets older
 * than 8 days; failed sign-ins older than a day; dashboard sessions past
 * their timeouts; change_log rows older than an hour, ledger marks older
 * than two days and lease rows that hold nothing (all counted in changes).
 * *out gets the counts. Each batch is its own short transaction.
 */
int store_life_housekeep(struct store *st, const char *minute_cut, const char *day_cut,
                         const char *month_cut, int batch, struct life_housekeeping *out);

/*
 * Take the turn `name` (a row of `turns`, sql/032) for the next every_s
 * seconds: *mine = 1 when its time had come and this call moved it on (one
 * caller per period, whatever the processes and hosts), 0 when another has
 * it. who (host and pid) is recorded for operators.
 */
int store_life_turn(struct store *st, const char *name, int every_s, const char *who, int *mine);

#endif
