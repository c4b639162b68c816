/*
 * forward.c — tap mode's outbound side: libcurl's multi interface on one
 * thread, the bot's answer parsed for the log, and the asynchronous writes
 * of a tapped conversation's turns.
 *
 * WORKLOAD. One forward per provider callback (a user's message), each a
 * small POST whose answer is a few hundred bytes; the bot's latency
 * (milliseconds to seconds) dominates. redactd's own part must stay well
 * under 2 ms at p99 on loopback (BENCHMARKS.md, bench/forward.sh).
 *
 * DESIGN. An MHD worker builds a call (forward_call_new: URL, settings and
 * body copied, headers added) and hands it to forward_submit, which checks
 * the source's forward_max_inflight, queues the call under a mutex and
 * wakes the thread (curl_multi_wakeup). The thread (fwd_main) loops on
 * curl_multi_poll: it adds queued calls to the multi handle, drives every
 * transfer with curl_multi_perform, and ends each finished one: a failed
 * connect is tried again (forward_retries: nothing reached the bot), a
 * timeout is never retried (the bot may have acted). Then the call's done
 * runs, which resumes the provider's connection; the worker that picks it
 * up reads the result and frees the call. The multi handle keeps its
 * connection cache and DNS cache across calls, and finished easy handles
 * go back to a free list for the next call, so a steady stream of
 * callbacks reuses the same connections to the bot.
 *
 * Writes. forward_log hands a batch to ingest with a sink whose done runs
 * on the store's writer thread: it only queues the job here and wakes the
 * thread, which takes the job's result (counting findings, or a failure)
 * and frees it. forward_stop ends the thread (running calls end as
 * FORWARD_SHUTDOWN); forward_free, after the HTTP workers have stopped,
 * waits for the writes still out (the writer always answers) and frees.
 *
 * Nothing of a request or an answer reaches the log: lines name the source,
 * the outcome, curl's error text (no URL query) and counts.
 */
#include "forward.h"
#include "config.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "rd_error.h"

/* Its calls go through the table below, which the type-checking macros of
 * curl.h would bypass. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <expat.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * libcurl is loaded when the first engine starts (dlopen), not linked: it
 * brings some twenty libraries (OpenSSL, Kerberos, LDAP, SSH, ...) whose
 * loading costs every process about 4 MB of resident memory, and only
 * `redactd serve` forwards. The CLI (`redactd redact` streams gigabytes in
 * a bounded RSS) never pays for it. The prototypes are curl.h's.
 */
#define CURL_SYMBOLS(X) \
	X(curl_global_init) X(curl_global_cleanup) X(curl_multi_init) X(curl_multi_setopt) \
	X(curl_multi_cleanup) X(curl_multi_add_handle) X(curl_multi_remove_handle) \
	X(curl_multi_perform) X(curl_multi_info_read) X(curl_multi_poll) X(curl_multi_wakeup) \
	X(curl_easy_init) X(curl_easy_reset) X(curl_easy_cleanup) X(curl_easy_setopt) \
	X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_slist_append) X(curl_slist_free_all)

static struct {
#define CURL_SLOT(f) __typeof__(f) *f;
	CURL_SYMBOLS(CURL_SLOT)
#undef CURL_SLOT
} lc;
static pthread_once_t lc_once = PTHREAD_ONCE_INIT;
static bool lc_ready;
static char lc_error[160];

static void lc_load(void)
{
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(lc_error, sizeof lc_error, "%s", dlerror());
		return;
	}
