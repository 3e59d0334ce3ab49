/*
 * conf.c: the configuration table and its loader (see conf.h).
 *
 * DESIGN
 * conf_table has one row per key: name, type, offset into struct conf,
 * default, bounds. Defaults are applied from the same table, so a key's
 * default, its bounds and its documentation live in one place. Dotted
 * "provider.<name>.<field>" keys are handled by conf_set_provider because
 * their names come from the provider registry, which validates them at
 * start (an unknown provider name stops start-up there).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"

enum conf_type { CONF_STR, CONF_INT, CONF_LONG, CONF_BOOL, CONF_TYPE__MAX };

struct conf_key {
	const char *name; /* key in the file */
	enum conf_type type;
	size_t off;      /* offset in struct conf */
	size_t size;     /* for CONF_STR: size of the char array */
	const char *def; /* default, as text */
	long min, max;   /* bounds for numbers; for strings, max length check via size */
};

/* clang-format off */
#define S(f, d) {#f, CONF_STR, offsetof(struct conf, f), sizeof(((struct conf *)0)->f), d, 0, 0}
#define I(f, d, lo, hi) {#f, CONF_INT, offsetof(struct conf, f), 0, d, lo, hi}
#define L(f, d, lo, hi) {#f, CONF_LONG, offsetof(struct conf, f), 0, d, lo, hi}
#define B(f, d) {#f, CONF_BOOL, offsetof(struct conf, f), 0, d, 0, 1}

static const struct conf_key conf_table[] = {
	S(listen, ""),
	I(threads, "8", 1, 512),
	I(max_streams, "0", 0, 512),
	S(mount_prefix, ""),
	L(max_body_bytes, "1048576", 1024, 67108864),
	I(max_headers, "64", 8, 1000),
	I(max_json_depth, "32", 2, 256),
	S(db_host, "127.0.0.1"),
	I(db_port, "3306", 1, 65535),
	S(db_socket, ""),
	S(db_user, "agenthost"),
	S(db_password, ""),
	S(db_name, "agenthost"),
	I(db_connect_timeout, "5", 1, 120),
	S(db_nodes, ""),
	I(dedicated_pool, "4", 1, 64),
	I(dedicated_idle_s, "60", 1, 86400),
	S(dedicated_account_host, "%"),
	S(db_admin_user, ""),
	S(db_admin_password, ""),
	S(master_key_file, AH_SYSCONFDIR "/agenthost/master.key"),
	S(sql_dir, AH_DATADIR "/sql"),
	S(log_level, "info"),
	I(upstream_timeout_ms, "120000", 100, 3600000),
	I(upstream_connect_timeout_ms, "10000", 50, 120000),
	I(mock_latency_ms, "0", 0, 600000),
	I(mock_stream_delay_ms, "0", 0, 60000),
	S(plugins, ""),
	I(default_max_tokens, "1024", 1, 1000000),
	B(enforcement, "true"),
	S(budget_timezone, "UTC"),
	S(trusted_proxies, ""),
	I(reaper_interval_ms, "5000", 100, 3600000),
	I(reservation_grace_s, "30", 1, 86400),
	I(promote_after_ms, "200", 0, 3600000),
	I(lease_idle_ms, "30000", 500, 3600000),
	S(operator_token, ""),
	S(template_dir, AH_DATADIR "/templates"),
	S(static_dir, AH_DATADIR "/static"),
	S(state_dir, AH_LOCALSTATEDIR "/lib/agenthost"),
};
/* clang-format on */

#undef S
#undef I
#undef L
#undef B

