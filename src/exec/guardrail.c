/*
 * guardrail.c: a tenant's chain of checks around a model call (see
 * exec/guardrail.h).
 *
 * DESIGN
 * One runner for tools and guardrails: each check is a tool_runner_run
 * with AGENTHOST_GUARDRAIL naming it and its registered settings as the
 * environment. The verdict table (verdict_rules) says which keys each
 * action may carry at each stage; anything outside it is a failed check.
 * Redacted messages point into the verdicts that carried them (g->keep
 * holds them) so no text is copied twice.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"
#include "enforce/limits.h"
#include "exec/execute.h"
#include "exec/guardrail.h"
#include "host/http.h"
#include "store/limits.h"
#include "tenancy/identify.h"
#include "tools/runner.h"

#define GUARDRAIL_REASON_MAX 500 /* bytes of a denial's reason kept */

enum grail_stage { GS_BEFORE, GS_AFTER };

static const char *const stage_names[] = {[GS_BEFORE] = "before", [GS_AFTER] = "after"};

/* ------------------------------------------------------------------ definitions */

/* 1 when a check registered for stage s ("before" | "after" | "both") runs at st. */
static int grail_runs_at(const char *s, enum grail_stage st)
{
	return strcmp(s, "both") == 0 || strcmp(s, stage_names[st]) == 0;
}

/* Split the NAME=value lines of env into vars (pointing into buf, which gets a copy). */
static int grail_env(const char *env, char *buf, size_t cap, struct tool_env *vars, size_t *n)
{
	char *line, *save = NULL, *eq;

	*n = 0;
	if (util_strlcpy(buf, env, cap) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		eq = strchr(line, '=');
		if (eq == NULL || *n >= GUARDRAIL_ENV_VARS)
			return -1;
		*eq = '\0';
		if (!tool_runner_env_name_ok(line))
			return -1;
		vars[*n].name = line;
		vars[(*n)++].value = eq + 1;
	}
	return 0;
}

int guardrail_def_check(const struct guardrail_def *d, const char *dir, char *err, size_t errlen)
{
	char buf[GUARDRAIL_ENV_MAX + 1], real[4096], realdir[4096];
	struct tool_env vars[GUARDRAIL_ENV_VARS];
	struct stat sb;
	size_t n, dl;

	if (!valid_name(VALID_TOOL, d->name)) {
		snprintf(err, errlen, "name: '%.64s' must be %s", d->name, valid_hint(VALID_TOOL));
		return -1;
	}
	if (!grail_runs_at(d->stage, GS_BEFORE) && !grail_runs_at(d->stage, GS_AFTER)) {
		snprintf(err, errlen, "stage: must be before, after or both");
		return -1;
	}
	if (d->timeout_ms < 1 || d->timeout_ms > GUARDRAIL_TIMEOUT_MAX) {
		snprintf(err, errlen, "timeout_ms: must be 1 to %d", GUARDRAIL_TIMEOUT_MAX);
		return -1;
	}
	if (!valid_text(d->description, GUARDRAIL_DESC_MAX, 0)) {
		snprintf(err, errlen, "description: at most %d bytes of one-line UTF-8 text",
		         GUARDRAIL_DESC_MAX);
		return -1;
	}
	if (grail_env(d->env, buf, sizeof(buf), vars, &n) < 0) {
		snprintf(err, errlen,
		         "env: at most %d NAME=value settings, names of A-Z 0-9 _ not starting "
		         "with AGENTHOST_",
		         GUARDRAIL_ENV_VARS);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!valid_text(vars[i].value, GUARDRAIL_ENV_MAX, 0)) {
			snprintf(err, errlen, "env: the value of %s is not one line of text",
			         vars[i].name);
			return -1;
		}
	if (dir == NULL || dir[0] != '/' || realpath(dir, realdir) == NULL) {
		snprintf(err, errlen,
		         "guardrail_dir '%.200s' is not an existing absolute directory",
		         dir ? dir : "");
		return -1;
	}
	if (d->exec_path[0] != '/' || realpath(d->exec_path, real) == NULL ||
	    stat(real, &sb) != 0 || !S_ISREG(sb.st_mode) || access(real, X_OK) != 0) {
		snprintf(err, errlen, "exec_path: '%.200s' is not an executable file",
		         d->exec_path);
		return -1;
	}
	dl = strlen(realdir);
	if (strncmp(real, realdir, dl) != 0 || (real[dl] != '/' && realdir[dl - 1] != '/')) {
		snprintf(err, errlen, "exec_path: '%.200s' is not under guardrail_dir (%.200s)",
		         d->exec_path, realdir);
		return -1;
	}
	return 0;
}

