/*
 * http.h — the HTTP API on libmicrohttpd (SPEC 5).
 *
 * DESIGN
 * libmicrohttpd runs a pool of `threads` worker threads, each polling its
 * share of connections. A request's body is collected into a buffer bounded
 * by max_body (a larger Content-Length is refused with 413 before any of it
 * is read; a chunked body that grows past it is discarded as it arrives).
 * Authentication, routing and content-type checks happen on the headers,
 * before the body. Handlers run on the worker thread; ingest blocks it until
 * the store's group commit holds the records, then answers 201.
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
