/*
 * store: the only module that speaks SQL.
 *
 * DESIGN
 * A struct store is one thread's handle: a MariaDB connection to the control
 * database plus cached prepared statements. Threads never share one.
 * Every function that reads or writes tenant data takes the tenant id and
 * puts it in the WHERE clause (the leading column of every key), so another
 * tenant's object answers ST_NOTFOUND exactly like a missing one.
 * Tenant data (executions, sessions, messages, usage) is reached through
 * store_data_conn() inside this module only: today every tenant lives in
 * the shared database; the per-tenant database mode plugs in there without
 * changing this API or any handler.
 * All statements are prepared; times are stored in UTC (DATETIME(6)) and
 * compared by the database, the single clock every process and host share.
 * Money is integer micro-USD; token counts are integers.
 *
 * Return codes: ST_OK, ST_NOTFOUND, ST_CONFLICT (unique key), ST_ERR
 * (database error, logged here without any secret). A lost connection is
 * reconnected once, transparently, by the next call.
 */
#ifndef AH_STORE_H
#define AH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

enum st_rc { ST_OK = 0, ST_NOTFOUND = 1, ST_CONFLICT = 2, ST_ERR = -1 };

struct store;

/* Open a connection for this thread; NULL with err when unreachable. */
struct store *store_open(const struct conf *c, char *err, size_t errlen);
void store_close(struct store *st);
/* ST_OK when the database answers (on Galera: the node is Synced and primary). */
int store_ping(struct store *st);
/* Apply sql/NNN_*.sql files from dir not yet in schema_migrations, in order. Prints each applied.
 */
int store_migrate(struct store *st, const char *dir, char *err, size_t errlen);
/* The same; quiet: print nothing (a dedicated tenant's database at onboarding). */
int store_migrate_dir(struct store *st, const char *dir, int quiet, char *err, size_t errlen);

/* ------------------------------------------------------------------ change log */

/*
 * What a change invalidates in the caches (sql/015, store/changes.c):
 * everything cached about one tenant, limits at plan or global scope, the
 * model catalogue, or answers "no such API key" (a key was created).
 */
enum store_change { CHANGE_TENANT, CHANGE_LIMITS, CHANGE_MODELS, CHANGE_KEYS, CHANGE__MAX };

/* One change seen by store_changes_poll; (source, id, at_us) tells changes apart. */
struct store_change_row {
	int source;    /* 0 change_log, 1 an api_keys row, 2 a tenants row */
	int64_t id;    /* the row's id */
	int64_t at_us; /* when it was written (unix microseconds, database clock) */
	enum store_change kind;
	int64_t tenant_id;
};

typedef void (*change_cb)(void *ctx, const struct store_change_row *row);

/*
 * Log a change: its change_log row (in the open transaction, if any) and,
 * once committed, the bump of this host's epochs. ST_OK or ST_ERR.
 */
int store_change(struct store *st, enum store_change kind, int64_t tenant_id);
/* Bump this host's epochs for a change (the watcher, for changes made elsewhere). */
void store_change_bump(enum store_change kind, int64_t tenant_id);
/*
 * Call cb for every change of the last window_s seconds: change_log rows,
 * and api_keys and tenants rows written by anything (sql/015), in the
 * order (source, id, at_us). ST_OK or ST_ERR.
 */
int store_changes_poll(struct store *st, int window_s, change_cb cb, void *ctx);

/* ------------------------------------------------------------------ tenants */

enum tenant_status { TENANT_ACTIVE = 0, TENANT_SUSPENDED = 1 };

struct tenant {
	int64_t id;     /* internal id */
	char slug[64];  /* unique, [a-z0-9-] */
	char name[201]; /* display name, any text */
	char plan[32];  /* plan name */
	int status;     /* enum tenant_status */
	char suspended_reason[256];
	char isolation[16]; /* "shared" | "dedicated" */
	int64_t created_at; /* unix seconds */
	char data_db[65];   /* a dedicated tenant's database ("" for shared) */
	int migrating;      /* a move between modes is in progress */
	int log_content;    /* chat completions' prompts and answers are stored (sql/023) */
};

typedef int (*tenant_cb)(void *ctx, const struct tenant *t);

/* ST_CONFLICT when slug exists; ST_NOTFOUND when plan does not. */
int store_tenant_create(struct store *st, const char *slug, const char *name, const char *plan,
                        int64_t *id_out);
