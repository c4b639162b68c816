/*
 * consent.c — consent records, the voice check, withdrawal erasure and
 * opt-out keywords (see consent.h for the rules and contracts).
 *
 * Workload: decisions are rare (an IVR prompt or a keyword per
 * conversation), so recording one is a store_exec of its own, with its
 * audit entry, on the caller's thread. The voice check is a store_read
 * per voice message while it applies: one index probe per target and
 * kind. Nothing personal is stored or logged: targets are keyed hashes
 * (redaction's subject hash, the messages' conversation hash), the rest
 * are enum words, names and times.
 */
#include "consent.h"
#include "store_journal.h"
#include "audit.h"
#include "holds.h"
#include "log.h"
#include "metrics.h"
#include "store_consent.h"
#include "util.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const state_names[CONSENT_STATES] = { "given", "declined", "withdrawn" };

/* How a decision was taken: words only, so no free text reaches the table. */
static const char *const consent_methods[] = {
	"ivr", "checkbox", "agent", "verbal", "keyword", "web", "sms", "whatsapp", "email", "paper",
	"api", "other",
};

static const char *const voice_kinds[] = CONSENT_VOICE_KINDS;
static const char *const messaging_kind[] = { CONSENT_KIND_MESSAGING };

const char *consent_state_name(enum consent_state s)
{
	return (unsigned)s < CONSENT_STATES ? state_names[s] : "?";
}

static int state_parse(const char *s, enum consent_state *out)
{
	for (int i = 0; i < CONSENT_STATES; i++) {
		if (!strcmp(s, state_names[i])) {
			*out = (enum consent_state)i;
			return 0;
		}
	}
	return -1;
}

static bool kind_valid(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > CONSENT_KIND_MAX)
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

static const char *method_find(const char *m)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(consent_methods); i++)
		if (!strcmp(m, consent_methods[i]))
			return consent_methods[i];
	return NULL;
}

int consent_in_parse(const char *kind, const char *state, const char *method, const char *ts,
                     const char *where, struct consent_in *out, struct rd_error *e)
{
	struct consent_in c = { .kind = kind, .method = "api" };
	if (!kind || !kind_valid(kind)) {
		rd_error_set(e, kind ? RD_E_INVALID_FIELD : RD_E_MISSING_FIELD,
		              "%skind is required: 1 to %d of a-z 0-9 _ (e.g. transcription)", where,
		              CONSENT_KIND_MAX);
		return -1;
	}
	if (!state || state_parse(state, &c.state)) {
		rd_error_set(e, state ? RD_E_INVALID_FIELD : RD_E_MISSING_FIELD,
		              "%sstate is required: given, declined or withdrawn", where);
		return -1;
	}
	if (method && !(c.method = method_find(method))) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%smethod must be ivr, checkbox, agent, verbal, keyword,"
		              " web, sms, whatsapp, email, paper, api or other", where);
		return -1;
	}
	if (ts && util_parse_ts(ts, &c.ts_ms)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%sts must be RFC 3339 or epoch seconds", where);
		return -1;
	}
	*out = c;
	return 0;
}

int consent_in_json(json_t *o, const char *where, struct consent_in *out, struct rd_error *e)
{
	char pre[48];
	const char *k;
	json_t *v;
	snprintf(pre, sizeof pre, "%s.", where);
	if (!json_is_object(o)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "%s must be an object {\"kind\", \"state\", \"method\"}",
		              where);
		return -1;
	}
	json_object_foreach(o, k, v) {
		bool known = !strcmp(k, "kind") || !strcmp(k, "state") || !strcmp(k, "method") ||
		             !strcmp(k, "ts");
		if (!known || (!json_is_string(v) && !(json_is_integer(v) && !strcmp(k, "ts")))) {
			rd_error_set(e, known ? RD_E_INVALID_FIELD : RD_E_UNKNOWN_FIELD,
			              "%s holds kind, state, method and ts (strings; ts may be epoch seconds)",
			              where);
			return -1;
		}
	}
	char num[32];
	json_t *ts = json_object_get(o, "ts");
	if (json_is_integer(ts))
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(ts));
	return consent_in_parse(json_string_value(json_object_get(o, "kind")),
	                        json_string_value(json_object_get(o, "state")),
	                        json_string_value(json_object_get(o, "method")),
	                        json_is_integer(ts) ? num : json_string_value(ts), pre, out, e);
}

