/*
 * test_cidr: CIDR parsing and matching, CIDR lists, the client address
 * behind trusted proxies (X-Forwarded-For walking) and the model/agent
 * refusals of enforce/authorize.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/cidr.h"
#include "enforce/authorize.h"
#include "enforce/limits.h"
#include "host/http.h"
#include "testdb.h"

/* ---------------------------------------------------------------- parsing */

static const struct {
	const char *in;
	int ok;
	int family;
	int prefix;
	const char *net; /* network address after masking */
} parse_cases[] = {
    {"10.0.0.0/8", 1, AF_INET, 8, "10.0.0.0"},
    {"10.1.2.3/16", 1, AF_INET, 16, "10.1.0.0"}, /* host bits masked, not refused */
    {"127.0.0.1", 1, AF_INET, 32, "127.0.0.1"},
    {"127.0.0.1/32", 1, AF_INET, 32, "127.0.0.1"},
    {"0.0.0.0/0", 1, AF_INET, 0, "0.0.0.0"},
    {"192.168.1.255/25", 1, AF_INET, 25, "192.168.1.128"},
    {" 10.0.0.0/8 ", 1, AF_INET, 8, "10.0.0.0"},
    {"2001:db8::/32", 1, AF_INET6, 32, "2001:db8::"},
    {"2001:db8:ffff::1/33", 1, AF_INET6, 33, "2001:db8:8000::"},
    {"::1", 1, AF_INET6, 128, "::1"},
    {"::1/128", 1, AF_INET6, 128, "::1"},
    {"::/0", 1, AF_INET6, 0, "::"},
    {"::ffff:1.2.3.4/120", 1, AF_INET6, 120, "::ffff:1.2.3.0"},
    {"10.0.0.0/33", 0, 0, 0, NULL},
    {"::/129", 0, 0, 0, NULL},
    {"10.0.0.0/", 0, 0, 0, NULL},
    {"10.0.0.0/-1", 0, 0, 0, NULL},
    {"10.0.0.0/+8", 0, 0, 0, NULL},
    {"10.0.0.0/08", 0, 0, 0, NULL},
    {"10.0.0.0/8/8", 0, 0, 0, NULL},
    {"10.0.0.0/8x", 0, 0, 0, NULL},
    {"10.0.0/8", 0, 0, 0, NULL},
    {"10.0.0.256", 0, 0, 0, NULL},
    {"010.0.0.1", 0, 0, 0, NULL},
    {"1.2.3.4:80", 0, 0, 0, NULL},
    {"[::1]", 0, 0, 0, NULL},
    {"fe80::1%eth0", 0, 0, 0, NULL},
    {"example.com", 0, 0, 0, NULL},
    {"", 0, 0, 0, NULL},
    {"/8", 0, 0, 0, NULL},
    {"2001:db8:::1/64", 0, 0, 0, NULL},
    {"10.0.0.1 10.0.0.2", 0, 0, 0, NULL},
};

START_TEST(parse_table)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		struct cidr c;
		char text[INET6_ADDRSTRLEN];
		int rc = cidr_parse(parse_cases[i].in, &c);

		ck_assert_msg((rc == 0) == parse_cases[i].ok, "cidr_parse(\"%s\") = %d",
		              parse_cases[i].in, rc);
		if (!parse_cases[i].ok)
			continue;
		ck_assert_int_eq(c.family, parse_cases[i].family);
		ck_assert_int_eq(c.prefix, parse_cases[i].prefix);
		ck_assert_ptr_nonnull(inet_ntop(c.family, c.addr, text, sizeof(text)));
		ck_assert_msg(strcmp(text, parse_cases[i].net) == 0, "cidr_parse(\"%s\") net %s",
		              parse_cases[i].in, text);
	}
	ck_assert_int_eq(cidr_parse(NULL, NULL), -1);
}
END_TEST

/* ---------------------------------------------------------------- contains */

