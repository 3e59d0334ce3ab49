/*
 * test_page: the dashboard's page builder (src/dashboard/render.c).
 *
 * DESIGN
 * Each test renders a real page through ClearSilver from templates written
 * into a temporary directory, into a struct req whose output is captured,
 * and checks the status line and the body: HTML escaping, rows and relative
 * names, and the sticky error (the first failure wins, later setters do
 * nothing, and the one mapping of store results gives the 404 / 503 pages).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/conf.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/store.h"

static char tdir[] = "/tmp/test_page.XXXXXX";
static struct conf conf;
static struct buf out;
static char *env[] = {"REQUEST_METHOD=GET", NULL};
static struct req req;

static int capture(void *io, const void *p, size_t n)
{
	return buf_append(io, p, n);
}

static void write_template(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	char err[256];

	ck_assert_ptr_nonnull(mkdtemp(tdir));
	write_template("header.cs", "");
	write_template("error.cs", "E<?cs var:Error.Status ?>:<?cs var:Error.Message ?>");
	write_template("t.cs",
	               "[<?cs var:Page.Title ?>|<?cs var:Name ?>|"
	               "<?cs each:r = Rows ?><?cs var:r.Id ?>=<?cs var:r.Label ?>;<?cs /each ?>|"
	               "<?cs each:p = Plans ?><?cs var:p ?>,<?cs /each ?>|"
	               "<?cs var:Node.X ?>|<?cs var:Money ?>|<?cs var:Count ?>]");
	conf_defaults(&conf);
	snprintf(conf.template_dir, sizeof(conf.template_dir), "%s", tdir);
	snprintf(conf.mount_prefix, sizeof(conf.mount_prefix), "%s", "");
	ck_assert_int_eq(dash_init(&conf, err, sizeof(err)), 0);
	buf_init(&out);
	memset(&req, 0, sizeof(req));
	req.env = env;
	req.method = "GET";
	req.query = "";
	req.conf = &conf;
	snprintf(req.request_id, sizeof(req.request_id), "%s", "req1");
	buf_init(&req.headers);
	req.write = capture;
	req.io = &out;
}

static void teardown(void)
{
	const char *names[] = {"header.cs", "error.cs", "t.cs"};
	char path[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tdir, names[i]);
		unlink(path);
	}
	rmdir(tdir);
	buf_free(&out);
	buf_free(&req.headers);
}

/* The body of the captured response (after the blank line). */
static const char *body(void)
{
	const char *s = strstr(buf_str(&out), "\r\n\r\n");

	ck_assert_ptr_nonnull(s);
	return s + 4;
}

static void assert_status(int status)
{
	char line[32];

	snprintf(line, sizeof(line), "Status: %d ", status);
	ck_assert_msg(strncmp(buf_str(&out), line, strlen(line)) == 0, "response: %s",
	              buf_str(&out));
}

START_TEST(renders_escaped_rows_and_lists)
{
	struct page *p = page_new(&req, "T<i>", NULL);

	page_set(p, "Name", "<script>alert(1)</script>&");
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(page_row(p, "Rows"), i);
		page_set_i64(p, ".Id", 10 + i);
		page_setf(p, ".Label", "row \"%d\"", i);
	}
	page_add(p, "Plans", "free");
	page_add(p, "Plans", "pro");
	page_at(p, "Node");
	page_set(p, ".X", "x");
	page_set_money(p, "Money", 123456789);
	page_set_count(p, "Count", 1234567);
	ck_assert_int_eq(page_failed(p), 0);
	page_finish(p, 200, "t.cs");
	assert_status(200);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "Content-Security-Policy: default-src 'none'"));
	ck_assert_str_eq(body(), "[T&lt;i&gt;|&lt;script&gt;alert(1)&lt;/script&gt;&amp;|"
	                         "10=row &quot;0&quot;;11=row &quot;1&quot;;|free,pro,|x|"
	                         "$123.46|1,234,567]");
}
END_TEST

START_TEST(store_error_is_sticky_and_gives_503)
{
	struct page *p = page_new(&req, "T", NULL);

	page_set(p, "Name", "before");
	ck_assert_int_eq(page_store(p, ST_ERR, "tenant"), 0);
	ck_assert_int_eq(page_failed(p), 1);
	page_set(p, "Name", "after");
	ck_assert_int_eq(page_row(p, "Rows"), -1);
	ck_assert_int_eq(page_store(p, ST_OK, NULL), 1);
	page_finish(p, 200, "t.cs");
	assert_status(503);
	ck_assert_str_eq(body(), "E503:The database is not available; try again shortly.");
}
END_TEST

START_TEST(first_error_wins)
{
	struct page *p = page_new(&req, "T", NULL);

	ck_assert_int_eq(page_store(p, ST_NOTFOUND, "tenant"), 0);
	page_unavailable(p);
	page_finish(p, 200, "t.cs");
	assert_status(404);
	ck_assert_str_eq(body(), "E404:No such tenant.");
}
END_TEST

START_TEST(config_names_and_stray_relative_names_fail)
{
	struct page *p = page_new(&req, "T", NULL);

	page_set(p, "Config.VarEscapeMode", "none"); /* the escaping is render.c's alone */
	page_finish(p, 200, "t.cs");
	assert_status(500);
	ck_assert_str_eq(body(), "E500:The page could not be built.");

	buf_reset(&out);
	req.headers_sent = 0;
	p = page_new(&req, "T", NULL);
	page_set(p, ".Name", "no row chosen");
	page_finish(p, 200, "t.cs");
	assert_status(500);
}
END_TEST

START_TEST(missing_template_is_500)
{
	page_finish(page_new(&req, "T", NULL), 200, "nope.cs");
	assert_status(500);
	ck_assert_str_eq(body(), "E500:The page could not be rendered.");
}
END_TEST

START_TEST(store_results_without_a_page)
{
	ck_assert_int_eq(dash_store_ok(&req, ST_OK, "key"), 1);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(dash_store_ok(&req, ST_NOTFOUND, "key"), 0);
	assert_status(404);
	ck_assert_str_eq(body(), "E404:No such key.");
	ck_assert_str_eq(req.reason_code, "dashboard_404");

	buf_reset(&out);
	req.headers_sent = 0;
	ck_assert_int_eq(dash_store_ok(&req, ST_CONFLICT, NULL), 0);
	assert_status(503);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("page");
	TCase *tc = tcase_create("page");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, renders_escaped_rows_and_lists);
	tcase_add_test(tc, store_error_is_sticky_and_gives_503);
	tcase_add_test(tc, first_error_wins);
	tcase_add_test(tc, config_names_and_stray_relative_names_fail);
	tcase_add_test(tc, missing_template_is_500);
	tcase_add_test(tc, store_results_without_a_page);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
