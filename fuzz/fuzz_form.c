/*
 * fuzz_form: query string and form parsing (host/http.c http_form_value):
 * percent-decoding, '+', repeated and empty names, output too small.
 * Input: the query text; the first byte picks the output size.
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"q", "limit", "csrf", "a b", "", "tenant"};
	char out[300];
	size_t cap;

	if (size == 0)
		return 0;
	cap = 1 + data[0] % sizeof(out);
	data++;
	size--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = http_form_value((const char *)data, size, names[i], out, cap);

		if (rc == 1 && strlen(out) >= cap)
			abort();
	}
	return 0;
}
