/*
 * test_tenant_close.c — tenant closures (tenant_close.c, store_tenant.c)
 * on a real app and database: scheduling, the ingest refusal from the due
 * time, the sweeper's pass erasing everything of the tenant but what a
 * hold keeps, crypto-shredding of its keys, the closure's states and
 * audit entries, listing and cancelling.
 */
#include "app_fixture.h"
#include "retention.h"
#include "subject.h"
#include "tenant_close.h"

#include <sodium.h>

static const char *const retention = "chat_transcript = 0\nlead = 0\n";   /* kept forever */

static int fill(struct app *app, int64_t now)
{
	return afx_message(app, "acme", "c1", now - DAY_MS, "web", "jane@example.com wrote") ||
	       afx_message(app, "acme", "c1", now - DAY_MS + 1000, "web", "and again") ||
	       afx_message(app, "acme", "c2", now - 40 * DAY_MS, "sms", "a lead, call 07700 900123") ||
	       afx_message(app, "acme", "held", now - 2 * DAY_MS, "web", "kept by a hold") ||
	       afx_message(app, "beta", "b1", now - DAY_MS, "web", "beta's message");
}

static const json_t *find(const json_t *list, const char *name)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(list, "tenants"), i, t)
		if (!strcmp(json_string_value(json_object_get(t, "name")), name))
			return t;
	return NULL;
}

static const char *closure_state(struct app *app, const char *tenant)
{
	static char state[16];
	struct rd_error e;
	json_t *out = NULL;
	snprintf(state, sizeof state, "(error)");
	if (tenant_close_list(app, &out, &e) == 0) {
		const json_t *c = json_object_get(find(out, tenant), "closure");
		snprintf(state, sizeof state, "%s", c ? json_string_value(json_object_get(c, "state")) : "none");
	}
	json_decref(out);
	return state;
}

