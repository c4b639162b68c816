/*
 * redact_validate.c — what a regex cannot decide: checksums, number plans,
 * and the shapes of dates, prices and versions that look like phones.
 *
 * Every validator works on the normalised work text (ASCII digits, plain
 * spaces; see redact.c) and may look a few bytes outside its match, e.g.
 * for a currency sign or the word "version". It also writes the normalised
 * value: the one normaliser for subjects lives here (redact_norm_email,
 * redact_norm_phone) and redact_subject_hash uses the same functions.
 */
#include "redact_int.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

static const char *const validator_names[VAL_COUNT] = {
	[VAL_NONE] = "none", [VAL_LUHN] = "luhn", [VAL_CARD] = "card", [VAL_IBAN] = "iban",
	[VAL_PHONE] = "phone", [VAL_IPV4] = "ipv4", [VAL_IPV6] = "ipv6",
	[VAL_SPOKEN_PHONE] = "spoken_phone", [VAL_SPOKEN_CARD] = "spoken_card",
	[VAL_SPOKEN_EMAIL] = "spoken_email", [VAL_CARD_SECURITY] = "card_security",
	[VAL_NATIONAL_ID] = "national_id", [VAL_PASSPORT] = "passport", [VAL_DATE_OF_BIRTH] = "date_of_birth",
};

int redact_validator_parse(const char *name, enum validator *out)
{
	for (int i = 0; i < VAL_COUNT; i++) {
		if (strcmp(name, validator_names[i]) == 0) {
			*out = (enum validator)i;
			return 0;
		}
	}
	return -1;
}

const char *redact_validator_name(enum validator v)
{
	return (unsigned)v < VAL_COUNT ? validator_names[v] : "?";
}

/* ---- normalisers ---------------------------------------------------- */

int redact_norm_email(const char *s, size_t n, struct rvalue *out)
{
	while (n && c_isspace((unsigned char)*s)) { s++; n--; }
	while (n && c_isspace((unsigned char)s[n - 1])) n--;
	if (n >= 7 && strncasecmp(s, "mailto:", 7) == 0) { s += 7; n -= 7; }
	const char *at = memchr(s, '@', n);
	if (!at || at == s || n >= sizeof out->s)
		return -1;
	size_t dom = (size_t)(at - s) + 1;
	if (dom >= n || !memchr(s + dom, '.', n - dom) || memchr(s + dom, '@', n - dom))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (c_isspace((unsigned char)s[i]) && s[0] != '"')
			return -1;
		out->s[i] = (char)c_tolower((unsigned char)s[i]);
	}
	out->len = n;
	out->s[n] = '\0';
	return 0;
}

/* Where an extension starts ("ext", "x", "#"), or n. */
static size_t extension_at(const char *s, size_t n)
{
	/* c_tolower() in the C locale: 'E'/'e', 'X'/'x' or '#' (no call a byte) */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '#' || c == 'e' || c == 'E' || c == 'x' || c == 'X')
			return i;
	}
	return n;
}

/*
 * Digits of a phone number as stored for subjects: "+", "00" and a "(0)"
 * trunk dropped, an extension ignored. "+44 (0)7700 900123",
 * "0044 7700-900123" and "447700900123" all give 447700900123. A scheme
 * ("tel:", "whatsapp:") in front is skipped.
 */
int redact_norm_phone(const char *s, size_t n, struct rvalue *out)
{
	while (n && c_isspace((unsigned char)*s)) { s++; n--; }
	const char *colon = memchr(s, ':', n);
	if (colon && colon - s <= 10) { n -= (size_t)(colon + 1 - s); s = colon + 1; }
	n = extension_at(s, n);
	bool intl = false;
	out->len = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+' && out->len == 0 && !intl) { intl = true; continue; }
		if (c == '(' && i + 2 < n && s[i + 1] == '0' && s[i + 2] == ')' && intl) { i += 2; continue; }
		if (c_isdigit((unsigned char)c)) {
			if (out->len + 1 >= sizeof out->s)
				return -1;
			out->s[out->len++] = c;
			if (out->len == 2 && !intl && out->s[0] == '0' && out->s[1] == '0') {
				out->len = 0;
				intl = true;
			}
			continue;
		}
		switch (c) {   /* strchr(" .-/()\t", c), whose terminator matches a NUL too */
		case ' ': case '.': case '-': case '/': case '(': case ')': case '\t': case '\0':
			break;
		default:
			return -1;
		}
	}
	out->s[out->len] = '\0';
	out->intl = intl;
	return out->len >= 5 && out->len <= 15 ? 0 : -1;
}

/* ---- cards ---------------------------------------------------------- */

bool redact_luhn(const char *d, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)(d[n - 1 - i] - '0');
		if (i & 1) {
			v *= 2;
			if (v > 9) v -= 9;
		}
		sum += v;
	}
	return n > 0 && sum % 10 == 0;
}

