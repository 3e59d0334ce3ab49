/*
 * epochs: change counters that every agenthost process of one host shares,
 * so a cached fact is dropped by every process at its next request once it
 * changed.
 *
 * DESIGN
 * The counters live in one small file of the state directory
 * (state_dir/epochs), mapped MAP_SHARED by every process and by agenthostctl:
 * an array of 64-bit slots, each bumped with an atomic add. A fact cached by
 * a process remembers the slots it depends on as they were *before* it was
 * read from the database; it is used only while they are unchanged. Whoever
 * changes a fact bumps its slots *after* the change is committed, so a
 * reader either sees the bump before its read (and reads the new value) or
 * keeps an older stamp that no longer matches (and reads again next time).
 *
 * Slots: one per tenant (hashed into EPOCH_TENANT_SLOTS: a collision only
 * costs a spurious re-read) covering everything cached about a tenant (its
 * keys, status, placement, limits at tenant and key scope, provider keys,
 * breakers), plus one per global fact (limits at plan and global scope, the
 * model catalogue). Processes on other hosts learn of changes from the
 * database's change_log (store/changes.c) and bump the same slots here.
 *
 * Without a state directory (plain CGI, a read-only or foreign directory)
 * the counters are process-local: changes made by this process still
 * invalidate its own caches; others learn them from change_log.
 */
#ifndef AH_EPOCHS_H
#define AH_EPOCHS_H

#include <stddef.h>
#include <stdint.h>

#define EPOCH_TENANT_SLOTS 8192

enum epoch_global {
	EPOCH_ANY,    /* bumped with every other counter: "something changed" */
	EPOCH_LIMITS, /* limits at plan or global scope, plans */
	EPOCH_MODELS, /* the model catalogue */
	EPOCH_KEYS,   /* an API key was created (drops cached "no such key" answers) */
	EPOCH__GLOBALS
};

/*
 * Map state_dir/epochs (created 0660 when missing and create is set).
 * 0, or -1 with err: the process then uses process-local counters.
 */
int epochs_open(const char *state_dir, int create, char *err, size_t errlen);
/* 1 when the counters are shared with the host's other processes. */
int epochs_shared(void);
uint64_t epochs_tenant(int64_t tenant_id);
uint64_t epochs_global(enum epoch_global g);
void epochs_bump_tenant(int64_t tenant_id);
void epochs_bump_global(enum epoch_global g);
/* Bump every counter (a change too broad to name). */
void epochs_bump_all(void);

#endif
