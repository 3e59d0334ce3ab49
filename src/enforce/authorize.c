/*
 * authorize.c: the tenant's IP allowlist (with trusted proxies), the model
 * and agent allowlists (see authorize.h).
 *
 * DESIGN
 * Everything here runs on every request, so nothing allocates: addresses
 * are parsed with inet_pton into a small struct on the stack, CIDR lists
 * are walked in place, item by item, out of the comma text they are stored
 * as. IPv4 and IPv6 are compared in one form: an IPv4-mapped IPv6 address
 * (::ffff:1.2.3.4) is IPv4 when matched against an IPv4 range, and an IPv4
 * address is ::ffff:a.b.c.d when matched against an IPv6 range, so a web
 * server listening on a dual-stack socket cannot slip past an IPv4 list.
 *
 * The client address is computed only when the tenant has an allowlist: an
 * empty list allows any address, including one a proxy garbled. With a
 * list, anything that does not parse on the path (REMOTE_ADDR, an
 * X-Forwarded-For item from a trusted proxy, the trusted_proxies setting
 * itself) refuses the request: a guard must never open by default.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/conf.h"
#include "common/log.h"
#include "enforce/authorize.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "tenancy/identify.h"

/* Longest text of one address or CIDR item we look at: "ffff:...:ffff/128" plus slack. */
#define AUTH_ITEM_MAX (INET6_ADDRSTRLEN + 8)

/* A parsed address: family and network-order bytes (IPv4 in the first 4). */
struct auth_addr {
	int family;
	unsigned char b[16];
};

static const unsigned char auth_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ---------------------------------------------------------------- parsing */

/*
 * Trim spaces and tabs around the n bytes at s; *start gets the first byte
 * kept. Returns the trimmed length.
 */
static size_t auth_trim(const char *s, size_t n, const char **start)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*start = s;
	return n;
}

/*
 * Parse the n bytes at s as a bare IPv4 or IPv6 address (no prefix, no
 * port, no zone). 0, or -1 when it is not one.
 */
static int auth_addr_parse(const char *s, size_t n, struct auth_addr *out)
{
	char tmp[AUTH_ITEM_MAX];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (strchr(tmp, ':') == NULL) {
		out->family = AF_INET;
		return inet_pton(AF_INET, tmp, out->b) == 1 ? 0 : -1;
	}
	out->family = AF_INET6;
	return inet_pton(AF_INET6, tmp, out->b) == 1 ? 0 : -1;
}

/*
 * Parse the n bytes at s as a CIDR ("a/len") or a bare address (full
 * prefix). Host bits set below the prefix are cleared. 0, or -1 when bad.
 */
static int auth_cidr_parse_n(const char *s, size_t n, struct cidr *out)
{
	const char *slash = memchr(s, '/', n);
	struct auth_addr a;
	size_t alen = slash ? (size_t)(slash - s) : n;
	int maxbits, prefix;

	if (auth_addr_parse(s, alen, &a) < 0)
		return -1;
	maxbits = a.family == AF_INET ? 32 : 128;
	prefix = maxbits;
	if (slash) {
		const char *p = slash + 1, *end = s + n;

		/* Decimal digits only, no sign, no leading zeros beyond "0", at most 3. */
		if (p == end || end - p > 3 || (*p == '0' && end - p > 1))
			return -1;
		prefix = 0;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			prefix = prefix * 10 + (*p - '0');
		}
		if (prefix > maxbits)
			return -1;
	}
	memset(out, 0, sizeof(*out));
	out->family = a.family;
	out->prefix = prefix;
	memcpy(out->addr, a.b, sizeof(out->addr));
	for (int i = 0; i < maxbits / 8; i++) {
		int keep = prefix - i * 8;

		if (keep <= 0)
			out->addr[i] = 0;
		else if (keep < 8)
			out->addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
	return 0;
}

int cidr_parse(const char *s, struct cidr *out)
{
	const char *t;
	size_t n;

	if (s == NULL || out == NULL)
		return -1;
	n = auth_trim(s, strlen(s), &t);
	return auth_cidr_parse_n(t, n, out);
}

/* ---------------------------------------------------------------- matching */

