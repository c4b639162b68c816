/*
 * audit.c — the hash-chained audit log: append, verify, list, purge.
 *
 * Workload: a handful of appends per request that reads or deletes stored
 * content, one per sweep pass; verification walks the whole table once.
 * Every function takes a sqlite3 handle: appends and purges run inside the
 * caller's write transaction (store_exec), reads on any connection. The
 * hash layout is documented in audit.h and must never change for v1.
 */
#include "audit.h"
#include "app.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

static const char chain_tag[] = "rd-audit-v1";
static const unsigned char zero_hash[AUDIT_HASH_BYTES];

/* One entry as stored. Strings borrow from the statement or the caller. */
struct entry {
	int64_t seq, ts_ms, count;
	const char *actor, *action, *target;
	const unsigned char *prev, *hash;
	size_t prev_len, hash_len;
};

static void put_u64(crypto_generichash_state *st, uint64_t v)
{
	unsigned char b[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
	crypto_generichash_update(st, b, sizeof b);
}

/* Length-prefixed, so ("ab","c") and ("a","bc") never hash alike. */
static void put_str(crypto_generichash_state *st, const char *s)
{
	size_t n = strlen(s);
	unsigned char b[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                       (unsigned char)(n >> 8), (unsigned char)n };
	crypto_generichash_update(st, b, sizeof b);
	crypto_generichash_update(st, (const unsigned char *)s, n);
}

static void entry_hash(const unsigned char prev[AUDIT_HASH_BYTES], const struct entry *e,
                       unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, AUDIT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)chain_tag, sizeof chain_tag - 1);
	crypto_generichash_update(&st, prev, AUDIT_HASH_BYTES);
	put_u64(&st, (uint64_t)e->seq);
	put_u64(&st, (uint64_t)e->ts_ms);
	put_str(&st, e->actor);
	put_str(&st, e->action);
	put_str(&st, e->target);
	put_u64(&st, (uint64_t)e->count);
	crypto_generichash_final(&st, out, AUDIT_HASH_BYTES);
}

static bool field_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= AUDIT_FIELD_MAX;
}

/* ---- reading the head -------------------------------------------------- */

/* Runs a one-row query with no parameters; *v gets column 0 (0 if no row). */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *s;
	*v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The checkpoint (last purged seq and its hash); seq 0 and the zero hash
 * when nothing was ever purged. */
static int checkpoint_get(sqlite3 *db, int64_t *seq, unsigned char hash[AUDIT_HASH_BYTES])
{
	sqlite3_stmt *s;
	*seq = 0;
	memcpy(hash, zero_hash, AUDIT_HASH_BYTES);
	if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_checkpoint WHERE id = 1", -1, &s,
	                       NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == AUDIT_HASH_BYTES) {
		*seq = sqlite3_column_int64(s, 0);
		memcpy(hash, sqlite3_column_blob(s, 1), AUDIT_HASH_BYTES);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Highest seq ever handed out (sqlite_sequence survives deletes). */
static int high_mark(sqlite3 *db, int64_t *v)
{
	return query_int(db, "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'", v);
}

/* seq and hash of the newest entry, or of the checkpoint when the table is
 * empty. */
static int head_get(sqlite3 *db, int64_t *seq, unsigned char hash[AUDIT_HASH_BYTES])
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", -1,
	                       &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == AUDIT_HASH_BYTES) {
		*seq = sqlite3_column_int64(s, 0);
		memcpy(hash, sqlite3_column_blob(s, 1), AUDIT_HASH_BYTES);
		sqlite3_finalize(s);
		return 0;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return -1;
	return checkpoint_get(db, seq, hash);
}

/* ---- append -------------------------------------------------------------- */

