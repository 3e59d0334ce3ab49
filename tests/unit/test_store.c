/*
 * test_store.c: the store module against a real MariaDB.
 *
 * DESIGN
 * Needs a server (testdb.h: AGENTHOST_TEST_DB_SOCKET, or a private one
 * started for the program; exit 77, skipped, when neither can be had). It
 * recreates the database ah_store_test, migrates it from $srcdir/sql (or
 * AGENTHOST_TEST_SQL_DIR), then checks every
 * store function, with an eye on tenant isolation: another tenant's agent,
 * session, key or execution must answer ST_NOTFOUND exactly like a missing
 * one. The tests share the database and run in order in one process; each
 * works on tenants of its own.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <mysql.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/sql.h"
#include "store/store.h"
#include "testdb.h"

#define TEST_DB "ah_store_test"

static struct conf g_conf;
static struct store *st;

static void setup(void)
{
	char err[512];

	st = store_open(&g_conf, err, sizeof(err));
	ck_assert_msg(st != NULL, "store_open: %s", err);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
}

static void fill_hash(uint8_t h[32], int seed)
{
	int i;

	for (i = 0; i < 32; i++)
		h[i] = (uint8_t)(seed * 31 + i * 7);
}

static int64_t new_tenant(const char *slug)
{
	int64_t id = 0;

	ck_assert_int_eq(store_tenant_create(st, slug, "Tenant", "pro", &id), ST_OK);
	ck_assert_int_gt(id, 0);
	return id;
}

/* ------------------------------------------------------------------ migrate */

/* Migrations in the sql directory (NNN_*.sql): all of them are applied at set-up. */
static int count_sql_files(void)
{
	DIR *d = opendir(g_conf.sql_dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 8 && isdigit((unsigned char)de->d_name[0]) &&
		    strcmp(de->d_name + len - 4, ".sql") == 0)
			n++;
	}
	closedir(d);
	return n;
}

START_TEST(test_migrate_twice)
{
	char err[512], out[256];
	FILE *tmp = tmpfile();
	int saved, rc;
	size_t n;

	ck_assert_ptr_nonnull(tmp);
	ck_assert_int_eq(testdb_q64(TEST_DB, "%s", "SELECT COUNT(*) FROM schema_migrations"),
	                 count_sql_files());
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(tmp), STDOUT_FILENO);
	rc = store_migrate(st, g_conf.sql_dir, err, sizeof(err));
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	ck_assert_msg(rc == ST_OK, "migrate: %s", err);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	ck_assert_msg(n == 0, "second migrate printed: %s", out);
	ck_assert_int_eq(testdb_q64(TEST_DB, "%s", "SELECT COUNT(*) FROM schema_migrations"),
	                 count_sql_files());
	ck_assert_int_eq(store_migrate(st, "/nonexistent-dir", err, sizeof(err)), ST_ERR);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir"));
}
END_TEST

/* ------------------------------------------------------------------ tenants */

static int count_cb(void *ctx, const struct tenant *t)
{
	(void)t;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_tenants)
{
	struct tenant t;
	int64_t id, id2;
	int n = 0;

	ck_assert_int_eq(store_tenant_create(st, "acme", "Acme Inc", "pro", &id), ST_OK);
	ck_assert_int_eq(store_tenant_create(st, "acme", "Other", "free", &id2), ST_CONFLICT);
	ck_assert_int_eq(store_tenant_create(st, "zeta", "Zeta", "no-such-plan", &id2),
	                 ST_NOTFOUND);
	ck_assert_int_eq(store_tenant_get(st, id, &t), ST_OK);
	ck_assert_str_eq(t.slug, "acme");
	ck_assert_str_eq(t.name, "Acme Inc");
	ck_assert_str_eq(t.plan, "pro");
	ck_assert_str_eq(t.isolation, "shared");
	ck_assert_int_eq(t.status, TENANT_ACTIVE);
	ck_assert_int_gt(t.created_at, util_unix_time() - 60);
	ck_assert_int_le(t.created_at, util_unix_time() + 1);
	ck_assert_int_eq(store_tenant_get_by_slug(st, "acme", &t), ST_OK);
	ck_assert_int_eq(t.id, id);
	ck_assert_int_eq(store_tenant_get_by_slug(st, "ACME", &t), ST_NOTFOUND);
	ck_assert_int_eq(store_tenant_get(st, 987654, &t), ST_NOTFOUND);
	ck_assert_int_eq(store_tenant_create(st, "beta", "Beta", "free", &id2), ST_OK);
	ck_assert_int_eq(store_tenant_list(st, count_cb, &n), ST_OK);
	ck_assert_int_ge(n, 2);

	ck_assert_int_eq(store_tenant_set_status(st, id, TENANT_SUSPENDED, "unpaid invoice"),
	                 ST_OK);
	ck_assert_int_eq(store_tenant_get(st, id, &t), ST_OK);
	ck_assert_int_eq(t.status, TENANT_SUSPENDED);
	ck_assert_str_eq(t.suspended_reason, "unpaid invoice");
	/* Same values again still matches the row (CLIENT_FOUND_ROWS). */
	ck_assert_int_eq(store_tenant_set_status(st, id, TENANT_SUSPENDED, "unpaid invoice"),
	                 ST_OK);
	ck_assert_int_eq(store_tenant_set_status(st, id, TENANT_ACTIVE, NULL), ST_OK);
	ck_assert_int_eq(store_tenant_get(st, id, &t), ST_OK);
	ck_assert_int_eq(t.status, TENANT_ACTIVE);
	ck_assert_str_eq(t.suspended_reason, "");
	ck_assert_int_eq(store_tenant_set_status(st, 987654, TENANT_ACTIVE, NULL), ST_NOTFOUND);
	ck_assert_int_eq(store_tenant_set_status(st, id, 7, NULL), ST_ERR);
}
END_TEST

