/*
 * ingest.c — validate, redact, seal and store messages.
 *
 * Data flow of one POST /v1/messages (or webhook), all on the caller's
 * thread up to the hand-over:
 *   body --jansson--> json --validate--> struct message_in[]
 *        --redact--> redacted text + metadata, findings, subject hashes
 *        --seal (data key of tenant/category/month)--> struct store_record[]
 *        --reply built (ids, findings)--> sink->submitting
 *        --store_submit_async (copies the records; group commit)
 *        --writer thread, once durable--> sink->done(job) --> ingest_job_reply
 * Nothing reaches the store before every message of the batch has passed
 * validation and redaction, so a bad message stores nothing. The sealed
 * records are freed as soon as the store has copied them; what waits for
 * the commit is the job: the reply, the findings to count, and a reference
 * to the snapshot whose engine named them.
 */
#include "ingest.h"
#include "consent.h"
#include "json_mem.h"
#include "log.h"
#include "metrics.h"
#include "record.h"
#include "tenant.h"
#include "tenant_close.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ---------------------------------------------------------- */

static int json_depth(const json_t *j, int depth)
{
	if (depth > RD_MAX_JSON_DEPTH)
		return depth;
	int max = depth;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			int d = json_depth(v, depth + 1);
			if (d > max)
				max = d;
			if (max > RD_MAX_JSON_DEPTH)
				break;
		}
	} else if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) {
			int d = json_depth(v, depth + 1);
			if (d > max)
				max = d;
			if (max > RD_MAX_JSON_DEPTH)
				break;
		}
	}
	return max;
}

static const char *json_error_reason(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_premature_end_of_input: return "unexpected end of input";
	case json_error_end_of_input_expected: return "trailing data after the value";
	case json_error_duplicate_key: return "duplicate object key";
	case json_error_null_character:
	case json_error_null_byte_in_key: return "NUL character";
	case json_error_numeric_overflow: return "number out of range";
	case json_error_invalid_utf8: return "invalid UTF-8";
	default: return "syntax error";
	}
}

json_t *ingest_parse_body(const char *body, size_t len, struct rd_error *e)
{
	if (len == 0) {
		rd_error_set(e, RD_E_INVALID_JSON, "request body is empty");
		return NULL;
	}
	/* jansson checks UTF-8 (overlongs and surrogates included) as it
	 * parses, so the body is not walked a second time for it here. */
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root && json_error_code(&jerr) == json_error_invalid_utf8) {
		rd_error_set(e, RD_E_INVALID_UTF8, "request body is not valid UTF-8");
		return NULL;
	}
	/* jansson stops at 2,048 levels itself; deeper is still "too deep",
	 * not a syntax error. */
	if (!root && json_error_code(&jerr) == json_error_stack_overflow) {
		rd_error_set(e, RD_E_TOO_DEEP, "JSON nesting deeper than %d levels", RD_MAX_JSON_DEPTH);
		return NULL;
	}
	if (!root) {
		/* jansson's own text quotes the input near the error ("near
		 * 'jane@...'"), so only its code and position go back. */
		rd_error_set(e, RD_E_INVALID_JSON, "invalid JSON at line %d, column %d (%s)",
		              jerr.line, jerr.column, json_error_reason(&jerr));
		return NULL;
	}
	if (json_depth(root, 1) > RD_MAX_JSON_DEPTH) {
		json_decref(root);
		rd_error_set(e, RD_E_TOO_DEEP, "JSON nesting deeper than %d levels", RD_MAX_JSON_DEPTH);
		return NULL;
	}
	return root;
}

/* A validated message; pointers borrow from the parsed JSON. */
struct message_in {
	const char *conv_id;
	size_t conv_len;
	const char *text;
	size_t text_len;
	enum rd_role role;
	enum rd_channel channel;
	const char *category;
	const char *tenant;
	int64_t ts_ms;
	json_t *metadata;        /* borrowed object, may be NULL */
	bool has_consent;        /* "consent": a decision to record first (consent.h) */
	struct consent_in consent;
};

static const char *const message_fields[] = {
	"conversation_id", "text", "role", "channel", "category", "ts", "tenant", "metadata", "consent",
};

static bool is_message_field(const char *k)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(message_fields); i++)
		if (strcmp(k, message_fields[i]) == 0)
			return true;
	return false;
}

/* Optional string field: NULL when absent; -1 when present but not a string. */
static int opt_string(json_t *m, const char *name, const char *where, const char **out,
                      struct rd_error *e)
{
	json_t *v = json_object_get(m, name);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.%s must be a string", where, name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int check_keys(json_t *m, const char *where, struct rd_error *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(m, k, v) {
		if (!is_message_field(k)) {
			rd_error_set(e, RD_E_UNKNOWN_FIELD, "%s has an unknown field (allowed: "
			              "conversation_id, text, role, channel, category, ts, tenant, metadata, consent)",
			              where);
			return -1;
		}
	}
	return 0;
}

static int parse_required(json_t *m, const char *where, struct message_in *out, struct rd_error *e)
{
	json_t *cid = json_object_get(m, "conversation_id");
	json_t *text = json_object_get(m, "text");
	if (!cid || !text) {
		rd_error_set(e, RD_E_MISSING_FIELD, "%s.%s is required", where,
		              cid ? "text" : "conversation_id");
		return -1;
	}
	if (!json_is_string(cid) || !json_is_string(text)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.%s must be a string", where,
		              json_is_string(cid) ? "text" : "conversation_id");
		return -1;
	}
	out->conv_id = json_string_value(cid);
	out->conv_len = json_string_length(cid);
	out->text = json_string_value(text);
	out->text_len = json_string_length(text);
	if (out->conv_len == 0 || out->conv_len > RD_MAX_ID_LEN ||
	    memchr(out->conv_id, '\0', out->conv_len)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.conversation_id must be 1 to %d bytes, no NUL",
		              where, RD_MAX_ID_LEN);
		return -1;
	}
	if (memchr(out->text, '\0', out->text_len)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.text must not contain NUL", where);
		return -1;
	}
	return 0;
}

