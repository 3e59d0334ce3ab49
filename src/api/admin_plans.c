/*
 * admin_plans.c: plans and their limits on the operator API.
 *   GET  /admin/api/v1/plans          every plan, by id, with its limits
 *   POST /admin/api/v1/plans          {"name","description"?,"limits"?:{...}}: create (201)
 *   GET  /admin/api/v1/plans/{name}   one plan with its limits
 *   POST /admin/api/v1/plans/{name}   {"description"?,"limits"?:{name: value|null}}
 *
 * DESIGN
 * A plan is a plans row plus the limits rows of scope "plan": its limits
 * go through the limits machinery (limit_settable, limit_validate, then
 * store_limit_set / store_limit_unset, the same as `agenthostctl limits set
 * --plan`), so every process's cached limits drop the change. Every limit
 * of a request is checked before anything is written: a refused request
 * changes nothing. One audit row per call (plan.create / plan.update) with
 * the changes as its detail, the operator as the actor, no tenant.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "common/log.h"
#include "common/valid.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "store/limits.h"
#include "store/store.h"

/* limit_row_cb: one row into the JSON object ctx as name: value. */
static int plan_limit_row(void *ctx, const struct limit_row *row)
{
	return json_object_set_new(ctx, row->name, json_string(row->value)) != 0;
}

/* The plan's JSON form with its limits; NULL when the store or memory failed. */
static json_t *plan_json(struct store *st, const struct plan *p)
{
	json_t *o = objects_plan(p), *lim = json_object();

	if (o == NULL || lim == NULL ||
	    store_limits_list(st, "plan", p->id, plan_limit_row, lim) != ST_OK ||
	    json_object_set_new(o, "object", json_string("plan")) != 0 ||
	    json_object_set(o, "limits", lim) != 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(lim);
	return o;
}

static void plan_audit(struct req *r, const struct plan *p, const char *action, json_t *detail)
{
	char target[48], *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;

	snprintf(target, sizeof(target), "plan:%s", p->name);
	api_operator_audit(r, 0, action, target, text);
	free(text);
}

/* The plan of the path into *p; -1 after a 404/503. */
static int plan_target(struct req *r, const struct route_match *m, struct plan *p)
{
	int rc = m->n_params < 1 || !valid_name(VALID_PLAN, m->params[0])
	             ? ST_NOTFOUND
	             : store_plan_get(r->store, m->params[0], p);

	if (rc == ST_OK)
		return 0;
	if (rc == ST_NOTFOUND)
		resp_error(r, R_not_found, "no such plan");
	else
		resp_error(r, R_database_unavailable, "the plans cannot be read");
	return -1;
}

/*
 * Check the "limits" object of body: every name a limit that can be set on
 * a plan, every value a string (or a number) that validates, or null. Into
 * *out (new reference; NULL when absent) the normalised values (JSON null
 * for an unset). 0, or -1 after a 400.
 */
static int plan_limits_check(struct req *r, json_t *body, json_t **out)
{
	char value[STORE_LIMIT_VALUE_MAX + 1], err[256], num[32];
	json_t *lim = json_object_get(body, "limits"), *v, *norm;
	const char *name, *text;
	int lid;

	*out = NULL;
	if (lim == NULL)
		return 0;
	if (!json_is_object(lim)) {
		resp_error_param(r, R_invalid_request, "limits",
		                 "'limits' must be an object of limit names and values");
		return -1;
	}
	if ((norm = json_object()) == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return -1;
	}
	json_object_foreach(lim, name, v)
	{
		lid = limit_by_name(name);
		if (lid < 0 || !limit_settable(lid, LS_PLAN)) {
			resp_error_param(r, R_invalid_request, "limits",
			                 "'%.48s' is not a limit that can be set on a plan", name);
			goto bad;
		}
		if (json_is_null(v)) {
			json_object_set_new(norm, name, json_null());
			continue;
		}
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			text = num;
		} else if (json_is_string(v)) {
			text = json_string_value(v);
		} else {
			resp_error_param(r, R_invalid_request, "limits",
			                 "'%s' must be a string, a whole number or null", name);
			goto bad;
		}
		if (limit_validate(lid, text, value, sizeof(value), err, sizeof(err)) != 0) {
			resp_error_param(r, R_invalid_request, "limits", "%s", err);
			goto bad;
		}
		if (json_object_set_new(norm, name, json_string(value)) != 0) {
			resp_error(r, R_internal_error, "out of memory");
			goto bad;
		}
	}
	*out = norm;
	return 0;
bad:
	json_decref(norm);
	return -1;
}

/* Write the checked limits (plan_limits_check) of plan p. 0, or -1 after a 503. */
static int plan_limits_apply(struct req *r, const struct plan *p, json_t *norm)
{
	const char *name;
	json_t *v;
	int rc;

	json_object_foreach(norm, name, v)
	{
		rc = json_is_null(v) ? store_limit_unset(r->store, "plan", p->id, name)
		                     : store_limit_set(r->store, "plan", p->id, name,
		                                       json_string_value(v), r->operator_id);
		if (rc != ST_OK && rc != ST_NOTFOUND) {
			resp_error(r, R_database_unavailable, "the limit '%s' cannot be stored",
			           name);
			return -1;
		}
	}
	return 0;
}

