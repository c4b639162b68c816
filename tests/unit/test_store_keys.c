/*
 * test_store_keys.c — the store's keys on real SQLite files: data keys per
 * period, master key rotation, the root key, crypto-shredding reaching a
 * backup, and re-sealing an older database under format 2.
 */
#include "store_fixture.h"

/* ---- data keys -------------------------------------------------------------- */

static void test_data_keys(void)
{
	struct store *st = open_store("keys.db", 64, false, NULL);
	unsigned char k1[CRYPTO_KEY_BYTES], k2[CRYPTO_KEY_BYTES], k3[CRYPTO_KEY_BYTES],
		k4[CRYPTO_KEY_BYTES], k5[CRYPTO_KEY_BYTES];
	int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0;
	if (!st)
		return;
	CHECK(store_data_key_for(st, kr1, "acme", "chat", JAN_2020, &id1, k1) == 0, "key for Jan");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", JAN_2020 + 86400000LL * 20, &id2, k2) == 0 &&
	      id1 == id2 && !memcmp(k1, k2, sizeof k1), "same month, same key");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", FEB_2020, &id3, k3) == 0 && id3 != id1 &&
	      memcmp(k1, k3, sizeof k1), "next month, another key");
	CHECK(store_data_key_for(st, kr1, "beta", "chat", JAN_2020, &id4, k4) == 0 && id4 != id1,
	      "another tenant, another key");
	CHECK(store_data_key_for(st, kr1, "acme", "lead", JAN_2020, &id4, k4) == 0 && id4 != id1,
	      "another category, another key");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", FEB_2020 - 43200001LL, &id4, k4) == 0 &&
	      id4 == id1, "last millisecond of January is January (UTC)");
	CHECK(store_data_key_get(st, kr1, id3, k5) == 0 && !memcmp(k3, k5, sizeof k3), "get by id");
	CHECK(store_data_key_get(st, kr1, 424242, k5) == RD_E_STORAGE, "unknown id fails");
	store_close(st);
	st = open_store("keys.db", 64, false, NULL);
	CHECK(st && store_data_key_get(st, kr1, id3, k5) == 0 && !memcmp(k3, k5, sizeof k3),
	      "key reads back after re-open (unwrapped from the database)");
	CHECK(st && store_data_key_get(st, kr2, id3, k5) == 0, "already cached: any keyring");
	store_close(st);
	st = open_store("keys.db", 64, false, NULL);
	CHECK(st && store_data_key_get(st, kr2, id3, k5) == RD_E_STORAGE,
	      "a fresh process with another master key opens no data key");
	store_close(st);
	CHECK(count_sql("keys.db", "SELECT count(*) FROM data_keys WHERE length(wrapped) = 72") == 4,
	      "4 keys stored wrapped (72 bytes)");
}

/* ---- rotation ------------------------------------------------------------------ */

static void test_rotation(void)
{
	struct store *st = open_store("rot.db", 64, false, NULL);
	struct trec a, b;
	size_t n = 99;
	if (!st || make_rec(st, &a, "acme", "r", JAN_2020, "jan") ||
	    make_rec(st, &b, "acme", "r", FEB_2020, "feb")) {
		CHECK(0, "rotation setup");
		store_close(st);
		return;
	}
	struct store_record r[2] = { a.r, b.r };
	CHECK(store_submit(st, r, 2) == RD_OK, "records under master key 1");
	CHECK(store_rekey(st, kr1, kr2, &n) == 0 && n == 2, "rotation re-wraps 2 data keys");
	/* (no root key stored in this database: nothing attached it) */
	struct readback rb = read_conv(st, kr1, "acme", "r");
	CHECK(rb.opened == 2, "the running store keeps reading (cached keys)");
	CHECK(store_rekey(st, kr1, kr2, &n) == 0 && n == 0, "a second rotation changes nothing");
	store_close(st);
	st = open_store("rot.db", 64, true, NULL);
	rb = st ? read_conv(st, kr1, "acme", "r") : (struct readback){ 0 };
	CHECK(rb.opened == 0 && rb.failed == 2, "afterwards the old master key opens nothing");
	store_close(st);
	st = open_store("rot.db", 64, true, NULL);
	rb = st ? read_conv(st, kr2, "acme", "r") : (struct readback){ 0 };
	CHECK(rb.opened == 2 && !strcmp(rb.texts, "jan|feb"), "the new master key opens everything");
	CHECK(st && store_rekey(st, kr1, kr1, &n) == RD_E_STORAGE, "rotating from a wrong key fails");
	store_close(st);
	CHECK(count_sql("rot.db", "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL") == 2,
	      "a failed rotation changed nothing");
}

static struct keyring *reload(const char *name)
{
	char err[256];
	struct keyring *kr = NULL;
	return keyring_load(tmp(name), &kr, err, sizeof err) ? NULL : kr;
}

/* The keyed-hash subkeys survive a rotation; the old master key opens
 * neither the root nor any data key afterwards. */
