/*
 * serve.c — `redactd serve`: the daemon's lifetime.
 *
 * DESIGN
 * The main thread blocks SIGTERM, SIGINT and SIGHUP before any other thread
 * starts (so every thread inherits the mask), starts the store's writer, the
 * HTTP worker pool and the retention sweeper, tells systemd READY=1, then
 * waits in sigwait: SIGHUP reloads rules, retention and the TLS files, SIGTERM/SIGINT stop
 * accepting, let in-flight requests finish (their records are committed
 * before they are answered), drain the writer and exit 0.
 */
#include "audit.h"
#include "cli.h"
#include "http.h"
#include "log.h"
#include "retention.h"
#include "service.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <malloc.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char serve_help[] =
	"usage: redactd serve [-c FILE] [--debug]\n"
	"Runs the daemon in the foreground. SIGTERM drains and exits; SIGHUP reloads\n"
	"rules, tokens and retention, and the master key after `redactd key rotate`.\n";

static int parse_serve_args(int argc, char **argv, const char **config)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "debug", no_argument, 0, 'd' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': *config = optarg; break;
		case 'd': log_set_level(LOG_DEBUG); break;
		case 'h': fputs(serve_help, stdout); return EXIT_OK + 100;
		default: fputs(serve_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(serve_help, stderr);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

enum reload_result { RELOAD_OK, RELOAD_CONFIG_REFUSED, RELOAD_TLS_REFUSED };

/* SIGHUP: the config and engine, then the TLS files (a renewed
 * certificate), each kept as it was when its new version is refused. */
static enum reload_result reload(struct app *app, struct http_server *srv, char *err, size_t errlen)
{
	if (app_reload(app, err, errlen)) {
		log_error("reload failed, keeping the running config: %s", err);
		return RELOAD_CONFIG_REFUSED;
	}
	log_info("reloaded %s", app->config_path);
	if (http_reload_tls(srv, err, errlen)) {
		log_error("reload: TLS files refused, the running certificate stays: %s", err);
		return RELOAD_TLS_REFUSED;
	}
	return RELOAD_OK;
}

static void wait_for_stop(struct app *app, struct http_server *srv, struct service *svc,
                          const sigset_t *set)
{
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig != SIGHUP) {
			log_info("signal %d: draining and stopping", sig);
			return;
		}
		char err[8192];
		service_reloading(svc);
		enum reload_result r = reload(app, srv, err, sizeof err);
		/* count 1: the new config is in force; 0: it was refused. */
		if (audit_record(app->store, app->metrics, "sighup", "config.reload", "config",
		                 r != RELOAD_CONFIG_REFUSED))
			log_error("reload: the audit entry could not be written");
		service_reloaded(svc, r == RELOAD_OK, r == RELOAD_OK ? NULL : err);
	}
}

int cmd_serve(int argc, char **argv)
{
	const char *config = cli_default_config();
	int rc = parse_serve_args(argc, argv, &config);
	if (rc)
		return rc == EXIT_OK + 100 ? EXIT_OK : rc;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Blocks over 256 KB (a page of a transcript, an export) are mapped
	 * and given back when freed. glibc's default threshold rises to the
	 * largest block freed, after which such blocks stay in the arena of
	 * the thread that freed them: a 190 MB read left the daemon at 139 MB
	 * for good. */
	if (!mallopt(M_MMAP_THRESHOLD, 256 * 1024))
		log_warn("serve: cannot set malloc's mmap threshold; large replies may stay resident");
	struct app app;
	store_set_migration_hook(service_migrating);
	if ((rc = cli_open_app(&app, config, APP_SERVE)))
		return rc;
	/* Listening and key_file change only on restart: the first snapshot's
	 * values are the ones in force for the process's whole life. */
	struct app_snap *first = app_snap_acquire(&app);
	/* Key material an interrupted `redactd key rotate` left beside the key. */
	(void)keyring_clean_temps(first->cfg->key_file);
	char err[512];
	struct http_server *srv;
	if (http_start(&app, &srv, err, sizeof err)) {
		/* Point at the line to change; MHD logged its own reason above. */
		log_error("%s:%d: %s; stop what holds the address or change listen", app.config_path,
		          first->cfg->lines.listen, err);
		app_snap_release(first);
		app_close(&app);
		return EXIT_RUNTIME;
	}
	struct retention *sweeper;
	if (retention_start(&app, &sweeper, err, sizeof err)) {
		log_error("%s: %s", app.config_path, err);
		app_snap_release(first);
		http_stop(srv);
		app_close(&app);
		return EXIT_RUNTIME;
	}
	log_info("redactd %s listening on %s (schema v%d)", REDACTD_VERSION, first->cfg->listen,
	         store_schema_version(app.store));
	app_snap_release(first);
	struct service *svc;
	if (service_ready(&app, sweeper, &svc, err, sizeof err)) {
		log_error("%s", err);
		retention_stop(sweeper);
		http_stop(srv);
		app_close(&app);
		return EXIT_RUNTIME;
	}
	wait_for_stop(&app, srv, svc, &set);
	service_stopping(svc);
	retention_stop(sweeper);
	http_stop(srv);
	app_close(&app);
	log_info("stopped");
	return EXIT_OK;
}
