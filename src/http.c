/*
 * http.c — routing, authentication, limits and error replies.
 *
 * See http.h for the threading design. Every reply is JSON; every error is
 * the SPEC 5.4 object. A log line per request carries the method, the route
 * *pattern* (never the path: conversation ids are often phone numbers), the
 * status, the duration, byte counts and the record ids created.
 */
#include "http.h"
#include "forward.h"
#include "http_guard.h"
#include "http_internal.h"
#include "http_tls.h"
#include "audit.h"
#include "ingest.h"
#include "json_mem.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "read.h"
#include "record.h"
#include "restrict.h"
#include "retention.h"
#include "tenant.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdatomic.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

/* ---- replies ------------------------------------------------------------ */

void http_reply_text(struct request *rq, int status, const char *ctype, const char *body, size_t len,
                       const char *hname, const char *hvalue)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
	                                                             MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (hname)
		MHD_add_response_header(resp, hname, hvalue);
	if (MHD_queue_response(rq->conn, (unsigned)status, resp) == MHD_YES) {
		rq->answered = true;
		rq->status = status;
		rq->bytes_out = len;
	}
	MHD_destroy_response(resp);
}

void http_reply_json(struct request *rq, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!s) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		http_reply_text(rq, 500, "application/json", oom, sizeof oom - 1, NULL, NULL);
		return;
	}
	http_reply_text(rq, status, "application/json", s, strlen(s), NULL, NULL);
	json_mem_free_text(s);
}

/* The one place a domain error becomes an HTTP status (SPEC 5.4). */
static const short HTTP_STATUS[RD_ERR_COUNT] = {
	[RD_OK] = 200,
	[RD_E_BAD_REQUEST] = 400, [RD_E_INVALID_REQUEST] = 400, [RD_E_INVALID_PATH] = 400,
	[RD_E_INVALID_QUERY] = 400, [RD_E_INVALID_JSON] = 400, [RD_E_INVALID_UTF8] = 400,
	[RD_E_INVALID_FORM] = 400, [RD_E_TOO_DEEP] = 400,
	[RD_E_BODY_TOO_LARGE] = 413, [RD_E_UNSUPPORTED_MEDIA_TYPE] = 415,
	[RD_E_METHOD_NOT_ALLOWED] = 405,
	[RD_E_INVALID_BODY] = 422, [RD_E_INVALID_FIELD] = 422, [RD_E_MISSING_FIELD] = 422,
	[RD_E_UNKNOWN_FIELD] = 422,
	[RD_E_UNAUTHORIZED] = 401, [RD_E_BAD_SIGNATURE] = 403, [RD_E_FORBIDDEN] = 403,
	[RD_E_RATE_LIMITED] = 429, [RD_E_NOT_FOUND] = 404, [RD_E_TENANT_CLOSED] = 409,
	[RD_E_REPLY_TOO_LARGE] = 422,
	[RD_E_CONSENT_REQUIRED] = 403, [RD_E_RESTRICTED] = 403,
	[RD_E_BUSY] = 503, [RD_E_SHUTTING_DOWN] = 503, [RD_E_SOURCE_UNAVAILABLE] = 503,
	[RD_E_BOT_BUSY] = 503, [RD_E_BOT_UNREACHABLE] = 502, [RD_E_BOT_TIMEOUT] = 504,
	[RD_E_STORAGE_FULL] = 503, [RD_E_STORAGE_FAILED] = 503,
	[RD_E_STORAGE] = 500, [RD_E_AUDIT] = 500, [RD_E_INTEGRITY] = 500, [RD_E_INTERNAL] = 500,
};

int http_status_of(enum rd_err err)
{
	return (unsigned)err < RD_ERR_COUNT && HTTP_STATUS[err] ? HTTP_STATUS[err] : 500;
}

void http_reply_error(struct request *rq, const struct rd_error *e)
{
	int status = http_status_of(e->err);
	rq->refusal = e->err;
	json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", rd_err_code(e->err), "message", e->message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	const char *hname = NULL, *hvalue = NULL;
	char retry[16];
	snprintf(retry, sizeof retry, "%d", rq->retry_after > 0 ? rq->retry_after : 1);
	if (status == 401)
		hname = "WWW-Authenticate", hvalue = "Bearer realm=\"redactd\"";
	else if (status == 503 || status == 429)
		hname = "Retry-After", hvalue = retry;
	else if (status == 405 && rq->route)
		hname = "Allow", hvalue = rq->route->method;
	if (s)
		http_reply_text(rq, status, "application/json", s, strlen(s), hname, hvalue);
	json_mem_free_text(s);
	json_decref(o);
}

