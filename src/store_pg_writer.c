/*
 * store_pg_writer.c — the writer thread on PostgreSQL: group commit with
 * libpq's pipeline mode.
 *
 * DESIGN
 * The job queue is the SQLite writer's (store_writer.c: store_submit,
 * store_submit_async, store_exec and store_ping enqueue there, bounded in
 * records, RD_E_BUSY when full); only the thread that drains it differs.
 * It takes a group (store_take_group) and runs it in one transaction on
 * its own connection, then acknowledges every job of the group (done
 * callbacks, semaphores) only after COMMIT returned: every session runs
 * with synchronous_commit = on, so an acknowledged record is durable on the
 * server (and on the synchronous standbys the operator configured).
 *
 * Fast path: a group of record jobs is sent as one pipeline (BEGIN, one
 * statement per record and per subject link, COMMIT), synced every
 * PG_CHUNK records so neither side's socket buffer fills while the other
 * waits. One round trip per chunk instead of one per statement.
 *
 * Slow path: a group holding an exec job (purges, erasure, audit entries:
 * functions that read as they write), or a fast path that failed, runs as
 * the SQLite writer does: BEGIN; per job SAVEPOINT, its statements or fn,
 * RELEASE or ROLLBACK TO; COMMIT. A failing job fails alone. A fast path
 * that failed wrote nothing (its transaction was rolled back whole), so
 * running the group again is safe.
 *
 * A record that carries a provider id claims it in replay_ids in the same
 * statement that inserts the message (a CTE): when the claim finds the id
 * there, the message row is not inserted (0 rows) and the record is a
 * replay. A record whose data key is not live (destroyed, perhaps by
 * another node) fails its job: the key_id column is read from the live
 * key row, and NULL violates its NOT NULL.
 *
 * A dropped connection (server restart, failover) is reconnected when the
 * writer next uses it. The group is run again on the new connection only
 * when it provably did not commit: its statements could not be handed to
 * the socket, or the server answered with an error. A COMMIT that was sent
 * and never answered may have committed; that group fails (500) instead
 * of risking a second copy.
 *
 * The messages partition of each record's (category, month) is made sure of before
 * the group's BEGIN (store_pg_partition_for), in a short transaction of
 * its own, so DDL never sits in an ingest transaction.
 */
#include "store_pg_int.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#define PG_CHUNK 256   /* records per pipeline sync */

enum { OID_INT8 = 20, OID_TEXT = 25, OID_BYTEA = 17 };

#define INS_COLS "id, record_id, tenant, conv_hash, ts_ms, received_ms, role, channel, category," \
	" key_id, conv_ct, text_ct, meta_ct, entity_counts"
/* FOR SHARE: the key's row stays locked until the group commits, so a
 * shred on any node (which must take the row FOR UPDATE, then look for
 * records in a new statement) waits for this insert and sees it. */
#define KEY_LIVE "(SELECT k.id FROM data_keys k WHERE k.tenant = $2 AND k.id = $9" \
	" AND k.wrapped IS NOT NULL FOR SHARE)"

static const char ins_msg_sql[] =
	"INSERT INTO messages (" INS_COLS ") VALUES (nextval('messages_id_seq'), $1, $2, $3, $4, $5,"
	" $6, $7, $8, " KEY_LIVE ", $10, $11, $12, $13)";
static const char ins_replay_sql[] =
	"WITH c AS (INSERT INTO replay_ids (tenant, id_hash, msg_id)"
	" VALUES ($2, $14, nextval('messages_id_seq')) ON CONFLICT DO NOTHING RETURNING msg_id)"
	" INSERT INTO messages (" INS_COLS ") SELECT c.msg_id, $1, $2, $3, $4, $5, $6, $7, $8, "
	KEY_LIVE ", $10, $11, $12, $13 FROM c";
static const char ins_subj_sql[] =
	"INSERT INTO subjects (tenant, subject_hash, conv_hash) VALUES ($1, $2, $3)"
	" ON CONFLICT DO NOTHING";

