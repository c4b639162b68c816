/*
 * conformance_rights.h — the data-subject rights part of the store's
 * conformance test (test_store_conformance.c includes it; one body run on
 * both backends): legal holds and restrictions (insert, list by tenant,
 * the held check directly and through a linked subject, count, delete),
 * consent records (append, newest of up to 8+ targets, refusals, history,
 * append-only, delete), the erasure journal (append, a target that does
 * not fit, count, expiry) and rectification (a message by record id, its
 * rewrite in place, a stale rewrite refused). Needs open_round, on_pg and
 * the store fixture.
 */
#ifndef REDACTD_CONFORMANCE_RIGHTS_H
#define REDACTD_CONFORMANCE_RIGHTS_H

#include "store_consent.h"
#include "store_journal.h"
#include "store_rectify.h"
#include "store_restrict.h"

/* ---- holds and restrictions ---------------------------------------------- */

struct pins_ctx {
	bool restrictions;
	const char *tenant;            /* for each: NULL, every tenant */
	const unsigned char *conv;     /* for held */
	char ids[256];                 /* each: "id/tenant/kind/doclen,..." */
	int64_t n;
	bool flag, found;
	const struct store_hold *h;    /* insert */
	const char *id;                /* delete */
};

static enum rd_err pin_row(const struct store_hold *h, void *arg)
{
	struct pins_ctx *c = arg;
	size_t n = strlen(c->ids);
	snprintf(c->ids + n, sizeof c->ids - n, "%s%s/%s/%s/%zu/%s/%lld", n ? "," : "", h->id, h->tenant,
	         h->kind_name, h->doc_len, h->actor, (long long)h->created_ms);
	return h->target_hash ? RD_OK : RD_E_INTERNAL;
}

static enum rd_err pins_insert_fn(struct store_tx *tx, void *arg)
{
	struct pins_ctx *c = arg;
	return c->restrictions ? store_restrict_insert(tx, c->h) : store_holds_insert(tx, c->h);
}

static enum rd_err pins_each_fn(struct store_tx *tx, void *arg)
{
	struct pins_ctx *c = arg;
	c->ids[0] = '\0';
	return c->restrictions ? store_restrict_each(tx, c->tenant, pin_row, c)
	                       : store_holds_each(tx, c->tenant, pin_row, c);
}

static enum rd_err pins_check_fn(struct store_tx *tx, void *arg)
{
	struct pins_ctx *c = arg;
	return c->restrictions ? store_restrict_check(tx, "acme", c->conv, &c->flag)
	                       : store_holds_held(tx, "acme", c->conv, &c->flag);
}

static enum rd_err pins_delete_fn(struct store_tx *tx, void *arg)
{
	struct pins_ctx *c = arg;
	return c->restrictions ? store_restrict_delete(tx, c->id, c->tenant, &c->found)
	                       : store_holds_delete(tx, c->id, c->tenant, &c->found);
}

static enum rd_err holds_count_fn(struct store_tx *tx, void *arg)
{
	return store_holds_count(tx, arg);
}

static enum rd_err link_fn(struct store_tx *tx, void *arg)
{
	const unsigned char (*h)[CRYPTO_HASH_BYTES] = arg;
	return store_subject_link(tx, "acme", h[0], h[1]);
}

