/*
 * metrics.c: GET /metrics, the host's figures in the Prometheus text
 * format (0.0.4). Who may read it is the router's AUTH_METRICS: a client
 * address in metrics_allow, or an operator token.
 *
 * The counters are common/metrics.c's, summed over every process of the
 * host; the breakers are read from the database (shared by every process
 * and host) at each scrape, one small grouped query. When the database
 * cannot be read the rest is still answered, with agenthost_breakers_up 0.
 */
#include "config.h"

#include <string.h>

#include "api/api.h"
#include "common/conf.h"
#include "common/metrics.h"
#include "common/util.h"
#include "host/http.h"
#include "store/guards.h"
#include "store/store.h"

#define METRICS_BREAKER_ROWS 256 /* (provider, state) pairs shown */

struct metrics_brk_set {
	struct metrics_breaker row[METRICS_BREAKER_ROWS];
	size_t n;
};

static void metrics_brk_cb(void *ctx, const char *provider, const char *state, int64_t count)
{
	struct metrics_brk_set *b = ctx;

	if (b->n == METRICS_BREAKER_ROWS)
		return;
	util_strlcpy(b->row[b->n].provider, provider, sizeof(b->row[b->n].provider));
	util_strlcpy(b->row[b->n].state, state, sizeof(b->row[b->n].state));
	b->row[b->n].count = count;
	b->n++;
}

void api_metrics(struct req *r, const struct ident *id, const struct route_match *m)
{
	static __thread struct metrics_brk_set brk;
	struct buf out = BUF_INIT;
	int brk_ok;

	(void)id;
	(void)m;
	brk.n = 0;
	brk_ok = r->store != NULL && store_breaker_counts(r->store, metrics_brk_cb, &brk) == ST_OK;
	if (metrics_render(&out, r->conf->metrics_tenants, brk.row, brk.n, brk_ok) < 0) {
		buf_free(&out);
		resp_error(r, R_server_busy, "out of memory");
		return;
	}
	resp_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf_str(&out), out.len);
	buf_free(&out);
}
