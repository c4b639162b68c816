/*
 * outbuf.c — a write buffer over a file descriptor (include/outbuf.h).
 *
 * WORKLOAD: `redactd redact --json` writes hundreds of MB/s as runs of
 * plain text broken by a newline every ~100 bytes, and in --lines mode a
 * few short pieces and two numbers per line. Through stdio (fwrite, fputs
 * and printf per piece) that took as long as the redaction itself.
 *
 * JSON escaping: the escapes are jansson's own, asked once per ASCII
 * character that needs one (controls, '"', '\\') and kept in a table; the
 * text is then copied 16 bytes at a time (SSE2, or a byte loop without
 * it), each block checked for such a character, and only those looked up.
 *
 * INVARIANT: outbuf_json_text and outbuf_u64 make sure OUTBUF_SLACK bytes
 * are free before each step, and no step writes more than that: a 16-byte
 * block, then one 8-byte table entry at most 15 bytes into it (23 bytes);
 * the last 15 bytes of a text, 6 bytes each and 2 more for the last
 * entry's padding (92 bytes); 20 digits.
 */
#include "outbuf.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define OUTBUF_SLACK 128

struct outbuf {
	int fd;
	bool failed;
	int err;                /* errno of the failed write */
	size_t len, cap;
	size_t high;            /* the most it has held: what free wipes */
	char *buf;
	int (*gate)(void *arg);  /* before each write(2), if set */
	void *gate_arg;
};

/* json_esc[c]: jansson's escape of ASCII c, NUL-padded; json_esc_len[c]
 * its length, 0 for a character written as it is. */
static char json_esc[0x80][8];
static unsigned char json_esc_len[0x80];
static pthread_mutex_t json_esc_mu = PTHREAD_MUTEX_INITIALIZER;
static bool json_esc_ok;   /* under json_esc_mu; once true, the tables are fixed */

/* Fills the tables once; a failure (jansson out of memory) is tried again
 * at the next outbuf_new. */
static int json_esc_init(void)
{
	pthread_mutex_lock(&json_esc_mu);
	for (unsigned c = 0; c < 0x80 && !json_esc_ok; c++) {
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		char one = (char)c, dump[16];
		json_t *j = json_stringn(&one, 1);
		size_t n = j ? json_dumpb(j, dump, sizeof dump, JSON_ENCODE_ANY) : 0;
		json_decref(j);
		if (n < 3 || n - 2 >= sizeof json_esc[c])
			break;
		memcpy(json_esc[c], dump + 1, n - 2);   /* without the quotes */
		json_esc_len[c] = (unsigned char)(n - 2);
		if (c == '\\')   /* the last one */
			json_esc_ok = true;
	}
	bool ok = json_esc_ok;
	pthread_mutex_unlock(&json_esc_mu);
	return ok ? 0 : -1;
}

struct outbuf *outbuf_new(int fd, size_t cap)
{
	if (json_esc_init())
		return NULL;
	if (cap < 4096)
		cap = 4096;
	struct outbuf *o = calloc(1, sizeof *o);
	if (!o || !(o->buf = malloc(cap))) {
		free(o);
		return NULL;
	}
	o->fd = fd;
	o->cap = cap;
	return o;
}

void outbuf_free(struct outbuf *o)
{
	if (!o)
		return;
	/* Only what was written: wiping all of a large buffer would bring in
	 * pages never used (the redact filter's 1 MB buffers, one a worker).
	 * A step may write OUTBUF_SLACK bytes past the end it then commits. */
	size_t used = (o->len > o->high ? o->len : o->high) + OUTBUF_SLACK;
	sodium_memzero(o->buf, used < o->cap ? used : o->cap);
	free(o->buf);
	free(o);
}

void outbuf_set_gate(struct outbuf *o, int (*gate)(void *arg), void *arg)
{
	o->gate = gate;
	o->gate_arg = arg;
}

void outbuf_discard(struct outbuf *o)
{
	if (o->len > o->high)
		o->high = o->len;
	sodium_memzero(o->buf, o->len);
	o->len = 0;
}

static int write_all(struct outbuf *o, const char *p, size_t n)
{
	if (n > 0 && !o->failed && o->gate && o->gate(o->gate_arg)) {
		o->failed = true;
		o->err = ECANCELED;
	}
	while (n > 0 && !o->failed) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = true;
			o->err = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	return o->failed ? -1 : 0;
}

