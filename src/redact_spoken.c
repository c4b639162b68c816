/*
 * redact_spoken.c — spoken forms from speech-to-text on calls.
 *
 * Callers read digits out as words ("oh seven seven double oh nine hundred
 * one two three", with "uh" and "no, eight" in between) and emails as words
 * ("jane dot doe at example dot com", "j o h n at g m a i l dot com").
 * The voice rules' patterns find such runs; these functions turn a run into
 * the written value so that it is hashed, shown in `partial` and linked to
 * its data subject exactly like the written form of the same identifier.
 */
#include "redact_int.h"

#include <ctype.h>
#include <string.h>

struct word { const char *s; size_t n; };

/* Next run of letters, digits or '@' in s[*i..n); false at the end. */
static bool next_word(const char *s, size_t n, size_t *i, struct word *w)
{
	while (*i < n && !isalnum((unsigned char)s[*i]) && s[*i] != '@')
		(*i)++;
	if (*i >= n)
		return false;
	w->s = s + *i;
	if (s[*i] == '@') {
		(*i)++;
	} else {
		while (*i < n && isalnum((unsigned char)s[*i]))
			(*i)++;
	}
	w->n = (size_t)(s + *i - w->s);
	return true;
}

static bool word_is(const struct word *w, const char *lit)
{
	size_t n = strlen(lit);
	return w->n == n && strncasecmp(w->s, lit, n) == 0;
}

static int word_index(const struct word *w, const char *const *list, size_t nlist)
{
	for (size_t i = 0; i < nlist; i++)
		if (word_is(w, list[i]))
			return (int)i;
	return -1;
}

static const char *const units[] = {
	"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
};
static const char *const teens[] = {
	"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
	"seventeen", "eighteen", "nineteen",
};
static const char *const tens[] = {
	"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
};

static int unit_value(const struct word *w)
{
	if (word_is(w, "oh") || word_is(w, "o") || word_is(w, "nought"))
		return 0;
	return word_index(w, units, RD_ARRAY_LEN(units));
}

static bool put(struct rvalue *out, char c, int times)
{
	for (int k = 0; k < times; k++) {
		if (out->len + 1 >= sizeof out->s)
			return false;
		out->s[out->len++] = c;
	}
	out->s[out->len] = '\0';
	return true;
}

/* State of the digit reader: a pending "twenty" waits for its unit. */
struct reader { int mult; int tens; struct rvalue *out; };

static bool flush_tens(struct reader *r)
{
	if (r->tens < 0)
		return true;
	bool ok = put(r->out, (char)('0' + r->tens), 1) && put(r->out, '0', 1);
	r->tens = -1;
	return ok;
}

static bool read_unit(struct reader *r, int d)
{
	bool ok;
	if (r->tens >= 0 && d > 0 && r->mult == 1) {
		ok = put(r->out, (char)('0' + r->tens), 1) && put(r->out, (char)('0' + d), 1);
		r->tens = -1;
	} else {
		ok = flush_tens(r) && put(r->out, (char)('0' + d), r->mult);
	}
	r->mult = 1;
	return ok;
}

static bool read_digits(struct reader *r, const struct word *w)
{
	if (!flush_tens(r))
		return false;
	for (size_t k = 0; k < w->n; k++)
		if (!put(r->out, w->s[k], k + 1 == w->n ? r->mult : 1))
			return false;
	r->mult = 1;
	return true;
}

static bool read_word(struct reader *r, const struct word *w)
{
	int v;
	if (isdigit((unsigned char)w->s[0]))
		return read_digits(r, w);
	if (word_is(w, "double") || word_is(w, "triple")) {
		r->mult = word_is(w, "double") ? 2 : 3;
		return true;
	}
	if ((v = unit_value(w)) >= 0)
		return read_unit(r, v);
	if ((v = word_index(w, teens, RD_ARRAY_LEN(teens))) >= 0)
		return flush_tens(r) && put(r->out, '1', 1) && put(r->out, (char)('0' + v), 1);
	if ((v = word_index(w, tens, RD_ARRAY_LEN(tens))) >= 2) {
		bool ok = flush_tens(r);
		r->tens = v;
		return ok;
	}
	/* "nine hundred" is 900 in a read-out number; a bare "hundred" is 100 */
	if (word_is(w, "hundred"))
		return flush_tens(r) && (r->out->len ? true : put(r->out, '1', 1)) && put(r->out, '0', 2);
	if (word_is(w, "thousand"))
		return flush_tens(r) && (r->out->len ? true : put(r->out, '1', 1)) && put(r->out, '0', 3);
	return false;
}

/* Words a caller puts between digits: fillers are skipped; a correction
 * ("seven seven, no, eight", "sorry", "I mean") takes back the digit said
 * just before it. */
static const char *const fillers[] = { "uh", "um", "umm", "er", "erm", "ah", "hmm", "i" };
static const char *const corrections[] = { "no", "sorry", "mean" };

