/*
 * execute.c: resolve, pick the credential, call, price, record (see execute.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/cache.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "enforce/admit.h"
#include "enforce/authorize.h"
#include "enforce/breaker.h"
#include "enforce/limits.h"
#include "enforce/share.h"
#include "exec/execute.h"
#include "exec/guardrail.h"
#include "exec/ledger.h"
#include "exec/rcache.h"
#include "exec/route.h"
#include "host/alerts.h"
#include "host/http.h"
#include "host/server.h"
#include "providers/registry.h"
#include "tenancy/identify.h"

int exec_resolve(struct req *r, const struct ident *id, const char *model_name,
                 struct exec_outcome *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_model_get(r->store, model_name, &out->model);
	if (rc == ST_NOTFOUND) {
		resp_error_param(
		    r, R_model_not_found, "model",
		    "the model '%.100s' does not exist or you do not have access to it",
		    model_name);
		return -1;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the model catalogue is unavailable");
		return -1;
	}
	if (id->lim && authorize_model(r, id->lim, out->model.name) < 0)
		return -1;
	if (registry_find(out->model.provider) == NULL) {
		resp_error_param(r, R_provider_not_configured, "model",
		                 "the provider of model '%.100s' is not available on this host",
		                 model_name);
		return -1;
	}
	util_strlcpy(r->model, out->model.name, sizeof(r->model));
	return 0;
}

void exec_prepare(struct exec_call *call)
{
	util_random_id(strcmp(call->kind, "run") == 0     ? "run_"
	               : strcmp(call->kind, "embed") == 0 ? "embd-"
	                                                  : "chatcmpl-",
	               call->id, sizeof(call->id));
}

void exec_format_usd(int64_t micros, char *out, size_t cap)
{
	snprintf(out, cap, "%s%lld.%06lld", micros < 0 ? "-" : "",
	         (long long)((micros < 0 ? -micros : micros) / 1000000),
	         (long long)((micros < 0 ? -micros : micros) % 1000000));
}

int exec_fail(struct exec_outcome *out, enum reason reason, const char *fmt, ...)
{
	va_list ap;

	out->ok = 0;
	va_start(ap, fmt);
	reason_vset(&out->err, reason, fmt, ap);
	va_end(ap);
	return -1;
}

/* A self-hosted upstream on this machine may run without a credential. */
static int exec_is_loopback(const char *url)
{
	static const char *const local[] = {"http://127.",  "http://localhost",  "http://[::1]",
	                                    "https://127.", "https://localhost", "https://[::1]"};

	for (size_t i = 0; i < ARRAY_SIZE(local); i++)
		if (strncmp(url, local[i], strlen(local[i])) == 0)
			return 1;
	return 0;
}

/*
 * A tenant's sealed provider keys are cached per process (common/cache.h):
 * a set or cleared key is a change of its tenant (store/changes.c), seen at
 * once on this host and within one watch of change_log elsewhere. Only the
 * sealed form is kept; it is opened for each call and the plaintext wiped.
 * Most tenants have no key of their own: "none" is kept in a second cache of
 * small entries sized like the key cache (tenancy/identify.c), so that many
 * tenants do not evict each other's answer and ask the database per call.
 * A project's own keys are entries of the same caches under (tenant,
 * project, provider): a key outside any project never looks, and a project
 * without a key of its own is a "none" entry like a tenant's.
 */
#define CRED_CACHE_ENTRIES 4096
#define CRED_NONE_ENTRIES 32768

struct cred_key {
	int64_t tenant_id;
	int64_t project_id; /* 0: the tenant's own key */
	char provider[64];  /* an instance, or "<instance>#<pool key name>" (exec/route.c) */
};

struct cred_entry {
	int found;
	struct sealed_cred sc;
};

static struct cache *cred_cache;
static struct cache *cred_none; /* (tenant, provider) without a key of its own */
static pthread_once_t cred_cache_once = PTHREAD_ONCE_INIT;

static void cred_cache_init(void)
{
	cred_cache = cache_new("credentials", sizeof(struct cred_key), sizeof(struct cred_entry),
	                       CRED_CACHE_ENTRIES, CACHE_SAFETY_NET_US, NULL);
	cred_none = cache_new("credentials-none", sizeof(struct cred_key), sizeof(char),
	                      CRED_NONE_ENTRIES, CACHE_SAFETY_NET_US, NULL);
}

/*
 * The sealed key for provider of the tenant (project_id 0) or of its
 * project, cached: ST_OK, ST_NOTFOUND, ST_ERR.
 */
