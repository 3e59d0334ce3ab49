/*
 * tenancy/placement.h: where a tenant's data lives — placing a new tenant in
 * its isolation mode, and moving a tenant between modes.
 *
 * DESIGN
 * A new tenant is created in the shared mode (one transaction with its first
 * key and admin); when its mode is dedicated (asked for, or the
 * isolation_mode limit of its plan or the global scope), its database and
 * account are provisioned and the tenant switched before anyone can use it.
 * Provisioning is DDL, outside any transaction: when it fails the new tenant
 * is erased again, so the caller sees all or nothing.
 *
 * A move (docs/ISOLATION.md, "Moving a tenant"): mark the tenant migrating
 * (writes get 503 tenant_migrating and no reservation opens), wait for its
 * open reservations and a drain period, copy the content tables (and, into
 * a new database, the rollups), verify rows and checksums per table, switch
 * the mode (data_epoch moves on: every process routes anew), copy any row
 * that reached the old side late, then delete the old side. Until the switch
 * nothing is deleted, and a failure puts the tenant back as it was; after
 * it, the old side is only deleted once its rows are on the new side.
 */
#ifndef AH_TENANCY_PLACEMENT_H
#define AH_TENANCY_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "store/store.h"
#include "store/tenantdb.h"

#define PLACEMENT_MAX_TABLES 8

/*
 * Place new tenant tenant_id: mode "shared", "dedicated", or NULL for its
 * plan's (or the global) isolation_mode limit; host/port name another
 * MariaDB server for a dedicated database (NULL: the control server).
 * *dedicated gets the outcome. On failure the tenant is erased (its
 * creation undone) and err says why. 0 or -1.
 */
int placement_new_tenant(struct store *st, const struct conf *conf, int64_t tenant_id,
                         const char *mode, const char *host, int port, int *dedicated, char *err,
                         size_t errlen);

struct move_report {
	int to_dedicated;
	struct tdb_table_check tables[PLACEMENT_MAX_TABLES];
	int n_tables;
	int64_t copied, late_rows, deleted;
	int64_t waited_ms, total_ms;
	int rounds; /* copy-and-verify rounds before the sides agreed */
};

/*
 * Move tenant_id to the dedicated (to_dedicated = 1) or shared mode; a new
 * database goes to host:port (NULL: the control server).
 * wait_s bounds the wait for open reservations; drain_s is the pause after
 * them for writes that need no reservation. pg (may be NULL) hears each
 * step: "wait" (done: open reservations), "provision", "copy" (rows of a
 * table), "verify" (tables of total), "switch", "late" (rows copied after
 * the switch), "delete" (rows of a table). 0, or -1 with err (the tenant is
 * then in its old mode and not migrating, unless err says otherwise).
 */
int placement_move(struct store *st, const struct conf *conf, int64_t tenant_id, int to_dedicated,
                   const char *host, int port, int wait_s, int drain_s, struct move_report *rep,
                   const struct progress *pg, char *err, size_t errlen);
/* Clear the migrating flag a crashed move left behind (no data is touched). */
int placement_move_abort(struct store *st, int64_t tenant_id, char *err, size_t errlen);

#endif
