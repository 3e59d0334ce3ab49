/*
 * execute.c: resolve, pick the credential, call, price, record (see execute.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/cache.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "enforce/admit.h"
#include "enforce/authorize.h"
#include "enforce/breaker.h"
#include "enforce/limits.h"
#include "enforce/share.h"
#include "exec/execute.h"
#include "exec/ledger.h"
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
		resp_error(r, R_model_not_found,
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
		resp_error(r, R_provider_not_configured,
		           "the provider of model '%.100s' is not available on this host",
		           model_name);
		return -1;
	}
	return 0;
}

void exec_prepare(struct exec_call *call)
{
	util_random_id(strcmp(call->kind, "run") == 0 ? "run_" : "chatcmpl-", call->id,
	               sizeof(call->id));
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
 */
#define CRED_CACHE_ENTRIES 4096
#define CRED_NONE_ENTRIES 32768
#define CRED_CACHE_TTL_US (60 * 1000000LL)

struct cred_key {
	int64_t tenant_id;
	char provider[32];
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
	                       CRED_CACHE_ENTRIES, CRED_CACHE_TTL_US, NULL);
	cred_none = cache_new("credentials-none", sizeof(struct cred_key), sizeof(char),
	                      CRED_NONE_ENTRIES, CRED_CACHE_TTL_US, NULL);
}

/* The tenant's sealed key for provider, cached: ST_OK, ST_NOTFOUND, ST_ERR. */
static int exec_cred_get(struct store *st, int64_t tenant_id, const char *provider,
                         struct sealed_cred *sc)
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
	if (cred_cache == NULL || cred_none == NULL ||
	    util_strlcpy(k.provider, provider, sizeof(k.provider)) < 0)
		return store_cred_get(st, tenant_id, provider, sc);
	if (cache_get(cred_none, &k, &none))
		return ST_NOTFOUND;
	if (cache_get(cred_cache, &k, &e)) {
		rc = e.found ? ST_OK : ST_NOTFOUND;
		*sc = e.sc;
		sodium_memzero(&e, sizeof(e));
		return rc;
	}
	cache_begin(&b);
	rc = store_cred_get(st, tenant_id, provider, sc);
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

/*
 * Choose the credential: BYOK first, then the platform's. key gets the
 * plaintext (caller wipes it). 0 ok, -1 with out's error set.
 */
static int exec_credential(struct req *r, const struct ident *id,
                           const struct provider_instance *inst, char *key, size_t cap,
                           struct exec_outcome *out)
{
	struct sealed_cred sc;
	int rc;

	key[0] = '\0';
	if (inst->adapter->flags & AH_PROVIDER_LOCAL) {
		util_strlcpy(out->cred_source, "none", sizeof(out->cred_source));
		return 0;
	}
	rc = exec_cred_get(r->store, id->tenant_id, inst->name, &sc);
	if (rc == ST_OK) {
		if (secrets_open(id->tenant_id, inst->name, sc.version, sc.nonce, sc.ct, sc.ct_len,
		                 key, cap) < 0) {
			sodium_memzero(&sc, sizeof(sc));
			log_error("exec: tenant %lld: stored %s credential does not open",
			          (long long)id->tenant_id, inst->name);
			return exec_fail(
			    out, R_credential_unusable,
			    "the stored provider key for '%s' cannot be used; set it again",
			    inst->name);
		}
		sodium_memzero(&sc, sizeof(sc));
		util_strlcpy(out->cred_source, "tenant", sizeof(out->cred_source));
		return 0;
	}
	if (rc != ST_NOTFOUND)
		return exec_fail(out, R_database_unavailable,
		                 "the credential store is unavailable");
	if (inst->platform_key[0]) {
		util_strlcpy(key, inst->platform_key, cap);
		util_strlcpy(out->cred_source, "platform", sizeof(out->cred_source));
		return 0;
	}
	if (exec_is_loopback(inst->base_url)) {
		util_strlcpy(out->cred_source, "none", sizeof(out->cred_source));
		return 0;
	}
	return exec_fail(out, R_provider_not_configured,
	                 "no credential for provider '%s': set a provider key for this tenant",
	                 inst->name);
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
	e->prompt_tokens = out->res.usage.prompt_tokens;
	e->completion_tokens = out->res.usage.completion_tokens;
	e->cost_micros = out->cost_micros;
	e->latency_ms = out->latency_ms;
	util_strlcpy(e->request_id, r->request_id, sizeof(e->request_id));
	util_strlcpy(e->finish_reason, out->res.finish_reason, sizeof(e->finish_reason));
	e->metadata = call->metadata;
	e->input = call->input;
	e->output = strcmp(call->kind, "run") == 0 ? out->res.text : NULL;
	e->error_message = out->ok ? NULL : out->err.message;
	e->created_at = out->created_at;
}