static int exec_cred_get(struct store *st, int64_t tenant_id, int64_t project_id,
                         const char *provider, struct sealed_cred *sc)
{
	struct cred_key k;
	struct cred_entry e;
	struct cache_begin b;
	struct cache_stamp s;
	char none;
	int rc;

	pthread_once(&cred_cache_once, cred_cache_init);
	memset(&k, 0, sizeof(k));
	k.tenant_id = tenant_id;
	k.project_id = project_id;
	if (cred_cache == NULL || cred_none == NULL ||
	    util_strlcpy(k.provider, provider, sizeof(k.provider)) < 0)
		return project_id ? store_pcred_get(st, tenant_id, project_id, provider, sc)
		                  : store_cred_get(st, tenant_id, provider, sc);
	if (cache_get(cred_none, &k, &none))
		return ST_NOTFOUND;
	if (cache_get(cred_cache, &k, &e)) {
		rc = e.found ? ST_OK : ST_NOTFOUND;
		*sc = e.sc;
		sodium_memzero(&e, sizeof(e));
		return rc;
	}
	cache_begin(&b);
	rc = project_id ? store_pcred_get(st, tenant_id, project_id, provider, sc)
	                : store_cred_get(st, tenant_id, provider, sc);
	if (rc == ST_ERR)
		return rc;
	if (!cache_stamp(&s, &b, tenant_id, CACHE_NO_GLOBAL))
		return rc;
	if (rc == ST_NOTFOUND) {
		none = 1;
		cache_put(cred_none, &k, &none, &s, 0);
		return rc;
	}
	memset(&e, 0, sizeof(e));
	e.found = 1;
	e.sc = *sc;
	cache_put(cred_cache, &k, &e, &s, 0);
	sodium_memzero(&e, sizeof(e));
	return rc;
}

/* The tenant's sealed key for provider (an instance or "<instance>#<pool key>"), cached. */
int exec_sealed_cred(struct store *st, int64_t tenant_id, const char *provider,
                     struct sealed_cred *sc)
{
	return exec_cred_get(st, tenant_id, 0, provider, sc);
}

/*
 * The credential chain. Each source answers 1 (key and out->cred_source
 * set: use it), 0 (not this source: try the next) or -1 (out's error set:
 * the call is refused). The order is the documented one (docs/API.md,
 * "Provider credentials"): the request's own key (when its tenant allows
 * it), then the project's own (the calling key's project), then the
 * tenant's own (BYOK), then the platform's; a provider on loopback may need
 * none.
 */
struct cred_ask {
	struct req *r;
	const struct ident *id;
	const struct provider_instance *inst;
	char *key; /* cap bytes; the caller wipes it */
	size_t cap;
	struct exec_outcome *out;
};

#define CRED_REQUEST_MAX 512 /* longest X-Provider-Api-Key accepted */

/* 1 when the tenant's request_provider_key limit is "on"; -1 with out's error set. */
static int cred_request_allowed(const struct cred_ask *a)
{
	struct limits *lim;
	int on;

	if (a->id->lim != NULL)
		return strcmp(a->id->lim->v[LIM_REQUEST_PROVIDER_KEY].text, "on") == 0;
	/* enforcement off: the setting is still the tenant's (read without the request's copy) */
	lim = malloc(sizeof(*lim));
	if (lim == NULL || limits_get(a->r->store, a->id->tenant_id, a->id->key_id, lim) < 0) {
		free(lim);
		return exec_fail(a->out, R_database_unavailable, "the limits are unavailable");
	}
	on = strcmp(lim->v[LIM_REQUEST_PROVIDER_KEY].text, "on") == 0;
	free(lim);
	return on;
}

/*
 * The request's X-Provider-Api-Key: honoured only when the tenant allows it
 * (403 provider_key_not_allowed otherwise, so a caller never pays with a key
 * it did not mean to use). Never stored, logged or echoed: it lives in the
 * caller's key buffer for the call and is wiped after it.
 */
static int cred_from_request(const struct cred_ask *a)
{
	const char *h = req_header(a->r, "X-Provider-Api-Key");
	size_t n;
	int allowed;

	if (h == NULL)
		return 0;
	allowed = cred_request_allowed(a);
	if (allowed < 0)
		return -1;
	if (!allowed) {
		exec_fail(a->out, R_provider_key_not_allowed,
		          "this tenant does not accept a provider key on the request"
		          " (X-Provider-Api-Key); ask the operator to set request_provider_key on");
		return -1;
	}
	n = strlen(h);
	for (size_t i = 0; i < n; i++)
		if (h[i] <= 0x20 || h[i] > 0x7e)
			n = 0;
	if (n == 0 || n > CRED_REQUEST_MAX || n >= a->cap) {
		exec_fail(a->out, R_invalid_request,
		          "X-Provider-Api-Key must be 1 to %d printable characters without spaces",
		          CRED_REQUEST_MAX);
		return -1;
	}
	memcpy(a->key, h, n + 1);
	util_strlcpy(a->out->cred_source, "request", sizeof(a->out->cred_source));
	return 1;
}

