/*
 * hook: POST a signed alert to a tenant's webhook (libcurl, so it lives next
 * to upstream.c: only providers/ touches libcurl).
 *
 * DESIGN
 * A webhook URL is tenant data. hook_url_check refuses anything but an
 * absolute http(s) URL with a host, no user info and no fragment, at most
 * WEBHOOK_URL_MAX bytes; unless the operator allows private addresses
 * (conf webhook_allow_private, which the tests set to reach 127.0.0.1), a
 * host that is a loopback, private, link-local or unspecified address, or
 * "localhost", is refused too. A name can resolve anywhere, so the address
 * curl actually connects to is checked again before each request is sent
 * (CURLOPT_PREREQFUNCTION); redirects are never followed.
 */
#ifndef AH_HOOK_H
#define AH_HOOK_H

#include <stddef.h>

/* 0 when url may be a webhook; -1 with a readable reason in err. */
int hook_url_check(const char *url, int allow_private, char *err, size_t errlen);

/*
 * POST body (JSON) to url with the extra header lines ("Name: value").
 * *status gets the HTTP status (0 when none came). 0 on a 2xx answer; -1
 * otherwise with a short reason in err (never a header value).
 */
int hook_post(const char *url, const char *const *headers, size_t n_headers, const char *body,
              size_t len, int allow_private, int timeout_ms, long *status, char *err,
              size_t errlen);

#endif
