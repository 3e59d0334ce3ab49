/*
 * tdb.h: what the three files of dedicated tenant databases share
 * (tdb_route.c, tdb_provision.c, tdb_move.c). Private to src/store; the
 * interface is store/tenantdb.h.
 *
 * DESIGN
 * The files depend one way: routing (the per-thread pool, reading where a
 * tenant's data lives) needs only db.c; provisioning (create, drop, migrate
 * and verify a tenant's database and account) adds migrate.c and the
 * connections routing makes; moves (copy, verify, switch) use both. Nothing
 * below calls up: db.c and migrate.c know nothing of tenants.
 */
#ifndef AH_STORE_TDB_H
#define AH_STORE_TDB_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/secrets.h"
#include "store/db.h"
#include "store/tenantdb.h"

#define TDB_SECRET_MAX 600
/* The AD "provider" of a tenant database password: no provider name has a ':'. */
#define TDB_SEAL_NAME "db:data"

/* Where one tenant's data lives, as its row says. */
struct tdb_where {
	int dedicated, epoch, port, key_version;
	char db[65], host[256], user[81];
	uint8_t nonce[SECRETS_NONCE_LEN];
	uint8_t secret[TDB_SECRET_MAX];
	size_t nonce_len, secret_len;
};

/* ------------------------------------------------ tdb_route.c */

/*
 * The handle holding tenant_id's content (executions, run steps, sessions,
 * messages, its rollups): st itself for a shared tenant, a pooled connection
 * to its own database for a dedicated one (tdb_route.c). NULL when that
 * cannot be known or reached (logged): never the wrong database.
 */
struct store *store_data_conn(struct store *st, int64_t tenant_id);
/* Close every pooled tenant connection of st (store_close does). */
void store_pool_close(struct store *st);
/* Remember what key identification read about the request's tenant. */
void store_ctx_set(struct store *st, int64_t tenant_id, int dedicated, int epoch);

/* Read the tenant's row into w: ST_OK, ST_NOTFOUND, ST_ERR. */
int tdb_lookup(struct store *st, int64_t tenant_id, struct tdb_where *w);
/*
 * A handle like st's, not yet connected: on st's server, or on host:port
 * when host is given. NULL when memory ran out.
 */
struct store *tdb_handle(const struct store *st, const char *host, int port);

/* ------------------------------------------------ tdb_provision.c */

/*
 * A connection with the provisioning account (conf db_admin_user, else
 * st's) to st's server or host:port, default database db (NULL: none).
 * NULL with err filled when it cannot connect. Closed with db_free.
 */
struct store *tdb_admin(struct store *st, const struct tdb_opts *o, const char *host, int port,
                        const char *db, char *err, size_t errlen);
/* 1 when t is one of the tables a tenant database holds (content, rollups, response_cache). */
int tdb_known_table(const char *t);

#endif
