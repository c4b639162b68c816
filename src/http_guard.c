/*
 * http_guard.c — per-address limit, header and body deadlines, lingering
 * close. See http_guard.h for what and why.
 *
 * Connections sit in one list under g->lock, added on NOTIFY_STARTED and
 * removed on NOTIFY_CLOSED (which MHD sends before closing the socket).
 * The watchdog wakes every GUARD_TICK_MS, walks the list under the lock and
 * shuts down the connections past their deadline; MHD then sees the end of
 * the stream and closes them the ordinary way. Per-address counts live in
 * a small hash table under the same lock.
 */
#include "http_guard.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GUARD_TICK_MS 100
#define IP_BUCKETS 1024

enum phase {
	PH_HEADERS,   /* reading a header block: deadline from phase_start */
	PH_IDLE_NEW,  /* a request just ended: the watchdog notes the bytes received */
	PH_IDLE,      /* kept alive between requests: MHD's own timeout applies */
	PH_BODY,      /* reading a body: minimum rate after the grace period */
	PH_BUSY,      /* handled or answering: no deadline of ours */
};

struct ip_count {
	struct ip_count *next;
	unsigned char key[16];
	size_t len;
	int n;
};

struct guard_conn {
	struct guard_conn *prev, *next;
	struct http_guard *g;
	int fd;
	unsigned char key[16];      /* guard_addr_key */
	size_t key_len;
	struct ip_count *ip;        /* counted against this address, or NULL */
	bool cut;                   /* shut down by the guard (under g->lock) */
	atomic_bool linger;
	atomic_int phase;
	atomic_llong phase_start_us;
	atomic_ullong body_bytes;
	atomic_llong rx_base;       /* PH_IDLE: bytes received when first seen idle */
};

struct lingerer {
	int fd;
	int64_t deadline_us;
	size_t left;
};

/* The security log's budget for one address (guard_seclog_take). */
struct seclog_slot {
	unsigned char key[16];
	size_t key_len;
	bool used;
	int64_t window_ms;          /* start of the address's current minute */
	unsigned logged;            /* entries recorded in it */
	uint64_t suppressed;        /* refusals not recorded since the last entry */
};

struct http_guard {
	pthread_mutex_t lock;
	/* Security log budgets, under their own lock (never held with lock). */
	pthread_mutex_t seclog_lock;
	struct seclog_slot seclog[GUARD_SECLOG_SLOTS];
	int64_t seclog_window_ms;   /* the whole server's minute */
	unsigned seclog_logged;
	struct guard_conn *head;
	struct ip_count *ips[IP_BUCKETS];
	struct lingerer linger[GUARD_LINGER_MAX];
	size_t nlinger;
	struct guard_limits lim;
	struct metrics *metrics;
	int wake[2];                /* a byte here stops the watchdog */
	pthread_t thread;
	bool started;
};

/* ---- addresses ----------------------------------------------------------- */

static size_t addr_key(const struct sockaddr *sa, unsigned char key[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (sa && sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa && sa->sa_family == AF_INET6) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			memcpy(key, a + 12, 4);
			return 4;
		}
		/* One host usually holds a whole /64: count the prefix. */
		memcpy(key, a, 8);
		return 8;
	}
	return 0;
}

size_t guard_addr_key(const struct guard_conn *gc, unsigned char key[16])
{
	memcpy(key, gc->key, gc->key_len);
	return gc->key_len;
}