void http_fail(struct request *rq, enum rd_err err, const char *msg)
{
	struct rd_error e;
	rd_error_set(&e, err, "%s", msg);
	http_reply_error(rq, &e);
}

/* ---- handlers ----------------------------------------------------------- */

const char *http_token_tenant(const struct request *rq)
{
	return rq->token_tenant;
}

/* Record ids for the log line: the first, and how many. */
static void note_ids(struct request *rq, const struct ingest_reply *r)
{
	if (r->count == 1)
		snprintf(rq->ids_note, sizeof rq->ids_note, " ids=%s", r->first_id);
	else if (r->count > 1)
		snprintf(rq->ids_note, sizeof rq->ids_note, " ids=%s..(%zu)", r->first_id, r->count);
}

/* A request leaves srv->suspended once: when its result is taken, or when
 * MHD ends it without asking (the client closed the connection while it
 * waited on the commit; http_stop would otherwise wait for it in vain). */
static void uncount_suspended(struct request *rq)
{
	if (rq->counted_suspended) {
		rq->counted_suspended = false;
		atomic_fetch_sub(&rq->srv->suspended, 1);
	}
}

/* ingest is about to hand the records to the writer, which may answer at
 * once: suspend first. */
static void on_submitting(void *arg)
{
	struct request *rq = arg;
	atomic_fetch_add(&rq->srv->suspended, 1);
	rq->counted_suspended = true;
	MHD_suspend_connection(rq->conn);
}

/* On the writer thread once the records are committed (or refused). */
static void on_ingested(void *arg, struct ingest_job *job)
{
	struct request *rq = arg;
	rq->job = job;
	atomic_store(&rq->commit_done, true);
	MHD_resume_connection(rq->conn);
}

void http_ingest(struct request *rq, const struct ingest_options *opt, json_t *root,
                 http_finish_fn finish)
{
	struct app *app = rq->srv->app;
	struct ingest_sink sink = { on_submitting, on_ingested, rq };
	struct rd_error e;
	rq->finish = finish;
	int rc = root ? ingest_messages_json(app, rq->snap, opt, root, &sink, &e)
	              : ingest_messages(app, rq->snap, opt, rq->body.data, rq->body.len, &sink, &e);
	if (rc) {
		rq->finish = NULL;
		http_reply_error(rq, &e);
		return;
	}
	rq->answered = true;   /* the reply is queued by `finish` */
}

int http_ingest_result(struct request *rq, const char **body, size_t *len, struct rd_error *e)
{
	struct ingest_reply r;
	uncount_suspended(rq);
	if (ingest_job_reply(rq->job, &r, e))
		return -1;
	note_ids(rq, &r);
	*body = r.body;
	*len = r.len;
	metrics_ingest_latency(rq->srv->app->metrics, util_mono_us() - rq->start_us);
	return 0;
}

void http_reply_ingested(struct request *rq, int status)
{
	const char *body;
	size_t len;
	struct rd_error e;
	if (http_ingest_result(rq, &body, &len, &e))
		http_reply_error(rq, &e);
	else
		http_reply_text(rq, status, "application/json", body, len, NULL, NULL);
}

/* Second half of POST /v1/messages, when MHD resumes the connection. */
static void finish_messages(struct request *rq)
{
	http_reply_ingested(rq, 201);
}

/* First half: ingest validates, redacts and seals on this worker thread and
 * hands the records to the writer; the connection waits suspended until
 * they are committed, so one worker serves many clients while fsync runs. */
static void handle_messages(struct request *rq)
{
	const char *ret = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "return");
	struct ingest_options opt = { .default_tenant = http_token_tenant(rq), .channel = CH_WEB,
	                              .return_redacted = ret && strcmp(ret, "redacted") == 0,
	                              .actor = rq->token_name };
	http_ingest(rq, &opt, NULL, finish_messages);
}

static void handle_redact(struct request *rq)
{
	json_t *reply = NULL;
	struct rd_error e;
	if (ingest_redact_only(rq->snap, http_token_tenant(rq), rq->body.data, rq->body.len, &reply, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	http_reply_json(rq, 200, reply);
	json_decref(reply);
}

const char *http_query_tenant(struct request *rq, struct rd_error *e)
{
	const char *t = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "tenant");
	return tenant_resolve(http_token_tenant(rq), t, NULL, RD_E_INVALID_QUERY, e);
}

/* ?limit=N (1..READ_PAGE_MAX) and ?after=ID (a record id): a page of the
 * transcript (read.h). 0, or -1 with e. */
#define READ_PAGE_MAX 100000
static int query_page(struct request *rq, struct read_page *page, struct rd_error *e)
{
	const char *limit = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *after = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "after");
	char *end = NULL;
	unsigned long long n = limit ? strtoull(limit, &end, 10) : 0;
	if (limit && (!isdigit((unsigned char)limit[0]) || *end || n < 1 || n > READ_PAGE_MAX)) {
		rd_error_set(e, RD_E_INVALID_QUERY, "limit must be a whole number from 1 to %d",
		             READ_PAGE_MAX);
		return -1;
	}
	if (after && !record_id_valid(after)) {
		rd_error_set(e, RD_E_INVALID_QUERY, "after must be a message id (m_ and 24 hex digits)");
		return -1;
	}
	if (after && !limit) {
		rd_error_set(e, RD_E_INVALID_QUERY, "after needs limit: ?limit=N&after=ID");
		return -1;
	}
	page->limit = (size_t)n;
	page->after = after;
	return 0;
}

