/*
 * redact.h — the PII redaction pipeline (PCRE2, JIT, UTF mode).
 *
 * A `struct redact` is compiled once from the built-in rules plus the
 * config's [rule] sections, and is then immutable: any number of threads may
 * call redact_run on it at once (scratch space is per thread). SIGHUP builds
 * a new one and swaps it in.
 *
 * Every match runs under PCRE2 match and depth limits; a match that hits
 * them fails alone (logged with the rule name, never the text) and the text
 * it would have covered is left to the other rules.
 */
#ifndef REDACTD_REDACT_H
#define REDACTD_REDACT_H

#include "redactd.h"
#include "config.h"
#include "phone_region.h"

struct redact;

/* One removed span. Offsets are bytes into the *input* text. `entity` and
 * `rule` point into the engine and live as long as it does. */
struct redact_finding {
	const char *entity;
	const char *rule;
	size_t start, end;
};

enum subject_kind { SUBJECT_EMAIL = 'e', SUBJECT_PHONE = 'p' };

#define REDACT_SUBJECT_BYTES 32

/* Keyed hash of a normalised identifier found in the text: this is how a
 * data subject is later found without storing who they are. */
struct redact_subject {
	unsigned char hash[REDACT_SUBJECT_BYTES];
};

/* Output of one run. Zero-initialise, reuse across runs (buffers grow and
 * are kept), release with redact_result_free. `text` is NUL-terminated. */
struct redact_result {
	char *text;
	size_t len, cap;
	struct redact_finding *findings;
	size_t nfindings, findings_cap;
	struct redact_subject *subjects;    /* deduplicated */
	size_t nsubjects, subjects_cap;
	int limit_errors;                   /* matches that hit a PCRE2 limit */
};

/*
 * Build the engine: built-in rules, overridden/disabled/extended by
 * cfg->rules (cfg may be NULL for built-ins only). `hash_key` keys the
 * `hash` style and `subject_key` the subject hashes; both 32 bytes, copied
 * into locked memory. Returns NULL with err set ("FILE:LINE: rule NAME:
 * PCRE2 message at offset N") if a pattern does not compile or a rule is
 * invalid.
 */
struct redact *redact_new(const struct config *cfg, const unsigned char hash_key[32],
                          const unsigned char subject_key[32], char *err, size_t errlen);
void redact_free(struct redact *r);        /* NULL is a no-op; wipes keys */

/*
 * Redact text[0..len) for `tenant` on `channel` into *out (reset first).
 * The input must be valid UTF-8 (it is checked once here; invalid -> -1).
 * Returns 0, or -1 on invalid input or out of memory (out is then reset).
 */
int redact_run(const struct redact *r, const char *tenant, enum rd_channel channel,
               const char *text, size_t len, struct redact_result *out) RD_WARN_UNUSED;

/* The same, reading phone numbers written nationally in `region` (NULL:
 * none): a webhook source's region ([source] region) instead of the
 * tenant's. redact_run reads them in the tenant's ([tenant] region). A
 * national number in a region is hashed as a subject in its E.164 form
 * (phone_region.h), so "07700 900456" and "+44 7700 900456" are one
 * subject; the text's redaction is the same either way. */
int redact_run_in(const struct redact *r, const char *tenant, const struct phone_region *region,
                  enum rd_channel channel, const char *text, size_t len, struct redact_result *out)
	RD_WARN_UNUSED;

/* The tenant's [tenant] region, or NULL. */
const struct phone_region *redact_tenant_region(const struct redact *r, const char *tenant);

void redact_result_free(struct redact_result *res);

/*
 * Subject hash of an identifier given in a query or carried by a webhook
 * (`From`, WhatsApp `from`). Same normalisation as redaction: emails
 * lowercased; phones reduced to their digits, "00" prefix read as "+", so
 * "+44 7700 900123", "0044 7700-900123" and "447700900123" agree. Returns -1
 * if `s` does not look like that kind of identifier.
 */
int redact_subject_hash(const struct redact *r, enum subject_kind kind, const char *s,
                        size_t len, struct redact_subject *out) RD_WARN_UNUSED;
/* The same, a phone written nationally read in `region` (NULL: none). */
int redact_subject_hash_in(const struct redact *r, const struct phone_region *region,
                           enum subject_kind kind, const char *s, size_t len,
                           struct redact_subject *out) RD_WARN_UNUSED;

#define REDACT_SUBJECT_FORMS 8

/*
 * Every subject hash a query for `tenant` may have been stored under, most
 * current first: for a phone, its reading in the tenant's region and in the
 * regions of the sources that send to it, its national forms there (how a
 * number written nationally was hashed before the tenant had a region), and
 * the digits as written. An email has one. Returns how many (at most
 * REDACT_SUBJECT_FORMS), 0 when `s` does not look like that kind of
 * identifier. out[0] is what redaction stores now for the query's number.
 */
size_t redact_subject_lookup(const struct redact *r, const char *tenant, enum subject_kind kind,
                             const char *s, size_t len, struct redact_subject out[REDACT_SUBJECT_FORMS])
	RD_WARN_UNUSED;

/* Entity names the engine can emit, for metrics and stats. */
size_t redact_entities(const struct redact *r, const char *const **names);

#endif