/* The chain a tenant inherits, its plan's else the global one: limit_row_cb. */
struct grail_inherit {
	char plan[STORE_LIMIT_VALUE_MAX + 1], global[STORE_LIMIT_VALUE_MAX + 1];
	int has_plan;
};

static int grail_inherit_row(void *ctx, const struct limit_row *row)
{
	struct grail_inherit *g = ctx;

	if (strcmp(row->name, "guardrails") != 0)
		return 0;
	if (strcmp(row->scope, "plan") == 0) {
		util_strlcpy(g->plan, row->value, sizeof(g->plan));
		g->has_plan = 1;
	} else if (strcmp(row->scope, "global") == 0) {
		util_strlcpy(g->global, row->value, sizeof(g->global));
	}
	return 0;
}

int guardrail_chain_keeps(struct store *st, int64_t tenant_id, const char *chain, char *err,
                          size_t errlen)
{
	struct grail_inherit *g = calloc(1, sizeof(*g)); /* 2 KB: not on a coroutine's stack */
	char *save = NULL, *p;
	int rc = 0;

	if (g == NULL || store_limits_applicable(st, tenant_id, 0, grail_inherit_row, g) != ST_OK) {
		free(g);
		return -2;
	}
	for (p = strtok_r(g->has_plan ? g->plan : g->global, ",", &save); p != NULL && rc == 0;
	     p = strtok_r(NULL, ",", &save))
		if (chain[0] == '\0' || !limits_list_allows(chain, p)) {
			snprintf(
			    err, errlen,
			    "the guardrail '%.64s' is required by the %s and cannot be left out "
			    "of the tenant's chain",
			    p, g->has_plan ? "tenant's plan" : "operator");
			rc = -1;
		}
	free(g);
	return rc;
}

int guardrail_chain_check(struct store *st, const char *chain, char *err, size_t errlen)
{
	static _Thread_local struct guardrail_def d; /* 4 KiB: off the stack */
	char names[GUARDRAIL_CHAIN_MAX][GUARDRAIL_NAME_MAX + 1];
	size_t n = 0;
	const char *p = chain;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char name[GUARDRAIL_NAME_MAX + 1];
		int rc;

		if (len == 0 || len > GUARDRAIL_NAME_MAX) {
			snprintf(err, errlen, "guardrails: an empty or too long name in the chain");
			return -1;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (n == GUARDRAIL_CHAIN_MAX) {
			snprintf(err, errlen, "guardrails: at most %d checks in a chain",
			         GUARDRAIL_CHAIN_MAX);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], name) == 0) {
				snprintf(err, errlen, "guardrails: '%s' is in the chain twice",
				         name);
				return -1;
			}
		rc = store_guardrail_get(st, name, &d);
		if (rc == ST_ERR)
			return -2;
		if (rc == ST_NOTFOUND) {
			snprintf(err, errlen, "guardrails: '%.64s' is not a registered guardrail",
			         name);
			return -1;
		}
		util_strlcpy(names[n++], name, sizeof(names[0]));
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ the chain */

