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
 * month of ts_ms, a partition per month created on demand by the writer,
 * so retention can later drop or delete per partition. The schema version
 * is in redactd_schema and is migrated on open under an advisory lock, so
 * several processes opening at once migrate it once.
 */
#ifndef REDACTD_STORE_PG_INT_H
#define REDACTD_STORE_PG_INT_H

#include "store_int.h"

#include <libpq-fe.h>

#define STORE_PG_READ_POOL 8
/* Advisory lock keys (pg_advisory_xact_lock(int, int)): the first names
 * what is locked, the second which one (a chain, a month). */
#define STORE_PG_LOCK_SCHEMA    0x72640001
#define STORE_PG_LOCK_AUDIT     0x72640002
#define STORE_PG_LOCK_PARTITION 0x72640003
#define STORE_PG_LOCK_ROOT      0x72640004

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
	/* Writer: months whose messages partition is known to exist. */
	int32_t months[64];
	size_t nmonths;
	bool prepared;                  /* the writer's statements are prepared */
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

/* store_pg_schema.c: bring the database to the newest version; -1 with err. */
int store_pg_migrate(PGconn *c, int *version, char *err, size_t errlen) RD_WARN_UNUSED;
/* Writer: the messages partition of ts_ms's month exists (created now if
 * not, in its own transaction under an advisory lock). 0 or -1. */
int store_pg_partition_for(struct store_pg *pg, PGconn *c, int64_t ts_ms) RD_WARN_UNUSED;

/* store_pg_writer.c */
int store_pg_writer_start(struct store *st, char *err, size_t errlen) RD_WARN_UNUSED;
void store_pg_writer_stop(struct store *st);

/* Runs fn on a tx over conn (write: inside the caller's transaction). */
enum rd_err store_pg_tx_run(struct store *st, struct store_pg_conn *conn, bool write,
                            store_tx_fn fn, void *ctx);

#endif
