/*
 * test_holds.c — legal holds on a real app and database: add, list (the
 * sealed document opens, and fails to once moved), remove, tenants kept
 * apart, the held check (direct and through a subject), erasure and a
 * sweep keeping held records, and an audit entry for every step.
 */
#include "app_fixture.h"
#include "holds.h"
#include "retention.h"
#include "subject.h"

#include <sodium.h>

struct held_q {
	const char *tenant;
	unsigned char hash[CRYPTO_HASH_BYTES];
	bool held;
};

static enum rd_err held_fn(struct store_tx *tx, void *arg)
{
	struct held_q *q = arg;
	return holds_conversation_held(tx, q->tenant, q->hash, &q->held);
}

/* Is conversation conv of tenant held? -1 on error. */
static int held(struct app *app, const char *tenant, const char *conv)
{
	struct held_q q = { .tenant = tenant };
	crypto_conversation_hash(app->lookup_key, tenant, conv, strlen(conv), q.hash);
	return store_read(app->store, held_fn, &q) == RD_OK ? q.held : -1;
}

static enum rd_err count_fn(struct store_tx *tx, void *arg)
{
	return holds_count(tx, arg);
}

static int64_t holds_n(struct app *app)
{
	int64_t n = -1;
	return store_read(app->store, count_fn, &n) == RD_OK ? n : -1;
}

static int add(struct app *app, enum subject_query_kind kind, const char *tenant, const char *value,
               const char *reason, char id[HOLDS_ID_LEN + 1], struct rd_error *e)
{
	struct subject_query q = { kind, tenant, value };
	return subject_hold_add(app, &q, reason, "test", id, e);
}

static json_t *list(struct app *app, const char *tenant)
{
	json_t *out = NULL;
	struct rd_error e;
	return holds_list(app, tenant, "test", &out, &e) == 0 ? out : NULL;
}

