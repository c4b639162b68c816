/*
 * store_pg_dl.c — loading libpq (store_pg_int.h says why it is not
 * linked). The library stays loaded until the process ends.
 */
#define STORE_PQ_LOADER   /* the real names here, not the table's */
#include "store_pg_int.h"
#include "util.h"

#include <dlfcn.h>
#include <stdio.h>

struct store_pq_api store_pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static bool pq_ready;
static char pq_error[160];

static void pq_load(void)
{
	void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(pq_error, sizeof pq_error, "%s", dlerror());
		return;
	}
#define STORE_PQ_LOAD(f) \
	if (!(store_pq.f = (__typeof__(f) *)dlsym(lib, #f))) { \
		snprintf(pq_error, sizeof pq_error, "libpq.so.5 has no %s (PostgreSQL 14 or later)", #f); \
		return; \
	}
	STORE_PQ_SYMBOLS(STORE_PQ_LOAD)
#undef STORE_PQ_LOAD
	pq_ready = true;
}

int store_pq_load(char *err, size_t errlen)
{
	pthread_once(&pq_once, pq_load);
	if (!pq_ready)
		util_err(err, errlen, "cannot load libpq (install libpq5): %s", pq_error);
	return pq_ready ? 0 : -1;
}
