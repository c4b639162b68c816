/*
 * json_mem.c — jansson's allocator: per-thread arenas wiped when emptied.
 *
 * Every block starts with a header naming its arena (NULL: a heap block)
 * and its size, so free needs no lookup and works from any thread. An
 * arena counts its live blocks; the owning thread wipes and reuses it once
 * the count is zero (at the free that empties it, or at its next
 * allocation when another thread freed the last block, so until then the
 * bytes stay in the arena, unwiped: a thread cannot wipe memory that its
 * owner may be handing out at that moment).
 *
 * Under AddressSanitizer every block comes from the heap (still wiped when
 * freed), so a leaked tree or a use after free is reported as before.
 */
#include "json_mem.h"
#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENAS 0
#else
#define ARENAS 1
#endif

#define ALIGN 16   /* jansson keeps doubles and size_t in its blocks */

struct arena {
	unsigned char *base;
	size_t used;               /* owner thread only */
	unsigned long resets;      /* owner thread only */
	atomic_long live;          /* blocks handed out and not yet freed, and
	                            * ORPHAN once its thread has exited */
};

#define ORPHAN (1L << 62)

struct header {
	struct arena *owner;       /* NULL: allocated with malloc */
	size_t size;               /* bytes the caller asked for */
};
_Static_assert(sizeof(struct header) % ALIGN == 0, "header keeps blocks aligned");

static pthread_key_t arena_key;
static pthread_once_t arena_key_once = PTHREAD_ONCE_INIT;
static _Thread_local struct arena *mine;
static _Thread_local bool no_arena;   /* creating it failed: heap only */

static void arena_reset(struct arena *a)
{
	sodium_memzero(a->base, a->used);
	a->used = 0;
	a->resets++;
}

static void arena_release(struct arena *a)
{
	sodium_memzero(a->base, a->used);
	free(a->base);
	free(a);
}

/* At thread exit. An arena whose blocks are all freed goes now; one with
 * live blocks (freed later, on other threads) is marked, and the free of
 * its last block releases it. One atomic step each, so exactly one of the
 * two sees the arena empty. */
static void arena_destroy(void *p)
{
	struct arena *a = p;
	/* Runs on the exiting thread: JSON it still builds (in a later
	 * destructor) must not reach the arena given up here. */
	mine = NULL;
	no_arena = true;
	if (atomic_fetch_or_explicit(&a->live, ORPHAN, memory_order_acq_rel) == 0)
		arena_release(a);
}

static void arena_key_init(void)
{
	if (pthread_key_create(&arena_key, arena_destroy) != 0)
		abort();   /* out of thread keys at startup */
}

static struct arena *thread_arena(void)
{
	if (mine || no_arena || !ARENAS)
		return mine;
	pthread_once(&arena_key_once, arena_key_init);
	struct arena *a = calloc(1, sizeof *a);
	if (a && (a->base = malloc(JSON_MEM_ARENA_BYTES)) && pthread_setspecific(arena_key, a) == 0)
		return mine = a;
	if (a)
		free(a->base);
	free(a);
	no_arena = true;
	return NULL;
}

static void *heap_block(size_t n)
{
	struct header *h = malloc(sizeof *h + n);
	if (!h)
		return NULL;
	h->owner = NULL;
	h->size = n;
	return h + 1;
}

static void *arena_malloc(size_t n)
{
	if (n > SIZE_MAX / 2)
		return NULL;
	size_t need = (sizeof(struct header) + n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	struct arena *a = thread_arena();
	if (!a)
		return heap_block(n);
	if (a->used && atomic_load_explicit(&a->live, memory_order_acquire) == 0)
		arena_reset(a);   /* another thread freed the last block */
	if (need > JSON_MEM_ARENA_BYTES - a->used)
		return heap_block(n);
	struct header *h = (struct header *)(a->base + a->used);
	a->used += need;
	atomic_fetch_add_explicit(&a->live, 1, memory_order_relaxed);
	h->owner = a;
	h->size = n;
	return h + 1;
}

static void arena_free(void *p)
{
	if (!p)
		return;
	struct header *h = (struct header *)p - 1;
	if (!h->owner) {
		sodium_memzero(p, h->size);
		free(h);
		return;
	}
	struct arena *a = h->owner;
	/* acq_rel: what this thread did with the block happens before the
	 * owner (or the releaser) wipes it. */
	long was = atomic_fetch_sub_explicit(&a->live, 1, memory_order_acq_rel);
	if (was == (ORPHAN | 1))
		arena_release(a);   /* the last block of an exited thread's arena */
	else if (was == 1 && a == mine)
		arena_reset(a);
}

void json_mem_install(void)
{
	json_set_alloc_funcs(arena_malloc, arena_free);
}

void json_mem_free_text(char *s)
{
	if (!s)
		return;
	json_free_t free_fn = NULL;
	json_get_alloc_funcs(NULL, &free_fn);
	sodium_memzero(s, strlen(s));
	free_fn(s);
}

int json_mem_append_quoted(struct buf *b, const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	int rc = q ? buf_append(b, q, strlen(q)) : -1;
	json_mem_free_text(q);
	json_decref(j);
	return rc;
}

void json_mem_thread_stats(struct json_mem_stats *out)
{
	memset(out, 0, sizeof *out);
	out->heap_only = no_arena || !ARENAS;
	if (!mine)
		return;
	out->arena_used = mine->used;
	out->arena_live = atomic_load(&mine->live);
	out->resets = mine->resets;
}
