/*
 * valid: the rules for names (tenant slugs, plan, provider, model, agent,
 * tool, dashboard user, secret and key names) and for stored text, once for
 * the API, the CLI, the dashboard and the configuration.
 *
 * DESIGN
 * One row per kind of name in a table (kcgi's kvalid): length in bytes, the
 * bytes allowed, the bytes allowed first, flags (not all digits, a reserved
 * prefix, free text) and the rule in words for error messages. A caller asks
 * valid_name(kind, s) and, when it says no, shows valid_hint(kind): the
 * message cannot drift from the rule. Where the places that checked a kind
 * of name disagreed, the table keeps the stricter rule (docs/CLI.md,
 * "Names"). Names are ASCII whatever the locale; text kinds are UTF-8
 * without control characters.
 */
#ifndef AH_COMMON_VALID_H
#define AH_COMMON_VALID_H

#include <stddef.h>

enum valid_kind {
	VALID_SLUG,        /* tenant slug */
	VALID_PLAN,        /* plan name */
	VALID_PROVIDER,    /* provider instance name (configuration keys, plugins) */
	VALID_MODEL,       /* model catalogue name */
	VALID_AGENT,       /* agent name, unique per tenant */
	VALID_TOOL,        /* tool name (what every provider accepts) */
	VALID_ADMIN,       /* dashboard user name */
	VALID_SECRET,      /* a tool secret's name: an environment variable */
	VALID_TENANT_NAME, /* a tenant's display name (text) */
	VALID_KEY_NAME,    /* an API key's label (text, may be empty) */
	VALID_TOKEN_NAME,  /* an operator token's name (text) */
	VALID_PROJECT,     /* a project's name, unique per tenant */
	VALID_POOL,        /* a key of a tenant's key pool ("pool:<name>"; exec/route.h) */
	VALID__MAX
};

/* 1 when s (NULL answers 0) is a valid name of kind k, else 0. */
int valid_name(enum valid_kind k, const char *s);
/* The rule of kind k in words, e.g. "1-63 of a-z, 0-9 and '-', ..."; never NULL. */
const char *valid_hint(enum valid_kind k);
/* The longest valid name of kind k, in bytes. */
size_t valid_max(enum valid_kind k);
/*
 * 1 when s is text we store and print: at most max bytes of valid UTF-8
 * (no overlong forms or surrogates), no control characters except, when
 * multiline, newline, CR and tab. 0 otherwise (and for NULL).
 */
int valid_text(const char *s, size_t max, int multiline);

#endif
