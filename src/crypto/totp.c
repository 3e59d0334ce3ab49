/*
 * totp.c: SHA-1, HMAC-SHA1, HOTP, TOTP and base32 (see totp.h).
 */
#include "config.h"

#include <string.h>

#include "crypto/totp.h"

/* ------------------------------------------------------------------ SHA-1 */

struct sha1 {
	uint32_t h[5];
	uint64_t len;    /* bytes hashed so far */
	uint8_t blk[64]; /* the block being filled */
	size_t used;     /* bytes of blk filled */
};

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* Mix one 64-byte block into s->h (FIPS 180-4 section 6.1.2). */
static void sha1_block(struct sha1 *s, const uint8_t b[64])
{
	uint32_t w[80], a, bb, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = s->h[0];
	bb = s->h[1];
	c = s->h[2];
	d = s->h[3];
	e = s->h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (bb & c) | (~bb & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = bb ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (bb & c) | (bb & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = bb ^ c ^ d;
			k = 0xCA62C1D6;
		}
		t = ROL(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = ROL(bb, 30);
		bb = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += bb;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

/* Start a hash. */
static void sha1_init(struct sha1 *s)
{
	static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->used = 0;
}

/* Add n bytes. */
static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n)
{
	s->len += n;
	while (n > 0) {
		size_t take = 64 - s->used < n ? 64 - s->used : n;

		memcpy(s->blk + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used == 64) {
			sha1_block(s, s->blk);
			s->used = 0;
		}
	}
}

/* Pad, finish and write the digest; wipes the state. */
static void sha1_final(struct sha1 *s, uint8_t out[SHA1_LEN])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, lenb[8];
	int i;

	sha1_update(s, &pad, 1);
	while (s->used != 56)
		sha1_update(s, &zero, 1);
	for (i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, lenb, 8);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
	memset(s, 0, sizeof(*s));
}

void totp_sha1(const void *data, size_t n, uint8_t out[SHA1_LEN])
{
	struct sha1 s;

	sha1_init(&s);
	sha1_update(&s, data, n);
	sha1_final(&s, out);
}

/* ------------------------------------------------------------------ HMAC, HOTP, TOTP */

void totp_hmac_sha1(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                    uint8_t out[SHA1_LEN])
{
	uint8_t k[64], pad[64], inner[SHA1_LEN];
	struct sha1 s;
	int i;

	memset(k, 0, sizeof(k));
	if (klen > 64)
		totp_sha1(key, klen, k);
	else if (klen > 0)
		memcpy(k, key, klen);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	sha1_init(&s);
	sha1_update(&s, pad, 64);
	sha1_update(&s, msg, mlen);
	sha1_final(&s, inner);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	sha1_init(&s);
	sha1_update(&s, pad, 64);
	sha1_update(&s, inner, SHA1_LEN);
	sha1_final(&s, out);
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}

uint32_t totp_hotp(const uint8_t *key, size_t klen, uint64_t counter, int digits)
{
	static const uint32_t mod[] = {1000000, 10000000, 100000000};
	uint8_t msg[8], mac[SHA1_LEN];
	uint32_t bin;
	int i, off;

	if (digits < 6 || digits > 8)
		digits = 6;
	for (i = 0; i < 8; i++)
		msg[i] = (uint8_t)(counter >> (56 - 8 * i));
	totp_hmac_sha1(key, klen, msg, sizeof(msg), mac);
	/* dynamic truncation, RFC 4226 section 5.3 */
	off = mac[SHA1_LEN - 1] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	      (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
	memset(mac, 0, sizeof(mac));
	return bin % mod[digits - 6];
}

uint32_t totp_code(const uint8_t *key, size_t klen, int64_t t)
{
	return totp_hotp(key, klen, (uint64_t)(t / TOTP_PERIOD_S), TOTP_DIGITS);
}

int64_t totp_verify(const uint8_t *key, size_t klen, const char *code, int64_t t)
{
	uint32_t want = 0;
	int64_t step = t / TOTP_PERIOD_S, s;
	int n = 0;

	for (; code && *code; code++) {
		if (*code == ' ')
			continue;
		if (*code < '0' || *code > '9' || ++n > TOTP_DIGITS)
			return 0;
		want = want * 10 + (uint32_t)(*code - '0');
	}
	if (n != TOTP_DIGITS || t <= 0)
		return 0;
	/* newest first, so a code valid for two steps counts for the later one */
	for (s = step + 1; s >= step - 1; s--)
		if (s > 0 && totp_hotp(key, klen, (uint64_t)s, TOTP_DIGITS) == want)
			return s;
	return 0;
}

/* ------------------------------------------------------------------ base32 */

static const char b32_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int totp_b32_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t need = (n * 8 + 4) / 5 + 1, i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (cap < need)
		return -1;
	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32_alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return 0;
}

int totp_b32_decode(const char *in, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0, v;
	size_t o = 0;

	for (; *in; in++) {
		char c = *in;

		if (c == ' ' || c == '=')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= '2' && c <= '7')
			v = c - '2' + 26;
		else
			return -1;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			if (o >= cap)
				return -1;
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return (int)o;
}
