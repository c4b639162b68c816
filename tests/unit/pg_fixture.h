/*
 * pg_fixture.h — the store's unit tests on PostgreSQL too (issue 19): a
 * database of the test's own on the run's throwaway cluster
 * (REDACTD_TEST_PG_URL, from tests/run.sh), so one test body runs once on
 * a SQLite temp file and once on PostgreSQL. Without a cluster the
 * PostgreSQL run is skipped, saying so, except under make test
 * (REDACTD_TEST_PG_REQUIRED), where that is a failure. Tests may speak
 * libpq to tamper with a database, as they use sqlite3 on files.
 *
 * Citus: with REDACTD_CITUS_URL set (a Citus coordinator's database given
 * to the tests alone: each test empties its public schema), the rounds run
 * a third time on it, the store distributing its tables on open
 * (store_pg_citus.c). Without it that round is skipped, saying so, and
 * counts nothing: Citus is not packaged for Debian 12.
 */
#ifndef REDACTD_PG_FIXTURE_H
#define REDACTD_PG_FIXTURE_H

#include "harness.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The round on Citus is running: pg_new_db resets REDACTD_CITUS_URL's
 * database instead of making one. */
static bool pg_on_citus __attribute__((unused));

static inline const char *pg_citus_url(void)
{
	const char *u = getenv("REDACTD_CITUS_URL");
	return u && *u ? u : NULL;
}

/* The base URL, or NULL (then pg_skip_or_fail says why). */
static inline const char *pg_base_url(void)
{
	if (pg_on_citus)
		return pg_citus_url();
	const char *u = getenv("REDACTD_TEST_PG_URL");
	return u && *u ? u : NULL;
}

/* Call when there is no cluster: 1 when the run should go on without it. */
static inline int pg_skip_or_fail(void)
{
	if (getenv("REDACTD_TEST_PG_REQUIRED")) {
		CHECK(0, "a PostgreSQL cluster to test against (REDACTD_TEST_PG_URL)");
		return 0;
	}
	printf("# skipped: the postgresql backend (no REDACTD_TEST_PG_URL; make test starts a cluster)\n");
	return 1;
}

/* The conformance rounds: run_all on SQLite, then with *on_pg set on the
 * cluster (or the skip/failure pg_skip_or_fail decides without one). */
static inline void pg_both_rounds(void (*run_all)(void), bool *on_pg)
{
	printf("# sqlite\n");
	run_all();
	if (pg_base_url()) {
		printf("# postgresql\n");
		*on_pg = true;
		run_all();
	} else {
		pg_skip_or_fail();
	}
	if (pg_citus_url()) {
		printf("# citus\n");
		*on_pg = pg_on_citus = true;
		run_all();
		pg_on_citus = false;
	} else {
		printf("# skipped: the citus round (REDACTD_CITUS_URL not set)\n");
	}
}

/* Runs sql on url; 0 or -1 (the server's message on stderr). */
static inline int pg_sql(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	int rc = -1;
	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, sql);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
		if (rc)
			fprintf(stderr, "pg_sql: %s", PQerrorMessage(c));
		PQclear(r);
	} else {
		fprintf(stderr, "pg_sql: %s", PQerrorMessage(c));
	}
	PQfinish(c);
	return rc;
}

/* The first column of the first row of sql on url, as a number; -1. */
static inline long long pg_value(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	long long v = -1;
	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			v = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	PQfinish(c);
	return v;
}

/* A new, empty database for one test; out gets its URL. 0 or -1. The
 * cluster is thrown away after the run, databases and all. */
static inline int pg_new_db(const char *tag, char *out, size_t len)
{
	static int n;
	const char *base = pg_base_url();
	char db[64], sql[128];
	if (!base)
		return -1;
	if (pg_on_citus) {
		/* Its tables dropped (on the workers too: Citus propagates it). */
		snprintf(out, len, "%s", base);
		return pg_sql(base, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
	}
	snprintf(db, sizeof db, "u_%d_%d_%s", (int)getpid(), n++, tag);
	for (char *p = db; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			*p = '_';
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
	if (pg_sql(base, sql))
		return -1;
	/* base is postgresql://USER:PW@/redactd?host=DIR (tests/pg_cluster.sh) */
	const char *slash = strstr(base, "@/"), *q = slash ? strchr(slash, '?') : NULL;
	if (!q)
		return -1;
	snprintf(out, len, "%.*s@/%s%s", (int)(slash - base), base, db, q);
	return 0;
}

#endif
