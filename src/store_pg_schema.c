/*
 * store_pg_schema.c — the PostgreSQL schema, its migration, and the
 * monthly partitions of messages.
 *
 * The SQLite schema (store_schema.c) in PostgreSQL's terms, with two
 * changes of shape:
 *   - tenant first in every primary key (and a table's other unique keys),
 *     so Citus can distribute every table by tenant and a tenant's
 *     messages, subjects, holds and data keys are co-located;
 *   - messages partitioned by range of ts_ms, one partition per UTC month
 *     (messages_pYYYYMM), created on demand by the writer
 *     (store_pg_partition_for): a retention sweep can later delete from,
 *     or drop, whole partitions instead of scanning.
 * A message's primary key is (tenant, ts_ms, id): the partition key must
 * be in it. Its id comes from one sequence, so ids stay unique across
 * partitions and order rows of the same ts_ms as SQLite's rowid does.
 *
 * Versions: redactd_schema holds one row (version). Each step below runs
 * in the open's transaction, under an advisory lock, so several redactd
 * processes opening one new database at once create it once. A shipped
 * step is never edited; a port of another typed operation adds its tables
 * as the next version.
 */
#include "store_pg_int.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pg_steps[] = {
	/* 1: data keys, root key, messages, subject links, the replay
	 * register, the audit log (a chain per tenant plus the system's, ''),
	 * and the tables whose reads are ported (restrictions, holds, tenant
	 * closures), so an empty one answers those reads. */
	"CREATE TABLE key_root ("
	"  id int PRIMARY KEY CHECK (id = 1),"
	"  wrapped bytea NOT NULL,"
	"  created_ms bigint NOT NULL);"
	/* Wrapped by the master key (AD binds id), NULL once destroyed. Ids
	 * come from a sequence (a data key's id is global: records name it). */
	"CREATE TABLE data_keys ("
	"  tenant text NOT NULL,"
	"  id bigint NOT NULL,"
	"  category text NOT NULL,"
	"  period text NOT NULL,"
	"  start_ms bigint NOT NULL,"
	"  end_ms bigint NOT NULL,"
	"  wrapped bytea,"
	"  created_ms bigint NOT NULL,"
	"  destroyed_ms bigint,"
	"  PRIMARY KEY (tenant, id));"
	"CREATE SEQUENCE data_keys_id_seq;"
	"CREATE UNIQUE INDEX data_keys_live ON data_keys (tenant, category, period)"
	"  WHERE wrapped IS NOT NULL;"
	"CREATE INDEX data_keys_id ON data_keys (id);"
	"CREATE SEQUENCE messages_id_seq;"
	"CREATE TABLE messages ("
	"  tenant text NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  id bigint NOT NULL,"
	"  record_id text NOT NULL,"
	"  conv_hash bytea NOT NULL,"
	"  received_ms bigint NOT NULL,"
	"  role text NOT NULL,"
	"  channel text NOT NULL,"
	"  category text NOT NULL,"
	"  key_id bigint NOT NULL,"
	"  conv_ct bytea NOT NULL,"
	"  text_ct bytea NOT NULL,"
	"  meta_ct bytea NOT NULL,"
	"  entity_counts text NOT NULL DEFAULT '{}',"
	"  PRIMARY KEY (tenant, ts_ms, id)) PARTITION BY RANGE (ts_ms);"
	"CREATE INDEX messages_conv ON messages (tenant, conv_hash, ts_ms, id);"
	"CREATE INDEX messages_cat_ts ON messages (tenant, category, ts_ms);"
	"CREATE TABLE subjects ("
	"  tenant text NOT NULL,"
	"  subject_hash bytea NOT NULL,"
	"  conv_hash bytea NOT NULL,"
	"  PRIMARY KEY (tenant, subject_hash, conv_hash));"
	"CREATE INDEX subjects_conv ON subjects (tenant, conv_hash);"
	/* A provider message id's keyed hash beside the message it stored. */
	"CREATE TABLE replay_ids ("
	"  tenant text NOT NULL,"
	"  id_hash bytea NOT NULL,"
	"  msg_id bigint NOT NULL,"
	"  PRIMARY KEY (tenant, id_hash));"
	"CREATE INDEX replay_ids_msg ON replay_ids (tenant, msg_id);"
	/* chain: '' for the system's chain, else a tenant's. high_mark keeps
	 * the highest seq ever handed out (SQLite's sqlite_sequence). */
	"CREATE TABLE audit_log ("
	"  chain text NOT NULL,"
	"  seq bigint NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  actor text NOT NULL,"
	"  action text NOT NULL,"
	"  target text NOT NULL,"
	"  count bigint NOT NULL,"
	"  prev_hash bytea NOT NULL,"
	"  hash bytea NOT NULL,"
	"  PRIMARY KEY (chain, seq));"
	"CREATE INDEX audit_log_ts ON audit_log (chain, ts_ms);"
	"CREATE INDEX audit_log_hash ON audit_log (chain, hash);"
	"CREATE TABLE audit_chains ("
	"  chain text PRIMARY KEY,"
	"  high_mark bigint NOT NULL DEFAULT 0,"
	"  checkpoint_seq bigint,"
	"  checkpoint_hash bytea,"
	"  purged_ms bigint);"
	"CREATE TABLE holds ("
	"  tenant text NOT NULL,"
	"  id text NOT NULL,"
	"  kind text NOT NULL CHECK (kind IN ('conversation', 'subject')),"
	"  target_hash bytea NOT NULL,"
	"  doc_ct bytea NOT NULL,"
	"  actor text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  PRIMARY KEY (tenant, id));"
	"CREATE INDEX holds_target ON holds (tenant, kind, target_hash);"
	"CREATE TABLE restrictions ("
	"  tenant text NOT NULL,"
	"  id text NOT NULL,"
	"  kind text NOT NULL CHECK (kind IN ('conversation', 'subject')),"
	"  target_hash bytea NOT NULL,"
	"  doc_ct bytea NOT NULL,"
	"  actor text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  PRIMARY KEY (tenant, id));"
	"CREATE INDEX restrictions_target ON restrictions (tenant, kind, target_hash);"
	"CREATE TABLE tenant_closures ("
	"  tenant text PRIMARY KEY,"
	"  state text NOT NULL CHECK (state IN ('pending', 'erasing', 'done')),"
	"  actor text NOT NULL,"
	"  requested_ms bigint NOT NULL,"
	"  due_ms bigint NOT NULL,"
	"  done_ms bigint);",
	/* 2 (data-subject rights, store_pg_rights*.c): consent records
	 * (append-only: a trigger refuses UPDATE), the erasure journal and its
	 * expiry mark, and a message's lookup by record id (rectification).
	 * IF NOT EXISTS throughout, so it may run after another step added in
	 * parallel with it. */
	"CREATE SEQUENCE IF NOT EXISTS consents_id_seq;"
	"CREATE TABLE IF NOT EXISTS consents ("
	"  tenant text NOT NULL,"
	"  id bigint NOT NULL,"
	"  scope text NOT NULL CHECK (scope IN ('conversation', 'subject')),"
	"  target_hash bytea NOT NULL,"
	"  kind text NOT NULL,"
	"  state text NOT NULL CHECK (state IN ('given', 'declined', 'withdrawn')),"
	"  method text NOT NULL,"
	"  source text NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  recorded_ms bigint NOT NULL,"
	"  PRIMARY KEY (tenant, id));"
	"CREATE INDEX IF NOT EXISTS consents_target ON consents (tenant, target_hash, kind, id);"
	"CREATE INDEX IF NOT EXISTS consents_kind ON consents (kind, state);"
	"CREATE OR REPLACE FUNCTION consents_no_update() RETURNS trigger LANGUAGE plpgsql AS"
	"  $f$ BEGIN RAISE EXCEPTION 'consent records are append-only'; END $f$;"
	"DROP TRIGGER IF EXISTS consents_no_update ON consents;"
	"CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents"
	"  FOR EACH ROW EXECUTE FUNCTION consents_no_update();"
	"CREATE SEQUENCE IF NOT EXISTS erasure_journal_seq;"
	"CREATE TABLE IF NOT EXISTS erasure_journal ("
	"  tenant text NOT NULL,"
	"  seq bigint NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  kind text NOT NULL CHECK (kind IN ('conversation', 'record', 'tenant')),"
	"  target bytea,"
	"  PRIMARY KEY (tenant, seq));"
	"CREATE INDEX IF NOT EXISTS erasure_journal_ts ON erasure_journal (ts_ms);"
	"CREATE TABLE IF NOT EXISTS journal_state ("
	"  id int PRIMARY KEY CHECK (id = 1),"
	"  expired_upto bigint NOT NULL);"
	"INSERT INTO journal_state (id, expired_upto) VALUES (1, 0) ON CONFLICT DO NOTHING;"
	"CREATE INDEX IF NOT EXISTS messages_record ON messages (tenant, record_id);",
	/* 3 (redactd migrate, store_pg_import.c): its state (the source's
	 * fingerprint, each table's cursor). */
	"CREATE TABLE IF NOT EXISTS migrate_state ("
	"  id int PRIMARY KEY CHECK (id = 1),"
	"  source_fp bytea NOT NULL,"
	"  source text NOT NULL,"
	"  started_ms bigint NOT NULL,"
	"  finished_ms bigint);"
	"CREATE TABLE IF NOT EXISTS migrate_progress ("
	"  tbl text PRIMARY KEY,"
	"  cursor text,"
	"  copied bigint NOT NULL DEFAULT 0,"
	"  done boolean NOT NULL DEFAULT false);",
	/* 4 (retention, store_pg_retention.c): purged counts of a sweep pass not
	 * yet in the audit log (store_retention.c's table). IF NOT EXISTS:
	 * the step may be renumbered when other ports add theirs. */
	"CREATE TABLE IF NOT EXISTS retention_pending ("
	"  tenant text NOT NULL,"
	"  category text NOT NULL,"
	"  purged bigint NOT NULL,"
	"  PRIMARY KEY (tenant, category));",
	/* 5 (issue 19: partitions by month and category): messages becomes
	 * one level of partitions, each one (category, month), by RANGE on
	 * (category, ts_ms), category in the "C" collation (bytes, as SQLite
	 * compares): FROM (cat, start) TO (cat, end) holds exactly that
	 * category's rows of that month. Not a month partitioned
	 * again by LIST (category): Citus cannot distribute multi-level
	 * partitioned tables. No DEFAULT partition: rows of a (category, month)
	 * without its partition are refused, never mixed into one the sweeper
	 * could not empty whole (the writer creates each before its insert).
	 * message_categories numbers the categories for partition names
	 * (messages_pYYYYMM_cN: a name never holds input text), and
	 * redactd_messages_partition creates one, quoting the category with
	 * format's %L. An existing messages table is copied into the new one
	 * in this step's transaction (every row, once). */
	"CREATE SEQUENCE IF NOT EXISTS message_categories_id_seq;"
	"CREATE TABLE IF NOT EXISTS message_categories ("
	"  category text PRIMARY KEY,"
	"  id bigint NOT NULL UNIQUE DEFAULT nextval('message_categories_id_seq'));"
	"CREATE OR REPLACE FUNCTION redactd_messages_partition(lock_key int, yyyymm int,"
	"  lo bigint, hi bigint, cat text) RETURNS text LANGUAGE plpgsql AS $f$"
	" DECLARE n bigint; rel text;"
	" BEGIN"
	"  PERFORM pg_advisory_xact_lock(lock_key, yyyymm);"
	"  INSERT INTO message_categories (category) VALUES (cat) ON CONFLICT DO NOTHING;"
	"  SELECT id INTO n FROM message_categories WHERE category = cat;"
	"  rel := format('messages_p%s_c%s', lpad(yyyymm::text, 6, '0'), n);"
	"  IF to_regclass(rel) IS NULL THEN"
	"   EXECUTE format('CREATE TABLE %I PARTITION OF messages FOR VALUES FROM (%L, %s) TO (%L, %s)',"
	"                  rel, cat, lo, cat, hi);"
	"  END IF;"
	"  RETURN rel;"
	" END $f$;"
	"DO $m$ DECLARE r record; BEGIN"
	"  IF (SELECT partnatts FROM pg_partitioned_table WHERE partrelid = 'messages'::regclass) = 2 THEN"
	"   RETURN;"
	"  END IF;"
	"  ALTER TABLE messages RENAME TO messages_v4;"
	"  ALTER INDEX messages_pkey RENAME TO messages_v4_pkey;"
	"  ALTER INDEX messages_conv RENAME TO messages_v4_conv;"
	"  ALTER INDEX messages_cat_ts RENAME TO messages_v4_cat_ts;"
	"  ALTER INDEX IF EXISTS messages_record RENAME TO messages_v4_record;"
	"  CREATE TABLE messages ("
	"   tenant text NOT NULL,"
	"   ts_ms bigint NOT NULL,"
	"   id bigint NOT NULL,"
	"   record_id text NOT NULL,"
	"   conv_hash bytea NOT NULL,"
	"   received_ms bigint NOT NULL,"
	"   role text NOT NULL,"
	"   channel text NOT NULL,"
	"   category text COLLATE \"C\" NOT NULL,"
	"   key_id bigint NOT NULL,"
	"   conv_ct bytea NOT NULL,"
	"   text_ct bytea NOT NULL,"
	"   meta_ct bytea NOT NULL,"
	"   entity_counts text NOT NULL DEFAULT '{}',"
	"   PRIMARY KEY (tenant, category, ts_ms, id))"
	"   PARTITION BY RANGE (category, ts_ms);"
	/* 1919156227: STORE_PG_LOCK_PARTITION (0x72640003). */
	"  FOR r IN SELECT DISTINCT category, date_trunc('month', to_timestamp(ts_ms / 1000.0)"
	"           AT TIME ZONE 'UTC') AS mo FROM messages_v4 LOOP"
	"   PERFORM redactd_messages_partition(1919156227, to_char(r.mo, 'YYYYMM')::int,"
	"    (extract(epoch FROM r.mo) * 1000)::bigint,"
	"    (extract(epoch FROM r.mo + interval '1 month') * 1000)::bigint, r.category);"
	"  END LOOP;"
	"  INSERT INTO messages SELECT * FROM messages_v4;"
	"  DROP TABLE messages_v4;"
	" END $m$;"
	/* The primary key (tenant, category, ts_ms, id) serves what
	 * messages_cat_ts (tenant, category, ts_ms) did. */
	"CREATE INDEX IF NOT EXISTS messages_conv ON messages (tenant, conv_hash, ts_ms, id);"
	"CREATE INDEX IF NOT EXISTS messages_record ON messages (tenant, record_id);",
};

