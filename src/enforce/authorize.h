/*
 * authorize: checks that need the tenant but not the call's cost: the
 * client's address against the tenant's IP allowlist, the model and agent
 * against the allowlists, max_tokens against the plan's cap.
 *
 * DESIGN
 * The client address is REMOTE_ADDR, unless REMOTE_ADDR is one of the
 * proxies listed in the config key `trusted_proxies` (comma list of CIDRs):
 * then X-Forwarded-For is walked from the right, skipping trusted proxies,
 * and the first untrusted address is the client. A malformed address
 * anywhere on that path is refused (never "allowed by default").
 */
#ifndef AH_AUTHORIZE_H
#define AH_AUTHORIZE_H

#include <stddef.h>

struct req;
struct ident;
struct limits;

/*
 * After identification, for every tenant route: tenant's IP allowlist.
 * 0 ok, or -1 after sending 403 ip_not_allowed (or 503 when the limits
 * cannot be read). Fills *lim with the caller's effective limits.
 */
int authorize_request(struct req *r, const struct ident *id, struct limits *lim);
/*
 * 0 when model is allowed for the tenant and for the calling key (its own
 * level), else -1 after sending 403 model_not_allowed / key_model_not_allowed.
 */
int authorize_model(struct req *r, const struct limits *lim, const char *model);
/* 0 when agent is allowed, else -1 after sending 403 agent_not_allowed. */
int authorize_agent(struct req *r, const struct limits *lim, const char *agent);
/* The client address as decided above, into out (INET6_ADDRSTRLEN); -1 when malformed. */
int authorize_client_addr(const struct req *r, char *out, size_t cap);

#endif
