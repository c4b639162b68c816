/*
 * store_pg_int.h — the PostgreSQL backend's own state (issue 19). Only
 * src/store_pg*.c include it: no libpq type leaves those files, and the
 * rest of the store reaches them through the store_pg_* functions that
 * store_int.h declares.
 *
 * DESIGN
 * Connections: one for the writer thread (store_pg_writer.c), one for data
 * keys (guarded by the store's kdb_lock, like SQLite's kdb), and a small
 * pool for reads. Every session runs with synchronous_commit = on, so a
 * COMMIT that returned is on the server's disk (and on its synchronous
 * standbys, where the operator configured them), whatever the server's
 * default says.
 *
 * Schema (store_pg_schema.c): tenant first in every key, so Citus can
 * distribute every table by tenant; messages are range-partitioned by
 * (category, month of ts_ms), a partition per pair created on demand by
 * the writer, so retention can empty a wholly expired one at once. The schema version
 * is in redactd_schema and is migrated on open under an advisory lock, so
 * several processes opening at once migrate it once.
 */
#ifndef REDACTD_STORE_PG_INT_H
#define REDACTD_STORE_PG_INT_H

#include "store_int.h"

#include <libpq-fe.h>

/*
 * libpq is loaded when a store opens on postgresql (dlopen), not linked:
 * with its OpenSSL, Kerberos and LDAP it costs every process about a
 * megabyte of resident memory, and the CLI's redact filter has a 16 MB
 * bound (as forward.c does for libcurl). The prototypes are libpq-fe.h's;
 * below, each name used here calls through the loaded table.
 */
#define STORE_PQ_SYMBOLS(X) \
	X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) \
	X(PQconninfoFree) X(PQconninfoParse) X(PQenterPipelineMode) X(PQerrorMessage) \
	X(PQexec) X(PQexecParams) X(PQexecPrepared) X(PQexitPipelineMode) \
	X(PQfformat) X(PQfinish) X(PQfreemem) X(PQgetResult) \
	X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQntuples) \
	X(PQpipelineSync) X(PQprepare) X(PQresStatus) X(PQreset) \
	X(PQresultErrorField) X(PQresultStatus) X(PQsendQueryParams) X(PQsendQueryPrepared) \
	X(PQsetNoticeProcessor) X(PQstatus) X(PQtransactionStatus)

struct store_pq_api {
#define STORE_PQ_SLOT(f) __typeof__(f) *f;
	STORE_PQ_SYMBOLS(STORE_PQ_SLOT)
#undef STORE_PQ_SLOT
};
extern struct store_pq_api store_pq;
/* 0 once libpq is loaded (once per process); -1 with err. */
int store_pq_load(char *err, size_t errlen) RD_WARN_UNUSED;

#ifndef STORE_PQ_LOADER
#define PQclear (store_pq.PQclear)
#define PQcmdStatus (store_pq.PQcmdStatus)
#define PQcmdTuples (store_pq.PQcmdTuples)
#define PQconnectdbParams (store_pq.PQconnectdbParams)
#define PQconninfoFree (store_pq.PQconninfoFree)
#define PQconninfoParse (store_pq.PQconninfoParse)
#define PQenterPipelineMode (store_pq.PQenterPipelineMode)
#define PQerrorMessage (store_pq.PQerrorMessage)
#define PQexec (store_pq.PQexec)
#define PQexecParams (store_pq.PQexecParams)
#define PQexecPrepared (store_pq.PQexecPrepared)
#define PQexitPipelineMode (store_pq.PQexitPipelineMode)
#define PQfformat (store_pq.PQfformat)
#define PQfinish (store_pq.PQfinish)
#define PQfreemem (store_pq.PQfreemem)
#define PQgetResult (store_pq.PQgetResult)
#define PQgetisnull (store_pq.PQgetisnull)
#define PQgetlength (store_pq.PQgetlength)
#define PQgetvalue (store_pq.PQgetvalue)
#define PQntuples (store_pq.PQntuples)
#define PQpipelineSync (store_pq.PQpipelineSync)
#define PQprepare (store_pq.PQprepare)
#define PQresStatus (store_pq.PQresStatus)
#define PQreset (store_pq.PQreset)
#define PQresultErrorField (store_pq.PQresultErrorField)
#define PQresultStatus (store_pq.PQresultStatus)
#define PQsendQueryParams (store_pq.PQsendQueryParams)
#define PQsendQueryPrepared (store_pq.PQsendQueryPrepared)
#define PQsetNoticeProcessor (store_pq.PQsetNoticeProcessor)
#define PQstatus (store_pq.PQstatus)
#define PQtransactionStatus (store_pq.PQtransactionStatus)
#endif

#define STORE_PG_READ_POOL 8
/* Advisory lock keys (pg_advisory_xact_lock(int, int)): the first names
 * what is locked, the second which one (a chain, a month). */
