/*
 * fuzz_conf: the configuration file parser (common/conf.c): lines, trimming,
 * every typed key and its bounds, provider keys, the checks across keys.
 */
#include "config.h"

#include <stdio.h>

#include "common/conf.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c;
	char err[512];
	FILE *f;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (f == NULL)
		return 0;
	conf_defaults(&c);
	if (conf_load_stream(&c, f, "fuzz.conf", err, sizeof(err)) == 0 &&
	    (c.max_streams < 1 || c.max_streams > c.max_inflight))
		abort();
	fclose(f);
	return 0;
}
