/*
 * metrics.c — Prometheus counters kept in fixed tables of atomics.
 *
 * Routes, statuses, entities and categories are few and known, so each
 * counter lives in a small fixed slot table claimed on first use (a CAS on
 * the name pointer); nothing allocates on the request path.
 */
#include "metrics.h"
#include "store.h"

#include <dirent.h>
#include <gnutls/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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
	struct slot webhook[MAX_SLOTS];   /* "source kind", status = the event */
	struct slot consent[MAX_SLOTS], optout[MAX_SLOTS], voice_consent[MAX_SLOTS];
	struct slot forwards[MAX_SLOTS];   /* status: the bot's, or -1 - index in forward_outcomes */
	atomic_uint_fast64_t forward_buckets[NBUCKETS + 1], forward_sum_us, forward_count;
	atomic_uint_fast64_t forward_log_failures;
	atomic_uint_fast64_t latency_buckets[NBUCKETS + 1];
	atomic_uint_fast64_t latency_sum_us, latency_count, audit_entries;
	_Atomic(int64_t) sweep_started_ms, sweep_succeeded_ms;
	int64_t started_ms;           /* process start, wall clock */
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(struct metrics));
	if (m)
		m->started_ms = util_now_ms();
	return m;
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

void metrics_sweep(struct metrics *m, int64_t started_ms, bool ok)
{
	if (!m)
		return;
	atomic_store(&m->sweep_started_ms, started_ms);
	if (ok)
		atomic_store(&m->sweep_succeeded_ms, started_ms);
}

void metrics_sweep_last(struct metrics *m, int64_t *started_ms, int64_t *succeeded_ms)
{
	*started_ms = m ? atomic_load(&m->sweep_started_ms) : 0;
	*succeeded_ms = m ? atomic_load(&m->sweep_succeeded_ms) : 0;
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

void metrics_webhook(struct metrics *m, enum metrics_webhook_event ev, const char *source,
                     const char *kind, uint64_t n)
{
	char name[NAME_MAX_LEN];
	if (!m || !n)
		return;
	snprintf(name, sizeof name, "%s %s", source, kind);
	slot_add(m->webhook, name, (int)ev, n);
}

/* One webhook counter: the slots of event ev, "source kind" split into
 * the source label and, unless second is NULL, a second label. */
static int render_webhook(const struct metrics *m, struct buf *b, enum metrics_webhook_event ev,
                          const char *metric, const char *second, const char *help)
{
	if (buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", metric, help, metric))
		return -1;
	for (int i = 0; i < MAX_SLOTS; i++) {
		const struct slot *t = &m->webhook[i];
		if (atomic_load(&t->used) != 2 || t->status != (int)ev)
			continue;
		const char *sp = strchr(t->name, ' ');
		int slen = sp ? (int)(sp - t->name) : (int)strlen(t->name);
		unsigned long long c = atomic_load(&t->count);
		int rc = second ? buf_printf(b, "%s{source=\"%.*s\",%s=\"%s\"} %llu\n", metric, slen,
		                             t->name, second, sp ? sp + 1 : "", c)
		                : buf_printf(b, "%s{source=\"%.*s\"} %llu\n", metric, slen, t->name, c);
		if (rc)
			return -1;
	}
	return 0;
}

static int render_webhooks(const struct metrics *m, struct buf *b)
{
	return render_webhook(m, b, METRICS_WEBHOOK_UNHANDLED, "redactd_webhook_unhandled_total", "kind",
	                      "Webhook payloads of a kind redactd does not store, answered as the"
	                      " provider expects.") ||
	       render_webhook(m, b, METRICS_WEBHOOK_STATUS, "redactd_webhook_statuses_total", "status",
	                      "Delivery status callbacks, counted and not stored.") ||
	       render_webhook(m, b, METRICS_WEBHOOK_REPLAY, "redactd_webhook_replays_total", NULL,
	                      "Provider messages delivered again and not stored again.") ||
	       render_webhook(m, b, METRICS_WEBHOOK_DROPPED, "redactd_webhook_dropped_total", "kind",
	                      "Webhook turns dropped as configured (location = drop).");
}

void metrics_consent(struct metrics *m, const char *state)
{
	if (m)
		slot_add(m->consent, state, 0, 1);
}

void metrics_optout(struct metrics *m, const char *keyword_kind)
{
	if (m)
		slot_add(m->optout, keyword_kind, 0, 1);
}

void metrics_voice_consent(struct metrics *m, const char *action)
{
	if (m)
		slot_add(m->voice_consent, action, 0, 1);
}

static const char *const forward_outcomes[] = { "overloaded", "unreachable", "timeout", "failed",
                                                "shutdown" };

void metrics_forward(struct metrics *m, const char *source, int status, const char *outcome,
                     int64_t us)
{
	if (!m)
		return;
	int code = status;
	for (size_t i = 0; !status && i < RD_ARRAY_LEN(forward_outcomes); i++)
		if (!strcmp(outcome, forward_outcomes[i]))
			code = -1 - (int)i;
	slot_add(m->forwards, source, code, 1);
	size_t b = 0;
	while (b < NBUCKETS && us > latency_bounds_us[b])
		b++;
	atomic_fetch_add(&m->forward_buckets[b], 1);
	atomic_fetch_add(&m->forward_sum_us, (uint64_t)(us > 0 ? us : 0));
	atomic_fetch_add(&m->forward_count, 1);
}

void metrics_forward_log_failure(struct metrics *m)
{
	if (m)
		atomic_fetch_add(&m->forward_log_failures, 1);
}

static int render_slots(const struct slot *t, struct buf *b, const char *metric, const char *label,
                        bool with_status)
{
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (atomic_load(&t[i].used) != 2)
			continue;
		unsigned long long c = atomic_load(&t[i].count);
		int rc = with_status
			? buf_printf(b, "%s{%s=\"%s\",code=\"%d\"} %llu\n", metric, label, t[i].name, t[i].status, c)
			: buf_printf(b, "%s{%s=\"%s\"} %llu\n", metric, label, t[i].name, c);
		if (rc)
			return -1;
	}
	return 0;
}

/* A Prometheus histogram in seconds: nb bounds (µs), counts[nb + 1] per
 * bucket (the last for longer, not cumulative). */
static int render_histogram(struct buf *b, const char *name, const char *help,
                            const int64_t *bounds_us, size_t nb, const uint64_t *counts,
                            uint64_t sum_us, uint64_t count)
{
	uint64_t cum = 0;
	if (buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name))
		return -1;
	for (size_t i = 0; i <= nb; i++) {
		cum += counts[i];
		int rc = i < nb
			? buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds_us[i] / 1e6,
			             (unsigned long long)cum)
			: buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
		if (rc)
			return -1;
	}
	return buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum_us / 1e6, name,
	                  (unsigned long long)count);
}

