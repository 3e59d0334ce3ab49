/*
 * confdoc_main.c: the program behind `make docs`: rewrites the configuration
 * documentation from the table of common/conf.c (see common/confdoc.h).
 *
 *   confdoc [--check] SRCDIR
 *   confdoc --example FILE
 *
 * DESIGN
 * Without --check every output under SRCDIR is brought up to date and the
 * ones rewritten are named; with --check nothing is written and the exit
 * status is 1 when any is stale. --example writes the example configuration
 * with this build's paths to FILE, for make install. Not installed: it
 * serves the source tree and the build.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/confdoc.h"

/* confdoc --example FILE: the example as this build installs it. */
static int confdoc_write_built(const char *path)
{
	struct buf b = BUF_INIT;
	FILE *f = fopen(path, "w");
	int rc = 0;

	confdoc_example_built(&b);
	if (f == NULL || fwrite(buf_str(&b), 1, b.len, f) != b.len)
		rc = 1;
	if (f != NULL && fclose(f) != 0)
		rc = 1;
	if (rc != 0)
		perror(path);
	buf_free(&b);
	return rc;
}

int main(int argc, char **argv)
{
	int check = argc == 3 && strcmp(argv[1], "--check") == 0, status = 0;
	const char *srcdir = argv[argc - 1];
	char err[1200];

	if (argc == 3 && strcmp(argv[1], "--example") == 0)
		return confdoc_write_built(argv[2]);
	if (argc != 2 + check) {
		fprintf(stderr, "usage: confdoc [--check] SRCDIR | --example FILE\n");
		return 2;
	}
	for (int k = 0; k < CONFDOC__MAX; k++) {
		int rc = confdoc_sync((enum confdoc_kind)k, srcdir, !check, err, sizeof(err));

		if (rc < 0 || (rc == 1 && check)) {
			fprintf(stderr, "confdoc: %s\n", err);
			status = 1;
		} else if (rc == 1) {
			printf("confdoc: wrote %s/%s\n", srcdir,
			       confdoc_path((enum confdoc_kind)k));
		}
	}
	return status;
}
