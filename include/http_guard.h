/*
 * http_guard.h — connection defences libmicrohttpd 0.9.75 does not have.
 *
 * MHD's connection timeout restarts on every byte, so a client trickling a
 * byte a second holds a connection (and a slot of max_connections) for
 * ever. The guard tracks every connection from MHD's NOTIFY_CONNECTION
 * STARTED to CLOSED and a watchdog thread cuts, with shutdown(2):
 *  - a connection beyond max_connections_per_ip for its address (IPv6: /64);
 *  - a request whose header block took longer than header_timeout (from
 *    the accept, or on a kept-alive connection from the next request's
 *    first byte);
 *  - a body arriving slower than body_min_rate once body_grace has passed
 *    (the deadline grows by one second per body_min_rate bytes received).
 * MHD calls NOTIFY_CLOSED before it closes the socket, and the guard
 * forgets a connection under the same lock the watchdog cuts under, so a
 * shutdown never reaches a descriptor that was closed and reused.
 *
 * It also lingers: when a request was answered before its body was read
 * (413, 401, ...), MHD closes the socket with the body unread and the
 * kernel answers the body with a reset, which makes most clients lose the
 * reply. The guard keeps a duplicate of such a socket after MHD is done
 * and reads and discards what the client still sends, for a bounded time
 * and amount, as nginx's lingering close does.
 *
 * Only http.c uses it. Workers call the guard_* state functions; they are
 * lock-free (atomics) so the request path does not contend on the lock.
 */
#ifndef REDACTD_HTTP_GUARD_H
#define REDACTD_HTTP_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_guard;
struct guard_conn;
struct metrics;

struct guard_limits {
	int per_ip;               /* connections per address; 0 = unlimited */
	int header_timeout;       /* seconds */
	size_t body_min_rate;     /* bytes/s; 0 = off */
	int body_grace;           /* seconds */
};

#define GUARD_LINGER_SECONDS 10          /* longest a refused body is read and dropped */
#define GUARD_LINGER_BYTES (16u << 20)   /* most bytes read and dropped per connection */
#define GUARD_LINGER_MAX 64              /* sockets lingering at once; more close at once */

int guard_start(struct http_guard **out, const struct guard_limits *lim, struct metrics *m,
                char *err, size_t errlen);
/* After MHD_stop_daemon: stops the watchdog, closes lingering sockets. NULL ok. */
void guard_stop(struct http_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION's callback; its closure is the guard. */
void guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                  enum MHD_ConnectionNotificationCode code);

/* The connection's guard state; NULL if the guard never saw it. */
struct guard_conn *guard_of(struct MHD_Connection *c);

/* The access handler has the headers; body_expected: a body follows. */
void guard_headers_done(struct guard_conn *gc, bool body_expected);
void guard_body_bytes(struct guard_conn *gc, size_t n);
/* The body is all read (or none is coming): no deadline while it runs. */
void guard_body_done(struct guard_conn *gc);
/* The request is over; the connection may wait for the next one. */
void guard_request_done(struct guard_conn *gc);
/* The reply went before the body was read: linger when MHD closes. */
void guard_linger(struct guard_conn *gc);

/*
 * The security log's rate limit: whether a refused request (401, 403)
 * from gc's address (IPv6: /64; NULL: the unix socket) gets its audit
 * entry. At most GUARD_SECLOG_PER_ADDRESS a minute per address and
 * GUARD_SECLOG_PER_SERVER a minute in all, so a flood cannot fill the
 * disk; when true, *suppressed is how many of that address's refusals
 * went unrecorded since its last entry (the entry counts them).
 */
#define GUARD_SECLOG_PER_ADDRESS 10
#define GUARD_SECLOG_PER_SERVER 600
#define GUARD_SECLOG_SLOTS 512
bool guard_seclog_take(struct http_guard *g, const struct guard_conn *gc, int64_t now_ms,
                       uint64_t *suppressed);

/* The client's address as a rate-limit key: 4 bytes (IPv4, also when
 * mapped into IPv6), 8 (an IPv6 /64) or 0 (a unix socket). */
size_t guard_addr_key(const struct guard_conn *gc, unsigned char key[16]);

#endif
