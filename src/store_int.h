/*
 * store_int.h — what the store's files share (store.c, store_writer.c,
 * store_keys.c, store_schema.c, and the files that hold other modules'
 * tables: store_audit.c, store_holds.c, store_retention.c). Not for other
 * modules: the only header that names SQLite.
 */
#ifndef REDACTD_STORE_INT_H
#define REDACTD_STORE_INT_H

#include "store.h"
#include "store_audit.h"
#include "store_holds.h"
#include "store_restrict.h"
#include "store_retention.h"
#include "store_tenant.h"

#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdatomic.h>

#define STORE_BUSY_TIMEOUT_MS 10000
#define STORE_READ_POOL       8       /* idle read connections kept */
#define STORE_CHECKPOINT_WAIT_MS 2000 /* writer's wait for readers at a checkpoint */
/* WAL frames that start a background checkpoint. Fewer, larger ones copy
 * a page rewritten by many commits once, but hold up the WAL fsyncs behind
 * them: 4,000 ingested 0-6 % more than 1,000 with p99 12 -> 24-33 ms. */
#define STORE_CHECKPOINT_PAGES 1000
#define STORE_CHECKPOINT_RESTART_AT 4 /* times that: RESTART bounds the WAL (~16 MB) */
/* How long a RESTART checkpoint may wait for the writer's next gap and for
 * readers of old snapshots. It holds the writer lock meanwhile, so ingest
 * waits as long: with SQLite's 10 s default, a long export (or the
 * sweeper's scan) stalled every request for 140 ms and more. Given up, it
 * finishes as PASSIVE and is tried again at the next threshold. */
#define STORE_RESTART_WAIT_MS 10
/* Clearing erasure residue: each TRUNCATE try waits this long for readers
 * (the writer lock is held meanwhile, so ingest waits as long), then the
 * writer runs free for STORE_RESIDUE_RETRY_MS before the next try. */
#define STORE_RESIDUE_TRY_MS 10
#define STORE_RESIDUE_RETRY_MS 50
#define CONVIDX_STMTS 4               /* store_convidx.c's prepared statements */
#define STORE_PURGE_YIELD_MS 4        /* a purge batch gives way to waiting records after this */
/* ...and the sweeper then waits this many times the batch's time
 * (store_maint.c): 19, a twentieth of the writer's time at most. At 10 M
 * records a purged row also dirties random pages (conversation index,
 * subject links) whose writing and checkpoint come after the batch's time;
 * with 9, chat ingest kept 0.82 of its rate during a sweep there. */
#define STORE_PURGE_PACE 19
#define STORE_PURGE_PAUSE_MAX_MS 100

/* SQL for the ids of one conversation's messages, with the tenant as ?1
 * and conv_hash as ?2: the bulk-filled conv_index plus the short tail of
 * messages the writer has not indexed yet. Use as `id IN ` STORE_CONV_IDS_SQL
 * (IN also makes the two parts' union exact) or `EXISTS ` STORE_CONV_IDS_SQL.
 * The tail walks rowids above upto: NOT INDEXED keeps the planner from
 * taking messages(tenant, category, ts_ms) for `tenant = ?1` instead, which
 * reads every message of the tenant (300 ms a read at 3 M records). */
#define STORE_CONV_IDS_SQL                                                                  \
	"(SELECT msg_id FROM conv_index WHERE tenant = ?1 AND conv_hash = ?2"                  \
	" UNION ALL SELECT id FROM messages NOT INDEXED"                                      \
	" WHERE id > (SELECT upto FROM conv_index_state WHERE id = 1)"                        \
	" AND tenant = ?1 AND conv_hash = ?2)"

/* The conversation index's bulk update (store_convidx.c): the messages
 * above the fill mark, sorted by conversation. NOT INDEXED, as in the tail
 * above: with messages(tenant, category, ts_ms) in the schema (v6) SQLite
 * read that whole index in tenant order to sort by tenant first, so every
 * update read every record's index entry (at 3 M records half the
 * daemon's time, and p99 near a second: bench/soak.sh's slowdown). */
#define STORE_CONVIDX_FILL_SQL                                                              \
	"INSERT OR IGNORE INTO conv_index (tenant, conv_hash, msg_id)"                         \
	" SELECT tenant, conv_hash, id FROM messages NOT INDEXED"                             \
	" WHERE id > (SELECT upto FROM conv_index_state WHERE id = 1)"                        \
	" ORDER BY tenant, conv_hash, id"

