/*
 * conf: the configuration, read once at start from one file.
 *
 * DESIGN
 * The file is "key = value" lines; '#' starts a comment. Every known key is a
 * row in a table (conf.c) with its type, default and bounds, so an unknown key
 * or a value out of bounds stops start-up with a message naming the key.
 * Provider settings use dotted keys: "provider.<name>.base_url",
 * "provider.<name>.api_key" (the platform credential), "provider.<name>.timeout_ms".
 * serve_tenants / exclude_tenants pin a pool of processes to tenants (or keep
 * them out of it) by slug; slugs never change, so the identity's slug is
 * compared and nothing has to be resolved or refreshed (docs/ISOLATION.md).
 * The loaded configuration is immutable and shared by all threads.
 */
#ifndef AH_CONF_H
#define AH_CONF_H

#include <stddef.h>
#include <stdio.h>

#define CONF_MAX_PROVIDERS 32

struct conf_provider {
	char name[32];      /* provider instance name, e.g. "openai", "deepseek" */
	char base_url[256]; /* upstream base URL, no trailing slash */
	char api_key[512];  /* platform credential; "" when none */
	int timeout_ms;     /* whole-call timeout; 0 = conf.upstream_timeout_ms */
};

/* One database node of db_nodes: a unix socket, or a host and port. */
struct conf_db_node {
	char host[256];   /* "" when socket is set */
	char socket[256]; /* "" when host is set */
	int port;
};

#define CONF_MAX_DB_NODES 8

struct conf {
	char listen[256];          /* "" = FastCGI socket on fd 0; else unix path or host:port */
	int threads;               /* worker threads per process */
	int max_inflight;          /* requests alive at once per process (host/sched.h) */
	int max_streams;           /* concurrent SSE streams per process (<= max_inflight) */
	char mount_prefix[128];    /* URL prefix the app is mounted under, "" or "/x" */
	long max_body_bytes;       /* request body limit */
	int max_headers;           /* request header count limit */
	int max_json_depth;        /* request JSON nesting limit */
	int log_content_max_bytes; /* log_content: stored prompt and answer, each at most this */
	char db_host[256];         /* MariaDB host ("" with db_socket) */
	int db_port;               /* MariaDB TCP port */
	char db_socket[256];       /* MariaDB unix socket, preferred when set */
	char db_user[64];          /* MariaDB user */
	char db_password[256];     /* MariaDB password */
	char db_name[64];          /* control + shared data database */
	int db_connect_timeout;    /* seconds */
	char db_nodes[1024]; /* Galera: "host:port, /socket, ..." in writer order ("" = one server)
	                      */
	struct conf_db_node db_node[CONF_MAX_DB_NODES]; /* db_nodes parsed */
	int n_db_nodes;
	int dedicated_pool;              /* connections to dedicated tenant databases per thread */
	int dedicated_idle_s;            /* a pooled tenant connection idle this long is closed */
	char dedicated_account_host[64]; /* host part of dedicated accounts ('%' = any) */
	char db_admin_user[64]; /* provisioning account ("" = db_user): CREATE, CREATE USER */
	char db_admin_password[256];
	char master_key_file[256];       /* 0600 file with the 32-byte master key (hex) */
	char sql_dir[256];               /* migrations for agenthostctl migrate */
	char guardrail_dir[256];         /* guardrail executables must live under it */
	char log_level[16];              /* error | warn | info | debug */
	int log_repeat_s;                /* window of identical warnings counted, not written */
	char metrics_allow[1024];        /* CIDRs that may read /metrics without a token */
	int metrics_tenants;             /* tenants labelled in /metrics; the rest are "other" */
	int upstream_timeout_ms;         /* default whole-call timeout for providers */
	int upstream_connect_timeout_ms; /* connect timeout for providers */
	int mock_latency_ms;             /* added latency of the mock provider per call */
	int mock_stream_delay_ms;        /* delay between streamed mock chunks */
	char plugins[1024];              /* space/comma separated provider .so paths */
	int default_max_tokens;          /* when neither request nor agent sets one */
	int response_cache_ttl_s;     /* response cache: lifetime of an answer (limit's default) */
	int response_cache_max_bytes; /* response cache: bytes per tenant (limit's default) */
	int enforcement; /* 1: admission (limits, budgets, breakers) on; 0 for benchmarks */
	char budget_timezone[64];   /* calendar of daily/monthly budgets: "UTC" or a tz name */
	char trusted_proxies[1024]; /* CIDRs whose X-Forwarded-For is believed */
	int reaper_interval_ms;     /* how often each process expires dead reservations */
	int alert_interval_ms;      /* how often each process looks for alert events and sends */
	int webhook_retry_base_ms;  /* first retry of a failed delivery; doubles each time */
	int webhook_max_attempts;   /* a delivery fails for good after this many attempts */
	int webhook_allow_private;  /* webhooks may reach loopback/private addresses */
	int reservation_grace_s; /* a reservation lives upstream timeout + this, then is reaped */
	int promote_after_ms;  /* a call on a lease running this long gets a reservation (0: never)
	                        */
	int ledger_queue_soft; /* calls waiting to be recorded past which new calls wait first */
	int lease_idle_ms;     /* a lease unused this long goes back to its counter */
	char operator_token[256];      /* operator API token (tokens can also come from the CLI) */
	char template_dir[256];        /* dashboard ClearSilver templates */
	char static_dir[256];          /* dashboard static files (admin.css) */
	char dashboard_mfa_roles[128]; /* roles that must use a TOTP code: "operator,support" */
	char state_dir[256];      /* this host's shared state: epochs (and the ledger journal) */
	char serve_tenants[1024]; /* "slug,slug": this pool serves only these tenants ("" = all) */
	char exclude_tenants[1024]; /* "slug,slug": this pool refuses these tenants (pinned
	                               elsewhere) */
	struct conf_provider providers[CONF_MAX_PROVIDERS];
	size_t n_providers;
};