static unsigned prefix_num(const char *d, size_t k)
{
	unsigned v = 0;
	for (size_t i = 0; i < k; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

/*
 * Issuer identification number ranges and lengths of the card brands in
 * use (the IIN tables of the networks as published, e.g. Wikipedia's
 * "Payment card number" table). A range is [lo, hi] over the first
 * `digits` digits; `lens` is a bit mask of allowed lengths (bit 12..19).
 * UnionPay numbers need not pass Luhn (the network does not require it).
 */
#define L(n) (1u << (n))
#define L12_19 (L(12) | L(13) | L(14) | L(15) | L(16) | L(17) | L(18) | L(19))
#define L16_19 (L(16) | L(17) | L(18) | L(19))
struct iin { unsigned lo, hi; unsigned char digits; unsigned lens; bool luhn; };

static const struct iin iins[] = {
	{ 4, 4, 1, L(13) | L(16) | L(19), true },                 /* Visa */
	{ 51, 55, 2, L(16), true },                               /* Mastercard */
	{ 2221, 2720, 4, L(16), true },                           /* Mastercard 2-series */
	{ 34, 34, 2, L(15), true }, { 37, 37, 2, L(15), true },   /* Amex */
	{ 6011, 6011, 4, L16_19, true }, { 644, 649, 3, L16_19, true },
	{ 65, 65, 2, L16_19, true }, { 622126, 622925, 6, L16_19, true },   /* Discover, Troy, RuPay */
	{ 300, 305, 3, L(14) | L16_19, true }, { 3095, 3095, 4, L(14) | L16_19, true },
	{ 36, 36, 2, L(14) | L16_19, true }, { 38, 39, 2, L(14) | L16_19, true },   /* Diners */
	{ 3528, 3589, 4, L16_19, true },                          /* JCB */
	{ 1800, 1800, 4, L(15), true }, { 2131, 2131, 4, L(15), true },   /* JCB 15 */
	{ 62, 62, 2, L16_19, false }, { 81, 81, 2, L16_19, false },       /* UnionPay */
	{ 2200, 2204, 4, L16_19, true }, { 2205, 2205, 4, L(16), true },  /* Mir, Borica */
	{ 60, 60, 2, L(16), true }, { 82, 82, 2, L(16), true },
	{ 508, 508, 3, L(16), true }, { 353, 353, 3, L(16), true },
	{ 356, 356, 3, L(16), true },                             /* RuPay */
	{ 506099, 506198, 6, L(16) | L(18) | L(19), true },
	{ 507865, 507964, 6, L(16) | L(18) | L(19), true },
	{ 650002, 650027, 6, L(16) | L(18) | L(19), true },       /* Verve */
	{ 9792, 9792, 4, L(16), true },                           /* Troy */
	{ 401178, 401179, 6, L(16), true }, { 431274, 431274, 6, L(16), true },
	{ 438935, 438935, 6, L(16), true }, { 451416, 451416, 6, L(16), true },
	{ 457393, 457393, 6, L(16), true }, { 457631, 457632, 6, L(16), true },
	{ 504175, 504175, 6, L(16), true }, { 506699, 506778, 6, L(16), true },
	{ 509000, 509999, 6, L(16), true }, { 627780, 627780, 6, L(16), true },
	{ 636297, 636297, 6, L(16), true }, { 636368, 636368, 6, L(16), true },
	{ 650031, 650051, 6, L(16), true }, { 650405, 650439, 6, L(16), true },
	{ 650485, 650538, 6, L(16), true }, { 650541, 650598, 6, L(16), true },
	{ 650700, 650727, 6, L(16), true }, { 650901, 650978, 6, L(16), true },
	{ 651652, 651679, 6, L(16), true }, { 655000, 655058, 6, L(16), true },   /* Elo */
	{ 606282, 606282, 6, L(16) | L(19), true }, { 384100, 384100, 6, L(16) | L(19), true },
	{ 384140, 384140, 6, L(16) | L(19), true }, { 384160, 384160, 6, L(16) | L(19), true },   /* Hipercard */
	{ 636, 639, 3, L16_19, true },                            /* InterPayment, InstaPayment */
	{ 8600, 8600, 4, L(16), true }, { 9860, 9860, 4, L(16), true },   /* UzCard, Humo */
	{ 1, 1, 1, L(15), true },                                 /* UATP */
	/* Maestro: 12-19 digits; the short lengths only on its own prefixes */
	{ 5018, 5018, 4, L12_19, true }, { 5020, 5020, 4, L12_19, true },
	{ 5038, 5038, 4, L12_19, true }, { 5893, 5893, 4, L12_19, true },
	{ 6304, 6304, 4, L12_19, true }, { 6759, 6759, 4, L12_19, true },
	{ 6761, 6763, 4, L12_19, true },
	{ 50, 50, 2, L16_19, true }, { 56, 69, 2, L16_19, true },  /* Maestro, GPN, others */
};

/* Is d[0..n) a card of a known brand? (Luhn as the brand requires.) */
static bool card_brand_ok(const char *d, size_t n)
{
	bool luhn = redact_luhn(d, n);
	unsigned pre[7];   /* the first 1..6 digits as numbers, read once for the whole table */
	for (size_t k = 1; k <= 6; k++)
		pre[k] = k <= n ? prefix_num(d, k) : 0;   /* (every length allowed is 12 or more) */
	for (size_t i = 0; i < RD_ARRAY_LEN(iins); i++) {
		const struct iin *b = &iins[i];
		unsigned p = pre[b->digits];
		if (p >= b->lo && p <= b->hi && (b->lens >> n & 1) && (luhn || !b->luhn))
			return true;
	}
	return false;
}

/*
 * Longest prefix of the span ending at a group boundary that is a card.
 * `brand`: a known brand (card_brand_ok) rather than Luhn alone. After a
 * card word (context) any 12-19 digits are a card: people mistype, and
 * speech-to-text breaks Luhn, and the number is still sensitive.
 */
static bool validate_card(struct vspan *sp, bool brand, struct rvalue *val)
{
	char d[24];
	size_t nd = 0, best_end = 0, best_n = 0;
	for (size_t i = sp->start; i < sp->end; i++) {
		char c = sp->text[i];
		if (!c_isdigit((unsigned char)c))
			continue;
		if (nd >= sizeof d)
			return false;
		d[nd++] = c;
		bool boundary = i + 1 == sp->end || !c_isdigit((unsigned char)sp->text[i + 1]);
		if (!boundary || nd < 12 || nd > 19)
			continue;
		bool ok = brand ? (card_brand_ok(d, nd) || vspan_context(sp))
		                : (nd >= 13 && redact_luhn(d, nd));
		if (ok) {
			best_end = i + 1;
			best_n = nd;
		}
	}
	if (!best_n)
		return false;
	sp->end = best_end;
	memcpy(val->s, d, best_n);
	val->len = best_n;
	val->s[best_n] = '\0';
	return true;
}

/*
 * CARD_SECURITY: the pattern matched a label ("CVV", "security code",
 * "exp", "valid thru") and a value; the finding is the value alone, which
 * starts at the first digit that does not belong to the label ("cvv2 123":
 * the '2' is the label's). An expiry is MM/YY or MM/YYYY with a real
 * month; a full date never gets here (the pattern refuses a third part).
 */
/* A card word in the 64 bytes before `at` (digits allowed in between:
 * "card 4111 1111 1111 1111 expires 12/27"). */
static bool card_word_before(const struct vspan *sp, size_t at)
{
	static const char *const words[] = { "card", "visa", "mastercard", "amex", "cc", "maestro", "carte",
	                                     "karte", "tarjeta", "carta" };
	size_t from = at > 64 ? at - 64 : 0;
	for (size_t i = from; i < at; i++) {
		if (i > 0 && c_isalnum((unsigned char)sp->text[i - 1]))
			continue;
		for (size_t k = 0; k < RD_ARRAY_LEN(words); k++) {
			size_t l = strlen(words[k]);
			if (i + l <= at && strncasecmp(sp->text + i, words[k], l) == 0 &&
			    (i + l == sp->len || !c_isalpha((unsigned char)sp->text[i + l])))
				return true;
		}
	}
	return false;
}

static bool validate_card_security(struct vspan *sp, struct rvalue *val)
{
	/* "expires", "expiring", "expiration", "valid until": a card's only
	 * near a card word ("my passport expires 12/2026" is no card's); "exp",
	 * "expiry", "valid thru", "CVV" are card labels of their own */
	const char *l = sp->text + sp->start;
	size_t ln = sp->end - sp->start;
	bool generic = (ln >= 6 && strncasecmp(l, "expir", 5) == 0 && c_tolower((unsigned char)l[5]) != 'y') ||
	               (ln >= 10 && strncasecmp(l, "valid", 5) == 0 && (strncasecmp(l + 6, "until", 5) == 0 ||
	                                                             strncasecmp(l + 6, "till", 4) == 0));
	if (generic && !card_word_before(sp, sp->start))
		return false;   /* "coupon valid until 12/25" is a date */
	size_t i = sp->start;
	while (i < sp->end && !(c_isdigit((unsigned char)sp->text[i]) && i > sp->start &&
	                        !c_isalnum((unsigned char)sp->text[i - 1])))
		i++;
	if (i >= sp->end)
		return false;
	sp->start = i;
	val->len = 0;
	for (; i < sp->end && val->len + 1 < sizeof val->s; i++)
		if (c_isdigit((unsigned char)sp->text[i]) || sp->text[i] == '/')
			val->s[val->len++] = sp->text[i];
	val->s[val->len] = '\0';
	return val->len >= 3;
}

/* ---- national identifiers ------------------------------------------- */

/* Verhoeff (Aadhaar): the dihedral group D5 tables. */
static bool verhoeff_ok(const char *d, size_t n)
{
	static const unsigned char m[10][10] = {
		{0,1,2,3,4,5,6,7,8,9}, {1,2,3,4,0,6,7,8,9,5}, {2,3,4,0,1,7,8,9,5,6},
		{3,4,0,1,2,8,9,5,6,7}, {4,0,1,2,3,9,5,6,7,8}, {5,9,8,7,6,0,4,3,2,1},
		{6,5,9,8,7,1,0,4,3,2}, {7,6,5,9,8,2,1,0,4,3}, {8,7,6,5,9,3,2,1,0,4},
		{9,8,7,6,5,4,3,2,1,0},
	};
	static const unsigned char p[8][10] = {
		{0,1,2,3,4,5,6,7,8,9}, {1,5,7,6,2,8,3,0,9,4}, {5,8,0,3,7,9,6,1,4,2},
		{8,9,1,6,0,4,3,5,2,7}, {9,4,5,3,1,2,6,8,7,0}, {4,2,8,6,5,7,3,9,0,1},
		{2,7,9,3,8,0,6,4,1,5}, {7,0,4,6,9,1,3,2,5,8},
	};
	unsigned c = 0;
	for (size_t i = 0; i < n; i++)
		c = m[c][p[i % 8][d[n - 1 - i] - '0']];
	return c == 0;
}

/* US SSN: area not 000, 666 or 9xx, group not 00, serial not 0000. */
static bool ssn_ok(const char *d)
{
	unsigned area = prefix_num(d, 3), group = prefix_num(d + 3, 2), serial = prefix_num(d + 5, 4);
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* UK NHS number: mod 11 with weights 10..2; a remainder giving 10 is void. */
static bool nhs_ok(const char *d)
{
	unsigned sum = 0;
	for (int i = 0; i < 9; i++)
		sum += (unsigned)(d[i] - '0') * (unsigned)(10 - i);
	unsigned check = 11 - sum % 11;
	if (check == 11)
		check = 0;
	return check != 10 && check == (unsigned)(d[9] - '0');
}

/* Dutch BSN: the "11-test", weights 9..2 and -1. */
static bool bsn_ok(const char *d)
{
	int sum = 0;
	for (int i = 0; i < 8; i++)
		sum += (d[i] - '0') * (9 - i);
	sum -= d[8] - '0';
	return sum > 0 && sum % 11 == 0;
}

/* German Steuer-ID: ISO 7064 MOD 11,10 check digit; no leading 0; among
 * the first ten digits one occurs two or three times, some not at all. */
static bool steuer_id_ok(const char *d)
{
	unsigned cnt[10] = { 0 }, product = 10;
	if (d[0] == '0')
		return false;
	for (int i = 0; i < 10; i++)
		cnt[d[i] - '0']++;
	unsigned repeated = 0, missing = 0;
	for (int k = 0; k < 10; k++) {
		repeated += cnt[k] == 2 || cnt[k] == 3;
		missing += cnt[k] == 0;
	}
	if (repeated != 1 || missing == 0)
		return false;
	for (int i = 0; i < 10; i++) {
		unsigned sum = ((unsigned)(d[i] - '0') + product) % 10;
		if (sum == 0)
			sum = 10;
		product = (sum * 2) % 11;
	}
	unsigned check = 11 - product;
	if (check == 10)
		check = 0;
	return check == (unsigned)(d[10] - '0');
}

/* French NIR: 13 digits and a key of 97 - (number mod 97); Corsica's
 * departments 2A and 2B count as 19 and 18. */
static bool nir_ok(const char *s)
{
	char d[16];
	memcpy(d, s, 15);
	if (d[5] == '2' && (d[6] == 'A' || d[6] == 'B')) {
		d[5] = '1';
		d[6] = d[6] == 'A' ? '9' : '8';
	}
	long long v = 0;
	for (int i = 0; i < 15; i++)
		if (!c_isdigit((unsigned char)d[i]))
			return false;
	for (int i = 0; i < 13; i++)
		v = v * 10 + (d[i] - '0');
	if (d[0] != '1' && d[0] != '2')
		return false;
	return 97 - v % 97 == (d[13] - '0') * 10 + (d[14] - '0');
}

/* Spanish DNI (8 digits) and NIE (X/Y/Z + 7 digits): the letter is the
 * number mod 23 in "TRWAGMYFPDXBNJZSQVHLCKE". */
static bool dni_ok(const char *s)
{
	static const char letters[] = "TRWAGMYFPDXBNJZSQVHLCKE";
	unsigned long v = 0;
	const char *p = s;
	if (*p == 'X' || *p == 'Y' || *p == 'Z')
		v = (unsigned long)(*p++ == 'X' ? 0 : p[-1] == 'Y' ? 1 : 2);
	for (; c_isdigit((unsigned char)*p); p++)
		v = v * 10 + (unsigned long)(*p - '0');
	return p - s == 8 && *p == letters[v % 23];
}

/* Italian codice fiscale: the check letter from the odd and even tables
 * (digits that omocodia replaced by letters count as those letters). */
static bool codice_fiscale_ok(const char *s)
{
	static const unsigned char odd[36] = {
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21,                         /* 0-9 */
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
	};
	unsigned sum = 0;
	for (int i = 0; i < 15; i++) {
		int c = (unsigned char)s[i];
		int k = c_isdigit(c) ? c - '0' : c - 'A' + 10;
		if (k < 0 || k >= 36)
			return false;
		int even = c_isdigit(c) ? c - '0' : c - 'A';
		sum += (i % 2 == 0) ? odd[k] : (unsigned)even;
	}
	return s[15] == (char)('A' + sum % 26);
}

/* UK National Insurance number: two prefix letters from the allowed sets
 * (not BG, GB, NK, KN, TN, NT, ZZ), six digits, a suffix A-D. */
static bool nino_ok(const char *s)
{
	static const char *const bad[] = { "BG", "GB", "NK", "KN", "TN", "NT", "ZZ" };
	if (strchr("DFIQUV", s[0]) || strchr("DFIOQUV", s[1]))
		return false;
	for (size_t i = 0; i < RD_ARRAY_LEN(bad); i++)
		if (s[0] == bad[i][0] && s[1] == bad[i][1])
			return false;
	return s[8] >= 'A' && s[8] <= 'D';
}

/*
 * NATIONAL_ID: the pattern proposes a shape, the checksum of the matching
 * scheme decides. Shapes that other numbers share (9, 10, 11 and 12 bare
 * digits: a phone, an order) need an identifier word before them
 * (context: "SSN", "NHS number", "BSN", "Steuer-ID", "Aadhaar", ...)
 * or the scheme's own grouping (SSN 3-2-4, Aadhaar 4-4-4, Steuer-ID
 * 2-3-3-3).
 */
static bool validate_national_id(struct vspan *sp, struct rvalue *val)
{
	char a[24];
	size_t n = 0, digits = 0, seps = 0;
	for (size_t i = sp->start; i < sp->end; i++) {
		char c = sp->text[i];
		if (!c_isalnum((unsigned char)c)) {
			seps++;
			continue;
		}
		if (n + 1 >= sizeof a)
			return false;
		a[n++] = (char)c_toupper((unsigned char)c);
		digits += c_isdigit((unsigned char)c) != 0;
	}
	a[n] = '\0';
	bool grouped = seps > 0, ok = false;
	if (digits == n) {
		switch (n) {
		case 9:   /* 3-2-4 with spaces is also a national phone form ("372 12 3456") */
			ok = (ssn_ok(a) && (memchr(sp->text + sp->start, '-', sp->end - sp->start) ||
			                    vspan_context(sp))) ||
			     (!grouped && bsn_ok(a) && vspan_context(sp));
			break;
		case 10: ok = nhs_ok(a) && vspan_context(sp); break;
		case 11: ok = steuer_id_ok(a) && (grouped || vspan_context(sp)); break;
		case 12: ok = a[0] >= '2' && verhoeff_ok(a, n) && (grouped || vspan_context(sp)); break;
		case 15: ok = nir_ok(a); break;
		}
	} else if (n == 15 && (a[6] == 'A' || a[6] == 'B')) {
		ok = nir_ok(a);                                   /* Corsica */
	} else if (n == 9 && c_isalpha((unsigned char)a[0]) && c_isalpha((unsigned char)a[1]) && digits == 6) {
		ok = nino_ok(a);
	} else if (n == 9 && (digits == 8 || (digits == 7 && strchr("XYZ", a[0])))) {
		ok = dni_ok(a);
	} else if (n == 10 && digits == 4) {
		ok = true;                                        /* PAN: the shape is the check */
	} else if (n == 16) {
		ok = codice_fiscale_ok(a);
	}
	if (!ok)
		return false;
	memcpy(val->s, a, n + 1);
	val->len = n;
	return true;
}

/* PASSPORT: the value (group 1 of the pattern, after a passport word)
 * holds a digit; DATE_OF_BIRTH: after a birth word, any date the pattern
 * took. The value is the text without spaces. */
static bool validate_labelled(struct vspan *sp, bool need_digits, struct rvalue *val)
{
	size_t digits = 0;
	val->len = 0;
	for (size_t i = sp->start; i < sp->end && val->len + 1 < sizeof val->s; i++) {
		char c = sp->text[i];
		digits += c_isdigit((unsigned char)c) != 0;
		if (!c_isspace((unsigned char)c))
			val->s[val->len++] = (char)c_toupper((unsigned char)c);
	}
	val->s[val->len] = '\0';
	return !need_digits || digits >= 2;
}

/* ---- IBAN ----------------------------------------------------------- */

struct iban_len { char cc[3]; unsigned char len; };

/* SWIFT IBAN registry lengths, plus the partner countries in common use. */
static const struct iban_len iban_lens[] = {
	{"AD",24},{"AE",23},{"AL",28},{"AT",20},{"AZ",28},{"BA",20},{"BE",16},{"BG",22},
	{"BH",22},{"BI",27},{"BR",29},{"BY",28},{"CH",21},{"CR",22},{"CY",28},{"CZ",24},
	{"DE",22},{"DJ",27},{"DK",18},{"DO",28},{"EE",20},{"EG",29},{"ES",24},{"FI",18},
	{"FK",18},{"FO",18},{"FR",27},{"GB",22},{"GE",22},{"GI",23},{"GL",18},{"GR",27},
	{"GT",28},{"HN",28},{"HR",21},{"HU",28},{"IE",22},{"IL",23},{"IQ",23},{"IS",26},
	{"IT",27},{"JO",30},{"KW",30},{"KZ",20},{"LB",28},{"LC",32},{"LI",21},{"LT",20},
	{"LU",20},{"LV",21},{"LY",25},{"MC",27},{"MD",24},{"ME",22},{"MK",19},{"MN",20},
	{"MR",27},{"MT",31},{"MU",30},{"NI",28},{"NL",18},{"NO",15},{"OM",23},{"PK",24},
	{"PL",28},{"PS",29},{"PT",25},{"QA",29},{"RO",24},{"RS",22},{"RU",33},{"SA",24},
	{"SC",31},{"SD",18},{"SE",24},{"SI",19},{"SK",24},{"SM",27},{"SO",23},{"ST",25},
	{"SV",28},{"TL",23},{"TN",24},{"TR",26},{"UA",29},{"VA",22},{"VG",24},{"XK",20},
	{"YE",30},{"AO",25},{"BF",28},{"BJ",28},{"CF",27},{"CG",27},{"CI",28},{"CM",27},
	{"CV",25},{"DZ",26},{"GA",27},{"GQ",27},{"GW",25},{"IR",26},{"KM",27},{"MA",28},
	{"MG",27},{"ML",28},{"MZ",25},{"NE",28},{"SN",28},{"TD",27},{"TG",28},
	/* territories that use their parent country's format */
	{"AX",18},{"GF",27},{"GP",27},{"MQ",27},{"RE",27},{"YT",27},{"NC",27},{"PF",27},
	{"PM",27},{"TF",27},{"WF",27},{"BL",27},{"MF",27},
};

static int iban_length(const char *cc)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(iban_lens); i++)
		if (iban_lens[i].cc[0] == cc[0] && iban_lens[i].cc[1] == cc[1])
			return iban_lens[i].len;
	return -1;
}

/* ISO 7064 mod 97-10 over the rearranged IBAN (first four chars moved last). */
static bool iban_mod97(const char *s, size_t n)
{
	unsigned rem = 0;
	for (size_t k = 0; k < n; k++) {
		char c = s[(k + 4) % n];
		unsigned v = c_isdigit((unsigned char)c) ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
		rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
	}
	return rem == 1;
}

/* Alphanumerics of the span, uppercased, up to `want` (or all, max 34). */
static size_t iban_chars(const struct vspan *sp, int want, char *s, size_t *last)
{
	size_t n = 0;
	for (size_t i = sp->start; i < sp->end && n < 34; i++) {
		if (!c_isalnum((unsigned char)sp->text[i]))
			continue;
		s[n++] = (char)c_toupper((unsigned char)sp->text[i]);
		*last = i;
		if (n == (size_t)want)
			break;
	}
	return n;
}

/* Country length from the registry; for a country not in it, the whole
 * run (15..34 characters) must pass mod-97 on its own. The match ends
 * after the IBAN's last character, which must end a group. */
static bool validate_iban(struct vspan *sp, struct rvalue *val)
{
	char s[40];
	size_t last = sp->start;
	char cc[2] = { (char)c_toupper((unsigned char)sp->text[sp->start]),
	               (char)c_toupper((unsigned char)sp->text[sp->start + 1]) };
	int want = iban_length(cc);
	size_t n = iban_chars(sp, want, s, &last);
	if (want < 0 ? n < 15 : n != (size_t)want)
		return false;
	if (last + 1 < sp->end && c_isalnum((unsigned char)sp->text[last + 1]))
		return false;
	if (!iban_mod97(s, n))
		return false;
	sp->end = last + 1;
	memcpy(val->s, s, n);
	val->len = n;
	val->s[n] = '\0';
	return true;
}

/* ---- context helpers ------------------------------------------------ */

/* The word just before `at` (skipping spaces and ':'), lowercased. */
static size_t previous_word(const struct vspan *sp, size_t at, char *w, size_t wcap)
{
	size_t i = at;
	while (i > 0 && (sp->text[i - 1] == ' ' || sp->text[i - 1] == ':' || sp->text[i - 1] == '#'))
		i--;
	size_t e = i;
	while (i > 0 && e - i < wcap - 1 && (c_isalnum((unsigned char)sp->text[i - 1]) || sp->text[i - 1] == '-'))
		i--;
	size_t n = e - i;
	for (size_t k = 0; k < n; k++)
		w[k] = (char)c_tolower((unsigned char)sp->text[i + k]);
	w[n] = '\0';
	return n;
}

static bool word_in(const char *w, const char *const *list)
{
	for (; *list; list++)
		if ((*list)[0] == w[0] && strcmp(w, *list) == 0)
			return true;
	return false;
}

static bool after_version_word(const struct vspan *sp)
{
	static const char *const words[] = {
		"v", "ver", "version", "build", "release", "rev", "revision", "isbn", "isbn-10",
		"isbn-13", "firmware", "kernel", "python", "node", "ios", "android", "chrome", NULL
	};
	char w[24];
	return previous_word(sp, sp->start, w, sizeof w) && word_in(w, words);
}

/* With their lengths (sizeof of the literal), so no strlen per look. */
#define CUR(s) { s, sizeof s - 1 }
static const struct { const char *s; size_t len; } currencies[] = {
	CUR("$"), CUR("\xc2\xa3"), CUR("\xe2\x82\xac"), CUR("\xc2\xa5"), CUR("\xe2\x82\xb9"), CUR("eur"),
	CUR("usd"), CUR("gbp"), CUR("chf"), CUR("inr"), CUR("aud"), CUR("cad"), CUR("brl"), CUR("r$"),
	CUR("rs"), CUR("kr"), CUR("euro"), CUR("dollar"), CUR("pound"),
};
#undef CUR

/* Could byte c start or end a currency sign or code? (UTF-8 signs: any
 * byte >= 0x80.) */
static bool currency_byte(unsigned char c)
{
	return c == '$' || c >= 0x80 || (c && strchr("eugcianbrkdpsflonEUGCIANBRKDPSFLON", c));
}

/* strncasecmp(a, b, k) == 0 in the C locale (ASCII letters fold, every
 * other byte compares as itself), without a call per currency. */
static bool ascii_caseeq(const char *a, const char *b, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		unsigned x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x - 'A' < 26u)
			x |= 0x20;
		if (y - 'A' < 26u)
			y |= 0x20;
		if (x != y)
			return false;
	}
	return true;
}

