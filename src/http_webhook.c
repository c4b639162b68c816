/*
 * http_webhook.c — the webhook routes (SPEC 5.3): POST
 * /v1/webhooks/dialogflow-cx, /v1/webhooks/twilio and /v1/webhooks/whatsapp,
 * and WhatsApp's GET handshake.
 *
 * Each handler checks the caller (CX by bearer token in http.c; Twilio and
 * Meta by their signatures, over the bytes as they arrived), has webhook.c
 * collect the provider's payload into a webhook_batch (turns, senders,
 * provider message ids, and what is counted instead of stored), and hands
 * the turns to ingest through http_ingest like POST /v1/messages: redacted
 * and sealed before anything is written, answered only after COMMIT,
 * all-or-nothing per callback, with the provider's own reply body. A
 * provider message already stored (a retried delivery) is answered the same
 * and not stored again (ingest and store_replay.h). What is not stored is
 * counted in /metrics and logged by kind (deliver). Nothing a provider
 * sends reaches the log: the request line in http.c names the route
 * pattern only, and kinds are webhook.c's own words.
 */
#include "http_internal.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "phone_region.h"
#include "webhook.h"
#include "webhook_generic.h"

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

/* What a callback counted instead of storing: /metrics by source and
 * kind, and a log line by kind for payloads not understood or dropped. */
static void note_events(struct request *rq, const char *source, const struct webhook_batch *b)
{
	struct metrics *m = rq->srv->app->metrics;
	for (size_t i = 0; i < b->nevents; i++) {
		const struct webhook_event *ev = &b->events[i];
		metrics_webhook(m, ev->ev, source, ev->kind, ev->n);
		if (ev->ev == METRICS_WEBHOOK_UNHANDLED)
			log_info("webhook %s: %u payload(s) of kind %s not stored (unhandled)", source, ev->n,
			         ev->kind);
		else if (ev->ev == METRICS_WEBHOOK_DROPPED)
			log_info("webhook %s: %u %s turn(s) dropped as configured", source, ev->n, ev->kind);
	}
}

/* Counts b's events, then ingests its turns (answered by finish once
 * committed) or, with none, answers at once with the provider's body. */
static void deliver(struct request *rq, const char *source, struct ingest_options *opt,
                    const struct webhook_batch *b, http_finish_fn finish, const char *ctype,
                    const char *none, size_t none_len)
{
	json_t *msgs = webhook_batch_messages(b);
	note_events(rq, source, b);
	if (!msgs && webhook_batch_size(b)) {
		http_fail(rq, RD_E_INTERNAL, "out of memory");
		return;
	}
	if (!msgs) {
		http_reply_text(rq, 200, ctype, none, none_len, NULL, NULL);
		return;
	}
	opt->source = source;
	opt->senders = b->senders;
	opt->sender = b->sender;
	opt->provider_ids = (const char *const *)b->ids;
	http_ingest(rq, opt, msgs, finish);
	json_decref(msgs);
}

/* Tap mode (forward_to, http_forward.c): the request goes on to the bot
 * whatever b holds, and its turns are stored once the bot's answer is back
 * with the provider. bad is why the payload could not be mapped (the bot
 * still gets it; nothing is stored), or NULL. */
static void tap(struct request *rq, const struct source_conf *src, struct ingest_options *opt,
                const struct webhook_batch *b, const struct rd_error *bad)
{
	json_t *msgs = NULL;
	if (!bad) {
		note_events(rq, src->name, b);
		if (!(msgs = webhook_batch_messages(b)) && webhook_batch_size(b)) {
			http_fail(rq, RD_E_INTERNAL, "out of memory");
			return;
		}
		opt->source = src->name;
		opt->senders = b->senders;
		opt->sender = b->sender;
		opt->provider_ids = (const char *const *)b->ids;
	}
	http_forward(rq, src, msgs, opt, bad);
	json_decref(msgs);
}

