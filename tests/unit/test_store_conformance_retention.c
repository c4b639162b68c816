/*
 * test_store_conformance_retention.c — the store's retention contract, one
 * body run on both backends (issue 19), as test_store_conformance.c does:
 * the sweeper's groups, due counts and entity totals, its pending counts,
 * purges in batches (a kept record stays, subject links and replay ids go
 * with the last record of a conversation), crypto-shredding of unused
 * keys of ended months, tenant closures and a tenant's shredding, key
 * rotation, and the sweep lock (on PostgreSQL a second process does not
 * get it while the first holds it).
 */
#include "store_fixture.h"
#include "store_replay.h"
#include "store_retention.h"
#include "store_tenant.h"
#include "pg_fixture.h"

static bool on_pg;
static char pg_url[512];

static struct store *open_round(const char *name, bool fresh)
{
	struct store_options o = { .sync_full = true, .queue_size = 64, .batch_max = 256 };
	struct store *st = NULL;
	char err[512];
	if (on_pg && fresh && pg_new_db(name, pg_url, sizeof pg_url))
		return NULL;
	o.pg_url = on_pg ? pg_url : NULL;
	if (store_open(tmp(name), &o, &st, err, sizeof err) ||
	    store_keyring_attach(st, kr1, err, sizeof err)) {
		fprintf(stderr, "open %s: %s\n", name, err);
		store_close(st);
		return NULL;
	}
	return st;
}

/* Submits one record; 0 or -1. */
static int put(struct store *st, const char *tenant, const char *conv, int64_t ts,
               const unsigned char *replay)
{
	struct trec t;
	bool replayed = false;
	if (make_rec(st, &t, tenant, conv, ts, "x"))
		return -1;
	t.r.replay_hash = replay;
	t.r.replayed = &replayed;
	return store_submit(st, &t.r, 1) == RD_OK ? 0 : -1;
}

/* ---- the sweeper's reads -------------------------------------------------- */

struct groups {
	char list[512];
	int64_t entities;
};

static enum rd_err group_fn(const struct store_group *g, void *arg)
{
	struct groups *c = arg;
	size_t n = strlen(c->list);
	snprintf(c->list + n, sizeof c->list - n, "%s/%s=%lld,%lld,%lld;", g->tenant, g->category,
	         (long long)g->records, (long long)g->oldest_ms, (long long)g->purged);
	return RD_OK;
}

static enum rd_err entity_fn(const char *tenant, const char *entity, int64_t n, void *arg)
{
	struct groups *c = arg;
	if (!strcmp(tenant, "acme") && !strcmp(entity, "EMAIL"))
		c->entities = n;
	return RD_OK;
}

static enum rd_err groups_read(struct store_tx *tx, void *arg)
{
	struct groups *c = arg;
	enum rd_err rc = store_groups(tx, group_fn, c);
	return rc == RD_OK ? store_entity_totals(tx, entity_fn, c) : rc;
}

static enum rd_err heads_read(struct store_tx *tx, void *arg)
{
	return store_group_heads(tx, group_fn, arg);
}

/* The group heads: the same groups as store_groups, found by index seeks,
 * with their oldest record and no count; categories of one tenant in
 * order, a tenant's first category before the next tenant's. */
static void test_group_heads(void)
{
	struct store *st = open_round("heads.db", true);
	struct groups g = { "", 0 };
	CHECK(st && store_read(st, heads_read, &g) == RD_OK && g.list[0] == '\0',
	      "no group in an empty store");
	struct trec t;
	static const struct { const char *tenant, *category; int64_t ts; } rows[] = {
		{ "globex", "lead", MAR_2020 }, { "acme", "lead", FEB_2020 + 7 },
		{ "acme", "chat", FEB_2020 }, { "acme", "lead", JAN_2020 + 3 },
		{ "acme", "email", MAR_2020 }, { "globex", "chat", JAN_2020 + 9 },
		{ "acme", "chat", JAN_2020 + 1 },
	};
	bool put_all = st != NULL;
	for (size_t i = 0; put_all && i < RD_ARRAY_LEN(rows); i++) {
		rec_category = rows[i].category;
		put_all = make_rec(st, &t, rows[i].tenant, "c", rows[i].ts, "x") == 0 &&
		          store_submit(st, &t.r, 1) == RD_OK;
	}
	rec_category = NULL;
	CHECK(put_all, "records of two tenants in three categories, out of order");
	if (!st)
		return;
	char want[512];
	snprintf(want, sizeof want,
	         "acme/chat=-1,%lld,0;acme/email=-1,%lld,0;acme/lead=-1,%lld,0;"
	         "globex/chat=-1,%lld,0;globex/lead=-1,%lld,0;",
	         JAN_2020 + 1, MAR_2020, JAN_2020 + 3, JAN_2020 + 9, MAR_2020);
	CHECK(store_read(st, heads_read, &g) == RD_OK, "group heads read");
	CHECK_STR(g.list, want, "every (tenant, category) once, in order, with its oldest record");
	store_close(st);
}

