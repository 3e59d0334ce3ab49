/*
 * page_usage.c: usage analytics (GET /admin/usage) and its CSV
 * (GET /admin/usage.csv), plus the helpers of analytics.h.
 *
 * DESIGN
 * Everything comes from usage_daily (store_dasha_usage): one grouped query
 * per view (by day, model, agent, key), each bounded by LIMIT, so the cost
 * does not depend on the number of executions. Days without usage are
 * filled in here so the charts have one bar per day; the charts are drawn
 * by chart.c (inline SVG, geometry computed in C, a <title> per day as its
 * tooltip). The 24-hour and 30-day charts of the overview, tenant and health
 * pages are built here too (dasha_charts_hours, dasha_charts_spend).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "dashboard/allcache.h"
#include "dashboard/analytics.h"
#include "dashboard/chart.h"
#include "dashboard/pages.h"
#include "dashboard/render.h"
#include "host/http.h"
#include "store/admin.h"
#include "store/dash_analytics.h"
#include "store/store.h"

#define USAGE_MAX_DAYS 366 /* longest period a page or CSV covers */
#define USAGE_TOP 50       /* rows per breakdown table */
#define USAGE_CSV_ROWS 200000

/* ------------------------------------------------------------ helpers */

int64_t dasha_scope(struct req *r)
{
	const struct admin_session *s = dash_session();
	int64_t want = dash_query_id(r, "tenant_id");

	if (dash_is_staff())
		return want;
	if (want != 0 && !dash_tenant_allowed(r, want))
		return -1;
	return s->user.tenant_id;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, by arithmetic (no time zone involved). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int dasha_parse_day(const char *s, int64_t *days)
{
	char back[16];
	int y, mo, d;
	int64_t n;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	mo = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || y > 2999 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return 0;
	n = days_from_civil(y, mo, d);
	dasha_fmt_day(n, back, sizeof(back));
	if (strcmp(back, s) != 0) /* 2026-02-30 is March 2nd: refuse it */
		return 0;
	*days = n;
	return 1;
}

void dasha_fmt_day(int64_t days, char *out, size_t cap)
{
	time_t t = (time_t)(days * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d", &tm);
}

int64_t dasha_today(void)
{
	return (int64_t)time(NULL) / 86400;
}

int dasha_parse_month(const char *s, char *from, char *to)
{
	char d[16];
	int64_t first, next;
	int y, mo;

	if (strlen(s) != 7 || s[4] != '-')
		return 0;
	snprintf(d, sizeof(d), "%s-01", s);
	if (!dasha_parse_day(d, &first))
		return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	mo = (s[5] - '0') * 10 + (s[6] - '0');
	snprintf(d, sizeof(d), "%04d-%02d-01", (mo == 12 ? y + 1 : y) % 10000,
	         mo == 12 ? 1 : mo + 1);
	if (!dasha_parse_day(d, &next))
		return 0;
	dasha_fmt_day(first, from, 11);
	dasha_fmt_day(next - 1, to, 11);
	return 1;
}

int dasha_csv_field(struct buf *b, const char *s)
{
	int rc = 0;

	if (strpbrk(s, "\",\r\n") == NULL && strchr("=+-@", s[0]) == NULL)
		return buf_puts(b, s);
	rc |= buf_putc(b, '"');
	if (s[0] != '\0' && strchr("=+-@", s[0]) != NULL)
		rc |= buf_putc(b, '\''); /* a spreadsheet must not run it as a formula */
	for (; *s; s++) {
		if (*s == '"')
			rc |= buf_putc(b, '"');
		rc |= buf_putc(b, *s);
	}
	rc |= buf_putc(b, '"');
	return rc;
}

void dasha_fmt_usd(char *out, size_t cap, int64_t micros)
{
	const char *sign = micros < 0 ? "-" : "";
	uint64_t m = micros < 0 ? (uint64_t)(-micros) : (uint64_t)micros;

	snprintf(out, cap, "%s%llu.%06llu", sign, (unsigned long long)(m / 1000000),
	         (unsigned long long)(m % 1000000));
}

/* ------------------------------------------------------------ period */

struct period {
	char from[11], to[11];
	int64_t d0, d1;
	int days; /* preset, 0 when custom */
};

/* Read from/to/days; 0, or -1 with a readable message in err. */
static int usage_period(struct req *r, struct period *p, char *err, size_t cap)
{
	char days[8] = "";
	int fr, tr;

	memset(p, 0, sizeof(*p));
	fr = dash_query(r, "from", p->from, sizeof(p->from));
	tr = dash_query(r, "to", p->to, sizeof(p->to));
	dash_query(r, "days", days, sizeof(days));
	if (fr <= 0 || tr <= 0 || (p->from[0] == '\0' && p->to[0] == '\0')) {
		p->days = strcmp(days, "7") == 0 ? 7 : strcmp(days, "90") == 0 ? 90 : 30;
		p->d1 = dasha_today();
		p->d0 = p->d1 - p->days + 1;
		dasha_fmt_day(p->d0, p->from, sizeof(p->from));
		dasha_fmt_day(p->d1, p->to, sizeof(p->to));
		if (fr < 0 || tr < 0) {
			snprintf(err, cap, "Dates must be written YYYY-MM-DD.");
			return -1;
		}
		return 0;
	}
	if (!dasha_parse_day(p->from, &p->d0) || !dasha_parse_day(p->to, &p->d1)) {
		snprintf(err, cap, "Dates must be real days written YYYY-MM-DD, e.g. 2026-11-01.");
		return -1;
	}
	if (p->d0 > p->d1) {
		snprintf(err, cap, "The start date must not be after the end date.");
		return -1;
	}
	if (p->d1 - p->d0 + 1 > USAGE_MAX_DAYS) {
		snprintf(err, cap, "Choose a period of at most %d days.", USAGE_MAX_DAYS);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ page */

struct usage_page {
	struct page *p;
	const char *prefix; /* the list usage_row_cb fills */
	int64_t requests, errors, prompt, completion, cost;
	/* per-day series (index = day - d0) */
	int64_t d0;
	int64_t day_cost[USAGE_MAX_DAYS], day_tokens[USAGE_MAX_DAYS];
	int64_t day_requests[USAGE_MAX_DAYS], day_errors[USAGE_MAX_DAYS];
};

static int usage_day_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct usage_page *up = ctx;
	int64_t d;

	if (!dasha_parse_day(u->label, &d) || d < up->d0 || d - up->d0 >= USAGE_MAX_DAYS)
		return 0;
	up->day_cost[d - up->d0] += u->cost_micros;
	up->day_tokens[d - up->d0] += u->prompt_tokens + u->completion_tokens;
	up->day_requests[d - up->d0] += u->requests;
	up->day_errors[d - up->d0] += u->errors;
	up->requests += u->requests;
	up->errors += u->errors;
	up->prompt += u->prompt_tokens;
	up->completion += u->completion_tokens;
	up->cost += u->cost_micros;
	return 0;
}

/* One breakdown row under p->prefix.N. */
static int usage_row_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct usage_page *up = ctx;
	struct page *p = up->p;

	page_row(p, up->prefix);
	page_set(p, ".Label", u->label[0] ? u->label : "(none)");
	page_set_i64(p, ".Id", u->id);
	page_set_i64(p, ".TenantId", u->tenant_id);
	page_set_count(p, ".Requests", u->requests);
	page_set_count(p, ".Errors", u->errors);
	page_set_count(p, ".Prompt", u->prompt_tokens);
	page_set_count(p, ".Completion", u->completion_tokens);
	page_set_count(p, ".Tokens", u->prompt_tokens + u->completion_tokens);
	page_set_money(p, ".Cost", u->cost_micros);
	return 0;
}

/* The usage page's charts of the period: spend, requests and errors, tokens per day. */
static void usage_charts(struct page *p, const struct usage_page *up, int n)
{
	struct chart c = {.step = CHART_DAY, .t0 = up->d0 * 86400, .n = n, .nseries = 1};

	c.title = "Spend per day";
	c.unit = CHART_MONEY;
	c.s[0] = (struct chart_series){"Spend", "s-spend", up->day_cost};
	chart_emit(p, "Charts.Spend", &c);
	c.title = "Requests and errors per day";
	c.unit = CHART_COUNT;
	c.nseries = 2;
	c.s[0] = (struct chart_series){"Requests", "s-req", up->day_requests};
	c.s[1] = (struct chart_series){"Errors", "s-err", up->day_errors};
	chart_emit(p, "Charts.Calls", &c);
	c.title = "Tokens per day";
	c.nseries = 1;
	c.s[0] = (struct chart_series){"Tokens", "s-tok", up->day_tokens};
	chart_emit(p, "Charts.Tokens", &c);
}

/* ------------------------------------------------------------ charts of other pages */

#define HOURS 24

struct hours_ctx {
	int64_t h0; /* first hour (unix seconds DIV 3600) */
	int64_t req[HOURS], err[HOURS], p50[HOURS], p99[HOURS];
};

static void hours_add(struct hours_ctx *c, const struct admin_hour *h)
{
	int64_t i = h->hour - c->h0;

	if (i < 0 || i >= HOURS) /* the database's clock and ours a bucket apart */
		return;
	c->req[i] += h->w.requests;
	c->err[i] += h->w.failed + h->w.refused;
	c->p50[i] = chart_latency_ms(h->w.lat, 50);
	c->p99[i] = chart_latency_ms(h->w.lat, 99);
}

struct hours_collect {
	struct admin_hour rows[HOURS + 1];
	size_t n;
};

static int hours_collect_cb(void *ctx, const struct admin_hour *h)
{
	struct hours_collect *c = ctx;

	if (c->n < sizeof(c->rows) / sizeof(c->rows[0]))
		c->rows[c->n++] = *h;
	return 0;
}

void dasha_charts_hours(struct req *r, struct page *p, int64_t tenant)
{
	struct hours_collect rows;
	struct hours_ctx c;
	struct admin_hour *cached = NULL;
	struct chart ch = {.step = CHART_HOUR, .n = HOURS};
	size_t n = 0;

	memset(&c, 0, sizeof(c));
	rows.n = 0;
	c.h0 = (int64_t)time(NULL) / 3600 - (HOURS - 1);
	if (tenant == 0 && (cached = allcache_get("hours24", sizeof(*cached), &n)) != NULL &&
	    n <= HOURS + 1) {
		memcpy(rows.rows, cached, n * sizeof(*cached));
		rows.n = n;
	} else if (!page_store(p,
	                       store_admin_hours(r->store, tenant, HOURS, hours_collect_cb, &rows),
	                       NULL)) {
		free(cached);
		return;
	} else if (tenant == 0) {
		allcache_put("hours24", rows.rows, rows.n, sizeof(rows.rows[0]));
	}
	free(cached);
	for (size_t i = 0; i < rows.n; i++)
		hours_add(&c, &rows.rows[i]);
	ch.t0 = c.h0 * 3600;
	ch.title = "Requests and errors per hour, last 24 hours";
	ch.unit = CHART_COUNT;
	ch.nseries = 2;
	ch.s[0] = (struct chart_series){"Requests", "s-req", c.req};
	ch.s[1] = (struct chart_series){"Errors", "s-err", c.err};
	chart_emit(p, "Charts.Calls", &ch);
	ch.title = "Latency per hour (bucket of the 99th and 50th percentile)";
	ch.unit = CHART_MS;
	ch.s[0] = (struct chart_series){"p99", "s-p99", c.p99};
	ch.s[1] = (struct chart_series){"p50", "s-p50", c.p50};
	chart_emit(p, "Charts.Latency", &ch);
}

#define SPEND_MAX_DAYS 92

struct spend_ctx {
	int64_t d0;
	int n;
	int64_t cost[SPEND_MAX_DAYS];
};

static int spend_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct spend_ctx *c = ctx;
	int64_t d;

	if (dasha_parse_day(u->label, &d) && d >= c->d0 && d - c->d0 < c->n)
		c->cost[d - c->d0] += u->cost_micros;
	return 0;
}

void dasha_charts_spend(struct req *r, struct page *p, int64_t tenant, int days)
{
	struct spend_ctx c;
	struct chart ch = {.step = CHART_DAY, .unit = CHART_MONEY, .nseries = 1};
	char from[11], to[11], title[64];

	memset(&c, 0, sizeof(c));
	c.n = days < 1 ? 1 : days > SPEND_MAX_DAYS ? SPEND_MAX_DAYS : days;
	c.d0 = dasha_today() - c.n + 1;
	dasha_fmt_day(c.d0, from, sizeof(from));
	dasha_fmt_day(c.d0 + c.n - 1, to, sizeof(to));
	if (!page_store(
	        p,
	        allcache_usage(r->store, tenant, from, to, DASHA_DAY, SPEND_MAX_DAYS, spend_cb, &c),
	        NULL))
		return;
	snprintf(title, sizeof(title), "Spend per day, last %d days", c.n);
	ch.title = title;
	ch.t0 = c.d0 * 86400;
	ch.n = c.n;
	ch.s[0] = (struct chart_series){"Spend", "s-spend", c.cost};
	chart_emit(p, "Charts.Spend", &ch);
}

PAGE_FN(page_usage)
{
	struct usage_page up;
	struct period per;
	char err[160] = "";
	int64_t tenant;
	int status = 200;
	static const struct {
		enum dasha_dim dim;
		const char *prefix;
	} tables[] = {{DASHA_MODEL, "ByModel"}, {DASHA_AGENT, "ByAgent"}, {DASHA_KEY, "ByKey"}};
	struct page *p;

	(void)id;
	(void)m;
	if ((tenant = dasha_scope(r)) < 0)
		return;
	p = page_new(r, "Usage", "usage");
	page_tenant_choices(r, p, tenant);
	memset(&up, 0, sizeof(up));
	up.p = p;
	if (usage_period(r, &per, err, sizeof(err)) < 0) {
		char v[16];

		status = 400;
		page_set(p, "FormError", err);
		/* the values the user typed, shown back in the form */
		if (dash_query(r, "from", v, sizeof(v)) == 1)
			page_set(p, "Form.From", v);
		if (dash_query(r, "to", v, sizeof(v)) == 1)
			page_set(p, "Form.To", v);
	} else {
		int n = (int)(per.d1 - per.d0 + 1);

		page_set(p, "Form.From", per.from);
		page_set(p, "Form.To", per.to);
		up.d0 = per.d0;
		page_store(p,
		           allcache_usage(r->store, tenant, per.from, per.to, DASHA_DAY,
		                          USAGE_MAX_DAYS, usage_day_cb, &up),
		           NULL);
		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && !page_failed(p); i++) {
			up.prefix = tables[i].prefix;
			page_store(p,
			           allcache_usage(r->store, tenant, per.from, per.to, tables[i].dim,
			                          USAGE_TOP, usage_row_cb, &up),
			           NULL);
		}
		usage_charts(p, &up, n);
		page_set_money(p, "Totals.Cost", up.cost);
		page_set_count(p, "Totals.Requests", up.requests);
		page_set_count(p, "Totals.Errors", up.errors);
		page_set_count(p, "Totals.Prompt", up.prompt);
		page_set_count(p, "Totals.Completion", up.completion);
		page_set_count(p, "Totals.Tokens", up.prompt + up.completion);
		page_set_i64(p, "Totals.Any", up.requests > 0);
	}
	page_set_i64(p, "Form.Days", per.days);
	if (tenant > 0)
		page_set_i64(p, "Form.TenantId", tenant);
	page_finish(p, status, "usage.cs");
}