static void exec_record(struct req *r, const struct ident *id, const struct exec_call *call,
                        struct exec_outcome *out, struct admission *adm)
{
	struct ledger_rec rec;
	struct execution e;

	/*
	 * A call refused because the tenant's data is being moved writes nothing:
	 * the move is copying that data, and a write now could land on the side
	 * being left (the client was told to retry).
	 */
	if (!out->ok && out->err.reason == R_tenant_migrating)
		return;
	exec_execution(r, id, call, out, &e);
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
	if (ledger_record(r->store, &rec, rec.reservation_id != 0) == 0) {
		out->recorded = 1;
		return;
	}
	/* The one place usage could be lost: make it loud and reconstructible from the log. */
	log_error("exec: UNRECORDED execution id=%s tenant=%lld key=%lld model=%s status=%s "
	          "prompt_tokens=%lld completion_tokens=%lld cost_micros=%lld request=%s",
	          e.id, (long long)e.tenant_id, (long long)e.key_id, e.model, e.status,
	          (long long)e.prompt_tokens, (long long)e.completion_tokens,
	          (long long)e.cost_micros, e.request_id);
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
	int64_t chunks, bytes, reserved;
	int cut;
};

static int exec_guard_emit(void *ctx, const char *text, size_t len)
{
	struct exec_guard *g = ctx;
	int64_t lower;

	g->chunks += len > 0;
	g->bytes += (int64_t)len;
	lower = g->bytes / 8 > g->chunks ? g->bytes / 8 : g->chunks;
	if (lower > g->reserved) {
		g->cut = 1;
		return 1;
	}
	return g->inner(g->inner_ctx, text, len);
}

static int exec_max_tokens(struct req *r, const struct ident *id, const struct exec_call *call,
                           const struct model *m)
{
	int64_t cap = id->lim ? id->lim->v[LIM_MAX_TOKENS].num : 0;
	int64_t mt = call->max_tokens;

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
	int retry = 0;

	memset(adm, 0, sizeof(*adm));
	if (ledger_backlogged()) {
		/* Calls already answered wait to be written: take no new ones until they are. */
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
	if (admit_reserve(r, id, &out->model, admit_prompt_bound(call->messages, call->n_messages),
	                  max_tokens, adm, &out->err) < 0) {
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

int exec_run(struct req *r, const struct ident *id, const struct exec_call *call,
             struct exec_outcome *out)
{
	const struct provider_instance *inst = registry_find(out->model.provider);
	enum breaker_verdict verdict = BREAKER_CLOSED;
	struct admission adm;
	struct exec_guard guard;
	struct ah_call ac;
	char key[SECRETS_MAX_PLAIN + 1] = "";
	int64_t t0 = util_now_us();
	int max_tokens, shared = 0;

	memset(&adm, 0, sizeof(adm));
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
	if (id->lim && exec_admit(r, id, call, max_tokens, out, &adm, &verdict) < 0)
		goto record;
	if (exec_credential(r, id, inst, key, sizeof(key), out) < 0)
		goto record;

	memset(&ac, 0, sizeof(ac));
	ac.model = out->model.upstream;
	ac.messages = call->messages;
	ac.n_messages = call->n_messages;
	ac.has_temperature = call->has_temperature;
	ac.temperature = call->temperature;
	if (!ac.has_temperature && call->agent && call->agent->has_temperature) {
		ac.has_temperature = 1;
		ac.temperature = call->agent->temperature;
	}
	ac.has_top_p = call->has_top_p;
	ac.top_p = call->top_p;
	ac.max_tokens = max_tokens;
	ac.stream = call->stream;
	ac.base_url = inst->base_url;
	ac.api_key = key;
	ac.request_id = r->request_id;
	ac.mock_latency_ms = r->conf->mock_latency_ms;
	ac.mock_stream_delay_ms = r->conf->mock_stream_delay_ms;
	ac.tools = call->tools;
	ac.n_tools = call->n_tools;

	memset(&guard, 0, sizeof(guard));
	guard.inner = call->emit;
	guard.inner_ctx = call->emit_ctx;
	guard.reserved = max_tokens;
	if (provider_invoke(inst, &ac, call->stream ? exec_guard_emit : NULL, &guard, &out->res) ==
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
	if (id->lim)
		breaker_record(r->store, id->lim, id->tenant_id, out->model.provider, verdict,
		               !out->ok && (reason_flags(out->err.reason) & RF_UPSTREAM));
	out->cost_micros =
	    admit_cost(&out->model, out->res.usage.prompt_tokens, out->res.usage.completion_tokens);
record:
	sodium_memzero(key, sizeof(key));
	out->latency_ms = (int)((util_now_us() - t0) / 1000);
	exec_record(r, id, call, out, &adm);
	if (shared)
		share_leave(id->tenant_id);
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
}
