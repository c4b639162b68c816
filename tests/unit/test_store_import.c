/*
 * test_store_import.c — moving a SQLite store into PostgreSQL
 * (store_import.h, `redactd migrate`), on a real SQLite file and a
 * database of the run's throwaway cluster (pg_fixture.h): a copy stopped
 * after a few batches and resumed copies every row once, a batch that
 * fails leaves nothing; the rows open on
 * PostgreSQL with the same master key (sealed, never decrypted on the
 * way); the audit chain ends at the same head with its checkpoint and
 * high mark; the replay register still refuses a retried delivery; new
 * ids follow the migrated ones; a finished migration copies nothing; a
 * second source, a used target and a backwards copy are refused. The other
 * way: a backup of the PostgreSQL store (store_backup) restored into a
 * new database (store_pg_restore) with an erasure made since replayed,
 * every chain verifying; the live database is never a target.
 */
#include "audit.h"
#include "store_fixture.h"
#include "store_import.h"
#include "store_journal.h"
#include "pg_fixture.h"

static unsigned char replay_hash[CRYPTO_HASH_BYTES];

static struct store *pg_open(const char *url, bool ro, struct keyring *kr)
{
	struct store_options o = { .sync_full = true, .queue_size = 64, .batch_max = 256,
	                           .readonly = ro, .pg_url = url };
	struct store *st = NULL;
	char err[512];
	if (store_open("", &o, &st, err, sizeof err) ||
	    (kr && store_keyring_attach(st, kr, err, sizeof err))) {
		fprintf(stderr, "pg store: %s\n", err);
		store_close(st);
		return NULL;
	}
	return st;
}

static struct store *sqlite_open(const char *name, struct keyring *kr)
{
	struct store *st = open_store(name, 64, kr == NULL, NULL);
	char err[256];
	if (st && kr && store_keyring_attach(st, kr, err, sizeof err)) {
		fprintf(stderr, "attach: %s\n", err);
		store_close(st);
		return NULL;
	}
	return st;
}

static enum rd_err append_at(struct store_tx *tx, void *arg)
{
	return audit_append_at(tx, *(int64_t *)arg, "test", "read", "conversation:x", 1);
}

static enum rd_err purge_before(struct store_tx *tx, void *arg)
{
	int64_t purged = 0;
	return audit_purge(tx, *(int64_t *)arg, &purged);
}

static enum rd_err verify_fn(struct store_tx *tx, void *arg)
{
	return audit_verify(tx, arg);
}

static enum rd_err finish_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	enum rd_err rc = audit_append(tx, "test", "store.migrate", "from:sqlite", 0);
	return rc == RD_OK ? store_import_finish(tx) : rc;
}

static int submit_one(struct store *st, const char *tenant, const char *conv, int64_t ts,
                      const char *text, const unsigned char *rh, bool *replayed)
{
	struct trec t;
	if (make_rec(st, &t, tenant, conv, ts, text))
		return -1;
	t.r.replay_hash = rh;
	t.r.replayed = replayed;
	return store_submit(st, &t.r, 1) == RD_OK ? 0 : -1;
}

/* Seven records over three months and two tenants (one with a provider
 * id), and an audit log whose oldest entries were purged behind a
 * checkpoint. */
static int fill_source(void)
{
	struct store *st = sqlite_open("mig.db", kr1);
	bool replayed = false;
	int64_t ts[6] = { 1000, 2000, 3000, 0, 0, 0 }, before = 2500;
	int rc = st && !submit_one(st, "acme", "c1", JAN_2020, "first", NULL, NULL) &&
	         !submit_one(st, "acme", "c1", FEB_2020, "second", NULL, NULL) &&
	         !submit_one(st, "acme", "c1", MAR_2020, "third", replay_hash, &replayed) &&
	         !submit_one(st, "acme", "c2", JAN_2020 + 5, "other", NULL, NULL) &&
	         !submit_one(st, "acme", "c3", FEB_2020 + 5, "more", NULL, NULL) &&
	         !submit_one(st, "globex", "c1", JAN_2020, "theirs", NULL, NULL) &&
	         !submit_one(st, "globex", "c9", MAR_2020, "last", NULL, NULL) ? 0 : -1;
	for (int i = 0; rc == 0 && i < 3; i++)
		rc = store_exec(st, append_at, &ts[i]) == RD_OK ? 0 : -1;
	if (rc == 0)
		rc = store_exec(st, purge_before, &before) == RD_OK ? 0 : -1;
	for (int i = 3; rc == 0 && i < 6; i++) {
		ts[i] = util_now_ms();
		rc = store_exec(st, append_at, &ts[i]) == RD_OK ? 0 : -1;
	}
	store_close(st);
	return rc;
}

