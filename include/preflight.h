/*
 * preflight.h — checks of the files a config names, before anything opens
 * them.
 *
 * An ExecStartPre that passes and a start that fails, or a daemon that
 * starts and fails on its first webhook, is the worst way to learn that a
 * key file is missing. These checks look at every file `serve` opens and
 * report each problem as "FILE:LINE: message", pointing at the key that
 * named the file (no line when the default was used), with what to do.
 * They never read a secret's contents into the report.
 */
#ifndef REDACTD_PREFLIGHT_H
#define REDACTD_PREFLIGHT_H

#include "config.h"
#include "util.h"

enum preflight_what {
	PREFLIGHT_STORE = 1u << 0,    /* key_file opens as a key; database directory writable; keys_from */
	PREFLIGHT_TLS = 1u << 1,      /* tls_cert and tls_key readable */
	PREFLIGHT_SOURCES = 1u << 2,  /* every [source] secret_file and verify_token_file readable */
	PREFLIGHT_ALL = 7u,
};

/* Appends one line per problem to out and returns how many there were.
 * PREFLIGHT_STORE needs crypto_global_init() to have run. */
int preflight_check(const struct config *cfg, unsigned what, struct buf *out);

#endif