#define CURL_LOAD(f) \
	if (!(lc.f = (__typeof__(f) *)dlsym(lib, #f))) { \
		snprintf(lc_error, sizeof lc_error, "libcurl.so.4 has no %s", #f); \
		return; \
	}
	CURL_SYMBOLS(CURL_LOAD)
#undef CURL_LOAD
	lc_ready = true;   /* the library stays loaded until the process ends */
}

/* 0 once libcurl is loaded; -1 with err (what dlopen said). */
static int lc_need(char *err, size_t errlen)
{
	pthread_once(&lc_once, lc_load);
	if (!lc_ready && err)
		util_err(err, errlen, "forward: cannot load libcurl (install libcurl4): %s", lc_error);
	return lc_ready ? 0 : -1;
}

#define FWD_SOURCES 3                /* twilio, whatsapp, dialogflow-cx */
#define FWD_FREE_HANDLES 64          /* easy handles kept for reuse */
#define FWD_DRAIN_WAIT_US (30 * 1000000LL)

struct forward_call {
	struct forward_call *next;      /* the submit queue */
	struct forward_call *run_prev, *run_next;   /* running: the thread's list */
	CURL *easy;
	struct curl_slist *hdrs;
	size_t n_hdrs;
	char *url, *ca_file, *source;
	int timeout_s, retries, max_inflight;
	bool tls_verify;
	enum forward_kind kind;
	char *body;
	size_t len;
	struct buf reply;               /* the bot's body */
	char *reply_hdrs[FORWARD_MAX_HEADERS];
	const char *relay[FORWARD_MAX_HEADERS];
	size_t n_reply_hdrs;
	bool reply_too_big;
	char *ctype;
	int64_t start_us;
	forward_done_fn done;
	void *arg;
	struct forward_result res;
};

/* A write of forward_log, from submit until the thread has counted it. */
struct fwd_log {
	struct fwd_log *next;
	struct forward *f;
	struct ingest_job *job;
	char source[24], role[8];
};

struct forward {
	struct app *app;
	CURLM *multi;
	pthread_t thread;
	bool started;
	bool curl_ready;                /* curl_global_init succeeded: cleanup owed */
	atomic_bool stopping;
	pthread_mutex_t lock;           /* queue, logs, free handles */
	struct forward_call *queue;     /* submitted, not yet added */
	struct forward_call *running;   /* in the multi handle (the thread's only) */
	struct fwd_log *logs;           /* writes the writer has answered */
	CURL *free_handles[FWD_FREE_HANDLES];
	size_t n_free;
	atomic_int inflight[FWD_SOURCES];
	atomic_int logs_out;            /* writes handed to ingest, not yet counted */
};

static const char *const source_names[FWD_SOURCES] = { "twilio", "whatsapp", "dialogflow-cx" };

enum forward_kind forward_kind_of(const char *name)
{
	if (!strcmp(name, "twilio"))
		return FORWARD_TWILIO;
	return !strcmp(name, "whatsapp") ? FORWARD_WHATSAPP : FORWARD_CX;
}

/* ---- calls -------------------------------------------------------------- */

static char *dup_opt(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	*oom = *oom || (s && !d);
	return d;
}

struct forward_call *forward_call_new(const struct source_conf *src, const void *body, size_t len)
{
	struct forward_call *c = lc_need(NULL, 0) ? NULL : calloc(1, sizeof *c);
	char ca[4096], perr[192];
	bool oom = !c;
	if (oom)
		return NULL;
	if (src->forward_ca_file && util_credential_path(src->forward_ca_file, ca, sizeof ca, perr, sizeof perr)) {
		log_warn("forward %s: forward_ca_file: %s", src->name, perr);
		free(c);
		return NULL;
	}
	c->url = dup_opt(src->forward_to, &oom);
	c->source = dup_opt(src->name, &oom);
	c->ca_file = dup_opt(src->forward_ca_file ? ca : NULL, &oom);
	c->body = malloc(len + 1);
	oom = oom || !c->body;
	if (oom) {
		forward_call_free(c);
		return NULL;
	}
	if (len)
		memcpy(c->body, body, len);
	c->body[len] = '\0';
	c->len = len;
	c->kind = forward_kind_of(src->name);
	c->timeout_s = src->forward_timeout;
	c->retries = src->forward_retries;
	c->max_inflight = src->forward_max_inflight;
	c->tls_verify = src->forward_tls_verify;
	/* No "Expect: 100-continue" round trip for a small body. */
	if (!(c->hdrs = lc.curl_slist_append(NULL, "Expect:"))) {
		forward_call_free(c);
		return NULL;
	}
	return c;
}

static bool header_text_ok(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

int forward_call_header(struct forward_call *c, const char *name, const char *value)
{
	struct buf b = { 0 };
	if (!header_text_ok(name) || !*name || strchr(name, ':') || !header_text_ok(value) ||
	    c->n_hdrs >= FORWARD_MAX_HEADERS || buf_printf(&b, "%s: %s", name, value)) {
		buf_free(&b);
		return -1;
	}
	struct curl_slist *l = lc.curl_slist_append(c->hdrs, b.data);
	sodium_memzero(b.data, b.len);   /* a signature or a bot's key */
	buf_free(&b);
	if (!l)
		return -1;
	c->hdrs = l;
	c->n_hdrs++;
	return 0;
}

static void wipe_free(char *s, size_t n)
{
	if (s) {
		sodium_memzero(s, n);
		free(s);
	}
}

void forward_call_free(struct forward_call *c)
{
	if (!c)
		return;
	if (c->easy)
		lc.curl_easy_cleanup(c->easy);
	lc.curl_slist_free_all(c->hdrs);   /* signatures: libcurl's copy is freed, not wiped */
	free(c->url);
	free(c->ca_file);
	free(c->source);
	wipe_free(c->body, c->len);
	if (c->reply.data)
		sodium_memzero(c->reply.data, c->reply.len);
	buf_free(&c->reply);
	for (size_t i = 0; i < c->n_reply_hdrs; i++)
		free(c->reply_hdrs[i]);
	free(c->ctype);
	free(c);
}

const struct forward_result *forward_call_result(const struct forward_call *c)
{
	return &c->res;
}

/* ---- headers ------------------------------------------------------------ */

static bool name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (!strcasecmp(name, *list))
			return true;
	return false;
}

/* RFC 9110 7.6.1's connection-specific fields, and what libcurl or MHD set. */
static const char *const hop_by_hop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", NULL,
};

bool forward_header_dropped(enum forward_kind kind, const char *name)
{
	static const char *const request_only[] = { "Host", "Expect", "Accept-Encoding", NULL };
	if (name_in(name, hop_by_hop) || name_in(name, request_only))
		return true;
	if (kind == FORWARD_TWILIO && !strcasecmp(name, "X-Twilio-Signature"))
		return true;
	return kind == FORWARD_CX && !strcasecmp(name, "Authorization");
}

bool forward_reply_header_dropped(const char *name)
{
	return name_in(name, hop_by_hop) || !strcasecmp(name, "Date");
}

/* libcurl's header callback: one line at a time, the status line first. A
 * new status line (an interim 1xx) starts the set over. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct forward_call *c = arg;
	size_t len = size * n, end = len;
	while (end && (data[end - 1] == '\n' || data[end - 1] == '\r'))
		end--;
	if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
		for (size_t i = 0; i < c->n_reply_hdrs; i++)
			free(c->reply_hdrs[i]);
		c->n_reply_hdrs = 0;
		free(c->ctype);
		c->ctype = NULL;
		return len;
	}
	const char *colon = memchr(data, ':', end);
	if (!colon || colon == data || c->n_reply_hdrs >= FORWARD_MAX_HEADERS)
		return len;   /* the blank line, a folded line, or too many: not relayed */
	char *line = strndup(data, end);
	if (!line)
		return 0;     /* aborts the transfer: FORWARD_FAILED */
	line[colon - data] = '\0';
	const char *value = line + (colon - data) + 1;
	value += strspn(value, " \t");
	if (!strcasecmp(line, "Content-Type") && !c->ctype && !(c->ctype = strdup(value))) {
		free(line);
		return 0;
	}
	if (forward_reply_header_dropped(line)) {
		free(line);
		return len;
	}
	line[colon - data] = ':';
	c->reply_hdrs[c->n_reply_hdrs++] = line;
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct forward_call *c = arg;
	size_t len = size * n;
	if (c->reply.len + len > FORWARD_MAX_REPLY) {
		c->reply_too_big = true;
		return 0;
	}
	return buf_append(&c->reply, data, len) ? 0 : len;
}

