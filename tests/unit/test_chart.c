/*
 * test_chart: the dashboard's SVG chart builder (src/dashboard/chart.c).
 *
 * DESIGN
 * The layout is checked as numbers (a nice value axis, which dates are
 * written, bar widths inside their slots) and the emitted chart is rendered
 * through the real templates/chart.cs by the page builder, as a page would:
 * every text escaped, one tooltip per point, a fixed viewBox that keeps its
 * aspect ratio (so text is never stretched), nothing outside the viewBox.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/conf.h"
#include "dashboard/chart.h"
#include "dashboard/render.h"
#include "host/http.h"

#define DAY0 1764547200 /* 2025-12-01 00:00 UTC */

static char tdir[] = "/tmp/test_chart.XXXXXX";
static struct conf conf;
static struct buf out;
static char *env[] = {"REQUEST_METHOD=GET", NULL};
static struct req req;

static const char *srcdir(void)
{
	const char *s = getenv("srcdir");

	return s != NULL && s[0] != '\0' ? s : ".";
}

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

/* Copy the real templates/chart.cs into the test's template directory. */
static void copy_chart_template(void)
{
	char path[512], text[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/templates/chart.cs", srcdir());
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	ck_assert_uint_lt(n, sizeof(text) - 1);
	text[n] = '\0';
	write_template("chart.cs", text);
}

static void setup(void)
{
	char err[256];

	ck_assert_ptr_nonnull(mkdtemp(tdir));
	write_template("header.cs", "");
	write_template("error.cs", "E<?cs var:Error.Status ?>:<?cs var:Error.Message ?>");
	write_template("t.cs", "<?cs include:\"chart.cs\" ?><?cs call:chart(Charts.A) ?>");
	copy_chart_template();
	conf_defaults(&conf);
	snprintf(conf.template_dir, sizeof(conf.template_dir), "%s", tdir);
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
	const char *names[] = {"header.cs", "error.cs", "t.cs", "chart.cs"};
	char path[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tdir, names[i]);
		unlink(path);
	}
	rmdir(tdir);
	buf_free(&out);
	buf_free(&req.headers);
}

/* How many times needle occurs in hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *s = hay; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

START_TEST(value_axis_is_nice)
{
	int64_t zero[3] = {0, 0, 0}, v[3] = {97, 3, 0}, money[2] = {3400000, 10},
	        big[2] = {12345, 1};
	struct chart c = {
	    .title = "t", .unit = CHART_COUNT, .step = CHART_DAY, .t0 = DAY0, .n = 3, .nseries = 1};
	struct chart_layout l;

	c.s[0] = (struct chart_series){"a", "s-req", zero};
	ck_assert_int_eq(chart_layout(&c, &l), 0);
	ck_assert_int_eq(l.top, 4); /* an empty chart still has an axis */
	ck_assert_int_eq(l.ny, 5);
	ck_assert_str_eq(l.y[4].label, "4");

	c.s[0].v = v;
	ck_assert_int_eq(chart_layout(&c, &l), 0);
	ck_assert_int_eq(l.step, 25);
	ck_assert_int_eq(l.top, 100);
	ck_assert_str_eq(l.y[0].label, "0");
	ck_assert_str_eq(l.y[3].label, "75");
	ck_assert(l.y[0].pos == CHART_Y1 && l.y[4].pos == CHART_Y0);

	c.s[0].v = big;
	c.n = 2;
	ck_assert_int_eq(chart_layout(&c, &l), 0);
	ck_assert_int_eq(l.step, 5000);
	ck_assert_int_eq(l.top, 15000);
	ck_assert_str_eq(l.y[1].label, "5k");
	ck_assert_str_eq(l.y[3].label, "15k");

	c.unit = CHART_MONEY;
	c.s[0].v = money;
	ck_assert_int_eq(chart_layout(&c, &l), 0);
	ck_assert_int_eq(l.step, 1000000); /* $1 */
	ck_assert_int_eq(l.top, 4000000);
	ck_assert_str_eq(l.y[1].label, "$1");
	ck_assert_str_eq(l.y[4].label, "$4");
}
END_TEST

