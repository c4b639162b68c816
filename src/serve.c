/*
 * serve.c — `redactd serve`: the daemon's lifetime.
 *
 * DESIGN
 * The main thread blocks SIGTERM, SIGINT and SIGHUP before any other thread
 * starts (so every thread inherits the mask), starts the store's writer, the
 * HTTP worker pool and the retention sweeper, tells systemd READY=1, then
 * waits in sigwait: SIGHUP reloads rules and retention, SIGTERM/SIGINT stop
 * accepting, let in-flight requests finish (their records are committed
 * before they are answered), drain the writer and exit 0.
 */
#include "audit.h"
#include "cli.h"
#include "http.h"
#include "log.h"
#include "retention.h"
#include "service.h"
#include "util.h"

#include <getopt.h>
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

static void wait_for_stop(struct app *app, struct service *svc, const sigset_t *set)
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
		bool ok = app_reload(app, err, sizeof err) == 0;
		if (!ok)
			log_error("reload failed, keeping the running config: %s", err);
		else
			log_info("reloaded %s", app->config_path);
		/* count 1: the new config is in force; 0: it was refused. */
		if (audit_record(app, "sighup", "config.reload", "config", ok ? 1 : 0))
			log_error("reload: the audit entry could not be written");
		service_reloaded(svc, ok, ok ? NULL : err);
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
	struct app app;
	if ((rc = cli_open_app(&app, config, APP_SERVE)))
		return rc;
	char err[512];
	struct http_server *srv;
	if (http_start(&app, &srv, err, sizeof err)) {
		log_error("%s", err);
		app_close(&app);
		return EXIT_RUNTIME;
	}
	struct retention *sweeper;
	if (retention_start(&app, &sweeper, err, sizeof err)) {
		log_error("%s", err);
		http_stop(srv);
		app_close(&app);
		return EXIT_RUNTIME;
	}
	log_info("redactd %s listening on %s (schema v%d)", REDACTD_VERSION, app.cfg->listen,
	         store_schema_version(app.store));
	struct service *svc;
	if (service_ready(&app, sweeper, &svc, err, sizeof err)) {
		log_error("%s", err);
		retention_stop(sweeper);
		http_stop(srv);
		app_close(&app);
		return EXIT_RUNTIME;
	}
	wait_for_stop(&app, svc, &set);
	service_stopping(svc);
	retention_stop(sweeper);
	http_stop(srv);
	app_close(&app);
	log_info("stopped");
	return EXIT_OK;
}
