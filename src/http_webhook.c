/*
 * http_webhook.c — the webhook routes (SPEC 5.3): POST
 * /v1/webhooks/dialogflow-cx, /v1/webhooks/twilio and /v1/webhooks/whatsapp,
 * and WhatsApp's GET handshake.
 *
 * Each handler checks the caller (CX by bearer token in http.c; Twilio and
 * Meta by their signatures, over the bytes as they arrived), has webhook.c
 * map the provider's payload onto {"messages": [...]}, and hands that to
 * ingest through http_ingest like POST /v1/messages: redacted and sealed
 * before anything is written, answered only after COMMIT, all-or-nothing
 * per callback, with the provider's own reply body. Nothing a provider sends
 * reaches the log: the request line in http.c names the route pattern only.
 */
#include "http_internal.h"
#include "ingest.h"
#include "webhook.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char twiml_empty[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";
static const char cx_empty[] = "{\"fulfillmentResponse\":{\"messages\":[]}}";

static const char *header(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static const char *query_arg(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* The [source "NAME"] section, or NULL with a 404: an unconfigured source
 * is a route that does not exist for this deployment. */
static const struct source_conf *source_find(struct request *rq, const char *name,
                                             struct rd_error *e)
{
	const struct source_conf *s = config_source(rq->snap->cfg, name);
	if (!s)
		rd_error_set(e, RD_E_NOT_FOUND, "the %s webhook is not configured (no [source \"%s\"])",
		              name, name);
	return s;
}

/* Answers committed messages with a fixed provider-specific body. */
static void finish_fixed(struct request *rq, const char *ctype, const char *body, size_t len)
{
	const char *ingested;
	size_t n;
	struct rd_error e;
	if (http_ingest_result(rq, &ingested, &n, &e))
		http_reply_error(rq, &e);
	else
		http_reply_text(rq, 200, ctype, body, len, NULL, NULL);
}

static void finish_twilio(struct request *rq)
{
	finish_fixed(rq, "text/xml", twiml_empty, sizeof twiml_empty - 1);
}

static void finish_cx(struct request *rq)
{
	finish_fixed(rq, "application/json", cx_empty, sizeof cx_empty - 1);
}

/* WhatsApp: Meta only needs a 200; the ingest body (ids, findings) helps
 * whoever debugs the integration and carries no personal data. */
static void finish_whatsapp(struct request *rq)
{
	http_reply_ingested(rq, 200);
}

/* ---- Dialogflow CX ------------------------------------------------------ */

void http_webhook_cx(struct request *rq)
{
	struct rd_error e;
	enum rd_channel ch;
	const char *caller;
	json_t *msgs = NULL, *root = ingest_parse_body(rq->body.data, rq->body.len, &e);
	const struct source_conf *tap = config_source(rq->snap->cfg, "dialogflow-cx");
	if (tap && tap->forward_to) {   /* tap mode: http_forward.c */
		int bad = !root || webhook_cx_messages(root, &msgs, &ch, &caller, &e);
		struct ingest_options opt = { .channel = ch, .sender = bad ? NULL : caller,
		                              .default_tenant = http_token_tenant(rq) ? http_token_tenant(rq) : tap->tenant };
		http_forward(rq, tap, bad ? NULL : msgs, &opt, bad ? &e : NULL);
	} else if (!root || webhook_cx_messages(root, &msgs, &ch, &caller, &e)) {
		http_reply_error(rq, &e);
	} else if (!msgs) {   /* an event or intent trigger: nothing the user said */
		http_reply_text(rq, 200, "application/json", cx_empty, sizeof cx_empty - 1, NULL, NULL);
	} else {
		const struct source_conf *src = config_source(rq->snap->cfg, "dialogflow-cx");
		struct ingest_options opt = { .channel = ch, .sender = caller,
		                              .default_tenant = http_token_tenant(rq) };
		if (!opt.default_tenant && src)
			opt.default_tenant = src->tenant;
		http_ingest(rq, &opt, msgs, finish_cx);
	}
	json_decref(msgs);
	json_decref(root);   /* after: opt.sender borrows from it */
}

/* ---- Twilio ------------------------------------------------------------- */

static bool form_content_type(struct request *rq)
{
	const char *ct = header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen("application/x-www-form-urlencoded");
	return ct && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0 &&
	       (!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

/* Re-encodes one query key or value: unreserved bytes as they are. */
static int query_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		             strchr("-._~", c);
		if (buf_append(b, plain ? (const char *)s : esc, plain ? 1 : 3))
			return -1;
	}
	return 0;
}

static enum MHD_Result query_arg_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
	(void)kind;
	struct buf *b = cls;
	bool ok = !(b->len && buf_append(b, "&", 1)) && !query_encode(b, key) &&
	          !(value && (buf_append(b, "=", 1) || query_encode(b, value)));
	return ok ? MHD_YES : MHD_NO;
}

/* The URL Twilio signed, with the query exactly as it arrived. Without
 * that copy (a query over HTTP_MAX_RAW_QUERY) the decoded query is rebuilt
 * in order with RFC 3986 encoding, exact when it holds only unreserved
 * characters. */
static int twilio_url(struct request *rq, char *url, size_t len, struct rd_error *e)
{
	const struct config *cfg = rq->snap->cfg;
	struct buf q = { 0 };
	if (!rq->raw_query)
		MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_arg_cb, &q);
	int rc = webhook_signed_url(cfg->public_url, cfg->tls_cert != NULL, header(rq, "Host"),
	                            rq->route->path, rq->raw_query ? rq->raw_query : q.data, url,
	                            len);
	buf_free(&q);
	if (rc)
		rd_error_set(e, RD_E_INVALID_REQUEST, "the Host header is missing or malformed");
	return rc;
}