/* The same walk for holds and for restrictions. */
static void pins_round(struct store *st, bool restrictions)
{
	const char *what = restrictions ? "restriction" : "hold";
	unsigned char conv_a[CRYPTO_HASH_BYTES], conv_b[CRYPTO_HASH_BYTES], subj[CRYPTO_HASH_BYTES];
	unsigned char doc[40];
	memset(conv_a, 0xa1, sizeof conv_a);
	/* conv_b holds a message: a subject is linked only to a conversation
	 * that has one (SQLite names each link by a message of it). */
	struct trec tb;
	CHECK(make_rec(st, &tb, "acme", "pins-b", JAN_2020, "a turn") == 0 &&
	      store_submit(st, &tb.r, 1) == RD_OK, "a message in the conversation to link");
	memcpy(conv_b, tb.r.conv_hash, sizeof conv_b);
	memset(subj, 0xc3, sizeof subj);
	memset(doc, 0xd4, sizeof doc);
	struct store_hold h1 = { .id = "h1", .tenant = "acme", .actor = "admin", .kind = STORE_HOLD_CONVERSATION,
	                         .target_hash = conv_a, .doc_ct = doc, .doc_len = 40, .created_ms = 2000 };
	struct store_hold h2 = { .id = "h2", .tenant = "globex", .actor = "admin", .kind = STORE_HOLD_SUBJECT,
	                         .target_hash = subj, .doc_ct = doc, .doc_len = 30, .created_ms = 1000 };
	struct store_hold h3 = { .id = "h3", .tenant = "acme", .actor = "cli", .kind = STORE_HOLD_SUBJECT,
	                         .target_hash = subj, .doc_ct = doc, .doc_len = 20, .created_ms = 3000 };
	struct pins_ctx c = { .restrictions = restrictions };
	char m[96];
	for (const struct store_hold *h = &h1; h; h = h == &h1 ? &h2 : h == &h2 ? &h3 : NULL) {
		c.h = h;
		snprintf(m, sizeof m, "%s %s inserted", what, h->id);
		CHECK(store_exec(st, pins_insert_fn, &c) == RD_OK, m);
	}
	c.h = &h1;
	snprintf(m, sizeof m, "a second %s h1 of acme is refused", what);
	CHECK(store_exec(st, pins_insert_fn, &c) != RD_OK, m);
	c.tenant = NULL;
	CHECK(store_read(st, pins_each_fn, &c) == RD_OK, "every tenant's listed");
	CHECK_STR(c.ids, "h2/globex/subject/30/admin/1000,h1/acme/conversation/40/admin/2000,"
	          "h3/acme/subject/20/cli/3000", "by creation time, every field back");
	c.tenant = "acme";
	CHECK(store_read(st, pins_each_fn, &c) == RD_OK, "one tenant's listed");
	CHECK_STR(c.ids, "h1/acme/conversation/40/admin/2000,h3/acme/subject/20/cli/3000",
	          "only that tenant's");

	c.conv = conv_a;
	CHECK(store_read(st, pins_check_fn, &c) == RD_OK && c.flag, "a pinned conversation is pinned");
	c.conv = conv_b;
	CHECK(store_read(st, pins_check_fn, &c) == RD_OK && !c.flag, "another one is not");
	unsigned char link[2][CRYPTO_HASH_BYTES];
	memcpy(link[0], subj, CRYPTO_HASH_BYTES);
	memcpy(link[1], conv_b, CRYPTO_HASH_BYTES);
	CHECK(store_exec(st, link_fn, link) == RD_OK, "the pinned subject linked to it");
	CHECK(store_exec(st, pins_check_fn, &c) == RD_OK && c.flag, "then it is pinned through the subject");
	if (!restrictions) {
		int64_t n = -1;
		CHECK(store_read(st, holds_count_fn, &n) == RD_OK && n == 3, "three holds counted");
	}

	c.id = "h3";
	c.tenant = "globex";
	CHECK(store_exec(st, pins_delete_fn, &c) == RD_OK && !c.found, "another tenant's id is not found");
	c.tenant = "acme";
	CHECK(store_exec(st, pins_delete_fn, &c) == RD_OK && c.found, "the tenant's own is deleted");
	CHECK(store_exec(st, pins_delete_fn, &c) == RD_OK && !c.found, "and gone");
	CHECK(store_read(st, pins_check_fn, &c) == RD_OK && !c.flag, "the subject's conversation is free");
	c.id = "h2";
	c.tenant = NULL;
	CHECK(store_exec(st, pins_delete_fn, &c) == RD_OK && c.found, "any tenant's, by id alone");
	CHECK(store_read(st, pins_each_fn, &c) == RD_OK, "listed again");
	CHECK_STR(c.ids, "h1/acme/conversation/40/admin/2000", "one left");
}

static void test_pins(void)
{
	for (int r = 0; r < 2; r++) {
		struct store *st = open_round(r ? "restrict.db" : "holds.db", true, true, kr1);
		CHECK(st != NULL, "store opens");
		if (!st)
			return;
		pins_round(st, r == 1);
		store_close(st);
	}
}

/* ---- consent records ----------------------------------------------------- */

