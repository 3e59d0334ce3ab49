/*
 * server.c: worker threads, request set-up, CGI mode (see server.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <fcgiapp.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "enforce/lease.h"
#include "enforce/share.h"
#include "exec/ledger.h"
#include "host/background.h"
#include "host/http.h"
#include "host/router.h"
#include "host/sched.h"
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
			resp_error(r, R_not_found, "no such endpoint");
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
		resp_error(r, R_uri_too_long, "request URI too long");
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
		resp_error(r, R_too_many_headers, "more than %d request headers",
		           r->conf->max_headers);
		return -1;
	}
	if (cl && *cl && util_parse_i64(cl, 0, INT64_MAX, &len) < 0) {
		resp_error(r, R_invalid_request, "bad Content-Length");
		return -1;
	}
	if (len > r->conf->max_body_bytes) {
		resp_error(r, R_body_too_large, "request body over %ld bytes",
		           r->conf->max_body_bytes);
		return -1;
	}
	if (len == 0)
		return 0;
	if (buf_reserve(&r->body, (size_t)len) < 0) {
		resp_error(r, R_server_busy, "out of memory");
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
		resp_error(r, R_invalid_request, "request body shorter than Content-Length");
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
	metrics_gauge(MG_REQUESTS_INFLIGHT, 1);
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
		resp_error(r, R_internal_error, "the handler sent no response");
	server_log_request(r);
	metrics_request(r->tenant_id, r->model, r->status, r->reason, util_now_us() - r->start_us);
	metrics_gauge(MG_REQUESTS_INFLIGHT, -1);
	buf_free(&r->body);
	buf_free(&r->headers);
}

/* ------------------------------------------------------------------ FastCGI */

/*
 * A request's connection after its params and body were read: libfcgi
 * parsed the input (FCGX_Accept_r on a connection accepted here), the
 * output is framed here as FCGI_STDOUT records on the non-blocking socket,
 * so that a slow web server parks the request instead of the thread.
 */
#define FCGI_HDR 8
#define FCGI_STDOUT_T 6
#define FCGI_END_T 3
#define OUT_FLUSH_AT (32u * 1024u)
#define OUT_STALL_US (60 * 1000000LL) /* a web server that takes nothing this long is gone */

struct fcgi_conn {
	FCGX_Request fr;
	int fd;
	int id; /* FastCGI request id */
	struct buf out;
	size_t sent;  /* bytes of out already written */
	int nonblock; /* set at the first output: the body has been read by then */
	int gone;
};

/* This thread's store handle, shared by its requests one database step at a time. */
static __thread struct store *server_st;

static void fcgi_header(unsigned char *h, int type, int id, size_t len)
{
	h[0] = 1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = 0; /* no padding */
	h[7] = 0;
}

/*
 * The connection's socket non-blocking (once): output never blocks the
 * thread, a request waits for it parked. 0, or -1 when it cannot be set.
 */