/* A currency sign or code starting at p (after the number). */
static bool currency_starts(const char *p, size_t avail)
{
	if (!avail || !currency_byte((unsigned char)*p))
		return false;
	for (size_t i = 0; i < RD_ARRAY_LEN(currencies); i++) {
		size_t k = currencies[i].len;
		if (k <= avail && ascii_caseeq(p, currencies[i].s, 1) && ascii_caseeq(p, currencies[i].s, k))
			return true;
	}
	return false;
}

/* A currency sign or code ending exactly at text[at] (before the number). */
static bool currency_ends(const char *text, size_t at)
{
	if (!at || !currency_byte((unsigned char)text[at - 1]))
		return false;
	for (size_t i = 0; i < RD_ARRAY_LEN(currencies); i++) {
		size_t k = currencies[i].len;
		if (k <= at && ascii_caseeq(text + at - 1, currencies[i].s + k - 1, 1) &&   /* the last byte first */
		    ascii_caseeq(text + at - k, currencies[i].s, k) &&
		    (k == at || !c_isalpha((unsigned char)text[at - k - 1])))
			return true;
	}
	return false;
}

/* A currency sign or code touching the number (one space allowed). */
static bool near_currency(const struct vspan *sp)
{
	size_t e = sp->end, s = sp->start;
	if (e < sp->len && sp->text[e] == ' ')
		e++;
	if (e < sp->len && currency_starts(sp->text + e, sp->len - e))
		return true;
	if (s > 0 && sp->text[s - 1] == ' ')
		s--;
	return currency_ends(sp->text, s);
}