struct consent_ctx {
	struct store_consent row;
	int64_t id, n;
	const unsigned char (*targets)[CRYPTO_HASH_BYTES];
	size_t ntargets;
	struct store_consent_latest latest;
	bool any;
	char seen[256];
};

static const char *const rec_kinds[2] = { "call_recording", "transcription" };

static enum rd_err consent_insert_fn(struct store_tx *tx, void *arg)
{
	struct consent_ctx *c = arg;
	return store_consent_insert(tx, &c->row, &c->id);
}

static enum rd_err consent_latest_fn(struct store_tx *tx, void *arg)
{
	struct consent_ctx *c = arg;
	memset(&c->latest, 0, sizeof c->latest);
	return store_consent_latest(tx, "acme", c->targets, c->ntargets, rec_kinds, 2, &c->latest);
}

static enum rd_err consent_refusals_fn(struct store_tx *tx, void *arg)
{
	struct consent_ctx *c = arg;
	return store_consent_refusals(tx, rec_kinds, 2, &c->any);
}

static enum rd_err consent_row(const struct store_consent *r, void *arg)
{
	struct consent_ctx *c = arg;
	size_t n = strlen(c->seen);
	snprintf(c->seen + n, sizeof c->seen - n, "%s%s/%s/%s/%s/%s/%s/%lld/%lld", n ? "," : "",
	         r->tenant, r->subject ? "subject" : "conversation", r->kind, r->state, r->method,
	         r->source, (long long)r->ts_ms, (long long)(r->recorded_ms - r->ts_ms));
	return r->target_hash && r->id > 0 ? RD_OK : RD_E_INTERNAL;
}

static enum rd_err consent_each_fn(struct store_tx *tx, void *arg)
{
	struct consent_ctx *c = arg;
	c->seen[0] = '\0';
	return store_consent_each(tx, "acme", c->targets[0], consent_row, c);
}

static enum rd_err consent_delete_fn(struct store_tx *tx, void *arg)
{
	struct consent_ctx *c = arg;
	return store_consent_delete(tx, "acme", c->targets[0], &c->n);
}

static enum rd_err consent_update_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_test_sql(tx, "UPDATE consents SET state = 'given'");
}

static void test_consents(void)
{
	struct store *st = open_round("consent.db", true, true, kr1);
	unsigned char t[10][CRYPTO_HASH_BYTES];
	struct consent_ctx c = { .targets = (const unsigned char (*)[CRYPTO_HASH_BYTES])t };
	CHECK(st != NULL, "store opens");
	if (!st)
		return;
	for (int i = 0; i < 10; i++)
		memset(t[i], 0x30 + i, CRYPTO_HASH_BYTES);
	c.row = (struct store_consent){ .tenant = "acme", .subject = true, .target_hash = t[0],
	                                .kind = "call_recording", .state = "given", .method = "ivr",
	                                .source = "bot1", .ts_ms = 1000, .recorded_ms = 1005 };
	CHECK(store_exec(st, consent_insert_fn, &c) == RD_OK && c.id > 0, "a consent appended");
	int64_t first = c.id;
	c.ntargets = 10;
	CHECK(store_read(st, consent_refusals_fn, &c) == RD_OK && !c.any, "no refusal yet");
	/* The newest of ten targets, one of them past the first eight. */
	c.row.target_hash = t[9];
	c.row.subject = false;
	c.row.state = "withdrawn";
	c.row.kind = "transcription";
	c.row.ts_ms = 2000;
	c.row.recorded_ms = 2001;
	CHECK(store_exec(st, consent_insert_fn, &c) == RD_OK && c.id > first, "ids grow");
	c.row.kind = "messaging";   /* another kind: not what latest asks about */
	c.row.state = "given";
	CHECK(store_exec(st, consent_insert_fn, &c) == RD_OK, "another kind appended");
	c.row.tenant = "globex";    /* another tenant: neither */
	c.row.kind = "call_recording";
	c.row.state = "declined";
	CHECK(store_exec(st, consent_insert_fn, &c) == RD_OK, "another tenant's appended");
	CHECK(store_read(st, consent_latest_fn, &c) == RD_OK && c.latest.id > first &&
	      !strcmp(c.latest.state, "withdrawn") && !strcmp(c.latest.kind, "transcription") &&
	      c.latest.ts_ms == 2000, "the newest of the kinds asked, the 10th of 10 targets");
	c.ntargets = 8;
	CHECK(store_read(st, consent_latest_fn, &c) == RD_OK && c.latest.id == first &&
	      !strcmp(c.latest.state, "given"), "of the first 8 targets: the first row");
	c.ntargets = 0;
	CHECK(store_read(st, consent_latest_fn, &c) == RD_OK && c.latest.id == 0, "no target: none");
	CHECK(store_read(st, consent_refusals_fn, &c) == RD_OK && c.any, "a refusal exists");
	CHECK(store_read(st, consent_each_fn, &c) == RD_OK, "history read");
	CHECK_STR(c.seen, "acme/subject/call_recording/given/ivr/bot1/1000/5", "every field back");
	CHECK(store_exec(st, consent_update_fn, NULL) != RD_OK, "an UPDATE is refused (append-only)");
	c.targets = (const unsigned char (*)[CRYPTO_HASH_BYTES])t[9];
	CHECK(store_read(st, consent_each_fn, &c) == RD_OK, "the other target's history");
	CHECK_STR(c.seen, "acme/conversation/transcription/withdrawn/ivr/bot1/2000/1,"
	          "acme/conversation/messaging/given/ivr/bot1/2000/1", "oldest first, its tenant only");
	CHECK(store_exec(st, consent_delete_fn, &c) == RD_OK && c.n == 2, "its two rows deleted");
	CHECK(store_read(st, consent_each_fn, &c) == RD_OK && !c.seen[0], "none left");
	CHECK(store_read(st, consent_refusals_fn, &c) == RD_OK && c.any, "globex's refusal stays");
	store_close(st);
}