int store_tenant_get(struct store *st, int64_t id, struct tenant *out);
int store_tenant_get_by_slug(struct store *st, const char *slug, struct tenant *out);
int store_tenant_list(struct store *st, tenant_cb cb, void *ctx);
int store_tenant_set_status(struct store *st, int64_t id, int status, const char *reason);
/* Turn the recording of chat prompts and answers on (1) or off (0). ST_NOTFOUND for an unknown id.
 */
int store_tenant_set_log_content(struct store *st, int64_t id, int on);

/* What store_tenant_page lists (the operator API's GET /admin/api/v1/tenants). */
struct tenant_filter {
	int64_t after_id; /* tenants with id > after_id (keyset cursor; 0 = from the start) */
	int status;       /* enum tenant_status, or -1 for any */
	const char *plan; /* plan name, "" = any */
	const char *q;    /* substring of slug or name, case-insensitive, "" = any (<= 100 bytes) */
	int limit;        /* 1..100 */
};

/*
 * The tenants matching f by id, at most f->limit; *has_more is set when more
 * follow. cb runs once the rows are read (it may query the store).
 * ST_OK or ST_ERR.
 */
int store_tenant_page(struct store *st, const struct tenant_filter *f, tenant_cb cb, void *ctx,
                      int *has_more);

/* ------------------------------------------------------------------ API keys */

enum key_state {
	KEY_ACTIVE = 0,  /* usable */
	KEY_REVOKED = 1, /* revoked by an admin */
	KEY_EXPIRED = 2, /* past expires_at */
	KEY_ROTATED = 3, /* rotated and past its grace period */
};

/*
 * What a key may call (api_keys.scopes, a bit set; docs/API.md "Key scopes").
 * KEY_SCOPES_DEFAULT is what a key made without naming scopes gets, and what
 * every key made before scopes existed got (sql/021): what keys could call then.
 */
enum key_scope {
	KEY_SCOPE_INFERENCE = 1, /* chat completions, agent runs */
	KEY_SCOPE_READ = 2,      /* runs, sessions, usage, budget, limits */
	KEY_SCOPE_MANAGE = 4,    /* the tenant's self-service API: its keys and their limits */
};
#define KEY_SCOPES_DEFAULT (KEY_SCOPE_INFERENCE | KEY_SCOPE_READ)
#define KEY_SCOPES_ALL (KEY_SCOPE_INFERENCE | KEY_SCOPE_READ | KEY_SCOPE_MANAGE)

/* What identification needs, read in one round trip (key joined with tenant). */
struct key_auth {
	int64_t key_id;
	int64_t tenant_id;
	int state;         /* enum key_state, computed with the database clock */
	int tenant_status; /* enum tenant_status */
	char tenant_slug[64];
	char plan[32];
	char key_prefix[16];
	int migrating;        /* tenant move in progress: writes get 503 tenant_migrating */
	int dedicated;        /* the tenant's data is in a database of its own */
	int data_epoch;       /* tenants.data_epoch: moves with every placement change */
	int log_content;      /* tenants.log_content: store chat prompts and answers */
	int64_t valid_for_us; /* an active key's state changes by the clock this much later */
	int scopes;           /* api_keys.scopes: bit set of enum key_scope */
};

struct api_key {
	int64_t id;
	int64_t tenant_id;
	char name[101];
	char prefix[16];    /* display prefix, never the secret */
	int state;          /* enum key_state */
	int64_t created_at; /* unix seconds; 0 = unset for the optional ones */
	int64_t expires_at;
	int64_t grace_until; /* set on rotation: valid until then */
	int64_t revoked_at;
	int64_t last_used_at;
	int64_t rotated_to; /* id of the successor key, 0 if none */
	int scopes;         /* bit set of enum key_scope */
};

typedef int (*api_key_cb)(void *ctx, const struct api_key *k);

/* ST_NOTFOUND for an unknown hash. Sets where the tenant's data lives (store_route_set). */
int store_key_auth(struct store *st, const uint8_t hash[32], struct key_auth *out);
/*
 * Tell st where the data of the request's tenant lives (what store_key_auth
 * read, when the caller answered from a cache instead).
 */