#define STORE_PG_LOCK_SCHEMA    0x72640001
#define STORE_PG_LOCK_AUDIT     0x72640002
#define STORE_PG_LOCK_PARTITION 0x72640003
#define STORE_PG_LOCK_ROOT      0x72640004
/* Erasure journal appends hold it shared (in their transaction); a backup
 * takes it exclusive for the instant its snapshot starts, so no erasure is
 * in flight then and the journal's highest seq is an exact mark
 * (store_pg_backup.c). */
#define STORE_PG_LOCK_JOURNAL   0x72640005
/* redactd migrate (store_pg_import.c): a session lock, one run at a time. */
#define STORE_PG_LOCK_MIGRATE   0x72640010
/* One sweeper at a time (store_pg_retention.c): a session lock, not a
 * transaction's, held for a whole pass. */
#define STORE_PG_LOCK_SWEEP     0x72640011
/* redactd restore into PostgreSQL: a probe that the target is not the
 * live store's own database (store_pg_backup.c). */
#define STORE_PG_LOCK_RESTORE   0x72640012

struct store_pg_conn {
	PGconn *c;
};

struct store_pg {
	char *url;                      /* the connection string (may hold a password) */
	char *password;                 /* password_file's content, or NULL */
	char masked[512];               /* the URL for logs and errors: no password */
	struct store_pg_conn w;         /* the writer's connection */
	struct store_pg_conn k;         /* data keys (kdb_lock) */
	pthread_mutex_t plock;
	struct store_pg_conn *pool[STORE_PG_READ_POOL];
	size_t npool;
	/* Writer: (month, category) whose messages partition is known to exist. */
	struct {
		int32_t month;
		char category[RD_MAX_NAME_LEN + 1];
	} parts[64];
	size_t nparts;
	bool prepared;                  /* the writer's statements are prepared */
	PGconn *sweep;                  /* holds the sweep lock during a pass, else NULL */
};

/* store_pg.c: a new connection to the store's database with the session
 * settings; NULL with err (the URL masked) on failure. */
PGconn *store_pg_connect(struct store_pg *pg, char *err, size_t errlen);
/* Runs sql with n text parameters (NULL: SQL NULL); lengths/formats for
 * binary ones. The result (the caller PQclear's it), or NULL after logging
 * what failed (the statement's first words, never its parameters) when its
 * status is not PGRES_COMMAND_OK or PGRES_TUPLES_OK. */
PGresult *store_pg_exec(PGconn *c, const char *sql, int n, const char *const *vals,
                        const int *lens, const int *fmts);
/* The same, for a statement without parameters; 0 or -1. */
int store_pg_cmd(PGconn *c, const char *sql);
/* RD_E_STORAGE_FULL when the server said disk full (SQLSTATE 53100),
 * else RD_E_STORAGE. */
enum rd_err store_pg_err(const PGresult *r);

/* Big-endian int8 parameter / column (binary format). */
void store_pg_put64(char out[8], int64_t v);
int64_t store_pg_get64(const PGresult *r, int row, int col);

/* Non-zero when a database already holds what a use of it as a store
 * writes (a migration or restore target must not; store_pg_import.c,
 * store_pg_backup.c's --force). */
#define STORE_PG_TARGET_USED_SQL                                                         \
	"SELECT (SELECT count(*) FROM key_root) + (SELECT count(*) FROM data_keys) +"         \
	" (SELECT count(*) FROM (SELECT 1 FROM messages LIMIT 1) m) +"                        \
	" (SELECT count(*) FROM (SELECT 1 FROM audit_log LIMIT 1) a) +"                       \
	" (SELECT count(*) FROM (SELECT 1 FROM subjects LIMIT 1) s)"

/* A store_row over row i of r (STORE_ROW_COLS of store_int.h, binary
 * results as store_pg_exec gives them); valid while r lives. */
void store_pg_row_from(const PGresult *r, int i, struct store_row *row);

/* store_pg_schema.c: bring the database to the newest version; -1 with err. */
int store_pg_migrate(PGconn *c, int *version, char *err, size_t errlen) RD_WARN_UNUSED;
/* Writer: the messages partition of (category, ts_ms's month) exists
 * (created now if not, in its own transaction under an advisory lock).
 * 0 or -1. */
int store_pg_partition_for(struct store_pg *pg, PGconn *c, int64_t ts_ms,
                           const char *category) RD_WARN_UNUSED;

/* store_pg_citus.c: when the database has the citus extension, its
 * tables distributed by tenant or made reference tables (idempotent, under
 * the schema lock), *distributed set; 0 (also without citus) or -1. */
int store_pg_citus(PGconn *c, bool *distributed, char *err, size_t errlen) RD_WARN_UNUSED;

/* store_pg_import.c: -1 with err while a redactd migrate into the database
 * has not finished (a daemon must not write into a half-copied store),
 * else 0. */
int store_import_check(PGconn *c, char *err, size_t errlen) RD_WARN_UNUSED;

/* store_pg_writer.c */
int store_pg_writer_start(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
void store_pg_writer_stop(struct store *st);

/* Runs fn on a tx over conn (write: inside the caller's transaction). */
enum rd_err store_pg_tx_run(struct store *st, struct store_pg_conn *conn, bool write,
                            store_tx_fn fn, void *ctx);

#endif
