/*
 * http_forward.c — tap mode on the connection's side (issue 18): a webhook
 * whose [source] has forward_to goes on to the bot, and the bot's answer
 * goes back to the provider as the bot sent it.
 *
 * The webhook handler has checked the provider (signature, or CX's bearer
 * token) and mapped its payload; http_forward then builds the call (the
 * body as it arrived; the provider's headers but hop-by-hop ones and those
 * redactd replaces: Twilio's signature is made again for forward_to with
 * the same Auth Token, Meta's covers only the body and passes unchanged,
 * CX's Authorization was redactd's own token), suspends the connection and
 * hands the call to the forward thread (forward.c). Only then is the
 * inbound turn handed to ingest, without waiting for its commit: the bot
 * is already working. When the bot answers (or fails) the forward thread
 * resumes the connection, and finish_forward, on the worker, relays the
 * answer (status, headers, body) or the error the provider would have met
 * (503 bot_busy, 502 bot_unreachable, 504 bot_timeout), then hands what the
 * bot said (TwiML, CX messages) to ingest as role=bot turns, also without
 * waiting.
 */
#include "config.h"
#include "forward.h"
#include "http_internal.h"
#include "ingest.h"
#include "log.h"
#include "webhook.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct http_fwd {
	struct forward_call *call;
	enum forward_kind kind;
	json_t *msgs;                   /* the inbound turn (a reference), or NULL */
	struct ingest_options opt;      /* for the bot's turns; strings below */
	char *sender, *tenant;
	const char *source;             /* the snapshot's, which the request holds */
};

void http_forward_free(struct http_fwd *fw)
{
	if (!fw)
		return;
	forward_call_free(fw->call);
	json_decref(fw->msgs);
	if (fw->sender)
		sodium_memzero(fw->sender, strlen(fw->sender));   /* a phone number */
	free(fw->sender);
	free(fw->tenant);
	free(fw);
}

struct pass {
	struct forward_call *call;
	enum forward_kind kind;
	bool failed;
};

static enum MHD_Result pass_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
	(void)kind;
	struct pass *p = cls;
	if (!forward_header_dropped(p->kind, name) && forward_call_header(p->call, name, value ? value : ""))
		p->failed = true;
	return p->failed ? MHD_NO : MHD_YES;
}

/* X-Twilio-Signature for the bot's URL: the same Auth Token over
 * forward_to and the same fields. */
static int twilio_resign(struct request *rq, const struct source_conf *src, struct forward_call *c,
                         struct rd_error *e)
{
	char secret[WEBHOOK_MAX_SECRET + 1], sig[WEBHOOK_TWILIO_SIG_LEN + 1];
	size_t slen;
	struct webhook_form form;
	if (webhook_form_parse(rq->body.data ? rq->body.data : "", rq->body.len, &form)) {
		rd_error_set(e, RD_E_INVALID_FORM, "the form body is malformed or has too many fields");
		return -1;
	}
	int rc = webhook_secret_read("twilio", src->secret_file, secret, &slen, e);
	if (rc == 0) {
		webhook_twilio_sign(secret, slen, src->forward_to, &form, sig);
		sodium_memzero(secret, sizeof secret);
		rc = forward_call_header(c, "X-Twilio-Signature", sig);
		sodium_memzero(sig, sizeof sig);
		if (rc)
			rd_error_set(e, RD_E_INTERNAL, "out of memory");
	}
	webhook_form_free(&form);
	return rc;
}

static struct forward_call *build_call(struct request *rq, const struct source_conf *src,
                                       enum forward_kind kind, struct rd_error *e)
{
	struct forward_call *c = forward_call_new(src, rq->body.data, rq->body.len);
	struct pass p = { c, kind, false };
	if (!c) {
		rd_error_set(e, RD_E_BOT_UNREACHABLE, "the %s forward cannot be set up (forward_ca_file?)",
		             src->name);
		return NULL;
	}
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, pass_header, &p);
	if (p.failed)
		rd_error_set(e, RD_E_INVALID_REQUEST, "too many headers to forward (at most %d)",
		             FORWARD_MAX_HEADERS);
	if (p.failed || (kind == FORWARD_TWILIO && twilio_resign(rq, src, c, e))) {
		forward_call_free(c);
		return NULL;
	}
	return c;
}

/* On the forward thread: take note and wake the worker. */
static void on_forwarded(void *arg)
{
	struct request *rq = arg;
	atomic_store(&rq->commit_done, true);
	MHD_resume_connection(rq->conn);
}

