/*
 * redact_run.c — matching a message: UTF-8 check and normalisation, digit
 * and word windows, PCRE2 under limits, validators, overlaps, styles,
 * subjects. See the DESIGN comment in redact.c.
 */
#include "redact_int.h"
#include "log.h"
#include "util.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MATCH_LIMIT      200000u   /* backtracking steps per PCRE2 call */
#define DEPTH_LIMIT      5000u     /* nested backtracking frames */
#define HEAP_LIMIT_KB    8192u
#define JIT_STACK_MAX    (512 * 1024)
#define DIGIT_BACK       24        /* a digit match may start this far before a digit */
#define DIGIT_GAP        16        /* digits closer than this share a window */
#define EMAIL_BACK       256       /* longest local part looked at before '@' */
#define SPOKEN_BACK      128       /* longest spoken local part before "at" */
#define CONTEXT_BACK     40        /* bytes before a match searched for context words */
#define HASH_HEX         8         /* hex digits shown by the hash style */

/* ---------------------------------------------------------------------- */
/* per-thread scratch                                                      */

/* Where digit rules may start a match, and what the window holds. */
struct window {
	size_t start, limit;        /* match starts allowed in [start, limit] */
	size_t first;               /* first digit */
	unsigned digits, colons;
	unsigned chain;             /* most digits joined by short " .-/()" gaps */
	unsigned dotted;            /* most dots in a row of digit groups (1.2.3.4: 3) */
	unsigned maxrun;            /* longest run of consecutive digits */
	bool dcolon;                /* "::" somewhere */
	bool iban, ord;             /* an IBAN head / "ord" prefix before a digit run */
	bool glued;                 /* a capital touches a digit run ("X1234567L", "AB 12"),
	                               or a letter ends a run of 6 or more ("12345678z") */
	unsigned char labels;       /* label stems seen (LBL_*), once labels_done */
	bool labels_done;
};

struct cand {
	const struct rule *rule;
	size_t start, end;          /* work-text offsets */
	size_t val_off;             /* normalised value in scratch.pool */
	uint32_t val_len;           /* at most REDACT_VALUE_MAX */
	bool intl;                  /* a phone written in international form */
};
/* Dense text holds tens of thousands of candidates at once (the redact
 * filter's memory bound): intl fits in val_len's padding. */
_Static_assert(sizeof(struct cand) == 40, "struct cand stays five words");

struct scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	char *norm;                 /* normalised copy of the input */
	size_t *map;                /* norm offset -> input offset (n + 1) */
	size_t normcap, mapcap;
	struct window *wins;
	size_t nwins, wincap;
	struct redact_range *ranges;    /* the digit windows, for the address scanner */
	size_t nranges, rangecap;
	bool digit_wins;                /* wins holds the digit windows of this run */
	struct cand *cands, *acc;
	size_t ncands, nacc, candcap, acccap;
	char *pool;
	size_t poollen, poolcap;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
/* The thread's scratch, once made: one load a message instead of
 * pthread_once and pthread_getspecific. The key still owns it (its
 * destructor frees it when the thread exits). */
static _Thread_local struct scratch *scratch_mine;

static void scratch_destroy(void *p)
{
	struct scratch *s = p;
	if (!s)
		return;
	if (s == scratch_mine)
		scratch_mine = NULL;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	if (s->norm)
		sodium_memzero(s->norm, s->normcap);
	free(s->norm);
	free(s->map);
	free(s->wins);
	free(s->ranges);
	free(s->cands);
	free(s->acc);
	if (s->pool)
		sodium_memzero(s->pool, s->poolcap);
	free(s->pool);
	free(s);
}

static void scratch_key_init(void)
{
	if (pthread_key_create(&scratch_key, scratch_destroy) != 0)
		abort();   /* out of thread keys at startup: nothing sensible to do */
}

static struct scratch *scratch_get(void)
{
	if (scratch_mine)
		return scratch_mine;
	pthread_once(&scratch_once, scratch_key_init);
	struct scratch *s = pthread_getspecific(scratch_key);
	if (s)
		return scratch_mine = s;
	if (!(s = calloc(1, sizeof *s)))
		return NULL;
	s->md = pcre2_match_data_create(16, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
	if (!s->md || !s->mctx || !s->jit || pthread_setspecific(scratch_key, s)) {
		scratch_destroy(s);
		return NULL;
	}
	pcre2_set_match_limit(s->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(s->mctx, HEAP_LIMIT_KB);
	pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	return scratch_mine = s;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* step 1: UTF-8 check and normalisation                                   */

/* ASCII replacement of a normalisable character at s (len bytes), or 0. */
static char norm_char(const unsigned char *s, size_t len)
{
	if (len == 2 && s[0] == 0xC2 && s[1] == 0xA0)
		return ' ';                                     /* no-break space */
	if (len == 2 && s[0] == 0xD9 && s[1] >= 0xA0 && s[1] <= 0xA9)
		return (char)('0' + s[1] - 0xA0);               /* Arabic-Indic digits */
	if (len == 2 && s[0] == 0xDB && s[1] >= 0xB0 && s[1] <= 0xB9)
		return (char)('0' + s[1] - 0xB0);               /* Extended Arabic-Indic (Persian, Urdu) */
	if (len != 3)
		return 0;
	if (s[0] == 0xE0 && (s[1] == 0xA5 || s[1] == 0xA7) && s[2] >= 0xA6 && s[2] <= 0xAF)
		return (char)('0' + s[2] - 0xA6);               /* Devanagari, Bengali digits */
	if (s[0] == 0xEF && s[1] == 0xBC) {
		if (s[2] >= 0x90 && s[2] <= 0x99) return (char)('0' + s[2] - 0x90);   /* full-width digits */
		switch (s[2]) {
		case 0x8B: return '+';
		case 0x8D: return '-';
		case 0x88: return '(';
		case 0x89: return ')';
		case 0x8E: return '.';
		case 0xA0: return '@';
		}
		return 0;
	}
	if (s[0] == 0xE2 && s[1] == 0x80) {
		if (s[2] >= 0x80 && s[2] <= 0x8A) return ' ';   /* en quad .. hair space */
		if (s[2] == 0xAF) return ' ';                   /* narrow no-break space */
		if (s[2] >= 0x90 && s[2] <= 0x93) return '-';   /* hyphens, figure/en dash */
		return 0;
	}
	if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
		return ' ';                                     /* ideographic space */
	return 0;
}

static size_t seq_len(unsigned char c)
{
	return c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* What one pass over the input finds before anything else reads it: the
 * first ASCII digit and the first '@' (for the digit windows and the email
 * rules, which would otherwise each read the whole text again). Known only
 * for a text of 16 bytes or more; `len` where there is none. */
struct first_bytes {
	bool known;
	size_t digit, at;
};

/* Offset of the first 16-byte block holding a non-ASCII byte, or len when
 * all is ASCII (the common case for chat text); the last block overlaps
 * its neighbour instead of falling back to a byte loop. The same loads
 * find the first digit and '@' (*fb); the loop stops when it has all
 * three. */
static size_t ascii_prefix(const unsigned char *s, size_t len, struct first_bytes *fb)
{
	fb->known = false;
#ifdef __SSE2__
	if (len >= 16) {
		const __m128i lo = _mm_set1_epi8('0' - 1), hi = _mm_set1_epi8('9' + 1), atc = _mm_set1_epi8('@');
		size_t i, ascii = len, digit = len, at = len;
		for (i = 0; i + 16 <= len; i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			unsigned md = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi)));
			unsigned ma = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, atc));
			unsigned mn = (unsigned)_mm_movemask_epi8(x);
			if (!(md | ma | mn))
				continue;
			if (md && digit == len)
				digit = i + (size_t)__builtin_ctz(md);
			if (ma && at == len)
				at = i + (size_t)__builtin_ctz(ma);
			if (mn && ascii == len)
				ascii = i;
			if (digit < len && at < len && ascii < len)
				break;
		}
		if (i < len && i + 16 > len) {   /* the tail, read overlapping its neighbour */
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + len - 16));
			unsigned sh = (unsigned)(i - (len - 16));
			unsigned md = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi))) >> sh;
			unsigned ma = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, atc)) >> sh;
			if (md && digit == len)
				digit = i + (size_t)__builtin_ctz(md);
			if (ma && at == len)
				at = i + (size_t)__builtin_ctz(ma);
			if (ascii == len && _mm_movemask_epi8(x))
				ascii = len - 16;
		}
		fb->known = true;
		fb->digit = digit;
		fb->at = at;
		return ascii;
	}
