/*
 * audit.c — the hash-chained audit log: append, verify, list, purge.
 *
 * Workload: a handful of appends per request that reads or deletes stored
 * content, one per sweep pass; verification walks the whole table once.
 * Every function takes a store_tx: appends and purges run inside the
 * caller's write transaction (store_exec), reads on any (store_read). The
 * rows are kept by the store (store_audit.h, src/store_audit.c, with the
 * tables' schema); the chain's rules are here. The hash layout is
 * documented in audit.h and must never change for v1.
 */
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "store_audit.h"
#include "util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(AUDIT_HASH_BYTES == STORE_AUDIT_HASH_BYTES, "the store keeps the chain's hashes");

static const char chain_tag[] = "rd-audit-v1";

static void put_u64(crypto_generichash_state *st, uint64_t v)
{
	unsigned char b[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
	crypto_generichash_update(st, b, sizeof b);
}

/* Length-prefixed, so ("ab","c") and ("a","bc") never hash alike. */
static void put_str(crypto_generichash_state *st, const char *s)
{
	size_t n = strlen(s);
	unsigned char b[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                       (unsigned char)(n >> 8), (unsigned char)n };
	crypto_generichash_update(st, b, sizeof b);
	crypto_generichash_update(st, (const unsigned char *)s, n);
}

static void entry_hash(const unsigned char prev[AUDIT_HASH_BYTES], const struct store_audit_entry *e,
                       unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, AUDIT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)chain_tag, sizeof chain_tag - 1);
	crypto_generichash_update(&st, prev, AUDIT_HASH_BYTES);
	put_u64(&st, (uint64_t)e->seq);
	put_u64(&st, (uint64_t)e->ts_ms);
	put_str(&st, e->actor);
	put_str(&st, e->action);
	put_str(&st, e->target);
	put_u64(&st, (uint64_t)e->count);
	crypto_generichash_final(&st, out, AUDIT_HASH_BYTES);
}

static bool field_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= AUDIT_FIELD_MAX;
}

/* ---- append -------------------------------------------------------------- */

enum rd_err audit_append_at(struct store_tx *tx, int64_t ts_ms, const char *actor,
                            const char *action, const char *target, int64_t count)
{
	if (!field_ok(actor) || !field_ok(action) || !field_ok(target)) {
		log_error("audit: empty or oversized field (bug)");
		return RD_E_AUDIT;
	}
	struct store_audit_entry e = { .ts_ms = ts_ms, .count = count, .actor = actor, .action = action,
	                   .target = target };
	unsigned char prev[AUDIT_HASH_BYTES], hash[AUDIT_HASH_BYTES];
	int64_t head_seq = 0, mark = 0;
	/* Continue after the highest seq ever used: if the newest entries were
	 * deleted, the gap stays visible instead of being papered over. */
	enum rd_err rc = store_audit_head(tx, &head_seq, prev);
	if (rc == RD_OK)
		rc = store_audit_high_mark(tx, &mark);
	if (rc != RD_OK) {
		log_error("audit: append failed: the log's head cannot be read");
		return rc;
	}
	e.seq = (mark > head_seq ? mark : head_seq) + 1;
	entry_hash(prev, &e, hash);
	e.prev = prev;
	e.prev_len = sizeof prev;
	e.hash = hash;
	e.hash_len = sizeof hash;
	return store_audit_insert(tx, &e);
}

enum rd_err audit_append(struct store_tx *tx, const char *actor, const char *action,
                         const char *target, int64_t count)
{
	return audit_append_at(tx, util_now_ms(), actor, action, target, count);
}

enum rd_err audit_append_tenant(struct store_tx *tx, const char *tenant, const char *actor,
                                const char *action, const char *target, int64_t count)
{
	const char *was = store_audit_use_chain(tx, tenant);
	enum rd_err rc = audit_append_at(tx, util_now_ms(), actor, action, target, count);
	store_audit_use_chain(tx, was);
	return rc;
}

/* ---- verify ------------------------------------------------------------- */

const char *audit_fault_name(enum audit_fault f)
{
	switch (f) {
	case AUDIT_INTACT: return "intact";
	case AUDIT_EDITED: return "edited";
	case AUDIT_REMOVED: return "removed";
	case AUDIT_REORDERED: return "reordered";
	}
	return "?";
}

