/*
 * webhook.h — what the webhook routes compute before ingesting: form
 * decoding and the signature checks of Twilio and Meta (WhatsApp).
 *
 * The HTTP handlers themselves (POST /v1/webhooks/...) live in webhook.c
 * too and are declared in http_internal.h; this header holds the pure
 * functions, so unit tests and the fuzz harness reach them without a
 * connection. Secrets and decoded values are wiped when freed.
 */
#ifndef REDACTD_WEBHOOK_H
#define REDACTD_WEBHOOK_H

#include "redactd.h"

#include <jansson.h>

struct rd_error;

#define WEBHOOK_MAX_PARAMS   256    /* form fields in one callback */
#define WEBHOOK_MAX_SECRET   512    /* bytes of an auth token / app secret */
#define WEBHOOK_MAX_URL      4096   /* the URL a callback was signed for */
#define WEBHOOK_TWILIO_SIG_LEN 28   /* base64 of a 20-byte HMAC-SHA1 */
#define WEBHOOK_META_SIG_LEN   71   /* "sha256=" + 64 hex digits */

struct webhook_param {
	char *name, *value;            /* decoded, NUL-terminated, no NUL inside */
};

struct webhook_form {
	struct webhook_param *v;
	size_t n;
};

/*
 * Decode an application/x-www-form-urlencoded body ('+' is a space, %XX a
 * byte; a field without '=' has an empty value; empty fields are skipped).
 * Returns 0 and fills *out (caller frees with webhook_form_free), or -1 on a
 * malformed escape, a decoded NUL, more than WEBHOOK_MAX_PARAMS fields or
 * out of memory (then *out is empty).
 */
int webhook_form_parse(const char *body, size_t len, struct webhook_form *out) RD_WARN_UNUSED;
void webhook_form_free(struct webhook_form *f);    /* wipes; an empty form is a no-op */
/* The first value of `name`, or NULL. */
const char *webhook_form_get(const struct webhook_form *f, const char *name);

/*
 * X-Twilio-Signature: base64(HMAC-SHA1(token, url + name1 + value1 + ...))
 * over the fields sorted by name (then value). Sorts f in place. Writes
 * WEBHOOK_TWILIO_SIG_LEN characters and a NUL into out.
 */
void webhook_twilio_sign(const char *token, size_t token_len, const char *url,
                         struct webhook_form *f, char out[WEBHOOK_TWILIO_SIG_LEN + 1]);
/* Compares in constant time against the URL as given and against its port
 * variant (an explicit port removed, or the scheme's default one added),
 * the two forms Twilio's own libraries accept. */
bool webhook_twilio_verify(const char *token, size_t token_len, const char *url,
                           struct webhook_form *f, const char *signature);

/* X-Hub-Signature-256: "sha256=" + hex(HMAC-SHA256(app secret, raw body)). */
void webhook_meta_sign(const char *secret, size_t secret_len, const void *body, size_t len,
                       char out[WEBHOOK_META_SIG_LEN + 1]);
bool webhook_meta_verify(const char *secret, size_t secret_len, const void *body, size_t len,
                         const char *header);

/*
 * The URL a provider signed: public_url (a trailing '/' dropped) when set,
 * else scheme (https when tls) + "://" + host; then path, then "?" + query
 * when query is non-empty. -1 when host is missing or not a plain
 * host[:port], or the result does not fit outlen.
 */
int webhook_signed_url(const char *public_url, bool tls, const char *host, const char *path,
                       const char *query, char *out, size_t outlen) RD_WARN_UNUSED;

/* Dialogflow CX WebhookRequest: the session id (last segment of
 * sessionInfo.session) or NULL; the end user's utterance or NULL, with its
 * channel and the telephony caller id (NULL when absent). Both borrow from
 * root. */
const char *webhook_cx_session(json_t *root);
const char *webhook_cx_utterance(json_t *root, enum rd_channel *ch, const char **caller);

/* WhatsApp Cloud API notification: appends one message object per text
 * message of entry[].changes[].value.messages[] to out and its sender
 * (borrowed from root) to senders[i] (RD_MAX_BATCH slots). -1 with e set
 * (422) on a wrongly typed level or more than RD_MAX_BATCH messages. */
int webhook_wa_collect(json_t *root, json_t *out, const char **senders, struct rd_error *e)
	RD_WARN_UNUSED;

#endif
