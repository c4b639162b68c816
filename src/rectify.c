/*
 * rectify.c — rectification of one stored message (see rectify.h).
 *
 * Workload: rare, operator-driven; one row read, opened, redacted again,
 * re-sealed and rewritten in one writer transaction. The flow stays one
 * way: http → rectify → ingest (redaction rules), read (opening), record
 * (sealing), store.
 */
#include "rectify.h"
#include "audit.h"
#include "holds.h"
#include "ingest.h"
#include "json_mem.h"
#include "log.h"
#include "metrics.h"
#include "read.h"
#include "record.h"
#include "retention.h"
#include "store_journal.h"
#include "store_rectify.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The stored row as read: its header (copied) and its opened content. */
struct old_row {
	struct app *app;
	struct app_snap *snap;
	struct store_record rec;         /* the header, for sealing under the same AD */
	char tenant[RD_MAX_NAME_LEN + 1], category[RD_MAX_NAME_LEN + 1];
	int64_t rowid;
	json_t *doc;                     /* {"text", "metadata", "findings", ...} */
	bool shredded;
};

static enum rd_err row_fn(const struct store_row *row, void *arg)
{
	struct old_row *o = arg;
	struct store_record *r = &o->rec;
	if (!row->conv_hash || !row->category || strlen(row->category) > RD_MAX_NAME_LEN)
		return RD_E_INTEGRITY;
	snprintf(r->id, sizeof r->id, "%s", row->id);
	snprintf(o->category, sizeof o->category, "%s", row->category);
	memcpy(r->conv_hash, row->conv_hash, CRYPTO_HASH_BYTES);
	r->tenant = o->tenant;
	r->category = o->category;
	r->ts_ms = row->ts_ms;
	r->role = row->role;
	r->channel = row->channel;
	r->key_id = row->key_id;
	o->rowid = row->rowid;
	int rc = read_open_row(o->app, o->snap, row, false, &o->doc);
	o->shredded = rc == 1;
	return rc < 0 ? RD_E_INTEGRITY : RD_OK;
}

static enum rd_err get_fn(struct store_tx *tx, void *arg)
{
	struct old_row *o = arg;
	return store_message_get(tx, o->tenant, o->rec.id, row_fn, o);
}

