/*
 * sessions.c: POST /v1/sessions and GET /v1/sessions/{id}.
 *
 * A session holds a conversation's history; runs given its id continue it.
 * It may be bound to one agent at creation ("agent": name), or left free
 * and bound by nothing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "host/http.h"
#include "tenancy/identify.h"

static json_t *session_json(const struct session *s, const char *agent_name)
{
	return json_pack("{s:s, s:s, s:s?, s:o, s:i, s:I, s:I}", "id", s->id, "object", "session",
	                 "agent", agent_name, "metadata", api_json_from_text(s->metadata),
	                 "message_count", s->message_count, "created_at", (json_int_t)s->created_at,
	                 "updated_at", (json_int_t)s->updated_at);
}

void api_sessions_create(struct req *r, const struct ident *id, const struct route_match *m)
{
	const char *agent_name = NULL;
	char *metadata = NULL;
	struct agent *a = NULL;
	struct session s;
	char sid[40];
	json_t *body, *out;
	int rc;

	(void)m;
	body = req_json_object(r);
	if (body == NULL)
		return;
	if (api_str(r, body, "agent", 0, 64, &agent_name) < 0 ||
	    api_object_text(r, body, "metadata", 4000, &metadata) < 0)
		goto out;
	if (agent_name) {
		a = malloc(sizeof(*a));
		if (a == NULL) {
			resp_error(r, R_server_busy, "out of memory");
			goto out;
		}
		rc = store_agent_get_by_name(r->store, id->tenant_id, agent_name, a);
		if (rc == ST_NOTFOUND) {
			resp_error(r, R_not_found, "agent '%s' not found", agent_name);
			goto out;
		}
		if (rc != ST_OK)
			goto unavailable;
	}
	rc = store_session_create(r->store, id->tenant_id, a ? a->id : 0,
	                          metadata ? metadata : "{}", sid);
	if (rc != ST_OK)
		goto unavailable;
	if (store_session_get(r->store, id->tenant_id, sid, &s) != ST_OK)
		goto unavailable;
	out = session_json(&s, a ? a->name : NULL);
	json_object_set_new(out, "messages", json_array());
	resp_json(r, 201, out);
	goto out;
unavailable:
	resp_error(r, R_database_unavailable, "the session store is unavailable");
out:
	free(a);
	free(metadata);
	json_decref(body);
}

static int session_add_message(void *ctx, const struct message *msg)
{
	json_t *arr = ctx;

	json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s?, s:I}", "seq", msg->seq, "role",
	                                     msg->role, "content", msg->content, "run_id",
	                                     msg->run_id[0] ? msg->run_id : NULL, "created_at",
	                                     (json_int_t)msg->created_at));
	return 0;
}

void api_sessions_get(struct req *r, const struct ident *id, const struct route_match *m)
{
	struct session s;
	struct agent *a = NULL;
	json_t *out, *msgs;
	int rc;

	rc = store_session_get(r->store, id->tenant_id, m->params[0], &s);
	if (rc == ST_NOTFOUND) {
		resp_error(r, R_not_found, "session not found");
		return;
	}
	if (rc != ST_OK)
		goto unavailable;
	if (s.agent_id) {
		a = malloc(sizeof(*a));
		if (a == NULL || store_agent_get(r->store, id->tenant_id, s.agent_id, a) != ST_OK)
			goto unavailable;
	}
	msgs = json_array();
	if (store_session_messages(r->store, id->tenant_id, s.id, 0, session_add_message, msgs) !=
	    ST_OK) {
		json_decref(msgs);
		goto unavailable;
	}
	out = session_json(&s, a ? a->name : NULL);
	json_object_set_new(out, "messages", msgs);
	resp_json(r, 200, out);
	free(a);
	return;
unavailable:
	free(a);
	resp_error(r, R_database_unavailable, "the session store is unavailable");
}
