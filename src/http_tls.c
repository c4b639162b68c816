/*
 * http_tls.c — TLS credentials served through GnuTLS's certificate
 * callback, so SIGHUP can replace them (see http_tls.h).
 */
#include "http_tls.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_MAX_CHAIN 16
#define TLS_MAX_FILE  (1u << 20)

struct creds {
	gnutls_pcert_st pcert[TLS_MAX_CHAIN];
	unsigned npcert;
	gnutls_privkey_t key;
	char *cert_pem;                /* for the expiry metric */
	struct creds *retired_next;
};

struct http_tls {
	pthread_mutex_t mu;
	struct creds *current, *retired;
	char *cert_spec, *key_spec;
};

/* The handshake callback has no user pointer: one server per process. */
static struct http_tls *served;

static char *read_pem(const char *spec, char *err, size_t errlen)
{
	char path[4096];
	if (util_credential_path(spec, path, sizeof path, err, errlen))
		return NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		util_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > TLS_MAX_FILE || buf_append(&b, chunk, n)) {
			util_err(err, errlen, "%s: larger than 1 MB, or out of memory", path);
			sodium_memzero(b.data, b.len);
			buf_free(&b);
			fclose(f);
			return NULL;
		}
	}
	sodium_memzero(chunk, sizeof chunk);
	fclose(f);
	if (!b.data && buf_append(&b, "", 0))
		return NULL;
	return b.data;
}

static void free_pem(char *pem)
{
	if (pem) {
		sodium_memzero(pem, strlen(pem));
		free(pem);
	}
}

static void creds_free(struct creds *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->npcert; i++)
		gnutls_pcert_deinit(&c->pcert[i]);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c->cert_pem);
	free(c);
}

static struct creds *creds_load(const struct http_tls *t, char *err, size_t errlen)
{
	struct creds *c = calloc(1, sizeof *c);
	char *cert = read_pem(t->cert_spec, err, errlen);
	char *key = cert ? read_pem(t->key_spec, err, errlen) : NULL;
	int rc = -1;
	if (!c || !key)
		goto out;
	gnutls_datum_t cd = { (unsigned char *)cert, (unsigned)strlen(cert) };
	gnutls_datum_t kd = { (unsigned char *)key, (unsigned)strlen(key) };
	c->npcert = TLS_MAX_CHAIN;
	int g = gnutls_pcert_list_import_x509_raw(c->pcert, &c->npcert, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0) {
		c->npcert = 0;
		util_err(err, errlen, "tls_cert %s: %s", t->cert_spec, gnutls_strerror(g));
		goto out;
	}
	if ((g = gnutls_privkey_init(&c->key)) < 0 ||
	    (g = gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		util_err(err, errlen, "tls_key %s: %s", t->key_spec, gnutls_strerror(g));
		goto out;
	}
	c->cert_pem = cert;
	cert = NULL;
	rc = 0;
out:
	free_pem(cert);
	free_pem(key);
	if (rc) {
		creds_free(c);
		return NULL;
	}
	return c;
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	(void)session; (void)req_ca_dn; (void)nreqs; (void)pk_algos; (void)pk_algos_length;
	struct http_tls *t = served;
	if (!t)
		return -1;
	pthread_mutex_lock(&t->mu);
	struct creds *c = t->current;
	*pcert = c->pcert;
	*pcert_length = c->npcert;
	*pkey = c->key;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* GnuTLS's own messages (level 1: errors only; higher levels dump
 * handshake details) go through the daemon's logger, like libmicrohttpd's. */
static void gnutls_log(int level, const char *msg)
{
	(void)level;
	char line[512];
	snprintf(line, sizeof line, "%s", msg);
	line[strcspn(line, "\n")] = '\0';
	log_warn("gnutls: %s", line);
}

void *http_tls_callback(void)
{
	return (void *)(intptr_t)retrieve;
}

int http_tls_open(const char *cert_spec, const char *key_spec, struct http_tls **out, char *err,
                  size_t errlen)
{
	struct http_tls *t = calloc(1, sizeof *t);
	if (t)
		pthread_mutex_init(&t->mu, NULL);
	if (!t || !(t->cert_spec = strdup(cert_spec)) || !(t->key_spec = strdup(key_spec))) {
		util_err(err, errlen, "out of memory");
		http_tls_close(t);
		return -1;
	}
	if (!(t->current = creds_load(t, err, errlen))) {
		http_tls_close(t);
		return -1;
	}
	gnutls_global_set_log_function(gnutls_log);
	gnutls_global_set_log_level(1);
	served = t;
	*out = t;
	return 0;
}

int http_tls_reload(struct http_tls *t, char *err, size_t errlen)
{
	struct creds *c = creds_load(t, err, errlen);
	if (!c)
		return -1;
	pthread_mutex_lock(&t->mu);
	t->current->retired_next = t->retired;
	t->retired = t->current;
	t->current = c;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int http_tls_render_metrics(struct http_tls *t, struct buf *b)
{
	if (!t)
		return 0;
	pthread_mutex_lock(&t->mu);
	int rc = metrics_render_tls(t->current->cert_pem, b);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void http_tls_close(struct http_tls *t)
{
	if (!t)
		return;
	if (served == t)
		served = NULL;
	creds_free(t->current);
	for (struct creds *c = t->retired, *next; c; c = next) {
		next = c->retired_next;
		creds_free(c);
	}
	free(t->cert_spec);
	free(t->key_spec);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