/* A callback without a Body (a status callback, or media only) stores
 * nothing and still gets TwiML. */
static void twilio_ingest(struct request *rq, const struct source_conf *src,
                          const struct webhook_form *form)
{
	struct rd_error e;
	json_t *msgs;
	struct ingest_options opt = { .default_tenant = src->tenant };
	int bad = webhook_twilio_messages(form, &msgs, &opt.channel, &opt.sender, &e);
	if (src->forward_to)   /* tap mode: http_forward.c */
		http_forward(rq, src, bad ? NULL : msgs, &opt, bad ? &e : NULL);
	else if (bad)
		http_reply_error(rq, &e);
	else if (!msgs)
		http_reply_text(rq, 200, "text/xml", twiml_empty, sizeof twiml_empty - 1, NULL, NULL);
	else
		http_ingest(rq, &opt, msgs, finish_twilio);
	json_decref(msgs);
}

void http_webhook_twilio(struct request *rq)
{
	struct rd_error e;
	struct webhook_form form = { 0 };
	char secret[WEBHOOK_MAX_SECRET + 1], url[WEBHOOK_MAX_URL];
	size_t slen;
	const struct source_conf *src = source_find(rq, "twilio", &e);
	if (!src)
		goto fail;
	if (!form_content_type(rq)) {
		rd_error_set(&e, RD_E_UNSUPPORTED_MEDIA_TYPE,
		              "Content-Type must be application/x-www-form-urlencoded");
		goto fail;
	}
	if (webhook_form_parse(rq->body.data ? rq->body.data : "", rq->body.len, &form)) {
		rd_error_set(&e, RD_E_INVALID_FORM, "the form body is malformed or has too many fields");
		goto fail;
	}
	if (twilio_url(rq, url, sizeof url, &e) ||
	    webhook_secret_read("twilio", src->secret_file, secret, &slen, &e))
		goto fail;
	bool ok = webhook_twilio_verify(secret, slen, url, &form, header(rq, "X-Twilio-Signature"));
	sodium_memzero(secret, sizeof secret);
	if (!ok) {
		rd_error_set(&e, RD_E_BAD_SIGNATURE, "X-Twilio-Signature is missing or does not match");
		goto fail;
	}
	twilio_ingest(rq, src, &form);
	webhook_form_free(&form);
	return;
fail:
	webhook_form_free(&form);
	http_reply_error(rq, &e);
}