/*
 * Subject links by message (schema v9). A link (subject, tenant,
 * conversation) in `subjects` is found by its subject (the table's key);
 * the links of a conversation are found through its messages: every link
 * is named in msg_subjects by at least one message of its conversation
 * (the message that made it; legacy links by their conversation's newest
 * message). A message deleted on its own hands the links it names to the
 * newest message left in its conversation (STORE_LINKS_CARRY_SQL), or,
 * being the last, takes them with it (STORE_LINKS_DROP_SQL); a trigger
 * deletes its msg_subjects rows. Until v9 an index on subjects(tenant,
 * conv_hash) found them, at the cost of a second random B-tree page per
 * new customer on every ingest (BENCHMARKS.md, issue 16). Statements bind
 * the tenant as ?1, conv_hash as ?2 and the message id as ?3.
 */
#define STORE_LINKS_CARRY_SQL                                                               \
	"INSERT OR IGNORE INTO msg_subjects (msg_id, subject_hash)"                            \
	" SELECT n.id, s.subject_hash FROM msg_subjects s,"                                    \
	" (SELECT max(msg_id) AS id FROM " STORE_CONV_IDS_SQL " WHERE msg_id <> ?3) n"          \
	" WHERE s.msg_id = ?3 AND n.id IS NOT NULL"
#define STORE_LINKS_DROP_SQL                                                                \
	"DELETE FROM subjects WHERE tenant = ?1 AND conv_hash = ?2 AND subject_hash IN"        \
	" (SELECT subject_hash FROM msg_subjects WHERE msg_id = ?3)"                          \
	" AND NOT EXISTS (SELECT 1 FROM " STORE_CONV_IDS_SQL " WHERE msg_id <> ?3)"
/* Every link of a conversation, before its messages are all deleted. */
#define STORE_LINKS_DROP_CONV_SQL                                                           \
	"DELETE FROM subjects WHERE tenant = ?1 AND conv_hash = ?2 AND subject_hash IN"        \
	" (SELECT subject_hash FROM msg_subjects WHERE msg_id IN " STORE_CONV_IDS_SQL ")"
/* Each link, named by the newest message of its conversation in the
 * conversation index (which must hold every message), written in message
 * order (appended, not scattered). For the v9 migration, which then
 * deletes the links of no message (STORE_LINKS_STALE_SQL), and a backup
 * written from PostgreSQL, which keeps every row of its snapshot. */
#define STORE_LINKS_NAME_SQL                                                                \
	"INSERT OR IGNORE INTO msg_subjects (msg_id, subject_hash)"                            \
	" SELECT m, h FROM (SELECT (SELECT max(c.msg_id) FROM conv_index c"                   \
	" WHERE c.tenant = s.tenant AND c.conv_hash = s.conv_hash) AS m, s.subject_hash AS h" \
	" FROM subjects s WHERE (s.subject_hash, s.tenant, s.conv_hash) > (?1, ?2, ?3)"        \
	" AND (s.subject_hash, s.tenant, s.conv_hash) <= (?4, ?5, ?6))"                         \
	" WHERE m IS NOT NULL ORDER BY m"
/* STORE_LINKS_NAME_SQL over every link, in slices of STORE_LINKS_NAME_SLICE
 * links by key: the sort behind ORDER BY m is in memory
 * (temp_store=MEMORY), so a slice bounds it (~95 bytes a link) whatever
 * the number of links, also when one subject (a hotline's number) has
 * most of them. -1 on error (sqlite3_errmsg(db)). */
#define STORE_LINKS_NAME_SLICE 65536
int store_links_name_all(sqlite3 *db) RD_WARN_UNUSED;
#define STORE_LINKS_STALE_SQL                                                               \
	"DELETE FROM subjects WHERE NOT EXISTS (SELECT 1 FROM conv_index c"                    \
	" WHERE c.tenant = subjects.tenant AND c.conv_hash = subjects.conv_hash);"

/* Prepared STORE_LINKS_CARRY_SQL and STORE_LINKS_DROP_SQL, for messages
 * deleted one at a time (purges, journal replay): before message `id` of
 * (tenant, conv_hash) is deleted, its links are carried or dropped. */
struct store_links_release {
	sqlite3_stmt *carry, *drop;
};
int store_links_release_prepare(sqlite3 *db, struct store_links_release *r) RD_WARN_UNUSED;
int store_links_release_run(struct store_links_release *r, const char *tenant,
                            const unsigned char conv_hash[CRYPTO_HASH_BYTES], int64_t id)
	RD_WARN_UNUSED;
void store_links_release_finalize(struct store_links_release *r);

/* The next purge candidates of one tenant (?2) and category (?1) older
 * than ?3, after (ts_ms, id) = (?4, ?5), oldest first, at most ?6: a range
 * of messages(tenant, category, ts_ms) read in order (test_plans). */
