/*
 * conf.c: the configuration table and its loader (see conf.h).
 *
 * DESIGN
 * conf_table has one row per key: name, type, section, offset into struct
 * conf, default, bounds and a description. Defaults are applied from the
 * same table, and the documentation is generated from it (common/confdoc.c
 * writes the README's table, contrib/agenthost.conf.example and
 * agenthost.conf(5); a unit test fails when they are stale), so a key's
 * default, its bounds and its documentation live in one place. Dotted
 * "provider.<name>.<field>" keys have rows for their documentation and
 * bounds but are set by conf_set_provider, because their names come from the
 * provider registry, which validates them at start (an unknown provider name
 * stops start-up there).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/valid.h"

/*
 * Documentation defaults: what the docs show instead of the built-in text, for
 * paths that depend on ./configure and defaults computed at load.
 */
#define DOC_SYSCONF "$sysconfdir/agenthost"
#define DOC_DATA "$datadir/agenthost"
#define DOC_STATE "$localstatedir/lib/agenthost"
#define DOC_LIBEXEC "$libexecdir/agenthost"

/* clang-format off */
#define S(sec, f, d, dd, txt) {#f, CONF_STR, sec, offsetof(struct conf, f), sizeof(((struct conf *)0)->f), d, dd, 0, 0, txt}
#define I(sec, f, d, lo, hi, dd, txt) {#f, CONF_INT, sec, offsetof(struct conf, f), 0, d, dd, lo, hi, txt}
#define L(sec, f, d, lo, hi, txt) {#f, CONF_LONG, sec, offsetof(struct conf, f), 0, d, NULL, lo, hi, txt}
#define B(sec, f, d, txt) {#f, CONF_BOOL, sec, offsetof(struct conf, f), 0, d, NULL, 0, 1, txt}
/* A provider.<name>.<field> key: documented here, set by conf_set_provider (offset in struct conf_provider). */
#define P(f, t, d, lo, hi, dd, txt) {"provider.<name>." #f, t, CONF_SEC_PROVIDERS, offsetof(struct conf_provider, f), sizeof(((struct conf_provider *)0)->f), d, dd, lo, hi, txt}