static int parse_ts_value(const json_t *v, int64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 253402300800LL) {
		*out = (int64_t)json_integer_value(v) * 1000;
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 253402300800.0) {
		*out = (int64_t)(json_real_value(v) * 1000.0);
		return 0;
	}
	return json_is_string(v) && util_parse_ts(json_string_value(v), out) == 0 ? 0 : -1;
}

/* A timestamp further ahead than max_clock_skew is refused: retention counts
 * from ts, so a client's fast clock would keep a record past its horizon. */
static int parse_ts(json_t *m, const char *where, int64_t now_ms, int64_t max_skew_s, int64_t *out,
                    struct rd_error *e)
{
	json_t *v = json_object_get(m, "ts");
	*out = now_ms;
	if (!v || json_is_null(v))
		return 0;
	if (parse_ts_value(v, out)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.ts must be RFC 3339 or epoch seconds", where);
		return -1;
	}
	if (max_skew_s > 0 && *out - now_ms > max_skew_s * 1000) {
		rd_error_set(e, RD_E_INVALID_FIELD,
		             "%s.ts is %lld s in the future, more than max_clock_skew (%lld s) allows",
		             where, (long long)((*out - now_ms) / 1000), (long long)max_skew_s);
		return -1;
	}
	return 0;
}

static int parse_metadata(json_t *m, const char *where, json_t **out, struct rd_error *e)
{
	json_t *md = json_object_get(m, "metadata");
	*out = NULL;
	if (!md || json_is_null(md))
		return 0;
	if (!json_is_object(md)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.metadata must be an object", where);
		return -1;
	}
	if (json_object_size(md) > RD_MAX_META_KEYS) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.metadata has more than %d keys", where,
		              RD_MAX_META_KEYS);
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach(md, k, v) {
		if (json_is_object(v) || json_is_array(v)) {
			rd_error_set(e, RD_E_INVALID_FIELD,
			              "%s.metadata must be flat (strings, numbers, booleans, null)", where);
			return -1;
		}
	}
	*out = md;
	return 0;
}

static int parse_enums(json_t *m, const char *where, const struct ingest_options *opt,
                       struct message_in *out, struct rd_error *e)
{
	const char *role, *channel;
	if (opt_string(m, "role", where, &role, e) || opt_string(m, "channel", where, &channel, e))
		return -1;
	out->role = ROLE_USER;
	if (role && rd_role_parse(role, &out->role) < 0) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.role must be user, agent, bot or system", where);
		return -1;
	}
	out->channel = opt->channel;
	if (channel && rd_channel_parse(channel, &out->channel) < 0) {
		rd_error_set(e, RD_E_INVALID_FIELD,
		              "%s.channel must be web, whatsapp, sms, voice, email or other", where);
		return -1;
	}
	return 0;
}

static int parse_scoping(json_t *m, const char *where, const struct config *cfg,
                         const struct ingest_options *opt, struct message_in *out,
                         struct rd_error *e)
{
	const char *tenant, *category;
	if (opt_string(m, "tenant", where, &tenant, e) || opt_string(m, "category", where, &category, e))
		return -1;
	if (!(out->tenant = tenant_resolve(opt->default_tenant, tenant, where, RD_E_INVALID_FIELD, e)))
		return -1;
	out->category = category ? category : cfg->channel_category[out->channel];
	if (!out->category || strlen(out->category) > RD_MAX_NAME_LEN ||
	    !config_category_known(cfg, out->category)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s.category is not a configured category", where);
		return -1;
	}
	return 0;
}

static int parse_message(json_t *m, size_t index, bool batch, const struct config *cfg,
                         const struct ingest_options *opt, int64_t now_ms, struct message_in *out,
                         struct rd_error *e)
{
	char where[32];
	if (batch)
		snprintf(where, sizeof where, "messages[%zu]", index);
	else
		snprintf(where, sizeof where, "message");
	if (!json_is_object(m)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s must be an object", where);
		return -1;
	}
	if (check_keys(m, where, e) || parse_required(m, where, out, e) ||
	    parse_enums(m, where, opt, out, e) || parse_scoping(m, where, cfg, opt, out, e) ||
	    parse_ts(m, where, now_ms, cfg->max_clock_skew, &out->ts_ms, e) || parse_metadata(m, where, &out->metadata, e))
		return -1;
	json_t *c = json_object_get(m, "consent");
	char cw[48];
	snprintf(cw, sizeof cw, "%s.consent", where);
	out->has_consent = c && !json_is_null(c);
	return out->has_consent ? consent_in_json(c, cw, &out->consent, e) : 0;
}

/* ---- redaction and sealing --------------------------------------------- */

/* Everything one message turns into; freed by prepared_free. */
struct prepared {
	struct store_record rec;
	unsigned char *conv_ct, *text_ct, *meta_ct;
	char *entity_counts;
	unsigned char (*subjects)[CRYPTO_HASH_BYTES];
	size_t nsubjects;
	char *redacted_text;             /* kept only for ?return=redacted */
	unsigned char replay_hash[CRYPTO_HASH_BYTES];   /* when rec.replay_hash is set */
};

