/*
 * cli_redact.c — `redactd redact`: a Unix filter that streams.
 *
 * The main thread reads stdin in 256 KB reads into a window; once it holds
 * 256 KB (or the input ends) the window is cut, and the piece before the
 * cut goes to a worker thread while the rest starts the next window. The
 * cut is the last blank line in the window's second half (so a multi-line
 * address block or a paragraph is not split), else the last newline, else
 * the last space (--lines: the last newline); a window of WINDOW_MAX bytes
 * with none of them is cut at a UTF-8 character boundary. Memory is bounded by the windows, the
 * workers' output buffers and the engine's buffers, whatever the input.
 *
 * Workers (--threads, default one per core, at most 2) redact pieces in
 * parallel and write them out strictly in order: piece k's output waits
 * for its turn, which comes when piece k - 1's is written (the gate on
 * the worker's buffers, outbuf.h), so the output is byte for byte what one
 * thread would write. A failure (invalid UTF-8, a write error) is reported
 * at its piece's turn, and the pieces after it write nothing, so stdout and
 * stderr are also what one thread would leave. Reading overlaps redaction
 * even with one worker.
 *
 * --json prints one object {"redacted": ..., "findings": [...]} for the
 * whole stream: the redacted text is written as it is produced, escaped
 * with jansson's escapes (outbuf.h), and the findings (entity, rule and
 * offsets: no text) wait in an unlinked temporary file until the text is
 * done. --lines redacts each line on its own and prints one such object
 * per line, with its line number and byte offset (the main thread counts
 * the lines of each piece, so a worker knows where its piece starts).
 * Finding offsets are always byte offsets into the whole input stream.
 *
 * All output goes through outbuf (a buffer, write(2) when full), not
 * stdio: a line of --lines --json is nine pieces and two numbers, and
 * fwrite/printf per piece cost as much as redacting the line.
 */
#include "cli.h"
#include "log.h"
#include "outbuf.h"
#include "tenant.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define READ_SIZE   (256 * 1024)
#define WINDOW_MAX  (2 * 1024 * 1024)
#define WINDOW_CAP  (WINDOW_MAX + READ_SIZE)
#define PIECE       (256 * 1024)      /* a window is cut once it holds this */
#define OUT_SIZE    (64 * 1024)       /* the main thread's: JSON head and tail */
#define PIECE_OUT   (1024 * 1024)     /* a worker's: a piece's output, usually whole */
#define PIECE_SPOOL (256 * 1024)      /* a worker's share of the findings spool */
#define MAX_THREADS 64
#define DEFAULT_THREADS_MAX 2

static const char redact_help[] =
	"usage: redactd redact [-c FILE] [--json] [--lines] [--channel CH] [--tenant T]\n"
	"                      [--threads N]\n"
	"Reads text on stdin, writes it redacted on stdout as it goes (any size).\n"
	"Nothing is stored.\n"
	"  --json        print {\"redacted\": ..., \"findings\": [...]} like POST /v1/redact;\n"
	"                finding offsets are bytes into the whole input\n"
	"  --lines       redact each line alone; with --json one object per line:\n"
	"                {\"line\", \"offset\", \"redacted\", \"findings\"}\n"
	"  --channel CH  web (default), whatsapp, sms, voice, email, other\n"
	"  --tenant T    apply tenant T's rules (default: default)\n"
	"  --threads N   redact with N threads (default: one per core, at most 2);\n"
	"                the output is the same for any N\n";

struct filter;

/* A piece of the stream, cut by the main thread. */
struct piece {
	char *buf;
	size_t len;                     /* bytes to redact */
	size_t used;                    /* bytes of buf to wipe afterwards */
	uint64_t offset;                /* stream offset of buf[0] */
	uint64_t line;                  /* --lines: lines before the piece */
	uint64_t seq;                   /* its place in the output order */
};