static int fcgi_nonblock(struct fcgi_conn *fc)
{
	int fl;

	if (fc->nonblock)
		return 0;
	fl = fcntl(fc->fd, F_GETFL);
	if (fl < 0 || fcntl(fc->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	fc->nonblock = 1;
	return 0;
}

static int fcgi_flush(void *io)
{
	struct fcgi_conn *fc = io;

	if (fcgi_nonblock(fc) < 0)
		fc->gone = 1;
	while (!fc->gone && fc->sent < fc->out.len) {
		ssize_t w = write(fc->fd, fc->out.data + fc->sent, fc->out.len - fc->sent);

		if (w > 0) {
			fc->sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int ev = sched_wait_fd(fc->fd, POLLOUT, OUT_STALL_US);

			if (ev > 0 && (ev & POLLOUT))
				continue; /* with POLLERR/POLLHUP too: the write itself will tell */
		}
		fc->gone = 1;
	}
	fc->out.len = fc->sent = 0;
	return fc->gone ? -1 : 0;
}

static int fcgi_write(void *io, const void *p, size_t n)
{
	struct fcgi_conn *fc = io;
	const unsigned char *d = p;

	while (n > 0 && !fc->gone) {
		size_t k = n > 65535 ? 65535 : n;
		unsigned char h[FCGI_HDR];

		fcgi_header(h, FCGI_STDOUT_T, fc->id, k);
		if (buf_append(&fc->out, h, sizeof(h)) < 0 || buf_append(&fc->out, d, k) < 0)
			return -1;
		d += k;
		n -= k;
		if (fc->out.len >= OUT_FLUSH_AT && fcgi_flush(fc) < 0)
			return -1;
	}
	return fc->gone ? -1 : 0;
}

/* End of the response: the empty STDOUT record and FCGI_END_REQUEST. */
static void fcgi_end(struct fcgi_conn *fc)
{
	unsigned char h[FCGI_HDR], body[8] = {0};

	fcgi_header(h, FCGI_STDOUT_T, fc->id, 0);
	if (buf_append(&fc->out, h, sizeof(h)) == 0) {
		fcgi_header(h, FCGI_END_T, fc->id, sizeof(body));
		if (buf_append(&fc->out, h, sizeof(h)) == 0)
			buf_append(&fc->out, body,
			           sizeof(body)); /* app status 0, request complete */
	}
	fcgi_flush(fc);
}

/*
 * Close gently: no more output, then read what the web server still sends
 * (Apache writes the empty FCGI_STDIN record of a GET after the answer may
 * have begun) until it closes, for at most LINGER_US, so that it never
 * writes into a closed socket and reports a broken pipe.
 */
#define LINGER_US (2 * 1000000LL)

static void fcgi_linger(struct fcgi_conn *fc)
{
	int64_t end = util_now_us() + LINGER_US;
	char sink[512];

	if (shutdown(fc->fd, SHUT_WR) != 0)
		return;
	if (fcgi_nonblock(fc) < 0)
		return;
	for (;;) {
		ssize_t n = read(fc->fd, sink, sizeof(sink));
		int64_t left = end - util_now_us();

		if (n > 0)
			continue;
		if (n == 0 || left <= 0 ||
		    (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return;
		if (errno != EINTR && sched_wait_fd(fc->fd, POLLIN, left) <= 0)
			return;
	}
}

static int fcgx_read(void *io, char *p, int n)
{
	FCGX_Request *fr = io;

	return FCGX_GetStr(p, n, fr->in);
}

/* One connection from the web server, in its own coroutine (host/sched.h). */
static void server_serve(int fd, void *arg)
{
	struct fcgi_conn *fc = calloc(1, sizeof(*fc));
	struct req r;

	(void)arg;
	if (fc == NULL) {
		close(fd);
		return;
	}
	/*
	 * No listening socket for libfcgi: it reads this connection's request and
	 * never accepts one itself (on a protocol error it would otherwise block in
	 * accept). keepConnection stops FCGX_Accept_r's opening Finish from
	 * closing the connection handed to it.
	 */
	FCGX_InitRequest(&fc->fr, -1, 0);
	fc->fr.ipcFd = fd;
	fc->fr.keepConnection = 1;
	fc->fd = fd;
	buf_init(&fc->out);
	if (FCGX_Accept_r(&fc->fr) < 0) {
		/*
		 * A connection that ends, or breaks the protocol, before its
		 * request's environment is closed by libfcgi itself (FCGX_Free(,
		 * 1), ipcFd set to -1), which then fails to accept on no
		 * listening socket. Closing fd again would close whatever another
		 * thread opened under that number meanwhile: the next connection,
		 * a database connection being made.
		 */
		if (fc->fr.ipcFd >= 0)
			close(fd);
		fc->fr.ipcFd = -1;
		FCGX_Free(&fc->fr, 0);
		free(fc);
		return;
	}
	/* libfcgi's writers are never used: answers are framed by fcgi_write. */
	FCGX_FreeStream(&fc->fr.out);
	FCGX_FreeStream(&fc->fr.err);
	fc->fr.nWriters = 0;
	fc->id = fc->fr.requestId;
	memset(&r, 0, sizeof(r));
	r.env = fc->fr.envp;
	r.write = fcgi_write;
	r.flush = fcgi_flush;
	r.io = fc;
	server_handle(&r, &server_st, fcgx_read, &fc->fr);
	if (!fc->gone)
		fcgi_end(fc);
	fcgi_linger(fc);
	fc->fr.ipcFd = -1;
	FCGX_Free(&fc->fr, 0);
	close(fd);
	buf_free(&fc->out);
	free(fc);
}

/* A worker thread: one scheduler of request coroutines, then the thread's cleanup. */
static void *server_worker(void *arg)
{
	(void)arg;
	mysql_thread_init();
	sched_worker(NULL);
	if (server_st)
		store_close(server_st);
	server_st = NULL;
	router_thread_end();
	provider_thread_cleanup();
	mysql_thread_end();
	return NULL;
}

/* Accept connections and hand them to the schedulers until shutdown. */
static void *server_acceptor(void *arg)
{
	(void)arg;
	while (!server_stopping()) {
		int fd = accept4(server_listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (server_stopping())
				break;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("server: accept: %s; waiting", strerror(errno));
				usleep(50000);
				continue;
			}
			log_error("server: accept: %s", strerror(errno));
			usleep(50000);
			continue;
		}
		/* Every scheduler full: the web server's queue holds the rest a moment. */
		while (sched_handoff(fd) < 0) {
			if (server_stopping()) {
				close(fd);
				break;
			}
			usleep(5000);
		}
	}
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

/*
 * Every call in flight holds the web server's connection, and an upstream
 * connection when its provider is remote: raise the soft limit on open files
 * to the hard one, and say so when even that is too small for max_inflight.
 */
static void server_raise_nofile(const struct conf *c)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)c->max_inflight * 2 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn("server: %llu open files allowed, max_inflight %d needs about %llu; raise "
		         "the hard limit (LimitNOFILE, ulimit -Hn) or lower max_inflight",
		         (unsigned long long)rl.rlim_cur, c->max_inflight,
		         (unsigned long long)want);
}

int server_run(const struct conf *c)
{
	static struct join_arg ja = {.mu = PTHREAD_MUTEX_INITIALIZER,
	                             .cv = PTHREAD_COND_INITIALIZER};
	pthread_t *threads, joiner, acceptor;
	struct timespec deadline;
	sigset_t set;
	int sig = 0, n = 0, have_acceptor = 0;

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
	server_raise_nofile(c);
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
	{
		char err[512];

		if (metrics_start(c->state_dir, err, sizeof(err)) < 0)
			log_warn("metrics: %s; /metrics shows this process only", err);
	}
	{
		struct sched_conf sc = {c->threads, c->max_inflight, server_serve, NULL};

		if (sched_init(&sc) < 0 || share_init(c->max_inflight) < 0) {
			log_error("server: cannot set up the schedulers");
			return 1;
		}
	}
	threads = calloc((size_t)c->threads + 1, sizeof(*threads));
	if (threads == NULL)
		return 1;
	for (n = 0; n < c->threads; n++)
		if (pthread_create(&threads[n], NULL, server_worker, NULL) != 0) {
			log_error("server: cannot start thread %d", n);
			break;
		}
	if (n == c->threads && pthread_create(&acceptor, NULL, server_acceptor, NULL) == 0)
		have_acceptor = 1;
	background_start(c);
	if (!have_acceptor) {
		/* Workers without an acceptor serve nothing: stop as if signalled. */
		log_error("server: cannot start the acceptor");
		sig = SIGTERM;
		goto stop;
	}
	log_info("server: %d worker threads, up to %d requests in flight, listening on %s, mount "
	         "prefix '%s'",
	         n, c->max_inflight, c->listen[0] ? c->listen : "fd 0", c->mount_prefix);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR1)
			break;
	}
stop:
	log_info("server: signal %d, shutting down", sig);
	atomic_store(&server_stop_flag, 1);
	shutdown(server_listen_fd, SHUT_RDWR);
	if (have_acceptor)
		pthread_join(acceptor, NULL);
	sched_stop();
	if (c->listen[0])
		close(server_listen_fd);

	/* Give in-flight requests until the deadline, then leave regardless. */
	ja.threads = threads;
	ja.n = n;
	if (pthread_create(&joiner, NULL, server_joiner, &ja) == 0) {
		util_abstime_after_us(&deadline, 600 * 1000LL);
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
	log_flush_repeats(1);
	log_info("server: stopped");
	return 0;
}
