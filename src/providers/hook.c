/*
 * hook.c: webhook URL checks and the signed POST (see hook.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/cidr.h"
#include "common/util.h"
#include "providers/hook.h"
#include "store/alerts.h"

/* Addresses a webhook may not reach unless the operator allows private addresses. */
static const char hook_private[] = "0.0.0.0/8,10.0.0.0/8,100.64.0.0/10,127.0.0.0/8,"
                                   "169.254.0.0/16,172.16.0.0/12,192.168.0.0/16,"
                                   "::/128,::1/128,fc00::/7,fe80::/10";

/* 1 when addr (text, no brackets) is private or loopback; 0 when public or not an address. */
static int hook_is_private(const char *addr)
{
	return cidr_list_contains(hook_private, addr) == 1;
}

int hook_url_check(const char *url, int allow_private, char *err, size_t errlen)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL, *frag = NULL;
	char bare[256];
	size_t n;
	int rc = -1;

	n = url ? strlen(url) : 0;
	if (n == 0 || n > WEBHOOK_URL_MAX) {
		snprintf(err, errlen, "the URL must be 1 to %d characters", WEBHOOK_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
			snprintf(err, errlen,
			         "the URL must not contain spaces or control characters");
			return -1;
		}
	u = curl_url();
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "the URL is not an absolute http or https URL with a host");
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		snprintf(err, errlen, "the URL must use http or https");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user != NULL) {
		snprintf(err, errlen, "the URL must not carry a user name or password");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK && frag != NULL) {
		snprintf(err, errlen, "the URL must not have a fragment (#...)");
		goto out;
	}
	util_strlcpy(bare, host[0] == '[' ? host + 1 : host, sizeof(bare));
	if (bare[0] != '\0' && bare[strlen(bare) - 1] == ']')
		bare[strlen(bare) - 1] = '\0';
	if (!allow_private && (strcasecmp(bare, "localhost") == 0 || hook_is_private(bare))) {
		snprintf(err, errlen,
		         "the URL's host is a loopback or private address, which webhooks may not"
		         " reach");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

/* CURLOPT_PREREQFUNCTION: refuse a connection to a private address (the name resolved there). */
static int hook_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                       int conn_local_port)
{
	int *blocked = ud;

	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (hook_is_private(conn_primary_ip)) {
		*blocked = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* The answer's body is not kept: the status says everything. */
static size_t hook_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

int hook_post(const char *url, const char *const *headers, size_t n_headers, const char *body,
              size_t len, int allow_private, int timeout_ms, long *status, char *err, size_t errlen)
{
	struct curl_slist *l = NULL, *t;
	CURL *c = NULL;
	CURLcode cc;
	int blocked = 0, rc = -1;

	*status = 0;
	if (hook_url_check(url, allow_private, err, errlen) != 0)
		return -1;
	if ((t = curl_slist_append(l, "Content-Type: application/json")) == NULL)
		goto nomem;
	l = t;
	if ((t = curl_slist_append(l, "Expect:")) == NULL)
		goto nomem;
	l = t;
	for (size_t i = 0; i < n_headers; i++) {
		if ((t = curl_slist_append(l, headers[i])) == NULL)
			goto nomem;
		l = t;
	}
	if ((c = curl_easy_init()) == NULL)
		goto nomem;
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, l) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "agenthost/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hook_discard) != CURLE_OK ||
	    (!allow_private &&
	     (curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, hook_prereq) != CURLE_OK ||
	      curl_easy_setopt(c, CURLOPT_PREREQDATA, &blocked) != CURLE_OK))) {
		snprintf(err, errlen, "cannot configure the HTTP client");
		goto out;
	}
	cc = curl_easy_perform(c);
	if (blocked) {
		snprintf(err, errlen, "the host resolved to a private address; not sent");
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "no answer: %s", curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (*status < 200 || *status > 299) {
		snprintf(err, errlen, "answered HTTP %ld", *status);
		goto out;
	}
	err[0] = '\0';
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(l);
	return rc;
}