struct due {
	const char *tenant;
	int64_t cutoff, due, held;
};

static enum rd_err due_read(struct store_tx *tx, void *arg)
{
	struct due *d = arg;
	return store_count_due(tx, d->tenant, "chat", d->cutoff, &d->due, &d->held);
}

static enum rd_err pending_add(struct store_tx *tx, void *arg)
{
	(void)arg;
	enum rd_err rc = store_retention_add(tx, "acme", "chat", 2);
	return rc == RD_OK ? store_retention_add(tx, "acme", "chat", 3) : rc;
}

static enum rd_err pending_read(struct store_tx *tx, void *arg)
{
	return store_retention_pending(tx, group_fn, arg);
}

static enum rd_err pending_take(struct store_tx *tx, void *arg)
{
	return store_retention_take(tx, group_fn, arg);
}

static void test_reads(void)
{
	struct store *st = open_round("reads.db", true);
	CHECK(st && put(st, "acme", "a1", JAN_2020, NULL) == 0 && put(st, "acme", "a1", JAN_2020 + 5, NULL) == 0 &&
	      put(st, "acme", "a2", FEB_2020, NULL) == 0 && put(st, "globex", "g1", MAR_2020, NULL) == 0,
	      "records of two tenants over three months");
	if (!st)
		return;
	struct groups g = { "", 0 };
	char want[256];
	snprintf(want, sizeof want, "acme/chat=3,%lld,0;globex/chat=1,%lld,0;", JAN_2020, MAR_2020);
	CHECK(store_read(st, groups_read, &g) == RD_OK, "groups and entity totals read");
	CHECK_STR(g.list, want, "one group per (tenant, category), records and oldest, in order");
	CHECK(g.entities == 3, "entity totals summed per tenant");
	struct due d = { "acme", FEB_2020, -1, -1 };
	CHECK(store_read(st, due_read, &d) == RD_OK && d.due == 2 && d.held == 0,
	      "due: the records before the cutoff, none held");
	d.tenant = "globex";
	CHECK(store_read(st, due_read, &d) == RD_OK && d.due == 0, "due is per tenant");

	CHECK(store_exec(st, pending_add, NULL) == RD_OK, "pending counts added");
	struct groups p = { "", 0 };
	CHECK(store_read(st, pending_read, &p) == RD_OK, "pending read");
	CHECK_STR(p.list, "acme/chat=0,0,0;", "one pending group");
	struct groups t = { "", 0 };
	CHECK(store_exec(st, pending_take, &t) == RD_OK, "pending taken");
	CHECK_STR(t.list, "acme/chat=0,0,5;", "taken with the sum of what was added");
	struct groups e = { "", 0 };
	CHECK(store_read(st, pending_read, &e) == RD_OK && e.list[0] == '\0', "and gone once taken");
	store_close(st);
}

/* ---- purge and shredding ------------------------------------------------- */

struct keep_ctx {
	unsigned char keep[CRYPTO_HASH_BYTES];
	int asked, ends;
};

static enum rd_err keep_fn(struct store_tx *tx, const struct store_row *row, void *arg, bool *keep)
{
	struct keep_ctx *k = arg;
	(void)tx;
	if (!row) {
		k->ends++;
		return RD_OK;
	}
	k->asked++;
	*keep = !memcmp(row->conv_hash, k->keep, CRYPTO_HASH_BYTES);
	return RD_OK;
}

struct subj_n {
	unsigned char s[CRYPTO_HASH_BYTES];
	int n;
};