static int insert_entry(sqlite3 *db, const struct entry *e, const unsigned char prev[AUDIT_HASH_BYTES],
                        const unsigned char hash[AUDIT_HASH_BYTES])
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "INSERT INTO audit_log (seq, ts_ms, actor, action, target, count, "
	                       "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, e->seq);
	sqlite3_bind_int64(s, 2, e->ts_ms);
	sqlite3_bind_text(s, 3, e->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, e->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, e->count);
	sqlite3_bind_blob(s, 7, prev, AUDIT_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 8, hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int audit_append_at(sqlite3 *db, int64_t ts_ms, const char *actor, const char *action,
                    const char *target, int64_t count)
{
	if (!field_ok(actor) || !field_ok(action) || !field_ok(target)) {
		log_error("audit: empty or oversized field (bug)");
		return -1;
	}
	struct entry e = { .ts_ms = ts_ms, .count = count, .actor = actor, .action = action,
	                   .target = target };
	unsigned char prev[AUDIT_HASH_BYTES], hash[AUDIT_HASH_BYTES];
	int64_t head_seq = 0, mark = 0;
	/* Continue after the highest seq ever used: if the newest entries were
	 * deleted, the gap stays visible instead of being papered over. */
	if (head_get(db, &head_seq, prev) || high_mark(db, &mark))
		goto fail;
	e.seq = (mark > head_seq ? mark : head_seq) + 1;
	entry_hash(prev, &e, hash);
	if (insert_entry(db, &e, prev, hash))
		goto fail;
	return 0;
fail:
	log_error("audit: append failed: %s", sqlite3_errmsg(db));
	return -1;
}

int audit_append(sqlite3 *db, const char *actor, const char *action, const char *target,
                 int64_t count)
{
	return audit_append_at(db, util_now_ms(), actor, action, target, count);
}

/* ---- verify ------------------------------------------------------------- */

const char *audit_fault_name(enum audit_fault f)
{
	switch (f) {
	case AUDIT_INTACT: return "intact";
	case AUDIT_EDITED: return "edited";
	case AUDIT_REMOVED: return "removed";
	case AUDIT_REORDERED: return "reordered";
	}
	return "?";
}

static void report_fault(struct audit_report *r, enum audit_fault f, int64_t seq, const char *why)
{
	r->fault = f;
	r->bad_seq = seq;
	snprintf(r->detail, sizeof r->detail, "entry %lld %s: %s", (long long)seq,
	         audit_fault_name(f), why);
}

/* The seq of another entry whose hash is h, or 0. Used only after a broken
 * link, to tell a moved entry from a missing one. */
static int64_t seq_with_hash(sqlite3 *db, const unsigned char *h, size_t n)
{
	sqlite3_stmt *s;
	int64_t seq = 0;
	if (sqlite3_prepare_v2(db, "SELECT seq FROM audit_log WHERE hash = ? LIMIT 1", -1, &s,
	                       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_blob(s, 1, h, (int)n, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		seq = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return seq;
}

/* Checks one entry against the expected seq and link; 0 if it holds. */
static int check_entry(sqlite3 *db, const struct entry *e, int64_t want_seq,
                       const unsigned char want_prev[AUDIT_HASH_BYTES], struct audit_report *r)
{
	unsigned char h[AUDIT_HASH_BYTES];
	if (e->seq != want_seq) {
		report_fault(r, AUDIT_REMOVED, want_seq, e->seq > want_seq
		             ? "missing from the sequence" : "sequence out of order");
		return -1;
	}
	if (e->prev_len != AUDIT_HASH_BYTES || e->hash_len != AUDIT_HASH_BYTES) {
		report_fault(r, AUDIT_EDITED, e->seq, "hash columns damaged");
		return -1;
	}
	if (sodium_memcmp(e->prev, want_prev, AUDIT_HASH_BYTES) != 0) {
		int64_t other = seq_with_hash(db, e->prev, e->prev_len);
		if (other > 0)
			report_fault(r, AUDIT_REORDERED, e->seq, "it links to an entry now found elsewhere");
		else
			report_fault(r, AUDIT_REMOVED, e->seq,
			             "it does not follow the entry before it (removed or altered)");
		return -1;
	}
	entry_hash(e->prev, e, h);
	if (sodium_memcmp(h, e->hash, AUDIT_HASH_BYTES) != 0) {
		report_fault(r, AUDIT_EDITED, e->seq, "its fields do not match its hash");
		return -1;
	}
	return 0;
}

static void entry_from_row(sqlite3_stmt *s, struct entry *e)
{
	e->seq = sqlite3_column_int64(s, 0);
	e->ts_ms = sqlite3_column_int64(s, 1);
	e->actor = (const char *)sqlite3_column_text(s, 2);
	e->action = (const char *)sqlite3_column_text(s, 3);
	e->target = (const char *)sqlite3_column_text(s, 4);
	e->count = sqlite3_column_int64(s, 5);
	e->prev = sqlite3_column_blob(s, 6);
	e->prev_len = (size_t)sqlite3_column_bytes(s, 6);
	e->hash = sqlite3_column_blob(s, 7);
	e->hash_len = (size_t)sqlite3_column_bytes(s, 7);
	if (!e->actor) e->actor = "";
	if (!e->action) e->action = "";
	if (!e->target) e->target = "";
}

/* Walks every entry from the checkpoint on; stops at the first fault. */
static int walk(sqlite3 *db, struct audit_report *r, unsigned char link[AUDIT_HASH_BYTES])
{
	sqlite3_stmt *s;
	int64_t want = r->checkpoint_seq + 1;
	if (sqlite3_prepare_v2(db, "SELECT seq, ts_ms, actor, action, target, count, prev_hash, hash "
	                       "FROM audit_log ORDER BY seq", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct entry e;
		entry_from_row(s, &e);
		if (r->entries == 0)
			r->first_seq = e.seq;
		if (check_entry(db, &e, want, link, r))
			break;
		memcpy(link, e.hash, AUDIT_HASH_BYTES);
		r->last_seq = e.seq;
		r->entries++;
		want = e.seq + 1;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int audit_verify(sqlite3 *db, struct audit_report *out)
{
	struct audit_report r = { 0 };
	unsigned char link[AUDIT_HASH_BYTES];
	int64_t mark = 0;
	if (checkpoint_get(db, &r.checkpoint_seq, link) || high_mark(db, &mark) || walk(db, &r, link))
		return -1;
	memcpy(r.head, link, sizeof r.head);
	int64_t last = r.entries ? r.last_seq : r.checkpoint_seq;
	if (r.fault == AUDIT_INTACT && mark > last)
		report_fault(&r, AUDIT_REMOVED, last + 1, "the newest entries are missing");
	if (r.fault == AUDIT_INTACT)
		snprintf(r.detail, sizeof r.detail, "%lld entries intact", (long long)r.entries);
	*out = r;
	return 0;
}

/* ---- list ---------------------------------------------------------------- */

int audit_list(sqlite3 *db, int64_t since_ms, FILE *f, size_t *n)
{
	sqlite3_stmt *s;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT seq, ts_ms, actor, action, target, count FROM audit_log "
	                       "WHERE ts_ms >= ? ORDER BY seq", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, since_ms);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char ts[32];
		util_format_ts(sqlite3_column_int64(s, 1), ts);
		json_t *o = json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:I}",
		                      "seq", (json_int_t)sqlite3_column_int64(s, 0), "ts", ts,
		                      "actor", (const char *)sqlite3_column_text(s, 2),
		                      "action", (const char *)sqlite3_column_text(s, 3),
		                      "target", (const char *)sqlite3_column_text(s, 4),
		                      "count", (json_int_t)sqlite3_column_int64(s, 5));
		int bad = !o || json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) == EOF;
		json_decref(o);
		if (bad) {
			rc = SQLITE_ERROR;
			break;
		}
		(*n)++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- purge ------------------------------------------------------------- */

static int checkpoint_set(sqlite3 *db, int64_t seq, const unsigned char *hash)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "INSERT INTO audit_checkpoint (id, seq, hash, purged_ms) "
	                       "VALUES (1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
	                       "seq = ?1, hash = ?2, purged_ms = ?3", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_blob(s, 2, hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, util_now_ms());
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The newest entry older than before_ms: seq and hash; seq 0 if none. */
static int last_before(sqlite3 *db, int64_t before_ms, int64_t *seq, unsigned char hash[AUDIT_HASH_BYTES])
{
	sqlite3_stmt *s;
	*seq = 0;
	if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_log WHERE ts_ms < ? "
	                       "ORDER BY seq DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, before_ms);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == AUDIT_HASH_BYTES) {
		*seq = sqlite3_column_int64(s, 0);
		memcpy(hash, sqlite3_column_blob(s, 1), AUDIT_HASH_BYTES);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int audit_purge(sqlite3 *db, int64_t before_ms, int64_t *purged)
{
	unsigned char hash[AUDIT_HASH_BYTES];
	int64_t seq;
	sqlite3_stmt *s = NULL;
	*purged = 0;
	if (last_before(db, before_ms, &seq, hash))
		goto fail;
	if (seq == 0)
		return 0;
	/* Everything up to that seq goes, so the remaining chain is contiguous
	 * and starts right after the checkpoint. */
	if (sqlite3_prepare_v2(db, "DELETE FROM audit_log WHERE seq <= ?", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, seq);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	*purged = sqlite3_changes(db);
	sqlite3_finalize(s);
	s = NULL;
	if (checkpoint_set(db, seq, hash) ||
	    audit_append(db, "redactd", "audit.purge", "audit_log", *purged))
		goto fail;
	return 0;
fail:
	sqlite3_finalize(s);
	log_error("audit: purge failed: %s", sqlite3_errmsg(db));
	return -1;
}

/* ---- targets and one-shot records ---------------------------------------- */

void audit_target(const struct keyring *kr, const char *kind, const unsigned char *hash, size_t n,
                  char out[AUDIT_TARGET_MAX])
{
	unsigned char key[CRYPTO_KEY_BYTES], h[16];
	char hex[2 * sizeof h + 1];
	crypto_generichash_state st;
	keyring_subkey(kr, SUBKEY_AUDIT, key);
	crypto_generichash_init(&st, key, sizeof key, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
	crypto_generichash_update(&st, hash, n);
	crypto_generichash_final(&st, h, sizeof h);
	sodium_memzero(key, sizeof key);
	util_hex_encode(h, sizeof h, hex);
	snprintf(out, AUDIT_TARGET_MAX, "%.40s:%s", kind, hex);
}

struct record_ctx {
	const char *actor, *action, *target;
	int64_t count;
};

static int record_fn(sqlite3 *db, void *arg)
{
	const struct record_ctx *c = arg;
	return audit_append(db, c->actor, c->action, c->target, c->count);
}

int audit_record(struct app *app, const char *actor, const char *action, const char *target,
                 int64_t count)
{
	struct record_ctx c = { actor, action, target, count };
	int rc = store_exec(app->store, record_fn, &c);
	if (rc != 0)
		return rc < 0 ? rc : STORE_ERR;
	metrics_audit(app->metrics, 1);
	return 0;
}