/* ---------------------------------------------------------------- the table */

enum conf_type { CONF_STR, CONF_INT, CONF_LONG, CONF_BOOL, CONF_TYPE__MAX };

/* Where a key is listed in the documentation, in this order. */
enum conf_section {
	CONF_SEC_PROCESS,
	CONF_SEC_REQUEST,
	CONF_SEC_DATABASE,
	CONF_SEC_ENFORCE,
	CONF_SEC_SECRETS,
	CONF_SEC_DASHBOARD,
	CONF_SEC_PROVIDERS,
	CONF_SEC__MAX
};

/* One configuration key. */
struct conf_key {
	const char *name;          /* key in the file ("provider.<name>.x" for provider keys) */
	enum conf_type type;       /* how the value is parsed */
	enum conf_section section; /* where the documentation lists it */
	size_t off;          /* offset in struct conf (struct conf_provider for provider keys) */
	size_t size;         /* for CONF_STR: size of the char array */
	const char *def;     /* default, as text (build paths included) */
	const char *doc_def; /* default as documented, NULL: def ("" shows as empty) */
	long min, max;       /* bounds for numbers */
	const char *desc;    /* one sentence for the docs, without the bounds */
};

/* The i-th row of the configuration table, in documentation order; NULL past the end. */
const struct conf_key *conf_key_at(size_t i);
/* The heading of section s ("process", "database (MariaDB)", ...). */
const char *conf_section_name(enum conf_section s);

/* ---------------------------------------------------------------- loading */

/* Fill c with defaults. */
void conf_defaults(struct conf *c);
/*
 * Load path over the defaults. Returns 0, or -1 with a message naming the
 * file, line and key in err.
 */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/* The same for an open stream (the fuzzer's); path only names it in messages. f stays open. */
int conf_load_stream(struct conf *c, FILE *f, const char *path, char *err, size_t errlen);
/* Apply one "key", "value" pair (also used by tests); 0 or -1 with err. */
int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen);
/*
 * Whether this process's pool serves the tenant with this slug: 1 when
 * serve_tenants is empty or lists it and exclude_tenants does not, else 0.
 * Lists are normalized by conf_load ("a,b", no spaces).
 */
int conf_serves_tenant(const struct conf *c, const char *slug);
/* The provider instance settings for name, or NULL. */
const struct conf_provider *conf_provider(const struct conf *c, const char *name);
/* Path of the config file: -c argument, else $AGENTHOST_CONF, else the default. */
const char *conf_path(const char *arg);

#endif
