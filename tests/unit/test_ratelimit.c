/* Unit tests for ratelimit.c: bursts, refill, Retry-After seconds, keys,
 * and the bound on how many buckets it keeps. */
#include "harness.h"
#include "ratelimit.h"

#include <stdint.h>

static int take(struct ratelimit *rl, const char *key, double rate, int burst)
{
	return ratelimit_take(rl, key, strlen(key), rate, burst);
}

static void test_buckets(void)
{
	struct ratelimit *rl = ratelimit_new();
	CHECK(rl != NULL, "a limiter is made");
	int a = take(rl, "a", 1, 3), b = take(rl, "a", 1, 3), c = take(rl, "a", 1, 3);
	CHECK(a == 0 && b == 0 && c == 0, "a burst of 3 goes through");
	CHECK(take(rl, "a", 1, 3) == 1, "the 4th waits 1 s at 1/s");
	CHECK(take(rl, "b", 1, 3) == 0, "another key has its own bucket");
	CHECK(take(rl, "slow", 1.0 / 60, 1) == 0 && take(rl, "slow", 1.0 / 60, 1) == 60,
	      "at 1/min the wait is 60 s");
	CHECK(take(rl, "zero", 2.5, 0) == 0 && take(rl, "zero", 2.5, 0) == 0 &&
	      take(rl, "zero", 2.5, 0) == 1, "burst 0 means the per-second rate (2)");
	CHECK(take(rl, "tiny", 0.5, 0) == 0 && take(rl, "tiny", 0.5, 0) == 2,
	      "burst 0 below 1/s means 1");
	CHECK(take(rl, "off", 0, 0) == 0 && take(rl, "off", 0, 0) == 0, "rate 0 is no limit");
	usleep(1100 * 1000);
	CHECK(take(rl, "a", 1, 3) == 0, "a second later one more goes through");
	char longkey[RATELIMIT_MAX_KEY_LEN + 2];
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	CHECK(take(rl, longkey, 1, 1) == 0 && take(rl, longkey, 1, 1) == 0,
	      "a key over the length limit is not limited (callers stay under it)");
	ratelimit_free(rl);
}

/* A full table drops refilled buckets first; with none refilled, a new
 * key goes unlimited and the limited ones keep their state. */
static void test_bound(void)
{
	struct ratelimit *rl = ratelimit_new();
	char key[32];
	int all_limited = 1;
	for (uint32_t i = 0; i < RATELIMIT_MAX_KEYS; i++) {
		int n = snprintf(key, sizeof key, "k%u", (unsigned)i);
		ratelimit_take(rl, key, (size_t)n, 0.001, 1);
	}
	for (int i = 0; i < 3; i++)
		all_limited &= take(rl, "new", 0.001, 1) == 0;
	CHECK(all_limited, "table full of limited buckets: a new key goes unlimited");
	CHECK(take(rl, "k7", 0.001, 1) > 0, "... and a limited key stays limited");
	ratelimit_free(rl);
	rl = ratelimit_new();
	for (uint32_t i = 0; i < RATELIMIT_MAX_KEYS; i++) {
		int n = snprintf(key, sizeof key, "k%u", (unsigned)i);
		ratelimit_take(rl, key, (size_t)n, 1e6, 1000);   /* refilled at once */
	}
	CHECK(take(rl, "new", 1, 1) == 0 && take(rl, "new", 1, 1) == 1,
	      "table full of refilled buckets: they are dropped and a new key is limited");
	ratelimit_free(rl);
}

int main(void)
{
	test_buckets();
	test_bound();
	return TEST_DONE();
}