struct worker {
	struct filter *fl;
	pthread_t tid;
	bool started;
	struct outbuf *out;             /* stdout, gated on the turn */
	struct outbuf *findings;        /* --json alone: the spool, gated too */
	struct redact_result res;
	struct piece piece;
	bool busy;                      /* holds a piece (under fl->mu) */
	uint64_t line;                  /* --lines: number of the current line */
	char err[256];                  /* the piece's failure, told at its turn */
};

struct filter {
	const struct redact *engine;
	const char *tenant;
	enum rd_channel channel;
	bool json, lines;
	unsigned nworkers;
	struct outbuf *out;             /* stdout: the JSON head and tail */
	FILE *spool;                    /* --json without --lines: the findings */
	uint64_t offset;                /* stream offset of the window's first byte */
	uint64_t line;                  /* --lines: lines before the window */
	uint64_t next_seq;              /* of the next piece handed out */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t turn;                  /* seq of the piece whose output goes next */
	bool failed;                    /* a piece failed: later ones write nothing */
	bool quit;
	struct worker *workers;
	char *win;                      /* the window being filled */
};

#define LINE_TOO_LONG ((size_t)-1)

/* The cut point in win[0..len): 0 if none yet and more input may come;
 * LINE_TOO_LONG for --lines with a line over WINDOW_MAX bytes. */
static size_t cut_point(const char *win, size_t len, bool eof, bool lines)
{
	/* Cut once the window holds PIECE bytes: each window is scanned once,
	 * the engine's per-piece arrays (candidates, spans) stay sized for
	 * 256 KB of identifier-dense text, and the peak RSS of two workers
	 * on such text is 15.4 MB (17.5 MB with 512 KB pieces). The size is
	 * the same for any number of workers, and so are the cuts and the
	 * output. */
	if (eof)
		return len;
	if (len < PIECE)
		return 0;
	if (lines) {
		const char *nl = memrchr(win, '\n', len);
		return nl ? (size_t)(nl - win) + 1 : len >= WINDOW_MAX ? LINE_TOO_LONG : 0;
	}
	const char *nl = memrchr(win, '\n', len);
	for (const char *p = nl; p && p > win + len / 2; p = memrchr(win, '\n', (size_t)(p - win)))
		if (p[-1] == '\n')
			return (size_t)(p - win) + 1;   /* just after a blank line */
	if (nl)
		return (size_t)(nl - win) + 1;
	const char *sp = memrchr(win, ' ', len);
	if (sp)
		return (size_t)(sp - win) + 1;
	if (len < WINDOW_MAX)
		return 0;
	size_t i = len;
	while (i > 0 && ((unsigned char)win[i - 1] & 0xC0) == 0x80)
		i--;   /* back over continuation bytes to the lead byte */
	return i > 0 ? i - 1 : len;
}

/* The lines of a piece cut after a newline (or at the end of input): its
 * newlines, plus one for a last line without one. */
static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;
	size_t i = 0;
#if defined(__SSE2__) && defined(__x86_64__)
	/* Each byte of acc counts the newlines at its position, for at most
	 * 255 blocks; then the 16 counts are summed (psadbw). */
	const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	while (n - i >= 16) {
		size_t stop = n - i >= 255 * 16 ? i + 255 * 16 : n;
		__m128i acc = zero;
		for (; stop - i >= 16; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));
		}
		__m128i sum = _mm_sad_epu8(acc, zero);
		lines += (uint64_t)_mm_cvtsi128_si64(sum) +
		         (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sum, sum));
	}
#endif
	for (; i < n; i++)
		lines += p[i] == '\n';
	return lines + (n > 0 && p[n - 1] != '\n');
}

static void fail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
}

/* Copies a string literal to d; the end. */
#define LIT(d, s) ((char *)memcpy((d), "" s, sizeof s - 1) + sizeof s - 1)

/* The JSON around one finding, and its two numbers: 59 + 20 + 20 bytes. */
#define FINDING_FIXED 100

/* Each finding as {"entity":..,"rule":..,"start":..,"end":..}, comma
 * separated (a leading comma unless `first`); offsets from `base`. Written
 * in place: dense text has a finding every 180 bytes. Entity and rule
 * names are the engine's (built in or from the config), never escaped. */
