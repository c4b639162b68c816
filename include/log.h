/*
 * log.h — the daemon's operational log, on stderr.
 *
 * Log lines carry counts, ids, timings and error codes, never message text,
 * identifiers, tokens or keys (SPEC invariant 6). Callers must not pass
 * user-supplied strings to these functions except ids the daemon made.
 *
 * When stderr is the journal (systemd sets $JOURNAL_STREAM to its
 * device:inode), each line starts with its sd-daemon priority, "<3>" for
 * error to "<7>" for debug, and no timestamp (journald keeps its own), so
 * `journalctl -p warning` finds the warnings. Otherwise lines are
 * "TS LEVEL message".
 */
#ifndef REDACTD_LOG_H
#define REDACTD_LOG_H

#include "redactd.h"

#include <stdarg.h>

/* Severity, most severe first. NOTICE: normal but worth seeing, such as a
 * refused request (4xx) or a bad webhook signature. */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) RD_PRINTF(2, 3);
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap) RD_PRINTF(2, 0);


#define log_error(...)  log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
