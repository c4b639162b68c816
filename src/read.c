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
#include "log.h"
#include "record.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct read_ctx {
	struct app *app;
	const struct app_snap *snap;
	json_t *messages;
	int failures;                   /* rows that did not open (reported) */
	int shredded;                   /* rows whose data key was destroyed */
};

static void free_secret(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static json_t *row_json(const struct store_row *row, const char *text, const char *meta)
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

static enum rd_err read_row(const struct store_row *row, void *arg)
{
	struct read_ctx *ctx = arg;
	json_t *o;
	int rc = read_open_row(ctx->app, ctx->snap, row, false, &o);
	if (rc == 1)
		ctx->shredded++;
	else if (rc != 0)
		ctx->failures++;
	else if (json_array_append_new(ctx->messages, o))
		return RD_E_INTERNAL;
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
                      const char *conversation_id, const char *actor, json_t **reply,
                      struct rd_error *e)
{
	unsigned char hash[CRYPTO_HASH_BYTES];
	size_t count = 0;
	struct read_ctx ctx = { .app = app, .snap = snap, .messages = json_array() };
	if (!ctx.messages) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	crypto_conversation_hash(app->lookup_key, tenant, conversation_id, strlen(conversation_id), hash);
	enum rd_err sr = store_conversation(app->store, tenant, hash, read_row, &ctx, &count);
	if (sr != RD_OK) {
		json_decref(ctx.messages);
		rd_error_store(e, sr, RD_E_STORAGE, "the conversation could not be read");
		return -1;
	}
	if (ctx.failures) {
		json_decref(ctx.messages);
		rd_error_set(e, RD_E_INTEGRITY,
		              "%d stored record(s) failed to authenticate; see the daemon log", ctx.failures);
		return -1;
	}
	if (json_array_size(ctx.messages) == 0) {
		json_decref(ctx.messages);
		rd_error_set(e, RD_E_NOT_FOUND, "no messages are held for this conversation");
		return -1;
	}
	if (audit_read(app, snap, tenant, actor, hash, json_array_size(ctx.messages), e)) {
		json_decref(ctx.messages);
		return -1;
	}
	*reply = json_pack("{s:s, s:o}", "conversation_id", conversation_id, "messages", ctx.messages);
	if (!*reply) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

int read_open_row(struct app *app, const struct app_snap *snap, const struct store_row *row,
                  bool with_conversation, json_t **out)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	enum rd_err krc = store_data_key_get(app->store, snap->keys, row->key_id, key);
	if (krc == RD_E_NOT_FOUND)
		return 1;
	if (krc != RD_OK) {
		log_error("record %s: data key %lld unavailable", row->id, (long long)row->key_id);
		return -1;
	}
	int format = store_seal_format(app->store);
	char *text = record_open(key, format, FIELD_TEXT, row, row->text_ct, row->text_ct_len);
	char *meta = record_open(key, format, FIELD_META, row, row->meta_ct, row->meta_ct_len);
	char *conv = with_conversation ? record_open(key, format, FIELD_CONVERSATION, row, row->conv_ct,
	                                             row->conv_ct_len)
	                               : NULL;
	sodium_memzero(key, sizeof key);
	json_t *o = NULL;
	if (!text || !meta || (with_conversation && !conv))
		log_error("record %s: ciphertext failed to authenticate", row->id);
	else if ((o = row_json(row, text, meta)) && conv &&
	         json_object_set_new(o, "conversation_id", json_string(conv))) {
		json_decref(o);
		o = NULL;
	}
	free_secret(text);
	free_secret(meta);
	free_secret(conv);
	if (!o)
		return -1;
	*out = o;
	return 0;
}
