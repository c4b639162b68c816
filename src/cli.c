/*
 * cli.c — subcommand dispatch and the small commands (keygen,
 * check-config). `serve` lives in serve.c, `redact` in cli_redact.c.
 */
#include "cli.h"
#include "ingest.h"
#include "json_mem.h"
#include "log.h"
#include "preflight.h"
#include "util.h"

#include <getopt.h>
#include <pwd.h>
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
	{ "consent", cmd_consent, "consent records: add, list; messaging opt-out status" },
	{ "restrict", cmd_restrict, "restriction of processing: add, remove, list" },
	{ "audit", cmd_audit, "verify the audit chain, or list its entries" },
	{ "stats", cmd_stats, "counts per tenant, category and entity; retention horizons" },
	{ "key", cmd_key, "key rotate --new-key FILE: new master key, online" },
	{ "backup", cmd_backup, "consistent online backup to DEST (--with-keys: self-contained)" },
	{ "restore", cmd_restore, "restore BACKUP --to DB, replaying erasures made since" },
	{ "token", cmd_token, "token new NAME --scopes LIST: a new bearer token and its section" },
	{ "tenant", cmd_tenant, "tenant close NAME --after D, cancel, list: contract ends" },
	{ "migrate", cmd_migrate, "migrate --from sqlite:PATH [--to URL]: a SQLite store into PostgreSQL" },
};

const char *cli_default_config(void)
{
	static const char etc[] = "/etc/redactd/redactd.conf", tree[] = "config/redactd.conf";
	if (access(etc, F_OK) != 0 && access(tree, F_OK) == 0)
		return tree;
	return etc;
}

static const unsigned char EXIT_CODE[RD_ERR_COUNT] = {
	[RD_OK] = EXIT_OK,
	[RD_E_BAD_REQUEST] = EXIT_USAGE, [RD_E_INVALID_REQUEST] = EXIT_USAGE,
	[RD_E_INVALID_PATH] = EXIT_USAGE, [RD_E_INVALID_QUERY] = EXIT_USAGE,
	[RD_E_INVALID_JSON] = EXIT_USAGE, [RD_E_INVALID_UTF8] = EXIT_USAGE,
	[RD_E_INVALID_FORM] = EXIT_USAGE, [RD_E_TOO_DEEP] = EXIT_USAGE,
	[RD_E_BODY_TOO_LARGE] = EXIT_USAGE, [RD_E_UNSUPPORTED_MEDIA_TYPE] = EXIT_USAGE,
	[RD_E_METHOD_NOT_ALLOWED] = EXIT_USAGE, [RD_E_INVALID_BODY] = EXIT_USAGE,
	[RD_E_INVALID_FIELD] = EXIT_USAGE, [RD_E_MISSING_FIELD] = EXIT_USAGE,
	[RD_E_UNKNOWN_FIELD] = EXIT_USAGE, [RD_E_UNAUTHORIZED] = EXIT_USAGE,
	[RD_E_BAD_SIGNATURE] = EXIT_USAGE, [RD_E_FORBIDDEN] = EXIT_USAGE,
	[RD_E_NOT_FOUND] = EXIT_USAGE, [RD_E_TENANT_CLOSED] = EXIT_USAGE,
	[RD_E_REPLY_TOO_LARGE] = EXIT_USAGE,
	[RD_E_CONSENT_REQUIRED] = EXIT_USAGE, [RD_E_RESTRICTED] = EXIT_USAGE,
	[RD_E_RATE_LIMITED] = EXIT_RUNTIME, [RD_E_BUSY] = EXIT_RUNTIME,
	[RD_E_SHUTTING_DOWN] = EXIT_RUNTIME, [RD_E_SOURCE_UNAVAILABLE] = EXIT_RUNTIME,
	[RD_E_BOT_BUSY] = EXIT_RUNTIME, [RD_E_BOT_UNREACHABLE] = EXIT_RUNTIME,
	[RD_E_BOT_TIMEOUT] = EXIT_RUNTIME,
	[RD_E_STORAGE_FULL] = EXIT_RUNTIME, [RD_E_STORAGE_FAILED] = EXIT_RUNTIME,
	[RD_E_STORAGE] = EXIT_RUNTIME, [RD_E_AUDIT] = EXIT_RUNTIME,
	[RD_E_INTEGRITY] = EXIT_RUNTIME, [RD_E_INTERNAL] = EXIT_RUNTIME,
};

