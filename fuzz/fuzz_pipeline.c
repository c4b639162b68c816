/*
 * libFuzzer harness: the whole in-memory ingest pipeline, through reloads.
 *
 * Each input is a request body taken as POST /v1/messages takes it: parsed,
 * validated, redacted, sealed with a real data key of a real SQLite store,
 * and answered as after a commit (the commit itself is the store's and the
 * e2e tests'). Every 32nd input the config is reloaded, so batches built
 * with one engine are answered after it was replaced, as with SIGHUP in
 * the daemon; every reply must then be valid JSON naming only real entities.
 * Inputs starting with "?r" ask for ?return=redacted; "?v" for the voice
 * channel (spoken forms).
 */
#include "app.h"
#include "crypto.h"
#include "ingest.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct app app;
static struct ingest_batch *held;   /* answered after the next reload */

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
static void check_reply(const struct buf *reply)
{
	json_error_t jerr;
	json_t *doc = json_loadb(reply->data, reply->len, 0, &jerr);
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

static void answer(struct ingest_batch *b)
{
	struct buf reply = { 0 };
	struct rd_error e;
	if (ingest_batch_reply(&app, b, 0, &reply, &e) == 0)
		check_reply(&reply);
	buf_free(&reply);
	ingest_batch_free(b);
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
	struct ingest_batch *b = NULL;
	struct rd_error e;
	struct app_snap *snap = app_snap_acquire(&app);
	if (ingest_prepare(&app, snap, &opt, (const char *)data, size, &b, &e) == 0) {
		if (held)
			answer(held);
		held = b;
	}
	app_snap_release(snap);   /* the held batch keeps its own reference */
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
