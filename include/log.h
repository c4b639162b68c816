/*
 * log.h — the daemon's operational log, on stderr.
 *
 * Log lines carry counts, ids, timings and error codes, never message text,
 * identifiers, tokens or keys (SPEC invariant 6). Callers must not pass
 * user-supplied strings to these functions except ids the daemon made.
 */
#ifndef REDACTD_LOG_H
#define REDACTD_LOG_H

#include "redactd.h"

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) RD_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