static void prepared_free(struct prepared *p)
{
	free(p->conv_ct);
	free(p->text_ct);
	free(p->meta_ct);
	free(p->entity_counts);
	free(p->subjects);
	if (p->redacted_text) {
		sodium_memzero(p->redacted_text, strlen(p->redacted_text));
		free(p->redacted_text);
	}
	memset(p, 0, sizeof *p);
}

static int add_subjects(struct prepared *p, const struct redact_result *res)
{
	if (res->nsubjects == 0)
		return 0;
	void *n = realloc(p->subjects, (p->nsubjects + res->nsubjects) * sizeof *p->subjects);
	if (!n)
		return -1;
	p->subjects = n;
	for (size_t i = 0; i < res->nsubjects; i++)
		memcpy(p->subjects[p->nsubjects++], res->subjects[i].hash, CRYPTO_HASH_BYTES);
	return 0;
}

/*
 * Findings are written straight into their JSON text: entity names are
 * [A-Z0-9_] and rule names [A-Za-z0-9._-] (the engine's own, or validated
 * by config.c), offsets are integers, so only metadata field names need
 * escaping. jansson would allocate a node per key for the same output, on
 * every message.
 */
/* The name points into the engine (or the config) of the snapshot the
 * batch holds until it is answered (issue 11: a SIGHUP while a batch waited
 * for its commit freed the engine its names came from). */
struct tally_entry {
	const char *entity;
	unsigned n;
};

struct tally {
	struct tally_entry *v;
	size_t n, cap;
};

/* Adds k to entity's count, keeping entries sorted by name. */
static int tally_add(struct tally *t, const char *entity, unsigned k)
{
	size_t i = 0;
	int cmp = 1;
	while (i < t->n && (cmp = strcmp(t->v[i].entity, entity)) < 0)
		i++;
	if (i < t->n && cmp == 0) {
		t->v[i].n += k;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		void *nv = realloc(t->v, cap * sizeof *t->v);
		if (!nv)
			return -1;
		t->v = nv;
		t->cap = cap;
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof *t->v);
	t->v[i].entity = entity;
	t->v[i].n = k;
	t->n++;
	return 0;
}

