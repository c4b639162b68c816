/*
 * test_retention.c — the sweeper's pass on a real app and database: what a
 * dry run reports, a pass in small batches purging exactly what is due,
 * one audit entry per (tenant, category), counts pending from an
 * interrupted pass still audited, a stopped pass rolling its batch back,
 * crypto-shredding after the purge, the stats and the /metrics gauges.
 */
#include "app_fixture.h"
#include "retention.h"
#include "store_retention.h"

#include <stdatomic.h>

static const char retention[] =
	"chat_transcript = 30d\nlead = 7d\ndefault = 730d\nsweep_batch = 2\n";

static int64_t now_ms;

/* acme: 3 chat records 100 days old (conversation old), 2 of 10 days
 * (conversation new), 1 lead record of 20 days; beta: 1 chat record of 100
 * days. Due: 5. */
static int fill(struct app *app)
{
	int64_t d100 = now_ms - 100 * DAY_MS, d10 = now_ms - 10 * DAY_MS, d20 = now_ms - 20 * DAY_MS;
	return afx_message(app, "acme", "old", d100, "web", "jane@example.com wrote") ||
	       afx_message(app, "acme", "old", d100 + 1000, "web", "and again") ||
	       afx_message(app, "acme", "old", d100 + 2000, "web", "call +44 7700 900123") ||
	       afx_message(app, "acme", "new", d10, "web", "recent") ||
	       afx_message(app, "acme", "new", d10 + 1000, "web", "recent too") ||
	       afx_message(app, "acme", "lead-1", d20, "sms", "a lead") ||
	       afx_message(app, "beta", "old", d100, "web", "beta's old one");
}

static const struct retention_line *line(const struct retention_report *r, const char *tenant,
                                         const char *category)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->lines[i].tenant, tenant) && !strcmp(r->lines[i].category, category))
			return &r->lines[i];
	return NULL;
}

static void test_dry_run_and_pass(void)
{
	struct app app;
	struct retention_report r;
	if (afx_open(&app, "pass", retention) || fill(&app)) {
		CHECK(0, "pass setup");
		return;
	}
	CHECK(retention_pass(&app, "test", RETENTION_DRY_RUN, NULL, &r) == 0, "a dry run, not counting");
	const struct retention_line *h = line(&r, "acme", "chat_transcript");
	CHECK(h && h->records == -1 && h->due == 3 && r.due == 5 && r.n == 3,
	      "the same groups and due counts, records not counted (the daemon's passes)");
	retention_report_free(&r);
	CHECK(retention_pass(&app, "test", RETENTION_DRY_RUN | RETENTION_COUNT, NULL, &r) == 0,
	      "a dry run, counting (redactd sweep)");
	const struct retention_line *l = line(&r, "acme", "chat_transcript");
	CHECK(l && l->records == 5 && l->due == 3 && l->purged == 0 && l->horizon_s == 30 * 86400,
	      "acme chat: 5 records, 3 past 30 days");
	l = line(&r, "acme", "lead");
	CHECK(l && l->records == 1 && l->due == 1 && l->horizon_s == 7 * 86400,
	      "acme lead: 1 past 7 days");
	CHECK(r.due == 5 && r.purged == 0 && r.n == 3, "5 due in 3 groups, nothing purged");
	retention_report_free(&r);
	CHECK(afx_count("pass", "SELECT count(*) FROM messages") == 7, "a dry run deletes nothing");
	CHECK(afx_count("pass", "SELECT count(*) FROM audit_log") == 0, "and audits nothing");

	struct buf m = { 0 };
	CHECK(retention_render_metrics(&app, &m) == 0 && m.data &&
	      strstr(m.data, "redactd_retention_overdue_records"
	                     "{tenant=\"acme\",category=\"chat_transcript\"} 3\n"),
	      "/metrics shows the 3 overdue records");
	buf_free(&m);

	CHECK(retention_pass(&app, "test", 0, NULL, &r) == 0 && r.purged == 5 && !r.stopped,
	      "a pass in batches of 2 purges the 5");
	CHECK((l = line(&r, "acme", "chat_transcript")) && l->purged == 3, "3 of acme's chat");
	CHECK(!r.residue_pending, "and nothing of them is left in the files");
	retention_report_free(&r);
	CHECK(afx_count("pass", "SELECT count(*) FROM messages") == 2 &&
	      afx_count("pass", "SELECT count(*) FROM messages WHERE ts_ms < "
	                "(strftime('%s','now') - 30 * 86400) * 1000") == 0,
	      "the 2 recent records are left");
	CHECK(afx_count("pass", "SELECT count(*) FROM audit_log WHERE action = 'purge'") == 3 &&
	      afx_count("pass", "SELECT count FROM audit_log WHERE action = 'purge' AND target ="
	                " 'tenant:acme category:chat_transcript'") == 3,
	      "one purge entry per (tenant, category), with its count");
	CHECK(afx_count("pass", "SELECT count(*) FROM retention_pending") == 0, "no count left pending");
	CHECK(afx_count("pass", "SELECT count(*) FROM subjects WHERE conv_hash NOT IN"
	                " (SELECT conv_hash FROM messages)") == 0, "no subject link outlives its records");
	CHECK(afx_count("pass", "SELECT count(*) FROM data_keys WHERE wrapped IS NULL") >= 1,
	      "the emptied months' data keys are destroyed");

	CHECK(retention_pass(&app, "test", 0, NULL, &r) == 0 && r.purged == 0,
	      "a second pass purges nothing");
	retention_report_free(&r);
	CHECK(afx_audit_count("pass", "sweep") == 1, "and leaves a sweep entry that it ran");
	CHECK(afx_audit_intact(&app), "the audit chain verifies");
	app_close(&app);
}