/* ------------------------------------------------------------ CSV */

struct usage_csv {
	struct buf b;
	int rows;
};

static int usage_csv_cb(void *ctx, const struct dasha_usage_row *u)
{
	struct usage_csv *c = ctx;
	char usd[40];
	int rc = 0;

	dasha_fmt_usd(usd, sizeof(usd), u->cost_micros);
	rc |= buf_printf(&c->b, "%lld,%s,", (long long)u->tenant_id, u->label);
	rc |= dasha_csv_field(&c->b, u->label2);
	rc |= buf_putc(&c->b, ',');
	rc |= dasha_csv_field(&c->b, u->label3);
	rc |= buf_printf(&c->b, ",%lld,", (long long)u->id);
	rc |= dasha_csv_field(&c->b, u->label4);
	rc |= buf_printf(&c->b, ",%lld,%lld,%lld,%lld,%s\r\n", (long long)u->requests,
	                 (long long)u->errors, (long long)u->prompt_tokens,
	                 (long long)u->completion_tokens, usd);
	c->rows++;
	return rc ? -1 : 0;
}

PAGE_FN(page_usage_csv)
{
	struct usage_csv c;
	struct period per;
	char err[160], disp[128];
	int64_t tenant;

	(void)id;
	(void)m;
	if ((tenant = dasha_scope(r)) < 0)
		return;
	if (usage_period(r, &per, err, sizeof(err)) < 0) {
		dash_error(r, 400, err);
		return;
	}
	buf_init(&c.b);
	c.rows = 0;
	buf_puts(&c.b, "tenant_id,day,model,agent,key_id,key,requests,errors,prompt_tokens,"
	               "completion_tokens,cost_usd\r\n");
	if (!dash_store_ok(r,
	                   store_dasha_usage(r->store, tenant, per.from, per.to, DASHA_DETAIL,
	                                     USAGE_CSV_ROWS + 1, usage_csv_cb, &c),
	                   NULL)) {
		buf_free(&c.b);
		return;
	}
	if (c.rows > USAGE_CSV_ROWS) { /* a cut file would show false totals */
		buf_free(&c.b);
		dash_error(r, 400,
		           "Too many rows for one file: choose one tenant or a shorter period.");
		return;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"usage-%s-%s.csv\"", per.from, per.to);
	resp_header(r, "Content-Disposition", disp);
	dash_send(r, 200, "text/csv; charset=utf-8", "no-store", buf_str(&c.b), c.b.len);
	buf_free(&c.b);
}
