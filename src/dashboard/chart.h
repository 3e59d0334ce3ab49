/*
 * chart: server-rendered SVG time-series charts for the dashboard pages.
 *
 * DESIGN
 * A page hands one or more numeric series over equal time steps (days or
 * hours) to chart_emit, which computes every coordinate and label in C and
 * writes them into the page under a name; templates/chart.cs draws them
 * with the macro chart(). So the SVG has no inline style or script (the CSP
 * allows none), every text (axis labels, tooltips, the title) goes through
 * the page builder and is HTML-escaped there, and no JavaScript is needed.
 * The drawing has a fixed viewBox (CHART_W x CHART_H) that the stylesheet
 * scales as a whole (width 100 %, height auto): text never stretches, and
 * at most CHART_XLABELS dates are written under the axis (always the last
 * point's, then every k-th back), so they stay readable at any width.
 * Series are drawn as bars over each other in order (the first should be
 * the largest: requests, then errors), each point has a full-height hit
 * area whose <title> gives every series' exact value. chart_layout is the
 * pure part (numbers in, geometry and labels out) that the unit test checks.
 */
#ifndef AH_DASHBOARD_CHART_H
#define AH_DASHBOARD_CHART_H

#include <stddef.h>
#include <stdint.h>

struct page;

#define CHART_W 480  /* viewBox width */
#define CHART_H 200  /* viewBox height */
#define CHART_X0 64  /* plot area: left edge (y labels to its left) */
#define CHART_X1 456 /* right edge (room for the last date's label) */
#define CHART_Y0 12  /* top */
#define CHART_Y1 172 /* bottom: the zero line; dates below it */
#define CHART_MAX_POINTS 366
#define CHART_MAX_SERIES 3
#define CHART_XLABELS 6 /* at most this many dates under the axis */
#define CHART_YTICKS 4  /* the value axis is cut in about this many steps */

/* What the values are: how axis labels and tooltips write them. */
enum chart_unit {
	CHART_COUNT, /* a count: "1,234" (axis "1.2k") */
	CHART_MONEY, /* micro-USD: "$12.34" (axis "$12") */
	CHART_MS,    /* milliseconds, a latency bucket bound: "≤ 250 ms" (axis "250 ms") */
	CHART_UNIT__MAX
};

/* The time between two points. */
enum chart_step {
	CHART_DAY,  /* labels "Nov 23", tooltips "2026-11-23" */
	CHART_HOUR, /* labels "14:00", tooltips "2026-11-23 14:00 UTC" */
	CHART_STEP__MAX
};

struct chart_series {
	const char *label; /* legend and tooltip name ("Requests") */
	const char *cls;   /* CSS class of its bars ("s-req", "s-err", ...) */
	const int64_t *v;  /* n values, >= 0 (negative ones are drawn as 0) */
};

struct chart {
	const char *title;    /* caption and aria-label */
	enum chart_unit unit; /* of every series */
	enum chart_step step; /* time between points */
	int64_t t0;           /* unix seconds of point 0 (start of its day or hour, UTC) */
	int n;                /* points, 1..CHART_MAX_POINTS */
	int nseries;          /* 1..CHART_MAX_SERIES */
	struct chart_series s[CHART_MAX_SERIES];
};

struct chart_tick {
	double pos;     /* y (value axis) or x (time axis) in viewBox units */
	char label[32]; /* what is written there */
};

/* The geometry of a chart: what chart_emit writes, computed without a page. */
struct chart_layout {
	int64_t top;  /* the value at the top of the plot */
	int64_t step; /* between two value gridlines */
	int ny;       /* value gridlines (0 included) */
	struct chart_tick y[CHART_YTICKS + 2];
	int nx; /* dates written under the axis */
	struct chart_tick x[CHART_XLABELS + 1];
	double slot; /* width of one point's column */
	double bar;  /* width of a bar in it */
};

/*
 * Compute c's layout into l: a "nice" top (1, 2, 2.5 or 5 times a power of
 * ten per step, whole units), the value gridlines, the time labels and the
 * bar widths. 0, or -1 when c is malformed (n or nseries out of range,
 * a series without values).
 */
int chart_layout(const struct chart *c, struct chart_layout *l);
/* The y coordinate of value v in layout l (clamped to the plot). */
double chart_y(const struct chart_layout *l, int64_t v);
/* v written for an axis, short ("$1.5k", "2.5k", "250 ms"). */
void chart_fmt_axis(char *out, size_t cap, enum chart_unit unit, int64_t v);
/* v written exactly for a tooltip ("$1,234.56", "1,234", "≤ 250 ms"). */
void chart_fmt_value(char *out, size_t cap, enum chart_unit unit, int64_t v);
/* Point i's time: short (axis) or long (tooltip). */
void chart_fmt_time(char *out, size_t cap, const struct chart *c, int i, int longform);
/*
 * The pct-th percentile of a usage_5min latency histogram as the bound of
 * its bucket in ms (100 ... 10000; 20000 for "over 10 s"), 0 when empty:
 * the latency series of a chart (CHART_MS).
 */
int64_t chart_latency_ms(const int64_t lat[8], int pct);

/*
 * Write chart c into p under name (name.Title, .W, .H, .Legend.N, .Y.N,
 * .X.N, .Bars.N, .Hits.N) for templates/chart.cs. A malformed chart is a
 * sticky 500 of p (a programming error, never user input).
 */
void chart_emit(struct page *p, const char *name, const struct chart *c);

#endif