static void report_fault(struct audit_report *r, enum audit_fault f, int64_t seq, const char *why)
{
	r->fault = f;
	r->bad_seq = seq;
	snprintf(r->detail, sizeof r->detail, "entry %lld %s: %s", (long long)seq,
	         audit_fault_name(f), why);
}

/* The seq of another entry whose hash is h, or 0. Used only after a broken
 * link, to tell a moved entry from a missing one. */
static int64_t seq_with_hash(struct store_tx *tx, const unsigned char *h, size_t n)
{
	int64_t seq = 0;
	return store_audit_find_hash(tx, h, n, &seq) == RD_OK ? seq : 0;
}

/* Checks one entry against the expected seq and link; 0 if it holds. */
static int check_entry(struct store_tx *tx, const struct store_audit_entry *e, int64_t want_seq,
                       const unsigned char want_prev[AUDIT_HASH_BYTES], struct audit_report *r)
{
	unsigned char h[AUDIT_HASH_BYTES];
	if (e->seq != want_seq) {
		report_fault(r, AUDIT_REMOVED, want_seq, e->seq > want_seq
		             ? "missing from the sequence" : "sequence out of order");
		return -1;
	}
	if (e->prev_len != AUDIT_HASH_BYTES || e->hash_len != AUDIT_HASH_BYTES) {
		report_fault(r, AUDIT_EDITED, e->seq, "hash columns damaged");
		return -1;
	}
	if (sodium_memcmp(e->prev, want_prev, AUDIT_HASH_BYTES) != 0) {
		int64_t other = seq_with_hash(tx, e->prev, e->prev_len);
		if (other > 0)
			report_fault(r, AUDIT_REORDERED, e->seq, "it links to an entry now found elsewhere");
		else
			report_fault(r, AUDIT_REMOVED, e->seq,
			             "it does not follow the entry before it (removed or altered)");
		return -1;
	}
	entry_hash(e->prev, e, h);
	if (sodium_memcmp(h, e->hash, AUDIT_HASH_BYTES) != 0) {
		report_fault(r, AUDIT_EDITED, e->seq, "its fields do not match its hash");
		return -1;
	}
	return 0;
}

/* The walk's state: the next seq and link expected. */
struct walk_ctx {
	struct store_tx *tx;
	struct audit_report *r;
	unsigned char *link;
	int64_t want;
};

/* Stops (RD_E_INTEGRITY, which the walk does not report as a failure) at
 * the first fault. */
static enum rd_err walk_entry(const struct store_audit_entry *e, void *arg)
{
	struct walk_ctx *w = arg;
	if (w->r->entries == 0)
		w->r->first_seq = e->seq;
	if (check_entry(w->tx, e, w->want, w->link, w->r))
		return RD_E_INTEGRITY;
	memcpy(w->link, e->hash, AUDIT_HASH_BYTES);
	w->r->last_seq = e->seq;
	w->r->entries++;
	w->want = e->seq + 1;
	return RD_OK;
}

/* Walks every entry from the checkpoint on; stops at the first fault. */
static enum rd_err walk(struct store_tx *tx, struct audit_report *r,
                        unsigned char link[AUDIT_HASH_BYTES])
{
	struct walk_ctx w = { tx, r, link, r->checkpoint_seq + 1 };
	enum rd_err rc = store_audit_each(tx, INT64_MIN, walk_entry, &w);
	return rc == RD_E_INTEGRITY ? RD_OK : rc;
}

enum rd_err audit_verify(struct store_tx *tx, struct audit_report *out)
{
	struct audit_report r = { 0 };
	unsigned char link[AUDIT_HASH_BYTES];
	int64_t mark = 0;
	enum rd_err rc = store_audit_checkpoint(tx, &r.checkpoint_seq, link);
	if (rc == RD_OK)
		rc = store_audit_high_mark(tx, &mark);
	if (rc == RD_OK)
		rc = walk(tx, &r, link);
	if (rc != RD_OK)
		return rc;
	memcpy(r.head, link, sizeof r.head);
	int64_t last = r.entries ? r.last_seq : r.checkpoint_seq;
	if (r.fault == AUDIT_INTACT && mark > last)
		report_fault(&r, AUDIT_REMOVED, last + 1, "the newest entries are missing");
	if (r.fault == AUDIT_INTACT)
		snprintf(r.detail, sizeof r.detail, "%lld entries intact", (long long)r.entries);
	*out = r;
	return RD_OK;
}

struct verify_all_ctx {
	struct store_tx *tx;
	audit_chain_report_fn fn;
	void *ctx;
	bool intact;
};

