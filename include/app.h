/*
 * app.h — the running service's shared state and its reload snapshots.
 *
 * One `struct app` is built by `redactd serve` (and by CLI commands that
 * touch the database) and shared by every request thread. What SIGHUP can
 * replace (the config, the redaction engine built from it, the master
 * keyring) lives in an immutable, reference-counted `struct app_snap`.
 *
 * DESIGN
 * A request takes the current snapshot when it starts (app_snap_acquire:
 * a mutex held for one load and one atomic increment) and releases it when
 * it ends (one atomic decrement); everything it reads of the config, the
 * engine or the keys comes from that one snapshot, so a request never sees
 * half of a reload, and nothing is locked while it works. A batch waiting
 * for its group commit holds a reference of its own (app_snap_ref), so the
 * entity and rule names its findings point to stay valid until it is
 * answered, whatever SIGHUP does meanwhile. app_reload builds a complete
 * new snapshot off to the side, publishes it by swapping the pointer under
 * the mutex, and drops the app's reference to the old one; the last holder
 * frees it (engine, config, and the keyring once no snapshot shares it).
 * What never changes while the process runs (the store, the lookup key
 * derived from the root key, metrics) stays in `struct app` itself.
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
#include <stdatomic.h>

struct metrics;
struct app_keys;

/* One published configuration. Read-only for its holders; refs and kref
 * are app.c's. */
struct app_snap {
	const struct config *cfg;
	const struct redact *redact;
	const struct keyring *keys;     /* the master keyring in force */
	atomic_uint refs;
	struct app_keys *kref;          /* keys, shared with the next snapshots */
};

struct app {
	pthread_mutex_t snap_lock;      /* guards `snap` for the swap and the first ref */
	struct app_snap *snap;          /* the current snapshot; the app holds one ref */
	struct store *store;
	unsigned char *lookup_key;      /* SUBKEY_LOOKUP, sodium_malloc'd; never changes */
	struct metrics *metrics;
	char config_path[4096];
	/* consent.c: whether a declined or withdrawn decision about voice is
	 * known to exist (from then on every voice message is checked, even
	 * where consent is not required), and when the store was last asked. */
	atomic_bool consent_refusals;
	_Atomic int64_t consent_probe_ms;
};

/* The current snapshot, with a reference the caller gives back with
 * app_snap_release. Never NULL once app_open succeeded. */
struct app_snap *app_snap_acquire(struct app *app) RD_WARN_UNUSED;
/* One more reference to a snapshot the caller already holds (a batch that
 * outlives its request's hold). Returns s. */
struct app_snap *app_snap_ref(struct app_snap *s);
/* Drops one reference; the last one frees the snapshot. NULL is a no-op. */
void app_snap_release(struct app_snap *s);
/* How many snapshots this process has not freed yet (for tests). */
int app_snap_live(void);

/* For a failed store operation whose status is rc: the service's own
 * conditions pass through with their message (RD_E_STORAGE_FAILED after a
 * failed fdatasync, RD_E_STORAGE_FULL, RD_E_BUSY, RD_E_SHUTTING_DOWN: each
 * a 503 the client may retry or wait out); anything else becomes err with
 * message. */
void rd_error_store(struct rd_error *e, enum rd_err rc, enum rd_err err, const char *message);

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
/* Re-read the config file, rebuild the engine and publish both as a new
 * snapshot; on error the running one stays. Requests that hold the old
 * snapshot finish with it. */
int app_reload(struct app *app, char *err, size_t errlen) RD_WARN_UNUSED;

#endif
