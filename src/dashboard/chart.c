/*
 * chart.c: server-rendered SVG time-series charts (see chart.h).
 *
 * DESIGN
 * chart_layout is arithmetic only: a nice value axis, the dates worth
 * writing, the width of a bar. chart_emit turns the layout and the values
 * into page values (numbers and texts, each escaped by the page builder);
 * templates/chart.cs draws them. Coordinates are written with one decimal.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dashboard/chart.h"
#include "dashboard/render.h"

/* ------------------------------------------------------------ numbers and texts */

/* The smallest step of the value axis, per unit (a cent; one call; 100 ms). */
static const int64_t chart_min_step[CHART_UNIT__MAX] = {1, 10000, 100};

/* A step at least raw: 1, 2, 2.5 or 5 times a power of ten, whole units, >= min. */
static int64_t chart_nice_step(int64_t raw, int64_t min)
{
	int64_t p = 1;

	if (raw < min)
		raw = min;
	while (p <= INT64_MAX / 10 && p * 10 <= raw)
		p *= 10;
	if (p >= raw)
		return p;
	if (2 * p >= raw)
		return 2 * p;
	if (p >= 10 && 5 * p / 2 >= raw)
		return 5 * p / 2;
	if (5 * p >= raw)
		return 5 * p;
	return 10 * p;
}

/* "%.*f" of v with trailing zeros (and a bare point) removed. */
static void chart_trim(char *out, size_t cap, const char *pre, double v, int decimals,
                       const char *post)
{
	char num[48];
	size_t len;

	snprintf(num, sizeof(num), "%.*f", decimals, v);
	if (strchr(num, '.') != NULL) {
		len = strlen(num);
		while (len > 0 && num[len - 1] == '0')
			num[--len] = '\0';
		if (len > 0 && num[len - 1] == '.')
			num[--len] = '\0';
	}
	snprintf(out, cap, "%s%s%s", pre, num, post);
}

void chart_fmt_axis(char *out, size_t cap, enum chart_unit unit, int64_t v)
{
	double d;

	switch (unit) {
	case CHART_MONEY:
		d = (double)v / 1e6;
		if (d >= 1e6)
			chart_trim(out, cap, "$", d / 1e6, 2, "M");
		else if (d >= 1e3)
			chart_trim(out, cap, "$", d / 1e3, 2, "k");
		else
			chart_trim(out, cap, "$", d, 6, "");
		return;
	case CHART_MS:
		if (v >= 1000)
			chart_trim(out, cap, "", (double)v / 1000, 2, " s");
		else
			snprintf(out, cap, "%lld ms", (long long)v);
		return;
	default:
		if (v >= 1000000)
			chart_trim(out, cap, "", (double)v / 1e6, 2, "M");
		else if (v >= 1000)
			chart_trim(out, cap, "", (double)v / 1e3, 2, "k");
		else
			snprintf(out, cap, "%lld", (long long)v);
	}
}

void chart_fmt_value(char *out, size_t cap, enum chart_unit unit, int64_t v)
{
	char a[32];

	switch (unit) {
	case CHART_MONEY:
		dash_fmt_money(out, cap, v);
		return;
	case CHART_MS:
		if (v <= 0) {
			snprintf(out, cap, "–");
		} else if (v > 10000) {
			snprintf(out, cap, "> 10 s");
		} else {
			chart_fmt_axis(a, sizeof(a), CHART_MS, v);
			snprintf(out, cap, "≤ %s", a);
		}
		return;
	default:
		dash_fmt_count(out, cap, v);
	}
}

void chart_fmt_time(char *out, size_t cap, const struct chart *c, int i, int longform)
{
	static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(c->t0 + (int64_t)i * (c->step == CHART_DAY ? 86400 : 3600));
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, cap, "?");
		return;
	}
	if (c->step == CHART_DAY && longform)
		strftime(out, cap, "%Y-%m-%d", &tm);
	else if (c->step == CHART_DAY)
		snprintf(out, cap, "%s %d", mon[tm.tm_mon], tm.tm_mday);
	else if (longform)
		strftime(out, cap, "%Y-%m-%d %H:00 UTC", &tm);
	else
		strftime(out, cap, "%H:00", &tm);
}

int64_t chart_latency_ms(const int64_t lat[8], int pct)
{
	static const int64_t bound[8] = {100, 250, 500, 1000, 2500, 5000, 10000, 20000};
	int64_t total = 0, seen = 0;

	for (size_t i = 0; i < 8; i++)
		total += lat[i];
	if (total <= 0)
		return 0;
	for (size_t i = 0; i < 8; i++) {
		seen += lat[i];
		if (seen * 100 >= total * pct) /* the bucket of the ceil(pct% of total)-th call */
			return bound[i];
	}
	return bound[7];
}

/* ------------------------------------------------------------ layout */

double chart_y(const struct chart_layout *l, int64_t v)
{
	double h = CHART_Y1 - CHART_Y0;

	if (v <= 0 || l->top <= 0)
		return CHART_Y1;
	if (v >= l->top)
		return CHART_Y0;
	return CHART_Y1 - h * (double)v / (double)l->top;
}