/* The bot's answer as it came; false when MHD refuses it. */
static bool relay(struct request *rq, const struct forward_result *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(r->len, (void *)r->body,
	                                                            MHD_RESPMEM_MUST_COPY);
	bool ok = resp != NULL;
	for (size_t i = 0; ok && i < r->n_headers; i++) {
		char line[1024];
		snprintf(line, sizeof line, "%s", r->headers[i]);
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		MHD_add_response_header(resp, line, colon + 1 + strspn(colon + 1, " \t"));
	}
	if (ok && MHD_queue_response(rq->conn, (unsigned)r->status, resp) == MHD_YES) {
		rq->answered = true;
		rq->status = (int)r->status;
		rq->bytes_out = r->len;
	} else {
		ok = false;
	}
	if (resp)
		MHD_destroy_response(resp);
	return ok;
}

/* What the bot said, as role=bot turns of the inbound turn's conversation. */
static void log_bot(struct request *rq, struct http_fwd *fw, const struct forward_result *r)
{
	struct forward *f = rq->srv->forward;
	json_t *texts = NULL, *msgs = NULL;
	if (fw->kind == FORWARD_WHATSAPP || !fw->msgs || r->status < 200 || r->status > 299)
		return;   /* Meta's bots answer nothing inline; an error answer says nothing */
	if (forward_bot_texts(fw->kind, r->body, r->len, &texts)) {
		forward_log_failed(f, fw->source, "bot", "invalid_body");
		return;
	}
	if (json_array_size(texts) && !(msgs = forward_bot_messages(fw->msgs, texts)))
		forward_log_failed(f, fw->source, "bot", "internal");
	else if (msgs)
		forward_log(f, rq->snap, &fw->opt, msgs, fw->source, "bot");
	json_decref(msgs);
	json_decref(texts);
}

static void finish_forward(struct request *rq)
{
	struct http_fwd *fw = rq->fwd;
	const struct forward_result *r = forward_call_result(fw->call);
	struct rd_error e;
	switch (r->outcome) {
	case FORWARD_OK:
		if (relay(rq, r)) {
			log_bot(rq, fw, r);
			return;
		}
		rd_error_set(&e, RD_E_BOT_UNREACHABLE, "the bot's answer cannot be relayed (status %ld)", r->status);
		break;
	case FORWARD_OVERLOADED:
		rd_error_set(&e, RD_E_BOT_BUSY, "too many forwards to the bot are running; retry");
		break;
	case FORWARD_TIMEOUT:
		rd_error_set(&e, RD_E_BOT_TIMEOUT, "the bot did not answer within forward_timeout");
		break;
	case FORWARD_SHUTDOWN:
		rd_error_set(&e, RD_E_SHUTTING_DOWN, "the daemon is stopping");
		break;
	default:
		rd_error_set(&e, RD_E_BOT_UNREACHABLE, "the bot could not be reached or did not answer");
		break;
	}
	http_reply_error(rq, &e);
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	*oom = *oom || (s && !d);
	return d;
}

static struct http_fwd *fwd_new(const struct source_conf *src, json_t *msgs,
                                const struct ingest_options *opt)
{
	struct http_fwd *fw = calloc(1, sizeof *fw);
	bool oom = !fw;
	if (oom)
		return NULL;
	fw->kind = forward_kind_of(src->name);
	fw->source = src->name;
	fw->msgs = json_incref(msgs);
	fw->sender = dup_or_null(opt->sender, &oom);
	fw->tenant = dup_or_null(opt->default_tenant, &oom);
	fw->opt = (struct ingest_options){ .default_tenant = fw->tenant, .channel = opt->channel,
	                                   .sender = fw->sender };
	if (oom) {
		http_forward_free(fw);
		return NULL;
	}
	return fw;
}

void http_forward(struct request *rq, const struct source_conf *src, json_t *msgs,
                  const struct ingest_options *opt, const struct rd_error *map_err)
{
	struct forward *f = rq->srv->forward;
	struct rd_error e;
	struct http_fwd *fw = fwd_new(src, msgs, opt);
	if (!fw) {
		http_fail(rq, RD_E_INTERNAL, "out of memory");
		return;
	}
	if (!(fw->call = build_call(rq, src, fw->kind, &e))) {
		http_forward_free(fw);
		http_reply_error(rq, &e);
		return;
	}
	rq->fwd = fw;
	rq->finish = finish_forward;
	rq->answered = true;   /* the reply is queued by finish_forward */
	atomic_fetch_add(&rq->srv->suspended, 1);
	rq->counted_suspended = true;
	MHD_suspend_connection(rq->conn);
	forward_submit(f, fw->call, on_forwarded, rq);
	/* The bot is at work; the connection is this thread's until we return,
	 * so the answer is relayed after this turn has been handed over. */
	if (map_err)
		forward_log_failed(f, src->name, "user", rd_err_code(map_err->err));
	else if (msgs)
		forward_log(f, rq->snap, opt, msgs, src->name, "user");
}
