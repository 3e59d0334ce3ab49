/*
 * util.c: time, ids, encodings and parsing helpers (see util.h).
 *
 * DESIGN
 * Randomness comes from libsodium (randombytes_*), which is thread-safe
 * after sodium_init() and never blocks once the kernel pool is seeded.
 * Time parsing is done by hand with timegm(): strptime and the ClearSilver
 * neo_time helpers touch process-global state (TZ), unsafe in workers.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "common/util.h"

int64_t util_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void util_abstime_after_us(struct timespec *ts, int64_t us)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(us / 1000000);
	ts->tv_nsec += (long)(us % 1000000) * 1000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int64_t util_unix_time(void)
{
	return (int64_t)time(NULL);
}

int util_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n;

	if (cap == 0)
		return -1;
	n = strlen(src);
	if (n >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int util_streq_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	size_t n = la < lb ? la : lb;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int util_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

size_t util_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return strlen(out);
}

void util_hex_encode(const unsigned char *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

/*
 * Ids need unpredictable bytes, not a system call each: a thread draws them
 * from its own pool, refilled from the kernel's generator (randombytes_buf)
 * POOL_BYTES at a time. Secrets (keys, tokens, nonces) never come from here.
 */
#define POOL_BYTES 1024

static __thread unsigned char rnd_pool[POOL_BYTES];
static __thread size_t rnd_left;

void util_random_bytes(void *out, size_t n)
{
	unsigned char *o = out;

	while (n > 0) {
		size_t k;

		if (rnd_left == 0) {
			randombytes_buf(rnd_pool, sizeof(rnd_pool));
			rnd_left = sizeof(rnd_pool);
		}
		k = n < rnd_left ? n : rnd_left;
		memcpy(o, rnd_pool + sizeof(rnd_pool) - rnd_left, k);
		sodium_memzero(rnd_pool + sizeof(rnd_pool) - rnd_left, k);
		rnd_left -= k;
		o += k;
		n -= k;
	}
}

void util_random_id(const char *prefix, char *out, size_t cap)
{
	static const char alphabet[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t p = strlen(prefix), i = 0;
	unsigned char b[32];

	if (cap < p + 25) {
		if (cap)
			out[0] = '\0';
		return;
	}
	memcpy(out, prefix, p);
	/* Uniform over 62: bytes of 248 and more (4 * 62) are drawn again. */
	while (i < 24) {
		util_random_bytes(b, sizeof(b));
		for (size_t k = 0; k < sizeof(b) && i < 24; k++)
			if (b[k] < 248)
				out[p + i++] = alphabet[b[k] % 62];
	}
	out[p + i] = '\0';
}

void util_request_id(char out[33])
{
	unsigned char raw[16];

	util_random_bytes(raw, sizeof(raw));
	util_hex_encode(raw, sizeof(raw), out);
}

void util_iso8601(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Read exactly n digits at *p into *v; advance p. */
static int util_digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

int util_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, se = 0;
	time_t t;

	if (s == NULL || *s == '\0')
		return -1;
	if (strchr(s, '-') == NULL)
		return util_parse_i64(s, 0, (int64_t)253402300799LL, out);
	if (util_digits(&p, 4, &y) || *p++ != '-' || util_digits(&p, 2, &mo) || *p++ != '-' ||
	    util_digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (util_digits(&p, 2, &h) || *p++ != ':' || util_digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (util_digits(&p, 2, &se))
				return -1;
		}
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++)
				;
		if (*p == 'Z')
			p++;
		else if (strcmp(p, "+00:00") == 0)
			p += 6;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

int util_mkdir_p(const char *path, unsigned mode)
{
	char buf[512];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return -1;
		if (i < n)
			buf[i] = '/';
	}
	return 0;
}

char *util_utf8_cut_dup(const char *s, size_t max)
{
	static const char ell[] = "…"; /* 3 bytes */
	size_t n = strlen(s);
	char *out;

	if (n <= max)
		return strdup(s);
	n = max < sizeof(ell) ? 0 : max - (sizeof(ell) - 1);
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	if ((out = malloc(n + sizeof(ell))) == NULL)
		return NULL;
	memcpy(out, s, n);
	memcpy(out + n, ell, sizeof(ell));
	return out;
}