/* ---- phones --------------------------------------------------------- */

struct groups {
	int n;
	unsigned len[16];
	unsigned long val[16];
	char sep[16];             /* separator before group i ('\0' for none) */
	char d[40];               /* digits, without "+"/"00", "(0)", extension */
	size_t nd;
	bool intl, bracket;
};

static bool add_digit(struct groups *g, char c, bool new_group, char sep)
{
	if (g->nd + 1 >= sizeof g->d)
		return false;
	if (new_group) {
		if (g->n == (int)RD_ARRAY_LEN(g->len))
			return false;
		g->sep[g->n] = sep;
		g->len[g->n] = 0;
		g->val[g->n] = 0;
		g->n++;
	}
	g->d[g->nd++] = c;
	g->len[g->n - 1]++;
	g->val[g->n - 1] = g->val[g->n - 1] * 10 + (unsigned long)(c - '0');
	return true;
}

static bool split_groups(const char *s, size_t n, struct groups *g)
{
	memset(g, 0, sizeof *g);
	n = extension_at(s, n);
	char sep = 0;
	bool in_digits = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+' && g->nd == 0) { g->intl = true; continue; }
		if (c == '(' && g->intl && i + 2 < n && s[i + 1] == '0' && s[i + 2] == ')') { i += 2; in_digits = false; continue; }
		if (c_isdigit((unsigned char)c)) {
			if (!add_digit(g, c, !in_digits, sep))
				return false;
			in_digits = true;
			sep = 0;
			continue;
		}
		if (c == '(' || c == ')') g->bracket = true;
		else if (c != ' ' || !sep) sep = c;
		in_digits = false;
	}
	while (g->n > 0 && g->len[g->n - 1] == 0) g->n--;
	if (!g->intl && g->nd > 2 && g->d[0] == '0' && g->d[1] == '0') {
		g->intl = true;
		memmove(g->d, g->d + 2, g->nd - 2);
		g->nd -= 2;
	}
	g->d[g->nd] = '\0';
	return true;
}