/* ---- the thread --------------------------------------------------------- */

static atomic_int *inflight_of(struct forward *f, const char *source)
{
	for (int i = 0; i < FWD_SOURCES; i++)
		if (!strcmp(source, source_names[i]))
			return &f->inflight[i];
	return &f->inflight[FWD_SOURCES - 1];
}

static CURL *easy_get(struct forward *f)
{
	CURL *e = NULL;
	pthread_mutex_lock(&f->lock);
	if (f->n_free)
		e = f->free_handles[--f->n_free];
	pthread_mutex_unlock(&f->lock);
	if (e)
		lc.curl_easy_reset(e);   /* keeps nothing of the last call but its caches */
	return e ? e : lc.curl_easy_init();
}

static void easy_put(struct forward *f, CURL *e)
{
	pthread_mutex_lock(&f->lock);
	if (f->n_free < FWD_FREE_HANDLES) {
		f->free_handles[f->n_free++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&f->lock);
	if (e)
		lc.curl_easy_cleanup(e);
}

static int easy_setup(struct forward_call *c)
{
	CURL *e = c->easy;
	long verify = c->tls_verify ? 1L : 0L;
	int bad = 0;
	bad |= lc.curl_easy_setopt(e, CURLOPT_URL, c->url) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	/* Straight to the bot: never through a proxy named in the environment
	 * (http_proxy and friends), which would see every user's message. */
	bad |= lc.curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_s * 1000L) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L) != CURLE_OK;
	if (c->ca_file)
		bad |= lc.curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_HEADERDATA, c) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_WRITEDATA, c) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_PRIVATE, c) != CURLE_OK;
	bad |= lc.curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK;
	return bad ? -1 : 0;
}