/* One of struct metrics' latency histograms (latency_bounds_us). */
static int render_latency_of(struct buf *b, const char *name, const char *help,
                             const atomic_uint_fast64_t *buckets,
                             const atomic_uint_fast64_t *sum_us, const atomic_uint_fast64_t *count)
{
	uint64_t counts[NBUCKETS + 1];
	for (size_t i = 0; i <= NBUCKETS; i++)
		counts[i] = atomic_load(&buckets[i]);
	return render_histogram(b, name, help, latency_bounds_us, NBUCKETS, counts, atomic_load(sum_us),
	                        atomic_load(count));
}

static int render_latency(struct metrics *m, struct buf *b)
{
	return render_latency_of(b, "redactd_ingest_latency_seconds", "Ingest request latency.",
	                         m->latency_buckets, &m->latency_sum_us, &m->latency_count);
}

static int render_forward(struct metrics *m, struct buf *b)
{
	if (buf_printf(b, "# HELP redactd_forward_requests_total Forwards to a bot (tap mode), by source"
	                  " and the bot's status (or why it gave none).\n"
	                  "# TYPE redactd_forward_requests_total counter\n"))
		return -1;
	for (int i = 0; i < MAX_SLOTS; i++) {
		const struct slot *s = &m->forwards[i];
		char st[16];
		if (atomic_load(&s->used) != 2)
			continue;
		if (s->status > 0)
			snprintf(st, sizeof st, "%d", s->status);
		else
			snprintf(st, sizeof st, "%s", forward_outcomes[-1 - s->status]);
		if (buf_printf(b, "redactd_forward_requests_total{source=\"%s\",status=\"%s\"} %llu\n", s->name,
		               st, (unsigned long long)atomic_load(&s->count)))
			return -1;
	}
	if (render_latency_of(b, "redactd_forward_latency_seconds", "Time from a forward's submit to"
	                      " the bot's answer (or its failure).", m->forward_buckets,
	                      &m->forward_sum_us, &m->forward_count))
		return -1;
	return buf_printf(b, "# HELP redactd_forward_log_failures_total Tapped turns (user or bot) that were"
	                     " not stored; the provider's answer did not wait for them.\n"
	                     "# TYPE redactd_forward_log_failures_total counter\n"
	                     "redactd_forward_log_failures_total %llu\n",
	                  (unsigned long long)atomic_load(&m->forward_log_failures));
}