static bool is_year(unsigned long v, unsigned len) { return len == 4 && v >= 1900 && v <= 2099; }

static bool looks_like_date(const struct groups *g)
{
	if (g->n < 3)
		return false;
	unsigned long a = g->val[0], b = g->val[1], c = g->val[2];
	bool day_month = g->len[0] <= 2 && g->len[1] <= 2 && a >= 1 && a <= 31 && b >= 1 && b <= 31 &&
	                 (a <= 12 || b <= 12);
	if (day_month && (is_year(c, g->len[2]) || (g->len[2] == 2 && g->n == 3 && g->sep[1] == g->sep[2])))
		return true;
	return is_year(a, g->len[0]) && g->len[1] <= 2 && b >= 1 && b <= 12 && g->len[2] <= 2 &&
	       c >= 1 && c <= 31;
}

static bool looks_like_thousands(const struct groups *g, const struct vspan *sp)
{
	if (g->n < 2 || g->len[0] > 3 || g->d[0] == '0' || g->bracket)
		return false;
	for (int i = 1; i < g->n; i++)
		if (g->len[i] != 3 || g->sep[i] != g->sep[1])
			return false;
	if (g->sep[1] == '.' || g->sep[1] == ',')
		return true;
	return g->sep[1] == ' ' && (g->nd <= 8 || near_currency(sp));
}