void store_route_set(struct store *st, int64_t tenant_id, int dedicated, int data_epoch);
/* expires_at 0 = never; scopes: bit set of enum key_scope. */
int store_key_insert(struct store *st, int64_t tenant_id, const char *name, const char *prefix,
                     const uint8_t hash[32], int64_t expires_at, int scopes, int64_t *id_out);
/* Replace a key's scopes. ST_OK, ST_NOTFOUND when the tenant has no such key, ST_ERR. */
int store_key_set_scopes(struct store *st, int64_t tenant_id, int64_t key_id, int scopes);
int store_key_get(struct store *st, int64_t tenant_id, int64_t key_id, struct api_key *out);
int store_key_list(struct store *st, int64_t tenant_id, api_key_cb cb, void *ctx);
/* ST_NOTFOUND when no such key for this tenant. */
int store_key_revoke(struct store *st, int64_t tenant_id, int64_t key_id);
/*
 * Rotate key_id: insert the new key (prefix, hash, the old key's scopes) and
 * give the old one a grace period of grace_seconds from now (0 = ends now),
 * in one transaction.
 */
int store_key_rotate(struct store *st, int64_t tenant_id, int64_t key_id, const char *prefix,
                     const uint8_t hash[32], int64_t grace_seconds, int64_t *new_id_out);
/* Record use (best effort, at most once a minute per key is enough). */
int store_key_touch(struct store *st, int64_t key_id);
/* The same for n keys in one statement. */
int store_keys_touch(struct store *st, const int64_t *ids, size_t n);

/* ------------------------------------------------------------------ BYOK credentials */

struct sealed_cred {
	int version; /* key version used as associated data */
	uint8_t nonce[24];
	uint8_t ct[1024 + 16];
	size_t ct_len;
	char last4[5];
	int64_t updated_at;
};

typedef int (*cred_cb)(void *ctx, const char *provider, const struct sealed_cred *c);

/* Insert or replace; version is incremented by the caller (store_cred_get first). */
int store_cred_put(struct store *st, int64_t tenant_id, const char *provider,
                   const struct sealed_cred *c);
int store_cred_get(struct store *st, int64_t tenant_id, const char *provider,
                   struct sealed_cred *out);
int store_cred_clear(struct store *st, int64_t tenant_id, const char *provider);
int store_cred_list(struct store *st, int64_t tenant_id, cred_cb cb, void *ctx);
/*
 * The same for a project's own keys (project_id > 0, of tenant_id; the
 * caller checked it is the tenant's): put ST_OK/ST_ERR; get ST_OK,
 * ST_NOTFOUND, ST_ERR; clear ST_OK, ST_NOTFOUND, ST_ERR; list ST_OK/ST_ERR.
 * A project id of 0 has no keys (get/clear ST_NOTFOUND, list empty, put ST_ERR).
 */
int store_pcred_put(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider,
                    const struct sealed_cred *c);
int store_pcred_get(struct store *st, int64_t tenant_id, int64_t project_id, const char *provider,
                    struct sealed_cred *out);
int store_pcred_clear(struct store *st, int64_t tenant_id, int64_t project_id,
                      const char *provider);
int store_pcred_list(struct store *st, int64_t tenant_id, int64_t project_id, cred_cb cb,
                     void *ctx);

/* ------------------------------------------------------------------ model catalogue */

struct model {
	char name[128];       /* public model name clients send */
	char provider[32];    /* provider instance name */
	char upstream[128];   /* model id sent upstream */
	char kind[12];        /* "chat" | "embedding" (what it serves) */
	int64_t input_price;  /* micro-USD per 1M prompt tokens */
	int64_t output_price; /* micro-USD per 1M completion tokens */
	int context_window;
	int max_output; /* provider's max completion tokens */
	int64_t created_at;
	int enabled; /* 0: invisible to the tenant API (store_model_get, store_model_list) */
};

typedef int (*model_cb)(void *ctx, const struct model *m);

/* Cached per thread for at most MODEL_CACHE_MS: a catalogue edit holds everywhere within it. */
#define MODEL_CACHE_MS 5000
int store_model_get(struct store *st, const char *name, struct model *out);
/* Enabled models this tenant may use (today: all enabled models). */
int store_model_list(struct store *st, int64_t tenant_id, model_cb cb, void *ctx);

