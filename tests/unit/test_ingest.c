/*
 * test_ingest.c — a request body to committed records, against a real
 * SQLite store (with its writer thread) in the test's temporary directory:
 * parsing, validation with each error's rd_err, redaction of text and
 * metadata, sealing, the hand-over and its callbacks, all-or-nothing
 * batches, a full queue, and a job answered after a reload replaced the
 * engine that named its findings. Records are read back through read.c.
 */
#include "harness.h"
#include "app.h"
#include "crypto.h"
#include "ingest.h"
#include "log.h"
#include "read.h"

#include <pthread.h>

static struct app app;
static char conf_path[512];

/* The writer's answers, handed over to the test's thread. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct ingest_job *arrived[8];
static int narrived, submitting_calls;

static void on_submitting(void *arg)
{
	(void)arg;
	submitting_calls++;   /* on the calling thread, before the hand-over */
}

static void on_done(void *arg, struct ingest_job *job)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	arrived[narrived++] = job;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static struct ingest_job *wait_job(void)
{
	pthread_mutex_lock(&lock);
	while (narrived == 0)
		pthread_cond_wait(&cond, &lock);
	struct ingest_job *j = arrived[0];
	memmove(arrived, arrived + 1, (size_t)--narrived * sizeof *arrived);
	pthread_mutex_unlock(&lock);
	return j;
}

static const struct ingest_sink sink = { on_submitting, on_done, NULL };

static void write_config(const char *extra)
{
	char key[512], err[512];
	const char *dir = TEST_TMPDIR();
	snprintf(key, sizeof key, "%s/master.key", dir);
	snprintf(conf_path, sizeof conf_path, "%s/redactd.conf", dir);
	if (access(key, F_OK) != 0 && crypto_keygen_file(key, err, sizeof err)) {
		fprintf(stderr, "keygen: %s\n", err);
		exit(2);
	}
	FILE *f = fopen(conf_path, "w");
	if (!f)
		exit(2);
	fprintf(f, "[storage]\ndatabase = %s/redactd.db\nkey_file = %s\nsynchronous = normal\n"
	           "queue_size = 16\n%s", dir, key, extra);
	fclose(f);
}

/* Ingests body and waits for its commit: 0 and the reply (caller frees),
 * or -1 with e (refused before the store, or by it). */
static int ingest(const struct ingest_options *opt, const char *body, char **reply,
                  struct rd_error *e)
{
	struct app_snap *snap = app_snap_acquire(&app);
	int rc = ingest_messages(&app, snap, opt, body, strlen(body), &sink, e);
	app_snap_release(snap);   /* the job keeps its own */
	if (rc)
		return -1;
	struct ingest_job *j = wait_job();
	struct ingest_reply r;
	rc = ingest_job_reply(j, &r, e);
	if (rc == 0)
		*reply = strndup(r.body, r.len);
	ingest_job_free(j);
	return rc;
}

static json_t *read_back(const char *tenant, const char *conv, struct rd_error *e)
{
	json_t *out = NULL;
	struct buf text = { 0 };
	struct app_snap *snap = app_snap_acquire(&app);
	if (read_conversation(&app, snap, tenant, conv, NULL, "test", &text, e) == 0)
		out = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, NULL);
	app_snap_release(snap);
	buf_free(&text);
	return out;
}

static void test_batch(void)
{
	struct ingest_options opt = { .channel = CH_WEB };
	struct rd_error e;
	char *reply = NULL;
	int before = submitting_calls;
	int rc = ingest(&opt,
	                "{\"messages\":[{\"conversation_id\":\"c1\",\"text\":\"mail jane.doe@example.com\"},"
	                "{\"conversation_id\":\"c1\",\"text\":\"call +44 7700 900123\",\"role\":\"agent\","
	                "\"metadata\":{\"from\":\"bob@example.org\",\"n\":3}}]}",
	                &reply, &e);
	CHECK(rc == 0, "batch: committed");
	CHECK(submitting_calls == before + 1, "batch: submitting called once, before the hand-over");
	json_t *r = reply ? json_loads(reply, 0, NULL) : NULL;
	CHECK(json_array_size(json_object_get(r, "ids")) == 2, "batch: two ids");
	json_t *fi = json_object_get(r, "findings");
	CHECK(json_integer_value(json_object_get(fi, "EMAIL")) == 2, "batch: EMAIL in text and metadata");
	CHECK(json_integer_value(json_object_get(fi, "PHONE")) == 1, "batch: PHONE counted");
	CHECK(!json_object_get(r, "redacted"), "batch: no redacted text unless asked");
	CHECK(reply && !strstr(reply, "jane.doe") && !strstr(reply, "7700"), "batch: reply holds no PII");
	json_decref(r);
	free(reply);

	json_t *conv = read_back("default", "c1", &e);
	json_t *msgs = json_object_get(conv, "messages");
	CHECK(json_array_size(msgs) == 2, "batch: both read back");
	const char *t0 = json_string_value(json_object_get(json_array_get(msgs, 0), "text"));
	const char *t1 = json_string_value(json_object_get(json_array_get(msgs, 1), "text"));
	CHECK(t0 && !strstr(t0, "jane.doe") && strstr(t0, "mail "), "batch: text stored redacted");
	CHECK(t1 && !strstr(t1, "7700"), "batch: phone stored redacted");
	json_t *m1 = json_array_get(msgs, 1);
	const char *from = json_string_value(json_object_get(json_object_get(m1, "metadata"), "from"));
	CHECK(from && !strstr(from, "bob@"), "batch: metadata string redacted");
	CHECK(json_integer_value(json_object_get(json_object_get(m1, "metadata"), "n")) == 3,
	      "batch: metadata number kept");
	CHECK_STR(json_string_value(json_object_get(m1, "role")), "agent", "batch: role stored");
	CHECK(json_array_size(json_object_get(m1, "findings")) == 2, "batch: findings of text and metadata");
	json_decref(conv);
}