/* ---- policy ------------------------------------------------------------ */

void consent_policy_of(const struct config *cfg, const char *tenant, struct consent_policy *out)
{
	int req = cfg->voice_requires_consent, meta = cfg->voice_without_consent;
	int wd = cfg->consent_withdrawal;
	for (size_t i = 0; tenant && i < cfg->ntenants; i++) {
		const struct tenant_conf *t = &cfg->tenants[i];
		if (strcmp(t->name, tenant))
			continue;
		/* A tenant's 0 inherits; its other values are [channels]'s + 1. */
		req = t->voice_requires_consent ? t->voice_requires_consent - 1 : req;
		meta = t->voice_without_consent ? t->voice_without_consent - 1 : meta;
		wd = t->consent_withdrawal ? t->consent_withdrawal - 1 : wd;
	}
	*out = (struct consent_policy){ .voice_requires = req != 0, .metadata_only = meta == CONSENT_METADATA,
	                                .erase_on_withdrawal = wd == CONSENT_ERASE };
}

/* ---- targets ----------------------------------------------------------- */

static const char *target_kind_name(enum consent_target_kind k)
{
	return k == CONSENT_EMAIL ? "email" : k == CONSENT_PHONE ? "phone" : "conversation";
}

/* The keyed hash of t, as messages and redaction compute it. */
static int target_hash(struct app *app, struct app_snap *snap, const struct consent_target *t,
                       unsigned char h[CRYPTO_HASH_BYTES], struct rd_error *e)
{
	size_t n = t->value ? strlen(t->value) : 0;
	if (n == 0 || n > RD_MAX_ID_LEN) {
		rd_error_set(e, RD_E_INVALID_QUERY, "the %s must be 1 to %d bytes",
		              target_kind_name(t->kind), RD_MAX_ID_LEN);
		return -1;
	}
	if (t->kind == CONSENT_CONVERSATION) {
		crypto_conversation_hash(app->lookup_key, t->tenant, t->value, n, h);
		return 0;
	}
	/* The form redaction stores now (the number read in the tenant's
	 * region), so a decision recorded here and a sender's keyword meet. */
	struct redact_subject s[REDACT_SUBJECT_FORMS];
	size_t forms = redact_subject_lookup(snap->redact, t->tenant,
	                                     t->kind == CONSENT_EMAIL ? SUBJECT_EMAIL : SUBJECT_PHONE,
	                                     t->value, n, s);
	if (forms == 0) {
		rd_error_set(e, RD_E_INVALID_QUERY, "that does not look like an %s",
		              t->kind == CONSENT_EMAIL ? "email address" : "phone number");
		return -1;
	}
	memcpy(h, s[0].hash, CRYPTO_HASH_BYTES);
	sodium_memzero(s, sizeof s);
	return 0;
}

static void target_audit(struct app_snap *snap, bool subject, const unsigned char *h,
                         char out[AUDIT_TARGET_MAX])
{
	audit_target(snap->keys, subject ? "subject" : "conversation", h, CRYPTO_HASH_BYTES, out);
}

/* ---- recording --------------------------------------------------------- */

/* One decision about one target, on the writer. */
struct add_ctx {
	struct store_consent row;
	const char *target;            /* audit target */
	bool erase;                    /* a voice-kind withdrawal under consent_withdrawal = erase */
	bool dedupe;                   /* skip when the newest of its kind says the same */
	struct consent_result r;
	int audit_entries;
};

static bool is_voice_kind(const char *k)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(voice_kinds); i++)
		if (!strcmp(k, voice_kinds[i]))
			return true;
	return false;
}

struct erase_list {
	unsigned char (*h)[CRYPTO_HASH_BYTES];
	size_t n;
};

static enum rd_err list_push(const unsigned char h[CRYPTO_HASH_BYTES], void *arg)
{
	struct erase_list *l = arg;
	if (l->n >= 100000)
		return RD_E_INTERNAL;
	void *p = realloc(l->h, (l->n + 1) * sizeof *l->h);
	if (!p)
		return RD_E_INTERNAL;
	l->h = p;
	memcpy(l->h[l->n++], h, CRYPTO_HASH_BYTES);
	return RD_OK;
}