static void handle_get_conversation(struct request *rq)
{
	struct rd_error e;
	struct buf reply = { 0 };
	struct read_page page;
	const char *tenant = http_query_tenant(rq, &e);
	if (!tenant || query_page(rq, &page, &e) ||
	    restrict_check_read(rq->srv->app, rq->snap, tenant, rq->id,
	                        (rq->token_scopes & SCOPE_ADMIN) != 0, rq->token_name, &e) ||
	    read_conversation(rq->srv->app, rq->snap, tenant, rq->id, &page, rq->token_name, &reply,
	                      &e))
		http_reply_error(rq, &e);
	else
		http_reply_text(rq, 200, "application/json", reply.data, reply.len, NULL, NULL);
	buf_free(&reply);
}

/* 503 once the store cannot make writes durable (restarting is the fix),
 * and while the last write failed for lack of disk space (freeing space
 * is; the next write that succeeds makes it 200 again). */
static void handle_healthz(struct request *rq)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	static const char failing[] = "{\"status\":\"failing\",\"reason\":\"storage\"}";
	static const char full[] = "{\"status\":\"storage_full\"}";
	struct store *st = rq->srv->app->store;
	if (!store_writable(st))
		http_reply_text(rq, 503, "application/json", failing, sizeof failing - 1, NULL, NULL);
	else if (store_disk_full(st))
		http_reply_text(rq, 503, "application/json", full, sizeof full - 1, "Retry-After", "10");
	else
		http_reply_text(rq, 200, "application/json", ok, sizeof ok - 1, NULL, NULL);
}

static void handle_metrics(struct request *rq)
{
	struct buf b = { 0 };
	struct store_counters sc;
	struct app *app = rq->srv->app;
	store_get_counters(app->store, &sc);
	if (metrics_render(app->metrics, &b) || metrics_render_store(&sc, &b) ||
	    buf_printf(&b, "# HELP redactd_storage_failed 1 while the store refuses writes after a failed"
	                   " WAL fdatasync (a restart is needed).\n"
	                   "# TYPE redactd_storage_failed gauge\nredactd_storage_failed %d\n",
	               !store_writable(app->store)) ||
	    retention_render_metrics(app, &b) || metrics_render_process(app->metrics, &b) ||
	    http_tls_render_metrics(rq->srv->tls, &b)) {
		http_fail(rq, RD_E_INTERNAL, "out of memory");
	} else {
		http_reply_text(rq, 200, "text/plain; version=0.0.4", b.data, b.len, NULL, NULL);
	}
	buf_free(&b);
}