static const struct {
	const char *cidr;
	const char *addr;
	int in;
} contains_cases[] = {
    {"10.0.0.0/8", "10.255.1.2", 1},
    {"10.0.0.0/8", "11.0.0.1", 0},
    {"10.1.0.0/16", "10.1.2.3", 1},
    {"10.1.0.0/16", "10.2.2.3", 0},
    {"192.168.1.128/25", "192.168.1.200", 1},
    {"192.168.1.128/25", "192.168.1.127", 0},
    {"127.0.0.1/32", "127.0.0.1", 1},
    {"127.0.0.1/32", "127.0.0.2", 0},
    {"0.0.0.0/0", "203.0.113.9", 1},
    {"0.0.0.0/0", "::1", 0}, /* an IPv6 address is not in an IPv4 range */
    {"::/0", "2001:db8::1", 1},
    {"::/0", "8.8.8.8", 1}, /* as ::ffff:8.8.8.8 */
    {"2001:db8::/32", "2001:db8:1::1", 1},
    {"2001:db8::/32", "2001:db9::1", 0},
    {"2001:db8:8000::/33", "2001:db8:ffff::1", 1},
    {"2001:db8:8000::/33", "2001:db8:7fff::1", 0},
    {"::1/128", "::1", 1},
    {"::1/128", "::2", 0},
    {"::1", "127.0.0.1", 0},
    /* IPv4-mapped IPv6 addresses match IPv4 ranges and the other way round. */
    {"1.2.3.0/24", "::ffff:1.2.3.4", 1},
    {"1.2.3.0/24", "::FFFF:1.2.3.4", 1},
    {"1.2.3.0/24", "::ffff:1.2.4.4", 0},
    {"1.2.3.0/24", "::1.2.3.4", 0}, /* IPv4-compatible form: not mapped */
    {"1.2.3.0/24", "64:ff9b::1.2.3.4", 0},
    {"::ffff:1.2.3.0/120", "1.2.3.99", 1},
    {"::ffff:1.2.3.0/120", "1.2.4.99", 0},
    /* Malformed addresses are never inside anything. */
    {"0.0.0.0/0", "garbage", 0},
    {"0.0.0.0/0", "", 0},
    {"0.0.0.0/0", "1.2.3.4:5", 0},
    {"::/0", "[::1]", 0},
};

START_TEST(contains_table)
{
	for (size_t i = 0; i < sizeof(contains_cases) / sizeof(contains_cases[0]); i++) {
		struct cidr c;

		ck_assert_int_eq(cidr_parse(contains_cases[i].cidr, &c), 0);
		ck_assert_msg(cidr_contains(&c, contains_cases[i].addr) == contains_cases[i].in,
		              "cidr_contains(%s, %s) != %d", contains_cases[i].cidr,
		              contains_cases[i].addr, contains_cases[i].in);
	}
}
END_TEST

START_TEST(lists)
{
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/8, 192.168.0.0/16", "192.168.3.4"), 1);
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/8,192.168.0.0/16", "172.16.0.1"), 0);
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/8,::1/128", "::1"), 1);
	ck_assert_int_eq(cidr_list_contains("127.0.0.1/32, ::1/128", "::ffff:127.0.0.1"), 1);
	ck_assert_int_eq(cidr_list_contains(" , 10.0.0.0/8 ,, ", "10.0.0.1"), 1);
	ck_assert_int_eq(cidr_list_contains("", "10.0.0.1"), 0);
	/* A bad item anywhere makes the list bad, even after a match. */
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/8,nonsense", "10.0.0.1"), -1);
	ck_assert_int_eq(cidr_list_contains("nonsense,10.0.0.0/8", "10.0.0.1"), -1);
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/40", "10.0.0.1"), -1);
	/* A malformed address is an error, not a "no". */
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/8", "10.0.0"), -1);
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/8", ""), -1);
	ck_assert_int_eq(cidr_list_contains(NULL, "10.0.0.1"), -1);
	ck_assert_int_eq(cidr_list_contains("10.0.0.0/8", NULL), -1);
}
END_TEST

/* ---------------------------------------------------------------- client address */

/* A request with REMOTE_ADDR ra, X-Forwarded-For xff (NULL: none) and trusted proxies. */
struct fake {
	struct req r;
	struct conf c;
	char ra[128];
	char xff[512];
	char *env[3];
};