/* ---- the erasure journal ------------------------------------------------- */

struct journal_ctx {
	enum store_journal_kind kind;
	const void *target;
	size_t len;
	int64_t ts, n;
};

static enum rd_err journal_append_fn(struct store_tx *tx, void *arg)
{
	struct journal_ctx *j = arg;
	return store_journal_append(tx, j->kind, "acme", j->target, j->len, j->ts);
}

static enum rd_err journal_count_fn(struct store_tx *tx, void *arg)
{
	return store_journal_count(tx, arg);
}

static enum rd_err journal_expire_fn(struct store_tx *tx, void *arg)
{
	struct journal_ctx *j = arg;
	return store_journal_expire(tx, j->ts, &j->n);
}

static void test_journal(void)
{
	struct store *st = open_round("journal.db", true, true, kr1);
	unsigned char h[CRYPTO_HASH_BYTES];
	char rec[RD_RECORD_ID_LEN];
	int64_t n = -1;
	memset(h, 0x44, sizeof h);
	memset(rec, 'r', sizeof rec);
	CHECK(st != NULL, "store opens");
	if (!st)
		return;
	struct journal_ctx j[3] = {
		{ STORE_JOURNAL_CONVERSATION, h, sizeof h, 1000, 0 },
		{ STORE_JOURNAL_RECORD, rec, sizeof rec, 2000, 0 },
		{ STORE_JOURNAL_TENANT, NULL, 0, 3000, 0 },
	};
	for (int i = 0; i < 3; i++)
		CHECK(store_exec(st, journal_append_fn, &j[i]) == RD_OK, "a journal entry appended");
	struct journal_ctx bad = { STORE_JOURNAL_CONVERSATION, h, 5, 1000, 0 };
	CHECK(store_exec(st, journal_append_fn, &bad) == RD_E_INTERNAL, "a target that does not fit is a bug");
	CHECK(store_read(st, journal_count_fn, &n) == RD_OK && n == 3, "three entries");
	struct journal_ctx ex = { .ts = 2500 };
	CHECK(store_exec(st, journal_expire_fn, &ex) == RD_OK && ex.n == 2, "two older than 2500 expire");
	CHECK(store_read(st, journal_count_fn, &n) == RD_OK && n == 1, "one left");
	ex.ts = 100;
	CHECK(store_exec(st, journal_expire_fn, &ex) == RD_OK && ex.n == 0, "none older than 100");
	store_close(st);
}

/* ---- rectification -------------------------------------------------------- */

struct rect_ctx {
	const char *tenant, *record_id;
	int64_t rowid, key_id;
	unsigned char conv[CRYPTO_HASH_BYTES];
	char text[64], counts[64];
	struct store_rewrite w;
	bool found;
};