#endif
	size_t i = 0;
	while (i < len && s[i] < 0x80)
		i++;
	return i;
}

/* Validates; sets *needs_norm if any character would be rewritten. */
static bool check_utf8(const char *text, size_t len, bool *needs_norm, struct first_bytes *fb)
{
	const unsigned char *s = (const unsigned char *)text;
	*needs_norm = false;
	size_t i = ascii_prefix(s, len, fb);
	while (i < len) {
		uint64_t w;
		if (len - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ull) == 0)) {
			i += 8;
			continue;
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = seq_len(s[i]);
		if (k > len - i || !util_utf8_valid(text + i, k))
			return false;
		if (norm_char(s + i, k))
			*needs_norm = true;
		i += k;
	}
	return true;
}

static int normalise(struct scratch *sc, const char *text, size_t len, size_t *olen)
{
	if (grow((void **)&sc->norm, &sc->normcap, len + 1, 1))
		return -1;
	if (grow((void **)&sc->map, &sc->mapcap, sc->normcap + 1, sizeof *sc->map))
		return -1;
	const unsigned char *s = (const unsigned char *)text;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k = s[i] < 0x80 ? 1 : seq_len(s[i]);
		char c = k > 1 ? norm_char(s + i, k) : 0;
		if (c) {
			sc->map[o] = i;
			sc->norm[o++] = c;
		} else {
			for (size_t j = 0; j < k; j++) {
				sc->map[o] = i + j;
				sc->norm[o++] = text[i + j];
			}
		}
		i += k;
	}
	sc->map[o] = len;
	sc->norm[o] = '\0';
	*olen = o;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* step 2: windows                                                         */

/* First character boundary at or after i. */
static size_t char_start(const char *t, size_t n, size_t i)
{
	while (i < n && ((unsigned char)t[i] & 0xC0) == 0x80)
		i++;
	return i;
}

static bool is_digit(char c)
{
	return (unsigned)(c - '0') <= 9;
}

/* Non-zero if any of the 8 bytes is an ASCII digit (SWAR range test from
 * "Bit Twiddling Hacks", hasbetween). */
static uint64_t has_digit8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, low7 = ones * 127;
	return (ones * (127 + '9' + 1) - (x & low7)) & ~x & ((x & low7) + ones * (127 - ('0' - 1))) &
	       (ones * 128);
}

const char *redact_next_digit(const char *p, const char *end)
{
	uint64_t w;
#ifdef __SSE2__
	/* 16 bytes per step: most of a chat message has no digit at all */
	const __m128i lo = _mm_set1_epi8('0' - 1), hi = _mm_set1_epi8('9' + 1);
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i in = _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi));
		int m = _mm_movemask_epi8(in);
		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	while (end - p >= 8) {
		memcpy(&w, p, 8);
		if (has_digit8(w))
			break;
		p += 8;
	}
	while (p < end && !is_digit(*p))
		p++;
	return p;
}

static bool is_alpha(char c)
{
	return ((unsigned char)c | 0x20u) - 'a' < 26u;
}

static bool is_upper(char c)
{
	return (unsigned)(c - 'A') < 26u;
}

static bool is_sep(char c)
{
	return c == ' ' || c == '.' || c == '-';
}

/* 0x80 in each byte of v that is zero, and only there (no borrow from one
 * byte to the next, unlike the shorter haszero test). */
static inline uint64_t zero_bytes(uint64_t v)
{
	const uint64_t low7 = 0x7F7F7F7F7F7F7F7Full;
	return ~(((v & low7) + low7) | v | low7);
}

/* x: the eight bytes before a digit run, in memory order. Is "ord" (each
 * byte | 0x20, as the byte loop compares) there, ending 1 to 4 bytes
 * before the run ("ORD-", "order #", "ord ")? */
static inline bool ord_before8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t y = x | ones * 0x20;
	uint64_t o = zero_bytes(y ^ ones * 'o'), r = zero_bytes(y ^ ones * 'r'), d = zero_bytes(y ^ ones * 'd');
	/* byte b (t[run - 8 + b]) holds the 'o' of an "ord" whose 'd' is byte
	 * b + 2; the 'd' may be bytes 4..7, so the 'o' bytes 2..5 */
	return (o & (r >> 8) & (d >> 16) & 0x0000808080800000ull) != 0;
}

/* At a digit run starting at d: the head of an IBAN ("GB82", "AL 47") or
 * an "ORD"/"ORDER" prefix right before it. */
static void run_start_flags(const char *t, size_t n, size_t d, struct window *w)
{
	bool two = d + 1 < n && is_digit(t[d + 1]);
	if (two && d >= 2 && is_alpha(t[d - 1]) && is_alpha(t[d - 2]))
		w->iban = true;
	/* "AL 47 ..." only in capitals: "on 12", "at 10" are prose */
	if (two && d >= 3 && is_sep(t[d - 1]) && t[d - 2] >= 'A' && t[d - 2] <= 'Z' &&
	    t[d - 3] >= 'A' && t[d - 3] <= 'Z')
		w->iban = true;
	if ((d >= 1 && is_upper(t[d - 1])) || (d >= 2 && t[d - 1] == ' ' && is_upper(t[d - 2])))
		w->glued = true;
	if (w->ord)
		return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (d >= 8) {   /* the eight bytes before the run at once: no branch a byte */
		uint64_t x;
		memcpy(&x, t + d - 8, 8);
		if (ord_before8(x))
			w->ord = true;
		return;
	}
#endif
	for (size_t k = 3; k <= 6 && k <= d && !w->ord; k++)
		if ((((unsigned char)t[d - k + 2] | 0x20u) == 'd') && (((unsigned char)t[d - k + 1] | 0x20u) == 'r') &&
		    (((unsigned char)t[d - k] | 0x20u) == 'o'))
			w->ord = true;
}

/* A NINO's suffix letter in lowercase after its last digits, spaced or
 * not ("ab 12 34 56 c", "ab 123456c"): one letter A-D standing alone. */
static bool nino_tail(const char *t, size_t n, size_t i)
{
	if (t[i] == ' ')
		i++;
	if (i >= n || (unsigned)(((unsigned char)t[i] | 0x20u) - 'a') > 'd' - 'a')
		return false;
	return i + 1 >= n || !is_alpha(t[i + 1]);
}

/* The bytes that may join the digits of one chain ("0123 456-789", "(0)"). */
static const bool joiner[256] = { [' '] = true, ['.'] = true, ['-'] = true, ['/'] = true, ['('] = true, [')'] = true };