#define STORE_PURGE_SCAN_SQL                                                                \
	"SELECT id, record_id, tenant, conv_hash, ts_ms, key_id FROM messages"                 \
	" WHERE tenant = ?2 AND category = ?1 AND ts_ms < ?3"                                 \
	" AND (ts_ms, id) > (?4, ?5) ORDER BY ts_ms, id LIMIT ?6"

/* Crypto-shredding: destroys the live data keys of months ended before ?1
 * that no record uses any more (at ?2), returning their ids. */
#define STORE_SHRED_SQL                                                                     \
	"UPDATE data_keys SET wrapped = NULL, destroyed_ms = ?2"                               \
	" WHERE wrapped IS NOT NULL AND end_ms <= ?1 AND NOT EXISTS"                           \
	" (SELECT 1 FROM messages m WHERE m.tenant = data_keys.tenant"                         \
	" AND m.category = data_keys.category AND m.ts_ms >= data_keys.start_ms"               \
	" AND m.ts_ms < data_keys.end_ms AND m.key_id = data_keys.id) RETURNING id"

/* A conversation read (store_conversation) as either backend walks it:
 * the conversation, the caller's callback, and the rows visited. */
struct store_conv_walk {
	const char *tenant;
	const unsigned char *hash;
	const char *after;   /* NULL, or the record id the walk starts after */
	store_row_fn fn;
	void *ctx;
	size_t count;
};

/* Statements a typed operation may keep for the rest of its transaction
 * (store_tx_stmt): the held check asked once per purge candidate. On the
 * writer's connection and on pooled read connections they also outlive
 * the transaction, reset, for the next one on that connection: a
 * conversation read prepared four statements and an audit entry three,
 * and SQLite's parser was a tenth of a read's CPU time. */
enum store_tx_cached {
	TXS_HELD, TXS_RESTRICTED, TXS_CONVERSATION, TXS_CONVERSATION_AFTER, TXS_CONVERSATION_ROW, TXS_AUDIT_HEAD, TXS_AUDIT_INSERT,
	TXS_AUDIT_CHECKPOINT, TXS_AUDIT_MARK, TXS_AUDIT_BEFORE, TXS_AUDIT_COUNT, TXS_COUNT
};

/* An idle read connection and the statements prepared on it. */
struct store_reader {
	sqlite3 *db;
	sqlite3_stmt *cached[TXS_COUNT];
};

/* What store_exec and store_read hand to a module (store.h): the
 * connection, and statements prepared on it during this transaction,
 * finalized when it ends (store_tx_end). */
struct store_pg;        /* store_pg_int.h: the PostgreSQL backend of a store */
struct store_pg_conn;   /* store_pg_int.h: one PostgreSQL connection */

struct store_tx {
	struct store *st;
	sqlite3 *db;
	struct store_pg_conn *pg;       /* set (and db NULL) on the postgresql backend */
	bool write;                     /* a write transaction (store_exec) */
	const char *audit_chain;        /* store_audit_use_chain: a tenant's, NULL the system's */
	sqlite3_stmt *cached[TXS_COUNT];
};

/* A transaction's statement `which`, prepared from sql on first use in tx
 * and reset for the next; NULL if it cannot be prepared. */
sqlite3_stmt *store_tx_stmt(struct store_tx *tx, enum store_tx_cached which, const char *sql);
/* Finalizes what store_tx_stmt prepared. */
void store_tx_end(struct store_tx *tx);
/* RD_E_STORAGE_FULL when the last failure on db was a full disk, else
 * RD_E_STORAGE. */
enum rd_err store_db_err(sqlite3 *db);

/* One schema step of one table owner: the SQL that brings that owner's
 * tables to `version`. Each owner lists its steps in its own file
 * (store_schema.c for the store's, store_audit.c, store_holds.c,
 * store_retention.c); store_schema.c registers the owners. */
struct store_schema_step {
	int version;
	const char *sql;
};
extern const struct store_schema_step store_audit_schema[];
extern const size_t store_audit_schema_count;
extern const struct store_schema_step store_holds_schema[];
extern const size_t store_holds_schema_count;
extern const struct store_schema_step store_retention_schema[];
extern const size_t store_retention_schema_count;
extern const struct store_schema_step store_tenant_schema[];
extern const size_t store_tenant_schema_count;
extern const struct store_schema_step store_replay_schema[];
extern const size_t store_replay_schema_count;
extern const struct store_schema_step store_consent_schema[];
extern const size_t store_consent_schema_count;
extern const struct store_schema_step store_restrict_schema[];
extern const size_t store_restrict_schema_count;
extern const struct store_schema_step store_journal_schema[];
extern const size_t store_journal_schema_count;

/* store_journal.c: in a backup's copy, when it was taken and the erasure
 * journal's high mark its snapshot saw (table backup_meta). 0 or -1. */