/* The withdrawal erasure: every conversation of the target but held ones,
 * with the residue mark and the audit entries, on the decision's tx. */
static enum rd_err withdrawal_erase(struct store_tx *tx, struct add_ctx *c)
{
	struct erase_list l = { 0 };
	const char *tenant = c->row.tenant;
	enum rd_err rc = c->row.subject
		? store_subject_conversations(tx, tenant, c->row.target_hash, list_push, &l)
		: list_push(c->row.target_hash, &l);
	for (size_t i = 0; rc == RD_OK && i < l.n; i++) {
		bool held;
		int64_t n = 0;
		if ((rc = holds_conversation_held(tx, tenant, l.h[i], &held)) != RD_OK)
			break;
		rc = held ? store_conversation_count(tx, tenant, l.h[i], &n)
		          : store_conversation_delete(tx, tenant, l.h[i], &n);
		/* The erasure journal (store_journal.h): a restored backup forgets it too. */
		if (rc == RD_OK && !held)
			rc = store_journal_append(tx, STORE_JOURNAL_CONVERSATION, tenant, l.h[i],
			                          CRYPTO_HASH_BYTES, util_now_ms());
		*(held ? &c->r.kept : &c->r.removed) += n;
	}
	free(l.h);
	if (rc == RD_OK)
		rc = audit_append_tenant(tx, tenant, c->row.source, "consent.erase", c->target,
		                         c->r.removed);
	if (rc == RD_OK && c->r.removed)
		rc = store_residue_mark(tx, util_now_ms());
	if (rc == RD_OK && c->r.kept)
		rc = audit_append_tenant(tx, tenant, c->row.source, "erase.held", c->target, c->r.kept);
	c->audit_entries += 1 + (c->r.kept > 0);
	return rc;
}

static enum rd_err add_fn(struct store_tx *tx, void *arg)
{
	struct add_ctx *c = arg;
	enum rd_err rc;
	if (c->dedupe) {
		struct store_consent_latest last = { 0 };
		const char *kinds[] = { c->row.kind };
		rc = store_consent_latest(tx, c->row.tenant,
		                          (const unsigned char (*)[CRYPTO_HASH_BYTES])c->row.target_hash, 1,
		                          kinds, 1, &last);
		if (rc != RD_OK || (last.id && !strcmp(last.state, c->row.state)))
			return rc;
	}
	if ((rc = store_consent_insert(tx, &c->row, &c->r.id)) != RD_OK ||
	    (rc = audit_append_tenant(tx, c->row.tenant, c->row.source, "consent.add", c->target,
	                              1)) != RD_OK)
		return rc;
	c->audit_entries = 1;
	return c->erase ? withdrawal_erase(tx, c) : RD_OK;
}

/* Appends a decision about hash (and erases when due) in one transaction. */
static int record(struct app *app, struct app_snap *snap, const char *tenant, bool subject,
                  const unsigned char h[CRYPTO_HASH_BYTES], const struct consent_in *in,
                  const char *source, bool dedupe, struct consent_result *out, struct rd_error *e)
{
	char target[AUDIT_TARGET_MAX];
	struct consent_policy pol;
	int64_t now = util_now_ms();
	consent_policy_of(snap->cfg, tenant, &pol);
	target_audit(snap, subject, h, target);
	struct add_ctx c = {
		.row = { .tenant = tenant, .subject = subject, .target_hash = h, .kind = in->kind,
		         .state = consent_state_name(in->state), .method = in->method,
		         .source = source && *source ? source : "ingest",
		         .ts_ms = in->ts_ms ? in->ts_ms : now, .recorded_ms = now },
		.target = target, .dedupe = dedupe,
		.erase = in->state == CONSENT_WITHDRAWN && pol.erase_on_withdrawal && is_voice_kind(in->kind),
	};
	enum rd_err rc = store_exec(app->store, add_fn, &c);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_STORAGE, "the consent could not be recorded");
		return -1;
	}
	metrics_audit(app->metrics, (uint64_t)c.audit_entries);
	if (c.r.id && in->state != CONSENT_GIVEN && is_voice_kind(in->kind))
		atomic_store(&app->consent_refusals, true);   /* the next voice message is checked */
	if (c.r.id)
		metrics_consent(app->metrics, c.row.state);
	if (c.r.id && c.erase)
		log_info("consent withdrawn: %lld record(s) erased, %lld kept by a hold",
		         (long long)c.r.removed, (long long)c.r.kept);
	if (out)
		*out = c.r;
	return 0;
}

