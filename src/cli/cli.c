/*
 * cli.c: the helpers every agenthostctl command uses (see cli.h):
 * messages, JSON output, argument parsing, finding a tenant, audit rows,
 * reading a secret from stdin, the one form of the list commands, and the
 * progress of long commands.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "api/objects.h"
#include "cli/cli.h"
#include "common/util.h"
#include "common/valid.h"
#include "crypto/secrets.h"
#include "store/lifecycle.h"
#include "tenancy/admins.h"

/* ================================================================== output */

/* The progress line drawn at the terminal, which a message must not run into. */
static struct cli_progress *cli_progress_drawn;

/* Clear the progress line, if one is drawn; the next step draws it again. */
static void cli_progress_clear(void)
{
	if (cli_progress_drawn != NULL && cli_progress_drawn->drawn) {
		fputs("\r\033[K", stderr);
		cli_progress_drawn->drawn = 0;
	}
}

int cli_error(const char *fmt, ...)
{
	va_list ap;

	cli_progress_clear();
	fputs(CLI_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

void cli_cmd_usage(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: " CLI_NAME " [-c FILE] %s%s%s%s%s\n", cmd->group, cmd->verb ? " " : "",
	        cmd->verb ? cmd->verb : "", cmd->args[0] ? " " : "", cmd->args);
}

int cli_usage_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fputs(CLI_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_cmd_usage(stderr, c->cmd);
	return CLI_USAGE;
}

int cli_emit(json_t *v)
{
	int rc = CLI_OK;

	if (v == NULL)
		return cli_error("cannot build the JSON output");
	if (json_dumpf(v, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		rc = cli_error("cannot write to stdout: %s", strerror(errno));
	json_decref(v);
	return rc;
}

int cli_array_add(json_t *a, json_t *v)
{
	if (v == NULL)
		return -1;
	return json_array_append_new(a, v);
}

json_t *cli_pack(const char *fmt, ...)
{
	json_error_t jerr;
	json_t *v;
	va_list ap;

	va_start(ap, fmt);
	v = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (v == NULL)
		cli_error("cannot encode output: %s", jerr.text);
	return v;
}

void cli_json_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void cli_secret_notice(const char *what)
{
	fprintf(stderr, CLI_NAME ": store this %s now; it cannot be shown again\n", what);
}

/* ================================================================== arguments */

int cli_args(struct cli *c, int argc, char **argv, struct cli_opt *opts, size_t nopts,
             const char **pos, size_t maxpos, size_t *npos)
{
	int only_pos = 0;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		size_t nlen, k;

		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
			cli_cmd_usage(stdout, c->cmd);
			return CLI_HELP;
		}
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (*npos >= maxpos)
				return cli_usage_error(c, "unexpected argument '%s'", a);
			pos[(*npos)++] = a;
			continue;
		}
		if (a[1] != '-')
			return cli_usage_error(c, "unknown option '%s'", a);
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		for (k = 0; k < nopts; k++)
			if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0)
				break;
		if (k == nopts)
			return cli_usage_error(c, "unknown option '--%.*s'", (int)nlen, name);
		if (opts[k].value != NULL)
			return cli_usage_error(c, "option '--%s' given twice", opts[k].name);
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return cli_usage_error(c, "option '--%s' needs a value",
				                       opts[k].name);
			val = argv[++i];
		}
		opts[k].value = val;
	}
	return CLI_OK;
}

int cli_require(struct cli *c, const struct cli_opt *o)
{
	if (o->value == NULL)
		return cli_usage_error(c, "missing --%s", o->name);
	return CLI_OK;
}

int cli_opt_int(struct cli *c, const struct cli_opt *o, int64_t min, int64_t max, int64_t *out)
{
	if (util_parse_i64(o->value, min, max, out) != 0)
		return cli_usage_error(c, "--%s: '%s' is not an integer in %" PRId64 "..%" PRId64,
		                       o->name, o->value, min, max);
	return CLI_OK;
}

int cli_flag(int *argc, char **argv, const char *name)
{
	int n = 0, o = 0, only_pos = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!only_pos && strcmp(a, "--") == 0)
			only_pos = 1;
		if (!only_pos && a[0] == '-' && a[1] == '-' && strcmp(a + 2, name) == 0) {
			n++;
			continue;
		}
		argv[o++] = argv[i];
	}
	*argc = o;
	return n;
}

