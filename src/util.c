/*
 * util.c — parsing with ranges, hex, UTF-8 validation, time, buffers.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

void util_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Parses a non-negative decimal number with an optional one-letter or
 * two-letter unit suffix from `units`; multiplies by its factor. */
struct unit { const char *suffix; uint64_t factor; };

static int parse_with_units(const char *s, const struct unit *units, size_t nunits, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	uint64_t factor = 1;
	if (*end) {
		size_t i;
		for (i = 0; i < nunits; i++)
			if (strcmp(end, units[i].suffix) == 0)
				break;
		if (i == nunits)
			return -1;
		factor = units[i].factor;
	}
	if (factor && v > UINT64_MAX / factor)
		return -1;
	*out = (uint64_t)v * factor;
	return 0;
}

int util_parse_size(const char *s, size_t *out)
{
	static const struct unit units[] = {
		{ "k", 1024 }, { "K", 1024 }, { "M", 1024 * 1024 }, { "G", 1024ull * 1024 * 1024 },
	};
	uint64_t v;
	if (parse_with_units(s, units, RD_ARRAY_LEN(units), &v) < 0 || v > SIZE_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

int util_parse_duration(const char *s, int64_t *out)
{
	/* A month is 30 days and a year 365: a retention horizon is a fixed
	 * length of time, not a calendar date (redactd.conf(5) says so). */
	static const struct unit units[] = {
		{ "s", 1 }, { "min", 60 }, { "h", 3600 }, { "d", 86400 }, { "w", 7 * 86400 },
		{ "mo", 30 * 86400 }, { "y", 365 * 86400 },
	};
	uint64_t v;
	if (util_duration_ambiguous(s))
		return -2;
	if (parse_with_units(s, units, RD_ARRAY_LEN(units), &v) < 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

bool util_duration_ambiguous(const char *s)
{
	if (!s || !isdigit((unsigned char)*s))
		return false;
	s += strspn(s, "0123456789");
	return strcmp(s, "m") == 0 || strcmp(s, "M") == 0;
}

int util_parse_long(const char *s, long min, long max, long *out)
{
	if (!s || !*s)
		return -1;
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int util_hex_decode(const char *hex, unsigned char *out, size_t n)
{
	if (!hex || strlen(hex) != 2 * n)
		return -1;
	size_t bin_len;
	if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &bin_len, NULL) != 0 || bin_len != n)
		return -1;
	return 0;
}

void util_hex_encode(const unsigned char *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

/* UTF-8 per RFC 3629: no overlongs, no surrogates, <= U+10FFFF. */
size_t util_utf8_valid_prefix(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		/* Most text is ASCII: skip it eight bytes at a time. */
		uint64_t w;
		while (n - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ull) == 0))
			i += 8;
		if (i >= n)
			break;
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		unsigned lo = 0x80, hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF) need = 1;
		else if (c == 0xE0) { need = 2; lo = 0xA0; }
		else if (c == 0xED) { need = 2; hi = 0x9F; }
		else if (c >= 0xE1 && c <= 0xEF) need = 2;
		else if (c == 0xF0) { need = 3; lo = 0x90; }
		else if (c >= 0xF1 && c <= 0xF3) need = 3;
		else if (c == 0xF4) { need = 3; hi = 0x8F; }
		else return i;
		if (n - i <= need)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
		i += need + 1;
	}
	return n;
}

bool util_utf8_valid(const char *s, size_t n)
{
	return util_utf8_valid_prefix(s, n) == n;
}

int64_t util_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec util_timespec_ms(int64_t ms)
{
	return (struct timespec){ .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
}

int64_t util_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void util_format_ts(int64_t ms, char out[32])
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)secs * 1000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm)) {
		snprintf(out, 32, "invalid");
		return;
	}
	char tmp[96];
	int n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	if (n < 0 || n >= 32)
		n = 0;
	memcpy(out, tmp, (size_t)n);
	out[n] = '\0';
}

/* Reads exactly `width` digits into *v. */
static int take_digits(const char **p, int width, int *v)
{
	int x = 0;
	for (int i = 0; i < width; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += width;
	*v = x;
	return 0;
}

static int expect(const char **p, const char *chars)
{
	if (**p && strchr(chars, **p)) {
		(*p)++;
		return 0;
	}
	return -1;
}

static int parse_epoch(const char *s, int64_t *out_ms)
{
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= 0) || v > 253402300799.0)
		return -1;
	*out_ms = (int64_t)(v * 1000.0 + 0.5);
	return 0;
}

