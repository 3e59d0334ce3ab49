/*
 * guards.c: idempotency keys and circuit breakers (store_idem_*, store_breaker_*).
 *
 * DESIGN
 * See store/guards.h. Every statement is one round trip and none needs a
 * transaction: the claim is an INSERT on the primary key (the unique index
 * is the arbiter between concurrent first requests), the probe claim is a
 * conditional UPDATE whose matched-row count says who won, and the failure
 * count is one INSERT ... ON DUPLICATE KEY UPDATE whose assignments run left
 * to right, each seeing the ones before (so `state` is decided from the
 * failures just counted, under the row lock).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "store/db.h"
#include "store/guards.h"

/* Statement slots in this file's range. */

#define NOW "UTC_TIMESTAMP(6)"

/* A claim that keeps losing races to deletions and re-inserts gives up after this many rounds. */
#define IDEM_CLAIM_ROUNDS 3

/* ------------------------------------------------------------------ idempotency */

static const char sql_idem_insert[] =
    "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, state, status, response,"
    " owner, created_at, expires_at) VALUES (?, ?, ?, 'running', 0, NULL, ?, " NOW ", " NOW
    " + INTERVAL ? SECOND)";
/* The stored bytes only when they are what the caller will replay: same request, done. */
static const char sql_idem_get[] =
    "SELECT request_hash, state = 'done', status,"
    " IF(state = 'done' AND request_hash = ?, response, NULL), expires_at < " NOW
    " FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?";
static const char sql_idem_drop_expired[] = "DELETE FROM idempotency_keys WHERE tenant_id = ?"
                                            " AND idem_key = ? AND expires_at < " NOW;
static const char sql_idem_finish[] =
    "UPDATE idempotency_keys SET state = 'done', status = ?, response = ?,"
    " expires_at = created_at + INTERVAL ? SECOND"
    " WHERE tenant_id = ? AND idem_key = ? AND request_hash = ? AND state = 'running'";
static const char sql_idem_release[] =
    "DELETE FROM idempotency_keys WHERE tenant_id = ?"
    " AND idem_key = ? AND request_hash = ? AND state = 'running'";
static const char sql_idem_purge[] =
    "DELETE FROM idempotency_keys WHERE expires_at < " NOW " ORDER BY expires_at LIMIT ?";

void store_guard_owner(char *out, size_t cap)
{
	char host[48] = "";

	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, cap, "%s:%d", host, (int)getpid());
}

void store_idem_row_free(struct idem_row *row)
{
	free(row->response);
	row->response = NULL;
	row->response_len = 0;
}

/* Try to insert the claim: ST_OK, ST_CONFLICT (a row exists) or ST_ERR. */
static int idem_insert(struct store *st, int64_t tenant_id, const char *key, const uint8_t hash[32],
                       const char *owner, int stale_s)
{
	MYSQL_BIND in[5];
	unsigned long l[3];

	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], key, &l[0]);
	db_in_blob(&in[2], hash, 32, &l[1]);
	db_in_str(&in[3], owner, &l[2]);
	db_in_int(&in[4], &stale_s);
	return db_exec(st, Q_IDEM_INSERT, sql_idem_insert, in, NULL, "store_idem_claim");
}

/*
 * Read the row of (tenant_id, key) into row. ST_OK with *expired set,
 * ST_NOTFOUND (deleted meanwhile) or ST_ERR.
 */
static int idem_read(struct store *st, int64_t tenant_id, const char *key, const uint8_t hash[32],
                     struct idem_row *row, int *expired)
{
	struct db_out o;
	MYSQL_BIND in[3];
	unsigned long l[2];
	size_t hi, ri;
	int rc;