/*
 * The operator's catalogue (sql/026). Prices are micro-USD per 1M tokens;
 * the price of a model is the newest model_prices row whose effective_at
 * has come (its list price when it has none): what store_model_get hands to
 * admission. Every write is a CHANGE_MODELS change (caches drop it).
 */
struct model_price {
	int64_t effective_at; /* unix seconds */
	int64_t input_price, output_price;
	int64_t created_at;
	char created_by[101];
};
typedef int (*model_price_cb)(void *ctx, const struct model_price *p);
/* Any model, enabled or not (price in effect now). ST_OK, ST_NOTFOUND, ST_ERR. */
int store_model_admin_get(struct store *st, const char *name, struct model *out);
/* Every model by name, enabled or not. ST_OK or ST_ERR. */
int store_model_admin_list(struct store *st, model_cb cb, void *ctx);
/*
 * A new model (every field of m; its prices as its first model_prices row,
 * effective now; by: who, for that row). ST_OK, ST_CONFLICT when the name
 * exists, ST_ERR.
 */
int store_model_insert(struct store *st, const struct model *m, const char *by);
/* Replace provider, upstream, kind, context_window, max_output, enabled of m->name. */
int store_model_update(struct store *st, const struct model *m);
/*
 * A price of model name from `effective` (unix seconds, 0 = now) on.
 * ST_OK; ST_NOTFOUND for an unknown model or a time in the past (checked
 * against the database clock); ST_CONFLICT when a price starts at that very
 * time; ST_ERR.
 */
int store_model_price_add(struct store *st, const char *name, int64_t effective, int64_t input,
                          int64_t output, const char *by);
/* The price history of model name, oldest first. ST_OK (none: no call) or ST_ERR. */
int store_model_prices(struct store *st, const char *name, model_price_cb cb, void *ctx);

/* ------------------------------------------------------------------ agents */

struct agent {
	int64_t id;
	int64_t tenant_id;
	char name[65];           /* [A-Za-z0-9_-], unique per tenant */
	char model[128];         /* model catalogue name */
	char instructions[8192]; /* system prompt */
	int has_temperature;
	double temperature;
	int max_tokens; /* 0 = default */
	int64_t created_at;
	int64_t updated_at;
};

typedef int (*agent_cb)(void *ctx, const struct agent *a);

/* ST_CONFLICT when the name exists for this tenant. */
int store_agent_create(struct store *st, const struct agent *a, int64_t *id_out);
int store_agent_get_by_name(struct store *st, int64_t tenant_id, const char *name,
                            struct agent *out);
int store_agent_get(struct store *st, int64_t tenant_id, int64_t id, struct agent *out);
int store_agent_list(struct store *st, int64_t tenant_id, agent_cb cb, void *ctx);

/* ------------------------------------------------------------------ sessions */

struct session {
	char id[40]; /* "sess_..." */
	int64_t tenant_id;
	int64_t agent_id;    /* 0 = not bound to an agent */
	char metadata[4096]; /* JSON object text, "{}" when none */
	int message_count;
	int64_t created_at;
	int64_t updated_at;
};

struct message {
	int seq;
	char role[16];       /* system | user | assistant */
	const char *content; /* valid during the callback */
	char run_id[40];
	int64_t created_at;
};

typedef int (*message_cb)(void *ctx, const struct message *m);

int store_session_create(struct store *st, int64_t tenant_id, int64_t agent_id,
                         const char *metadata_json, char id_out[40]);
int store_session_get(struct store *st, int64_t tenant_id, const char *id, struct session *out);
/* Messages in order; at most limit (newest kept when over), 0 = all. */
int store_session_messages(struct store *st, int64_t tenant_id, const char *id, int limit,
                           message_cb cb, void *ctx);
/*
 * Append a user message and the assistant's answer of one run atomically
 * (sequence numbers assigned under a row lock on the session).
 */
int store_session_append_turn(struct store *st, int64_t tenant_id, const char *id,
                              const char *user_content, const char *assistant_content,
                              const char *run_id);

/* ------------------------------------------------------------------ executions (runs and calls) */

