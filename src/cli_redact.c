/*
 * cli_redact.c — `redactd redact`: a Unix filter that streams.
 *
 * stdin is read in 256 KB reads into a window; once it holds 1 MB (or the
 * input ends) it is redacted up to a cut point and the result written, and
 * the rest is kept for the next pass. The cut is the last blank line in the
 * window's second half (so a multi-line address block or a paragraph is not
 * split), else
 * the last newline, else the last space; a window of WINDOW_MAX bytes with
 * none of them is cut at a UTF-8 character boundary. Memory is bounded by
 * the window and the engine's output buffers whatever the input size.
 *
 * --json prints one object {"redacted": ..., "findings": [...]} for the
 * whole stream: the redacted text is written as it is produced, escaped
 * with jansson's escapes (outbuf.h), and the findings (entity, rule and
 * offsets: no text) wait in an unlinked temporary file until the text is
 * done. --lines redacts each line on its own and prints one such object
 * per line, with its line number and byte offset. Finding offsets are
 * always byte offsets into the whole input stream.
 *
 * All output goes through outbuf (one buffer, write(2) when full), not
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
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_SIZE  (256 * 1024)
#define WINDOW_MAX (2 * 1024 * 1024)
#define OUT_SIZE   (256 * 1024)     /* stdout's buffer */
#define SPOOL_SIZE (64 * 1024)      /* the findings spool's buffer */

static const char redact_help[] =
	"usage: redactd redact [-c FILE] [--json] [--lines] [--channel CH] [--tenant T]\n"
	"Reads text on stdin, writes it redacted on stdout as it goes (any size).\n"
	"Nothing is stored.\n"
	"  --json        print {\"redacted\": ..., \"findings\": [...]} like POST /v1/redact;\n"
	"                finding offsets are bytes into the whole input\n"
	"  --lines       redact each line alone; with --json one object per line:\n"
	"                {\"line\", \"offset\", \"redacted\", \"findings\"}\n"
	"  --channel CH  web (default), whatsapp, sms, voice, email, other\n"
	"  --tenant T    apply tenant T's rules (default: default)\n";

struct filter {
	const struct redact *engine;
	const char *tenant;
	enum rd_channel channel;
	bool json, lines;
	struct outbuf *out;             /* stdout */
	FILE *spool;                    /* --json without --lines: the findings... */
	struct outbuf *findings;        /* ...written through this buffer */
	size_t nfindings;
	uint64_t offset;                /* stream offset of the window's first byte */
	uint64_t line;                  /* --lines: number of the next line */
	struct redact_result res;
};

#define LINE_TOO_LONG ((size_t)-1)

/* The cut point in win[0..len): 0 if none yet and more input may come;
 * LINE_TOO_LONG for --lines with a line over WINDOW_MAX bytes. */
