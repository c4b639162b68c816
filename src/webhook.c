/*
 * webhook.c — SPEC 5.3: what Dialogflow CX, Twilio and WhatsApp Cloud API
 * callbacks carry, as ordinary messages; and how their senders prove
 * themselves. Pure functions of bytes and files, with no connection: the
 * HTTP handlers that use them are in http_webhook.c, and unit tests and
 * the fuzz harness (fuzz/fuzz_webhook.c) reach every one of them directly.
 *
 * Each provider's payload is mapped onto the message objects of POST
 * /v1/messages ({"messages": [...]}), which ingest then validates, redacts
 * and seals like any other batch. Secrets are read from the source's files
 * on each request (so a rotated file needs no reload), kept on the stack
 * and wiped at once. Nothing a provider sends (text, numbers, names,
 * session ids) reaches the log.
 *
 * The form decoder is hand-written because Twilio signs every field
 * byte-for-byte, empty values included.
 */
#include "webhook.h"
#include "config.h"
#include "log.h"
#include "rd_error.h"
#include "util.h"

#include <errno.h>
#include <nettle/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- form decoding ------------------------------------------------------ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One name or value; NULL on a bad escape, a decoded NUL or no memory. */
static char *form_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t j = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				goto fail;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0)
			goto fail;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return out;
fail:
	sodium_memzero(out, n + 1);
	free(out);
	return NULL;
}