int store_journal_mark_backup(sqlite3 *copy, int64_t taken_ms, bool with_keys) RD_WARN_UNUSED;
/* store_maint.c: a backup's last step on its copy (backup_meta, the key
 * material removed unless STORE_BACKUP_WITH_KEYS, rollback journal,
 * VACUUM), and the records in it; 0 or -1 (with err). With
 * STORE_BACKUP_NO_SCRUB the copy has nothing to scrub: a PostgreSQL backup
 * writes its file itself, and a key-less one clears the wrapped keys
 * (secure_delete on) in the transaction that wrote them, so no VACUUM (and
 * no copy of the whole file in memory) is needed. */
#define STORE_BACKUP_NO_SCRUB 0x100u
int store_backup_finish(sqlite3 *dst, unsigned flags, int64_t taken_ms, char *err, size_t errlen)
	RD_WARN_UNUSED;
int store_backup_count(sqlite3 *dst, int64_t *records) RD_WARN_UNUSED;
/* store_journal.c: a backup's backup_meta row; 1 with its fields, 0 when
 * db has none (not a backup, or one made before schema 7). */
int store_backup_meta(sqlite3 *db, int64_t *taken_ms, int64_t *mark, bool *with_keys)
	RD_WARN_UNUSED;
/* store_pg_backup.c: store_backup of a PostgreSQL store (the same SQLite
 * backup file, from one snapshot). */
enum rd_err store_pg_backup(struct store *st, const char *dest, unsigned flags, int64_t *records,
                            char *err, size_t errlen) RD_WARN_UNUSED;

/* Whether a row of table (holds, restrictions: one shape, see
 * store_pins_*) pins the conversation whose hash is the SQL expression c,
 * in tenant ?1 (statements bind the tenant as 1): directly, or through a
 * pinned subject linked to it. */
#define STORE_PINNED_SQL(table, c)                                                      \
	"(EXISTS (SELECT 1 FROM " table " h WHERE h.tenant = ?1 AND h.kind = 'conversation'" \
	" AND h.target_hash = " c ") OR EXISTS (SELECT 1 FROM " table " h WHERE"             \
	" h.tenant = ?1 AND h.kind = 'subject' AND EXISTS (SELECT 1 FROM subjects s"         \
	" WHERE s.subject_hash = h.target_hash AND s.tenant = ?1 AND s.conv_hash = " c ")))"
/* The held condition of store_holds.c. */
#define STORE_HELD_SQL(c) STORE_PINNED_SQL("holds", c)

/* store_holds.c: the operations legal holds and restrictions share. A
 * table of theirs has the holds table's columns (id, tenant, kind,
 * target_hash, doc_ct, actor, created_ms); `table` is its name, one of
 * ours (SQL cannot bind a table name). */
enum rd_err store_pins_insert(struct store_tx *tx, const char *table, const struct store_hold *h)
	RD_WARN_UNUSED;
enum rd_err store_pins_delete(struct store_tx *tx, const char *table, const char *id,
                              const char *tenant, bool *found) RD_WARN_UNUSED;
/* Whether tenant ?1's conversation ?2 is pinned, by sql (a STORE_PINNED_SQL
 * select) kept as the transaction's statement `which`. */
enum rd_err store_pins_check(struct store_tx *tx, enum store_tx_cached which, const char *sql,
                             const char *tenant, const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                             bool *pinned) RD_WARN_UNUSED;
enum rd_err store_pins_each(struct store_tx *tx, const char *table, const char *tenant,
                            store_hold_fn fn, void *ctx) RD_WARN_UNUSED;

enum job_kind { JOB_RECORDS, JOB_EXEC, JOB_CHECKPOINT };

/* A unit of work for the writer (store_writer.c). */
struct store_job {
	struct store_job *next;
	enum job_kind kind;
	struct store_record *recs;      /* JOB_RECORDS: n records; their buffers follow */
	size_t n;
	size_t replays;                 /* JOB_RECORDS: of them, replays not stored */
	store_tx_fn fn;                 /* JOB_EXEC */
	void *ctx;
	store_done_fn done;             /* async: called by the writer, then the job freed */
	void *done_ctx;
	int wait_ms;                    /* JOB_CHECKPOINT: how long it waits for readers */
	bool alone;                     /* JOB_EXEC: in a group of its own (store_exec_alone) */
	sem_t done_sem;                 /* sync: the submitter waits here */
	enum rd_err status;
};

struct dk_cache;     /* store_keys.c */

/* store_links.c: subject links (subjects rows) the writer knows the
 * database holds, so it need not re-insert them for every message. */
