/*
 * reason.c: lookups over the reason-code table (see reason.h).
 *
 * DESIGN
 * One array of rows generated from common/tbl/reasons.h, indexed by the
 * enum; R_none is row 0 so that a zeroed refusal means "nothing wrong".
 * reason_lookup is a linear scan: it runs only where a code arrives as
 * text (a provider's failure, a test), never per successful request.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/reason.h"

struct reason_row {
	const char *name;
	int status;
	const char *type;
	unsigned flags;
};

static const struct reason_row reason_rows[REASON__MAX] = {
    [R_none] = {"", 200, "", 0},
#define REASON(name, status, type, flags, doc) [R_##name] = {#name, status, #type, flags},
#include "common/tbl/reasons.h"
#undef REASON
};

static const struct reason_row *reason_row(enum reason r)
{
	return (unsigned)r < REASON__MAX ? &reason_rows[r] : &reason_rows[R_none];
}

const char *reason_name(enum reason r)
{
	return reason_row(r)->name;
}

int reason_status(enum reason r)
{
	return reason_row(r)->status;
}

const char *reason_type(enum reason r)
{
	return reason_row(r)->type;
}

unsigned reason_flags(enum reason r)
{
	return reason_row(r)->flags;
}

enum reason reason_lookup(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return R_none;
	for (unsigned i = R_none + 1; i < REASON__MAX; i++)
		if (strcmp(reason_rows[i].name, name) == 0)
			return (enum reason)i;
	return R_none;
}

void reason_vset(struct refusal *rf, enum reason r, const char *fmt, va_list ap)
{
	rf->reason = r;
	rf->retry_after = reason_flags(r) & RF_RETRY ? 1 : 0;
	rf->param[0] = '\0';
	/* GCC 12 with -fsanitize=undefined warns of a null format otherwise (see pjson_fail). */
	if (fmt == NULL)
		fmt = "";
	vsnprintf(rf->message, sizeof(rf->message), fmt, ap);
}

int reason_set(struct refusal *rf, enum reason r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reason_vset(rf, r, fmt, ap);
	va_end(ap);
	return -1;
}

void reason_param(struct refusal *rf, const char *param)
{
	snprintf(rf->param, sizeof(rf->param), "%s", param ? param : "");
}