static enum rd_err count_hash(const unsigned char h[CRYPTO_HASH_BYTES], void *arg)
{
	(void)h;
	(*(int *)arg)++;
	return RD_OK;
}

static enum rd_err subj_read(struct store_tx *tx, void *arg)
{
	struct subj_n *q = arg;
	q->n = 0;
	return store_subject_conversations(tx, "acme", q->s, count_hash, &q->n);
}

static enum rd_err replay_read(struct store_tx *tx, void *arg)
{
	return store_replay_count(tx, arg);
}

static void test_purge_shred(void)
{
	struct store *st = open_round("purge.db", true);
	unsigned char rh[CRYPTO_HASH_BYTES];
	memset(rh, 0x42, sizeof rh);
	bool ok = st != NULL;
	for (int i = 0; ok && i < 7; i++)
		ok = put(st, "acme", i < 5 ? "old" : "kept", JAN_2020 + i, i == 0 ? rh : NULL) == 0;
	ok = ok && put(st, "acme", "new", FEB_2020, NULL) == 0 && put(st, "globex", "old", JAN_2020, NULL) == 0;
	CHECK(ok, "records: five in 'old', two in 'kept' (January), one in February, one of globex");
	if (!st)
		return;
	int64_t jan_key = 0, feb_key = 0;
	unsigned char k[CRYPTO_KEY_BYTES];
	CHECK(store_data_key_for(st, kr1, "acme", "chat", JAN_2020, &jan_key, k) == RD_OK &&
	      store_data_key_for(st, kr1, "acme", "chat", FEB_2020, &feb_key, k) == RD_OK,
	      "the months' keys");
	size_t shredded = 99;
	CHECK(store_shred_keys(st, util_now_ms(), &shredded) == RD_OK && shredded == 0,
	      "no key is destroyed while its records remain");

	struct keep_ctx kc = { .asked = 0 };
	conv_hash("acme", "kept", kc.keep);
	size_t purged = 0;
	store_test_purge_yield(st, 3);   /* batches end early: the cursor must resume */
	CHECK(store_purge_before(st, "acme", "chat", FEB_2020, 2, keep_fn, &kc, &purged) == RD_OK,
	      "purge before February in batches of 2");
	store_test_purge_yield(st, 0);
	CHECK(purged == 5, "five deleted");
	CHECK(kc.asked == 7, "each candidate asked once (kept ones too)");
	CHECK(kc.ends >= 4, "every batch ends with a call");
	CHECK(read_conv(st, kr1, "acme", "old").opened == 0, "the purged conversation is gone");
	CHECK(read_conv(st, kr1, "acme", "kept").opened == 2, "the kept one stays");
	CHECK(read_conv(st, kr1, "acme", "new").opened == 1, "February's record stays");
	CHECK(read_conv(st, kr1, "globex", "old").opened == 1, "another tenant's record stays");
	int64_t replays = -1;
	CHECK(store_read(st, replay_read, &replays) == RD_OK && replays == 0,
	      "the replay register's row went with its message");
	struct subj_n q;
	memset(q.s, 0x5a, sizeof q.s);
	CHECK(store_read(st, subj_read, &q) == RD_OK && q.n == 2,
	      "the emptied conversation's subject link is gone, the others stay");

	CHECK(store_shred_keys(st, util_now_ms(), &shredded) == RD_OK && shredded == 0,
	      "January's key stays while a kept record uses it");
	kc.asked = 0;
	memset(kc.keep, 0, sizeof kc.keep);
	CHECK(store_purge_before(st, "acme", "chat", FEB_2020, 100, keep_fn, &kc, &purged) == RD_OK &&
	      purged == 2, "the kept ones purged once let go");
	CHECK(store_shred_keys(st, JAN_2020 + 3600000, &shredded) == RD_OK && shredded == 0,
	      "a month not yet ended keeps its key");
	CHECK(store_shred_keys(st, util_now_ms(), &shredded) == RD_OK && shredded == 1,
	      "then January's unused key of acme is destroyed (globex's is used)");
	CHECK(store_data_key_get(st, kr1, jan_key, k) == RD_E_NOT_FOUND, "and reads as shredded");
	CHECK(store_data_key_get(st, kr1, feb_key, k) == RD_OK, "February's key is live");
	sodium_memzero(k, sizeof k);
	store_close(st);
}