#define STORE_LINK_SLOTS 1024
struct store_link {
	unsigned char subject[CRYPTO_HASH_BYTES], conv[CRYPTO_HASH_BYTES];
	char tenant[RD_MAX_NAME_LEN + 1];   /* "" while the slot is free */
};
#define STORE_LIVE_KEYS 8             /* data keys checked live per transaction */

struct store {
	char *path;
	struct store_options opt;

	/* Writer (store_writer.c): it alone uses wdb once started. */
	sqlite3 *wdb;
	sqlite3_stmt *wcached[TXS_COUNT];   /* exec jobs' store_tx_stmt statements, kept */
	sqlite3_stmt *ins_msg, *ins_subj, *ins_msg_subj, *key_live, *data_version;
	sqlite3_stmt *ins_replay;       /* store_replay.c: the claim of a provider id */
	/* What the current transaction has checked (store_writer.c): data
	 * keys found live. Reset at BEGIN and after every exec job. */
	int64_t live_keys[STORE_LIVE_KEYS];
	size_t nlive_keys;
	/* Subject links known to be in the database (store_links.c), and the
	 * PRAGMA data_version they were seen under: another connection's
	 * commit (a CLI erasure, say) may have deleted some. */
	struct store_link *links;
	int64_t links_version;
	atomic_uint_fast64_t n_link_hits;
	/* Transaction control, prepared once: the writer runs these for every
	 * job, and parsing them each time showed in profiles. */
	sqlite3_stmt *tx[6];
	pthread_t writer;
	bool writer_started;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;           /* writer waits for work / unpause */
	struct store_job *qhead, *qtail;
	size_t queued_records;
	bool stopping;
	bool paused;                    /* test hook */
	atomic_bool fail_next_commit;   /* test hook: the next COMMIT is refused */
	bool group_full;                /* writer: this group hit SQLITE_FULL */
	atomic_bool disk_full;          /* the last group failed for lack of space */
	size_t test_purge_yield;        /* test hook: purge batches yield every n rows */
	atomic_uint_fast64_t n_commits, n_records, n_failed, n_busy;
	atomic_uint_fast64_t n_ckpt_retries;   /* store_residue.c */
	atomic_uint_fast64_t n_purge_paused_us; /* store_maint.c: sweeper pauses for ingest */
	atomic_bool residue_pending;

	/* Conversation index (store_convidx.c), writer only. */
	sqlite3_stmt *ci[CONVIDX_STMTS];
	int64_t next_msg_id;            /* id of the next message inserted */
	size_t ci_pending;              /* messages not in conv_index yet */
	int64_t ci_applied_ms;          /* last bulk update */

	/* Sync stage (synchronous=FULL): the writer commits without fsync and
	 * hands each committed group here; the syncer fdatasyncs the WAL once
	 * for every group waiting, then acknowledges them (store_sync.c). */
	int wal_fd;                     /* -1 when there is no sync stage */
	pthread_t syncer;
	bool syncer_started;
	pthread_mutex_t slock;
	pthread_cond_t scond;           /* syncer waits for committed groups */
	pthread_cond_t staken;          /* writer waits for the syncer to take them */
	struct store_job *shead, *stail; /* committed groups, chained by ->next */
	bool sync_stopping;
	bool sync_busy;                 /* the syncer is working on groups it took */
	atomic_bool sync_failed;        /* an fdatasync failed: refuse writes */
	struct store_durations_live {   /* store_durations, written by the sync stage */
		atomic_uint_fast64_t buckets[STORE_DURATION_BUCKETS], sum_us;
	} sync_time, ckpt_time;
	sqlite3 *cdb;                   /* the syncer's checkpoint connection */
	atomic_int wal_pages;           /* WAL frames after the writer's last commit */
	atomic_int ckpt_at;             /* wal_pages at the last background checkpoint */
	int ckpt_pages;                 /* STORE_CHECKPOINT_PAGES; a test lowers it */

	/* Read connections, opened on demand. */
	pthread_mutex_t rlock;
	pthread_cond_t rcond;
	struct store_reader rfree[STORE_READ_POOL];
	size_t nfree, nopen;

	/* Data keys (store_keys.c). */
	struct dk_cache *keys;
	pthread_mutex_t kdb_lock;       /* guards kdb */
	sqlite3 *kdb;                   /* short key-creating writes; opened on demand */
	sqlite3 *keysrc;                /* opt.keys_from: data keys of another database */
	int schema_version;
	int seal_format;                /* 1 or 2: store_seal_format (store_reseal.c) */

	/* Set on the postgresql backend (store_pg*.c): every public function
	 * dispatches on it; the queue and counters above are shared, the
	 * SQLite connections stay NULL. */
	struct store_pg *pg;
};

/* ---- the postgresql backend: what the SQLite files call (store_pg*.c) ---- */