/* The calling key's project into *pid (0: none); -1 with out's error set. */
static int cred_project_of(struct req *r, const struct ident *id, int64_t *pid,
                           struct exec_outcome *out)
{
	struct limits *lim;

	*pid = 0;
	if (id->key_id == 0)
		return 0;
	if (id->lim != NULL) {
		*pid = id->lim->project_id;
		return 0;
	}
	/* enforcement off: the key's project from the cached limits, as cred_request_allowed */
	lim = malloc(sizeof(*lim));
	if (lim == NULL || limits_get(r->store, id->tenant_id, id->key_id, lim) < 0) {
		free(lim);
		return out ? exec_fail(out, R_database_unavailable, "the limits are unavailable")
		           : -1;
	}
	*pid = lim->project_id;
	free(lim);
	return 0;
}

/*
 * Open the sealed key of the tenant (project_id 0) or its project into the
 * caller's buffer, recording the source. 1, 0 (none), -1 with out's error.
 */
static int cred_open_stored(const struct cred_ask *a, int64_t project_id, const char *source)
{
	const struct provider_instance *inst = a->inst;
	struct sealed_cred sc;
	int rc;

	rc = exec_cred_get(a->r->store, a->id->tenant_id, project_id, inst->name, &sc);
	if (rc == ST_NOTFOUND)
		return 0;
	if (rc != ST_OK)
		return exec_fail(a->out, R_database_unavailable,
		                 "the credential store is unavailable");
	rc = project_id ? secrets_open_project(a->id->tenant_id, project_id, inst->name, sc.version,
	                                       sc.nonce, sc.ct, sc.ct_len, a->key, a->cap)
	                : secrets_open(a->id->tenant_id, inst->name, sc.version, sc.nonce, sc.ct,
	                               sc.ct_len, a->key, a->cap);
	sodium_memzero(&sc, sizeof(sc));
	if (rc < 0) {
		log_error("exec: tenant %lld: stored %s credential (%s) does not open",
		          (long long)a->id->tenant_id, inst->name, source);
		return exec_fail(a->out, R_credential_unusable,
		                 "the stored provider key for '%s' cannot be used; set it again",
		                 inst->name);
	}
	util_strlcpy(a->out->cred_source, source, sizeof(a->out->cred_source));
	return 1;
}

/* The calling key's project's own key, opened for the call; a key in no project has none. */
static int cred_from_project(const struct cred_ask *a)
{
	int64_t pid;

	if (cred_project_of(a->r, a->id, &pid, a->out) < 0)
		return -1;
	return pid ? cred_open_stored(a, pid, "project") : 0;
}

/* The tenant's own key (BYOK), opened for the call. */
static int cred_from_tenant(const struct cred_ask *a)
{
	return cred_open_stored(a, 0, "tenant");
}

/* The platform's key of the instance (configuration). */
static int cred_from_platform(const struct cred_ask *a)
{
	if (a->inst->platform_key[0] == '\0')
		return 0;
	util_strlcpy(a->key, a->inst->platform_key, a->cap);
	util_strlcpy(a->out->cred_source, "platform", sizeof(a->out->cred_source));
	return 1;
}

/* A provider on loopback (a local server, the tests' fake) may be called without a key. */
static int cred_from_loopback(const struct cred_ask *a)
{
	if (!exec_is_loopback(a->inst->base_url))
		return 0;
	util_strlcpy(a->out->cred_source, "none", sizeof(a->out->cred_source));
	return 1;
}

static int (*const cred_sources[])(const struct cred_ask *) = {
    cred_from_request, cred_from_project, cred_from_tenant, cred_from_platform, cred_from_loopback,
};

/*
 * Choose the credential by cred_sources' order. key gets the plaintext
 * (caller wipes it). 0 ok, -1 with out's error set.
 */
static int exec_credential(struct req *r, const struct ident *id,
                           const struct provider_instance *inst, char *key, size_t cap,
                           struct exec_outcome *out)
{
	const struct cred_ask a = {r, id, inst, key, cap, out};

	key[0] = '\0';
	if (inst->adapter->flags & AH_PROVIDER_LOCAL) {
		util_strlcpy(out->cred_source, "none", sizeof(out->cred_source));
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cred_sources); i++) {
		int rc = cred_sources[i](&a);

		if (rc != 0) {
			if (rc < 0)
				sodium_memzero(key, cap);
			return rc < 0 ? -1 : 0;
		}
	}
	exec_fail(out, R_provider_not_configured,
	          "no credential for provider '%s': set a provider key for this tenant (GET "
	          "/v1/models lists the models callable now)",
	          inst->name);
	reason_param(&out->err, "model");
	return -1;
}

