/*
 * cli.h — the `redactd` command line (SPEC 3).
 *
 * Each subcommand is a function taking its own argv (argv[0] is the
 * subcommand name) and returning the exit code: 0 success, 1 runtime
 * failure, 2 usage or configuration error.
 */
#ifndef REDACTD_CLI_H
#define REDACTD_CLI_H

#include "app.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cli_main(int argc, char **argv);

/* The exit code of a domain error, from one table: what the operator asked
 * for was wrong (EXIT_USAGE) or the service failed it (EXIT_RUNTIME). */
int cli_exit_code(enum rd_err err);
/* Print "redactd CMD: message" to stderr; return cli_exit_code. */
int cli_fail(const char *cmd, const struct rd_error *e);

/* Shared by subcommands: the -c FILE default (/etc/redactd/redactd.conf,
 * or config/redactd.conf when run from the source tree). */
const char *cli_default_config(void);

/* Open the app for a subcommand, printing the error; returns the exit code
 * to use on failure, or 0. */
int cli_open_app(struct app *app, const char *config_path, enum app_mode mode);

/* The actor of the CLI's audit entries: "cli:NAME" from --actor NAME
 * (a global option before the command), else $SUDO_USER, else the login
 * name of the real uid. */
const char *cli_actor(void);

int cmd_serve(int argc, char **argv);
/* The redaction filter (cli_redact.c). */
int cmd_redact(int argc, char **argv);

/* Operator commands (cli_admin.c): retention, subject rights, holds, audit. */
int cmd_sweep(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_erase(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_restrict(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_stats(int argc, char **argv);

/* Keys and backups (cli_keys.c): `key rotate --new-key FILE`, `backup DEST`. */
int cmd_key(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);

/* `token new NAME --scopes LIST` (cli_token.c): a new bearer token. */
int cmd_token(int argc, char **argv);

/* `tenant close NAME --after D | cancel NAME | list` (cli_tenant.c). */
int cmd_tenant(int argc, char **argv);
/* `consent add|list|optout` (cli_consent.c): consent records (consent.h). */
int cmd_consent(int argc, char **argv);
/* `migrate --from sqlite:PATH [--to URL]` (cli_migrate.c): SQLite into
 * PostgreSQL (store_import.h). */
int cmd_migrate(int argc, char **argv);

#endif
