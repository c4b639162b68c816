/*
 * test_outbuf.c — the write buffer of `redactd redact`: what reaches the
 * file is what was put, in order, whatever the buffer size; JSON text is
 * what jansson writes between the quotes, with escapes at every position
 * of a 16-byte block, in the last 15 bytes, and across a flush; numbers
 * are snprintf's; a failed write is reported and stays failed.
 */
#include "harness.h"
#include "outbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>

static char path[512];

/* A fresh file to write to (fd) and, after, its contents (caller frees). */
static int open_out(void)
{
	snprintf(path, sizeof path, "%s/out", TEST_TMPDIR());
	return open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
}

static char *read_out(size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	if (f && fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		s = n >= 0 ? malloc((size_t)n + 1) : NULL;
		if (s && (fseek(f, 0, SEEK_SET) != 0 || fread(s, 1, (size_t)n, f) != (size_t)n)) {
			free(s);
			s = NULL;
		}
		if (s) {
			s[n] = 0;
			*len = (size_t)n;
		}
	}
	if (f)
		fclose(f);
	return s;
}

/* What jansson writes for s[0..n) as a JSON string, without the quotes. */
static char *jansson_text(const char *s, size_t n, size_t *len)
{
	json_t *j = json_stringn(s, n);
	size_t need = j ? json_dumpb(j, NULL, 0, JSON_ENCODE_ANY) : 0;
	char *out = need ? malloc(need) : NULL;
	if (out && json_dumpb(j, out, need, JSON_ENCODE_ANY) == need) {
		memmove(out, out + 1, need - 2);
		*len = need - 2;
	} else {
		free(out);
		out = NULL;
	}
	json_decref(j);
	return out;
}

/* Writes each text through a buffer of `cap` bytes; true if the file holds
 * jansson's escaping of them all, one after the other. */
static bool same_as_jansson(const char *const *texts, const size_t *lens, size_t count, size_t cap)
{
	int fd = open_out();
	struct outbuf *o = fd >= 0 ? outbuf_new(fd, cap) : NULL;
	bool ok = o != NULL;
	for (size_t i = 0; ok && i < count; i++)
		ok = outbuf_json_text(o, texts[i], lens[i]) == 0;
	ok = ok && outbuf_flush(o) == 0;
	outbuf_free(o);
	if (fd >= 0)
		close(fd);
	size_t got_len = 0, want_len = 0;
	char *got = ok ? read_out(&got_len) : NULL;
	char *want = NULL;
	for (size_t i = 0; got && i < count; i++) {
		size_t n;
		char *one = jansson_text(texts[i], lens[i], &n);
		char *grown = one ? realloc(want, want_len + n + 1) : NULL;
		if (!grown) {
			free(one);
			ok = false;
			break;
		}
		want = grown;
		memcpy(want + want_len, one, n);
		want_len += n;
		free(one);
	}
	ok = ok && got && (count == 0 || want) && got_len == want_len &&
	     memcmp(got, want ? want : "", got_len) == 0;
	free(got);
	free(want);
	return ok;
}

/* Every character that needs an escape, and some that do not (DEL, '/',
 * 2-, 3- and 4-byte UTF-8), at every offset 0..40 of texts of length
 * 0..40: inside a 16-byte block, at its first and last byte, in the tail. */
static void test_json_text_positions(void)
{
	static const char *const specials[] = { "\"", "\\", "\n", "\t", "\r", "\b", "\f", "\x01",
	                                        "\x1f", "\x7f", "/", "\xc3\xa9", "\xe2\x82\xac",
	                                        "\xf0\x9d\x84\x9e" };
	bool all = true;
	for (size_t s = 0; s < sizeof specials / sizeof specials[0]; s++) {
		for (size_t len = 0; len <= 40; len++) {
			for (size_t at = 0; at <= len; at++) {
				char text[64];
				size_t sl = strlen(specials[s]);
				memset(text, 'a', len);
				memcpy(text + at, specials[s], sl);
				memset(text + at + sl, 'b', len - at);
				const char *t = text;
				size_t n = len + sl;
				all = all && same_as_jansson(&t, &n, 1, 4096);
			}
		}
	}
	CHECK(all, "json text: each escape at every offset of texts of 0..40 bytes is jansson's");
	size_t zero = 1;
	const char *nul = "\0";
	CHECK(same_as_jansson(&nul, &zero, 1, 4096), "json text: a NUL byte is \\u0000");
}

/* Runs of escapes that fill the smallest buffer many times over: every
 * flush falls in the middle of an escape run, at each possible offset. */
