/*
 * test_http_guard.c — the security log's rate limit (issue 17): at most
 * GUARD_SECLOG_PER_ADDRESS entries a minute per address, the refusals left
 * out counted into the next entry.
 */
#include "harness.h"
#include "http_guard.h"

int main(void)
{
	struct http_guard *g = NULL;
	struct guard_limits lim = { .per_ip = 0, .header_timeout = 10, .body_grace = 10 };
	char err[256];
	uint64_t sup = 99;
	int taken = 0;
	int64_t t0 = 1000000;
	if (guard_start(&g, &lim, NULL, err, sizeof err)) {
		printf("guard_start: %s\n", err);
		return 1;
	}
	for (int i = 0; i < 500; i++)
		taken += guard_seclog_take(g, NULL, t0 + i, &sup);
	CHECK(taken == GUARD_SECLOG_PER_ADDRESS, "a flood from one address: 10 entries a minute");
	CHECK(!guard_seclog_take(g, NULL, t0 + 59999, &sup), "still none at 59.999 s");
	CHECK(guard_seclog_take(g, NULL, t0 + 60000, &sup) && sup == 491,
	      "the next minute's first entry counts the 491 left out");
	CHECK(guard_seclog_take(g, NULL, t0 + 60001, &sup) && sup == 0, "and the next one none");
	guard_stop(g);
	return TEST_DONE();
}