static const char *outcome_word(enum forward_outcome o)
{
	static const char *const words[] = {
		[FORWARD_OK] = "ok", [FORWARD_OVERLOADED] = "overloaded", [FORWARD_UNREACHABLE] = "unreachable",
		[FORWARD_TIMEOUT] = "timeout", [FORWARD_FAILED] = "failed", [FORWARD_SHUTDOWN] = "shutdown",
	};
	return words[o];
}

/* The end of a call, whatever it was: counted, then done. */
static void call_end(struct forward *f, struct forward_call *c, enum forward_outcome o, bool counted)
{
	struct forward_result *r = &c->res;
	int64_t us = util_mono_us() - c->start_us;
	r->outcome = o;
	if (o == FORWARD_OK) {
		r->body = c->reply.data ? c->reply.data : "";
		r->len = c->reply.len;
		r->content_type = c->ctype;
		for (size_t i = 0; i < c->n_reply_hdrs; i++)
			c->relay[i] = c->reply_hdrs[i];
		r->headers = c->relay;
		r->n_headers = c->n_reply_hdrs;
	} else if (o != FORWARD_OVERLOADED) {
		log_warn("forward %s: the bot did not answer (%s): %s", c->source, outcome_word(o), r->detail);
	}
	if (counted)
		atomic_fetch_sub(inflight_of(f, c->source), 1);
	metrics_forward(f->app->metrics, c->source, o == FORWARD_OK ? (int)r->status : 0, outcome_word(o), us);
	c->done(c->arg);
}

static void call_start(struct forward *f, struct forward_call *c)
{
	if (!c->easy && !(c->easy = easy_get(f))) {
		snprintf(c->res.detail, sizeof c->res.detail, "out of memory");
		call_end(f, c, FORWARD_FAILED, true);
		return;
	}
	if (easy_setup(c) || lc.curl_multi_add_handle(f->multi, c->easy) != CURLM_OK) {
		snprintf(c->res.detail, sizeof c->res.detail, "the transfer cannot be set up");
		call_end(f, c, FORWARD_FAILED, true);
		return;
	}
	c->run_prev = NULL;
	c->run_next = f->running;
	if (f->running)
		f->running->run_prev = c;
	f->running = c;
}

static void running_remove(struct forward *f, struct forward_call *c)
{
	if (c->run_prev)
		c->run_prev->run_next = c->run_next;
	else
		f->running = c->run_next;
	if (c->run_next)
		c->run_next->run_prev = c->run_prev;
	c->run_prev = c->run_next = NULL;
}

static enum forward_outcome outcome_of(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK: return FORWARD_OK;
	case CURLE_OPERATION_TIMEDOUT: return FORWARD_TIMEOUT;
	case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CACERT_BADFILE:
		return FORWARD_UNREACHABLE;
	default: return FORWARD_FAILED;
	}
}

/* A finished transfer: again after a failed connect while retries last
 * (nothing reached the bot), else the call ends. */
static void call_finished(struct forward *f, CURL *e, CURLcode rc)
{
	struct forward_call *c = NULL;
	lc.curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c);
	lc.curl_multi_remove_handle(f->multi, e);
	if ((rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) && c->retries > 0) {
		c->retries--;
		if (lc.curl_multi_add_handle(f->multi, e) == CURLM_OK)
			return;
	}
	running_remove(f, c);
	enum forward_outcome o = outcome_of(rc);
	if (rc == CURLE_OK)
		lc.curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->res.status);
	if (rc == CURLE_WRITE_ERROR && c->reply_too_big)
		snprintf(c->res.detail, sizeof c->res.detail, "the answer is over %u bytes", FORWARD_MAX_REPLY);
	else if (rc != CURLE_OK)
		snprintf(c->res.detail, sizeof c->res.detail, "%s", lc.curl_easy_strerror(rc));
	c->easy = NULL;
	easy_put(f, e);
	call_end(f, c, o, true);
}

