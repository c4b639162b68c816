/*
 * subject.c — export, erasure and legal holds for data subjects.
 *
 * Workload: rare, operator-driven requests touching a few conversations.
 * Reads go through store_conversation on a read connection and rows are
 * opened by read_open_row; every write (erasure, holds, audit entries)
 * runs in one store_exec transaction on the writer, so an action and its
 * audit entry commit together. See subject.h for the contracts.
 */
#include "subject.h"
#include "audit.h"
#include "read.h"
#include "json_mem.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONVERSATIONS 100000   /* per subject; far beyond any real person */

const char *subject_kind_name(enum subject_query_kind k)
{
	switch (k) {
	case SQ_EMAIL: return "email";
	case SQ_PHONE: return "phone";
	case SQ_CONVERSATION: return "conversation";
	}
	return "?";
}

/* ---- resolving a query ------------------------------------------------- */

/* The lookup hash of q: the subject hash, or the conversation hash. */
static int resolve(struct app *app, const struct subject_query *q, unsigned char h[CRYPTO_HASH_BYTES],
                   struct rd_error *e)
{
	size_t n = strlen(q->value);
	if (n == 0 || n > RD_MAX_ID_LEN) {
		rd_error_set(e, RD_E_INVALID_QUERY, "the %s must be 1 to %d bytes",
		              subject_kind_name(q->kind), RD_MAX_ID_LEN);
		return -1;
	}
	if (q->kind == SQ_CONVERSATION) {
		crypto_conversation_hash(app->lookup_key, q->tenant, q->value, n, h);
		return 0;
	}
	struct redact_subject s;
	struct app_snap *snap = app_snap_acquire(app);
	int src = redact_subject_hash(snap->redact, q->kind == SQ_EMAIL ? SUBJECT_EMAIL : SUBJECT_PHONE,
	                              q->value, n, &s);
	app_snap_release(snap);
	if (src < 0) {
		rd_error_set(e, RD_E_INVALID_QUERY, "that does not look like an %s",
		              q->kind == SQ_EMAIL ? "email address" : "phone number");
		return -1;
	}
	memcpy(h, s.hash, CRYPTO_HASH_BYTES);
	return 0;
}

static void query_target(struct app *app, const struct subject_query *q,
                         const unsigned char h[CRYPTO_HASH_BYTES], char out[AUDIT_TARGET_MAX])
{
	struct app_snap *snap = app_snap_acquire(app);
	audit_target(snap->keys, q->kind == SQ_CONVERSATION ? "conversation" : "subject", h,
	             CRYPTO_HASH_BYTES, out);
	app_snap_release(snap);
}

/* Conversation hashes linked to the query, in first-seen order. */
struct conv_list {
	unsigned char (*h)[CRYPTO_HASH_BYTES];
	size_t n;
};

static int conv_push(struct conv_list *l, const void *h)
{
	if (l->n >= MAX_CONVERSATIONS)
		return -1;
	void *p = realloc(l->h, (l->n + 1) * sizeof *l->h);
	if (!p)
		return -1;
	l->h = p;
	memcpy(l->h[l->n++], h, CRYPTO_HASH_BYTES);
	return 0;
}

struct collect_ctx {
	const struct subject_query *q;
	const unsigned char *hash;
	struct conv_list *list;
};

static int collect_fn(sqlite3 *db, void *arg)
{
	struct collect_ctx *c = arg;
	if (c->q->kind == SQ_CONVERSATION)
		return conv_push(c->list, c->hash);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT conv_hash FROM subjects WHERE tenant = ? AND "
	                       "subject_hash = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, c->q->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, c->hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) == CRYPTO_HASH_BYTES &&
		    conv_push(c->list, sqlite3_column_blob(s, 0))) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- export -------------------------------------------------------------- */

struct export_ctx {
	struct app *app;
	struct app_snap *snap;
	json_t *messages;
	json_t *conv_id;        /* from the first row that opened */
	int64_t unreadable, failures;
};