static void test_root_key(void)
{
	struct store *st = open_store("root.db", 64, false, NULL);
	struct keyring *a = reload("k1.key"), *b = reload("k2.key"), *a2 = reload("k1.key"),
		*b2 = reload("k2.key");
	unsigned char l1[CRYPTO_KEY_BYTES], l2[CRYPTO_KEY_BYTES], direct[CRYPTO_KEY_BYTES];
	char err[256];
	size_t n = 0;
	if (!st || !a || !b || !a2 || !b2) {
		CHECK(0, "root setup");
		goto done;
	}
	keyring_subkey(a, SUBKEY_LOOKUP, direct);
	CHECK(store_keyring_attach(st, a, err, sizeof err) == 0, "first attach stores the root");
	keyring_subkey(a, SUBKEY_LOOKUP, l1);
	CHECK(!memcmp(l1, direct, sizeof l1), "a new database keeps the master key's subkeys");
	CHECK(store_keyring_attach(st, b, err, sizeof err) != 0, "another master key is refused");
	CHECK(store_rekey(st, a, b, &n) == 0 && n == 1, "rotation re-wraps the root key");
	CHECK(store_keyring_attach(st, b2, err, sizeof err) == 0, "the new master key attaches");
	keyring_subkey(b2, SUBKEY_LOOKUP, l2);
	CHECK(!memcmp(l1, l2, sizeof l1), "lookup subkey is unchanged by rotation");
	CHECK(store_keyring_attach(st, a2, err, sizeof err) != 0,
	      "the old master key no longer opens the root");
	unsigned char k[CRYPTO_KEY_BYTES];
	int64_t id;
	CHECK(store_data_key_for(st, a, "acme", "chat", MAR_2020, &id, k) != 0,
	      "a process still on the old master key makes no new data key");
	CHECK(store_data_key_for(st, b2, "acme", "chat", MAR_2020, &id, k) == 0,
	      "the new master key makes them");
done:
	store_close(st);
	keyring_free(a);
	keyring_free(b);
	keyring_free(a2);
	keyring_free(b2);
}

/* ---- purge, shredding, backup, residue ------------------------------------------- */

static void test_shred_backup(void)
{
	struct store *st = open_store("shred.db", 256, false, NULL);
	struct trec t[4];
	char err[256];
	size_t n = 0;
	if (!st || make_rec(st, &t[0], "acme", "s", JAN_2020, "jan1") ||
	    make_rec(st, &t[1], "acme", "s", JAN_2020 + 1, "jan2") ||
	    make_rec(st, &t[2], "acme", "s", FEB_2020, "feb") ||
	    make_rec(st, &t[3], "acme", "held", JAN_2020 + 5, "held")) {
		CHECK(0, "shred setup");
		store_close(st);
		return;
	}
	struct store_record r[4] = { t[0].r, t[1].r, t[2].r, t[3].r };
	CHECK(store_submit(st, r, 4) == RD_OK, "Jan and Feb records stored");
	int64_t in_copy = -1;
	CHECK(store_backup(st, tmp("nokeys.bak"), 0, &in_copy, err, sizeof err) == RD_OK && in_copy == 4,
	      "backup without keys, of the 4 records");
	CHECK(store_backup(st, tmp("full.bak"), STORE_BACKUP_WITH_KEYS, NULL, err, sizeof err) == RD_OK,
	      "backup with keys");
	CHECK(store_backup(st, tmp("full.bak"), 0, NULL, err, sizeof err) != RD_OK,
	      "backup refuses to overwrite");
	CHECK(file_mode("nokeys.bak") == 0600 && file_mode("full.bak") == 0600, "backups are 0600");
	CHECK(count_sql("nokeys.bak", "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL") == 0,
	      "keyless backup holds no wrapped key");
	/* Purge January, keeping the held conversation. */
	CHECK(store_purge_before(st, NULL, "chat", FEB_2020 - 43200000LL, 1, keep_conv_k,
	                         (void *)t[3].r.conv_hash, &n) == 0 && n == 2,
	      "purge deletes 2 January records in batches of 1, skipping the held one");
	CHECK(store_shred_keys(st, MAR_2020, &n) == 0 && n == 0, "held record keeps January's key");
	CHECK(store_purge_before(st, "acme", "chat", FEB_2020 - 43200000LL, 10, NULL, NULL, &n) == 0 &&
	      n == 1, "then the held one goes too");
	CHECK(store_shred_keys(st, JAN_2020 + 86400000LL, &n) == 0 && n == 0,
	      "the current month is never shredded");
	CHECK(store_shred_keys(st, MAR_2020, &n) == 0 && n == 1, "January's key is destroyed");
	unsigned char k[CRYPTO_KEY_BYTES];
	CHECK(store_data_key_get(st, kr1, t[0].r.key_id, k) == RD_E_NOT_FOUND,
	      "destroyed key reports RD_E_NOT_FOUND");
	CHECK(read_conv(st, kr1, "acme", "s").opened == 1, "February still reads");
	struct trec late;
	CHECK(make_rec(st, &late, "acme", "s", JAN_2020 + 9, "late") == 0 &&
	      late.r.key_id != t[0].r.key_id, "a late January record gets a new key");
	CHECK(store_submit(st, &late.r, 1) == RD_OK, "and stores");
	store_close(st);
	CHECK(count_sql("shred.db", "SELECT count(*) FROM subjects WHERE conv_hash IN (SELECT conv_hash"
	                " FROM messages)") == count_sql("shred.db", "SELECT count(*) FROM subjects"),
	      "no subject link without messages");

	/* The keyless backup, read with the live keys: January is gone. */
	struct store *bk = open_store("nokeys.bak", 16, true, tmp("shred.db"));
	struct readback rb = bk ? read_conv(bk, kr1, "acme", "s") : (struct readback){ 0 };
	CHECK(rb.shredded == 2 && rb.opened == 1 && !strcmp(rb.texts, "feb"),
	      "backup rows of the shredded period no longer open");
	store_close(bk);
	/* The escrow copy opens with the master key alone. */
	bk = open_store("full.bak", 16, true, NULL);
	rb = bk ? read_conv(bk, kr1, "acme", "s") : (struct readback){ 0 };
	CHECK(rb.opened == 3, "backup with keys opens with the same master key");
	store_close(bk);
}