/* Seconds since the epoch of a wall-clock time in ms; 0 for never. */
static double epoch_s(int64_t ms)
{
	return (double)ms / 1000.0;
}

static int render_sweep(struct metrics *m, struct buf *b)
{
	return buf_printf(b,
		"# HELP redactd_sweep_last_start_timestamp_seconds Start of the last retention pass (0: none yet).\n"
		"# TYPE redactd_sweep_last_start_timestamp_seconds gauge\n"
		"redactd_sweep_last_start_timestamp_seconds %.3f\n"
		"# HELP redactd_sweep_last_success_timestamp_seconds Start of the last retention pass that completed.\n"
		"# TYPE redactd_sweep_last_success_timestamp_seconds gauge\n"
		"redactd_sweep_last_success_timestamp_seconds %.3f\n",
		epoch_s(atomic_load(&m->sweep_started_ms)), epoch_s(atomic_load(&m->sweep_succeeded_ms)));
}

int metrics_render(struct metrics *m, struct buf *b)
{
	if (buf_printf(b, "# HELP redactd_build_info The running redactd version.\n"
	                  "# TYPE redactd_build_info gauge\n"
	                  "redactd_build_info{version=\"%s\"} 1\n", REDACTD_VERSION) ||
	    render_sweep(m, b) ||
	    buf_printf(b, "# HELP redactd_requests_total HTTP requests by route and status code.\n"
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
	    render_webhooks(m, b) ||
	    buf_printf(b, "# HELP redactd_consent_records_total Consent records appended, by state.\n"
	                  "# TYPE redactd_consent_records_total counter\n") ||
	    render_slots(m->consent, b, "redactd_consent_records_total", "state", false) ||
	    buf_printf(b, "# HELP redactd_optout_total Opt-out and opt-in keywords recorded.\n"
	                  "# TYPE redactd_optout_total counter\n") ||
	    render_slots(m->optout, b, "redactd_optout_total", "keyword_kind", false) ||
	    buf_printf(b, "# HELP redactd_voice_consent_missing_total Voice transcripts without a"
	                  " given consent, refused or kept as metadata only.\n"
	                  "# TYPE redactd_voice_consent_missing_total counter\n") ||
	    render_slots(m->voice_consent, b, "redactd_voice_consent_missing_total", "action", false) ||
	    render_forward(m, b) ||
	    buf_printf(b, "# HELP redactd_audit_entries_total Audit log entries appended.\n"
	                  "# TYPE redactd_audit_entries_total counter\n"
	                  "redactd_audit_entries_total %llu\n",
	               (unsigned long long)atomic_load(&m->audit_entries)))
		return -1;
	return 0;
}

/* ---- process_* (the names Prometheus client libraries use) ------------ */

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;   /* the directory's own fd */
}

/* utime and stime (clock ticks) and vsize, rss (pages) from /proc/self/stat. */
static int read_proc_stat(double *cpu_s, double *vsize, double *rss)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');   /* the command name may hold spaces */
	unsigned long long ut, st, vs;
	long long rs;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
	                        "%*d %*d %*u %llu %lld", &ut, &st, &vs, &rs) != 4)
		return -1;
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	*cpu_s = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
	*vsize = (double)vs;
	*rss = (double)rs * (double)(page > 0 ? page : 4096);
	return 0;
}