int exec_model_callable(struct req *r, const struct ident *id, const struct model *m)
{
	const struct provider_instance *inst = registry_find(m->provider);
	struct sealed_cred sc;
	int64_t pid;
	int rc;

	/* the tenant's list, then the key's project's and the key's own (authorize_model) */
	if (id->lim && (!limits_list_allows(id->lim->v[LIM_ALLOWED_MODELS].text, m->name) ||
	                !limits_list_allows(id->lim->project[LV_ALLOWED_MODELS].text, m->name) ||
	                !limits_list_allows(id->lim->key[LV_ALLOWED_MODELS].text, m->name)))
		return 0;
	if (inst == NULL)
		return 0;
	if ((inst->adapter->flags & AH_PROVIDER_LOCAL) || inst->platform_key[0] ||
	    exec_is_loopback(inst->base_url))
		return 1;
	if (cred_project_of(r, id, &pid, NULL) < 0)
		return -1;
	rc = pid ? exec_cred_get(r->store, id->tenant_id, pid, inst->name, &sc) : ST_NOTFOUND;
	if (rc == ST_NOTFOUND)
		rc = exec_cred_get(r->store, id->tenant_id, 0, inst->name, &sc);
	sodium_memzero(&sc, sizeof(sc));
	return rc == ST_OK ? 1 : rc == ST_NOTFOUND ? 0 : -1;
}

void exec_execution(const struct req *r, const struct ident *id, const struct exec_call *call,
                    const struct exec_outcome *out, struct execution *e)
{
	memset(e, 0, sizeof(*e));
	util_strlcpy(e->id, call->id, sizeof(e->id));
	e->tenant_id = id->tenant_id;
	e->key_id = id->key_id;
	util_strlcpy(e->kind, call->kind, sizeof(e->kind));
	if (call->agent) {
		e->agent_id = call->agent->id;
		util_strlcpy(e->agent_name, call->agent->name, sizeof(e->agent_name));
	}
	if (call->session_id)
		util_strlcpy(e->session_id, call->session_id, sizeof(e->session_id));
	util_strlcpy(e->model, out->model.name, sizeof(e->model));
	util_strlcpy(e->provider, out->model.provider, sizeof(e->provider));
	util_strlcpy(e->cred_source, out->cred_source[0] ? out->cred_source : "none",
	             sizeof(e->cred_source));
	util_strlcpy(e->status, exec_status_name(out), sizeof(e->status));
	/* Rows keep the code as text: the boundary where it leaves the process. */
	util_strlcpy(e->reason_code, out->ok ? "" : reason_name(out->err.reason),
	             sizeof(e->reason_code));
	e->http_status = out->ok ? 200 : reason_status(out->err.reason);
	e->stream = call->stream;
	/* a cache hit consumed nothing: its tokens (reported to the caller) are not spent */
	e->cache_hit = out->cache_hit;
	e->prompt_tokens = out->cache_hit ? 0 : out->res.usage.prompt_tokens;
	e->completion_tokens = out->cache_hit ? 0 : out->res.usage.completion_tokens;
	e->cost_micros = out->cost_micros;
	e->latency_ms = out->latency_ms;
	util_strlcpy(e->request_id, r->request_id, sizeof(e->request_id));
	util_strlcpy(e->end_user, r->end_user, sizeof(e->end_user));
	util_strlcpy(e->finish_reason, out->res.finish_reason, sizeof(e->finish_reason));
	e->metadata = call->metadata;
	e->input = out->input_redacted ? out->input_redacted : call->input;
	e->guardrails = out->guardrails;
	e->output = strcmp(call->kind, "run") == 0 || call->output_max ? out->res.text : NULL;
	e->error_message = out->ok ? NULL : out->err.message;
	e->created_at = out->created_at;
}

static void exec_record(struct req *r, const struct ident *id, const struct exec_call *call,
                        struct exec_outcome *out, struct admission *adm)
{
	struct ledger_rec rec;
	struct execution e;
	char *cut = NULL; /* the answer cut to call->output_max, when it was longer */

