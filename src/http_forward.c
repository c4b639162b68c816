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
 * hands the call to the forward thread (forward.c). When the bot answers
 * (or fails) the forward thread resumes the connection, and
 * finish_forward, on the worker, relays the answer (status, headers, body)
 * or the error the provider would have met (503 bot_busy, 502
 * bot_unreachable, 504 bot_timeout).
 *
 * The turns are stored after that, off the answer's path: when MHD is done
 * with the request (request_free calls http_forward_free), the user's turn
 * and then what the bot said (TwiML, CX messages) go to ingest as role=user
 * and role=bot turns, without waiting for their commit. So neither
 * redaction nor the store adds to what the provider waits for, and a
 * request that ends early (the provider hung up, the bot failed) still has
 * its user turn stored.
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
	struct forward_call *call;      /* NULL when it could not be built */
	struct forward *f;
	struct app_snap *snap;          /* the request's, which it holds past this */
	enum forward_kind kind;
	json_t *msgs;                   /* the inbound turn (a reference), or NULL */
	char map_err[32];               /* why there is no inbound turn to store, or "" */
	struct ingest_options opt;      /* its strings are below */
	char *sender, *tenant, *actor;
	char **senders, **ids;          /* per inbound turn (copies), or NULL */
	size_t n;                       /* inbound turns */
	const char *source;             /* the snapshot's */
	atomic_bool ended;              /* the call's done has run */
	bool relayed;                   /* the bot's answer went to the provider */
};

/* The bot's turns: no sender of their own, and ids of their own, made from
 * the inbound turn's provider id (as webhook.c names CX's bot turns), so a
 * provider's retried delivery stores the bot's answer once too. */