int metrics_render_process(struct metrics *m, struct buf *b)
{
	double cpu, vsize, rss;
	struct rlimit rl;
	int fds = count_open_fds();
	if (read_proc_stat(&cpu, &vsize, &rss) || fds < 0 || getrlimit(RLIMIT_NOFILE, &rl))
		return 0;   /* no /proc: leave the process_* family out */
	return buf_printf(b,
		"# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		"# TYPE process_cpu_seconds_total counter\n"
		"process_cpu_seconds_total %.2f\n"
		"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		"# TYPE process_resident_memory_bytes gauge\n"
		"process_resident_memory_bytes %.0f\n"
		"# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
		"# TYPE process_virtual_memory_bytes gauge\n"
		"process_virtual_memory_bytes %.0f\n"
		"# HELP process_open_fds Number of open file descriptors.\n"
		"# TYPE process_open_fds gauge\n"
		"process_open_fds %d\n"
		"# HELP process_max_fds Maximum number of open file descriptors.\n"
		"# TYPE process_max_fds gauge\n"
		"process_max_fds %llu\n"
		"# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		"# TYPE process_start_time_seconds gauge\n"
		"process_start_time_seconds %.3f\n",
		cpu, rss, vsize, fds, (unsigned long long)rl.rlim_cur, epoch_s(m->started_ms));
}

int metrics_render_tls(const char *cert_pem, struct buf *b)
{
	if (!cert_pem)
		return 0;
	gnutls_x509_crt_t crt;
	gnutls_datum_t pem = { (unsigned char *)(uintptr_t)cert_pem, (unsigned)strlen(cert_pem) };
	if (gnutls_x509_crt_init(&crt) < 0)
		return 0;
	time_t expires = -1;
	if (gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) >= 0)
		expires = gnutls_x509_crt_get_expiration_time(crt);   /* the first (leaf) certificate */
	gnutls_x509_crt_deinit(crt);
	if (expires == (time_t)-1)
		return 0;
	return buf_printf(b, "# HELP redactd_tls_certificate_expiry_timestamp_seconds When the served"
	                     " TLS certificate expires.\n"
	                     "# TYPE redactd_tls_certificate_expiry_timestamp_seconds gauge\n"
	                     "redactd_tls_certificate_expiry_timestamp_seconds %lld\n", (long long)expires);
}

static int render_durations(struct buf *b, const char *name, const char *help,
                            const struct store_durations *d)
{
	static const int64_t bounds[] = STORE_DURATION_BOUNDS_US;
	_Static_assert(RD_ARRAY_LEN(bounds) + 1 == STORE_DURATION_BUCKETS, "a bucket per bound, one more");
	return render_histogram(b, name, help, bounds, RD_ARRAY_LEN(bounds), d->buckets, d->sum_us,
	                        d->count);
}

int metrics_render_store(const struct store_counters *sc, struct buf *b)
{
	if (render_durations(b, "redactd_store_sync_seconds", "Time each fdatasync of the WAL took"
	                     " (synchronous=full): acknowledgements wait for it.", &sc->sync_time) ||
	    render_durations(b, "redactd_store_checkpoint_seconds", "Time each background checkpoint"
	                     " took (copying WAL frames into the database file and syncing it).",
	                     &sc->ckpt_time))
		return -1;
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
		"redactd_store_subject_links_cached_total %llu\n"
		"# HELP redactd_store_checkpoint_retries_total Checkpoints after deletes that readers of"
		" old snapshots held back (retried).\n"
		"# TYPE redactd_store_checkpoint_retries_total counter\n"
		"redactd_store_checkpoint_retries_total %llu\n"
		"# HELP redactd_store_purge_paused_seconds_total Time retention purges waited between"
		" batches to leave the writer to busy ingest.\n"
		"# TYPE redactd_store_purge_paused_seconds_total counter\n"
		"redactd_store_purge_paused_seconds_total %.3f\n"
		"# HELP redactd_store_residue_pending 1 while deleted records may still be in the"
		" database file or WAL.\n"
		"# TYPE redactd_store_residue_pending gauge\n"
		"redactd_store_residue_pending %d\n",
		(unsigned long long)sc->commits, (unsigned long long)sc->records,
		(unsigned long long)sc->syncs, (unsigned long long)sc->busy,
		(unsigned long long)sc->jobs_failed, (unsigned long long)sc->queued,
		(unsigned long long)sc->links_cached, (unsigned long long)sc->ckpt_retries,
		(double)sc->purge_paused_us / 1e6, sc->residue_pending ? 1 : 0);
}
