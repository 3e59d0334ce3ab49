/*
 * route.c: routed chat calls with fallbacks (see route.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/cache.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "crypto/secrets.h"
#include "enforce/limits.h"
#include "exec/route.h"
#include "host/http.h"
#include "providers/registry.h"
#include "store/tools.h"
#include "tenancy/identify.h"

#define ROUTE_TIER_MAX 100
#define ROUTE_WEIGHT_MAX 1000

/* ------------------------------------------------------------------ parsing */

/* Write a message into err. Returns -1. */
static int route_err(char *err, size_t errlen, char *param, size_t pcap, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int route_err(char *err, size_t errlen, char *param, size_t pcap, const char *field,
                     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (param != NULL && pcap > 0)
		util_strlcpy(param, field, pcap);
	return -1;
}

/* 1 when c is a credential a target may name: auto, platform, tenant, pool:<name>. */
static int route_credential_ok(const char *c)
{
	if (strcmp(c, "auto") == 0 || strcmp(c, "platform") == 0 || strcmp(c, "tenant") == 0)
		return 1;
	if (strncmp(c, "pool:", 5) != 0)
		return 0;
	return valid_name(VALID_POOL, c + 5);
}

/* A target field: an integer in [lo, hi], or the default when absent. 0, or -1. */
static int route_int(json_t *o, const char *k, int lo, int hi, int dflt, int *out)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = (int)json_integer_value(v);
	return 0;
}

/* Parse targets; strict also requires every named provider to be an instance here. */
static int route_parse_any(json_t *targets, struct route_def *rt, int strict, char *err,
                           size_t errlen, char *param, size_t pcap)
{
	static const char *const known[] = {"provider", "model", "credential", "tier", "weight"};
	char field[64];
	const char *k, *s;
	json_t *t, *v;
	size_t i;

	memset(rt, 0, sizeof(*rt));
	if (!json_is_array(targets) || json_array_size(targets) == 0 ||
	    json_array_size(targets) > ROUTE_MAX_TARGETS)
		return route_err(err, errlen, param, pcap, "targets",
		                 "'targets' must be an array of 1 to %d targets",
		                 ROUTE_MAX_TARGETS);
	json_array_foreach(targets, i, t)
	{
		struct route_target *tg = &rt->t[i];
		size_t j;

		snprintf(field, sizeof(field), "targets[%zu]", i);
		if (!json_is_object(t))
			return route_err(err, errlen, param, pcap, field,
			                 "'%s' must be an object {\"model\", \"provider\", "
			                 "\"credential\", \"tier\", \"weight\"}",
			                 field);
		json_object_foreach(t, k, v)
		{
			for (j = 0; j < ARRAY_SIZE(known) && strcmp(known[j], k) != 0; j++)
				;
			if (j == ARRAY_SIZE(known))
				return route_err(err, errlen, param, pcap, field,
				                 "'%s' has an unknown field '%.40s'", field, k);
		}
		s = json_string_value(json_object_get(t, "model"));
		snprintf(field, sizeof(field), "targets[%zu].model", i);
		if (s == NULL || !valid_name(VALID_MODEL, s))
			return route_err(err, errlen, param, pcap, field, "'%s' must be %s", field,
			                 valid_hint(VALID_MODEL));
		util_strlcpy(tg->model, s, sizeof(tg->model));
		v = json_object_get(t, "provider");
		snprintf(field, sizeof(field), "targets[%zu].provider", i);
		if (v != NULL && !json_is_null(v)) {
			s = json_string_value(v);
			if (s == NULL || !valid_name(VALID_PROVIDER, s))
				return route_err(err, errlen, param, pcap, field, "'%s' must be %s",
				                 field, valid_hint(VALID_PROVIDER));
			if (strict && registry_find(s) == NULL)
				return route_err(err, errlen, param, pcap, field,
				                 "'%s': '%s' is not a configured provider instance",
				                 field, s);
			util_strlcpy(tg->provider, s, sizeof(tg->provider));
		}
		v = json_object_get(t, "credential");
		s = v == NULL || json_is_null(v) ? "auto" : json_string_value(v);
		snprintf(field, sizeof(field), "targets[%zu].credential", i);
		if (s == NULL || !route_credential_ok(s))
			return route_err(err, errlen, param, pcap, field,
			                 "'%s' must be \"auto\", \"platform\", \"tenant\" or "
			                 "\"pool:<name>\" (name: %s)",
			                 field, valid_hint(VALID_POOL));
		util_strlcpy(tg->credential, s, sizeof(tg->credential));
		snprintf(field, sizeof(field), "targets[%zu].tier", i);
		if (route_int(t, "tier", 1, ROUTE_TIER_MAX, (int)i + 1, &tg->tier) < 0)
			return route_err(err, errlen, param, pcap, field,
			                 "'%s' must be an integer from 1 to %d", field,
			                 ROUTE_TIER_MAX);
		snprintf(field, sizeof(field), "targets[%zu].weight", i);
		if (route_int(t, "weight", 1, ROUTE_WEIGHT_MAX, 1, &tg->weight) < 0)
			return route_err(err, errlen, param, pcap, field,
			                 "'%s' must be an integer from 1 to %d", field,
			                 ROUTE_WEIGHT_MAX);
		rt->n = i + 1;
	}
	return 0;
}