/* Set err to reason with a formatted message. Returns -1. */
static int grail_fail(struct refusal *err, enum reason code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int grail_fail(struct refusal *err, enum reason code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reason_vset(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

int guardrail_load(struct req *r, const struct ident *id, struct guardrail_run *g,
                   struct refusal *err)
{
	char chain[sizeof(((struct limit_value *)0)->text)];
	struct limits *own = NULL;
	const char *p;
	int rc = -1;

	memset(g, 0, sizeof(*g));
	g->dir = r->conf->guardrail_dir;
	if (id->lim != NULL) {
		util_strlcpy(chain, id->lim->v[LIM_GUARDRAILS].text, sizeof(chain));
	} else {
		/* enforcement off: the chain is still the tenant's */
		own = malloc(sizeof(*own));
		if (own == NULL || limits_get(r->store, id->tenant_id, id->key_id, own) < 0) {
			grail_fail(err, R_database_unavailable, "the limits are unavailable");
			goto out;
		}
		util_strlcpy(chain, own->v[LIM_GUARDRAILS].text, sizeof(chain));
	}
	if (chain[0] == '\0') {
		rc = 0;
		goto out;
	}
	g->defs = calloc(GUARDRAIL_CHAIN_MAX, sizeof(*g->defs));
	g->decisions = json_array();
	g->keep = json_array();
	if (g->defs == NULL || g->decisions == NULL || g->keep == NULL) {
		grail_fail(err, R_server_busy, "out of memory");
		goto out;
	}
	for (p = chain; p != NULL && *p != '\0';) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char name[GUARDRAIL_NAME_MAX + 1];
		struct guardrail_def *d = &g->defs[g->n];
		int st;

		if (g->n == GUARDRAIL_CHAIN_MAX || len > GUARDRAIL_NAME_MAX) {
			grail_fail(err, R_guardrail_failed,
			           "the tenant's guardrail chain is longer than %d checks",
			           GUARDRAIL_CHAIN_MAX);
			goto out;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		st = store_guardrail_get(r->store, name, d);
		if (st == ST_ERR) {
			grail_fail(err, R_database_unavailable,
			           "the guardrail registry is unavailable");
			goto out;
		}
		if (st == ST_NOTFOUND) {
			/* A chain naming a check that is gone fails closed, never open. */
			grail_fail(err, R_guardrail_failed,
			           "guardrail '%s' of the tenant's chain is not registered", name);
			goto out;
		}
		g->has_before |= d->enabled && grail_runs_at(d->stage, GS_BEFORE);
		g->has_after |= d->enabled && grail_runs_at(d->stage, GS_AFTER);
		g->n++;
		p = e ? e + 1 : NULL;
	}
	rc = 0;
out:
	free(own);
	return rc;
}

/* Record one check's decision. */
static void grail_note(struct guardrail_run *g, const struct guardrail_def *d, enum grail_stage st,
                       const char *action, const char *reason, int ms)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:i}", "name", d->name, "stage",
	                      stage_names[st], "action", action, "reason", reason, "ms", ms);

	if (o != NULL)
		json_array_append_new(g->decisions, o);
}

/* The messages a check sees: the redacted ones when an earlier check redacted. */
static json_t *grail_messages(const struct exec_call *call, const struct guardrail_run *g)
{
	const struct ah_message *m = g->msgs ? g->msgs : call->messages;
	size_t n = g->msgs ? g->n_msgs : call->n_messages;
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s}", "role", m[i].role, "content",
		                                     m[i].content ? m[i].content : ""));
	return arr;
}

/*
 * The verdict rules: which keys each action carries at each stage. Any key
 * outside its row, or a row missing, is a failed check.
 */
struct verdict_rule {
	const char *action;
	enum grail_stage stage;
	const char *key; /* the one key besides "action", or NULL */
};

static const struct verdict_rule verdict_rules[] = {
    {"allow", GS_BEFORE, NULL},        {"allow", GS_AFTER, NULL},
    {"deny", GS_BEFORE, "reason"},     {"deny", GS_AFTER, "reason"},
    {"redact", GS_BEFORE, "messages"}, {"redact", GS_AFTER, "content"},
};

/*
 * Check a redaction of the messages: as many as were sent, each {role,
 * content} with the role unchanged and content a string. 0 or -1 with why.
 */
static int grail_check_messages(json_t *arr, const struct exec_call *call,
                                const struct guardrail_run *g, char *why, size_t cap)
{
	const struct ah_message *m = g->msgs ? g->msgs : call->messages;
	size_t n = g->msgs ? g->n_msgs : call->n_messages, i;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) != n) {
		snprintf(why, cap, "'messages' must be an array of the %zu messages sent", n);
		return -1;
	}
	json_array_foreach(arr, i, v)
	{
		const char *role = json_string_value(json_object_get(v, "role"));
		json_t *c = json_object_get(v, "content");

		if (!json_is_object(v) || json_object_size(v) != 2 || role == NULL ||
		    strcmp(role, m[i].role) != 0 || !json_is_string(c)) {
			snprintf(why, cap,
			         "message %zu must be {\"role\": \"%s\", \"content\": string}", i,
			         m[i].role);
			return -1;
		}
	}
	return 0;
}

/*
 * Parse and check a verdict. Returns the rule's index, or -1 with why set.
 * *vp gets the parsed verdict (the caller's reference).
 */