static int put_findings(struct worker *w, struct outbuf *out, uint64_t base, bool first)
{
	const struct redact_result *res = &w->res;
	for (size_t i = 0; i < res->nfindings; i++) {
		const struct redact_finding *f = &res->findings[i];
		size_t ne = strlen(f->entity), nr = strlen(f->rule);
		if (ne > 1024 || nr > 1024) {   /* the config allows 64 (RD_MAX_NAME_LEN) */
			fail(w, "an entity or rule name is over 1024 bytes");
			return -1;
		}
		char *d = outbuf_reserve(out, FINDING_FIXED + ne + nr);
		if (!d)
			return -1;
		if (!(first && i == 0))
			*d++ = ',';
		d = LIT(d, "{\"entity\":\"");
		d = (char *)memcpy(d, f->entity, ne) + ne;
		d = LIT(d, "\",\"rule\":\"");
		d = (char *)memcpy(d, f->rule, nr) + nr;
		d = LIT(d, "\",\"start\":");
		d = outbuf_fmt_u64(d, base + f->start);
		d = LIT(d, ",\"end\":");
		d = outbuf_fmt_u64(d, base + f->end);
		*d++ = '}';
		outbuf_commit(out, d);
	}
	return 0;
}

/* --lines --json: one object for one line (its newline not included). The
 * pieces around the text are written in place (outbuf_reserve): this runs
 * once per line, a few million times a gigabyte. */
static int put_line_object(struct worker *w, uint64_t offset)
{
	struct outbuf *out = w->out;
	char *d = outbuf_reserve(out, 96);
	if (!d)
		return -1;
	d = LIT(d, "{\"line\":");
	d = outbuf_fmt_u64(d, w->line);
	d = LIT(d, ",\"offset\":");
	d = outbuf_fmt_u64(d, offset);
	d = LIT(d, ",\"redacted\":\"");
	outbuf_commit(out, d);
	if (outbuf_json_text(out, w->res.text, w->res.len))
		return -1;
	if (w->res.nfindings == 0)
		return outbuf_puts(out, "\",\"findings\":[]}\n");
	if (outbuf_puts(out, "\",\"findings\":[") || put_findings(w, out, offset, true) ||
	    outbuf_puts(out, "]}\n"))
		return -1;
	return 0;
}

/* Redacts text[0..len) at stream offset `offset` and writes it. */
static int emit(struct worker *w, const char *text, size_t len, uint64_t offset)
{
	const struct filter *fl = w->fl;
	if (redact_run(fl->engine, fl->tenant, fl->channel, text, len, &w->res)) {
		/* redact_run refuses invalid UTF-8; the reason is looked for only
		 * when it fails (one pass less). */
		size_t valid = util_utf8_valid_prefix(text, len);
		if (valid == len)
			fail(w, "redaction failed near byte %llu", (unsigned long long)offset);
		else if (fl->lines)
			fail(w, "input is not valid UTF-8 (line %llu, byte %llu)",
			     (unsigned long long)w->line, (unsigned long long)(offset + valid));
		else
			fail(w, "input is not valid UTF-8 (byte %llu)", (unsigned long long)(offset + valid));
		return -1;
	}
	if (fl->json && fl->lines)
		return put_line_object(w, offset);
	if (fl->json) {
		/* Every finding after a comma: whether an earlier piece had one is
		 * not known here; finish_json drops the spool's first comma. */
		return outbuf_json_text(w->out, w->res.text, w->res.len) ||
		       put_findings(w, w->findings, offset, false) ? -1 : 0;
	}
	return outbuf_put(w->out, w->res.text, w->res.len);
}

/* The worker's piece: whole, or line by line for --lines (every line
 * before a failing one is written, whatever the pieces). */