/* A write forward_log started has ended: its result counted, freed. */
static void log_end(struct fwd_log *l)
{
	struct ingest_reply r;
	struct rd_error e;
	if (ingest_job_reply(l->job, &r, &e)) {
		metrics_forward_log_failure(l->f->app->metrics);
		log_warn("forward %s: the %s turn was not stored (%s)", l->source, l->role, rd_err_code(e.err));
	}
	ingest_job_free(l->job);
	atomic_fetch_sub(&l->f->logs_out, 1);
	free(l);
}

static void take_logs(struct forward *f)
{
	pthread_mutex_lock(&f->lock);
	struct fwd_log *l = f->logs;
	f->logs = NULL;
	pthread_mutex_unlock(&f->lock);
	while (l) {
		struct fwd_log *next = l->next;
		log_end(l);
		l = next;
	}
}

static struct forward_call *take_queue(struct forward *f)
{
	pthread_mutex_lock(&f->lock);
	struct forward_call *q = f->queue;
	f->queue = NULL;
	pthread_mutex_unlock(&f->lock);
	return q;
}

/* Queued calls start in the order they came. */
static void start_queued(struct forward *f)
{
	struct forward_call *q = take_queue(f), *rev = NULL;
	while (q) {
		struct forward_call *next = q->next;
		q->next = rev;
		rev = q;
		q = next;
	}
	while (rev) {
		struct forward_call *next = rev->next;
		call_start(f, rev);
		rev = next;
	}
}

static void end_running(struct forward *f)
{
	while (f->running) {
		struct forward_call *c = f->running;
		running_remove(f, c);
		lc.curl_multi_remove_handle(f->multi, c->easy);
		snprintf(c->res.detail, sizeof c->res.detail, "the daemon is stopping");
		call_end(f, c, FORWARD_SHUTDOWN, true);
	}
}

