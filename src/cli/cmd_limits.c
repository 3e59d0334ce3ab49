/*
 * cmd_limits.c: agenthostctl limits show, set and unset, plan list and
 * create.
 *
 * DESIGN
 * Limits are validated with the server's own limit_validate and shown with
 * the server's own resolution (limits_resolve, or limits_init/limits_apply
 * for the plan and global views), so what the CLI says is what the server
 * enforces; a limit cannot be set at a scope its definition does not allow.
 * A scope is one of --global, --plan P, --tenant T or --tenant T --key ID
 * (the key must be that tenant's).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/objects.h"
#include "cli/cli.h"
#include "common/util.h"
#include "common/valid.h"
#include "enforce/limits.h"
#include "enforce/limits_rows.h"
#include "store/limits.h"
#include "store/projects.h"

/* The scope a limits command works on, resolved. */
struct cli_scope {
	enum limit_scope scope; /* LS_GLOBAL, LS_PLAN, LS_TENANT or LS_KEY */
	int64_t scope_id;       /* 0, plan id, tenant id or key id */
	struct plan p;          /* LS_PLAN */
	struct tenant t;        /* LS_TENANT, LS_KEY */
	int64_t key_id;         /* LS_KEY */
	struct project pr;      /* LS_PROJECT */
	char tag_key[LIMITS_TAG_KEY_MAX + 1], tag_value[LIMITS_TAG_VALUE_MAX + 1]; /* LS_TAG */
	char label[320]; /* for messages: "plan 'free'", "key 12 of tenant 'acme'" */
};

int cli_project(struct cli *c, const struct tenant *t, const char *name, struct project *p)
{
	int rc;

	if (!valid_name(VALID_PROJECT, name))
		return cli_usage_error(c, "project name '%s': use %s", name,
		                       valid_hint(VALID_PROJECT));
	rc = store_project_get(c->st, t->id, name, p);
	if (rc == ST_NOTFOUND)
		return cli_error("tenant '%s' has no project '%s'", t->slug, name);
	if (rc != ST_OK)
		return cli_error("database error while reading project '%s'", name);
	return CLI_OK;
}

/*
 * Resolve "--global | --plan P | --tenant T [--key ID | --project NAME]"
 * into s. CLI_OK, or a usage/failure code after a message.
 */
static int cli_scope_get(struct cli *c, int global, const struct cli_opt *plan,
                         const struct cli_opt *tenant, const struct cli_opt *key,
                         const struct cli_opt *project, const struct cli_opt *tag, int create,
                         struct cli_scope *s)
{
	char err[200];
	int given = (global > 0) + (plan->value != NULL) + (tenant->value != NULL);
	int rc;

