/*
 * valid.c: the name rules table and the text check (see valid.h).
 */
#include "config.h"

#include <string.h>

#include "common/valid.h"

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGIT "0123456789"

#define VALID_F_NOT_ALL_DIGITS 0x1 /* would read as a numeric id */
#define VALID_F_TEXT 0x2           /* UTF-8 text, chars/first unused */

struct valid_rule {
	size_t min, max;      /* length in bytes */
	const char *chars;    /* the bytes allowed */
	const char *first;    /* the bytes allowed first; NULL: any of chars */
	const char *reserved; /* a prefix no name may have, or NULL */
	unsigned flags;       /* VALID_F_* */
	const char *hint;     /* the rule in words */
};

static const struct valid_rule valid_rules[VALID__MAX] = {
    [VALID_SLUG] = {1, 63, LOWER DIGIT "-", LOWER DIGIT, NULL, VALID_F_NOT_ALL_DIGITS,
                    "1-63 of a-z, 0-9 and '-', not starting with '-' and not all digits"},
    /* the dashboard allowed '_' and '-' first; the CLI did not */
    [VALID_PLAN] = {1, 32, LOWER DIGIT "_-", LOWER DIGIT, NULL, 0,
                    "1-32 of a-z, 0-9, '_' and '-', starting with a letter or digit"},
    /* no '.': configuration keys are provider.<name>.<field> */
    [VALID_PROVIDER] = {1, 31, LOWER DIGIT "_-", NULL, NULL, 0, "1-31 of a-z, 0-9, '_' and '-'"},
    /* what a list limit (allowed_models) can name */
    [VALID_MODEL] = {1, 127, LOWER UPPER DIGIT "._:/@-", NULL, NULL, 0,
                     "1-127 of A-Z, a-z, 0-9 and . _ : / @ -"},
    [VALID_AGENT] = {1, 64, LOWER UPPER DIGIT "_-", NULL, NULL, 0,
                     "1-64 of A-Z, a-z, 0-9, _ and -"},
    [VALID_TOOL] = {1, 64, LOWER UPPER DIGIT "_-", NULL, NULL, 0, "1-64 of A-Z, a-z, 0-9, _ and -"},
    [VALID_ADMIN] = {1, 64, LOWER UPPER DIGIT "._-@", NULL, NULL, 0,
                     "1-64 of A-Z, a-z, 0-9 and . _ - @"},
    /* the tool gets it as an environment variable; AGENTHOST_ ones are the host's */
    [VALID_SECRET] = {1, 64, UPPER DIGIT "_", UPPER "_", "AGENTHOST_", 0,
                      "1-64 of A-Z, 0-9 and _, not starting with a digit or AGENTHOST_"},
    [VALID_TENANT_NAME] = {1, 200, NULL, NULL, NULL, VALID_F_TEXT,
                           "1-200 bytes of UTF-8 text without control characters"},
    [VALID_KEY_NAME] = {0, 100, NULL, NULL, NULL, VALID_F_TEXT,
                        "at most 100 bytes of UTF-8 text without control characters"},
    [VALID_TOKEN_NAME] = {1, 100, NULL, NULL, NULL, VALID_F_TEXT,
                          "1-100 bytes of UTF-8 text without control characters"},
    [VALID_PROJECT] = {1, 64, LOWER UPPER DIGIT "_-", LOWER UPPER DIGIT, NULL,
                       VALID_F_NOT_ALL_DIGITS,
                       "1-64 of A-Z, a-z, 0-9, _ and -, starting with a letter or digit, not"
                       " all digits"},
    /* "pool:" + 10 fits an execution's cred_source (exec/route.h ROUTE_POOL_NAME_MAX) */
    [VALID_POOL] = {1, 10, LOWER DIGIT "_-", NULL, NULL, 0, "1-10 of a-z, 0-9, '_' and '-'"},
};

int valid_name(enum valid_kind k, const char *s)
{
	const struct valid_rule *r;
	size_t n;

	if (s == NULL || (unsigned)k >= VALID__MAX)
		return 0;
	r = &valid_rules[k];
	n = strlen(s);
	if (n < r->min || n > r->max)
		return 0;
	if (r->flags & VALID_F_TEXT)
		return valid_text(s, r->max, 0);
	if (strspn(s, r->chars) != n)
		return 0;
	if (n > 0 && r->first != NULL && strchr(r->first, s[0]) == NULL)
		return 0;
	if ((r->flags & VALID_F_NOT_ALL_DIGITS) && strspn(s, DIGIT) == n)
		return 0;
	if (r->reserved != NULL && strncmp(s, r->reserved, strlen(r->reserved)) == 0)
		return 0;
	return 1;
}

const char *valid_hint(enum valid_kind k)
{
	return (unsigned)k < VALID__MAX ? valid_rules[k].hint : "not a valid name";
}

size_t valid_max(enum valid_kind k)
{
	return (unsigned)k < VALID__MAX ? valid_rules[k].max : 0;
}

/* Length of the UTF-8 sequence at p (1-4), or 0 when it is not one (RFC 3629). */
static size_t valid_utf8_seq(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		/* no overlong forms (e0 a0..), no surrogates (ed 80..9f) */
		unsigned lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		unsigned lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

int valid_text(const char *s, size_t max, int multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL || strlen(s) > max)
		return 0;
	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f) {
			if (!multiline || (*p != '\n' && *p != '\r' && *p != '\t'))
				return 0;
			p++;
			continue;
		}
		n = valid_utf8_seq(p);
		if (n == 0)
			return 0;
		p += n;
	}
	return 1;
}
