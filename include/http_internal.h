/*
 * http_internal.h — what the HTTP handler files share (http.c, http_admin.c).
 *
 * Not part of any other module's interface: only src/http*.c include it.
 * Handlers run on an MHD worker thread with the request's snapshot
 * (rq->snap: config, engine, keys, taken when its headers arrived and held
 * until it ends) and answer exactly once through the http_reply_* functions.
 */
#ifndef REDACTD_HTTP_INTERNAL_H
#define REDACTD_HTTP_INTERNAL_H

#include "app.h"
#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

struct MHD_Daemon;
struct MHD_Connection;
struct ingest_job;
struct ingest_options;
struct http_tls;
struct http_guard;
struct guard_conn;
struct ratelimit;
struct forward;
struct http_fwd;
struct source_conf;
struct rd_error;

struct http_server {
	struct MHD_Daemon *daemon;
	atomic_int suspended;            /* connections waiting on a commit */
	struct app *app;
	int unix_fd;
	char unix_path[108];
	struct http_tls *tls;            /* NULL without tls_cert */
	struct http_guard *guard;        /* deadlines, per-address limit, lingering */
	struct ratelimit *limits;        /* 429 buckets per address and per token */
	/* Tap mode's outbound side (forward.h): started with the server when
	 * the config has a forward_to, else on the first forward (a reload
	 * may add one), so a daemon that never forwards never loads libcurl
	 * and the ~4 MB it maps. Read it through http_forward_engine. */
	struct forward *_Atomic forward;
	pthread_mutex_t forward_lock;
};

struct request;
typedef void (*route_fn)(struct request *rq);
/* Answers a request whose messages have committed (or failed to). */
typedef void (*http_finish_fn)(struct request *rq);

struct route {
	const char *method;
	const char *path;          /* exact path, or prefix ending in '/' for {id} */
	bool has_id;
	unsigned scope;            /* 0 = no authentication */
	bool json_body;
	route_fn fn;
	const char *name;          /* pattern for logs and metrics */
};

#define HTTP_MAX_RAW_QUERY 4096         /* longer queries are re-encoded for Twilio */

/* Per-request state, MHD's *con_cls. */
struct request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const struct route *route;
	const char *route_name;
	const char *method;
	const char *id;                 /* {id} from the path, borrowed from MHD */
	struct app_snap *snap;          /* from the headers to the end; NULL before */
	bool authenticated;
	const char *token_name;         /* in snap's config; NULL before authentication */
	const char *token_tenant;       /* in snap's config; NULL when the token is not bound */
	unsigned token_scopes;          /* the token's SCOPE_* bits; 0 before authentication */
	struct buf body;
	bool too_large;
	bool answered;
	int status;
	size_t bytes_out;
	int64_t start_us;
	char ids_note[96];              /* record ids created, for the log line */
	http_finish_fn finish;          /* set while messages go to ingest; answers once committed */
	struct ingest_job *job;         /* ingest's result, from the writer thread */
	bool counted_suspended;         /* in srv->suspended until its result is taken */
	char *raw_query;                /* the query exactly as sent, or NULL (Twilio signs it) */
	atomic_bool commit_done;        /* job is set: resume and answer */
	struct guard_conn *gc;          /* the connection's guard state, or NULL */
	bool bad_path;                  /* the decoded path holds a NUL or control byte */
	bool body_expected;             /* Content-Length > 0 or Transfer-Encoding */
	size_t discarded;               /* bytes of a refused chunked body dropped */
	int retry_after;                /* seconds for a 429's Retry-After; 0 = 1 */
	enum rd_err refusal;            /* the error answered (http_reply_error), or RD_OK */
	struct http_fwd *fwd;           /* tap mode: the call to the bot, or NULL */
};

/* Replies (copy the body; hname/hvalue is one optional extra header). */
void http_reply_text(struct request *rq, int status, const char *ctype, const char *body, size_t len,
                     const char *hname, const char *hvalue);
