/*
 * redact_int.h — internals shared by the redact_*.c files (not a public
 * header: nothing outside src/redact*.c includes it).
 *
 * redact.c        engine build: rule merge, compile (the DESIGN comment)
 * redact_run.c    matching: windows, PCRE2, overlaps, styles, subjects
 * redact_rules.c  the built-in rule table and its patterns
 * redact_validate.c  validators and the value normaliser
 * redact_spoken.c spoken digits and spoken emails (voice channel)
 */
#ifndef REDACTD_REDACT_INT_H
#define REDACTD_REDACT_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "redact.h"
#include "phone_region.h"

#include <pcre2.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Validators. A rule's pattern proposes a span; its validator decides, may
 * shorten the span (a card followed by more digits), and writes the
 * normalised value used for hashes, `partial` and subjects.
 *
 *   none          accept every match
 *   luhn          13-19 digits passing the Luhn check
 *   card          a known brand prefix and length (the IIN tables: Visa,
 *                 Mastercard, Amex, Discover, Diners, JCB, UnionPay, Mir,
 *                 RuPay, Verve, Troy, Elo, Hipercard, Maestro 12-19, ...)
 *                 with Luhn where the brand needs it; after a card word,
 *                 any 12-19 digits
 *   card_security the value after a CVV/CVC or expiry label (the span is
 *                 moved to the value)
 *   national_id   the checksum of the scheme the shape belongs to: US SSN
 *                 (area/group/serial), UK NINO (prefixes) and NHS (mod 11),
 *                 Aadhaar (Verhoeff), PAN (shape), DNI/NIE (mod 23), codice
 *                 fiscale (check letter), NIR (mod 97 key), Steuer-ID (ISO
 *                 7064 MOD 11,10), BSN (11-test); bare digit runs need an
 *                 identifier word or the scheme's grouping
 *   passport      a value with digits after a passport word
 *   date_of_birth a date after a birth word
 *   iban          country length from the SWIFT registry + ISO 7064 mod-97
 *   phone         digit counts of E.164 and national plans; rejects dates,
 *                 times, prices, thousands groups, versions, ISBNs, year
 *                 ranges, ZIP+4 and IP-shaped numbers
 *   ipv4          four octets <= 255, not a version number
 *   ipv6          inet_pton(AF_INET6), every compressed form
 *   spoken_phone  digit words -> 7..15 digits (< 10 needs a context word)
 *   spoken_card   digit words -> 13..19 digits, a valid card (Luhn and
 *                 brand) or after a card word
 *                 (speech recognition breaks Luhn, so context suffices)
 *   spoken_email  "jane dot doe at example dot com" -> jane.doe@example.com
 */
enum validator {
	VAL_NONE = 0, VAL_LUHN, VAL_CARD, VAL_IBAN, VAL_PHONE, VAL_IPV4, VAL_IPV6,
	VAL_SPOKEN_PHONE, VAL_SPOKEN_CARD, VAL_SPOKEN_EMAIL, VAL_CARD_SECURITY,
	VAL_NATIONAL_ID, VAL_PASSPORT, VAL_DATE_OF_BIRTH,
	VAL_COUNT
};

/* Where a pattern can possibly match; the run loop only calls PCRE2 there. */
enum trigger {
	TRIG_ALL = 0,   /* whole text (custom patterns) */
	TRIG_AT,        /* around each '@' */
	TRIG_DIGIT,     /* around clusters of ASCII digits */
	TRIG_NUMWORDS,  /* runs of four or more spoken number words */
	TRIG_ATWORD,    /* before each word "at" (or '@') */
	TRIG_TOKENS,    /* a token scanner (redact_names.c), not a pattern */
	TRIG_COUNT
};

/* Cheap test of a digit window before a built-in digit rule runs PCRE2
 * there: most windows (a date, a price) cannot hold most entities. */
enum prefilter {
	PF_NONE = 0,
	PF_DIGITS,      /* at least min_digits digits */
	PF_CHAIN,       /* min_digits digits joined only by short " .-/()" gaps */
	PF_RUN,         /* min_digits consecutive digits */
	PF_IPV4,        /* digit groups joined by three dots */
	PF_IPV6,        /* "::" or three colons */
	PF_IBAN,        /* two letters then two digits */
	PF_ORD,         /* the letters "ord" */
	PF_NATID,       /* 9 chained digits, an 8-digit run, or a letter glued to digits */
	PF_LABEL,       /* a stem of the rule's label word in the window ("cvv", "exp",
	                   "passport", "birth"): by validator, see redact_run.c */
};