/* One cluster starting at the digit `first`: counts and flags. */
static size_t scan_cluster(const char *t, size_t n, size_t first, struct window *w)
{
	size_t last = first, i;
	size_t from = first > DIGIT_BACK ? first - DIGIT_BACK : 0;
	/* colons before the first digit: IPv6 groups may start with letters */
	for (const char *c = memchr(t + from, ':', first - from); c; ) {
		i = (size_t)(c - t);
		w->colons++;
		w->dcolon |= i + 1 < n && t[i + 1] == ':';
		c = i + 1 < first ? memchr(c + 1, ':', first - i - 1) : NULL;
	}
	unsigned dotted = 0;
	unsigned chain = 0, run = 0;
	bool joined = true;         /* only joiners since the last digit */
	/* t[i - 1] is a digit exactly when last == i - 1: one compare, no
	 * second load, on the path every byte takes */
	for (i = first; i < n && i - last <= DIGIT_GAP; i++) {
		char c = t[i];
		bool after_digit = last + 1 == i;
		if (is_digit(c)) {
			if (!after_digit)
				run_start_flags(t, n, i, w);
			chain = joined && i - last <= 3 ? chain + 1 : 1;
			if (chain > w->chain)
				w->chain = chain;
			run = after_digit ? run + 1 : 1;
			if (run > w->maxrun)
				w->maxrun = run;
			joined = true;
			last = i;
			w->digits++;
			continue;
		}
		if (after_digit && (is_upper(c) || (is_alpha(c) && run >= 6) ||
		                    (c == ' ' && i + 1 < n && is_upper(t[i + 1])) || nino_tail(t, n, i)))
			w->glued = true;    /* a letter after a digit run: "12345678Z", "56 C", "56 c" */
		if (!joiner[(unsigned char)c])
			joined = false;
		if (c == '.' && after_digit && i + 1 < n && is_digit(t[i + 1])) {
			if (++dotted > w->dotted)
				w->dotted = dotted;
		} else {
			dotted = 0;
		}
		if (c == ':') {
			w->colons++;
			w->dcolon |= i + 1 < n && t[i + 1] == ':';
		}
	}
	w->first = first;
	w->start = char_start(t, n, from);
	w->limit = last;
	return i;
}

/* Clusters of digits (gaps under DIGIT_GAP), each widened DIGIT_BACK bytes
 * to the left for prefixes such as "+", "(", "ORD-", "GB82". Overlapping
 * clusters merge into one window. */
