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

/* ---- Dialogflow CX ------------------------------------------------------ */

/* Proto3 JSON is camelCase, but parsers accept the original field names
 * too; take either. */
static json_t *cx_get(json_t *o, const char *camel, const char *snake)
{
	json_t *v = json_object_get(o, camel);
	return v ? v : json_object_get(o, snake);
}

/* Dialogflow CX WebhookRequest: the session id (the last segment of
 * sessionInfo.session) or NULL. Borrows from root. */
static const char *webhook_cx_session(json_t *root)
{
	const char *s = json_string_value(json_object_get(cx_get(root, "sessionInfo", "session_info"),
	                                                  "session"));
	const char *slash = s ? strrchr(s, '/') : NULL;
	s = slash ? slash + 1 : s;
	return s && *s ? s : NULL;
}

/*
 * The end user's utterance and its channel. Voice when the query was audio
 * (`transcript` is set only for AudioInput) or when the CX Phone Gateway
 * announced itself in payload.telephony; *caller gets its caller_id (E.164,
 * redacted by Google for trial agents) to link the caller as a subject.
 */
static const char *webhook_cx_utterance(json_t *root, enum rd_channel *ch, const char **caller)
{
	const char *text = json_string_value(json_object_get(root, "text"));
	const char *transcript = json_string_value(json_object_get(root, "transcript"));
	json_t *tel = json_object_get(json_object_get(root, "payload"), "telephony");
	*caller = json_string_value(cx_get(tel, "caller_id", "callerId"));
	*ch = transcript || json_is_object(tel) ? CH_VOICE : CH_WEB;
	const char *u = text && *text ? text : transcript;
	return u && *u ? u : NULL;
}

/* Consent carried by a webhook (issue 17): the decision `state`, of kind
 * `kind` or "transcription", taken by `method`, as the "consent" field of
 * the one message in msgs; ingest validates and records it. Nothing when
 * state is NULL. -1 when out of memory. */
static int webhook_add_consent(json_t *msgs, const char *state, const char *kind, const char *method)
{
	json_t *m = json_array_get(json_object_get(msgs, "messages"), 0);
	if (!state)
		return 0;
	return json_object_set_new(m, "consent", json_pack("{s:s, s:s, s:s}", "kind",
	                           kind ? kind : "transcription", "state", state, "method", method));
}

/* CX: the session parameters redactd_consent and redactd_consent_kind
 * (strings), set by the agent's consent prompt; they come back on every
 * turn, and ingest records only a change. */
static int webhook_cx_consent(json_t *root, json_t *msgs)
{
	json_t *p = cx_get(cx_get(root, "sessionInfo", "session_info"), "parameters", "parameters");
	return webhook_add_consent(msgs, json_string_value(json_object_get(p, "redactd_consent")),
	                           json_string_value(json_object_get(p, "redactd_consent_kind")), "ivr");
}