int outbuf_error(const struct outbuf *o)
{
	return o->failed ? o->err : 0;
}

int outbuf_flush(struct outbuf *o)
{
	if (o->len > o->high)
		o->high = o->len;
	int rc = write_all(o, o->buf, o->len);
	o->len = 0;
	return rc;
}

/* At least OUTBUF_SLACK bytes free after o->len (after a failed write the
 * buffer is only scratch: nothing more is written out). */
static inline int room(struct outbuf *o)
{
	return o->cap - o->len >= OUTBUF_SLACK ? 0 : outbuf_flush(o);
}

int outbuf_put(struct outbuf *o, const void *p, size_t n)
{
	if (o->failed)
		return -1;
	if (n > o->cap - o->len) {
		if (outbuf_flush(o))
			return -1;
		if (n >= o->cap)   /* a big piece goes out without a copy */
			return write_all(o, p, n);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

/* "00" "01" ... "99": two digits per division. */
static const char digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static const uint64_t pow10[20] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
	100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
	10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

/* Digits written straight into place, last first: building them in a
 * scratch array and copying it out stalled on store forwarding (a 16-byte
 * load of bytes just stored two at a time), 5 % of --lines --json. */
char *outbuf_fmt_u64(char *d, uint64_t v)
{
	/* floor(log10(v)) from the bit length (1233/4096 ~ log10(2)) */
	unsigned t = ((64u - (unsigned)__builtin_clzll(v | 1)) * 1233u) >> 12;
	unsigned n = v == 0 ? 1 : t + 1 - (v < pow10[t]);
	char *p = d + n;
	while (v >= 100) {
		p -= 2;
		memcpy(p, digits2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(p - 2, digits2 + 2 * v, 2);
	else
		p[-1] = (char)('0' + v);
	return d + n;
}

int outbuf_u64(struct outbuf *o, uint64_t v)
{
	char *d = outbuf_reserve(o, 20);
	if (!d)
		return -1;
	outbuf_commit(o, outbuf_fmt_u64(d, v));
	return 0;
}

char *outbuf_reserve(struct outbuf *o, size_t n)
{
	if (n > o->cap - o->len && outbuf_flush(o))
		return NULL;
	return o->failed ? NULL : o->buf + o->len;
}

void outbuf_commit(struct outbuf *o, char *end)
{
	o->len = (size_t)(end - o->buf);
}

#ifdef __SSE2__
/* Bit i set where p[i] needs an escape; the 16 bytes are copied to d. */
static inline unsigned escape_mask16(const unsigned char *p, char *d)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	_mm_storeu_si128((__m128i *)(void *)d, v);
	/* unsigned v <= 0x1F is min(v, 0x1F) == v */
	__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
	__m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
	__m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_or_si128(quote, bslash)));
}
#else
static inline unsigned escape_mask16(const unsigned char *p, char *d)
{
	unsigned m = 0;
	memcpy(d, p, 16);
	for (unsigned i = 0; i < 16; i++)
		if (p[i] < 0x80 && json_esc_len[p[i]])
			m |= 1u << i;
	return m;
}
#endif

int outbuf_json_text(struct outbuf *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (end - p >= 16) {
		if (room(o))
			return -1;
		char *d = o->buf + o->len;
		unsigned m = escape_mask16(p, d);
		if (m == 0) {
			o->len += 16;
			p += 16;
			continue;
		}
		/* the bytes before the first escape are already in place */
		unsigned i = (unsigned)__builtin_ctz(m);
		unsigned char c = p[i];
		memcpy(d + i, json_esc[c], sizeof json_esc[c]);
		o->len += i + json_esc_len[c];
		p += i + 1;
	}
	/* The last 0-15 bytes one at a time (reading 16 would read past s). */
	if (p < end && room(o))
		return -1;
	char *d = o->buf + o->len;
	for (; p < end; p++) {
		unsigned char c = *p;
		if (c < 0x80 && json_esc_len[c]) {
			memcpy(d, json_esc[c], sizeof json_esc[c]);
			d += json_esc_len[c];
		} else {
			*d++ = (char)c;
		}
	}
	o->len = (size_t)(d - o->buf);
	return o->failed ? -1 : 0;
}