static int prepare(PGconn *c)
{
	static const Oid msg_types[14] = { OID_TEXT, OID_TEXT, OID_BYTEA, OID_INT8, OID_INT8, OID_TEXT,
	                                   OID_TEXT, OID_TEXT, OID_INT8, OID_BYTEA, OID_BYTEA, OID_BYTEA,
	                                   OID_TEXT, OID_BYTEA };
	static const Oid subj_types[3] = { OID_TEXT, OID_BYTEA, OID_BYTEA };
	struct { const char *name, *sql; int n; const Oid *types; } st[] = {
		{ "ins_msg", ins_msg_sql, 13, msg_types },
		{ "ins_replay", ins_replay_sql, 14, msg_types },
		{ "ins_subj", ins_subj_sql, 3, subj_types },
	};
	for (size_t i = 0; i < RD_ARRAY_LEN(st); i++) {
		PGresult *r = PQprepare(c, st[i].name, st[i].sql, st[i].n, st[i].types);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			log_error("store: cannot prepare %s: %s", st[i].name, PQerrorMessage(c));
		PQclear(r);
		if (!ok)
			return -1;
	}
	return 0;
}

/* The record's parameters (binary where not text). */
struct rec_params {
	const char *v[14];
	int len[14], fmt[14];
	char ts[8], recv[8], key[8];
};

static void rec_params(const struct store_record *r, struct rec_params *p)
{
	store_pg_put64(p->ts, r->ts_ms);
	store_pg_put64(p->recv, r->received_ms);
	store_pg_put64(p->key, r->key_id);
	const char *v[14] = { r->id, r->tenant, (const char *)r->conv_hash, p->ts, p->recv,
	                      rd_role_name(r->role), rd_channel_name(r->channel), r->category, p->key,
	                      (const char *)r->conv_ct, (const char *)r->text_ct,
	                      (const char *)r->meta_ct, r->entity_counts ? r->entity_counts : "{}",
	                      (const char *)r->replay_hash };
	const int len[14] = { 0, 0, CRYPTO_HASH_BYTES, 8, 8, 0, 0, 0, 8, (int)r->conv_ct_len,
	                      (int)r->text_ct_len, (int)r->meta_ct_len, 0, CRYPTO_HASH_BYTES };
	const int fmt[14] = { 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1 };
	memcpy(p->v, v, sizeof v);
	memcpy(p->len, len, sizeof len);
	memcpy(p->fmt, fmt, sizeof fmt);
}

static void subj_params(const struct store_record *r, size_t i, const char *v[3], int len[3],
                        int fmt[3])
{
	v[0] = r->tenant;
	v[1] = (const char *)r->subjects[i];
	v[2] = (const char *)r->conv_hash;
	len[0] = 0;
	len[1] = len[2] = CRYPTO_HASH_BYTES;
	fmt[0] = 0;
	fmt[1] = fmt[2] = 1;
}

static bool bad_sizes(const struct store_record *r)
{
	return r->conv_ct_len > INT32_MAX || r->text_ct_len > INT32_MAX || r->meta_ct_len > INT32_MAX;
}

/* ---- the fast path: one pipeline ------------------------------------------ */

/* What the pipeline's results said. */
struct pipe_state {
	bool failed, full;
	bool refused;      /* no second try: COMMIT refused (test hook), or its outcome unknown */
	bool stmt_error;   /* a statement failed: the server rolled back */
	bool end_answered; /* the COMMIT (or ROLLBACK) got its result */
	char *stored;      /* per record of the group: 1 stored, 0 a replay */
	size_t next;       /* the record whose result comes next */
};

/* Reads results up to the next PGRES_PIPELINE_SYNC. `kinds` says what
 * each result answers: 'r' a record (its stored flag), anything else a
 * command. */
static void read_chunk(PGconn *c, const char *kinds, size_t nkinds, struct pipe_state *ps)
{
	size_t k = 0;
	for (;;) {
		PGresult *r = PQgetResult(c);
		if (!r) {
			if (PQstatus(c) == CONNECTION_BAD) {
				ps->failed = true;
				return;
			}
			continue;   /* the end of one statement's results */
		}
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return;
		}
		if (k < nkinds && kinds[k] == 'E')
			ps->end_answered = true;
		if (s == PGRES_FATAL_ERROR) {
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			ps->failed = true;
			ps->full |= store_pg_err(r) == RD_E_STORAGE_FULL;
			/* Class 08 (connection) and 57 (operator intervention: a
			 * terminated backend) say nothing about what was committed. */
			ps->stmt_error |= state && strncmp(state, "08", 2) && strncmp(state, "57", 2);
			log_error("store: postgresql: %s", PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
			          ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : "error");
		} else if (s == PGRES_PIPELINE_ABORTED) {
			ps->failed = true;
		} else if (k < nkinds && kinds[k] == 'r') {
			ps->stored[ps->next] = (char)(atoi(PQcmdTuples(r)) == 1);
		}
		if (k < nkinds && kinds[k] == 'r')
			ps->next++;
		k++;
		PQclear(r);
	}
}

