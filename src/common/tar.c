/*
 * tar.c: a ustar writer (see tar.h).
 */
#include "config.h"

#include <string.h>

#include "common/tar.h"

#define TAR_BLOCK 512

/* An 11-digit octal field and its NUL (v <= TAR_MAX_SIZE). */
static void tar_octal(unsigned char *field, int64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%011llo", (unsigned long long)v);
	memcpy(field, t, 12);
}

/* Fill the 512-byte ustar header for a regular file. -1 when name or size do not fit. */
static int tar_header(unsigned char h[TAR_BLOCK], const char *name, int64_t size, int64_t mtime)
{
	unsigned sum = 0;

	if (strlen(name) == 0 || strlen(name) > 100 || size < 0 || size > TAR_MAX_SIZE)
		return -1;
	memset(h, 0, TAR_BLOCK);
	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	tar_octal(h + 124, size);
	tar_octal(h + 136, mtime > 0 && mtime <= TAR_MAX_SIZE ? mtime : 0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 148, "        ", 8);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return 0;
}

/* Pad the member that took size bytes to a whole block. */
static int tar_pad(FILE *out, int64_t size)
{
	static const unsigned char zero[TAR_BLOCK];
	size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);

	return pad && fwrite(zero, 1, pad, out) != pad ? -1 : 0;
}

int tar_add_stream(FILE *out, const char *name, FILE *src, int64_t size, int64_t mtime)
{
	unsigned char h[TAR_BLOCK], chunk[65536];
	int64_t left = size;

	if (tar_header(h, name, size, mtime) < 0 || fwrite(h, 1, TAR_BLOCK, out) != TAR_BLOCK)
		return -1;
	while (left > 0) {
		size_t want = left > (int64_t)sizeof(chunk) ? sizeof(chunk) : (size_t)left;
		size_t got = fread(chunk, 1, want, src);

		if (got != want || fwrite(chunk, 1, got, out) != got)
			return -1;
		left -= (int64_t)got;
	}
	return tar_pad(out, size);
}

int tar_add_data(FILE *out, const char *name, const void *data, size_t len, int64_t mtime)
{
	unsigned char h[TAR_BLOCK];

	if (tar_header(h, name, (int64_t)len, mtime) < 0 ||
	    fwrite(h, 1, TAR_BLOCK, out) != TAR_BLOCK || (len && fwrite(data, 1, len, out) != len))
		return -1;
	return tar_pad(out, (int64_t)len);
}

int tar_finish(FILE *out)
{
	static const unsigned char zero[2 * TAR_BLOCK];

	return fwrite(zero, 1, sizeof(zero), out) == sizeof(zero) && fflush(out) == 0 ? 0 : -1;
}
