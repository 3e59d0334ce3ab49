/*
 * admin_tenants.c: the tenant lifecycle on the operator API
 * (/admin/api/v1/tenants...): create, show, suspend, resume, export and
 * offboard, each audited with the operator's token as the actor.
 *
 * DESIGN
 * The same operations as `agenthostctl tenant ...`, on the same store and
 * export functions. An export is streamed: the archive is built by
 * tenant_export (every table spooled first, so a database failure answers a
 * clean 503 before any byte is sent) and written to the response as it is
 * read. Offboarding over the API answers with that archive and schedules the
 * erasure only once the whole archive was written, so a download cut short
 * never leads to data erased without a copy (the tenant stays suspended and
 * the call can be repeated).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "crypto/secrets.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "store/dash_tenants.h"
#include "store/lifecycle.h"
#include "store/store.h"
#include "tenancy/admins.h"
#include "tenancy/export.h"
#include "tenancy/placement.h"

#define OFFBOARD_MIN_DAYS 30

/* The tenant's JSON form (api/objects.h) with its offboarding date from the store. */
static json_t *tenant_json(struct store *st, const struct tenant *t)
{
	int64_t after = 0;

	if (store_life_offboard_after(st, t->id, &after) != ST_OK)
		after = 0;
	return objects_tenant(t, after);
}

static void admin_audit(struct req *r, int64_t tenant_id, const char *action, const char *detail)
{
	char target[32];

	snprintf(target, sizeof(target), "tenant:%lld", (long long)tenant_id);
	api_operator_audit(r, tenant_id, action, target, detail);
}

static void admin_reply(struct req *r, int status, const struct tenant *t)
{
	struct tenant fresh;
	json_t *o;

	if (store_tenant_get(r->store, t->id, &fresh) == ST_OK)
		t = &fresh;
	o = tenant_json(r->store, t);
	if (o == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	resp_json(r, status, o);
}

void api_admin_tenants_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body = req_json_object(r), *o;
	char key[SECRETS_API_KEY_LEN + 1] = "", prefix[SECRETS_DISPLAY_PREFIX_LEN + 1] = "";
	char pw[ADMIN_GENERATED_LEN + 1] = "", pw_hash[crypto_pwhash_STRBYTES] = "";
	uint8_t hash[SECRETS_HASH_LEN];
	struct life_onboard ob;
	struct api_key k;
	const char *what = "tenant", *mode = NULL;
	char err[512] = "";
	int64_t tid = 0, key_id = 0;
	struct tenant t;
	int rc, dedicated = 0;

	(void)id;
	(void)m;
	if (body == NULL)
		return;
	memset(&ob, 0, sizeof(ob));
	ob.slug = json_string_value(json_object_get(body, "slug"));
	ob.name = json_string_value(json_object_get(body, "name"));
	ob.plan = json_string_value(json_object_get(body, "plan"));
	ob.key_name = json_string_value(json_object_get(body, "key_name"));
	ob.admin_name = json_string_value(json_object_get(body, "admin_name"));
	mode = json_string_value(json_object_get(body, "isolation_mode"));
	if (json_object_get(body, "isolation_mode") &&
	    (mode == NULL || (strcmp(mode, "shared") != 0 && strcmp(mode, "dedicated") != 0))) {
		resp_error(r, R_invalid_request, "isolation_mode: shared or dedicated");
		goto out;
	}
	if (!valid_name(VALID_SLUG, ob.slug)) {
		resp_error(r, R_invalid_request, "slug: %s", valid_hint(VALID_SLUG));
		goto out;
	}
	if (ob.name == NULL)
		ob.name = ob.slug;
	if (ob.plan == NULL)
		ob.plan = "free";
	if (!valid_name(VALID_TENANT_NAME, ob.name) || !valid_name(VALID_PLAN, ob.plan) ||
	    (ob.key_name && !valid_name(VALID_KEY_NAME, ob.key_name)) ||
	    (ob.admin_name && !valid_name(VALID_ADMIN, ob.admin_name))) {
		resp_error(r, R_invalid_request, "name: %s; plan: %s; key_name: %s; admin_name: %s",
		           valid_hint(VALID_TENANT_NAME), valid_hint(VALID_PLAN),
		           valid_hint(VALID_KEY_NAME), valid_hint(VALID_ADMIN));
		goto out;
	}
	if (ob.key_name) {
		if (secrets_new_api_key(key, prefix, hash) != 0) {
			resp_error(r, R_internal_error, "cannot generate a key");
			goto out;
		}
		ob.key_prefix = prefix;
		ob.key_hash = hash;
	}
	if (ob.admin_name) { /* a generated password, shown once in the answer */
		if (admin_password_generate(pw, pw_hash) != 0) {
			resp_error(r, R_server_busy, "out of memory while hashing a password");
			goto out;
		}
		ob.admin_pw_hash = pw_hash;
	}
	rc = store_life_onboard(r->store, &ob, &tid, &key_id, &what);
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict,
		           strcmp(what, "admin") == 0 ? "a dashboard user with this name exists"
		                                      : "a tenant with this slug exists");
		goto out;
	}
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_invalid_request, "no such plan");
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	/* its mode: asked for, or its plan's isolation_mode; a failure undoes the creation */
	if (placement_new_tenant(r->store, r->conf, tid, mode, NULL, 0, &dedicated, err,
	                         sizeof(err)) < 0) {
		log_error("api: tenant '%s' not created: %s", ob.slug, err);
		resp_error(r, R_provisioning_failed,
		           "the tenant's database could not be created; nothing was kept");
		goto out;
	}
	if (store_tenant_get(r->store, tid, &t) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	r->tenant_id = tid;
	admin_audit(r, tid, "tenant.create", dedicated ? "{\"isolation\":\"dedicated\"}" : NULL);
	o = tenant_json(r->store, &t);
	if (o && ob.key_name) {
		/* read back for its dates; without them, what was just stored */
		if (store_key_get(r->store, tid, key_id, &k) != ST_OK) {
			memset(&k, 0, sizeof(k));
			k.id = key_id;
			k.tenant_id = tid;
			util_strlcpy(k.name, ob.key_name, sizeof(k.name));
			util_strlcpy(k.prefix, prefix, sizeof(k.prefix));
		}
		json_object_set_new(o, "api_key", objects_new_key(&k, key));
	}
	if (o && ob.admin_name)
		json_object_set_new(o, "admin",
		                    json_pack("{s:s, s:s}", "name", ob.admin_name, "password", pw));
	if (o == NULL)
		resp_error(r, R_internal_error, "out of memory");
	else
		resp_json(r, 201, o);
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(pw_hash, sizeof(pw_hash));
	json_decref(body);
}

