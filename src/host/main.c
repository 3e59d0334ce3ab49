/*
 * main.c: agenthost, the FastCGI (or CGI) program.
 *
 * DESIGN
 * Everything process-global is set up here, once, before any thread
 * starts: configuration, logging, libsodium and the master key, the MariaDB
 * client library, libcurl, jansson's hash seed, the provider registry
 * (plugins included). A bad configuration stops start-up with a message
 * naming the key; the database may be down (requests then get 503).
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <mysql.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/epochs.h"
#include "common/util.h"
#include "common/log.h"
#include "crypto/secrets.h"
#include "dashboard/render.h"
#include "enforce/admit.h"
#include "common/cidr.h"
#include "host/server.h"
#include "providers/registry.h"

static struct conf main_conf;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: agenthost [-c CONF] [-l ADDR] [-t] [-V]\n"
	        "  -c CONF  configuration file (default $AGENTHOST_CONF or %s)\n"
	        "  -l ADDR  listen on this unix socket path or host:port (overrides listen)\n"
	        "  -t       check the configuration and exit\n"
	        "  -V       print the version and exit\n",
	        conf_path(NULL));
}

int main(int argc, char **argv)
{
	const char *cpath = NULL, *listen_arg = NULL;
	char err[512] = "";
	int opt, check_only = 0, rc;

	while ((opt = getopt(argc, argv, "c:l:tVh")) != -1) {
		switch (opt) {
		case 'c':
			cpath = optarg;
			break;
		case 'l':
			listen_arg = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'V':
			printf("agenthost %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	conf_defaults(&main_conf);
	if (conf_load(&main_conf, conf_path(cpath), err, sizeof(err)) < 0) {
		fprintf(stderr, "agenthost: configuration: %s\n", err);
		return 1;
	}
	/* -l: the systemd unit names its socket whatever the file says. */
	if (listen_arg != NULL) {
		if (listen_arg[0] == '\0' || strlen(listen_arg) >= sizeof(main_conf.listen)) {
			fprintf(stderr, "agenthost: -l: empty, or longer than %zu bytes\n",
			        sizeof(main_conf.listen) - 1);
			return 2;
		}
		memcpy(main_conf.listen, listen_arg, strlen(listen_arg) + 1);
	}
	log_set_level((enum log_level)log_level_parse(main_conf.log_level));
	log_set_repeat(main_conf.log_repeat_s);
	if (main_conf.trusted_proxies[0] &&
	    cidr_list_contains(main_conf.trusted_proxies, "127.0.0.1") < 0) {
		fprintf(stderr, "agenthost: configuration: trusted_proxies: not a list of CIDRs\n");
		return 1;
	}
	if (admit_set_timezone(main_conf.budget_timezone, err, sizeof(err)) < 0) {
		fprintf(stderr, "agenthost: configuration: %s\n", err);
		return 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "agenthost: libsodium failed to initialise\n");
		return 1;
	}
	if (secrets_init(main_conf.master_key_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "agenthost: master key: %s\n", err);
		return 1;
	}
	if (mysql_library_init(0, NULL, NULL) != 0) {
		fprintf(stderr, "agenthost: MariaDB client library failed to initialise\n");
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "agenthost: libcurl failed to initialise\n");
		return 1;
	}
	(void)curl_version_info(CURLVERSION_NOW);
	json_object_seed(0);
	if (dash_init(&main_conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "agenthost: dashboard: %s\n", err);
		return 1;
	}
	if (registry_init(&main_conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "agenthost: providers: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("agenthost: configuration ok\n");
		return 0;
	}
	/* The host's shared state: without it changes reach other processes by change_log only. */
	if (util_mkdir_p(main_conf.state_dir, 0750) < 0 ||
	    epochs_open(main_conf.state_dir, 1, err, sizeof(err)) < 0)
		log_warn("state_dir %s: %s; caches learn of changes from the database only",
		         main_conf.state_dir, err[0] ? err : strerror(errno));
	rc = server_run(&main_conf);
	registry_free();
	curl_global_cleanup();
	mysql_library_end();
	return rc;
}