static int digit_windows(struct scratch *sc, const char *t, size_t n, const char *first)
{
	sc->nwins = 0;
	size_t i = 0;
	while (i < n) {
		const char *d = i == 0 && first ? first : redact_next_digit(t + i, t + n);
		if (d >= t + n)
			break;
		struct window w = { 0 };
		i = scan_cluster(t, n, (size_t)(d - t), &w);
		struct window *prev = sc->nwins ? &sc->wins[sc->nwins - 1] : NULL;
		if (prev && w.start <= prev->limit) {
			prev->limit = w.limit;
			prev->digits += w.digits;
			prev->colons += w.colons;
			prev->chain = w.chain > prev->chain ? w.chain : prev->chain;
			prev->dotted = w.dotted > prev->dotted ? w.dotted : prev->dotted;
			prev->maxrun = w.maxrun > prev->maxrun ? w.maxrun : prev->maxrun;
			prev->dcolon |= w.dcolon;
			prev->iban |= w.iban;
			prev->ord |= w.ord;
			prev->glued |= w.glued;
			continue;
		}
		if (grow((void **)&sc->wins, &sc->wincap, sc->nwins + 1, sizeof *sc->wins))
			return -1;
		sc->wins[sc->nwins++] = w;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* step 3: matching                                                        */

struct run {
	const struct redact *rd;
	struct scratch *sc;
	const char *t;              /* work text */
	size_t n;
	struct redact_result *out;
	const char *first_at;       /* first '@' in t, or NULL */
	const struct first_bytes *fb;   /* first digit and '@' of t, if known */
	const struct phone_region *region;   /* national numbers are read in; NULL */
};

/* ASCII word bytes; locale-free and branch-free for the hot loops. */
static bool is_word_byte(char c)
{
	unsigned u = (unsigned char)c;
	return (u | 0x20u) - 'a' < 26u || u - '0' < 10u || u == '_';
}

static unsigned char ascii_lower(char c)
{
	unsigned u = (unsigned char)c;
	return (unsigned char)(u - 'A' < 26u ? (u | 0x20u) : u);
}

/* Is w (lowercase, wl bytes) at t[b..] as a whole word? */
static bool word_at(const char *t, size_t n, size_t b, const char *w, size_t wl)
{
	if (b + wl > n || (b > 0 && is_word_byte(t[b - 1])) || (b + wl < n && is_word_byte(t[b + wl])))
		return false;
	for (size_t k = 0; k < wl; k++)
		if (ascii_lower(t[b + k]) != (unsigned char)w[k])
			return false;
	return true;
}

static bool context_at(const char *t, size_t n, const struct rule *r, size_t i)
{
	uint32_t m = r->ctx_first[(unsigned char)t[i]];
	if (!m || (i > 0 && is_word_byte(t[i - 1])))
		return false;
	for (size_t c = 0; c < r->ncontext; c++)
		if ((c >= 32 || (m >> c & 1)) && word_at(t, n, i, r->context[c], r->ctx_len[c]))
			return true;
	return false;
}

/* A context word of the rule within CONTEXT_BACK bytes before `start`,
 * as a whole word, with no digit between it and the match. */
static bool has_context(const char *t, size_t n, const struct rule *r, size_t start)
{
	size_t from = start > CONTEXT_BACK ? start - CONTEXT_BACK : 0;
	const unsigned char *cls = r->ctx_class;
	for (size_t i = start; i-- > from;) {
		unsigned k = cls[(unsigned char)t[i]];
		if (!k)
			continue;   /* most bytes: neither a digit nor a context word's first */
		if (k == CTX_STOP)
			return false;
		if (context_at(t, n, r, i))
			return true;
	}
	return false;
}

/* Could any match in the window have context? Context must come before a
 * digit run with no digit between, so only the bytes before each run long
 * enough for the rule (min_digits) are looked at. */
static bool context_near(const char *t, size_t n, const struct rule *r, const struct window *w)
{
	for (size_t i = w->first; i <= w->limit; i++) {
		if (!is_digit(t[i]) || (i > w->first && is_digit(t[i - 1])))
			continue;
		size_t e = i;
		while (e < n && is_digit(t[e]))
			e++;
		if (e - i < (size_t)r->min_digits)   /* too short to be matched at all */
			continue;
		size_t s = i > 0 && t[i - 1] == '#' ? i - 1 : i;
		if (has_context(t, n, r, s))
			return true;
	}
	return false;
}

static int add_cand(struct run *ru, const struct rule *r, size_t s, size_t e, const struct rvalue *v)
{
	struct scratch *sc = ru->sc;
	if (grow((void **)&sc->cands, &sc->candcap, sc->ncands + 1, sizeof *sc->cands) ||
	    grow((void **)&sc->pool, &sc->poolcap, sc->poollen + v->len + 1, 1))
		return -1;
	memcpy(sc->pool + sc->poollen, v->s, v->len);
	sc->cands[sc->ncands++] = (struct cand){ r, s, e, sc->poollen, (uint32_t)v->len, v->intl };
	sc->poollen += v->len;
	return 0;
}

struct ctx_arg {
	const struct run *ru;
	const struct rule *r;
};

static bool context_cb(const void *arg, size_t start)
{
	const struct ctx_arg *a = arg;
	return has_context(a->ru->t, a->ru->n, a->r, start);
}

/* Context (when the validator asks), validator, candidate. Returns where
 * the next search starts. */
static int consider(struct run *ru, const struct rule *r, size_t s, size_t e, size_t *next)
{
	struct ctx_arg ca = { ru, r };
	struct vspan sp = { ru->t, ru->n, s, e, -1, r->ncontext ? context_cb : NULL, &ca };
	struct rvalue v;
	v.intl = false;
	*next = e > s ? e : s + 1;
	if (r->context_required && !vspan_context(&sp))
		return 0;
	if (!redact_validate(r->validator, r->entity, &sp, &v)) {
		/* A rejected candidate may have left digits of a real number
		 * half-normalised here: wiped like an accepted one's. */
		sodium_memzero(&v, sizeof v);
		return 0;
	}
	if (sp.end > s)
		*next = sp.end;
	int rc = add_cand(ru, r, sp.start, sp.end, &v);
	sodium_memzero(&v, sizeof v);
	return rc;
}

static int pcre_match(const struct run *ru, const struct pat *p, size_t from, size_t limit)
{
	pcre2_set_offset_limit(ru->sc->mctx, limit);
	if (p->jit)
		return pcre2_jit_match(p->code, (PCRE2_SPTR)ru->t, ru->n, from, 0, ru->sc->md, ru->sc->mctx);
	return pcre2_match(p->code, (PCRE2_SPTR)ru->t, ru->n, from, PCRE2_NO_UTF_CHECK, ru->sc->md,
	                   ru->sc->mctx);
}

/*
 * Runs one rule over [from, limit] (start offsets). Returns the offset the
 * next window may start at, or (size_t)-1 on out of memory. A PCRE2 error
 * (a limit hit) ends the rule's work in this window.
 */
static size_t scan(struct run *ru, const struct rule *r, size_t from, size_t limit)
{
	const struct pat *p = &ru->rd->pats[r->pat];
	while (from <= limit && from <= ru->n) {
		int rc = pcre_match(ru, p, from, limit);
		if (rc == PCRE2_ERROR_NOMATCH)
			return from;
		if (rc < 0) {
			log_warn("redact: rule %s: match abandoned (pcre2 error %d)", r->name, rc);
			ru->out->limit_errors++;
			return limit + 1;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ru->sc->md);
		size_t next, s = ov[0], e = ov[1];
		if (r->value_group && rc >= 2 && ov[2] != PCRE2_UNSET) {
			s = ov[2];   /* the value after its label ("passport no X1234567") */
			e = ov[3];
		}
		if (consider(ru, r, s, e, &next))
			return (size_t)-1;
		if (r->value_group && next < ov[1])
			next = ov[1];
		from = char_start(ru->t, ru->n, next);
	}
	return from;
}

/* Stems of the label words of the labelled rules (card_security,
 * passport, date_of_birth), lowercase, each the start of a word: one must
 * be in the window before PCRE2 runs there. Most digit windows are dates,
 * prices and times with none of them. Looked for once per window. */
enum { LBL_CARD = 1, LBL_PASSPORT = 2, LBL_DOB = 4 };
struct stem { const char *rest; unsigned char family; };   /* the letters after the first */
/* By first letter, so a word costs one look-up and a compare or two. */
static const struct stem stems[26][5] = {
	['b' - 'a'] = { { "irth", LBL_DOB }, { "orn", LBL_DOB } },
	['c' - 'a'] = { { "vv", LBL_CARD }, { "vc", LBL_CARD }, { "vn", LBL_CARD }, { "sc", LBL_CARD },
	                { "av", LBL_CARD } },
	['d' - 'a'] = { { ".o", LBL_DOB }, { "ob", LBL_DOB } },
	['e' - 'a'] = { { "xp", LBL_CARD } },
	['g' - 'a'] = { { "ood", LBL_CARD }, { "ebor", LBL_DOB }, { "eburt", LBL_DOB } },
	['n' - 'a'] = { { "aiss", LBL_DOB }, { "acim", LBL_DOB }, { "asc", LBL_DOB }, { "ato", LBL_DOB },
	                { "ata", LBL_DOB } },
	['p' - 'a'] = { { "as", LBL_PASSPORT } },
	['r' - 'a'] = { { "eise", LBL_PASSPORT } },
	['s' - 'a'] = { { "ecur", LBL_CARD } },
	['v' - 'a'] = { { "erif", LBL_CARD }, { "alid", LBL_CARD } },
};

/* Bytes that start a stem, either case: one load per byte skips the rest. */
static const unsigned char stem_first[256] = {
	['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['g'] = 1, ['n'] = 1, ['p'] = 1, ['r'] = 1,
	['s'] = 1, ['v'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['G'] = 1, ['N'] = 1,
	['P'] = 1, ['R'] = 1, ['S'] = 1, ['V'] = 1,
};

/* The stems that start at i (a word start whose byte starts a stem). */
static unsigned char stems_at(const char *t, size_t i, size_t to)
{
	unsigned char found = 0;
	unsigned c = (unsigned)ascii_lower(t[i]) - 'a';
	for (const struct stem *st = stems[c]; st < stems[c] + 5 && st->rest; st++) {
		size_t j = 0;
		while (st->rest[j] && i + 1 + j < to && ascii_lower(t[i + 1 + j]) == (unsigned char)st->rest[j])
			j++;
		if (!st->rest[j])
			found |= st->family;
	}
	/* "né le", "née le": the UTF-8 é after an n; "nee" */
	if (c == 'n' - 'a' && i + 2 < to && (((unsigned char)t[i + 1] == 0xC3 && (unsigned char)t[i + 2] == 0xA9) ||
	                                     (ascii_lower(t[i + 1]) == 'e' && ascii_lower(t[i + 2]) == 'e')))
		found |= LBL_DOB;
	return found;
}

/* Every byte of [from, to) that starts a stem at the start of a word (no
 * ASCII letter before it). SSE2 finds the word starts 16 bytes at a time:
 * a window is mostly digits, spaces and short words. */
static unsigned char label_stems(const char *t, size_t from, size_t to)
{
	unsigned char found = 0;
	size_t i = from;
#ifdef __SSE2__
	if (i == 0 && i < to) {   /* no byte before the first */
		if (stem_first[(unsigned char)t[0]])
			found |= stems_at(t, 0, to);
		i = 1;
	}
	const __m128i lo = _mm_set1_epi8('a' - 1), hi = _mm_set1_epi8('z' + 1), sp = _mm_set1_epi8(0x20);
	for (; i + 16 <= to; i += 16) {
		__m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(t + i)), sp);
		__m128i y = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(t + i - 1)), sp);
		unsigned cur = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi)));
		unsigned prev = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(y, lo), _mm_cmplt_epi8(y, hi)));
		for (unsigned m = cur & ~prev; m; m &= m - 1) {
			size_t k = i + (size_t)__builtin_ctz(m);
			if (stem_first[(unsigned char)t[k]])
				found |= stems_at(t, k, to);
		}
	}
#endif
	for (; i < to; i++) {
		if (!stem_first[(unsigned char)t[i]] || (i > 0 && is_alpha(t[i - 1])))
			continue;
		found |= stems_at(t, i, to);
	}
	return found;
}

static bool label_near(const struct run *ru, const struct rule *r, struct window *w)
{
	unsigned char want = r->validator == VAL_CARD_SECURITY ? LBL_CARD
	                     : r->validator == VAL_PASSPORT  ? LBL_PASSPORT
	                     : r->validator == VAL_DATE_OF_BIRTH ? LBL_DOB : 0;
	if (!want)
		return true;
	if (!w->labels_done) {
		w->labels = label_stems(ru->t, w->start, w->limit);
		w->labels_done = true;
	}
	return (w->labels & want) != 0;
}

