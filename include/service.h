/*
 * service.h — talking to systemd (Type=notify): readiness, reloads, a
 * status line, and the watchdog.
 *
 * Every call is a no-op when the daemon was not started by systemd
 * ($NOTIFY_SOCKET unset), so `redactd serve` in a terminal or a test
 * behaves the same. The watchdog thread runs only when the unit sets
 * WatchdogSec= (systemd passes $WATCHDOG_USEC): every half period it sends
 * an empty job through the store's writer and sync stage and checks that
 * the sweeper is alive, and only then sends WATCHDOG=1. A stuck writer
 * blocks that thread, so systemd stops hearing from it and restarts the
 * service. The same thread refreshes STATUS= (queue depth, last sweep).
 */
#ifndef REDACTD_SERVICE_H
#define REDACTD_SERVICE_H

#include "app.h"

struct retention;
struct service;

/* The longest a sweep pass may run before the watchdog calls it stuck. */
#define SERVICE_MAX_PASS_US (3600LL * 1000000LL)

/* READY=1 with a first STATUS=, and the watchdog/status thread. -1 with err. */
int service_ready(struct app *app, struct retention *sweeper, struct service **out, char *err,
                  size_t errlen) RD_WARN_UNUSED;
/* Before a reload: RELOADING=1. */
void service_reloading(struct service *s);
/* After it: READY=1 with STATUS= saying it is in force or why it was refused
 * (the running config stays, so the service is ready either way). */
void service_reloaded(struct service *s, bool ok, const char *why);
/* STOPPING=1 and the thread stopped. NULL is a no-op. */
void service_stopping(struct service *s);
/* The store is about to bring the database from schema version `from` to
 * `to` (store_set_migration_hook): extends the start timeout by an hour and
 * says so in STATUS=, so a long step is not killed and started over. */
void service_migrating(int from, int to);

#endif