static void test_json_text_across_flushes(void)
{
	size_t n = 100000;
	char *quotes = malloc(n), *ctl = malloc(n), *mixed = malloc(n);
	if (!quotes || !ctl || !mixed) {
		CHECK(0, "json text across flushes: memory");
		free(quotes), free(ctl), free(mixed);
		return;
	}
	memset(quotes, '"', n);
	memset(ctl, '\x01', n);
	unsigned x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		static const char pick[] = "abcdefgh \"\\\n\t\x02";
		mixed[i] = pick[(x >> 16) % (sizeof pick - 1)];
	}
	const char *texts[] = { quotes, ctl, mixed, "", "x", mixed + 7 };
	size_t lens[] = { n, n, n, 0, 1, n - 7 };
	CHECK(same_as_jansson(texts, lens, 6, 4096), "json text: 100 kB runs of escapes through a 4 kB buffer");
	CHECK(same_as_jansson(texts, lens, 6, 4099), "json text: the same through a 4099-byte buffer");
	CHECK(same_as_jansson(texts, lens, 6, 1 << 20), "json text: the same through a 1 MB buffer");
	/* ~18 kB in short texts (the tail path) through buffers of 20 sizes:
	 * the flushes fall at every kind of step */
	enum { SHORT = 2000 };
	static const char *one[SHORT];
	static size_t one_len[SHORT];
	for (size_t i = 0; i < SHORT; i++) {
		one[i] = mixed + (i * 97) % (n - 32);
		one_len[i] = 1 + i % 17;
	}
	bool all = true;
	for (size_t cap = 4096; cap < 4096 + 20 && all; cap++)
		all = same_as_jansson(one, one_len, SHORT, cap);
	CHECK(all, "json text: 2000 texts of 1..17 bytes, buffers of 4096..4115 bytes");
	free(quotes);
	free(ctl);
	free(mixed);
}

static void test_numbers_and_pieces(void)
{
	static const uint64_t values[] = { 0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 4294967295u,
	                                   4294967296u, 999999999999ull, 1000000000000ull,
	                                   9999999999999999999ull, 10000000000000000000ull, UINT64_MAX };
	int fd = open_out();
	struct outbuf *o = fd >= 0 ? outbuf_new(fd, 4096) : NULL;
	char want[8192] = "";
	size_t wl = 0;
	bool ok = o != NULL;
	for (size_t i = 0; ok && i < sizeof values / sizeof values[0]; i++) {
		ok = outbuf_u64(o, values[i]) == 0 && outbuf_puts(o, ",") == 0;
		wl += (size_t)snprintf(want + wl, sizeof want - wl, "%" PRIu64 ",", values[i]);
	}
	for (uint64_t p = 1, k = 0; ok && k < 20; k++, p *= 10) {   /* every power of ten, and one less */
		ok = outbuf_u64(o, p) == 0 && outbuf_put(o, " ", 1) == 0 && outbuf_u64(o, p - 1) == 0 &&
		     outbuf_put(o, ";", 1) == 0;
		wl += (size_t)snprintf(want + wl, sizeof want - wl, "%" PRIu64 " %" PRIu64 ";", p, p - 1);
	}
	char *d = ok ? outbuf_reserve(o, 64) : NULL;
	if (d) {
		memcpy(d, "[in place ", 10);
		d = outbuf_fmt_u64(d + 10, 42);
		*d++ = ']';
		outbuf_commit(o, d);
		wl += (size_t)snprintf(want + wl, sizeof want - wl, "[in place 42]");
	}
	/* a piece bigger than the buffer goes out directly, after what waits */
	static char big[10000];
	memset(big, 'z', sizeof big);
	ok = ok && d && outbuf_puts(o, "<") == 0 && outbuf_put(o, big, sizeof big) == 0 &&
	     outbuf_puts(o, ">") == 0 && outbuf_flush(o) == 0;
	outbuf_free(o);
	if (fd >= 0)
		close(fd);
	size_t gl = 0;
	char *got = ok ? read_out(&gl) : NULL;
	CHECK(got && gl == wl + sizeof big + 2 && memcmp(got, want, wl) == 0,
	      "numbers are snprintf's, pieces and in-place writes in order");
	CHECK(got && gl == wl + sizeof big + 2 && got[wl] == '<' && got[gl - 1] == '>' &&
	      memcmp(got + wl + 1, big, sizeof big) == 0, "a piece bigger than the buffer, in order");
	free(got);
}

