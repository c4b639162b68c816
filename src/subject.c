/*
 * subject.c — export and erasure for data subjects.
 *
 * Workload: rare, operator-driven requests touching a few conversations.
 * Reads go through store_conversation on a read connection and rows are
 * opened by read_open_row; an erasure runs in one transaction of its own
 * on the writer (store_exec_alone: a subject may name every conversation,
 * and the writer then holds no copy of the pages it deletes) with its held
 * checks (holds.h) and audit entries, which are given the same store_tx,
 * so an action and its audit entry commit together. See subject.h for the
 * contracts.
 */
#include "subject.h"
#include "audit.h"
#include "consent.h"
#include "holds.h"
#include "read.h"
#include "json_mem.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"
#include "store_journal.h"

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

/* The hashes a query looks under: a conversation's one, or every form a
 * subject may have been stored under (redact_subject_lookup), the current
 * one first. */
struct lookup {
	unsigned char h[REDACT_SUBJECT_FORMS][CRYPTO_HASH_BYTES];
	size_t n;
};
_Static_assert(REDACT_SUBJECT_BYTES == CRYPTO_HASH_BYTES, "a subject hash is a lookup hash");

static int resolve(struct app *app, const struct subject_query *q, struct lookup *l, struct rd_error *e)
{
	size_t n = strlen(q->value);
	if (n == 0 || n > RD_MAX_ID_LEN) {
		rd_error_set(e, RD_E_INVALID_QUERY, "the %s must be 1 to %d bytes",
		              subject_kind_name(q->kind), RD_MAX_ID_LEN);
		return -1;
	}
	if (q->kind == SQ_CONVERSATION) {
		crypto_conversation_hash(app->lookup_key, q->tenant, q->value, n, l->h[0]);
		l->n = 1;
		return 0;
	}
	struct redact_subject s[REDACT_SUBJECT_FORMS];
	struct app_snap *snap = app_snap_acquire(app);
	l->n = redact_subject_lookup(snap->redact, q->tenant, q->kind == SQ_EMAIL ? SUBJECT_EMAIL : SUBJECT_PHONE,
	                             q->value, n, s);
	app_snap_release(snap);
	if (l->n == 0) {
		rd_error_set(e, RD_E_INVALID_QUERY, "that does not look like an %s",
		              q->kind == SQ_EMAIL ? "email address" : "phone number");
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		memcpy(l->h[i], s[i].hash, CRYPTO_HASH_BYTES);
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

static enum rd_err conv_push(const unsigned char h[CRYPTO_HASH_BYTES], void *arg)
{
	struct conv_list *l = arg;
	if (l->n >= MAX_CONVERSATIONS)
		return RD_E_INTERNAL;
	void *p = realloc(l->h, (l->n + 1) * sizeof *l->h);
	if (!p)
		return RD_E_INTERNAL;
	l->h = p;
	memcpy(l->h[l->n++], h, CRYPTO_HASH_BYTES);
	return RD_OK;
}

/* conv_push, unless h is in the list already: found under another form of
 * the number (the older forms link few conversations). */
static enum rd_err conv_push_new(const unsigned char h[CRYPTO_HASH_BYTES], void *arg)
{
	struct conv_list *l = arg;
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(l->h[i], h, CRYPTO_HASH_BYTES) == 0)
			return RD_OK;
	return conv_push(h, arg);
}

struct collect_ctx {
	const struct subject_query *q;
	const struct lookup *l;
	struct conv_list *list;
};

static enum rd_err collect_fn(struct store_tx *tx, void *arg)
{
	struct collect_ctx *c = arg;
	if (c->q->kind == SQ_CONVERSATION)
		return conv_push(c->l->h[0], c->list);
	enum rd_err rc = RD_OK;
	for (size_t i = 0; rc == RD_OK && i < c->l->n; i++)
		rc = store_subject_conversations(tx, c->q->tenant, c->l->h[i], i ? conv_push_new : conv_push,
		                                 c->list);
	return rc;
}

/* ---- export -------------------------------------------------------------- */

struct export_ctx {
	struct app *app;
	struct app_snap *snap;
	json_t *messages;
	json_t *conv_id;        /* from the first row that opened */
	int64_t unreadable, failures;
};

static enum rd_err export_row(const struct store_row *row, void *arg)
{
	struct export_ctx *c = arg;
	json_t *o;
	int rc = read_open_row(c->app, c->snap, row, true, &o);
	if (rc == 1) {
		c->unreadable++;
		return RD_OK;
	}
	if (rc != 0) {
		c->failures++;
		return RD_OK;
	}
	if (!c->conv_id)
		c->conv_id = json_incref(json_object_get(o, "conversation_id"));
	json_object_del(o, "conversation_id");
	return json_array_append_new(c->messages, o) ? RD_E_INTERNAL : RD_OK;
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
	if (!c.messages || store_conversation(app->store, tenant, h, export_row, &c, &count) != RD_OK)
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
	const char *tenant, *actor, *action, *target;
	int64_t count;
};

static enum rd_err audit_fn(struct store_tx *tx, void *arg)
{
	struct audit_ctx *a = arg;
	return audit_append_tenant(tx, a->tenant, a->actor, a->action, a->target, a->count);
}

static int linked_conversations(struct app *app, const struct subject_query *q,
                                const struct lookup *l, struct conv_list *list, struct rd_error *e)
{
	struct collect_ctx cc = { q, l, list };
	enum rd_err sr = store_read(app->store, collect_fn, &cc);
	if (sr != RD_OK) {
		rd_error_store(e, sr, RD_E_STORAGE, "the subject's conversations could not be read");
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

/* The consent history (consent.h) of the query's target and of every
 * linked conversation, oldest first within each. */
struct consents_ctx {
	const char *tenant;
	const struct lookup *l;        /* every form the target may be stored under */
	const struct conv_list *list;
	json_t *out;
};

static bool in_lookup(const struct lookup *l, const unsigned char *h)
{
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(l->h[i], h, CRYPTO_HASH_BYTES) == 0)
			return true;
	return false;
}

static enum rd_err consents_fn(struct store_tx *tx, void *arg)
{
	struct consents_ctx *c = arg;
	enum rd_err rc = RD_OK;
	for (size_t i = 0; rc == RD_OK && i < c->l->n; i++)
		rc = consent_export(tx, c->tenant, c->l->h[i], c->out);
	for (size_t i = 0; rc == RD_OK && i < c->list->n; i++)
		if (!in_lookup(c->l, c->list->h[i]))
			rc = consent_export(tx, c->tenant, c->list->h[i], c->out);
	return rc;
}

int subject_export(struct app *app, const struct subject_query *q, const char *actor, json_t **out,
                   struct rd_error *e)
{
	struct lookup l;
	char target[AUDIT_TARGET_MAX];
	struct conv_list list = { 0 };
	int64_t records = 0, unreadable = 0;
	json_t *convs = json_array();
	if (!convs) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	if (resolve(app, q, &l, e) || linked_conversations(app, q, &l, &list, e))
		goto fail;
	for (size_t i = 0; i < list.n; i++) {
		if (export_conversation(app, q->tenant, list.h[i], convs, &records, &unreadable)) {
			rd_error_set(e, RD_E_INTEGRITY,
			              "stored records could not be read or failed to authenticate; see the log");
			goto fail;
		}
	}
	sort_conversations(convs);
	struct consents_ctx cc = { q->tenant, &l, &list, json_array() };
	enum rd_err sr = cc.out ? store_read(app->store, consents_fn, &cc) : RD_E_INTERNAL;
	if (sr != RD_OK) {
		json_decref(cc.out);
		rd_error_store(e, sr, RD_E_STORAGE, "the subject's consent records could not be read");
		goto fail;
	}
	/* Nothing leaves before its audit entry is committed. */
	query_target(app, q, l.h[0], target);
	struct audit_ctx a = { q->tenant, actor, "export", target, records };
	enum rd_err rc = store_exec(app->store, audit_fn, &a);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_AUDIT, "the export could not be audit-logged");
		json_decref(cc.out);
		goto fail;
	}
	metrics_audit(app->metrics, 1);
	*out = json_pack("{s:s, s:I, s:I, s:o, s:o}", "tenant", q->tenant, "records", (json_int_t)records,
	                 "unreadable", (json_int_t)unreadable, "conversations", convs, "consents", cc.out);
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
	const struct lookup *l;
	const char *actor;
	const char *target;
	struct subject_erase_result r;
	int64_t audit_entries;
	int64_t consents;              /* consent records erased with their targets */
};