void http_reply_json(struct request *rq, int status, json_t *body);
void http_reply_error(struct request *rq, const struct rd_error *e);
void http_fail(struct request *rq, enum rd_err err, const char *msg);
/* The HTTP status of a domain error (500 for one the table lacks). */
int http_status_of(enum rd_err err);

/* The token's tenant, or NULL when the token is not bound to one. */
const char *http_token_tenant(const struct request *rq);
/* ?tenant=, checked against the token's; the token's or "default" when
 * absent. NULL with e set when invalid or not the token's. */
const char *http_query_tenant(struct request *rq, struct rd_error *e);

/*
 * Messages into ingest, shared by every ingesting route: the body (root
 * NULL) or a payload a webhook mapped onto {"messages": [...]} (root stays
 * the caller's). The connection is suspended while the records wait for the
 * group commit (no worker waits on fsync); when the commit (or its failure)
 * is known MHD resumes it and `finish` runs on a worker and answers through
 * http_ingest_result. A request refused before the store saw it is
 * answered here with its error.
 */
void http_ingest(struct request *rq, const struct ingest_options *opt, json_t *root,
                 http_finish_fn finish);
/* For `finish`: 0 with the 201 ingest body (borrowed until the request
 * ends), or -1 with e set (503 busy, 500). */
int http_ingest_result(struct request *rq, const char **body, size_t *len, struct rd_error *e)
	RD_WARN_UNUSED;
/* The result as the reply: status with the ingest body, or the error. */
void http_reply_ingested(struct request *rq, int status);

/* Webhook handlers (http_webhook.c). */
void http_webhook_cx(struct request *rq);
void http_webhook_twilio(struct request *rq);
void http_webhook_whatsapp_verify(struct request *rq);
void http_webhook_whatsapp(struct request *rq);
/* POST /v1/webhooks/{name}: a [source] of type standard-webhooks or hmac-sha256. */
void http_webhook_generic(struct request *rq);

/*
 * Tap mode (http_forward.c), for a webhook whose source has forward_to,
 * once the provider is verified: forwards the request to the bot and
 * relays its answer (or 502/503/504). When the request ends the inbound
 * turn msgs (NULL: there is none; map_err set: it could not be mapped,
 * counted as a failed write) and the bot's turns are stored, without
 * waiting for either. msgs and opt stay the caller's.
 */
void http_forward(struct request *rq, const struct source_conf *src, json_t *msgs,
                  const struct ingest_options *opt, const struct rd_error *map_err);
/* Stores the turns (once the call has ended), frees. NULL is a no-op. */
void http_forward_free(struct http_fwd *fw);
/* The forward engine, started now if it was not yet; NULL with err when
 * it cannot start (libcurl missing). */
struct forward *http_forward_engine(struct http_server *srv, char *err, size_t errlen);

/* GET|HEAD /readyz (http_admin.c): 200 while writes are accepted. */
void http_readyz(struct request *rq);

/* Admin handlers (http_admin.c). */
void http_get_subject(struct request *rq);
void http_delete_subject(struct request *rq);
void http_delete_conversation(struct request *rq);
void http_post_hold(struct request *rq);
void http_get_holds(struct request *rq);
void http_delete_hold(struct request *rq);
/* Tenant closures (http_admin.c, tenant_close.h). */
void http_get_tenants(struct request *rq);
void http_post_tenant_close(struct request *rq);
void http_delete_tenant_close(struct request *rq);

/* Consent and opt-out handlers (http_consent.c). */
void http_post_consent(struct request *rq);
void http_get_consents(struct request *rq);
void http_get_optout(struct request *rq);
/* PATCH /v1/messages/{id}: rectification (rectify.h). */
void http_patch_message(struct request *rq);
/* Restrictions of processing: the hold handlers for HOLDS_PIN_RESTRICTION. */
void http_post_restriction(struct request *rq);
void http_get_restrictions(struct request *rq);
void http_delete_restriction(struct request *rq);

#endif
