/*
 * metrics.c — Prometheus counters kept in fixed tables of atomics.
 *
 * Routes, statuses, entities and categories are few and known, so each
 * counter lives in a small fixed slot table claimed on first use (a CAS on
 * the name pointer); nothing allocates on the request path.
 */
#include "metrics.h"
#include "store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 64
#define NAME_MAX_LEN 48

struct slot {
	_Atomic(int) used;         /* 0 free, 1 being written, 2 ready */
	char name[NAME_MAX_LEN];
	int status;
	atomic_uint_fast64_t count;
};

static const int64_t latency_bounds_us[] = { 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
                                             250000, 1000000 };
#define NBUCKETS (sizeof latency_bounds_us / sizeof latency_bounds_us[0])

struct metrics {
	struct slot requests[MAX_SLOTS];
	struct slot findings[MAX_SLOTS];
	struct slot purged[MAX_SLOTS];
	struct slot dropped[MAX_SLOTS];
	struct slot limited[MAX_SLOTS];
	atomic_uint_fast64_t latency_buckets[NBUCKETS + 1];
	atomic_uint_fast64_t latency_sum_us, latency_count, audit_entries;
};

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	free(m);
}

/* Finds or claims the slot for (name, status). NULL when the table is full. */
static struct slot *slot_get(struct slot *t, const char *name, int status)
{
	for (int i = 0; i < MAX_SLOTS; i++) {
		int u = atomic_load(&t[i].used);
		if (u == 2 && t[i].status == status && strcmp(t[i].name, name) == 0)
			return &t[i];
		if (u == 0) {
			int expected = 0;
			if (atomic_compare_exchange_strong(&t[i].used, &expected, 1)) {
				snprintf(t[i].name, sizeof t[i].name, "%s", name);
				t[i].status = status;
				atomic_store(&t[i].used, 2);
				return &t[i];
			}
			i--;   /* lost the race for this slot: look at it again */
			continue;
		}
		while (atomic_load(&t[i].used) == 1)
			;      /* another thread is naming it; a few instructions */
		if (t[i].status == status && strcmp(t[i].name, name) == 0)
			return &t[i];
	}
	return NULL;
}

static void slot_add(struct slot *t, const char *name, int status, uint64_t n)
{
	struct slot *s = slot_get(t, name, status);
	if (s)
		atomic_fetch_add(&s->count, n);
}

void metrics_request(struct metrics *m, const char *route, int status, int64_t duration_us)
{
	(void)duration_us;
	if (m)
		slot_add(m->requests, route, status, 1);
}

void metrics_ingest_latency(struct metrics *m, int64_t us)
{
	if (!m)
		return;
	size_t b = 0;
	while (b < NBUCKETS && us > latency_bounds_us[b])
		b++;
	atomic_fetch_add(&m->latency_buckets[b], 1);
	atomic_fetch_add(&m->latency_sum_us, (uint64_t)(us > 0 ? us : 0));
	atomic_fetch_add(&m->latency_count, 1);
}

void metrics_finding(struct metrics *m, const char *entity, uint64_t n)
{
	if (m)
		slot_add(m->findings, entity, 0, n);
}

void metrics_purged(struct metrics *m, const char *category, uint64_t n)
{
	if (m)
		slot_add(m->purged, category, 0, n);
}

void metrics_audit(struct metrics *m, uint64_t n)
{
	if (m)
		atomic_fetch_add(&m->audit_entries, n);
}

void metrics_conn_dropped(struct metrics *m, const char *reason)
{
	if (m)
		slot_add(m->dropped, reason, 0, 1);
}

void metrics_rate_limited(struct metrics *m, const char *scope)
{
	if (m)
		slot_add(m->limited, scope, 0, 1);
}

static int render_slots(const struct slot *t, struct buf *b, const char *metric, const char *label,
                        bool with_status)
{
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (atomic_load(&t[i].used) != 2)
			continue;
		unsigned long long c = atomic_load(&t[i].count);
		int rc = with_status
			? buf_printf(b, "%s{%s=\"%s\",status=\"%d\"} %llu\n", metric, label, t[i].name, t[i].status, c)
			: buf_printf(b, "%s{%s=\"%s\"} %llu\n", metric, label, t[i].name, c);
		if (rc)
			return -1;
	}
	return 0;
}