static enum rd_err erase_conversation(struct store_tx *tx, struct erase_ctx *c,
                                      const unsigned char *h)
{
	bool held;
	int64_t n = 0;
	const char *tenant = c->q->tenant;
	enum rd_err rc = holds_conversation_held(tx, tenant, h, &held);
	if (rc != RD_OK)
		return rc;
	if (held) {
		if ((rc = store_conversation_count(tx, tenant, h, &n)) != RD_OK)
			return rc;
		c->r.kept += n;
		c->r.held_conversations += n > 0;
		return RD_OK;
	}
	if ((rc = store_conversation_delete(tx, tenant, h, &n)) != RD_OK)
		return rc;
	/* The subject's own links to it go by key too, whatever named them. */
	for (size_t i = 0; c->q->kind != SQ_CONVERSATION && i < c->l->n; i++)
		if ((rc = store_subject_unlink(tx, tenant, c->l->h[i], h)) != RD_OK)
			return rc;
	/* Also when nothing was left here: a backup may still hold it. */
	if ((rc = store_journal_append(tx, STORE_JOURNAL_CONVERSATION, tenant, h, CRYPTO_HASH_BYTES,
	                               util_now_ms())) != RD_OK)
		return rc;
	c->r.removed += n;
	c->r.conversations += n > 0;
	/* The conversation's consent history goes with it (its records are gone). */
	if ((rc = consent_erase(tx, tenant, h, &n)) != RD_OK)
		return rc;
	c->consents += n;
	return RD_OK;
}