static const struct route routes[] = {
	{ "GET", "/healthz", false, 0, false, handle_healthz, "/healthz" },
	{ "HEAD", "/healthz", false, 0, false, handle_healthz, "/healthz" },
	{ "GET", "/readyz", false, 0, false, http_readyz, "/readyz" },
	{ "HEAD", "/readyz", false, 0, false, http_readyz, "/readyz" },
	{ "GET", "/metrics", false, SCOPE_METRICS | SCOPE_READ, false, handle_metrics, "/metrics" },
	{ "POST", "/v1/messages", false, SCOPE_INGEST, true, handle_messages, "/v1/messages" },
	{ "POST", "/v1/redact", false, SCOPE_INGEST, true, handle_redact, "/v1/redact" },
	{ "PATCH", "/v1/messages/", true, SCOPE_ADMIN, true, http_patch_message, "/v1/messages/{id}" },
	{ "GET", "/v1/conversations/", true, SCOPE_READ, false, handle_get_conversation,
	  "/v1/conversations/{id}" },
	{ "DELETE", "/v1/conversations/", true, SCOPE_ADMIN, false, http_delete_conversation,
	  "/v1/conversations/{id}" },
	{ "GET", "/v1/subjects", false, SCOPE_ADMIN, false, http_get_subject, "/v1/subjects" },
	{ "DELETE", "/v1/subjects", false, SCOPE_ADMIN, false, http_delete_subject, "/v1/subjects" },
	{ "POST", "/v1/holds", false, SCOPE_ADMIN, true, http_post_hold, "/v1/holds" },
	{ "GET", "/v1/holds", false, SCOPE_ADMIN, false, http_get_holds, "/v1/holds" },
	{ "DELETE", "/v1/holds/", true, SCOPE_ADMIN, false, http_delete_hold, "/v1/holds/{id}" },
	{ "GET", "/v1/tenants", false, SCOPE_ADMIN, false, http_get_tenants, "/v1/tenants" },
	{ "POST", "/v1/tenants/", true, SCOPE_ADMIN, true, http_post_tenant_close, "/v1/tenants/{name}/close" },
	{ "DELETE", "/v1/tenants/", true, SCOPE_ADMIN, false, http_delete_tenant_close,
	  "/v1/tenants/{name}/close" },
	/* Consent and opt-out (http_consent.c): bots record and ask with ingest tokens. */
	{ "POST", "/v1/consents", false, SCOPE_INGEST | SCOPE_ADMIN, true, http_post_consent, "/v1/consents" },
	{ "GET", "/v1/consents", false, SCOPE_ADMIN, false, http_get_consents, "/v1/consents" },
	{ "GET", "/v1/subjects/optout", false, SCOPE_INGEST | SCOPE_ADMIN, false, http_get_optout,
	  "/v1/subjects/optout" },
	{ "POST", "/v1/restrictions", false, SCOPE_ADMIN, true, http_post_restriction,
	  "/v1/restrictions" },
	{ "GET", "/v1/restrictions", false, SCOPE_ADMIN, false, http_get_restrictions,
	  "/v1/restrictions" },
	{ "DELETE", "/v1/restrictions/", true, SCOPE_ADMIN, false, http_delete_restriction,
	  "/v1/restrictions/{id}" },
	/* Webhooks (http_webhook.c): Twilio and WhatsApp prove themselves by signature. */
	{ "POST", "/v1/webhooks/dialogflow-cx", false, SCOPE_INGEST, true, http_webhook_cx,
	  "/v1/webhooks/dialogflow-cx" },
	{ "POST", "/v1/webhooks/twilio", false, 0, false, http_webhook_twilio, "/v1/webhooks/twilio" },
	{ "GET", "/v1/webhooks/whatsapp", false, 0, false, http_webhook_whatsapp_verify,
	  "/v1/webhooks/whatsapp" },
	{ "POST", "/v1/webhooks/whatsapp", false, 0, true, http_webhook_whatsapp, "/v1/webhooks/whatsapp" },
	/* Generic signed sources, after the fixed routes above, which match first. */
	{ "POST", "/v1/webhooks/", true, 0, true, http_webhook_generic, "/v1/webhooks/{name}" },
};

/* ---- routing and authentication --------------------------------------- */

static bool path_matches(const struct route *r, const char *url, const char **id)
{
	size_t n = strlen(r->path);
	if (!r->has_id)
		return strcmp(url, r->path) == 0;
	if (strncmp(url, r->path, n) != 0 || url[n] == '\0')
		return false;
	*id = url + n;
	return true;
}

/* For a 405: each route with its method replaced by every method its path
 * takes ("GET, DELETE"), which the reply sends as Allow. Built once. */
static struct route allow_routes[RD_ARRAY_LEN(routes)];
static char allow_methods[RD_ARRAY_LEN(routes)][48];
static pthread_once_t allow_once = PTHREAD_ONCE_INIT;

static void build_allow(void)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(routes); i++) {
		size_t used = 0;
		for (size_t j = 0; j < RD_ARRAY_LEN(routes); j++) {
			if (strcmp(routes[i].path, routes[j].path) || routes[i].has_id != routes[j].has_id)
				continue;
			int n = snprintf(allow_methods[i] + used, sizeof allow_methods[i] - used, "%s%s",
			                 used ? ", " : "", routes[j].method);
			if (n > 0 && (size_t)n < sizeof allow_methods[i] - used)
				used += (size_t)n;
		}
		allow_routes[i] = routes[i];
		allow_routes[i].method = allow_methods[i];
	}
}

/* Finds the route for (method, url). Sets *path_route, whose method lists
 * what the path allows, when the path is known (for a 405). */
static const struct route *route_find(const char *method, const char *url, const char **id,
                                      const struct route **path_route)
{
	pthread_once(&allow_once, build_allow);
	*path_route = NULL;
	for (size_t i = 0; i < RD_ARRAY_LEN(routes); i++) {
		const char *tmp = NULL;
		if (!path_matches(&routes[i], url, &tmp))
			continue;
		if (!*path_route)
			*path_route = &allow_routes[i];
		if (strcmp(routes[i].method, method) == 0) {
			*id = tmp;
			return &routes[i];
		}
	}
	return NULL;
}