	memset(s, 0, sizeof(*s));
	if (global > 1)
		return cli_usage_error(c, "option '--global' given twice");
	if (given != 1)
		return cli_usage_error(
		    c, "give exactly one of --global, --plan PLAN, --tenant TENANT");
	if (key->value != NULL && tenant->value == NULL)
		return cli_usage_error(c, "--key needs --tenant (a key belongs to a tenant)");
	if (project->value != NULL && tenant->value == NULL)
		return cli_usage_error(c,
		                       "--project needs --tenant (a project belongs to a tenant)");
	if (tag->value != NULL && tenant->value == NULL)
		return cli_usage_error(c, "--tag needs --tenant (a tag's budgets are a tenant's)");
	if ((project->value != NULL) + (key->value != NULL) + (tag->value != NULL) > 1)
		return cli_usage_error(c, "give one of --key, --project, --tag, not both");
	if (tag->value != NULL &&
	    limits_tag_parse(tag->value, s->tag_key, s->tag_value, err, sizeof(err)) < 0)
		return cli_usage_error(c, "--tag: %s", err);
	if (global) {
		s->scope = LS_GLOBAL;
		snprintf(s->label, sizeof(s->label), "the global scope");
		return CLI_OK;
	}
	if (plan->value != NULL) {
		if (!valid_name(VALID_PLAN, plan->value))
			return cli_usage_error(c, "--plan: '%s' is not a plan name (%s)",
			                       plan->value, valid_hint(VALID_PLAN));
		rc = store_plan_get(c->st, plan->value, &s->p);
		if (rc == ST_NOTFOUND)
			return cli_error("plan '%s' does not exist", plan->value);
		if (rc != ST_OK)
			return cli_error("database error while reading plan '%s'", plan->value);
		s->scope = LS_PLAN;
		s->scope_id = s->p.id;
		snprintf(s->label, sizeof(s->label), "plan '%s'", s->p.name);
		return CLI_OK;
	}
	if (key->value != NULL) {
		struct api_key k;

		if ((rc = cli_key_target(c, tenant, key, &s->t, &k)) != CLI_OK)
			return rc;
		s->scope = LS_KEY;
		s->scope_id = k.id;
		s->key_id = k.id;
		snprintf(s->label, sizeof(s->label), "key %" PRId64 " of tenant '%s'", k.id,
		         s->t.slug);
		return CLI_OK;
	}
	if (cli_tenant(c, tenant->value, &s->t) != CLI_OK)
		return CLI_FAIL;
	if (tag->value != NULL) {
		rc = create
		         ? store_tag_ensure(c->st, s->t.id, s->tag_key, s->tag_value, &s->scope_id)
		         : store_tag_get(c->st, s->t.id, s->tag_key, s->tag_value, &s->scope_id);
		if (rc == ST_NOTFOUND)
			return cli_error("tenant '%s' has no budget on tag %s=%s", s->t.slug,
			                 s->tag_key, s->tag_value);
		if (rc != ST_OK)
			return cli_error("database error while reading tag %s=%s", s->tag_key,
			                 s->tag_value);
		s->scope = LS_TAG;
		snprintf(s->label, sizeof(s->label), "tag %s=%s of tenant '%s'", s->tag_key,
		         s->tag_value, s->t.slug);
		return CLI_OK;
	}
	if (project->value != NULL) {
		if ((rc = cli_project(c, &s->t, project->value, &s->pr)) != CLI_OK)
			return rc;
		s->scope = LS_PROJECT;
		s->scope_id = s->pr.id;
		snprintf(s->label, sizeof(s->label), "project '%s' of tenant '%s'", s->pr.name,
		         s->t.slug);
		return CLI_OK;
	}
	s->scope = LS_TENANT;
	s->scope_id = s->t.id;
	snprintf(s->label, sizeof(s->label), "tenant '%s'", s->t.slug);
	return CLI_OK;
}

/* The names of the scopes a limit may be set at, as "global, plan, tenant". */
static void cli_scope_list(unsigned scopes, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (int s = LS_GLOBAL; s < LS__MAX; s++)
		if (scopes & LSB(s)) {
			int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
			                 limit_scope_name((enum limit_scope)s));

			if (w < 0 || (size_t)w >= cap - used)
				return;
			used += (size_t)w;
		}
}

/* Print every limit name on stderr (after an unknown one). */
static void cli_limit_names(void)
{
	const struct limit_def *d = limit_defs();

	fputs(CLI_NAME ": limits:", stderr);
	for (int i = 0; i < LIM__MAX; i++)
		fprintf(stderr, "%s %s", i ? "," : "", d[i].name);
	fputc('\n', stderr);
}

/* limit_row_cb: apply a stored row to the struct limits in ctx (plan and global views). */
static int cli_limit_apply(void *ctx, const struct limit_row *r)
{
	int s = limit_scope_by_name(r->scope);

	if (s > LS_DEFAULT)
		limits_apply(ctx, (enum limit_scope)s, r->name, r->value);
	return 0;
}

/* What cli_limit_annotate needs: the limits map and the scope being shown. */
struct cli_annotate {
	json_t *map;
	const char *scope;
	int failed;
};

/* limit_row_cb: add who set it and when to the entry of a limit set at the shown scope. */
static int cli_limit_annotate(void *ctx, const struct limit_row *r)
{
	struct cli_annotate *a = ctx;
	json_t *e = json_object_get(a->map, r->name);
	const char *src = json_string_value(json_object_get(e, "source"));
	if (e == NULL || src == NULL || strcmp(src, a->scope) != 0)
		return 0;
	if (json_object_set_new(e, "updated_by", json_string(r->updated_by)) != 0 ||
	    json_object_set_new(e, "updated_at", json_integer(r->updated_at)) != 0)
		a->failed = 1;
	return 0;
}