/* A month whose partition holds only the purged group, none held, goes
 * whole (on PostgreSQL a TRUNCATE: the table gets a new file); a month
 * with a kept record goes by batches. The same result on both backends. */
#define APR_2020 1585742400000LL        /* 2020-04-01T12:00:00Z */
#define APR_2020_START 1585699200000LL  /* 2020-04-01T00:00:00Z */

/* The file of the partition of (category, month yyyymm): a TRUNCATE
 * gives it a new one. */
static long long relfile(const char *category, int yyyymm)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT relfilenode FROM pg_class WHERE relname = 'messages_p%06d_c'"
	         " || (SELECT id FROM message_categories WHERE category = '%s')", yyyymm, category);
	return on_pg ? pg_value(pg_url, sql) : 0;
}

static void test_purge_whole(void)
{
	struct store *st = open_round("whole.db", true);
	unsigned char rh[CRYPTO_HASH_BYTES];
	memset(rh, 0x43, sizeof rh);
	CHECK(st && put(st, "acme", "w1", MAR_2020, rh) == 0 && put(st, "acme", "w1", MAR_2020 + 1, NULL) == 0 &&
	      put(st, "acme", "w2", MAR_2020 + 2, NULL) == 0 && put(st, "acme", "w2", APR_2020, NULL) == 0,
	      "March: three records of acme/chat only; w2 goes on in April");
	if (!st)
		return;
	long long before = relfile("chat", 202003);
	struct keep_ctx kc = { .asked = 0 };
	size_t purged = 0;
	CHECK(store_purge_before(st, "acme", "chat", APR_2020_START, 2, keep_fn, &kc, &purged) == RD_OK &&
	      purged == 3, "March purged");
	CHECK(kc.asked == 3 && kc.ends >= 1, "each record asked, the batch ended");
	if (on_pg)
		CHECK(before > 0 && relfile("chat", 202003) > 0 && relfile("chat", 202003) != before,
		      "postgresql: the partition was emptied whole (TRUNCATE) and is still there");
	CHECK(read_conv(st, kr1, "acme", "w1").opened == 0, "w1 is gone");
	CHECK(read_conv(st, kr1, "acme", "w2").opened == 1, "w2 keeps its April record");
	int64_t replays = -1;
	CHECK(store_read(st, replay_read, &replays) == RD_OK && replays == 0, "the replay id went too");
	struct subj_n q;
	memset(q.s, 0x5a, sizeof q.s);
	CHECK(store_read(st, subj_read, &q) == RD_OK && q.n == 1,
	      "w1's subject link went, w2's (a record left in April) stays");

	CHECK(put(st, "acme", "w3", MAR_2020 + 3, NULL) == 0 && put(st, "acme", "w4", MAR_2020 + 4, NULL) == 0,
	      "two more March records");
	before = relfile("chat", 202003);
	memset(&kc, 0, sizeof kc);
	conv_hash("acme", "w3", kc.keep);
	CHECK(store_purge_before(st, "acme", "chat", APR_2020_START, 10, keep_fn, &kc, &purged) == RD_OK &&
	      purged == 1, "with one record kept, the other goes");
	if (on_pg)
		CHECK(relfile("chat", 202003) == before, "postgresql: by batch (no TRUNCATE)");
	CHECK(read_conv(st, kr1, "acme", "w3").opened == 1 && read_conv(st, kr1, "acme", "w4").opened == 0,
	      "the kept record stays");
	store_close(st);
}

/* Partitions by (category, month) on PostgreSQL: March of chat goes whole
 * while March of email stays readable; a conversation with a record in
 * email keeps its subject links when its chat month goes; a held record
 * of chat's April blocks the whole path (batches; it survives). The same
 * result on SQLite. */
#define MAY_2020_START 1588291200000LL  /* 2020-05-01T00:00:00Z */

static int put_cat(struct store *st, const char *category, const char *conv, int64_t ts)
{
	rec_category = category;
	int rc = put(st, "acme", conv, ts, NULL);
	rec_category = NULL;
	return rc;
}