/* Can the built-in rule match in this window at all? */
static bool window_may_match(const struct run *ru, const struct rule *r, struct window *w)
{
	if (w->digits < (unsigned)r->min_digits)
		return false;
	if (r->prefilter == PF_RUN && w->maxrun < (unsigned)r->min_digits)
		return false;
	if (r->context_required && !context_near(ru->t, ru->n, r, w))
		return false;
	switch (r->prefilter) {
	case PF_IPV4: return w->dotted >= 3;
	case PF_IPV6: return w->dcolon || w->colons >= 3;
	case PF_IBAN: return w->iban;
	case PF_ORD: return w->ord;
	case PF_CHAIN: return w->chain >= (unsigned)r->min_digits;
	case PF_NATID: return w->chain >= 9 || w->maxrun >= 8 || w->glued;
	case PF_LABEL: return label_near(ru, r, w);
	case PF_RUN:
	case PF_DIGITS:
	case PF_NONE: break;
	}
	return true;
}

static int run_digit_rule(struct run *ru, const struct rule *r)
{
	size_t pos = 0;
	for (size_t w = 0; w < ru->sc->nwins; w++) {
		struct window *win = &ru->sc->wins[w];
		if (win->limit < pos || !window_may_match(ru, r, win))
			continue;
		size_t from = win->first > (size_t)r->back ? win->first - (size_t)r->back : 0;
		if (from < win->start)
			from = win->start;
		from = char_start(ru->t, ru->n, from);
		pos = scan(ru, r, from > pos ? from : pos, win->limit);
		if (pos == (size_t)-1)
			return -1;
	}
	return 0;
}

/* Start of the token holding the '@' at `at`: back to a space, or to the
 * opening quote of a quoted local part. */
static size_t email_window_start(const char *t, size_t at)
{
	size_t i = at;
	if (i > 0 && t[i - 1] == '"') {
		const char *q = NULL;
		for (size_t k = i - 1; k > 0 && i - k < 80; k--)
			if (t[k - 1] == '"') { q = t + k - 1; break; }
		if (q)
			i = (size_t)(q - t);
	}
	while (i > 0 && at - i < EMAIL_BACK && !c_isspace((unsigned char)t[i - 1]))
		i--;
	return char_start(t, at, i);
}