/* ------------------------------------------------------------------ keys */

static int key_count_cb(void *ctx, const struct api_key *k)
{
	(void)k;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_keys)
{
	int64_t t1 = new_tenant("keys-one"), t2 = new_tenant("keys-two");
	int64_t k1, k2, k3, kx, knew, knew2;
	uint8_t h[32];
	struct key_auth ka;
	struct api_key k;
	int n = 0;

	fill_hash(h, 1);
	ck_assert_int_eq(
	    store_key_insert(st, t1, "ci", "ah_live_abc", h, 0, KEY_SCOPES_DEFAULT, &k1), ST_OK);
	ck_assert_int_eq(
	    store_key_insert(st, t2, "dup", "ah_live_abc", h, 0, KEY_SCOPES_DEFAULT, &kx),
	    ST_CONFLICT);
	fill_hash(h, 99);
	ck_assert_int_eq(
	    store_key_insert(st, 987654, "x", "ah_live_x", h, 0, KEY_SCOPES_DEFAULT, &kx),
	    ST_NOTFOUND);
	fill_hash(h, 1);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.key_id, k1);
	ck_assert_int_eq(ka.tenant_id, t1);
	ck_assert_int_eq(ka.state, KEY_ACTIVE);
	ck_assert_int_eq(ka.tenant_status, TENANT_ACTIVE);
	ck_assert_str_eq(ka.tenant_slug, "keys-one");
	ck_assert_str_eq(ka.plan, "pro");
	ck_assert_str_eq(ka.key_prefix, "ah_live_abc");
	fill_hash(h, 2);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_NOTFOUND);

	/* Suspension shows through auth. */
	ck_assert_int_eq(store_tenant_set_status(st, t1, TENANT_SUSPENDED, "test"), ST_OK);
	fill_hash(h, 1);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.tenant_status, TENANT_SUSPENDED);
	ck_assert_int_eq(store_tenant_set_status(st, t1, TENANT_ACTIVE, NULL), ST_OK);

	/* Another tenant cannot see or revoke it. */
	ck_assert_int_eq(store_key_get(st, t2, k1, &k), ST_NOTFOUND);
	ck_assert_int_eq(store_key_revoke(st, t2, k1), ST_NOTFOUND);
	ck_assert_int_eq(store_key_get(st, t1, k1, &k), ST_OK);
	ck_assert_str_eq(k.name, "ci");
	ck_assert_int_eq(k.state, KEY_ACTIVE);
	ck_assert_int_eq(k.expires_at, 0);
	ck_assert_int_eq(k.last_used_at, 0);

	/* Touch sets last_used_at once. */
	ck_assert_int_eq(store_key_touch(st, k1), ST_OK);
	ck_assert_int_eq(store_key_get(st, t1, k1, &k), ST_OK);
	ck_assert_int_gt(k.last_used_at, 0);

	/* Expired key. */
	fill_hash(h, 3);
	ck_assert_int_eq(store_key_insert(st, t1, "old", "ah_live_old", h, util_unix_time() - 10,
	                                  KEY_SCOPES_DEFAULT, &k2),
	                 ST_OK);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.state, KEY_EXPIRED);
	fill_hash(h, 4);
	ck_assert_int_eq(store_key_insert(st, t1, "later", "ah_live_lat", h,
	                                  util_unix_time() + 3600, KEY_SCOPES_DEFAULT, &k3),
	                 ST_OK);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.state, KEY_ACTIVE);

	/* Rotation with no grace: the old key is refused at once, the new one works. */
	fill_hash(h, 5);
	ck_assert_int_eq(store_key_rotate(st, t1, k1, "ah_live_new", h, 0, &knew), ST_OK);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.key_id, knew);
	ck_assert_int_eq(ka.state, KEY_ACTIVE);
	fill_hash(h, 1);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.state, KEY_ROTATED);
	ck_assert_int_eq(store_key_get(st, t1, k1, &k), ST_OK);
	ck_assert_int_eq(k.rotated_to, knew);
	ck_assert_int_gt(k.grace_until, 0);
	ck_assert_int_eq(store_key_get(st, t1, knew, &k), ST_OK);
	ck_assert_str_eq(k.name, "ci");

	/* Rotation with a grace period keeps the old key working. */
	fill_hash(h, 6);
	ck_assert_int_eq(store_key_rotate(st, t1, knew, "ah_live_n2", h, 3600, &knew2), ST_OK);
	fill_hash(h, 5);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.state, KEY_ACTIVE);
	ck_assert_int_eq(store_key_get(st, t1, knew, &k), ST_OK);
	ck_assert_int_ge(k.grace_until, util_unix_time() + 3590);

	/* Cross-tenant rotation and a hash clash both change nothing. */
	fill_hash(h, 7);
	ck_assert_int_eq(store_key_rotate(st, t2, knew2, "ah_live_x", h, 0, &kx), ST_NOTFOUND);
	fill_hash(h, 5);
	ck_assert_int_eq(store_key_rotate(st, t1, knew2, "ah_live_x", h, 0, &kx), ST_CONFLICT);
	fill_hash(h, 6);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.state, KEY_ACTIVE);

	/* Revocation wins; a revoked key cannot be rotated. */
	ck_assert_int_eq(store_key_revoke(st, t1, k3), ST_OK);
	ck_assert_int_eq(store_key_revoke(st, t1, k3), ST_OK);
	fill_hash(h, 4);
	ck_assert_int_eq(store_key_auth(st, h, &ka), ST_OK);
	ck_assert_int_eq(ka.state, KEY_REVOKED);
	fill_hash(h, 8);
	ck_assert_int_eq(store_key_rotate(st, t1, k3, "ah_live_y", h, 0, &kx), ST_NOTFOUND);
	ck_assert_int_eq(store_key_revoke(st, t1, 987654), ST_NOTFOUND);

	ck_assert_int_eq(store_key_list(st, t1, key_count_cb, &n), ST_OK);
	ck_assert_int_eq(n, 5);
	n = 0;
	ck_assert_int_eq(store_key_list(st, t2, key_count_cb, &n), ST_OK);
	ck_assert_int_eq(n, 0);
}
END_TEST