static enum rd_err erase_fn(struct store_tx *tx, void *arg)
{
	struct erase_ctx *c = arg;
	struct conv_list list = { 0 };
	struct collect_ctx cc = { c->q, c->l, &list };
	enum rd_err rc = collect_fn(tx, &cc);
	for (size_t i = 0; rc == RD_OK && i < list.n; i++)
		rc = erase_conversation(tx, c, list.h[i]);
	free(list.h);
	/* The subject's own consent history, unless a hold kept records it may
	 * justify: an erasure request covers it, and consent.erase says so. */
	for (size_t i = 0; rc == RD_OK && c->q->kind != SQ_CONVERSATION && !c->r.kept && i < c->l->n; i++) {
		int64_t n = 0;
		rc = consent_erase(tx, c->q->tenant, c->l->h[i], &n);
		c->consents += n;
	}
	if (rc == RD_OK && c->consents)
		rc = audit_append_tenant(tx, c->q->tenant, c->actor, "consent.erase", c->target, c->consents);
	if (rc == RD_OK)
		rc = audit_append_tenant(tx, c->q->tenant, c->actor, "erase", c->target, c->r.removed);
	/* Recorded with the delete: until a checkpoint completes, the rows are
	 * still in the files, whatever happens to this process. */
	if (rc == RD_OK && c->r.removed)
		rc = store_residue_mark(tx, util_now_ms());
	/* What a hold kept is recorded too: the request was not fully met. */
	if (rc == RD_OK && c->r.kept)
		rc = audit_append_tenant(tx, c->q->tenant, c->actor, "erase.held", c->target, c->r.kept);
	c->audit_entries = (c->r.kept ? 2 : 1) + (c->consents > 0);
	return rc;
}

int subject_erase(struct app *app, const struct subject_query *q, const char *actor,
                  struct subject_erase_result *out, struct rd_error *e)
{
	struct lookup l;
	char target[AUDIT_TARGET_MAX];
	if (resolve(app, q, &l, e))
		return -1;
	query_target(app, q, l.h[0], target);
	struct erase_ctx c = { .q = q, .l = &l, .actor = actor, .target = target };
	enum rd_err rc = store_exec_alone(app->store, erase_fn, &c);
	if (rc != RD_OK) {
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

struct link_ctx {
	const char *tenant;
	const unsigned char *to;
	int64_t linked;
	struct store_tx *tx;
};

static enum rd_err link_one(const unsigned char conv[CRYPTO_HASH_BYTES], void *arg)
{
	struct link_ctx *c = arg;
	c->linked++;
	return store_subject_link(c->tx, c->tenant, c->to, conv);
}

/* A hold pins one subject hash, the current form of the number; the
 * conversations found under its older forms (stored before the tenant had
 * a region) are linked to it first, so that the hold covers them too. The
 * links are collected into a list before any is written. */
static enum rd_err link_fn(struct store_tx *tx, void *arg)
{
	struct collect_ctx *cc = arg;
	struct link_ctx lc = { cc->q->tenant, cc->l->h[0], 0, tx };
	enum rd_err rc = collect_fn(tx, cc);
	for (size_t i = 0; rc == RD_OK && i < cc->list->n; i++)
		rc = link_one(cc->list->h[i], &lc);
	return rc;
}

static int link_forms(struct app *app, const struct subject_query *q, const struct lookup *l,
                      struct rd_error *e)
{
	if (l->n < 2)
		return 0;
	struct conv_list list = { 0 };
	struct collect_ctx cc = { q, l, &list };
	enum rd_err rc = store_exec(app->store, link_fn, &cc);
	free(list.h);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_STORAGE, "the subject's conversations could not be linked");
		return -1;
	}
	return 0;
}

int subject_hold_add(struct app *app, const struct subject_query *q, const char *reason,
                     const char *actor, char id[HOLDS_ID_LEN + 1], struct rd_error *e)
{
	return subject_pin_add(app, HOLDS_PIN_HOLD, q, reason, actor, id, e);
}

int subject_pin_add(struct app *app, enum holds_pin kind, const struct subject_query *q,
                    const char *reason, const char *actor, char id[HOLDS_ID_LEN + 1],
                    struct rd_error *e)
{
	struct holds_target t = { .tenant = q->tenant, .subject = q->kind != SQ_CONVERSATION,
	                          .type = subject_kind_name(q->kind), .value = q->value };
	size_t rlen = reason ? strlen(reason) : 0;
	if (rlen == 0 || rlen > HOLDS_REASON_MAX) {   /* before the query, as always */
		rd_error_set(e, RD_E_INVALID_FIELD, "reason is required, 1 to %d bytes", HOLDS_REASON_MAX);
		return -1;
	}
	struct lookup l;
	if (resolve(app, q, &l, e) || link_forms(app, q, &l, e))
		return -1;
	memcpy(t.hash, l.h[0], CRYPTO_HASH_BYTES);
	return holds_pin_add(app, kind, &t, reason, actor, id, e);
}
