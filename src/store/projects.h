/*
 * store/projects.h: projects, named groups of a tenant's API keys that carry
 * a budget level of their own (docs/ENFORCEMENT.md section 3.9).
 *
 * DESIGN
 * A project is a row of `projects` (tenant, name); a key belongs to at most
 * one (project_keys, keyed by the key). Its limits are rows of `limits` at
 * scope "project" (store/limits.h); the effective limits of a key read its
 * project in the same query (store_limits_applicable). Every write here
 * drops the tenant's cached limits (a change of the tenant) in its own
 * transaction, so admission sees a key join or leave a project at the next
 * request on this host and within one watch of change_log elsewhere.
 */
#ifndef AH_STORE_PROJECTS_H
#define AH_STORE_PROJECTS_H

#include <stdint.h>

#include "store/store.h"

#define PROJECT_NAME_MAX 64

struct project {
	int64_t id;
	int64_t tenant_id;
	char name[PROJECT_NAME_MAX + 1];
	int64_t created_at; /* unix seconds */
	int64_t keys;       /* keys in it (lists only) */
};

typedef int (*project_cb)(void *ctx, const struct project *p);

/* Create project name of tenant. ST_OK with *id, ST_CONFLICT when the name is taken, ST_ERR. */
int store_project_create(struct store *st, int64_t tenant_id, const char *name, int64_t *id);
/* The tenant's project called name. ST_OK, ST_NOTFOUND, ST_ERR. */
int store_project_get(struct store *st, int64_t tenant_id, const char *name, struct project *out);
/* The tenant's project of id. ST_OK, ST_NOTFOUND, ST_ERR. */
int store_project_get_id(struct store *st, int64_t tenant_id, int64_t id, struct project *out);
/* The tenant's projects by name, with their key counts; nonzero from cb stops. ST_OK or ST_ERR. */
int store_project_list(struct store *st, int64_t tenant_id, project_cb cb, void *ctx);
/*
 * Rename the tenant's project id to name (its limits, keys and provider keys
 * stay: they hang on the id). ST_OK, ST_CONFLICT (name taken), ST_NOTFOUND
 * (no such project, or already called name), ST_ERR.
 */
int store_project_rename(struct store *st, int64_t tenant_id, int64_t id, const char *name);
/*
 * Delete the tenant's project id, its limits, its own provider keys and its
 * keys' membership (the keys stay), in one transaction. ST_OK, ST_NOTFOUND, ST_ERR.
 */
int store_project_delete(struct store *st, int64_t tenant_id, int64_t id);
/*
 * Put the tenant's key key_id in project_id (moving it out of any other),
 * or out of every project with project_id 0. The caller checked both are
 * the tenant's. ST_OK, ST_NOTFOUND (project_id 0 and the key was in none),
 * ST_ERR.
 */
int store_project_key_set(struct store *st, int64_t tenant_id, int64_t key_id, int64_t project_id);
typedef int (*project_key_cb)(void *ctx, int64_t key_id, int64_t project_id);
/* Every (key, project) pair of the tenant; nonzero from cb stops. ST_OK or ST_ERR. */
int store_project_key_list(struct store *st, int64_t tenant_id, project_key_cb cb, void *ctx);
/* The project of the tenant's key key_id into *project_id (0: none). ST_OK or ST_ERR. */
int store_project_of_key(struct store *st, int64_t tenant_id, int64_t key_id, int64_t *project_id);

/* ------------------------------------------------------------------ tags */

/*
 * Tags with budgets (`tags`: tenant, key, value): their limits are rows of
 * scope "tag". A tag's row is made when a limit is first set on it.
 */
struct tag_row {
	int64_t id;
	char key[65];
	char value[129];
};
typedef int (*tag_cb)(void *ctx, const struct tag_row *g);

/* The tenant's tag key=value into *id, made when missing. ST_OK or ST_ERR. */
int store_tag_ensure(struct store *st, int64_t tenant_id, const char *key, const char *value,
                     int64_t *id);
/* The tenant's tag key=value into *id. ST_OK, ST_NOTFOUND, ST_ERR. */
int store_tag_get(struct store *st, int64_t tenant_id, const char *key, const char *value,
                  int64_t *id);
/* The tenant's tags by key and value; nonzero from cb stops. ST_OK or ST_ERR. */
int store_tag_list(struct store *st, int64_t tenant_id, tag_cb cb, void *ctx);

#endif