static int conf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int conf_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int conf_set_row(struct conf *c, const struct conf_key *k, const char *value, char *err,
                        size_t errlen)
{
	char *base = (char *)c + k->off;
	int64_t v;

	switch (k->type) {
	case CONF_STR:
		if (strlen(value) >= k->size)
			return conf_err(err, errlen, "%s: value too long (at most %zu bytes)",
			                k->name, k->size - 1);
		memcpy(base, value, strlen(value) + 1);
		return 0;
	case CONF_INT:
	case CONF_LONG:
		if (util_parse_i64(value, k->min, k->max, &v) < 0)
			return conf_err(err, errlen, "%s: '%s' is not a whole number in %ld..%ld",
			                k->name, value, k->min, k->max);
		if (k->type == CONF_INT)
			*(int *)(void *)base = (int)v;
		else
			*(long *)(void *)base = (long)v;
		return 0;
	case CONF_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
			*(int *)(void *)base = 1;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
			*(int *)(void *)base = 0;
		else
			return conf_err(err, errlen, "%s: '%s' is not true or false", k->name,
			                value);
		return 0;
	default:
		return conf_err(err, errlen, "%s: bad table row", k->name);
	}
}

void conf_defaults(struct conf *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++)
		if (conf_set_row(c, &conf_table[i], conf_table[i].def, err, sizeof(err)) < 0)
			log_error("conf: default of %s", err);
}

static struct conf_provider *conf_provider_slot(struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_providers; i++)
		if (strcmp(c->providers[i].name, name) == 0)
			return &c->providers[i];
	if (c->n_providers == CONF_MAX_PROVIDERS)
		return NULL;
	memset(&c->providers[c->n_providers], 0, sizeof(c->providers[0]));
	util_strlcpy(c->providers[c->n_providers].name, name, sizeof(c->providers[0].name));
	return &c->providers[c->n_providers++];
}

/* "provider.<name>.<field>" */
static int conf_set_provider(struct conf *c, const char *key, const char *value, char *err,
                             size_t errlen)
{
	const char *name = key + strlen("provider.");
	const char *dot = strchr(name, '.');
	char pname[32];
	struct conf_provider *p;
	size_t n;
	int64_t v;

	if (dot == NULL || dot == name || (n = (size_t)(dot - name)) >= sizeof(pname))
		return conf_err(err, errlen, "%s: expected provider.<name>.<field>", key);
	memcpy(pname, name, n);
	pname[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)pname[i]) && !isdigit((unsigned char)pname[i]) &&
		    pname[i] != '_' && pname[i] != '-')
			return conf_err(err, errlen, "%s: bad provider name", key);
	p = conf_provider_slot(c, pname);
	if (p == NULL)
		return conf_err(err, errlen, "%s: too many providers (at most %d)", key,
		                CONF_MAX_PROVIDERS);
	dot++;
	if (strcmp(dot, "base_url") == 0) {
		if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
			return conf_err(err, errlen, "%s: must start with http:// or https://",
			                key);
		if (util_strlcpy(p->base_url, value, sizeof(p->base_url)) < 0)
			return conf_err(err, errlen, "%s: value too long", key);
		n = strlen(p->base_url);
		while (n > 0 && p->base_url[n - 1] == '/')
			p->base_url[--n] = '\0';
		return 0;
	}
	if (strcmp(dot, "api_key") == 0) {
		if (util_strlcpy(p->api_key, value, sizeof(p->api_key)) < 0)
			return conf_err(err, errlen, "%s: value too long", key);
		return 0;
	}
	if (strcmp(dot, "timeout_ms") == 0) {
		if (util_parse_i64(value, 100, 3600000, &v) < 0)
			return conf_err(err, errlen,
			                "%s: '%s' is not a whole number in 100..3600000", key,
			                value);
		p->timeout_ms = (int)v;
		return 0;
	}
	return conf_err(err, errlen, "%s: unknown provider setting (base_url, api_key, timeout_ms)",
	                key);
}

int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen)
{
	if (strncmp(key, "provider.", 9) == 0)
		return conf_set_provider(c, key, value, err, errlen);
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++)
		if (strcmp(conf_table[i].name, key) == 0)
			return conf_set_row(c, &conf_table[i], value, err, errlen);
	return conf_err(err, errlen, "%s: unknown key", key);
}

static char *conf_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * db_nodes: a comma list of "host:port", "host" (port 3306) or "/unix/socket",
 * in the order every host uses to choose the writer (docs/SCALE-OUT.md).
 */
