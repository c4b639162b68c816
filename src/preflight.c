/*
 * preflight.c — is every file the config names there and usable by this
 * user? See preflight.h.
 *
 * The checks ask the same questions `serve` will (the key is loaded as
 * keyring_load loads it; the database directory must take new files, as
 * SQLite creates -wal and -shm beside the database), so that check-config,
 * the unit's ExecStartPre, passes only when the start can succeed.
 */
#include "preflight.h"
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct report {
	const struct config *cfg;
	struct buf *out;
	int count;
};

static void problem(struct report *r, int line, const char *fmt, ...) RD_PRINTF(3, 4);
static void problem(struct report *r, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->count++;
	int rc = line > 0 ? buf_printf(r->out, "%s:%d: %s\n", r->cfg->path, line, msg)
	                  : buf_printf(r->out, "%s: %s (the default)\n", r->cfg->path, msg);
	(void)rc;   /* out of memory: the count still fails the check */
}

static bool is_credential(const char *spec)
{
	return strncmp(spec, UTIL_CREDENTIAL_PREFIX, sizeof UTIL_CREDENTIAL_PREFIX - 1) == 0;
}

/* The master key, loaded exactly as serve loads it (mode, size, owner). */
static void check_key(struct report *r)
{
	const struct config *cfg = r->cfg;
	struct keyring *kr = NULL;
	char err[768];
	if (keyring_load(cfg->key_file, &kr, err, sizeof err) == 0) {
		keyring_free(kr);
		return;
	}
	problem(r, cfg->lines.key_file, "key_file: %s", err);
}

static void dir_of(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, outlen, ".");
	else if (slash == path)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

/* A database that exists (a missing one is created) must be a regular
 * file this user can read and write. */
static void check_database_file(struct report *r, const char *db, int line)
{
	struct stat sb;
	if (stat(db, &sb) != 0) {
		if (errno != ENOENT)
			problem(r, line, "database = %s: %s", db, strerror(errno));
	} else if (!S_ISREG(sb.st_mode)) {
		problem(r, line, "database = %s: not a regular file", db);
	} else if (access(db, R_OK | W_OK) != 0) {
		problem(r, line, "database = %s: not readable and writable by uid %u: %s; run as its "
		        "owner (sudo)", db, (unsigned)getuid(), strerror(errno));
	}
}

/* The database's directory must exist and take new files; an existing
 * database must be readable and writable. */
static void check_database(struct report *r)
{
	const char *db = r->cfg->database;
	int line = r->cfg->lines.database;
	char dir[4096];
	struct stat sb;
	dir_of(db, dir, sizeof dir);
	if (stat(dir, &sb) != 0)
		problem(r, line, "database = %s: directory %s: %s; create it (mkdir -m 0700 %s), or under "
		        "systemd keep the database in /var/lib/redactd (StateDirectory=redactd)",
		        db, dir, strerror(errno), dir);
	else if (!S_ISDIR(sb.st_mode))
		problem(r, line, "database = %s: %s is not a directory", db, dir);
	else if (access(dir, W_OK | X_OK) != 0)
		problem(r, line, "database = %s: directory %s is not writable by uid %u (SQLite creates the "
		        "database and its -wal and -shm files there); run as its owner or fix its permissions",
		        db, dir, (unsigned)getuid());
	else
		check_database_file(r, db, line);
}

static void check_keys_from(struct report *r)
{
	const char *p = r->cfg->keys_from;
	if (p && access(p, R_OK) != 0)
		problem(r, r->cfg->lines.keys_from, "keys_from = %s: %s (the live database whose data keys "
		        "open this backup)", p, strerror(errno));
}

/* What to do when the service cannot read a file it was given. */
static const char *unreadable_hint(const char *spec, int e)
{
	if (e != EACCES)
		return "";
	return is_credential(spec) ? "; run as the file's owner (sudo)"
	       : "; the service (DynamicUser) cannot read root-only files: pass it with "
	         "LoadCredential=NAME:PATH in the unit and write credential:NAME here";
}

/* A secret or certificate: a non-empty regular file this user can read. */
static void check_readable(struct report *r, int line, const char *key, const char *spec)
{
	char path[4096], err[256];
	struct stat sb;
	if (util_credential_path(spec, path, sizeof path, err, sizeof err)) {
		problem(r, line, "%s = %s: %s", key, spec, err);
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		problem(r, line, "%s = %s: cannot read %s: %s%s", key, spec, path, strerror(e),
		        unreadable_hint(spec, e));
		return;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		problem(r, line, "%s = %s: %s is not a regular file", key, spec, path);
	else if (sb.st_size == 0)
		problem(r, line, "%s = %s: %s is empty", key, spec, path);
	close(fd);
}

static void check_sources(struct report *r)
{
	const struct config *cfg = r->cfg;
	for (size_t i = 0; i < cfg->nsources; i++) {
		const struct source_conf *s = &cfg->sources[i];
		if (s->secret_file)
			check_readable(r, s->secret_line, "secret_file", s->secret_file);
		if (s->verify_token_file)
			check_readable(r, s->verify_line, "verify_token_file", s->verify_token_file);
	}
}

int preflight_check(const struct config *cfg, unsigned what, struct buf *out)
{
	struct report r = { .cfg = cfg, .out = out };
	if (what & PREFLIGHT_STORE) {
		check_key(&r);
		if (r.cfg->backend == STORAGE_SQLITE)   /* postgresql: the server's files */
			check_database(&r);
		check_keys_from(&r);
	}
	if ((what & PREFLIGHT_TLS) && cfg->tls_cert && cfg->tls_key) {
		check_readable(&r, cfg->lines.tls_cert, "tls_cert", cfg->tls_cert);
		check_readable(&r, cfg->lines.tls_key, "tls_key", cfg->tls_key);
	}
	if (what & PREFLIGHT_SOURCES)
		check_sources(&r);
	return r.count;
}