/* ---- Dialogflow CX ------------------------------------------------------ */

void http_webhook_cx(struct request *rq)
{
	struct rd_error e;
	struct webhook_batch b = { 0 };
	json_t *root = ingest_parse_body(rq->body.data, rq->body.len, &e);
	if (root && webhook_batch_init(&b))
		rd_error_set(&e, RD_E_INTERNAL, "out of memory");
	bool bad = !root || !b.list || webhook_cx_collect(root, &b, &e);
	const struct source_conf *src = config_source(rq->snap->cfg, "dialogflow-cx");
	struct ingest_options opt = { .channel = CH_WEB, .default_tenant = http_token_tenant(rq),
	                              .actor = rq->token_name };
	if (!opt.default_tenant && src)
		opt.default_tenant = src->tenant;
	opt.region = src && src->region ? phone_region_find(src->region) : NULL;
	if (src && src->forward_to)
		tap(rq, src, &opt, &b, bad ? &e : NULL);
	else if (bad)
		http_reply_error(rq, &e);
	else
		deliver(rq, "dialogflow-cx", &opt, &b, finish_cx, "application/json", cx_empty,
		        sizeof cx_empty - 1);
	webhook_batch_free(&b);
	json_decref(root);   /* after: the batch borrows from it */
}

/* ---- Twilio ------------------------------------------------------------- */

