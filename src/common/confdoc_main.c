/*
 * confdoc_main.c: the program behind `make docs`: rewrites the configuration
 * documentation from the table of common/conf.c (see common/confdoc.h).
 *
 *   confdoc [--check] SRCDIR
 *
 * DESIGN
 * Without --check every output under SRCDIR is brought up to date and the
 * ones rewritten are named; with --check nothing is written and the exit
 * status is 1 when any is stale. Not installed: it serves the source tree.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/confdoc.h"

int main(int argc, char **argv)
{
	int check = argc == 3 && strcmp(argv[1], "--check") == 0, status = 0;
	const char *srcdir = argv[argc - 1];
	char err[1200];

	if (argc != 2 + check) {
		fprintf(stderr, "usage: confdoc [--check] SRCDIR\n");
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