/* The effective limits of s: its own rows over what it inherits. 0, or -1 on a store error. */
static int cli_scope_limits(struct cli *c, const struct cli_scope *s, struct limits *l)
{
	switch (s->scope) {
	case LS_GLOBAL:
		limits_init(l, 0, 0);
		return store_limits_list(c->st, "global", 0, cli_limit_apply, l) == ST_OK ? 0 : -1;
	case LS_PLAN:
		limits_init(l, 0, 0);
		if (store_limits_list(c->st, "global", 0, cli_limit_apply, l) != ST_OK)
			return -1;
		return store_limits_list(c->st, "plan", s->p.id, cli_limit_apply, l) == ST_OK ? 0
		                                                                              : -1;
	case LS_TENANT:
		return limits_resolve(c->st, s->t.id, 0, l);
	case LS_KEY:
		return limits_resolve(c->st, s->t.id, s->key_id, l);
	case LS_PROJECT: /* the tenant's limits, and the project's level from its own rows */
		if (limits_resolve(c->st, s->t.id, 0, l) != 0)
			return -1;
		l->project_id = s->pr.id;
		return store_limits_list(c->st, "project", s->pr.id, cli_limit_apply, l) == ST_OK
		           ? 0
		           : -1;
	case LS_TAG: /* the tenant's limits, its tags among them */
		return limits_resolve(c->st, s->t.id, 0, l);
	default:
		return -1;
	}
}

/* A tag's own budgets as {"name":{"value","source"}} (new reference; NULL: memory). */
static json_t *cli_tag_level(const struct limits *l, int64_t tag_id)
{
	const struct limit_def *defs = limit_defs();
	const struct limit_tag *g = NULL;
	json_t *map = json_object();

	for (int i = 0; i < l->ntags; i++)
		if (l->tags[i].id == tag_id)
			g = &l->tags[i];
	for (int i = 0; map != NULL && i < LV__MAX; i++) {
		int id = limit_level_id(i);
		char v[sizeof(g->alerts)] = "";

		if (!limit_settable(id, LS_TAG))
			continue;
		if (g && g->set[i] && i == LV_BUDGET_ENFORCEMENT)
			snprintf(v, sizeof(v), "%s", g->hard ? "hard" : "soft");
		else if (g && g->set[i] && i == LV_ALERT_THRESHOLDS)
			snprintf(v, sizeof(v), "%s", g->alerts);
		else if (g && g->set[i] && defs[id].type == LT_USD)
			limit_format_usd(g->num[i], v, sizeof(v));
		else if (g && g->set[i])
			snprintf(v, sizeof(v), "%" PRId64, g->num[i]);
		if (json_object_set_new(map, defs[id].name,
		                        cli_pack("{s:s, s:s}", "value", v, "source",
		                                 g && g->set[i] ? "tag" : "default")) != 0) {
			json_decref(map);
			return NULL;
		}
	}
	return map;
}

