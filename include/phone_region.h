/*
 * phone_region.h — reading a national phone number as its international form.
 *
 * "07700 900456" written in the United Kingdom and "+44 7700 900456" are one
 * number. Given a region (ISO 3166 alpha-2, as [tenant] and [source] name
 * it), a number written without an international prefix is read the way
 * libphonenumber reads it: a national (trunk) prefix of the region is
 * stripped when what follows has a possible length there, and the country
 * calling code is put in front, giving the digits of its E.164 form
 * ("447700900456"). The data (calling code, national prefixes, possible
 * lengths of every region) is libphonenumber's, generated into
 * src/phone_region_table.h by tools/phone_regions.py.
 *
 * Digit strings here are ASCII digits only (no '+'), at most
 * PHONE_DIGITS_MAX of them; every output buffer is the caller's.
 */
#ifndef REDACTD_PHONE_REGION_H
#define REDACTD_PHONE_REGION_H

#include "redactd.h"

#define PHONE_DIGITS_MAX 23   /* a calling code (3) and a national number with its prefix */

struct phone_region;   /* an entry of the static table: never freed */

/* The region with this ISO 3166 alpha-2 code (any case), or NULL. */
const struct phone_region *phone_region_find(const char *code);

/* Its code, upper case ("GB"); static. */
const char *phone_region_code(const struct phone_region *r);

/*
 * digits[0..n), a number written without an international prefix, as
 * the digits of its E.164 form in out (NUL-terminated): 0, or -1 when it
 * has no possible length in the region (then it is not a national number
 * there and out is untouched).
 */
int phone_region_international(const struct phone_region *r, const char *digits, size_t n,
                               char out[PHONE_DIGITS_MAX + 1]) RD_WARN_UNUSED;

/*
 * The national forms of an international number of r's calling code, as
 * they would be written in r: the national significant number, and with
 * the national prefix in front ("7700900456", "07700900456"). Writes up to
 * `max` of them to out and returns how many (0 when the number is not of
 * r's calling code).
 */
size_t phone_region_national_forms(const struct phone_region *r, const char *intl, size_t n,
                                   char out[][PHONE_DIGITS_MAX + 1], size_t max);

#endif
