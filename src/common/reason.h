/*
 * reason: the reason codes of refusals and failures, and the refusal that
 * carries one from where it is decided to where it is answered.
 *
 * DESIGN
 * The codes, their HTTP status, error type and flags live once, in
 * common/tbl/reasons.h; this header turns them into enum reason and
 * lookups. Code compares codes as enums; a code becomes text only where
 * it leaves the process or comes in as text (the JSON error, execution and
 * run-step rows, the provider plugin ABI), through reason_name and
 * reason_lookup. A refusal is the code plus what is said about it: the
 * status and type are not in it, so they cannot disagree with the table.
 */
#ifndef AH_REASON_H
#define AH_REASON_H

#include <stdarg.h>
#include <stdint.h>

/* Flags of a row (see common/tbl/reasons.h). */
#define RF_RETRY 0x1    /* always answered with Retry-After */
#define RF_PROVIDER 0x2 /* a provider may report it through the plugin ABI */
#define RF_UPSTREAM 0x4 /* the upstream's fault: counts against the tenant's breaker */

enum reason {
	R_none, /* no refusal: the request succeeded */
#define REASON(name, status, type, flags, doc) R_##name,
#include "common/tbl/reasons.h"
#undef REASON
	REASON__MAX
};

/* Why a request is not served as asked: a refusal or a failure. */
struct refusal {
	enum reason reason;  /* the code; status and type follow from the table */
	char message[512];   /* safe to show the tenant */
	char param[64];      /* the request field at fault (OpenAI's error.param), "" = none */
	int64_t retry_after; /* seconds for Retry-After; 0 = no header */
};

/* The reason_code text of r ("" for R_none and out-of-range values). */
const char *reason_name(enum reason r);
/* The HTTP status of r (200 for R_none; 0 when r is never an HTTP answer). */
int reason_status(enum reason r);
/* The OpenAI-style error type of r ("" for R_none). */
const char *reason_type(enum reason r);
/* The RF_* flags of r. */
unsigned reason_flags(enum reason r);
/* The code named name, or R_none when there is none (or name is NULL). */
enum reason reason_lookup(const char *name);
/*
 * Fill rf: reason r, a formatted message (cut to fit), and retry_after 1
 * when r always carries Retry-After, else 0 (a caller that knows better
 * sets it after). Returns -1, for `return reason_set(...)`.
 */
int reason_set(struct refusal *rf, enum reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Name the request field at fault (cut to fit; NULL clears it). */
void reason_param(struct refusal *rf, const char *param);
/* reason_set with a va_list (clears the param). */
void reason_vset(struct refusal *rf, enum reason r, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