static int cmd_limits_show(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"plan", NULL}, {"tenant", NULL}, {"key", NULL}, {"project", NULL}, {"tag", NULL}};
	static struct limits l; /* ~23 KiB: keep it off the stack */
	const struct limit_def *defs = limit_defs();
	struct cli_annotate ann;
	struct cli_scope s;
	json_t *out, *map;
	size_t npos;
	int global, rc;

	global = cli_flag(&argc, argv, "global");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_scope_get(c, global, &opts[0], &opts[1], &opts[2], &opts[3], &opts[4], 0,
	                        &s)) != CLI_OK)
		return rc;
	if (cli_scope_limits(c, &s, &l) < 0)
		return cli_error("database error while reading the limits of %s", s.label);
	map = json_object();
	if (map == NULL)
		return cli_error("out of memory");
	for (int i = 0; i < LIM__MAX; i++)
		if (json_object_set_new(map, defs[i].name,
		                        cli_pack("{s:s, s:s}", "value", l.v[i].text, "source",
		                                 limit_scope_name(l.v[i].source))) != 0) {
			json_decref(map);
			return cli_error("cannot build the JSON output");
		}
	ann.map = map;
	ann.scope = limit_scope_name(s.scope);
	ann.failed = 0;
	if (store_limits_list(c->st, ann.scope, s.scope_id, cli_limit_annotate, &ann) != ST_OK) {
		json_decref(map);
		return cli_error("database error while reading the limits of %s", s.label);
	}
	if (ann.failed) {
		json_decref(map);
		return cli_error("cannot build the JSON output");
	}
	out =
	    cli_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "scope", ann.scope, "plan",
	             s.scope == LS_PLAN     ? json_string(s.p.name)
	             : s.scope >= LS_TENANT ? json_string(s.t.plan)
	                                    : json_null(),
	             "tenant_id", s.scope >= LS_TENANT ? json_integer(s.t.id) : json_null(),
	             "tenant", s.scope >= LS_TENANT ? json_string(s.t.slug) : json_null(), "key_id",
	             s.scope == LS_KEY ? json_integer(s.key_id) : json_null(), "limits", map);
	/* A key's own level, its project's: budgets and a model list besides the tenant's. */
	if (out != NULL && s.scope == LS_KEY &&
	    (json_object_set_new(out, "key_level", limits_level_json(l.key, LS_KEY)) != 0 ||
	     json_object_set_new(out, "project_id",
	                         l.project_id ? json_integer(l.project_id) : json_null()) != 0 ||
	     json_object_set_new(out, "project_level", limits_level_json(l.project, LS_PROJECT)) !=
	         0)) {
		json_decref(out);
		return cli_error("cannot build the JSON output");
	}
	if (out != NULL && s.scope == LS_TAG &&
	    (json_object_set_new(out, "tag", cli_pack("s++", s.tag_key, "=", s.tag_value)) != 0 ||
	     json_object_set_new(out, "tag_id", json_integer(s.scope_id)) != 0 ||
	     json_object_set_new(out, "tag_level", cli_tag_level(&l, s.scope_id)) != 0)) {
		json_decref(out);
		return cli_error("cannot build the JSON output");
	}
	if (out != NULL && s.scope == LS_PROJECT &&
	    (json_object_set_new(out, "project", json_string(s.pr.name)) != 0 ||
	     json_object_set_new(out, "project_id", json_integer(s.pr.id)) != 0 ||
	     json_object_set_new(out, "project_level", limits_level_json(l.project, LS_PROJECT)) !=
	         0)) {
		json_decref(out);
		return cli_error("cannot build the JSON output");
	}
	return cli_emit(out);
}

/* Audit target text of a limit at a scope: "limit:tenant:3:rpm". */
static void cli_limit_target(const struct cli_scope *s, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "limit:%s:%" PRId64 ":%s", limit_scope_name(s->scope), s->scope_id,
	         name);
}

static int cmd_limits_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"plan", NULL}, {"tenant", NULL}, {"key", NULL}, {"project", NULL}, {"tag", NULL}};
	const struct limit_def *defs = limit_defs();
	char value[STORE_LIMIT_VALUE_MAX + 1], err[256], where[64], target[128];
	const char *pos[2], *scope;
	struct cli_scope s;
	size_t npos;
	int global, id, rc;

	global = cli_flag(&argc, argv, "global");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 2, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 2)
		return cli_usage_error(c, "missing NAME and VALUE");
	id = limit_by_name(pos[0]);
	if (id < 0) {
		rc = cli_usage_error(c, "unknown limit '%s'", pos[0]);
		cli_limit_names();
		return rc;
	}
	if (limit_validate(id, pos[1], value, sizeof(value), err, sizeof(err)) != 0)
		return cli_usage_error(c, "%s", err);
	if (opts[4].value != NULL && !limit_settable(id, LS_TAG)) /* before the tag is made */
		return cli_usage_error(c,
		                       "limit '%s' cannot be set at the tag scope (a tag carries"
		                       " budgets and budget_enforcement)",
		                       defs[id].name);
	if ((rc = cli_scope_get(c, global, &opts[0], &opts[1], &opts[2], &opts[3], &opts[4], 1,
	                        &s)) != CLI_OK)
		return rc;
	if (!limit_settable(id, s.scope)) {
		cli_scope_list(defs[id].scopes |
		                   (limit_level_of(id) >= 0 ? LSB(LS_KEY) | LSB(LS_PROJECT) : 0),
		               where, sizeof(where));
		return cli_usage_error(
		    c, "limit '%s' cannot be set at the %s scope (it can be set at: %s)",
		    defs[id].name, limit_scope_name(s.scope), where);
	}
	scope = limit_scope_name(s.scope);
	if (store_limit_set(c->st, scope, s.scope_id, defs[id].name, value, c->actor) != ST_OK)
		return cli_error("database error while setting %s for %s", defs[id].name, s.label);
	cli_limit_target(&s, defs[id].name, target, sizeof(target));
	rc = cli_audit(c, s.scope >= LS_TENANT ? s.t.id : 0, "limit.set", target,
	               cli_pack("{s:s, s:I, s:s, s:s}", "scope", scope, "scope_id",
	                        (json_int_t)s.scope_id, "name", defs[id].name, "value", value));
	return cli_finish(cli_emit(cli_pack("{s:s, s:I, s:s, s:s, s:s}", "scope", scope, "scope_id",
	                                    (json_int_t)s.scope_id, "name", defs[id].name, "value",
	                                    value, "updated_by", c->actor)),
	                  rc);
}