static void free_wiped(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void webhook_form_free(struct webhook_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free_wiped(f->v[i].name);
		free_wiped(f->v[i].value);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

/* Appends the field s[0..n) ("name=value" or "name"). */
static int form_add(struct webhook_form *f, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	size_t nlen = eq ? (size_t)(eq - s) : n;
	struct webhook_param p = { form_decode(s, nlen), NULL };
	p.value = eq ? form_decode(eq + 1, n - nlen - 1) : strdup("");
	if (!p.name || !p.value)
		goto fail;
	f->v[f->n++] = p;
	return 0;
fail:
	free_wiped(p.name);
	free_wiped(p.value);
	return -1;
}

int webhook_form_parse(const char *body, size_t len, struct webhook_form *out)
{
	struct webhook_form f = { calloc(WEBHOOK_MAX_PARAMS, sizeof *f.v), 0 };
	size_t i = 0;
	*out = (struct webhook_form){ 0 };
	if (!f.v)
		return -1;
	while (i < len) {
		const char *amp = memchr(body + i, '&', len - i);
		size_t n = amp ? (size_t)(amp - (body + i)) : len - i;
		if (n && (f.n == WEBHOOK_MAX_PARAMS || form_add(&f, body + i, n))) {
			webhook_form_free(&f);
			return -1;
		}
		i += n + 1;
	}
	*out = f;
	return 0;
}

const char *webhook_form_get(const struct webhook_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return f->v[i].value;
	return NULL;
}

/* ---- signatures --------------------------------------------------------- */

static int param_cmp(const void *a, const void *b)
{
	const struct webhook_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static void twilio_digest(const char *token, size_t token_len, const char *url,
                          struct webhook_form *f, uint8_t out[SHA1_DIGEST_SIZE])
{
	struct hmac_sha1_ctx ctx;
	if (f->n)
		qsort(f->v, f->n, sizeof *f->v, param_cmp);
	hmac_sha1_set_key(&ctx, token_len, (const uint8_t *)token);
	hmac_sha1_update(&ctx, strlen(url), (const uint8_t *)url);
	for (size_t i = 0; i < f->n; i++) {
		hmac_sha1_update(&ctx, strlen(f->v[i].name), (const uint8_t *)f->v[i].name);
		hmac_sha1_update(&ctx, strlen(f->v[i].value), (const uint8_t *)f->v[i].value);
	}
	hmac_sha1_digest(&ctx, SHA1_DIGEST_SIZE, out);
	sodium_memzero(&ctx, sizeof ctx);
}

void webhook_twilio_sign(const char *token, size_t token_len, const char *url,
                         struct webhook_form *f, char out[WEBHOOK_TWILIO_SIG_LEN + 1])
{
	uint8_t d[SHA1_DIGEST_SIZE];
	twilio_digest(token, token_len, url, f, d);
	sodium_bin2base64(out, WEBHOOK_TWILIO_SIG_LEN + 1, d, sizeof d, sodium_base64_VARIANT_ORIGINAL);
}

/*
 * The other form of url Twilio may have signed: with an explicit port
 * removed, or with the scheme's default port added. -1 when url has no
 * scheme://authority or the variant does not fit.
 */
static int url_port_variant(const char *url, char *out, size_t outlen)
{
	const char *sep = strstr(url, "://");
	if (!sep)
		return -1;
	const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#");
	const char *bracket = memchr(auth, ']', (size_t)(end - auth));
	const char *from = bracket ? bracket : auth;
	const char *colon = memchr(from, ':', (size_t)(end - from));
	int n;
	if (colon) {
		n = snprintf(out, outlen, "%.*s%s", (int)(colon - url), url, end);
	} else {
		const char *port = strncmp(url, "https://", 8) == 0 ? ":443" : ":80";
		n = snprintf(out, outlen, "%.*s%s%s", (int)(end - url), url, port, end);
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

bool webhook_twilio_verify(const char *token, size_t token_len, const char *url,
                           struct webhook_form *f, const char *signature)
{
	unsigned char want[SHA1_DIGEST_SIZE + 4];
	uint8_t got[SHA1_DIGEST_SIZE];
	size_t wlen = 0;
	char alt[WEBHOOK_MAX_URL];
	if (!signature || strlen(signature) != WEBHOOK_TWILIO_SIG_LEN ||
	    sodium_base642bin(want, sizeof want, signature, WEBHOOK_TWILIO_SIG_LEN, NULL, &wlen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 || wlen != SHA1_DIGEST_SIZE)
		return false;
	twilio_digest(token, token_len, url, f, got);
	bool ok = sodium_memcmp(got, want, SHA1_DIGEST_SIZE) == 0;
	if (!ok && url_port_variant(url, alt, sizeof alt) == 0) {
		twilio_digest(token, token_len, alt, f, got);
		ok = sodium_memcmp(got, want, SHA1_DIGEST_SIZE) == 0;
	}
	sodium_memzero(got, sizeof got);
	return ok;
}

static void meta_digest(const char *secret, size_t secret_len, const void *body, size_t len,
                        unsigned char out[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, secret_len);
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

void webhook_meta_sign(const char *secret, size_t secret_len, const void *body, size_t len,
                       char out[WEBHOOK_META_SIG_LEN + 1])
{
	unsigned char d[crypto_auth_hmacsha256_BYTES];
	meta_digest(secret, secret_len, body, len, d);
	memcpy(out, "sha256=", 7);
	util_hex_encode(d, sizeof d, out + 7);
}

bool webhook_meta_verify(const char *secret, size_t secret_len, const void *body, size_t len,
                         const char *header)
{
	unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	if (!header || strncmp(header, "sha256=", 7) != 0 ||
	    util_hex_decode(header + 7, want, sizeof want) != 0)
		return false;
	meta_digest(secret, secret_len, body, len, got);
	bool ok = sodium_memcmp(got, want, sizeof got) == 0;
	sodium_memzero(got, sizeof got);
	return ok;
}

/* A Host header we are willing to put into a URL: host or host:port. */
static bool host_ok(const char *h)
{
	if (!h || !*h || strlen(h) > 255)
		return false;
	for (const char *p = h; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("/?#@\\", *p))
			return false;
	return true;
}

int webhook_signed_url(const char *public_url, bool tls, const char *host, const char *path,
                       const char *query, char *out, size_t outlen)
{
	int n;
	const char *q = query && *query ? "?" : "";
	if (public_url && *public_url) {
		size_t blen = strlen(public_url);
		if (public_url[blen - 1] == '/')
			blen--;
		n = snprintf(out, outlen, "%.*s%s%s%s", (int)blen, public_url, path, q, *q ? query : "");
	} else {
		if (!host_ok(host))
			return -1;
		n = snprintf(out, outlen, "%s://%s%s%s%s", tls ? "https" : "http", host, path, q,
		             *q ? query : "");
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* ---- secrets ------------------------------------------------------------ */

/* Logs the source name and errno, never the contents. */
int webhook_secret_read(const char *source, const char *spec, char out[WEBHOOK_MAX_SECRET + 1],
                        size_t *len, struct rd_error *e)
{
	char path[4096], perr[192];
	if (spec && util_credential_path(spec, path, sizeof path, perr, sizeof perr)) {
		log_warn("webhook %s: %s", source, perr);
		rd_error_set(e, RD_E_SOURCE_UNAVAILABLE, "the %s webhook secret cannot be read", source);
		return -1;
	}
	FILE *f = spec ? fopen(path, "rbe") : NULL;
	size_t n = 0;
	if (f) {
		n = fread(out, 1, WEBHOOK_MAX_SECRET + 1, f);
		fclose(f);
	}
	if (n > WEBHOOK_MAX_SECRET || (f && memchr(out, '\0', n)))
		n = 0;
	char *nl = f ? memchr(out, '\n', n) : NULL;
	if (nl)
		n = (size_t)(nl - out);
	while (n && (out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
	if (n == 0) {
		log_warn("webhook %s: its secret file is missing, unreadable, empty or too long (%s)",
		         source, f ? "bad contents" : strerror(errno));
		rd_error_set(e, RD_E_SOURCE_UNAVAILABLE, "the %s webhook secret cannot be read", source);
		return -1;
	}
	*len = n;
	return 0;
}

/* ---- batches -------------------------------------------------------------- */

int webhook_batch_init(struct webhook_batch *b)
{
	*b = (struct webhook_batch){ .list = json_array(), .senders = calloc(RD_MAX_BATCH, sizeof *b->senders),
	                             .ids = calloc(RD_MAX_BATCH, sizeof *b->ids) };
	if (b->list && b->senders && b->ids)
		return 0;
	webhook_batch_free(b);
	return -1;
}

void webhook_batch_free(struct webhook_batch *b)
{
	for (size_t i = 0; b->ids && i < RD_MAX_BATCH; i++)
		free(b->ids[i]);
	free(b->ids);
	free(b->senders);
	json_decref(b->list);
	*b = (struct webhook_batch){ 0 };
}

size_t webhook_batch_size(const struct webhook_batch *b)
{
	return json_array_size(b->list);
}

json_t *webhook_batch_messages(const struct webhook_batch *b)
{
	return webhook_batch_size(b) ? json_pack("{s:O}", "messages", b->list) : NULL;
}

unsigned webhook_batch_count(const struct webhook_batch *b, enum metrics_webhook_event ev,
                             const char *kind)
{
	for (size_t i = 0; i < b->nevents; i++)
		if (b->events[i].ev == ev && strcmp(b->events[i].kind, kind) == 0)
			return b->events[i].n;
	return 0;
}

/* Counts one ev of kind (a static string); a full table counts "other". */
static void count(struct webhook_batch *b, enum metrics_webhook_event ev, const char *kind)
{
	for (size_t i = 0; i < b->nevents; i++) {
		if (b->events[i].ev == ev && strcmp(b->events[i].kind, kind) == 0) {
			b->events[i].n++;
			return;
		}
	}
	if (b->nevents == WEBHOOK_MAX_EVENTS) {
		kind = "other";
		for (size_t i = 0; i < b->nevents; i++)
			if (b->events[i].ev == ev && strcmp(b->events[i].kind, kind) == 0) {
				b->events[i].n++;
				return;
			}
		b->nevents--;   /* the last one gives way: counts stay bounded */
	}
	b->events[b->nevents++] = (struct webhook_event){ ev, kind, 1 };
}

/* The static word in known[] equal to v, or "other": provider values
 * become labels only through this. */
static const char *word_of(const char *v, const char *const *known)
{
	for (; v && *known; known++)
		if (strcmp(v, *known) == 0)
			return *known;
	return "other";
}

static int oom(struct rd_error *e)
{
	rd_error_set(e, RD_E_INTERNAL, "out of memory");
	return -1;
}

/* Appends msg (stolen) with its sender (borrowed, may be NULL) and
 * provider id (copied, may be NULL). */
static int add_turn(struct webhook_batch *b, json_t *msg, const char *sender, const char *id,
                    struct rd_error *e)
{
	size_t i = json_array_size(b->list);
	if (!msg)
		return oom(e);
	if (i >= RD_MAX_BATCH) {
		json_decref(msg);
		rd_error_set(e, RD_E_INVALID_BODY, "more than %d messages in one callback", RD_MAX_BATCH);
		return -1;
	}
	if (id && *id && !(b->ids[i] = strdup(id))) {
		json_decref(msg);
		return oom(e);
	}
	if (json_array_append_new(b->list, msg)) {
		free(b->ids[i]);
		b->ids[i] = NULL;
		return oom(e);
	}
	b->senders[i] = sender;
	return 0;
}

/* {"conversation_id", "text", "role", "channel"[, "metadata"]}; takes meta. */
static json_t *turn(const char *conv, const char *text, const char *role, enum rd_channel ch,
                    json_t *meta)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "conversation_id", conv, "text", text, "role",
	                      role, "channel", rd_channel_name(ch));
	if (o && meta && json_object_size(meta) && json_object_set(o, "metadata", meta)) {
		json_decref(o);
		o = NULL;
	}
	json_decref(meta);
	return o;
}

/* Consent carried by a webhook (issue 17, consent.h): the decision state,
 * of kind `kind` or "transcription", taken by `method`, as the turn's
 * "consent" field, which ingest validates and records. msg is returned
 * unchanged when state is NULL, and freed (NULL returned) when out of
 * memory. */
static json_t *with_consent(json_t *msg, const char *state, const char *kind, const char *method)
{
	if (msg && state &&
	    json_object_set_new(msg, "consent", json_pack("{s:s, s:s, s:s}", "kind",
	                        kind ? kind : "transcription", "state", state, "method", method))) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

/* ---- Dialogflow CX ------------------------------------------------------ */

/* Proto3 JSON is camelCase, but parsers accept the original field names
 * too; take either. */
static json_t *cx_get(json_t *o, const char *camel, const char *snake)
{
	json_t *v = json_object_get(o, camel);
	return v ? v : json_object_get(o, snake);
}

static const char *cx_str(json_t *o, const char *camel, const char *snake)
{
	const char *v = json_string_value(cx_get(o, camel, snake));
	return v && *v ? v : NULL;
}

/* Dialogflow CX WebhookRequest: the session id (the last segment of
 * sessionInfo.session) or NULL. Borrows from root. */
static const char *cx_session(json_t *root)
{
	const char *s = json_string_value(json_object_get(cx_get(root, "sessionInfo", "session_info"),
	                                                  "session"));
	const char *slash = s ? strrchr(s, '/') : NULL;
	s = slash ? slash + 1 : s;
	return s && *s ? s : NULL;
}

#define CX_MAX_PARAMS 56   /* of RD_MAX_META_KEYS, leaving room for ours */

/* The user turn's metadata: input kind, languageCode, and each session
 * parameter as "param.NAME" (structured values as JSON text, redacted as
 * a string like any other). */
static json_t *cx_meta(json_t *root, const char *input)
{
	json_t *meta = json_pack("{s:s}", "input", input);
	const char *lang = cx_str(root, "languageCode", "language_code"), *k;
	json_t *params = json_object_get(cx_get(root, "sessionInfo", "session_info"), "parameters"), *v;
	size_t n = 0;
	if (!meta || (lang && json_object_set_new(meta, "language_code", json_string(lang))))
		goto fail;
	json_object_foreach(params, k, v) {
		char key[96];
		json_t *nv;
		if (n++ == CX_MAX_PARAMS)
			break;
		snprintf(key, sizeof key, "param.%s", k);
		if (json_is_object(v) || json_is_array(v)) {
			char *txt = json_dumps(v, JSON_COMPACT);
			nv = txt ? json_string(txt) : NULL;
			free(txt);
		} else {
			nv = json_incref(v);
		}
		if (!nv || json_object_set_new(meta, key, nv))
			goto fail;
	}
	return meta;
fail:
	json_decref(meta);
	return NULL;
}

/* One ResponseMessage's text (text.text[] joined by newlines) in out, or
 * -1 when it has none (a payload, an audio or handoff message). */
static int cx_response_text(json_t *msg, struct buf *out)
{
	json_t *parts = json_object_get(json_object_get(msg, "text"), "text"), *p;
	size_t i;
	out->len = 0;
	json_array_foreach(parts, i, p) {
		const char *t = json_string_value(p);
		if (t && ((out->len && buf_append(out, "\n", 1)) || buf_append_str(out, t)))
			return -2;
	}
	if (!out->len)
		return -1;
	return buf_append(out, "", 1) ? -2 : 0;   /* NUL-terminated, not counted */
}

static int cx_bot_turns(json_t *root, const char *session, enum rd_channel ch, const char *rid,
                        struct webhook_batch *b, struct rd_error *e)
{
	json_t *msgs = json_object_get(root, "messages"), *m;
	struct buf text = { 0 };
	size_t i;
	int rc = 0;
	json_array_foreach(msgs, i, m) {
		char id[160];
		int t = cx_response_text(m, &text);
		if (t == -2) {
			rc = oom(e);
			break;
		}
		if (t == -1) {
			count(b, METRICS_WEBHOOK_UNHANDLED, "response_other");
			continue;
		}
		snprintf(id, sizeof id, "%s/bot/%zu", rid ? rid : "", i);
		text.len--;
		if ((rc = add_turn(b, turn(session, text.data, "bot", ch, NULL), NULL, rid ? id : NULL, e)))
			break;
	}
	buf_free(&text);
	return rc;
}

int webhook_cx_collect(json_t *root, struct webhook_batch *b, struct rd_error *e)
{
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "a Dialogflow CX WebhookRequest is a JSON object");
		return -1;
	}
	const char *text = cx_str(root, "text", "text"), *transcript = cx_str(root, "transcript", "transcript");
	const char *dtmf = cx_str(root, "dtmfDigits", "dtmf_digits");
	const char *rid = cx_str(root, "detectIntentResponseId", "detect_intent_response_id");
	json_t *tel = json_object_get(json_object_get(root, "payload"), "telephony");
	enum rd_channel ch = transcript || dtmf || json_is_object(tel) ? CH_VOICE : CH_WEB;
	const char *said = text ? text : transcript ? transcript : dtmf;
	json_t *responses = json_object_get(root, "messages");
	b->sender = json_string_value(cx_get(tel, "caller_id", "callerId"));
	if (!said && json_array_size(responses) == 0) {   /* an event or intent trigger alone */
		count(b, METRICS_WEBHOOK_UNHANDLED,
		      cx_str(root, "triggerEvent", "trigger_event") ? "event"
		      : cx_str(root, "triggerIntent", "trigger_intent") ? "intent" : "empty");
		return 0;
	}
	const char *session = cx_session(root);
	if (!session) {
		rd_error_set(e, RD_E_MISSING_FIELD, "sessionInfo.session is required");
		return -1;
	}
	if (said) {
		json_t *meta = cx_meta(root, text ? "text" : transcript ? "transcript" : "dtmf");
		if (!meta)
			return oom(e);
		/* The agent's consent prompt sets the session parameters
		 * redactd_consent and redactd_consent_kind; they come back on every
		 * turn, and ingest records only a change. */
		json_t *params = json_object_get(cx_get(root, "sessionInfo", "session_info"), "parameters");
		json_t *msg = with_consent(turn(session, said, "user", ch, meta),
		                           json_string_value(json_object_get(params, "redactd_consent")),
		                           json_string_value(json_object_get(params, "redactd_consent_kind")),
		                           "ivr");
		if (add_turn(b, msg, NULL, rid, e))
			return -1;
	}
	return cx_bot_turns(root, session, ch, rid, b, e);
}

/* ---- Twilio ------------------------------------------------------------- */

bool webhook_twilio_body_ok(const void *body, size_t len, const char *hex)
{
	unsigned char want[crypto_hash_sha256_BYTES], got[crypto_hash_sha256_BYTES];
	if (!hex || strlen(hex) != 2 * sizeof want || util_hex_decode(hex, want, sizeof want) != 0)
		return false;
	crypto_hash_sha256(got, body, len);
	return sodium_memcmp(got, want, sizeof got) == 0;
}

int webhook_twilio_json_form(json_t *root, struct webhook_form *out, struct rd_error *e)
{
	const char *k;
	json_t *v;
	*out = (struct webhook_form){ 0 };
	if (!json_is_object(root) || json_object_size(root) > WEBHOOK_MAX_PARAMS) {
		rd_error_set(e, RD_E_INVALID_BODY, "a Twilio JSON webhook is a flat object of at most %d fields",
		              WEBHOOK_MAX_PARAMS);
		return -1;
	}
	if (!(out->v = calloc(WEBHOOK_MAX_PARAMS, sizeof *out->v)))
		return oom(e);
	json_object_foreach(root, k, v) {
		char num[64];
		const char *val = json_string_value(v);
		if (json_is_integer(v))
			snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), val = num;
		else if (json_is_real(v))
			snprintf(num, sizeof num, "%.17g", json_real_value(v)), val = num;
		else if (json_is_boolean(v))
			val = json_is_true(v) ? "true" : "false";
		if (!val || memchr(val, '\0', json_is_string(v) ? json_string_length(v) : strlen(val)) != NULL)
			continue;   /* objects, arrays, null; a string holding NUL */
		struct webhook_param p = { strdup(k), strdup(val) };
		if (!p.name || !p.value) {
			free(p.name);
			free(p.value);
			webhook_form_free(out);
			return oom(e);
		}
		out->v[out->n++] = p;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, param_cmp);
	return 0;
}

static const char *tw_get(const struct webhook_form *f, const char *name)
{
	const char *v = webhook_form_get(f, name);
	return v && *v ? v : NULL;
}

/* Every string field a turn takes must be UTF-8 (Twilio's are; a forged
 * one with a valid signature still must not reach JSON). */
static bool utf8(const char *s)
{
	return !s || util_utf8_valid(s, strlen(s));
}

/* The form fields redactd_consent and redactd_consent_kind, which a Studio
 * flow or Function adds to the callback it forwards, on msg (with_consent). */
static json_t *tw_consent(const struct webhook_form *f, json_t *msg, const char *method)
{
	const char *state = tw_get(f, "redactd_consent"), *kind = tw_get(f, "redactd_consent_kind");
	if (!utf8(state) || !utf8(kind))
		return msg;   /* not a decision ingest could read; the turn is stored without it */
	return with_consent(msg, state, kind, method);
}

/* A callback without a message id of its own: the idempotency token, or a
 * digest of every field (identical on a retry), as "kind:hex". */
static int tw_fallback_id(const struct webhook_form *f, const char *idem, const char *kind,
                          char *out, size_t len)
{
	unsigned char d[16];
	char hex[33];
	if (idem && *idem)
		return snprintf(out, len, "%s:idem:%s", kind, idem) < (int)len ? 0 : -1;
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof d);
	for (size_t i = 0; i < f->n; i++) {
		crypto_generichash_update(&st, (const unsigned char *)f->v[i].name, strlen(f->v[i].name) + 1);
		crypto_generichash_update(&st, (const unsigned char *)f->v[i].value, strlen(f->v[i].value) + 1);
	}
	crypto_generichash_final(&st, d, sizeof d);
	util_hex_encode(d, sizeof d, hex);
	return snprintf(out, len, "%s:%s", kind, hex) < (int)len ? 0 : -1;
}

static const char *strip_wa(const char *s)
{
	return s && strncmp(s, "whatsapp:", 9) == 0 ? s + 9 : s;
}

static const char *const tw_statuses[] = { "accepted", "scheduled", "canceled", "queued", "sending",
                                           "sent", "failed", "delivered", "undelivered", "receiving",
                                           "received", "read", "partially_delivered", NULL };

/* Messaging: SMS, MMS (Body is the caption), WhatsApp through Twilio. */
static int tw_message(const struct webhook_form *f, int location_mode, struct webhook_batch *b,
                      struct rd_error *e)
{
	const char *from = tw_get(f, "From"), *body = webhook_form_get(f, "Body");
	const char *sid = tw_get(f, "MessageSid") ? tw_get(f, "MessageSid")
	                  : tw_get(f, "SmsMessageSid") ? tw_get(f, "SmsMessageSid") : tw_get(f, "SmsSid");
	const char *media = tw_get(f, "NumMedia");
	bool wa = from && strncmp(from, "whatsapp:", 9) == 0;
	if (!from || (wa && !from[9]) || !utf8(body) || !utf8(from) || !utf8(sid)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "a Twilio message needs a From and UTF-8 text");
		return -1;
	}
	json_t *meta = json_object();
	if (!meta)
		return oom(e);
	const char *text = body ? body : "";
	if (tw_get(f, "Latitude") && (!body || !*body)) {   /* a WhatsApp location */
		if (location_mode == SOURCE_LOCATION_DROP) {
			json_decref(meta);
			count(b, METRICS_WEBHOOK_DROPPED, "location");
			return 0;
		}
		text = "[LOCATION]";
		if (json_object_set_new(meta, "type", json_string("location")))
			goto nomem;
	} else if (media && strcmp(media, "0") != 0 && utf8(media) &&
	           json_object_set_new(meta, "num_media", json_string(media))) {
		goto nomem;
	}
	return add_turn(b, tw_consent(f, turn(from, text, "user", wa ? CH_WHATSAPP : CH_SMS, meta),
	                              wa ? "whatsapp" : "sms"),
	                strip_wa(from), sid, e);
nomem:
	json_decref(meta);
	return oom(e);
}

/* Voice: a <Gather> result (speech or keypad) or a recording's
 * transcription, in the call's conversation. */
static int tw_voice(const struct webhook_form *f, const char *idem, const char *text,
                    const char *input, const char *sid, struct webhook_batch *b, struct rd_error *e)
{
	const char *call = tw_get(f, "CallSid"), *from = tw_get(f, "From");
	char id[256];
	if (!from)
		from = tw_get(f, "Caller");
	if (!call || !utf8(text) || !utf8(call) || !utf8(from) || !utf8(sid)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "a Twilio voice callback needs a CallSid and UTF-8 text");
		return -1;
	}
	if (!sid && tw_fallback_id(f, idem, input, id, sizeof id) == 0)
		sid = id;
	json_t *meta = json_pack("{s:s}", "input", input);
	return add_turn(b, meta ? tw_consent(f, turn(call, text, "user", CH_VOICE, meta), "ivr") : NULL,
	                from, sid, e);
}

static enum rd_channel tw_conv_channel(const char *source)
{
	static const struct { const char *name; enum rd_channel ch; } map[] = {
		{ "SMS", CH_SMS }, { "WHATSAPP", CH_WHATSAPP }, { "SDK", CH_WEB }, { "CHAT", CH_WEB },
		{ "EMAIL", CH_EMAIL },
	};
	for (size_t i = 0; source && i < RD_ARRAY_LEN(map); i++)
		if (strcasecmp(source, map[i].name) == 0)
			return map[i].ch;
	return CH_OTHER;
}

static const char *const tw_conv_events[] = { "onConversationAdd", "onConversationAdded",
	"onConversationUpdate", "onConversationUpdated", "onConversationRemove", "onConversationRemoved",
	"onConversationStateUpdated", "onMessageUpdate", "onMessageUpdated", "onMessageRemove",
	"onMessageRemoved", "onParticipantAdd", "onParticipantAdded", "onParticipantUpdate",
	"onParticipantUpdated", "onParticipantRemove", "onParticipantRemoved", "onUserAdded",
	"onUserUpdate", "onUserUpdated", NULL };

/* Twilio Conversations: onMessageAdded (post) / onMessageAdd (pre) are
 * turns; delivery updates are statuses; other events are counted. */
static int tw_conversations(const struct webhook_form *f, const char *event,
                            struct webhook_batch *b, struct rd_error *e)
{
	if (strcmp(event, "onDeliveryUpdated") == 0) {
		count(b, METRICS_WEBHOOK_STATUS, word_of(tw_get(f, "Status"), tw_statuses));
		return 0;
	}
	if (strcmp(event, "onMessageAdded") != 0 && strcmp(event, "onMessageAdd") != 0) {
		count(b, METRICS_WEBHOOK_UNHANDLED, word_of(event, tw_conv_events));
		return 0;
	}
	const char *conv = tw_get(f, "ConversationSid"), *body = webhook_form_get(f, "Body");
	const char *author = tw_get(f, "Author"), *sid = tw_get(f, "MessageSid");
	if (!conv || !utf8(conv) || !utf8(body) || !utf8(author) || !utf8(sid)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "a Conversations message needs a ConversationSid and UTF-8 text");
		return -1;
	}
	json_t *meta = json_object();
	const char *media = tw_get(f, "Media");
	if (!meta || (media && json_object_set_new(meta, "media", json_true()))) {
		json_decref(meta);
		return oom(e);
	}
	return add_turn(b, turn(conv, body ? body : "", "user", tw_conv_channel(tw_get(f, "Source")), meta),
	                strip_wa(author), sid, e);
}

int webhook_twilio_collect(const struct webhook_form *f, const char *idem_token,
                           int location_mode, struct webhook_batch *b, struct rd_error *e)
{
	const char *event = tw_get(f, "EventType"), *speech = tw_get(f, "SpeechResult");
	const char *digits = tw_get(f, "Digits"), *ttext = tw_get(f, "TranscriptionText");
	const char *tstatus = tw_get(f, "TranscriptionStatus");
	const char *status = tw_get(f, "MessageStatus") ? tw_get(f, "MessageStatus") : tw_get(f, "SmsStatus");
	const char *body = tw_get(f, "Body"), *media = tw_get(f, "NumMedia");
	if (event)
		return tw_conversations(f, event, b, e);
	if (tw_get(f, "TranscriptionSid") || ttext) {
		if (!ttext || (tstatus && strcmp(tstatus, "completed") != 0)) {
			count(b, METRICS_WEBHOOK_UNHANDLED, "transcription_failed");
			return 0;
		}
		return tw_voice(f, idem_token, ttext, "transcription", tw_get(f, "TranscriptionSid"), b, e);
	}
	if (speech)
		return tw_voice(f, idem_token, speech, "speech", NULL, b, e);
	if (digits && tw_get(f, "CallSid"))
		return tw_voice(f, idem_token, digits, "dtmf", NULL, b, e);
	bool inbound = !status || strcmp(status, "received") == 0;
	if (body || (inbound && ((media && strcmp(media, "0") != 0) || tw_get(f, "Latitude"))))
		return tw_message(f, location_mode, b, e);
	if (status) {
		count(b, METRICS_WEBHOOK_STATUS, word_of(status, tw_statuses));
		return 0;
	}
	if (tw_get(f, "CallSid")) {   /* a call starting, ending, or a <Gather> with no input */
		count(b, METRICS_WEBHOOK_UNHANDLED, tw_get(f, "CallStatus") ? "call" : "voice");
		return 0;
	}
	if (tw_get(f, "From") && (tw_get(f, "MessageSid") || tw_get(f, "SmsSid"))) {
		count(b, METRICS_WEBHOOK_UNHANDLED, "empty");   /* an inbound with nothing in it */
		return 0;
	}
	count(b, METRICS_WEBHOOK_UNHANDLED, "unknown");
	return 0;
}

/* ---- WhatsApp Cloud API ------------------------------------------------ */

/* Constant time whatever the lengths: compare keyed-free digests. */
static bool equal_ct(const char *a, const char *b)
{
	unsigned char ha[32], hb[32];
	crypto_generichash(ha, sizeof ha, (const unsigned char *)a, strlen(a), NULL, 0);
	crypto_generichash(hb, sizeof hb, (const unsigned char *)b, strlen(b), NULL, 0);
	return sodium_memcmp(ha, hb, sizeof ha) == 0;
}

/* Meta sends a number; echo only short printable ASCII. */
static bool challenge_ok(const char *c)
{
	size_t n = c ? strlen(c) : 0;
	for (size_t i = 0; i < n; i++)
		if (c[i] <= ' ' || c[i] >= 0x7f || c[i] == '<' || c[i] == '>')
			return false;
	return n > 0 && n <= 256;
}

bool webhook_wa_handshake(const char *mode, const char *token, const char *challenge,
                          const char *verify_token)
{
	return mode && strcmp(mode, "subscribe") == 0 && token && equal_ct(token, verify_token) &&
	       challenge_ok(challenge);
}

static const char *const wa_statuses[] = { "sent", "delivered", "read", "failed", "deleted",
                                           "warning", NULL };
static const char *const wa_unhandled[] = { "unsupported", "order", "system", "request_welcome",
                                            "unknown", "ephemeral", NULL };
static const char *const wa_media[] = { "image", "video", "document", "audio", "sticker", NULL };

/* Appends "[WORD]" n times (at most 20) separated by spaces. */
static int tokens(struct buf *b, const char *word, size_t n)
{
	for (size_t i = 0; i < n && i < 20; i++)
		if (buf_printf(b, " [%s]", word))
			return -1;
	return 0;
}

/* Shared contacts: every name, phone and email becomes its token; nothing
 * of the card is kept. */
static int wa_contacts_text(json_t *m, struct buf *out)
{
	json_t *list = json_object_get(m, "contacts"), *c;
	size_t i;
	if (buf_append_str(out, "shared contact:"))
		return -1;
	json_array_foreach(list, i, c) {
		if ((i && buf_append(out, ";", 1)) || tokens(out, "NAME", json_object_get(c, "name") ? 1 : 0) ||
		    tokens(out, "PHONE", json_array_size(json_object_get(c, "phones"))) ||
		    tokens(out, "EMAIL", json_array_size(json_object_get(c, "emails"))))
			return -1;
	}
	return buf_append(out, "", 1);
}

static const char *sub_str(json_t *m, const char *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(m, obj), key));
}

/* The text and metadata of one stored message type; 1 when the type is
 * not one that is stored (counted by the caller), -1 out of memory or a
 * text message without its body. */
static int wa_content(json_t *m, const char *type, int location_mode, struct buf *txt,
                      json_t *meta, struct webhook_batch *b, struct rd_error *e)
{
	const char *t = NULL;
	int rc = 0;
	if (strcmp(type, "text") == 0) {
		if (!(t = sub_str(m, "text", "body"))) {
			rd_error_set(e, RD_E_INVALID_FIELD, "a text message needs from, text.body and a string timestamp");
			return -1;
		}
	} else if (strcmp(type, "interactive") == 0) {
		const char *it = sub_str(m, "interactive", "type");
		json_t *r = json_object_get(json_object_get(m, "interactive"), it ? it : "");
		if (!it || (strcmp(it, "button_reply") && strcmp(it, "list_reply")) || !json_is_object(r))
			return 1;
		t = json_string_value(json_object_get(r, "title"));
		const char *desc = json_string_value(json_object_get(r, "description"));
		if (desc && *desc) {
			rc = buf_printf(txt, "%s\n%s", t ? t : "", desc);
			t = NULL;
		}
		const char *rid = json_string_value(json_object_get(r, "id"));
		rc = rc || (rid && json_object_set_new(meta, "reply_id", json_string(rid))) ||
		     json_object_set_new(meta, "type", json_string(it));
	} else if (strcmp(type, "button") == 0) {
		const char *payload = sub_str(m, "button", "payload");
		t = sub_str(m, "button", "text");
		rc = json_object_set_new(meta, "type", json_string("button")) ||
		     (payload && json_object_set_new(meta, "button_payload", json_string(payload)));
	} else if (strcmp(word_of(type, wa_media), "other") != 0) {
		const char *mime = sub_str(m, type, "mime_type");
		t = sub_str(m, type, "caption");
		rc = json_object_set_new(meta, "type", json_string(type)) ||
		     (mime && json_object_set_new(meta, "mime_type", json_string(mime)));
	} else if (strcmp(type, "location") == 0) {
		if (location_mode == SOURCE_LOCATION_DROP) {
			count(b, METRICS_WEBHOOK_DROPPED, "location");
			return 2;
		}
		t = "[LOCATION]";
		rc = json_object_set_new(meta, "type", json_string("location"));
	} else if (strcmp(type, "contacts") == 0) {
		rc = wa_contacts_text(m, txt) || json_object_set_new(meta, "type", json_string("contacts"));
	} else if (strcmp(type, "reaction") == 0) {
		const char *to = sub_str(m, "reaction", "message_id");
		t = sub_str(m, "reaction", "emoji");
		rc = json_object_set_new(meta, "type", json_string("reaction")) ||
		     (to && json_object_set_new(meta, "reaction_to", json_string(to)));
	} else {
		return 1;
	}
	if (rc || (t && buf_append_str(txt, t)) || buf_append(txt, "", 1))
		return oom(e);
	return 0;
}

/* One messages[] item. */
static int wa_message(json_t *m, const char *business, int location_mode, struct webhook_batch *b,
                      struct rd_error *e)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *from = json_string_value(json_object_get(m, "from"));
	const char *wamid = json_string_value(json_object_get(m, "id"));
	json_t *ts = json_object_get(m, "timestamp");
	if (!from || !*from || (ts && !json_is_string(ts)) || !type) {
		rd_error_set(e, RD_E_INVALID_FIELD, "a message needs a type, from and a string timestamp");
		return -1;
	}
	struct buf txt = { 0 };
	char conv[RD_MAX_ID_LEN + 1];
	json_t *meta = json_object();
	if (!meta)
		return oom(e);
	int rc = wa_content(m, type, location_mode, &txt, meta, b, e);
	if (rc == 1)
		count(b, METRICS_WEBHOOK_UNHANDLED, word_of(type, wa_unhandled));
	if (rc) {
		json_decref(meta);
		buf_free(&txt);
		return rc < 0 ? -1 : 0;
	}
	int n = business ? snprintf(conv, sizeof conv, "%s@%s", from, business)
	                 : snprintf(conv, sizeof conv, "%s", from);
	if (n < 0 || (size_t)n >= sizeof conv) {   /* never a truncated, shared conversation */
		json_decref(meta);
		buf_free(&txt);
		rd_error_set(e, RD_E_INVALID_FIELD, "from and phone_number_id are longer than %d bytes",
		              RD_MAX_ID_LEN);
		return -1;
	}
	json_t *o = turn(conv, txt.data, "user", CH_WHATSAPP, meta);
	buf_free(&txt);
	if (o && ts && json_object_set(o, "ts", ts)) {
		json_decref(o);
		o = NULL;
	}
	return add_turn(b, o, from, wamid, e);
}

