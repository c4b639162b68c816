/*
 * test_audit.c — the audit chain on a real store: intact, edited, removed,
 * reordered, truncated, and still verifiable after old entries are purged.
 * Entries go in through store_exec, as the daemon writes them; the
 * tampering is done with sqlite3 on the file, as an attacker would.
 * Every test runs twice: on SQLite files, then on PostgreSQL databases
 * (pg_fixture.h; tampered with through libpq). Chains: a tenant's entries
 * in its own chain on PostgreSQL, each verified, listed and purged.
 */
#include "audit.h"
#include "store.h"
#include "store_audit.h"
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

/* ---- chains: a tenant's own on PostgreSQL, one for all on SQLite ---- */

struct tenant_append {
	const char *tenant;
	int64_t ts_ms;
};

static enum rd_err tenant_append_fn(struct store_tx *tx, void *arg)
{
	const struct tenant_append *a = arg;
	if (a->ts_ms == 0)
		return audit_append_tenant(tx, a->tenant, "cli", "read", "conversation:x", 1);
	store_audit_use_chain(tx, a->tenant);   /* what audit_append_tenant does, at a set time */
	return audit_append_at(tx, a->ts_ms, "cli", "read", "conversation:x", 1);
}

struct chains_seen {
	char names[256];
	int broken;
	int64_t entries;
};

static void chain_report(const char *chain, const struct audit_report *r, void *arg)
{
	struct chains_seen *c = arg;
	size_t n = strlen(c->names);
	snprintf(c->names + n, sizeof c->names - n, "%s%s:%lld", n ? "," : "", chain ? chain : "-",
	         (long long)r->entries);
	c->broken += r->fault != AUDIT_INTACT;
	c->entries += r->entries;
}

struct verify_all_args {
	struct chains_seen seen;
	bool intact;
};

static enum rd_err verify_all_fn(struct store_tx *tx, void *arg)
{
	struct verify_all_args *v = arg;
	memset(&v->seen, 0, sizeof v->seen);
	return audit_verify_all(tx, chain_report, &v->seen, &v->intact);
}

static void test_chains(void)
{
	struct db *db = open_db("chains.db");
	static const char *const who[] = { "acme", NULL, "acme", "globex", "acme", "globex" };
	struct verify_all_args v;
	for (size_t i = 0; i < sizeof who / sizeof *who; i++) {
		struct tenant_append a = { who[i], 1000000 + (int64_t)i * 3600000 };
		CHECK(db && store_exec(db->st, tenant_append_fn, &a) == RD_OK, "an entry appended");
	}
	CHECK(db && store_read(db->st, verify_all_fn, &v) == RD_OK && v.intact && v.seen.entries == 6,
	      "every chain verifies, six entries in all");
	CHECK_STR(v.seen.names, on_pg ? "-:1,acme:3,globex:2" : "-:6",
	          on_pg ? "a chain per tenant plus the system's" : "SQLite: one chain for all");
	exec(db, on_pg ? "UPDATE audit_log SET count = count + 1 WHERE chain = 'acme' AND seq = 2"
	               : "UPDATE audit_log SET count = count + 1 WHERE seq = 3");
	CHECK(db && store_read(db->st, verify_all_fn, &v) == RD_OK && !v.intact && v.seen.broken == 1,
	      "an edited entry breaks its chain alone");
	exec(db, on_pg ? "UPDATE audit_log SET count = count - 1 WHERE chain = 'acme' AND seq = 2"
	               : "UPDATE audit_log SET count = count - 1 WHERE seq = 3");

	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct list_args la = { f, INT64_MIN, 0 };
	CHECK(f && db && store_read(db->st, list_fn, &la) == RD_OK && la.n == 6, "list: every chain's");
	if (f)
		fclose(f);
	if (on_pg)
		CHECK(out && strstr(out, "\"tenant\":\"globex\"") && strstr(out, "\"seq\":3,") &&
		      !strstr(out, "\"seq\":4,"), "a tenant's entries say so, seq per chain");
	else
		CHECK(out && !strstr(out, "\"tenant\"") && strstr(out, "\"seq\":6,"), "one chain, no tenant");
	free(out);

	struct tenant_append now = { "acme", 0 };
	CHECK(db && store_exec(db->st, tenant_append_fn, &now) == RD_OK, "audit_append_tenant appends");
	int64_t purged = -1;
	CHECK(purge(db, 1000000 + 3 * 3600000, &purged) == 0 && purged == 3, "a purge spans every chain");
	CHECK(db && store_read(db->st, verify_all_fn, &v) == RD_OK && v.intact,
	      "every chain still verifies");
	if (on_pg)
		CHECK_STR(v.seen.names, "-:1,acme:3,globex:2",
		          "acme kept 2 and its purge record, globex both, the system's its purge record");
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
	test_chains();
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
