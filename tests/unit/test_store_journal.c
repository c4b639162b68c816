/*
 * test_store_journal.c — the erasure journal and restores (issue 17):
 * appends refuse targets that do not fit their kind; a restore replays
 * record and tenant entries newer than the backup (and only those), takes
 * the live keys, keeps the journal (a record entry whose record is gone
 * deletes it; one still live is a rectification, tested end to end); expired entries make a restore refuse
 * unless forced; what counts as a backup for the sweeper.
 */
#include "store_fixture.h"
#include "store_journal.h"

#include <stdio.h>

struct jentry {
	enum store_journal_kind kind;
	const char *tenant;
	const void *target;
	size_t len;
	int64_t ts;
};

static enum rd_err append_fn(struct store_tx *tx, void *arg)
{
	const struct jentry *e = arg;
	return store_journal_append(tx, e->kind, e->tenant, e->target, e->len, e->ts);
}

static enum rd_err journal_append(struct store *st, enum store_journal_kind kind, const char *tenant,
                                  const void *target, size_t len, int64_t ts)
{
	struct jentry e = { kind, tenant, target, len, ts };
	return store_exec(st, append_fn, &e);
}

static enum rd_err sql_fn(struct store_tx *tx, void *arg)
{
	return store_test_sql(tx, arg);
}

struct expire_arg {
	int64_t before, removed;
};

static enum rd_err expire_fn(struct store_tx *tx, void *arg)
{
	struct expire_arg *a = arg;
	return store_journal_expire(tx, a->before, &a->removed);
}

static void test_append(void)
{
	struct store *st = open_store("append.db", 256, false, NULL);
	unsigned char h[CRYPTO_HASH_BYTES] = { 1 };
	CHECK(st && journal_append(st, STORE_JOURNAL_CONVERSATION, "acme", h, sizeof h, 1) == RD_OK,
	      "a conversation entry takes a conversation hash");
	CHECK(journal_append(st, STORE_JOURNAL_CONVERSATION, "acme", h, 5, 1) == RD_E_INTERNAL,
	      "a short hash is refused");
	CHECK(journal_append(st, STORE_JOURNAL_TENANT, "acme", h, sizeof h, 1) == RD_E_INTERNAL,
	      "a tenant entry with a target is refused");
	CHECK(journal_append(st, STORE_JOURNAL_RECORD, "acme", NULL, 0, 1) == RD_E_INTERNAL,
	      "a record entry without an id is refused");
	CHECK(journal_append(st, STORE_JOURNAL_TENANT, "beta", NULL, 0, 2) == RD_OK,
	      "a tenant entry");
	CHECK(count_sql("append.db", "SELECT count(*) FROM erasure_journal") == 2,
	      "only the two good entries are there");
	store_close(st);
}

/* Live: acme c0 (2 records), c1 (1), beta b (1). Backup. Then a record of
 * c0 and the whole of beta are journalled (and an older entry, before the
 * backup, for c1, which must not be replayed). */
