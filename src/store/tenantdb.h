/*
 * store/tenantdb.h: dedicated tenant databases — routing, provisioning and
 * the primitives of moving a tenant between modes.
 *
 * DESIGN
 * A dedicated tenant's content (executions, run steps, sessions, messages
 * and its own copy of the rollups) lives in the database <db_name>_t<id>,
 * reached through an account of the same name whose grants cover that
 * database only; the control database keeps everything a request needs
 * before it touches content, and the rollups of every tenant (the summary
 * that budgets, invoices and cross-tenant pages read). Handlers never see
 * this: store functions reach content through store_data_conn(), which
 * answers the control handle for a shared tenant and a pooled connection
 * for a dedicated one. Each thread pools at most conf dedicated_pool such
 * connections (LRU, closed after dedicated_idle_s idle), so the number of
 * MariaDB connections is processes x threads x (1 + dedicated_pool)
 * whatever the number of tenants.
 *
 * Where a tenant's data lives is read with its API key (one round trip that
 * identification makes anyway) or by one lookup per request; never cached
 * across requests, so a move is seen by every process at once. data_epoch
 * changes with every move, and a pooled connection opened for another epoch
 * is closed rather than used.
 *
 * Provisioning and moves need an account that may CREATE DATABASE, CREATE
 * USER and GRANT (conf db_admin_user, else db_user); the serving processes
 * need only their own grants. The tenant account's password is random, and
 * stored sealed with the master key, bound to the tenant.
 *
 * Three files implement this header, each depending only on the ones
 * before it (store/tdb.h): tdb_route.c (the request's context and the
 * pool), tdb_provision.c (create, drop, migrate, verify) and tdb_move.c
 * (copy, check, switch, delete).
 */
#ifndef AH_STORE_TENANTDB_H
#define AH_STORE_TENANTDB_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/progress.h"
#include "store/store.h"

/* A new request on this thread's handle: forget the last one's tenant context. */
void store_request_begin(struct store *st);

/* How to reach and provision dedicated databases (from the configuration). */
struct tdb_opts {
	const struct conf *conf; /* db_admin_*, dedicated_account_host, sql_dir */
	const char *host; /* another MariaDB server for the tenant ("" or NULL = control's) */
	int port;
};

/*
 * Create tenant_id's database (from sql_dir/tenant), its account and grants,
 * and record them (sealed password) in the tenant's row; isolation_mode is
 * not changed here. Safe to run again after a failure. ST_OK or ST_ERR with
 * a message in err.
 */
int store_tdb_provision(struct store *st, int64_t tenant_id, const struct tdb_opts *o, char *err,
                        size_t errlen);
/*
 * Drop tenant_id's database and account and clear them from its row, which
 * then says shared (a move back has copied the content first; an erasure
 * does not need it).
 */
int store_tdb_drop(struct store *st, int64_t tenant_id, const struct tdb_opts *o, char *err,
                   size_t errlen);
/* Apply sql_dir/tenant migrations to every dedicated tenant's database; *n counts them. */
int store_tdb_migrate_all(struct store *st, const struct tdb_opts *o, int *n, char *err,
                          size_t errlen);

/* ---------------------------------------------------------------- moves */

/* Per table of a move: rows and checksum on each side. */
struct tdb_table_check {
	const char *table;
	int64_t src_rows, dst_rows;
	uint64_t src_sum, dst_sum;
};

/* Mark (on = 1) or clear the tenant's migrating flag. ST_CONFLICT: already in that state. */
int store_tdb_migrating(struct store *st, int64_t tenant_id, int on);
/* Open reservations of the tenant. */
int store_tdb_open_reservations(struct store *st, int64_t tenant_id, int64_t *n);
/* The content tables, in copy order (parents first); NULL-terminated. */
const char *const *store_tdb_content_tables(void);
/* The rollup tables copied to a new dedicated database; NULL-terminated. */
const char *const *store_tdb_rollup_tables(void);
/*
 * Copy tenant_id's rows of table from one side to the other (to_dedicated:
 * shared -> its database; else back), skipping rows already there; *rows
 * gets how many were added. pg (may be NULL) hears "copy" with the rows
 * added so far after each page of a copy across servers, and once at the end.
 */
int store_tdb_copy(struct store *st, int64_t tenant_id, const struct tdb_opts *o, const char *table,
                   int to_dedicated, const struct progress *pg, int64_t *rows, char *err,
                   size_t errlen);
/* Count and checksum tenant_id's rows of table on both sides (src = the side data leaves). */
int store_tdb_check(struct store *st, int64_t tenant_id, const struct tdb_opts *o, int to_dedicated,
                    struct tdb_table_check *c, char *err, size_t errlen);
/*
 * Switch the mode, move data_epoch on and clear migrating, in one statement
 * (the end of a move, and placing a new tenant, whose content is empty).
 */
int store_tdb_switch(struct store *st, int64_t tenant_id, int dedicated);
/* Delete tenant_id's rows of table in the shared database, in batches of batch rows. */
int store_tdb_delete_shared(struct store *st, int64_t tenant_id, const char *table, int batch,
                            int64_t *rows);

/* ---------------------------------------------------------------- checks */

/* A grant of a dedicated account that reaches beyond its own database. */
typedef void (*tdb_finding_cb)(void *ctx, int64_t tenant_id, const char *check, const char *detail);
/*
 * For each dedicated tenant (or only tenant_id): its database and account
 * exist, the account's grants name nothing but its database (USAGE aside),
 * and no row in it belongs to another tenant. Calls cb per finding;
 * pg (may be NULL) hears "dedicated" (the database, done of total) per tenant.
 */
int store_tdb_verify(struct store *st, int64_t tenant_id, const struct tdb_opts *o,
                     tdb_finding_cb cb, void *ctx, const struct progress *pg, char *err,
                     size_t errlen);

#endif
