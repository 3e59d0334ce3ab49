/*
 * authorize.c: the tenant's IP allowlist (with trusted proxies), the model
 * and agent allowlists (see authorize.h).
 *
 * DESIGN
 * Everything here runs on every request, so nothing allocates: addresses
 * and CIDR lists are parsed and matched in place by common/cidr.c, which
 * also says how IPv4 and IPv4-mapped IPv6 addresses compare.
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

#include "common/cidr.h"
#include "common/conf.h"
#include "common/log.h"
#include "enforce/authorize.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "tenancy/identify.h"

/* ---------------------------------------------------------------- client address */

/*
 * The client address of r, parsed into *out and as text into text (cap
 * bytes, at least INET6_ADDRSTRLEN). 0, or -1 when anything on the path is
 * malformed; why names the culprit for the refusal message.
 */
static int auth_client(const struct req *r, struct cidr_addr *out, char *text, size_t cap,
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
	n = cidr_trim(ra, strlen(ra), &t);
	if (cidr_addr_parse(t, n, out) < 0)
		return -1;
	trusted = r->conf ? r->conf->trusted_proxies : "";
	xff = req_header(r, "X-Forwarded-For");
	if (trusted[0] != '\0' && xff != NULL) {
		*why = "the trusted_proxies setting is malformed";
		rc = cidr_list_match(trusted, out);
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
			struct cidr_addr hop;

			while (start > xff && start[-1] != ',')
				start--;
			n = cidr_trim(start, (size_t)(end - start), &t);
			if (n > 0) {
				*why = "X-Forwarded-For is malformed";
				if (cidr_addr_parse(t, n, &hop) < 0)
					return -1;
				*out = hop;
				rc = cidr_list_match(trusted, out);
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
	struct cidr_addr a;
	const char *why;

	if (out == NULL || cap < INET6_ADDRSTRLEN)
		return -1;
	return auth_client(r, &a, out, cap, &why);
}

/* ---------------------------------------------------------------- checks */

int authorize_request(struct req *r, const struct ident *id, struct limits *lim)
{
	char addr[INET6_ADDRSTRLEN];
	struct cidr_addr a;
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
	rc = cidr_list_match(list, &a);
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
	if (!limits_list_allows(lim->v[LIM_ALLOWED_MODELS].text, model)) {
		resp_error_param(r, R_model_not_allowed, "model",
		                 "the model '%.100s' is not allowed for this tenant",
		                 model ? model : "");
		return -1;
	}
	/* The key's project, then the key: each list narrows the one above, never widens it. */
	if (!limits_list_allows(lim->project[LV_ALLOWED_MODELS].text, model)) {
		resp_error_param(r, R_project_model_not_allowed, "model",
		                 "the model '%.100s' is not allowed for this key's project (its"
		                 " allowed_models: %.200s)",
		                 model ? model : "", lim->project[LV_ALLOWED_MODELS].text);
		return -1;
	}
	if (!limits_list_allows(lim->key[LV_ALLOWED_MODELS].text, model)) {
		resp_error_param(
		    r, R_key_model_not_allowed, "model",
		    "the model '%.100s' is not allowed for this API key (its allowed_models:"
		    " %.200s)",
		    model ? model : "", lim->key[LV_ALLOWED_MODELS].text);
		return -1;
	}
	return 0;
}

int authorize_agent(struct req *r, const struct limits *lim, const char *agent)
{
	if (limits_list_allows(lim->v[LIM_ALLOWED_AGENTS].text, agent))
		return 0;
	resp_error(r, R_agent_not_allowed, "the agent '%.100s' is not allowed for this tenant",
	           agent ? agent : "");
	return -1;
}