/* /dev/full: the flush fails, and so does everything after it. */
static void test_write_failure(void)
{
	int fd = open("/dev/full", O_WRONLY);
	struct outbuf *o = fd >= 0 ? outbuf_new(fd, 4096) : NULL;
	if (!o) {
		CHECK(0, "write failure: /dev/full opened");
		if (fd >= 0)
			close(fd);
		return;
	}
	CHECK(outbuf_puts(o, "hello") == 0, "write failure: a put that fits is only buffered");
	errno = 0;
	CHECK(outbuf_error(o) == 0, "write failure: no error before the write");
	CHECK(outbuf_flush(o) == -1 && errno == ENOSPC, "write failure: flush reports ENOSPC");
	CHECK(outbuf_puts(o, "x") == -1, "write failure: a put after it fails");
	CHECK(outbuf_u64(o, 7) == -1, "write failure: a number after it fails");
	CHECK(outbuf_reserve(o, 8) == NULL, "write failure: no room to reserve");
	char text[5000];
	memset(text, '"', sizeof text);   /* more than the buffer: json text must flush */
	CHECK(outbuf_json_text(o, text, sizeof text) == -1, "write failure: json text after it fails");
	CHECK(outbuf_flush(o) == -1 && outbuf_error(o) == ENOSPC, "write failure: it stays failed, with its errno");
	outbuf_free(o);
	close(fd);
}

/* The gate: called before each write; a refusal fails the buffer with
 * ECANCELED and writes nothing, then or later. */
struct gate_state {
	int calls;
	int refuse_at;              /* the call that refuses (0: none) */
};

static int count_gate(void *arg)
{
	struct gate_state *g = arg;
	g->calls++;
	return g->calls == g->refuse_at ? -1 : 0;
}

static void test_gate(void)
{
	int fd = open_out();
	struct outbuf *o = fd >= 0 ? outbuf_new(fd, 4096) : NULL;
	struct gate_state g = { 0, 3 };
	if (!o) {
		CHECK(0, "gate: buffer made");
		if (fd >= 0)
			close(fd);
		return;
	}
	outbuf_set_gate(o, count_gate, &g);
	CHECK(outbuf_puts(o, "one ") == 0 && g.calls == 0, "gate: not asked while only buffering");
	CHECK(outbuf_flush(o) == 0 && g.calls == 1, "gate: asked before a write");
	CHECK(outbuf_flush(o) == 0 && g.calls == 1, "gate: not asked when there is nothing to write");
	char big[5000];
	memset(big, 'b', sizeof big);   /* more than the buffer: written without a copy */
	CHECK(outbuf_put(o, big, sizeof big) == 0 && g.calls == 2, "gate: asked before a direct write");
	CHECK(outbuf_puts(o, "held back") == 0, "gate: put before the refusal is buffered");
	CHECK(outbuf_flush(o) == -1 && outbuf_error(o) == ECANCELED, "gate: a refusal fails the flush (ECANCELED)");
	CHECK(outbuf_puts(o, "x") == -1 && outbuf_flush(o) == -1 && g.calls == 3,
	      "gate: the buffer stays failed and is not asked again");
	outbuf_free(o);
	size_t len = 0;
	char *got = read_out(&len);
	CHECK(got && len == 4 + sizeof big && memcmp(got, "one ", 4) == 0 && got[len - 1] == 'b',
	      "gate: only what it let through reached the file");
	free(got);
	close(fd);

	fd = open_out();
	o = fd >= 0 ? outbuf_new(fd, 4096) : NULL;
	if (o) {
		CHECK(outbuf_puts(o, "dropped") == 0, "discard: put buffered");
		outbuf_discard(o);
		CHECK(outbuf_puts(o, "kept") == 0 && outbuf_flush(o) == 0, "discard: the buffer goes on");
		outbuf_free(o);
		got = read_out(&len);
		CHECK(got && len == 4 && memcmp(got, "kept", 4) == 0, "discard: what it held is never written");
		free(got);
	}
	if (fd >= 0)
		close(fd);
}

static void test_out_of_memory(void)
{
	long live = alloc_live();
	bool clean = true;
	long n = 1;
	for (;; n++) {
		alloc_fail_at(n);
		struct outbuf *o = outbuf_new(1, 4096);
		bool failed = alloc_failed();
		alloc_fail_at(0);
		if (!failed) {
			outbuf_free(o);
			break;
		}
		clean = clean && o == NULL && alloc_live() == live;
	}
	CHECK(clean && n > 1, "outbuf_new: each allocation failing gives NULL and leaks nothing");
	outbuf_free(NULL);
	CHECK(alloc_live() == live, "outbuf_free frees all (NULL a no-op)");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_json_text_positions();
	test_json_text_across_flushes();
	test_numbers_and_pieces();
	test_write_failure();
	test_gate();
	test_out_of_memory();
	return TEST_DONE();
}
