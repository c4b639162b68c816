/*
 * app_fixture.h — a real app for the unit tests of modules above the
 * store (holds, retention): a config file, a master key and a database in
 * the test's temp directory, opened with app_open as `redactd serve` opens
 * them (writer thread and all), and messages ingested through the real
 * pipeline (parse, redact, seal, store_submit). No mocks.
 */
#ifndef REDACTD_APP_FIXTURE_H
#define REDACTD_APP_FIXTURE_H

#include "app.h"
#include "audit.h"
#include "harness.h"
#include "ingest.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <sqlite3.h>

#define AFIXTURE static __attribute__((unused))

#define DAY_MS (86400LL * 1000)

/* TEST_TMPDIR()/name, in one of a few rotating buffers. */
AFIXTURE const char *afx_path(const char *name)
{
	static char bufs[8][512];
	static int i;
	char *p = bufs[i++ % 8];
	snprintf(p, 512, "%s/%s", TEST_TMPDIR(), name);
	return p;
}

/* Opens app on a new database `name`.db (key and config beside it), with
 * `retention` lines ("chat_transcript = 30d\n...") in [retention]. */
AFIXTURE int afx_open(struct app *app, const char *name, const char *retention)
{
	char conf[600], db[600], key[600], err[1024];
	int code;
	snprintf(db, sizeof db, "%s/%s.db", TEST_TMPDIR(), name);
	snprintf(key, sizeof key, "%s/%s.key", TEST_TMPDIR(), name);
	snprintf(conf, sizeof conf, "%s/%s.conf", TEST_TMPDIR(), name);
	if (access(key, F_OK) != 0 && crypto_keygen_file(key, err, sizeof err)) {
		fprintf(stderr, "keygen: %s\n", err);
		return -1;
	}
	FILE *f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "[server]\nlisten = 127.0.0.1:1\n\n[storage]\ndatabase = %s\nkey_file = %s\n\n"
	        "[retention]\n%s\n[channels]\nweb = chat_transcript\nsms = lead\n", db, key,
	        retention ? retention : "");
	fclose(f);
	if (app_open(app, conf, APP_SERVE, err, sizeof err, &code)) {
		fprintf(stderr, "app_open: %s\n", err);
		return -1;
	}
	return 0;
}

/* The writer's answer for afx_ingest, handed to the test's thread. */
struct afx_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ingest_job *job;
};

static void afx_on_done(void *arg, struct ingest_job *job)
{
	struct afx_wait *w = arg;
	pthread_mutex_lock(&w->lock);
	w->job = job;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Ingests one message (JSON object text) through the real pipeline
 * (ingest_messages: parse, redact, seal, group commit) and waits for its
 * commit. 0, or -1 (the error on stderr). */
AFIXTURE int afx_ingest(struct app *app, const char *json)
{
	struct ingest_options opt = { .channel = CH_WEB };
	struct afx_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL };
	const struct ingest_sink sink = { NULL, afx_on_done, &w };
	struct rd_error e = { 0 };
	struct app_snap *snap = app_snap_acquire(app);
	int rc = ingest_messages(app, snap, &opt, json, strlen(json), &sink, &e);
	app_snap_release(snap);   /* the job keeps its own */
	if (rc) {
		fprintf(stderr, "ingest: %s\n", e.message);
		return -1;
	}
	pthread_mutex_lock(&w.lock);
	while (!w.job)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	struct ingest_reply r;
	rc = ingest_job_reply(w.job, &r, &e);
	if (rc)
		fprintf(stderr, "ingest: %s\n", e.message);
	ingest_job_free(w.job);
	return rc ? -1 : 0;
}

/* A message of conversation conv at ts_ms (ms since the epoch), with text. */
AFIXTURE int afx_message(struct app *app, const char *tenant, const char *conv, int64_t ts_ms,
                         const char *channel, const char *text)
{
	char json[1024];
	snprintf(json, sizeof json, "{\"tenant\":\"%s\",\"conversation_id\":\"%s\",\"ts\":%lld,"
	         "\"channel\":\"%s\",\"text\":\"%s\"}", tenant, conv, (long long)(ts_ms / 1000),
	         channel, text);
	return afx_ingest(app, json);
}

/* A number from the database file with sqlite3 (the test looking; -1 on
 * error). */
AFIXTURE int64_t afx_count(const char *name, const char *sql)
{
	char db[600];
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;
	snprintf(db, sizeof db, "%s/%s.db", TEST_TMPDIR(), name);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

/* How many audit entries of this action the database holds. */
AFIXTURE int64_t afx_audit_count(const char *name, const char *action)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE action = '%s'", action);
	return afx_count(name, sql);
}

/* Runs sql on the database file with sqlite3 (tampering, as an attacker). */
AFIXTURE int afx_sql(const char *name, const char *sql)
{
	char db[600];
	sqlite3 *h = NULL;
	snprintf(db, sizeof db, "%s/%s.db", TEST_TMPDIR(), name);
	int rc = sqlite3_open(db, &h) == SQLITE_OK &&
	         sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(h);
	return rc;
}

AFIXTURE enum rd_err afx_verify_fn(struct store_tx *tx, void *arg)
{
	return audit_verify(tx, arg);
}

/* The audit chain verifies intact. */
AFIXTURE bool afx_audit_intact(struct app *app)
{
	struct audit_report r;
	return store_read(app->store, afx_verify_fn, &r) == RD_OK && r.fault == AUDIT_INTACT;
}

#endif