static int process(struct worker *w)
{
	const struct piece *pc = &w->piece;
	const char *text = pc->buf;
	if (!w->fl->lines)
		return emit(w, text, pc->len, pc->offset);
	w->line = pc->line;
	for (size_t at = 0; at < pc->len;) {
		const char *nl = memchr(text + at, '\n', pc->len - at);
		size_t end = nl ? (size_t)(nl - text) : pc->len;
		w->line++;
		if (emit(w, text + at, end - at, pc->offset + at))
			return -1;
		if (!w->fl->json && nl && outbuf_put(w->out, "\n", 1))
			return -1;
		at = nl ? end + 1 : pc->len;
	}
	return 0;
}

/* The gate of a worker's buffers: waits for its piece's turn; -1 when an
 * earlier piece failed (nothing more may be written). */
static int take_turn(void *arg)
{
	struct worker *w = arg;
	struct filter *fl = w->fl;
	pthread_mutex_lock(&fl->mu);
	while (fl->turn != w->piece.seq)
		pthread_cond_wait(&fl->cv, &fl->mu);
	int rc = fl->failed ? -1 : 0;
	pthread_mutex_unlock(&fl->mu);
	return rc;
}

/* At its turn: the piece's output goes out, then its failure if it had
 * one; after an earlier failure neither does. */
static void finish_piece(struct worker *w, int rc)
{
	struct filter *fl = w->fl;
	bool go = take_turn(w) == 0;   /* at once if a full buffer took it already */
	if (go) {
		int wrc = outbuf_flush(w->out);
		if (wrc == 0 && w->findings)
			wrc = outbuf_flush(w->findings);
		/* A failed write (now, or when a buffer filled during the piece)
		 * is the failure when the piece had no other. */
		if ((rc || wrc) && !w->err[0]) {
			int out_err = outbuf_error(w->out);
			if (out_err || !w->findings)
				fail(w, "cannot write to stdout: %s", strerror(out_err ? out_err : EIO));
			else
				fail(w, "cannot write the findings' temporary file: %s",
				     strerror(outbuf_error(w->findings)));
		}
		if (rc || wrc)
			fprintf(stderr, "redactd redact: %s\n", w->err);
		go = rc == 0 && wrc == 0;
	}
	outbuf_discard(w->out);
	if (w->findings)
		outbuf_discard(w->findings);
	sodium_memzero(w->piece.buf, w->piece.used);
	pthread_mutex_lock(&fl->mu);
	if (!go)
		fl->failed = true;
	fl->turn++;
	w->busy = false;
	pthread_cond_broadcast(&fl->cv);
	pthread_mutex_unlock(&fl->mu);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct filter *fl = w->fl;
	for (;;) {
		pthread_mutex_lock(&fl->mu);
		while (!w->busy && !fl->quit)
			pthread_cond_wait(&fl->cv, &fl->mu);
		bool quit = !w->busy;
		pthread_mutex_unlock(&fl->mu);
		if (quit)
			return NULL;
		w->err[0] = '\0';
		finish_piece(w, process(w));
	}
}

/* Hands win[0..cut) to the next worker in turn, once it is free, and
 * takes that worker's spare buffer as the window, with win[cut..len)
 * copied to its start. -1 after a failure: nothing more is handed out. */
static int hand_out(struct filter *fl, size_t cut, size_t len)
{
	struct worker *w = &fl->workers[fl->next_seq % fl->nworkers];
	pthread_mutex_lock(&fl->mu);
	while (w->busy)
		pthread_cond_wait(&fl->cv, &fl->mu);
	bool failed = fl->failed;
	pthread_mutex_unlock(&fl->mu);
	/* What the main thread wrote goes out before any piece (a failure is
	 * told by run_filter's last flush, the error being sticky). */
	if (failed || (fl->next_seq == 0 && outbuf_flush(fl->out)))
		return -1;
	char *spare = w->piece.buf;
	memcpy(spare, fl->win + cut, len - cut);
	w->piece = (struct piece){ .buf = fl->win, .len = cut, .used = len, .offset = fl->offset,
	                           .line = fl->line, .seq = fl->next_seq++ };
	fl->win = spare;
	if (fl->lines)
		fl->line += count_lines(w->piece.buf, cut);
	fl->offset += cut;
	pthread_mutex_lock(&fl->mu);
	w->busy = true;
	pthread_cond_broadcast(&fl->cv);
	pthread_mutex_unlock(&fl->mu);
	return 0;
}