/* One request from key's bucket; 429 with e set when it is empty. */
static int take_limit(struct request *rq, const char *scope, const void *key, size_t len,
                      double rate, int burst, struct rd_error *e)
{
	int wait = ratelimit_take(rq->srv->limits, key, len, rate, burst);
	if (!wait)
		return 0;
	rq->retry_after = wait;
	metrics_rate_limited(rq->srv->app->metrics, scope);
	rd_error_set(e, RD_E_RATE_LIMITED, "too many requests %s; retry after %d s",
	              strcmp(scope, "ip") ? "for this token" : "from this address", wait);
	return -1;
}

/* [token] rate_limit, keyed by the token's name. */
static int limit_token(struct request *rq, const struct token_conf *tok, struct rd_error *e)
{
	char key[RATELIMIT_MAX_KEY_LEN];
	int n = snprintf(key, sizeof key, "t%s", tok->name);
	if (tok->rate_limit <= 0 || n < 0 || (size_t)n >= sizeof key)
		return 0;
	return take_limit(rq, "token", key, (size_t)n, tok->rate_limit, tok->rate_burst, e);
}

/* [server] rate_limit_per_ip, keyed by the client's address (IPv6: /64). */
static int limit_address(struct request *rq, struct rd_error *e)
{
	const struct config *cfg = rq->snap->cfg;
	unsigned char key[17] = { 'a' };
	if (cfg->rate_limit_per_ip <= 0 || !rq->gc)
		return 0;
	size_t n = guard_addr_key(rq->gc, key + 1);
	return take_limit(rq, "ip", key, n + 1, cfg->rate_limit_per_ip, cfg->rate_burst_per_ip, e);
}

static int authenticate(struct request *rq, struct rd_error *e)
{
	if (!rq->route->scope)
		return 0;
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	                                            MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		rd_error_set(e, RD_E_UNAUTHORIZED, "an Authorization: Bearer token is required");
		return -1;
	}
	unsigned char digest[32];
	crypto_token_hash(h + 7, strlen(h + 7), digest);
	const struct token_conf *tok = config_token_find(rq->snap->cfg, digest);
	if (!tok) {
		rd_error_set(e, RD_E_UNAUTHORIZED, "the bearer token is not valid");
		return -1;
	}
	rq->authenticated = true;
	rq->token_name = tok->name;     /* the snapshot keeps the config alive */
	rq->token_tenant = tok->tenant;
	rq->token_scopes = tok->scopes;
	if (!(tok->scopes & rq->route->scope)) {
		rd_error_set(e, RD_E_FORBIDDEN, "the token lacks the scope this route needs");
		return -1;
	}
	return limit_token(rq, tok, e);
}

static int check_body_headers(struct request *rq, struct rd_error *e)
{
	const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen("application/json");
	if (!ct || strncasecmp(ct, "application/json", n) != 0 || (ct[n] && ct[n] != ';' && ct[n] != ' ')) {
		rd_error_set(e, RD_E_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json");
		return -1;
	}
	const char *cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	size_t len;
	if (cl && util_parse_size(cl, &len) == 0 && len > rq->snap->cfg->max_body) {
		rd_error_set(e, RD_E_BODY_TOO_LARGE, "the body exceeds max_body (%zu bytes)",
		              rq->snap->cfg->max_body);
		return -1;
	}
	return 0;
}

/* Request framing a proxy and this server could read differently (request
 * smuggling), and ids MHD's decoding cut short at a %00. */
static int check_framing(struct request *rq, const char *version, struct rd_error *e)
{
	const char *te = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	size_t len;
	rq->body_expected = te || (cl && (util_parse_size(cl, &len) || len > 0));
	if (rq->bad_path)
		rd_error_set(e, RD_E_INVALID_PATH, "the path holds a NUL or control character");
	else if (te && cl)
		rd_error_set(e, RD_E_BAD_REQUEST,
		              "Content-Length and Transfer-Encoding must not be sent together");
	else if (version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
	         !MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))
		rd_error_set(e, RD_E_BAD_REQUEST, "an HTTP/1.1 request needs a Host header");
	else
		return 0;
	return -1;
}

