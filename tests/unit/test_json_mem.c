/*
 * test_json_mem.c — jansson's per-thread arenas: reuse once empty, wiping,
 * heap blocks for what does not fit, objects that outlive a request, and
 * frees on another thread.
 */
#include "json_mem.h"
#include "harness.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char secret_body[] =
	"{\"conversation_id\":\"c1\",\"text\":\"mail jane.doe@example.com or call +44 7700 900123\"}";

static json_t *parse(const char *s)
{
	json_error_t jerr;
	return json_loadb(s, strlen(s), 0, &jerr);
}

/* A request's tree is freed: the arena is empty, reset, and the text it
 * held is gone from it. */
static void test_reset_wipes(void)
{
	struct json_mem_stats st0, st1, st2;
	json_mem_thread_stats(&st0);
	json_t *root = parse(secret_body);
	CHECK(root != NULL, "body parses");
	const char *text = json_string_value(json_object_get(root, "text"));
	json_mem_thread_stats(&st1);
	CHECK(st1.arena_live > 0 && st1.arena_used > strlen(text), "the tree sits in the arena");
	json_decref(root);
	json_mem_thread_stats(&st2);
	CHECK(st2.arena_live == 0 && st2.arena_used == 0, "freeing the tree empties the arena");
	CHECK(st2.resets == st1.resets + 1, "and resets it once");
	/* The arena is our own buffer, still allocated: reading it is fine. */
	CHECK(!memmem(text - 64, 256, "jane.doe", 8) && text[0] == '\0',
	      "the message text is wiped from the arena");
}

/* A block larger than the arena comes from the heap and works. */
static void test_large_block(void)
{
	size_t n = JSON_MEM_ARENA_BYTES * 2;
	char *big = malloc(n + 16);
	memset(big, 'x', n);
	memcpy(big, "\"", 1);
	memcpy(big + n - 1, "\"", 2);
	json_error_t jerr;
	json_t *s = json_loadb(big, n, JSON_DECODE_ANY, &jerr);
	CHECK(s && json_string_length(s) == n - 2, "a string larger than the arena parses");
	char *dump = json_dumps(s, JSON_ENCODE_ANY);
	CHECK(dump && strlen(dump) == n, "and dumps");
	json_mem_free_text(dump);
	json_decref(s);
	struct json_mem_stats st;
	json_mem_thread_stats(&st);
	CHECK(st.arena_live == 0, "nothing left alive");
	free(big);
}

/* An object kept past its request is never overwritten: the arena is not
 * reused while it lives, and later trees still parse. */
static void test_survivor(void)
{
	json_t *kept = parse("{\"keep\":\"this value stays\"}");
	const char *v = json_string_value(json_object_get(kept, "keep"));
	struct json_mem_stats before, after;
	json_mem_thread_stats(&before);
	int ok = 1;
	for (int i = 0; i < 2000; i++) {   /* ~100 bytes each: fills the arena */
		json_t *t = parse(secret_body);
		ok &= t != NULL;
		json_decref(t);
	}
	json_mem_thread_stats(&after);
	CHECK(ok, "trees parse while an older object lives");
	CHECK(after.resets == before.resets, "the arena is not reused under a live object");
	CHECK(!strcmp(v, "this value stays"), "the surviving object is intact");
	json_decref(kept);
	json_mem_thread_stats(&after);
	CHECK(after.arena_live == 0 && after.arena_used == 0, "freeing it empties the arena");
}

static void *alloc_on_thread(void *arg)
{
	json_t **out = arg;
	*out = parse(secret_body);
	return NULL;
}

struct reuse {
	json_t *tree;
	struct json_mem_stats st;
	int ok;
};

static void *parse_again(void *arg)
{
	struct reuse *r = arg;
	json_t *t = parse(secret_body);
	r->ok = t != NULL;
	json_decref(t);
	json_mem_thread_stats(&r->st);
	return NULL;
}

/* A tree freed on another thread than the one that built it. */
static void test_cross_thread_free(void)
{
	json_t *tree = NULL;
	pthread_t t;
	CHECK(pthread_create(&t, NULL, alloc_on_thread, &tree) == 0 && pthread_join(t, NULL) == 0 &&
	      tree != NULL, "a thread builds a tree and exits");
	CHECK(!strcmp(json_string_value(json_object_get(tree, "conversation_id")), "c1"),
	      "the tree outlives its thread");
	json_decref(tree);   /* the last block: releases the exited thread's arena */

	struct reuse r = { 0 };
	CHECK(pthread_create(&t, NULL, parse_again, &r) == 0 && pthread_join(t, NULL) == 0 && r.ok,
	      "another thread parses");
	CHECK(r.st.arena_live == 0, "and its arena is empty afterwards");
}

/* JSON built in a thread-exit destructor that runs after the allocator's
 * own (keys are destroyed in creation order, and the allocator's key was
 * created by the first test): it must not touch the arena given up. */
static pthread_key_t late_key;
static int late_ok = -1;
static long late_arena_used = -1;
static int late_heap_only = -1;

static void late_destructor(void *p)
{
	(void)p;
	json_t *o = json_pack("{s:s}", "late", "value");
	struct json_mem_stats st;
	json_mem_thread_stats(&st);
	late_arena_used = (long)st.arena_used;
	late_heap_only = st.heap_only;
	late_ok = o && !strcmp(json_string_value(json_object_get(o, "late")), "value");
	json_decref(o);
}

static void *parse_then_exit(void *arg)
{
	(void)arg;
	json_decref(parse(secret_body));   /* this thread now has an arena */
	pthread_setspecific(late_key, (void *)1);
	return NULL;
}

static void test_late_destructor(void)
{
	pthread_t t;
	CHECK(pthread_key_create(&late_key, late_destructor) == 0 &&
	      pthread_create(&t, NULL, parse_then_exit, NULL) == 0 && pthread_join(t, NULL) == 0,
	      "a thread exits with a destructor that builds JSON");
	CHECK(late_ok == 1, "JSON works in a destructor after the arena's");
	CHECK(late_heap_only == 1 && late_arena_used == 0,
	      "and allocates from the heap (the exited thread's arena is gone)");
}

int main(void)
{
	json_mem_install();
	struct json_mem_stats start;
	json_mem_thread_stats(&start);
	if (!start.heap_only) {   /* heap only in sanitizer builds */
		test_reset_wipes();
		test_survivor();
	} else {
		json_t *root = parse(secret_body);
		CHECK(root != NULL, "heap blocks only (sanitizer build): parse");
		json_decref(root);
	}
	test_large_block();
	test_cross_thread_free();
	test_late_destructor();
	return TEST_DONE();
}