/* Sends one record and its links; appends their kinds. 0 or -1. */
static int send_record(PGconn *c, const struct store_record *r, char *kinds, size_t *nk)
{
	struct rec_params p;
	rec_params(r, &p);
	if (!PQsendQueryPrepared(c, r->replay_hash ? "ins_replay" : "ins_msg", r->replay_hash ? 14 : 13,
	                         p.v, p.len, p.fmt, 1))
		return -1;
	kinds[(*nk)++] = 'r';
	for (size_t i = 0; i < r->nsubjects; i++) {
		const char *v[3];
		int len[3], fmt[3];
		subj_params(r, i, v, len, fmt);
		if (!PQsendQueryPrepared(c, "ins_subj", 3, v, len, fmt, 1))
			return -1;
		kinds[(*nk)++] = 'c';
	}
	return 0;
}

static size_t group_records(const struct store_job *head, size_t *links)
{
	size_t n = 0;
	*links = 0;
	for (const struct store_job *j = head; j; j = j->next)
		for (size_t i = 0; j->kind == JOB_RECORDS && i < j->n; i++) {
			n++;
			*links += j->recs[i].nsubjects;
		}
	return n;
}

/* True when the group committed; ps->stored says which records were
 * replays. On false nothing was written. */
static bool run_pipeline(struct store *st, struct store_job *head, struct pipe_state *ps)
{
	PGconn *c = st->pg->w.c;
	size_t links;
	(void)group_records(head, &links);
	/* kinds of one chunk: BEGIN, up to PG_CHUNK records with their links
	 * (a record with more links makes a chunk of its own), COMMIT. */
	size_t cap = PG_CHUNK + links + 2;
	char *kinds = malloc(cap);
	size_t nk = 0, in_chunk = 0;
	bool commit_fail = atomic_exchange(&st->fail_next_commit, false);
	if (!kinds || !PQenterPipelineMode(c)) {
		free(kinds);
		ps->failed = true;
		return false;
	}
	if (PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 1))
		kinds[nk++] = 'c';
	else
		ps->failed = true;
	for (struct store_job *j = head; j && !ps->failed; j = j->next) {
		for (size_t i = 0; j->kind == JOB_RECORDS && i < j->n && !ps->failed; i++) {
			if (bad_sizes(&j->recs[i]) || send_record(c, &j->recs[i], kinds, &nk)) {
				ps->failed = true;
				break;
			}
			if (++in_chunk == PG_CHUNK) {
				if (!PQpipelineSync(c))
					ps->failed = true;
				else
					read_chunk(c, kinds, nk, ps);
				nk = in_chunk = 0;
			}
		}
	}
	/* COMMIT, or a refusal (test hook) that rolls back as a failed commit. */
	bool commit = !ps->failed && !commit_fail;
	bool sent = PQsendQueryParams(c, commit ? "COMMIT" : "ROLLBACK", 0, NULL, NULL, NULL, NULL, 1) &&
	            PQpipelineSync(c);
	if (sent) {
		kinds[nk++] = 'E';
		read_chunk(c, kinds, nk, ps);
	}
	/* COMMIT handed to the server and then silence: it may have committed.
	 * Running the group again could store it twice, so it fails instead
	 * (a client retries; provider ids are deduplicated by the register). */
	ps->refused |= sent && commit && !ps->end_answered && !ps->stmt_error;
	PQexitPipelineMode(c);
	free(kinds);
	if (!sent || commit_fail)
		ps->failed = true;
	ps->refused |= commit_fail;
	if (ps->failed && PQtransactionStatus(c) != PQTRANS_IDLE)
		store_pg_cmd(c, "ROLLBACK");
	return !ps->failed;
}

/* ---- the slow path: savepoints, one statement at a time ------------------- */

