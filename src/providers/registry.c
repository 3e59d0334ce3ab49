/*
 * registry.c: provider instances by name; plugin loading (see registry.h).
 *
 * DESIGN
 * The registry is a fixed array of instances built once by registry_init()
 * before worker threads start and only read afterwards, so lookups need no
 * lock. Built-in instances come from a table (name, adapter, default base
 * URL); a plugin adds an adapter and an instance of the same name. The
 * config may then override base URL, platform key and timeout of any
 * instance; a provider.<name>.* key naming no instance is a start-up error,
 * since a typo there would otherwise silently send traffic to the default
 * URL with no key. Plugin handles are kept open until registry_free(): the
 * adapters' code and strings live in them.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "providers/adapters.h"
#include "providers/registry.h"
#include "common/valid.h"

#define REG_MAX_INSTANCES 64
#define REG_MAX_PLUGINS 16
#define REG_DEFAULT_TIMEOUT_MS 120000 /* when no config is given (matches conf.c) */
#define REG_DEFAULT_CONNECT_MS 10000

struct reg_slot {
	struct provider_instance inst; /* what callers see */
	char name[32];                 /* storage for inst.name */
};

static const struct {
	const char *name;                           /* instance name */
	const struct ah_provider *(*adapter)(void); /* its adapter */
	const char *base_url;                       /* default base URL */
} reg_builtin[] = {
    {"openai", provider_openai_adapter, "https://api.openai.com/v1"},
    {"deepseek", provider_openai_adapter, "https://api.deepseek.com/v1"},
    {"mistral", provider_openai_adapter, "https://api.mistral.ai/v1"},
    {"openrouter", provider_openai_adapter, "https://openrouter.ai/api/v1"},
    {"ollama", provider_openai_adapter, "http://127.0.0.1:11434/v1"},
    {"vllm", provider_openai_adapter, "http://127.0.0.1:8000/v1"},
    {"anthropic", provider_anthropic_adapter, "https://api.anthropic.com"},
    {"gemini", provider_gemini_adapter, "https://generativelanguage.googleapis.com"},
    {"mock", provider_mock_adapter, "local"},
};

static struct reg_slot reg_slots[REG_MAX_INSTANCES];
static size_t reg_n;
static void *reg_handles[REG_MAX_PLUGINS];
static size_t reg_n_handles;

/* Write a message into err (when given). Returns -1. */
static int reg_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Append an instance; 0, or -1 when the table is full or the name is taken. */
static int reg_add(const char *name, const struct ah_provider *adapter, const char *base_url,
                   int timeout_ms, int connect_ms, char *err, size_t errlen)
{
	struct reg_slot *s;

	if (registry_find(name) != NULL)
		return reg_err(err, errlen, "provider %s: an instance of that name already exists",
		               name);
	if (reg_n == REG_MAX_INSTANCES)
		return reg_err(err, errlen, "provider %s: too many provider instances (at most %d)",
		               name, REG_MAX_INSTANCES);
	s = &reg_slots[reg_n];
	memset(s, 0, sizeof(*s));
	if (util_strlcpy(s->name, name, sizeof(s->name)) != 0 ||
	    util_strlcpy(s->inst.base_url, base_url, sizeof(s->inst.base_url)) != 0)
		return reg_err(err, errlen, "provider %s: name or base URL too long", name);
	s->inst.name = s->name;
	s->inst.adapter = adapter;
	s->inst.timeout_ms = timeout_ms;
	s->inst.connect_timeout_ms = connect_ms;
	reg_n++;
	return 0;
}

/* Check that p is a complete adapter. 0, or -1 with err naming path. */
static int reg_check_adapter(const char *path, const struct ah_provider *p, char *err,
                             size_t errlen)
{
	int n_stream;

	if (p->abi_version != AH_PROVIDER_ABI_VERSION)
		return reg_err(err, errlen,
		               "plugin %s: ABI version %u, host speaks %d (rebuild the plugin "
		               "against this host's providers/provider.h)",
		               path, (unsigned)p->abi_version, AH_PROVIDER_ABI_VERSION);
	if (p->struct_size < sizeof(struct ah_provider))
		return reg_err(err, errlen,
		               "plugin %s: ABI struct size %u is smaller than the host's %zu", path,
		               (unsigned)p->struct_size, sizeof(struct ah_provider));
	if (p->name == NULL || p->name[0] == '\0')
		return reg_err(err, errlen, "plugin %s: provider name is empty", path);
	if (!valid_name(VALID_PROVIDER, p->name))
		return reg_err(err, errlen,
		               "plugin %s: provider name must be 1-31 characters of a-z 0-9 _ -",
		               path);
	if (p->flags & AH_PROVIDER_LOCAL) {
		if (p->generate == NULL)
			return reg_err(err, errlen,
			               "plugin %s: local provider %s has no generate()", path,
			               p->name);
		return 0;
	}
	if (p->build_request == NULL || p->parse_response == NULL)
		return reg_err(err, errlen,
		               "plugin %s: HTTP provider %s needs build_request and "
		               "parse_response",
		               path, p->name);
	n_stream = (p->stream_begin != NULL) + (p->stream_event != NULL) + (p->stream_end != NULL);
	if (n_stream != 0 && n_stream != 3)
		return reg_err(err, errlen,
		               "plugin %s: provider %s must set all of stream_begin, "
		               "stream_event, stream_end or none",
		               path, p->name);
	return 0;
}