static unsigned key_hash(const unsigned char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* ---- the security log's rate limit ------------------------------------------- */

bool guard_seclog_take(struct http_guard *g, const struct guard_conn *gc, int64_t now_ms,
                       uint64_t *suppressed)
{
	unsigned char key[16] = { 0 };
	size_t n = gc ? gc->key_len : 0;   /* 0: a unix socket, one slot for all */
	if (gc)
		memcpy(key, gc->key, n);
	*suppressed = 0;
	pthread_mutex_lock(&g->seclog_lock);
	struct seclog_slot *sl = &g->seclog[key_hash(key, n) % GUARD_SECLOG_SLOTS];
	/* Another address in the slot: the newcomer takes it over (its
	 * predecessor's suppressed count is lost, never an entry's). */
	if (!sl->used || sl->key_len != n || memcmp(sl->key, key, n) != 0) {
		memset(sl, 0, sizeof *sl);
		memcpy(sl->key, key, n);
		sl->key_len = n;
		sl->used = true;
	}
	if (now_ms - sl->window_ms >= 60000) {
		sl->window_ms = now_ms;
		sl->logged = 0;
	}
	if (now_ms - g->seclog_window_ms >= 60000) {
		g->seclog_window_ms = now_ms;
		g->seclog_logged = 0;
	}
	bool take = sl->logged < GUARD_SECLOG_PER_ADDRESS && g->seclog_logged < GUARD_SECLOG_PER_SERVER;
	if (take) {
		sl->logged++;
		g->seclog_logged++;
		*suppressed = sl->suppressed;
		sl->suppressed = 0;
	} else {
		sl->suppressed++;
	}
	pthread_mutex_unlock(&g->seclog_lock);
	return take;
}

/* The count for gc's address, created at 0; NULL when out of memory. */
static struct ip_count *ip_find(struct http_guard *g, const struct guard_conn *gc)
{
	struct ip_count **head = &g->ips[key_hash(gc->key, gc->key_len)];
	for (struct ip_count *c = *head; c; c = c->next)
		if (c->len == gc->key_len && memcmp(c->key, gc->key, c->len) == 0)
			return c;
	struct ip_count *c = calloc(1, sizeof *c);
	if (c) {
		memcpy(c->key, gc->key, gc->key_len);
		c->len = gc->key_len;
		c->next = *head;
		*head = c;
	}
	return c;
}

static void ip_release(struct http_guard *g, struct ip_count *ip)
{
	if (!ip || --ip->n > 0)
		return;
	struct ip_count **p = &g->ips[key_hash(ip->key, ip->len)];
	while (*p != ip)
		p = &(*p)->next;
	*p = ip->next;
	free(ip);
}

/* ---- cutting --------------------------------------------------------------- */

/* Under g->lock, so the socket is still MHD's and open. */
static void cut(struct http_guard *g, struct guard_conn *gc, const char *reason)
{
	gc->cut = true;
	shutdown(gc->fd, SHUT_RDWR);
	metrics_conn_dropped(g->metrics, reason);
}

/* Total bytes the kernel received on a TCP socket; -1 if not TCP. */
static int64_t rx_bytes(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
		return -1;
	return (int64_t)ti.tcpi_bytes_received;
}

/* A kept-alive connection starts its header deadline when the next
 * request's first byte arrives (MHD reads it at once, so the kernel's
 * count is the only trace); until then MHD's request_timeout rules.
 * Phases move by compare-and-swap, so a worker starting the next request
 * meanwhile wins. Bytes that came before the first look count as idle:
 * the deadline then starts at the next byte, a tick later at worst. */
static void check_idle(struct guard_conn *gc, int phase, int64_t now)
{
	int64_t rx = rx_bytes(gc->fd);
	if (rx < 0)
		return;   /* not TCP (a unix socket): no way to tell, MHD's timeout rules */
	if (phase == PH_IDLE_NEW) {
		atomic_store(&gc->rx_base, rx);
		atomic_compare_exchange_strong(&gc->phase, &phase, PH_IDLE);
		return;
	}
	if (rx != atomic_load(&gc->rx_base) &&
	    atomic_compare_exchange_strong(&gc->phase, &phase, PH_HEADERS))
		atomic_store(&gc->phase_start_us, now);
}

static void check_conn(struct http_guard *g, struct guard_conn *gc, int64_t now)
{
	int64_t elapsed = now - atomic_load(&gc->phase_start_us);
	int phase = atomic_load(&gc->phase);
	switch (phase) {
	case PH_HEADERS:
		if (elapsed > (int64_t)g->lim.header_timeout * 1000000)
			cut(g, gc, "header_timeout");
		break;
	case PH_IDLE_NEW:
	case PH_IDLE:
		check_idle(gc, phase, now);
		break;
	case PH_BODY: {
		if (!g->lim.body_min_rate)
			break;
		/* mod_reqtimeout's rule: the grace, plus a second per
		 * body_min_rate bytes received. */
		double allowed = (double)g->lim.body_grace +
		                 (double)atomic_load(&gc->body_bytes) / (double)g->lim.body_min_rate;
		if ((double)elapsed / 1e6 > allowed)
			cut(g, gc, "body_rate");
		break;
	}
	default:
		break;
	}
}

/* ---- lingering ------------------------------------------------------------- */

static void linger_close(struct http_guard *g, size_t i)
{
	close(g->linger[i].fd);
	g->linger[i] = g->linger[--g->nlinger];
}

/* Under g->lock: adopt a duplicate of a socket MHD is about to close. */
static void linger_add(struct http_guard *g, int fd)
{
	if (g->nlinger == GUARD_LINGER_MAX)
		return;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return;
	g->linger[g->nlinger++] = (struct lingerer){
		.fd = dup_fd, .deadline_us = util_mono_us() + GUARD_LINGER_SECONDS * 1000000LL,
		.left = GUARD_LINGER_BYTES };
}

/* Reads what each lingering socket has (it is non-blocking, like MHD's). */
static void linger_drain(struct http_guard *g, int64_t now)
{
	static char sink[16384];   /* only the watchdog thread reads into it */
	for (size_t i = 0; i < g->nlinger;) {
		struct lingerer *l = &g->linger[i];
		ssize_t n = 0;
		while (l->left && (n = recv(l->fd, sink, sizeof sink, MSG_DONTWAIT)) > 0)
			l->left -= (size_t)n < l->left ? (size_t)n : l->left;
		bool again = l->left && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		if (!again || now > l->deadline_us)
			linger_close(g, i);
		else
			i++;
	}
}

/* ---- the watchdog ---------------------------------------------------------- */

static void *watchdog(void *arg)
{
	struct http_guard *g = arg;
	for (;;) {
		struct pollfd p[1 + GUARD_LINGER_MAX] = { { .fd = g->wake[0], .events = POLLIN } };
		size_t n = 1;
		pthread_mutex_lock(&g->lock);
		for (size_t i = 0; i < g->nlinger; i++)
			p[n++] = (struct pollfd){ .fd = g->linger[i].fd, .events = POLLIN };
		pthread_mutex_unlock(&g->lock);
		if (poll(p, n, GUARD_TICK_MS) > 0 && (p[0].revents & POLLIN))
			return NULL;
		int64_t now = util_mono_us();
		pthread_mutex_lock(&g->lock);
		linger_drain(g, now);
		for (struct guard_conn *gc = g->head; gc; gc = gc->next)
			if (!gc->cut)
				check_conn(g, gc, now);
		pthread_mutex_unlock(&g->lock);
	}
}

int guard_start(struct http_guard **out, const struct guard_limits *lim, struct metrics *m,
                char *err, size_t errlen)
{
	struct http_guard *g = calloc(1, sizeof *g);
	if (!g) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	g->lim = *lim;
	g->metrics = m;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->seclog_lock, NULL);
	if (pipe2(g->wake, O_CLOEXEC) != 0) {
		util_err(err, errlen, "http guard: pipe: %s", strerror(errno));
		free(g);
		return -1;
	}
	int rc = pthread_create(&g->thread, NULL, watchdog, g);
	if (rc) {
		util_err(err, errlen, "http guard: thread: %s", strerror(rc));
		g->wake[1] = (close(g->wake[0]), close(g->wake[1]), -1);
		free(g);
		return -1;
	}
	g->started = true;
	*out = g;
	return 0;
}

