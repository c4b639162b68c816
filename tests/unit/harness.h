/*
 * harness.h — a tiny unit-test harness.
 *
 * Each test binary prints "ok - NAME" or "not ok - NAME (file:line: expr)"
 * per check and ends with "# passed=P failed=F"; tests/run.sh adds those up.
 * TEST_TMPDIR() gives a fresh temporary directory per binary, removed at exit
 * unless the run failed.
 */
#ifndef REDACTD_HARNESS_H
#define REDACTD_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int harness_passed, harness_failed;
static char harness_tmp[256];

#define CHECK(expr, name) do { \
	if (expr) { harness_passed++; printf("ok - %s\n", (name)); } \
	else { harness_failed++; printf("not ok - %s (%s:%d: %s)\n", (name), __FILE__, __LINE__, #expr); } \
} while (0)

#define CHECK_STR(got, want, name) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ && w_ && strcmp(g_, w_) == 0) { harness_passed++; printf("ok - %s\n", (name)); } \
	else { harness_failed++; printf("not ok - %s (%s:%d: got \"%s\", want \"%s\")\n", (name), \
	       __FILE__, __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

static inline const char *TEST_TMPDIR(void)
{
	if (!harness_tmp[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(harness_tmp, sizeof harness_tmp, "%s/redactd-unit-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(harness_tmp)) { perror("mkdtemp"); exit(2); }
	}
	return harness_tmp;
}

static inline int TEST_DONE(void)
{
	if (harness_tmp[0] && harness_failed == 0) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", harness_tmp);
		if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", harness_tmp);
	}
	printf("# passed=%d failed=%d\n", harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}

#endif
