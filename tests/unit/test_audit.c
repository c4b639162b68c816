/*
 * test_audit.c — the audit chain: intact, edited, removed, reordered,
 * truncated, and still verifiable after old entries are purged.
 */
#include "audit.h"
#include "store.h"
#include "harness.h"

#include <sodium.h>
#include <sqlite3.h>

static sqlite3 *open_db(const char *name)
{
	char path[512];
	sqlite3 *db = NULL;
	snprintf(path, sizeof path, "%s/%s", TEST_TMPDIR(), name);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return NULL;
	for (size_t i = 0; i < store_migration_count(); i++)
		if (sqlite3_exec(db, store_migration_sql(i), NULL, NULL, NULL) != SQLITE_OK)
			return NULL;
	return db;
}

/* Five entries, seq 1..5, one hour apart starting at base_ms. */
static int fill(sqlite3 *db, int64_t base_ms)
{
	static const char *const actions[] = { "read", "export", "erase", "hold.add", "purge" };
	for (int i = 0; i < 5; i++) {
		char target[64];
		snprintf(target, sizeof target, "conversation:%032d", i);
		if (audit_append_at(db, base_ms + i * 3600000LL, "cli", actions[i], target, i + 1))
			return -1;
	}
	return 0;
}

static enum audit_fault verify(sqlite3 *db, int64_t *bad)
{
	struct audit_report r;
	if (audit_verify(db, &r))
		return (enum audit_fault)-1;
	*bad = r.bad_seq;
	return r.fault;
}

static void exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fprintf(stderr, "sql failed: %s\n", sqlite3_errmsg(db));
}

static void test_intact(void)
{
	sqlite3 *db = open_db("intact.db");
	int64_t bad = -1;
	CHECK(db != NULL, "schema applies");
	CHECK(verify(db, &bad) == AUDIT_INTACT, "empty log verifies");
	CHECK(fill(db, 1000000) == 0, "five appends");
	struct audit_report r;
	CHECK(audit_verify(db, &r) == 0 && r.fault == AUDIT_INTACT, "chain verifies");
	CHECK(r.entries == 5 && r.first_seq == 1 && r.last_seq == 5, "five entries walked, seq 1..5");
	CHECK(audit_append(db, "token-a", "read", "conversation:x", 2) == 0, "append after");
	CHECK(verify(db, &bad) == AUDIT_INTACT, "still verifies");
	CHECK(audit_append(db, "", "read", "x", 1) != 0, "empty actor refused");
	sqlite3_close(db);
}

static void test_edited(void)
{
	sqlite3 *db = open_db("edited.db");
	int64_t bad = 0;
	CHECK(fill(db, 1000000) == 0, "fill for edit");
	exec(db, "UPDATE audit_log SET count = 99 WHERE seq = 3");
	CHECK(verify(db, &bad) == AUDIT_EDITED && bad == 3, "edited count found at seq 3");
	exec(db, "UPDATE audit_log SET count = 3 WHERE seq = 3");
	CHECK(verify(db, &bad) == AUDIT_INTACT, "restored entry verifies again");
	exec(db, "UPDATE audit_log SET actor = 'someone' WHERE seq = 2");
	CHECK(verify(db, &bad) == AUDIT_EDITED && bad == 2, "edited actor found at seq 2");
	sqlite3_close(db);
}

static void test_removed(void)
{
	sqlite3 *db = open_db("removed.db");
	int64_t bad = 0;
	CHECK(fill(db, 1000000) == 0, "fill for delete");
	exec(db, "DELETE FROM audit_log WHERE seq = 2");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 2, "deleted entry 2 named");
	sqlite3_close(db);

	db = open_db("renumbered.db");
	CHECK(fill(db, 1000000) == 0, "fill for delete+renumber");
	exec(db, "DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq > 2");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 2, "delete and renumber found at seq 2");
	sqlite3_close(db);

	db = open_db("tail.db");
	CHECK(fill(db, 1000000) == 0, "fill for tail delete");
	exec(db, "DELETE FROM audit_log WHERE seq = 5");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 5, "deleted newest entry named");
	CHECK(audit_append(db, "cli", "read", "x:1", 1) == 0, "append after tail delete");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 5, "gap stays visible after a new append");
	sqlite3_close(db);

	db = open_db("first.db");
	CHECK(fill(db, 1000000) == 0, "fill for first delete");
	exec(db, "DELETE FROM audit_log WHERE seq = 1");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 1, "deleted first entry named");
	sqlite3_close(db);
}

static void test_swapped(void)
{
	sqlite3 *db = open_db("swapped.db");
	int64_t bad = 0;
	CHECK(fill(db, 1000000) == 0, "fill for swap");
	exec(db, "UPDATE audit_log SET seq = -1 WHERE seq = 3;"
	         "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
	         "UPDATE audit_log SET seq = 4 WHERE seq = -1");
	CHECK(verify(db, &bad) == AUDIT_REORDERED && bad == 3, "swapped 3 and 4 found at seq 3");
	sqlite3_close(db);
}

static void test_purge(void)
{
	sqlite3 *db = open_db("purge.db");
	int64_t bad = 0, purged = -1;
	struct audit_report r;
	CHECK(fill(db, 1000000) == 0, "fill for purge");
	exec(db, "BEGIN");
	/* Entries at base + 0h, 1h, 2h, ...: before base + 2.5h drops 1..3. */
	CHECK(audit_purge(db, 1000000 + 9000000, &purged) == 0 && purged == 3, "three entries purged");
	exec(db, "COMMIT");
	CHECK(audit_verify(db, &r) == 0 && r.fault == AUDIT_INTACT, "chain verifies after purge");
	CHECK(r.checkpoint_seq == 3 && r.first_seq == 4 && r.entries == 3,
	      "checkpoint at 3, entries 4, 5 and the purge record remain");
	CHECK(audit_purge(db, 1000000, &purged) == 0 && purged == 0, "nothing older: nothing purged");
	exec(db, "DELETE FROM audit_log WHERE seq = 4");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 4, "removal right after checkpoint found");
	sqlite3_close(db);

	db = open_db("purge-all.db");
	CHECK(fill(db, 1000000) == 0, "fill for full purge");
	CHECK(audit_purge(db, INT64_MAX, &purged) == 0 && purged == 5, "everything purged");
	CHECK(audit_verify(db, &r) == 0 && r.fault == AUDIT_INTACT && r.first_seq == 6,
	      "only the purge record remains, and it verifies");
	sqlite3_close(db);
}

static void test_list(void)
{
	sqlite3 *db = open_db("list.db");
	char *out = NULL;
	size_t len = 0, n = 0;
	CHECK(fill(db, 1000000) == 0, "fill for list");
	FILE *f = open_memstream(&out, &len);
	CHECK(f && audit_list(db, 1000000 + 3 * 3600000LL, f, &n) == 0 && n == 2, "--since keeps two");
	if (f)
		fclose(f);
	CHECK(out && strstr(out, "{\"seq\":4,\"ts\":\"1970-01-01T03:16:40.000Z\",\"actor\":\"cli\","
	                         "\"action\":\"hold.add\",") != NULL, "JSON line fields in order");
	free(out);
	sqlite3_close(db);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_intact();
	test_edited();
	test_removed();
	test_swapped();
	test_purge();
	test_list();
	return TEST_DONE();
}
