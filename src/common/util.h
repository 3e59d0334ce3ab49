/*
 * util: small helpers with no better home: time, ids, base64url, string
 * copying, integer parsing.
 */
#ifndef AH_UTIL_H
#define AH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic clock in microseconds (for latency). */
int64_t util_now_us(void);
/* Wall clock, seconds since the epoch. */
int64_t util_unix_time(void);
/* Wall clock, microseconds since the epoch. */
int64_t util_wall_us(void);
struct timespec;
/* *ts = the wall clock us microseconds from now: a deadline for pthread_cond_timedwait. */
void util_abstime_after_us(struct timespec *ts, int64_t us);
/* Copy src into dst of size cap, always NUL-terminating; returns 0, or -1 if truncated. */
int util_strlcpy(char *dst, const char *src, size_t cap);
/*
 * A malloc'd copy of s of at most max bytes (max >= 4), cut at a UTF-8
 * character boundary and ending in "…" when s was longer; NULL when out of
 * memory.
 */
char *util_utf8_cut_dup(const char *s, size_t max);
/* Parse a whole decimal int64 in [min,max]; 0 on success, -1 otherwise. */
int util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Constant-time string comparison for tokens; 1 when equal. */
int util_streq_ct(const char *a, const char *b);
/* Case-insensitive ASCII prefix test. */
int util_has_prefix_ci(const char *s, const char *prefix);
/* base64url without padding; out needs 4*ceil(n/3)+1 bytes. Returns length. */
size_t util_b64url_encode(const unsigned char *in, size_t n, char *out);
/* Lowercase hex; out needs 2n+1 bytes. */
void util_hex_encode(const unsigned char *in, size_t n, char *out);
/* n unpredictable bytes for ids (a per-thread pool; not for keys or secrets). */
void util_random_bytes(void *out, size_t n);
/* A public id: prefix + 24 random base62 characters (~143 bits); cap >= strlen(prefix)+25. */
void util_random_id(const char *prefix, char *out, size_t cap);
/* A request id: 32 lowercase hex characters; out needs 33 bytes. */
void util_request_id(char out[33]);
/* mkdir -p with mode for the directories it creates; 0, or -1 with errno set. */
int util_mkdir_p(const char *path, unsigned mode);
/* Format UTC seconds as RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes). */
void util_iso8601(int64_t t, char *out, size_t cap);
/* Parse RFC 3339 / "YYYY-MM-DD" / "YYYY-MM-DD HH:MM:SS" (UTC) or unix seconds; 0 ok, -1 bad. */
int util_parse_time(const char *s, int64_t *out);

#endif