/* 1 when the first bits of a and b are equal. */
static int auth_prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (whole > 0 && memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

/* 1 when the parsed address a is inside c, across the IPv4 / IPv4-mapped forms. */
static int auth_cidr_match(const struct cidr *c, const struct auth_addr *a)
{
	unsigned char b[16];

	if (c->family == AF_INET) {
		if (a->family == AF_INET)
			return auth_prefix_eq(c->addr, a->b, c->prefix);
		if (memcmp(a->b, auth_v4mapped, sizeof(auth_v4mapped)) != 0)
			return 0;
		return auth_prefix_eq(c->addr, a->b + 12, c->prefix);
	}
	if (c->family != AF_INET6)
		return 0;
	if (a->family == AF_INET6)
		return auth_prefix_eq(c->addr, a->b, c->prefix);
	memcpy(b, auth_v4mapped, sizeof(auth_v4mapped));
	memcpy(b + 12, a->b, 4);
	return auth_prefix_eq(c->addr, b, c->prefix);
}

int cidr_contains(const struct cidr *c, const char *addr)
{
	struct auth_addr a;
	const char *t;
	size_t n;

	if (c == NULL || addr == NULL)
		return 0;
	n = auth_trim(addr, strlen(addr), &t);
	if (auth_addr_parse(t, n, &a) < 0)
		return 0;
	return auth_cidr_match(c, &a);
}

/*
 * 1 when a is inside any CIDR of the comma list, 0 when in none, -1 when an
 * item of the list does not parse (the whole list is checked then, so a
 * typo is never hidden behind an earlier match). Empty items are skipped.
 */
static int auth_list_match(const char *list, const struct auth_addr *a)
{
	const char *p = list;
	int found = 0;

	for (;;) {
		const char *e = strchr(p, ','), *item;
		size_t n = auth_trim(p, e ? (size_t)(e - p) : strlen(p), &item);

		if (n > 0) {
			struct cidr c;

			if (auth_cidr_parse_n(item, n, &c) < 0)
				return -1;
			if (!found && auth_cidr_match(&c, a))
				found = 1;
		}
		if (e == NULL)
			return found;
		p = e + 1;
	}
}

int cidr_list_contains(const char *list, const char *addr)
{
	struct auth_addr a;
	const char *t;
	size_t n;

	if (list == NULL || addr == NULL)
		return -1;
	n = auth_trim(addr, strlen(addr), &t);
	if (auth_addr_parse(t, n, &a) < 0)
		return -1;
	return auth_list_match(list, &a);
}

/* ---------------------------------------------------------------- client address */

/*
 * The client address of r, parsed into *out and as text into text (cap
 * bytes, at least INET6_ADDRSTRLEN). 0, or -1 when anything on the path is
 * malformed; why names the culprit for the refusal message.
 */
static int auth_client(const struct req *r, struct auth_addr *out, char *text, size_t cap,
                       const char **why)
{
	const char *ra = r->remote_addr, *xff, *trusted, *t, *end, *xend;
	size_t n;
	int rc;

	*why = "REMOTE_ADDR is missing or malformed";
	if (ra == NULL)
		ra = req_param(r, "REMOTE_ADDR");
	if (ra == NULL)
		return -1;
	n = auth_trim(ra, strlen(ra), &t);
	if (auth_addr_parse(t, n, out) < 0)
		return -1;
	trusted = r->conf ? r->conf->trusted_proxies : "";
	xff = req_header(r, "X-Forwarded-For");
	if (trusted[0] != '\0' && xff != NULL) {
		*why = "the trusted_proxies setting is malformed";
		rc = auth_list_match(trusted, out);
		if (rc < 0)
			return -1;
		/*
		 * Walk from the right: each hop was appended by the proxy before it.
		 * Stop at the first address that is not one of ours; if every hop
		 * is trusted, the leftmost one is the best we know.
		 */
		xend = xff + strlen(xff);
		end = xend;
		while (rc == 1) {
			const char *start = end;
			struct auth_addr hop;

			while (start > xff && start[-1] != ',')
				start--;
			n = auth_trim(start, (size_t)(end - start), &t);
			if (n > 0) {
				*why = "X-Forwarded-For is malformed";
				if (auth_addr_parse(t, n, &hop) < 0)
					return -1;
				*out = hop;
				rc = auth_list_match(trusted, out);
				if (rc < 0)
					return -1;
			} else if (start == xff && end == xend) {
				/* An empty header adds no hop. */
				break;
			} else {
				*why = "X-Forwarded-For has an empty item";
				return -1;
			}
			if (start == xff)
				break;
			end = start - 1;
		}
	}
	if (inet_ntop(out->family, out->b, text, (socklen_t)cap) == NULL) {
		*why = "the client address cannot be shown";
		return -1;
	}
	return 0;
}

int authorize_client_addr(const struct req *r, char *out, size_t cap)
{
	struct auth_addr a;
	const char *why;

	if (out == NULL || cap < INET6_ADDRSTRLEN)
		return -1;
	return auth_client(r, &a, out, cap, &why);
}

/* ---------------------------------------------------------------- checks */

int authorize_request(struct req *r, const struct ident *id, struct limits *lim)
{
	char addr[INET6_ADDRSTRLEN];
	struct auth_addr a;
	const char *list, *why;
	int rc;

	if (limits_get(r->store, id->tenant_id, id->key_id, lim) < 0) {
		resp_error(r, R_database_unavailable, "the tenant's limits are unavailable");
		return -1;
	}
	list = lim->v[LIM_IP_ALLOWLIST].text;
	if (list[0] == '\0')
		return 0;
	if (auth_client(r, &a, addr, sizeof(addr), &why) < 0) {
		log_warn("authorize: tenant %lld: client address unknown: %s",
		         (long long)id->tenant_id, why);
		resp_error(r, R_ip_not_allowed,
		           "the client address could not be determined (%s); this tenant "
		           "accepts requests only from its IP allowlist",
		           why);
		return -1;
	}
	rc = auth_list_match(list, &a);
	if (rc < 0) {
		/* limit_validate keeps bad lists out; a row edited by hand must not open the gate.
		 */
		log_error("authorize: tenant %lld: ip_allowlist does not parse",
		          (long long)id->tenant_id);
		resp_error(r, R_ip_not_allowed,
		           "the tenant's IP allowlist is malformed; requests are refused until "
		           "an operator fixes it");
		return -1;
	}
	if (rc == 0) {
		resp_error(r, R_ip_not_allowed,
		           "requests from %s are not allowed by this tenant's IP allowlist", addr);
		return -1;
	}
	return 0;
}

int authorize_model(struct req *r, const struct limits *lim, const char *model)
{
	if (limits_list_allows(lim->v[LIM_ALLOWED_MODELS].text, model))
		return 0;
	resp_error(r, R_model_not_allowed, "the model '%.100s' is not allowed for this tenant",
	           model ? model : "");
	return -1;
}

int authorize_agent(struct req *r, const struct limits *lim, const char *agent)
{
	if (limits_list_allows(lim->v[LIM_ALLOWED_AGENTS].text, agent))
		return 0;
	resp_error(r, R_agent_not_allowed, "the agent '%.100s' is not allowed for this tenant",
	           agent ? agent : "");
	return -1;
}