static bool content_type_is(struct request *rq, const char *type)
{
	const char *ct = header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen(type);
	return ct && strncasecmp(ct, type, n) == 0 && (!ct[n] || ct[n] == ';' || ct[n] == ' ');
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

/* Status callbacks, calls and other events store nothing and still get
 * TwiML; I-Twilio-Idempotency-Token names a retried callback that has no
 * message id of its own. */
static void twilio_ingest(struct request *rq, const struct source_conf *src,
                          const struct webhook_form *form)
{
	struct rd_error e;
	struct webhook_batch b;
	struct ingest_options opt = { .default_tenant = src->tenant, .channel = CH_SMS, .actor = "twilio",
	                              .region = src->region ? phone_region_find(src->region) : NULL };
	if (webhook_batch_init(&b)) {
		http_fail(rq, RD_E_INTERNAL, "out of memory");
		return;
	}
	bool bad = webhook_twilio_collect(form, header(rq, "I-Twilio-Idempotency-Token"), src->location,
	                                  &b, &e) != 0;
	if (src->forward_to)
		tap(rq, src, &opt, &b, bad ? &e : NULL);
	else if (bad)
		http_reply_error(rq, &e);
	else
		deliver(rq, "twilio", &opt, &b, finish_twilio, "text/xml", twiml_empty,
		        sizeof twiml_empty - 1);
	webhook_batch_free(&b);
}

/* A JSON body (Conversations webhooks can send JSON): Twilio signs the URL
 * alone, which carries bodySHA256 = hex SHA-256 of the body. Fills form
 * from the object once both match. */
static int twilio_json(struct request *rq, const char *secret, size_t slen, const char *url,
                       struct webhook_form *form, struct rd_error *e)
{
	struct webhook_form none = { 0 };
	const char *body = rq->body.data ? rq->body.data : "";
	if (!webhook_twilio_verify(secret, slen, url, &none, header(rq, "X-Twilio-Signature")) ||
	    !webhook_twilio_body_ok(body, rq->body.len, query_arg(rq, "bodySHA256"))) {
		rd_error_set(e, RD_E_BAD_SIGNATURE,
		              "X-Twilio-Signature or the bodySHA256 of a JSON body is missing or does not match");
		return -1;
	}
	json_t *root = ingest_parse_body(rq->body.data, rq->body.len, e);
	int rc = root ? webhook_twilio_json_form(root, form, e) : -1;
	json_decref(root);
	return rc;
}

void http_webhook_twilio(struct request *rq)
{
	struct rd_error e;
	struct webhook_form form = { 0 };
	char secret[WEBHOOK_MAX_SECRET + 1], url[WEBHOOK_MAX_URL];
	size_t slen;
	bool ok;
	const struct source_conf *src = source_find(rq, "twilio", &e);
	if (!src)
		goto fail;
	bool json = content_type_is(rq, "application/json");
	if (!json && !content_type_is(rq, "application/x-www-form-urlencoded")) {
		rd_error_set(&e, RD_E_UNSUPPORTED_MEDIA_TYPE,
		              "Content-Type must be application/x-www-form-urlencoded (or application/json"
		              " signed with bodySHA256)");
		goto fail;
	}
	if (!json && webhook_form_parse(rq->body.data ? rq->body.data : "", rq->body.len, &form)) {
		rd_error_set(&e, RD_E_INVALID_FORM, "the form body is malformed or has too many fields");
		goto fail;
	}
	if (twilio_url(rq, url, sizeof url, &e) ||
	    webhook_secret_read("twilio", src->secret_file, secret, &slen, &e))
		goto fail;
	if (json) {
		ok = twilio_json(rq, secret, slen, url, &form, &e) == 0;
	} else {
		ok = webhook_twilio_verify(secret, slen, url, &form, header(rq, "X-Twilio-Signature"));
		if (!ok)
			rd_error_set(&e, RD_E_BAD_SIGNATURE, "X-Twilio-Signature is missing or does not match");
	}
	sodium_memzero(secret, sizeof secret);
	if (!ok)
		goto fail;
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

/* Meta needs a 200 for every notification it sends (it disables a hook
 * that keeps failing): statuses and kinds not stored get one too. */
void http_webhook_whatsapp(struct request *rq)
{
	static const char none[] = "{\"ids\":[],\"findings\":{}}";
	struct rd_error e;
	struct webhook_batch b = { 0 };
	json_t *root = NULL;
	const struct source_conf *src = source_find(rq, "whatsapp", &e);
	if (src && webhook_batch_init(&b)) {
		rd_error_set(&e, RD_E_INTERNAL, "out of memory");
		src = NULL;
	}
	if (!src || wa_verify(rq, src, &e)) {
		http_reply_error(rq, &e);
	} else {
		bool bad = !(root = ingest_parse_body(rq->body.data, rq->body.len, &e)) ||
		           webhook_wa_collect(root, src->location, &b, &e);
		struct ingest_options opt = { .channel = CH_WHATSAPP, .default_tenant = src->tenant,
		                              .sender_e164 = true, .actor = "whatsapp",
		                              .region = src->region ? phone_region_find(src->region) : NULL };
		if (src->forward_to)
			tap(rq, src, &opt, &b, bad ? &e : NULL);
		else if (bad)
			http_reply_error(rq, &e);
		else
			deliver(rq, "whatsapp", &opt, &b, finish_whatsapp, "application/json", none,
			        sizeof none - 1);
	}
	webhook_batch_free(&b);   /* ingest copied what it needed (the subject hashes) */
	json_decref(root);
}

/* ---- generic signed webhooks (webhook_generic.c) ----------------------- */

static const char *generic_header(void *rq, const char *name)
{
	return header(rq, name);
}

void http_webhook_generic(struct request *rq)
{
	struct rd_error e;
	struct webhook_generic_msg m;
	const struct source_conf *src = config_source(rq->snap->cfg, rq->id);
	if (webhook_generic_receive(src, generic_header, rq, rq->body.data, rq->body.len, &m, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	const char *ids[1] = { m.provider_id[0] ? m.provider_id : NULL };
	struct ingest_options opt = { .channel = (enum rd_channel)src->channel, .default_tenant = src->tenant,
	                              .sender = m.sender[0] ? m.sender : NULL, .source = src->name,
	                              .provider_ids = ids, .actor = src->name };
	http_ingest(rq, &opt, m.msgs, finish_whatsapp);
	webhook_generic_msg_clear(&m);   /* ingest copied what it needed */
}