	/*
	 * A call refused because the tenant's data is being moved writes nothing:
	 * the move is copying that data, and a write now could land on the side
	 * being left (the client was told to retry).
	 */
	if (!out->ok && out->err.reason == R_tenant_migrating)
		return;
	/* hard budget refusals are an alert (host/alerts.c): a note in memory, sent off the path */
	if (!out->ok && out->err.reason == R_tenant_budget_exceeded)
		alerts_note_refusal(id->tenant_id, out->err.message);
	exec_execution(r, id, call, out, &e);
	if (call->output_max && e.output && strlen(e.output) > call->output_max)
		e.output = cut = util_utf8_cut_dup(e.output, call->output_max);
	memset(&rec, 0, sizeof(rec));
	rec.e = e;
	rec.created_us = util_wall_us();
	rec.dedicated = id->dedicated;
	rec.data_epoch = id->data_epoch;
	/*
	 * On leases: the worst case goes back to them at once and the spend leaves
	 * them; unless the call ran long enough to get a reservation of its own.
	 */
	if (adm && adm->ticket.state != TK_NONE &&
	    lease_settle(&adm->ticket, e.cost_micros, e.prompt_tokens + e.completion_tokens))
		adm->reservation_id = adm->ticket.reservation_id;
	if (adm && (adm->reservation_id || adm->ticket.owner_id)) {
		rec.reservation_id = adm->reservation_id;
		if (!adm->reservation_id)
			rec.owner_id = adm->ticket.owner_id;
		for (size_t i = 0; i < adm->a.n; i++) {
			const struct adm_counter *c = &adm->a.c[i];
			struct ledger_counter *lc = &rec.c[rec.n++];

			lc->scope = (unsigned char)c->scope;
			lc->window = (unsigned char)c->window;
			lc->mode = adm->reservation_id   ? LM_RESERVED
			           : adm->ticket.held[i] ? LM_LEASED
			                                 : LM_NONE;
			lc->held = adm->reservation_id ? 0 : adm->ticket.held[i];
			lc->scope_id = c->scope_id;
			util_strlcpy(lc->period, c->period, sizeof(lc->period));
			lc->wc_micros = adm->a.micros;
			lc->wc_tokens = adm->a.tokens;
		}
	}
	/* In the journal before the client hears of it; in the database a batch later. */
	if (ledger_record(r->store, &rec, rec.reservation_id != 0) == 0) { /* copies the texts */
		out->recorded = 1;
		free(cut);
		return;
	}
	/* The one place usage could be lost: make it loud and reconstructible from the log. */
	log_error("exec: UNRECORDED execution id=%s tenant=%lld key=%lld model=%s status=%s "
	          "prompt_tokens=%lld completion_tokens=%lld cost_micros=%lld request=%s",
	          e.id, (long long)e.tenant_id, (long long)e.key_id, e.model, e.status,
	          (long long)e.prompt_tokens, (long long)e.completion_tokens,
	          (long long)e.cost_micros, e.request_id);
	free(cut);
}

/*
 * Streams are counted while they flow. A lower bound of the tokens produced
 * (one per chunk, and at least one per 8 bytes) beyond what was reserved
 * ends the stream: the reservation is never outgrown, whatever the upstream
 * does with max_tokens.
 */
struct exec_guard {
	ah_emit_fn inner;
	void *inner_ctx;
	ah_tool_emit_fn inner_tool; /* streamed tool call fragments count the same */
	void *inner_tool_ctx;
	int64_t chunks, bytes, reserved;
	int cut;
	int emitted; /* 1 once anything was passed on to the client */
};

/* Count len bytes of output; 1 when they go past what was reserved (the stream is cut). */
static int exec_guard_count(struct exec_guard *g, size_t len)
{
	int64_t lower;

	g->chunks += len > 0;
	g->bytes += (int64_t)len;
	lower = g->bytes / 8 > g->chunks ? g->bytes / 8 : g->chunks;
	if (lower > g->reserved)
		g->cut = 1;
	return g->cut;
}

static int exec_guard_emit_tool(void *ctx, size_t index, const char *id, const char *name,
                                const char *args, size_t len)
{
	struct exec_guard *g = ctx;

	if (exec_guard_count(g, len))
		return 1;
	g->emitted = 1;
	return g->inner_tool(g->inner_tool_ctx, index, id, name, args, len);
}

static int exec_guard_emit(void *ctx, const char *text, size_t len)
{
	struct exec_guard *g = ctx;

	if (exec_guard_count(g, len))
		return 1;
	g->emitted = 1;
	return g->inner(g->inner_ctx, text, len);
}

static int exec_max_tokens(struct req *r, const struct ident *id, const struct exec_call *call,
                           const struct model *m)
{
	int64_t cap = id->lim ? id->lim->v[LIM_MAX_TOKENS].num : 0;
	int64_t mt = call->max_tokens;

	if (call->n_inputs > 0)
		return 0; /* an embedding produces no tokens */
	if (mt <= 0 && call->agent && call->agent->max_tokens > 0)
		mt = call->agent->max_tokens;
	if (mt <= 0)
		mt = cap > 0 ? cap : r->conf->default_max_tokens;
	if (cap > 0 && mt > cap)
		mt = cap;
	if (m->max_output > 0 && mt > m->max_output)
		mt = m->max_output;
	return (int)mt;
}

/* Reserve and check the breaker. 0 go ahead; -1 refused (out filled). */
static int exec_admit(struct req *r, const struct ident *id, const struct exec_call *call,
                      int max_tokens, struct exec_outcome *out, struct admission *adm,
                      enum breaker_verdict *verdict)
{
	int64_t bound;
	int retry = 0;