	db_in_blob(&in[0], hash, 32, &l[0]);
	db_in_i64(&in[1], &tenant_id);
	db_in_str(&in[2], key, &l[1]);
	db_out_init(&o);
	hi = db_out_blob(&o, row->hash, sizeof(row->hash));
	db_out_int(&o, &row->done);
	db_out_int(&o, &row->status);
	ri = db_out_text(&o);
	db_out_int(&o, expired);
	rc = db_exec(st, Q_IDEM_GET, sql_idem_get, in, &o, "store_idem_claim");
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_IDEM_GET, &o, "store_idem_claim");
	if (rc == 1) {
		if (o.len[hi] != sizeof(row->hash)) {
			log_error("store: store_idem_claim: stored request hash has %lu bytes",
			          (unsigned long)o.len[hi]);
			rc = ST_ERR;
		} else if (o.text[ri]) {
			/* Take the fetched bytes over instead of copying up to 16 MB. */
			row->response = o.text[ri];
			row->response_len = o.len[ri];
			o.text[ri] = NULL;
		}
	}
	db_end(st, Q_IDEM_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_idem_claim(struct store *st, int64_t tenant_id, const char *key, const uint8_t hash[32],
                     int stale_s, struct idem_row *row)
{
	char owner[64];
	MYSQL_BIND in[2];
	unsigned long l;
	int rc, expired;

	memset(row, 0, sizeof(*row));
	if (key == NULL || strlen(key) == 0 || strlen(key) > IDEM_KEY_MAX || stale_s < 1) {
		log_error("store: store_idem_claim: bad key or claim lifetime");
		return ST_ERR;
	}
	store_guard_owner(owner, sizeof(owner));
	for (int round = 0; round < IDEM_CLAIM_ROUNDS; round++) {
		rc = idem_insert(st, tenant_id, key, hash, owner, stale_s);
		if (rc != ST_CONFLICT)
			return rc == ST_OK ? ST_OK : ST_ERR;
		rc = idem_read(st, tenant_id, key, hash, row, &expired);
		if (rc == ST_ERR)
			return ST_ERR;
		if (rc == ST_NOTFOUND)
			continue; /* released or purged between the INSERT and the SELECT */
		if (!expired)
			return ST_CONFLICT;
		store_idem_row_free(row);
		/* Conditional: a fresh claim someone made meanwhile is not expired and stays. */
		db_in_i64(&in[0], &tenant_id);
		db_in_str(&in[1], key, &l);
		if (db_exec(st, Q_IDEM_DROP_EXPIRED, sql_idem_drop_expired, in, NULL, __func__) !=
		    ST_OK)
			return ST_ERR;
	}
	log_error("store: store_idem_claim: key kept changing hands; giving up");
	return ST_ERR;
}

int store_idem_finish(struct store *st, int64_t tenant_id, const char *key, const uint8_t hash[32],
                      int status, const void *response, size_t len)
{
	MYSQL_BIND in[6];
	unsigned long l[3];
	int ttl = IDEM_TTL_S;
	int rc;

	db_in_int(&in[0], &status);
	db_in_blob(&in[1], response ? response : "", response ? len : 0, &l[0]);
	db_in_int(&in[2], &ttl);
	db_in_i64(&in[3], &tenant_id);
	db_in_str(&in[4], key, &l[1]);
	db_in_blob(&in[5], hash, 32, &l[2]);
	rc = db_exec(st, Q_IDEM_FINISH, sql_idem_finish, in, NULL, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	return db_affected(st, Q_IDEM_FINISH) == 1 ? ST_OK : ST_NOTFOUND;
}

int store_idem_release(struct store *st, int64_t tenant_id, const char *key, const uint8_t hash[32])
{
	MYSQL_BIND in[3];
	unsigned long l[2];

	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], key, &l[0]);
	db_in_blob(&in[2], hash, 32, &l[1]);
	return db_exec(st, Q_IDEM_RELEASE, sql_idem_release, in, NULL, __func__) == ST_OK ? ST_OK
	                                                                                  : ST_ERR;
}

int store_idem_purge(struct store *st, int max, int *purged)
{
	MYSQL_BIND in[1];

	*purged = 0;
	if (max < 1)
		return ST_OK;
	db_in_int(&in[0], &max);
	if (db_exec(st, Q_IDEM_PURGE, sql_idem_purge, in, NULL, __func__) != ST_OK)
		return ST_ERR;
	*purged = (int)db_affected(st, Q_IDEM_PURGE);
	return ST_OK;
}

/* ------------------------------------------------------------------ breakers */

static const char sql_brk_get[] =
    "SELECT CASE state WHEN 'open' THEN 1 WHEN 'half_open' THEN 2 ELSE 0 END, failures,"
    " COALESCE(open_until <= " NOW ", 1),"
    " CAST(GREATEST(0, CEIL(TIMESTAMPDIFF(MICROSECOND, " NOW ", COALESCE(open_until, " NOW
    ")) / 1000000)) AS SIGNED),"
    " GREATEST(0, TIMESTAMPDIFF(MICROSECOND, " NOW ", COALESCE(open_until, " NOW ")))"
    " FROM breakers WHERE tenant_id = ? AND provider = ?";
static const char sql_brk_claim[] =
    "UPDATE breakers SET state = 'half_open', probe_owner = ?,"
    " open_until = " NOW " + INTERVAL ? SECOND, updated_at = " NOW
    " WHERE tenant_id = ? AND provider = ? AND state IN ('open', 'half_open')"
    " AND open_until <= " NOW;
/*
 * A new row opens at once when one failure is enough. On an existing row
 * only a closed breaker counts: the window restarts when it ended, and the
 * breaker opens when the count reaches the limit (assignments in order).
 */
static const char sql_brk_fail[] =
    "INSERT INTO breakers (tenant_id, provider, state, failures, window_start, opened_at,"
    " open_until, probe_owner, updated_at) VALUES (?, ?, IF(1 >= ?, 'open', 'closed'), 1, " NOW
    ", IF(1 >= ?, " NOW ", NULL), IF(1 >= ?, " NOW " + INTERVAL ? SECOND, NULL), NULL, " NOW ")"
    " ON DUPLICATE KEY UPDATE"
    " failures = IF(state <> 'closed', failures,"
    " IF(window_start <= " NOW " - INTERVAL ? SECOND, 1, failures + 1)),"
    " window_start = IF(state = 'closed' AND window_start <= " NOW " - INTERVAL ? SECOND, " NOW
    ", window_start),"
    " opened_at = IF(state = 'closed' AND failures >= ?, " NOW ", opened_at),"
    " open_until = IF(state = 'closed' AND failures >= ?, " NOW " + INTERVAL ? SECOND,"
    " open_until),"
    " state = IF(state = 'closed' AND failures >= ?, 'open', state),"
    " updated_at = " NOW;