static void test_return_redacted(void)
{
	struct ingest_options opt = { .channel = CH_VOICE, .return_redacted = true, .default_tenant = "acme" };
	struct rd_error e;
	char *reply = NULL;
	CHECK(ingest(&opt, "{\"conversation_id\":\"v1\",\"text\":\"write to ann@example.com\"}", &reply,
	             &e) == 0, "redacted: committed into the bound tenant");
	json_t *r = reply ? json_loads(reply, 0, NULL) : NULL;
	const char *red = json_string_value(json_array_get(json_object_get(r, "redacted"), 0));
	CHECK(red && strstr(red, "write to ") && !strstr(red, "ann@"), "redacted: text in the reply");
	json_decref(r);
	free(reply);
	json_t *conv = read_back("acme", "v1", &e);
	json_t *m = json_array_get(json_object_get(conv, "messages"), 0);
	CHECK_STR(json_string_value(json_object_get(m, "channel")), "voice", "redacted: default channel");
	json_decref(conv);
	CHECK(!read_back("default", "v1", &e) && e.err == RD_E_NOT_FOUND, "redacted: not in another tenant");
}

struct bad_case {
	const char *body;
	const char *bound;
	enum rd_err err;
	const char *name;
};

static const struct bad_case bad_cases[] = {
	{ "", NULL, RD_E_INVALID_JSON, "empty body" },
	{ "{\"conversation_id\":", NULL, RD_E_INVALID_JSON, "truncated JSON" },
	{ "{\"conversation_id\":\"c\",\"text\":\"\xff\"}", NULL, RD_E_INVALID_UTF8, "invalid UTF-8" },
	{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	  "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	  NULL, RD_E_TOO_DEEP, "too deep" },
	{ "{\"messages\":{}}", NULL, RD_E_INVALID_BODY, "messages not an array" },
	{ "[1]", NULL, RD_E_INVALID_FIELD, "a message not an object" },
	{ "{\"messages\":[]}", NULL, RD_E_INVALID_BODY, "empty batch" },
	{ "{\"messages\":[],\"x\":1}", NULL, RD_E_INVALID_BODY, "batch with another key" },
	{ "{\"conversation_id\":\"c\"}", NULL, RD_E_MISSING_FIELD, "no text" },
	{ "{\"text\":\"t\"}", NULL, RD_E_MISSING_FIELD, "no conversation_id" },
	{ "{\"conversation_id\":\"c\",\"text\":1}", NULL, RD_E_INVALID_FIELD, "text not a string" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"colour\":1}", NULL, RD_E_UNKNOWN_FIELD,
	  "unknown field" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"role\":\"boss\"}", NULL, RD_E_INVALID_FIELD,
	  "bad role" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"channel\":\"fax\"}", NULL, RD_E_INVALID_FIELD,
	  "bad channel" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"category\":\"nope\"}", NULL, RD_E_INVALID_FIELD,
	  "unknown category" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"ts\":\"yesterday\"}", NULL, RD_E_INVALID_FIELD,
	  "bad ts" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"metadata\":{\"a\":{}}}", NULL, RD_E_INVALID_FIELD,
	  "nested metadata" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"tenant\":\"a b\"}", NULL, RD_E_INVALID_FIELD,
	  "invalid tenant" },
	{ "{\"conversation_id\":\"c\",\"text\":\"t\",\"tenant\":\"other\"}", "acme", RD_E_FORBIDDEN,
	  "tenant of another token" },
	{ "{\"messages\":[{\"conversation_id\":\"bad1\",\"text\":\"ok\"},"
	  "{\"conversation_id\":\"bad1\",\"text\":\"x\",\"role\":7}]}", NULL, RD_E_INVALID_FIELD,
	  "one bad message in a batch" },
};

static void test_refused(void)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct ingest_options opt = { .channel = CH_WEB, .default_tenant = c->bound };
		struct rd_error e = { .err = RD_OK };
		char *reply = NULL, name[128];
		int before = submitting_calls;
		int rc = ingest(&opt, c->body, &reply, &e);
		snprintf(name, sizeof name, "refused: %s -> %s", c->name, rd_err_code(c->err));
		CHECK(rc == -1 && e.err == c->err && submitting_calls == before, name);
		if (e.err != c->err)
			printf("#   got %s: %s\n", rd_err_code(e.err), e.message);
		free(reply);
	}
	struct rd_error e;
	CHECK(!read_back("default", "bad1", &e) && e.err == RD_E_NOT_FOUND,
	      "refused: a batch with one bad message stores nothing");
}

