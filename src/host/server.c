/*
 * server.c: worker threads, request set-up, CGI mode (see server.h).
 */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "enforce/lease.h"
#include "exec/ledger.h"
#include "host/background.h"
#include "host/http.h"
#include "host/router.h"
#include "host/server.h"
#include "providers/registry.h"
#include "store/store.h"
#include "store/tenantdb.h"

extern char **environ;

static atomic_int server_stop_flag;
static atomic_int server_streams;
static const struct conf *server_conf;
static int server_listen_fd;

int server_stopping(void)
{
	return atomic_load(&server_stop_flag);
}

int server_stream_acquire(void)
{
	if (atomic_fetch_add(&server_streams, 1) >= server_conf->max_streams) {
		atomic_fetch_sub(&server_streams, 1);
		return -1;
	}
	return 0;
}

void server_stream_release(void)
{
	atomic_fetch_sub(&server_streams, 1);
}

/* ------------------------------------------------------------------ request set-up */

/*
 * Take r->path from REQUEST_URI below the mount prefix. 0 ok; -1 when the
 * URI is outside the prefix (404 sent).
 */
static int server_set_path(struct req *r)
{
	const char *uri = req_param(r, "REQUEST_URI");
	const char *prefix = r->conf->mount_prefix;
	size_t plen = strlen(prefix), n;
	const char *q;
	char fallback[2048];

	if (uri == NULL || *uri == '\0') {
		/* Plain CGI without REQUEST_URI: rebuild it from SCRIPT_NAME + PATH_INFO. */
		const char *sn = req_param(r, "SCRIPT_NAME"), *pi = req_param(r, "PATH_INFO");

		snprintf(fallback, sizeof(fallback), "%s%s", pi ? "" : (sn ? sn : ""),
		         pi ? pi : "");
		uri = fallback;
		plen = 0;
	}
	q = strchr(uri, '?');
	n = q ? (size_t)(q - uri) : strlen(uri);
	if (plen) {
		if (n < plen || strncmp(uri, prefix, plen) != 0 || (n > plen && uri[plen] != '/')) {
			r->route = "-";
			resp_error(r, 404, "not_found", "no such endpoint");
			return -1;
		}
		uri += plen;
		n -= plen;
	}
	if (n == 0) {
		uri = "/";
		n = 1;
	}
	if (n >= sizeof(r->path)) {
		r->route = "-";
		resp_error(r, 414, "uri_too_long", "request URI too long");
		return -1;
	}
	memcpy(r->path, uri, n);
	r->path[n] = '\0';
	if (r->query == NULL || *r->query == '\0')
		r->query = q ? q + 1 : "";
	return 0;
}

/* Check header count and body size, read the body. 0 ok; -1 when refused (sent). */
static int server_read_body(struct req *r, int (*rd)(void *io, char *p, int n), void *io)
{
	const char *cl = req_param(r, "CONTENT_LENGTH");
	int64_t len = 0;
	int headers = 0;

	for (char **e = r->env; e && *e; e++)
		if (strncmp(*e, "HTTP_", 5) == 0)
			headers++;
	if (headers > r->conf->max_headers) {
		resp_error(r, 400, "too_many_headers", "more than %d request headers",
		           r->conf->max_headers);
		return -1;
	}
	if (cl && *cl && util_parse_i64(cl, 0, INT64_MAX, &len) < 0) {
		resp_error(r, 400, "invalid_request", "bad Content-Length");
		return -1;
	}
	if (len > r->conf->max_body_bytes) {
		resp_error(r, 413, "body_too_large", "request body over %ld bytes",
		           r->conf->max_body_bytes);
		return -1;
	}
	if (len == 0)
		return 0;
	if (buf_reserve(&r->body, (size_t)len) < 0) {
		resp_error(r, 503, "server_busy", "out of memory");
		return -1;
	}
	while (r->body.len < (size_t)len) {
		int got = rd(io, r->body.data + r->body.len, (int)((size_t)len - r->body.len));

		if (got <= 0)
			break;
		r->body.len += (size_t)got;
	}
	r->body.data[r->body.len] = '\0';
	if (r->body.len != (size_t)len) {
		resp_error(r, 400, "invalid_request", "request body shorter than Content-Length");
		return -1;
	}
	return 0;
}