static void test_add_list_remove(void)
{
	struct app app;
	char id1[HOLDS_ID_LEN + 1], id2[HOLDS_ID_LEN + 1];
	struct rd_error e;
	if (afx_open(&app, "holds", NULL)) {
		CHECK(0, "app opens");
		return;
	}
	CHECK(add(&app, SQ_CONVERSATION, "acme", "conv-1", "litigation 42", id1, &e) == 0 &&
	      strlen(id1) == HOLDS_ID_LEN && !strncmp(id1, "h_", 2), "a conversation hold is placed");
	CHECK(add(&app, SQ_EMAIL, "acme", "Jane.Doe@Example.com", "regulator asked", id2, &e) == 0 &&
	      strcmp(id1, id2) != 0, "a subject hold is placed, with its own id");
	CHECK(add(&app, SQ_EMAIL, "acme", "jane@example.com", "", id2, &e) != 0 &&
	      e.err == RD_E_INVALID_FIELD, "a hold without a reason is refused (422)");
	char big[HOLDS_REASON_MAX + 2];
	memset(big, 'r', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(add(&app, SQ_EMAIL, "acme", "jane@example.com", big, id2, &e) != 0 &&
	      e.err == RD_E_INVALID_FIELD, "a reason over the limit is refused");
	CHECK(add(&app, SQ_EMAIL, "acme", "not an email", "x", id2, &e) != 0 &&
	      e.err == RD_E_INVALID_QUERY, "a query that is not an email is refused (400)");
	CHECK(holds_n(&app) == 2, "two holds stored");
	CHECK(afx_count("holds", "SELECT count(*) FROM holds WHERE instr(doc_ct, 'litigation') > 0 OR"
	                " instr(doc_ct, 'Jane') > 0 OR instr(target_hash, 'conv-1') > 0") == 0,
	      "neither reason nor identifier is stored in clear");

	json_t *l = list(&app, "acme");
	/* Listed by creation time, then id: two holds made in the same
	 * millisecond come in either order. */
	json_t *h0 = json_array_get(json_object_get(l, "holds"), 0);
	json_t *h1 = json_array_get(json_object_get(l, "holds"), 1);
	const char *k0 = json_string_value(json_object_get(h0, "kind"));
	if (k0 && !strcmp(k0, "subject")) {
		json_t *t = h0;
		h0 = h1;
		h1 = t;
	}
	CHECK(json_array_size(json_object_get(l, "holds")) == 2, "the tenant's list has both");
	CHECK_STR(json_string_value(json_object_get(h0, "reason")), "litigation 42",
	          "the sealed reason opens");
	CHECK_STR(json_string_value(json_object_get(h0, "value")), "conv-1", "and the conversation id");
	CHECK_STR(json_string_value(json_object_get(h1, "type")), "email", "the subject hold says email");
	CHECK_STR(json_string_value(json_object_get(h1, "kind")), "subject", "of kind subject");
	json_decref(l);
	l = list(&app, "other");
	CHECK(l && json_array_size(json_object_get(l, "holds")) == 0, "another tenant sees none");
	json_decref(l);
	l = list(&app, NULL);
	CHECK(l && json_array_size(json_object_get(l, "holds")) == 2, "no tenant: every hold");
	json_decref(l);

	CHECK(holds_remove(&app, "acme", "h_nothex!", "test", &e) != 0 && e.err == RD_E_NOT_FOUND,
	      "a malformed id is not found");
	CHECK(holds_remove(&app, "other", id1, "test", &e) != 0 && e.err == RD_E_NOT_FOUND,
	      "another tenant cannot remove it");
	CHECK(holds_remove(&app, "acme", id1, "test", &e) == 0, "the tenant removes it");
	CHECK(holds_remove(&app, NULL, id1, "test", &e) != 0 && e.err == RD_E_NOT_FOUND,
	      "removed once only");
	CHECK(holds_n(&app) == 1, "one hold left");
	app_close(&app);
	CHECK(afx_audit_count("holds", "hold.add") == 2 && afx_audit_count("holds", "hold.remove") == 1 &&
	      afx_audit_count("holds", "hold.list") == 3, "every add, remove and list is audited");
	CHECK(afx_count("holds", "SELECT count(*) FROM audit_log WHERE target LIKE '%conv-1%' OR"
	                " target LIKE '%Jane%'") == 0, "the audit log names no identifier");
}

/* A sealed document copied onto another hold does not open there. */
static void test_moved_document(void)
{
	struct app app;
	char a[HOLDS_ID_LEN + 1], b[HOLDS_ID_LEN + 1], sql[256];
	struct rd_error e;
	if (afx_open(&app, "moved", NULL) || add(&app, SQ_CONVERSATION, "acme", "c1", "first", a, &e) ||
	    add(&app, SQ_CONVERSATION, "acme", "c2", "second", b, &e)) {
		CHECK(0, "moved setup");
		return;
	}
	snprintf(sql, sizeof sql, "UPDATE holds SET doc_ct = (SELECT doc_ct FROM holds WHERE id = '%s')"
	         " WHERE id = '%s'", a, b);
	CHECK(afx_sql("moved", sql) == 0, "copy one hold's document onto the other");
	json_t *l = list(&app, "acme");
	json_t *h;
	size_t i, opened = 0, refused = 0;
	json_array_foreach(json_object_get(l, "holds"), i, h) {
		if (!strcmp(json_string_value(json_object_get(h, "id")), b))
			refused += !json_is_string(json_object_get(h, "reason"));
		else
			opened += json_is_string(json_object_get(h, "reason"));
	}
	CHECK(opened == 1 && refused == 1, "the moved document fails to open; the original opens");
	json_decref(l);
	app_close(&app);
}

/* The held check, erasure and a sweep with holds in place. */
static void test_held(void)
{
	struct app app;
	char id[HOLDS_ID_LEN + 1], sid[HOLDS_ID_LEN + 1];
	struct rd_error e;
	int64_t old = util_now_ms() - 100 * DAY_MS;
	if (afx_open(&app, "held", "chat_transcript = 30d\n") ||
	    afx_message(&app, "acme", "c-direct", old, "web", "hello") ||
	    afx_message(&app, "acme", "c-subject", old, "web", "mail me at jane@example.com") ||
	    afx_message(&app, "acme", "c-subject", old + 1000, "web", "thanks") ||
	    afx_message(&app, "acme", "c-free", old, "web", "jane@example.com again") ||
	    afx_message(&app, "acme", "c-none", old, "web", "nothing personal") ||
	    afx_message(&app, "beta", "c-direct", old, "web", "same id, other tenant")) {
		CHECK(0, "held setup");
		app_close(&app);
		return;
	}
	CHECK(held(&app, "acme", "c-direct") == 0, "nothing is held before a hold");
	CHECK(add(&app, SQ_CONVERSATION, "acme", "c-direct", "case 1", id, &e) == 0, "hold c-direct");
	CHECK(held(&app, "acme", "c-direct") == 1, "held directly");
	CHECK(held(&app, "beta", "c-direct") == 0, "the same id of another tenant is not held");
	CHECK(held(&app, "acme", "c-subject") == 0, "another conversation is not held");
	CHECK(add(&app, SQ_EMAIL, "acme", "JANE@example.com", "case 2", sid, &e) == 0,
	      "hold a subject by email (any case)");
	CHECK(held(&app, "acme", "c-subject") == 1 && held(&app, "acme", "c-free") == 1,
	      "every conversation the subject appears in is held through it");
	CHECK(held(&app, "acme", "c-none") == 0, "a conversation without the subject is not");

	/* Erasure of the subject keeps what the holds keep. */
	struct subject_query q = { SQ_EMAIL, "acme", "jane@example.com" };
	struct subject_erase_result r;
	CHECK(subject_erase(&app, &q, "test", &r, &e) == 0 && r.removed == 0 && r.kept == 3 &&
	      r.held_conversations == 2, "erasure of a held subject removes nothing and says so");
	CHECK(holds_remove(&app, "acme", sid, "test", &e) == 0, "release the subject hold");
	CHECK(subject_erase(&app, &q, "test", &r, &e) == 0 && r.removed == 3 && r.kept == 0 &&
	      r.conversations == 2, "now the erasure removes the subject's conversations");

	/* A sweep keeps the held conversation and purges the rest. */
	struct retention_report rep;
	CHECK(retention_pass(&app, "test", false, NULL, &rep) == 0 && rep.purged == 2,
	      "the sweep purges the two unheld old records");
	int64_t held_lines = 0;
	for (size_t i = 0; i < rep.n; i++)
		held_lines += rep.lines[i].held;
	CHECK(held_lines == 1, "and reports the held one");
	retention_report_free(&rep);
	CHECK(held(&app, "acme", "c-direct") == 1 &&
	      afx_count("held", "SELECT count(*) FROM messages") == 1, "only the held record is left");
	CHECK(holds_remove(&app, "acme", id, "test", &e) == 0, "release the last hold");
	CHECK(retention_pass(&app, "test", false, NULL, &rep) == 0 && rep.purged == 1,
	      "the next sweep purges it");
	retention_report_free(&rep);
	CHECK(afx_audit_intact(&app), "the audit chain is intact after all of it");
	app_close(&app);
	CHECK(afx_audit_count("held", "erase.held") == 1, "the erasure that a hold stopped is audited as such");
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	test_add_list_remove();
	test_moved_document();
	test_held();
	return TEST_DONE();
}
