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
#include "rd_error.h"
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

/* For a failed store operation whose status is rc: RD_E_STORAGE_FAILED when
 * the store refuses writes since a failed fdatasync (a restart is needed),
 * RD_E_STORAGE_FULL when the disk is full, else err with message. */
void rd_error_store(struct rd_error *e, int rc, enum rd_err err, const char *message);

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
