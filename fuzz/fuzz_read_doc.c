/* libFuzzer harness: a conversation read writes each message as JSON text
 * (read_row_text), copying the stored document's metadata and findings
 * when the document has the shape ingest and rectification write
 * ({"metadata":M,"findings":F}, jansson's compact form). For any metadata
 * object and any findings array, what it writes must be exactly what
 * jansson prints for the message's tree. The first input byte splits the
 * rest into the metadata's JSON and the findings' JSON; what does not
 * parse as an object or an array is left empty. */
#include "read.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const uint8_t *p, size_t n, int want_object)
{
	json_t *v = json_loadb((const char *)p, n, JSON_DECODE_ANY, NULL);
	if (v && (want_object ? json_is_object(v) : json_is_array(v)))
		return v;
	json_decref(v);
	return want_object ? json_object() : json_array();
}

/* The message's tree (read_open_row's path), printed by jansson. */
static char *expected(const struct store_row *row, const char *text, const char *meta)
{
	json_t *o = read_row_json(row, text, meta);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t split = 1 + (size_t)data[0] * (size - 1) / 255;
	json_t *m = parse(data + 1, split - 1, 1), *f = parse(data + split, size - split, 0);
	json_t *d = json_pack("{s:o, s:o}", "metadata", m, "findings", f);
	char *doc = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (!doc)
		abort();
	struct store_row row = { .id = "m_0123456789abcdef01234567", .ts_ms = 1764720000123,
	                         .role = ROLE_USER, .channel = CH_WEB, .category = "chat_transcript" };
	struct buf b = { 0 };
	char *want = expected(&row, "a [EMAIL] \"text\"", doc);
	if (!want || read_row_text(&b, &row, "a [EMAIL] \"text\"", doc) ||
	    b.len != strlen(want) || memcmp(b.data, want, b.len))
		abort();
	buf_free(&b);
	free(want);
	free(doc);
	return 0;
}