static const struct conf_key conf_table[] = {
	S(CONF_SEC_PROCESS, listen, "", NULL,
	  "empty: serve FastCGI on fd 0 (lighttpd bin-path, spawn-fcgi); else a unix socket path (/run/agenthost/agenthost.sock) or host:port (127.0.0.1:9000)"),
	I(CONF_SEC_PROCESS, threads, "8", 1, 512, NULL,
	  "worker threads per process, each with one database connection; each runs many requests (a call waiting on its provider holds no thread)"),
	I(CONF_SEC_PROCESS, max_inflight, "4096", 16, 1000000, NULL,
	  "requests in flight per process, about 33 KiB and 2 open files each; the process raises its open-files limit to the hard limit"),
	I(CONF_SEC_PROCESS, max_streams, "0", 0, 1000000, "max_inflight",
	  "concurrent streamed responses per process, at most max_inflight; 0 means max_inflight"),
	S(CONF_SEC_PROCESS, mount_prefix, "", NULL,
	  "URL prefix the web server mounts agenthost under: empty or /x (no trailing slash)"),
	S(CONF_SEC_PROCESS, log_level, "info", NULL, "error, warn, info or debug; logs go to stderr"),
	I(CONF_SEC_PROCESS, log_repeat_s, "10", 0, 3600, NULL,
	  "a warning or error whose text was logged less than this many seconds ago is counted instead of written, then summarised in one '[repeated N times ...]' line; 0 writes every line"),
	S(CONF_SEC_PROCESS, metrics_allow, "", NULL,
	  "comma list of CIDRs whose clients may read /metrics without the operator token (a Prometheus on the host: 127.0.0.1/32, ::1/128); empty: the operator token only"),
	I(CONF_SEC_PROCESS, metrics_tenants, "20", 0, 1000, NULL,
	  "tenants with a label of their own in /metrics (the most requests); the others are summed as tenant=\"other\""),
	S(CONF_SEC_PROCESS, serve_tenants, "", NULL,
	  "comma list of tenant slugs this process serves on the API (a pinned pool, docs/ISOLATION.md); other tenants' keys get 403 tenant_not_served; empty: every tenant"),
	S(CONF_SEC_PROCESS, exclude_tenants, "", NULL,
	  "comma list of tenant slugs this process refuses on the API (403 tenant_not_served), for shared pools beside pinned ones; not together with serve_tenants"),

	L(CONF_SEC_REQUEST, max_body_bytes, "1048576", 1024, 67108864, "request body size in bytes"),
	I(CONF_SEC_REQUEST, max_headers, "64", 8, 1000, NULL, "number of request headers"),
	I(CONF_SEC_REQUEST, max_json_depth, "32", 2, 256, NULL, "nesting depth of request JSON"),
	I(CONF_SEC_REQUEST, log_content_max_bytes, "65536", 1024, 16777215, NULL,
	  "for tenants with log_content on: the most bytes of a chat completion's messages, and of its answer, stored with the execution (longer ones are cut, ending in …)"),

	S(CONF_SEC_DATABASE, db_host, "127.0.0.1", NULL, "MariaDB host, over TCP"),
	I(CONF_SEC_DATABASE, db_port, "3306", 1, 65535, NULL, "MariaDB TCP port"),
	S(CONF_SEC_DATABASE, db_socket, "", NULL,
	  "MariaDB unix socket; used instead of db_host and db_port when set"),
	S(CONF_SEC_DATABASE, db_user, "agenthost", NULL, "MariaDB user"),
	S(CONF_SEC_DATABASE, db_password, "", NULL, "MariaDB password"),
	S(CONF_SEC_DATABASE, db_name, "agenthost", NULL,
	  "the control database (and the content of shared tenants)"),
	I(CONF_SEC_DATABASE, db_connect_timeout, "5", 1, 120, NULL, "connect timeout in seconds"),
	S(CONF_SEC_DATABASE, db_nodes, "", NULL,
	  "Galera: comma list of nodes (host:port, host or /unix/socket) in the order every host uses to choose the writer, the first Synced node of the primary component (docs/SCALE-OUT.md); empty: db_host, db_port, db_socket"),
	I(CONF_SEC_DATABASE, dedicated_pool, "4", 1, 64, NULL,
	  "connections to dedicated tenants' databases each worker thread keeps, the least recently used closed first (docs/ISOLATION.md)"),
	I(CONF_SEC_DATABASE, dedicated_idle_s, "60", 1, 86400, NULL,
	  "a pooled tenant connection unused this long (seconds) is closed at its thread's next request"),
	S(CONF_SEC_DATABASE, dedicated_account_host, "%", NULL,
	  "host part of the dedicated tenants' MariaDB accounts"),
	S(CONF_SEC_DATABASE, db_admin_user, "", "empty (db_user)",
	  "account that creates tenant databases, accounts and grants (CREATE, CREATE USER, GRANT OPTION); used by agenthostctl and the operator API"),
	S(CONF_SEC_DATABASE, db_admin_password, "", NULL, "password of db_admin_user"),
	S(CONF_SEC_DATABASE, sql_dir, AH_DATADIR "/sql", DOC_DATA "/sql",
	  "migrations applied by agenthostctl migrate"),
	S(CONF_SEC_ENFORCE, guardrail_dir, AH_LIBEXECDIR "/guardrails", DOC_LIBEXEC "/guardrails",
	  "directory whose executables may be registered as guardrails (agenthostctl guardrails register --exec must name a file under it; docs/PLUGINS.md, Guardrail plugins)"),

	B(CONF_SEC_ENFORCE, enforcement, "true",
	  "admission control (limits, budgets, breakers, idempotency); false only for benchmarks"),
	S(CONF_SEC_ENFORCE, budget_timezone, "UTC", NULL,
	  "time zone of the calendar days and months of budgets (UTC or a tz name, e.g. Europe/Berlin); every host must use the same"),
	S(CONF_SEC_ENFORCE, trusted_proxies, "", NULL,
	  "CIDRs of proxies whose X-Forwarded-For is believed for IP allowlists, comma separated"),
	I(CONF_SEC_ENFORCE, reaper_interval_ms, "5000", 100, 3600000, NULL,
	  "how often each process settles reservations left by dead processes (ms)"),
	I(CONF_SEC_ENFORCE, alert_interval_ms, "2000", 100, 3600000, NULL,
	  "how often each process looks for alert events (budget thresholds, keys expiring, breakers) and sends due webhook deliveries (ms)"),
	I(CONF_SEC_ENFORCE, webhook_retry_base_ms, "5000", 10, 3600000, NULL,
	  "wait before the first retry of a failed webhook delivery (ms); it doubles with each attempt"),
	I(CONF_SEC_ENFORCE, webhook_max_attempts, "8", 1, 50, NULL,
	  "attempts before a webhook delivery is given up"),
	B(CONF_SEC_ENFORCE, webhook_allow_private, "false",
	  "let webhooks reach loopback and private addresses (tests, closed networks)"),
	I(CONF_SEC_ENFORCE, reservation_grace_s, "30", 1, 86400, NULL,
	  "a reservation lives upstream_timeout_ms + this (seconds) before it is reaped"),
	I(CONF_SEC_ENFORCE, promote_after_ms, "200", 0, 3600000, NULL,
	  "a call admitted on a lease and still running after this long (ms) gets a reservation of its own (0: never; streams at once)"),
	I(CONF_SEC_ENFORCE, ledger_queue_soft, "20000", 1, 100000, NULL,
	  "answered calls waiting to be recorded in one process past which each new model call first waits, longer as the queue grows (100 ms at twice this and beyond), so that a database that records more slowly than calls are answered slows the calls instead of all of them being refused at 100,000 (docs/ENFORCEMENT.md 3.5)"),
	I(CONF_SEC_ENFORCE, lease_idle_ms, "600000", 500, 3600000, NULL,
	  "a lease (a slice of a counter's headroom a process holds) not used for this long (ms) goes back to its counter"),
	S(CONF_SEC_ENFORCE, state_dir, AH_LOCALSTATEDIR "/lib/agenthost", DOC_STATE,
	  "per-host directory the host's processes share: journals of answered calls, change counters of the caches, the read barrier; writable by the server's user; every process of a host must use the same one, hosts must not share it (docs/ENFORCEMENT.md, 3.5 and 14)"),

	S(CONF_SEC_SECRETS, master_key_file, AH_SYSCONFDIR "/agenthost/master.key", DOC_SYSCONF "/master.key",
	  "0600 file holding the 32-byte master key (hex) that seals tenants' provider keys; agenthostctl master-key init creates it"),
	S(CONF_SEC_SECRETS, operator_token, "", NULL,
	  "a token for the operator API (32+ characters); more with agenthostctl operator-token create"),

	S(CONF_SEC_DASHBOARD, template_dir, AH_DATADIR "/templates", DOC_DATA "/templates",
	  "the dashboard's ClearSilver templates (without them /admin answers 503, the API works)"),
	S(CONF_SEC_DASHBOARD, static_dir, AH_DATADIR "/static", DOC_DATA "/static",
	  "the dashboard's CSS and JavaScript"),
	S(CONF_SEC_DASHBOARD, dashboard_mfa_roles, "", NULL,
	  "comma list of dashboard roles (operator, support, tenant_admin) that must sign in with a TOTP code; a user of such a role without one is sent to enrolment after the password (the dashboard_mfa limit requires it per tenant)"),

	I(CONF_SEC_PROVIDERS, upstream_timeout_ms, "120000", 100, 3600000, NULL,
	  "whole provider call timeout (ms)"),
	I(CONF_SEC_PROVIDERS, upstream_connect_timeout_ms, "10000", 50, 120000, NULL,
	  "provider connect timeout (ms)"),
	I(CONF_SEC_PROVIDERS, default_max_tokens, "1024", 1, 1000000, NULL,
	  "max_tokens when neither the request nor the agent sets one"),
	I(CONF_SEC_PROVIDERS, response_cache_ttl_s, "300", 1, 2592000, NULL,
	  "seconds a cached chat answer is served, for tenants whose response_cache_ttl_s limit is 0 (docs/ROUTING.md, Response cache)"),
	I(CONF_SEC_PROVIDERS, response_cache_max_bytes, "16777216", 1024, 1073741824, NULL,
	  "bytes of cached chat answers each tenant keeps (oldest evicted first), for tenants whose response_cache_max_bytes limit is 0"),
	I(CONF_SEC_PROVIDERS, mock_latency_ms, "0", 0, 600000, NULL,
	  "latency added to each call (ms) of the built-in mock provider (models mock-*, no network)"),
	I(CONF_SEC_PROVIDERS, mock_stream_delay_ms, "0", 0, 60000, NULL,
	  "delay between the mock provider's streamed chunks (ms)"),
	S(CONF_SEC_PROVIDERS, plugins, "", NULL,
	  "extra provider plugins: .so paths separated by spaces or commas"),
	P(base_url, CONF_STR, "", 0, 0, "built in",
	  "upstream base URL, http:// or https:// (built in for openai, deepseek, mistral, openrouter, ollama, vllm, anthropic, gemini)"),
	P(api_key, CONF_STR, "", 0, 0, NULL,
	  "the platform's own credential, used when a tenant has not set one (agenthostctl provider-key set)"),
	P(timeout_ms, CONF_INT, "0", 100, 3600000, "upstream_timeout_ms",
	  "this provider's whole-call timeout (ms)"),
};
/* clang-format on */