/* Everything decided from the request line and headers. -1 with e set. */
static int admit(struct request *rq, const char *url, const char *version, struct rd_error *e)
{
	const struct route *path_route;
	rq->route = route_find(rq->method, url, &rq->id, &path_route);
	rq->route_name = rq->route ? rq->route->name : path_route ? path_route->name : "(unknown)";
	if (check_framing(rq, version, e))
		return -1;
	if (strcmp(rq->route_name, "/healthz") && limit_address(rq, e))
		return -1;
	if (!rq->route) {
		rq->route = path_route;
		if (path_route)
			rd_error_set(e, RD_E_METHOD_NOT_ALLOWED, "this route does not accept %s",
			              strcmp(rq->method, "GET") && strcmp(rq->method, "POST") &&
			              strcmp(rq->method, "DELETE") && strcmp(rq->method, "PUT") &&
			              strcmp(rq->method, "PATCH") && strcmp(rq->method, "HEAD") ? "this method"
			              : rq->method);
		else
			rd_error_set(e, RD_E_NOT_FOUND, "no such route");
		return -1;
	}
	if (authenticate(rq, e))
		return -1;
	if (rq->route->json_body && check_body_headers(rq, e))
		return -1;
	return 0;
}

static struct request *request_new(struct http_server *srv, struct MHD_Connection *conn)
{
	struct request *rq = calloc(1, sizeof *rq);
	if (rq) {
		rq->srv = srv;
		rq->conn = conn;
		rq->start_us = util_mono_us();
	}
	return rq;
}

/* The raw query may hold identifiers (?phone=...): wiped like bodies. */
static void request_free(struct request *rq)
{
	if (rq->raw_query) {
		sodium_memzero(rq->raw_query, strlen(rq->raw_query));
		free(rq->raw_query);
	}
	buf_free(&rq->body);
	ingest_job_free(rq->job);
	http_forward_free(rq->fwd);
	app_snap_release(rq->snap);
	free(rq);
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* MHD decodes %00 into a NUL that ends the path (an id "abc%00def" would
 * read as "abc"): look at every byte of the path as it will be decoded.
 * Only a %XX escape can decode to one the raw bytes do not show, so a path
 * without '%' (nearly every request) is checked in place, with no copy. */
static bool path_has_control(const char *uri)
{
	size_t n = strcspn(uri, "?");
	const char *pct = memchr(uri, '%', n);
	for (size_t i = 0; i < (pct ? (size_t)(pct - uri) : n); i++)
		if (is_control((unsigned char)uri[i]))
			return true;
	if (!pct)
		return false;
	char *copy = strndup(uri, n);
	bool bad = !copy;
	if (copy) {
		size_t len = MHD_http_unescape(copy);
		for (size_t i = 0; i < len && !bad; i++)
			bad = is_control((unsigned char)copy[i]);
	}
	free(copy);
	return bad;
}

/* MHD's URI callback, before it decodes the query: keeps the query's exact
 * bytes, which Twilio's signature covers (decoding and re-encoding cannot
 * always restore them). Never logged. Its value becomes *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *rq = request_new(cls, conn);
	const char *q = uri ? strchr(uri, '?') : NULL;
	if (rq && uri)
		rq->bad_path = path_has_control(uri);
	if (rq && q && q[1] && strlen(q + 1) <= HTTP_MAX_RAW_QUERY)
		rq->raw_query = strdup(q + 1);   /* on failure: re-encoded instead */
	return rq;
}

/* MHD's request callback, once for the headers, once per piece of body,
 * once when it is complete, and once more when a suspended request resumes. */