static void test_purge_whole_category(void)
{
	struct store *st = open_round("wholecat.db", true);
	CHECK(st && put_cat(st, "chat", "c1", MAR_2020) == 0 && put_cat(st, "chat", "c2", MAR_2020 + 1) == 0 &&
	      put_cat(st, "email", "e1", MAR_2020 + 2) == 0 && put_cat(st, "email", "c2", MAR_2020 + 3) == 0,
	      "March: two chat records, two email ones (c2 in both categories)");
	if (!st)
		return;
	long long chat = relfile("chat", 202003), email = relfile("email", 202003);
	if (on_pg)
		CHECK(chat > 0 && email > 0 && chat != email, "postgresql: a partition for each (category, month)");
	struct keep_ctx kc = { .asked = 0 };
	size_t purged = 0;
	CHECK(store_purge_before(st, "acme", "chat", APR_2020_START, 100, keep_fn, &kc, &purged) == RD_OK &&
	      purged == 2 && kc.asked == 2, "March of chat purged, each record asked");
	if (on_pg)
		CHECK(relfile("chat", 202003) != chat && relfile("email", 202003) == email,
		      "postgresql: chat's March emptied whole (TRUNCATE), email's untouched");
	CHECK(read_conv(st, kr1, "acme", "c1").opened == 0, "c1 is gone");
	CHECK(read_conv(st, kr1, "acme", "e1").opened == 1, "email of the same month stays readable");
	CHECK(read_conv(st, kr1, "acme", "c2").opened == 1, "c2 keeps its email record");
	struct subj_n q;
	memset(q.s, 0x5a, sizeof q.s);
	CHECK(store_read(st, subj_read, &q) == RD_OK && q.n == 2,
	      "subject links: c1's went; c2's (a record left in email) and e1's stay");

	CHECK(put_cat(st, "chat", "h1", APR_2020) == 0 && put_cat(st, "chat", "h2", APR_2020 + 1) == 0,
	      "April of chat: two records, one of them held");
	long long apr = relfile("chat", 202004);
	memset(&kc, 0, sizeof kc);
	conv_hash("acme", "h1", kc.keep);
	CHECK(store_purge_before(st, "acme", "chat", MAY_2020_START, 100, keep_fn, &kc, &purged) == RD_OK &&
	      purged == 1, "a held record blocks the whole path: the other goes by batch");
	if (on_pg)
		CHECK(relfile("chat", 202004) == apr, "postgresql: no TRUNCATE of April");
	CHECK(read_conv(st, kr1, "acme", "h1").opened == 1 && read_conv(st, kr1, "acme", "h2").opened == 0,
	      "the held record survives");
	store_close(st);
}

/* ---- tenant closures ---------------------------------------------------------- */

static enum rd_err closure_list(const struct store_closure *c, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "%s:%s:%s:%lld:%lld;", c->tenant, c->state, c->actor,
	         (long long)c->due_ms, (long long)c->done_ms);
	return RD_OK;
}

struct closure_op {
	int step;
	bool found;
	char list[256];
	int64_t records, held;
};

static enum rd_err closure_fn(struct store_tx *tx, void *arg)
{
	struct closure_op *c = arg;
	c->list[0] = '\0';
	switch (c->step) {
	case 0: {
		enum rd_err rc = store_closure_set(tx, "globex", 10, 20, "cli");
		return rc == RD_OK ? store_closure_set(tx, "acme", 1, 2, "api") : rc;
	}
	case 1:
		return store_closure_set(tx, "globex", 30, 40, "cli2");
	case 2:
		return store_closure_state(tx, "acme", "done", 99);
	case 3:
		return store_closure_delete(tx, "globex", &c->found);
	default:
		return store_closures(tx, closure_list, c->list);
	}
}

static enum rd_err records_fn(struct store_tx *tx, void *arg)
{
	struct closure_op *c = arg;
	return store_tenant_records(tx, "globex", &c->records, &c->held);
}

static enum rd_err shred_cb(struct store_tx *tx, size_t destroyed, void *arg)
{
	(void)tx;
	*(size_t *)arg = destroyed;
	return RD_OK;
}