/* The token scanners of TRIG_TOKENS rules. */
enum scanner { SCAN_NONE = 0, SCAN_PERSON, SCAN_ADDRESS };

/* A built-in rule (redact_rules.c). */
struct builtin_rule {
	const char *name, *entity, *pattern;
	enum validator validator;
	int priority;
	enum trigger trigger;
	enum prefilter prefilter;
	int min_digits;
	int back;                        /* a match starts at most this many bytes
	                                    before its window's first digit */
	unsigned channels;               /* 0 = every channel */
	const char *const *context;      /* NULL-terminated, lowercase */
	bool context_required;
	enum scanner scanner;            /* TRIG_TOKENS rules: which scanner */
	bool value_group;                /* the finding is capture group 1 (the
	                                    value after its label), not the match */
};

extern const struct builtin_rule redact_builtins[];
extern const size_t redact_nbuiltins;

int redact_validator_parse(const char *name, enum validator *out);
const char *redact_validator_name(enum validator v);

/* What a validator sees: the span in the (normalised) work text and the
 * text around it, for shape checks that look just outside the match. */
struct vspan {
	const char *text;    /* whole work text */
	size_t len;
	size_t start, end;   /* match; a validator may lower `end` (and
	                        card_security raise `start` past its label) */
	/* Does a context word of the rule precede the match? Asked only when a
	 * validator needs it (most candidates are settled without): use
	 * vspan_context(), which calls ctx_fn once and keeps the answer. */
	signed char ctx;     /* -1 not asked yet, else 0 or 1 */
	bool (*ctx_fn)(const void *arg, size_t start);
	const void *ctx_arg;
};

static inline bool vspan_context(struct vspan *sp)
{
	if (sp->ctx < 0)
		sp->ctx = sp->ctx_fn && sp->ctx_fn(sp->ctx_arg, sp->start);
	return sp->ctx > 0;
}

/* Bounded value buffer for normalised identifiers (hash, partial, subject). */
#define REDACT_VALUE_MAX 320
struct rvalue {
	char s[REDACT_VALUE_MAX];
	size_t len;
	bool intl;      /* a phone written with '+' or "00": not read in a region */
};

/* Returns true to accept; fills *val with the normalised value. */
bool redact_validate(enum validator v, const char *entity, struct vspan *sp, struct rvalue *val);

/* Normalisers shared by redaction and redact_subject_hash. -1 if the input
 * does not look like that kind of identifier or is too long. */
int redact_norm_email(const char *s, size_t n, struct rvalue *out);
int redact_norm_phone(const char *s, size_t n, struct rvalue *out);

/* Spoken forms (redact_spoken.c). Digits: "oh seven seven double oh" ->
 * "07700"; returns the digit count or -1, sets *plus for a leading "plus".
 * Email: -1 unless it reads as local "at" domain "dot" tld. */
int redact_spoken_digits(const char *s, size_t n, struct rvalue *out, bool *plus);
int redact_spoken_email(const char *s, size_t n, struct rvalue *out);

/* Is w[0..n) a token of a spoken number: a digit word, "double", "plus",
 * "hundred", or 1-4 digits? */
bool redact_number_token(const char *w, size_t n);
/* Is w[0..n) a filler or a correction a caller says between digits ("uh",
 * "um", "no", "sorry", "i mean")? */
bool redact_filler_token(const char *w, size_t n);

/*
 * PERSON and ADDRESS (redact_names.c). redact_names_init builds the
 * process-wide gazetteer once (thread-safe, idempotent); -1 if out of
 * memory. A scan calls fn(ctx, start, end) for each span it finds in
 * t[0..n), in text order, and stops at fn's first non-zero return, which
 * it returns. `lower`: read the text as lowercase speech (names need a
 * cue); a text with no capital letter is read so anyway.
 */
typedef int (*redact_span_fn)(void *ctx, size_t start, size_t end);
int redact_names_init(void);
int redact_scan_person(const char *t, size_t n, bool lower, redact_span_fn fn, void *ctx);