static MHD_RESULT on_request(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct request *rq = *con_cls;
	if (!rq || !rq->method) {
		if (!rq && !(rq = request_new(srv, conn)))
			return MHD_NO;
		rq->method = method;
		rq->snap = app_snap_acquire(srv->app);
		rq->gc = guard_of(conn);
		*con_cls = rq;
		struct rd_error e;
		int refused = admit(rq, url, version, &e);
		guard_headers_done(rq->gc, rq->body_expected);
		if (refused) {
			http_reply_error(rq, &e);
			if (rq->body_expected)
				guard_linger(rq->gc);   /* MHD will not read that body */
		}
		return MHD_YES;
	}
	if (rq->finish && atomic_load(&rq->commit_done)) {
		rq->answered = false;
		rq->finish(rq);
		return rq->answered ? MHD_YES : MHD_NO;
	}
	if (rq->answered) {
		*upload_size = 0;    /* discard the rest of a refused body */
		return MHD_YES;
	}
	if (*upload_size) {
		guard_body_bytes(rq->gc, *upload_size);
		if (!rq->too_large && rq->body.len + *upload_size > rq->snap->cfg->max_body) {
			rq->too_large = true;
			buf_free(&rq->body);
		}
		/* A chunked body has no length to refuse up front: it is read and
		 * dropped so the 413 can be sent, but not for ever. */
		if (rq->too_large && (rq->discarded += *upload_size) > GUARD_LINGER_BYTES)
			return MHD_NO;
		if (!rq->too_large && buf_append(&rq->body, upload_data, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	guard_body_done(rq->gc);
	if (rq->too_large) {
		char msg[96];
		snprintf(msg, sizeof msg, "the body exceeds max_body (%zu bytes)", rq->snap->cfg->max_body);
		http_fail(rq, RD_E_BODY_TOO_LARGE, msg);
		return MHD_YES;
	}
	rq->route->fn(rq);
	return rq->answered ? MHD_YES : MHD_NO;
}

/* A refused request (bad signature, token, input) is worth a look but is
 * no fault here: notice. The server failing a request is a warning. */
static enum log_level access_level(int status, bool cut)
{
	if (status >= 500)
		return LOG_WARN;
	return status >= 400 || cut ? LOG_NOTICE : LOG_INFO;
}

/* The security log: a refused authentication (401, a bad webhook
 * signature) or a forbidden request (403) is an audit entry, `auth_failed`
 * or `forbidden`, naming the route, the token when one was recognised, and
 * the client by a keyed hash of its address (IPv6: /64), never the address.
 * guard_seclog_take limits them per address and in all; an entry counts
 * the refusals it stood for since the last one. */
static void security_log(struct http_server *srv, struct request *rq)
{
	uint64_t suppressed;
	unsigned char key[16];
	char client[AUDIT_TARGET_MAX], target[AUDIT_FIELD_MAX];
	if ((rq->status != 401 && rq->status != 403) ||
	    !guard_seclog_take(srv->guard, rq->gc, util_now_ms(), &suppressed))
		return;
	size_t n = rq->gc ? guard_addr_key(rq->gc, key) : 0;
	if (n)
		audit_target(rq->snap->keys, "client", key, n, client);
	else
		snprintf(client, sizeof client, "client:local");
	snprintf(target, sizeof target, "route:%s %s", rq->route_name ? rq->route_name : "(unknown)",
	         client);
	bool auth = rq->status == 401 || rq->refusal == RD_E_BAD_SIGNATURE;
	const char *actor = rq->authenticated && rq->token_name ? rq->token_name : "anonymous";
	enum rd_err rc = audit_record(srv->app->store, srv->app->metrics, actor,
	                              auth ? "auth_failed" : "forbidden", target,
	                              (int64_t)(1 + suppressed));
	if (rc != RD_OK)
		log_warn("http: a refused request could not be audit-logged: %s", rd_err_code(rc));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct request *rq = *con_cls;
	guard_request_done(guard_of(conn));
	if (!rq)
		return;
	*con_cls = NULL;
	if (!rq->method) {   /* ended before its headers were complete */
		request_free(rq);
		return;
	}
	int64_t us = util_mono_us() - rq->start_us;
	const char *route = rq->route_name ? rq->route_name : "(unknown)";
	/* The method is the client's text: log only the standard ones. */
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS" };
	const char *method = "OTHER";
	for (size_t i = 0; i < RD_ARRAY_LEN(methods); i++)
		if (strcmp(rq->method, methods[i]) == 0)
			method = methods[i];
	uncount_suspended(rq);
	metrics_request(srv->app->metrics, route, rq->status, us);
	bool cut = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
	int access_log = rq->snap->cfg->access_log;
	if (access_log == ACCESS_LOG_ALL || (access_log == ACCESS_LOG_ERRORS && (rq->status >= 400 || cut)))
		log_msg(access_level(rq->status, cut), "http %s %s %d %.3fms in=%zu out=%zu%s%s", method,
		        route, rq->status, (double)us / 1000.0, rq->body.len, rq->bytes_out, rq->ids_note,
		        cut ? " (connection ended early)" : "");
	security_log(srv, rq);
	request_free(rq);
}

/* ---- listening ---------------------------------------------------------- */

static int parse_inet(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof host) {
		util_err(err, errlen, "listen: expected host:port or unix:/path");
		return -1;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICSERV | AI_PASSIVE }, *res;
	int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
	if (rc) {
		util_err(err, errlen, "listen: %s", gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static int open_unix(struct http_server *srv, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sun.sun_path) {
		util_err(err, errlen, "listen: unix socket path too long");
		return -1;
	}
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		util_err(err, errlen, "listen: socket: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc < 0 || listen(fd, 512) < 0) {
		util_err(err, errlen, "listen: %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	srv->unix_fd = fd;
	snprintf(srv->unix_path, sizeof srv->unix_path, "%s", path);
	return 0;
}

#define MHD_LOG_WINDOW_US (60 * 1000000LL)
#define MHD_LOG_PER_WINDOW 10

/* libmicrohttpd's own messages. Most are one per connection ("Connection
 * socket is closed when reading request ..."), so every slow client the
 * guard cuts would write a line and a flood of them would flood the log:
 * at most MHD_LOG_PER_WINDOW lines a minute, then a count of the rest.
 * They hold MHD's texts and numbers, never request data. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int64_t window_start;
	static unsigned shown, dropped;
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	int64_t now = util_mono_us();
	pthread_mutex_lock(&lock);
	if (now - window_start > MHD_LOG_WINDOW_US) {
		if (dropped)
			log_warn("mhd: %u more messages in the last minute not shown", dropped);
		window_start = now;
		shown = dropped = 0;
	}
	bool show = shown < MHD_LOG_PER_WINDOW;
	shown += show;
	dropped += !show;
	pthread_mutex_unlock(&lock);
	if (show)
		log_warn("mhd: %s", msg);
}

static unsigned worker_threads(const struct config *cfg)
{
	if (cfg->threads > 0)
		return (unsigned)cfg->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static bool any_forward(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].forward_to)
			return true;
	return false;
}

static int http_start_with(struct app *app, const struct config *cfg, struct http_server **out,
                           char *err, size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof *srv);
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
	if (!srv) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	srv->app = app;
	srv->unix_fd = -1;
	bool is_unix = strncmp(cfg->listen, "unix:", 5) == 0;
	if (is_unix ? open_unix(srv, cfg->listen + 5, err, errlen) : parse_inet(cfg->listen, &ss, err, errlen))
		goto fail;
	if (!is_unix && ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert) {
		if (http_tls_open(cfg->tls_cert, cfg->tls_key, &srv->tls, err, errlen))
			goto fail;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem opts[20];
	size_t n = 0;
	struct guard_limits lim = { .per_ip = cfg->max_connections_per_ip,
	                            .header_timeout = cfg->header_timeout,
	                            .body_min_rate = cfg->body_min_rate, .body_grace = cfg->body_grace };
	if (guard_start(&srv->guard, &lim, app->metrics, err, errlen))
		goto fail;
	if (!(srv->limits = ratelimit_new())) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&srv->forward_lock, NULL);
	if (any_forward(cfg) && !http_forward_engine(srv, err, errlen))
		goto fail;   /* a bot configured now is told at start that libcurl is missing */
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)guard_notify,
	                                     srv->guard };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, srv };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, worker_threads(cfg), NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, cfg->request_timeout, NULL };
	/* Headers only (bodies go to our own buffer); MHD clears the pool per
	 * request, so a larger one costs a large memset on every message. */
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL };
	if (is_unix)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, srv->unix_fd, NULL };
	else
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	if (srv->tls) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, http_tls_callback() };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
		                                     (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
	                               MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->daemon) {
		util_err(err, errlen, "cannot listen on %s (address in use, or bad TLS files?)", cfg->listen);
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	http_stop(srv);
	return -1;
}