void guard_stop(struct http_guard *g)
{
	if (!g)
		return;
	if (g->started) {
		ssize_t w = write(g->wake[1], "x", 1);
		(void)w;
		pthread_join(g->thread, NULL);
	}
	while (g->nlinger)
		linger_close(g, 0);
	while (g->head) {    /* MHD closes every connection when it stops; this is a backstop */
		struct guard_conn *next = g->head->next;
		free(g->head);
		g->head = next;
	}
	for (size_t i = 0; i < IP_BUCKETS; i++)
		while (g->ips[i]) {
			struct ip_count *next = g->ips[i]->next;
			free(g->ips[i]);
			g->ips[i] = next;
		}
	close(g->wake[0]);
	close(g->wake[1]);
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->seclog_lock);
	free(g);
}

/* ---- MHD's connection notifications ------------------------------------------ */

static void conn_started(struct http_guard *g, struct MHD_Connection *c, void **ctx)
{
	struct guard_conn *gc = calloc(1, sizeof *gc);
	const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!gc || !fd) {
		free(gc);   /* unguarded: MHD's own limits still hold */
		return;
	}
	gc->g = g;
	gc->fd = fd->connect_fd;
	gc->key_len = addr_key(ad ? ad->client_addr : NULL, gc->key);
	atomic_store(&gc->phase, PH_HEADERS);
	atomic_store(&gc->phase_start_us, util_mono_us());
	pthread_mutex_lock(&g->lock);
	gc->next = g->head;
	if (g->head)
		g->head->prev = gc;
	g->head = gc;
	if (gc->key_len && g->lim.per_ip > 0 && (gc->ip = ip_find(g, gc))) {
		if (gc->ip->n >= g->lim.per_ip) {
			gc->ip = NULL;
			cut(g, gc, "per_ip_limit");
		} else {
			gc->ip->n++;
		}
	}
	pthread_mutex_unlock(&g->lock);
	*ctx = gc;
}

