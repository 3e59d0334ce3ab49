/*
 * fuzz_cidr: addresses, CIDRs and CIDR lists (common/cidr.c). The input is
 * "list\naddress"; the list's items are also parsed and canonicalised one by
 * one, and a canonical text must parse back to the same range.
 */
#include "config.h"

#include "common/cidr.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nl, na;
	const uint8_t *l = fuzz_part(&data, &size, '\n', &nl);
	const uint8_t *a = fuzz_part(&data, &size, '\n', &na);
	char *list = fuzz_strndup(l, nl), *addr = fuzz_strndup(a, na);
	char canon[CIDR_TEXT_MAX];
	struct cidr c, back;

	cidr_list_contains(list, addr);
	if (cidr_parse(list, &c) == 0) {
		cidr_contains(&c, addr);
		if (cidr_canon(list, strlen(list), canon, sizeof(canon)) == 0 &&
		    (cidr_parse(canon, &back) != 0 || memcmp(&c, &back, sizeof(c)) != 0))
			abort();
	}
	free(list);
	free(addr);
	return 0;
}
