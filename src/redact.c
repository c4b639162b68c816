/*
 * redact.c — the redaction engine: building the rule set.
 *
 * (Matching, styles and subjects are in redact_run.c; the DESIGN below
 * covers both.)
 *
 * DESIGN
 * Build (redact_new): the built-in rules (redact_rules.c) are copied, then
 * every global [rule] section overrides a rule of the same name field by
 * field (only the keys it set) or adds a new rule; every tenant that has
 * tenant-scoped sections gets its own copy of that global set with its
 * sections applied the same way. Each distinct pattern is compiled once
 * (UTF, JIT) and shared by the rules that use it. The engine is immutable
 * afterwards and shared by all worker threads.
 *
 * Run (redact_run), in as few passes as possible:
 *   1. one pass validates UTF-8 and notices the few characters that must be
 *      normalised (full-width digits and signs, no-break and thin spaces,
 *      Unicode dashes); only then is a normalised copy made, with a map
 *      back to input offsets, so patterns and validators see plain ASCII;
 *   2. one pass finds the digit clusters; memchr finds each '@';
 *   3. each rule runs only where it can match: email rules near an '@',
 *      digit rules in the digit windows (PCRE2's offset limit bounds where
 *      a match may start, while the match itself still sees the whole text
 *      for its look-arounds), other rules over the whole text. Matches go
 *      through the rule's context words and validator into a candidate
 *      list;
 *   4. overlaps are resolved: higher priority wins, then the longer match;
 *   5. the output is written in one pass with each span's style, and the
 *      subjects (keyed hashes of emails and phones) are collected.
 * Match data, JIT stack, candidate lists and the normalised copy live in a
 * per-thread scratch area (pthread key, freed at thread exit), so runs on
 * different threads never share mutable state.
 *
 * Every PCRE2 call runs under match, depth and heap limits and a bounded JIT
 * stack; a call that hits one is logged (rule name and PCRE2 error code,
 * never text) and abandons that rule for the rest of the window, so a
 * catastrophic pattern costs one bounded attempt, not a stalled worker.
 */
#include "redact_int.h"
#include "util.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* rule sets                                                               */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void rule_clear(struct rule *r)
{
	free(r->name);
	free(r->entity);
	free(r->pattern);
	for (size_t i = 0; i < r->ncontext; i++)
		free(r->context[i]);
	free(r->context);
	free(r->ctx_len);
	free(r->ctx_first);
	free(r->ctx_class);
	for (size_t i = 0; i < r->nallow; i++)
		free(r->allow[i]);
	free(r->allow);
	memset(r, 0, sizeof *r);
}

/* The allowlist, lowercased: words the rule leaves alone (product and
 * agent names, brand words). */
static int set_allow(struct rule *r, const char *const *words, size_t n)
{
	for (size_t i = 0; i < r->nallow; i++)
		free(r->allow[i]);
	free(r->allow);
	r->allow = NULL;
	r->nallow = 0;
	if (n == 0)
		return 0;
	if (!(r->allow = calloc(n, sizeof *r->allow)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(r->allow[i] = xstrdup(words[i])))
			return -1;
		for (char *p = r->allow[i]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		r->nallow++;
	}
	return 0;
}

/* Words past the 32nd are looked at for every first byte. */
static int index_context(struct rule *r)
{
	free(r->ctx_first);
	free(r->ctx_len);
	free(r->ctx_class);
	r->ctx_first = NULL;
	r->ctx_len = NULL;
	r->ctx_class = NULL;
	if (r->ncontext == 0)
		return 0;
	if (!(r->ctx_len = calloc(r->ncontext, sizeof *r->ctx_len)) ||
	    !(r->ctx_first = calloc(256, sizeof *r->ctx_first)) || !(r->ctx_class = calloc(256, 1)))
		return -1;
	for (size_t i = 0; i < r->ncontext; i++) {
		unsigned char c = (unsigned char)r->context[i][0];
		uint32_t bit = i < 32 ? 1u << i : 0xFFFFFFFFu;
		r->ctx_len[i] = strlen(r->context[i]);
		r->ctx_first[tolower(c)] |= bit;
		r->ctx_first[toupper(c)] |= bit;
	}
	for (int c = 0; c < 256; c++)   /* a digit ends the look back before anything else */
		r->ctx_class[c] = c >= '0' && c <= '9' ? CTX_STOP : r->ctx_first[c] ? CTX_WORD : 0;
	return 0;
}

static int set_context(struct rule *r, const char *const *words, size_t n)
{
	for (size_t i = 0; i < r->ncontext; i++)
		free(r->context[i]);
	free(r->context);
	r->context = NULL;
	r->ncontext = 0;
	if (n == 0)
		return index_context(r);
	r->context = calloc(n, sizeof *r->context);
	if (!r->context)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(r->context[i] = xstrdup(words[i])))
			return -1;
		for (char *p = r->context[i]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		r->ncontext++;
	}
	return index_context(r);
}