/* A paused writer takes no work: a second batch finds the queue (16) full. */
static void test_busy(void)
{
	struct ingest_options opt = { .channel = CH_WEB };
	struct rd_error e;
	struct buf body = { 0 };
	(void)!buf_append_str(&body, "{\"messages\":[");
	for (int i = 0; i < 10; i++)
		(void)!buf_printf(&body, "%s{\"conversation_id\":\"q\",\"text\":\"n%d\"}", i ? "," : "", i);
	(void)!buf_append_str(&body, "]}");
	store_pause_writer(app.store, true);
	struct app_snap *snap = app_snap_acquire(&app);
	int first = ingest_messages(&app, snap, &opt, body.data, body.len, &sink, &e);
	int second = ingest_messages(&app, snap, &opt, body.data, body.len, &sink, &e);
	app_snap_release(snap);
	CHECK(first == 0 && second == 0, "busy: both handed over");
	struct ingest_job *j = wait_job();   /* the refused one answers at once */
	struct ingest_reply r;
	CHECK(ingest_job_reply(j, &r, &e) == -1 && e.err == RD_E_BUSY, "busy: RD_E_BUSY");
	ingest_job_free(j);
	store_pause_writer(app.store, false);
	j = wait_job();
	CHECK(ingest_job_reply(j, &r, &e) == 0 && r.count == 10,
	      "busy: the first commits once the writer runs");
	ingest_job_free(j);
	buf_free(&body);
}

/* Issue 11: a job answered after SIGHUP replaced the engine whose entity
 * names its findings point to. Under ASan a freed name would be reported. */
static void test_reply_after_reload(void)
{
	struct ingest_options opt = { .channel = CH_WEB };
	struct rd_error e;
	char err[1024];
	static const char body[] =
		"{\"conversation_id\":\"r1\",\"text\":\"ticket TCK-1234 for x@example.com\"}";
	struct app_snap *snap = app_snap_acquire(&app);
	int rc = ingest_messages(&app, snap, &opt, body, sizeof body - 1, &sink, &e);
	app_snap_release(snap);
	struct ingest_job *j = rc == 0 ? wait_job() : NULL;
	CHECK(j != NULL, "reload: job committed");
	write_config("[rule \"ticket\"]\npattern = TCK-[0-9]{5}\nentity = TICKET_NEW\n");
	CHECK(app_reload(&app, err, sizeof err) == 0, "reload: accepted");
	CHECK(app_reload(&app, err, sizeof err) == 0, "reload: twice");
	struct ingest_reply rep = { 0 };
	CHECK(j && ingest_job_reply(j, &rep, &e) == 0, "reload: job answered after it");
	CHECK(rep.count == 1 && rep.first_id && !strncmp(rep.first_id, "m_", 2), "reload: its record id");
	json_t *r = rep.body ? json_loadb(rep.body, rep.len, 0, NULL) : NULL;
	json_t *fi = json_object_get(r, "findings");
	CHECK(json_integer_value(json_object_get(fi, "TICKET")) == 1 &&
	      json_integer_value(json_object_get(fi, "EMAIL")) == 1,
	      "reload: findings named by the engine that found them");
	json_decref(r);
	ingest_job_free(j);
}

int main(void)
{
	char err[1024];
	int code;
	log_set_level(LOG_ERROR);
	write_config("[rule \"ticket\"]\npattern = TCK-[0-9]{4}\nentity = TICKET\n");
	if (app_open(&app, conf_path, APP_SERVE, err, sizeof err, &code)) {
		fprintf(stderr, "app_open: %s\n", err);
		return 2;
	}
	test_batch();
	test_return_redacted();
	test_refused();
	test_busy();
	test_reply_after_reload();
	app_close(&app);
	return TEST_DONE();
}
