/*
 * metrics.h — counters for GET /metrics (Prometheus text format).
 *
 * Lock-free counters (C11 atomics) updated by request threads; rendering
 * reads them without stopping anyone.
 */
#ifndef REDACTD_METRICS_H
#define REDACTD_METRICS_H

#include "redactd.h"
#include "util.h"


struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);    /* NULL is a no-op */

/* One finished request: its route pattern (a static string), status, time. */
void metrics_request(struct metrics *m, const char *route, int status, int64_t duration_us);
/* Ingest latency (request start to reply) for the histogram. */
void metrics_ingest_latency(struct metrics *m, int64_t duration_us);
/* n findings of an entity were redacted. m may be NULL. */
void metrics_finding(struct metrics *m, const char *entity, uint64_t n);
void metrics_purged(struct metrics *m, const char *category, uint64_t n);
void metrics_audit(struct metrics *m, uint64_t n);
/* A retention pass started at started_ms (wall clock) and ended, ok or not. */
void metrics_sweep(struct metrics *m, int64_t started_ms, bool ok);
/* The last pass's start and the last completed pass's start (0: none). */
void metrics_sweep_last(struct metrics *m, int64_t *started_ms, int64_t *succeeded_ms);
/* A connection the HTTP guard cut: reason is a static string
 * (header_timeout, body_rate, per_ip_limit). */
void metrics_conn_dropped(struct metrics *m, const char *reason);
/* A request refused with 429: scope "ip" or "token". */
void metrics_rate_limited(struct metrics *m, const char *scope);
/* Consent (issue 17), each label a static string: a consent record
 * appended (state given, declined, withdrawn); an opt-out keyword
 * recorded (optout, optin); a voice transcript without consent (refused,
 * metadata). m may be NULL. */
void metrics_consent(struct metrics *m, const char *state);
void metrics_optout(struct metrics *m, const char *keyword_kind);
void metrics_voice_consent(struct metrics *m, const char *action);

/* Webhook callbacks that stored no turn (issue 18), by source (a config
 * section name) and kind (a static word of webhook.c, never provider
 * text): unhandled payload kinds, delivery statuses (counted, not
 * stored), replays of stored messages, and turns dropped by config. */
enum metrics_webhook_event {
	METRICS_WEBHOOK_UNHANDLED, METRICS_WEBHOOK_STATUS, METRICS_WEBHOOK_REPLAY,
	METRICS_WEBHOOK_DROPPED,
};
void metrics_webhook(struct metrics *m, enum metrics_webhook_event ev, const char *source,
                     const char *kind, uint64_t n);

/* A forward to a bot (tap mode) ended: source is a static name, status
 * the bot's HTTP status or 0 when it did not answer, outcome a static word
 * (ok, overloaded, unreachable, timeout, failed, shutdown), us its time. */
void metrics_forward(struct metrics *m, const char *source, int status, const char *outcome,
                     int64_t us);
/* A tapped turn that was not stored. */
void metrics_forward_log_failure(struct metrics *m);

/* Render everything in Prometheus text exposition format into b. */
int metrics_render(struct metrics *m, struct buf *b) RD_WARN_UNUSED;
/* process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
 * process_start_time_seconds and friends, as Prometheus' client libraries
 * name them; nothing where /proc is missing. */
int metrics_render_process(struct metrics *m, struct buf *b) RD_WARN_UNUSED;
/* redactd_tls_certificate_expiry_timestamp_seconds of the served
 * certificate (PEM; its first certificate is the leaf). Nothing when
 * cert_pem is NULL or does not parse. */
int metrics_render_tls(const char *cert_pem, struct buf *b) RD_WARN_UNUSED;
/* The store's group-commit counters and queue depth, appended to b. */
struct store_counters;
int metrics_render_store(const struct store_counters *sc, struct buf *b) RD_WARN_UNUSED;

#endif
