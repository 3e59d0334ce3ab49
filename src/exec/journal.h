/*
 * journal: the format of a process's ledger journal (state_dir/journal/NAME.jnl),
 * written by exec/ledger.c and read back when a journal is replayed.
 */
#ifndef AH_JOURNAL_H
#define AH_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "exec/ledger.h"
#include "store/ledger.h"

#define REC_DONE 1
#define REC_APPLIED 2
#define REC_ADMIT 3    /* a call admitted on leases */
#define REC_PROMOTED 4 /* ...promoted to a reservation */
#define REC_OWNER 5    /* this process's lease owner id */
#define REC_VERSION 1
/*
 * A REC_DONE of version 2 ends with the call's end user, version 3 then with
 * what its guardrails decided; version 1 (older journals) has neither.
 */
#define REC_DONE_VERSION 3
#define REC_DONE_V2 2
#define FRAME_MAX (64u << 20) /* a record bigger than this is refused */

/* A finished call in memory: queued, or read back from a journal. */
struct ledger_item {
	struct ledger_item *next;
	size_t bytes;
	struct ledger_rec rec; /* its long strings point into text[] */
	char text[];
};

/* A frame being built: the first 8 bytes are reserved for its header; err is sticky. */
struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

/* Append to w (err set, and nothing more appended, when out of memory). */
void journal_put(struct wbuf *w, const void *p, size_t n);
void journal_put_u64(struct wbuf *w, uint64_t v);
void journal_put_u32(struct wbuf *w, uint32_t v);
void journal_put_str(struct wbuf *w, const char *s);
/* The payload of a finished call's record (REC_DONE). */
void journal_encode_rec(struct wbuf *w, const struct ledger_rec *r);
/* The payload of a call admitted on leases (REC_ADMIT). */
void journal_encode_admit(struct wbuf *w, const struct ledger_admit *ad);
/* Fill in the frame header of w (length and crc of w->p[8..]). */
void journal_seal(struct wbuf *w);
/* Write all of p to fd (retrying short writes and EINTR); 0 or -1. */
int journal_write_all(int fd, const void *p, size_t n);
/*
 * Read a journal file: the records after its last "applied" mark, then the
 * calls admitted on leases that never ended nor were promoted (as worst-case
 * records), into a list (*n items). *owner gets the lease owner it names
 * (0: none). 0, or -1 when it cannot be read.
 */
int journal_read(int fd, struct ledger_item **out, size_t *n, int64_t *owner);
void journal_items_free(struct ledger_item *it);

#endif
