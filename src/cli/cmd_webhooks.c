/*
 * cmd_webhooks.c: agenthostctl webhook add, list, remove and deliveries (a
 * tenant's alert webhooks and their delivery log).
 *
 * DESIGN
 * The same checks and JSON forms as the tenant's /v1/webhooks API
 * (api/webhooks.c): the URL through hook_url_check with the configuration's
 * webhook_allow_private, the signing secret derived by crypto/secrets.c and
 * printed once by add (it is never stored).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/objects.h"
#include "cli/cli.h"
#include "common/conf.h"
#include "common/util.h"
#include "crypto/secrets.h"
#include "providers/hook.h"
#include "store/alerts.h"

static int cmd_webhook_add(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"url", NULL}};
	char err[160], secret[SECRETS_WEBHOOK_SECRET_LEN + 1], target[40];
	struct webhook w;
	struct tenant t;
	json_t *out;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK || (rc = cli_require(c, &opts[1])) != CLI_OK)
		return rc;
	if (hook_url_check(opts[1].value, c->conf->webhook_allow_private, err, sizeof(err)) != 0)
		return cli_usage_error(c, "--url: %s", err);
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	memset(&w, 0, sizeof(w));
	rc = store_webhook_add(c->st, t.id, opts[1].value, &w.id);
	if (rc != ST_OK)
		return cli_error("database error while adding a webhook to tenant '%s'", t.slug);
	if (secrets_webhook_secret(t.id, w.id, secret) != 0) {
		store_webhook_remove(c->st, t.id, w.id);
		return cli_error("cannot make a signing secret (master key not loaded)");
	}
	w.tenant_id = t.id;
	util_strlcpy(w.url, opts[1].value, sizeof(w.url));
	w.created_at = util_unix_time();
	snprintf(target, sizeof(target), "webhook:%" PRId64, w.id);
	rc = cli_audit(c, t.id, "webhook.create", target, cli_pack("{s:s}", "url", w.url));
	out = objects_webhook(&w);
	if (out != NULL)
		json_object_set_new(out, "secret", json_string(secret));
	sodium_memzero(secret, sizeof(secret));
	rc = cli_finish(cli_emit(out), rc);
	cli_secret_notice("webhook secret");
	return rc;
}

/* webhook_cb: append one webhook to the JSON array ctx. */
static int cli_hook_collect(void *ctx, const struct webhook *w)
{
	return cli_array_add(ctx, objects_webhook(w));
}

static int fill_webhook_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	return store_webhook_list(c->st, t->id, cli_hook_collect, arr);
}

static int cmd_webhook_list(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_webhook_list, "webhooks");
}

/* alert_log_cb: append one delivery to the JSON array ctx. */
static int cli_delivery_collect(void *ctx, const struct alert_log *l)
{
	return cli_array_add(ctx, objects_delivery(l));
}

static int fill_delivery_list(struct cli *c, const struct tenant *t, json_t *arr)
{
	return store_alert_log(c->st, t->id, 500, cli_delivery_collect, arr);
}

static int cmd_webhook_deliveries(struct cli *c, int argc, char **argv)
{
	return cli_list(c, argc, argv, 1, fill_delivery_list, "webhook deliveries");
}

static int cmd_webhook_remove(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"tenant", NULL}, {"webhook", NULL}};
	struct tenant t;
	char target[40];
	int64_t id;
	size_t npos;
	int rc;

	rc = cli_args(c, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_require(c, &opts[0])) != CLI_OK || (rc = cli_require(c, &opts[1])) != CLI_OK)
		return rc;
	if ((rc = cli_opt_int(c, &opts[1], 1, INT64_MAX, &id)) != CLI_OK)
		return rc;
	if (cli_tenant(c, opts[0].value, &t) != CLI_OK)
		return CLI_FAIL;
	rc = store_webhook_remove(c->st, t.id, id);
	if (rc == ST_NOTFOUND)
		return cli_error("webhook %" PRId64 " not found for tenant '%s'", id, t.slug);
	if (rc != ST_OK)
		return cli_error("database error while removing webhook %" PRId64, id);
	snprintf(target, sizeof(target), "webhook:%" PRId64, id);
	rc = cli_audit(c, t.id, "webhook.remove", target, NULL);
	return cli_finish(cli_emit(cli_pack("{s:I, s:I, s:b}", "tenant_id", (json_int_t)t.id, "id",
	                                    (json_int_t)id, "removed", 1)),
	                  rc);
}

const struct cli_cmd cli_cmds_webhooks[] = {
    {"webhook", "add", cmd_webhook_add, CLI_NEED_DB | CLI_NEED_SECRETS, "--tenant TENANT --url URL",
     "add a webhook for the tenant's alerts (its signing secret is shown once)"},
    {"webhook", "list", cmd_webhook_list, CLI_NEED_DB, "--tenant TENANT",
     "list a tenant's webhooks"},
    {"webhook", "remove", cmd_webhook_remove, CLI_NEED_DB, "--tenant TENANT --webhook ID",
     "remove a webhook (its pending deliveries are dropped)"},
    {"webhook", "deliveries", cmd_webhook_deliveries, CLI_NEED_DB, "--tenant TENANT",
     "the tenant's latest webhook deliveries (the delivery log)"},
};
const size_t cli_ncmds_webhooks = ARRAY_SIZE(cli_cmds_webhooks);
