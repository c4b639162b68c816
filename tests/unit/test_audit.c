/*
 * test_audit.c — the audit chain on a real store: intact, edited, removed,
 * reordered, truncated, and still verifiable after old entries are purged.
 * Entries go in through store_exec, as the daemon writes them; the
 * tampering is done with sqlite3 on the file, as an attacker would.
 * Every test runs twice: on SQLite files, then on PostgreSQL databases
 * (pg_fixture.h; tampered with through libpq).
 */
#include "audit.h"
#include "store.h"
#include "harness.h"
#include "pg_fixture.h"

#include <sodium.h>
#include <sqlite3.h>

/* The log under test: its store, and a sqlite3 handle on the same file to
 * tamper with. */
struct db {
	struct store *st;
	sqlite3 *raw;
	char url[512];   /* on PostgreSQL: the database's URL, for tampering */
};

static bool on_pg;   /* this round's backend */

static struct db *open_db(const char *name)
{
	static struct db d;
	char path[512], err[256];
	struct store_options o = { .sync_full = true, .readonly = true };
	snprintf(path, sizeof path, "%s/%s", TEST_TMPDIR(), name);
	memset(&d, 0, sizeof d);
	if (on_pg && pg_new_db(name, d.url, sizeof d.url)) {
		fprintf(stderr, "open %s: no postgresql database\n", name);
		return NULL;
	}
	o.pg_url = on_pg ? d.url : NULL;
	if (store_open(path, &o, &d.st, err, sizeof err) != RD_OK ||
	    (!on_pg && sqlite3_open(path, &d.raw) != SQLITE_OK)) {
		fprintf(stderr, "open %s: %s\n", name, err);
		return NULL;
	}
	return &d;
}

static void close_db(struct db *d)
{
	if (!d)
		return;
	sqlite3_close(d->raw);
	store_close(d->st);
}

struct append {
	int64_t ts_ms, count;
	const char *actor, *action, *target;
};

static enum rd_err append_fn(struct store_tx *tx, void *arg)
{
	const struct append *a = arg;
	return a->ts_ms ? audit_append_at(tx, a->ts_ms, a->actor, a->action, a->target, a->count)
	                : audit_append(tx, a->actor, a->action, a->target, a->count);
}

/* One entry, now, in its own transaction. */
static enum rd_err append(struct db *d, const char *actor, const char *action, const char *target,
                          int64_t count)
{
	struct append a = { 0, count, actor, action, target };
	return d ? store_exec(d->st, append_fn, &a) : RD_E_INTERNAL;
}

/* Five entries, seq 1..5, one hour apart starting at base_ms. */
static int fill(struct db *d, int64_t base_ms)
{
	static const char *const actions[] = { "read", "export", "erase", "hold.add", "purge" };
	if (!d)
		return -1;
	for (int i = 0; i < 5; i++) {
		char target[64];
		snprintf(target, sizeof target, "conversation:%032d", i);
		struct append a = { base_ms + i * 3600000LL, i + 1, "cli", actions[i], target };
		if (store_exec(d->st, append_fn, &a) != RD_OK)
			return -1;
	}
	return 0;
}

static enum rd_err verify_fn(struct store_tx *tx, void *arg)
{
	return audit_verify(tx, arg);
}

static int report(struct db *d, struct audit_report *r)
{
	return d && store_read(d->st, verify_fn, r) == RD_OK ? 0 : -1;
}

static enum audit_fault verify(struct db *d, int64_t *bad)
{
	struct audit_report r;
	if (report(d, &r))
		return (enum audit_fault)-1;
	*bad = r.bad_seq;
	return r.fault;
}

static void exec(struct db *d, const char *sql)
{
	if (d && on_pg) {
		if (pg_sql(d->url, sql))
			fprintf(stderr, "sql failed on postgresql\n");
		return;
	}
	if (!d || sqlite3_exec(d->raw, sql, NULL, NULL, NULL) != SQLITE_OK)
		fprintf(stderr, "sql failed: %s\n", d ? sqlite3_errmsg(d->raw) : "no database");
}

struct purge {
	int64_t before_ms, purged;
};

static enum rd_err purge_fn(struct store_tx *tx, void *arg)
{
	struct purge *p = arg;
	return audit_purge(tx, p->before_ms, &p->purged);
}

/* Purge entries older than before_ms in one transaction; *purged. */
static int purge(struct db *d, int64_t before_ms, int64_t *purged)
{
	struct purge p = { before_ms, -1 };
	int rc = d && store_exec(d->st, purge_fn, &p) == RD_OK ? 0 : -1;
	*purged = p.purged;
	return rc;
}

static void test_intact(void)
{
	struct db *db = open_db("intact.db");
	int64_t bad = -1;
	CHECK(db != NULL, "schema applies");
	CHECK(verify(db, &bad) == AUDIT_INTACT, "empty log verifies");
	CHECK(fill(db, 1000000) == 0, "five appends");
	struct audit_report r;
	CHECK(report(db, &r) == 0 && r.fault == AUDIT_INTACT, "chain verifies");
	CHECK(r.entries == 5 && r.first_seq == 1 && r.last_seq == 5, "five entries walked, seq 1..5");
	CHECK(append(db, "token-a", "read", "conversation:x", 2) == RD_OK, "append after");
	CHECK(verify(db, &bad) == AUDIT_INTACT, "still verifies");
	CHECK(append(db, "", "read", "x", 1) == RD_E_AUDIT, "empty actor refused");
	close_db(db);
}