static int grail_verdict(const char *out, enum grail_stage st, const struct exec_call *call,
                         const struct guardrail_run *g, json_t **vp, char *why, size_t cap)
{
	json_error_t je;
	json_t *v = json_loads(out ? out : "", JSON_REJECT_DUPLICATES, &je);
	const char *action;
	const struct verdict_rule *rule = NULL;
	json_t *x;

	*vp = v;
	if (!json_is_object(v)) {
		snprintf(why, cap, "the verdict is not a JSON object");
		return -1;
	}
	action = json_string_value(json_object_get(v, "action"));
	for (size_t i = 0; action != NULL && i < ARRAY_SIZE(verdict_rules); i++)
		if (verdict_rules[i].stage == st && strcmp(verdict_rules[i].action, action) == 0)
			rule = &verdict_rules[i];
	if (rule == NULL) {
		snprintf(why, cap, "\"action\" must be allow, deny or redact");
		return -1;
	}
	if (json_object_size(v) != (rule->key ? 2u : 1u) ||
	    (rule->key && json_object_get(v, rule->key) == NULL)) {
		snprintf(why, cap, "a \"%s\" verdict %s%s%s and nothing else", action,
		         rule->key ? "carries \"" : "has only \"action\"",
		         rule->key ? rule->key : "", rule->key ? "\"" : "");
		return -1;
	}
	x = rule->key ? json_object_get(v, rule->key) : NULL;
	if (strcmp(action, "deny") == 0 &&
	    (!json_is_string(x) || json_string_length(x) == 0 ||
	     !valid_text(json_string_value(x), GUARDRAIL_REASON_MAX, 0))) {
		snprintf(why, cap, "a deny's \"reason\" must be 1-%d bytes of one-line text",
		         GUARDRAIL_REASON_MAX);
		return -1;
	}
	if (strcmp(action, "redact") == 0 && st == GS_AFTER && !json_is_string(x)) {
		snprintf(why, cap, "a redact's \"content\" must be a string");
		return -1;
	}
	if (strcmp(action, "redact") == 0 && st == GS_BEFORE &&
	    grail_check_messages(x, call, g, why, cap) < 0)
		return -1;
	return (int)(rule - verdict_rules);
}

/* What went wrong with a check that gave no verdict, for people. */
static void grail_runner_why(const struct tool_run_result *res, const struct guardrail_def *d,
                             char *why, size_t cap)
{
	switch (res->err.reason) {
	case R_tool_timeout:
		snprintf(why, cap, "timed out after %d ms", d->timeout_ms);
		break;
	case R_tool_crashed:
		snprintf(why, cap, "crashed (signal %d)", res->term_signal);
		break;
	case R_tool_failed:
		if (res->exit_status > 0)
			snprintf(why, cap, "exited with status %d", res->exit_status);
		else
			snprintf(why, cap, "could not be talked to");
		break;
	case R_tool_invalid_output:
		snprintf(why, cap, "printed something that is not JSON");
		break;
	case R_tool_output_too_large:
		snprintf(why, cap, "printed more than its output cap");
		break;
	default:
		snprintf(why, cap, "could not be started");
		break;
	}
}

/*
 * Run check d at stage st. 0 allow (or redact applied), -1 with err set.
 * After: *text may be replaced.
 */