static int parse_fraction_ms(const char **p)
{
	int ms = 0, digits = 0;
	if (**p != '.' && **p != ',')
		return 0;
	(*p)++;
	if (!isdigit((unsigned char)**p))
		return -1;
	while (isdigit((unsigned char)**p)) {
		if (digits < 3)
			ms = ms * 10 + (**p - '0');
		digits++;
		(*p)++;
	}
	for (; digits < 3; digits++)
		ms *= 10;
	return ms;
}

static int parse_offset_s(const char **p, int *offset)
{
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*offset = 0;
		return 0;
	}
	int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0, oh, om;
	if (!sign)
		return -1;
	(*p)++;
	if (take_digits(p, 2, &oh) || expect(p, ":") || take_digits(p, 2, &om) || oh > 23 || om > 59)
		return -1;
	*offset = sign * (oh * 3600 + om * 60);
	return 0;
}

int util_parse_ts(const char *s, int64_t *out_ms)
{
	if (!s || !*s)
		return -1;
	if (!strchr(s, '-'))
		return parse_epoch(s, out_ms);
	const char *p = s;
	int y, mo, d, h, mi, se, offset;
	if (take_digits(&p, 4, &y) || expect(&p, "-") || take_digits(&p, 2, &mo) || expect(&p, "-") ||
	    take_digits(&p, 2, &d) || expect(&p, "Tt ") || take_digits(&p, 2, &h) || expect(&p, ":") ||
	    take_digits(&p, 2, &mi) || expect(&p, ":") || take_digits(&p, 2, &se))
		return -1;
	int ms = parse_fraction_ms(&p);
	if (ms < 0 || parse_offset_s(&p, &offset) || *p)
		return -1;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return -1;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	                 .tm_hour = h, .tm_min = mi, .tm_sec = se > 59 ? 59 : se };
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out_ms = ((int64_t)t - offset) * 1000 + ms;
	return *out_ms >= 0 ? 0 : -1;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n > SIZE_MAX - b->len - 1)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_uint(struct buf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof tmp)
		return buf_append(b, tmp, (size_t)n);
	char *big = malloc((size_t)n + 1);
	if (!big)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

static char credential_fallback[4096] = "/etc/redactd";

void util_credential_fallback(const char *config_path)
{
	char dir[sizeof credential_fallback];
	const char *slash = strrchr(config_path, '/');
	int n = !slash ? snprintf(dir, sizeof dir, ".")
	        : slash == config_path ? snprintf(dir, sizeof dir, "/")
	        : snprintf(dir, sizeof dir, "%.*s", (int)(slash - config_path), config_path);
	/* Compare first: a reload under load must not write what request
	 * threads may be reading at the same moment. */
	if (n > 0 && (size_t)n < sizeof dir && strcmp(dir, credential_fallback))
		memcpy(credential_fallback, dir, (size_t)n + 1);
}

/* "credential:NAME" -> $CREDENTIALS_DIRECTORY/NAME (or the fallback
 * directory outside the unit); a plain path as is. */
int util_credential_path(const char *spec, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t plen = sizeof UTIL_CREDENTIAL_PREFIX - 1;
	if (strncmp(spec, UTIL_CREDENTIAL_PREFIX, plen) != 0) {
		if (!spec[0] || strlen(spec) >= outlen) {
			util_err(err, errlen, "file path is empty or too long");
			return -1;
		}
		memcpy(out, spec, strlen(spec) + 1);
		return 0;
	}
	const char *name = spec + plen;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		util_err(err, errlen, "credential name must be a plain file name");
		return -1;
	}
	if (!dir || !dir[0])
		dir = credential_fallback;
	int n = snprintf(out, outlen, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outlen) {
		util_err(err, errlen, "credential path too long");
		return -1;
	}
	return 0;
}

int util_no_core_dumps(void)
{
	struct rlimit none = { 0, 0 };
	(void)setrlimit(RLIMIT_CORE, &none);   /* belt and braces: the prctl is what counts */
	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -1;
}
