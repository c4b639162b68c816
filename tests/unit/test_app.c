/*
 * test_app.c — reload snapshots: one taken before a reload stays whole and
 * usable (its config, engine and keys) until released, and is freed after;
 * a refused reload publishes nothing; the keyring is shared while the
 * master key is unchanged; threads taking and dropping snapshots while
 * reloads go on never see a freed one (run under `make asan` to be sure).
 */
#include "harness.h"
#include "app.h"
#include "crypto.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>

static struct app app;
static char conf_path[512];

static void write_config(const char *rule_digits, const char *entity)
{
	char key[512], err[512];
	const char *dir = TEST_TMPDIR();
	snprintf(key, sizeof key, "%s/master.key", dir);
	snprintf(conf_path, sizeof conf_path, "%s/redactd.conf", dir);
	if (access(key, F_OK) != 0 && crypto_keygen_file(key, err, sizeof err))
		exit(2);
	FILE *f = fopen(conf_path, "w");
	if (!f)
		exit(2);
	fprintf(f, "[storage]\ndatabase = %s/redactd.db\nkey_file = %s\nsynchronous = normal\n"
	           "[rule \"ticket\"]\npattern = TCK-[0-9]{%s}\nentity = %s\n",
	        dir, key, rule_digits, entity);
	fclose(f);
}

/* The entity the snapshot's engine finds in text, or NULL. */
static const char *finds(const struct app_snap *s, const char *text, char *out, size_t outlen)
{
	struct redact_result res = { 0 };
	const char *found = NULL;
	if (redact_run(s->redact, "default", CH_WEB, text, strlen(text), &res) == 0 && res.nfindings) {
		snprintf(out, outlen, "%s", res.findings[0].entity);
		found = out;
	}
	redact_result_free(&res);
	return found;
}

static void test_outlives_reload(void)
{
	char err[1024], a[64], b[64];
	struct app_snap *s1 = app_snap_acquire(&app);
	CHECK(s1 == app.snap && app_snap_live() == 1, "snapshot: the current one, and only one");
	write_config("5", "TICKET_NEW");
	CHECK(app_reload(&app, err, sizeof err) == 0, "snapshot: reload accepted");
	CHECK(app.snap != s1 && app_snap_live() == 2, "snapshot: a new one published, the old one kept");
	struct app_snap *s2 = app_snap_acquire(&app);
	CHECK(s2 == app.snap, "snapshot: acquire gives the new one");
	CHECK_STR(finds(s1, "ref TCK-1234 ok", a, sizeof a), "TICKET", "snapshot: old engine still redacts");
	CHECK_STR(finds(s2, "ref TCK-12345 ok", b, sizeof b), "TICKET_NEW", "snapshot: new engine in force");
	CHECK(config_category_known(s1->cfg, "chat_transcript"), "snapshot: old config still readable");
	CHECK(s1->keys && s1->keys == s2->keys, "snapshot: an unchanged keyring is shared, not reloaded");
	app_snap_release(s1);
	CHECK(app_snap_live() == 1, "snapshot: freed when its last holder releases it");
	CHECK(app_snap_live() == 1 && s2->keys, "snapshot: the shared keyring stays with the new one");
	app_snap_release(s2);
	CHECK(app_snap_live() == 1, "snapshot: the current one stays while the app holds it");

	struct app_snap *before = app.snap;
	FILE *f = fopen(conf_path, "a");
	if (f) {
		fputs("[rule \"broken\"]\npattern = ([a-z\nentity = X\n", f);
		fclose(f);
	}
	CHECK(app_reload(&app, err, sizeof err) != 0, "snapshot: a bad config is refused");
	CHECK(app.snap == before && app_snap_live() == 1, "snapshot: a refused reload publishes nothing");
	write_config("5", "TICKET_NEW");
}

/* A batch-like holder: a reference taken from a request's, kept past it. */
static void test_ref_past_holder(void)
{
	char err[1024], a[64];
	struct app_snap *req = app_snap_acquire(&app);
	struct app_snap *batch = app_snap_ref(req);
	app_snap_release(req);
	write_config("6", "TICKET_SIX");
	CHECK(app_reload(&app, err, sizeof err) == 0, "ref: reload while a batch waits");
	CHECK_STR(finds(batch, "TCK-12345", a, sizeof a), "TICKET_NEW", "ref: the batch's engine is intact");
	CHECK(app_snap_live() == 2, "ref: kept alive by the batch alone");
	app_snap_release(batch);
	CHECK(app_snap_live() == 1, "ref: freed with the batch");
}

static atomic_bool stop;
static atomic_int rounds;

static void *taker(void *arg)
{
	(void)arg;
	char out[64];
	while (!atomic_load(&stop)) {
		struct app_snap *s = app_snap_acquire(&app);
		struct app_snap *extra = app_snap_ref(s);
		(void)finds(s, "mail a@example.com", out, sizeof out);
		app_snap_release(s);
		(void)config_category_known(extra->cfg, "chat_transcript");
		app_snap_release(extra);
		atomic_fetch_add(&rounds, 1);
	}
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t t[4];
	char err[1024];
	int ok = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, taker, NULL);
	for (int i = 0; i < 40; i++) {
		write_config(i % 2 ? "4" : "5", i % 2 ? "TICKET" : "TICKET_NEW");
		ok += app_reload(&app, err, sizeof err) == 0;
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(ok == 40, "concurrent: 40 reloads while 4 threads take snapshots");
	CHECK(atomic_load(&rounds) > 0, "concurrent: the threads ran");
	CHECK(app_snap_live() == 1, "concurrent: every replaced snapshot was freed");
}

int main(void)
{
	char err[1024];
	int code;
	log_set_level(LOG_ERROR);
	write_config("4", "TICKET");
	if (app_open(&app, conf_path, APP_SERVE, err, sizeof err, &code)) {
		fprintf(stderr, "app_open: %s\n", err);
		return 2;
	}
	test_outlives_reload();
	test_ref_past_holder();
	test_concurrent();
	app_close(&app);
	CHECK(app_snap_live() == 0, "close: the last snapshot freed");
	return TEST_DONE();
}
