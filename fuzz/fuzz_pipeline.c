/*
 * libFuzzer harness: the whole in-memory ingest pipeline, through reloads.
 *
 * Each input is a request body taken as POST /v1/messages takes it: parsed,
 * validated, redacted, sealed with a real data key of a real SQLite store
 * and committed by its writer (ingest_messages, as the HTTP layer calls
 * it). The last committed job is held and answered only after the next
 * input, and every 32nd input the config is reloaded first, so jobs built
 * with one engine are answered after it was replaced, as with SIGHUP in the
 * daemon; every reply must then be valid JSON naming only real entities.
 * Inputs starting with "?r" ask for ?return=redacted; "?v" for the voice
 * channel (spoken forms).
 */
#include "app.h"
#include "crypto.h"
#include "ingest.h"
#include "log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct app app;
static struct ingest_job *held;     /* answered after the next input or reload */

/* The writer's answer, handed from its thread to the fuzzing one. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct ingest_job *arrived;

static void on_done(void *arg, struct ingest_job *job)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	arrived = job;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static struct ingest_job *wait_done(void)
{
	pthread_mutex_lock(&lock);
	while (!arrived)
		pthread_cond_wait(&cond, &lock);
	struct ingest_job *j = arrived;
	arrived = NULL;
	pthread_mutex_unlock(&lock);
	return j;
}

static void setup(void)
{
	char dir[] = "/tmp/redactd-fuzz-pipeline-XXXXXX", path[256], key[256], err[4096];
	if (!mkdtemp(dir))
		abort();
	snprintf(key, sizeof key, "%s/master.key", dir);
	snprintf(path, sizeof path, "%s/redactd.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f || crypto_keygen_file(key, err, sizeof err))
		abort();
	fprintf(f, "[storage]\ndatabase = %s/redactd.db\nkey_file = %s\nsynchronous = normal\n"
	           "[rule \"ticket\"]\npattern = TCK-[0-9]{4}\nentity = TICKET\n", dir, key);
	fclose(f);
	log_set_level(LOG_ERROR);
	int code;
	if (app_open(&app, path, APP_SERVE, err, sizeof err, &code)) {
		fprintf(stderr, "fuzz_pipeline: %s\n", err);
		abort();
	}
}

/* Every key of "findings" is an entity name: A-Z 0-9 _ only. */
static void check_reply(const char *body, size_t len)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr);
	json_t *findings = json_object_get(doc, "findings");
	if (!json_is_object(findings))
		abort();
	const char *name;
	json_t *v;
	json_object_foreach(findings, name, v) {
		for (const char *p = name; *p; p++)
			if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
				abort();
		if (!json_is_integer(v))
			abort();
	}
	json_decref(doc);
}

static void answer(struct ingest_job *j)
{
	struct ingest_reply r;
	struct rd_error e;
	if (ingest_job_reply(j, &r, &e) == 0)
		check_reply(r.body, r.len);
	ingest_job_free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;
	if (!app.snap)
		setup();
	struct ingest_options opt = { .channel = CH_WEB };
	if (size >= 2 && data[0] == '?') {
		opt.return_redacted = data[1] == 'r';
		opt.channel = data[1] == 'v' ? CH_VOICE : CH_WEB;
		data += 2;
		size -= 2;
	}
	struct rd_error e;
	struct ingest_sink sink = { NULL, on_done, NULL };
	struct app_snap *snap = app_snap_acquire(&app);
	if (ingest_messages(&app, snap, &opt, (const char *)data, size, &sink, &e) == 0) {
		struct ingest_job *j = wait_done();
		if (held)
			answer(held);
		held = j;
	}
	app_snap_release(snap);   /* the held job keeps its own reference */
	if (++runs % 32 == 0) {
		char err[4096];
		if (app_reload(&app, err, sizeof err))
			abort();   /* the same file: a reload must succeed */
		if (held)
			answer(held);
		held = NULL;
	}
	return 0;
}