static int conf_db_nodes(struct conf *c, char *err, size_t errlen)
{
	char list[sizeof(c->db_nodes)], *save = NULL, *tok;

	c->n_db_nodes = 0;
	memcpy(list, c->db_nodes, sizeof(list));
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct conf_db_node *d = &c->db_node[c->n_db_nodes];
		char *s = conf_trim(tok), *colon;
		long port = 3306;

		if (*s == '\0')
			continue;
		if (c->n_db_nodes == CONF_MAX_DB_NODES)
			return conf_err(err, errlen, "db_nodes: more than %d nodes",
			                CONF_MAX_DB_NODES);
		memset(d, 0, sizeof(*d));
		if (*s == '/') {
			if (strlen(s) >= sizeof(d->socket))
				return conf_err(err, errlen, "db_nodes: socket path too long");
			strcpy(d->socket, s);
		} else {
			colon = strrchr(s, ':');
			if (colon) {
				char *end;

				*colon = '\0';
				port = strtol(colon + 1, &end, 10);
				if (end == colon + 1 || *end || port < 1 || port > 65535)
					return conf_err(err, errlen,
					                "db_nodes: '%s': the port must be 1-65535",
					                s);
			}
			if (*s == '\0' || strchr(s, ':') || strlen(s) >= sizeof(d->host))
				return conf_err(err, errlen,
				                "db_nodes: '%s' is not host:port or /socket", s);
			strcpy(d->host, s);
		}
		d->port = (int)port;
		c->n_db_nodes++;
	}
	return 0;
}

/* Checks across keys, after the whole file is read. */
static int conf_validate(struct conf *c, char *err, size_t errlen)
{
	size_t n = strlen(c->mount_prefix);

	if (n > 0 && (c->mount_prefix[0] != '/' || c->mount_prefix[n - 1] == '/'))
		return conf_err(
		    err, errlen,
		    "mount_prefix: must be empty or start with '/' and not end with '/'");
	if (log_level_parse(c->log_level) < 0)
		return conf_err(err, errlen, "log_level: '%s' is not error, warn, info or debug",
		                c->log_level);
	if (c->max_streams == 0)
		c->max_streams = c->threads > 1 ? c->threads - 1 : 1;
	if (c->operator_token[0] && strlen(c->operator_token) < 32)
		return conf_err(err, errlen, "operator_token: at least 32 characters");
	if (c->max_streams > c->threads)
		return conf_err(err, errlen, "max_streams: %d is more than threads (%d)",
		                c->max_streams, c->threads);
	return conf_db_nodes(c, err, errlen);
}

int conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	char line[2048], msg[512];
	FILE *f;
	int lineno = 0, rc = -1;

	f = fopen(path, "r");
	if (f == NULL)
		return conf_err(err, errlen, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			conf_err(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		s = conf_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			conf_err(err, errlen, "%s:%d: expected key = value", path, lineno);
			goto out;
		}
		*eq = '\0';
		key = conf_trim(s);
		val = conf_trim(eq + 1);
		if (conf_set(c, key, val, msg, sizeof(msg)) < 0) {
			conf_err(err, errlen, "%s:%d: %s", path, lineno, msg);
			goto out;
		}
	}
	if (ferror(f)) {
		conf_err(err, errlen, "%s: read error", path);
		goto out;
	}
	if (conf_validate(c, msg, sizeof(msg)) < 0) {
		conf_err(err, errlen, "%s: %s", path, msg);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

const struct conf_provider *conf_provider(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_providers; i++)
		if (strcmp(c->providers[i].name, name) == 0)
			return &c->providers[i];
	return NULL;
}

const char *conf_path(const char *arg)
{
	const char *env;

	if (arg && *arg)
		return arg;
	env = getenv("AGENTHOST_CONF");
	if (env && *env)
		return env;
	return AH_SYSCONFDIR "/agenthost/agenthost.conf";
}