static const char sql_brk_probe_ok[] =
    "UPDATE breakers SET state = 'closed', failures = 0, window_start = " NOW ","
    " opened_at = NULL, open_until = NULL, probe_owner = NULL, updated_at = " NOW
    " WHERE tenant_id = ? AND provider = ? AND state = 'half_open'";
static const char sql_brk_probe_fail[] =
    "UPDATE breakers SET state = 'open', failures = failures + 1, opened_at = " NOW ","
    " open_until = " NOW " + INTERVAL ? SECOND, probe_owner = NULL, updated_at = " NOW
    " WHERE tenant_id = ? AND provider = ? AND state = 'half_open'";

int store_breaker_get(struct store *st, int64_t tenant_id, const char *provider,
                      struct brk_row *out)
{
	struct db_out o;
	MYSQL_BIND in[2];
	unsigned long l;
	int rc;

	memset(out, 0, sizeof(*out));
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], provider, &l);
	db_out_init(&o);
	db_out_int(&o, &out->state);
	db_out_int(&o, &out->failures);
	db_out_int(&o, &out->due);
	db_out_int(&o, &out->wait_s);
	db_out_i64(&o, &out->wait_us);
	rc = db_exec(st, Q_BRK_GET, sql_brk_get, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, Q_BRK_GET, &o, __func__);
	db_end(st, Q_BRK_GET, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

int store_breaker_claim_probe(struct store *st, int64_t tenant_id, const char *provider,
                              const char *owner, int probe_s, int *claimed)
{
	MYSQL_BIND in[4];
	unsigned long l[2];
	uint64_t n = 0;

	*claimed = 0;
	db_in_str(&in[0], owner, &l[0]);
	db_in_int(&in[1], &probe_s);
	db_in_i64(&in[2], &tenant_id);
	db_in_str(&in[3], provider, &l[1]);
	if (store_change_exec(st, Q_BRK_CLAIM, sql_brk_claim, in, __func__, CHANGE_TENANT,
	                      tenant_id, &n) != ST_OK)
		return ST_ERR;
	*claimed = n == 1;
	return ST_OK;
}

int store_breaker_fail(struct store *st, int64_t tenant_id, const char *provider, int errors,
                       int window_s, int cooldown_s)
{
	MYSQL_BIND in[12];
	unsigned long l;

	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], provider, &l);
	db_in_int(&in[2], &errors);
	db_in_int(&in[3], &errors);
	db_in_int(&in[4], &errors);
	db_in_int(&in[5], &cooldown_s);
	db_in_int(&in[6], &window_s);
	db_in_int(&in[7], &window_s);
	db_in_int(&in[8], &errors);
	db_in_int(&in[9], &errors);
	db_in_int(&in[10], &cooldown_s);
	db_in_int(&in[11], &errors);
	return store_change_exec(st, Q_BRK_FAIL, sql_brk_fail, in, __func__, CHANGE_TENANT,
	                         tenant_id, NULL) == ST_OK
	           ? ST_OK
	           : ST_ERR;
}

int store_breaker_probe_done(struct store *st, int64_t tenant_id, const char *provider, int success,
                             int cooldown_s)
{
	MYSQL_BIND in[3];
	unsigned long l;
	int rc;

	if (success) {
		db_in_i64(&in[0], &tenant_id);
		db_in_str(&in[1], provider, &l);
		rc = store_change_exec(st, Q_BRK_PROBE_OK, sql_brk_probe_ok, in, __func__,
		                       CHANGE_TENANT, tenant_id, NULL);
	} else {
		db_in_int(&in[0], &cooldown_s);
		db_in_i64(&in[1], &tenant_id);
		db_in_str(&in[2], provider, &l);
		rc = store_change_exec(st, Q_BRK_PROBE_FAIL, sql_brk_probe_fail, in, __func__,
		                       CHANGE_TENANT, tenant_id, NULL);
	}
	return rc == ST_OK ? ST_OK : ST_ERR;
}

/* A few rows per provider instance: the table is read through its primary key's order. */
static const char sql_brk_counts[] = "SELECT provider, CAST(state AS CHAR), COUNT(*) FROM breakers"
                                     " GROUP BY provider, state ORDER BY provider, state";

int store_breaker_counts(struct store *st,
                         void (*cb)(void *ctx, const char *provider, const char *state,
                                    int64_t count),
                         void *ctx)
{
	char provider[64], state[16];
	struct db_out o;
	int64_t count;
	int rc;

	db_out_init(&o);
	db_out_str(&o, provider, sizeof(provider));
	db_out_str(&o, state, sizeof(state));
	db_out_i64(&o, &count);
	if (db_exec(st, Q_BRK_COUNTS, sql_brk_counts, NULL, &o, __func__) != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_BRK_COUNTS, &o, __func__)) == 1)
		cb(ctx, provider, state, count);
	db_end(st, Q_BRK_COUNTS, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
