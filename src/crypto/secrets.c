/*
 * secrets.c: master key loading, API key generation and hashing, BYOK
 * sealing (see secrets.h).
 *
 * DESIGN
 * The master key lives on the stack only while secrets_init runs: it is
 * parsed, two subkeys are derived with crypto_kdf (context "agnthost",
 * id 1 = API-key pepper, id 2 = BYOK key) and it is wiped. The subkeys sit
 * in one sodium_malloc'd block (guard pages, mlock'd, never swapped) that is
 * made read-only after init, so a stray write faults instead of silently
 * corrupting a key. Init runs once in main before threads; afterwards every
 * function here only reads the block and is thread-safe.
 *
 * The master key file is checked through the descriptor we read it from
 * (fstat after open, O_NOFOLLOW), so the mode we check is the mode of the
 * bytes we use.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "crypto/secrets.h"

#define SECRETS_KDF_CONTEXT "agnthost" /* crypto_kdf_CONTEXTBYTES == 8 */
#define SECRETS_SUBKEY_PEPPER 1
#define SECRETS_SUBKEY_BYOK 2
#define SECRETS_SUBKEY_HOOKS 3
#define SECRETS_MASTER_HEX_LEN 64
#define SECRETS_AD_MAX 256

/* Subkeys derived from the master key; read-only after secrets_init. */
struct secrets_keys {
	uint8_t pepper[crypto_generichash_KEYBYTES];               /* API-key hash key */
	uint8_t byok[crypto_aead_xchacha20poly1305_ietf_KEYBYTES]; /* credential sealing key */
	uint8_t
	    hooks[crypto_generichash_KEYBYTES]; /* webhook signing secrets are derived from it */
};

static struct secrets_keys *secrets_keys;
static int secrets_loaded;

/* Format an error into err (if any); always returns -1 so callers can `return secrets_err(...)`. */
static int secrets_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int secrets_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Read the master key file at path into key. 0, or -1 with err naming the
 * path. All intermediate copies of the key text are wiped.
 */
