/*
 * test_store_pg_schema.c — the PostgreSQL schema (issue 19), on the run's
 * cluster only (there is no SQLite half):
 *   - every table of a new database is in store_pg_dist.h's list, and
 *     every primary key and unique index of a distributed table includes
 *     its distribution column (so Citus can distribute it by tenant); the
 *     check is shown to catch a forgotten table and a unique index without
 *     tenant;
 *   - schema step 5 moves a database of the month-only layout (step 4,
 *     made here with that step's DDL, rows and all) to partitions by
 *     (category, month): the rows are still there, readable and counted.
 */
#include "store_fixture.h"
#include "store_pg_dist.h"
#include "store_retention.h"
#include "pg_fixture.h"

static char url[512];

/* ---- the catalogue against the list ------------------------------------------ */

/* Problems found, one a line, into out ("" when none); -1 when the
 * catalogue could not be read. */
static int catalog_problems(const char *db, char *out, size_t len)
{
	PGconn *c = PQconnectdb(db);
	out[0] = '\0';
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return -1;
	}
	/* Ordinary and partitioned tables of the schema, not partitions. */
	PGresult *t = PQexec(c, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	                     " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
	                     " AND NOT c.relispartition ORDER BY 1");
	/* Each unique index (primary keys too) of those: does it hold the
	 * column named $1? */
	int rc = PQresultStatus(t) == PGRES_TUPLES_OK ? 0 : -1;
	for (int i = 0; rc == 0 && i < PQntuples(t); i++) {
		const char *name = PQgetvalue(t, i, 0);
		const struct store_pg_dist_table *e = NULL;
		for (size_t k = 0; k < store_pg_ndist_tables; k++)
			if (!strcmp(store_pg_dist_tables[k].name, name))
				e = &store_pg_dist_tables[k];
		size_t n = strlen(out);
		if (!e) {
			snprintf(out + n, len - n, "%s: in neither list;", name);
			continue;
		}
		if (!e->dist_column)
			continue;
		const char *vals[2] = { name, e->dist_column };
		PGresult *u = PQexecParams(c, "SELECT ic.relname FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid"
		                           " WHERE x.indrelid = $1::regclass AND x.indisunique AND NOT EXISTS"
		                           " (SELECT 1 FROM pg_attribute a WHERE a.attrelid = x.indrelid"
		                           " AND a.attname = $2 AND a.attnum = ANY (x.indkey)) ORDER BY 1",
		                           2, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(u) != PGRES_TUPLES_OK)
			rc = -1;
		for (int j = 0; rc == 0 && j < PQntuples(u); j++) {
			n = strlen(out);
			snprintf(out + n, len - n, "%s: unique index %s lacks %s;", name, PQgetvalue(u, j, 0),
			         e->dist_column);
		}
		PQclear(u);
	}
	/* Every listed table exists (the list is not stale). */
	for (size_t k = 0; rc == 0 && k < store_pg_ndist_tables; k++) {
		bool found = false;
		for (int i = 0; i < PQntuples(t); i++)
			found |= !strcmp(PQgetvalue(t, i, 0), store_pg_dist_tables[k].name);
		size_t n = strlen(out);
		if (!found)
			snprintf(out + n, len - n, "%s: listed, not in the database;", store_pg_dist_tables[k].name);
	}
	PQclear(t);
	PQfinish(c);
	return rc;
}

static struct store *pg_open(void)
{
	struct store_options o = { .sync_full = true, .queue_size = 64, .batch_max = 256, .pg_url = url };
	struct store *st = NULL;
	char err[512];
	if (store_open(tmp("pg"), &o, &st, err, sizeof err) || store_keyring_attach(st, kr1, err, sizeof err)) {
		fprintf(stderr, "open: %s\n", err);
		store_close(st);
		return NULL;
	}
	return st;
}

static void test_catalog(void)
{
	char problems[2048];
	struct store *st = pg_new_db("catalog", url, sizeof url) == 0 ? pg_open() : NULL;
	CHECK(st != NULL, "a new database at the newest schema");
	store_close(st);
	int rc = catalog_problems(url, problems, sizeof problems);
	CHECK(rc == 0 && problems[0] == '\0', "every table is listed, every unique key of a distributed table"
	      " holds its distribution column");
	if (problems[0])
		printf("# %s\n", problems);
	/* The check can fail: a table nobody listed, a unique index without tenant. */
	CHECK(pg_sql(url, "CREATE TABLE forgotten (x int PRIMARY KEY)") == 0 &&
	      pg_sql(url, "CREATE UNIQUE INDEX holds_by_id ON holds (id)") == 0, "tampered with");
	rc = catalog_problems(url, problems, sizeof problems);
	CHECK(rc == 0 && strstr(problems, "forgotten: in neither list") &&
	      strstr(problems, "holds: unique index holds_by_id lacks tenant"),
	      "a forgotten table and a unique index without tenant are reported");
}

/* ---- schema step 5: from month partitions to (category, month) --------------- */

/* The step-4 layout of messages (steps 1 and 2's DDL), its rows copied in:
 * what a database made by the code before step 5 looks like. */