int route_parse(json_t *targets, struct route_def *rt, char *err, size_t errlen, char *param,
                size_t pcap)
{
	return route_parse_any(targets, rt, 1, err, errlen, param, pcap);
}

int route_check_models(struct store *st, const struct route_def *rt, char *err, size_t errlen)
{
	struct model m;

	for (size_t i = 0; i < rt->n; i++) {
		int rc = store_model_get(st, rt->t[i].model, &m);

		if (rc == ST_ERR) {
			snprintf(err, errlen, "the model catalogue is unavailable");
			return -1;
		}
		if (rc != ST_OK || strcmp(m.kind, "embedding") == 0) {
			snprintf(err, errlen,
			         "targets[%zu].model: '%s' is not a chat model of the catalogue", i,
			         rt->t[i].model);
			return -1;
		}
	}
	return 0;
}

json_t *route_targets_json(const struct route_def *rt)
{
	json_t *arr = json_array(), *o;

	for (size_t i = 0; arr != NULL && i < rt->n; i++) {
		const struct route_target *tg = &rt->t[i];

		o = json_pack("{s:s, s:s*, s:s, s:i, s:i}", "model", tg->model, "provider",
		              tg->provider[0] ? tg->provider : NULL, "credential", tg->credential,
		              "tier", tg->tier, "weight", tg->weight);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* ------------------------------------------------------------------ the cache */

/*
 * Routes are cached per process like limits: a tenant's route change drops
 * its tenant's entries, a plan's drops every entry (the limits epoch). Most
 * model names have no route: "none" is kept in a second cache of small
 * entries so that those answers do not evict the routes.
 */
#define ROUTE_CACHE_ENTRIES 2048
#define ROUTE_NONE_ENTRIES 32768

struct route_key {
	int64_t tenant_id;
	char plan[32];
	char name[ROUTE_NAME_MAX + 1];
};

static struct cache *route_cache, *route_none;
static pthread_once_t route_cache_once = PTHREAD_ONCE_INIT;

static void route_cache_init(void)
{
	route_cache = cache_new("routes", sizeof(struct route_key), sizeof(struct route_def),
	                        ROUTE_CACHE_ENTRIES, CACHE_SAFETY_NET_US, NULL);
	route_none = cache_new("routes-none", sizeof(struct route_key), sizeof(char),
	                       ROUTE_NONE_ENTRIES, CACHE_SAFETY_NET_US, NULL);
}

/* The stored row into out (lenient: a provider gone from this host fails at its attempt). */
static int route_from_row(const struct route_row *row, struct route_def *out)
{
	char err[200], param[64];
	json_t *targets = json_loads(row->targets, 0, NULL);
	int rc;

	rc = route_parse_any(targets, out, 0, err, sizeof(err), param, sizeof(param));
	json_decref(targets);
	if (rc < 0) {
		log_error("route: stored route '%s' does not parse: %s", row->name, err);
		return -1;
	}
	out->owner = row->owner;
	return 0;
}

int route_lookup(struct store *st, const struct ident *id, const char *name, struct route_def *out)
{
	struct route_row *row;
	struct route_key k;
	struct cache_begin b;
	struct cache_stamp s;
	char none = 1;
	int rc;

	pthread_once(&route_cache_once, route_cache_init);
	memset(&k, 0, sizeof(k));
	k.tenant_id = id->tenant_id;
	if (util_strlcpy(k.name, name, sizeof(k.name)) < 0)
		return 0; /* longer than any route name */
	util_strlcpy(k.plan, id->plan, sizeof(k.plan));
	if (route_none != NULL && cache_get(route_none, &k, &none))
		return 0;
	if (route_cache != NULL && cache_get(route_cache, &k, out))
		return 1;
	if ((row = malloc(sizeof(*row))) == NULL)
		return -1;
	cache_begin(&b);
	rc = store_route_find(st, id->tenant_id, id->plan, name, row);
	if (rc == ST_OK && route_from_row(row, out) < 0)
		rc = ST_ERR;
	free(row);
	if (rc == ST_ERR)
		return -1;
	if (!cache_stamp(&s, &b, id->tenant_id, EPOCH_LIMITS))
		return rc == ST_OK;
	if (rc == ST_NOTFOUND) {
		if (route_none != NULL)
			cache_put(route_none, &k, &none, &s, 0);
		return 0;
	}
	if (route_cache != NULL)
		cache_put(route_cache, &k, out, &s, 0);
	return 1;
}

/* ------------------------------------------------------------------ a call */

int route_check_format(struct req *r, const struct exec_call *call, const struct route_def *rt)
{
	for (size_t i = 0; call->response_format != NULL && i < rt->n; i++) {
		const struct provider_instance *inst;
		struct model m;
		uint32_t need = strcmp(call->response_format, "json_schema") == 0
		                    ? AH_PROVIDER_JSON_SCHEMA
		                    : AH_PROVIDER_JSON_OBJECT;

		if (rt->t[i].provider[0])
			inst = registry_find(rt->t[i].provider);
		else
			inst = store_model_get(r->store, rt->t[i].model, &m) == ST_OK
			           ? registry_find(m.provider)
			           : NULL;
		if (inst != NULL && !(inst->adapter->flags & need)) {
			resp_error_param(r, R_invalid_request, "response_format",
			                 "target %zu of the route (%s on '%s') does not support "
			                 "response_format '%s'",
			                 i + 1, rt->t[i].model, inst->name, call->response_format);
			return -1;
		}
	}
	return 0;
}

/* Reasons after which the next target is tried (route.h). */
static const enum reason route_fallback_reasons[] = {
    R_upstream_rate_limited,   R_upstream_unavailable, R_upstream_error,  R_upstream_timeout,
    R_upstream_bad_response,   R_upstream_auth_failed, R_provider_error,  R_circuit_open,
    R_provider_not_configured, R_credential_unusable,  R_model_not_found, R_model_not_allowed,
};

int route_falls_back(const struct exec_outcome *out)
{
	if (out->ok || out->streamed)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(route_fallback_reasons); i++)
		if (out->err.reason == route_fallback_reasons[i])
			return 1;
	return 0;
}

void route_order(const struct route_def *rt, size_t order[ROUTE_MAX_TARGETS])
{
	int placed[ROUTE_MAX_TARGETS] = {0};
	size_t n = 0;

	while (n < rt->n) {
		int tier = ROUTE_TIER_MAX + 1;
		uint32_t total = 0, pick;
		size_t i;

		for (i = 0; i < rt->n; i++)
			if (!placed[i] && rt->t[i].tier < tier)
				tier = rt->t[i].tier;
		for (i = 0; i < rt->n; i++)
			if (!placed[i] && rt->t[i].tier == tier)
				total += (uint32_t)rt->t[i].weight;
		pick = randombytes_uniform(total);
		for (i = 0; i < rt->n; i++) {
			if (placed[i] || rt->t[i].tier != tier)
				continue;
			if (pick < (uint32_t)rt->t[i].weight)
				break;
			pick -= (uint32_t)rt->t[i].weight;
		}
		placed[i] = 1;
		order[n++] = i;
	}
}

/* The target's catalogue model into out->model, its provider set to the target's. 0 or -1. */
static int route_target_model(struct req *r, const struct ident *id, const struct route_target *tg,
                              struct exec_outcome *out)
{
	int rc = store_model_get(r->store, tg->model, &out->model);

	if (rc == ST_ERR)
		return exec_fail(out, R_database_unavailable, "the model catalogue is unavailable");
	util_strlcpy(out->model.name, tg->model, sizeof(out->model.name));
	if (rc != ST_OK || strcmp(out->model.kind, "embedding") == 0)
		return exec_fail(out, R_model_not_found,
		                 "the route's model '%s' is not a chat model", tg->model);
	if (id->lim && (!limits_list_allows(id->lim->v[LIM_ALLOWED_MODELS].text, tg->model) ||
	                !limits_list_allows(id->lim->project[LV_ALLOWED_MODELS].text, tg->model) ||
	                !limits_list_allows(id->lim->key[LV_ALLOWED_MODELS].text, tg->model)))
		return exec_fail(out, R_model_not_allowed, "the model '%s' is not allowed here",
		                 tg->model);
	if (tg->provider[0])
		util_strlcpy(out->model.provider, tg->provider, sizeof(out->model.provider));
	if (registry_find(out->model.provider) == NULL)
		return exec_fail(out, R_provider_not_configured,
		                 "the provider '%s' is not available on this host",
		                 out->model.provider);
	return 0;
}

/* The run_steps row of attempt k (1-based) of call, with outcome out. */
static void route_step(const struct ident *id, const struct exec_call *call, int k,
                       const char *exec_id, const struct route_target *tg,
                       const struct exec_outcome *out, struct run_step *s)
{
	memset(s, 0, sizeof(*s));
	s->tenant_id = id->tenant_id;
	util_strlcpy(s->run_id, call->id, sizeof(s->run_id));
	s->step = k;
	util_strlcpy(s->kind, "model", sizeof(s->kind));
	snprintf(s->name, sizeof(s->name), "%s/%s %s",
	         out->model.provider[0] ? out->model.provider : tg->provider, tg->model,
	         tg->credential);
	util_strlcpy(s->exec_id, exec_id, sizeof(s->exec_id));
	s->prompt_tokens = out->res.usage.prompt_tokens;
	s->completion_tokens = out->res.usage.completion_tokens;
	s->cost_micros = out->cost_micros;
	s->duration_ms = out->latency_ms;
	util_strlcpy(s->outcome, exec_status_name(out), sizeof(s->outcome));
	util_strlcpy(s->reason_code, out->ok ? "" : reason_name(out->err.reason),
	             sizeof(s->reason_code));
	util_strlcpy(s->message, out->ok ? "" : out->err.message, sizeof(s->message));
}

int route_run(struct req *r, const struct ident *id, struct exec_call *call,
              const struct route_def *rt, struct exec_outcome *out, const char **served_model,
              route_step_fn step, void *step_ctx)
{
	struct run_step steps[ROUTE_MAX_TARGETS];
	size_t order[ROUTE_MAX_TARGETS], k, mark;
	char fallback_id[48], target[200]; /* fallback_id: 33 + "-a" + a digit */
	int rc = -1, ran;

	route_order(rt, order);
	for (k = 0; k < rt->n; k++) {
		const struct route_target *tg = &rt->t[order[k]];
		int last = k + 1 == rt->n;

		memset(out, 0, sizeof(*out));
		resp_header_drop(r, "X-Agenthost-Target"); /* an earlier model step's */
		mark = r->headers.len;
		ran = 0;
		snprintf(fallback_id, sizeof(fallback_id), "%.33s-a%d", call->id, (int)k + 1);
		rc = route_target_model(r, id, tg, out);
		snprintf(target, sizeof(target),
		         "provider=%s; model=%s; credential=%s; attempt=%zu",
		         out->model.provider[0] ? out->model.provider : tg->provider, tg->model,
		         tg->credential, k + 1);
		resp_header(r, "X-Agenthost-Target", target);
		if (rc == 0) {
			if (served_model != NULL)
				*served_model = out->model.name;
			util_strlcpy(r->model, out->model.name, sizeof(r->model));
			call->route_credential = tg->credential;
			call->fallback_id = last ? NULL : fallback_id;
			rc = exec_run(r, id, call, out);
			ran = 1;
		} else {
			out->refused = 1;
			rc = -1;
		}
		route_step(id, call, (int)k + 1,
		           !ran                                        ? ""
		           : rc == 0 || last || !route_falls_back(out) ? call->id
		                                                       : fallback_id,
		           tg, out, &steps[k]);
		if (rc == 0 || last || !route_falls_back(out))
			break;
		log_info("route: %s: target %zu (%s/%s) failed with %s; trying the next", call->id,
		         k + 1, out->model.provider, tg->model, reason_name(out->err.reason));
		/* nothing of this attempt reaches the client: its headers go with it */
		r->headers.len = mark;
		if (r->headers.data != NULL)
			r->headers.data[mark] = '\0';
		exec_outcome_free(out);
	}
	call->route_credential = NULL;
	call->fallback_id = NULL;
	/* One attempt is the execution itself; more are its steps (or the caller's). */
	for (size_t i = 0; step != NULL && i <= k && i < rt->n; i++)
		step(step_ctx, &steps[i]);
	for (size_t i = 0; step == NULL && k > 0 && i <= k && i < rt->n; i++)
		if (store_run_step_insert(r->store, &steps[i]) != ST_OK)
			log_error("route: %s: attempt %zu was not recorded as a step", call->id,
			          i + 1);
	return rc;
}

/* ------------------------------------------------------------------ credentials */

/* The tenant's sealed key named provider_name ("<instance>" or "<instance>#<pool name>"). */
static int route_open_sealed(struct req *r, const struct ident *id, const char *provider_name,
                             const char *source, char *key, size_t cap, struct exec_outcome *out)
{
	struct sealed_cred sc;
	int rc = exec_sealed_cred(r->store, id->tenant_id, provider_name, &sc);

	if (rc == ST_NOTFOUND)
		return exec_fail(out, R_provider_not_configured,
		                 "the route names the credential '%s' for provider '%.40s', which "
		                 "this tenant has not set",
		                 source, provider_name);
	if (rc != ST_OK)
		return exec_fail(out, R_database_unavailable,
		                 "the credential store is unavailable");
	rc = secrets_open(id->tenant_id, provider_name, sc.version, sc.nonce, sc.ct, sc.ct_len, key,
	                  cap);
	sodium_memzero(&sc, sizeof(sc));
	if (rc < 0) {
		log_error("route: tenant %lld: stored %s credential does not open",
		          (long long)id->tenant_id, provider_name);
		return exec_fail(out, R_credential_unusable,
		                 "the stored provider key '%s' cannot be used; set it again",
		                 source);
	}
	util_strlcpy(out->cred_source, source, sizeof(out->cred_source));
	return 0;
}

int route_credential(struct req *r, const struct ident *id, const char *credential,
                     const struct provider_instance *inst, char *key, size_t cap,
                     struct exec_outcome *out)
{
	char name[80];

	key[0] = '\0';
	if (strcmp(credential, "auto") == 0 || (inst->adapter->flags & AH_PROVIDER_LOCAL))
		return 1;
	if (strcmp(credential, "platform") == 0) {
		if (inst->platform_key[0] == '\0')
			return exec_fail(out, R_provider_not_configured,
			                 "the route names the platform's key for provider '%s', "
			                 "which has none",
			                 inst->name);
		util_strlcpy(key, inst->platform_key, cap);
		util_strlcpy(out->cred_source, "platform", sizeof(out->cred_source));
		return 0;
	}
	if (strcmp(credential, "tenant") == 0)
		return route_open_sealed(r, id, inst->name, "tenant", key, cap, out);
	snprintf(name, sizeof(name), "%s#%s", inst->name, credential + 5);
	return route_open_sealed(r, id, name, credential, key, cap, out);
}