	memset(adm, 0, sizeof(*adm));
	/* Calls answered wait to be written: many, this one waits first; too many, none is
	 * taken until they are. */
	if (ledger_pace() < 0) {
		exec_fail(out, R_database_unavailable,
		          "calls are waiting to be recorded; retry shortly");
		out->err.retry_after = 2;
		return -1;
	}
	adm->a.exec_id = call->id;
	adm->a.kind = call->kind;
	adm->a.model = out->model.name;
	adm->a.provider = out->model.provider;
	adm->a.agent_id = call->agent ? call->agent->id : 0;
	adm->a.agent_name = call->agent ? call->agent->name : "";
	adm->a.request_id = r->request_id;
	adm->a.stream = call->stream;
	adm->metadata = call->metadata; /* its tags may have budgets */
	/* The prompt's worst case: the messages and the tools offered, or an embedding's inputs. */
	if (call->n_inputs > 0)
		bound = admit_input_bound(call->inputs, call->n_inputs);
	else
		bound = admit_prompt_bound(call->messages, call->n_messages) +
		        admit_tools_bound(call->tools, call->n_tools);
	if (admit_reserve(r, id, &out->model, bound, max_tokens, adm, &out->err) < 0) {
		out->ok = 0;
		out->refused = out->err.reason != R_database_unavailable;
		return -1;
	}
	if (adm->ticket.state == TK_LEASED) {
		/* A replay must know it was in flight if this process dies before it ends. */
		struct ledger_admit ad = {&adm->a, adm->ticket.held, adm->ticket.owner_id,
		                          adm->ticket.created_us};

		ledger_note_admit(&ad);
	}
	*verdict = breaker_check(r->store, id->lim, id->tenant_id, out->model.provider, &retry);
	if (*verdict == BREAKER_OPEN) {
		exec_fail(out, R_circuit_open,
		          "calls to provider '%s' are failing for this tenant; circuit open, retry "
		          "in %d s",
		          out->model.provider, retry);
		out->err.retry_after = retry > 0 ? retry : 1;
		out->refused = 1;
		return -1;
	}
	return 0;
}

#define EXEC_REPLAY_CHUNK 64 /* bytes of a cached answer per replayed stream event */

/*
 * Answer call from the cache when its plan finds the answer (1), else 0.
 * The response says hit, miss or bypass (X-Agenthost-Cache) before any
 * output; a streamed call gets the cached text as a stream of content
 * events cut at character boundaries (its tool calls go out whole at the
 * end, chat.c).
 */
static int exec_from_cache(struct req *r, const struct ident *id, const struct exec_call *call,
                           struct exec_outcome *out)
{
	const char *t;
	size_t len, off = 0, n;

	if (call->cache == NULL || call->cache->told)
		return 0;
	call->cache->told = 1;
	if (!rcache_lookup(r->store, id->tenant_id, call->cache, &out->res)) {
		resp_header(r, "X-Agenthost-Cache", call->cache->state);
		return 0;
	}
	resp_header(r, "X-Agenthost-Cache", call->cache->state);
	out->ok = 1;
	out->cache_hit = 1;
	out->cost_micros = 0;
	util_strlcpy(out->cred_source, "none", sizeof(out->cred_source));
	if (!call->stream || call->emit == NULL)
		return 1;
	t = out->res.text ? out->res.text : "";
	len = strlen(t);
	while (off < len) {
		n = len - off > EXEC_REPLAY_CHUNK ? EXEC_REPLAY_CHUNK : len - off;
		while (off + n < len && n > 1 && ((unsigned char)t[off + n] & 0xC0) == 0x80)
			n--;
		if (call->emit(call->emit_ctx, t + off, n) != 0) {
			out->ok = 0;
			exec_fail(out, R_client_disconnected,
			          "the client went away during the replay");
			return 1;
		}
		off += n;
	}
	return 1;
}

/*
 * The input stored with the execution once a before-check redacted the
 * messages, so a redacted text is not kept either: a run's input is its
 * last user message, a chat's (log_content) the messages as JSON.
 */
static char *exec_redacted_input(const struct exec_call *call, const struct guardrail_run *gr)
{
	size_t cap = call->output_max ? call->output_max : 65536;
	char *text, *cut;
	json_t *arr;

	if (strcmp(call->kind, "run") == 0) {
		for (size_t i = gr->n_msgs; i-- > 0;)
			if (strcmp(gr->msgs[i].role, "user") == 0)
				return util_utf8_cut_dup(gr->msgs[i].content, cap);
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < gr->n_msgs; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s}", "role", gr->msgs[i].role,
		                                     "content", gr->msgs[i].content));
	text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	cut = text ? util_utf8_cut_dup(text, cap) : NULL;
	free(text);
	return cut;
}

