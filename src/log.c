/*
 * log.c — operational log lines on stderr: "TS LEVEL message", or
 * "<PRIORITY>LEVEL message" when stderr is the journal (log.h).
 *
 * One fprintf per line under the stdio lock, so lines from worker threads
 * never interleave. What goes in a line is the caller's contract (log.h):
 * never message text, identifiers, tokens or keys.
 */
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile enum log_level current_level = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "notice", "info", "debug" };
/* sd-daemon(3) priorities, as syslog's LOG_ERR .. LOG_DEBUG. */
static const int priorities[] = { 3, 4, 5, 6, 7 };

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool to_journal;

/* systemd sets JOURNAL_STREAM=DEV:INO for a stderr connected to the
 * journal. Compare it with stderr itself: the variable is inherited by
 * children whose stderr went elsewhere (a pipe, a file). */
static void detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &sb) != 0)
		return;
	to_journal = (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void log_set_level(enum log_level lvl) { current_level = lvl; }
enum log_level log_get_level(void) { return current_level; }

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	if (lvl > current_level)
		return;
	pthread_once(&journal_once, detect_journal);
	char line[1024];
	int n = vsnprintf(line, sizeof line, fmt, ap);
	if (n < 0)
		return;
	if (to_journal) {
		fprintf(stderr, "<%d>%s %s\n", priorities[lvl], level_names[lvl], line);
		return;
	}
	char ts[32];
	util_format_ts(util_now_ms(), ts);
	fprintf(stderr, "%s %s %s\n", ts, level_names[lvl], line);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

