/*
 * cli.c — subcommand dispatch and the small commands (keygen,
 * check-config). `serve` lives in serve.c, `redact` in cli_redact.c.
 */
#include "cli.h"
#include "ingest.h"
#include "json_mem.h"
#include "log.h"
#include "util.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static int cmd_keygen(int argc, char **argv);
static int cmd_check_config(int argc, char **argv);

static const struct command commands[] = {
	{ "serve", cmd_serve, "run the daemon in the foreground (systemd Type=notify)" },
	{ "redact", cmd_redact, "redact stdin to stdout; nothing is stored" },
	{ "keygen", cmd_keygen, "create a new random master key file (mode 0600)" },
	{ "check-config", cmd_check_config, "parse the config and compile every rule" },
	{ "sweep", cmd_sweep, "one retention pass now (--dry-run: what would go)" },
	{ "export", cmd_export, "data-subject export (--email, --phone, --conversation)" },
	{ "erase", cmd_erase, "data-subject erasure; held records are kept" },
	{ "hold", cmd_hold, "legal holds: add, remove, list" },
	{ "audit", cmd_audit, "verify the audit chain, or list its entries" },
	{ "stats", cmd_stats, "counts per tenant, category and entity; retention horizons" },
	{ "key", cmd_key, "key rotate --new-key FILE: new master key, online" },
	{ "backup", cmd_backup, "consistent online backup to DEST (--with-keys: self-contained)" },
};

const char *cli_default_config(void)
{
	static const char etc[] = "/etc/redactd/redactd.conf", tree[] = "config/redactd.conf";
	if (access(etc, F_OK) != 0 && access(tree, F_OK) == 0)
		return tree;
	return etc;
}

int cli_open_app(struct app *app, const char *config_path, enum app_mode mode)
{
	char err[8192];
	int code;
	if (app_open(app, config_path, mode, err, sizeof err, &code)) {
		fprintf(stderr, "redactd: %s\n", err);
		return code;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: redactd COMMAND [-c FILE] [options]\n\ncommands:\n");
	for (size_t i = 0; i < RD_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nEvery command takes -c FILE (default %s) and --help.\n"
	           "Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
	        cli_default_config());
}

int cli_main(int argc, char **argv)
{
	json_mem_install();   /* before any JSON is allocated */
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("redactd %s\n", REDACTD_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < RD_ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "redactd: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

/* ---- keygen ---------------------------------------------------------------- */

static int cmd_keygen(int argc, char **argv)
{
	static const char help[] = "usage: redactd keygen -o FILE\n"
	                           "Writes 32 random bytes to FILE with mode 0600; never overwrites.\n";
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' }, { "config", required_argument, 0, 'c' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'c': break;   /* accepted for uniformity; keygen reads no config */
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: fputs(help, stderr); return EXIT_USAGE;
		}
	}
	if (!out || optind != argc) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	char err[512];
	if (crypto_global_init() || crypto_keygen_file(out, err, sizeof err)) {
		fprintf(stderr, "redactd keygen: %s\n", err);
		return EXIT_RUNTIME;
	}
	fprintf(stderr, "redactd keygen: wrote a new master key to %s (mode 0600)\n", out);
	return EXIT_OK;
}

/* ---- check-config ---------------------------------------------------------- */

static int cmd_check_config(int argc, char **argv)
{
	static const char help[] = "usage: redactd check-config [-c FILE]\n"
	                           "Parses the config and compiles every rule; reports FILE:LINE problems.\n";
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *config = cli_default_config();
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: fputs(help, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	static char err[65536];
	struct config *cfg;
	if (config_load(config, &cfg, err, sizeof err)) {
		fprintf(stderr, "%s%s", err, err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
		return EXIT_USAGE;
	}
	unsigned char k[CRYPTO_KEY_BYTES] = { 0 };
	struct redact *r = redact_new(cfg, k, k, err, sizeof err);
	int rc = r ? EXIT_OK : EXIT_USAGE;
	if (r)
		printf("%s: OK (%zu rules configured)\n", config, cfg->nrules);
	else
		fprintf(stderr, "%s\n", err);
	redact_free(r);
	config_free(cfg);
	return rc;
}