/* ------------------------------------------------------------------ credentials */

static int cred_cb_count(void *ctx, const char *provider, const struct sealed_cred *c)
{
	(void)c;
	ck_assert_str_eq(provider, "openai");
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_credentials)
{
	int64_t t1 = new_tenant("cred-one"), t2 = new_tenant("cred-two");
	struct sealed_cred c, g;
	int n = 0;

	memset(&c, 0, sizeof(c));
	c.version = 1;
	memset(c.nonce, 0xAB, sizeof(c.nonce));
	memset(c.ct, 0x5C, 60);
	c.ct[0] = 0; /* binary-safe */
	c.ct_len = 60;
	strcpy(c.last4, "wxyz");
	ck_assert_int_eq(store_cred_put(st, t1, "openai", &c), ST_OK);
	ck_assert_int_eq(store_cred_get(st, t1, "openai", &g), ST_OK);
	ck_assert_int_eq(g.version, 1);
	ck_assert_int_eq(g.ct_len, 60);
	ck_assert_mem_eq(g.ct, c.ct, 60);
	ck_assert_mem_eq(g.nonce, c.nonce, 24);
	ck_assert_str_eq(g.last4, "wxyz");
	ck_assert_int_gt(g.updated_at, 0);
	ck_assert_int_eq(store_cred_get(st, t2, "openai", &g), ST_NOTFOUND);
	ck_assert_int_eq(store_cred_get(st, t1, "anthropic", &g), ST_NOTFOUND);

	c.version = 2;
	c.ct_len = 1040;
	memset(c.ct, 0x11, c.ct_len);
	strcpy(c.last4, "abcd");
	ck_assert_int_eq(store_cred_put(st, t1, "openai", &c), ST_OK);
	ck_assert_int_eq(store_cred_get(st, t1, "openai", &g), ST_OK);
	ck_assert_int_eq(g.version, 2);
	ck_assert_int_eq(g.ct_len, 1040);
	ck_assert_mem_eq(g.ct, c.ct, 1040);
	ck_assert_str_eq(g.last4, "abcd");
	ck_assert_int_eq(store_cred_list(st, t1, cred_cb_count, &n), ST_OK);
	ck_assert_int_eq(n, 1);

	c.ct_len = 3;
	ck_assert_int_eq(store_cred_put(st, t1, "openai", &c), ST_ERR);
	c.ct_len = 60;
	ck_assert_int_eq(store_cred_put(st, 987654, "openai", &c), ST_NOTFOUND);

	ck_assert_int_eq(store_cred_clear(st, t2, "openai"), ST_NOTFOUND);
	ck_assert_int_eq(store_cred_clear(st, t1, "openai"), ST_OK);
	ck_assert_int_eq(store_cred_clear(st, t1, "openai"), ST_NOTFOUND);
	ck_assert_int_eq(store_cred_get(st, t1, "openai", &g), ST_NOTFOUND);
}
END_TEST

