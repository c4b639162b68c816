/*
 * read.c — stored messages back out (see read.h).
 *
 * Workload: conversation reads and subject exports, a few to a few thousand
 * rows each, on the store's read connections. Keys and plaintext are wiped
 * as soon as a row's JSON is built; failures are logged by record id only.
 * A conversation read is in the audit log before its content is returned.
 */
#include "read.h"
#include "audit.h"
#include "json_mem.h"
#include "log.h"
#include "record.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct read_ctx {
	struct app *app;
	const struct app_snap *snap;
	const struct read_page *page;
	struct buf *out;                /* the reply's text: its messages so far */
	size_t n;                       /* messages in it */
	int failures;                   /* rows that did not open (reported) */
	int shredded;                   /* rows whose data key was destroyed */
	bool stopped;                   /* the walk was stopped here: the page is full */
	bool too_large;                 /* ... by READ_REPLY_MAX, with no limit asked */
	char last[RD_RECORD_ID_LEN + 1];   /* the page's last message */
};

/* A row's opened fields (wiped and freed by opened_free). */
struct opened {
	char *text, *meta, *conv;
};

static void free_secret(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void opened_free(struct opened *o)
{
	free_secret(o->text);
	free_secret(o->meta);
	free_secret(o->conv);
}

/* Opens a row's text and metadata document (and conversation id): 0; 1 when
 * its data key was destroyed; -1 when a field does not authenticate
 * (logged by record id) or the key is unavailable. */
static int open_fields(struct app *app, const struct app_snap *snap, const struct store_row *row,
                       bool with_conversation, struct opened *o)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	memset(o, 0, sizeof *o);
	enum rd_err krc = store_data_key_get(app->store, snap->keys, row->key_id, key);
	if (krc == RD_E_NOT_FOUND)
		return 1;
	if (krc != RD_OK) {
		log_error("record %s: data key %lld unavailable", row->id, (long long)row->key_id);
		return -1;
	}
	int format = store_seal_format(app->store);
	o->text = record_open(key, format, FIELD_TEXT, row, row->text_ct, row->text_ct_len);
	o->meta = record_open(key, format, FIELD_META, row, row->meta_ct, row->meta_ct_len);
	if (with_conversation)
		o->conv = record_open(key, format, FIELD_CONVERSATION, row, row->conv_ct, row->conv_ct_len);
	sodium_memzero(key, sizeof key);
	if (!o->text || !o->meta || (with_conversation && !o->conv)) {
		log_error("record %s: ciphertext failed to authenticate", row->id);
		opened_free(o);
		return -1;
	}
	return 0;
}

json_t *read_row_json(const struct store_row *row, const char *text, const char *meta)
{
	char ts[32];
	util_format_ts(row->ts_ms, ts);
	json_t *doc = json_loads(meta, 0, NULL);
	json_t *md = doc ? json_object_get(doc, "metadata") : NULL;
	json_t *fi = doc ? json_object_get(doc, "findings") : NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", row->id, "ts", ts,
	                      "role", rd_role_name(row->role), "channel", rd_channel_name(row->channel),
	                      "category", row->category, "text", text,
	                      "metadata", md ? json_incref(md) : json_object(),
	                      "findings", fi ? json_incref(fi) : json_array());
	json_decref(doc);
	return o;
}

/* The stored document as ingest and rectification write it,
 * {"metadata":M,"findings":[...]} in jansson's compact form, is already the
 * message object's tail without its braces: true with that inside, copied
 * instead of parsed and printed again (the document authenticated: these
 * are bytes redactd wrote). false for any other shape. */
static bool doc_inside(const char *doc, const char **in, size_t *inlen)
{
	static const char head[] = "{\"metadata\":", sep[] = ",\"findings\":[";
	size_t len = strlen(doc), from = sizeof head;   /* M is at least one byte */
	if (len < sizeof head + sizeof sep || memcmp(doc, head, sizeof head - 1) ||
	    memcmp(doc + len - 2, "]}", 2) || !memmem(doc + from, len - from, sep, sizeof sep - 1))
		return false;
	*in = doc + 1;
	*inlen = len - 2;
	return true;
}

/* "metadata":M,"findings":F of a document of another shape (older
 * records), through jansson, as read_row_json prints them. */