static int cmd_limits_unset(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"plan", NULL}, {"tenant", NULL}, {"key", NULL}, {"project", NULL}, {"tag", NULL}};
	char target[128];
	const char *pos[1], *scope, *name;
	struct cli_scope s;
	size_t npos;
	int global, rc;

	global = cli_flag(&argc, argv, "global");
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	name = pos[0];
	/* An unknown name is accepted: a hand-made row must stay removable. */
	if (!valid_text(name, STORE_LIMIT_NAME_MAX, 0) || name[0] == '\0')
		return cli_usage_error(c, "'%s' is not a limit name", name);
	if ((rc = cli_scope_get(c, global, &opts[0], &opts[1], &opts[2], &opts[3], &opts[4], 0,
	                        &s)) != CLI_OK)
		return rc;
	scope = limit_scope_name(s.scope);
	rc = store_limit_unset(c->st, scope, s.scope_id, name);
	if (rc == ST_NOTFOUND)
		return cli_emit(cli_pack("{s:s, s:I, s:s, s:b}", "scope", scope, "scope_id",
		                         (json_int_t)s.scope_id, "name", name, "removed", 0));
	if (rc != ST_OK)
		return cli_error("database error while unsetting %s for %s", name, s.label);
	cli_limit_target(&s, name, target, sizeof(target));
	rc = cli_audit(c, s.scope >= LS_TENANT ? s.t.id : 0, "limit.unset", target,
	               cli_pack("{s:s, s:I, s:s}", "scope", scope, "scope_id",
	                        (json_int_t)s.scope_id, "name", name));
	return cli_finish(cli_emit(cli_pack("{s:s, s:I, s:s, s:b}", "scope", scope, "scope_id",
	                                    (json_int_t)s.scope_id, "name", name, "removed", 1)),
	                  rc);
}

/* plan_cb: append one plan to the JSON array ctx. */
static int cli_plan_collect(void *ctx, const struct plan *p)
{
	return cli_array_add(ctx, objects_plan(p));
}

static int fill_plan_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	(void)t;
	return store_plan_list(c->st, cli_plan_collect, arr);
}

static int cmd_plan_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 0, fill_plan_list, "plans");
}

static int cmd_plan_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"description", NULL}};
	const char *pos[1], *name, *desc;
	struct plan p;
	char target[48];
	int64_t id = 0;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	name = pos[0];
	desc = opts[0].value ? opts[0].value : "";
	if (!valid_name(VALID_PLAN, name))
		return cli_usage_error(c, "plan name '%s': use %s", name, valid_hint(VALID_PLAN));
	if (!valid_text(desc, 200, 0))
		return cli_usage_error(c, "--description: at most 200 bytes of UTF-8 text without"
		                          " control characters");
	rc = store_plan_create(c->st, name, desc, &id);
	if (rc == ST_CONFLICT)
		return cli_error("plan '%s' already exists", name);
	if (rc != ST_OK)
		return cli_error("database error while creating plan '%s'", name);
	if (store_plan_get(c->st, name, &p) != ST_OK) {
		memset(&p, 0, sizeof(p));
		p.id = id;
		util_strlcpy(p.name, name, sizeof(p.name));
		util_strlcpy(p.description, desc, sizeof(p.description));
	}
	snprintf(target, sizeof(target), "plan:%s", name);
	rc = cli_audit(c, 0, "plan.create", target,
	               cli_pack("{s:I, s:s}", "plan_id", (json_int_t)p.id, "description", desc));
	return cli_finish(cli_emit(objects_plan(&p)), rc);
}

/* ------------------------------------------------------------------ projects */