bool redact_filler_token(const char *w, size_t n)
{
	struct word x = { w, n };
	return word_index(&x, fillers, RD_ARRAY_LEN(fillers)) >= 0 ||
	       word_index(&x, corrections, RD_ARRAY_LEN(corrections)) >= 0;
}

static void take_back(struct reader *r)
{
	if (r->tens >= 0)
		r->tens = -1;
	else if (r->out->len > 0)
		r->out->s[--r->out->len] = '\0';
	r->mult = 1;
}

int redact_spoken_digits(const char *s, size_t n, struct rvalue *out, bool *plus)
{
	struct reader r = { .mult = 1, .tens = -1, .out = out };
	struct word w;
	size_t i = 0;
	out->len = 0;
	out->s[0] = '\0';
	*plus = false;
	while (next_word(s, n, &i, &w)) {
		if (out->len == 0 && r.tens < 0 && word_is(&w, "plus")) {
			*plus = true;
			continue;
		}
		if (word_index(&w, fillers, RD_ARRAY_LEN(fillers)) >= 0)
			continue;
		if (word_index(&w, corrections, RD_ARRAY_LEN(corrections)) >= 0) {
			take_back(&r);
			continue;
		}
		if (!read_word(&r, &w))
			return -1;
	}
	if (!flush_tens(&r))
		return -1;
	return (int)out->len;
}

static char connector(const struct word *w)
{
	if (word_is(w, "dot")) return '.';
	if (word_is(w, "underscore")) return '_';
	if (word_is(w, "dash") || word_is(w, "hyphen") || word_is(w, "minus")) return '-';
	if (word_is(w, "plus")) return '+';
	return 0;
}

static bool put_word(struct rvalue *out, const struct word *w)
{
	if (out->len + w->n + 1 >= sizeof out->s)
		return false;
	for (size_t k = 0; k < w->n; k++)
		out->s[out->len++] = (char)tolower((unsigned char)w->s[k]);
	out->s[out->len] = '\0';
	return true;
}

/* Words keep their own dots ("jane.doe at gmail.com"), so the scan takes
 * [A-Za-z0-9._+-] runs as words and the spoken connectors between them. */
static bool next_token(const char *s, size_t n, size_t *i, struct word *w)
{
	while (*i < n && isspace((unsigned char)s[*i]))
		(*i)++;
	if (*i >= n)
		return false;
	w->s = s + *i;
	while (*i < n && !isspace((unsigned char)s[*i]))
		(*i)++;
	w->n = (size_t)(s + *i - w->s);
	return true;
}

int redact_spoken_email(const char *s, size_t n, struct rvalue *out)
{
	struct rvalue tmp = { .len = 0 };
	struct word w;
	size_t i = 0;
	bool at = false, after_at = false;
	while (next_token(s, n, &i, &w)) {
		char c = connector(&w);
		/* "at the rate (of)", Indian English for '@' */
		if (after_at && (word_is(&w, "the") || word_is(&w, "rate") || word_is(&w, "of")))
			continue;
		after_at = false;
		if (!at && (word_is(&w, "at") || word_is(&w, "@")) && tmp.len > 0) {
			c = '@';
			at = after_at = true;
		}
		if (c ? !put(&tmp, c, 1) : !put_word(&tmp, &w))
			return -1;
	}
	if (!at)
		return -1;
	return redact_norm_email(tmp.s, tmp.len, out);
}

/* Every word that can be part of a read-out number, by first letter, so a
 * word of prose costs one table look-up and at most a few compares. */
static const char *const number_words[26][8] = {
	['d' - 'a'] = { "double" },
	['e' - 'a'] = { "eight", "eleven", "eighteen", "eighty" },
	['f' - 'a'] = { "four", "five", "fourteen", "fifteen", "forty", "fifty" },
	['h' - 'a'] = { "hundred" },
	['n' - 'a'] = { "nine", "nought", "nineteen", "ninety" },
	['o' - 'a'] = { "o", "oh", "one" },
	['p' - 'a'] = { "plus" },
	['s' - 'a'] = { "six", "seven", "sixteen", "seventeen", "sixty", "seventy" },
	['t' - 'a'] = { "two", "three", "ten", "twelve", "thirteen", "twenty", "thirty",
	                "thousand" },
	['z' - 'a'] = { "zero" },
};

bool redact_number_token(const char *w, size_t n)
{
	if (n == 0 || n > 9)
		return false;
	if (isdigit((unsigned char)w[0]))
		return n <= 4;
	unsigned c = ((unsigned char)w[0] | 0x20u) - 'a';
	if (c >= 26)
		return false;
	if (c == 't' - 'a' && n == 6 && strncasecmp(w, "triple", 6) == 0)
		return true;   /* the ninth 't' word */
	const char *const *list = number_words[c];
	for (size_t i = 0; i < 8 && list[i]; i++) {
		size_t k = 1;   /* first letter already matched */
		while (k < n && list[i][k] && (char)((unsigned char)w[k] | 0x20u) == list[i][k])
			k++;
		if (k == n && list[i][k] == '\0')
			return true;
	}
	return false;
}