int cli_multi(int *argc, char **argv, const char *name, const char **vals, size_t max)
{
	size_t nlen = strlen(name);
	int n = 0, o = 0, only_pos = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!only_pos && strcmp(a, "--") == 0)
			only_pos = 1;
		if (!only_pos && a[0] == '-' && a[1] == '-' && strncmp(a + 2, name, nlen) == 0 &&
		    (a[2 + nlen] == '\0' || a[2 + nlen] == '=')) {
			const char *v = a[2 + nlen] == '=' ? a + 3 + nlen : NULL;

			if (v == NULL) {
				if (i + 1 >= *argc) {
					cli_error("option '--%s' needs a value", name);
					return -1;
				}
				v = argv[++i];
			}
			if ((size_t)n >= max) {
				cli_error("at most %zu --%s options", max, name);
				return -1;
			}
			vals[n++] = v;
			continue;
		}
		argv[o++] = argv[i];
	}
	*argc = o;
	return n;
}

/* ================================================================== shared steps */

int cli_tenant(struct cli *c, const char *arg, struct tenant *t)
{
	int64_t id;
	int rc;

	if (util_parse_i64(arg, 1, INT64_MAX, &id) == 0)
		rc = store_tenant_get(c->st, id, t);
	else if (valid_name(VALID_SLUG, arg))
		rc = store_tenant_get_by_slug(c->st, arg, t);
	else
		return cli_error("'%s' is neither a tenant id nor a tenant slug", arg);
	if (rc == ST_NOTFOUND)
		return cli_error("tenant '%s' not found", arg);
	if (rc != ST_OK)
		return cli_error("database error while reading tenant '%s'", arg);
	return CLI_OK;
}

json_t *cli_tenant_json(struct cli *c, const struct tenant *t)
{
	int64_t after = 0;

	/* an unreadable date only leaves the field out; the tenant itself was read */
	if (store_life_offboard_after(c->st, t->id, &after) != ST_OK)
		after = 0;
	return objects_tenant(t, after);
}

void cli_key_read_back(struct cli *c, int64_t tenant_id, int64_t id, const char *name,
                       const char *prefix, int64_t expires_at, struct api_key *k)
{
	if (store_key_get(c->st, tenant_id, id, k) == ST_OK)
		return;
	memset(k, 0, sizeof(*k));
	k->id = id;
	k->tenant_id = tenant_id;
	util_strlcpy(k->name, name, sizeof(k->name));
	util_strlcpy(k->prefix, prefix, sizeof(k->prefix));
	k->expires_at = expires_at;
}

int cli_audit(struct cli *c, int64_t tenant_id, const char *action, const char *target,
              json_t *detail)
{
	struct audit_entry a;
	char *text = NULL;
	int rc;

	if (detail != NULL) {
		text = json_dumps(detail, JSON_COMPACT);
		json_decref(detail);
		if (text == NULL)
			return cli_error("%s done, but the audit detail could not be encoded",
			                 action);
	}
	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	a.actor_type = "cli";
	a.actor_id = c->actor;
	a.action = action;
	a.target = target;
	a.outcome = "ok";
	a.detail = text;
	rc = store_audit(c->st, &a);
	free(text);
	if (rc != ST_OK)
		return cli_error("%s done, but the audit row could not be written", action);
	return CLI_OK;
}

int cli_finish(int emit_rc, int audit_rc)
{
	return emit_rc != CLI_OK ? emit_rc : audit_rc;
}

int cli_read_secret(const char *what, char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), echo_off = 0, rc = CLI_FAIL;
	size_t n = 0;
	char ch;

	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
			echo_off = 1;
	}
	if (tty)
		fprintf(stderr, "%s: ", what);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_error("cannot read the credential from stdin: %s", strerror(errno));
			goto out;
		}
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= cap) {
			cli_error("credential is longer than %d bytes", SECRETS_MAX_PLAIN);
			goto out;
		}
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0) {
		cli_error("empty credential on stdin");
		goto out;
	}
	if (n > SECRETS_MAX_PLAIN) {
		cli_error("credential is longer than %d bytes", SECRETS_MAX_PLAIN);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char u = (unsigned char)buf[i];

		if (u < 0x20 || u == 0x7f) {
			cli_error("credential contains control characters");
			goto out;
		}
	}
	*len = n;
	rc = CLI_OK;
out:
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (tty)
		fputc('\n', stderr);
	sodium_memzero(&ch, sizeof(ch));
	return rc;
}