static int rule_copy(struct rule *dst, const struct rule *src)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->entity = xstrdup(src->entity);
	dst->pattern = xstrdup(src->pattern);
	dst->context = NULL;
	dst->ncontext = 0;
	dst->ctx_len = NULL;
	dst->ctx_first = NULL;
	dst->ctx_class = NULL;
	dst->allow = NULL;
	dst->nallow = 0;
	if (!dst->name || !dst->entity || !dst->pattern ||
	    set_context(dst, (const char *const *)src->context, src->ncontext) ||
	    set_allow(dst, (const char *const *)src->allow, src->nallow)) {
		rule_clear(dst);
		return -1;
	}
	return 0;
}

static int rule_from_builtin(struct rule *r, const struct builtin_rule *b)
{
	memset(r, 0, sizeof *r);
	size_t nctx = 0;
	while (b->context && b->context[nctx])
		nctx++;
	r->name = xstrdup(b->name);
	r->entity = xstrdup(b->entity);
	r->pattern = xstrdup(b->pattern);
	r->validator = b->validator;
	r->style = STYLE_TAG;
	r->keep = 4;
	r->priority = b->priority;
	r->context_required = b->context_required;
	r->enabled = true;
	r->channels = b->channels;
	r->trigger = b->trigger;
	r->scanner = b->scanner;
	r->prefilter = b->prefilter;
	r->min_digits = b->min_digits;
	r->back = b->back;
	r->value_group = b->value_group;
	r->file = "built-in";
	if (!r->name || !r->entity || !r->pattern || set_context(r, b->context, nctx)) {
		rule_clear(r);
		return -1;
	}
	return 0;
}

static void ruleset_free(struct ruleset *s)
{
	for (int c = 0; c < CH_COUNT; c++)
		free(s->active[c]);
	for (size_t i = 0; i < s->nrules; i++)
		rule_clear(&s->rules[i]);
	free(s->rules);
	free(s->tenant);
	memset(s, 0, sizeof *s);
}

static struct rule *ruleset_find(struct ruleset *s, const char *name)
{
	for (size_t i = 0; i < s->nrules; i++)
		if (strcmp(s->rules[i].name, name) == 0)
			return &s->rules[i];
	return NULL;
}

static struct rule *ruleset_add(struct ruleset *s)
{
	struct rule *n = realloc(s->rules, (s->nrules + 1) * sizeof *n);
	if (!n)
		return NULL;
	s->rules = n;
	memset(&n[s->nrules], 0, sizeof n[0]);
	return &n[s->nrules++];
}

static int ruleset_copy(struct ruleset *dst, const struct ruleset *src, const char *tenant)
{
	memset(dst, 0, sizeof *dst);
	if (!(dst->tenant = xstrdup(tenant)))
		return -1;
	for (size_t i = 0; i < src->nrules; i++) {
		struct rule *r = ruleset_add(dst);
		if (!r || rule_copy(r, &src->rules[i])) {
			if (r)
				dst->nrules--;
			return -1;
		}
	}
	return 0;
}

static int builtin_set(struct ruleset *s)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < redact_nbuiltins; i++) {
		struct rule *r = ruleset_add(s);
		if (!r || rule_from_builtin(r, &redact_builtins[i])) {
			if (r)
				s->nrules--;
			return -1;
		}
	}
	return 0;
}

static const char *conf_file(const struct rule_conf *c)
{
	return c->file ? c->file : "config";
}

