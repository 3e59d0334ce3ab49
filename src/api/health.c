/*
 * health.c: GET /healthz (the process answers) and GET /readyz (it can
 * reach the database). Neither needs a key; neither says more than that.
 */
#include "config.h"

#include "api/api.h"
#include "host/http.h"

void api_healthz(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	(void)m;
	resp_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void api_readyz(struct req *r, const struct ident *id, const struct route_match *m)
{
	(void)id;
	(void)m;
	if (r->store == NULL || store_ping(r->store) != ST_OK) {
		resp_error(r, R_not_ready, "the database is not reachable");
		return;
	}
	resp_json(r, 200, json_pack("{s:s}", "status", "ready"));
}