#undef S
#undef I
#undef L
#undef B
#undef P

static const char *const conf_section_names[CONF_SEC__MAX] = {
    [CONF_SEC_PROCESS] = "process",
    [CONF_SEC_REQUEST] = "request limits",
    [CONF_SEC_DATABASE] = "database (MariaDB)",
    [CONF_SEC_ENFORCE] = "enforcement and recording (docs/ENFORCEMENT.md)",
    [CONF_SEC_SECRETS] = "secrets",
    [CONF_SEC_DASHBOARD] = "dashboard",
    [CONF_SEC_PROVIDERS] = "providers",
};

/* 1 for the rows of provider.<name>.<field> keys, which conf_set_provider handles. */
static int conf_key_is_provider(const struct conf_key *k)
{
	return strncmp(k->name, "provider.", 9) == 0;
}

const struct conf_key *conf_key_at(size_t i)
{
	return i < ARRAY_SIZE(conf_table) ? &conf_table[i] : NULL;
}

const char *conf_section_name(enum conf_section s)
{
	return (unsigned)s < CONF_SEC__MAX ? conf_section_names[s] : "";
}

/* The row documenting provider.<name>.<field>. */
static const struct conf_key *conf_provider_row(const char *field)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++)
		if (conf_key_is_provider(&conf_table[i]) &&
		    strcmp(conf_table[i].name + strlen("provider.<name>."), field) == 0)
			return &conf_table[i];
	return NULL;
}

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
		if (!conf_key_is_provider(&conf_table[i]) &&
		    conf_set_row(c, &conf_table[i], conf_table[i].def, err, sizeof(err)) < 0)
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
	if (!valid_name(VALID_PROVIDER, pname))
		return conf_err(err, errlen, "%s: bad provider name (%s)", key,
		                valid_hint(VALID_PROVIDER));
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
		const struct conf_key *k = conf_provider_row("timeout_ms");

		if (util_parse_i64(value, k->min, k->max, &v) < 0)
			return conf_err(err, errlen, "%s: '%s' is not a whole number in %ld..%ld",
			                key, value, k->min, k->max);
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
		if (!conf_key_is_provider(&conf_table[i]) && strcmp(conf_table[i].name, key) == 0)
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
 * Rewrite a list of slugs in place as "a,b" (spaces around items dropped);
 * -1 with err naming key when an item is empty or not a slug.
 */