/* A new rule needs a pattern; its entity defaults to its name in capitals. */
static int rule_init_new(struct rule *r, const struct rule_conf *c, char *err, size_t errlen)
{
	if (!(c->set & RULE_F_PATTERN)) {
		util_err(err, errlen, "%s:%d: rule %s: a new rule needs a pattern", conf_file(c), c->line,
		         c->name);
		return -1;
	}
	r->name = xstrdup(c->name);
	r->entity = xstrdup(c->name);
	r->style = STYLE_TAG;
	r->keep = 4;
	r->priority = 50;
	r->enabled = true;
	r->trigger = TRIG_ALL;
	if (!r->name || !r->entity) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	for (char *p = r->entity; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return 0;
}

static int replace_str(char **dst, const char *src)
{
	char *n = xstrdup(src);
	if (!n)
		return -1;
	free(*dst);
	*dst = n;
	return 0;
}

/* Applies the fields a [rule] section set; the rest stays as it was. */
static int rule_apply(struct rule *r, const struct rule_conf *c, char *err, size_t errlen)
{
	unsigned set = c->set;
	if ((set & RULE_F_PATTERN) && c->pattern) {
		if (replace_str(&r->pattern, c->pattern))
			goto oom;
		r->file = conf_file(c);
		r->line = c->line;
		r->trigger = TRIG_ALL;   /* decided again from the compiled pattern */
		r->prefilter = PF_NONE;
		r->scanner = SCAN_NONE;  /* a pattern replaces a built-in scanner */
		r->value_group = false;  /* a config pattern's groups mean nothing here */
	}
	if ((set & RULE_F_ENTITY) && c->entity && replace_str(&r->entity, c->entity))
		goto oom;
	if (set & RULE_F_VALIDATOR) {
		enum validator v;
		if (!c->validator || redact_validator_parse(c->validator, &v)) {
			util_err(err, errlen, "%s:%d: rule %s: unknown validator %s", conf_file(c), c->line,
			         c->name, c->validator ? c->validator : "(none)");
			return -1;
		}
		r->validator = v;
	}
	if (set & RULE_F_STYLE) { r->style = c->style; r->style_set = true; }
	if (set & RULE_F_KEEP) r->keep = c->keep < 1 ? 1 : c->keep > 8 ? 8 : c->keep;
	if (set & RULE_F_PRIORITY) r->priority = c->priority;
	if ((set & RULE_F_CONTEXT) && set_context(r, (const char *const *)c->context, c->ncontext))
		goto oom;
	if ((set & RULE_F_ALLOW) && set_allow(r, (const char *const *)c->allow, c->nallow))
		goto oom;
	if (set & RULE_F_CONTEXT_REQUIRED) r->context_required = c->context_required;
	if (set & RULE_F_ENABLED) r->enabled = c->enabled;
	if (set & RULE_F_CHANNELS) r->channels = c->channels;
	if (r->context_required && r->ncontext == 0) {
		util_err(err, errlen, "%s:%d: rule %s: context_required without context words",
		         conf_file(c), c->line, c->name);
		return -1;
	}
	return 0;
oom:
	util_err(err, errlen, "out of memory");
	return -1;
}

static int apply_conf(struct ruleset *s, const struct rule_conf *c, char *err, size_t errlen)
{
	struct rule *r = ruleset_find(s, c->name);
	if (!r) {
		if (!(r = ruleset_add(s))) {
			util_err(err, errlen, "out of memory");
			return -1;
		}
		if (rule_init_new(r, c, err, errlen)) {
			rule_clear(r);
			s->nrules--;
			return -1;
		}
	}
	return rule_apply(r, c, err, errlen);
}

static struct ruleset *tenant_set(struct redact *rd, const char *tenant)
{
	for (size_t i = 0; i < rd->ntsets; i++)
		if (strcmp(rd->tsets[i].tenant, tenant) == 0)
			return &rd->tsets[i];
	return NULL;
}

static int build_tenant_sets(struct redact *rd, const struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nrules; i++) {
		const struct rule_conf *c = &cfg->rules[i];
		if (!c->tenant)
			continue;
		struct ruleset *s = tenant_set(rd, c->tenant);
		if (!s) {
			struct ruleset *n = realloc(rd->tsets, (rd->ntsets + 1) * sizeof *n);
			if (!n)
				goto oom;
			rd->tsets = n;
			s = &n[rd->ntsets];
			if (ruleset_copy(s, &rd->global, c->tenant)) {
				ruleset_free(s);
				goto oom;
			}
			rd->ntsets++;
		}
		if (apply_conf(s, c, err, errlen))
			return -1;
	}
	return 0;
oom:
	util_err(err, errlen, "out of memory");
	return -1;
}