START_TEST(axis_and_value_texts)
{
	char s[48];

	chart_fmt_axis(s, sizeof(s), CHART_MONEY, 2500000000LL);
	ck_assert_str_eq(s, "$2.5k");
	chart_fmt_axis(s, sizeof(s), CHART_MONEY, 250000);
	ck_assert_str_eq(s, "$0.25");
	chart_fmt_axis(s, sizeof(s), CHART_MONEY, 10000);
	ck_assert_str_eq(s, "$0.01");
	chart_fmt_axis(s, sizeof(s), CHART_MS, 2500);
	ck_assert_str_eq(s, "2.5 s");
	chart_fmt_axis(s, sizeof(s), CHART_MS, 250);
	ck_assert_str_eq(s, "250 ms");
	chart_fmt_axis(s, sizeof(s), CHART_COUNT, 1500000);
	ck_assert_str_eq(s, "1.5M");
	chart_fmt_value(s, sizeof(s), CHART_MS, 20000);
	ck_assert_str_eq(s, "> 10 s");
	chart_fmt_value(s, sizeof(s), CHART_MS, 250);
	ck_assert_str_eq(s, "≤ 250 ms");
	chart_fmt_value(s, sizeof(s), CHART_MONEY, 1234560000);
	ck_assert_str_eq(s, "$1,234.56");
	chart_fmt_value(s, sizeof(s), CHART_COUNT, 1234567);
	ck_assert_str_eq(s, "1,234,567");
}
END_TEST

START_TEST(dates_are_a_readable_subset_ending_today)
{
	int64_t v[CHART_MAX_POINTS] = {0};
	struct chart c = {.title = "t",
	                  .unit = CHART_COUNT,
	                  .step = CHART_DAY,
	                  .t0 = DAY0,
	                  .n = 30,
	                  .nseries = 1};
	struct chart_layout l;
	char s[40];

	c.s[0] = (struct chart_series){"a", "s-req", v};
	ck_assert_int_eq(chart_layout(&c, &l), 0);
	ck_assert_int_eq(l.nx, 6); /* every 5th day of 30, the last one included */
	ck_assert_str_eq(l.x[0].label, "Dec 5");
	ck_assert_str_eq(l.x[5].label, "Dec 30");
	for (int k = 1; k < l.nx; k++) /* far enough apart for "Dec 30" at 13 units a glyph */
		ck_assert(l.x[k].pos - l.x[k - 1].pos >= 60);
	ck_assert(l.bar < l.slot && l.bar > 0);
	chart_fmt_time(s, sizeof(s), &c, 29, 1);
	ck_assert_str_eq(s, "2025-12-30");

	c.n = CHART_MAX_POINTS;
	ck_assert_int_eq(chart_layout(&c, &l), 0);
	ck_assert_int_le(l.nx, CHART_XLABELS);
	ck_assert_int_ge(l.nx, 5);
	ck_assert(l.x[l.nx - 1].pos < CHART_X1 && l.x[0].pos > CHART_X0);

	c.step = CHART_HOUR;
	c.t0 = DAY0 + 3600;
	c.n = 24;
	ck_assert_int_eq(chart_layout(&c, &l), 0);
	ck_assert_int_eq(l.nx, 6);
	ck_assert_str_eq(l.x[l.nx - 1].label, "00:00"); /* 01:00 + 23 hours */
	ck_assert_str_eq(l.x[0].label, "04:00");
	chart_fmt_time(s, sizeof(s), &c, 0, 1);
	ck_assert_str_eq(s, "2025-12-01 01:00 UTC");
}
END_TEST

START_TEST(latency_series_from_histogram)
{
	int64_t empty[8] = {0}, lat[8] = {0, 10, 0, 0, 0, 0, 0, 1};

	ck_assert_int_eq(chart_latency_ms(empty, 99), 0);
	ck_assert_int_eq(chart_latency_ms(lat, 50), 250);
	ck_assert_int_eq(chart_latency_ms(lat, 99), 20000);
}
END_TEST

