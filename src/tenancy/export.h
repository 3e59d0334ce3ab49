/*
 * export: all of one tenant's data as a tar of JSON lines files, for the CLI
 * (`agenthostctl tenant export|offboard`) and the operator API.
 *
 * DESIGN
 * Every table of the tenant (store/lifecycle.c's list) is read in keyset
 * pages and spooled to an unlinked temporary file while its SHA-256 and row
 * count are computed; then the archive is written to out in one pass:
 * <slug>-export/manifest.json (format, tenant, per-file rows, bytes,
 * sha256), tenant.json (the tenant and its effective settings, no secrets),
 * and the .jsonl files. Memory stays bounded whatever the tenant's size, and
 * nothing reaches out until every table was read, so a database failure
 * never leaves half an archive behind a successful start.
 */
#ifndef AH_TENANCY_EXPORT_H
#define AH_TENANCY_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct progress;
struct store;
struct tenant;

#define TENANT_EXPORT_FORMAT "agenthost-export/1"

/*
 * Write tenant t's archive to out. manifest (an empty object) gets the
 * manifest. pg (may be NULL) hears "read" per EXPORT_PROGRESS_ROWS rows of
 * each table and at its end (done: rows so far), then "write" per file
 * (done of total files). 0, or -1 with a message in err (no secret in it).
 */
int tenant_export(struct store *st, const struct tenant *t, FILE *out, json_t *manifest,
                  const struct progress *pg, char *err, size_t cap);

#endif