static bool all_seps(const struct groups *g, char sep)
{
	for (int i = 1; i < g->n; i++)
		if (g->sep[i] != sep)
			return false;
	return true;
}

/* Shapes of numbers that are not phone numbers, for national forms. */
static bool not_a_phone_shape(const struct groups *g, struct vspan *sp)
{
	unsigned maxlen = 0, minlen = 99;
	for (int i = 0; i < g->n; i++) {
		if (g->len[i] > maxlen) maxlen = g->len[i];
		if (g->len[i] < minlen) minlen = g->len[i];
	}
	/* "92 418 305" after "phone" is a Norwegian number, not 92 million */
	if (looks_like_date(g) || (looks_like_thousands(g, sp) && (!vspan_context(sp) || near_currency(sp))))
		return true;
	if (maxlen <= 2 && g->nd < 9 && !vspan_context(sp))        /* times, scores */
		return true;
	if (g->n == 2 && is_year(g->val[0], g->len[0]) && is_year(g->val[1], g->len[1]))
		return true;                                            /* year range */
	if (g->n == 2 && g->len[0] == 5 && g->len[1] == 4 && g->sep[1] == '-')
		return true;                                            /* ZIP+4 */
	if (g->n == 3 && g->len[0] == 3 && g->len[1] == 2 && g->len[2] == 4 && g->sep[1] == '-' &&
	    g->sep[2] == '-' && !vspan_context(sp))
		return true;                                            /* an SSN's shape (3-2-4) */
	if (g->n == 2 && g->sep[1] == '.' && !(g->d[0] == '0' && g->nd >= 9))
		return true;                                            /* decimal */
	if (g->n == 4 && g->sep[1] == '.' && g->sep[2] == '.' && g->sep[3] == '.' && maxlen <= 3 &&
	    g->val[0] <= 255 && g->val[1] <= 255 && g->val[2] <= 255 && g->val[3] <= 255)
		return true;                                            /* IPv4 ("532.123.45.67" is not) */
	if (g->n >= 3 && all_seps(g, '.') && minlen == 1)
		return true;                                            /* version, build */
	if (g->nd == 13 && (strncmp(g->d, "978", 3) == 0 || strncmp(g->d, "979", 3) == 0))
		return true;                                            /* ISBN-13 */
	if (g->nd == 10 && g->n == 4 && g->len[3] == 1)
		return true;                                            /* ISBN-10 */
	return false;
}

