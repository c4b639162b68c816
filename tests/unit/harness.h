/*
 * harness.h — a tiny unit-test harness.
 *
 * Each test binary prints "ok - NAME" or "not ok - NAME (file:line: expr)"
 * per check and ends with "# passed=P failed=F"; tests/run.sh adds those up.
 * TEST_TMPDIR() gives a fresh temporary directory per binary, removed at exit
 * unless the run failed.
 *
 * Allocation failures. The unit binaries are linked with -Wl,--wrap= for
 * malloc, calloc, realloc, strdup, strndup and free (Makefile), so every
 * allocation made by redactd's code (jansson's too, through json_mem.c)
 * passes through the wrappers below; libc's own and the shared libraries'
 * (inih, SQLite, PCRE2, libsodium) do not. The daemon is not linked so.
 *  - RD_ALLOC_FAIL=N in the environment fails the N-th allocation of the
 *    process: a whole binary run for N = 1, 2, ... must never crash.
 *  - alloc_fail_at(n) fails the n-th allocation from now (0: none), and
 *    alloc_failed() says whether it happened: a test loops n = 1, 2, ...
 *    over one call until a run sees no failure, and checks each failing
 *    run for an error (tests/unit/test_config.c does so for config_load).
 *  - alloc_live() is allocations less frees, as a difference around code
 *    that frees only what it allocated: a leak detector without ASan.
 * A failure is injected only where asked (one per arming), so the cost in
 * every other run is one atomic load per allocation.
 */
#ifndef REDACTD_HARNESS_H
#define REDACTD_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>
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

/* ---- allocation failures --------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

static atomic_long alloc_count_;    /* allocations since armed */
static atomic_long alloc_at_;       /* the one that fails; 0: none */
static atomic_long alloc_live_;     /* allocations less frees */
static atomic_bool alloc_hit_;      /* the armed failure happened */
static atomic_bool alloc_env_read_;

static inline void alloc_fail_at(long n)
{
	atomic_store(&alloc_env_read_, true);   /* the test's arming wins over the environment */
	atomic_store(&alloc_count_, 0);
	atomic_store(&alloc_hit_, false);
	atomic_store(&alloc_at_, n > 0 ? n : 0);
}

static inline bool alloc_failed(void)
{
	return atomic_load(&alloc_hit_);
}

static inline long alloc_live(void)
{
	return atomic_load(&alloc_live_);
}

/* Should this allocation fail? */
static bool alloc_fails_now(void)
{
	if (!atomic_exchange(&alloc_env_read_, true)) {
		const char *e = getenv("RD_ALLOC_FAIL");
		char *end;
		long n = e ? strtol(e, &end, 10) : 0;
		if (e && (*end || n <= 0)) {
			fprintf(stderr, "RD_ALLOC_FAIL must be a positive number, not \"%s\"\n", e);
			exit(2);
		}
		atomic_store(&alloc_at_, n);
	}
	long at = atomic_load(&alloc_at_);
	if (at == 0 || atomic_fetch_add(&alloc_count_, 1) + 1 != at)
		return false;
	atomic_store(&alloc_hit_, true);
	return true;
}

static void *alloc_counted(void *p)
{
	if (p)
		atomic_fetch_add(&alloc_live_, 1);
	return p;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails_now() ? NULL : alloc_counted(__real_malloc(n));
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails_now() ? NULL : alloc_counted(__real_calloc(n, size));
}

/* A failed realloc leaves p allocated, as the real one does. */
void *__wrap_realloc(void *p, size_t n)
{
	if (alloc_fails_now())
		return NULL;
	void *q = __real_realloc(p, n);
	if (!p && q)
		atomic_fetch_add(&alloc_live_, 1);
	else if (p && !n && !q)
		atomic_fetch_sub(&alloc_live_, 1);   /* glibc: realloc(p, 0) frees p */
	return q;
}

char *__wrap_strdup(const char *s)
{
	return alloc_fails_now() ? NULL : alloc_counted(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return alloc_fails_now() ? NULL : alloc_counted(__real_strndup(s, n));
}

void __wrap_free(void *p)
{
	if (p)
		atomic_fetch_sub(&alloc_live_, 1);
	__real_free(p);
}

#endif
