/*
 * log.c: one line per event on stderr.
 *
 * DESIGN
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from concurrent threads and processes never interleave (stderr
 * of a FastCGI app is usually a pipe or file opened O_APPEND). Control
 * characters are replaced so a value from a request cannot forge a line.
 *
 * Repeats: while the database is down every refused request would log the
 * same warning (tens of thousands of lines a minute). A warning or error
 * whose text (everything after the timestamp and pid) was already written
 * within the last log_repeat_s seconds is counted instead of written; the
 * count goes out as one line, "<text> [repeated N times in the last S s]",
 * when the window ends: at the next occurrence, or from log_flush_repeats
 * (the watcher calls it every 100 ms; shutdown with force). A small table of
 * LOG_REPEAT_SLOTS texts under one mutex: only warnings and errors take it,
 * never the request lines, so the hot path of a healthy host never does.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static enum log_level log_level_cur = LOG_INFO;

#define LOG_REPEAT_SLOTS 32
#define LOG_LINE_MAX 2048

/* One warning or error text seen within the window. */
struct log_repeat {
	uint64_t hash;           /* FNV-1a of the text; 0: free slot */
	int64_t first_us;        /* monotonic time it was written */
	unsigned long count;     /* identical lines suppressed since */
	enum log_level lv;       /* its level */
	char text[LOG_LINE_MAX]; /* the text after the level, for the summary line */
};

static pthread_mutex_t log_rep_mu = PTHREAD_MUTEX_INITIALIZER;
static struct log_repeat log_rep[LOG_REPEAT_SLOTS];
static int64_t log_repeat_us = 10 * 1000000LL;

static const char *const log_names[LOG__MAX] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level lv)
{
	log_level_cur = lv;
}

void log_set_repeat(int seconds)
{
	log_repeat_us = (int64_t)seconds * 1000000LL;
}

/* Monotonic microseconds (util.h is not a dependency of log.c). */
static int64_t log_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < LOG__MAX; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

/* Format the line header and text into line (LOG_LINE_MAX); its length, the text's offset in *text.
 */
static size_t log_format(char *line, enum log_level lv, size_t *text, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(line, LOG_LINE_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ agenthost[%d] %s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000000, (int)getpid(), log_names[lv]);
	if (k < 0)
		return 0;
	n = (size_t)k;
	*text = n;
	k = vsnprintf(line + n, LOG_LINE_MAX - n - 1, fmt, ap);
	if (k < 0)
		return 0;
	n += (size_t)k;
	if (n > LOG_LINE_MAX - 2)
		n = LOG_LINE_MAX - 2;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	line[n] = '\0';
	return n;
}

/* Write a formatted line of n bytes (room for the newline is kept by log_format). */
static void log_write(char *line, size_t n)
{
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

/* Printf into a line and write it (for summary lines). */
static void log_line(enum log_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(enum log_level lv, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n, text;
	va_list ap;

	va_start(ap, fmt);
	n = log_format(line, lv, &text, fmt, ap);
	va_end(ap);
	if (n)
		log_write(line, n);
}

/* Write slot's summary line when it suppressed any, and free it. Called with log_rep_mu held. */
static void log_repeat_close(struct log_repeat *rp, int64_t now)
{
	if (rp->count > 0)
		log_line(rp->lv, "%s [repeated %lu times in the last %lld s]", rp->text, rp->count,
		         (long long)((now - rp->first_us + 500000) / 1000000));
	rp->hash = 0;
	rp->count = 0;
}

/*
 * 1 when the text (n bytes) was written within the window: counted, not to
 * be written; 0 when it is to be written (and is remembered from now on).
 */
static int log_repeat_seen(enum log_level lv, const char *text, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	struct log_repeat *rp = NULL, *oldest = &log_rep[0];
	int64_t now = log_now_us();
	int seen = 0;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
	if (h == 0)
		h = 1;
	pthread_mutex_lock(&log_rep_mu);
	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
		struct log_repeat *s = &log_rep[i];

		if (s->hash == h && s->lv == lv && strcmp(s->text, text) == 0) {
			rp = s;
			break;
		}
		if (s->hash == 0 || (oldest->hash != 0 && s->first_us < oldest->first_us))
			oldest = s;
	}
	if (rp && now - rp->first_us < log_repeat_us) {
		rp->count++;
		seen = 1;
		goto out;
	}
	if (rp == NULL)
		rp = oldest;
	if (rp->hash != 0)
		log_repeat_close(rp, now);
	rp->hash = h;
	rp->lv = lv;
	rp->first_us = now;
	rp->count = 0;
	memcpy(rp->text, text, n);
	rp->text[n] = '\0';
out:
	pthread_mutex_unlock(&log_rep_mu);
	return seen;
}

void log_flush_repeats(int force)
{
	int64_t now = log_now_us();

	pthread_mutex_lock(&log_rep_mu);
	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
		struct log_repeat *rp = &log_rep[i];

		if (rp->hash != 0 && (force || now - rp->first_us >= log_repeat_us))
			log_repeat_close(rp, now);
	}
	pthread_mutex_unlock(&log_rep_mu);
}

void log_msg(enum log_level lv, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n, text = 0;
	va_list ap;

	if (lv > log_level_cur)
		return;
	va_start(ap, fmt);
	n = log_format(line, lv, &text, fmt, ap);
	va_end(ap);
	if (n == 0)
		return;
	if (lv <= LOG_WARN && log_repeat_us > 0 && log_repeat_seen(lv, line + text, n - text))
		return;
	log_write(line, n);
}