static int read_version(PGconn *c, int *version)
{
	PGresult *r = store_pg_exec(c, "SELECT version FROM redactd_schema", 0, NULL, NULL, NULL);
	if (!r)
		return -1;
	*version = PQntuples(r) == 1 ? (int)store_pg_get64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

int store_pg_migrate(PGconn *c, int *version, char *err, size_t errlen)
{
	const int newest = (int)RD_ARRAY_LEN(pg_steps);
	char lock[96];
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d, 0)", STORE_PG_LOCK_SCHEMA);
	if (store_pg_cmd(c, "BEGIN") || store_pg_cmd(c, lock) ||
	    store_pg_cmd(c, "CREATE TABLE IF NOT EXISTS redactd_schema ("
	                    " id int PRIMARY KEY CHECK (id = 1), version int NOT NULL)") ||
	    read_version(c, version))
		goto fail;
	if (*version > newest) {
		util_err(err, errlen, "the database's schema version %d is newer than this redactd's (%d)",
		         *version, newest);
		store_pg_cmd(c, "ROLLBACK");
		return -1;
	}
	store_migration_starting(*version, newest);
	for (int v = *version + 1; v <= newest; v++) {
		char set[128];
		snprintf(set, sizeof set, "INSERT INTO redactd_schema (id, version) VALUES (1, %d)"
		         " ON CONFLICT (id) DO UPDATE SET version = excluded.version", v);
		if (store_pg_cmd(c, pg_steps[v - 1]) || store_pg_cmd(c, set))
			goto fail;
		log_info("store: postgresql schema migrated to version %d", v);
	}
	if (store_pg_cmd(c, "COMMIT"))
		goto fail;
	*version = newest;
	return 0;
fail:
	util_err(err, errlen, "cannot create or migrate the schema: %s", PQerrorMessage(c));
	store_pg_cmd(c, "ROLLBACK");
	return -1;
}