/* ------------------------------------------------------------------ models */

static int model_cb_count(void *ctx, const struct model *m)
{
	ck_assert(m->name[0] != '\0');
	ck_assert(m->context_window > 0);
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_models)
{
	struct model m;
	int n = 0;

	ck_assert_int_eq(store_model_get(st, "mock-1", &m), ST_OK);
	ck_assert_str_eq(m.provider, "mock");
	ck_assert_str_eq(m.upstream, "mock-1");
	ck_assert_int_eq(m.input_price, 1000000);
	ck_assert_int_eq(m.output_price, 2000000);
	ck_assert_int_eq(store_model_get(st, "gpt-4o-mini", &m), ST_OK);
	ck_assert_int_eq(m.input_price, 150000);
	ck_assert_str_eq(m.kind, "chat");
	ck_assert_int_eq(store_model_get(st, "no-such-model", &m), ST_NOTFOUND);
	ck_assert_int_eq(store_model_get(st, "mock-embed", &m), ST_OK);
	ck_assert_str_eq(m.kind, "embedding");
	ck_assert_int_eq(m.output_price, 0);
	ck_assert_int_eq(store_model_list(st, 1, model_cb_count, &n), ST_OK);
	ck_assert_int_eq(n, 16); /* 12 chat models and 4 embedding models (018) */
	testdb_q64(TEST_DB, "%s", "UPDATE models SET enabled = 0 WHERE name = 'gpt-4o'");
	ck_assert_int_eq(store_model_get(st, "gpt-4o", &m), ST_NOTFOUND);
	n = 0;
	ck_assert_int_eq(store_model_list(st, 1, model_cb_count, &n), ST_OK);
	ck_assert_int_eq(n, 15);
	testdb_q64(TEST_DB, "%s", "UPDATE models SET enabled = 1 WHERE name = 'gpt-4o'");
}
END_TEST

/* ------------------------------------------------------------------ agents */

static int agent_cb_names(void *ctx, const struct agent *a)
{
	struct buf_names {
		char s[256];
	} *b = ctx;

	strcat(b->s, a->name);
	strcat(b->s, ",");
	return 0;
}

START_TEST(test_agents)
{
	int64_t t1 = new_tenant("agent-one"), t2 = new_tenant("agent-two");
	struct agent a, g;
	struct {
		char s[256];
	} names = {""};
	int64_t id1, id2, idx;

	memset(&a, 0, sizeof(a));
	a.tenant_id = t1;
	strcpy(a.name, "support");
	strcpy(a.model, "mock-1");
	strcpy(a.instructions, "Be helpful. \xc3\xa9t\xc3\xa9");
	a.has_temperature = 1;
	a.temperature = 0.25;
	a.max_tokens = 300;
	ck_assert_int_eq(store_agent_create(st, &a, &id1), ST_OK);
	ck_assert_int_eq(store_agent_create(st, &a, &idx), ST_CONFLICT);
	strcpy(a.name, "billing");
	a.has_temperature = 0;
	a.max_tokens = 0;
	ck_assert_int_eq(store_agent_create(st, &a, &id2), ST_OK);
	a.tenant_id = t2;
	strcpy(a.name, "support");
	ck_assert_int_eq(store_agent_create(st, &a, &idx), ST_OK);

	ck_assert_int_eq(store_agent_get(st, t1, id1, &g), ST_OK);
	ck_assert_str_eq(g.name, "support");
	ck_assert_str_eq(g.instructions, "Be helpful. \xc3\xa9t\xc3\xa9");
	ck_assert_int_eq(g.has_temperature, 1);
	ck_assert(g.temperature > 0.249 && g.temperature < 0.251);
	ck_assert_int_eq(g.max_tokens, 300);
	ck_assert_int_eq(store_agent_get_by_name(st, t1, "billing", &g), ST_OK);
	ck_assert_int_eq(g.id, id2);
	ck_assert_int_eq(g.has_temperature, 0);
	ck_assert_int_eq(g.max_tokens, 0);
	ck_assert_int_eq(store_agent_get(st, t2, id1, &g), ST_NOTFOUND);
	ck_assert_int_eq(store_agent_get_by_name(st, t2, "billing", &g), ST_NOTFOUND);
	ck_assert_int_eq(store_agent_get_by_name(st, t1, "Billing", &g), ST_NOTFOUND);
	ck_assert_int_eq(store_agent_list(st, t1, agent_cb_names, &names), ST_OK);
	ck_assert_str_eq(names.s, "billing,support,");
}
END_TEST

/* ------------------------------------------------------------------ sessions */

struct msgs {
	char s[512];
	int n;
};

static int msg_cb(void *ctx, const struct message *m)
{
	struct msgs *b = ctx;
	char line[128];

	snprintf(line, sizeof(line), "%d:%s:%s;", m->seq, m->role, m->content);
	strcat(b->s, line);
	b->n++;
	return 0;
}

