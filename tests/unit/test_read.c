/*
 * test_read.c — a message's JSON text (read_row_text) against the tree
 * jansson builds for it: the same bytes for documents as ingest and
 * rectification write them (copied, not parsed) and for any other shape
 * (parsed), including keys and values that hold ,"findings":[ themselves.
 */
#include "harness.h"
#include "json_mem.h"
#include "read.h"

#include <jansson.h>

/* What the tree of the same message prints (read_open_row's path). */
static char *expected(const struct store_row *row, const char *text, const char *meta)
{
	json_t *o = read_row_json(row, text, meta);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static void check_doc(const char *name, const char *text, const char *meta)
{
	struct store_row row = { .id = "m_0123456789abcdef01234567", .ts_ms = 1764720000123,
	                         .role = ROLE_AGENT, .channel = CH_WHATSAPP,
	                         .category = "chat_transcript" };
	struct buf b = { 0 };
	char *want = expected(&row, text, meta);
	int rc = read_row_text(&b, &row, text, meta);
	CHECK(rc == 0 && want && b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, name);
	if (rc == 0 && want && strcmp(b.data, want))
		fprintf(stderr, "  got  %s\n  want %s\n", b.data, want);
	json_mem_free_text(want);
	buf_free(&b);
}

static void test_documents(void)
{
	static const char findings[] =
		"[{\"entity\":\"EMAIL\",\"rule\":\"email\",\"start\":3,\"end\":23,\"field\":\"text\"}]";
	char doc[1024];
	/* As ingest writes it (json_dumps of the metadata, then the findings). */
	snprintf(doc, sizeof doc, "{\"metadata\":{\"a\":\"[EMAIL]\",\"n\":1.5,\"t\":true,\"u\":null},"
	         "\"findings\":%s}", findings);
	check_doc("ingest's document: copied, same bytes", "hi [EMAIL] \"q\" \\ \t \x01 é中 /", doc);
	check_doc("empty metadata and findings", "plain", "{\"metadata\":{},\"findings\":[]}");
	/* Keys and values that hold ,"findings":[ or the word: copied all the same. */
	check_doc("a metadata key that is the separator",
	          "x", "{\"metadata\":{\",\\\"findings\\\":[\":\"v\",\"findings\":\"[1]\"},"
	               "\"findings\":[{\"entity\":\"PHONE\",\"rule\":\"phone\",\"start\":0,\"end\":3,"
	               "\"field\":\",\\\"findings\\\":[\"}]}");
	check_doc("metadata that holds the separator itself (a findings key with an array)",
	          "x", "{\"metadata\":{\"a\":1,\"findings\":[1]},\"findings\":[]}");
	check_doc("a metadata value that holds the separator's text",
	          "x", "{\"metadata\":{\"k\":\",\\\"findings\\\":[\"},\"findings\":[]}");
	/* Other shapes are parsed. */
	check_doc("findings first", "x", "{\"findings\":[],\"metadata\":{\"a\":\"b\"}}");
	check_doc("spaces (not compact)", "x", "{\"metadata\": {\"a\": \"b\"}, \"findings\": []}");
	check_doc("no findings", "x", "{\"metadata\":{\"a\":\"b\"}}");
	check_doc("no metadata", "x", "{\"findings\":[]}");
	check_doc("not JSON", "x", "not a document");
	check_doc("empty document", "x", "");
	check_doc("a separator inside a truncated document", "x", "{\"metadata\":,\"findings\":[]}");
}

static void test_invalid_text(void)
{
	struct store_row row = { .id = "m_1", .ts_ms = 0, .category = "c" };
	struct buf b = { 0 };
	CHECK(read_row_text(&b, &row, "bad \xff utf-8", "{\"metadata\":{},\"findings\":[]}") == -1,
	      "text that is not UTF-8: an error, as jansson's path gave");
	buf_free(&b);
}

int main(void)
{
	json_mem_install();
	test_documents();
	test_invalid_text();
	return TEST_DONE();
}