static int export_row(const struct store_row *row, void *arg)
{
	struct export_ctx *c = arg;
	json_t *o;
	int rc = read_open_row(c->app, c->snap, row, true, &o);
	if (rc == 1) {
		c->unreadable++;
		return 0;
	}
	if (rc != 0) {
		c->failures++;
		return 0;
	}
	if (!c->conv_id)
		c->conv_id = json_incref(json_object_get(o, "conversation_id"));
	json_object_del(o, "conversation_id");
	return json_array_append_new(c->messages, o) ? -1 : 0;
}

/* Opens one conversation and appends {"conversation_id", "messages"} to
 * convs unless nothing of it is left to read. -1 if a row fails to
 * authenticate or on a storage error. */
static int export_conversation(struct app *app, const char *tenant, const unsigned char *h,
                               json_t *convs, int64_t *records, int64_t *unreadable)
{
	struct export_ctx c = { .app = app, .snap = app_snap_acquire(app), .messages = json_array() };
	size_t count = 0;
	int rc = -1;
	if (!c.messages || store_conversation(app->store, tenant, h, export_row, &c, &count) != 0)
		goto done;
	if (c.failures) {
		log_error("export: %lld record(s) failed to authenticate", (long long)c.failures);
		goto done;
	}
	*unreadable += c.unreadable;
	*records += (int64_t)json_array_size(c.messages);
	rc = 0;
	if (json_array_size(c.messages) == 0)
		goto done;
	json_t *o = json_pack("{s:O, s:O}", "conversation_id", c.conv_id ? c.conv_id : json_null(),
	                      "messages", c.messages);
	if (!o || json_array_append_new(convs, o))
		rc = -1;
done:
	app_snap_release(c.snap);
	json_decref(c.conv_id);
	json_decref(c.messages);
	return rc;
}

struct audit_ctx {
	const char *actor, *action, *target;
	int64_t count;
};

static int audit_fn(sqlite3 *db, void *arg)
{
	struct audit_ctx *a = arg;
	return audit_append(db, a->actor, a->action, a->target, a->count);
}

static int linked_conversations(struct app *app, const struct subject_query *q,
                                const unsigned char *h, struct conv_list *list, struct rd_error *e)
{
	struct collect_ctx cc = { q, h, list };
	if (store_read(app->store, collect_fn, &cc) != 0) {
		rd_error_set(e, RD_E_STORAGE, "the subject's conversations could not be read");
		return -1;
	}
	return 0;
}

static const char *first_ts(const json_t *conv)
{
	const char *ts = json_string_value(json_object_get(
		json_array_get(json_object_get(conv, "messages"), 0), "ts"));
	return ts ? ts : "";
}

/* Conversations in the order they started (timestamps are fixed-width
 * RFC 3339 in UTC, so they sort as strings). Insertion sort: few items. */
static void sort_conversations(json_t *convs)
{
	size_t n = json_array_size(convs);
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0; j--) {
			json_t *a = json_array_get(convs, j - 1), *b = json_array_get(convs, j);
			if (strcmp(first_ts(a), first_ts(b)) <= 0)
				break;
			json_incref(a);
			json_array_set(convs, j - 1, b);
			json_array_set_new(convs, j, a);
		}
	}
}

int subject_export(struct app *app, const struct subject_query *q, const char *actor, json_t **out,
                   struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	char target[AUDIT_TARGET_MAX];
	struct conv_list list = { 0 };
	int64_t records = 0, unreadable = 0;
	json_t *convs = json_array();
	if (!convs) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	if (resolve(app, q, h, e) || linked_conversations(app, q, h, &list, e))
		goto fail;
	for (size_t i = 0; i < list.n; i++) {
		if (export_conversation(app, q->tenant, list.h[i], convs, &records, &unreadable)) {
			rd_error_set(e, RD_E_INTEGRITY,
			              "stored records could not be read or failed to authenticate; see the log");
			goto fail;
		}
	}
	sort_conversations(convs);
	/* Nothing leaves before its audit entry is committed. */
	query_target(app, q, h, target);
	struct audit_ctx a = { actor, "export", target, records };
	int rc = store_exec(app->store, audit_fn, &a);
	if (rc != 0) {
		rd_error_store(e, rc, RD_E_AUDIT, "the export could not be audit-logged");
		goto fail;
	}
	metrics_audit(app->metrics, 1);
	*out = json_pack("{s:s, s:I, s:I, s:o}", "tenant", q->tenant, "records", (json_int_t)records,
	                 "unreadable", (json_int_t)unreadable, "conversations", convs);
	free(list.h);
	if (!*out) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
fail:
	free(list.h);
	json_decref(convs);
	return -1;
}

