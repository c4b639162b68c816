/*
 * log.c — operational log lines on stderr: "TS LEVEL message".
 *
 * One fprintf per line under the stdio lock, so lines from worker threads
 * never interleave. What goes in a line is the caller's contract (log.h):
 * never message text, identifiers, tokens or keys.
 */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

static volatile enum log_level current_level = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level lvl) { current_level = lvl; }
enum log_level log_get_level(void) { return current_level; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl > current_level)
		return;
	char ts[32], line[1024];
	util_format_ts(util_now_ms(), ts);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	fprintf(stderr, "%s %s %s\n", ts, level_names[lvl], line);
}