/* The optional "description" of body into *out (unchanged when absent). 0, or -1 after a 400. */
static int plan_description(struct req *r, json_t *body, const char **out)
{
	json_t *v = json_object_get(body, "description");

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || !valid_text(json_string_value(v), 200, 0)) {
		resp_error_param(r, R_invalid_request, "description",
		                 "'description': at most 200 bytes of UTF-8 text without control "
		                 "characters");
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* plan_cb: one plan into the list (ctx: {store, array}). */
struct plan_list {
	struct store *st;
	json_t *data;
	int failed;
};

static int plan_collect(void *ctx, const struct plan *p)
{
	struct plan_list *l = ctx;
	json_t *o = plan_json(l->st, p);

	if (o == NULL || json_array_append_new(l->data, o) != 0) {
		l->failed = 1;
		return 1;
	}
	return 0;
}

void api_admin_plans_list(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct plan_list l = {r->store, json_array(), 0};

	(void)id;
	(void)m;
	if (l.data == NULL) {
		resp_error(r, R_internal_error, "out of memory");
		return;
	}
	if (store_plan_list(r->store, plan_collect, &l) != ST_OK || l.failed) {
		resp_error(r, R_database_unavailable, "the plans cannot be read");
		goto out;
	}
	resp_json(r, 200, json_pack("{s:s, s:O}", "object", "list", "data", l.data));
out:
	json_decref(l.data);
}

void api_admin_plan_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct plan p;
	json_t *o;

	(void)id;
	if (plan_target(r, m, &p) < 0)
		return;
	if ((o = plan_json(r->store, &p)) == NULL)
		resp_error(r, R_database_unavailable, "the plan's limits cannot be read");
	else
		resp_json(r, 200, o);
}

/* Answer status with plan name's JSON form, read back. */
static void plan_reply(struct req *r, int status, const char *name)
{
	struct plan p;
	json_t *o = NULL;

	if (store_plan_get(r->store, name, &p) == ST_OK)
		o = plan_json(r->store, &p);
	if (o == NULL)
		resp_error(r, R_database_unavailable, "the plan cannot be read back");
	else
		resp_json(r, status, o);
}

void api_admin_plans_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *norm = NULL, *detail = NULL;
	const char *name, *desc = "";
	struct plan p;
	int64_t pid = 0;
	int rc;

	(void)id;
	(void)m;
	if ((body = req_json_object(r)) == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (name == NULL || !valid_name(VALID_PLAN, name)) {
		resp_error_param(r, R_invalid_request, "name", "'name': %s",
		                 valid_hint(VALID_PLAN));
		goto out;
	}
	if (plan_description(r, body, &desc) < 0 || plan_limits_check(r, body, &norm) < 0)
		goto out;
	rc = store_plan_create(r->store, name, desc, &pid);
	if (rc == ST_CONFLICT) {
		resp_error(r, R_conflict, "a plan called '%s' exists", name);
		goto out;
	}
	if (rc != ST_OK) {
		resp_error(r, R_database_unavailable, "the plan cannot be stored");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.id = pid;
	snprintf(p.name, sizeof(p.name), "%s", name);
	if (norm != NULL && plan_limits_apply(r, &p, norm) < 0)
		goto out;
	detail = json_pack("{s:s, s:O?}", "description", desc, "limits", norm);
	plan_audit(r, &p, "plan.create", detail);
	plan_reply(r, 201, name);
out:
	json_decref(detail);
	json_decref(norm);
	json_decref(body);
}

void api_admin_plan_update(struct req *r, const struct ident *id, const struct route_match *m)
{
	json_t *body, *norm = NULL, *detail = NULL;
	const char *desc = NULL;
	struct plan p;
	int rc;

	(void)id;
	if (plan_target(r, m, &p) < 0)
		return;
	if ((body = req_json_object(r)) == NULL)
		return;
	if (plan_description(r, body, &desc) < 0 || plan_limits_check(r, body, &norm) < 0)
		goto out;
	if (desc == NULL && (norm == NULL || json_object_size(norm) == 0)) {
		resp_error(r, R_invalid_request,
		           "nothing to change: give 'description' and/or 'limits'");
		goto out;
	}
	if (desc != NULL && (rc = store_plan_update(r->store, p.id, desc)) != ST_OK) {
		resp_error(r, rc == ST_NOTFOUND ? R_not_found : R_database_unavailable,
		           rc == ST_NOTFOUND ? "no such plan" : "the plan cannot be stored");
		goto out;
	}
	if (norm != NULL && plan_limits_apply(r, &p, norm) < 0)
		goto out;
	detail = json_pack("{s:s?, s:O?}", "description", desc, "limits", norm);
	plan_audit(r, &p, "plan.update", detail);
	plan_reply(r, 200, p.name);
out:
	json_decref(detail);
	json_decref(norm);
	json_decref(body);
}