static void test_close(void)
{
	struct app app;
	struct rd_error e;
	struct retention_report r;
	json_t *out = NULL;
	int64_t now = util_now_ms(), due = 0;
	char hold[HOLDS_ID_LEN + 1];
	if (afx_open(&app, "close", retention) || fill(&app, now)) {
		CHECK(0, "close setup");
		return;
	}
	struct subject_query q = { SQ_CONVERSATION, "acme", "held" };
	CHECK(subject_hold_add(&app, &q, "dispute", "test", hold, &e) == 0, "a hold on acme's conversation");

	CHECK(tenant_close_schedule(&app, "acme", 3600, "test", &out, &e) == 0 &&
	      !strcmp(json_string_value(json_object_get(out, "state")), "pending"), "a closure in an hour");
	json_decref(out);
	CHECK(!tenant_close_refused(&app, "acme", util_now_ms(), NULL), "until it is due, ingest goes on");
	CHECK(tenant_close_refused(&app, "acme", util_now_ms() + 3601 * 1000LL, &due) &&
	      due >= now + 3600 * 1000LL, "from its due time ingest is refused");
	CHECK(!tenant_close_refused(&app, "beta", util_now_ms() + 3601 * 1000LL, NULL), "another tenant is open");
	CHECK(retention_pass(&app, "sweeper", false, NULL, &r) == 0 && r.purged == 0,
	      "a pass before the due time erases nothing");
	retention_report_free(&r);
	CHECK(!strcmp(closure_state(&app, "acme"), "pending"), "the closure is pending");

	CHECK(tenant_close_schedule(&app, "acme", 0, "test", &out, &e) == 0, "rescheduled: due now");
	json_decref(out);
	CHECK(afx_message(&app, "acme", "c3", now, "web", "too late") == -1, "ingest for acme is refused");
	CHECK(afx_message(&app, "beta", "b2", now, "web", "still open") == 0, "ingest for beta is not");
	CHECK(retention_pass(&app, "test", true, NULL, &r) == 0 && r.due == 3 && r.purged == 0,
	      "a dry run counts every unheld record of acme as due, whatever its horizon");
	retention_report_free(&r);
	CHECK(retention_pass(&app, "sweeper", false, NULL, &r) == 0 && r.purged == 3, "the pass erases them");
	retention_report_free(&r);
	CHECK(afx_count("close", "SELECT count(*) FROM erasure_journal WHERE kind = 'tenant'") == 0,
	      "no tenant entry in the journal while a held record remains");
	CHECK(afx_count("close", "SELECT count(*) FROM messages WHERE tenant = 'acme'") == 1 &&
	      afx_count("close", "SELECT count(*) FROM messages WHERE tenant = 'beta'") == 2,
	      "the held record stays, and beta's");
	CHECK(!strcmp(closure_state(&app, "acme"), "erasing"), "the closure is erasing");
	CHECK(afx_count("close", "SELECT count(*) FROM data_keys WHERE tenant = 'acme' AND wrapped IS NOT NULL") ==
	      1, "every acme key but the held record's is destroyed");
	CHECK(afx_audit_count("close", "tenant.close") == 2 && afx_audit_count("close", "tenant.close.erase") == 1 &&
	      afx_audit_count("close", "tenant.close.held") == 1 && afx_audit_count("close", "tenant.shred") == 1,
	      "scheduling, the erasure, the hold and the shredding are audited");
	CHECK(afx_count("close", "SELECT sum(count) FROM audit_log WHERE action = 'purge' AND target LIKE "
	                "'tenant:acme %'") == 3, "the purges are audited per category");

	CHECK(holds_remove(&app, NULL, hold, "test", &e) == 0, "the hold is released");
	CHECK(retention_pass(&app, "sweeper", false, NULL, &r) == 0 && r.purged == 1, "the next pass erases it");
	retention_report_free(&r);
	CHECK(!strcmp(closure_state(&app, "acme"), "done"), "the closure is done");
	CHECK(afx_count("close", "SELECT count(*) FROM data_keys WHERE tenant = 'acme' AND wrapped IS NOT NULL") ==
	      0 && afx_count("close", "SELECT count(*) FROM data_keys WHERE tenant = 'beta' AND wrapped IS NOT NULL") >=
	      1, "no acme key is left; beta's stay");
	CHECK(afx_audit_count("close", "tenant.close.done") == 1, "done is audited");
	CHECK(afx_count("close", "SELECT count(*) FROM erasure_journal WHERE kind = 'tenant' AND tenant = 'acme'") == 1,
	      "done is in the erasure journal, so a restored backup forgets the tenant too");
	CHECK(retention_pass(&app, "sweeper", false, NULL, &r) == 0 && r.purged == 0 &&
	      afx_audit_count("close", "tenant.close.done") == 1, "a later pass audits no second done");
	retention_report_free(&r);

	CHECK(tenant_close_list(&app, &out, &e) == 0 && find(out, "acme") && find(out, "beta") &&
	      json_integer_value(json_object_get(find(out, "beta"), "records")) == 2 &&
	      !json_object_get(find(out, "beta"), "closure") &&
	      json_object_get(json_object_get(find(out, "acme"), "closure"), "done"),
	      "the list shows both tenants, acme's closure with its end");
	json_decref(out);

	CHECK(tenant_close_cancel(&app, "acme", "test", &e) == 0, "cancel reopens acme");
	CHECK(afx_message(&app, "acme", "c4", now, "web", "a new contract") == 0, "acme takes messages again");
	CHECK(tenant_close_cancel(&app, "acme", "test", &e) == -1 && e.err == RD_E_NOT_FOUND,
	      "cancelling no closure is not found");
	CHECK(tenant_close_schedule(&app, "bad name", 10, "test", &out, &e) == -1 && e.err == RD_E_INVALID_PATH,
	      "an invalid name is refused");
	CHECK(tenant_close_schedule(&app, "acme", TENANT_CLOSE_MAX_AFTER_S + 1, "test", &out, &e) == -1 &&
	      e.err == RD_E_INVALID_FIELD, "more than ten years is refused");
	CHECK(afx_audit_intact(&app), "the audit chain verifies");
	app_close(&app);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_close();
	return TEST_DONE();
}