START_TEST(test_sessions)
{
	int64_t t1 = new_tenant("sess-one"), t2 = new_tenant("sess-two"), agent_t2;
	char id[40], id2[40];
	struct session s;
	struct agent a;
	struct msgs m;

	memset(&a, 0, sizeof(a));
	a.tenant_id = t2;
	strcpy(a.name, "other");
	strcpy(a.model, "mock-1");
	ck_assert_int_eq(store_agent_create(st, &a, &agent_t2), ST_OK);
	ck_assert_int_eq(store_session_create(st, t1, agent_t2, NULL, id2), ST_NOTFOUND);
	ck_assert_int_eq(store_session_create(st, t2, agent_t2, "{\"a\":1}", id2), ST_OK);

	ck_assert_int_eq(store_session_create(st, t1, 0, NULL, id), ST_OK);
	ck_assert_int_eq(strncmp(id, "sess_", 5), 0);
	ck_assert_int_eq(store_session_get(st, t1, id, &s), ST_OK);
	ck_assert_str_eq(s.id, id);
	ck_assert_str_eq(s.metadata, "{}");
	ck_assert_int_eq(s.agent_id, 0);
	ck_assert_int_eq(s.message_count, 0);
	ck_assert_int_eq(store_session_get(st, t2, id, &s), ST_NOTFOUND);
	ck_assert_int_eq(store_session_get(st, t2, id2, &s), ST_OK);
	ck_assert_int_eq(s.agent_id, agent_t2);
	ck_assert_int_eq(store_session_create(st, t1, 0, "not json", id2), ST_ERR);

	ck_assert_int_eq(store_session_append_turn(st, t1, id, "q1", "a1", "run_1"), ST_OK);
	ck_assert_int_eq(store_session_append_turn(st, t1, id, "q2", "a2", "run_2"), ST_OK);
	ck_assert_int_eq(store_session_append_turn(st, t1, id, "q3", "a3", NULL), ST_OK);
	ck_assert_int_eq(store_session_append_turn(st, t2, id, "x", "y", "run_x"), ST_NOTFOUND);
	ck_assert_int_eq(store_session_get(st, t1, id, &s), ST_OK);
	ck_assert_int_eq(s.message_count, 6);

	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(store_session_messages(st, t1, id, 0, msg_cb, &m), ST_OK);
	ck_assert_str_eq(m.s, "1:user:q1;2:assistant:a1;3:user:q2;4:assistant:a2;5:user:q3;"
	                      "6:assistant:a3;");
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(store_session_messages(st, t1, id, 3, msg_cb, &m), ST_OK);
	ck_assert_str_eq(m.s, "4:assistant:a2;5:user:q3;6:assistant:a3;");
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(store_session_messages(st, t1, id, 50, msg_cb, &m), ST_OK);
	ck_assert_int_eq(m.n, 6);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(store_session_messages(st, t2, id, 0, msg_cb, &m), ST_NOTFOUND);
	ck_assert_int_eq(m.n, 0);
	ck_assert_int_eq(store_session_messages(st, t1, "sess_nope", 0, msg_cb, &m), ST_NOTFOUND);
}
END_TEST

/* ------------------------------------------------------------------ executions */

struct seen {
	char ids[16][40];
	int n;
	int saw_input;
};

static int exec_collect(void *ctx, const struct execution *e)
{
	struct seen *s = ctx;

	ck_assert_int_lt(s->n, 16);
	strcpy(s->ids[s->n++], e->id);
	if (e->input && strcmp(e->input, "hello input") == 0)
		s->saw_input = 1;
	return 0;
}

static void make_exec(struct execution *e, int64_t tenant, const char *id, const char *kind,
                      const char *status)
{
	memset(e, 0, sizeof(*e));
	e->tenant_id = tenant;
	strcpy(e->id, id);
	strcpy(e->kind, kind);
	e->key_id = 7;
	strcpy(e->model, "mock-1");
	strcpy(e->provider, "mock");
	strcpy(e->cred_source, "platform");
	strcpy(e->status, status);
	e->http_status = 200;
	e->prompt_tokens = 10;
	e->completion_tokens = 5;
	e->cost_micros = 20;
	e->latency_ms = 3;
	strcpy(e->request_id, "0123456789abcdef0123456789abcdef");
	strcpy(e->finish_reason, "stop");
	if (strcmp(kind, "run") == 0) {
		e->agent_id = 42;
		strcpy(e->agent_name, "support");
		e->input = "hello input";
		e->output = "hello output";
		e->metadata = "{\"k\":\"v\"}";
	}
}

static int exec_get_cb(void *ctx, const struct execution *e)
{
	struct execution *out = ctx;

	*out = *e;
	ck_assert_ptr_nonnull(e->output);
	ck_assert_str_eq(e->output, "hello output");
	ck_assert_str_eq(e->metadata, "{\"k\":\"v\"}");
	ck_assert_ptr_null(e->error_message);
	out->input = out->output = out->metadata = out->error_message = NULL;
	return 0;
}

