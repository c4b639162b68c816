/*
 * phone_region.c — national phone numbers to their international digits.
 *
 * Workload: one call per phone number redaction finds in a tenant that has
 * a region, and a few per subject lookup; a binary search over 245 rows
 * and a few string compares. No state, no allocation.
 *
 * WHY lengths decide: digits written without '+' or "00" may still be an
 * international number written bare ("447700900456"). A prefix is stripped
 * and a calling code added only when the rest has a length the region's
 * numbers have; anything else is left as written, which is what the
 * subject hash was before regions existed. Checked against libphonenumber's
 * example numbers (tests/unit/test_phone_region.c): each region's national
 * form reads as its E.164 form, but for the few that need a capture-group
 * rewrite (national_prefix_transform_rule), which this does not reproduce.
 */
#include "phone_region.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define PHONE_REGION_PREFIXES 8

struct phone_region {
	char code[3];
	const char *calling_code;
	const char *national_prefix;                     /* "" when the region has none */
	const char *prefixes[PHONE_REGION_PREFIXES];      /* stripped when reading; longest first */
	uint32_t lengths;                                 /* bit n: n-digit national numbers exist */
};

#include "phone_region_table.h"

static int cmp_code(const void *key, const void *row)
{
	return strcmp(key, ((const struct phone_region *)row)->code);
}

const struct phone_region *phone_region_find(const char *code)
{
	char up[3];
	if (!code || strlen(code) != 2 || !isalpha((unsigned char)code[0]) || !isalpha((unsigned char)code[1]))
		return NULL;
	up[0] = (char)toupper((unsigned char)code[0]);
	up[1] = (char)toupper((unsigned char)code[1]);
	up[2] = '\0';
	return bsearch(up, phone_regions, PHONE_REGION_COUNT, sizeof phone_regions[0], cmp_code);
}

const char *phone_region_code(const struct phone_region *r)
{
	return r->code;
}

static bool possible(const struct phone_region *r, size_t n)
{
	return n > 0 && n < 32 && (r->lengths >> n & 1u);
}

/* cc followed by nsn[0..n) into out; -1 if it does not fit. */
static int join(const char *cc, const char *nsn, size_t n, char out[PHONE_DIGITS_MAX + 1])
{
	size_t c = strlen(cc);
	if (c + n > PHONE_DIGITS_MAX)
		return -1;
	memcpy(out, cc, c);
	memcpy(out + c, nsn, n);
	out[c + n] = '\0';
	return 0;
}

int phone_region_international(const struct phone_region *r, const char *digits, size_t n,
                               char out[PHONE_DIGITS_MAX + 1])
{
	for (size_t i = 0; i < PHONE_REGION_PREFIXES && r->prefixes[i]; i++) {
		size_t p = strlen(r->prefixes[i]);
		if (n > p && memcmp(digits, r->prefixes[i], p) == 0 && possible(r, n - p))
			return join(r->calling_code, digits + p, n - p, out);
	}
	return possible(r, n) ? join(r->calling_code, digits, n, out) : -1;
}

size_t phone_region_national_forms(const struct phone_region *r, const char *intl, size_t n,
                                   char out[][PHONE_DIGITS_MAX + 1], size_t max)
{
	size_t c = strlen(r->calling_code), k = 0;
	if (n <= c || memcmp(intl, r->calling_code, c) != 0 || !possible(r, n - c))
		return 0;
	if (k < max && join("", intl + c, n - c, out[k]) == 0)
		k++;
	if (k < max && *r->national_prefix && join(r->national_prefix, intl + c, n - c, out[k]) == 0)
		k++;
	return k;
}