static int run_at_rule(struct run *ru, const struct rule *r)
{
	size_t pos = 0;
	const char *at = ru->first_at;
	while (at) {
		size_t a = (size_t)(at - ru->t);
		if (a >= pos) {
			size_t ws = email_window_start(ru->t, a);
			pos = scan(ru, r, ws > pos ? ws : pos, a);
			if (pos == (size_t)-1)
				return -1;
		}
		at = a + 1 < ru->n ? memchr(at + 1, '@', ru->n - a - 1) : NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* step 4: overlaps                                                        */

static int cand_rank(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->rule->priority != y->rule->priority)
		return x->rule->priority > y->rule->priority ? -1 : 1;
	size_t lx = x->end - x->start, ly = y->end - y->start;
	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int cand_by_start(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Greedy by rank within one cluster cands[0..n) of transitively
 * overlapping spans, appending the winners to acc in start order. */
static void resolve_cluster(struct scratch *sc, struct cand *c, size_t n)
{
	if (n == 1) {
		sc->acc[sc->nacc++] = c[0];
		return;
	}
	qsort(c, n, sizeof *c, cand_rank);
	size_t first = sc->nacc;
	for (size_t i = 0; i < n; i++) {
		bool clash = false;
		for (size_t k = first; k < sc->nacc && !clash; k++)
			clash = sc->acc[k].start < c[i].end && c[i].start < sc->acc[k].end;
		if (!clash)
			sc->acc[sc->nacc++] = c[i];
	}
	qsort(&sc->acc[first], sc->nacc - first, sizeof *sc->acc, cand_by_start);
}

/*
 * Picks disjoint spans: higher priority wins, then the longer match. A
 * candidate can only lose to one it overlaps, and those lie in its cluster
 * of transitively overlapping candidates, so the greedy runs per cluster:
 * O(n log n) overall, where one greedy over everything would be quadratic
 * on a long text with many findings.
 */
static int resolve(struct scratch *sc)
{
	sc->nacc = 0;
	if (sc->ncands == 0)
		return 0;
	if (grow((void **)&sc->acc, &sc->acccap, sc->ncands, sizeof *sc->acc))
		return -1;
	if (sc->ncands == 1) {   /* most messages with a finding have one: no sort */
		sc->acc[sc->nacc++] = sc->cands[0];
		return 0;
	}
	qsort(sc->cands, sc->ncands, sizeof *sc->cands, cand_by_start);
	size_t from = 0, end = sc->cands[0].end;
	for (size_t i = 1; i <= sc->ncands; i++) {
		if (i < sc->ncands && sc->cands[i].start < end) {
			if (sc->cands[i].end > end)
				end = sc->cands[i].end;
			continue;
		}
		resolve_cluster(sc, &sc->cands[from], i - from);
		if (i < sc->ncands) {
			from = i;
			end = sc->cands[i].end;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* step 5: output                                                          */

static int out_append(struct redact_result *o, const void *p, size_t n)
{
	if (grow((void **)&o->text, &o->cap, o->len + n + 1, 1))
		return -1;
	if (n)
		memcpy(o->text + o->len, p, n);
	o->len += n;
	o->text[o->len] = '\0';
	return 0;
}

static int out_str(struct redact_result *o, const char *s)
{
	return out_append(o, s, strlen(s));
}

/* "[ENTITY]": one growth check and three copies for the most common
 * replacement. */
static int out_tag(struct redact_result *o, const struct rule *r)
{
	if (grow((void **)&o->text, &o->cap, o->len + r->entity_len + 3, 1))
		return -1;
	char *p = o->text + o->len;
	p[0] = '[';
	memcpy(p + 1, r->entity, r->entity_len);
	p[r->entity_len + 1] = ']';
	p[r->entity_len + 2] = '\0';
	o->len += r->entity_len + 2;
	return 0;
}

static enum redact_style style_for(const struct redact *rd, const struct rule *r, const char *tenant)
{
	if (r->style_set || !tenant)
		return r->style;
	for (size_t i = 0; i < rd->ntstyles; i++)
		if (strcmp(rd->tstyles[i].tenant, tenant) == 0)
			return rd->tstyles[i].style;
	return r->style;
}

/* The last `keep` characters of the value (whole UTF-8 characters). */
static const char *tail_chars(const char *v, size_t n, int keep)
{
	size_t i = n;
	for (int k = 0; k < keep && i > 0; k++) {
		i--;
		while (i > 0 && ((unsigned char)v[i] & 0xC0) == 0x80)
			i--;
	}
	return v + i;
}

static int write_hash(const struct run *ru, const char *tenant, const struct cand *c, const char *v)
{
	unsigned char h[crypto_generichash_BYTES_MIN];
	char hex[2 * sizeof h + 1];
	crypto_generichash_state st;
	const char *t = tenant ? tenant : "";
	st = ru->rd->hstates[0];   /* crypto_generichash_init(&st, hash key, 32, sizeof h) */
	crypto_generichash_update(&st, (const unsigned char *)t, strlen(t) + 1);
	crypto_generichash_update(&st, (const unsigned char *)c->rule->entity, c->rule->entity_len + 1);
	crypto_generichash_update(&st, (const unsigned char *)v, c->val_len);
	crypto_generichash_final(&st, h, sizeof h);
	util_hex_encode(h, sizeof h, hex);
	hex[HASH_HEX] = '\0';
	return out_str(ru->out, "[") || out_str(ru->out, c->rule->entity) || out_str(ru->out, ":") ||
	       out_str(ru->out, hex) || out_str(ru->out, "]");
}

static int write_replacement(const struct run *ru, const char *tenant, const struct cand *c)
{
	struct redact_result *o = ru->out;
	const char *v = ru->sc->pool + c->val_off;
	switch (style_for(ru->rd, c->rule, tenant)) {
	case STYLE_TAG:
		return out_tag(o, c->rule);
	case STYLE_MASK:
		return out_str(o, "****");
	case STYLE_PARTIAL: {
		const char *tail = tail_chars(v, c->val_len, c->rule->keep);
		return out_str(o, "[") || out_str(o, c->rule->entity) || out_str(o, " \xe2\x80\xa6") ||
		       out_append(o, tail, (size_t)(v + c->val_len - tail)) || out_str(o, "]");
	}
	case STYLE_HASH:
		return write_hash(ru, tenant, c, v);
	case STYLE_REMOVE:
		return 0;
	}
	return 0;
}

static int add_finding(struct redact_result *o, const struct cand *c, size_t s, size_t e)
{
	if (grow((void **)&o->findings, &o->findings_cap, o->nfindings + 1, sizeof *o->findings))
		return -1;
	o->findings[o->nfindings++] = (struct redact_finding){ c->rule->entity, c->rule->name, s, e };
	return 0;
}

static int subject_hash(const struct redact *rd, enum subject_kind kind, const char *v, size_t n,
                        struct redact_subject *out)
{
	unsigned char k = (unsigned char)kind;
	crypto_generichash_state st = rd->hstates[1];   /* init with the subject key */
	crypto_generichash_update(&st, &k, 1);
	crypto_generichash_update(&st, (const unsigned char *)v, n);
	crypto_generichash_final(&st, out->hash, REDACT_SUBJECT_BYTES);
	return 0;
}

/* The digits a phone's subject hash is taken over: a national number in a
 * region as its E.164 digits (intl, NUL-terminated, when it reads as one
 * there), else v as it is. */
static void phone_subject_value(const struct phone_region *region, bool written_intl, const char **v,
                                size_t *n, char intl[PHONE_DIGITS_MAX + 1])
{
	if (region && !written_intl && phone_region_international(region, *v, *n, intl) == 0) {
		*v = intl;
		*n = strlen(intl);
	}
}

static int add_subject(const struct run *ru, const struct cand *c)
{
	if (!c->rule->subject)
		return 0;
	enum subject_kind kind = (enum subject_kind)c->rule->subject;
	struct redact_subject s;
	const char *v = ru->sc->pool + c->val_off;
	size_t n = c->val_len;
	char e164[PHONE_DIGITS_MAX + 1];
	if (kind == SUBJECT_PHONE)
		phone_subject_value(ru->region, c->intl, &v, &n, e164);
	subject_hash(ru->rd, kind, v, n, &s);
	sodium_memzero(e164, sizeof e164);
	struct redact_result *o = ru->out;
	if (o->nsubjects && memcmp(o->subjects[o->nsubjects - 1].hash, s.hash, sizeof s.hash) == 0)
		return 0;   /* the same person twice in a row; the rest dedup_subjects does */
	if (grow((void **)&o->subjects, &o->subjects_cap, o->nsubjects + 1, sizeof *o->subjects))
		return -1;
	o->subjects[o->nsubjects++] = s;
	return 0;
}

static int subject_cmp(const void *a, const void *b)
{
	return memcmp(a, b, REDACT_SUBJECT_BYTES);
}

/* Sort and drop repeats: O(n log n) however many people a text names. */
static void dedup_subjects(struct redact_result *o)
{
	if (o->nsubjects < 2)
		return;
	qsort(o->subjects, o->nsubjects, sizeof *o->subjects, subject_cmp);
	size_t k = 1;
	for (size_t i = 1; i < o->nsubjects; i++)
		if (memcmp(o->subjects[i].hash, o->subjects[k - 1].hash, REDACT_SUBJECT_BYTES) != 0)
			o->subjects[k++] = o->subjects[i];
	o->nsubjects = k;
}

static int write_output(struct run *ru, const char *tenant, const char *text, size_t len,
                        const size_t *map)
{
	size_t pos = 0;
	for (size_t i = 0; i < ru->sc->nacc; i++) {
		const struct cand *c = &ru->sc->acc[i];
		size_t s = map ? map[c->start] : c->start, e = map ? map[c->end] : c->end;
		if (out_append(ru->out, text + pos, s - pos) || write_replacement(ru, tenant, c) ||
		    add_finding(ru->out, c, s, e) || add_subject(ru, c))
			return -1;
		pos = e;
	}
	return out_append(ru->out, text + pos, len - pos);
}

/* ---------------------------------------------------------------------- */
/* public                                                                  */

static void result_reset(struct redact_result *o)
{
	if (o->text)
		sodium_memzero(o->text, o->len);
	o->len = 0;
	o->nfindings = 0;
	o->nsubjects = 0;
	o->limit_errors = 0;
}

static const struct ruleset *ruleset_for(const struct redact *rd, const char *tenant)
{
	if (tenant)
		for (size_t i = 0; i < rd->ntsets; i++)
			if (strcmp(rd->tsets[i].tenant, tenant) == 0)
				return &rd->tsets[i];
	return &rd->global;
}

/* Only spaces, commas, dashes and dots (at most four) between two words of
 * one reading. */
static bool spoken_gap(const char *t, size_t from, size_t to)
{
	if (to - from > 4)
		return false;
	for (size_t k = from; k < to; k++)
		if (!c_isspace((unsigned char)t[k]) && t[k] != ',' && t[k] != '-' && t[k] != '.')
			return false;
	return true;
}

static int add_window(struct scratch *sc, size_t start, size_t limit)
{
	if (grow((void **)&sc->wins, &sc->wincap, sc->nwins + 1, sizeof *sc->wins))
		return -1;
	sc->wins[sc->nwins++] = (struct window){ .start = start, .limit = limit, .first = start };
	return 0;
}

/* First letters of number words (see redact_spoken.c): d e f h n o p s t z. */
#define NUMWORD_FIRST ((1u << ('d' - 'a')) | (1u << ('e' - 'a')) | (1u << ('f' - 'a')) | \
	(1u << ('h' - 'a')) | (1u << ('n' - 'a')) | (1u << ('o' - 'a')) | (1u << ('p' - 'a')) | \
	(1u << ('s' - 'a')) | (1u << ('t' - 'a')) | (1u << ('z' - 'a')))

static bool number_word_at(const char *t, size_t ws, size_t wl)
{
	if (is_digit(t[ws]))
		return wl <= 4;
	unsigned c = ascii_lower(t[ws]) - 'a';
	return wl <= 9 && (NUMWORD_FIRST >> c & 1) && redact_number_token(t + ws, wl);
}

/* Windows of the spoken-number rules: runs of four or more number words
 * ("oh seven seven double oh ...") joined by short gaps. */
static int numword_windows(struct run *ru)
{
	const char *t = ru->t;
	size_t n = ru->n, i = 0, run = 0, run_start = 0, prev_end = 0;
	ru->sc->nwins = 0;
	while (i < n) {
		while (i < n && !is_alpha(t[i]) && !is_digit(t[i]))
			i++;
		if (i >= n)
			break;
		size_t ws = i;
		bool digits = is_digit(t[i]);
		while (i < n && (digits ? is_digit(t[i]) : is_alpha(t[i])))
			i++;
		if (run && !is_digit(t[ws]) && i - ws <= 5 && redact_filler_token(t + ws, i - ws) &&
		    spoken_gap(t, prev_end, ws)) {
			prev_end = i;    /* "seven seven, uh, nine": the run goes on */
			continue;
		}
		if (number_word_at(t, ws, i - ws)) {
			if (run && spoken_gap(t, prev_end, ws)) {
				run++;
			} else {
				if (run >= 4 && add_window(ru->sc, run_start, prev_end))
					return -1;
				run = 1;
				run_start = ws;
			}
			prev_end = i;
		} else {
			if (run >= 4 && add_window(ru->sc, run_start, prev_end))
				return -1;
			run = 0;
		}
	}
	return run >= 4 ? add_window(ru->sc, run_start, prev_end) : 0;
}

/* Is t[i..i+2) the word "at" (any case) between whitespace? */
static bool at_word(const char *t, size_t n, size_t i)
{
	return i > 0 && i + 2 < n && c_isspace((unsigned char)t[i - 1]) && c_isspace((unsigned char)t[i + 2]) &&
	       ascii_lower(t[i]) == 'a' && ascii_lower(t[i + 1]) == 't';
}

/* Windows of the spoken-email rule: the stretch before each word "at" or
 * '@'. SSE2 finds "at" pairs 16 bytes at a time; prose is long. */
static int atword_windows(struct run *ru)
{
	const char *t = ru->t;
	size_t n = ru->n, i = 0;
	ru->sc->nwins = 0;
	while (i + 1 < n) {
#ifdef __SSE2__
		if (n - i >= 17) {
			const __m128i lo = _mm_set1_epi8(0x20);
			__m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(t + i)), lo);
			__m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(t + i + 1)), lo);
			__m128i at = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(t + i)), _mm_set1_epi8('@'));
			int m = (_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_set1_epi8('a'))) &
			         _mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_set1_epi8('t')))) | _mm_movemask_epi8(at);
			if (!m) {
				i += 16;
				continue;
			}
			i += (size_t)__builtin_ctz((unsigned)m);
		}