static void server_log_request(struct req *r)
{
	double ms = (double)(util_now_us() - r->start_us) / 1000.0;

	log_info("request id=%s tenant=%lld method=%s route=%s status=%d%s%s ms=%.2f",
	         r->request_id, (long long)r->tenant_id, r->method ? r->method : "-",
	         r->route ? r->route : "-", r->status, *r->reason_code ? " reason=" : "",
	         r->reason_code, ms);
}

/*
 * Handle one request whose env and I/O are set. Opens the thread's store
 * handle lazily so the process starts (and /healthz answers) while the
 * database is down.
 */
static void server_handle(struct req *r, struct store **stp, int (*rd)(void *io, char *p, int n),
                          void *io)
{
	char err[256];

	r->start_us = util_now_us();
	util_request_id(r->request_id);
	buf_init(&r->body);
	buf_init(&r->headers);
	r->conf = server_conf;
	r->method = req_param(r, "REQUEST_METHOD");
	if (r->method == NULL)
		r->method = "GET";
	r->query = req_param(r, "QUERY_STRING");
	r->remote_addr = req_param(r, "REMOTE_ADDR");
	if (*stp == NULL) {
		*stp = store_open(server_conf, err, sizeof(err));
		if (*stp == NULL)
			log_warn("store: %s", err);
	}
	r->store = *stp;
	store_request_begin(r->store);
	if (server_set_path(r) == 0 && server_read_body(r, rd, io) == 0)
		router_dispatch(r);
	if (!r->headers_sent)
		resp_error(r, 500, "internal_error", "the handler sent no response");
	server_log_request(r);
	buf_free(&r->body);
	buf_free(&r->headers);
}

/* ------------------------------------------------------------------ FastCGI */

static int fcgx_write(void *io, const void *p, size_t n)
{
	FCGX_Request *fr = io;

	return FCGX_PutStr(p, (int)n, fr->out) == (int)n ? 0 : -1;
}

static int fcgx_flush(void *io)
{
	FCGX_Request *fr = io;

	return FCGX_FFlush(fr->out) < 0 ? -1 : 0;
}

static int fcgx_read(void *io, char *p, int n)
{
	FCGX_Request *fr = io;

	return FCGX_GetStr(p, n, fr->in);
}

