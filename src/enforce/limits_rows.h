/*
 * limits_rows: building effective limits from stored rows, without a database.
 *
 * DESIGN
 * limits_resolve (limits.h) is "defaults, then every applicable row through
 * limits_apply". The two steps are public so that the CLI can show the
 * effective limits of a plan or of the global scope (rows of that scope
 * over what it inherits) and so that precedence is unit-tested with
 * synthetic rows. A row wins over the value it meets when its scope is more
 * specific than that value's source (key > tenant > plan > global >
 * default); the order the rows arrive in does not matter.
 */
#ifndef AH_LIMITS_ROWS_H
#define AH_LIMITS_ROWS_H

#include <stdint.h>

#include "enforce/limits.h"

/* Every limit at its built-in default (source LS_DEFAULT). */
void limits_init(struct limits *l, int64_t tenant_id, int64_t key_id);
/*
 * Apply one stored value of limit name at scope. 1 when it became the
 * effective value, 0 when a more specific value is already in place, -1
 * when the row is ignored: unknown limit, a scope the limit cannot be set
 * at, or a value that does not validate (each logged as a warning, since
 * only a hand-edited row can be like that).
 */
int limits_apply(struct limits *l, enum limit_scope scope, const char *name, const char *value);

#endif
