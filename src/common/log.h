/*
 * log: one line per event on stderr (which the web server or spawn-fcgi
 * captures). Request lines are written by the host after each request.
 *
 * Never pass secrets to these functions: callers log ids and prefixes only.
 */
#ifndef AH_LOG_H
#define AH_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG__MAX };

void log_set_level(enum log_level lv);
/*
 * Warnings and errors whose text repeats within seconds are counted, not
 * written, and summarised in one line when the window ends; 0 writes every
 * line. Default 10.
 */
void log_set_repeat(int seconds);
/*
 * Write the summary lines of repeats whose window has ended (all of them
 * when force) and forget them. Called periodically by a background thread.
 */
void log_flush_repeats(int force);
/* Parse "error|warn|info|debug"; -1 when unknown. */
int log_level_parse(const char *s);
void log_msg(enum log_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