/* Waits until every piece handed out is written; whether one failed. */
static bool drain(struct filter *fl)
{
	pthread_mutex_lock(&fl->mu);
	while (fl->turn != fl->next_seq)
		pthread_cond_wait(&fl->cv, &fl->mu);
	bool failed = fl->failed;
	pthread_mutex_unlock(&fl->mu);
	return failed;
}

static int start_workers(struct filter *fl)
{
	if (!(fl->workers = calloc(fl->nworkers, sizeof *fl->workers)))
		return -1;
	bool spool = fl->json && !fl->lines;
	for (unsigned i = 0; i < fl->nworkers; i++) {
		struct worker *w = &fl->workers[i];
		w->fl = fl;
		if (!(w->piece.buf = malloc(WINDOW_CAP)) ||
		    !(w->out = outbuf_new(STDOUT_FILENO, PIECE_OUT)) ||
		    (spool && !(w->findings = outbuf_new(fileno(fl->spool), PIECE_SPOOL))))
			return -1;
		outbuf_set_gate(w->out, take_turn, w);
		if (w->findings)
			outbuf_set_gate(w->findings, take_turn, w);
		if (pthread_create(&w->tid, NULL, worker_main, w) != 0)
			return -1;
		w->started = true;
	}
	return 0;
}

static void stop_workers(struct filter *fl)
{
	if (!fl->workers)
		return;
	pthread_mutex_lock(&fl->mu);
	fl->quit = true;
	pthread_cond_broadcast(&fl->cv);
	pthread_mutex_unlock(&fl->mu);
	for (unsigned i = 0; i < fl->nworkers; i++) {
		struct worker *w = &fl->workers[i];
		if (w->started)
			pthread_join(w->tid, NULL);
		outbuf_free(w->out);
		outbuf_free(w->findings);
		free(w->piece.buf);   /* wiped when its piece was done */
		redact_result_free(&w->res);
	}
	free(fl->workers);
	fl->workers = NULL;
}

/* Copies the spooled findings after the text: `"findings":[...]}`. Every
 * finding was written after a comma: the first comma goes. */
static int finish_json(struct filter *fl)
{
	char buf[65536];
	ssize_t n;
	size_t skip = 1;
	int fd = fileno(fl->spool);
	if (outbuf_puts(fl->out, "\",\"findings\":[") || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || outbuf_put(fl->out, buf + skip, (size_t)n - skip))
			return -1;
		skip = 0;
	}
	return outbuf_puts(fl->out, "]}\n");
}

/* stdout's buffer, and for --json alone the findings spool and the head
 * of the object (written out before the first piece, see hand_out). */
static int open_output(struct filter *fl)
{
	/* stdout is written with write(2) from here on: nothing may wait in
	 * stdio's buffer (nothing should). */
	if (fflush(stdout) || !(fl->out = outbuf_new(STDOUT_FILENO, OUT_SIZE)))
		return -1;
	if (!fl->json || fl->lines)
		return 0;
	if (!(fl->spool = tmpfile()))
		return -1;
	return outbuf_puts(fl->out, "{\"redacted\":\"");
}

static void close_output(struct filter *fl)
{
	if (fl->spool)
		fclose(fl->spool);
	outbuf_free(fl->out);
}

/* Reads stdin to its end, handing out pieces; 0, or -1 after a failure
 * (reported, at its turn in the output). */