static int add_tregion(struct redact *rd, const char *tenant, const char *code, bool source)
{
	const struct phone_region *r = phone_region_find(code);
	if (!r)   /* config_load checked the code; a config built otherwise is a bug */
		return -1;
	struct tregion *n = realloc(rd->tregions, (rd->ntregions + 1) * sizeof *n);
	if (!n)
		return -1;
	rd->tregions = n;
	n[rd->ntregions] = (struct tregion){ .region = r, .source = source };
	if (tenant && !(n[rd->ntregions].tenant = strdup(tenant)))
		return -1;
	rd->ntregions++;
	return 0;
}

/* The regions of [tenant] and [source] sections (phone_region.h). */
static int build_regions(struct redact *rd, const struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; cfg && i < cfg->ntenants; i++)
		if (cfg->tenants[i].region && add_tregion(rd, cfg->tenants[i].name, cfg->tenants[i].region, false))
			goto fail;
	for (size_t i = 0; cfg && i < cfg->nsources; i++)
		if (cfg->sources[i].region && add_tregion(rd, cfg->sources[i].tenant, cfg->sources[i].region, true))
			goto fail;
	return 0;
fail:
	util_err(err, errlen, "out of memory (or an unknown region)");
	return -1;
}

static int build_rules(struct redact *rd, const struct config *cfg, char *err, size_t errlen)
{
	if (builtin_set(&rd->global)) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	if (!cfg)
		return 0;
	for (size_t i = 0; i < cfg->nrules; i++)
		if (!cfg->rules[i].tenant && apply_conf(&rd->global, &cfg->rules[i], err, errlen))
			return -1;
	if (build_tenant_sets(rd, cfg, err, errlen))
		return -1;
	for (size_t i = 0; i < cfg->ntenants; i++) {
		const struct tenant_conf *t = &cfg->tenants[i];
		if (!t->style_set)
			continue;
		struct tstyle *n = realloc(rd->tstyles, (rd->ntstyles + 1) * sizeof *n);
		if (!n || !(n[rd->ntstyles].tenant = xstrdup(t->name))) {
			if (n)
				rd->tstyles = n;
			util_err(err, errlen, "out of memory");
			return -1;
		}
		rd->tstyles = n;
		n[rd->ntstyles++].style = t->style;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* compiling                                                               */

/* A rule with its own pattern runs where PCRE2 says it can: if every match
 * must contain '@' it runs near each '@', otherwise on the whole text. */
static enum trigger derive_trigger(const pcre2_code *code)
{
	uint32_t type = 0, ch = 0;
	if (pcre2_pattern_info(code, PCRE2_INFO_LASTCODETYPE, &type) == 0 && type == 1 &&
	    pcre2_pattern_info(code, PCRE2_INFO_LASTCODEUNIT, &ch) == 0 && ch == '@')
		return TRIG_AT;
	return TRIG_ALL;
}

static int compile_pattern(struct redact *rd, struct rule *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < rd->npats; i++) {
		if (strcmp(rd->pats[i].src, r->pattern) == 0) {
			r->pat = (int)i;
			return 0;
		}
	}
	struct pat *n = realloc(rd->pats, (rd->npats + 1) * sizeof *n);
	if (!n)
		goto oom;
	rd->pats = n;
	struct pat *p = &n[rd->npats];
	memset(p, 0, sizeof *p);
	int ec;
	PCRE2_SIZE off;
	p->code = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED,
	                        PCRE2_UTF | PCRE2_USE_OFFSET_LIMIT, &ec, &off, NULL);
	if (!p->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		util_err(err, errlen, "%s:%d: rule %s: %s at offset %zu", r->file ? r->file : "config",
		         r->line, r->name, (const char *)msg, (size_t)off);
		return -1;
	}
	if (!(p->src = xstrdup(r->pattern))) {
		pcre2_code_free(p->code);
		goto oom;
	}
	p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
	r->pat = (int)rd->npats++;
	return 0;
oom:
	util_err(err, errlen, "out of memory");
	return -1;
}

/* Per channel, the rules that run there: the run loop then touches only
 * those. Built last, when the rules array no longer moves. */
static int index_active(struct ruleset *s)
{
	for (int c = 0; c < CH_COUNT; c++) {
		if (s->nrules && !(s->active[c] = calloc(s->nrules, sizeof *s->active[c])))
			return -1;
		for (int k = 0; k < TRIG_COUNT; k++) {
			for (size_t i = 0; i < s->nrules; i++) {
				const struct rule *r = &s->rules[i];
				if ((int)r->trigger != k || !r->enabled || (r->channels && !(r->channels & (1u << c))))
					continue;
				s->active[c][s->nactive[c]++] = r;
				s->ntrig[c][k]++;
			}
		}
	}
	return 0;
}