static void test_edited(void)
{
	struct db *db = open_db("edited.db");
	int64_t bad = 0;
	CHECK(fill(db, 1000000) == 0, "fill for edit");
	exec(db, "UPDATE audit_log SET count = 99 WHERE seq = 3");
	CHECK(verify(db, &bad) == AUDIT_EDITED && bad == 3, "edited count found at seq 3");
	exec(db, "UPDATE audit_log SET count = 3 WHERE seq = 3");
	CHECK(verify(db, &bad) == AUDIT_INTACT, "restored entry verifies again");
	exec(db, "UPDATE audit_log SET actor = 'someone' WHERE seq = 2");
	CHECK(verify(db, &bad) == AUDIT_EDITED && bad == 2, "edited actor found at seq 2");
	close_db(db);
}

static void test_removed(void)
{
	struct db *db = open_db("removed.db");
	int64_t bad = 0;
	CHECK(fill(db, 1000000) == 0, "fill for delete");
	exec(db, "DELETE FROM audit_log WHERE seq = 2");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 2, "deleted entry 2 named");
	close_db(db);

	db = open_db("renumbered.db");
	CHECK(fill(db, 1000000) == 0, "fill for delete+renumber");
	exec(db, "DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq > 2");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 2, "delete and renumber found at seq 2");
	close_db(db);

	db = open_db("tail.db");
	CHECK(fill(db, 1000000) == 0, "fill for tail delete");
	exec(db, "DELETE FROM audit_log WHERE seq = 5");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 5, "deleted newest entry named");
	CHECK(append(db, "cli", "read", "x:1", 1) == RD_OK, "append after tail delete");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 5, "gap stays visible after a new append");
	close_db(db);

	db = open_db("first.db");
	CHECK(fill(db, 1000000) == 0, "fill for first delete");
	exec(db, "DELETE FROM audit_log WHERE seq = 1");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 1, "deleted first entry named");
	close_db(db);
}

static void test_swapped(void)
{
	struct db *db = open_db("swapped.db");
	int64_t bad = 0;
	CHECK(fill(db, 1000000) == 0, "fill for swap");
	exec(db, "UPDATE audit_log SET seq = -1 WHERE seq = 3;"
	         "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
	         "UPDATE audit_log SET seq = 4 WHERE seq = -1");
	CHECK(verify(db, &bad) == AUDIT_REORDERED && bad == 3, "swapped 3 and 4 found at seq 3");
	close_db(db);
}

static void test_purge(void)
{
	struct db *db = open_db("purge.db");
	int64_t bad = 0, purged = -1;
	struct audit_report r;
	CHECK(fill(db, 1000000) == 0, "fill for purge");
	/* Entries at base + 0h, 1h, 2h, ...: before base + 2.5h drops 1..3. */
	CHECK(purge(db, 1000000 + 9000000, &purged) == 0 && purged == 3, "three entries purged");
	CHECK(report(db, &r) == 0 && r.fault == AUDIT_INTACT, "chain verifies after purge");
	CHECK(r.checkpoint_seq == 3 && r.first_seq == 4 && r.entries == 3,
	      "checkpoint at 3, entries 4, 5 and the purge record remain");
	CHECK(purge(db, 1000000, &purged) == 0 && purged == 0, "nothing older: nothing purged");
	exec(db, "DELETE FROM audit_log WHERE seq = 4");
	CHECK(verify(db, &bad) == AUDIT_REMOVED && bad == 4, "removal right after checkpoint found");
	close_db(db);

	db = open_db("purge-all.db");
	CHECK(fill(db, 1000000) == 0, "fill for full purge");
	CHECK(purge(db, INT64_MAX, &purged) == 0 && purged == 5, "everything purged");
	CHECK(report(db, &r) == 0 && r.fault == AUDIT_INTACT && r.first_seq == 6,
	      "only the purge record remains, and it verifies");
	close_db(db);
}

struct list_args {
	FILE *f;
	int64_t since_ms;
	size_t n;
};

static enum rd_err list_fn(struct store_tx *tx, void *arg)
{
	struct list_args *a = arg;
	return audit_list(tx, a->since_ms, a->f, &a->n);
}

static void test_list(void)
{
	struct db *db = open_db("list.db");
	char *out = NULL;
	size_t len = 0;
	CHECK(fill(db, 1000000) == 0, "fill for list");
	FILE *f = open_memstream(&out, &len);
	struct list_args la = { f, 1000000 + 3 * 3600000LL, 0 };
	CHECK(f && db && store_read(db->st, list_fn, &la) == RD_OK && la.n == 2, "--since keeps two");
	if (f)
		fclose(f);
	CHECK(out && strstr(out, "{\"seq\":4,\"ts\":\"1970-01-01T03:16:40.000Z\",\"actor\":\"cli\","
	                         "\"action\":\"hold.add\",") != NULL, "JSON line fields in order");
	free(out);
	close_db(db);
}

static void run_all(void)
{
	test_intact();
	test_edited();
	test_removed();
	test_swapped();
	test_purge();
	test_list();
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	run_all();
	if (pg_base_url()) {
		printf("# the same on postgresql\n");
		on_pg = true;
		run_all();
	} else {
		pg_skip_or_fail();
	}
	return TEST_DONE();
}