static int read_input(struct filter *fl)
{
	size_t len = 0;
	bool eof = false;
	const char *err = NULL;
	char msg[128];
	while (!(eof && len == 0)) {
		if (!eof && len < WINDOW_MAX) {
			size_t n = fread(fl->win + len, 1, READ_SIZE, stdin);
			len += n;
			eof = n == 0 && (feof(stdin) || ferror(stdin));
			if (ferror(stdin)) {
				err = "cannot read stdin";
				break;
			}
		}
		size_t cut = cut_point(fl->win, len, eof, fl->lines);
		if (cut == LINE_TOO_LONG) {
			snprintf(msg, sizeof msg, "line %llu is longer than %d bytes (--lines)",
			         (unsigned long long)fl->line + 1, WINDOW_MAX);
			err = msg;
			break;
		}
		if (cut == 0)
			continue;
		if (hand_out(fl, cut, len))
			break;
		len -= cut;
	}
	sodium_memzero(fl->win, len);
	/* The first failure in stream order is told: a worker's before this. */
	if (drain(fl))
		return -1;
	if (err)
		fprintf(stderr, "redactd redact: %s\n", err);
	return err ? -1 : 0;
}

static int run_filter(struct filter *fl)
{
	fl->win = malloc(WINDOW_CAP);
	int rc = fl->win && pthread_mutex_init(&fl->mu, NULL) == 0 ? 0 : -1;
	if (rc == 0 && pthread_cond_init(&fl->cv, NULL) != 0) {
		pthread_mutex_destroy(&fl->mu);
		rc = -1;
	}
	if (rc) {
		free(fl->win);
		fprintf(stderr, "redactd redact: out of memory\n");
		return EXIT_RUNTIME;
	}
	if (open_output(fl) || start_workers(fl)) {
		fprintf(stderr, "redactd redact: cannot start: %s\n", strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = read_input(fl);
	if (rc == 0 && fl->spool)
		rc = finish_json(fl);
	if (fl->out && outbuf_flush(fl->out)) {
		fprintf(stderr, "redactd redact: cannot write to stdout: %s\n",
		        strerror(outbuf_error(fl->out)));
		rc = -1;
	}
	/* Every window was wiped when its piece was done (read_input wipes
	 * the last). */
	stop_workers(fl);
	close_output(fl);
	free(fl->win);
	pthread_cond_destroy(&fl->cv);
	pthread_mutex_destroy(&fl->mu);
	return rc ? EXIT_RUNTIME : EXIT_OK;
}

/* One worker per core, at most 2: each adds about 1.5 MB of peak RSS (its
 * window, output buffer and the engine's per-thread buffers), and two
 * keep the filter under 16 MB on chat text (bench/cli.sh). --threads asks
 * for more. */
static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > DEFAULT_THREADS_MAX ? DEFAULT_THREADS_MAX : (unsigned)n;
}

int cmd_redact(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "json", no_argument, 0, 'j' },
		{ "lines", no_argument, 0, 'l' }, { "channel", required_argument, 0, 'C' },
		{ "tenant", required_argument, 0, 't' }, { "threads", required_argument, 0, 'T' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *config = cli_default_config();
	struct filter fl = { .tenant = "default", .channel = CH_WEB };
	long threads;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'j': fl.json = true; break;
		case 'l': fl.lines = true; break;
		case 't': fl.tenant = optarg; break;
		case 'T':
			if (util_parse_long(optarg, 1, MAX_THREADS, &threads) == 0) {
				fl.nworkers = (unsigned)threads;
				break;
			}
			fprintf(stderr, "redactd redact: --threads takes a number from 1 to %d\n",
			        MAX_THREADS);
			return EXIT_USAGE;
		case 'C':
			if (rd_channel_parse(optarg, &fl.channel) == 0)
				break;
			fprintf(stderr, "redactd redact: unknown channel '%s'\n", optarg);
			return EXIT_USAGE;
		case 'h': fputs(redact_help, stdout); return EXIT_OK;
		default: fputs(redact_help, stderr); return EXIT_USAGE;
		}
	}
	if (fl.nworkers == 0)
		fl.nworkers = default_threads();
	if (optind != argc || !tenant_valid(fl.tenant)) {
		fputs(redact_help, stderr);
		return EXIT_USAGE;
	}
	struct app app;
	int rc = cli_open_app(&app, config, APP_REDACT_ONLY);
	if (rc)
		return rc;
	struct app_snap *snap = app_snap_acquire(&app);
	fl.engine = snap->redact;
	rc = run_filter(&fl);
	app_snap_release(snap);
	app_close(&app);
	return rc;
}