START_TEST(test_executions)
{
	int64_t t1 = new_tenant("exec-one"), t2 = new_tenant("exec-two");
	struct exec_filter f;
	struct execution e, g;
	struct seen s;
	char id[40], big[600];
	int i, more;

	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "run_%d", i);
		make_exec(&e, t1, id, i % 2 ? "chat" : "run", i == 3 ? "failed" : "succeeded");
		if (i == 3) {
			memset(big, 'e', sizeof(big) - 1);
			big[sizeof(big) - 1] = '\0';
			e.error_message = big;
			strcpy(e.reason_code, "upstream_error");
		}
		ck_assert_int_eq(store_execution_record(st, &e), ST_OK);
	}
	make_exec(&e, t2, "run_x", "run", "succeeded");
	ck_assert_int_eq(store_execution_record(st, &e), ST_OK);
	make_exec(&e, t1, "run_0", "run", "succeeded");
	ck_assert_int_eq(store_execution_record(st, &e), ST_CONFLICT);

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(store_execution_get(st, t1, "run_2", exec_get_cb, &g), ST_OK);
	ck_assert_str_eq(g.id, "run_2");
	ck_assert_str_eq(g.kind, "run");
	ck_assert_int_eq(g.agent_id, 42);
	ck_assert_int_eq(g.cost_micros, 20);
	ck_assert_int_gt(g.seq, 0);
	ck_assert_int_gt(g.created_at, 0);
	ck_assert_int_eq(store_execution_get(st, t2, "run_2", exec_get_cb, &g), ST_NOTFOUND);
	ck_assert_int_eq(store_execution_get(st, t1, "run_x", exec_get_cb, &g), ST_NOTFOUND);

	/* Pages of 2, newest first: 4 3 | 2 1 | 0. */
	memset(&f, 0, sizeof(f));
	f.limit = 2;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(more, 1);
	ck_assert_str_eq(s.ids[0], "run_4");
	ck_assert_str_eq(s.ids[1], "run_3");
	f.cursor = s.ids[1];
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(more, 1);
	ck_assert_str_eq(s.ids[3], "run_1");
	f.cursor = s.ids[3];
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 5);
	ck_assert_str_eq(s.ids[4], "run_0");
	ck_assert_int_eq(more, 0);
	ck_assert_int_eq(s.saw_input, 1);

	/* Filters. */
	memset(&f, 0, sizeof(f));
	f.limit = 100;
	f.kind = "chat";
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(more, 0);
	f.kind = NULL;
	f.status = "failed";
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.ids[0], "run_3");
	f.status = NULL;
	f.agent_name = "support";
	f.kind = "run";
	f.since = util_unix_time() - 3600;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 3);
	f.since = util_unix_time() + 3600;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 0);

	/* Another tenant's id is no cursor; bad limits are refused. */
	memset(&f, 0, sizeof(f));
	f.limit = 10;
	f.cursor = "run_x";
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_NOTFOUND);
	f.cursor = NULL;
	f.limit = 0;
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_ERR);
	f.limit = 101;
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_ERR);
	memset(&s, 0, sizeof(s));
	f.limit = 10;
	ck_assert_int_eq(store_execution_list(st, t2, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 1);

	/* The rollup: run rows (agent 42) and chat rows (agent 0), errors counted. */
	{
		char q[256];

		snprintf(q, sizeof(q),
		         "SELECT SUM(requests) * 1000000 + SUM(errors) * 10000 + SUM(cost_micros)"
		         " FROM usage_daily WHERE tenant_id = %lld",
		         (long long)t1);
		ck_assert_int_eq(testdb_q64(TEST_DB, "%s", q), 5 * 1000000 + 1 * 10000 + 100);
		snprintf(q, sizeof(q),
		         "SELECT COUNT(*) FROM usage_daily WHERE tenant_id = %lld AND day ="
		         " UTC_DATE()",
		         (long long)t1);
		ck_assert_int_eq(testdb_q64(TEST_DB, "%s", q), 2);
		snprintf(q, sizeof(q),
		         "SELECT CHAR_LENGTH(error_message) FROM executions WHERE tenant_id = %lld"
		         " AND id = 'run_3'",
		         (long long)t1);
		ck_assert_int_eq(testdb_q64(TEST_DB, "%s", q), 255);
	}
}
END_TEST

/* ------------------------------------------------------------------ audit */

START_TEST(test_audit)
{
	struct audit_entry a = {0};
	int64_t before = testdb_q64(TEST_DB, "%s", "SELECT COUNT(*) FROM audit_log");

	a.tenant_id = 0;
	a.actor_type = "cli";
	a.actor_id = "root";
	a.action = "tenant.create";
	a.target = "tenant:1";
	a.outcome = "ok";
	a.detail = "{\"slug\":\"acme\"}";
	ck_assert_int_eq(store_audit(st, &a), ST_OK);
	a.tenant_id = 1;
	a.reason_code = "key_revoked";
	a.request_id = "0123456789abcdef0123456789abcdef";
	a.ip = "127.0.0.1";
	a.outcome = "denied";
	ck_assert_int_eq(store_audit(st, &a), ST_OK);
	ck_assert_int_eq(testdb_q64(TEST_DB, "%s", "SELECT COUNT(*) FROM audit_log"), before + 2);
	ck_assert_int_eq(
	    testdb_q64(TEST_DB, "%s", "SELECT COUNT(*) FROM audit_log WHERE tenant_id IS NULL"), 1);
	a.action = NULL;
	ck_assert_int_eq(store_audit(st, &a), ST_ERR);
}
END_TEST