static void test_tenant(void)
{
	struct store *st = open_round("tenant.db", true);
	struct closure_op c = { 0 };
	if (!st) {
		CHECK(0, "store opens");
		return;
	}
	for (c.step = 0; c.step < 3; c.step++)
		CHECK(store_exec(st, closure_fn, &c) == RD_OK, "closure written");
	c.step = 9;
	CHECK(store_read(st, closure_fn, &c) == RD_OK, "closures listed");
	CHECK_STR(c.list, "acme:done:api:2:99;globex:pending:cli2:40:0;",
	          "in tenant order; a reschedule replaces the row");
	c.step = 3;
	CHECK(store_exec(st, closure_fn, &c) == RD_OK && c.found, "a closure cancelled");
	CHECK(store_exec(st, closure_fn, &c) == RD_OK && !c.found, "cancelling it again finds none");

	CHECK(put(st, "globex", "g", JAN_2020, NULL) == 0 && put(st, "globex", "g", FEB_2020, NULL) == 0 &&
	      put(st, "acme", "a", JAN_2020, NULL) == 0, "records of globex and acme");
	CHECK(store_read(st, records_fn, &c) == RD_OK && c.records == 2 && c.held == 0,
	      "a tenant's records, none held");
	size_t told = 99, n = 99;
	CHECK(store_tenant_shred(st, "globex", util_now_ms(), shred_cb, &told, &n) == RD_OK && n == 0 &&
	      told == 0, "no key of a tenant with records is destroyed");
	size_t purged = 0;
	CHECK(store_purge_before(st, "globex", "chat", INT64_MAX, 10, NULL, NULL, &purged) == RD_OK &&
	      purged == 2, "the tenant's records purged");
	CHECK(store_tenant_shred(st, "globex", util_now_ms(), shred_cb, &told, &n) == RD_OK && n == 2 &&
	      told == 2, "then both its keys are destroyed, whatever their month, fn told");
	CHECK(read_conv(st, kr1, "acme", "a").opened == 1, "another tenant's key is untouched");
	store_close(st);
}

/* ---- key rotation and the sweep lock ----------------------------------------------- */

static void test_rekey(void)
{
	struct store *st = open_round("rekey.db", true);
	CHECK(st && put(st, "acme", "r", JAN_2020, NULL) == 0 && put(st, "acme", "r", FEB_2020, NULL) == 0,
	      "records under two data keys");
	if (!st)
		return;
	size_t n = 0;
	CHECK(store_rekey(st, kr1, kr2, &n) == RD_OK && n == 3, "root and two data keys re-wrapped");
	CHECK(store_rekey(st, kr1, kr2, &n) == RD_OK && n == 0, "again: nothing left to re-wrap");
	store_close(st);
	struct store_options o = { .sync_full = true, .queue_size = 64, .batch_max = 256,
	                           .pg_url = on_pg ? pg_url : NULL };
	char err[512];
	st = NULL;
	CHECK(store_open(tmp("rekey.db"), &o, &st, err, sizeof err) == RD_OK &&
	      store_keyring_attach(st, kr1, err, sizeof err) != RD_OK, "the old master key is refused");
	store_close(st);
	st = NULL;
	CHECK(store_open(tmp("rekey.db"), &o, &st, err, sizeof err) == RD_OK &&
	      store_keyring_attach(st, kr2, err, sizeof err) == RD_OK, "the new one opens the store");
	CHECK(st && read_conv(st, kr2, "acme", "r").opened == 2, "and every record under it");
	store_close(st);
}

static void test_sweep_lock(void)
{
	struct store *a = open_round("lock.db", true), *b = open_round("lock.db", false);
	bool ga = false, gb = true;
	CHECK(a && b && store_sweep_lock(a, &ga) == RD_OK && ga, "the first sweeper gets the lock");
	if (!a || !b) {
		store_close(a);
		store_close(b);
		return;
	}
	CHECK(store_sweep_lock(b, &gb) == RD_OK && gb == !on_pg,
	      on_pg ? "a second process does not" : "sqlite: always granted (one daemon per file)");
	store_sweep_unlock(b);
	store_sweep_unlock(a);
	CHECK(store_sweep_lock(b, &gb) == RD_OK && gb, "once released, the other gets it");
	store_sweep_unlock(b);
	store_close(a);
	store_close(b);
}

static void run_all(void)
{
	test_reads();
	test_group_heads();
	test_purge_shred();
	test_purge_whole();
	test_purge_whole_category();
	test_tenant();
	test_rekey();
	test_sweep_lock();
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	kr1 = new_keyring("k1.key");
	kr2 = new_keyring("k2.key");
	pg_both_rounds(run_all, &on_pg);
	keyring_free(kr1);
	keyring_free(kr2);
	return TEST_DONE();
}