int cli_admin_password(const char *name, char hash[crypto_pwhash_STRBYTES])
{
	char pw[SECRETS_MAX_PLAIN + 3], what[96];
	size_t len = 0;
	int rc = CLI_FAIL;

	snprintf(what, sizeof(what), "password for %s", name);
	if (cli_read_secret(what, pw, sizeof(pw), &len) != CLI_OK)
		goto out;
	if (len < ADMIN_PASSWORD_MIN) {
		cli_error("the password must be at least %d characters", ADMIN_PASSWORD_MIN);
		goto out;
	}
	if (admin_password_hash(pw, len, hash) != 0) {
		cli_error("out of memory while hashing the password");
		goto out;
	}
	rc = CLI_OK;
out:
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

int cli_list(struct cli *c, int argc, char **argv, int per_tenant, cli_fill_fn fill,
             const char *what)
{
	struct cli_opt opts[] = {{"tenant", NULL}};
	struct tenant t;
	json_t *arr;
	size_t npos;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = cli_args(c, argc, argv, opts, per_tenant ? ARRAY_SIZE(opts) : 0, NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if (per_tenant) {
		if ((rc = cli_require(c, &opts[0])) != CLI_OK)
			return rc;
		if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
			return CLI_FAIL;
	}
	arr = json_array();
	if (arr == NULL)
		return cli_error("out of memory");
	rc = fill(c, per_tenant ? &t : NULL, arr);
	if (rc != ST_OK) {
		json_decref(arr);
		if (rc == CLI_FILL_REPORTED)
			return CLI_FAIL;
		return per_tenant ? cli_error("database error while listing %s of tenant '%s'",
		                              what, t.slug)
		                  : cli_error("database error while listing %s", what);
	}
	return cli_emit(arr);
}

int cli_ids_add(void *ctx, const struct tenant *t)
{
	struct cli_ids *ids = ctx;

	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 64;
		int64_t *p = realloc(ids->id, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		ids->id = p;
		ids->cap = cap;
	}
	ids->id[ids->n++] = t->id;
	return 0;
}

/* ================================================================== progress */

#define CLI_PROGRESS_REDRAW_US 100000

/* One JSON line: {"progress", "phase", "item", "done", "total", "elapsed_ms"}. */
static void cli_progress_json(struct cli_progress *p, const char *phase, const char *item,
                              int64_t done, int64_t total)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:o, s:I, s:o, s:I}", "progress", p->what, "phase", phase, "item",
	              item ? json_string(item) : json_null(), "done", (json_int_t)done, "total",
	              total >= 0 ? json_integer(total) : json_null(), "elapsed_ms",
	              (json_int_t)((util_now_us() - p->start_us) / 1000));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text != NULL) {
		fprintf(stderr, "%s\n", text);
		fflush(stderr);
	}
	free(text);
	json_decref(o);
}

/* The terminal line, cut to the terminal's width, at most every 100 ms or on a new phase. */
static void cli_progress_tty(struct cli_progress *p, const char *phase, const char *item,
                             int64_t done, int64_t total)
{
	struct winsize ws;
	int64_t now = util_now_us();
	size_t width = 80;
	char line[512];
	int n;

	if (p->drawn && strcmp(phase, p->last_phase) == 0 &&
	    now - p->drawn_us < CLI_PROGRESS_REDRAW_US)
		return;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		width = ws.ws_col;
	if (total >= 0)
		n = snprintf(line, sizeof(line), "%s: %s %s%s%" PRId64 "/%" PRId64, p->what, phase,
		             item ? item : "", item ? " " : "", done, total);
	else
		n = snprintf(line, sizeof(line), "%s: %s %s%s%" PRId64, p->what, phase,
		             item ? item : "", item ? " " : "", done);
	if (n < 0)
		return;
	if ((size_t)n >= width) /* no wrap: a wrapped line cannot be rewritten */
		line[width - 1] = '\0';
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	util_strlcpy(p->last_phase, phase, sizeof(p->last_phase));
	p->drawn = 1;
	p->drawn_us = now;
}

static void cli_progress_step(void *ctx, const char *phase, const char *item, int64_t done,
                              int64_t total)
{
	struct cli_progress *p = ctx;

	if (p->json)
		cli_progress_json(p, phase, item, done, total);
	else
		cli_progress_tty(p, phase, item, done, total);
}

const struct progress *cli_progress_start(struct cli_progress *p, const char *what, int json)
{
	memset(p, 0, sizeof(*p));
	p->what = what;
	p->json = json > 0;
	p->tty = !p->json && isatty(STDERR_FILENO);
	if (p->tty)
		cli_progress_drawn = p;
	p->start_us = util_now_us();
	p->pg.fn = cli_progress_step;
	p->pg.ctx = p;
	return p->json || p->tty ? &p->pg : NULL;
}

void cli_progress_end(struct cli_progress *p, int ok)
{
	if (p->json) {
		cli_progress_json(p, ok ? "done" : "failed", NULL, 0, -1);
	} else if (p->tty) {
		cli_progress_clear();
		fflush(stderr);
		cli_progress_drawn = NULL;
	}
}