static size_t cut_point(const char *win, size_t len, bool eof, bool lines)
{
	if (eof)
		return len;
	if (lines) {
		const char *nl = memrchr(win, '\n', len);
		return nl ? (size_t)(nl - win) + 1 : len >= WINDOW_MAX ? LINE_TOO_LONG : 0;
	}
	/* Cut about once per 512 KB: each window is scanned once, and the
	 * engine's per-window arrays (candidates, spans) stay sized for 512 KB
	 * of identifier-dense text, which keeps the filter's peak RSS well
	 * under 16 MB (1 MB windows: 16.4 MB on dense text). */
	if (len < WINDOW_MAX / 4)
		return 0;
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

/* Copies a string literal to d; the end. */
#define LIT(d, s) ((char *)memcpy((d), "" s, sizeof s - 1) + sizeof s - 1)

/* The JSON around one finding, and its two numbers: 59 + 20 + 20 bytes. */
#define FINDING_FIXED 100

/* Each finding as {"entity":..,"rule":..,"start":..,"end":..}, comma
 * separated (a leading comma unless `first`); offsets from `base`. Written
 * in place: dense text has a finding every 180 bytes. Entity and rule
 * names are the engine's (built in or from the config), never escaped. */
static int put_findings(struct outbuf *out, const struct redact_result *res, uint64_t base,
                        bool first)
{
	for (size_t i = 0; i < res->nfindings; i++) {
		const struct redact_finding *f = &res->findings[i];
		size_t ne = strlen(f->entity), nr = strlen(f->rule);
		if (ne > 1024 || nr > 1024) {   /* the config allows 64 (RD_MAX_NAME_LEN) */
			fprintf(stderr, "redactd redact: an entity or rule name is over 1024 bytes\n");
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
static int put_line_object(struct filter *fl, uint64_t offset)
{
	struct outbuf *out = fl->out;
	char *d = outbuf_reserve(out, 96);
	if (!d)
		return -1;
	d = LIT(d, "{\"line\":");
	d = outbuf_fmt_u64(d, fl->line);
	d = LIT(d, ",\"offset\":");
	d = outbuf_fmt_u64(d, offset);
	d = LIT(d, ",\"redacted\":\"");
	outbuf_commit(out, d);
	if (outbuf_json_text(out, fl->res.text, fl->res.len))
		return -1;
	if (fl->res.nfindings == 0)
		return outbuf_puts(out, "\",\"findings\":[]}\n");
	if (outbuf_puts(out, "\",\"findings\":[") || put_findings(out, &fl->res, offset, true) ||
	    outbuf_puts(out, "]}\n"))
		return -1;
	return 0;
}

static int utf8_error(uint64_t offset, size_t len)
{
	fprintf(stderr, "redactd redact: input is not valid UTF-8 (between bytes %llu and %llu)\n",
	        (unsigned long long)offset, (unsigned long long)(offset + len));
	return -1;
}

/* Redacts text[0..len) at stream offset `offset` and writes it. */
static int emit(struct filter *fl, const char *text, size_t len, uint64_t offset)
{
	if (redact_run(fl->engine, fl->tenant, fl->channel, text, len, &fl->res)) {
		if (!util_utf8_valid(text, len))
			return utf8_error(offset, len);
		fprintf(stderr, "redactd redact: redaction failed near byte %llu\n",
		        (unsigned long long)offset);
		return -1;
	}
	if (fl->json && fl->lines)
		return put_line_object(fl, offset);
	if (fl->json) {
		if (outbuf_json_text(fl->out, fl->res.text, fl->res.len) ||
		    put_findings(fl->findings, &fl->res, offset, fl->nfindings == 0))
			return -1;
		fl->nfindings += fl->res.nfindings;
		return 0;
	}
	return outbuf_put(fl->out, fl->res.text, fl->res.len);
}

/* One piece of the stream: whole, or line by line for --lines. */
static int process(struct filter *fl, const char *text, size_t len)
{
	/* redact_run refuses invalid UTF-8: a whole piece needs no check of
	 * its own (one pass less). --lines checks the piece first, so that no
	 * line of a piece with a bad byte is printed. */
	if (!fl->lines)
		return emit(fl, text, len, fl->offset);
	if (!util_utf8_valid(text, len))
		return utf8_error(fl->offset, len);
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len;
		fl->line++;
		if (emit(fl, text + at, end - at, fl->offset + at))
			return -1;
		if (!fl->json && nl && outbuf_put(fl->out, "\n", 1))
			return -1;
		at = nl ? end + 1 : len;
	}
	return 0;
}

/* Copies the spooled findings after the text: `"findings":[...]}`. */
static int finish_json(struct filter *fl)
{
	char buf[65536];
	ssize_t n;
	int fd = fileno(fl->spool);
	if (outbuf_puts(fl->out, "\",\"findings\":[") || outbuf_flush(fl->findings) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || outbuf_put(fl->out, buf, (size_t)n))
			return -1;
	}
	return outbuf_puts(fl->out, "]}\n");
}

/* The buffers: stdout's, and for --json alone the findings spool. */
static int open_output(struct filter *fl)
{
	/* stdout is written with write(2) from here on: nothing may wait in
	 * stdio's buffer (nothing should). */
	if (fflush(stdout) || !(fl->out = outbuf_new(STDOUT_FILENO, OUT_SIZE)))
		return -1;
	if (!fl->json || fl->lines)
		return 0;
	if (!(fl->spool = tmpfile()) || !(fl->findings = outbuf_new(fileno(fl->spool), SPOOL_SIZE)))
		return -1;
	return outbuf_puts(fl->out, "{\"redacted\":\"");
}

static void close_output(struct filter *fl)
{
	outbuf_free(fl->findings);
	if (fl->spool)
		fclose(fl->spool);
	outbuf_free(fl->out);
}

static int run_filter(struct filter *fl)
{
	char *win = malloc(WINDOW_MAX + READ_SIZE);
	size_t len = 0;
	bool eof = false;
	int rc = win && open_output(fl) == 0 ? 0 : -1;
	while (rc == 0 && !(eof && len == 0)) {
		if (!eof && len < WINDOW_MAX) {
			size_t n = fread(win + len, 1, READ_SIZE, stdin);
			len += n;
			eof = n == 0 && (feof(stdin) || ferror(stdin));
			if (ferror(stdin)) {
				fprintf(stderr, "redactd redact: cannot read stdin\n");
				rc = -1;
				break;
			}
		}
		size_t cut = cut_point(win, len, eof, fl->lines);
		if (cut == LINE_TOO_LONG) {
			fprintf(stderr, "redactd redact: line %llu is longer than %d bytes (--lines)\n",
			        (unsigned long long)fl->line + 1, WINDOW_MAX);
			rc = -1;
			break;
		}
		if (cut == 0)
			continue;
		rc = process(fl, win, cut);
		sodium_memzero(win, cut);
		memmove(win, win + cut, len - cut);
		len -= cut;
		fl->offset += cut;
	}
	if (rc == 0 && fl->findings)
		rc = finish_json(fl);
	/* What was made before a failure still goes out, as stdio did. */
	if (fl->out && outbuf_flush(fl->out)) {
		fprintf(stderr, "redactd redact: cannot write to stdout: %s\n", strerror(outbuf_error(fl->out)));
		rc = -1;
	}
	close_output(fl);
	if (win) {
		sodium_memzero(win, len);
		free(win);
	}
	redact_result_free(&fl->res);
	return rc ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_redact(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "json", no_argument, 0, 'j' },
		{ "lines", no_argument, 0, 'l' }, { "channel", required_argument, 0, 'C' },
		{ "tenant", required_argument, 0, 't' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *config = cli_default_config();
	struct filter fl = { .tenant = "default", .channel = CH_WEB };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'j': fl.json = true; break;
		case 'l': fl.lines = true; break;
		case 't': fl.tenant = optarg; break;
		case 'C':
			if (rd_channel_parse(optarg, &fl.channel) == 0)
				break;
			fprintf(stderr, "redactd redact: unknown channel '%s'\n", optarg);
			return EXIT_USAGE;
		case 'h': fputs(redact_help, stdout); return EXIT_OK;
		default: fputs(redact_help, stderr); return EXIT_USAGE;
		}
	}
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