/* The new findings, then the old ones of the parts the patch keeps. */
static json_t *merge_findings(const struct ingest_patch *p, const json_t *old)
{
	json_t *out = json_copy(p->findings), *f;
	size_t i;
	json_array_foreach(json_object_get(old, "findings"), i, f) {
		const char *field = json_string_value(json_object_get(f, "field"));
		bool text = field && !strcmp(field, "text");
		if (((text && !p->text) || (!text && !p->metadata)) &&
		    (!out || json_array_append(out, f))) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* {ENTITY: n} over findings. */
static json_t *count_entities(const json_t *findings)
{
	json_t *counts = json_object(), *f;
	size_t i;
	json_array_foreach(findings, i, f) {
		const char *ent = json_string_value(json_object_get(f, "entity"));
		json_int_t n = json_integer_value(json_object_get(counts, ent ? ent : "?"));
		if (!counts || json_object_set_new(counts, ent ? ent : "?", json_integer(n + 1))) {
			json_decref(counts);
			return NULL;
		}
	}
	return counts;
}

/* What replaces the row: text, document, counts (each caller frees). */
struct new_fields {
	const char *text;                /* borrowed from the patch or the old doc */
	char *doc, *counts_text;
	json_t *counts;
};

static void new_fields_free(struct new_fields *n)
{
	if (n->doc) {
		sodium_memzero(n->doc, strlen(n->doc));
		json_mem_free_text(n->doc);
	}
	json_mem_free_text(n->counts_text);
	json_decref(n->counts);
}

static int build_fields(const struct ingest_patch *p, const json_t *old, struct new_fields *n)
{
	json_t *findings = merge_findings(p, old);
	json_t *meta = json_incref(p->metadata ? p->metadata : json_object_get(old, "metadata"));
	if (!meta)
		meta = json_object();
	/* "o" takes meta's reference, also when the pack fails. */
	json_t *doc = findings && meta ? json_pack("{s:o, s:O}", "metadata", meta, "findings", findings)
	                               : (json_decref(meta), NULL);
	n->text = p->text ? p->text : json_string_value(json_object_get(old, "text"));
	n->counts = count_entities(findings);
	n->doc = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	n->counts_text = n->counts ? json_dumps(n->counts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	json_decref(findings);
	return n->text && n->doc && n->counts_text ? 0 : -1;
}

struct write_ctx {
	struct store_rewrite w;
	const char *actor;
	bool held, found;
};

static enum rd_err write_fn(struct store_tx *tx, void *arg)
{
	struct write_ctx *c = arg;
	char target[AUDIT_TARGET_MAX];
	enum rd_err rc = holds_conversation_held(tx, c->w.tenant, c->w.conv_hash, &c->held);
	if (rc != RD_OK || c->held)
		return rc == RD_OK ? RD_E_FORBIDDEN : rc;
	if ((rc = store_message_rewrite(tx, &c->w, &c->found)) != RD_OK || !c->found)
		return rc == RD_OK ? RD_E_NOT_FOUND : rc;
	snprintf(target, sizeof target, "record:%s", c->w.record_id);
	int64_t now = util_now_ms();
	if ((rc = store_journal_append(tx, STORE_JOURNAL_RECORD, c->w.tenant, c->w.record_id,
	                               strlen(c->w.record_id), now)) != RD_OK ||
	    (rc = audit_append_tenant(tx, c->w.tenant, c->actor, "rectify", target, 1)) != RD_OK)
		return rc;
	return store_residue_mark(tx, now);
}

/* Seals the new fields under the row's key and AD, and writes them. */
static int seal_and_write(struct app *app, struct app_snap *snap, const struct old_row *o,
                          const struct ingest_patch *p, const struct new_fields *n,
                          const char *actor, struct rd_error *e)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	if (store_seal_format(app->store) != 2) {
		rd_error_set(e, RD_E_INTERNAL, "the database's rows are not re-sealed yet; restart first");
		return -1;
	}
	enum rd_err krc = store_data_key_get(app->store, snap->keys, o->rec.key_id, key);
	if (krc != RD_OK) {
		rd_error_set(e, krc == RD_E_NOT_FOUND ? RD_E_NOT_FOUND : RD_E_STORAGE,
		             krc == RD_E_NOT_FOUND ? "no such message" : "the record's data key is unavailable");
		return -1;
	}
	struct write_ctx c = { .actor = actor, .w = {
		.rowid = o->rowid, .record_id = o->rec.id, .tenant = o->tenant,
		.conv_hash = o->rec.conv_hash, .key_id = o->rec.key_id, .entity_counts = n->counts_text,
		.subjects = (const unsigned char (*)[CRYPTO_HASH_BYTES])p->subjects,
		.nsubjects = p->nsubjects } };
	unsigned char *tct = record_seal(key, FIELD_TEXT, &o->rec, n->text, strlen(n->text),
	                                 &c.w.text_ct_len);
	unsigned char *mct = record_seal(key, FIELD_META, &o->rec, n->doc, strlen(n->doc),
	                                 &c.w.meta_ct_len);
	sodium_memzero(key, sizeof key);
	c.w.text_ct = tct;
	c.w.meta_ct = mct;
	enum rd_err rc = tct && mct ? store_exec(app->store, write_fn, &c) : RD_E_INTERNAL;
	free(tct);
	free(mct);
	if (rc == RD_E_FORBIDDEN)
		rd_error_set(e, rc, "the message is under a legal hold and cannot be rectified until the"
		             " hold is removed");
	else if (rc == RD_E_NOT_FOUND)
		rd_error_set(e, rc, "no such message");
	else if (rc != RD_OK)
		rd_error_store(e, rc, RD_E_STORAGE, "the rectification could not be committed");
	return rc == RD_OK ? 0 : -1;
}

int rectify_message(struct app *app, struct app_snap *snap, const char *tenant,
                    const char *record_id, const char *body, size_t len, const char *actor,
                    json_t **reply, struct rd_error *e)
{
	struct old_row o = { .app = app, .snap = snap };
	struct ingest_patch p = { 0 };
	struct new_fields n = { 0 };
	json_t *root = NULL;
	int rc = -1;
	if (!record_id_valid(record_id)) {
		rd_error_set(e, RD_E_NOT_FOUND, "no such message");
		return -1;
	}
	snprintf(o.tenant, sizeof o.tenant, "%s", tenant);
	snprintf(o.rec.id, sizeof o.rec.id, "%s", record_id);
	if (!(root = ingest_parse_body(body, len, e)))
		return -1;
	enum rd_err grc = store_read(app->store, get_fn, &o);
	if (grc != RD_OK || o.shredded) {
		rd_error_set(e, grc == RD_E_NOT_FOUND || o.shredded ? RD_E_NOT_FOUND : grc == RD_E_INTEGRITY
		             ? RD_E_INTEGRITY : RD_E_STORAGE, grc == RD_E_NOT_FOUND || o.shredded
		             ? "no such message" : "the message could not be read");
		goto done;
	}
	if (ingest_redact_patch(snap, tenant, o.rec.channel, root, &p, e))
		goto done;
	if (build_fields(&p, o.doc, &n)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto done;
	}
	if (seal_and_write(app, snap, &o, &p, &n, actor, e))
		goto done;
	metrics_audit(app->metrics, 1);
	log_info("rectify: record %s rewritten", record_id);
	bool pending = retention_after_delete(app);
	*reply = json_pack("{s:s, s:O, s:s}", "id", record_id, "findings", n.counts,
	                   "residue", pending ? "pending" : "none");
	if (!*reply)
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
	rc = *reply ? 0 : -1;
done:
	new_fields_free(&n);
	ingest_patch_free(&p);
	json_decref(o.doc);
	json_decref(root);
	return rc;
}