static void tally_free(struct tally *t)
{
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* {"EMAIL":1,"PHONE":2} */
static int tally_json(const struct tally *t, struct buf *b)
{
	if (buf_append(b, "{", 1))
		return -1;
	/* Entity names are the engine's own identifiers: no escaping needed. */
	for (size_t i = 0; i < t->n; i++)
		if (buf_append_str(b, i ? ",\"" : "\"") || buf_append_str(b, t->v[i].entity) ||
		    buf_append(b, "\":", 2) || buf_append_uint(b, t->v[i].n))
			return -1;
	return buf_append(b, "}", 1);
}

/* Appends res's findings to the "findings" array text in doc and to the
 * message's and the batch's counts. */
static int add_findings(struct buf *doc, struct tally *counts, struct tally *total,
                        const struct redact_result *res, const char *field)
{
	for (size_t i = 0; i < res->nfindings; i++) {
		const struct redact_finding *f = &res->findings[i];
		if (tally_add(counts, f->entity, 1) || tally_add(total, f->entity, 1) ||
		    buf_append_str(doc, doc->data[doc->len - 1] == '[' ? "{\"entity\":\"" : ",{\"entity\":\"") ||
		    buf_append_str(doc, f->entity) || buf_append_str(doc, "\",\"rule\":\"") ||
		    buf_append_str(doc, f->rule) || buf_append_str(doc, "\",\"start\":") ||
		    buf_append_uint(doc, f->start) || buf_append_str(doc, ",\"end\":") ||
		    buf_append_uint(doc, f->end) || buf_append_str(doc, ",\"field\":") ||
		    (field ? json_mem_append_quoted(doc, field, strlen(field))
		           : buf_append(doc, "\"text\"", 6)) ||
		    buf_append(doc, "}", 1))
			return -1;
	}
	return 0;
}

/* Redacts each string value of metadata into a new object. */
static json_t *redact_metadata(const struct redact *rd, const struct phone_region *region,
                               const struct message_in *m, struct prepared *p,
                               struct redact_result *res, struct buf *doc, struct tally *counts,
                               struct tally *total)
{
	json_t *out = json_object();
	if (!out || !m->metadata)
		return out;
	const char *k;
	json_t *v;
	json_object_foreach(m->metadata, k, v) {
		json_t *nv;
		if (json_is_string(v)) {
			if (redact_run_in(rd, m->tenant, region, m->channel, json_string_value(v),
			                  json_string_length(v), res) ||
			    add_subjects(p, res) || add_findings(doc, counts, total, res, k))
				goto fail;
			nv = json_stringn(res->text, res->len);
		} else {
			nv = json_incref(v);
		}
		if (!nv || json_object_set_new(out, k, nv))
			goto fail;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* Seals text, conversation id and the metadata document of one record. */
static int seal_record(struct app *app, const struct app_snap *snap, const struct message_in *m,
                       struct prepared *p, const char *text, size_t text_len, const char *meta,
                       size_t meta_len, struct rd_error *e)
{
	struct store_record *r = &p->rec;
	unsigned char key[CRYPTO_KEY_BYTES];
	int krc = store_data_key_for(app->store, snap->keys, r->tenant, r->category, r->ts_ms,
	                             &r->key_id, key);
	if (krc == RD_E_STORAGE_FULL) {
		rd_error_store(e, krc, RD_E_STORAGE, "the disk is full");
		return -1;
	}
	if (krc) {
		rd_error_set(e, RD_E_INTERNAL, "could not obtain a data key");
		return -1;
	}
	p->conv_ct = record_seal(key, FIELD_CONVERSATION, r, m->conv_id, m->conv_len, &r->conv_ct_len);
	p->text_ct = record_seal(key, FIELD_TEXT, r, text, text_len, &r->text_ct_len);
	p->meta_ct = record_seal(key, FIELD_META, r, meta, meta_len, &r->meta_ct_len);
	sodium_memzero(key, sizeof key);
	if (!p->conv_ct || !p->text_ct || !p->meta_ct) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	r->conv_ct = p->conv_ct;
	r->text_ct = p->text_ct;
	r->meta_ct = p->meta_ct;
	return 0;
}

static void record_header(struct app *app, const struct message_in *m, int64_t now_ms,
                          struct store_record *r)
{
	crypto_record_id(r->id);
	r->tenant = m->tenant;   /* borrowed: the store copies the record when it is submitted */
	crypto_conversation_hash(app->lookup_key, m->tenant, m->conv_id, m->conv_len, r->conv_hash);
	r->ts_ms = m->ts_ms;
	r->received_ms = now_ms;
	r->role = m->role;
	r->channel = m->channel;
	r->category = m->category;
}

static int add_sender(const struct app_snap *snap, const struct ingest_options *opt,
                      const struct phone_region *region, struct prepared *p)
{
	struct redact_subject s;
	if (!opt->sender)
		return 0;
	if (redact_subject_hash_in(snap->redact, opt->sender_e164 ? NULL : region, SUBJECT_PHONE, opt->sender,
	                           strlen(opt->sender), &s) < 0)
		return 0;   /* not a phone number (e.g. a web session id): nothing to link */
	struct redact_result one = { .subjects = &s, .nsubjects = 1 };
	return add_subjects(p, &one);
}

/* The sealed metadata document: {"metadata":{...},"findings":[...]}. The
 * findings array is written first (into `doc` after a placeholder-free
 * prefix) because metadata redaction produces findings too. */
static int finish_doc(struct buf *doc, json_t *meta, struct buf *out)
{
	char *m = json_object_size(meta) ? json_dumps(meta, JSON_COMPACT) : NULL;
	int rc = buf_append(out, "{\"metadata\":", 12) || buf_append(out, m ? m : "{}", m ? strlen(m) : 2) ||
	         buf_append(out, ",\"findings\":", 12) || buf_append(out, doc->data, doc->len) ||
	         buf_append(out, "]}", 2);
	json_mem_free_text(m);
	return rc;
}

/* Turns one validated message into a sealed record. */
static int prepare_one(struct app *app, const struct app_snap *snap,
                       const struct ingest_options *opt, const struct message_in *m, int64_t now_ms,
                       struct prepared *p, struct redact_result *res, struct tally *total,
                       struct rd_error *e)
{
	int rc = -1;
	struct buf findings = { 0 }, doc = { 0 }, counts_json = { 0 };
	struct tally counts = { 0 };
	json_t *meta = NULL;
	/* A webhook source's region, else the tenant's (phone_region.h). */
	const struct phone_region *region = opt->region ? opt->region
	                                    : redact_tenant_region(snap->redact, m->tenant);
	record_header(app, m, now_ms, &p->rec);
	if (buf_append(&findings, "[", 1) ||
	    !(meta = redact_metadata(snap->redact, region, m, p, res, &findings, &counts, total)))
		goto oom;
	if (redact_run_in(snap->redact, m->tenant, region, m->channel, m->text, m->text_len, res) ||
	    add_subjects(p, res) || add_sender(snap, opt, region, p) ||
	    add_findings(&findings, &counts, total, res, NULL) || finish_doc(&findings, meta, &doc) ||
	    tally_json(&counts, &counts_json))
		goto oom;
	if (opt->return_redacted && !(p->redacted_text = strndup(res->text, res->len)))
		goto oom;
	p->entity_counts = counts_json.data;
	counts_json.data = NULL;
	p->rec.entity_counts = p->entity_counts;
	p->rec.subjects = (const unsigned char (*)[CRYPTO_HASH_BYTES])p->subjects;
	p->rec.nsubjects = p->nsubjects;
	rc = seal_record(app, snap, m, p, res->text, res->len, doc.data, doc.len, e);
	goto done;
oom:
	rd_error_set(e, RD_E_INTERNAL, "out of memory or redaction failure");
done:
	buf_free(&findings);
	buf_free(&doc);
	buf_free(&counts_json);
	tally_free(&counts);
	json_decref(meta);
	return rc;
}

/* ---- rectification (PATCH /v1/messages/{id}) ---------------------------- */

void ingest_patch_free(struct ingest_patch *p)
{
	if (p->text) {
		sodium_memzero(p->text, p->text_len);
		free(p->text);
	}
	json_decref(p->metadata);
	json_decref(p->findings);
	free(p->subjects);
	memset(p, 0, sizeof *p);
}

/* {"text"?, "metadata"?}: at least one, nothing else; the same rules as a
 * message's fields. */
static int patch_parse(json_t *root, struct message_in *m, struct rd_error *e)
{
	static const char where[] = "the body";
	const char *k;
	json_t *v;
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "the body must be an object with text and/or metadata");
		return -1;
	}
	json_object_foreach(root, k, v)
		if (strcmp(k, "text") && strcmp(k, "metadata")) {
			rd_error_set(e, RD_E_UNKNOWN_FIELD, "the body has an unknown field (allowed: text,"
			             " metadata)");
			return -1;
		}
	if (opt_string(root, "text", where, &m->text, e) || parse_metadata(root, where, &m->metadata, e))
		return -1;
	if (!m->text && !json_object_get(root, "metadata")) {
		rd_error_set(e, RD_E_MISSING_FIELD, "give text and/or metadata");
		return -1;
	}
	m->text_len = m->text ? strlen(m->text) : 0;
	if (m->text && m->text_len != json_string_length(json_object_get(root, "text"))) {
		rd_error_set(e, RD_E_INVALID_FIELD, "the body.text must not contain NUL");
		return -1;
	}
	return 0;
}

int ingest_redact_patch(const struct app_snap *snap, const char *tenant, enum rd_channel channel,
                        json_t *root, struct ingest_patch *out, struct rd_error *e)
{
	struct message_in m = { .tenant = tenant, .channel = channel };
	struct prepared p = { 0 };
	struct redact_result res = { 0 };
	struct buf findings = { 0 };
	struct tally counts = { 0 }, total = { 0 };
	json_t *meta = NULL;
	int rc = -1;
	memset(out, 0, sizeof *out);
	if (patch_parse(root, &m, e))
		return -1;
	bool has_meta = json_object_get(root, "metadata") != NULL;
	/* Read phones in the tenant's region, as ingest did (the record keeps
	 * no note of the source it came through). */
	const struct phone_region *region = redact_tenant_region(snap->redact, tenant);
	if (buf_append(&findings, "[", 1) ||
	    (has_meta &&
	     !(meta = redact_metadata(snap->redact, region, &m, &p, &res, &findings, &counts, &total))) ||
	    (m.text && (redact_run_in(snap->redact, tenant, region, channel, m.text, m.text_len, &res) ||
	                add_subjects(&p, &res) || add_findings(&findings, &counts, &total, &res, NULL) ||
	                !(out->text = strndup(res.text, res.len)))) ||
	    buf_append(&findings, "]", 1) ||
	    !(out->findings = json_loadb(findings.data, findings.len, 0, NULL))) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory or redaction failure");
		goto done;
	}
	out->text_len = m.text ? res.len : 0;
	out->metadata = meta;
	meta = NULL;
	out->subjects = p.subjects;
	out->nsubjects = p.nsubjects;
	p.subjects = NULL;
	rc = 0;
done:
	if (rc)
		ingest_patch_free(out);
	json_decref(meta);
	prepared_free(&p);
	redact_result_free(&res);
	buf_free(&findings);
	tally_free(&counts);
	tally_free(&total);
	return rc;
}