/* A project's JSON form. */
static json_t *cli_project_json(const struct tenant *t, const struct project *p)
{
	return cli_pack("{s:I, s:I, s:s, s:s, s:I, s:I}", "id", (json_int_t)p->id, "tenant_id",
	                (json_int_t)t->id, "tenant", t->slug, "name", p->name, "keys",
	                (json_int_t)p->keys, "created_at", (json_int_t)p->created_at);
}

/* project_cb's context: the list and the tenant of its rows. */
struct cli_project_rows {
	json_t *arr;
	const struct tenant *t;
};

/* project_cb: append one project to the list in ctx. */
static int cli_project_collect(void *ctx, const struct project *p)
{
	struct cli_project_rows *pr = ctx;

	return cli_array_add(pr->arr, cli_project_json(pr->t, p));
}

static int fill_project_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	struct cli_project_rows pr = {arr, t};

	return store_project_list(c->st, t->id, cli_project_collect, &pr);
}

static int cmd_project_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_project_list, "projects");
}

static int cmd_project_create(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}};
	const char *pos[1];
	struct tenant t;
	struct project p;
	char target[96];
	int64_t id = 0;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	if ((rc = cli_require(c, &opts[0])) != CLI_OK)
		return rc;
	if (!valid_name(VALID_PROJECT, pos[0]))
		return cli_usage_error(c, "project name '%s': use %s", pos[0],
		                       valid_hint(VALID_PROJECT));
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	rc = store_project_create(c->st, t.id, pos[0], &id);
	if (rc == ST_CONFLICT)
		return cli_error("tenant '%s' already has a project '%s'", t.slug, pos[0]);
	if (rc != ST_OK || store_project_get_id(c->st, t.id, id, &p) != ST_OK)
		return cli_error("database error while creating project '%s'", pos[0]);
	snprintf(target, sizeof(target), "project:%" PRId64, id);
	rc = cli_audit(c, t.id, "project.create", target, cli_pack("{s:s}", "name", p.name));
	return cli_finish(cli_emit(cli_project_json(&t, &p)), rc);
}

static int cmd_project_delete(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}};
	const char *pos[1];
	struct tenant t;
	struct project p;
	char target[96];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(c, "missing NAME");
	if ((rc = cli_require(c, &opts[0])) != CLI_OK)
		return rc;
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	if ((rc = cli_project(c, &t, pos[0], &p)) != CLI_OK)
		return rc;
	if (store_project_delete(c->st, t.id, p.id) != ST_OK)
		return cli_error("database error while deleting project '%s'", p.name);
	snprintf(target, sizeof(target), "project:%" PRId64, p.id);
	rc = cli_audit(c, t.id, "project.delete", target,
	               cli_pack("{s:s, s:I}", "name", p.name, "keys", (json_int_t)p.keys));
	return cli_finish(cli_emit(cli_pack("{s:I, s:s, s:b}", "id", (json_int_t)p.id, "name",
	                                    p.name, "deleted", 1)),
	                  rc);
}

static int cmd_project_rename(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}};
	const char *pos[2];
	struct tenant t;
	struct project p;
	char target[96];
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 2, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != 2)
		return cli_usage_error(c, "missing NAME NEW-NAME");
	if ((rc = cli_require(c, &opts[0])) != CLI_OK)
		return rc;
	if (!valid_name(VALID_PROJECT, pos[1]))
		return cli_usage_error(c, "project name '%s': use %s", pos[1],
		                       valid_hint(VALID_PROJECT));
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	if ((rc = cli_project(c, &t, pos[0], &p)) != CLI_OK)
		return rc;
	rc = strcmp(p.name, pos[1]) == 0 ? ST_OK : store_project_rename(c->st, t.id, p.id, pos[1]);
	if (rc == ST_CONFLICT)
		return cli_error("tenant '%s' already has a project '%s'", t.slug, pos[1]);
	if (rc != ST_OK)
		return cli_error("database error while renaming project '%s'", p.name);
	snprintf(target, sizeof(target), "project:%" PRId64, p.id);
	rc = cli_audit(c, t.id, "project.rename", target,
	               cli_pack("{s:s, s:s}", "from", p.name, "to", pos[1]));
	util_strlcpy(p.name, pos[1], sizeof(p.name));
	return cli_finish(cli_emit(cli_project_json(&t, &p)), rc);
}

