/*
 * limits_form.c: view and edit the limits of the global scope or a plan (see limits_form.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/limits_form.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/limits.h"
#include "store/store.h"

#define FORM_VALUE_MAX 1024

/* Values set at one scope, indexed by limit id ("" = not set there). */
struct scope_values {
	char v[LIM__MAX][STORE_LIMIT_VALUE_MAX + 1];
	int set[LIM__MAX];
};

static int collect(void *ctx, const struct limit_row *row)
{
	struct scope_values *sv = ctx;
	int id = limit_by_name(row->name);

	if (id >= 0) {
		snprintf(sv->v[id], sizeof(sv->v[id]), "%s", row->value);
		sv->set[id] = 1;
	}
	return 0;
}

static const char *scope_text(enum limit_scope s)
{
	return s == LS_GLOBAL ? "global" : "plan";
}

/* The values set at scope; NULL on failure. */
static struct scope_values *values_at(struct store *st, enum limit_scope s, int64_t id)
{
	struct scope_values *sv = calloc(1, sizeof(*sv));

	if (sv &&
	    store_limits_list(st, scope_text(s), s == LS_GLOBAL ? 0 : id, collect, sv) != ST_OK) {
		free(sv);
		return NULL;
	}
	return sv;
}

/* Validate field v.<name> of the posted form; 1 present+valid, 0 absent/empty, -1 invalid. */
static int posted_value(struct req *r, int id, char *out, size_t cap, char *err, size_t errcap)
{
	char field[80], raw[FORM_VALUE_MAX + 1];
	const struct limit_def *d = &limit_defs()[id];
	int rc;

	snprintf(field, sizeof(field), "v.%s", d->name);
	rc = dash_form(r, field, raw, sizeof(raw));
	if (rc < 0) {
		snprintf(err, errcap, "%s: too long or malformed", d->name);
		return -1;
	}
	if (rc == 0 || raw[0] == '\0')
		return 0;
	return limit_validate(id, raw, out, cap, err, errcap) == 0 ? 1 : -1;
}

static int unset_checked(struct req *r, const char *name)
{
	char field[80], v[8];

	snprintf(field, sizeof(field), "unset.%s", name);
	return dash_form(r, field, v, sizeof(v)) == 1;
}

void limits_form_fill(struct req *r, struct page *p, enum limit_scope scope, int64_t plan_id,
                      const char *plan_name, int posted)
{
	const struct limit_def *d = limit_defs();
	struct scope_values *here = values_at(r->store, scope, plan_id);
	struct scope_values *global = scope == LS_PLAN ? values_at(r->store, LS_GLOBAL, 0) : NULL;
	char val[FORM_VALUE_MAX + 1], err[256];

	if (here == NULL || (scope == LS_PLAN && global == NULL)) {
		page_unavailable(p);
		goto out;
	}
	/* plan names are [a-z0-9_-]: a path segment as they are */
	if (scope == LS_GLOBAL)
		page_set(p, "LimitsForm.Path", "/admin/global");
	else
		page_setf(p, "LimitsForm.Path", "/admin/plans/%s", plan_name);
	for (int i = 0; i < LIM__MAX; i++) {
		const char *value, *source;

		if (!(d[i].scopes & LSB(scope)))
			continue;
		if (here->set[i]) {
			value = here->v[i];
			source = scope_text(scope);
		} else if (global && global->set[i]) {
			value = global->v[i];
			source = "global";
		} else {
			value = d[i].def;
			source = "default";
		}
		page_row(p, "Limits");
		page_set(p, ".Name", d[i].name);
		page_set(p, ".Help", d[i].help);
		page_set(p, ".Value", value[0] ? value : "(none)");
		page_set(p, ".Source", source);
		page_set(p, ".Set", here->set[i] ? "1" : "");
		page_set(p, ".Input", here->set[i] ? here->v[i] : "");
		if (posted) {
			char field[80];

			snprintf(field, sizeof(field), "v.%s", d[i].name);
			if (dash_form(r, field, val, sizeof(val)) == 1)
				page_set(p, ".Input", val);
			if (posted_value(r, i, val, sizeof(val), err, sizeof(err)) < 0)
				page_set(p, ".Error", err);
		}
	}
out:
	free(here);
	free(global);
}

int limits_form_apply(struct req *r, enum limit_scope scope, int64_t plan_id, int *changed)
{
	const struct limit_def *d = limit_defs();
	const struct admin_session *s = dash_session();
	struct scope_values *here = values_at(r->store, scope, plan_id);
	char val[FORM_VALUE_MAX + 1], err[256], who[100];
	int64_t id = scope == LS_GLOBAL ? 0 : plan_id;
	int rc = 1;

	*changed = 0;
	if (here == NULL)
		return -1;
	/* everything is validated before anything is written */
	for (int i = 0; i < LIM__MAX; i++)
		if ((d[i].scopes & LSB(scope)) && !unset_checked(r, d[i].name) &&
		    posted_value(r, i, val, sizeof(val), err, sizeof(err)) < 0)
			rc = 0;
	if (rc == 0)
		goto out;
	snprintf(who, sizeof(who), "admin:%s", s ? s->user.name : "");
	for (int i = 0; i < LIM__MAX; i++) {
		int got;

		if (!(d[i].scopes & LSB(scope)))
			continue;
		if (unset_checked(r, d[i].name)) {
			if (here->set[i]) {
				if (store_limit_unset(r->store, scope_text(scope), id, d[i].name) !=
				    ST_OK) {
					rc = -1;
					goto out;
				}
				(*changed)++;
			}
			continue;
		}
		got = posted_value(r, i, val, sizeof(val), err, sizeof(err));
		if (got == 1 && (!here->set[i] || strcmp(here->v[i], val) != 0)) {
			if (store_limit_set(r->store, scope_text(scope), id, d[i].name, val, who) !=
			    ST_OK) {
				rc = -1;
				goto out;
			}
			(*changed)++;
		}
	}
out:
	free(here);
	return rc;
}