/* One changes[].value of field "messages". */
static int wa_value(json_t *v, int location_mode, struct webhook_batch *b, struct rd_error *e)
{
	json_t *msgs = json_object_get(v, "messages"), *sts = json_object_get(v, "statuses");
	json_t *errs = json_object_get(v, "errors"), *x;
	const char *business = json_string_value(json_object_get(json_object_get(v, "metadata"),
	                                                          "phone_number_id"));
	size_t k;
	if ((msgs && !json_is_array(msgs)) || (sts && !json_is_array(sts)) || (errs && !json_is_array(errs)))
		goto bad;
	json_array_foreach(sts, k, x)
		count(b, METRICS_WEBHOOK_STATUS, word_of(json_string_value(json_object_get(x, "status")),
		                                         wa_statuses));
	json_array_foreach(errs, k, x)
		count(b, METRICS_WEBHOOK_UNHANDLED, "error");
	json_array_foreach(msgs, k, x) {
		if (!json_is_object(x))
			goto bad;
		if (wa_message(x, business && *business ? business : NULL, location_mode, b, e))
			return -1;
	}
	return 0;
bad:
	rd_error_set(e, RD_E_INVALID_BODY, "not a WhatsApp Cloud API notification");
	return -1;
}

/* entry[].changes[]: absent levels are fine, wrongly typed ones a 422;
 * fields other than "messages" are counted. */
int webhook_wa_collect(json_t *root, int location_mode, struct webhook_batch *b, struct rd_error *e)
{
	json_t *entry = json_object_get(root, "entry"), *ent, *ch;
	size_t i, j;
	if (!json_is_object(root) || (entry && !json_is_array(entry)))
		goto bad;
	if (!entry || json_array_size(entry) == 0)
		count(b, METRICS_WEBHOOK_UNHANDLED, "empty");
	json_array_foreach(entry, i, ent) {
		json_t *changes = json_object_get(ent, "changes");
		if (!json_is_object(ent) || (changes && !json_is_array(changes)))
			goto bad;
		json_array_foreach(changes, j, ch) {
			const char *field = json_string_value(json_object_get(ch, "field"));
			json_t *v = json_object_get(ch, "value");
			if (!json_is_object(ch) || (v && !json_is_object(v)))
				goto bad;
			if (field && strcmp(field, "messages") != 0) {
				count(b, METRICS_WEBHOOK_UNHANDLED, "field");
				continue;
			}
			if (wa_value(v, location_mode, b, e))
				return -1;
		}
	}
	return 0;
bad:
	rd_error_set(e, RD_E_INVALID_BODY, "not a WhatsApp Cloud API notification");
	return -1;
}