int consent_add(struct app *app, const struct consent_target *t, const struct consent_in *c,
                const char *source, struct consent_result *out, struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	struct app_snap *snap = app_snap_acquire(app);
	int rc = target_hash(app, snap, t, h, e);
	if (rc == 0)
		rc = record(app, snap, t->tenant, t->kind != CONSENT_CONVERSATION, h, c, source, false, out,
		            e);
	app_snap_release(snap);
	return rc;
}

int consent_from_message(struct app *app, struct app_snap *snap, const char *tenant,
                         const char *conv_id, size_t conv_len, const char *sender,
                         const struct phone_region *region, const struct consent_in *c,
                         const char *source, struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	struct redact_subject s;
	crypto_conversation_hash(app->lookup_key, tenant, conv_id, conv_len, h);
	if (record(app, snap, tenant, false, h, c, source, true, NULL, e))
		return -1;
	if (!sender ||
	    redact_subject_hash_in(snap->redact, region, SUBJECT_PHONE, sender, strlen(sender), &s) < 0)
		return 0;   /* no sender, or not a phone number: the conversation's record is all */
	return record(app, snap, tenant, true, s.hash, c, source, true, NULL, e);
}

/* ---- reading ----------------------------------------------------------- */

static json_t *row_json(const struct store_consent *c)
{
	char ts[32], rec[32];
	util_format_ts(c->ts_ms, ts);
	util_format_ts(c->recorded_ms, rec);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)c->id, "scope",
	                 c->subject ? "subject" : "conversation", "kind", c->kind, "state", c->state,
	                 "method", c->method, "source", c->source, "ts", ts, "recorded", rec);
}

static enum rd_err export_row(const struct store_consent *c, void *arg)
{
	json_t *o = row_json(c);
	return o && json_array_append_new(arg, o) == 0 ? RD_OK : RD_E_INTERNAL;
}

enum rd_err consent_export(struct store_tx *tx, const char *tenant,
                           const unsigned char hash[CRYPTO_HASH_BYTES], json_t *out)
{
	return store_consent_each(tx, tenant, hash, export_row, out);
}

enum rd_err consent_erase(struct store_tx *tx, const char *tenant,
                          const unsigned char hash[CRYPTO_HASH_BYTES], int64_t *n)
{
	return store_consent_delete(tx, tenant, hash, n);
}

struct list_ctx {
	const char *tenant;
	const unsigned char *hash;
	json_t *rows;
};

static enum rd_err list_fn(struct store_tx *tx, void *arg)
{
	struct list_ctx *c = arg;
	return consent_export(tx, c->tenant, c->hash, c->rows);
}

struct audit_ctx {
	const char *tenant, *actor, *target;
	int64_t count;
};

static enum rd_err list_audit_fn(struct store_tx *tx, void *arg)
{
	const struct audit_ctx *a = arg;
	return audit_append_tenant(tx, a->tenant, a->actor, "consent.list", a->target, a->count);
}

/* {KIND: STATE} of the newest row of each kind (rows are oldest first). */
static json_t *current_of(json_t *rows)
{
	json_t *cur = json_object(), *r;
	size_t i;
	json_array_foreach(rows, i, r)
		if (cur && json_object_set(cur, json_string_value(json_object_get(r, "kind")),
		                           json_object_get(r, "state"))) {
			json_decref(cur);
			return NULL;
		}
	return cur;
}