struct pending_args {
	const char *tenant, *category;
	int64_t n;
};

static enum rd_err pending_fn(struct store_tx *tx, void *arg)
{
	const struct pending_args *a = arg;
	return store_retention_add(tx, a->tenant, a->category, a->n);
}

/* A pass that died after some batches committed left their counts in
 * retention_pending: the next pass audits them, even for a group with no
 * records left. */
static void test_pending_counts(void)
{
	struct app app;
	struct retention_report r;
	struct pending_args a = { "gone", "chat_transcript", 7 };
	if (afx_open(&app, "pending", retention) || fill(&app)) {
		CHECK(0, "pending setup");
		return;
	}
	CHECK(store_exec(app.store, pending_fn, &a) == RD_OK &&
	      store_exec(app.store, pending_fn, &a) == RD_OK, "two batches' counts pending");
	CHECK(afx_count("pending", "SELECT purged FROM retention_pending") == 14, "they add up");
	CHECK(retention_pass(&app, "test", 0, NULL, &r) == 0 && r.purged == 5 &&
	      line(&r, "gone", "chat_transcript") != NULL, "the pass includes the pending group");
	retention_report_free(&r);
	CHECK(afx_count("pending", "SELECT count FROM audit_log WHERE action = 'purge' AND target ="
	                " 'tenant:gone category:chat_transcript'") == 14, "its count is audited");
	CHECK(afx_count("pending", "SELECT count(*) FROM retention_pending") == 0, "and taken");
	app_close(&app);
}

/* retention_stop's flag: the batch in progress rolls back whole. */
static void test_stopped(void)
{
	struct app app;
	struct retention_report r;
	atomic_bool stop;
	atomic_init(&stop, true);
	if (afx_open(&app, "stop", retention) || fill(&app)) {
		CHECK(0, "stop setup");
		return;
	}
	CHECK(retention_pass(&app, "test", 0, &stop, &r) == 0 && r.stopped && r.purged == 0,
	      "a stopped pass reports it and purges nothing");
	retention_report_free(&r);
	CHECK(afx_count("stop", "SELECT count(*) FROM messages") == 7 &&
	      afx_count("stop", "SELECT count(*) FROM retention_pending") == 0,
	      "its batch rolled back, count and all");
	atomic_store(&stop, false);
	CHECK(retention_pass(&app, "test", 0, &stop, &r) == 0 && r.purged == 5,
	      "the next pass does it");
	retention_report_free(&r);
	app_close(&app);
}

static void test_stats(void)
{
	struct app app;
	json_t *s = NULL;
	if (afx_open(&app, "stats", retention) || fill(&app)) {
		CHECK(0, "stats setup");
		return;
	}
	CHECK(retention_stats(&app, &s) == 0, "stats");
	json_t *acme = json_object_get(json_object_get(s, "tenants"), "acme");
	json_t *chat = json_object_get(json_object_get(acme, "categories"), "chat_transcript");
	CHECK(json_integer_value(json_object_get(chat, "records")) == 5 &&
	      json_integer_value(json_object_get(chat, "horizon_s")) == 30 * 86400 &&
	      json_is_true(json_object_get(chat, "overdue")), "acme chat: 5 records, overdue");
	CHECK(json_integer_value(json_object_get(json_object_get(acme, "entities"), "EMAIL")) == 1 &&
	      json_integer_value(json_object_get(json_object_get(acme, "entities"), "PHONE")) == 1,
	      "entity totals per tenant");
	CHECK(json_integer_value(json_object_get(s, "holds")) == 0 &&
	      json_integer_value(json_object_get(s, "audit_entries")) == 0 &&
	      json_is_false(json_object_get(json_object_get(s, "residue"), "pending")),
	      "holds, audit entries, residue");
	json_decref(s);
	app_close(&app);
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	now_ms = util_now_ms();
	test_dry_run_and_pass();
	test_pending_counts();
	test_stopped();
	test_stats();
	return TEST_DONE();
}