/* One record: 0 stored, 1 replay, -1 failed (*full on a full disk). */
static int exec_record(PGconn *c, const struct store_record *r, bool *full)
{
	struct rec_params p;
	if (bad_sizes(r))
		return -1;
	rec_params(r, &p);
	PGresult *res = PQexecPrepared(c, r->replay_hash ? "ins_replay" : "ins_msg",
	                               r->replay_hash ? 14 : 13, p.v, p.len, p.fmt, 1);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*full |= store_pg_err(res) == RD_E_STORAGE_FULL;
		log_error("store: insert failed: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		          ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(c));
		PQclear(res);
		return -1;
	}
	int stored = atoi(PQcmdTuples(res)) == 1;
	PQclear(res);
	for (size_t i = 0; i < r->nsubjects; i++) {
		const char *v[3];
		int len[3], fmt[3];
		subj_params(r, i, v, len, fmt);
		res = PQexecPrepared(c, "ins_subj", 3, v, len, fmt, 1);
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		*full |= !ok && store_pg_err(res) == RD_E_STORAGE_FULL;
		PQclear(res);
		if (!ok)
			return -1;
	}
	return stored ? 0 : 1;
}

static enum rd_err run_job(struct store *st, struct store_job *j, bool *full)
{
	PGconn *c = st->pg->w.c;
	enum rd_err rc = RD_OK;
	j->replays = 0;
	if (store_pg_cmd(c, "SAVEPOINT job"))
		return RD_E_STORAGE;
	if (j->kind == JOB_EXEC && j->fn) {
		rc = store_pg_tx_run(st, &st->pg->w, true, j->fn, j->ctx);
		if (rc == RD_OK && PQtransactionStatus(c) != PQTRANS_INTRANS)
			rc = RD_E_STORAGE;   /* a statement failed and fn went on */
	} else if (j->kind == JOB_RECORDS) {
		for (size_t i = 0; i < j->n && rc == RD_OK; i++) {
			int ins = exec_record(c, &j->recs[i], full);
			if (ins < 0)
				rc = RD_E_STORAGE;
			else
				j->replays += (size_t)ins;
			if (ins == 1 && j->recs[i].replayed)   /* as the SQLite writer does */
				*j->recs[i].replayed = true;
		}
		if (rc)
			log_error("store: a batch of %zu record(s) failed and was rolled back", j->n);
	}
	if (rc != RD_OK && store_pg_cmd(c, "ROLLBACK TO SAVEPOINT job"))
		return rc;
	if (store_pg_cmd(c, "RELEASE SAVEPOINT job") && rc == RD_OK)
		rc = RD_E_STORAGE;
	return rc;
}

static bool run_slow(struct store *st, struct store_job *head, bool *full)
{
	PGconn *c = st->pg->w.c;
	bool lost = store_pg_cmd(c, "BEGIN") != 0;
	for (struct store_job *j = head; j && !lost; j = j->next) {
		j->status = run_job(st, j, full);
		lost = PQtransactionStatus(c) != PQTRANS_INTRANS;
	}
	if (!lost && atomic_exchange(&st->fail_next_commit, false))
		lost = true;
	if (!lost) {
		PGresult *r = PQexec(c, "COMMIT");
		/* COMMIT of a failed transaction answers ROLLBACK, not an error. */
		lost = PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0;
		*full |= lost && store_pg_err(r) == RD_E_STORAGE_FULL;
		PQclear(r);
	}
	if (lost && PQtransactionStatus(c) != PQTRANS_IDLE)
		store_pg_cmd(c, "ROLLBACK");
	return !lost;
}

/* ---- a group ---------------------------------------------------------------- */

static bool has_exec(const struct store_job *j)
{
	for (; j; j = j->next)
		if (j->kind == JOB_EXEC && j->fn)
			return true;
	return false;
}

/* The writer's connection is up, with its statements prepared. */
static int connection_ready(struct store *st)
{
	struct store_pg *pg = st->pg;
	if (PQstatus(pg->w.c) != CONNECTION_OK) {
		PQreset(pg->w.c);
		pg->prepared = false;
		pg->nparts = 0;
		if (PQstatus(pg->w.c) != CONNECTION_OK) {
			log_error("store: the writer lost its postgresql connection (%s)", pg->masked);
			return -1;
		}
		log_info("store: the writer reconnected to postgresql");
	}
	if (!pg->prepared && prepare(pg->w.c) == 0)
		pg->prepared = true;
	return pg->prepared ? 0 : -1;
}