static enum rd_err rect_row(const struct store_row *row, void *arg)
{
	struct rect_ctx *c = arg;
	c->rowid = row->rowid;
	c->key_id = row->key_id;
	memcpy(c->conv, row->conv_hash, CRYPTO_HASH_BYTES);
	/* Not opened here: the ciphertext itself, as bytes. */
	snprintf(c->text, sizeof c->text, "%zu", row->text_ct_len);
	snprintf(c->counts, sizeof c->counts, "%s", row->entity_counts);
	return strcmp(row->id, c->record_id) ? RD_E_INTERNAL : RD_OK;
}

static enum rd_err rect_get_fn(struct store_tx *tx, void *arg)
{
	struct rect_ctx *c = arg;
	return store_message_get(tx, c->tenant, c->record_id, rect_row, c);
}

static enum rd_err rect_write_fn(struct store_tx *tx, void *arg)
{
	struct rect_ctx *c = arg;
	return store_message_rewrite(tx, &c->w, &c->found);
}

static void test_rectify(void)
{
	struct store *st = open_round("rectify.db", true, true, kr1);
	struct trec t;
	CHECK(st && make_rec(st, &t, "acme", "rc", JAN_2020, "wrong text") == 0 &&
	      store_submit(st, &t.r, 1) == RD_OK, "a record stored");
	if (!st)
		return;
	struct rect_ctx c = { .tenant = "acme", .record_id = t.r.id };
	CHECK(store_read(st, rect_get_fn, &c) == RD_OK && c.rowid > 0 &&
	      !strcmp(c.counts, "{\"EMAIL\":1}"), "found by record id");
	c.tenant = "globex";
	CHECK(store_read(st, rect_get_fn, &c) == RD_E_NOT_FOUND, "not in another tenant");
	c.tenant = "acme";
	c.record_id = "0123456789abcdef0123456789abcdef";
	CHECK(store_read(st, rect_get_fn, &c) == RD_E_NOT_FOUND, "an unknown record id is not found");
	c.record_id = t.r.id;

	/* The new text sealed as make_rec does (same key, same AD). */
	struct trec n;
	CHECK(make_rec(st, &n, "acme", "rc", JAN_2020, "right") == 0, "new text sealed");
	memcpy(n.r.id, t.r.id, sizeof n.r.id);
	unsigned char key[CRYPTO_KEY_BYTES];
	CHECK(store_data_key_get(st, kr1, c.key_id, key) == RD_OK, "its key");
	n.r.text_ct_len = seal(key, FIELD_TEXT, &n.r, "right", n.text);
	n.r.meta_ct_len = seal(key, FIELD_META, &n.r, "{}", n.meta);
	sodium_memzero(key, sizeof key);
	unsigned char subj[1][CRYPTO_HASH_BYTES];
	memset(subj[0], 0x66, sizeof subj[0]);
	c.w = (struct store_rewrite){ .rowid = c.rowid, .record_id = t.r.id, .tenant = "acme",
	                              .conv_hash = c.conv, .key_id = c.key_id + 1,
	                              .text_ct = n.text, .text_ct_len = n.r.text_ct_len,
	                              .meta_ct = n.meta, .meta_ct_len = n.r.meta_ct_len,
	                              .entity_counts = "{}",
	                              .subjects = (const unsigned char (*)[CRYPTO_HASH_BYTES])subj,
	                              .nsubjects = 1 };
	CHECK(store_exec(st, rect_write_fn, &c) == RD_OK && !c.found, "a stale rewrite changes nothing");
	c.w.key_id = c.key_id;
	CHECK(store_exec(st, rect_write_fn, &c) == RD_OK && c.found, "the rewrite in place");
	CHECK(store_read(st, rect_get_fn, &c) == RD_OK && !strcmp(c.counts, "{}"), "new counts");
	struct readback rb = read_conv(st, kr1, "acme", "rc");
	CHECK_STR(rb.texts, "right", "the conversation reads the new text");
	struct subj_q q;
	memset(q.s, 0x66, sizeof q.s);
	CHECK(store_read(st, subject_convs, &q) == RD_OK && q.n == 1, "the new subject is linked");
	store_close(st);
}

#endif