/* ---- the batch --------------------------------------------------------- */

static int collect_messages(json_t *root, json_t **items, bool *batch, struct rd_error *e)
{
	json_t *arr = json_is_object(root) ? json_object_get(root, "messages") : NULL;
	*batch = arr != NULL;
	if (!json_is_object(root) && !json_is_array(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "body must be a message object or {\"messages\": [...]}");
		return -1;
	}
	if (json_is_array(root))
		arr = root, *batch = true;
	if (!*batch) {
		*items = root;
		return 0;
	}
	if (json_is_object(root) && json_object_size(root) != 1) {
		rd_error_set(e, RD_E_INVALID_BODY, "a batch object holds only \"messages\"");
		return -1;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > RD_MAX_BATCH) {
		rd_error_set(e, RD_E_INVALID_BODY, "messages must be an array of 1 to %d messages",
		              RD_MAX_BATCH);
		return -1;
	}
	*items = arr;
	return 0;
}

static int submit_status(enum rd_err st, struct rd_error *e)
{
	if (st == RD_OK)
		return 0;
	rd_error_store(e, st, RD_E_STORAGE, "the records could not be stored");
	return -1;
}

/* {"ids":[...],"findings":{...}[,"redacted":[...]]} */
static int build_reply(const struct prepared *p, size_t n, const struct tally *total, bool with_text,
                       struct buf *out)
{
	if (buf_append(out, "{\"ids\":[", 8))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf_printf(out, "%s\"%s\"", i ? "," : "", p[i].rec.id))
			return -1;
	if (buf_append(out, "],\"findings\":", 13) || tally_json(total, out))
		return -1;
	if (with_text) {
		if (buf_append(out, ",\"redacted\":[", 13))
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((i && buf_append(out, ",", 1)) ||
			    json_mem_append_quoted(out, p[i].redacted_text, strlen(p[i].redacted_text)))
				return -1;
		if (buf_append(out, "]", 1))
			return -1;
	}
	return buf_append(out, "}", 1);
}

/* Parses and validates every message of a body; *msgs (caller frees)
 * borrows from root. */
static int validate_all(const struct config *cfg, const struct ingest_options *opt, json_t *root,
                        int64_t now_ms, struct message_in **msgs, size_t *count, struct rd_error *e)
{
	json_t *items;
	bool batch;
	if (collect_messages(root, &items, &batch, e))
		return -1;
	size_t n = batch ? json_array_size(items) : 1;
	struct message_in *m = calloc(n, sizeof *m);
	if (!m) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (parse_message(batch ? json_array_get(items, i) : items, i, batch, cfg, opt, now_ms,
		                  &m[i], e)) {
			free(m);
			return -1;
		}
	}
	*msgs = m;
	*count = n;
	return 0;
}

int ingest_validate(const struct config *cfg, const struct ingest_options *opt, json_t *root,
                    struct rd_error *e)
{
	struct message_in *msgs;
	size_t n;
	if (validate_all(cfg, opt, root, util_now_ms(), &msgs, &n, e))
		return -1;
	free(msgs);
	return 0;
}