static int doc_inside_parsed(struct buf *b, const char *doc)
{
	json_t *d = json_loads(doc, 0, NULL);
	json_t *md = d ? json_object_get(d, "metadata") : NULL;
	json_t *fi = d ? json_object_get(d, "findings") : NULL;
	char *m = md ? json_dumps(md, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *f = fi ? json_dumps(fi, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = buf_append_str(b, "\"metadata\":") || buf_append_str(b, m ? m : "{}") ||
	         buf_append_str(b, ",\"findings\":") || buf_append_str(b, f ? f : "[]") ? -1 : 0;
	json_mem_free_text(m);
	json_mem_free_text(f);
	json_decref(d);
	return rc;
}

/* Record id, role, channel, category and time are redactd's own names
 * (letters, digits, . _ - :), written as they are; the text is quoted by
 * jansson. */
int read_row_text(struct buf *b, const struct store_row *row, const char *text, const char *meta)
{
	char ts[32];
	const char *in;
	size_t inlen;
	util_format_ts(row->ts_ms, ts);
	if (buf_append_str(b, "{\"id\":\"") || buf_append_str(b, row->id) ||
	    buf_append_str(b, "\",\"ts\":\"") || buf_append_str(b, ts) ||
	    buf_append_str(b, "\",\"role\":\"") || buf_append_str(b, rd_role_name(row->role)) ||
	    buf_append_str(b, "\",\"channel\":\"") || buf_append_str(b, rd_channel_name(row->channel)) ||
	    buf_append_str(b, "\",\"category\":\"") || buf_append_str(b, row->category) ||
	    buf_append_str(b, "\",\"text\":") || json_mem_append_quoted(b, text, strlen(text)) ||
	    buf_append(b, ",", 1))
		return -1;
	if (doc_inside(meta, &in, &inlen)) {
		if (buf_append(b, in, inlen))
			return -1;
	} else if (doc_inside_parsed(b, meta)) {
		return -1;
	}
	return buf_append(b, "}", 1);
}

/* Stops the walk (store_conversation hands back the callback's value). */
static enum rd_err stop_walk(struct read_ctx *ctx)
{
	ctx->stopped = true;
	return RD_E_INTERNAL;
}

static enum rd_err read_row(const struct store_row *row, void *arg)
{
	struct read_ctx *ctx = arg;
	/* One more message after a full page: it has a next page. */
	if ((ctx->page->limit && ctx->n == ctx->page->limit) || ctx->out->len > READ_REPLY_MAX) {
		ctx->too_large = !ctx->page->limit;
		return stop_walk(ctx);
	}
	struct opened o;
	int rc = open_fields(ctx->app, ctx->snap, row, false, &o);
	if (rc == 1) {
		ctx->shredded++;
		return RD_OK;
	}
	if (rc != 0) {
		ctx->failures++;
		return RD_OK;
	}
	size_t mark = ctx->out->len;
	if ((ctx->n && buf_append(ctx->out, ",", 1)) || read_row_text(ctx->out, row, o.text, o.meta)) {
		/* Not valid UTF-8 (cannot be quoted): reported as a row that does
		 * not open, as before; else out of memory. */
		ctx->out->len = mark;
		ctx->failures++;
	} else {
		ctx->n++;
		memcpy(ctx->last, row->id, sizeof ctx->last);
	}
	opened_free(&o);
	return RD_OK;
}

/* The read on record before its content leaves: the conversation's keyed
 * hash as target, the count of messages opened. */
static int audit_read(struct app *app, const struct app_snap *snap, const char *tenant,
                      const char *actor, const unsigned char hash[CRYPTO_HASH_BYTES], size_t n,
                      struct rd_error *e)
{
	char target[AUDIT_TARGET_MAX];
	audit_target(snap->keys, "conversation", hash, CRYPTO_HASH_BYTES, target);
	enum rd_err rc = audit_record_tenant(app->store, app->metrics, tenant, actor, "read", target,
	                                     (int64_t)n);
	if (rc != RD_OK)
		rd_error_store(e, rc, RD_E_AUDIT, "the read could not be audit-logged");
	return rc != RD_OK ? -1 : 0;
}

int read_conversation(struct app *app, const struct app_snap *snap, const char *tenant,
                      const char *conversation_id, const struct read_page *page, const char *actor,
                      struct buf *reply, struct rd_error *e)
{
	unsigned char hash[CRYPTO_HASH_BYTES];
	size_t count = 0;
	static const struct read_page whole = { 0 };
	if (!page)
		page = &whole;
	struct read_ctx ctx = { .app = app, .snap = snap, .page = page, .out = reply };
	buf_reset(reply);
	if (buf_append_str(reply, "{\"conversation_id\":") ||
	    json_mem_append_quoted(reply, conversation_id, strlen(conversation_id)) ||
	    buf_append_str(reply, ",\"messages\":[")) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	crypto_conversation_hash(app->lookup_key, tenant, conversation_id, strlen(conversation_id), hash);
	enum rd_err sr = store_conversation_after(app->store, tenant, hash, page->after, read_row, &ctx,
	                                          &count);
	if (sr == RD_E_NOT_FOUND && page->after) {
		rd_error_set(e, RD_E_NOT_FOUND, "no message %s in this conversation (erased since?)",
		             page->after);
		return -1;
	}
	if (sr != RD_OK && !ctx.stopped) {
		rd_error_store(e, sr, RD_E_STORAGE, "the conversation could not be read");
		return -1;
	}
	if (ctx.too_large) {
		rd_error_set(e, RD_E_REPLY_TOO_LARGE, "the transcript is over %d MB: read it in pages,"
		             " ?limit=N and then ?limit=N&after=ID with the \"next\" of each page",
		             READ_REPLY_MAX >> 20);
		return -1;
	}
	if (ctx.failures) {
		rd_error_set(e, RD_E_INTEGRITY,
		              "%d stored record(s) failed to authenticate; see the daemon log", ctx.failures);
		return -1;
	}
	if (ctx.n == 0 && !page->after) {
		rd_error_set(e, RD_E_NOT_FOUND, "no messages are held for this conversation");
		return -1;
	}
	if (ctx.n && audit_read(app, snap, tenant, actor, hash, ctx.n, e))
		return -1;
	if (buf_append(reply, "]", 1) ||
	    (ctx.stopped && (buf_append_str(reply, ",\"next\":\"") || buf_append_str(reply, ctx.last) ||
	                     buf_append(reply, "\"", 1))) ||
	    buf_append(reply, "}", 1)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

int read_open_row(struct app *app, const struct app_snap *snap, const struct store_row *row,
                  bool with_conversation, json_t **out)
{
	struct opened f;
	int rc = open_fields(app, snap, row, with_conversation, &f);
	if (rc != 0)
		return rc;
	json_t *o = read_row_json(row, f.text, f.meta);
	if (o && f.conv && json_object_set_new(o, "conversation_id", json_string(f.conv))) {
		json_decref(o);
		o = NULL;
	}
	opened_free(&f);
	if (!o)
		return -1;
	*out = o;
	return 0;
}