int webhook_cx_messages(json_t *root, json_t **msgs, enum rd_channel *ch, const char **caller,
                        struct rd_error *e)
{
	*msgs = NULL;
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "a Dialogflow CX WebhookRequest is a JSON object");
		return -1;
	}
	const char *text = webhook_cx_utterance(root, ch, caller);
	if (!text)
		return 0;   /* an event or intent trigger: nothing the user said */
	const char *session = webhook_cx_session(root);
	if (!session) {
		rd_error_set(e, RD_E_MISSING_FIELD, "sessionInfo.session is required");
		return -1;
	}
	*msgs = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "messages", "conversation_id", session, "text",
	                  text, "role", "user", "channel", rd_channel_name(*ch));
	if (!*msgs || webhook_cx_consent(root, *msgs)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- Twilio ------------------------------------------------------------- */

/* Twilio: the form fields redactd_consent and redactd_consent_kind (a
 * Studio flow or Function adds them to the callback it forwards). */
static int webhook_twilio_consent(const struct webhook_form *f, json_t *msgs, bool wa)
{
	return webhook_add_consent(msgs, webhook_form_get(f, "redactd_consent"),
	                           webhook_form_get(f, "redactd_consent_kind"), wa ? "whatsapp" : "sms");
}

/* Body is the text, From the conversation; a callback without a Body (a
 * status callback, or media only) carries no message. */
int webhook_twilio_messages(const struct webhook_form *f, json_t **msgs, enum rd_channel *ch,
                            const char **sender, struct rd_error *e)
{
	const char *text = webhook_form_get(f, "Body"), *from = webhook_form_get(f, "From");
	*msgs = NULL;
	if (!text || !*text)
		return 0;
	if (!from || !*from || !util_utf8_valid(text, strlen(text)) || !util_utf8_valid(from, strlen(from))) {
		rd_error_set(e, RD_E_INVALID_FIELD, "a Twilio message needs a From and UTF-8 text");
		return -1;
	}
	bool wa = strncmp(from, "whatsapp:", 9) == 0;
	if (wa && !from[9]) {   /* the prefix alone names nobody */
		rd_error_set(e, RD_E_INVALID_FIELD, "a Twilio message needs a From and UTF-8 text");
		return -1;
	}
	*ch = wa ? CH_WHATSAPP : CH_SMS;
	*sender = wa ? from + 9 : from;
	*msgs = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "messages", "conversation_id", from, "text", text,
	                  "role", "user", "channel", wa ? "whatsapp" : "sms");
	if (!*msgs || webhook_twilio_consent(f, *msgs, wa)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
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

/* One messages[] item: a text message becomes a message object appended
 * to out and its sender to senders; other types are skipped. The contact's
 * profile name is never read, so it is stored nowhere. */
static int wa_message(json_t *m, json_t *out, const char **senders, struct rd_error *e)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	if (!type || strcmp(type, "text") != 0)
		return 0;
	const char *from = json_string_value(json_object_get(m, "from"));
	const char *body = json_string_value(json_object_get(json_object_get(m, "text"), "body"));
	json_t *ts = json_object_get(m, "timestamp");
	if (!from || !*from || !body || (ts && !json_is_string(ts))) {
		rd_error_set(e, RD_E_INVALID_FIELD, "a text message needs from, text.body and a string timestamp");
		return -1;
	}
	if (!*body)
		return 0;
	if (json_array_size(out) >= RD_MAX_BATCH) {
		rd_error_set(e, RD_E_INVALID_BODY, "more than %d messages in one notification", RD_MAX_BATCH);
		return -1;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "conversation_id", from, "text", body, "role", "user",
	                      "channel", "whatsapp");
	if (!o || (ts && json_object_set(o, "ts", ts)) || json_array_append_new(out, o)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	senders[json_array_size(out) - 1] = from;
	return 0;
}

/* entry[].changes[].value.messages[]: absent levels are fine (other
 * notification fields), wrongly typed ones are a 422. */
int webhook_wa_collect(json_t *root, json_t *out, const char **senders, struct rd_error *e)
{
	json_t *entry = json_object_get(root, "entry"), *ent, *ch, *m;
	size_t i, j, k;
	if (!json_is_object(root) || (entry && !json_is_array(entry)))
		goto bad;
	json_array_foreach(entry, i, ent) {
		json_t *changes = json_object_get(ent, "changes");
		if (!json_is_object(ent) || (changes && !json_is_array(changes)))
			goto bad;
		json_array_foreach(changes, j, ch) {
			json_t *msgs = json_object_get(json_object_get(ch, "value"), "messages");
			if (!json_is_object(ch) || (msgs && !json_is_array(msgs)))
				goto bad;
			json_array_foreach(msgs, k, m) {
				if (!json_is_object(m))
					goto bad;
				if (wa_message(m, out, senders, e))
					return -1;
			}
		}
	}
	return 0;
bad:
	rd_error_set(e, RD_E_INVALID_BODY, "not a WhatsApp Cloud API notification");
	return -1;
}

int webhook_wa_messages(json_t *root, json_t **msgs, const char **senders, struct rd_error *e)
{
	json_t *list = json_array();
	*msgs = NULL;
	if (!list) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	int rc = webhook_wa_collect(root, list, senders, e);
	if (rc == 0 && json_array_size(list) && !(*msgs = json_pack("{s:O}", "messages", list))) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		rc = -1;
	}
	json_decref(list);
	return rc;
}