/* ---- seal format 2 (issue 11) ---------------------------------------------------- */

/* A database written before issue 11 (schema v4, every field sealed under
 * format 1) is migrated on open and re-sealed when the key is attached:
 * its records read under format 2, which binds role, channel, category
 * and time. Setting the format back to 1 afterwards launders no edit. */
static void test_reseal(void)
{
	struct store *st = open_attached("reseal.db");
	struct trec t[3];
	seal_v1 = true;
	bool ok = st && !make_rec(st, &t[0], "acme", "old", JAN_2020, "first") &&
	          !make_rec(st, &t[1], "acme", "old", JAN_2020 + 1, "second") &&
	          !make_rec(st, &t[2], "acme", "gone", FEB_2020, "shredded");
	seal_v1 = false;
	struct store_record r[3] = { t[0].r, t[1].r, t[2].r };
	CHECK(ok && store_submit(st, r, 3) == RD_OK, "three records sealed the old way");
	store_close(st);
	/* As the previous release left it: no seal_format table, schema v4. */
	CHECK(sql_on("reseal.db", "DROP TABLE seal_format; PRAGMA user_version = 4;"
	             " UPDATE data_keys SET wrapped = NULL WHERE id = (SELECT key_id FROM messages"
	             " WHERE ts_ms = 1580558400000)") == 0,
	      "made a schema-v4 database (one record's key destroyed meanwhile)");
	CHECK(sql_on("reseal.db", "UPDATE messages SET key_id = key_id") == 0, "still opens with sqlite3");
	st = open_store("reseal.db", 64, false, NULL);
	CHECK(st && store_schema_version(st) == (int)store_migration_count() && store_seal_format(st) == 1,
	      "opening migrates the schema; the rows are still format 1");
	CHECK(st && read_conv(st, kr1, "acme", "old").failed == 2,
	      "format-1 rows do not open under format 2's associated data");
	store_close(st);
	st = open_attached("reseal.db");
	CHECK(st && store_seal_format(st) == 2, "attaching the key re-seals: format 2");
	struct readback rb = st ? read_conv(st, kr1, "acme", "old") : (struct readback){ 0 };
	CHECK(rb.opened == 2 && rb.failed == 0 && !strcmp(rb.texts, "first|second"),
	      "the migrated records read back");
	CHECK(count_sql("reseal.db", "SELECT format FROM seal_format") == 2, "the database says format 2");
	store_close(st);
	st = open_attached("reseal.db");
	CHECK(st && read_conv(st, kr1, "acme", "old").opened == 2, "re-opening re-seals nothing twice");
	store_close(st);
	/* An attacker edits a row and sets the format back to 1. */
	CHECK(sql_on("reseal.db", "UPDATE seal_format SET format = 1;"
	             " UPDATE messages SET role = 'agent' WHERE ts_ms = 1577880000000") == 0,
	      "edit a role and set the format back");
	st = open_attached("reseal.db");
	rb = st ? read_conv(st, kr1, "acme", "old") : (struct readback){ 0 };
	CHECK(st && store_seal_format(st) == 2 && rb.opened == 1 && rb.failed == 1 &&
	      !strcmp(rb.texts, "second"), "the edited row still fails; the other reads");
	store_close(st);
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	kr1 = new_keyring("k1.key");
	kr2 = new_keyring("k2.key");
	test_data_keys();
	test_rotation();
	test_root_key();
	test_shred_backup();
	test_reseal();
	keyring_free(kr1);
	keyring_free(kr2);
	return TEST_DONE();
}