int consent_list(struct app *app, const struct consent_target *t, const char *actor, json_t **out,
                 struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	char target[AUDIT_TARGET_MAX];
	struct app_snap *snap = app_snap_acquire(app);
	struct list_ctx c = { .tenant = t->tenant, .hash = h, .rows = json_array() };
	int rc = -1;
	if (!c.rows) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto done;
	}
	if (target_hash(app, snap, t, h, e))
		goto done;
	enum rd_err sr = store_read(app->store, list_fn, &c);
	if (sr != RD_OK) {
		rd_error_store(e, sr, RD_E_STORAGE, "the consent records could not be read");
		goto done;
	}
	target_audit(snap, t->kind != CONSENT_CONVERSATION, h, target);
	struct audit_ctx a = { t->tenant, actor, target, (int64_t)json_array_size(c.rows) };
	enum rd_err st = store_exec(app->store, list_audit_fn, &a);
	if (st != RD_OK) {
		rd_error_store(e, st, RD_E_AUDIT, "the read could not be audit-logged");
		goto done;
	}
	metrics_audit(app->metrics, 1);
	*out = json_pack("{s:s, s:O, s:o}", "tenant", t->tenant, "consents", c.rows, "current",
	                 current_of(c.rows));
	if (!*out) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto done;
	}
	rc = 0;
done:
	json_decref(c.rows);
	app_snap_release(snap);
	return rc;
}

/* The newest decision of some kinds over several targets. */
struct latest_ctx {
	const char *tenant;
	const unsigned char (*targets)[CRYPTO_HASH_BYTES];
	size_t n;
	const char *const *kinds;
	size_t nkinds;
	struct store_consent_latest last;
};

static enum rd_err latest_fn(struct store_tx *tx, void *arg)
{
	struct latest_ctx *c = arg;
	return store_consent_latest(tx, c->tenant, c->targets, c->n, c->kinds, c->nkinds, &c->last);
}

static int latest(struct app *app, struct latest_ctx *c, struct rd_error *e)
{
	enum rd_err sr = store_read(app->store, latest_fn, c);
	if (sr != RD_OK) {
		rd_error_store(e, sr, RD_E_STORAGE, "the consent records could not be read");
		return -1;
	}
	return 0;
}

int consent_optout(struct app *app, const struct consent_target *t, bool *opted_out,
                   int64_t *since_ms, struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	struct app_snap *snap = app_snap_acquire(app);
	int rc = target_hash(app, snap, t, h, e);
	app_snap_release(snap);
	if (rc)
		return -1;
	struct latest_ctx c = { .tenant = t->tenant, .targets = (const unsigned char (*)[CRYPTO_HASH_BYTES])h,
	                        .n = 1, .kinds = messaging_kind, .nkinds = 1 };
	if (latest(app, &c, e))
		return -1;
	*opted_out = c.last.id && strcmp(c.last.state, "given") != 0;
	*since_ms = c.last.id ? c.last.ts_ms : 0;
	return 0;
}

static enum rd_err refusals_fn(struct store_tx *tx, void *arg)
{
	bool any = false;
	enum rd_err rc = store_consent_refusals(tx, voice_kinds, RD_ARRAY_LEN(voice_kinds), &any);
	*(bool *)arg = any;
	return rc;
}

/*
 * Can a declined or withdrawn voice decision exist? Until one is seen the
 * store is asked at most once a second (a decision recorded by another
 * process, `redactd consent add`, is seen within that second); once one is
 * seen, always. A decision recorded through this process sets it at once.
 * This spares a deployment that never refuses voice the store read on
 * every voice message (25-30 % of a voice message's cost, measured).
 */
static bool refusals_possible(struct app *app)
{
	if (atomic_load(&app->consent_refusals))
		return true;
	int64_t now = util_now_ms(), last = atomic_load(&app->consent_probe_ms);
	if (now - last < 1000 || !atomic_compare_exchange_strong(&app->consent_probe_ms, &last, now))
		return false;
	bool any = true;   /* a failed read is not a reason to skip the check */
	if (store_read(app->store, refusals_fn, &any) != RD_OK)
		any = true;
	if (any)
		atomic_store(&app->consent_refusals, true);
	return any;
}

