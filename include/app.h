/*
 * app.h — the running service's shared state and the API error type.
 *
 * One `struct app` is built by `redactd serve` (and by CLI commands that
 * touch the database) and shared by every request thread. The config and
 * the redaction engine can be replaced on SIGHUP: request threads hold
 * `lock` for reading while they use them; app_reload takes it for writing.
 */
#ifndef REDACTD_APP_H
#define REDACTD_APP_H

#include "redactd.h"
#include "config.h"
#include "crypto.h"
#include "redact.h"
#include "store.h"

#include <pthread.h>

struct metrics;

struct app {
	pthread_rwlock_t lock;          /* guards cfg and redact across reloads */
	struct config *cfg;
	struct redact *redact;
	struct keyring *keys;
	struct store *store;
	unsigned char *lookup_key;      /* SUBKEY_LOOKUP, sodium_malloc'd */
	struct metrics *metrics;
	char config_path[4096];
};

/* An error for the client: SPEC 5.4 {"error": {"code", "message"}}.
 * The message never quotes the client's data. */
struct api_error {
	int status;
	const char *code;
	char message[256];
};

void api_error_set(struct api_error *e, int status, const char *code, const char *fmt, ...)
	RD_PRINTF(4, 5);

/* For a failed store write whose status is rc: 503 storage_failed when the
 * store refuses writes since a failed fdatasync (STORE_FAILED: a restart is
 * needed), else 500 with code and message. */
void api_error_store(struct api_error *e, int rc, const char *code, const char *message);

enum app_mode {
	APP_REDACT_ONLY,   /* config + redaction engine (key optional) */
	APP_READONLY,      /* + keys + store without a writer */
	APP_SERVE,         /* + writer thread */
};

/* Load config, keys, engine and store as the mode needs. -1 with err;
 * *exit_code gets 2 for a configuration problem, 1 for a runtime one. */
int app_open(struct app *app, const char *config_path, enum app_mode mode, char *err,
             size_t errlen, int *exit_code) RD_WARN_UNUSED;
void app_close(struct app *app);
/* Re-read the config file and rebuild the engine; on error keep the old. */
int app_reload(struct app *app, char *err, size_t errlen) RD_WARN_UNUSED;

#endif