/* ---- CSV --------------------------------------------------------------- */

/* One RFC 4180 field, always quoted, quotes doubled. */
static int csv_field(struct buf *b, const char *s, bool last)
{
	if (buf_append(b, "\"", 1))
		return -1;
	for (const char *p = s ? s : ""; *p; p++)
		if ((*p == '"' && buf_append(b, "\"", 1)) || buf_append(b, p, 1))
			return -1;
	return buf_append(b, last ? "\"\r\n" : "\",", last ? 3 : 2);
}

static int csv_json_field(struct buf *b, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = csv_field(b, s, false);
	json_mem_free_text(s);
	return rc;
}

static int csv_message(struct buf *b, const char *conv, const json_t *m)
{
	static const char *const cols[] = { "id", "ts", "role", "channel", "category", "text" };
	if (csv_field(b, conv, false))
		return -1;
	for (size_t i = 0; i < RD_ARRAY_LEN(cols); i++)
		if (csv_field(b, json_string_value(json_object_get(m, cols[i])), false))
			return -1;
	if (csv_json_field(b, json_object_get(m, "metadata")))
		return -1;
	char *f = json_dumps(json_object_get(m, "findings"), JSON_COMPACT | JSON_ENCODE_ANY);
	int rc = csv_field(b, f, true);
	json_mem_free_text(f);
	return rc;
}

int subject_export_csv(const json_t *export, struct buf *out)
{
	static const char header[] =
		"conversation_id,id,ts,role,channel,category,text,metadata,findings\r\n";
	if (buf_append(out, header, sizeof header - 1))
		return -1;
	size_t i, j;
	json_t *c, *m;
	json_array_foreach(json_object_get(export, "conversations"), i, c) {
		const char *conv = json_string_value(json_object_get(c, "conversation_id"));
		json_array_foreach(json_object_get(c, "messages"), j, m)
			if (csv_message(out, conv, m))
				return -1;
	}
	return 0;
}

/* ---- erasure ------------------------------------------------------------- */

struct erase_ctx {
	const struct subject_query *q;
	const unsigned char *hash;
	const char *actor;
	const char *target;
	struct subject_erase_result r;
	int64_t audit_entries;
};