/* The records of a batch while they are built and handed to the store:
 * owned by ingest_messages_json's stack frame, freed as soon as the store
 * has copied them. */
struct batch {
	struct prepared *prep;
	struct store_record *recs;
	size_t n;
};

static int batch_init(struct batch *b, size_t n)
{
	b->n = n;
	b->prep = calloc(n, sizeof *b->prep);
	b->recs = calloc(n, sizeof *b->recs);
	return b->prep && b->recs ? 0 : -1;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; b->prep && i < b->n; i++)
		prepared_free(&b->prep[i]);
	free(b->prep);
	free(b->recs);
}

/* What a request needs once its records are committed: its reply, built
 * before the hand-over, and the findings to count then. */
struct ingest_job {
	struct app_snap *snap;          /* held: `total` names its engine's entities */
	struct metrics *metrics;
	struct tally total;             /* findings by entity */
	struct buf reply;               /* the 201 body */
	char first_id[RD_RECORD_ID_LEN + 1];
	size_t n;
	bool with_text;                 /* ?return=redacted: the reply holds text */
	enum rd_err status;                    /* the store's, set before done is called */
	struct ingest_sink sink;
	/* Webhook batches with provider ids: the writer marks replays here,
	 * and the reply is rebuilt without their ids. */
	const char *source;             /* borrowed from the caller (a literal or snap's config) */
	bool *replayed;                 /* n flags, or NULL */
	char (*ids)[RD_RECORD_ID_LEN + 1];
	struct buf replay_reply;        /* the reply without the replays */
};

void ingest_job_free(struct ingest_job *j)
{
	if (!j)
		return;
	tally_free(&j->total);
	free(j->replayed);
	free(j->ids);
	buf_free(&j->replay_reply);
	if (j->with_text && j->reply.data)
		sodium_memzero(j->reply.data, j->reply.len);   /* the redacted text */
	buf_free(&j->reply);
	app_snap_release(j->snap);
	free(j);
}

static struct ingest_job *job_new(struct app *app, struct app_snap *snap,
                                  const struct ingest_sink *sink)
{
	struct ingest_job *j = calloc(1, sizeof *j);
	if (j) {
		j->snap = app_snap_ref(snap);
		j->metrics = app->metrics;
		j->sink = *sink;
	}
	return j;
}

/* The store's callback, on its writer thread once the records are
 * committed (or from ingest_messages_json when it refused them at once). */
static void on_stored(void *ctx, enum rd_err status)
{
	struct ingest_job *j = ctx;
	j->status = status;
	j->sink.done(j->sink.arg, j);
}

/* The key of provider-id hashes: a subkey of LOOKUP (id 1, context
 * "rdreplay"), as holds derive theirs from AUDIT, so replay hashes match
 * nothing else the store keeps. */
static void replay_key(const unsigned char *lookup_key, unsigned char out[CRYPTO_KEY_BYTES])
{
	if (crypto_kdf_derive_from_key(out, CRYPTO_KEY_BYTES, 1, "rdreplay", lookup_key) != 0)
		abort();   /* only fails on a bad length: a bug */
}

/* keyed hash of tenant NUL source NUL provider id. */
static void replay_hash(const unsigned char key[CRYPTO_KEY_BYTES], const char *tenant,
                        const char *source, const char *id, unsigned char out[CRYPTO_HASH_BYTES])
{
	crypto_generichash_state st;
	static const unsigned char zero = 0;
	crypto_generichash_init(&st, key, CRYPTO_KEY_BYTES, CRYPTO_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)tenant, strlen(tenant));
	crypto_generichash_update(&st, &zero, 1);
	crypto_generichash_update(&st, (const unsigned char *)source, strlen(source));
	crypto_generichash_update(&st, &zero, 1);
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
	crypto_generichash_final(&st, out, CRYPTO_HASH_BYTES);
	sodium_memzero(&st, sizeof st);
}

/* Webhook batches: each message with a provider id gets its keyed hash,
 * and a flag the writer sets if it turns out to be a replay. */
static int add_replay_ids(struct app *app, const struct ingest_options *opt,
                          const struct message_in *msgs, struct batch *b, struct ingest_job *j)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	if (!opt->source || !opt->provider_ids)
		return 0;
	j->source = opt->source;
	j->replayed = calloc(b->n, sizeof *j->replayed);
	j->ids = calloc(b->n, sizeof *j->ids);
	if (!j->replayed || !j->ids)
		return -1;
	replay_key(app->lookup_key, key);
	for (size_t i = 0; i < b->n; i++) {
		const char *id = opt->provider_ids[i];
		memcpy(j->ids[i], b->recs[i].id, sizeof j->ids[i]);
		if (!id || !*id)
			continue;
		replay_hash(key, msgs[i].tenant, opt->source, id, b->prep[i].replay_hash);
		b->recs[i].replay_hash = b->prep[i].replay_hash;
		b->recs[i].replayed = &j->replayed[i];
	}
	sodium_memzero(key, sizeof key);
	return 0;
}

/* ---- consent (consent.h) ------------------------------------------------- */

/* Before anything is sealed: each message's "consent" decision, and an
 * SMS/WhatsApp sender's opt-out or opt-in keyword, are recorded (each in
 * its own transaction with its audit entry), so the voice check below
 * sees them. A batch refused later keeps them: they were given. */
