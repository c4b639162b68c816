/*
 * http_tls.h — the served TLS certificate and key, replaceable on SIGHUP.
 *
 * libmicrohttpd asks for the certificate at every handshake through
 * MHD_OPTION_HTTPS_CERT_CALLBACK (GnuTLS's retrieve function), so a renewed
 * certificate (certbot, an ACME client, a new chain) takes effect on reload
 * without a restart. Credentials are immutable once loaded; a reload loads
 * new ones and swaps the pointer. Replaced credentials are kept until the
 * server stops, because a handshake in progress may still be signing with
 * them; reloads are rare, so that is a few KB per reload.
 */
#ifndef REDACTD_HTTP_TLS_H
#define REDACTD_HTTP_TLS_H

#include "redactd.h"
#include "util.h"

struct http_tls;

/* Loads cert_spec and key_spec (paths or credential:NAME). -1 with err
 * naming the file and what is wrong with it. */
int http_tls_open(const char *cert_spec, const char *key_spec, struct http_tls **out, char *err,
                  size_t errlen) RD_WARN_UNUSED;
void http_tls_close(struct http_tls *t);    /* NULL is a no-op; wipes key material */

/* The retrieve function for MHD_OPTION_HTTPS_CERT_CALLBACK, serving the
 * current credentials of the one http_tls opened in this process. */
void *http_tls_callback(void);

/* Reads both files again and serves them from the next handshake on. On
 * error (err says which file and why) the running ones stay. */
int http_tls_reload(struct http_tls *t, char *err, size_t errlen) RD_WARN_UNUSED;

/* redactd_tls_certificate_expiry_timestamp_seconds of what is served now. */
int http_tls_render_metrics(struct http_tls *t, struct buf *b) RD_WARN_UNUSED;

#endif