#endif
		if (t[i] == '@' || at_word(t, n, i)) {
			size_t from = i > SPOKEN_BACK ? i - SPOKEN_BACK : 0;
			if (add_window(ru->sc, char_start(t, n, from), i))
				return -1;
		}
		i++;
	}
	return 0;
}

static int run_windows(struct run *ru, const struct rule *r)
{
	size_t pos = 0;
	for (size_t w = 0; w < ru->sc->nwins; w++) {
		const struct window *win = &ru->sc->wins[w];
		if (win->limit < pos)
			continue;
		pos = scan(ru, r, win->start > pos ? win->start : pos, win->limit);
		if (pos == (size_t)-1)
			return -1;
	}
	return 0;
}

static int run_spoken(struct run *ru, const struct rule *const *r, size_t nr, bool numwords)
{
	if (nr == 0)
		return 0;
	if (numwords ? numword_windows(ru) : atword_windows(ru))
		return -1;
	for (size_t i = 0; i < nr && ru->sc->nwins; i++)
		if (run_windows(ru, r[i]))
			return -1;
	return 0;
}

/* Is the word t[s..e) (any case) on the rule's allowlist? */
static bool allowed_word(const struct rule *r, const char *t, size_t s, size_t e)
{
	for (size_t i = 0; i < r->nallow; i++)
		if (strlen(r->allow[i]) == e - s && strncasecmp(r->allow[i], t + s, e - s) == 0)
			return true;
	return false;
}

/* A span with an allowlisted word in it is left alone. */
static bool span_allowed(const struct rule *r, const char *t, size_t s, size_t e)
{
	size_t ws = s;
	for (size_t i = s; i <= e && r->nallow; i++) {
		if (i < e && (is_alpha(t[i]) || (unsigned char)t[i] >= 0x80 || t[i] == '\''))
			continue;
		if (i > ws && allowed_word(r, t, ws, i))
			return true;
		ws = i + 1;
	}
	return false;
}

struct token_ctx {
	struct run *ru;
	const struct rule *r;
};

/* A scanner's span: the allowlist, then a candidate whose value (for the
 * hash style) is the span lowercased. Names are never subjects. */
static int token_span(void *p, size_t s, size_t e)
{
	struct token_ctx *c = p;
	const char *t = c->ru->t;
	if (e <= s || span_allowed(c->r, t, s, e))
		return 0;
	struct rvalue v;
	v.intl = false;
	v.len = e - s < sizeof v.s ? e - s : sizeof v.s;
	for (size_t i = 0; i < v.len; i++)
		v.s[i] = (char)ascii_lower(t[s + i]);
	int rc = add_cand(c->ru, c->r, s, e, &v);
	sodium_memzero(&v, sizeof v);
	return rc;
}

/* The digit windows as ranges, if the digit rules made them this run (an
 * address has a house number: its scanner looks only there). */
static int digit_ranges(struct scratch *sc, const struct redact_range **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!sc->digit_wins)
		return 0;
	if (grow((void **)&sc->ranges, &sc->rangecap, sc->nwins + 1, sizeof *sc->ranges))
		return -1;
	for (size_t i = 0; i < sc->nwins; i++)
		sc->ranges[i] = (struct redact_range){ sc->wins[i].first, sc->wins[i].limit };
	*out = sc->ranges;
	*n = sc->nwins;
	return 0;
}

static int run_tokens(struct run *ru, const struct rule *const *r, size_t nr, enum rd_channel ch)
{
	const struct redact_range *dr;
	size_t ndr;
	if (nr && digit_ranges(ru->sc, &dr, &ndr))
		return -1;
	for (size_t i = 0; i < nr; i++) {
		struct token_ctx c = { ru, r[i] };
		bool lower = ch == CH_VOICE;
		int rc = r[i]->scanner == SCAN_PERSON ? redact_scan_person(ru->t, ru->n, lower, token_span, &c)
		         : r[i]->scanner == SCAN_ADDRESS
		             ? redact_scan_address(ru->t, ru->n, lower, dr, ndr, token_span, &c)
		             : 0;
		if (rc)
			return -1;
	}
	return 0;
}

/* Runs the channel's rules, each group of triggers over its own windows
 * (active rules are stored grouped in enum trigger order). */
static int match_rules(struct run *ru, const struct ruleset *rs, enum rd_channel ch)
{
	const struct rule *const *g[TRIG_COUNT];
	const size_t *nt = rs->ntrig[ch];
	_Static_assert(TRIG_COUNT == 6, "match_rules: one line per trigger");
	g[TRIG_ALL] = rs->active[ch];
	g[TRIG_AT] = g[TRIG_ALL] + nt[TRIG_ALL];
	g[TRIG_DIGIT] = g[TRIG_AT] + nt[TRIG_AT];
	g[TRIG_NUMWORDS] = g[TRIG_DIGIT] + nt[TRIG_DIGIT];
	g[TRIG_ATWORD] = g[TRIG_NUMWORDS] + nt[TRIG_NUMWORDS];
	g[TRIG_TOKENS] = g[TRIG_ATWORD] + nt[TRIG_ATWORD];
	for (size_t i = 0; i < nt[TRIG_ALL]; i++)
		if (scan(ru, g[TRIG_ALL][i], 0, ru->n) == (size_t)-1)
			return -1;
	const struct first_bytes *fb = ru->fb;
	if (!nt[TRIG_AT])
		ru->first_at = NULL;
	else if (fb->known)
		ru->first_at = fb->at < ru->n ? ru->t + fb->at : NULL;
	else
		ru->first_at = memchr(ru->t, '@', ru->n);
	for (size_t i = 0; ru->first_at && i < nt[TRIG_AT]; i++)
		if (run_at_rule(ru, g[TRIG_AT][i]))
			return -1;
	ru->sc->digit_wins = false;
	if (nt[TRIG_DIGIT] && digit_windows(ru->sc, ru->t, ru->n, fb->known ? ru->t + fb->digit : NULL))
		return -1;
	ru->sc->digit_wins = nt[TRIG_DIGIT] != 0;
	for (size_t i = 0; ru->sc->nwins && i < nt[TRIG_DIGIT]; i++)
		if (run_digit_rule(ru, g[TRIG_DIGIT][i]))
			return -1;
	/* the token scanners before the spoken rules, which reuse the windows */
	if (run_tokens(ru, g[TRIG_TOKENS], nt[TRIG_TOKENS], ch))
		return -1;
	ru->sc->digit_wins = false;
	if (!nt[TRIG_NUMWORDS] && !nt[TRIG_ATWORD])
		return 0;   /* every channel but voice: no call at all */
	return run_spoken(ru, g[TRIG_NUMWORDS], nt[TRIG_NUMWORDS], true) ||
	       run_spoken(ru, g[TRIG_ATWORD], nt[TRIG_ATWORD], false) ? -1 : 0;
}