/* ------------------------------------------------------------------ reconnect */

START_TEST(test_reconnect)
{
	int64_t t1 = new_tenant("recon-one");
	struct exec_filter f;
	struct execution e;
	struct seen s;
	int more;
	struct tenant t;
	char q[64];

	ck_assert_int_eq(store_tenant_get(st, t1, &t), ST_OK);
	snprintf(q, sizeof(q), "KILL %lu", mysql_thread_id(st->db));
	testdb_q64(TEST_DB, "%s", q);
	/* A cached statement on a dead connection: reconnect, re-prepare, retry. */
	ck_assert_int_eq(store_tenant_get(st, t1, &t), ST_OK);
	ck_assert_str_eq(t.slug, "recon-one");

	snprintf(q, sizeof(q), "KILL %lu", mysql_thread_id(st->db));
	testdb_q64(TEST_DB, "%s", q);
	/* A transaction on a dead connection: START TRANSACTION reconnects first. */
	make_exec(&e, t1, "run_recon", "chat", "succeeded");
	ck_assert_int_eq(store_execution_record(st, &e), ST_OK);
	/* A list variant built per call can be prepared again after a reconnect. */
	memset(&f, 0, sizeof(f));
	f.limit = 5;
	f.kind = "chat";
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	snprintf(q, sizeof(q), "KILL %lu", mysql_thread_id(st->db));
	testdb_q64(TEST_DB, "%s", q);
	ck_assert_int_eq(store_execution_list(st, t1, &f, exec_collect, &s, &more), ST_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(store_ping(st), ST_OK);
	snprintf(q, sizeof(q), "KILL %lu", mysql_thread_id(st->db));
	testdb_q64(TEST_DB, "%s", q);
	ck_assert_int_eq(store_ping(st), ST_OK);
	ck_assert_int_eq(store_tenant_get(st, t1, &t), ST_OK);

	/* Lost inside a transaction: no replay, ST_ERR, and the next call starts clean. */
	ck_assert_int_eq(db_begin(st, "test"), ST_OK);
	snprintf(q, sizeof(q), "KILL %lu", mysql_thread_id(st->db));
	testdb_q64(TEST_DB, "%s", q);
	make_exec(&e, t1, "run_recon2", "chat", "succeeded");
	ck_assert_int_eq(store_tenant_get(st, t1, &t), ST_ERR);
	db_rollback(st);
	ck_assert_int_eq(st->in_tx, 0);
	ck_assert_int_eq(store_execution_record(st, &e), ST_OK);
	ck_assert_int_eq(store_tenant_get(st, t1, &t), ST_OK);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

struct turn_job {
	int64_t tenant;
	const char *session;
	int fails;
};

static void *turn_worker(void *arg)
{
	struct turn_job *j = arg;
	struct store *s;
	char err[256];
	int i;

	mysql_thread_init();
	s = store_open(&g_conf, err, sizeof(err));
	if (s == NULL) {
		j->fails = -1;
		goto out;
	}
	for (i = 0; i < 25; i++)
		if (store_session_append_turn(s, j->tenant, j->session, "q", "a", "run_c") != ST_OK)
			j->fails++;
	store_close(s);
out:
	mysql_thread_end();
	return NULL;
}

static int seq_check_cb(void *ctx, const struct message *m)
{
	int *next = ctx;

	ck_assert_int_eq(m->seq, *next);
	ck_assert_str_eq(m->role, (*next % 2) ? "user" : "assistant");
	(*next)++;
	return 0;
}

START_TEST(test_concurrent_turns)
{
	int64_t t1 = new_tenant("conc-one");
	struct turn_job jobs[4];
	pthread_t th[4];
	struct session s;
	char id[40];
	int i, next = 1;

	ck_assert_int_eq(store_session_create(st, t1, 0, NULL, id), ST_OK);
	for (i = 0; i < 4; i++) {
		jobs[i].tenant = t1;
		jobs[i].session = id;
		jobs[i].fails = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, turn_worker, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(jobs[i].fails, 0);
	}
	ck_assert_int_eq(store_session_get(st, t1, id, &s), ST_OK);
	ck_assert_int_eq(s.message_count, 200);
	ck_assert_int_eq(store_session_messages(st, t1, id, 0, seq_check_cb, &next), ST_OK);
	ck_assert_int_eq(next, 201);
}
END_TEST

/* ------------------------------------------------------------------ the SQL builder */

/* The first column of every row, appended to a buffer with '|' after each. */
static void sql_cells(void *ctx, int set, MYSQL_ROW row, unsigned long *len, unsigned n)
{
	struct buf *b = ctx;

	(void)set;
	for (unsigned i = 0; i < n; i++) {
		buf_append(b, row[i] ? row[i] : "<null>", row[i] ? len[i] : 6);
		buf_putc(b, '|');
	}
}

START_TEST(test_sql_builder)
{
	static const char *const hostile[] = {"it's",
	                                      "back\\slash\\",
	                                      "q\"uote",
	                                      "semi; DROP TABLE x; --",
	                                      "nul\x1a ctl\n\r",
	                                      "caf\xc3\xa9 \xe2\x82\xac",
	                                      ""};
	struct buf got = BUF_INIT;
	struct sql q;

	/* strings come back exactly as given, whatever they hold */
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		sql_init(&q, st);
		sql_lit(&q, "SELECT ");
		sql_str(&q, hostile[i]);
		sql_lit(&q, ", ");
		sql_strn(&q, hostile[i], strlen(hostile[i]) / 2);
		buf_reset(&got);
		ck_assert_int_eq(sql_run(st, &q, sql_cells, &got, "test"), ST_OK);
		{
			char want[256];

			snprintf(want, sizeof(want), "%s|%.*s|", hostile[i],
			         (int)(strlen(hostile[i]) / 2), hostile[i]);
			ck_assert_str_eq(buf_str(&got), want);
		}
		sql_free(&q);
	}
	/* numbers, NULL, identifiers (a backtick inside is doubled) and times */
	sql_init(&q, st);
	sql_lit(&q, "SELECT ");
	sql_i64(&q, INT64_MIN);
	sql_lit(&q, ", ");
	sql_i64(&q, INT64_MAX);
	sql_lit(&q, ", ");
	sql_i64(&q, 0);
	sql_lit(&q, ", ");
	sql_str(&q, NULL);
	sql_lit(&q, ", 7 AS ");
	sql_ident(&q, "odd`name");
	sql_lit(&q, ", DATE_FORMAT(");
	sql_time_us(&q, 1700000000000042);
	sql_lit(&q, ", '%f')");
	buf_reset(&got);
	ck_assert_int_eq(sql_run(st, &q, sql_cells, &got, "test"), ST_OK);
	ck_assert_str_eq(buf_str(&got),
	                 "-9223372036854775808|9223372036854775807|0|<null>|7|000042|");
	ck_assert_str_eq(strstr(q.b.data, "AS ") + 3, "`odd``name`, DATE_FORMAT(FROM_UNIXTIME("
	                                              "1700000000.000042), '%f')");
	/* a failed append sticks: nothing is sent */
	sql_reset(&q);
	sql_lit(&q, "SELECT ");
	sql_ident(&q, "");
	sql_lit(&q, "1");
	ck_assert_int_eq(sql_ok(&q), 0);
	ck_assert_int_eq(sql_run(st, &q, NULL, NULL, "test"), ST_ERR);
	sql_reset(&q);
	sql_ident(&q, "a\nb");
	ck_assert_int_eq(sql_ok(&q), 0);
	sql_free(&q);
	buf_free(&got);
	/* a statement's shapes are its own slots, in bounds */
	ck_assert_int_eq(db_variant(Q_EXEC_LIST, 0), Q_EXEC_LIST);
	ck_assert_int_eq(db_variant(Q_EXEC_LIST, DB_EXEC_LIST_SHAPES - 1),
	                 Q_EXEC_LIST + DB_EXEC_LIST_SHAPES - 1);
	ck_assert_int_lt(db_variant(Q_EXEC_LIST, DB_EXEC_LIST_SHAPES - 1), Q_AUDIT_INSERT);
}
END_TEST

/* ------------------------------------------------------------------ main */

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("mariadb");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_migrate_twice);
	tcase_add_test(tc, test_tenants);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_credentials);
	tcase_add_test(tc, test_models);
	tcase_add_test(tc, test_agents);
	tcase_add_test(tc, test_sessions);
	tcase_add_test(tc, test_executions);
	tcase_add_test(tc, test_audit);
	tcase_add_test(tc, test_reconnect);
	tcase_add_test(tc, test_concurrent_turns);
	tcase_add_test(tc, test_sql_builder);
	suite_add_tcase(s, tc);
	return s;
}

/* Recreate the test database and migrate it once; 0 or -1. */
int main(void)
{
	int rc;

	if (testdb_start("test_store") < 0)
		return 77;
	if (testdb_conf(&g_conf, TEST_DB) < 0)
		return 1;
	log_set_level(LOG_WARN);
	if (mysql_library_init(0, NULL, NULL)) {
		fprintf(stderr, "mysql_library_init failed\n");
		return 1;
	}
	if (testdb_prepare(&g_conf)) {
		mysql_library_end();
		return 1;
	}
	rc = testdb_run(store_suite());
	mysql_library_end();
	return rc;
}