static int record_consents(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                           const struct message_in *msgs, size_t n, struct rd_error *e)
{
	for (size_t i = 0; i < n; i++) {
		const struct message_in *m = &msgs[i];
		const char *sender = opt->senders && opt->senders[i] ? opt->senders[i] : opt->sender;
		/* The sender read as add_sender reads it, so both hash it alike. */
		const struct phone_region *region =
			opt->sender_e164 ? NULL
			: opt->region    ? opt->region
			                 : redact_tenant_region(snap->redact, m->tenant);
		int kw;
		if (m->has_consent && consent_from_message(app, snap, m->tenant, m->conv_id, m->conv_len,
		                                           sender, region, &m->consent, opt->actor, e))
			return -1;
		if ((m->channel == CH_SMS || m->channel == CH_WHATSAPP) && m->role == ROLE_USER &&
		    consent_keyword_message(app, snap, m->tenant, sender, region, m->text, m->text_len,
		                            opt->actor, &kw, e))
			return -1;
	}
	return 0;
}

static int tally_merge(struct tally *into, const struct tally *from)
{
	for (size_t i = 0; i < from->n; i++)
		if (tally_add(into, from->v[i].entity, from->v[i].n))
			return -1;
	return 0;
}

/* A voice message prepared into p (its findings in `found`): kept when the
 * consent rule allows it (consent.h), else refused (403 consent_required)
 * or prepared again with no text and no metadata but a marker
 * (voice_without_consent = metadata). */
static int voice_gate(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                      const struct message_in *m, size_t i, int64_t now_ms, struct prepared *p,
                      struct redact_result *res, const struct tally *found, struct tally *total,
                      struct rd_error *e)
{
	struct consent_policy pol;
	bool allowed;
	consent_policy_of(snap->cfg, m->tenant, &pol);
	if (consent_voice_allowed(app, &pol, m->tenant, p->rec.conv_hash,
	                          (const unsigned char (*)[CRYPTO_HASH_BYTES])p->subjects, p->nsubjects,
	                          &allowed, e))
		return -1;
	if (allowed)
		return tally_merge(total, found) ? (rd_error_set(e, RD_E_INTERNAL, "out of memory"), -1) : 0;
	metrics_voice_consent(app->metrics, pol.metadata_only ? "metadata" : "refused");
	if (!pol.metadata_only) {
		rd_error_set(e, RD_E_CONSENT_REQUIRED, "messages[%zu]: a voice transcript needs a recorded"
		              " \"given\" consent (transcription or call_recording) for its conversation or"
		              " caller", i);
		return -1;
	}
	struct message_in bare = *m;
	json_t *marker = json_pack("{s:s}", "redactd_withheld", "consent_required");
	bare.text = "";
	bare.text_len = 0;
	bare.metadata = marker;
	prepared_free(p);
	int rc = marker ? prepare_one(app, snap, opt, &bare, now_ms, p, res, total, e) : -1;
	if (!marker)
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
	json_decref(marker);
	return rc;
}

/* Seals every message of a validated body into b; the findings go to
 * j->total. -1 with e (4xx for the client's fault, 500). */
static int seal_all(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                    const struct message_in *msgs, int64_t now_ms, struct batch *b,
                    struct ingest_job *j, struct rd_error *e)
{
	struct redact_result res = { 0 };
	int rc = 0;
	for (size_t i = 0; i < b->n && rc == 0; i++) {
		struct ingest_options one = *opt;
		struct tally found = { 0 };
		bool voice = msgs[i].channel == CH_VOICE;
		if (opt->senders && opt->senders[i])
			one.sender = opt->senders[i];
		rc = prepare_one(app, snap, &one, &msgs[i], now_ms, &b->prep[i], &res,
		                 voice ? &found : &j->total, e);
		if (rc == 0 && voice)
			rc = voice_gate(app, snap, &one, &msgs[i], i, now_ms, &b->prep[i], &res, &found,
			                &j->total, e);
		tally_free(&found);
		b->recs[i] = b->prep[i].rec;
	}
	redact_result_free(&res);
	return rc;
}

/* A tenant whose closure is due takes nothing more (tenant_close.h): the
 * whole batch is refused. A batch is mostly one tenant: asked once each. */
static int refuse_closed(struct app *app, const struct message_in *msgs, size_t n, int64_t now_ms,
                         struct rd_error *e)
{
	for (size_t i = 0; i < n; i++) {
		int64_t due_ms;
		if (i > 0 && strcmp(msgs[i].tenant, msgs[i - 1].tenant) == 0)
			continue;
		if (tenant_close_refused(app, msgs[i].tenant, now_ms, &due_ms)) {
			char due[32];
			util_format_ts(due_ms, due);
			rd_error_set(e, RD_E_TENANT_CLOSED, "tenant %s is closed: its closure was due at %s",
			             msgs[i].tenant, due);
			return -1;
		}
	}
	return 0;
}

int ingest_messages_json(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                         json_t *root, const struct ingest_sink *sink, struct rd_error *e)
{
	int64_t now_ms = util_now_ms();
	struct message_in *msgs;
	struct batch b = { 0 };
	struct ingest_job *j = NULL;
	size_t n;
	int rc = -1;
	if (validate_all(snap->cfg, opt, root, now_ms, &msgs, &n, e))
		return -1;
	if (refuse_closed(app, msgs, n, now_ms, e))
		goto done;
	if (batch_init(&b, n) || !(j = job_new(app, snap, sink))) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto done;
	}
	if (record_consents(app, snap, opt, msgs, n, e))
		goto done;
	if (seal_all(app, snap, opt, msgs, now_ms, &b, j, e))
		goto done;
	if (add_replay_ids(app, opt, msgs, &b, j)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto done;
	}
	j->with_text = opt->return_redacted;
	if (build_reply(b.prep, n, &j->total, opt->return_redacted, &j->reply)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto done;
	}
	memcpy(j->first_id, b.recs[0].id, sizeof j->first_id);
	j->n = n;
	if (sink->submitting)
		sink->submitting(sink->arg);
	/* From here on j is the sink's: done may run (and free it) at once. */
	enum rd_err st = store_submit_async(app->store, b.recs, n, on_stored, j);
	if (st != RD_OK)
		on_stored(j, st);
	j = NULL;
	rc = 0;