static enum rd_err copy(struct store *src, struct store *dst, size_t batch, int64_t max,
                        struct store_import_report *r, char *err, size_t errlen)
{
	struct store_import_options o = { .batch = batch, .max_batches = max, .source_label = "test" };
	return store_import_copy(src, dst, &o, r, err, errlen);
}

static int64_t table(const struct store_import_report *r, const char *name, bool target)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->t[i].name, name))
			return target ? r->t[i].target : r->t[i].source;
	return -1;
}

static void test_copy_resume(const char *url)
{
	struct store *src = sqlite_open("mig.db", NULL), *dst = pg_open(url, true, NULL);
	struct store_import_report r;
	char err[512] = "";
	CHECK(src && dst, "source (readonly SQLite) and target (PostgreSQL) open");
	if (!src || !dst)
		goto out;
	/* key_root 1 batch, data_keys 3, messages 2 of 4 */
	CHECK(copy(src, dst, 2, 6, &r, err, sizeof err) == RD_OK && r.stopped && r.batches == 6,
	      "a copy stopped after six batches");
	CHECK(pg_value(url, "SELECT count(*) FROM messages") == 4 &&
	      pg_value(url, "SELECT copied FROM migrate_progress WHERE tbl = 'messages'") == 4,
	      "four messages there, and the cursor says so");
	/* A lost cursor: the next batch meets rows already there. */
	CHECK(pg_sql(url, "UPDATE migrate_progress SET cursor = NULL, copied = 0 WHERE tbl = 'messages'") == 0 &&
	      copy(src, dst, 2, 0, &r, err, sizeof err) == RD_E_STORAGE && strstr(err, "duplicate key"),
	      "a row already in the target fails its batch, saying why");
	CHECK(pg_value(url, "SELECT count(*) FROM messages") == 4, "and the batch left nothing");
	CHECK(pg_sql(url, "DELETE FROM messages") == 0, "(the test empties messages to go on)");
	err[0] = '\0';
	CHECK(copy(src, dst, 2, 0, &r, err, sizeof err) == RD_OK && r.resumed && !r.stopped &&
	      !r.finished, "the next run resumes and completes");
	if (err[0])
		fprintf(stderr, "copy: %s\n", err);
	CHECK(table(&r, "messages", false) == 7 && table(&r, "messages", true) == 7,
	      "seven messages in both");
	CHECK(table(&r, "subjects", true) == table(&r, "subjects", false) &&
	      table(&r, "subjects", true) == 5, "subject links (a three-column key) copied once");
	CHECK(table(&r, "replay_ids", true) == 1 && table(&r, "data_keys", true) == 5 &&
	      table(&r, "key_root", true) == 1, "replay register, data keys, root key");
	CHECK(table(&r, "audit_checkpoint", true) == 1 && table(&r, "audit_high_mark", true) == 1,
	      "the audit checkpoint and high mark");
	CHECK(pg_value(url, "SELECT count(DISTINCT id) FROM messages") == 7,
	      "no message twice (ids kept)");
	CHECK(pg_value(url, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass") == 3,
	      "a partition per month");
	CHECK(pg_value(url, "SELECT count(*) FROM replay_ids r JOIN messages m ON m.id = r.msg_id"
	               " AND m.tenant = r.tenant") == 1, "the replay row names its tenant and message");

	struct audit_report a, b;
	CHECK(store_read(src, verify_fn, &a) == RD_OK && a.fault == AUDIT_INTACT &&
	      store_read(dst, verify_fn, &b) == RD_OK && b.fault == AUDIT_INTACT,
	      "both chains verify");
	CHECK(a.entries == b.entries && a.last_seq == b.last_seq && a.checkpoint_seq == b.checkpoint_seq &&
	      b.checkpoint_seq > 0 && !memcmp(a.head, b.head, sizeof a.head),
	      "to the same head, from the same checkpoint");
	CHECK(copy(src, dst, 2, 0, &r, err, sizeof err) == RD_OK && !r.finished && r.batches == 0,
	      "a run after the copy copies nothing");
	CHECK(store_exec(dst, finish_fn, NULL) == RD_OK, "the migration is marked finished");
	CHECK(copy(src, dst, 2, 0, &r, err, sizeof err) == RD_OK && r.finished && r.batches == 0,
	      "a finished migration says so");
out:
	store_close(dst);
	store_close(src);
}

static void test_after(const char *url)
{
	struct store *dst = pg_open(url, false, kr1);
	CHECK(dst != NULL, "the target opens with the same master key");
	if (!dst)
		return;
	struct readback rb = read_conv(dst, kr1, "acme", "c1");
	CHECK_STR(rb.texts, "first|second|third", "the sealed rows open on PostgreSQL");
	CHECK(rb.failed == 0, "every field authenticates (the AD is backend-independent)");
	rb = read_conv(dst, kr1, "globex", "c9");
	CHECK_STR(rb.texts, "last", "another tenant's conversation");
	long long max_before = pg_value(url, "SELECT max(id) FROM messages");
	bool replayed = false;
	CHECK(submit_one(dst, "acme", "c1", MAR_2020 + 9, "again", replay_hash, &replayed) == 0 &&
	      replayed, "a delivery retried after the move is a replay");
	CHECK(submit_one(dst, "acme", "c1", MAR_2020 + 10, "new", NULL, NULL) == 0 &&
	      pg_value(url, "SELECT max(id) FROM messages") > max_before &&
	      pg_value(url, "SELECT count(DISTINCT id) FROM messages") == 8,
	      "a new message's id follows the migrated ones");
	int64_t id = 0;
	unsigned char k[CRYPTO_KEY_BYTES];
	long long keys = pg_value(url, "SELECT max(id) FROM data_keys");
	CHECK(store_data_key_for(dst, kr1, "initech", "chat", JAN_2020, &id, k) == RD_OK &&
	      id == keys + 1, "a new data key's id follows the migrated ones");
	struct audit_report a;
	CHECK(store_read(dst, verify_fn, &a) == RD_OK && a.fault == AUDIT_INTACT,
	      "the chain still verifies after new entries");
	store_close(dst);
}

static void test_refusals(const char *url)
{
	struct store_import_report r;
	char err[512] = "";
	struct store *other = sqlite_open("other.db", kr2);
	store_close(other);
	other = sqlite_open("other.db", NULL);
	struct store *dst = pg_open(url, true, NULL);
	CHECK(other && dst && copy(other, dst, 100, 0, &r, err, sizeof err) == RD_E_INVALID_REQUEST &&
	      strstr(err, "another SQLite store"), "a second source into the target is refused");
	CHECK(dst && copy(dst, dst, 100, 0, &r, err, sizeof err) == RD_E_INVALID_REQUEST,
	      "PostgreSQL is no source");
	CHECK(other && dst && copy(other, dst, 0, 0, &r, err, sizeof err) == RD_E_INVALID_REQUEST,
	      "a batch of 0 is refused");
	store_close(dst);

	char used[512];
	struct store *u = NULL;
	CHECK(pg_new_db("used", used, sizeof used) == 0 && (u = pg_open(used, false, kr1)) != NULL,
	      "a database a daemon has used");
	store_close(u);
	u = pg_open(used, true, NULL);
	CHECK(u && other && copy(other, u, 100, 0, &r, err, sizeof err) == RD_E_INVALID_REQUEST &&
	      strstr(err, "already holds data"), "is refused as a target");
	CHECK(pg_value(used, "SELECT count(*) FROM migrate_state") == 0, "and left as it was");
	store_close(u);
	store_close(other);
}

/* ---- the other way: a backup of a PostgreSQL store, and its restore ------------ */

static enum rd_err tenant_entry(struct store_tx *tx, void *arg)
{
	(void)arg;
	return audit_append_tenant(tx, "acme", "test", "subject.export", "subject:x", 1);
}

/* An erasure after the backup: all of globex (journal only: the replay
 * applies it to the restored copy whatever the live store did). */
static enum rd_err erase_globex(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_journal_append(tx, STORE_JOURNAL_TENANT, "globex", NULL, 0, util_now_ms());
}

static void chain_line(const char *chain, const struct audit_report *r, void *ctx)
{
	(void)chain;
	(void)r;
	(*(int *)ctx)++;
}

struct all_chains {
	int n;
	bool intact;
};

static enum rd_err verify_all_fn(struct store_tx *tx, void *arg)
{
	struct all_chains *a = arg;
	return audit_verify_all(tx, chain_line, &a->n, &a->intact);
}

static void test_backup_restore(const char *url)
{
	struct store *live = pg_open(url, true, NULL), *target = NULL;
	struct store_restore_report r;
	char err[512] = "", turl[512];
	bool is_backup = false;
	int64_t n = 0, taken = 0;
	CHECK(live && store_exec(live, tenant_entry, NULL) == RD_OK, "a tenant's chain on the live store");
	CHECK(live && store_backup(live, tmp("pg.bak"), 0, &n, err, sizeof err) == RD_OK && n == 8,
	      "a backup of the PostgreSQL store: eight records");
	if (err[0])
		fprintf(stderr, "backup: %s\n", err);
	CHECK(store_backup_info(tmp("pg.bak"), &is_backup, &taken) == RD_OK && is_backup && taken > 0,
	      "a redactd backup file, with its time");
	CHECK(live && store_backup(live, tmp("pg.bak"), 0, &n, err, sizeof err) == RD_E_STORAGE &&
	      strstr(err, "exists"), "an existing destination is refused");
	CHECK(live && store_exec(live, erase_globex, NULL) == RD_OK, "an erasure after the backup");
	CHECK(pg_new_db("restore", turl, sizeof turl) == 0 && (target = pg_open(turl, true, NULL)),
	      "an empty database to restore into");
	if (!live || !target)
		goto out;
	CHECK(store_pg_restore(tmp("pg.bak"), live, live, STORE_RESTORE_FORCE, &r, err, sizeof err) ==
	      RD_E_INVALID_REQUEST && strstr(err, "live store's own database"),
	      "the live database is never a target, even forced");
	CHECK(pg_value(url, "SELECT count(*) FROM messages") == 8, "and keeps its records");
	CHECK(store_pg_restore(tmp("pg.bak"), target, live, 0, &r, err, sizeof err) == RD_OK &&
	      r.journal && r.covered && r.replayed == 1 && r.removed == 2 && r.records == 6 && r.keys,
	      "restored: the erasure replayed, two globex records removed, six left");
	if (err[0])
		fprintf(stderr, "restore: %s\n", err);
	struct all_chains ac = { 0, false };
	CHECK(store_read(target, verify_all_fn, &ac) == RD_OK && ac.intact && ac.n == 2,
	      "both chains (the system's and acme's) verify on the restored store");
	CHECK(pg_value(turl, "SELECT count(*) FROM audit_log WHERE chain = 'acme'") ==
	      pg_value(url, "SELECT count(*) FROM audit_log WHERE chain = 'acme'"), "acme's chain whole");
	CHECK(store_exec(target, finish_fn, NULL) == RD_OK, "the restore is recorded");
	store_close(target);
	target = pg_open(turl, false, kr1);
	CHECK(target != NULL, "the restored store opens with the master key");
	if (target) {
		struct readback rb = read_conv(target, kr1, "acme", "c1");
		CHECK_STR(rb.texts, "first|second|third|new", "acme's records read back");
		rb = read_conv(target, kr1, "globex", "c9");
		CHECK(rb.opened == 0, "globex's do not come back");
	}
out:
	store_close(target);
	store_close(live);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	kr1 = new_keyring("k1.key");
	kr2 = new_keyring("k2.key");
	memset(replay_hash, 0x42, sizeof replay_hash);
	char url[512];
	if (!pg_base_url()) {
		pg_skip_or_fail();
	} else if (fill_source() || pg_new_db("mig", url, sizeof url)) {
		CHECK(0, "a SQLite store to migrate and an empty database");
	} else {
		test_copy_resume(url);
		test_after(url);
		test_backup_restore(url);
		test_refusals(url);
	}
	keyring_free(kr1);
	keyring_free(kr2);
	return TEST_DONE();
}