int cli_exit_code(enum rd_err err)
{
	return (unsigned)err < RD_ERR_COUNT ? EXIT_CODE[err] : EXIT_RUNTIME;
}

int cli_fail(const char *cmd, const struct rd_error *e)
{
	fprintf(stderr, "redactd %s: %s\n", cmd, e->message);
	return cli_exit_code(e->err);
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

/* ---- the operator ---------------------------------------------------------- */

#define CLI_ACTOR_MAX 64
static char actor[4 + CLI_ACTOR_MAX + 1];

/* 1..CLI_ACTOR_MAX of A-Z a-z 0-9 . _ - @ (a login or a person's handle;
 * it goes into the audit log, so nothing else). */
static bool actor_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > CLI_ACTOR_MAX)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-' || *p == '@'))
			return false;
	return true;
}

static void set_actor(const char *name)
{
	snprintf(actor, sizeof actor, "cli:%s", name);
}

/* --actor, else $SUDO_USER (the person behind sudo), else the login of
 * the real uid; "cli:unknown" when none is usable. */
const char *cli_actor(void)
{
	if (actor[0])
		return actor;
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());
	if (actor_valid(sudo))
		set_actor(sudo);
	else if (pw && actor_valid(pw->pw_name))
		set_actor(pw->pw_name);
	else
		set_actor("unknown");
	return actor;
}

/* Global options before the command: --actor NAME or --actor=NAME. Returns
 * how many arguments they took, or -1 after printing what is wrong. */
static int global_options(int argc, char **argv)
{
	int used = 0;
	while (1 + used < argc && !strncmp(argv[1 + used], "--actor", 7)) {
		const char *a = argv[1 + used];
		const char *v = a[7] == '=' ? a + 8 : a[7] == '\0' && 2 + used < argc ? argv[2 + used] : NULL;
		if (a[7] != '=' && a[7] != '\0')
			break;
		if (!actor_valid(v)) {
			fprintf(stderr, "redactd: --actor must be 1 to %d of A-Z a-z 0-9 . _ - @\n",
			        CLI_ACTOR_MAX);
			return -1;
		}
		set_actor(v);
		used += a[7] == '=' ? 1 : 2;
	}
	return used;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: redactd COMMAND [-c FILE] [options]\n\ncommands:\n");
	for (size_t i = 0; i < RD_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nEvery command takes -c FILE (default %s) and --help; the commands that\n"
	           "open the database take -v to show the daemon's info log lines.\n"
	           "--actor NAME before the command names the operator in audit entries\n"
	           "(cli:NAME; default $SUDO_USER, else the login name).\n"
	           "Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
	        cli_default_config());
}

int cli_main(int argc, char **argv)
{
	/* First, before any subcommand reads a key: a crash must not write
	 * the master key, data keys or message text into a core file. */
	if (util_no_core_dumps())
		fprintf(stderr, "redactd: warning: cannot disable core dumps\n");
	json_mem_install();   /* before any JSON is allocated */
	int g = global_options(argc, argv);
	if (g < 0)
		return EXIT_USAGE;
	argv[g] = argv[0];
	argc -= g;
	argv += g;
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
	/* A command's output is its answer; the daemon's info lines (store
	 * opened, schema version) are noise there unless asked for with -v. */
	if (strcmp(argv[1], "serve") != 0)
		log_set_level(LOG_WARN);
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

/* The rule a compile error names ("FILE:LINE: rule NAME: ..."), or nrules. */
static size_t failing_rule(const struct config *cfg, const char *err)
{
	size_t plen = strlen(cfg->path);
	if (strncmp(err, cfg->path, plen) != 0 || err[plen] != ':')
		return cfg->nrules;
	long line = strtol(err + plen + 1, NULL, 10);
	for (size_t i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].line == line)
			return i;
	return cfg->nrules;
}

