/*
 * ratelimit.h — token buckets by key (a client address, a token name).
 *
 * A bucket holds up to `burst` requests and refills at `rate` per second;
 * each request takes one. Buckets are made on first use and forgotten once
 * full again, so memory follows the number of recent clients; past
 * RATELIMIT_MAX_KEYS live buckets a new key is let through unlimited
 * rather than evicting one that is being limited.
 */
#ifndef REDACTD_RATELIMIT_H
#define REDACTD_RATELIMIT_H

#include <stddef.h>

#define RATELIMIT_MAX_KEYS 65536
#define RATELIMIT_MAX_KEY_LEN 72

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);   /* NULL is a no-op */

/* Takes one request from key's bucket (key: at most RATELIMIT_MAX_KEY_LEN
 * bytes). 0 when it may go ahead, else the whole seconds until it may
 * (at least 1), for Retry-After. burst 0 means max(1, rate). */
int ratelimit_take(struct ratelimit *rl, const void *key, size_t len, double rate, int burst);

#endif