/* Listening, threads and limits are read once, from the snapshot current at
 * start (a reload keeps them: config_keep_restart_only). */
int http_start(struct app *app, struct http_server **out, char *err, size_t errlen)
{
	struct app_snap *snap = app_snap_acquire(app);
	int rc = http_start_with(app, snap->cfg, out, err, errlen);
	app_snap_release(snap);
	return rc;
}

int http_reload_tls(struct http_server *srv, char *err, size_t errlen)
{
	return srv->tls ? http_tls_reload(srv->tls, err, errlen) : 0;
}

void http_stop(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->daemon) {
		/* Stop accepting, then let suspended requests get their commit
		 * and their reply before the workers go. The wait has no bound of
		 * its own: MHD_stop_daemon frees a suspended request whose done
		 * callback the writer would still run, so a writer that never
		 * answers is ended by the service manager's stop timeout
		 * (acknowledged records are durable either way), not by freeing
		 * what it will touch. */
		MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
		if (lfd != MHD_INVALID_SOCKET && srv->unix_fd < 0)
			close(lfd);
		for (unsigned i = 1; atomic_load(&srv->suspended) > 0; i++) {
			usleep(10000);
			if (i % 1000 == 0)
				log_warn("stopping: %u requests still wait for the store after %u s",
				         (unsigned)atomic_load(&srv->suspended), i / 100);
		}
		forward_stop(atomic_load(&srv->forward));   /* forwards still out end now, and resume */
		MHD_stop_daemon(srv->daemon);
	}
	forward_free(atomic_load(&srv->forward));   /* after MHD: no handler can log a turn any more */
	pthread_mutex_destroy(&srv->forward_lock);
	guard_stop(srv->guard);      /* after MHD: no notification can come any more */
	ratelimit_free(srv->limits);
	if (srv->unix_fd >= 0) {
		close(srv->unix_fd);
		unlink(srv->unix_path);
	}
	http_tls_close(srv->tls);   /* after MHD: no handshake can be running */
	free(srv);
}
