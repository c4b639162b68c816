/*
 * bench/pg_purge.c — a retention purge on PostgreSQL (issue 19): N records
 * of one (tenant, category) in January 2020, purged before February,
 * twice on databases of their own: once with one record of another
 * category in the same month (its own partition: the purged one is
 * emptied whole, TRUNCATE), once with one record of another tenant in the
 * same category and month (the partition is shared: by batches of 500).
 * Prints records/s of each. bench/pg_purge.sh does all of the below.
 *
 *   url=$(sh tests/pg_cluster.sh start /tmp/pgb)   # or any database URL with CREATEDB
 *   make build/libredactd.a
 *   cc -std=c17 -D_GNU_SOURCE -O2 -Iinclude -Itests/unit $(pkg-config --cflags libpq) \
 *      -o build/pg_purge bench/pg_purge.c build/libredactd.a \
 *      -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free \
 *      $(pkg-config --libs \
 *      libpcre2-8 sqlite3 libsodium libmicrohttpd jansson inih gnutls libsystemd expat libpq) \
 *      -lnettle -lpthread -lm
 *   REDACTD_TEST_PG_URL=$url build/pg_purge 20000
 *   sh tests/pg_cluster.sh stop /tmp/pgb
 */
#include "store_fixture.h"
#include "pg_fixture.h"

#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A store on a new database with n records of acme/chat in January 2020,
 * and one of acme/email in that month (another partition), or when mixed
 * one of globex/chat (the same partition). */
static struct store *load(const char *tag, int n, bool mixed)
{
	char url[512], err[512];
	struct store_options o = { .sync_full = true, .queue_size = 4096, .batch_max = 256 };
	struct store *st = NULL;
	if (pg_new_db(tag, url, sizeof url))
		return NULL;
	o.pg_url = url;
	if (store_open(tmp(tag), &o, &st, err, sizeof err) ||
	    store_keyring_attach(st, kr1, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	struct store_record *recs = NULL;
	for (int done = 0; done < n; done += 256) {
		int k = n - done < 256 ? n - done : 256;
		struct trec *t = make_many(st, k, 64, JAN_2020 + done, &recs);
		if (!t || store_submit(st, recs, (size_t)k) != RD_OK)
			return NULL;
		free(t);
		free(recs);
	}
	struct trec g;
	rec_category = mixed ? NULL : "email";
	int rc = make_rec(st, &g, mixed ? "globex" : "acme", "g", JAN_2020, "x");
	rec_category = NULL;
	if (rc || store_submit(st, &g.r, 1))
		return NULL;
	return st;
}

static int run(const char *tag, int n, bool mixed)
{
	struct store *st = load(tag, n, mixed);
	size_t purged = 0;
	if (!st)
		return -1;
	double t0 = now_s();
	enum rd_err rc = store_purge_before(st, "acme", "chat", FEB_2020 - 12 * 3600 * 1000LL, 500,
	                                    NULL, NULL, &purged);
	double s = now_s() - t0;
	printf("%-28s %zu records in %.3f s: %.0f records/s\n",
	       mixed ? "by batches of 500:" : "whole (category, month):", purged, s, (double)purged / s);
	store_close(st);
	return rc == RD_OK && purged == (size_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	if (sodium_init() < 0 || n <= 0 || !pg_base_url())
		return 2;
	kr1 = new_keyring("pgb.key");
	int rc = run("bench_whole", n, false) || run("bench_batch", n, true);
	keyring_free(kr1);
	return rc ? 1 : 0;
}
