/*
 * agents.c: tenants' agent definitions (store_agent_*).
 *
 * DESIGN
 * An agent is a named model + instructions + sampling defaults, owned by one
 * tenant: the primary key is (tenant_id, id) and every lookup carries the
 * tenant id, so another tenant's agent is simply not found. Names are unique
 * per tenant (binary collation: "Bot" and "bot" are different agents).
 * Optional settings are NULL in the table (temperature unset, max_tokens 0).
 */
#include "config.h"

#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store.h"

#define AGENT_COLS                                                                                 \
	"SELECT id, tenant_id, name, model, instructions, temperature, COALESCE(max_tokens, 0),"   \
	" CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED),"                                      \
	" CAST(FLOOR(UNIX_TIMESTAMP(updated_at)) AS SIGNED) FROM agents"

static const char sql_insert[] =
    "INSERT INTO agents (tenant_id, name, model, instructions, temperature, max_tokens,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
static const char sql_get[] = AGENT_COLS " WHERE tenant_id = ? AND id = ?";
static const char sql_get_name[] = AGENT_COLS " WHERE tenant_id = ? AND name = ?";
static const char sql_list[] = AGENT_COLS " WHERE tenant_id = ? ORDER BY name";

/*
 * Create a->name for a->tenant_id. ST_OK with *id_out, ST_CONFLICT when the
 * name exists for this tenant, ST_NOTFOUND when the tenant does not exist,
 * ST_ERR.
 */
int store_agent_create(struct store *st, const struct agent *a, int64_t *id_out)
{
	MYSQL_BIND in[6];
	unsigned long l[3];
	int rc;

	if (a->name[0] == '\0' || a->model[0] == '\0' || a->max_tokens < 0) {
		log_error(
		    "store: store_agent_create: missing name or model, or negative max_tokens");
		return ST_ERR;
	}
	db_in_i64(&in[0], &a->tenant_id);
	db_in_strn(&in[1], a->name, strnlen(a->name, sizeof(a->name)), &l[0]);
	db_in_strn(&in[2], a->model, strnlen(a->model, sizeof(a->model)), &l[1]);
	db_in_strn(&in[3], a->instructions, strnlen(a->instructions, sizeof(a->instructions)),
	           &l[2]);
	if (a->has_temperature)
		db_in_double(&in[4], &a->temperature);
	else
		db_in_null(&in[4]);
	if (a->max_tokens > 0)
		db_in_int(&in[5], &a->max_tokens);
	else
		db_in_null(&in[5]);
	rc = db_exec(st, Q_AGENT_INSERT, sql_insert, in, NULL, __func__);
	if (rc != ST_OK)
		return rc;
	if (id_out)
		*id_out = db_insert_id(st, Q_AGENT_INSERT);
	return ST_OK;
}

/* Describe the AGENT_COLS columns into o, landing in a; returns the temperature column. */
static size_t agent_bind(struct db_out *o, struct agent *a)
{
	size_t temp;

	db_out_init(o);
	db_out_i64(o, &a->id);
	db_out_i64(o, &a->tenant_id);
	db_out_str(o, a->name, sizeof(a->name));
	db_out_str(o, a->model, sizeof(a->model));
	db_out_str(o, a->instructions, sizeof(a->instructions));
	temp = db_out_double(o, &a->temperature);
	db_out_int(o, &a->max_tokens);
	db_out_i64(o, &a->created_at);
	db_out_i64(o, &a->updated_at);
	return temp;
}

/* Run a one-agent query q with parameters in into out. */
static int agent_get_one(struct store *st, enum db_q q, const char *sql, MYSQL_BIND *in,
                         struct agent *out, const char *fn)
{
	struct db_out o;
	size_t temp;
	int rc;

	memset(out, 0, sizeof(*out));
	temp = agent_bind(&o, out);
	rc = db_exec(st, q, sql, in, &o, fn);
	if (rc != ST_OK)
		return ST_ERR;
	rc = db_fetch(st, q, &o, fn);
	out->has_temperature = rc == 1 && !o.null[temp];
	db_end(st, q, &o);
	if (rc < 0)
		return ST_ERR;
	return rc == 1 ? ST_OK : ST_NOTFOUND;
}

/* The tenant's agent called name: ST_OK, ST_NOTFOUND, ST_ERR. */
int store_agent_get_by_name(struct store *st, int64_t tenant_id, const char *name,
                            struct agent *out)
{
	MYSQL_BIND in[2];
	unsigned long l;

	if (name == NULL) {
		memset(out, 0, sizeof(*out));
		return ST_NOTFOUND;
	}
	db_in_i64(&in[0], &tenant_id);
	db_in_str(&in[1], name, &l);
	return agent_get_one(st, Q_AGENT_GET_NAME, sql_get_name, in, out, __func__);
}

/* The tenant's agent with this id: ST_OK, ST_NOTFOUND, ST_ERR. */
int store_agent_get(struct store *st, int64_t tenant_id, int64_t id, struct agent *out)
{
	MYSQL_BIND in[2];

	db_in_i64(&in[0], &tenant_id);
	db_in_i64(&in[1], &id);
	return agent_get_one(st, Q_AGENT_GET, sql_get, in, out, __func__);
}

/* Call cb for each of the tenant's agents by name; nonzero from cb stops. ST_OK or ST_ERR. */
int store_agent_list(struct store *st, int64_t tenant_id, agent_cb cb, void *ctx)
{
	struct db_out o;
	struct agent a;
	MYSQL_BIND in[1];
	size_t temp;
	int rc;

	memset(&a, 0, sizeof(a));
	db_in_i64(&in[0], &tenant_id);
	temp = agent_bind(&o, &a);
	rc = db_exec(st, Q_AGENT_LIST, sql_list, in, &o, __func__);
	if (rc != ST_OK)
		return ST_ERR;
	while ((rc = db_fetch(st, Q_AGENT_LIST, &o, __func__)) == 1) {
		a.has_temperature = !o.null[temp];
		if (cb(ctx, &a))
			break;
	}
	db_end(st, Q_AGENT_LIST, &o);
	return rc < 0 ? ST_ERR : ST_OK;
}