static int conf_slug_list(char *list, const char *key, char *err, size_t errlen)
{
	char out[sizeof(((struct conf *)0)->serve_tenants)], item[64];
	size_t o = 0;
	const char *p = list;

	while (*p && isspace((unsigned char)*p))
		p++;
	if (*p == '\0') {
		*list = '\0';
		return 0;
	}
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0 || n >= sizeof(item))
			return conf_err(err, errlen, "%s: an empty or overlong item", key);
		memcpy(item, p, n);
		item[n] = '\0';
		if (!valid_name(VALID_SLUG, item))
			return conf_err(err, errlen, "%s: '%s' is not a tenant slug", key, item);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? "," : "", item);
		if (e == NULL)
			break;
		p = e + 1;
	}
	memcpy(list, out, o + 1);
	return 0;
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
/* dashboard_mfa_roles: every item a dashboard role. 0, or -1 with err. */
static int conf_role_list(const char *list, char *err, size_t errlen)
{
	static const char *const roles[] = {"operator", "support", "tenant_admin"};
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ","), i;
		const char *s;
		size_t len = n;

		s = p;
		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		for (i = 0; len > 0 && i < ARRAY_SIZE(roles); i++)
			if (strlen(roles[i]) == len && memcmp(roles[i], s, len) == 0)
				break;
		if (len > 0 && i == ARRAY_SIZE(roles))
			return conf_err(err, errlen,
			                "dashboard_mfa_roles: '%.*s' is not operator, support or "
			                "tenant_admin",
			                (int)len, s);
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int conf_validate(struct conf *c, char *err, size_t errlen)
{
	size_t n = strlen(c->mount_prefix);

	if (n > 0 && (c->mount_prefix[0] != '/' || c->mount_prefix[n - 1] == '/'))
		return conf_err(
		    err, errlen,
		    "mount_prefix: must be empty or start with '/' and not end with '/'");
	if (c->metrics_allow[0] && cidr_list_contains(c->metrics_allow, "127.0.0.1") < 0)
		return conf_err(err, errlen, "metrics_allow: '%s' is not a comma list of CIDRs",
		                c->metrics_allow);
	if (log_level_parse(c->log_level) < 0)
		return conf_err(err, errlen, "log_level: '%s' is not error, warn, info or debug",
		                c->log_level);
	if (c->max_streams == 0)
		c->max_streams = c->max_inflight;
	if (c->operator_token[0] && strlen(c->operator_token) < 32)
		return conf_err(err, errlen, "operator_token: at least 32 characters");
	if (c->max_streams > c->max_inflight)
		return conf_err(err, errlen, "max_streams: %d is more than max_inflight (%d)",
		                c->max_streams, c->max_inflight);
	if (conf_role_list(c->dashboard_mfa_roles, err, errlen) < 0)
		return -1;
	if (conf_slug_list(c->serve_tenants, "serve_tenants", err, errlen) < 0 ||
	    conf_slug_list(c->exclude_tenants, "exclude_tenants", err, errlen) < 0)
		return -1;
	/* A pinned pool lists whom it serves; excluding is for the shared pools. */
	if (c->serve_tenants[0] && c->exclude_tenants[0])
		return conf_err(
		    err, errlen,
		    "serve_tenants and exclude_tenants: set one or the other, not both");
	return conf_db_nodes(c, err, errlen);
}

