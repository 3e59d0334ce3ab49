/*
 * progress: how a long operation (a tenant's export, a move between
 * isolation modes, a purge, an isolation check) tells its caller how far it
 * is, without printing anything itself.
 *
 * DESIGN
 * The operation is given a const struct progress * (NULL: nobody listens)
 * and calls progress_report at each step; the caller decides what to show
 * (agenthostctl: a line at a terminal or JSON lines, cli.c). The store and
 * tenancy code stay free of output. The units of done and total belong to
 * the phase (agenthostctl(8), PROGRESS): rows of item for "read", "copy",
 * "delete" and "purge", open reservations for "wait", files for "write",
 * tables for "verify", tenants for "tenant"; total is -1 when not known.
 */
#ifndef AH_COMMON_PROGRESS_H
#define AH_COMMON_PROGRESS_H

#include <stdint.h>

struct progress {
	/* phase: a short word; item: a table or tenant, or NULL */
	void (*fn)(void *ctx, const char *phase, const char *item, int64_t done, int64_t total);
	void *ctx;
};

/* Call p's function when there is one (p may be NULL). */
static inline void progress_report(const struct progress *p, const char *phase, const char *item,
                                   int64_t done, int64_t total)
{
	if (p != NULL && p->fn != NULL)
		p->fn(p->ctx, phase, item, done, total);
}

#endif