/* ---- WhatsApp Cloud API ------------------------------------------------ */

void http_webhook_whatsapp_verify(struct request *rq)
{
	struct rd_error e;
	char secret[WEBHOOK_MAX_SECRET + 1];
	size_t slen;
	const struct source_conf *src = source_find(rq, "whatsapp", &e);
	if (src && !src->verify_token_file)
		rd_error_set(&e, RD_E_NOT_FOUND, "the whatsapp handshake is not configured (verify_token_file)");
	if (!src || !src->verify_token_file ||
	    webhook_secret_read("whatsapp", src->verify_token_file, secret, &slen, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	const char *mode = query_arg(rq, "hub.mode"), *token = query_arg(rq, "hub.verify_token");
	const char *challenge = query_arg(rq, "hub.challenge");
	bool ok = webhook_wa_handshake(mode, token, challenge, secret);
	sodium_memzero(secret, sizeof secret);
	if (!ok) {
		http_fail(rq, RD_E_FORBIDDEN, "hub.mode, hub.verify_token or hub.challenge is not accepted");
		return;
	}
	http_reply_text(rq, 200, "text/plain", challenge, strlen(challenge), NULL, NULL);
}

/* Signature first, on the raw bytes, before the body is even parsed. */
static int wa_verify(struct request *rq, const struct source_conf *src, struct rd_error *e)
{
	char secret[WEBHOOK_MAX_SECRET + 1];
	size_t slen;
	if (webhook_secret_read("whatsapp", src->secret_file, secret, &slen, e))
		return -1;
	bool ok = webhook_meta_verify(secret, slen, rq->body.data ? rq->body.data : "", rq->body.len,
	                              header(rq, "X-Hub-Signature-256"));
	sodium_memzero(secret, sizeof secret);
	if (!ok)
		rd_error_set(e, RD_E_BAD_SIGNATURE, "X-Hub-Signature-256 is missing or does not match");
	return ok ? 0 : -1;
}

void http_webhook_whatsapp(struct request *rq)
{
	struct rd_error e;
	json_t *root = NULL, *msgs = NULL;
	const char **senders = calloc(RD_MAX_BATCH, sizeof *senders);
	const struct source_conf *src = source_find(rq, "whatsapp", &e);
	if (!senders)
		rd_error_set(&e, RD_E_INTERNAL, "out of memory");
	if (!senders || !src || wa_verify(rq, src, &e)) {
		http_reply_error(rq, &e);
	} else if (src->forward_to) {   /* tap mode: http_forward.c */
		int bad = !(root = ingest_parse_body(rq->body.data, rq->body.len, &e)) ||
		          webhook_wa_messages(root, &msgs, senders, &e);
		struct ingest_options opt = { .channel = CH_WHATSAPP, .default_tenant = src->tenant,
		                              .senders = senders };
		http_forward(rq, src, bad ? NULL : msgs, &opt, bad ? &e : NULL);
	} else if (!(root = ingest_parse_body(rq->body.data, rq->body.len, &e)) ||
	           webhook_wa_messages(root, &msgs, senders, &e)) {
		http_reply_error(rq, &e);
	} else if (!msgs) {   /* statuses, media, other fields */
		static const char none[] = "{\"ids\":[],\"findings\":{}}";
		http_reply_text(rq, 200, "application/json", none, sizeof none - 1, NULL, NULL);
	} else {
		struct ingest_options opt = { .channel = CH_WHATSAPP, .default_tenant = src->tenant,
		                              .senders = senders };
		http_ingest(rq, &opt, msgs, finish_whatsapp);
	}
	free(senders);   /* ingest copied what it needed (the subject hashes) */
	json_decref(msgs);
	json_decref(root);
}
