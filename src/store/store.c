/*
 * store.c: a thread's handle on the store: store_open, store_close,
 * store_ping (see store/store.h).
 *
 * DESIGN
 * The top of the store's layers: a handle is a db.c connection to the
 * control database plus the pool of tenant connections that routing
 * (tdb_route.c) hangs on it, so closing one closes the pool first. Kept
 * apart from db.c so that db.c depends on nothing above it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/tdb.h"
#include "store/store.h"
#include "store/tenantdb.h"

/*
 * Open this thread's connection. Returns the handle, or NULL with a message
 * (no password in it) in err.
 */
struct store *store_open(const struct conf *c, char *err, size_t errlen)
{
	struct store *st;

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (util_strlcpy(st->host, c->db_host, sizeof(st->host)) ||
	    util_strlcpy(st->socket, c->db_socket, sizeof(st->socket)) ||
	    util_strlcpy(st->user, c->db_user, sizeof(st->user)) ||
	    util_strlcpy(st->password, c->db_password, sizeof(st->password)) ||
	    util_strlcpy(st->name, c->db_name, sizeof(st->name))) {
		snprintf(err, errlen, "database settings too long");
		goto fail;
	}
	st->port = c->db_port > 0 ? (unsigned int)c->db_port : 3306;
	st->connect_timeout = c->db_connect_timeout > 0 ? (unsigned int)c->db_connect_timeout : 5;
	st->pool_max = c->dedicated_pool > 0 ? c->dedicated_pool : 4;
	st->pool_idle_s = c->dedicated_idle_s > 0 ? c->dedicated_idle_s : 60;
	db_set_nodes(st, c);
	if (db_connect(st, err, errlen))
		goto fail;
	return st;
fail:
	sodium_memzero(st->password, sizeof(st->password));
	free(st);
	return NULL;
}

/* Close the connection and free st (NULL is fine); rolls back an open transaction. */
void store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_pool_close(st);
	db_free(st);
}

/*
 * ST_OK when the database answers and, on Galera, the node is Synced in the
 * primary component; reconnecting once (to the writer) otherwise.
 */
int store_ping(struct store *st)
{
	char err[512];

	db_follow_writer(st);
	if (st->db && mysql_ping(st->db) == 0) {
		int ready = st->in_tx ? 1 : db_node_ready(st, err, sizeof(err));

		if (ready == 1)
			return ST_OK;
		log_warn("store: store_ping: %s", err);
		if (st->in_tx)
			return ST_ERR;
		/* a node outside the primary component still answers pings */
		db_disconnect(st);
	}
	if (st->in_tx) {
		log_error("store: store_ping: connection lost inside a transaction");
		return ST_ERR;
	}
	db_disconnect(st);
	if (db_connect(st, err, sizeof(err))) {
		log_error("store: store_ping: %s", err);
		return ST_ERR;
	}
	return ST_OK;
}