static int grail_one(const struct ident *id, const struct exec_call *call, const char *model,
                     struct guardrail_run *g, const struct guardrail_def *d, enum grail_stage st,
                     char **text, struct refusal *err)
{
	char envbuf[GUARDRAIL_ENV_MAX + 1], why[256];
	struct tool_env vars[GUARDRAIL_ENV_VARS];
	struct tool_run_spec s;
	struct tool_run_result res;
	json_t *in, *v = NULL;
	char *input = NULL;
	size_t nvars = 0, dl = strlen(g->dir);
	int rule, rc = -1;

	while (dl > 1 && g->dir[dl - 1] == '/')
		dl--;
	memset(&res, 0, sizeof(res));
	in = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "stage", stage_names[st], "guardrail",
	               d->name, "tenant_id", (json_int_t)id->tenant_id, "call_id", call->id, "kind",
	               call->kind, "model", model, "messages", grail_messages(call, g));
	if (in != NULL && st == GS_AFTER)
		json_object_set_new(in, "content", json_string(*text ? *text : ""));
	input = in ? json_dumps(in, JSON_COMPACT) : NULL;
	json_decref(in);
	if (input == NULL) {
		grail_fail(err, R_server_busy, "out of memory");
		goto out;
	}
	/* Registered under guardrail_dir; checked again in case the configuration moved it. */
	if (grail_env(d->env, envbuf, sizeof(envbuf), vars, &nvars) < 0 ||
	    strncmp(d->exec_path, g->dir, dl) != 0 || d->exec_path[dl] != '/') {
		grail_note(g, d, st, "error", "misconfigured (guardrail_dir, env)", 0);
		grail_fail(err, R_guardrail_failed,
		           "guardrail '%s' (%s) is misconfigured: it is not under guardrail_dir or "
		           "its settings do not parse",
		           d->name, stage_names[st]);
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.exec_path = d->exec_path;
	s.tool = d->name;
	s.name_var = "AGENTHOST_GUARDRAIL";
	s.tenant_id = id->tenant_id;
	s.run_id = call->id;
	s.secrets = vars;
	s.n_secrets = nvars;
	s.input = input;
	s.input_len = strlen(input);
	s.timeout_ms = d->timeout_ms;
	s.max_output = 2 * s.input_len + 65536; /* a redaction is about as long as its input */
	if (tool_runner_run(&s, &res) < 0) {
		grail_runner_why(&res, d, why, sizeof(why));
		grail_note(g, d, st, "error", why, res.duration_ms);
		log_warn("guardrail: %s (%s) tenant %lld call %s: %s (%s)", d->name,
		         stage_names[st], (long long)id->tenant_id, call->id, why, res.err.message);
		grail_fail(err, R_guardrail_failed, "guardrail '%s' (%s) failed: %s", d->name,
		           stage_names[st], why);
		goto out;
	}
	rule = grail_verdict(res.output, st, call, g, &v, why, sizeof(why));
	if (rule < 0) {
		grail_note(g, d, st, "error", why, res.duration_ms);
		grail_fail(err, R_guardrail_failed, "guardrail '%s' (%s) gave no valid verdict: %s",
		           d->name, stage_names[st], why);
		goto out;
	}
	if (strcmp(verdict_rules[rule].action, "deny") == 0) {
		const char *reason = json_string_value(json_object_get(v, "reason"));

		grail_note(g, d, st, "deny", reason, res.duration_ms);
		grail_fail(err, R_guardrail_denied, "guardrail '%s' denied the %s: %s", d->name,
		           st == GS_BEFORE ? "request" : "answer", reason);
		goto out;
	}
	if (strcmp(verdict_rules[rule].action, "redact") == 0 && st == GS_AFTER) {
		char *t = strdup(json_string_value(json_object_get(v, "content")));

		if (t == NULL) {
			grail_fail(err, R_server_busy, "out of memory");
			goto out;
		}
		free(*text);
		*text = t;
	} else if (strcmp(verdict_rules[rule].action, "redact") == 0) {
		const struct ah_message *m = g->msgs ? g->msgs : call->messages;
		json_t *arr = json_object_get(v, "messages");
		size_t n = json_array_size(arr);
		struct ah_message *nm = calloc(n ? n : 1, sizeof(*nm));

		if (nm == NULL || json_array_append(g->keep, v) != 0) {
			free(nm);
			grail_fail(err, R_server_busy, "out of memory");
			goto out;
		}
		/* Everything but the text is the message's own (tool calls, ids). */
		for (size_t i = 0; i < n; i++) {
			nm[i] = m[i];
			nm[i].content =
			    json_string_value(json_object_get(json_array_get(arr, i), "content"));
		}
		free(g->msgs);
		g->msgs = nm;
		g->n_msgs = n;
	}
	grail_note(g, d, st, verdict_rules[rule].action, NULL, res.duration_ms);
	rc = 0;
out:
	json_decref(v);
	free(input);
	tool_run_result_free(&res);
	return rc;
}

/* Run every enabled check of stage st, in the chain's order, until one says no. */
static int grail_stage(const struct ident *id, const struct exec_call *call, const char *model,
                       struct guardrail_run *g, enum grail_stage st, char **text,
                       struct refusal *err)
{
	for (size_t i = 0; i < g->n; i++) {
		const struct guardrail_def *d = &g->defs[i];

		if (!grail_runs_at(d->stage, st))
			continue;
		if (!d->enabled) {
			grail_note(g, d, st, "skipped", "disabled", 0);
			continue;
		}
		if (grail_one(id, call, model, g, d, st, text, err) < 0)
			return -1;
	}
	return 0;
}

int guardrail_before(const struct ident *id, const struct exec_call *call, const char *model,
                     struct guardrail_run *g, struct refusal *err)
{
	return g->n > 0 ? grail_stage(id, call, model, g, GS_BEFORE, NULL, err) : 0;
}

int guardrail_after(const struct ident *id, const struct exec_call *call, const char *model,
                    struct guardrail_run *g, char **text, struct refusal *err)
{
	return g->n > 0 ? grail_stage(id, call, model, g, GS_AFTER, text, err) : 0;
}

char *guardrail_decisions_text(const struct guardrail_run *g)
{
	return g->n > 0 && g->decisions ? json_dumps(g->decisions, JSON_COMPACT) : NULL;
}

void guardrail_run_free(struct guardrail_run *g)
{
	free(g->defs);
	free(g->msgs);
	json_decref(g->decisions);
	json_decref(g->keep);
	memset(g, 0, sizeof(*g));
}