int conf_load_stream(struct conf *c, FILE *f, const char *path, char *err, size_t errlen)
{
	char line[2048], msg[512];
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f))
			return conf_err(err, errlen, "%s:%d: line too long", path, lineno);
		s = conf_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL)
			return conf_err(err, errlen, "%s:%d: expected key = value", path, lineno);
		*eq = '\0';
		key = conf_trim(s);
		val = conf_trim(eq + 1);
		if (conf_set(c, key, val, msg, sizeof(msg)) < 0)
			return conf_err(err, errlen, "%s:%d: %s", path, lineno, msg);
	}
	if (ferror(f))
		return conf_err(err, errlen, "%s: read error", path);
	if (conf_validate(c, msg, sizeof(msg)) < 0)
		return conf_err(err, errlen, "%s: %s", path, msg);
	return 0;
}

int conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (f == NULL)
		return conf_err(err, errlen, "%s: %s", path, strerror(errno));
	rc = conf_load_stream(c, f, path, err, errlen);
	fclose(f);
	return rc;
}

/* Is slug an item of the normalized list "a,b"? */
static int conf_list_has(const char *list, const char *slug)
{
	size_t n = strlen(slug);

	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && memcmp(p, slug, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

int conf_serves_tenant(const struct conf *c, const char *slug)
{
	if (c->serve_tenants[0] && !conf_list_has(c->serve_tenants, slug))
		return 0;
	return !conf_list_has(c->exclude_tenants, slug);
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