/*
 * The tenant's guardrail chain and its before-checks (exec/guardrail.h).
 * Embeddings are not checked. 0 go ahead (gr->msgs: the redacted messages
 * to send), or -1 with out's error set: a denial is a refusal (nothing
 * billed, the admission given back), a failed check fails the call.
 */
static int exec_guard_before(struct req *r, const struct ident *id, const struct exec_call *call,
                             struct exec_outcome *out, struct guardrail_run *gr)
{
	if (call->n_inputs > 0)
		return 0;
	if (guardrail_load(r, id, gr, &out->err) < 0 ||
	    guardrail_before(id, call, out->model.name, gr, &out->err) < 0) {
		out->ok = 0;
		out->refused = out->err.reason == R_guardrail_denied;
		return -1;
	}
	if (gr->msgs != NULL && call->input != NULL) {
		free(out->input_redacted);
		out->input_redacted = exec_redacted_input(call, gr);
	}
	return 0;
}

/*
 * The after-checks on a successful answer: a denial or a failed check fails
 * the call after the provider was paid (it is billed); a redaction replaces
 * the answer. A stream held back for them (buffered) is released now, in
 * one piece. 0, or -1 with out's error set.
 */
static int exec_guard_after(const struct ident *id, const struct exec_call *call,
                            struct exec_outcome *out, struct guardrail_run *gr, int buffered)
{
	if (!out->ok || !gr->has_after)
		return 0;
	if (guardrail_after(id, call, out->model.name, gr, &out->res.text, &out->err) < 0) {
		out->ok = 0;
		return -1;
	}
	if (buffered && out->res.text != NULL && out->res.text[0] != '\0' &&
	    call->emit(call->emit_ctx, out->res.text, strlen(out->res.text)) != 0)
		return exec_fail(out, R_client_disconnected, "the client went away");
	return 0;
}

/*
 * The call as recorded: a routed attempt that falls over to the next target
 * is recorded under its own id (alt), the one that ends the call under the
 * call's (exec/route.h). A run's attempt that fell over is a model call of
 * the run, not a run: kind "step" (GET /v1/runs lists runs only), no input.
 */
static const struct exec_call *exec_attempt_call(const struct exec_call *call,
                                                 const struct exec_outcome *out,
                                                 struct exec_call *alt)
{
	if (call->fallback_id == NULL || !route_falls_back(out))
		return call;
	*alt = *call;
	util_strlcpy(alt->id, call->fallback_id, sizeof(alt->id));
	if (strcmp(call->kind, "run") == 0) {
		alt->kind = "step";
		alt->input = NULL;
	}
	return alt;
}

int exec_run(struct req *r, const struct ident *id, const struct exec_call *call,
             struct exec_outcome *out)
{
	const struct provider_instance *inst = registry_find(out->model.provider);
	enum breaker_verdict verdict = BREAKER_CLOSED;
	struct admission adm;
	struct exec_guard guard;
	struct guardrail_run gr;
	struct ah_call ac;
	struct exec_call alt;
	char key[SECRETS_MAX_PLAIN + 1] = "";
	int64_t t0 = util_now_us(), upstream_us = -1;
	int max_tokens, shared = 0, buffered, rc;

	memset(&adm, 0, sizeof(adm));
	memset(&gr, 0, sizeof(gr));
	out->created_at = util_unix_time();
	out->ok = 0;
	if (inst == NULL) {
		exec_fail(out, R_provider_not_configured, "the provider is not available");
		goto record;
	}
	max_tokens = exec_max_tokens(r, id, call, &out->model);
	if (share_enter(id->tenant_id, id->lim ? id->lim->v[LIM_HOST_SHARE_PCT].num : 0,
	                &out->err) < 0) {
		/* This process's calls in flight are full, or the tenant holds its part of them. */
		out->refused = 1;
		goto record;
	}
	shared = 1;
	metrics_gauge(MG_CALLS_INFLIGHT, 1);
	if (id->lim && exec_admit(r, id, call, max_tokens, out, &adm, &verdict) < 0)
		goto record;
	/* Before-checks run on every call, a cache hit too (a denial is never answered). */
	if (exec_guard_before(r, id, call, out, &gr) < 0)
		goto record;
	/* admitted like any call; no credential, no upstream, cost 0 (a breaker's probe goes up) */
	if (call->cache && verdict == BREAKER_PROBE)
		call->cache->read = 0;
	if (exec_from_cache(r, id, call, out))
		goto record;
	/* a routed attempt names its credential, or "auto": the chain below */
	rc = call->route_credential
	         ? route_credential(r, id, call->route_credential, inst, key, sizeof(key), out)
	         : 1;
	if (rc < 0 || (rc > 0 && exec_credential(r, id, inst, key, sizeof(key), out) < 0))
		goto record;
	/* After-checks need the whole answer: a stream is fetched whole, then released. */
	buffered = call->stream && gr.has_after;