static int partitions(struct store *st, const struct store_job *head)
{
	for (const struct store_job *j = head; j; j = j->next)
		for (size_t i = 0; j->kind == JOB_RECORDS && i < j->n; i++)
			if (store_pg_partition_for(st->pg, st->pg->w.c, j->recs[i].ts_ms, j->recs[i].category))
				return -1;
	return 0;
}

static void set_replays(struct store_job *head, const char *stored)
{
	size_t k = 0;
	for (struct store_job *j = head; j; j = j->next) {
		if (j->kind != JOB_RECORDS)
			continue;
		j->replays = 0;
		for (size_t i = 0; i < j->n; i++, k++) {
			if (stored[k])
				continue;
			j->replays++;
			if (j->recs[i].replayed)
				*j->recs[i].replayed = true;
		}
	}
}

static void run_group(struct store *st, struct store_job *head)
{
	if (head->kind == JOB_CHECKPOINT) {   /* nothing to checkpoint: the server does */
		head->status = RD_OK;
		return;
	}
	bool committed = false, full = false;
	for (struct store_job *j = head; j; j = j->next)
		j->status = RD_E_STORAGE;
	/* A connection the server dropped shows only when it is used: then
	 * one reconnect and a second try (nothing was written). */
	int ready = connection_ready(st) == 0 && partitions(st, head) == 0;
	if (!ready && PQstatus(st->pg->w.c) == CONNECTION_BAD)
		ready = connection_ready(st) == 0 && partitions(st, head) == 0;
	if (ready) {
		size_t links, n = group_records(head, &links);
		struct pipe_state ps = { .stored = calloc(n ? n : 1, 1) };
		if (ps.stored && !has_exec(head) && run_pipeline(st, head, &ps)) {
			committed = true;
			for (struct store_job *j = head; j; j = j->next)
				j->status = RD_OK;
			set_replays(head, ps.stored);
		} else if (!ps.refused && connection_ready(st) == 0) {
			full = ps.full;
			committed = run_slow(st, head, &full);
		}
		free(ps.stored);
	}
	if (!committed) {
		for (struct store_job *j = head; j; j = j->next)
			j->status = full ? RD_E_STORAGE_FULL : RD_E_STORAGE;
		if (full && !atomic_exchange(&st->disk_full, true))
			log_warn("store: the postgresql server is out of disk space: writes fail until it has room");
	} else {
		atomic_fetch_add(&st->n_commits, 1);
		if (atomic_exchange(&st->disk_full, false))
			log_info("store: writes succeed again after the server's disk was full");
	}
	for (struct store_job *j = head; j; j = j->next) {
		if (j->kind != JOB_RECORDS)
			continue;
		if (j->status == RD_OK)
			atomic_fetch_add(&st->n_records, j->n - j->replays);
		else
			atomic_fetch_add(&st->n_failed, 1);
	}
}

/* ---- the thread ---------------------------------------------------------------- */

static void *writer_main(void *arg)
{
	struct store *st = arg;
	pthread_setname_np(pthread_self(), "rd-pg-writer");
	for (;;) {
		pthread_mutex_lock(&st->qlock);
		while ((!st->qhead || st->paused) && !st->stopping)
			pthread_cond_wait(&st->qcond, &st->qlock);
		bool drained = st->stopping && !st->qhead;
		struct store_job *group = NULL;
		if (!drained) {
			if (st->opt.batch_wait_us > 0)
				store_wait_to_fill(st);
			group = store_take_group(st);
		}
		pthread_mutex_unlock(&st->qlock);
		if (group) {
			run_group(st, group);
			store_finish_jobs(group);   /* only now: after COMMIT returned */
		}
		if (drained)
			break;
	}
	return NULL;
}

int store_pg_writer_start(struct store *st, char *err, size_t errlen)
{
	if (prepare(st->pg->w.c)) {
		util_err(err, errlen, "cannot prepare statements: %s", PQerrorMessage(st->pg->w.c));
		return -1;
	}
	st->pg->prepared = true;
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		util_err(err, errlen, "cannot start the writer thread");
		return -1;
	}
	st->writer_started = true;
	return 0;
}

void store_pg_writer_stop(struct store *st)
{
	store_writer_join(st);
}