int chart_layout(const struct chart *c, struct chart_layout *l)
{
	int64_t max = 0;
	int every, first;

	memset(l, 0, sizeof(*l));
	if (c->n < 1 || c->n > CHART_MAX_POINTS || c->nseries < 1 ||
	    c->nseries > CHART_MAX_SERIES || (unsigned)c->unit >= CHART_UNIT__MAX ||
	    (unsigned)c->step >= CHART_STEP__MAX)
		return -1;
	for (int s = 0; s < c->nseries; s++) {
		if (c->s[s].v == NULL)
			return -1;
		for (int i = 0; i < c->n; i++)
			if (c->s[s].v[i] > max)
				max = c->s[s].v[i];
	}
	l->step = chart_nice_step((max + CHART_YTICKS - 1) / CHART_YTICKS, chart_min_step[c->unit]);
	l->top = max > 0 ? (max + l->step - 1) / l->step * l->step : l->step * CHART_YTICKS;
	l->ny = (int)(l->top / l->step) + 1;
	for (int k = 0; k < l->ny; k++) {
		l->y[k].pos = chart_y(l, l->step * k);
		chart_fmt_axis(l->y[k].label, sizeof(l->y[k].label), c->unit, l->step * k);
	}
	l->slot = (double)(CHART_X1 - CHART_X0) / c->n;
	l->bar = l->slot > 2 ? l->slot * 0.75 : l->slot;
	/* the last point always, then every k-th back: at most CHART_XLABELS */
	every = (c->n + CHART_XLABELS - 1) / CHART_XLABELS;
	first = (c->n - 1) % every;
	for (int i = first; i < c->n && l->nx < CHART_XLABELS; i += every) {
		l->x[l->nx].pos = CHART_X0 + l->slot * i + l->slot / 2;
		chart_fmt_time(l->x[l->nx].label, sizeof(l->x[l->nx].label), c, i, 0);
		l->nx++;
	}
	return 0;
}

/* ------------------------------------------------------------ emit */

void chart_emit(struct page *p, const char *name, const struct chart *c)
{
	struct chart_layout l;
	char list[96], tip[512], v[48], when[40];
	size_t len;

	if (chart_layout(c, &l) < 0) {
		page_nomem(p); /* a caller's mistake: the page cannot be built */
		return;
	}
	page_at(p, name);
	page_set(p, ".Title", c->title);
	page_set_i64(p, ".W", CHART_W);
	page_set_i64(p, ".H", CHART_H);
	page_set_i64(p, ".X0", CHART_X0);
	page_set_i64(p, ".X1", CHART_X1);
	page_set_i64(p, ".YLabelX", CHART_X0 - 6);
	page_set_i64(p, ".Y0", CHART_Y0);
	page_set_i64(p, ".Y1", CHART_Y1);
	page_set_i64(p, ".PlotH", CHART_Y1 - CHART_Y0);
	page_set_i64(p, ".LabelY", CHART_Y1 + 20);
	snprintf(list, sizeof(list), "%s.Legend", name);
	for (int s = 0; s < c->nseries; s++) {
		page_row(p, list);
		page_set(p, ".Label", c->s[s].label);
		page_set(p, ".Cls", c->s[s].cls);
	}
	snprintf(list, sizeof(list), "%s.Y", name);
	for (int k = 0; k < l.ny; k++) {
		page_row(p, list);
		page_setf(p, ".Y", "%.1f", l.y[k].pos);
		page_setf(p, ".TextY", "%.1f", l.y[k].pos + 4);
		page_set(p, ".Label", l.y[k].label);
	}
	snprintf(list, sizeof(list), "%s.X", name);
	for (int k = 0; k < l.nx; k++) {
		page_row(p, list);
		page_setf(p, ".X", "%.1f", l.x[k].pos);
		page_set(p, ".Label", l.x[k].label);
	}
	snprintf(list, sizeof(list), "%s.Bars", name);
	for (int s = 0; s < c->nseries; s++)
		for (int i = 0; i < c->n; i++) {
			double y = chart_y(&l, c->s[s].v[i]);

			if (c->s[s].v[i] <= 0)
				continue;
			if (CHART_Y1 - y < 1)
				y = CHART_Y1 - 1; /* something, however small, shows */
			page_row(p, list);
			page_set(p, ".Cls", c->s[s].cls);
			page_setf(p, ".X", "%.1f", CHART_X0 + l.slot * i + (l.slot - l.bar) / 2);
			page_setf(p, ".Y", "%.1f", y);
			page_setf(p, ".W", "%.1f", l.bar);
			page_setf(p, ".H", "%.1f", CHART_Y1 - y);
		}
	snprintf(list, sizeof(list), "%s.Hits", name);
	for (int i = 0; i < c->n; i++) {
		chart_fmt_time(when, sizeof(when), c, i, 1);
		len = (size_t)snprintf(tip, sizeof(tip), "%s", when);
		for (int s = 0; s < c->nseries && len < sizeof(tip); s++) {
			chart_fmt_value(v, sizeof(v), c->unit, c->s[s].v[i]);
			len += (size_t)snprintf(tip + len, sizeof(tip) - len, "%s%s %s",
			                        s ? ", " : ": ", c->s[s].label, v);
		}
		page_row(p, list);
		page_setf(p, ".X", "%.1f", CHART_X0 + l.slot * i);
		page_setf(p, ".W", "%.1f", l.slot);
		page_set(p, ".Tip", tip);
	}
}