static bool nanp(const char *d) { return d[0] >= '2' && d[3] >= '2'; }

/* Digit counts of national numbers without a country code. After a word
 * like "call" or "phone", the 6-8 digit plans of smaller countries count. */
static bool national_length_ok(const struct groups *g, bool context)
{
	const char *d = g->d;
	size_t n = g->nd;
	bool grouped = g->n >= 2 || g->bracket;
	if (context && n >= 6 && n <= 12)
		return true;
	if (d[0] == '0')
		return n >= (grouped ? 7u : 9u) && n <= 12;
	if (grouped)
		return n >= 7 && n <= 11;
	if (n == 10)                          /* US/CA, IT and IN mobiles */
		return nanp(d) || d[0] == '3' || (d[0] >= '6' && d[0] <= '9');
	if (n == 9)                           /* ES */
		return d[0] >= '6' && d[0] <= '9';
	if (n == 11)                          /* 1 + NANP, BR mobile */
		return (d[0] == '1' && nanp(d + 1)) || d[2] == '9';
	return false;
}

struct cc_len { const char *cc; unsigned char min, max; };

/* Total digits (country code included) for the plans named in the issue;
 * every other country gets E.164's 8..15. */
static const struct cc_len cc_lens[] = {
	{ "1", 11, 11 }, { "44", 9, 12 }, { "39", 8, 13 }, { "33", 11, 11 }, { "49", 8, 15 },
	{ "34", 11, 11 }, { "353", 10, 14 }, { "91", 12, 12 }, { "61", 8, 12 }, { "55", 10, 13 },
};

static bool intl_length_ok(const struct groups *g)
{
	if (g->nd < 8 || g->nd > 15 || g->d[0] == '0')
		return false;
	for (size_t i = 0; i < RD_ARRAY_LEN(cc_lens); i++) {
		size_t k = strlen(cc_lens[i].cc);
		if (strncmp(g->d, cc_lens[i].cc, k) == 0)
			return g->nd >= cc_lens[i].min && g->nd <= cc_lens[i].max;
	}
	return true;
}

static bool validate_phone_once(struct vspan *sp, struct rvalue *val)
{
	struct groups g;
	const char *s = sp->text + sp->start;
	size_t n = sp->end - sp->start;
	if (!split_groups(s, n, &g) || g.nd == 0)
		return false;
	if (g.intl ? !intl_length_ok(&g)
	           : !national_length_ok(&g, false) && !(national_length_ok(&g, true) && vspan_context(sp)))
		return false;
	if (!g.intl && not_a_phone_shape(&g, sp))
		return false;
	if (near_currency(sp) || after_version_word(sp))
		return false;
	return redact_norm_phone(s, n, val) == 0;
}

/* A list separator inside a phone-like run: " - " or "/" between digits
 * ("0123 456789 / 0987 654321", "020 7946 0000 - 07700 900123"). */
static bool list_sep_at(const char *t, size_t i, size_t end)
{
	if (t[i] == '/')
		return i > 0 && c_isdigit((unsigned char)t[i - 1]) && i + 1 < end;
	return t[i] == '-' && i > 0 && t[i - 1] == ' ' && i + 1 < end && t[i + 1] == ' ';
}

/* A phone label right after the number counts as context: "… 8211-Office",
 * "28-64-66-98 office", "930.167.3943 (fax)", "…/mobile". */