static enum rd_err verify_chain(const char *chain, void *arg)
{
	struct verify_all_ctx *v = arg;
	struct audit_report r;
	const char *was = store_audit_use_chain(v->tx, chain);
	enum rd_err rc = audit_verify(v->tx, &r);
	store_audit_use_chain(v->tx, was);
	if (rc != RD_OK)
		return rc;
	v->intact &= r.fault == AUDIT_INTACT;
	if (v->fn)
		v->fn(chain, &r, v->ctx);
	return RD_OK;
}

enum rd_err audit_verify_all(struct store_tx *tx, audit_chain_report_fn fn, void *ctx, bool *intact)
{
	struct verify_all_ctx v = { tx, fn, ctx, true };
	enum rd_err rc = store_audit_chains(tx, verify_chain, &v);
	*intact = v.intact;
	return rc;
}

/* ---- list ---------------------------------------------------------------- */

struct list_ctx {
	const char *chain;           /* NULL: the system's */
	FILE *f;
	size_t n;
	int64_t after_seq;           /* entries up to this seq are skipped */
	int64_t last_seq, last_ts;   /* of the newest entry written */
};

static enum rd_err list_entry(const struct store_audit_entry *e, void *arg)
{
	struct list_ctx *c = arg;
	char ts[32];
	if (e->seq <= c->after_seq)
		return RD_OK;
	util_format_ts(e->ts_ms, ts);
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "seq", (json_int_t)e->seq, "ts", ts,
	                      "actor", e->actor, "action", e->action, "target", e->target,
	                      "count", (json_int_t)e->count);
	if (o && c->chain && json_object_set_new(o, "tenant", json_string(c->chain))) {
		json_decref(o);
		o = NULL;
	}
	int bad = !o || json_dumpf(o, c->f, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
	          fputc('\n', c->f) == EOF;
	json_decref(o);
	if (bad)
		return RD_E_INTERNAL;
	c->n++;
	c->last_seq = e->seq;
	c->last_ts = e->ts_ms;
	return RD_OK;
}

enum rd_err audit_list(struct store_tx *tx, int64_t since_ms, FILE *f, size_t *n)
{
	struct audit_cursor cur = { .since_ms = since_ms };
	enum rd_err rc = audit_list_from(tx, &cur, f);
	*n = cur.listed;
	audit_cursor_free(&cur);
	return rc;
}

/* Clocks can step back a little between two appends: a follower looks
 * this far behind the newest entry it printed, and skips by seq. */
#define AUDIT_FOLLOW_SLACK_MS 60000

/* The place of chain in cur (the system's: cur's own fields), added at
 * the start when new; NULL when out of memory. */
static struct audit_chain_pos *cursor_pos(struct audit_cursor *cur, const char *chain,
                                          struct audit_chain_pos *sys)
{
	if (!chain) {
		*sys = (struct audit_chain_pos){ NULL, cur->last_seq, cur->last_ts };
		return sys;
	}
	for (size_t i = 0; i < cur->nchains; i++)
		if (!strcmp(cur->chains[i].chain, chain))
			return &cur->chains[i];
	struct audit_chain_pos *p = realloc(cur->chains, (cur->nchains + 1) * sizeof *p);
	char *name = strdup(chain);
	if (!p || !name) {
		if (p)
			cur->chains = p;
		free(name);
		return NULL;
	}
	cur->chains = p;
	p[cur->nchains] = (struct audit_chain_pos){ name, 0, 0 };
	return &p[cur->nchains++];
}

struct list_all_ctx {
	struct store_tx *tx;
	struct audit_cursor *cur;
	FILE *f;
};

static enum rd_err list_chain(const char *chain, void *arg)
{
	struct list_all_ctx *a = arg;
	struct audit_chain_pos sys, *p = cursor_pos(a->cur, chain, &sys);
	if (!p)
		return RD_E_INTERNAL;
	int64_t since = p->last_seq ? p->last_ts - AUDIT_FOLLOW_SLACK_MS : a->cur->since_ms;
	struct list_ctx c = { .chain = chain, .f = a->f, .after_seq = p->last_seq,
	                      .last_seq = p->last_seq, .last_ts = p->last_ts };
	const char *was = store_audit_use_chain(a->tx, chain);
	enum rd_err rc = store_audit_each(a->tx, since, list_entry, &c);
	store_audit_use_chain(a->tx, was);
	a->cur->listed += c.n;
	p->last_seq = c.last_seq;
	p->last_ts = c.last_ts;
	if (!chain) {
		a->cur->last_seq = p->last_seq;
		a->cur->last_ts = p->last_ts;
	}
	return rc;
}