static void log_bot_turns(struct http_fwd *fw, json_t *bot)
{
	size_t n = json_array_size(json_object_get(bot, "messages"));
	const char *first = fw->ids ? fw->ids[0] : NULL;
	char **ids = first && n ? calloc(n, sizeof *ids) : NULL;
	struct ingest_options opt = fw->opt;
	opt.sender = NULL;
	opt.senders = NULL;
	opt.provider_ids = (const char *const *)ids;
	for (size_t i = 0; ids && i < n; i++) {
		size_t len = strlen(first) + 32;
		if ((ids[i] = malloc(len)))
			snprintf(ids[i], len, "%s/bot/%zu", first, i);
	}
	if (first && n && !ids)
		forward_log_failed(fw->f, fw->source, "bot", "internal");
	else
		forward_log(fw->f, fw->snap, &opt, bot, fw->source, "bot");
	for (size_t i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
}

/* The turns, once the provider has its answer: the user's, then what the
 * bot said (a relayed 2xx TwiML or CX answer), each handed to ingest
 * without waiting. Off the answer's path: this runs when MHD is done with
 * the request. */
static void log_turns(struct http_fwd *fw)
{
	const struct forward_result *r = fw->call ? forward_call_result(fw->call) : NULL;
	json_t *texts = NULL, *bot = NULL;
	if (fw->map_err[0])
		forward_log_failed(fw->f, fw->source, "user", fw->map_err);
	else if (fw->msgs)
		forward_log(fw->f, fw->snap, &fw->opt, fw->msgs, fw->source, "user");
	if (!fw->relayed || fw->kind == FORWARD_WHATSAPP || !fw->msgs || r->status < 200 || r->status > 299)
		return;   /* Meta's bots answer nothing inline; an error answer says nothing */
	if (forward_bot_texts(fw->kind, r->body, r->len, &texts)) {
		forward_log_failed(fw->f, fw->source, "bot", "invalid_body");
		return;
	}
	if (json_array_size(texts) && !(bot = forward_bot_messages(fw->msgs, texts)))
		forward_log_failed(fw->f, fw->source, "bot", "internal");
	else if (bot)
		log_bot_turns(fw, bot);
	json_decref(bot);
	json_decref(texts);
}

void http_forward_free(struct http_fwd *fw)
{
	if (!fw)
		return;
	if (atomic_load(&fw->ended))
		log_turns(fw);
	forward_call_free(fw->call);
	json_decref(fw->msgs);
	if (fw->sender)
		sodium_memzero(fw->sender, strlen(fw->sender));   /* a phone number */
	free(fw->sender);
	free(fw->tenant);
	free(fw->actor);
	for (size_t i = 0; i < fw->n; i++) {
		if (fw->senders && fw->senders[i])
			sodium_memzero(fw->senders[i], strlen(fw->senders[i]));
		free(fw->senders ? fw->senders[i] : NULL);
		free(fw->ids ? fw->ids[i] : NULL);
	}
	free(fw->senders);
	free(fw->ids);
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
	atomic_store(&rq->fwd->ended, true);
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
		char *line = strdup(r->headers[i]), *colon = line ? strchr(line, ':') : NULL;
		ok = line != NULL;
		if (colon) {
			*colon = '\0';
			MHD_add_response_header(resp, line, colon + 1 + strspn(colon + 1, " \t"));
		}
		free(line);
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

static void finish_forward(struct request *rq)
{
	struct http_fwd *fw = rq->fwd;
	const struct forward_result *r = forward_call_result(fw->call);
	struct rd_error e;
	switch (r->outcome) {
	case FORWARD_OK:
		if ((fw->relayed = relay(rq, r)))
			return;
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

/* Copies of n borrowed strings (NULL entries stay NULL), or NULL when
 * there are none to copy. */
static char **dup_all(const char *const *v, size_t n, bool *oom)
{
	char **d = v && n ? calloc(n, sizeof *d) : NULL;
	if (v && n && !d)
		*oom = true;
	for (size_t i = 0; d && i < n; i++)
		d[i] = dup_or_null(v[i], oom);
	return d;
}

/* What the turns need once the request's own memory is gone: the inbound
 * turns and every option ingest reads of them (senders, provider ids,
 * tenant, region), copied. */
static struct http_fwd *fwd_new(struct request *rq, struct forward *engine,
                                const struct source_conf *src, json_t *msgs,
                                const struct ingest_options *opt, const struct rd_error *map_err)
{
	struct http_fwd *fw = calloc(1, sizeof *fw);
	bool oom = !fw;
	if (oom)
		return NULL;
	fw->f = engine;
	fw->snap = rq->snap;
	fw->kind = forward_kind_of(src->name);
	fw->source = src->name;
	fw->msgs = map_err ? NULL : json_incref(msgs);
	if (map_err)
		snprintf(fw->map_err, sizeof fw->map_err, "%s", rd_err_code(map_err->err));
	fw->n = json_array_size(json_object_get(fw->msgs, "messages"));
	fw->sender = dup_or_null(opt->sender, &oom);
	fw->tenant = dup_or_null(opt->default_tenant, &oom);
	fw->actor = dup_or_null(opt->actor, &oom);
	fw->senders = dup_all(opt->senders, fw->n, &oom);
	fw->ids = dup_all(opt->provider_ids, fw->n, &oom);
	fw->opt = *opt;   /* channel, region, sender_e164: no memory of the request's */
	fw->opt.default_tenant = fw->tenant;
	fw->opt.sender = fw->sender;
	fw->opt.actor = fw->actor;
	fw->opt.source = fw->source;
	fw->opt.senders = (const char *const *)fw->senders;
	fw->opt.provider_ids = (const char *const *)fw->ids;
	if (oom) {
		http_forward_free(fw);
		return NULL;
	}
	return fw;
}

struct forward *http_forward_engine(struct http_server *srv, char *err, size_t errlen)
{
	struct forward *f = atomic_load(&srv->forward);
	if (f)
		return f;
	pthread_mutex_lock(&srv->forward_lock);
	if (!(f = atomic_load(&srv->forward)) && forward_new(srv->app, &f, err, errlen) == 0)
		atomic_store(&srv->forward, f);
	pthread_mutex_unlock(&srv->forward_lock);
	return f;
}

void http_forward(struct request *rq, const struct source_conf *src, json_t *msgs,
                  const struct ingest_options *opt, const struct rd_error *map_err)
{
	struct rd_error e;
	char err[200];
	struct forward *engine = http_forward_engine(rq->srv, err, sizeof err);
	if (!engine) {
		log_error("%s", err);
		http_fail(rq, RD_E_BOT_UNREACHABLE, "forwarding cannot start on this server (see its log)");
		return;
	}
	struct http_fwd *fw = fwd_new(rq, engine, src, msgs, opt, map_err);
	if (!fw) {
		http_fail(rq, RD_E_INTERNAL, "out of memory");
		return;
	}
	rq->fwd = fw;   /* the turns are stored when the request ends, whatever happens */
	if (!(fw->call = build_call(rq, src, fw->kind, &e))) {
		atomic_store(&fw->ended, true);
		http_reply_error(rq, &e);
		return;
	}
	rq->finish = finish_forward;
	rq->answered = true;   /* the reply is queued by finish_forward */
	atomic_fetch_add(&rq->srv->suspended, 1);
	rq->counted_suspended = true;
	MHD_suspend_connection(rq->conn);
	forward_submit(fw->f, fw->call, on_forwarded, rq);
}