/* Where the digits are, if the run loop already knows: every digit of t
 * lies in one of the ranges [first, last] (in order). */
struct redact_range {
	size_t first, last;
};
/* `digits` NULL: the scanner finds the digits itself. */
int redact_scan_address(const char *t, size_t n, bool lower, const struct redact_range *digits,
                        size_t ndigits, redact_span_fn fn, void *ctx);
/* Bytes the gazetteer holds (hash table and keys); *entries its words. */
size_t redact_names_memory(size_t *entries);

/* The C locale's character classes (redactd never calls setlocale), as
 * the <ctype.h> calls answer them there, without a call or a table load
 * per byte: the validators read every candidate byte by byte. */
static inline bool c_isdigit(int c) { return (unsigned)c - '0' < 10u; }
static inline bool c_isalpha(int c) { return ((unsigned)c | 0x20u) - 'a' < 26u; }
static inline bool c_isalnum(int c) { return c_isdigit(c) || c_isalpha(c); }
static inline bool c_isspace(int c) { return c == ' ' || (unsigned)c - '\t' < 5u; }
static inline int c_tolower(int c) { return (unsigned)c - 'A' < 26u ? c | 0x20 : c; }
static inline int c_toupper(int c) { return (unsigned)c - 'a' < 26u ? c & ~0x20 : c; }

/* First ASCII digit in [p, end), or end (SSE2). */
const char *redact_next_digit(const char *p, const char *end);

/* Helpers shared by the validators. */
bool redact_luhn(const char *digits, size_t n);

/* ---- the engine (built by redact.c, read by redact_run.c) ----------- */

enum { CTX_WORD = 1, CTX_STOP = 2 };

struct pat {
	char *src;
	pcre2_code *code;
	bool jit;
};

struct rule {
	char *name, *entity, *pattern;
	size_t entity_len;          /* strlen(entity), set at compile */
	char subject;               /* SUBJECT_EMAIL, SUBJECT_PHONE or 0, set at compile */
	int pat;                    /* index into redact.pats */
	enum validator validator;
	enum redact_style style;
	bool style_set;             /* style given in config (else tenant default) */
	int keep, priority;
	char **context;
	size_t ncontext;
	size_t *ctx_len;
	uint32_t *ctx_first;        /* [256] bit c: context word c starts with this byte */
	unsigned char *ctx_class;   /* [256] CTX_STOP for a digit, CTX_WORD where ctx_first
	                               is set, else 0: one load a byte looking back */
	bool context_required, enabled;
	bool value_group;           /* built-in pattern: report group 1 */
	unsigned channels;
	enum trigger trigger;
	enum scanner scanner;
	char **allow;               /* words this rule never redacts (lowercase) */
	size_t nallow;
	enum prefilter prefilter;
	int min_digits, back;
	const char *file;           /* where the pattern came from (build only) */
	int line;
};

struct ruleset {
	char *tenant;               /* NULL for the global set */
	struct rule *rules;
	size_t nrules;
	const struct rule **active[CH_COUNT];   /* enabled rules per channel, */
	size_t nactive[CH_COUNT];               /* grouped by trigger: */
	size_t ntrig[CH_COUNT][TRIG_COUNT];     /* how many of each, in enum order */
};

struct tstyle {
	char *tenant;
	enum redact_style style;
};

/* A region national phone numbers are read in: a [tenant]'s own (source
 * false), or a [source]'s, for the tenant it sends to (NULL: any tenant). */
struct tregion {
	char *tenant;
	const struct phone_region *region;
	bool source;
};

struct redact {
	struct pat *pats;
	size_t npats;
	struct ruleset global;
	struct ruleset *tsets;
	size_t ntsets;
	struct tstyle *tstyles;
	size_t ntstyles;
	unsigned char *keys;        /* locked: hash key, then subject key */
	/* Locked: the keyed BLAKE2b states right after init with each key
	 * (hash style, then subjects). A hash starts from a copy: the keyed
	 * init is a fifth of a short hash's cost, and dense text hashes a
	 * subject every few messages. */
	crypto_generichash_state *hstates;
	const char **entities;
	size_t nentities;
	struct tregion *tregions;
	size_t ntregions;
};


#endif
