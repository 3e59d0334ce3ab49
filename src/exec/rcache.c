/*
 * rcache.c: the response cache of chat completions (see rcache.h).
 *
 * DESIGN
 * The cached body is JSON: {"text", "finish_reason", "tool_calls":
 * [{"id", "name", "arguments"}], "usage": {"prompt_tokens",
 * "completion_tokens"}}. The key's input starts with a version tag, so a
 * change of what is cached or how the key is made only makes old rows
 * unreachable (they expire). Nothing here fails a call: a cache the
 * database cannot read or write is a miss, logged.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/limits.h"
#include "exec/rcache.h"
#include "host/http.h"
#include "providers/registry.h"
#include "store/store.h"
#include "tenancy/identify.h"

#define RCACHE_KEY_TAG "agenthost-rcache-1\n"

/* Body fields that do not change the answer: left out of the key. */
static const char *const rcache_unkeyed[] = {"stream", "stream_options", "metadata", "user"};

/* 1 when the comma-separated header value h holds token tok (any case). */
static int rcache_has_token(const char *h, const char *tok)
{
	size_t n = strlen(tok);

	while (h && *h) {
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		if (strncasecmp(h, tok, n) == 0 &&
		    (h[n] == '\0' || h[n] == ',' || h[n] == ' ' || h[n] == '\t' || h[n] == '='))
			return 1;
		h = strchr(h, ',');
	}
	return 0;
}

/* See rcache.h. */
int rcache_key(int64_t tenant_id, json_t *body, unsigned char *hash)
{
	crypto_generichash_state s;
	unsigned char tid[8];
	json_t *canon = json_copy(body);
	char *text;

	if (canon == NULL)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(rcache_unkeyed); i++)
		json_object_del(canon, rcache_unkeyed[i]);
	text = json_dumps(canon, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(canon);
	if (text == NULL)
		return -1;
	for (int i = 0; i < 8; i++)
		tid[i] = (unsigned char)((uint64_t)tenant_id >> (8 * i));
	crypto_generichash_init(&s, NULL, 0, RCACHE_HASH_LEN);
	crypto_generichash_update(&s, (const unsigned char *)RCACHE_KEY_TAG,
	                          strlen(RCACHE_KEY_TAG));
	crypto_generichash_update(&s, tid, sizeof(tid));
	crypto_generichash_update(&s, (const unsigned char *)text, strlen(text));
	crypto_generichash_final(&s, hash, RCACHE_HASH_LEN);
	free(text);
	return 0;
}

/* The tenant's response_cache, response_cache_ttl_s and _max_bytes into rc; *mode its mode. */
static int rcache_limits(struct req *r, const struct ident *id, struct rcache *rc, char *mode,
                         size_t cap)
{
	const struct limits *lim = id->lim;
	struct limits *own = NULL;

	if (lim == NULL) { /* enforcement off: the setting is still the tenant's */
		own = malloc(sizeof(*own));
		if (own == NULL || limits_get(r->store, id->tenant_id, id->key_id, own) < 0) {
			free(own);
			return -1;
		}
		lim = own;
	}
	util_strlcpy(mode, lim->v[LIM_RESPONSE_CACHE].text, cap);
	rc->ttl_s = lim->v[LIM_RESPONSE_CACHE_TTL_S].num > 0
	                ? (int)lim->v[LIM_RESPONSE_CACHE_TTL_S].num
	                : r->conf->response_cache_ttl_s;
	rc->max_bytes = lim->v[LIM_RESPONSE_CACHE_MAX_BYTES].num > 0
	                    ? lim->v[LIM_RESPONSE_CACHE_MAX_BYTES].num
	                    : r->conf->response_cache_max_bytes;
	free(own);
	return 0;
}

/* See rcache.h. */
int rcache_plan(struct req *r, const struct ident *id, json_t *body, struct rcache *rc)
{
	const char *ask = req_header(r, "X-Agenthost-Cache");
	const char *cc = req_header(r, "Cache-Control");
	char mode[16];

	memset(rc, 0, sizeof(*rc));
	if (ask != NULL && strcasecmp(ask, "on") != 0 && strcasecmp(ask, "off") != 0) {
		resp_error(r, R_invalid_request, "X-Agenthost-Cache must be on or off");
		return -1;
	}
	if (rcache_limits(r, id, rc, mode, sizeof(mode)) < 0) {
		resp_error(r, R_database_unavailable, "the limits are unavailable");
		return -1;
	}
	if (strcmp(mode, "on") != 0 &&
	    !(strcmp(mode, "request") == 0 && ask != NULL && strcasecmp(ask, "on") == 0))
		return 0; /* not used: no header, no round trip */
	if ((ask != NULL && strcasecmp(ask, "off") == 0) || rcache_has_token(cc, "no-store")) {
		rc->state = "bypass";
		return 0;
	}
	if (rcache_key(id->tenant_id, body, rc->hash) < 0) {
		resp_error(r, R_server_busy, "out of memory");
		return -1;
	}
	rc->write = 1;
	if (rcache_has_token(cc, "no-cache")) {
		rc->state = "bypass";
		return 0;
	}
	rc->read = 1;
	rc->state = "miss";
	return 0;
}