static void fake_init(struct fake *f, const char *ra, const char *xff, const char *trusted)
{
	char err[256];
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	conf_defaults(&f->c);
	ck_assert_int_eq(conf_set(&f->c, "trusted_proxies", trusted, err, sizeof(err)), 0);
	if (ra) {
		snprintf(f->ra, sizeof(f->ra), "REMOTE_ADDR=%s", ra);
		f->env[n++] = f->ra;
	}
	if (xff) {
		snprintf(f->xff, sizeof(f->xff), "HTTP_X_FORWARDED_FOR=%s", xff);
		f->env[n++] = f->xff;
	}
	f->env[n] = NULL;
	f->r.env = f->env;
	f->r.remote_addr = ra;
	f->r.conf = &f->c;
}

static const struct {
	const char *ra, *xff, *trusted;
	const char *want; /* NULL: refused as malformed */
} client_cases[] = {
    /* No trusted proxies: X-Forwarded-For is ignored, whatever it says. */
    {"127.0.0.1", "10.1.2.3", "", "127.0.0.1"},
    {"127.0.0.1", "garbage", "", "127.0.0.1"},
    {"203.0.113.5", NULL, "", "203.0.113.5"},
    {"::1", NULL, "", "::1"},
    /* REMOTE_ADDR is not a trusted proxy: its X-Forwarded-For is not believed. */
    {"203.0.113.5", "10.1.2.3", "127.0.0.1/32", "203.0.113.5"},
    {"203.0.113.5", "garbage", "127.0.0.1/32", "203.0.113.5"},
    /* A trusted proxy: the rightmost untrusted hop is the client. */
    {"127.0.0.1", "10.1.2.3", "127.0.0.1/32, ::1/128", "10.1.2.3"},
    {"::1", "10.1.2.3", "127.0.0.1/32, ::1/128", "10.1.2.3"},
    {"::ffff:127.0.0.1", "10.1.2.3", "127.0.0.1/32", "10.1.2.3"},
    {"127.0.0.1", "  2001:db8::7 ", "127.0.0.1/32", "2001:db8::7"},
    {"127.0.0.1", "6.6.6.6, 10.1.2.3", "127.0.0.1/32", "10.1.2.3"},
    {"127.0.0.1", "6.6.6.6, 10.1.2.3, 172.16.0.9", "127.0.0.1/32,172.16.0.0/12", "10.1.2.3"},
    {"127.0.0.1", "6.6.6.6,10.1.2.3,172.16.0.9", "127.0.0.1/32,172.16.0.0/12,10.0.0.0/8",
     "6.6.6.6"},
    /* Every hop trusted: the leftmost one is the best known. */
    {"127.0.0.1", "172.16.0.1, 172.16.0.2", "127.0.0.1/32,172.16.0.0/12", "172.16.0.1"},
    /* A spoofed left part behind an untrusted hop is never reached. */
    {"127.0.0.1", "garbage, 10.1.2.3", "127.0.0.1/32", "10.1.2.3"},
    /* Malformed on the walked path: refused. */
    {"127.0.0.1", "garbage", "127.0.0.1/32", NULL},
    {"127.0.0.1", "10.1.2.3:4567", "127.0.0.1/32", NULL},
    {"127.0.0.1", "[2001:db8::1]", "127.0.0.1/32", NULL},
    {"127.0.0.1", "10.1.2.3,", "127.0.0.1/32", NULL},
    {"127.0.0.1", "10.1.2.3, , 172.16.0.1", "127.0.0.1/32,172.16.0.0/12", NULL},
    {"127.0.0.1", "10.1.2.3, garbage", "127.0.0.1/32", NULL},
    {"127.0.0.1", "unknown", "127.0.0.1/32", NULL},
    /* An empty header adds nothing: the proxy itself is the client. */
    {"127.0.0.1", "", "127.0.0.1/32", "127.0.0.1"},
    {"127.0.0.1", "  ", "127.0.0.1/32", "127.0.0.1"},
    /* REMOTE_ADDR missing or malformed. */
    {NULL, NULL, "", NULL},
    {"not-an-ip", NULL, "", NULL},
    {"fe80::1%eth0", NULL, "", NULL},
    /* A malformed trusted_proxies never lets a forged header through. */
    {"127.0.0.1", "10.1.2.3", "127.0.0.1/32,bogus", NULL},
};