static const char to_v4[] =
	"BEGIN;"
	"ALTER TABLE messages RENAME TO messages_new;"
	"ALTER INDEX messages_pkey RENAME TO messages_new_pkey;"
	"ALTER INDEX messages_conv RENAME TO messages_new_conv;"
	"ALTER INDEX messages_record RENAME TO messages_new_record;"
	"CREATE TABLE messages ("
	"  tenant text NOT NULL, ts_ms bigint NOT NULL, id bigint NOT NULL, record_id text NOT NULL,"
	"  conv_hash bytea NOT NULL, received_ms bigint NOT NULL, role text NOT NULL,"
	"  channel text NOT NULL, category text NOT NULL, key_id bigint NOT NULL,"
	"  conv_ct bytea NOT NULL, text_ct bytea NOT NULL, meta_ct bytea NOT NULL,"
	"  entity_counts text NOT NULL DEFAULT '{}',"
	"  PRIMARY KEY (tenant, ts_ms, id)) PARTITION BY RANGE (ts_ms);"
	"CREATE INDEX messages_conv ON messages (tenant, conv_hash, ts_ms, id);"
	"CREATE INDEX messages_cat_ts ON messages (tenant, category, ts_ms);"
	"CREATE INDEX messages_record ON messages (tenant, record_id);"
	"CREATE TABLE messages_p202001 PARTITION OF messages FOR VALUES FROM (1577836800000) TO (1580515200000);"
	"CREATE TABLE messages_p202002 PARTITION OF messages FOR VALUES FROM (1580515200000) TO (1583020800000);"
	"INSERT INTO messages SELECT tenant, ts_ms, id, record_id, conv_hash, received_ms, role, channel,"
	"  category, key_id, conv_ct, text_ct, meta_ct, entity_counts FROM messages_new;"
	"DROP TABLE messages_new; DROP TABLE message_categories; DROP SEQUENCE message_categories_id_seq;"
	"DROP FUNCTION redactd_messages_partition(int, int, bigint, bigint, text);"
	"UPDATE redactd_schema SET version = 4;"
	"COMMIT;";

struct groups {
	char list[256];
};

static enum rd_err group_fn(const struct store_group *g, void *arg)
{
	struct groups *c = arg;
	size_t n = strlen(c->list);
	snprintf(c->list + n, sizeof c->list - n, "%s/%s=%lld;", g->tenant, g->category, (long long)g->records);
	return RD_OK;
}

static enum rd_err groups_read(struct store_tx *tx, void *arg)
{
	return store_groups(tx, group_fn, arg);
}

static int put(struct store *st, const char *tenant, const char *category, const char *conv, int64_t ts,
               const char *text)
{
	struct trec t;
	rec_category = category;
	int rc = make_rec(st, &t, tenant, conv, ts, text) == 0 && store_submit(st, &t.r, 1) == RD_OK ? 0 : -1;
	rec_category = NULL;
	return rc;
}

static int hook_from = -1, hook_to = -1, hook_calls;

static void migration_hook(int from, int to)
{
	hook_from = from;
	hook_to = to;
	hook_calls++;
}

static void test_step5(void)
{
	store_set_migration_hook(migration_hook);
	struct store *st = pg_new_db("step5", url, sizeof url) == 0 ? pg_open() : NULL;
	CHECK(st && hook_calls == 0, "a new database: the migration hook is not called");
	CHECK(st && put(st, "acme", "chat", "a", JAN_2020, "one") == 0 && put(st, "acme", "email", "a", JAN_2020 + 1, "two") == 0 &&
	      put(st, "acme", "chat", "b", FEB_2020, "three") == 0 && put(st, "globex", "chat", "g", FEB_2020, "four") == 0,
	      "four records: two categories, two months, two tenants");
	store_close(st);
	CHECK(pg_sql(url, to_v4) == 0, "the database taken back to the month-only layout of step 4");
	CHECK(pg_value(url, "SELECT count(*) FROM messages_p202001") == 2 &&
	      pg_value(url, "SELECT version FROM redactd_schema") == 4, "its rows in month partitions, version 4");

	st = pg_open();
	CHECK(st != NULL, "the new code opens it (step 5 runs)");
	CHECK(hook_calls == 1 && hook_from == 4 && hook_to == pg_value(url, "SELECT version FROM redactd_schema"),
	      "the migration hook was told, once, before the steps: from 4 to the newest");
	store_set_migration_hook(NULL);
	if (!st)
		return;
	CHECK(pg_value(url, "SELECT version FROM redactd_schema") >= 5, "at version 5 or later");
	CHECK(pg_value(url, "SELECT count(*) FROM pg_class WHERE relname IN ('messages_p202001', 'messages_p202002',"
	               " 'messages_v4')") == 0, "the month partitions are gone");
	CHECK(pg_value(url, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass") == 3,
	      "three (category, month) partitions: chat and email of January, chat of February");
	CHECK(pg_value(url, "SELECT count(*) FROM messages_p202001_c1") + pg_value(url, "SELECT count(*) FROM messages_p202001_c2") == 2,
	      "January's rows, one in each category's partition");
	struct groups g = { "" };
	CHECK(store_read(st, groups_read, &g) == RD_OK && !strcmp(g.list, "acme/chat=2;acme/email=1;globex/chat=1;"),
	      "counted as before");
	printf("# %s\n", g.list);
	struct readback a = read_conv(st, kr1, "acme", "a"), b = read_conv(st, kr1, "acme", "b");
	CHECK(a.opened == 2 && !strcmp(a.texts, "one|two") && b.opened == 1 && read_conv(st, kr1, "globex", "g").opened == 1,
	      "every record opens");
	CHECK(put(st, "acme", "chat", "a", JAN_2020 + 2, "five") == 0 && put(st, "acme", "lead", "a", FEB_2020 + 1, "six") == 0,
	      "new records go in, one of a new category");
	CHECK(read_conv(st, kr1, "acme", "a").opened == 4, "and read back");
	store_close(st);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	kr1 = new_keyring("k1.key");
	if (pg_base_url()) {
		test_catalog();
		test_step5();
	} else {
		pg_skip_or_fail();
	}
	keyring_free(kr1);
	return TEST_DONE();
}
