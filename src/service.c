/*
 * service.c — readiness, reload state, status and watchdog for systemd,
 * through libsystemd's sd_notify (see service.h for the design).
 */
#include "service.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

/* Without a watchdog, STATUS= is refreshed this often. */
#define STATUS_PERIOD_US (10 * 1000000LL)

struct service {
	struct app *app;
	struct retention *sweeper;
	uint64_t watchdog_us;          /* 0: WatchdogSec= not set */
	bool thread_started;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	char reload_note[160];         /* the last refused reload, for STATUS= */
};

static void notify(const char *state)
{
	int rc = sd_notify(0, state);
	if (rc < 0)
		log_warn("sd_notify failed: %s", strerror(-rc));
}

void service_migrating(int from, int to)
{
	char msg[160];
	log_info("store: upgrading the database schema from version %d to %d", from, to);
	snprintf(msg, sizeof msg, "EXTEND_TIMEOUT_USEC=%llu\nSTATUS=upgrading the database schema"
	         " from version %d to %d", 3600ull * 1000000ull, from, to);
	notify(msg);
}

/* "serving; 12 records queued; last sweep 2026-12-02T10:00:00Z ok" */
static void status_line(struct service *s, char *out, size_t len)
{
	struct store_counters sc;
	int64_t started, succeeded;
	char when[32] = "none yet";
	store_get_counters(s->app->store, &sc);
	metrics_sweep_last(s->app->metrics, &started, &succeeded);
	if (started)
		util_format_ts(started, when);
	pthread_mutex_lock(&s->mu);
	snprintf(out, len, "STATUS=%s; %llu records queued; last sweep %s%s%s%s",
	         store_writable(s->app->store) ? "serving" : "storage failed, refusing writes",
	         (unsigned long long)sc.queued, when,
	         !started ? "" : started == succeeded ? " ok" : " failed",
	         s->reload_note[0] ? "; " : "", s->reload_note);
	pthread_mutex_unlock(&s->mu);
}

static bool alive(struct service *s)
{
	if (store_ping(s->app->store) == RD_E_STORAGE && store_writable(s->app->store)) {
		log_error("watchdog: the store's writer failed an empty job");
		return false;
	}
	if (s->sweeper && !retention_alive(s->sweeper, SERVICE_MAX_PASS_US)) {
		log_error("watchdog: the retention sweeper stopped answering");
		return false;
	}
	return true;
}

/* Waits up to us or until stopped; false when stopped. */
static bool sleep_or_stop(struct service *s, int64_t us)
{
	struct timespec until = util_timespec_ms(util_now_ms() + us / 1000);
	pthread_mutex_lock(&s->mu);
	while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
		;
	bool go_on = !s->stop;
	pthread_mutex_unlock(&s->mu);
	return go_on;
}

static void *service_main(void *arg)
{
	struct service *s = arg;
	int64_t period = s->watchdog_us ? (int64_t)s->watchdog_us / 2 : STATUS_PERIOD_US;
	char status[512];
	while (sleep_or_stop(s, period)) {
		if (s->watchdog_us && alive(s))
			notify("WATCHDOG=1");
		status_line(s, status, sizeof status);
		notify(status);
	}
	return NULL;
}

int service_ready(struct app *app, struct retention *sweeper, struct service **out, char *err,
                  size_t errlen)
{
	struct service *s = calloc(1, sizeof *s);
	if (!s) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	s->app = app;
	s->sweeper = sweeper;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (sd_watchdog_enabled(0, &s->watchdog_us) <= 0)
		s->watchdog_us = 0;
	char status[512];
	status_line(s, status, sizeof status);
	char ready[600];
	snprintf(ready, sizeof ready, "READY=1\n%s", status);
	notify(ready);
	if (getenv("NOTIFY_SOCKET")) {
		if (pthread_create(&s->thread, NULL, service_main, s)) {
			util_err(err, errlen, "cannot start the watchdog thread");
			free(s);
			return -1;
		}
		s->thread_started = true;
		if (s->watchdog_us)
			log_info("watchdog: every %llums", (unsigned long long)(s->watchdog_us / 2000));
	}
	*out = s;
	return 0;
}

void service_reloading(struct service *s)
{
	(void)s;
	notify("RELOADING=1");
}

void service_reloaded(struct service *s, bool ok, const char *why)
{
	char ts[32], status[512], msg[700];
	util_format_ts(util_now_ms(), ts);
	pthread_mutex_lock(&s->mu);
	if (ok)
		s->reload_note[0] = '\0';
	else   /* the config loader's message: file, line and what is wrong, no data */
		snprintf(s->reload_note, sizeof s->reload_note, "reload refused %s: %s", ts, why);
	pthread_mutex_unlock(&s->mu);
	status_line(s, status, sizeof status);
	snprintf(msg, sizeof msg, "READY=1\n%s", status);
	notify(msg);
}

void service_stopping(struct service *s)
{
	notify("STOPPING=1\nSTATUS=draining and stopping");
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
