/*
 * testdb.c: the shared unit test fixtures (see testdb.h).
 *
 * DESIGN
 * The private server is a child started by fork/exec, not through a shell,
 * so its pid is known exactly; the atexit handler stops only that pid and
 * only in the process that started it (check runs each test in a forked
 * child, which inherits atexit handlers and must not stop the server when
 * its test ends).
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/conf.h"
#include "store/store.h"
#include "testdb.h"

static char testdb_sql[1024];
static char testdb_dir[256];     /* the private server's directory, "" when none */
static pid_t testdb_server = -1; /* the private server, -1 when none */
static pid_t testdb_owner = -1;  /* the process that started it */

/* ---------------------------------------------------------------- the server */

/* Run argv (NULL-terminated) with stdout and stderr into log; its exit status, or -1. */
static int testdb_spawn_wait(char *const argv[], const char *log)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (freopen(log, "a", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Remove the private server's directory tree (its files are all ours). */
static void testdb_rmtree(void)
{
	char *argv[] = {"rm", "-rf", testdb_dir, NULL};

	if (testdb_dir[0] != '\0')
		testdb_spawn_wait(argv, "/dev/null");
	testdb_dir[0] = '\0';
}

static void testdb_stop(void)
{
	int st;

	if (testdb_server <= 0 || getpid() != testdb_owner)
		return;
	kill(testdb_server, SIGTERM);
	while (waitpid(testdb_server, &st, 0) < 0 && errno == EINTR)
		;
	testdb_server = -1;
	testdb_rmtree();
}

/* A file named name in a directory of PATH or /usr/sbin (mariadbd lives there). */
static int testdb_have(const char *name)
{
	char p[512];
	const char *dirs[] = {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dirs[i], name);
		if (access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* 1 when a root connection over sock succeeds. */
static int testdb_ping(const char *sock)
{
	MYSQL *m = mysql_init(NULL);
	int ok;

	if (m == NULL)
		return 0;
	ok = mysql_real_connect(m, "localhost", "root", "", NULL, 0, sock, 0) != NULL;
	mysql_close(m);
	return ok;
}

int testdb_start(const char *prog)
{
	const char *sock = getenv("AGENTHOST_TEST_DB_SOCKET");
	const struct passwd *pw = getpwuid(geteuid());
	char data[320], sockp[320], log[320], pidf[320], opt[8][400];
	pid_t pid;

	if (sock != NULL && sock[0] != '\0')
		return 0;
	if (!testdb_have("mariadbd") || !testdb_have("mariadb-install-db") || pw == NULL) {
		fprintf(stderr,
		        "%s: AGENTHOST_TEST_DB_SOCKET not set and no mariadb-server to "
		        "start one, skipping the database checks\n",
		        prog);
		return -1;
	}
	if (testdb_tmpdir("ah-testdb", testdb_dir, sizeof(testdb_dir)) < 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", testdb_dir);
	snprintf(sockp, sizeof(sockp), "%s/s.sock", testdb_dir);
	snprintf(log, sizeof(log), "%s/server.log", testdb_dir);
	snprintf(pidf, sizeof(pidf), "%s/s.pid", testdb_dir);
	snprintf(opt[0], sizeof(opt[0]), "--datadir=%s", data);
	snprintf(opt[1], sizeof(opt[1]), "--user=%s", pw->pw_name);
	snprintf(opt[2], sizeof(opt[2]), "--socket=%s", sockp);
	snprintf(opt[3], sizeof(opt[3]), "--pid-file=%s", pidf);
	snprintf(opt[4], sizeof(opt[4]), "--log-error=%s", log);
	{
		char *argv[] = {"mariadb-install-db",
		                "--no-defaults",
		                opt[0],
		                opt[1],
		                "--auth-root-authentication-method=normal",
		                "--skip-test-db",
		                NULL};

		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 0);
		if (testdb_spawn_wait(argv, log) != 0) {
			fprintf(stderr, "%s: mariadb-install-db failed; see %s\n", prog, log);
			return -1;
		}
	}
	testdb_owner = getpid();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		char *argv[] = {"mariadbd",
		                "--no-defaults",
		                opt[1],
		                opt[0],
		                opt[2],
		                opt[3],
		                opt[4],
		                "--skip-networking",
		                "--skip-name-resolve",
		                "--max-connections=500",
		                NULL};

		/* A program killed before its atexit must not leave a server behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != testdb_owner)
			_exit(1);
		if (freopen("/dev/null", "w", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
			_exit(127);
		execvp("/usr/sbin/mariadbd", argv);
		execvp(argv[0], argv);
		_exit(127);
	}
	testdb_server = pid;
	atexit(testdb_stop);
	for (int i = 0; i < 600; i++) {
		int st;

		if (testdb_ping(sockp)) {
			setenv("AGENTHOST_TEST_DB_SOCKET", sockp, 1);
			return 0;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			testdb_server = -1;
			break;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "%s: the private MariaDB did not start; see %s\n", prog, log);
	return -1;
}

/* ---------------------------------------------------------------- configuration */

const char *testdb_sql_dir(void)
{
	const char *dir = getenv("AGENTHOST_TEST_SQL_DIR"), *src = getenv("srcdir");

	if (dir != NULL && dir[0] != '\0')
		snprintf(testdb_sql, sizeof(testdb_sql), "%s", dir);
	else
		snprintf(testdb_sql, sizeof(testdb_sql), "%s/sql",
		         src != NULL && src[0] != '\0' ? src : ".");
	return testdb_sql;
}

int testdb_conf(struct conf *c, const char *db)
{
	const char *sock = getenv("AGENTHOST_TEST_DB_SOCKET");
	const char *pw = getenv("AGENTHOST_TEST_DB_PASSWORD");
	char err[256];

	conf_defaults(c);
	if (conf_set(c, "db_socket", sock ? sock : "", err, sizeof(err)) ||
	    conf_set(c, "db_user", "root", err, sizeof(err)) ||
	    conf_set(c, "db_password", pw ? pw : "", err, sizeof(err)) ||
	    conf_set(c, "db_name", db, err, sizeof(err)) ||
	    conf_set(c, "sql_dir", testdb_sql_dir(), err, sizeof(err))) {
		fprintf(stderr, "conf: %s\n", err);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- root queries */

MYSQL *testdb_admin(const char *db)
{
	const char *pw = getenv("AGENTHOST_TEST_DB_PASSWORD");
	MYSQL *m = mysql_init(NULL);

	if (m == NULL)
		return NULL;
	if (!mysql_real_connect(m, "localhost", "root", pw ? pw : "", db, 0,
	                        getenv("AGENTHOST_TEST_DB_SOCKET"), 0)) {
		fprintf(stderr, "admin connect: %s\n", mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

int64_t testdb_q64(const char *db, const char *fmt, ...)
{
	char sql[4096];
	MYSQL *m = testdb_admin(db);
	MYSQL_RES *res;
	MYSQL_ROW row;
	int64_t v = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(m);
	ck_assert_msg(mysql_query(m, sql) == 0, "%s: %s", sql, mysql_error(m));
	res = mysql_store_result(m);
	if (res) {
		row = mysql_fetch_row(res);
		if (row && row[0])
			v = strtoll(row[0], NULL, 10);
		mysql_free_result(res);
	}
	mysql_close(m);
	return v;
}

int testdb_reset(const char *db, int create)
{
	char sql[300];
	MYSQL *m = testdb_admin(NULL);

	if (m == NULL)
		return -1;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS `%s`", db);
	if (mysql_query(m, sql) == 0 && create) {
		snprintf(sql, sizeof(sql), "CREATE DATABASE `%s` CHARACTER SET utf8mb4", db);
		mysql_query(m, sql);
	}
	if (mysql_errno(m) != 0) {
		fprintf(stderr, "database %s: %s\n", db, mysql_error(m));
		mysql_close(m);
		return -1;
	}
	mysql_close(m);
	return 0;
}

int testdb_prepare(const struct conf *c)
{
	char err[512];
	struct store *s;

	if (testdb_reset(c->db_name, 1) < 0)
		return -1;
	s = store_open(c, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	if (store_migrate(s, c->sql_dir, err, sizeof(err)) != ST_OK) {
		fprintf(stderr, "migrate: %s\n", err);
		store_close(s);
		return -1;
	}
	store_close(s);
	return 0;
}

/* ---------------------------------------------------------------- the rest */

int testdb_tmpdir(const char *tag, char *out, size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	if ((size_t)snprintf(out, cap, "%s/%s-XXXXXX", tmp, tag) >= cap) {
		fprintf(stderr, "%s: TMPDIR is too long\n", tag);
		return -1;
	}
	if (mkdtemp(out) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", out, strerror(errno));
		return -1;
	}
	return 0;
}

int testdb_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