static void test_restore(void)
{
	struct store *st = open_store("live.db", 256, false, NULL);
	struct trec t[4];
	struct store_record r[4];
	bool ok = st && !make_rec(st, &t[0], "acme", "c0", JAN_2020, "one") &&
	          !make_rec(st, &t[1], "acme", "c0", JAN_2020 + 1, "two") &&
	          !make_rec(st, &t[2], "acme", "c1", JAN_2020 + 2, "three") &&
	          !make_rec(st, &t[3], "beta", "b", JAN_2020 + 3, "four");
	for (int i = 0; ok && i < 4; i++)
		r[i] = t[i].r;
	CHECK(ok && store_submit(st, r, 4) == RD_OK, "four records in three conversations");
	CHECK(journal_append(st, STORE_JOURNAL_CONVERSATION, "acme", t[2].r.conv_hash,
	                     CRYPTO_HASH_BYTES, 5) == RD_OK, "an entry before the backup");
	char err[512];
	int64_t n = 0;
	CHECK(store_backup(st, tmp("b.db"), 0, &n, err, sizeof err) == RD_OK && n == 4, "key-less backup");
	char del[128];
	snprintf(del, sizeof del, "DELETE FROM messages WHERE record_id = '%s'", t[0].r.id);
	CHECK(store_exec(st, sql_fn, del) == RD_OK, "the record erased in the live database");
	CHECK(journal_append(st, STORE_JOURNAL_RECORD, "acme", t[0].r.id, strlen(t[0].r.id), 10) == RD_OK &&
	      journal_append(st, STORE_JOURNAL_TENANT, "beta", NULL, 0, 11) == RD_OK,
	      "two entries after it");

	bool is_backup = false;
	int64_t taken = 0;
	CHECK(store_backup_info(tmp("b.db"), &is_backup, &taken) == RD_OK && is_backup &&
	      taken > util_now_ms() - 60000, "the backup says it is one, and when it was taken");
	CHECK(store_backup_info(tmp("live.db"), &is_backup, &taken) == RD_OK && !is_backup,
	      "the live database is no backup");

	struct store_restore_report rep;
	CHECK(store_restore(tmp("b.db"), tmp("r.db"), tmp("live.db"), 0, &rep, err, sizeof err) ==
	      RD_OK, "restore");
	CHECK(rep.journal && rep.covered && !rep.forced && rep.mark == 1 && rep.replayed == 2 &&
	      rep.removed == 2 && rep.records == 2, "two entries replayed, two records removed");
	CHECK(count_sql("r.db", "SELECT count(*) FROM messages WHERE tenant = 'beta'") == 0,
	      "the erased tenant is gone");
	CHECK(count_sql("r.db", "SELECT count(*) FROM subjects WHERE tenant = 'beta'") == 0,
	      "and its subject links");
	CHECK(count_sql("r.db", "SELECT count(*) FROM messages WHERE tenant = 'acme'") == 2,
	      "acme keeps c0's other record and c1 (the older entry is not replayed)");
	CHECK(count_sql("r.db", "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL") ==
	      count_sql("live.db", "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL") &&
	      count_sql("b.db", "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL") == 0,
	      "the key-less backup's copy took the live keys");
	CHECK(count_sql("r.db", "SELECT count(*) FROM erasure_journal") == 3,
	      "the restored journal is the live one");
	struct store *rs = open_store("r.db", 256, true, NULL);
	struct readback rb = read_conv(rs, kr1, "acme", "c0");
	CHECK(rs && rb.opened == 1 && !strcmp(rb.texts, "two"), "the restored copy opens");
	store_close(rs);

	/* Entries up to seq 2 expire: the backup saw only seq 1. */
	struct expire_arg ea = { .before = 11 };
	CHECK(store_exec(st, expire_fn, &ea) == RD_OK && ea.removed == 2, "two entries expire");
	CHECK(store_restore(tmp("b.db"), tmp("r2.db"), tmp("live.db"), 0, &rep, err, sizeof err) ==
	      RD_E_NOT_FOUND && strstr(err, "no longer covers") && access(tmp("r2.db"), F_OK) != 0,
	      "a journal that no longer covers the backup: refused, nothing written");
	CHECK(store_restore(tmp("b.db"), tmp("r2.db"), tmp("live.db"), STORE_RESTORE_FORCE, &rep, err,
	                    sizeof err) == RD_OK && rep.forced && rep.replayed == 1,
	      "forced: what is left is replayed");
	CHECK(store_restore(tmp("b.db"), tmp("r3.db"), tmp("none.db"), 0, &rep, err, sizeof err) ==
	      RD_E_NOT_FOUND, "no live database: refused");
	CHECK(store_restore(tmp("live.db"), tmp("r4.db"), tmp("live.db"), STORE_RESTORE_FORCE, &rep, err,
	                    sizeof err) == RD_E_INVALID_REQUEST, "a live database is not a backup, forced or not");
	store_close(st);
}

static void test_foreign(void)
{
	FILE *f = fopen(tmp("notes.db"), "w");
	bool is_backup = true;
	int64_t taken = 0;
	if (f) {
		fputs("SQLite format 3 is what this text says, but it is no database", f);
		fclose(f);
	}
	CHECK(store_backup_info(tmp("notes.db"), &is_backup, &taken) == RD_OK && !is_backup,
	      "a text file is no backup");
	CHECK(store_backup_info(tmp("missing.db"), &is_backup, &taken) == RD_E_STORAGE,
	      "a missing file is an error");
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	kr1 = new_keyring("k1.key");
	test_append();
	test_restore();
	test_foreign();
	keyring_free(kr1);
	return TEST_DONE();
}