static int compile_set(struct redact *rd, struct ruleset *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		if (compile_pattern(rd, r, err, errlen))
			return -1;
		if (r->file && strcmp(r->file, "built-in") != 0)
			r->trigger = derive_trigger(rd->pats[r->pat].code);
		r->file = NULL;   /* points into the config, which may go away */
		/* what each finding asks of its rule, settled once */
		r->entity_len = strlen(r->entity);
		r->subject = strcmp(r->entity, "EMAIL") == 0 ? SUBJECT_EMAIL
		             : strcmp(r->entity, "PHONE") == 0 ? SUBJECT_PHONE : 0;
	}
	if (index_active(s)) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int add_entity(struct redact *rd, const char *e)
{
	for (size_t i = 0; i < rd->nentities; i++)
		if (strcmp(rd->entities[i], e) == 0)
			return 0;
	const char **n = realloc(rd->entities, (rd->nentities + 1) * sizeof *n);
	if (!n)
		return -1;
	rd->entities = n;
	n[rd->nentities++] = e;
	return 0;
}

static int collect_entities(struct redact *rd, const struct ruleset *s)
{
	for (size_t i = 0; i < s->nrules; i++)
		if (s->rules[i].enabled && add_entity(rd, s->rules[i].entity))
			return -1;
	return 0;
}

static int compile_all(struct redact *rd, char *err, size_t errlen)
{
	if (compile_set(rd, &rd->global, err, errlen) || collect_entities(rd, &rd->global))
		return -1;
	for (size_t i = 0; i < rd->ntsets; i++)
		if (compile_set(rd, &rd->tsets[i], err, errlen) || collect_entities(rd, &rd->tsets[i]))
			return -1;
	return 0;
}

struct redact *redact_new(const struct config *cfg, const unsigned char hash_key[32],
                          const unsigned char subject_key[32], char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		util_err(err, errlen, "libsodium init failed");
		return NULL;
	}
	struct redact *rd = calloc(1, sizeof *rd);
	if (!rd || !(rd->keys = sodium_malloc(64))) {
		util_err(err, errlen, "out of memory");
		free(rd);
		return NULL;
	}
	if (redact_names_init()) {
		util_err(err, errlen, "out of memory (name gazetteer)");
		sodium_free(rd->keys);
		free(rd);
		return NULL;
	}
	memcpy(rd->keys, hash_key, 32);
	memcpy(rd->keys + 32, subject_key, 32);
	sodium_mprotect_readonly(rd->keys);
	/* 2 x 384 bytes, a multiple of the state's 64-byte alignment, so the
	 * guarded allocation (which ends on a page) starts aligned */
	if (!(rd->hstates = sodium_malloc(2 * sizeof *rd->hstates))) {
		util_err(err, errlen, "out of memory");
		redact_free(rd);
		return NULL;
	}
	crypto_generichash_init(&rd->hstates[0], rd->keys, 32, crypto_generichash_BYTES_MIN);
	crypto_generichash_init(&rd->hstates[1], rd->keys + 32, 32, REDACT_SUBJECT_BYTES);
	sodium_mprotect_readonly(rd->hstates);
	if (build_rules(rd, cfg, err, errlen) || compile_all(rd, err, errlen) ||
	    build_regions(rd, cfg, err, errlen)) {
		redact_free(rd);
		return NULL;
	}
	return rd;
}

void redact_free(struct redact *rd)
{
	if (!rd)
		return;
	for (size_t i = 0; i < rd->npats; i++) {
		pcre2_code_free(rd->pats[i].code);
		free(rd->pats[i].src);
	}
	free(rd->pats);
	ruleset_free(&rd->global);
	for (size_t i = 0; i < rd->ntsets; i++)
		ruleset_free(&rd->tsets[i]);
	free(rd->tsets);
	for (size_t i = 0; i < rd->ntstyles; i++)
		free(rd->tstyles[i].tenant);
	free(rd->tstyles);
	free(rd->entities);
	for (size_t i = 0; i < rd->ntregions; i++)
		free(rd->tregions[i].tenant);
	free(rd->tregions);
	sodium_free(rd->keys);   /* wipes */
	sodium_free(rd->hstates);
	free(rd);
}

size_t redact_entities(const struct redact *rd, const char *const **names)
{
	*names = rd->entities;
	return rd->nentities;
}