int subject_conversation_held_cached(struct sqlite3 *db, struct sqlite3_stmt **stmt,
                                     const char *tenant,
                                     const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
{
	if (!*stmt && sqlite3_prepare_v2(db, "SELECT " SUBJECT_HELD_SQL("?2"), -1, stmt, NULL) != SQLITE_OK)
		return -1;
	sqlite3_stmt *s = *stmt;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	*held = rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int subject_conversation_held(struct sqlite3 *db, const char *tenant,
                              const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
{
	sqlite3_stmt *s = NULL;
	int rc = subject_conversation_held_cached(db, &s, tenant, conv_hash, held);
	sqlite3_finalize(s);
	return rc;
}

/* Runs a statement with (tenant, conv_hash) bound; *changes gets the rows
 * changed, or for a SELECT the first column. */
static int run_conv(sqlite3 *db, const char *sql, const char *tenant, const unsigned char *h,
                    int64_t *changes)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, h, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (changes)
		*changes = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : sqlite3_changes(db);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int erase_conversation(sqlite3 *db, struct erase_ctx *c, const unsigned char *h)
{
	bool held;
	int64_t n = 0;
	const char *tenant = c->q->tenant;
	if (subject_conversation_held(db, tenant, h, &held))
		return -1;
	if (held) {
		if (run_conv(db, "SELECT count(*) FROM messages WHERE id IN " STORE_CONV_IDS_SQL,
		             tenant, h, &n))
			return -1;
		c->r.kept += n;
		c->r.held_conversations += n > 0;
		return 0;
	}
	if (run_conv(db, "DELETE FROM messages WHERE id IN " STORE_CONV_IDS_SQL, tenant, h, &n) ||
	    run_conv(db, "DELETE FROM subjects WHERE tenant = ?1 AND conv_hash = ?2", tenant, h, NULL))
		return -1;
	c->r.removed += n;
	c->r.conversations += n > 0;
	return 0;
}

static int erase_fn(sqlite3 *db, void *arg)
{
	struct erase_ctx *c = arg;
	struct conv_list list = { 0 };
	struct collect_ctx cc = { c->q, c->hash, &list };
	int rc = collect_fn(db, &cc);
	for (size_t i = 0; rc == 0 && i < list.n; i++)
		rc = erase_conversation(db, c, list.h[i]);
	free(list.h);
	if (rc == 0)
		rc = audit_append(db, c->actor, "erase", c->target, c->r.removed);
	/* Recorded with the delete: until a checkpoint completes, the rows are
	 * still in the files, whatever happens to this process. */
	if (rc == 0 && c->r.removed)
		rc = store_residue_mark(db, util_now_ms());
	/* What a hold kept is recorded too: the request was not fully met. */
	if (rc == 0 && c->r.kept)
		rc = audit_append(db, c->actor, "erase.held", c->target, c->r.kept);
	c->audit_entries = c->r.kept ? 2 : 1;
	return rc;
}

int subject_erase(struct app *app, const struct subject_query *q, const char *actor,
                  struct subject_erase_result *out, struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	char target[AUDIT_TARGET_MAX];
	if (resolve(app, q, h, e))
		return -1;
	query_target(app, q, h, target);
	struct erase_ctx c = { .q = q, .hash = h, .actor = actor, .target = target };
	int rc = store_exec(app->store, erase_fn, &c);
	if (rc != 0) {
		rd_error_store(e, rc, RD_E_STORAGE, "the erasure could not be committed");
		return -1;
	}
	metrics_audit(app->metrics, (uint64_t)c.audit_entries);
	log_info("erase: %lld record(s) removed, %lld kept by a hold", (long long)c.r.removed,
	         (long long)c.r.kept);
	if (c.r.removed)
		c.r.residue_pending = retention_after_delete(app);
	*out = c.r;
	return 0;
}

json_t *subject_erase_json(const struct subject_erase_result *r)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:s}", "removed", (json_int_t)r->removed,
	                      "kept", (json_int_t)r->kept, "conversations", (json_int_t)r->conversations,
	                      "held_conversations", (json_int_t)r->held_conversations,
	                      "residue", r->residue_pending ? "pending" : "none");
	if (o && r->kept && json_object_set_new(o, "kept_reason", json_string("legal_hold"))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- holds --------------------------------------------------------------- */

/* Sealing key for hold documents, derived from the AUDIT subkey so it is
 * separate from every key that seals or hashes records. */
static void hold_key(const struct keyring *kr, unsigned char key[CRYPTO_KEY_BYTES])
{
	unsigned char audit[CRYPTO_KEY_BYTES];
	keyring_subkey(kr, SUBKEY_AUDIT, audit);
	crypto_kdf_derive_from_key(key, CRYPTO_KEY_BYTES, 1, "rd_holds", audit);
	sodium_memzero(audit, sizeof audit);
}

/* Associated data binding a sealed hold document to its id and tenant. */
static size_t hold_ad(unsigned char *ad, size_t cap, const char *id, const char *tenant)
{
	int n = snprintf((char *)ad, cap, "rdhold1:%s:%s", id, tenant);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

struct hold_add_ctx {
	const char *id, *tenant, *kind, *actor;
	const unsigned char *hash;
	const unsigned char *doc_ct;
	size_t doc_len;
};

static int hold_add_fn(sqlite3 *db, void *arg)
{
	struct hold_add_ctx *c = arg;
	sqlite3_stmt *s;
	char target[8 + SUBJECT_HOLD_ID_LEN];
	if (sqlite3_prepare_v2(db, "INSERT INTO holds (id, tenant, kind, target_hash, doc_ct, actor, "
	                       "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, c->kind, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, c->hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, c->doc_ct, (int)c->doc_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, c->actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, util_now_ms());
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	snprintf(target, sizeof target, "hold:%s", c->id);
	return rc == SQLITE_DONE ? audit_append(db, c->actor, "hold.add", target, 1) : -1;
}

/* The sealed {"type", "value", "reason"} document of a new hold. */
static unsigned char *hold_seal(struct app *app, const struct subject_query *q, const char *reason,
                                const char *id, size_t *len)
{
	json_t *doc = json_pack("{s:s, s:s, s:s}", "type", subject_kind_name(q->kind), "value",
	                        q->value, "reason", reason);
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	unsigned char key[CRYPTO_KEY_BYTES], ad[160];
	unsigned char *ct = malloc(n + CRYPTO_SEAL_OVERHEAD);
	if (ct) {
		struct app_snap *snap = app_snap_acquire(app);
		hold_key(snap->keys, key);
		app_snap_release(snap);
		crypto_seal(key, ad, hold_ad(ad, sizeof ad, id, q->tenant), s, n, ct);
		sodium_memzero(key, sizeof key);
		*len = n + CRYPTO_SEAL_OVERHEAD;
	}
	json_mem_free_text(s);
	return ct;
}

int subject_hold_add(struct app *app, const struct subject_query *q, const char *reason,
                     const char *actor, char id[SUBJECT_HOLD_ID_LEN + 1], struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES], rnd[8];
	char hid[SUBJECT_HOLD_ID_LEN + 1] = "h_";
	size_t rlen = reason ? strlen(reason) : 0;
	if (rlen == 0 || rlen > SUBJECT_REASON_MAX) {
		rd_error_set(e, RD_E_INVALID_FIELD, "reason is required, 1 to %d bytes", SUBJECT_REASON_MAX);
		return -1;
	}
	if (resolve(app, q, h, e))
		return -1;
	randombytes_buf(rnd, sizeof rnd);
	util_hex_encode(rnd, sizeof rnd, hid + 2);
	struct hold_add_ctx c = { .id = hid, .tenant = q->tenant, .actor = actor, .hash = h,
	                          .kind = q->kind == SQ_CONVERSATION ? "conversation" : "subject" };
	unsigned char *ct = hold_seal(app, q, reason, hid, &c.doc_len);
	c.doc_ct = ct;
	int rc = ct ? store_exec(app->store, hold_add_fn, &c) : -1;
	free(ct);
	if (rc != 0) {
		rd_error_store(e, rc, RD_E_STORAGE, "the hold could not be stored");
		return -1;
	}
	metrics_audit(app->metrics, 1);
	memcpy(id, hid, sizeof hid);
	return 0;
}

struct hold_rm_ctx {
	const char *tenant, *id, *actor;
	bool found;
};

static int hold_remove_fn(sqlite3 *db, void *arg)
{
	struct hold_rm_ctx *c = arg;
	sqlite3_stmt *s;
	char target[8 + SUBJECT_HOLD_ID_LEN];
	if (sqlite3_prepare_v2(db, "DELETE FROM holds WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)",
	                       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	if (c->tenant)
		sqlite3_bind_text(s, 2, c->tenant, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	c->found = sqlite3_changes(db) > 0;
	if (!c->found)
		return 0;
	snprintf(target, sizeof target, "hold:%s", c->id);
	return audit_append(db, c->actor, "hold.remove", target, 1);
}

static bool hold_id_valid(const char *id)
{
	if (strlen(id) != SUBJECT_HOLD_ID_LEN || strncmp(id, "h_", 2) != 0)
		return false;
	for (const char *p = id + 2; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int subject_hold_remove(struct app *app, const char *tenant, const char *id, const char *actor,
                        struct rd_error *e)
{
	struct hold_rm_ctx c = { tenant, id, actor, false };
	if (!hold_id_valid(id)) {
		rd_error_set(e, RD_E_NOT_FOUND, "no such hold");
		return -1;
	}
	int rc = store_exec(app->store, hold_remove_fn, &c);
	if (rc != 0) {
		rd_error_store(e, rc, RD_E_STORAGE, "the hold could not be removed");
		return -1;
	}
	if (!c.found) {
		rd_error_set(e, RD_E_NOT_FOUND, "no such hold");
		return -1;
	}
	metrics_audit(app->metrics, 1);
	return 0;
}

struct hold_list_ctx {
	struct app *app;
	const char *tenant;
	json_t *holds;
	int failures;
};

/* Opens a hold's sealed document; NULL when it does not authenticate
 * (tampered, or moved to another hold id or tenant). The key derives from
 * the database's root key, so it survives master key rotation. */
static json_t *hold_open(struct app *app, const char *id, const char *tenant,
                         const unsigned char *ct, size_t len)
{
	if (len < CRYPTO_SEAL_OVERHEAD || len > 8192)
		return NULL;
	unsigned char key[CRYPTO_KEY_BYTES], ad[160];
	char *m = malloc(len - CRYPTO_SEAL_OVERHEAD + 1);
	if (!m)
		return NULL;
	struct app_snap *snap = app_snap_acquire(app);
	hold_key(snap->keys, key);
	app_snap_release(snap);
	int rc = crypto_open(key, ad, hold_ad(ad, sizeof ad, id, tenant), ct, len, (unsigned char *)m);
	sodium_memzero(key, sizeof key);
	json_t *doc = rc == 0 ? json_loadb(m, len - CRYPTO_SEAL_OVERHEAD, 0, NULL) : NULL;
	sodium_memzero(m, len - CRYPTO_SEAL_OVERHEAD);
	free(m);
	return doc;
}

static int hold_row(struct hold_list_ctx *c, sqlite3_stmt *s)
{
	const char *id = (const char *)sqlite3_column_text(s, 0);
	const char *tenant = (const char *)sqlite3_column_text(s, 1);
	char ts[32];
	if (!id || !tenant)
		return -1;
	json_t *doc = hold_open(c->app, id, tenant, sqlite3_column_blob(s, 3),
	                        (size_t)sqlite3_column_bytes(s, 3));
	if (!doc) {
		c->failures++;
		log_error("hold %s: sealed document failed to open", id);
	}
	util_format_ts(sqlite3_column_int64(s, 5), ts);
	json_t *o = json_pack("{s:s, s:s, s:s?, s:O?, s:O?, s:O?, s:s, s:s?}", "id", id,
	                      "tenant", tenant, "kind", (const char *)sqlite3_column_text(s, 2),
	                      "type", json_object_get(doc, "type"), "value", json_object_get(doc, "value"),
	                      "reason", json_object_get(doc, "reason"), "created", ts,
	                      "actor", (const char *)sqlite3_column_text(s, 4));
	json_decref(doc);
	return o && json_array_append_new(c->holds, o) == 0 ? 0 : -1;
}

static int hold_list_fn(sqlite3 *db, void *arg)
{
	struct hold_list_ctx *c = arg;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT id, tenant, kind, doc_ct, actor, created_ms FROM holds "
	                       "WHERE ?1 IS NULL OR tenant = ?1 ORDER BY created_ms, id", -1, &s,
	                       NULL) != SQLITE_OK)
		return -1;
	if (c->tenant)
		sqlite3_bind_text(s, 1, c->tenant, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (hold_row(c, s)) {
			rc = SQLITE_ERROR;
			break;
		}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int subject_hold_list(struct app *app, const char *tenant, const char *actor, json_t **out,
                      struct rd_error *e)
{
	struct hold_list_ctx c = { .app = app, .tenant = tenant, .holds = json_array() };
	if (!c.holds || store_read(app->store, hold_list_fn, &c) != 0) {
		json_decref(c.holds);
		rd_error_set(e, RD_E_STORAGE, "the holds could not be read");
		return -1;
	}
	const char *target = tenant ? tenant : "all";
	char t[AUDIT_TARGET_MAX];
	snprintf(t, sizeof t, "tenant:%s", target);
	struct audit_ctx a = { actor, "hold.list", t, (int64_t)json_array_size(c.holds) };
	int rc = store_exec(app->store, audit_fn, &a);
	if (rc != 0) {
		json_decref(c.holds);
		rd_error_store(e, rc, RD_E_AUDIT, "the read could not be audit-logged");
		return -1;
	}
	metrics_audit(app->metrics, 1);
	*out = json_pack("{s:o}", "holds", c.holds);
	if (!*out) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}