static int render_latency(struct metrics *m, struct buf *b)
{
	uint64_t cum = 0;
	if (buf_printf(b, "# HELP redactd_ingest_latency_seconds Ingest request latency.\n"
	                  "# TYPE redactd_ingest_latency_seconds histogram\n"))
		return -1;
	for (size_t i = 0; i <= NBUCKETS; i++) {
		cum += atomic_load(&m->latency_buckets[i]);
		int rc = i < NBUCKETS
			? buf_printf(b, "redactd_ingest_latency_seconds_bucket{le=\"%g\"} %llu\n",
			             (double)latency_bounds_us[i] / 1e6, (unsigned long long)cum)
			: buf_printf(b, "redactd_ingest_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
			             (unsigned long long)cum);
		if (rc)
			return -1;
	}
	return buf_printf(b, "redactd_ingest_latency_seconds_sum %.6f\nredactd_ingest_latency_seconds_count %llu\n",
	                  (double)atomic_load(&m->latency_sum_us) / 1e6,
	                  (unsigned long long)atomic_load(&m->latency_count));
}

int metrics_render(struct metrics *m, struct buf *b)
{
	if (buf_printf(b, "# HELP redactd_requests_total HTTP requests by route and status.\n"
	                  "# TYPE redactd_requests_total counter\n") ||
	    render_slots(m->requests, b, "redactd_requests_total", "route", true) ||
	    buf_printf(b, "# HELP redactd_findings_total PII findings redacted, by entity.\n"
	                  "# TYPE redactd_findings_total counter\n") ||
	    render_slots(m->findings, b, "redactd_findings_total", "entity", false) ||
	    render_latency(m, b) ||
	    buf_printf(b, "# HELP redactd_purged_total Records purged by retention, by category.\n"
	                  "# TYPE redactd_purged_total counter\n") ||
	    render_slots(m->purged, b, "redactd_purged_total", "category", false) ||
	    buf_printf(b, "# HELP redactd_http_connections_dropped_total Connections cut by the"
	                  " HTTP defences, by reason.\n"
	                  "# TYPE redactd_http_connections_dropped_total counter\n") ||
	    render_slots(m->dropped, b, "redactd_http_connections_dropped_total", "reason", false) ||
	    buf_printf(b, "# HELP redactd_http_rate_limited_total Requests refused with 429, by limit.\n"
	                  "# TYPE redactd_http_rate_limited_total counter\n") ||
	    render_slots(m->limited, b, "redactd_http_rate_limited_total", "scope", false) ||
	    buf_printf(b, "# HELP redactd_audit_entries_total Audit log entries appended.\n"
	                  "# TYPE redactd_audit_entries_total counter\n"
	                  "redactd_audit_entries_total %llu\n",
	               (unsigned long long)atomic_load(&m->audit_entries)))
		return -1;
	return 0;
}

int metrics_render_store(const struct store_counters *sc, struct buf *b)
{
	return buf_printf(b,
		"# HELP redactd_store_commits_total Group transactions committed by the writer.\n"
		"# TYPE redactd_store_commits_total counter\n"
		"redactd_store_commits_total %llu\n"
		"# HELP redactd_store_records_total Records committed.\n"
		"# TYPE redactd_store_records_total counter\n"
		"redactd_store_records_total %llu\n"
		"# HELP redactd_store_syncs_total WAL fdatasyncs that acknowledged committed groups.\n"
		"# TYPE redactd_store_syncs_total counter\n"
		"redactd_store_syncs_total %llu\n"
		"# HELP redactd_store_busy_total Submits refused because the writer queue was full (503).\n"
		"# TYPE redactd_store_busy_total counter\n"
		"redactd_store_busy_total %llu\n"
		"# HELP redactd_store_failed_jobs_total Submits that failed in the store.\n"
		"# TYPE redactd_store_failed_jobs_total counter\n"
		"redactd_store_failed_jobs_total %llu\n"
		"# HELP redactd_store_queued_records Records waiting for the writer.\n"
		"# TYPE redactd_store_queued_records gauge\n"
		"redactd_store_queued_records %llu\n"
		"# HELP redactd_store_subject_links_cached_total Subject links the writer knew were stored"
		" and did not insert again.\n"
		"# TYPE redactd_store_subject_links_cached_total counter\n"
		"redactd_store_subject_links_cached_total %llu\n",
		(unsigned long long)sc->commits, (unsigned long long)sc->records,
		(unsigned long long)sc->syncs, (unsigned long long)sc->busy,
		(unsigned long long)sc->jobs_failed, (unsigned long long)sc->queued,
		(unsigned long long)sc->links_cached);
}
