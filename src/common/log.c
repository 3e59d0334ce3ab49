/*
 * log.c: one line per event on stderr.
 *
 * DESIGN
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from concurrent threads and processes never interleave (stderr
 * of a FastCGI app is usually a pipe or file opened O_APPEND). Control
 * characters are replaced so a value from a request cannot forge a line.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static enum log_level log_level_cur = LOG_INFO;

static const char *const log_names[LOG__MAX] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level lv)
{
	log_level_cur = lv;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < LOG__MAX; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level lv, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int k;

	if (lv > log_level_cur)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ agenthost[%d] %s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000000, (int)getpid(), log_names[lv]);
	if (k < 0)
		return;
	n = (size_t)k;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	n += (size_t)k;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