static void conn_closed(struct http_guard *g, void **ctx)
{
	struct guard_conn *gc = *ctx;
	if (!gc)
		return;
	*ctx = NULL;
	pthread_mutex_lock(&g->lock);
	if (gc->prev)
		gc->prev->next = gc->next;
	else
		g->head = gc->next;
	if (gc->next)
		gc->next->prev = gc->prev;
	ip_release(g, gc->ip);
	if (atomic_load(&gc->linger) && !gc->cut)
		linger_add(g, gc->fd);
	pthread_mutex_unlock(&g->lock);
	free(gc);
}

void guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(cls, c, socket_context);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		conn_closed(cls, socket_context);
}

/* ---- request states (worker threads, no lock) ------------------------------- */

struct guard_conn *guard_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

static void set_phase(struct guard_conn *gc, enum phase p)
{
	if (!gc)
		return;
	atomic_store(&gc->phase_start_us, util_mono_us());
	atomic_store(&gc->phase, p);
}

void guard_headers_done(struct guard_conn *gc, bool body_expected)
{
	if (gc)
		atomic_store(&gc->body_bytes, 0);
	set_phase(gc, body_expected ? PH_BODY : PH_BUSY);
}

void guard_body_bytes(struct guard_conn *gc, size_t n)
{
	if (gc)
		atomic_fetch_add(&gc->body_bytes, n);
}

void guard_body_done(struct guard_conn *gc)
{
	if (gc && atomic_load(&gc->phase) == PH_BODY)
		set_phase(gc, PH_BUSY);
}

void guard_request_done(struct guard_conn *gc)
{
	set_phase(gc, PH_IDLE_NEW);
}

void guard_linger(struct guard_conn *gc)
{
	if (gc)
		atomic_store(&gc->linger, true);
}
