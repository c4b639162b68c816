/*
 * json_mem.h — where jansson's memory comes from.
 *
 * A request body is parsed into a jansson tree that holds the raw message
 * text, emails and phone numbers included, and jansson copies each string
 * several times while it lexes (a growing buffer, then the value). With
 * plain malloc those copies go back to the heap unwiped. json_mem_install
 * gives jansson a per-thread arena instead: allocations are bumped from
 * it, and when nothing allocated there is alive any more (the tree of the
 * request just handled was freed) the used part is wiped and reused. Blocks
 * that do not fit go to the heap and are wiped when freed.
 *
 * An object outliving its request only keeps its thread's arena from being
 * reused (it fills, later allocations go to the heap); it is never
 * overwritten. An object may be freed on another thread than the one that
 * allocated it.
 */
#ifndef REDACTD_JSON_MEM_H
#define REDACTD_JSON_MEM_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MEM_ARENA_BYTES (64 * 1024)   /* per thread that uses jansson */

/* Makes jansson allocate through the arenas. Call once, first thing in
 * main: a block allocated before must not be freed after. */
void json_mem_install(void);

/* Wipes and frees text returned by json_dumps (which comes from the
 * installed allocator, so plain free() would be wrong). NULL is fine. */
void json_mem_free_text(char *s);

struct buf;
/* Appends s (len bytes, UTF-8) to b as a JSON string literal, quotes
 * included, escaped by jansson; its copies come from the wiped arena.
 * -1 when s is not valid UTF-8 or out of memory. */
int json_mem_append_quoted(struct buf *b, const char *s, size_t len);

/* Statistics of the calling thread's arena, for tests. */
struct json_mem_stats {
	size_t arena_used;     /* bytes handed out since the last reset */
	long arena_live;       /* blocks of this arena not yet freed */
	unsigned long resets;  /* times the arena was wiped and reused */
	bool heap_only;        /* this thread allocates from the heap only
	                        * (sanitizer build, or its arena is given up) */
};
void json_mem_thread_stats(struct json_mem_stats *out);

#endif