START_TEST(malformed_charts_are_refused)
{
	int64_t v[2] = {1, 2};
	struct chart c = {
	    .title = "t", .unit = CHART_COUNT, .step = CHART_DAY, .n = 0, .nseries = 1};
	struct chart_layout l;

	c.s[0] = (struct chart_series){"a", "s-req", v};
	ck_assert_int_eq(chart_layout(&c, &l), -1);
	c.n = CHART_MAX_POINTS + 1;
	ck_assert_int_eq(chart_layout(&c, &l), -1);
	c.n = 2;
	c.nseries = CHART_MAX_SERIES + 1;
	ck_assert_int_eq(chart_layout(&c, &l), -1);
	c.nseries = 2; /* the second series has no values */
	ck_assert_int_eq(chart_layout(&c, &l), -1);
}
END_TEST

START_TEST(renders_escaped_svg_with_a_tooltip_per_point)
{
	int64_t req_v[4] = {10, 0, 40, 7}, err_v[4] = {1, 0, 0, 7};
	struct chart c = {.title = "Calls <b>&",
	                  .unit = CHART_COUNT,
	                  .step = CHART_DAY,
	                  .t0 = DAY0,
	                  .n = 4,
	                  .nseries = 2};
	struct page *p = page_new(&req, "x", NULL);
	const char *b;

	c.s[0] = (struct chart_series){"Requests", "s-req", req_v};
	c.s[1] = (struct chart_series){"Errors <i>", "s-err", err_v};
	chart_emit(p, "Charts.A", &c);
	page_finish(p, 200, "t.cs");
	ck_assert_msg(strncmp(buf_str(&out), "Status: 200 ", 12) == 0, "%s", buf_str(&out));
	b = strstr(buf_str(&out), "\r\n\r\n");
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(strstr(b, "viewBox=\"0 0 480 200\""));
	ck_assert_ptr_nonnull(strstr(b, "preserveAspectRatio=\"xMidYMid meet\""));
	ck_assert_ptr_null(strstr(b, "preserveAspectRatio=\"none\""));
	ck_assert_ptr_nonnull(strstr(b, "Calls &lt;b&gt;&amp;"));
	ck_assert_ptr_null(strstr(b, "<b>"));
	ck_assert_ptr_null(strstr(b, "<i>"));
	ck_assert_int_eq(count(b, "<rect class=\"hit\""), 4);
	ck_assert_int_eq(count(b, "<rect class=\"s-req\""), 3); /* no bar for a zero */
	ck_assert_int_eq(count(b, "<rect class=\"s-err\""), 2);
	ck_assert_ptr_nonnull(
	    strstr(b, "<title>2025-12-03: Requests 40, Errors &lt;i&gt; 0</title>"));
	ck_assert_ptr_nonnull(strstr(b, ">Dec 4</text>"));
	ck_assert_ptr_null(strstr(b, "nan"));
	ck_assert_ptr_null(strstr(b, "=\"-")); /* nothing outside the viewBox */
}
END_TEST

START_TEST(a_malformed_chart_fails_the_page)
{
	struct chart c = {.title = "t", .n = 0, .nseries = 1};
	struct page *p = page_new(&req, "x", NULL);

	chart_emit(p, "Charts.A", &c);
	ck_assert_int_eq(page_failed(p), 1);
	page_finish(p, 200, "t.cs");
	ck_assert_msg(strncmp(buf_str(&out), "Status: 500 ", 12) == 0, "%s", buf_str(&out));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chart");
	TCase *tc = tcase_create("chart");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, value_axis_is_nice);
	tcase_add_test(tc, axis_and_value_texts);
	tcase_add_test(tc, dates_are_a_readable_subset_ending_today);
	tcase_add_test(tc, latency_series_from_histogram);
	tcase_add_test(tc, malformed_charts_are_refused);
	tcase_add_test(tc, renders_escaped_svg_with_a_tooltip_per_point);
	tcase_add_test(tc, a_malformed_chart_fails_the_page);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
