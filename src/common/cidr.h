/*
 * cidr: IPv4/IPv6 addresses and CIDR ranges, parsed and matched without
 * allocating; comma lists of CIDRs walked in place.
 *
 * DESIGN
 * Used by enforce/authorize.c (IP allowlists, trusted proxies), by
 * enforce/limits.c (validating and normalising ip_allowlist values) and by
 * start-up (trusted_proxies): it lives in common/ so neither of the two
 * enforce files depends on the other for it. IPv4 and IPv6 are compared in
 * one form: an IPv4-mapped IPv6 address (::ffff:1.2.3.4) is IPv4 when
 * matched against an IPv4 range, and an IPv4 address is ::ffff:a.b.c.d when
 * matched against an IPv6 range, so a dual-stack socket cannot slip past an
 * IPv4 list. Every parser takes (pointer, length) so items of a list are
 * parsed where they lie; text longer than CIDR_TEXT_MAX is refused.
 */
#ifndef AH_CIDR_H
#define AH_CIDR_H

#include <stddef.h>

/* Longest text of one address or CIDR item looked at: "ffff:...:ffff/128" plus slack. */
#define CIDR_TEXT_MAX (46 + 8)

/* A parsed address. */
struct cidr_addr {
	int family;          /* AF_INET or AF_INET6 */
	unsigned char b[16]; /* network order, IPv4 in the first 4 bytes */
};

/* A parsed range. */
struct cidr {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network address, IPv4 in the first 4 bytes */
	int prefix;             /* bits */
};

/* Trim spaces and tabs around the n bytes at s; *start gets the first byte kept. Returns the
 * trimmed length. */
size_t cidr_trim(const char *s, size_t n, const char **start);
/* Parse the n bytes at s as a bare IPv4 or IPv6 address (no prefix, port or zone). 0, or -1. */
int cidr_addr_parse(const char *s, size_t n, struct cidr_addr *out);
/* Parse the n bytes at s as "a/len" or a bare address (full prefix); host bits below the
 * prefix are cleared. Decimal prefix only: no sign, no leading zero. 0, or -1 when bad. */
int cidr_parse_n(const char *s, size_t n, struct cidr *out);
/* Parse "10.0.0.0/8", "2001:db8::/32" or a bare address, spaces around allowed. 0 ok, -1 bad. */
int cidr_parse(const char *s, struct cidr *out);
/* 1 when the parsed address a is inside c (across the IPv4 / IPv4-mapped forms), else 0. */
int cidr_match(const struct cidr *c, const struct cidr_addr *a);
/* 1 when addr (text) is inside c; 0 when not or when addr does not parse. */
int cidr_contains(const struct cidr *c, const char *addr);
/*
 * 1 when a is inside any CIDR of the comma list, 0 when in none, -1 when an
 * item does not parse (the whole list is checked, so a typo is never hidden
 * behind an earlier match). Empty items are skipped.
 */
int cidr_list_match(const char *list, const struct cidr_addr *a);
/* As cidr_list_match for addr as text; -1 when the list or addr is malformed. */
int cidr_list_contains(const char *list, const char *addr);
/* The canonical text of the CIDR in the n bytes at s ("net/prefix", host bits cleared) into
 * out (cap bytes, CIDR_TEXT_MAX is enough). 0, or -1 when it does not parse or fit. */
int cidr_canon(const char *s, size_t n, char *out, size_t cap);

#endif