/* The scratch copies that held message text or identifiers are wiped after
 * every run, on success and on failure. */
static void scratch_wipe(struct scratch *sc, bool norm)
{
	if (sc->pool && sc->poollen)   /* most messages leave nothing there */
		sodium_memzero(sc->pool, sc->poollen);
	if (norm && sc->norm)
		sodium_memzero(sc->norm, sc->normcap);
}

const struct phone_region *redact_tenant_region(const struct redact *rd, const char *tenant)
{
	for (size_t i = 0; tenant && i < rd->ntregions; i++)
		if (!rd->tregions[i].source && strcmp(rd->tregions[i].tenant, tenant) == 0)
			return rd->tregions[i].region;
	return NULL;
}

int redact_run(const struct redact *rd, const char *tenant, enum rd_channel channel,
               const char *text, size_t len, struct redact_result *out)
{
	return redact_run_in(rd, tenant, redact_tenant_region(rd, tenant), channel, text, len, out);
}

int redact_run_in(const struct redact *rd, const char *tenant, const struct phone_region *region,
                  enum rd_channel channel, const char *text, size_t len, struct redact_result *out)
{
	bool needs_norm = false;
	struct first_bytes fb;
	struct scratch *sc = scratch_get();
	result_reset(out);
	if (!sc || !check_utf8(text, len, &needs_norm, &fb) || (unsigned)channel >= CH_COUNT)
		goto fail;
	/* Room for the output at once (placeholders are a little longer than
	 * most values): doubling from 16 bytes cost ~7 reallocs a message. */
	if (grow((void **)&out->text, &out->cap, len + len / 4 + 64, 1))
		goto fail;
	out->text[0] = '\0';
	size_t n = len;
	sc->ncands = 0;
	sc->poollen = 0;
	sc->nwins = 0;
	if (needs_norm && normalise(sc, text, len, &n))
		goto fail;
	if (needs_norm)
		fb.known = false;   /* found in the input, not in its normalised copy */
	struct run ru = { rd, sc, needs_norm ? sc->norm : text, n, out, NULL, &fb, region };
	if (match_rules(&ru, ruleset_for(rd, tenant), channel) || resolve(sc) ||
	    write_output(&ru, tenant, text, len, needs_norm ? sc->map : NULL))
		goto fail;
	dedup_subjects(out);
	scratch_wipe(sc, needs_norm);
	return 0;
fail:
	if (sc)
		scratch_wipe(sc, needs_norm);
	result_reset(out);
	return -1;
}

void redact_result_free(struct redact_result *res)
{
	if (!res)
		return;
	if (res->text)
		sodium_memzero(res->text, res->cap);
	free(res->text);
	free(res->findings);
	free(res->subjects);
	memset(res, 0, sizeof *res);
}

int redact_subject_hash(const struct redact *rd, enum subject_kind kind, const char *s, size_t len,
                        struct redact_subject *out)
{
	return redact_subject_hash_in(rd, NULL, kind, s, len, out);
}

static int norm_subject(enum subject_kind kind, const char *s, size_t len, struct rvalue *v)
{
	v->intl = false;
	if (kind == SUBJECT_EMAIL)
		return redact_norm_email(s, len, v);
	if (kind == SUBJECT_PHONE)
		return redact_norm_phone(s, len, v);
	return -1;
}

int redact_subject_hash_in(const struct redact *rd, const struct phone_region *region,
                           enum subject_kind kind, const char *s, size_t len, struct redact_subject *out)
{
	struct rvalue v;
	char e164[PHONE_DIGITS_MAX + 1];
	int rc = norm_subject(kind, s, len, &v);
	if (rc == 0) {
		const char *d = v.s;
		size_t n = v.len;
		if (kind == SUBJECT_PHONE)
			phone_subject_value(region, v.intl, &d, &n, e164);
		subject_hash(rd, kind, d, n, out);
	}
	sodium_memzero(&v, sizeof v);
	sodium_memzero(e164, sizeof e164);
	return rc;
}

/* Adds d[0..n) to the forms unless it is there already. */
static void add_form(char forms[][PHONE_DIGITS_MAX + 1], size_t *k, const char *d, size_t n)
{
	if (*k >= REDACT_SUBJECT_FORMS || n > PHONE_DIGITS_MAX)
		return;
	for (size_t i = 0; i < *k; i++)
		if (strlen(forms[i]) == n && memcmp(forms[i], d, n) == 0)
			return;
	memcpy(forms[*k], d, n);
	forms[(*k)++][n] = '\0';
}

/* Every way the number may have been hashed in this tenant: read in each of
 * its regions (tenant's first), as written, and the national forms of its
 * international reading, which is how numbers written nationally were
 * hashed before the tenant had a region. */
static size_t phone_forms(const struct redact *rd, const char *tenant, const struct rvalue *v,
                          char forms[REDACT_SUBJECT_FORMS][PHONE_DIGITS_MAX + 1])
{
	const struct phone_region *regions[REDACT_SUBJECT_FORMS];
	size_t nr = 0, k = 0;
	const struct phone_region *own = redact_tenant_region(rd, tenant);
	if (own)
		regions[nr++] = own;
	for (size_t i = 0; i < rd->ntregions && nr < REDACT_SUBJECT_FORMS; i++) {
		const struct tregion *t = &rd->tregions[i];
		if (t->source && (!t->tenant || strcmp(t->tenant, tenant) == 0) && t->region != own)
			regions[nr++] = t->region;
	}
	char intl[PHONE_DIGITS_MAX + 1], nat[2][PHONE_DIGITS_MAX + 1];
	if (v->intl || nr == 0)
		add_form(forms, &k, v->s, v->len);
	for (size_t i = 0; i < nr; i++) {
		const char *d = v->s;
		if (!v->intl && phone_region_international(regions[i], v->s, v->len, intl) == 0)
			d = intl;
		else if (!v->intl)
			continue;
		add_form(forms, &k, d, strlen(d));
		size_t nn = phone_region_national_forms(regions[i], d, strlen(d), nat, 2);
		for (size_t j = 0; j < nn; j++)
			add_form(forms, &k, nat[j], strlen(nat[j]));
	}
	add_form(forms, &k, v->s, v->len);
	sodium_memzero(intl, sizeof intl);
	sodium_memzero(nat, sizeof nat);
	return k;
}

size_t redact_subject_lookup(const struct redact *rd, const char *tenant, enum subject_kind kind,
                             const char *s, size_t len, struct redact_subject out[REDACT_SUBJECT_FORMS])
{
	struct rvalue v;
	char forms[REDACT_SUBJECT_FORMS][PHONE_DIGITS_MAX + 1];
	size_t k = 0;
	if (norm_subject(kind, s, len, &v) == 0) {
		if (kind == SUBJECT_PHONE) {
			size_t nf = phone_forms(rd, tenant, &v, forms);
			for (; k < nf; k++)
				subject_hash(rd, kind, forms[k], strlen(forms[k]), &out[k]);
		} else {
			subject_hash(rd, kind, v.s, v.len, &out[k++]);
		}
	}
	sodium_memzero(&v, sizeof v);
	sodium_memzero(forms, sizeof forms);
	return k;
}
