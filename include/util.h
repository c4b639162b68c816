/*
 * util.h — small parsing and buffer helpers with explicit limits.
 */
#ifndef REDACTD_UTIL_H
#define REDACTD_UTIL_H

#include "redactd.h"
#include <stdarg.h>
#include <time.h>

/* "1M", "512k", "1024" -> bytes. Returns -1 on bad syntax or overflow. */
int util_parse_size(const char *s, size_t *out) RD_WARN_UNUSED;
/* "30s", "5min", "1h", "365d", "2w", "12mo", "1y", "0" -> seconds (a month
 * is 30 days, a year 365). -1 on bad syntax or overflow; -2 for a bare "m"
 * ("5m"), refused as ambiguous between minutes and months. */
int util_parse_duration(const char *s, int64_t *out) RD_WARN_UNUSED;
/* Is s a number with the bare unit "m" (minutes or months?). */
bool util_duration_ambiguous(const char *s);
/* Decimal integer in [min, max]; -1 otherwise. */
int util_parse_long(const char *s, long min, long max, long *out) RD_WARN_UNUSED;
/* Hex string of exactly 2*n digits into n bytes; -1 otherwise. */
int util_hex_decode(const char *hex, unsigned char *out, size_t n) RD_WARN_UNUSED;
/* n bytes to 2*n lowercase hex digits plus NUL (out must hold 2n+1). */
void util_hex_encode(const unsigned char *in, size_t n, char *out);
/* Whole UTF-8 validity check (rejects overlongs, surrogates, > U+10FFFF). */
bool util_utf8_valid(const char *s, size_t n);
/* The length of the longest valid prefix (n when all of it is valid):
 * where the first invalid sequence starts. */
size_t util_utf8_valid_prefix(const char *s, size_t n);
/* Current time. */
int64_t util_now_ms(void);
/* A monotonic clock in microseconds, for durations. */
int64_t util_mono_us(void);
/* Epoch ms as the CLOCK_REALTIME deadline pthread_cond_timedwait takes. */
struct timespec util_timespec_ms(int64_t ms);
/* Epoch ms -> "2026-11-22T18:42:01.123Z" (out must hold 32 bytes). */
void util_format_ts(int64_t ms, char out[32]);
/* RFC 3339 (with offset or Z, optional fraction) or decimal epoch seconds
 * (optionally fractional) -> epoch ms. -1 on anything else. */
int util_parse_ts(const char *s, int64_t *out_ms) RD_WARN_UNUSED;

/* Growable byte buffer; always NUL-terminated after a successful append. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
int buf_append(struct buf *b, const void *p, size_t n) RD_WARN_UNUSED;
int buf_printf(struct buf *b, const char *fmt, ...) RD_PRINTF(2, 3) RD_WARN_UNUSED;

/* A file named in the config: "credential:NAME" is $CREDENTIALS_DIRECTORY/NAME
 * (systemd LoadCredential=), anything else a path as is. 0, or -1 with err
 * (never the file's contents).
 * Outside the unit $CREDENTIALS_DIRECTORY is not set, and NAME is read from
 * the config file's directory instead: the shipped unit's LoadCredential=
 * lines take their files from /etc/redactd, beside /etc/redactd/redactd.conf,
 * so root's admin commands read the same key the service gets. */
#define UTIL_CREDENTIAL_PREFIX "credential:"
int util_credential_path(const char *spec, char *out, size_t outlen, char *err,
                         size_t errlen) RD_WARN_UNUSED;
/* Sets that fallback directory from the config file's path (config_load
 * does, before any thread reads it; the same path again writes nothing). */
void util_credential_fallback(const char *config_path);
/* Without printf's cost, for the per-message JSON text. */
int buf_append_str(struct buf *b, const char *s) RD_WARN_UNUSED;
int buf_append_uint(struct buf *b, uint64_t v) RD_WARN_UNUSED;
void buf_reset(struct buf *b);   /* len = 0, keeps memory */
void buf_free(struct buf *b);    /* wipes (sodium_memzero) and frees */

/* snprintf into an error buffer; safe with err == NULL. */
void util_err(char *err, size_t errlen, const char *fmt, ...) RD_PRINTF(3, 4);

/* Keep key material out of core dumps: the process is made non-dumpable
 * (PR_SET_DUMPABLE 0: no core file, and /proc/PID files and ptrace are
 * closed to other processes of the same user) and RLIMIT_CORE set to 0.
 * -1 if the kernel refused the first. */
int util_no_core_dumps(void);

#endif
