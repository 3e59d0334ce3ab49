/*
 * tar: write a POSIX ustar archive to a stream.
 *
 * DESIGN
 * Exports are archives of a few JSON lines files; ustar is read by every
 * tar and by Python's tarfile, and writing it takes a 512-byte header per
 * file. Members are regular files (mode 0644, owner 0) with names of at most
 * 100 bytes and sizes below 8 GiB (the ustar octal field). The archive ends
 * with two zero blocks.
 */
#ifndef AH_TAR_H
#define AH_TAR_H

#include <stdint.h>
#include <stdio.h>

#define TAR_MAX_SIZE 077777777777LL

/* Write member name with the size bytes of src (read from its current position). 0 or -1. */
int tar_add_stream(FILE *out, const char *name, FILE *src, int64_t size, int64_t mtime);
/* Write member name holding data[0..len). 0 or -1. */
int tar_add_data(FILE *out, const char *name, const void *data, size_t len, int64_t mtime);
/* Write the end of the archive. 0 or -1. */
int tar_finish(FILE *out);

#endif