/* project add-key NAME / remove-key: one key into a project (out of any other), or out. */
static int cli_project_key(struct cli *c, int argc, char **argv, int add)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"key", NULL}};
	const char *pos[1];
	struct tenant t;
	struct api_key k;
	struct project p;
	char target[96];
	int64_t before = 0;
	size_t npos;
	int rc;

	memset(&p, 0, sizeof(p));
	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
	if (rc != CLI_OK)
		return rc;
	if (npos != (add ? 1u : 0u))
		return cli_usage_error(c, add ? "missing NAME (the project)"
		                              : "no NAME: a key leaves whatever project it is in");
	if ((rc = cli_key_target(c, &opts[0], &opts[1], &t, &k)) != CLI_OK)
		return rc;
	if (add && (rc = cli_project(c, &t, pos[0], &p)) != CLI_OK)
		return rc;
	if (store_project_of_key(c->st, t.id, k.id, &before) != ST_OK)
		return cli_error("database error while reading key %" PRId64 "'s project", k.id);
	rc = store_project_key_set(c->st, t.id, k.id, add ? p.id : 0);
	if (rc != ST_OK && rc != ST_NOTFOUND)
		return cli_error("database error while changing key %" PRId64 "'s project", k.id);
	snprintf(target, sizeof(target), "key:%" PRId64, k.id);
	rc = cli_audit(c, t.id, add ? "project.add_key" : "project.remove_key", target,
	               cli_pack("{s:I, s:I}", "project_id", (json_int_t)(add ? p.id : 0), "was_in",
	                        (json_int_t)before));
	return cli_finish(cli_emit(cli_pack("{s:I, s:o, s:o, s:o}", "key_id", (json_int_t)k.id,
	                                    "project_id", add ? json_integer(p.id) : json_null(),
	                                    "project", add ? json_string(p.name) : json_null(),
	                                    "was_in", before ? json_integer(before) : json_null())),
	                  rc);
}

static int cmd_project_add_key(struct cli *c, int argc, char **argv)
{
	return cli_project_key(c, argc, argv, 1);
}

static int cmd_project_remove_key(struct cli *c, int argc, char **argv)
{
	return cli_project_key(c, argc, argv, 0);
}

const struct cli_cmd cli_cmds_limits[] = {
    {"limits", "show", cmd_limits_show, CLI_NEED_DB,
     "(--global | --plan PLAN | --tenant TENANT [--key ID | --project NAME | --tag K=V])",
     "effective limits of a scope, each with its source"},
    {"limits", "set", cmd_limits_set, CLI_NEED_DB,
     "(--global | --plan PLAN | --tenant TENANT [--key ID | --project NAME | --tag K=V]) NAME"
     " VALUE",
     "set a limit at a scope"},
    {"limits", "unset", cmd_limits_unset, CLI_NEED_DB,
     "(--global | --plan PLAN | --tenant TENANT [--key ID | --project NAME | --tag K=V]) NAME",
     "remove a limit from a scope (the inherited value applies)"},
    {"plan", "list", cmd_plan_list, CLI_NEED_DB, "", "list plans"},
    {"project", "create", cmd_project_create, CLI_NEED_DB, "--tenant TENANT NAME",
     "create a project (a budget level between the tenant and its keys)"},
    {"project", "list", cmd_project_list, CLI_NEED_DB, "--tenant TENANT",
     "list a tenant's projects and how many keys each has"},
    {"project", "delete", cmd_project_delete, CLI_NEED_DB, "--tenant TENANT NAME",
     "delete a project, its limits and its provider keys (its keys stay, in no project)"},
    {"project", "rename", cmd_project_rename, CLI_NEED_DB, "--tenant TENANT NAME NEW-NAME",
     "rename a project (its keys, limits and provider keys stay)"},
    {"project", "add-key", cmd_project_add_key, CLI_NEED_DB, "--tenant TENANT --key ID NAME",
     "put a key in a project (out of any other: a key is in at most one)"},
    {"project", "remove-key", cmd_project_remove_key, CLI_NEED_DB, "--tenant TENANT --key ID",
     "take a key out of its project"},
    {"plan", "create", cmd_plan_create, CLI_NEED_DB, "NAME [--description TEXT]",
     "create a plan (it inherits the global limits)"},
};
const size_t cli_ncmds_limits = ARRAY_SIZE(cli_cmds_limits);