/* See rcache.h. */
char *rcache_encode(const struct ah_result *res)
{
	json_t *calls = json_array(), *o;
	char *text;

	for (size_t i = 0; calls != NULL && i < res->n_tool_calls; i++)
		if (json_array_append_new(calls,
		                          json_pack("{s:s, s:s, s:s}", "id", res->tool_calls[i].id,
		                                    "name", res->tool_calls[i].name, "arguments",
		                                    res->tool_calls[i].arguments)) != 0) {
			json_decref(calls);
			return NULL;
		}
	o = json_pack("{s:s, s:s, s:o*, s:{s:I, s:I}}", "text", res->text ? res->text : "",
	              "finish_reason", res->finish_reason, "tool_calls", calls, "usage",
	              "prompt_tokens", (json_int_t)res->usage.prompt_tokens, "completion_tokens",
	              (json_int_t)res->usage.completion_tokens);
	if (o == NULL)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* See rcache.h. */
int rcache_decode(const char *body, struct ah_result *res)
{
	json_t *o = json_loads(body, 0, NULL), *calls, *c;
	const char *text = NULL, *finish = NULL;
	json_int_t pt = 0, ct = 0;
	size_t i;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (o == NULL ||
	    json_unpack(o, "{s:s, s:s, s:o, s:{s:I, s:I}}", "text", &text, "finish_reason", &finish,
	                "tool_calls", &calls, "usage", "prompt_tokens", &pt, "completion_tokens",
	                &ct) != 0 ||
	    !json_is_array(calls))
		goto out;
	res->text = strdup(text);
	if (res->text == NULL)
		goto out;
	util_strlcpy(res->finish_reason, finish, sizeof(res->finish_reason));
	res->usage.prompt_tokens = pt;
	res->usage.completion_tokens = ct;
	res->usage.have = 1;
	if (json_array_size(calls) > 0) {
		res->tool_calls = calloc(json_array_size(calls), sizeof(*res->tool_calls));
		if (res->tool_calls == NULL)
			goto out;
	}
	json_array_foreach(calls, i, c)
	{
		const char *cid, *name, *args;
		struct ah_tool_call *tc = &res->tool_calls[i];

		if (json_unpack(c, "{s:s, s:s, s:s}", "id", &cid, "name", &name, "arguments",
		                &args) != 0)
			goto out;
		res->n_tool_calls = i + 1;
		tc->id = strdup(cid);
		tc->name = strdup(name);
		tc->arguments = strdup(args);
		if (tc->id == NULL || tc->name == NULL || tc->arguments == NULL)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		provider_result_free(res);
	json_decref(o);
	return rc;
}

/* See rcache.h. */
int rcache_lookup(struct store *st, int64_t tenant_id, struct rcache *rc, struct ah_result *res)
{
	char *body = NULL;
	int got;

	if (!rc->read)
		return 0;
	got = store_rcache_get(st, tenant_id, rc->hash, &body);
	if (got == ST_ERR)
		log_warn("rcache: tenant %lld: the lookup failed; answered upstream",
		         (long long)tenant_id);
	if (got != ST_OK)
		return 0;
	if (rcache_decode(body, res) < 0) {
		log_warn("rcache: tenant %lld: a cached answer does not decode; answered upstream",
		         (long long)tenant_id);
		free(body);
		return 0;
	}
	free(body);
	rc->state = "hit";
	return 1;
}

/* See rcache.h. */
void rcache_store(struct store *st, int64_t tenant_id, const struct rcache *rc, const char *model,
                  const struct ah_result *res)
{
	char *body;
	int64_t evicted = 0;

	if (!rc->write)
		return;
	body = rcache_encode(res);
	if (body == NULL)
		return;
	if (store_rcache_put(st, tenant_id, rc->hash, model, body, rc->ttl_s, rc->max_bytes,
	                     &evicted) == ST_ERR)
		log_warn("rcache: tenant %lld: the answer could not be stored",
		         (long long)tenant_id);
	else if (evicted > 0)
		log_debug("rcache: tenant %lld: evicted %lld answer(s) past its size bound",
		          (long long)tenant_id, (long long)evicted);
	free(body);
}