static void *fwd_main(void *arg)
{
	struct forward *f = arg;
	while (!atomic_load(&f->stopping)) {
		int running = 0, left = 0;
		CURLMsg *m;
		start_queued(f);
		lc.curl_multi_perform(f->multi, &running);
		while ((m = lc.curl_multi_info_read(f->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				call_finished(f, m->easy_handle, m->data.result);
		take_logs(f);
		lc.curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
	}
	end_running(f);
	struct forward_call *q = take_queue(f);
	while (q) {
		struct forward_call *next = q->next;
		snprintf(q->res.detail, sizeof q->res.detail, "the daemon is stopping");
		call_end(f, q, FORWARD_SHUTDOWN, true);
		q = next;
	}
	return NULL;
}

/* ---- the engine --------------------------------------------------------- */

int forward_new(struct app *app, struct forward **out, char *err, size_t errlen)
{
	struct forward *f = calloc(1, sizeof *f);
	if (!f) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	f->app = app;
	pthread_mutex_init(&f->lock, NULL);
	if (lc_need(err, errlen))
		goto fail;
	f->curl_ready = lc.curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	if (!f->curl_ready || !(f->multi = lc.curl_multi_init())) {
		util_err(err, errlen, "forward: libcurl cannot start");
		goto fail;
	}
	lc.curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, 64L);
	if (pthread_create(&f->thread, NULL, fwd_main, f)) {
		util_err(err, errlen, "forward: cannot start its thread");
		goto fail;
	}
	pthread_mutex_lock(&f->lock);
	f->started = true;
	pthread_mutex_unlock(&f->lock);
	*out = f;
	return 0;
fail:
	forward_free(f);
	return -1;
}

void forward_stop(struct forward *f)
{
	if (!f || !f->started)
		return;
	atomic_store(&f->stopping, true);
	lc.curl_multi_wakeup(f->multi);
	pthread_join(f->thread, NULL);
	pthread_mutex_lock(&f->lock);
	f->started = false;
	pthread_mutex_unlock(&f->lock);
}

void forward_free(struct forward *f)
{
	if (!f)
		return;
	forward_stop(f);
	int64_t until = util_mono_us() + FWD_DRAIN_WAIT_US;
	for (;;) {
		take_logs(f);
		if (atomic_load(&f->logs_out) == 0)
			break;
		if (util_mono_us() > until) {
			/* A write's done may still come and name f: keep it. */
			log_warn("forward: %d writes still unanswered at exit", atomic_load(&f->logs_out));
			return;
		}
		usleep(1000);
	}
	for (size_t i = 0; i < f->n_free; i++)
		lc.curl_easy_cleanup(f->free_handles[i]);
	if (f->multi)
		lc.curl_multi_cleanup(f->multi);
	if (f->curl_ready)
		lc.curl_global_cleanup();   /* reference-counted by libcurl */
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void forward_submit(struct forward *f, struct forward_call *c, forward_done_fn done, void *arg)
{
	atomic_int *n = inflight_of(f, c->source);
	c->done = done;
	c->arg = arg;
	c->start_us = util_mono_us();
	if (atomic_fetch_add(n, 1) >= c->max_inflight) {
		snprintf(c->res.detail, sizeof c->res.detail, "forward_max_inflight (%d) calls are running",
		         c->max_inflight);
		call_end(f, c, FORWARD_OVERLOADED, true);
		return;
	}
	pthread_mutex_lock(&f->lock);
	bool open = f->started && !atomic_load(&f->stopping);
	if (open) {
		c->next = f->queue;
		f->queue = c;
	}
	pthread_mutex_unlock(&f->lock);
	if (!open) {
		snprintf(c->res.detail, sizeof c->res.detail, "the daemon is stopping");
		call_end(f, c, FORWARD_SHUTDOWN, true);
		return;
	}
	lc.curl_multi_wakeup(f->multi);
}

/* ---- what the bot said -------------------------------------------------- */

/* TwiML: the text directly inside <Message>, <Body> and <Say>, one string
 * per run (a <Message> holding a <Body> and a <Media> gives the Body's
 * text; the Media URL is inside another element, so it is not taken). */
#define TWIML_MAX_DEPTH 32

struct twiml {
	json_t *texts;
	struct buf cur;                 /* text of the innermost text element so far */
	bool text_el[TWIML_MAX_DEPTH];  /* per open element: is it a text element */
	int depth;
	bool failed;
	XML_Parser p;
};

static bool twiml_text_element(const char *name)
{
	return !strcmp(name, "Message") || !strcmp(name, "Body") || !strcmp(name, "Say");
}

/* The text gathered so far, trimmed, as one string when not blank. */
static void twiml_flush(struct twiml *t)
{
	size_t b = 0, e = t->cur.len;
	const char *s = t->cur.data ? t->cur.data : "";
	while (b < e && strchr(" \t\r\n", s[b]))
		b++;
	while (e > b && strchr(" \t\r\n", s[e - 1]))
		e--;
	if (e > b && json_array_append_new(t->texts, json_stringn(s + b, e - b)))
		t->failed = true;
	if (t->cur.data)
		sodium_memzero(t->cur.data, t->cur.len);
	t->cur.len = 0;
}

static void XMLCALL twiml_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct twiml *t = arg;
	(void)attrs;
	if (t->depth == TWIML_MAX_DEPTH) {
		t->failed = true;
		XML_StopParser(t->p, XML_FALSE);
		return;
	}
	if (t->depth && t->text_el[t->depth - 1])
		twiml_flush(t);
	t->text_el[t->depth++] = twiml_text_element(name);
}

static void XMLCALL twiml_end(void *arg, const XML_Char *name)
{
	struct twiml *t = arg;
	(void)name;
	if (t->depth && t->text_el[--t->depth])
		twiml_flush(t);
}

static void XMLCALL twiml_chars(void *arg, const XML_Char *s, int len)
{
	struct twiml *t = arg;
	if (t->depth && t->text_el[t->depth - 1] && len > 0 && buf_append(&t->cur, s, (size_t)len))
		t->failed = true;
}

/* No DOCTYPE at all: a bot's TwiML has none, and without one there are no
 * entities to expand (billion laughs) and no external ones to fetch. */
static void XMLCALL twiml_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
                                  const XML_Char *pubid, int internal)
{
	struct twiml *t = arg;
	(void)name, (void)sysid, (void)pubid, (void)internal;
	t->failed = true;
	XML_StopParser(t->p, XML_FALSE);
}

static int twiml_texts(const char *body, size_t len, json_t *texts)
{
	struct twiml t = { .texts = texts };
	XML_Parser p = XML_ParserCreate("UTF-8");
	if (!p)
		return -1;
	t.p = p;
	XML_SetUserData(p, &t);
	XML_SetElementHandler(p, twiml_start, twiml_end);
	XML_SetCharacterDataHandler(p, twiml_chars);
	XML_SetStartDoctypeDeclHandler(p, twiml_doctype);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	int ok = len <= INT32_MAX && XML_Parse(p, body, (int)len, 1) == XML_STATUS_OK;
	XML_ParserFree(p);
	if (t.cur.data)
		sodium_memzero(t.cur.data, t.cur.len);
	buf_free(&t.cur);
	return ok && !t.failed ? 0 : -1;
}

/* CX WebhookResponse: fulfillmentResponse.messages[].text.text[]. */
static int cx_texts(const char *body, size_t len, json_t *texts)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr), *m, *t;
	size_t i, j;
	if (!json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	json_t *fr = json_object_get(root, "fulfillmentResponse");
	if (!fr)
		fr = json_object_get(root, "fulfillment_response");
	json_array_foreach(json_object_get(fr, "messages"), i, m) {
		json_array_foreach(json_object_get(json_object_get(m, "text"), "text"), j, t) {
			const char *s = json_string_value(t);
			if (s && *s && json_array_append(texts, t)) {
				json_decref(root);
				return -1;
			}
		}
	}
	json_decref(root);
	return 0;
}