/* ---- partitions ---------------------------------------------------------- */

/* yyyymm of ts_ms and the month's bounds; -1 outside 0000..9999. */
static int month_of(int64_t ts_ms, int32_t *yyyymm, int64_t *start, int64_t *end)
{
	char period[8];
	if (store_period(ts_ms, period, start, end))
		return -1;
	*yyyymm = (int32_t)(atoi(period) * 100 + atoi(period + 5));
	return 0;
}

int store_pg_partition_for(struct store_pg *pg, PGconn *c, int64_t ts_ms, const char *category)
{
	int32_t m;
	int64_t start, end;
	if (month_of(ts_ms, &m, &start, &end) || !category || strlen(category) >= sizeof pg->parts[0].category)
		return -1;
	for (size_t i = 0; i < pg->nparts; i++)
		if (pg->parts[i].month == m && !strcmp(pg->parts[i].category, category))
			return 0;
	/* The server-side function of schema step 5 quotes the category into
	 * the DDL (format %L) and names the table by the category's number;
	 * its advisory lock serialises creators of one month across
	 * processes, and it does nothing when the partition exists. */
	char lock[8], month[8], lo[8], hi[8];
	store_pg_put64(lo, start);
	store_pg_put64(hi, end);
	uint32_t lk = htonl((uint32_t)STORE_PG_LOCK_PARTITION), mm = htonl((uint32_t)m);
	memcpy(lock, &lk, 4);
	memcpy(month, &mm, 4);
	const char *vals[5] = { lock, month, lo, hi, category };
	const int lens[5] = { 4, 4, 8, 8, 0 }, fmts[5] = { 1, 1, 1, 1, 0 };
	PGresult *r = NULL;
	if (store_pg_cmd(c, "BEGIN") ||
	    !(r = store_pg_exec(c, "SELECT redactd_messages_partition($1::int, $2::int, $3::bigint,"
	                        " $4::bigint, $5::text)", 5, vals, lens, fmts)) ||
	    store_pg_cmd(c, "COMMIT")) {
		PQclear(r);
		log_error("store: cannot create a messages partition of month %06d", (int)m);
		store_pg_cmd(c, "ROLLBACK");
		return -1;
	}
	PQclear(r);
	if (pg->nparts == RD_ARRAY_LEN(pg->parts))
		pg->nparts = 0;   /* forget the lot: a re-check costs one statement */
	pg->parts[pg->nparts].month = m;
	snprintf(pg->parts[pg->nparts].category, sizeof pg->parts[0].category, "%s", category);
	pg->nparts++;
	return 0;
}