/* Compiles every rule. The engine stops at the first that fails, so each
 * failing rule is reported, dropped and the rest compiled again, until all
 * compile; rules whose section already had errors are left out. Returns
 * how many failed. */
static int compile_rules(struct config *cfg, struct buf *report)
{
	unsigned char k[CRYPTO_KEY_BYTES] = { 0 };
	char err[1024];
	int failed = 0;
	for (size_t i = cfg->nrules; i-- > 0;)
		if (cfg->rules[i].invalid)
			config_drop_rule(cfg, i);
	for (size_t tries = cfg->nrules + 1; tries > 0; tries--) {
		struct redact *r = redact_new(cfg, k, k, err, sizeof err);
		if (r) {
			redact_free(r);
			break;
		}
		failed++;
		if (buf_printf(report, "%s\n", err))
			break;
		size_t i = failing_rule(cfg, err);
		if (i == cfg->nrules)
			break;   /* not one rule's fault: nothing to drop */
		config_drop_rule(cfg, i);
	}
	return failed;
}

struct report_line {
	long line;
	size_t seq;
	const char *text;
	int len;
};

static int cmp_report_line(const void *a, const void *b)
{
	const struct report_line *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Prints the problems in the order of their lines in the file, as an
 * editor walks them; file-wide ones (no line) first. */
static void print_report(const char *path, const struct buf *b)
{
	struct report_line lines[512];
	size_t n = 0, plen = strlen(path);
	for (const char *p = b->data; p && *p && n < RD_ARRAY_LEN(lines); n++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		long line = 0;
		if (!strncmp(p, path, plen) && p[plen] == ':')
			line = strtol(p + plen + 1, NULL, 10);
		lines[n] = (struct report_line){ line, n, p, (int)len };
		p += len + (nl ? 1 : 0);
	}
	qsort(lines, n, sizeof *lines, cmp_report_line);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%.*s\n", lines[i].len, lines[i].text);
}

static const char check_help[] =
	"usage: redactd check-config [-c FILE]\n"
	"Parses the config, compiles every rule and checks every file it names: the\n"
	"master key (loads, mode 0600), the database directory (exists, writable),\n"
	"TLS files and webhook secrets (readable). Every problem is reported at once\n"
	"as FILE:LINE: message; exit 2 if there is any. Run it as the user the\n"
	"daemon runs as (the unit's ExecStartPre does).\n";

/* Every problem of the file, in one pass; how many in *problems. */
static int check_all(const char *config, struct buf *report, int *problems)
{
	static char err[65536];
	struct config *cfg;
	int n = config_load_all(config, &cfg, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "%s%s", err, err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
		return EXIT_USAGE;
	}
	if (n > 0 && buf_printf(report, "%s", err))
		n++;
	if (crypto_global_init()) {
		fprintf(stderr, "redactd check-config: libsodium failed to initialise\n");
		config_free(cfg);
		return EXIT_RUNTIME;
	}
	n += compile_rules(cfg, report);
	n += preflight_check(cfg, PREFLIGHT_ALL, report);
	if (n == 0)
		printf("%s: OK (%zu rules configured)\n", config, cfg->nrules);
	config_free(cfg);
	*problems = n;
	return EXIT_OK;
}

static int cmd_check_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *config = cli_default_config();
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': fputs(check_help, stdout); return EXIT_OK;
		default: fputs(check_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(check_help, stderr);
		return EXIT_USAGE;
	}
	struct buf report = { 0 };
	int problems = 0, rc = check_all(config, &report, &problems);
	if (rc == EXIT_OK && problems) {
		print_report(config, &report);
		rc = EXIT_USAGE;
	}
	buf_free(&report);
	return rc;
}