	memset(&ac, 0, sizeof(ac));
	ac.model = out->model.upstream;
	ac.messages = gr.msgs ? gr.msgs : call->messages;
	ac.n_messages = gr.msgs ? gr.n_msgs : call->n_messages;
	ac.has_temperature = call->has_temperature;
	ac.temperature = call->temperature;
	if (!ac.has_temperature && call->agent && call->agent->has_temperature) {
		ac.has_temperature = 1;
		ac.temperature = call->agent->temperature;
	}
	ac.has_top_p = call->has_top_p;
	ac.top_p = call->top_p;
	ac.max_tokens = max_tokens;
	ac.stream = call->stream && !buffered;
	ac.base_url = inst->base_url;
	ac.api_key = key;
	ac.request_id = r->request_id;
	ac.mock_latency_ms = r->conf->mock_latency_ms;
	ac.mock_stream_delay_ms = r->conf->mock_stream_delay_ms;
	ac.tools = call->tools;
	ac.n_tools = call->n_tools;
	ac.tool_choice = call->tool_choice;
	ac.tool_choice_name = call->tool_choice_name;
	ac.has_parallel_tool_calls = call->has_parallel_tool_calls;
	ac.parallel_tool_calls = call->parallel_tool_calls;
	ac.response_format = call->response_format;
	ac.response_schema = call->response_schema;
	ac.response_schema_name = call->response_schema_name;
	ac.response_schema_strict = call->response_schema_strict;
	ac.inputs = call->inputs;
	ac.n_inputs = call->n_inputs;
	ac.dimensions = call->dimensions;

	memset(&guard, 0, sizeof(guard));
	guard.inner = call->emit;
	guard.inner_ctx = call->emit_ctx;
	guard.inner_tool = call->emit_tool;
	guard.inner_tool_ctx = call->emit_tool_ctx;
	if (ac.stream && call->emit_tool != NULL) {
		ac.emit_tool = exec_guard_emit_tool;
		ac.emit_tool_ctx = &guard;
	}
	guard.reserved = max_tokens;
	upstream_us = util_now_us();
	if (provider_invoke(inst, &ac, ac.stream ? exec_guard_emit : NULL, &guard, &out->res) ==
	    0) {
		out->ok = 1;
	} else if (guard.cut) {
		exec_fail(out, R_budget_reservation_exhausted,
		          "the stream grew past what was reserved for it and was ended");
	} else {
		/* The plugin ABI reports the code as text: this is where it becomes the enum. */
		exec_fail(out, provider_reason(&out->res), "%s",
		          out->res.error_message[0] ? out->res.error_message
		                                    : "the provider call failed");
	}
	out->streamed = guard.emitted;
	upstream_us = util_now_us() - upstream_us;
	if (id->lim)
		breaker_record(r->store, id->lim, id->tenant_id, out->model.provider, verdict,
		               !out->ok && (reason_flags(out->err.reason) & RF_UPSTREAM));
	out->cost_micros =
	    admit_cost(&out->model, out->res.usage.prompt_tokens, out->res.usage.completion_tokens);
	/* a redaction by the after-checks is what is stored; a denied answer is not */
	exec_guard_after(id, call, out, &gr, buffered);
	if (out->ok && call->cache)
		rcache_store(r->store, id->tenant_id, call->cache, out->model.name, &out->res);
record:
	sodium_memzero(key, sizeof(key));
	if (gr.n > 0) {
		free(out->guardrails);
		out->guardrails = guardrail_decisions_text(&gr);
	}
	guardrail_run_free(&gr);
	out->latency_ms = (int)((util_now_us() - t0) / 1000);
	exec_record(r, id, exec_attempt_call(call, out, &alt), out, &adm);
	metrics_call(
	    id->tenant_id, out->model.name, out->cache_hit ? 0 : out->res.usage.prompt_tokens,
	    out->cache_hit ? 0 : out->res.usage.completion_tokens, out->cost_micros, upstream_us);
	if (shared) {
		share_leave(id->tenant_id);
		metrics_gauge(MG_CALLS_INFLIGHT, -1);
	}
	return out->ok ? 0 : -1;
}

const char *exec_status_name(const struct exec_outcome *out)
{
	if (out->ok)
		return "succeeded";
	if (out->refused)
		return "refused";
	if (out->err.reason == R_client_disconnected)
		return "cancelled";
	return "failed";
}

void exec_outcome_free(struct exec_outcome *out)
{
	provider_result_free(&out->res);
	free(out->guardrails);
	free(out->input_redacted);
	out->guardrails = out->input_redacted = NULL;
}
