/*
 * records.h: the SQL of an execution row and its rollups, shared by the
 * store files that record calls (executions.c, admission.c, ledger.c,
 * tools.c). Private to src/store.
 *
 * DESIGN
 * An execution is written either as a prepared INSERT (one call, inside
 * the caller's transaction) or as text appended to a batch (many calls, or
 * one call with its rollups in one round trip), through the typed builder
 * of store/sql.h. The rollups (usage_daily, usage_5min, usage_attr_daily)
 * are only ever written by store_rollups_sql (ledger.c), so every path
 * sums them the same way.
 */
#ifndef AH_STORE_RECORDS_H
#define AH_STORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "store/admission.h"
#include "store/sql.h"
#include "store/store.h"

/*
 * Insert the execution row and (with_usage) add it to the rollups, inside
 * the caller's transaction (store_execution_record wraps it in its own).
 * Without with_usage the caller adds the rollups itself (admission.c does,
 * in the same round trip that moves the budget counters).
 */
int store_execution_write(struct store *d, const struct execution *e, int with_usage);
/* Append "INSERT INTO executions (...) VALUES " to q. */
void store_execution_head(struct sql *q);
/*
 * Append e's row as "(v, ...)" to q for a multi-row INSERT after
 * store_execution_head; created_us its time (unix microseconds), 0: the
 * database's clock now. -1 (q marked failed) when e is incomplete.
 */
int store_execution_values(struct sql *q, const struct execution *e, int64_t created_us);
/*
 * Append the rollup statements of n executions (usage_daily, usage_5min,
 * usage_attr_daily; one multi-row statement each, rows of the same key
 * summed) to q, each ending in ';'. created_us[i] is when es[i] happened
 * (unix microseconds; 0: the database's clock now). With if_open (n must
 * be 1) each statement adds its row only when @ah_open = 1: settling a
 * dedicated tenant adds the control database's summary only when this
 * settle closed the reservation. 0, or -1 (q marked failed).
 */
int store_rollups_sql(struct sql *q, const struct execution *const *es, const int64_t *created_us,
                      size_t n, int if_open);
/* store_rollups_sql of the one execution e, now. */
int store_rollup_sql(struct sql *q, const struct execution *e, int if_open);
/*
 * Record e and its rollups on d as one text batch, one round trip:
 * START TRANSACTION, the row, the rollups, COMMIT (a dedicated tenant's own
 * record). ST_CONFLICT when the id is there already (the batch rolled back).
 */
int store_execution_batch(struct store *d, const struct execution *e);

/* ------------------------------------------------ budget counter keys (admission.c) */

/* The SQL names of a scope (enum adm_scope) and a window (enum adm_window). */
const char *adm_scope_name(int scope);
const char *adm_window_name(int window);
/* The scope or window a name stands for; -1 when none. */
int adm_scope_of(const char *name);
int adm_window_of(const char *name);
/* "scope:id:window:period|..." of a's counters (a reservation row's list); -1 when too long. */
int adm_counters_text(const struct adm_request *a, char *out, size_t cap);
/*
 * Append " INSERT INTO reservations (...) SELECT <a's values>, owner, now,
 * now + expires_s" to q; the caller adds the FROM and WHERE that decide
 * whether the row is made.
 */
void adm_reservation_sql(struct sql *q, const struct adm_request *a, const char *counters,
                         const char *owner, int expires_s);
/* Append a counter's key as values: "'tenant', 12, 'day', '2026-11-23'". */
void adm_key_sql(struct sql *q, int scope, int64_t scope_id, int window, const char *period);
/*
 * Append "(scope = 'tenant' AND scope_id = 12 AND win = 'day' AND period =
 * '2026-11-23')": MariaDB 10.11 reads a row-constructor IN list over the
 * four key columns with a full scan (locking every row under FOR UPDATE);
 * an OR of these is a range on the primary key.
 */
void adm_key_match_sql(struct sql *q, int scope, int64_t scope_id, int window, const char *period);

#endif