/* store_pg.c */
enum rd_err store_pg_open(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
void store_pg_close(struct store *st);
enum rd_err store_pg_read(struct store *st, store_tx_fn fn, void *ctx) RD_WARN_UNUSED;
enum rd_err store_pg_exec_direct(struct store *st, store_tx_fn fn, void *ctx) RD_WARN_UNUSED;
bool store_pg_tx_open(struct store_tx *tx);
enum rd_err store_pg_test_sql(struct store_tx *tx, const char *sql) RD_WARN_UNUSED;
enum rd_err store_pg_conversation(struct store *st, const char *tenant,
                                  const unsigned char conv_hash[CRYPTO_HASH_BYTES], const char *after,
                                  store_row_fn fn, void *ctx, size_t *count) RD_WARN_UNUSED;
/* store_pg_keys.c: what store_keys.c does on the key database. */
typedef void (*store_pg_key_fn)(struct store *st, int64_t id, const char *tenant,
                                const char *category, const char *period,
                                const unsigned char *wrapped, size_t wlen, void *ctx);
int store_pg_keys_each_live(struct store *st, store_pg_key_fn fn, void *ctx);
enum rd_err store_pg_key_load_or_create(struct store *st, const struct keyring *kr,
                                        const char *tenant, const char *category,
                                        const char *period, int64_t start_ms, int64_t end_ms,
                                        int64_t *id, unsigned char dk[CRYPTO_KEY_BYTES]);
/* 0 with dk and names, 1 destroyed, -1 missing or not opening. */
int store_pg_key_fetch(struct store *st, const struct keyring *kr, int64_t id,
                       unsigned char dk[CRYPTO_KEY_BYTES], char *tenant, size_t tlen,
                       char *category, size_t clen, char period[8]);
enum rd_err store_pg_keyring_attach(struct store *st, struct keyring *kr, char *err,
                                    size_t errlen) RD_WARN_UNUSED;
/* store_pg_ops.c and store_pg_audit.c: the typed operations ported so
 * far, each with its public function's signature (store.h, store_*.h). */
struct store_audit_entry;
struct store_closure;
typedef enum rd_err (*store_pg_audit_fn)(const struct store_audit_entry *e, void *ctx);
typedef enum rd_err (*store_pg_closure_fn)(const struct store_closure *c, void *ctx);
enum rd_err store_pg_subject_conversations(struct store_tx *tx, const char *tenant,
                                           const unsigned char subject[CRYPTO_HASH_BYTES],
                                           store_hash_fn fn, void *ctx);
enum rd_err store_pg_subject_link(struct store_tx *tx, const char *tenant,
                                  const unsigned char subject[CRYPTO_HASH_BYTES],
                                  const unsigned char conv_hash[CRYPTO_HASH_BYTES]);
enum rd_err store_pg_subject_unlink(struct store_tx *tx, const char *tenant,
                                    const unsigned char subject[CRYPTO_HASH_BYTES],
                                    const unsigned char conv_hash[CRYPTO_HASH_BYTES]);
enum rd_err store_pg_conversation_count(struct store_tx *tx, const char *tenant,
                                        const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                        int64_t *n);
enum rd_err store_pg_conversation_delete(struct store_tx *tx, const char *tenant,
                                         const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                         int64_t *removed);
enum rd_err store_pg_replay_count(struct store_tx *tx, int64_t *out);
enum rd_err store_pg_restrict_check(struct store_tx *tx, const char *tenant,
                                    const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                    bool *restricted);
enum rd_err store_pg_closures(struct store_tx *tx, store_pg_closure_fn fn, void *ctx);
enum rd_err store_pg_audit_head(struct store_tx *tx, int64_t *seq, unsigned char hash[32]);
enum rd_err store_pg_audit_high_mark(struct store_tx *tx, int64_t *seq);
enum rd_err store_pg_audit_checkpoint(struct store_tx *tx, int64_t *seq, unsigned char hash[32]);
enum rd_err store_pg_audit_insert(struct store_tx *tx, const struct store_audit_entry *e);
enum rd_err store_pg_audit_each(struct store_tx *tx, int64_t since_ms, store_pg_audit_fn fn,
                                void *ctx);
enum rd_err store_pg_audit_find_hash(struct store_tx *tx, const unsigned char *h, size_t n,
                                     int64_t *seq);
enum rd_err store_pg_audit_last_before(struct store_tx *tx, int64_t before_ms, int64_t *seq,
                                       unsigned char hash[32]);
enum rd_err store_pg_audit_truncate(struct store_tx *tx, int64_t seq, const unsigned char hash[32],
                                    int64_t now_ms, int64_t *deleted);
enum rd_err store_pg_audit_count(struct store_tx *tx, int64_t *n);
enum rd_err store_pg_audit_chains(struct store_tx *tx,
                                  enum rd_err (*fn)(const char *chain, void *ctx), void *ctx);
enum rd_err store_pg_audit_last_of(struct store_tx *tx, const char *const *actions, size_t n,
                                   int64_t *ts_ms);

/* store_pg_retention.c: retention, shredding, key rotation and tenant
 * closures on PostgreSQL (store_retention.h, store_tenant.h, store.h). */
struct store_group;
typedef enum rd_err (*store_pg_group_fn)(const struct store_group *g, void *ctx);
typedef enum rd_err (*store_pg_entity_fn)(const char *tenant, const char *entity, int64_t n,
                                          void *ctx);
typedef enum rd_err (*store_pg_shred_fn)(struct store_tx *tx, size_t destroyed, void *ctx);
enum rd_err store_pg_groups(struct store_tx *tx, store_pg_group_fn fn, void *ctx);
enum rd_err store_pg_group_heads(struct store_tx *tx, store_pg_group_fn fn, void *ctx);
enum rd_err store_pg_retention_pending(struct store_tx *tx, store_pg_group_fn fn, void *ctx);
enum rd_err store_pg_retention_take(struct store_tx *tx, store_pg_group_fn fn, void *ctx);
enum rd_err store_pg_retention_add(struct store_tx *tx, const char *tenant, const char *category,
                                   int64_t purged);
enum rd_err store_pg_count_due(struct store_tx *tx, const char *tenant, const char *category,
                               int64_t cutoff_ms, int64_t *due, int64_t *held);
enum rd_err store_pg_entity_totals(struct store_tx *tx, store_pg_entity_fn fn, void *ctx);
enum rd_err store_pg_sweep_lock(struct store *st, bool *got);
void store_pg_sweep_unlock(struct store *st);
enum rd_err store_pg_purge_before(struct store *st, const char *tenant, const char *category,
                                  int64_t cutoff_ms, size_t batch, store_purge_fn fn, void *ctx,
                                  size_t *count);
enum rd_err store_pg_shred_keys(struct store *st, int64_t now_ms, size_t *count);
enum rd_err store_pg_rekey_tx(struct store_tx *tx, const struct keyring *old_kr,
                              const struct keyring *new_kr, size_t *count);
enum rd_err store_pg_closure_set(struct store_tx *tx, const char *tenant, int64_t requested_ms,
                                 int64_t due_ms, const char *actor);
enum rd_err store_pg_closure_delete(struct store_tx *tx, const char *tenant, bool *found);
enum rd_err store_pg_closure_state(struct store_tx *tx, const char *tenant, const char *state,
                                   int64_t done_ms);
enum rd_err store_pg_tenant_records(struct store_tx *tx, const char *tenant, int64_t *records,
                                    int64_t *held);
enum rd_err store_pg_tenant_shred(struct store *st, const char *tenant, int64_t now_ms,
                                  store_pg_shred_fn fn, void *ctx, size_t *count);

/* The columns every row read selects, in store_row_from's order. */
#define STORE_ROW_COLS "id, record_id, tenant, conv_hash, ts_ms, role, channel, category," \
	" key_id, conv_ct, text_ct, meta_ct, entity_counts"
/* store.c: a store_row over the current row of s (STORE_ROW_COLS). */
void store_row_from(sqlite3_stmt *s, struct store_row *r);

/* Opens a connection to path with the store's pragmas (file created 0600
 * beforehand by store_open). */
int store_connect(const char *path, const struct store_options *opt, sqlite3 **out,
                  char *err, size_t errlen) RD_WARN_UNUSED;

/* Runs fn in a store_tx on db (which the caller has put in a transaction,
 * or not, for a read); finalizes the tx's statements after. */
enum rd_err store_tx_run(struct store *st, sqlite3 *db, bool write, store_tx_fn fn, void *ctx);
/* The same on a connection that lives on (the writer's, a pooled reader's):
 * the tx starts with keep's statements and leaves its own there, reset, for
 * the next transaction on db. */
enum rd_err store_tx_run_keeping(struct store *st, sqlite3 *db, bool write,
                                 sqlite3_stmt *keep[TXS_COUNT], store_tx_fn fn, void *ctx);

/* Borrow / return a read connection (blocks while all are in use). */
sqlite3 *store_reader_get(struct store *st);
void store_reader_put(struct store *st, sqlite3 *db);

/* Runs fn on a fresh write connection in BEGIN IMMEDIATE ... COMMIT
 * (readonly stores, and the writer when it is not running). */
enum rd_err store_exec_direct(struct store *st, store_tx_fn fn, void *ctx) RD_WARN_UNUSED;

/* store_schema.c: bring db to the newest version; -1 with err. */
int store_migrate(sqlite3 *db, int *version, char *err, size_t errlen) RD_WARN_UNUSED;
/* Tells the migration hook (store_set_migration_hook), if any, that an
 * existing database of version `from` is about to be brought to `to`;
 * nothing for a new one (0) or one already at `to`. Both backends. */
void store_migration_starting(int from, int to);

/* store_reseal.c: the seal format of the database (table seal_format). */
int store_seal_format_read(sqlite3 *db, int *format, char *err, size_t errlen) RD_WARN_UNUSED;
/* Inside store_keyring_attach's transaction on db: re-seal format-1 rows
 * under format 2 with kr's data keys, then record format 2. */
int store_reseal(struct store *st, sqlite3 *db, const struct keyring *kr, char *err,
                 size_t errlen) RD_WARN_UNUSED;

/* store_writer.c */
int store_writer_start(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
void store_writer_stop(struct store *st);
/* Either backend's writer: tells it to stop once the queue is drained and
 * joins it (no-op when it never started). */
void store_writer_join(struct store *st);
enum rd_err store_writer_checkpoint(struct store *st, int wait_ms) RD_WARN_UNUSED;

/* store_writer.c, for both backends' writer threads (qlock held): wait up
 * to batch_wait_us for a group to fill; detach the next group from the
 * queue (NULL-terminated). */
void store_wait_to_fill(struct store *st);
struct store_job *store_take_group(struct store *st);

/* store_writer.c: records are waiting for the writer (any thread). */
bool store_records_waiting(struct store *st);

/* store_writer.c: wakes or calls back each job of a NULL-terminated list
 * with its status, and frees the asynchronous ones. */
void store_finish_jobs(struct store_job *head);

/* store_replay.c: prepare the writer's claim statement; -1 with err. */
int store_replay_start(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
/* Writer, inside a record's savepoint: 1 when hash is new (now claimed
 * for the message that will get msg_id), 0 when it is already stored (a
 * replay), -1 on error. */
int store_replay_claim(struct store *st, const unsigned char hash[CRYPTO_HASH_BYTES],
                       int64_t msg_id) RD_WARN_UNUSED;

/* store_sync.c: the sync stage (synchronous=FULL). */
int store_sync_start(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
void store_sync_stop(struct store *st);
/* The sync stage's fdatasync and checkpoint durations so far. */
void store_durations_read(struct store *st, struct store_durations *sync,
                          struct store_durations *ckpt);
/* Writer: before taking a group, while a committed one waits for the syncer. */
void store_sync_wait_taken(struct store *st);
/* Writer: a committed group, acknowledged once it is durable. */
void store_sync_committed(struct store *st, struct store_job *group);

/* store_links.c: the subject link cache (writer thread). */
int store_links_start(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
void store_links_stop(struct store *st);
void store_links_forget(struct store *st);
void store_links_check_version(struct store *st);
bool store_links_known(struct store *st, const unsigned char *subject, const char *tenant,
                       const unsigned char *conv);
void store_links_note(struct store *st, const unsigned char *subject, const char *tenant,
                      const unsigned char *conv);

/* store_convidx.c: the bulk-filled conversation index (writer thread). */
/* Records per bulk update. Larger batches write each conversation's index
 * pages less often (4,096 ingested 5 % more than 1,024 and 9 % more than
 * 256, same p99); readers scan up to about twice this many unindexed rows
 * (~2 ms), since a group of up to batch_max can commit before the update. */
#define CONVIDX_BATCH   4096
/* Maintenance jobs (purges, erasure, holds, audit entries) scan the tail
 * once per conversation they look up: before one, a tail longer than this
 * is indexed first, so a purge of 500 conversations does not scan 8,000
 * rows 500 times. */
#define CONVIDX_EXEC_TAIL 1024
#define CONVIDX_IDLE_MS 1000        /* or this long after the last, when idle */
int store_convidx_start(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
void store_convidx_stop(struct store *st);
/* In the group's transaction: sets next_msg_id. 0 or -1. */
int store_convidx_begin(struct store *st) RD_WARN_UNUSED;
bool store_convidx_due(const struct store *st, bool idle);
void store_convidx_apply(struct store *st);

/* store_keys.c */
int store_keys_init(struct store *st) RD_WARN_UNUSED;
void store_keys_free(struct store *st);
/* Forget cached keys with these ids (after crypto-shredding). */
void store_keys_forget(struct store *st, const int64_t *ids, size_t n);

/* "YYYY-MM" (UTC) of ts_ms, and that month's [start, end) in ms; -1 for a
 * year outside 0000..9999. */
int store_period(int64_t ts_ms, char out[8], int64_t *start_ms, int64_t *end_ms) RD_WARN_UNUSED;

#endif