done:
	ingest_job_free(j);
	batch_free(&b);   /* the store copied the records */
	free(msgs);
	return rc;
}

int ingest_messages(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                    const char *body, size_t len, const struct ingest_sink *sink,
                    struct rd_error *e)
{
	json_t *root = ingest_parse_body(body, len, e);
	if (!root)
		return -1;
	int rc = ingest_messages_json(app, snap, opt, root, sink, e);
	json_decref(root);
	return rc;
}

int ingest_job_reply(struct ingest_job *j, struct ingest_reply *out, struct rd_error *e)
{
	if (submit_status(j->status, e))
		return -1;
	for (size_t i = 0; i < j->total.n; i++)
		metrics_finding(j->metrics, j->total.v[i].entity, j->total.v[i].n);
	*out = (struct ingest_reply){ .body = j->reply.data, .len = j->reply.len,
	                              .first_id = j->first_id, .count = j->n };
	size_t replayed = 0;
	for (size_t i = 0; j->replayed && i < j->n; i++)
		replayed += j->replayed[i];
	if (replayed == 0)
		return 0;
	metrics_webhook(j->metrics, METRICS_WEBHOOK_REPLAY, j->source, "message", replayed);
	out->replayed = replayed;
	if (j->with_text)
		return 0;   /* ?return=redacted is not a webhook's: keep the body as built */
	struct buf *b = &j->replay_reply;
	bool first = true;
	int rc = buf_append_str(b, "{\"ids\":[");
	for (size_t i = 0; i < j->n && rc == 0; i++) {
		if (j->replayed[i])
			continue;
		rc = buf_printf(b, "%s\"%s\"", first ? "" : ",", j->ids[i]);
		first = false;
	}
	if (rc || buf_append_str(b, "],\"findings\":") || tally_json(&j->total, b) ||
	    buf_printf(b, ",\"replayed\":%zu}", replayed))
		return 0;   /* out of memory: the body as built still answers */
	out->body = b->data;
	out->len = b->len;
	return 0;
}

/* ---- redact only --------------------------------------------------------- */

/* The redact-only reply object for one text. */
static json_t *ingest_redact_reply(const struct redact_result *res)
{
	json_t *list = json_array();
	json_t *reply = json_pack("{s:s%, s:o}", "redacted", res->text ? res->text : "", res->len,
	                          "findings", list);
	if (!reply)
		return NULL;
	for (size_t i = 0; i < res->nfindings; i++) {
		const struct redact_finding *f = &res->findings[i];
		json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "entity", f->entity, "rule", f->rule,
		                      "start", (json_int_t)f->start, "end", (json_int_t)f->end);
		if (!o || json_array_append_new(list, o)) {
			json_decref(reply);
			return NULL;
		}
	}
	return reply;
}

static int redact_request_fields(json_t *root, const char *default_tenant, const char **text,
                                 size_t *len, enum rd_channel *ch, const char **tenant,
                                 struct rd_error *e)
{
	json_t *t = json_is_object(root) ? json_object_get(root, "text") : NULL;
	const char *k;
	json_t *v;
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "body must be an object with \"text\"");
		return -1;
	}
	json_object_foreach(root, k, v) {
		if (strcmp(k, "text") && strcmp(k, "channel") && strcmp(k, "tenant")) {
			rd_error_set(e, RD_E_UNKNOWN_FIELD, "unknown field (allowed: text, channel, tenant)");
			return -1;
		}
	}
	if (!json_is_string(t)) {
		rd_error_set(e, t ? RD_E_INVALID_FIELD : RD_E_MISSING_FIELD, "text is required and must be a string");
		return -1;
	}
	*text = json_string_value(t);
	*len = json_string_length(t);
	const char *chs, *ten;
	if (opt_string(root, "channel", "body", &chs, e) || opt_string(root, "tenant", "body", &ten, e))
		return -1;
	*ch = CH_WEB;
	if (chs && rd_channel_parse(chs, ch) < 0) {
		rd_error_set(e, RD_E_INVALID_FIELD, "channel must be web, whatsapp, sms, voice, email or other");
		return -1;
	}
	*tenant = tenant_resolve(default_tenant, ten, NULL, RD_E_INVALID_FIELD, e);
	return *tenant ? 0 : -1;
}

int ingest_redact_only(const struct app_snap *snap, const char *default_tenant, const char *body,
                       size_t len, json_t **reply, struct rd_error *e)
{
	json_t *root = ingest_parse_body(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	const char *text, *tenant;
	size_t tlen;
	enum rd_channel ch;
	struct redact_result res = { 0 };
	if (redact_request_fields(root, default_tenant, &text, &tlen, &ch, &tenant, e))
		goto done;
	if (memchr(text, '\0', tlen)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "text must not contain NUL");
		goto done;
	}
	if (redact_run(snap->redact, tenant, ch, text, tlen, &res)) {
		rd_error_set(e, RD_E_INTERNAL, "redaction failed");
		goto done;
	}
	*reply = ingest_redact_reply(&res);
	if (!*reply) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto done;
	}
	rc = 0;
done:
	redact_result_free(&res);
	json_decref(root);
	return rc;
}