static int secrets_read_master(const char *path, uint8_t key[crypto_kdf_KEYBYTES], char *err,
                               size_t errlen)
{
	char text[SECRETS_MASTER_HEX_LEN + 3]; /* hex + "\n" + one byte to detect excess */
	struct stat sb;
	size_t got = 0, binlen = 0;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return secrets_err(err, errlen, "master key file %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		secrets_err(err, errlen, "master key file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		secrets_err(err, errlen, "master key file %s: not a regular file", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		secrets_err(err, errlen,
		            "master key file %s: mode %04o is readable or writable by group/others;"
		            " run chmod 600 %s",
		            path, (unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	while (got < sizeof(text)) {
		n = read(fd, text + got, sizeof(text) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			secrets_err(err, errlen, "master key file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == SECRETS_MASTER_HEX_LEN + 1 && text[SECRETS_MASTER_HEX_LEN] == '\n')
		got--;
	if (got != SECRETS_MASTER_HEX_LEN) {
		secrets_err(
		    err, errlen,
		    "master key file %s: expected %d hex characters and an optional newline", path,
		    SECRETS_MASTER_HEX_LEN);
		goto out;
	}
	if (sodium_hex2bin(key, crypto_kdf_KEYBYTES, text, got, NULL, &binlen, NULL) != 0 ||
	    binlen != crypto_kdf_KEYBYTES) {
		secrets_err(err, errlen, "master key file %s: not valid hex", path);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(text, sizeof(text));
	if (rc != 0)
		sodium_memzero(key, crypto_kdf_KEYBYTES);
	close(fd);
	return rc;
}

int secrets_init(const char *path, char *err, size_t errlen)
{
	uint8_t master[crypto_kdf_KEYBYTES];
	struct secrets_keys fresh;
	int rc = -1;

	if (sodium_init() < 0)
		return secrets_err(err, errlen, "libsodium failed to initialise");
	if (path == NULL || *path == '\0')
		return secrets_err(err, errlen, "master key file: no path configured");
	if (secrets_read_master(path, master, err, errlen) != 0)
		return -1;
	if (crypto_kdf_derive_from_key(fresh.pepper, sizeof(fresh.pepper), SECRETS_SUBKEY_PEPPER,
	                               SECRETS_KDF_CONTEXT, master) != 0 ||
	    crypto_kdf_derive_from_key(fresh.byok, sizeof(fresh.byok), SECRETS_SUBKEY_BYOK,
	                               SECRETS_KDF_CONTEXT, master) != 0 ||
	    crypto_kdf_derive_from_key(fresh.hooks, sizeof(fresh.hooks), SECRETS_SUBKEY_HOOKS,
	                               SECRETS_KDF_CONTEXT, master) != 0) {
		secrets_err(err, errlen, "master key file %s: key derivation failed", path);
		goto out;
	}
	if (secrets_keys == NULL) {
		secrets_keys = sodium_malloc(sizeof(*secrets_keys));
		if (secrets_keys == NULL) {
			secrets_err(err, errlen, "out of secure memory for key material");
			goto out;
		}
	} else if (sodium_mprotect_readwrite(secrets_keys) != 0) {
		secrets_err(err, errlen, "cannot unprotect key memory");
		goto out;
	}
	memcpy(secrets_keys, &fresh, sizeof(fresh));
	if (sodium_mprotect_readonly(secrets_keys) != 0) {
		/* Keys are usable but writable: refuse rather than run weaker than designed. */
		sodium_memzero(secrets_keys, sizeof(*secrets_keys));
		secrets_loaded = 0;
		secrets_err(err, errlen, "cannot protect key memory");
		goto out;
	}
	secrets_loaded = 1;
	rc = 0;
out:
	sodium_memzero(master, sizeof(master));
	sodium_memzero(&fresh, sizeof(fresh));
	return rc;
}

int secrets_create_master_key(const char *path, char *err, size_t errlen)
{
	uint8_t key[crypto_kdf_KEYBYTES];
	char hex[SECRETS_MASTER_HEX_LEN + 2];
	size_t off = 0, len;
	ssize_t n;
	int fd, rc = -1;

	if (sodium_init() < 0)
		return secrets_err(err, errlen, "libsodium failed to initialise");
	if (path == NULL || *path == '\0')
		return secrets_err(err, errlen, "master key file: no path given");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return secrets_err(err, errlen,
			                   "master key file %s already exists; refusing to replace"
			                   " it",
			                   path);
		return secrets_err(err, errlen, "master key file %s: %s", path, strerror(errno));
	}
	/* The umask may have removed owner bits; the file must be exactly 0600. */
	if (fchmod(fd, 0600) != 0) {
		secrets_err(err, errlen, "master key file %s: chmod: %s", path, strerror(errno));
		goto out;
	}
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	len = SECRETS_MASTER_HEX_LEN;
	hex[len++] = '\n';
	while (off < len) {
		n = write(fd, hex + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			secrets_err(err, errlen, "master key file %s: write: %s", path,
			            strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		secrets_err(err, errlen, "master key file %s: fsync: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	if (close(fd) != 0 && rc == 0)
		rc = secrets_err(err, errlen, "master key file %s: close: %s", path,
		                 strerror(errno));
	/* Never leave a half-written key behind for a later start to trip over. */
	if (rc != 0)
		unlink(path);
	return rc;
}

int secrets_ready(void)
{
	return secrets_loaded;
}

/* ------------------------------------------------------------------ API keys */

int secrets_new_api_key(char *key, char *prefix, uint8_t hash[SECRETS_HASH_LEN])
{
	const size_t plen = sizeof(SECRETS_KEY_PREFIX) - 1;
	uint8_t raw[32];

	if (!secrets_loaded || key == NULL || prefix == NULL || hash == NULL)
		return -1;
	randombytes_buf(raw, sizeof(raw));
	memcpy(key, SECRETS_KEY_PREFIX, plen);
	/* 32 bytes -> 43 characters + NUL: exactly fills the 52-byte key buffer. */
	sodium_bin2base64(key + plen, SECRETS_API_KEY_LEN + 1 - plen, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	memcpy(prefix, key, SECRETS_DISPLAY_PREFIX_LEN);
	prefix[SECRETS_DISPLAY_PREFIX_LEN] = '\0';
	secrets_hash_api_key(key, SECRETS_API_KEY_LEN, hash);
	return 0;
}

void secrets_hash_api_key(const char *key, size_t len, uint8_t hash[SECRETS_HASH_LEN])
{
	if (!secrets_loaded) {
		/*
		 * Without the pepper no hash can be right. A random value matches
		 * no stored key, so a caller that forgot init fails closed.
		 */
		log_error("secrets: API key hashed before secrets_init");
		randombytes_buf(hash, SECRETS_HASH_LEN);
		return;
	}
	crypto_generichash(hash, SECRETS_HASH_LEN, (const unsigned char *)key, len,
	                   secrets_keys->pepper, sizeof(secrets_keys->pepper));
}

/* Index of c in the base64url alphabet, or -1. */
static int secrets_b64url_index(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int secrets_api_key_shape_ok(const char *s, size_t len)
{
	const size_t plen = sizeof(SECRETS_KEY_PREFIX) - 1;
	int v = 0;

	if (s == NULL || len != SECRETS_API_KEY_LEN || memcmp(s, SECRETS_KEY_PREFIX, plen) != 0)
		return 0;
	for (size_t i = plen; i < len; i++) {
		v = secrets_b64url_index((unsigned char)s[i]);
		if (v < 0)
			return 0;
	}
	/* 43 characters carry 258 bits for 256: the last one's two low bits are zero. */
	return (v & 3) == 0;
}

/* ------------------------------------------------------------------ BYOK */

/*
 * Build the associated data for (tenant, provider, version) into ad.
 * Provider names are registry names; '|' is refused so that no name can
 * imitate another field. Returns the length, or 0 when refused.
 */
static size_t secrets_ad(char ad[SECRETS_AD_MAX], int64_t tenant_id, const char *provider,
                         int version)
{
	int n;

	if (provider == NULL || *provider == '\0' || strchr(provider, '|') != NULL)
		return 0;
	n = snprintf(ad, SECRETS_AD_MAX, "agenthost:byok:v1|tenant=%lld|provider=%s|version=%d",
	             (long long)tenant_id, provider, version);
	if (n < 0 || n >= SECRETS_AD_MAX)
		return 0;
	return (size_t)n;
}

int secrets_seal(int64_t tenant_id, const char *provider, int version, const char *plain,
                 size_t len, uint8_t nonce[SECRETS_NONCE_LEN], uint8_t *ct, size_t *ct_len)
{
	char ad[SECRETS_AD_MAX];
	unsigned long long clen = 0;
	size_t adlen;

	if (!secrets_loaded || plain == NULL || ct == NULL || ct_len == NULL || nonce == NULL ||
	    len > SECRETS_MAX_PLAIN)
		return -1;
	adlen = secrets_ad(ad, tenant_id, provider, version);
	if (adlen == 0)
		return -1;
	randombytes_buf(nonce, SECRETS_NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, (const unsigned char *)plain, len,
	                                               (const unsigned char *)ad, adlen, NULL,
	                                               nonce, secrets_keys->byok) != 0)
		return -1;
	*ct_len = (size_t)clen;
	return 0;
}

int secrets_open(int64_t tenant_id, const char *provider, int version,
                 const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct, size_t ct_len,
                 char *plain, size_t cap)
{
	char ad[SECRETS_AD_MAX];
	unsigned long long mlen = 0;
	size_t adlen;

	if (plain == NULL || cap == 0)
		return -1;
	plain[0] = '\0';
	if (!secrets_loaded || nonce == NULL || ct == NULL || ct_len < SECRETS_MAC_LEN ||
	    ct_len - SECRETS_MAC_LEN > SECRETS_MAX_PLAIN || ct_len - SECRETS_MAC_LEN >= cap)
		return -1;
	adlen = secrets_ad(ad, tenant_id, provider, version);
	if (adlen == 0)
		return -1;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &mlen, NULL, ct,
	                                               ct_len, (const unsigned char *)ad, adlen,
	                                               nonce, secrets_keys->byok) != 0) {
		sodium_memzero(plain, cap);
		return -1;
	}
	plain[mlen] = '\0';
	return 0;
}

void secrets_last4(const char *plain, char out[5])
{
	size_t n = plain ? strlen(plain) : 0;
	size_t k = n < 4 ? n : 4;

	memcpy(out, plain ? plain + n - k : "", k);
	out[k] = '\0';
}

/*
 * The label of a project's provider key in the provider field of the
 * associated data: "project:<id>/<provider>". Instance names have neither
 * ':' nor '/', tool labels start "tool:": no label is another's.
 */
static int secrets_project_label(int64_t project_id, const char *provider, char *out, size_t cap)
{
	int n;

	if (project_id <= 0 || provider == NULL || *provider == '\0' ||
	    strpbrk(provider, "|/:") != NULL)
		return -1;
	n = snprintf(out, cap, "project:%lld/%s", (long long)project_id, provider);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int secrets_seal_project(int64_t tenant_id, int64_t project_id, const char *provider, int version,
                         const char *plain, size_t len, uint8_t nonce[SECRETS_NONCE_LEN],
                         uint8_t *ct, size_t *ct_len)
{
	char label[96];

	if (secrets_project_label(project_id, provider, label, sizeof(label)) < 0)
		return -1;
	return secrets_seal(tenant_id, label, version, plain, len, nonce, ct, ct_len);
}

int secrets_open_project(int64_t tenant_id, int64_t project_id, const char *provider, int version,
                         const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct, size_t ct_len,
                         char *plain, size_t cap)
{
	char label[96];

	if (plain != NULL && cap > 0)
		plain[0] = '\0';
	if (secrets_project_label(project_id, provider, label, sizeof(label)) < 0)
		return -1;
	return secrets_open(tenant_id, label, version, nonce, ct, ct_len, plain, cap);
}

/* ------------------------------------------------------------------ tool secrets */

/*
 * The label sealed into a tool secret's associated data in the provider
 * field: "tool:<tool>/<name>". Provider instance names have neither ':' nor
 * '/', so no tool secret opens as a provider key or the other way round.
 */
static int secrets_tool_label(const char *tool, const char *name, char *out, size_t cap)
{
	int n;

	if (tool == NULL || name == NULL || *tool == '\0' || *name == '\0' ||
	    strpbrk(tool, "|/") != NULL || strchr(name, '|') != NULL)
		return -1;
	n = snprintf(out, cap, "tool:%s/%s", tool, name);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int secrets_seal_tool(int64_t tenant_id, const char *tool, const char *name, int version,
                      const char *plain, size_t len, uint8_t nonce[SECRETS_NONCE_LEN], uint8_t *ct,
                      size_t *ct_len)
{
	char label[160];

	if (secrets_tool_label(tool, name, label, sizeof(label)) < 0)
		return -1;
	return secrets_seal(tenant_id, label, version, plain, len, nonce, ct, ct_len);
}

int secrets_open_tool(int64_t tenant_id, const char *tool, const char *name, int version,
                      const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct, size_t ct_len,
                      char *plain, size_t cap)
{
	char label[160];

	if (plain != NULL && cap > 0)
		plain[0] = '\0';
	if (secrets_tool_label(tool, name, label, sizeof(label)) < 0)
		return -1;
	return secrets_open(tenant_id, label, version, nonce, ct, ct_len, plain, cap);
}

int secrets_webhook_secret(int64_t tenant_id, int64_t webhook_id,
                           char out[SECRETS_WEBHOOK_SECRET_LEN + 1])
{
	uint8_t raw[32];
	char msg[64];
	int n;

	if (!secrets_loaded)
		return -1;
	n = snprintf(msg, sizeof(msg), "webhook:%lld:%lld", (long long)tenant_id,
	             (long long)webhook_id);
	if (crypto_generichash(raw, sizeof(raw), (const unsigned char *)msg, (size_t)n,
	                       secrets_keys->hooks, sizeof(secrets_keys->hooks)) != 0)
		return -1;
	memcpy(out, "whsec_", 6);
	sodium_bin2hex(out + 6, SECRETS_WEBHOOK_SECRET_LEN + 1 - 6, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

int secrets_webhook_sign(int64_t tenant_id, int64_t webhook_id, int64_t ts, const char *body,
                         size_t len, char out[65])
{
	char secret[SECRETS_WEBHOOK_SECRET_LEN + 1], tsbuf[24];
	crypto_auth_hmacsha256_state h;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	int n;

	if (secrets_webhook_secret(tenant_id, webhook_id, secret) != 0)
		return -1;
	n = snprintf(tsbuf, sizeof(tsbuf), "%lld.", (long long)ts);
	crypto_auth_hmacsha256_init(&h, (const unsigned char *)secret, SECRETS_WEBHOOK_SECRET_LEN);
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)tsbuf, (unsigned long long)n);
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)body, (unsigned long long)len);
	crypto_auth_hmacsha256_final(&h, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(&h, sizeof(h));
	return 0;
}

/* ------------------------------------------------------------------ dashboard two-factor */

int secrets_seal_totp(int64_t user_id, const uint8_t *secret, size_t len,
                      uint8_t nonce[SECRETS_NONCE_LEN], uint8_t *ct, size_t *ct_len)
{
	char ad[SECRETS_AD_MAX];
	unsigned long long clen = 0;
	int adlen;

	if (!secrets_loaded || secret == NULL || ct == NULL || ct_len == NULL || nonce == NULL ||
	    len == 0 || len > SECRETS_MAX_PLAIN)
		return -1;
	adlen = snprintf(ad, sizeof(ad), "agenthost:totp:v1|user=%lld", (long long)user_id);
	if (adlen <= 0 || (size_t)adlen >= sizeof(ad))
		return -1;
	randombytes_buf(nonce, SECRETS_NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, secret, len,
	                                               (const unsigned char *)ad, (size_t)adlen,
	                                               NULL, nonce, secrets_keys->byok) != 0)
		return -1;
	*ct_len = (size_t)clen;
	return 0;
}

int secrets_open_totp(int64_t user_id, const uint8_t nonce[SECRETS_NONCE_LEN], const uint8_t *ct,
                      size_t ct_len, uint8_t *out, size_t cap)
{
	char ad[SECRETS_AD_MAX];
	unsigned long long mlen = 0;
	int adlen;

	if (!secrets_loaded || nonce == NULL || ct == NULL || out == NULL ||
	    ct_len <= SECRETS_MAC_LEN || ct_len - SECRETS_MAC_LEN > cap)
		return -1;
	adlen = snprintf(ad, sizeof(ad), "agenthost:totp:v1|user=%lld", (long long)user_id);
	if (adlen <= 0 || (size_t)adlen >= sizeof(ad))
		return -1;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct, ct_len,
	                                               (const unsigned char *)ad, (size_t)adlen,
	                                               nonce, secrets_keys->byok) != 0) {
		sodium_memzero(out, cap);
		return -1;
	}
	return (int)mlen;
}

int64_t secrets_end_user_id(int64_t tenant_id, const char *name)
{
	uint8_t hash[SECRETS_HASH_LEN];
	char in[160];
	uint64_t v = 0;
	int n;

	if (!secrets_loaded || name == NULL || name[0] == '\0')
		return 0;
	n = snprintf(in, sizeof(in), "agenthost:end_user:v1|tenant=%lld|%s", (long long)tenant_id,
	             name);
	if (n < 0 || (size_t)n >= sizeof(in))
		return 0;
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)in, (size_t)n,
	                   secrets_keys->pepper, sizeof(secrets_keys->pepper));
	for (int i = 0; i < 8; i++)
		v = v << 8 | hash[i];
	v &= (uint64_t)INT64_MAX;
	return v ? (int64_t)v : 1;
}

void secrets_hash_recovery(int64_t user_id, const char *code, uint8_t hash[SECRETS_HASH_LEN])
{
	char in[128];
	int n;

	n = snprintf(in, sizeof(in), "agenthost:recovery:v1|user=%lld|%s", (long long)user_id,
	             code ? code : "");
	if (n < 0 || (size_t)n >= sizeof(in))
		n = (int)sizeof(in) - 1;
	secrets_hash_api_key(in, (size_t)n, hash);
	sodium_memzero(in, sizeof(in));
}