int forward_bot_texts(enum forward_kind kind, const char *body, size_t len, json_t **texts)
{
	json_t *a = json_array();
	int rc = a ? 0 : -1;
	if (a && kind == FORWARD_TWILIO && len)
		rc = twiml_texts(body, len, a);
	else if (a && kind == FORWARD_CX)
		rc = cx_texts(body, len, a);
	if (rc) {
		json_decref(a);
		return -1;
	}
	*texts = a;
	return 0;
}

json_t *forward_bot_messages(json_t *user_msgs, json_t *texts)
{
	json_t *first = json_array_get(json_object_get(user_msgs, "messages"), 0), *t;
	const char *conv = json_string_value(json_object_get(first, "conversation_id"));
	const char *ch = json_string_value(json_object_get(first, "channel"));
	json_t *list = json_array(), *out = NULL;
	size_t i;
	if (!conv || !json_array_size(texts) || !list)
		goto done;
	json_array_foreach(texts, i, t) {
		json_t *m = json_pack("{s:s, s:O, s:s}", "conversation_id", conv, "text", t, "role", "bot");
		if (!m || (ch && json_object_set_new(m, "channel", json_string(ch))) ||
		    json_array_append_new(list, m))
			goto done;
	}
	out = json_pack("{s:O}", "messages", list);
done:
	json_decref(list);
	return out;
}

/* ---- the writes --------------------------------------------------------- */

/* On the store's writer thread: queue and wake, nothing more. */
static void on_logged(void *arg, struct ingest_job *job)
{
	struct fwd_log *l = arg;
	struct forward *f = l->f;
	l->job = job;
	pthread_mutex_lock(&f->lock);
	l->next = f->logs;
	f->logs = l;
	pthread_mutex_unlock(&f->lock);
	lc.curl_multi_wakeup(f->multi);
}

void forward_log_failed(struct forward *f, const char *source, const char *role, const char *code)
{
	metrics_forward_log_failure(f->app->metrics);
	log_warn("forward %s: the %s turn was not stored (%s)", source, role, code);
}

void forward_log(struct forward *f, struct app_snap *snap, const struct ingest_options *opt,
                 json_t *msgs, const char *source, const char *role)
{
	struct rd_error e;
	struct fwd_log *l = calloc(1, sizeof *l);
	if (!l) {
		forward_log_failed(f, source, role, "internal");
		return;
	}
	l->f = f;
	snprintf(l->source, sizeof l->source, "%s", source);
	snprintf(l->role, sizeof l->role, "%s", role);
	struct ingest_sink sink = { NULL, on_logged, l };
	atomic_fetch_add(&f->logs_out, 1);
	/* From here on l is the sink's: on_logged may run before this returns. */
	if (ingest_messages_json(f->app, snap, opt, msgs, &sink, &e)) {
		atomic_fetch_sub(&f->logs_out, 1);
		free(l);
		forward_log_failed(f, source, role, rd_err_code(e.err));
	}
}