START_TEST(client_addr_table)
{
	for (size_t i = 0; i < sizeof(client_cases) / sizeof(client_cases[0]); i++) {
		struct fake f;
		char out[INET6_ADDRSTRLEN];
		int rc;

		fake_init(&f, client_cases[i].ra, client_cases[i].xff, client_cases[i].trusted);
		rc = authorize_client_addr(&f.r, out, sizeof(out));
		if (client_cases[i].want == NULL) {
			ck_assert_msg(rc == -1, "case %zu (%s | %s): want refusal, got %s", i,
			              client_cases[i].ra ? client_cases[i].ra : "-",
			              client_cases[i].xff ? client_cases[i].xff : "-", out);
			continue;
		}
		ck_assert_msg(rc == 0, "case %zu (%s | %s): refused", i, client_cases[i].ra,
		              client_cases[i].xff ? client_cases[i].xff : "-");
		ck_assert_msg(strcmp(out, client_cases[i].want) == 0,
		              "case %zu (%s | %s): got %s, want %s", i, client_cases[i].ra,
		              client_cases[i].xff ? client_cases[i].xff : "-", out,
		              client_cases[i].want);
	}
}
END_TEST

START_TEST(client_addr_small_buffer)
{
	struct fake f;
	char out[8];

	fake_init(&f, "127.0.0.1", NULL, "");
	ck_assert_int_eq(authorize_client_addr(&f.r, out, sizeof(out)), -1);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

static int sink_write(void *io, const void *p, size_t n)
{
	return buf_append(io, p, n);
}

static int sink_flush(void *io)
{
	(void)io;
	return 0;
}

START_TEST(model_and_agent_lists)
{
	static struct limits lim; /* large: not on the test's stack */
	struct fake f;
	struct buf out = BUF_INIT;

	memset(&lim, 0, sizeof(lim));
	fake_init(&f, "127.0.0.1", NULL, "");
	f.r.write = sink_write;
	f.r.flush = sink_flush;
	f.r.io = &out;
	strcpy(f.r.request_id, "req_test");

	/* Empty lists allow everything and send nothing. */
	ck_assert_int_eq(authorize_model(&f.r, &lim, "mock-1"), 0);
	ck_assert_int_eq(authorize_agent(&f.r, &lim, "helper"), 0);
	ck_assert_uint_eq(out.len, 0);

	strcpy(lim.v[LIM_ALLOWED_MODELS].text, "gpt-4o-mini, mock-2");
	strcpy(lim.v[LIM_ALLOWED_AGENTS].text, "helper");
	ck_assert_int_eq(authorize_model(&f.r, &lim, "mock-2"), 0);
	ck_assert_int_eq(authorize_agent(&f.r, &lim, "helper"), 0);
	ck_assert_uint_eq(out.len, 0);

	ck_assert_int_eq(authorize_model(&f.r, &lim, "mock-1"), -1);
	ck_assert_int_eq(f.r.status, 403);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\"reason_code\":\"model_not_allowed\""));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "permission_error"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "mock-1"));

	buf_reset(&out);
	f.r.headers_sent = 0;
	ck_assert_int_eq(authorize_agent(&f.r, &lim, "helper2"), -1);
	ck_assert_int_eq(f.r.status, 403);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\"reason_code\":\"agent_not_allowed\""));
	buf_free(&out);
	buf_free(&f.r.headers);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("cidr");
	int rc;

	tcase_add_test(tc, parse_table);
	tcase_add_test(tc, contains_table);
	tcase_add_test(tc, lists);
	tcase_add_test(tc, client_addr_table);
	tcase_add_test(tc, client_addr_small_buffer);
	tcase_add_test(tc, model_and_agent_lists);
	suite_add_tcase(s, tc);
	rc = testdb_run(s);
	return rc;
}
