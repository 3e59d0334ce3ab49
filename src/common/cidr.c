/*
 * cidr.c: parsing and matching of addresses, CIDR ranges and comma lists of
 * them (see cidr.h).
 *
 * DESIGN
 * Everything here may run on every request, so nothing allocates: an item
 * is copied into a small stack buffer for inet_pton, lists are walked in
 * place. A malformed item is an error, never a miss, so that callers that
 * guard something can refuse instead of opening by default.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cidr.h"

_Static_assert(CIDR_TEXT_MAX >= INET6_ADDRSTRLEN + 8, "CIDR_TEXT_MAX holds an IPv6 CIDR");

static const unsigned char cidr_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ---------------------------------------------------------------- parsing */

size_t cidr_trim(const char *s, size_t n, const char **start)
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

int cidr_addr_parse(const char *s, size_t n, struct cidr_addr *out)
{
	char tmp[CIDR_TEXT_MAX];

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

int cidr_parse_n(const char *s, size_t n, struct cidr *out)
{
	const char *slash = memchr(s, '/', n);
	struct cidr_addr a;
	size_t alen = slash ? (size_t)(slash - s) : n;
	int maxbits, prefix;

	if (cidr_addr_parse(s, alen, &a) < 0)
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
	n = cidr_trim(s, strlen(s), &t);
	return cidr_parse_n(t, n, out);
}

int cidr_canon(const char *s, size_t n, char *out, size_t cap)
{
	char addr[INET6_ADDRSTRLEN];
	struct cidr c;

	/* cidr_parse_n clears the host bits: the network address is already canonical. */
	if (cidr_parse_n(s, n, &c) < 0)
		return -1;
	if (inet_ntop(c.family, c.addr, addr, sizeof(addr)) == NULL)
		return -1;
	if (snprintf(out, cap, "%s/%d", addr, c.prefix) >= (int)cap)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- matching */

/* 1 when the first bits of a and b are equal. */
static int cidr_prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (whole > 0 && memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

int cidr_match(const struct cidr *c, const struct cidr_addr *a)
{
	unsigned char b[16];

	if (c->family == AF_INET) {
		if (a->family == AF_INET)
			return cidr_prefix_eq(c->addr, a->b, c->prefix);
		if (memcmp(a->b, cidr_v4mapped, sizeof(cidr_v4mapped)) != 0)
			return 0;
		return cidr_prefix_eq(c->addr, a->b + 12, c->prefix);
	}
	if (c->family != AF_INET6)
		return 0;
	if (a->family == AF_INET6)
		return cidr_prefix_eq(c->addr, a->b, c->prefix);
	memcpy(b, cidr_v4mapped, sizeof(cidr_v4mapped));
	memcpy(b + 12, a->b, 4);
	return cidr_prefix_eq(c->addr, b, c->prefix);
}

int cidr_contains(const struct cidr *c, const char *addr)
{
	struct cidr_addr a;
	const char *t;
	size_t n;

	if (c == NULL || addr == NULL)
		return 0;
	n = cidr_trim(addr, strlen(addr), &t);
	if (cidr_addr_parse(t, n, &a) < 0)
		return 0;
	return cidr_match(c, &a);
}

int cidr_list_match(const char *list, const struct cidr_addr *a)
{
	const char *p = list;
	int found = 0;

	for (;;) {
		const char *e = strchr(p, ','), *item;
		size_t n = cidr_trim(p, e ? (size_t)(e - p) : strlen(p), &item);

		if (n > 0) {
			struct cidr c;

			if (cidr_parse_n(item, n, &c) < 0)
				return -1;
			if (!found && cidr_match(&c, a))
				found = 1;
		}
		if (e == NULL)
			return found;
		p = e + 1;
	}
}

int cidr_list_contains(const char *list, const char *addr)
{
	struct cidr_addr a;
	const char *t;
	size_t n;

	if (list == NULL || addr == NULL)
		return -1;
	n = cidr_trim(addr, strlen(addr), &t);
	if (cidr_addr_parse(t, n, &a) < 0)
		return -1;
	return cidr_list_match(list, &a);
}
