/*
 * testdb: the fixtures the unit test programs share: a MariaDB to test
 * against, a configuration aimed at a fresh test database, root queries for
 * checking rows the API does not show, temporary directories, and running
 * a check suite.
 *
 * DESIGN
 * The server is the one AGENTHOST_TEST_DB_SOCKET names (tests/run starts
 * one and sets it; user root, password AGENTHOST_TEST_DB_PASSWORD or none).
 * Without it, testdb_start starts a private one (mariadb-install-db and
 * mariadbd from Debian's mariadb-server, no networking, a socket in a
 * temporary directory) so that `make check` runs every test on its own; the
 * server dies with the program (PR_SET_PDEATHSIG) and is stopped and
 * removed at exit. Each program works on a database of its own name, so
 * programs may run in parallel against one server.
 */
#ifndef AH_TESTDB_H
#define AH_TESTDB_H

#include <check.h>
#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

struct conf;

/*
 * Make sure a server is reachable: the one of AGENTHOST_TEST_DB_SOCKET, or
 * a private one started now (and AGENTHOST_TEST_DB_SOCKET set to it). 0
 * when there is one; -1 (with a line on stderr naming prog) when there is
 * none and none can be started, which callers report as a skip (77).
 */
int testdb_start(const char *prog);
/* The migrations directory: AGENTHOST_TEST_SQL_DIR, else $srcdir/sql (srcdir "." if unset). */
const char *testdb_sql_dir(void);
/*
 * Fill c with the defaults plus db_socket, db_user root, db_password and
 * db_name = db, sql_dir = testdb_sql_dir(). 0, or -1 with the reason on stderr.
 */
int testdb_conf(struct conf *c, const char *db);
/* A root connection to the server, on database db (NULL: none). NULL with a message on failure. */
MYSQL *testdb_admin(const char *db);
/*
 * Run sql (printf format) as root on database db (NULL: none) and answer the
 * first column of the first row as int64 (0 when there is none). A failing
 * statement fails the running check test.
 */
int64_t testdb_q64(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop database db (and, when create, create it empty, utf8mb4). 0, or -1 with a message. */
int testdb_reset(const char *db, int create);
/* Recreate c's database and migrate it from c's sql_dir. 0, or -1 with a message. */
int testdb_prepare(const struct conf *c);
/*
 * Create a fresh directory $TMPDIR/<tag>-XXXXXX (/tmp when TMPDIR is unset
 * or relative) into out (cap bytes). 0, or -1 with a message.
 */
int testdb_tmpdir(const char *tag, char *out, size_t cap);
/* Run every test of s (the runner is freed, s with it). EXIT_SUCCESS when none failed. */
int testdb_run(Suite *s);

#endif