int consent_voice_allowed(struct app *app, const struct consent_policy *pol, const char *tenant,
                          const unsigned char conv[CRYPTO_HASH_BYTES],
                          const unsigned char (*subjects)[CRYPTO_HASH_BYTES], size_t n,
                          bool *allowed, struct rd_error *e)
{
	if (!pol->voice_requires && !refusals_possible(app)) {
		*allowed = true;
		return 0;
	}
	/* The conversation and its subjects in one list: one statement. */
	unsigned char (*t)[CRYPTO_HASH_BYTES] = malloc((n + 1) * sizeof *t);
	if (!t) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	memcpy(t[0], conv, CRYPTO_HASH_BYTES);
	if (n)
		memcpy(t[1], subjects, n * sizeof *t);
	struct latest_ctx c = { .tenant = tenant, .targets = (const unsigned char (*)[CRYPTO_HASH_BYTES])t,
	                        .n = n + 1, .kinds = voice_kinds, .nkinds = RD_ARRAY_LEN(voice_kinds) };
	int rc = latest(app, &c, e);
	free(t);
	if (rc)
		return -1;
	*allowed = c.last.id ? !strcmp(c.last.state, "given") : !pol->voice_requires;
	return 0;
}

/* ---- opt-out keywords -------------------------------------------------- */

/*
 * Twilio's default opt-out and opt-in keywords (Advanced Opt-Out, US/CA),
 * and their common equivalents: French ARRET and DESABONNER, Spanish
 * ALTO, BAJA, PARAR and CANCELAR, Italian STOP/ANNULLA, German STOPP and
 * ABMELDEN, Portuguese PARE and SAIR, Dutch AFMELDEN; opt-in START and
 * UNSTOP. Twilio's third opt-in word, YES, is left out: "yes" is the most
 * common answer to a bot's question, and would record an opt-in each
 * time. Matched on the whole message, trimmed, in any case (the accented
 * forms are listed).
 */
static const char *const optout_words[] = {
	"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
	"ARRET", "ARRÊT", "DESABONNER", "DÉSABONNER", "ALTO", "BAJA", "PARAR", "CANCELAR",
	"STOPP", "ABMELDEN", "ANNULLA", "PARE", "SAIR", "AFMELDEN",
};
static const char *const optin_words[] = { "START", "UNSTOP" };

static bool word_in(const char *s, size_t n, const char *const *words, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(words[i]) == n && !strncasecmp(s, words[i], n))
			return true;
	return false;
}

/* Upper-cases the two accented letters the lists hold (é, ê in UTF-8),
 * which strncasecmp leaves alone. */
static void fold_accents(char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)s[i] == 0xC3 && ((unsigned char)s[i + 1] == 0xA9 ||
		                                    (unsigned char)s[i + 1] == 0xAA))
			s[i + 1] = (char)((unsigned char)s[i + 1] - 0x20);
}

int consent_keyword(const char *text, size_t len)
{
	char w[24];
	while (len && isspace((unsigned char)*text))
		text++, len--;
	while (len && (isspace((unsigned char)text[len - 1]) || text[len - 1] == '.' ||
	               text[len - 1] == '!'))
		len--;
	if (len == 0 || len >= sizeof w)
		return 0;
	memcpy(w, text, len);
	w[len] = '\0';
	fold_accents(w, len);
	if (word_in(w, len, optout_words, RD_ARRAY_LEN(optout_words)))
		return 1;
	return word_in(w, len, optin_words, RD_ARRAY_LEN(optin_words)) ? -1 : 0;
}

int consent_keyword_message(struct app *app, struct app_snap *snap, const char *tenant,
                            const char *sender, const struct phone_region *region,
                            const char *text, size_t len, const char *source, int *kw,
                            struct rd_error *e)
{
	struct redact_subject s;
	*kw = sender ? consent_keyword(text, len) : 0;
	if (!*kw ||
	    redact_subject_hash_in(snap->redact, region, SUBJECT_PHONE, sender, strlen(sender), &s) < 0) {
		*kw = 0;
		return 0;
	}
	struct consent_in c = { .kind = CONSENT_KIND_MESSAGING, .method = "keyword",
	                        .state = *kw > 0 ? CONSENT_WITHDRAWN : CONSENT_GIVEN };
	if (record(app, snap, tenant, true, s.hash, &c, source, false, NULL, e))
		return -1;
	metrics_optout(app->metrics, *kw > 0 ? "optout" : "optin");
	return 0;
}