/* One executions row, the one type every reader and writer of the table uses. */
struct execution {
	char id[40]; /* public id: "run_..." for runs, "chatcmpl-..." for chat */
	int64_t tenant_id;
	int64_t key_id;
	char kind[8];     /* "chat" | "run" */
	int64_t agent_id; /* 0 for chat */
	char agent_name[65];
	char session_id[40]; /* "" if none */
	char model[128];
	char provider[33];
	char cred_source[17]; /* "tenant" (BYOK) | "platform" | "none" */
	char status[17];      /* "succeeded" | "failed" | "cancelled" */
	char reason_code[49]; /* "" when succeeded */
	int http_status;
	int stream;
	int cache_hit; /* 1: answered from the response cache (no upstream call, cost 0) */
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t cost_micros; /* micro-USD */
	int latency_ms;
	char request_id[33];
	char finish_reason[33];
	char end_user[65];         /* X-Actor-Id or the OpenAI "user" field; "" when none */
	const char *metadata;      /* JSON object text or NULL */
	const char *input;         /* run input text or NULL (chat: not stored) */
	const char *output;        /* run output text or NULL */
	const char *error_message; /* or NULL */
	const char *guardrails;    /* what each guardrail decided: JSON array text, or NULL */
	int64_t created_at;        /* filled by reads */
	int64_t seq;               /* internal order, filled by reads, never exposed */
};

struct exec_filter {
	const char *kind;       /* "run", "chat" or NULL for both */
	const char *agent_name; /* or NULL */
	const char *status;     /* or NULL */
	int64_t since;          /* unix seconds, 0 = any */
	const char *cursor;     /* public id of the last row of the previous page, or NULL */
	int limit;              /* 1..100 */
};

/* Strings in *e are valid during the callback only. */
typedef int (*exec_cb)(void *ctx, const struct execution *e);

/*
 * Write the execution row and add it to the day's usage rollup
 * (usage_daily: tenant, day, key, agent, model) in one transaction.
 */
int store_execution_record(struct store *st, const struct execution *e);
/* cb is called once; ST_NOTFOUND when no such id for this tenant. */
int store_execution_get(struct store *st, int64_t tenant_id, const char *id, exec_cb cb, void *ctx);
/*
 * Newest first, keyset-paginated. *has_more set when another page exists;
 * the cursor for it is the id of the last row delivered. ST_NOTFOUND when
 * the cursor is not one of this tenant's executions.
 */
int store_execution_list(struct store *st, int64_t tenant_id, const struct exec_filter *f,
                         exec_cb cb, void *ctx, int *has_more);

/* ------------------------------------------------------------------ audit */

struct audit_entry {
	int64_t tenant_id;       /* 0 when not tenant-specific */
	const char *actor_type;  /* "cli" | "api_key" | "admin" | "system" */
	const char *actor_id;    /* key prefix, admin name, "root"... never a secret */
	const char *action;      /* e.g. "key.revoke" */
	const char *target;      /* e.g. "key:12" */
	const char *outcome;     /* "ok" | "denied" | "error" */
	const char *reason_code; /* or NULL */
	const char *request_id;  /* or NULL */
	const char *ip;          /* or NULL */
	const char *detail;      /* JSON object text or NULL */
	const char *end_user;    /* the tenant API call's end user (X-Actor-Id / "user"), or NULL */
};

int store_audit(struct store *st, const struct audit_entry *a);

/* What store_audit_page lists (the operator API's GET /admin/api/v1/audit). */
struct audit_filter {
	int64_t tenant_id;      /* 0 = every tenant (and rows of none) */
	const char *action;     /* "" = any */
	const char *actor_type; /* "" = any */
	const char *actor_id;   /* "" = any */
	const char *outcome;    /* "" = any */
	int64_t before;         /* rows with id < before (keyset cursor); 0 = newest */
	int limit;              /* 1..100 */
};

struct audit_row {
	int64_t id;
	int64_t tenant_id; /* 0 when not tenant-specific */
	char actor_type[17], actor_id[101], action[65], target[129], outcome[17];
	char reason_code[49], request_id[33], ip[46], end_user[65];
	char detail[65536]; /* JSON object text, "" when none */
	int64_t created_at; /* unix seconds */
};

typedef int (*audit_row_cb)(void *ctx, const struct audit_row *row);

/*
 * Audit rows matching f, newest first, at most f->limit; *has_more is set
 * when older ones follow. One tenant's rows use the (tenant_id, id) index.
 * ST_OK or ST_ERR.
 */
int store_audit_page(struct store *st, const struct audit_filter *f, audit_row_cb cb, void *ctx,
                     int *has_more);

#endif