static void *server_worker(void *arg)
{
	FCGX_Request fr;
	struct store *st = NULL;

	(void)arg;
	mysql_thread_init();
	if (FCGX_InitRequest(&fr, server_listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("server: FCGX_InitRequest failed");
		goto out;
	}
	while (!server_stopping()) {
		struct req r;

		if (FCGX_Accept_r(&fr) < 0)
			break;
		memset(&r, 0, sizeof(r));
		r.env = fr.envp;
		r.write = fcgx_write;
		r.flush = fcgx_flush;
		r.io = &fr;
		server_handle(&r, &st, fcgx_read, &fr);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 0);
out:
	if (st)
		store_close(st);
	router_thread_end();
	provider_thread_cleanup();
	mysql_thread_end();
	return NULL;
}

/* ------------------------------------------------------------------ CGI */

static int cgi_write(void *io, const void *p, size_t n)
{
	return fwrite(p, 1, n, io) == n ? 0 : -1;
}

static int cgi_flush(void *io)
{
	return fflush(io) == 0 ? 0 : -1;
}

static int cgi_read(void *io, char *p, int n)
{
	(void)io;
	return (int)fread(p, 1, (size_t)n, stdin);
}

static int server_cgi(void)
{
	struct store *st = NULL;
	struct req r;

	memset(&r, 0, sizeof(r));
	r.env = environ;
	r.write = cgi_write;
	r.flush = cgi_flush;
	r.io = stdout;
	server_handle(&r, &st, cgi_read, NULL);
	fflush(stdout);
	if (st)
		store_close(st);
	router_thread_end();
	provider_thread_cleanup();
	return 0;
}

/* ------------------------------------------------------------------ lifecycle */

static void server_journal_admit(const struct lease_ticket *t)
{
	struct ledger_admit ad = {t->a, t->held, t->owner_id, t->created_us};

	ledger_note_admit(&ad);
}

/* The journal started a new file: the calls in flight on leases go in it again. */
static void server_rejournal(void)
{
	lease_journal_inflight(server_journal_admit);
}

/*
 * FCGX_OpenSocket unlinks an existing unix socket path: a second instance
 * started by mistake would silently take the socket from a running one.
 * Refuse when something already answers there.
 */
static int server_socket_in_use(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (strchr(path, '/') == NULL || strlen(path) >= sizeof(sa.sun_path))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

struct join_arg {
	pthread_t *threads;
	int n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void *server_joiner(void *arg)
{
	struct join_arg *ja = arg;

	for (int i = 0; i < ja->n; i++)
		pthread_join(ja->threads[i], NULL);
	pthread_mutex_lock(&ja->mu);
	ja->done = 1;
	pthread_cond_signal(&ja->cv);
	pthread_mutex_unlock(&ja->mu);
	return NULL;
}

int server_run(const struct conf *c)
{
	static struct join_arg ja = {.mu = PTHREAD_MUTEX_INITIALIZER,
	                             .cv = PTHREAD_COND_INITIALIZER};
	pthread_t *threads, joiner;
	struct timespec deadline;
	sigset_t set;
	int sig = 0, n = 0;

	server_conf = c;
	if (FCGX_Init() != 0) {
		log_error("server: FCGX_Init failed");
		return 1;
	}
	if (c->listen[0]) {
		if (server_socket_in_use(c->listen)) {
			log_error("server: %s is in use by another running process", c->listen);
			return 1;
		}
		server_listen_fd = FCGX_OpenSocket(c->listen, 1024);
		if (server_listen_fd < 0) {
			log_error("server: cannot listen on %s: %s", c->listen, strerror(errno));
			return 1;
		}
	} else {
		server_listen_fd = 0;
		if (FCGX_IsCGI())
			return server_cgi();
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * The ledger first: it replays what ended processes left in the journal
	 * directory before this one answers anything. Leases tell it what a
	 * replay of this process's journal needs.
	 */
	lease_init(c);
	lease_hooks(ledger_note_promoted, ledger_note_owner);
	ledger_set_inflight(server_rejournal);
	{
		char err[512];

		if (ledger_start(c, err, sizeof(err)) < 0) {
			log_error("ledger: %s: state_dir must be a writable directory of this host",
			          err);
			return 1;
		}
	}
	threads = calloc((size_t)c->threads, sizeof(*threads));
	if (threads == NULL)
		return 1;
	for (n = 0; n < c->threads; n++)
		if (pthread_create(&threads[n], NULL, server_worker, NULL) != 0) {
			log_error("server: cannot start thread %d", n);
			break;
		}
	background_start(c);
	log_info("server: %d worker threads, listening on %s, mount prefix '%s'", n,
	         c->listen[0] ? c->listen : "fd 0", c->mount_prefix);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR1)
			break;
	}
	log_info("server: signal %d, shutting down", sig);
	atomic_store(&server_stop_flag, 1);
	FCGX_ShutdownPending();
	shutdown(server_listen_fd, SHUT_RDWR);
	if (c->listen[0])
		close(server_listen_fd);

	/* Give in-flight requests until the deadline, then leave regardless. */
	ja.threads = threads;
	ja.n = n;
	if (pthread_create(&joiner, NULL, server_joiner, &ja) == 0) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += 600 * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&ja.mu);
		while (!ja.done)
			if (pthread_cond_timedwait(&ja.cv, &ja.mu, &deadline) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&ja.mu);
		if (!ja.done) {
			log_warn("server: requests still running at the deadline; exiting");
			_exit(0);
		}
		/* It has joined every worker and is returning: reap it too. */
		pthread_join(joiner, NULL);
	}
	background_stop(250);
	ledger_stop(150);
	free(threads);
	log_info("server: stopped");
	return 0;
}
