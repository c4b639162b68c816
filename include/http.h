/*
 * http.h — the HTTP API on libmicrohttpd (SPEC 5).
 *
 * DESIGN
 * libmicrohttpd runs a pool of `threads` worker threads, each polling its
 * share of connections. A request's body is collected into a buffer bounded
 * by max_body (a larger Content-Length is refused with 413 before any of it
 * is read; a chunked body that grows past it is discarded as it arrives).
 * Authentication, routing and content-type checks happen on the headers,
 * before the body, with the snapshot (app.h) the request takes then and
 * keeps to its end. Handlers run on the worker thread. An ingesting route
 * hands the body to ingest and suspends the connection while the records
 * wait for the group commit, so the worker serves other connections; MHD
 * resumes it when the commit is durable, and the reply (201) goes out then.
 */
#ifndef REDACTD_HTTP_H
#define REDACTD_HTTP_H

#include "app.h"

struct http_server;

/* Start listening per app->cfg ([server]). -1 with err on failure. */
int http_start(struct app *app, struct http_server **out, char *err, size_t errlen) RD_WARN_UNUSED;
/* Stop accepting, finish in-flight requests, free. NULL is a no-op. */
/* SIGHUP: read tls_cert and tls_key again and serve them from the next
 * handshake on; on error the running ones stay and err says why. 0 without
 * TLS. */
int http_reload_tls(struct http_server *srv, char *err, size_t errlen) RD_WARN_UNUSED;
void http_stop(struct http_server *srv);

#endif
