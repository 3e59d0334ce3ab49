/*
 * fuzz.h: what the libFuzzer drivers share: splitting one input into parts,
 * a response sink for handlers that answer, and the provider harness.
 *
 * DESIGN
 * Each driver is one file, fuzz_<parser>.c, with LLVMFuzzerTestOneInput and
 * nothing else; fuzz/run builds it against the project's sources compiled
 * with -fsanitize=fuzzer-no-link,address,undefined and runs it for a bounded
 * time on fuzz/corpus/<parser>/. A driver must not leak, keep state between
 * inputs, or touch the network or the disk: a finding is then a bug of the
 * parser, reproducible from the one input libFuzzer saves.
 */
#ifndef AH_FUZZ_H
#define AH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated malloc'd copy of the n bytes at p (never NULL: aborts on no memory). */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/*
 * The next part of *data up to the byte sep (excluded), advancing past it;
 * the rest of the input when sep does not occur. *n gets the part's length.
 */
static inline const uint8_t *fuzz_part(const uint8_t **data, size_t *size, uint8_t sep, size_t *n)
{
	const uint8_t *p = *data, *e = memchr(p, sep, *size);

	*n = e != NULL ? (size_t)(e - p) : *size;
	*data += e != NULL ? *n + 1 : *n;
	*size -= e != NULL ? *n + 1 : *n;
	return p;
}

#endif
