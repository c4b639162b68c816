/*
 * ratelimit.c — token buckets in a chained hash table under one mutex.
 *
 * Only requests on a limited route or token come here (a limit of 0 skips
 * it), so the lock is not on the default request path. When the table
 * reaches RATELIMIT_MAX_KEYS it first drops the buckets that have refilled
 * completely (they hold no state worth keeping), at most once a second.
 */
#include "ratelimit.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RL_BUCKETS 4096

struct bucket {
	struct bucket *next;
	unsigned char key[RATELIMIT_MAX_KEY_LEN];
	size_t len;
	double tokens, rate, burst;
	int64_t last_us;
};

struct ratelimit {
	pthread_mutex_t lock;
	struct bucket *table[RL_BUCKETS];
	size_t count;
	int64_t last_sweep_us;
};

struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = calloc(1, sizeof *rl);
	if (rl)
		pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < RL_BUCKETS; i++)
		while (rl->table[i]) {
			struct bucket *next = rl->table[i]->next;
			free(rl->table[i]);
			rl->table[i] = next;
		}
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static unsigned key_hash(const unsigned char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % RL_BUCKETS;
}

static void refill(struct bucket *b, int64_t now)
{
	b->tokens = fmin(b->burst, b->tokens + (double)(now - b->last_us) / 1e6 * b->rate);
	b->last_us = now;
}

/* Drops every bucket that is full again: nobody is being limited there. */
static void sweep_full(struct ratelimit *rl, int64_t now)
{
	for (size_t i = 0; i < RL_BUCKETS; i++)
		for (struct bucket **p = &rl->table[i]; *p;) {
			refill(*p, now);
			if ((*p)->tokens >= (*p)->burst) {
				struct bucket *dead = *p;
				*p = dead->next;
				free(dead);
				rl->count--;
			} else {
				p = &(*p)->next;
			}
		}
}

static struct bucket *bucket_get(struct ratelimit *rl, const unsigned char *key, size_t len,
                                 double burst, int64_t now)
{
	struct bucket **head = &rl->table[key_hash(key, len)];
	for (struct bucket *b = *head; b; b = b->next)
		if (b->len == len && memcmp(b->key, key, len) == 0)
			return b;
	/* A sweep walks every bucket under the lock: at most one a second, so
	 * a stream of new addresses against a full table stays cheap. */
	if (rl->count >= RATELIMIT_MAX_KEYS && now - rl->last_sweep_us >= 1000000) {
		rl->last_sweep_us = now;
		sweep_full(rl, now);
	}
	struct bucket *b = rl->count < RATELIMIT_MAX_KEYS ? calloc(1, sizeof *b) : NULL;
	if (!b)
		return NULL;
	memcpy(b->key, key, len);
	b->len = len;
	b->tokens = burst;
	b->last_us = now;
	b->next = *head;
	*head = b;
	rl->count++;
	return b;
}

int ratelimit_take(struct ratelimit *rl, const void *key, size_t len, double rate, int burst)
{
	if (!rl || rate <= 0 || len > RATELIMIT_MAX_KEY_LEN)
		return 0;
	double cap = burst > 0 ? burst : fmax(1.0, floor(rate));
	int64_t now = util_mono_us();
	int wait = 0;
	pthread_mutex_lock(&rl->lock);
	struct bucket *b = bucket_get(rl, key, len, cap, now);
	if (b) {
		b->rate = rate;     /* a reload may have changed the limit */
		b->burst = cap;
		refill(b, now);
		if (b->tokens >= 1.0)
			b->tokens -= 1.0;
		else
			wait = (int)ceil((1.0 - b->tokens) / rate);
	}
	pthread_mutex_unlock(&rl->lock);
	return wait > 0 ? wait : 0;
}
