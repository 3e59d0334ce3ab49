/*
 * bench/floor/floor.c: "the stack's floor" of bench/peers.sh and docs of issue 11.
 *
 * The least a FastCGI gateway on this stack can do per chat completion: read the request
 * body, make one libcurl POST of it to the upstream, return the upstream's body. No
 * identification, no database, no JSON parsing. Whatever agenthost does beyond that is
 * what it adds; the floor is what the web server, FastCGI and libcurl cost anyway.
 *
 * Threaded like agenthost: FCGX_Init once, FLOOR_THREADS worker threads (8 by default),
 * each with its own FCGX_Request and one curl easy handle kept for its life (so the
 * upstream connection is reused, as agenthost's handles are). Spawned by lighttpd
 * (bin-path: the listening socket is fd 0) with
 *   FLOOR_UPSTREAM  the URL to POST to (http://127.0.0.1:PORT/v1/chat/completions)
 *   FLOOR_API_KEY   sent as "Authorization: Bearer ..." (optional)
 *   FLOOR_THREADS   worker threads (1..256, default 8)
 * SIGTERM/SIGINT/SIGHUP are taken by sigwait in main (libfcgi's own handler only sets a
 * flag): the accepts are woken by shutting the listening socket down, threads joined.
 *
 * Build: cc -O2 -o floor bench/floor/floor.c -lfcgi -lcurl -lpthread
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#define MAX_THREADS 256
#define MAX_BODY (1024 * 1024)

struct buf {
	char *p;
	size_t len, cap;
};

static const char *upstream;
static struct curl_slist *headers;

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > MAX_BODY)
		return -1;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
	return buf_add(ud, ptr, size * n) == 0 ? size * n : 0;
}

static void reply(FCGX_Request *rq, long status, const char *body, size_t len)
{
	/* libfcgi's own printf knows no %zu */
	FCGX_FPrintF(rq->out,
	             "Status: %ld\r\nContent-Type: application/json\r\nContent-Length: %lu\r\n\r\n",
	             status, (unsigned long)len);
	if (len > 0)
		FCGX_PutStr(body, (int)len, rq->out);
}

static void *worker(void *arg)
{
	FCGX_Request rq;
	struct buf in = {0}, out = {0};
	CURL *h = curl_easy_init();
	char chunk[16384];
	long status;
	int n;

	(void)arg;
	if (h == NULL || FCGX_InitRequest(&rq, 0, 0) != 0) {
		fprintf(stderr, "floor: cannot set a worker up\n");
		return NULL;
	}
	while (FCGX_Accept_r(&rq) == 0) {
		in.len = 0;
		out.len = 0;
		while ((n = FCGX_GetStr(chunk, sizeof(chunk), rq.in)) > 0)
			if (buf_add(&in, chunk, (size_t)n) != 0)
				break;
		/* the options are set again on each request: curl_easy_reset is not used, so
		 * the connection cache of the handle survives */
		curl_easy_setopt(h, CURLOPT_URL, upstream);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, in.p ? in.p : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)in.len);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
		if (curl_easy_perform(h) != CURLE_OK) {
			reply(&rq, 502, "{\"error\":\"upstream\"}", 20);
		} else {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			reply(&rq, status, out.p, out.len);
		}
		FCGX_Finish_r(&rq);
	}
	curl_easy_cleanup(h);
	free(in.p);
	free(out.p);
	return NULL;
}

int main(void)
{
	pthread_t th[MAX_THREADS];
	const char *s = getenv("FLOOR_THREADS"), *key = getenv("FLOOR_API_KEY");
	int nthreads = s ? atoi(s) : 8, started = 0, sig;
	char auth[512];
	sigset_t set;

	upstream = getenv("FLOOR_UPSTREAM");
	if (upstream == NULL || *upstream == '\0' || nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "floor: set FLOOR_UPSTREAM (and FLOOR_THREADS 1..%d)\n",
		        MAX_THREADS);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK || FCGX_Init() != 0) {
		fprintf(stderr, "floor: cannot initialise libcurl or libfcgi\n");
		return 1;
	}
	curl_version_info(CURLVERSION_NOW);
	headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	if (key && *key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		headers = curl_slist_append(headers, auth);
	}

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[started], NULL, worker, NULL) == 0)
			started++;
	if (started == 0) {
		fprintf(stderr, "floor: no worker thread started\n");
		return 1;
	}
	while (sigwait(&set, &sig) != 0)
		;
	FCGX_ShutdownPending();
	shutdown(0, SHUT_RDWR);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	return 0;
}