enum rd_err audit_list_from(struct store_tx *tx, struct audit_cursor *cur, FILE *f)
{
	struct list_all_ctx a = { tx, cur, f };
	cur->listed = 0;
	return store_audit_chains(tx, list_chain, &a);
}

void audit_cursor_free(struct audit_cursor *cur)
{
	for (size_t i = 0; i < cur->nchains; i++)
		free(cur->chains[i].chain);
	free(cur->chains);
	cur->chains = NULL;
	cur->nchains = 0;
}

/* ---- purge ------------------------------------------------------------- */

/* One chain's purge (the chain set on tx); *purged gets its count. */
static enum rd_err purge_chain(struct store_tx *tx, int64_t before_ms, int64_t *purged)
{
	unsigned char hash[AUDIT_HASH_BYTES];
	int64_t seq;
	*purged = 0;
	enum rd_err rc = store_audit_last_before(tx, before_ms, &seq, hash);
	if (rc != RD_OK || seq == 0)
		return rc;
	/* Everything up to that seq goes, so the remaining chain is contiguous
	 * and starts right after the checkpoint. */
	rc = store_audit_truncate(tx, seq, hash, util_now_ms(), purged);
	if (rc == RD_OK)
		rc = audit_append(tx, "redactd", "audit.purge", "audit_log", *purged);
	return rc;
}

struct purge_ctx {
	struct store_tx *tx;
	int64_t before_ms, purged;
};

static enum rd_err purge_one(const char *chain, void *arg)
{
	struct purge_ctx *p = arg;
	int64_t n = 0;
	const char *was = store_audit_use_chain(p->tx, chain);
	enum rd_err rc = purge_chain(p->tx, p->before_ms, &n);
	store_audit_use_chain(p->tx, was);
	p->purged += n;
	return rc;
}

enum rd_err audit_purge(struct store_tx *tx, int64_t before_ms, int64_t *purged)
{
	struct purge_ctx p = { tx, before_ms, 0 };
	enum rd_err rc = store_audit_chains(tx, purge_one, &p);
	*purged = p.purged;
	return rc;
}

enum rd_err audit_count(struct store_tx *tx, int64_t *n)
{
	return store_audit_count(tx, n);
}

enum rd_err audit_last_action(struct store_tx *tx, const char *const *actions, size_t n,
                              int64_t *ts_ms)
{
	return store_audit_last_of(tx, actions, n, ts_ms);
}

/* ---- targets and one-shot records ---------------------------------------- */

void audit_target(const struct keyring *kr, const char *kind, const unsigned char *hash, size_t n,
                  char out[AUDIT_TARGET_MAX])
{
	unsigned char key[CRYPTO_KEY_BYTES], h[16];
	char hex[2 * sizeof h + 1];
	crypto_generichash_state st;
	keyring_subkey(kr, SUBKEY_AUDIT, key);
	crypto_generichash_init(&st, key, sizeof key, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
	crypto_generichash_update(&st, hash, n);
	crypto_generichash_final(&st, h, sizeof h);
	sodium_memzero(key, sizeof key);
	util_hex_encode(h, sizeof h, hex);
	snprintf(out, AUDIT_TARGET_MAX, "%.40s:%s", kind, hex);
}

struct record_ctx {
	const char *tenant, *actor, *action, *target;
	int64_t count;
};

static enum rd_err record_fn(struct store_tx *tx, void *arg)
{
	const struct record_ctx *c = arg;
	return audit_append_tenant(tx, c->tenant, c->actor, c->action, c->target, c->count);
}

enum rd_err audit_record(struct store *st, struct metrics *m, const char *actor,
                         const char *action, const char *target, int64_t count)
{
	return audit_record_tenant(st, m, NULL, actor, action, target, count);
}

enum rd_err audit_record_tenant(struct store *st, struct metrics *m, const char *tenant,
                                const char *actor, const char *action, const char *target,
                                int64_t count)
{
	struct record_ctx c = { tenant, actor, action, target, count };
	enum rd_err rc = store_exec(st, record_fn, &c);
	if (rc != RD_OK)
		return rc;
	if (m)
		metrics_audit(m, 1);
	return RD_OK;
}