void api_admin_tenant_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct tenant t;

	(void)id;
	if (api_admin_tenant(r, m, &t) == 0)
		admin_reply(r, 200, &t);
}

/* store_tenant_page's callback: one tenant into the JSON array ctx (st: the store). */
struct admin_list_ctx {
	struct store *st;
	json_t *data;
	int64_t last_id;
	int oom;
};

static int admin_list_one(void *ctx, const struct tenant *t)
{
	struct admin_list_ctx *c = ctx;
	json_t *o = tenant_json(c->st, t);

	if (o == NULL || json_array_append_new(c->data, o) != 0) {
		c->oom = 1;
		return 1;
	}
	c->last_id = t->id;
	return 0;
}

/*
 * GET /admin/api/v1/tenants?status=&plan=&q=&limit=&cursor=: the tenants by
 * id, keyset-paginated (cursor = the last id of the previous page).
 */
void api_admin_tenants_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct admin_list_ctx c = {r->store, NULL, 0, 0};
	struct tenant_filter f;
	char status[16], plan[64], q[128] = "", cursor[24], *end;
	int has_more = 0, rc;

	(void)id;
	(void)m;
	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.plan = "";
	f.q = "";
	if (api_limit(r, 50, 100, &f.limit) < 0)
		return;
	if ((rc = req_query(r, "status", status, sizeof(status))) < 0 ||
	    (rc > 0 && strcmp(status, "active") != 0 && strcmp(status, "suspended") != 0)) {
		resp_error_param(r, R_invalid_request, "status", "'status': active or suspended");
		return;
	}
	if (rc > 0)
		f.status = strcmp(status, "active") == 0 ? TENANT_ACTIVE : TENANT_SUSPENDED;
	if ((rc = req_query(r, "plan", plan, sizeof(plan))) < 0 ||
	    (rc > 0 && !valid_name(VALID_PLAN, plan))) {
		resp_error_param(r, R_invalid_request, "plan", "'plan': %s",
		                 valid_hint(VALID_PLAN));
		return;
	}
	if (rc > 0)
		f.plan = plan;
	if ((rc = req_query(r, "q", q, sizeof(q))) < 0 || strlen(q) > 100 ||
	    (rc > 0 && !valid_text(q, 100, 0))) {
		resp_error_param(r, R_invalid_request, "q", "'q': at most 100 bytes of text");
		return;
	}
	if (rc > 0)
		f.q = q;
	if ((rc = req_query(r, "cursor", cursor, sizeof(cursor))) < 0 ||
	    (rc > 0 && ((f.after_id = strtoll(cursor, &end, 10)) <= 0 || *end != '\0'))) {
		resp_error(r, R_invalid_cursor, "'cursor' is not a cursor from this list");
		return;
	}
	if ((c.data = json_array()) == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	if (store_tenant_page(r->store, &f, admin_list_one, &c, &has_more) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	if (c.oom) {
		resp_error(r, R_internal_error, "out of memory");
		goto out;
	}
	snprintf(cursor, sizeof(cursor), "%lld", (long long)c.last_id);
	resp_json(r, 200,
	          json_pack("{s:s, s:O, s:b, s:o}", "object", "list", "data", c.data, "has_more",
	                    has_more, "next_cursor", has_more ? json_string(cursor) : json_null()));
out:
	json_decref(c.data);
}

/*
 * POST /admin/api/v1/tenants/{t} {"name"?, "plan"?}: rename the tenant or
 * move it to another plan (its limits follow the plan at once: a tenant
 * change every process's caches forget). Audited as tenant.update.
 */
void api_admin_tenant_update(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *jn, *jp, *detail = NULL;
	const char *name, *plan;
	char *text = NULL;
	struct tenant t;
	int rc;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	if ((body = req_json_object(r)) == NULL)
		return;
	jn = json_object_get(body, "name");
	jp = json_object_get(body, "plan");
	name = jn ? json_string_value(jn) : t.name;
	plan = jp ? json_string_value(jp) : t.plan;
	if (jn == NULL && jp == NULL) {
		resp_error(r, R_invalid_request, "nothing to change: give 'name' and/or 'plan'");
		goto out;
	}
	if (!valid_name(VALID_TENANT_NAME, name)) {
		resp_error_param(r, R_invalid_request, "name", "'name': %s",
		                 valid_hint(VALID_TENANT_NAME));
		goto out;
	}
	if (!valid_name(VALID_PLAN, plan)) {
		resp_error_param(r, R_invalid_request, "plan", "'plan': %s",
		                 valid_hint(VALID_PLAN));
		goto out;
	}
	rc = store_dasht_tenant_update(r->store, t.id, name, plan);
	if (rc == ST_NOTFOUND) {
		resp_error_param(r, R_invalid_request, "plan", "no such plan '%s'", plan);
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	detail = json_object();
	if (detail && jn && strcmp(name, t.name) != 0)
		json_object_set_new(detail, "name", json_pack("[s,s]", t.name, name));
	if (detail && jp && strcmp(plan, t.plan) != 0)
		json_object_set_new(detail, "plan", json_pack("[s,s]", t.plan, plan));
	text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	admin_audit(r, t.id, "tenant.update", text);
	admin_reply(r, 200, &t);
out:
	free(text);
	json_decref(detail);
	json_decref(body);
}

/* Shared body of suspend and resume. */
static void admin_status(struct req *r, const struct route_match *m, int suspend)
{
	json_t *body = NULL;
	const char *reason = "";
	struct tenant t;

	if (api_admin_tenant(r, m, &t) < 0)
		return;
	if (suspend && r->body.len > 0) {
		body = req_json_object(r);
		if (body == NULL)
			return;
		if (json_object_get(body, "reason"))
			reason = json_string_value(json_object_get(body, "reason"));
		if (reason == NULL || strlen(reason) > 255) {
			resp_error(r, R_invalid_request, "reason: at most 255 bytes of UTF-8 text");
			goto out;
		}
	}
	if (store_tenant_set_status(r->store, t.id, suspend ? TENANT_SUSPENDED : TENANT_ACTIVE,
	                            reason) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	admin_audit(r, t.id, suspend ? "tenant.suspend" : "tenant.resume", NULL);
	admin_reply(r, 200, &t);
out:
	json_decref(body);
}

void api_admin_tenant_suspend(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	admin_status(r, m, 1);
}

void api_admin_tenant_resume(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	admin_status(r, m, 0);
}

/*
 * POST .../tenants/{t}/content {"log_content": true|false}: whether the
 * tenant's chat completions store their prompts and answers (API.md).
 */
void api_admin_tenant_content(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *v;
	struct tenant t;
	int on;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	if ((body = req_json_object(r)) == NULL)
		return;
	v = json_object_get(body, "log_content");
	if (!json_is_boolean(v)) {
		resp_error(r, R_invalid_request, "'log_content' must be true or false");
		goto out;
	}
	on = json_is_true(v);
	if (store_tenant_set_log_content(r->store, t.id, on) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	admin_audit(r, t.id, on ? "tenant.log_content_on" : "tenant.log_content_off", NULL);
	admin_reply(r, 200, &t);
out:
	json_decref(body);
}

/*
 * Stream tenant t's archive as the response. 0 when every byte was written;
 * -1 otherwise (an error response was sent when nothing had been sent yet).
 */
static int admin_stream_export(struct req *r, const struct tenant *t, json_t *manifest)
{
	char disp[128], err[256];
	FILE *tmp = tmpfile(), *out = NULL;
	int rc = -1;

	/* The archive is built into a temp file first: a failure is still a clean 503. */
	if (tmp == NULL || tenant_export(r->store, t, tmp, manifest, NULL, err, sizeof(err)) < 0) {
		log_error("api: export of tenant %lld failed: %s", (long long)t->id,
		          tmp ? err : "no temporary file");
		resp_error(r, R_export_failed, "the export could not be built; retry shortly");
		goto out;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s-export.tar\"", t->slug);
	resp_header(r, "Content-Disposition", disp);
	if (fseek(tmp, 0, SEEK_SET) != 0 ||
	    (out = resp_stream_begin(r, "application/x-tar")) == NULL)
		goto out;
	for (;;) {
		char chunk[65536];
		size_t n = fread(chunk, 1, sizeof(chunk), tmp);

		if (n == 0)
			break;
		if (fwrite(chunk, 1, n, out) != n)
			goto out;
	}
	rc = ferror(tmp) ? -1 : 0;
out:
	if (out && fclose(out) != 0)
		rc = -1;
	if (tmp)
		fclose(tmp);
	return rc;
}

void api_admin_tenant_export(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *manifest = json_object();
	struct tenant t;
	char *detail;

	(void)id;
	if (manifest == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	if (api_admin_tenant(r, m, &t) == 0 && admin_stream_export(r, &t, manifest) == 0) {
		detail = json_dumps(manifest, JSON_COMPACT);
		admin_audit(r, t.id, "tenant.export", detail);
		free(detail);
	}
	json_decref(manifest);
}

void api_admin_tenant_offboard(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body = NULL, *manifest = json_object(), *jd;
	struct limits *lim = NULL;
	int64_t days = -1;
	char detail[96];
	struct tenant t;

	(void)id;
	if (manifest == NULL || api_admin_tenant(r, m, &t) < 0)
		goto out;
	if (r->body.len > 0) {
		if ((body = req_json_object(r)) == NULL)
			goto out;
		jd = json_object_get(body, "days");
		if (jd && (!json_is_integer(jd) || json_integer_value(jd) < 0 ||
		           json_integer_value(jd) > 36500)) {
			resp_error(r, R_invalid_request, "days: a whole number 0..36500");
			goto out;
		}
		if (jd)
			days = json_integer_value(jd);
	}
	if (days < 0) {
		lim = malloc(sizeof(*lim));
		if (lim == NULL || limits_resolve(r->store, t.id, 0, lim) != ST_OK) {
			resp_error(r, R_database_unavailable, "the limits are unavailable");
			goto out;
		}
		days = lim->v[LIM_RETENTION_DAYS].num > OFFBOARD_MIN_DAYS
		           ? lim->v[LIM_RETENTION_DAYS].num
		           : OFFBOARD_MIN_DAYS;
	}
	/* suspended first, so the archive holds everything there will ever be */
	if (store_tenant_set_status(r->store, t.id, TENANT_SUSPENDED, "offboarding") != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	if (admin_stream_export(r, &t, manifest) < 0)
		goto out; /* nothing scheduled: the tenant stays suspended, the call can be repeated
		           */
	if (store_life_offboard(r->store, t.id, (int)days) != ST_OK) {
		log_error("api: tenant %lld exported but its erasure could not be scheduled",
		          (long long)t.id);
		goto out;
	}
	snprintf(detail, sizeof(detail), "{\"erase_in_days\":%lld}", (long long)days);
	admin_audit(r, t.id, "tenant.offboard", detail);
out:
	free(lim);
	json_decref(body);
	json_decref(manifest);
}

void api_admin_tenant_offboard_undo(struct req *r, const struct ident *id,
                                    const struct route_match *m)
{
	struct tenant t;
	int64_t after = 0;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	if (store_life_offboard_after(r->store, t.id, &after) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		return;
	}
	if (after == 0) {
		resp_error(r, R_not_offboarding, "this tenant is not being offboarded");
		return;
	}
	if (store_life_offboard(r->store, t.id, -1) != ST_OK ||
	    store_tenant_set_status(r->store, t.id, TENANT_ACTIVE, NULL) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		return;
	}
	admin_audit(r, t.id, "tenant.offboard_undo", NULL);
	admin_reply(r, 200, &t);
}

/*
 * POST /admin/api/v1/tenants/{t}/move {"to": "dedicated"|"shared",
 * "drain_seconds": N}: the whole move, answered when it is done (or failed
 * and undone). It takes as long as copying the tenant's content: a large
 * tenant is better moved with agenthostctl tenant move.
 */
void api_admin_tenant_move(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct move_report rep;
	json_t *body, *o, *drain;
	const char *to;
	char err[512] = "";
	struct tenant t;
	json_int_t drain_s = 2;

	(void)id;
	if (api_admin_tenant(r, m, &t) < 0)
		return;
	body = req_json_object(r);
	if (body == NULL)
		return;
	to = json_string_value(json_object_get(body, "to"));
	drain = json_object_get(body, "drain_seconds");
	if (to == NULL || (strcmp(to, "dedicated") != 0 && strcmp(to, "shared") != 0)) {
		resp_error(r, R_invalid_request, "to: dedicated or shared");
		goto out;
	}
	if (drain && (!json_is_integer(drain) || json_integer_value(drain) < 0 ||
	              json_integer_value(drain) > 60)) {
		resp_error(r, R_invalid_request, "drain_seconds: 0-60");
		goto out;
	}
	if (drain)
		drain_s = json_integer_value(drain);
	if (placement_move(r->store, r->conf, t.id, strcmp(to, "dedicated") == 0, NULL, 0, 60,
	                   (int)drain_s, &rep, NULL, err, sizeof(err)) < 0) {
		log_error("api: move of tenant %lld failed: %s", (long long)t.id, err);
		admin_audit(r, t.id, "tenant.move", "{\"outcome\":\"failed\"}");
		resp_error(r, R_move_failed, "%s", err);
		goto out;
	}
	admin_audit(r, t.id, "tenant.move",
	            strcmp(to, "dedicated") == 0 ? "{\"to\":\"dedicated\"}"
	                                         : "{\"to\":\"shared\"}");
	if (store_tenant_get(r->store, t.id, &t) != ST_OK) {
		resp_error(r, R_database_unavailable, "the tenant store is unavailable");
		goto out;
	}
	o = tenant_json(r->store, &t);
	if (o)
		json_object_set_new(o, "move",
		                    json_pack("{s:I, s:I, s:I, s:i, s:I}", "copied",
		                              (json_int_t)rep.copied, "late_rows",
		                              (json_int_t)rep.late_rows, "deleted",
		                              (json_int_t)rep.deleted, "rounds", rep.rounds,
		                              "total_ms", (json_int_t)rep.total_ms));
	if (o == NULL)
		resp_error(r, R_internal_error, "out of memory");
	else
		resp_json(r, 200, o);
out:
	json_decref(body);
}