/* Load one plugin with the given instance timeouts. 0, or -1 with err. */
static int reg_load(const char *path, int timeout_ms, int connect_ms, char *err, size_t errlen)
{
	ah_provider_entry_fn entry;
	const struct ah_provider *p;
	void *h;
	const char *dl;

	if (reg_n_handles == REG_MAX_PLUGINS)
		return reg_err(err, errlen, "plugin %s: too many plugins (at most %d)", path,
		               REG_MAX_PLUGINS);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		dl = dlerror();
		return reg_err(err, errlen, "plugin %s: cannot load: %s", path,
		               dl != NULL ? dl : "unknown error");
	}
	/* POSIX's way to turn a data pointer from dlsym into a function pointer. */
	*(void **)(&entry) = dlsym(h, "ah_provider_entry");
	if (entry == NULL) {
		reg_err(err, errlen, "plugin %s: no ah_provider_entry symbol", path);
		goto fail;
	}
	p = entry();
	if (p == NULL) {
		reg_err(err, errlen, "plugin %s: ah_provider_entry() returned NULL", path);
		goto fail;
	}
	if (reg_check_adapter(path, p, err, errlen) != 0)
		goto fail;
	if (registry_find(p->name) != NULL) {
		reg_err(err, errlen,
		        "plugin %s: provider name %s clashes with an existing provider", path,
		        p->name);
		goto fail;
	}
	if (reg_add(p->name, p, (p->flags & AH_PROVIDER_LOCAL) ? "local" : "", timeout_ms,
	            connect_ms, err, errlen) != 0)
		goto fail;
	reg_handles[reg_n_handles++] = h;
	log_info("provider plugin %s loaded: %s", path, p->name);
	return 0;
fail:
	dlclose(h);
	return -1;
}

int registry_load_plugin(const char *path, char *err, size_t errlen)
{
	if (path == NULL || path[0] == '\0')
		return reg_err(err, errlen, "plugin: empty path");
	return reg_load(path, REG_DEFAULT_TIMEOUT_MS, REG_DEFAULT_CONNECT_MS, err, errlen);
}

/* Load every path of the space/comma separated list. 0, or -1 with err. */
static int reg_load_list(const char *list, int timeout_ms, int connect_ms, char *err, size_t errlen)
{
	char path[1024];
	size_t n;

	while (*list != '\0') {
		list += strspn(list, " ,\t");
		n = strcspn(list, " ,\t");
		if (n == 0)
			break;
		if (n >= sizeof(path))
			return reg_err(err, errlen, "plugins: a path is too long");
		memcpy(path, list, n);
		path[n] = '\0';
		if (reg_load(path, timeout_ms, connect_ms, err, errlen) != 0)
			return -1;
		list += n;
	}
	return 0;
}

int registry_init(const struct conf *c, char *err, size_t errlen)
{
	const struct conf_provider *cp;
	struct reg_slot *s;
	size_t i;
	int timeout = c->upstream_timeout_ms > 0 ? c->upstream_timeout_ms : REG_DEFAULT_TIMEOUT_MS;
	int connect = c->upstream_connect_timeout_ms > 0 ? c->upstream_connect_timeout_ms
	                                                 : REG_DEFAULT_CONNECT_MS;

	registry_free();
	for (i = 0; i < ARRAY_SIZE(reg_builtin); i++)
		if (reg_add(reg_builtin[i].name, reg_builtin[i].adapter(), reg_builtin[i].base_url,
		            timeout, connect, err, errlen) != 0)
			goto fail;
	if (reg_load_list(c->plugins, timeout, connect, err, errlen) != 0)
		goto fail;
	for (i = 0; i < c->n_providers; i++) {
		if (registry_find(c->providers[i].name) == NULL) {
			reg_err(err, errlen, "provider.%s: unknown provider", c->providers[i].name);
			goto fail;
		}
	}
	for (i = 0; i < reg_n; i++) {
		s = &reg_slots[i];
		cp = conf_provider(c, s->name);
		if (cp != NULL) {
			if (cp->base_url[0] != '\0' &&
			    util_strlcpy(s->inst.base_url, cp->base_url,
			                 sizeof(s->inst.base_url)) != 0) {
				reg_err(err, errlen, "provider.%s.base_url: too long", s->name);
				goto fail;
			}
			if (util_strlcpy(s->inst.platform_key, cp->api_key,
			                 sizeof(s->inst.platform_key)) != 0) {
				reg_err(err, errlen, "provider.%s.api_key: too long", s->name);
				goto fail;
			}
			if (cp->timeout_ms > 0)
				s->inst.timeout_ms = cp->timeout_ms;
		}
		if (!(s->inst.adapter->flags & AH_PROVIDER_LOCAL) && s->inst.base_url[0] == '\0') {
			reg_err(err, errlen,
			        "provider.%s.base_url: required for this plugin provider", s->name);
			goto fail;
		}
	}
	return 0;
fail:
	registry_free();
	return -1;
}

void registry_free(void)
{
	size_t i;

	/* Wipe platform keys: the registry is the only holder of them in memory. */
	for (i = 0; i < reg_n; i++)
		explicit_bzero(reg_slots[i].inst.platform_key,
		               sizeof(reg_slots[i].inst.platform_key));
	reg_n = 0;
	for (i = 0; i < reg_n_handles; i++)
		dlclose(reg_handles[i]);
	reg_n_handles = 0;
}

const struct provider_instance *registry_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < reg_n; i++)
		if (strcmp(reg_slots[i].name, name) == 0)
			return &reg_slots[i].inst;
	return NULL;
}

const struct provider_instance *registry_at(size_t i)
{
	return i < reg_n ? &reg_slots[i].inst : NULL;
}
