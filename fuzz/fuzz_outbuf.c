/* libFuzzer harness: outbuf_json_text (the redact filter's JSON escaping,
 * 16 bytes at a time) must write exactly what jansson writes between the
 * quotes for any valid UTF-8, whatever the buffer size and however the
 * text is split into calls. The first input byte picks the buffer size
 * (4096 + 0..255) and the second the length of each call (1..256). */
#include "outbuf.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t cap = 4096 + data[0], step = (size_t)data[1] + 1;
	const char *text = (const char *)data + 2;
	size_t len = size - 2;
	if (!util_utf8_valid(text, len))
		return 0;
	int fd = memfd_create("fuzz_outbuf", 0);
	struct outbuf *o = fd >= 0 ? outbuf_new(fd, cap) : NULL;
	if (!o)
		abort();
	/* splitting only between characters keeps each call valid UTF-8 */
	for (size_t at = 0; at < len;) {
		size_t n = at + step < len ? step : len - at;
		while (at + n < len && ((unsigned char)text[at + n] & 0xC0) == 0x80)
			n++;
		if (outbuf_json_text(o, text + at, n))
			abort();
		at += n;
	}
	if (outbuf_flush(o))
		abort();
	outbuf_free(o);
	json_t *j = json_stringn(text, len);
	size_t need = j ? json_dumpb(j, NULL, 0, JSON_ENCODE_ANY) : 0;
	char *want = need ? malloc(need) : NULL;
	off_t got_len = lseek(fd, 0, SEEK_END);
	char *got = got_len >= 0 ? malloc((size_t)got_len + 1) : NULL;
	if (!want || !got || json_dumpb(j, want, need, JSON_ENCODE_ANY) != need ||
	    pread(fd, got, (size_t)got_len, 0) != got_len || (size_t)got_len != need - 2 ||
	    memcmp(got, want + 1, need - 2) != 0)
		abort();
	free(got);
	free(want);
	json_decref(j);
	close(fd);
	return 0;
}