static bool label_after(const struct vspan *sp)
{
	static const char *const labels[] = {
		"office", "mobile", "mob", "cell", "fax", "tel", "phone", "landline", "whatsapp",
		"switchboard", NULL
	};
	/* words that also follow ordinary numbers ("12 34 56 78 home team"):
	 * only glued or bracketed, "…-home", "(work)", "/home" */
	static const char *const glued_labels[] = { "home", "work", "direct", "private", NULL };
	size_t i = sp->end, k = 0;
	bool glued = false;
	while (i < sp->len && k < 3 && sp->text[i] != '\0' && strchr(" -(/,", sp->text[i])) {
		glued |= sp->text[i] != ' ';
		i++;
		k++;
	}
	char w[16];
	size_t n = 0;
	while (i < sp->len && n < sizeof w - 1 && c_isalpha((unsigned char)sp->text[i]))
		w[n++] = (char)c_tolower((unsigned char)sp->text[i++]);
	w[n] = '\0';
	if (!n || (i < sp->len && c_isalnum((unsigned char)sp->text[i])))
		return false;
	return word_in(w, labels) || (glued && word_in(w, glued_labels));
}

/* The whole run, or else its longest part before a list separator that is
 * a phone on its own: the second number of the list is found next, from
 * where this one ends. */
static bool validate_phone(struct vspan *sp, struct rvalue *val)
{
	/* No reading of fewer than 6 digits is a phone (national_length_ok,
	 * intl_length_ok): "3", "12", "2026" and the parts of a date or a
	 * price before each '/' or " - " are not split and measured. */
	unsigned digits = 0;
	for (size_t i = sp->start; i < sp->end; i++)
		digits += (unsigned)(sp->text[i] - '0') <= 9;
	if (digits < 6)
		return false;
	if (sp->ctx <= 0 && sp->end < sp->len && label_after(sp))
		sp->ctx = 1;
	if (validate_phone_once(sp, val))
		return true;
	size_t end = sp->end;
	for (size_t i = end; i-- > sp->start + 1;) {
		digits -= (unsigned)(sp->text[i] - '0') <= 9;   /* digits of [start, i) */
		if (digits < 6)
			break;
		if (!list_sep_at(sp->text, i, end))
			continue;
		sp->end = i;
		while (sp->end > sp->start && sp->text[sp->end - 1] == ' ')
			sp->end--;
		if (validate_phone_once(sp, val))
			return true;
	}
	sp->end = end;
	return false;
}

/* ---- IP addresses --------------------------------------------------- */

static bool validate_ipv4(struct vspan *sp, struct rvalue *val)
{
	unsigned octet = 0, digits = 0;
	for (size_t i = sp->start; i <= sp->end; i++) {
		char c = i < sp->end ? sp->text[i] : '.';
		if (c == '.') {
			if (digits == 0 || octet > 255)
				return false;
			octet = digits = 0;
		} else {
			octet = octet * 10 + (unsigned)(c - '0');
			digits++;
		}
	}
	if (after_version_word(sp))
		return false;
	size_t n = sp->end - sp->start;
	memcpy(val->s, sp->text + sp->start, n);
	val->len = n;
	val->s[n] = '\0';
	return true;
}

static bool validate_ipv6(struct vspan *sp, struct rvalue *val)
{
	size_t n = sp->end - sp->start;
	unsigned char addr[16];
	if (n < 3 || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++)
		val->s[i] = (char)c_tolower((unsigned char)sp->text[sp->start + i]);
	val->s[n] = '\0';
	val->len = n;
	if (strspn(val->s, ":") == n || inet_pton(AF_INET6, val->s, addr) != 1)
		return false;
	return !after_version_word(sp);
}

/* ---- spoken --------------------------------------------------------- */

static bool validate_spoken_phone(struct vspan *sp, struct rvalue *val)
{
	bool plus;
	int nd = redact_spoken_digits(sp->text + sp->start, sp->end - sp->start, val, &plus);
	if (nd < 7 || nd > 15 || (nd < 10 && !plus && !vspan_context(sp)))
		return false;
	val->intl = plus;
	if (!plus && val->len > 2 && val->s[0] == '0' && val->s[1] == '0') {
		memmove(val->s, val->s + 2, val->len - 1);
		val->len -= 2;
		val->intl = true;
	}
	return true;
}

static bool validate_spoken_card(struct vspan *sp, struct rvalue *val)
{
	bool plus;
	int nd = redact_spoken_digits(sp->text + sp->start, sp->end - sp->start, val, &plus);
	if (plus || nd < 12 || nd > 19)
		return false;
	return card_brand_ok(val->s, val->len) || vspan_context(sp);
}

/* ---- dispatch ------------------------------------------------------- */

/* Value of a match whose validator does not produce one: by entity. */
static bool default_value(const char *entity, const struct vspan *sp, struct rvalue *val)
{
	const char *s = sp->text + sp->start;
	size_t n = sp->end - sp->start;
	if (strcmp(entity, "EMAIL") == 0 && redact_norm_email(s, n, val) == 0)
		return true;
	if (strcmp(entity, "PHONE") == 0 && redact_norm_phone(s, n, val) == 0)
		return true;
	val->len = 0;
	for (size_t i = 0; i < n && val->len + 1 < sizeof val->s; i++)
		if (!c_isspace((unsigned char)s[i]))
			val->s[val->len++] = s[i];
	val->s[val->len] = '\0';
	return true;
}

bool redact_validate(enum validator v, const char *entity, struct vspan *sp, struct rvalue *val)
{
	switch (v) {
	case VAL_LUHN: return validate_card(sp, false, val);
	case VAL_CARD: return validate_card(sp, true, val);
	case VAL_IBAN: return validate_iban(sp, val);
	case VAL_PHONE: return validate_phone(sp, val);
	case VAL_IPV4: return validate_ipv4(sp, val);
	case VAL_IPV6: return validate_ipv6(sp, val);
	case VAL_SPOKEN_PHONE: return validate_spoken_phone(sp, val);
	case VAL_SPOKEN_CARD: return validate_spoken_card(sp, val);
	case VAL_SPOKEN_EMAIL: return redact_spoken_email(sp->text + sp->start, sp->end - sp->start, val) == 0;
	case VAL_CARD_SECURITY: return validate_card_security(sp, val);
	case VAL_NATIONAL_ID: return validate_national_id(sp, val);
	case VAL_PASSPORT: return validate_labelled(sp, true, val);
	case VAL_DATE_OF_BIRTH: return validate_labelled(sp, false, val);
	case VAL_NONE:
	case VAL_COUNT: break;
	}
	return default_value(entity, sp, val);
}
