/* Unit tests for util.c: parsing with ranges, UTF-8, timestamps. */
#include "harness.h"
#include "util.h"

static void test_sizes_and_durations(void)
{
	size_t sz = 0;
	int64_t d = 0;
	CHECK(util_parse_size("1M", &sz) == 0 && sz == 1048576, "size 1M");
	CHECK(util_parse_size("512k", &sz) == 0 && sz == 524288, "size 512k");
	CHECK(util_parse_size("12", &sz) == 0 && sz == 12, "size plain");
	CHECK(util_parse_size("1X", &sz) < 0, "size bad suffix");
	CHECK(util_parse_size("-1", &sz) < 0, "size negative");
	CHECK(util_parse_size("99999999999999999999", &sz) < 0, "size overflow");
	CHECK(util_parse_duration("365d", &d) == 0 && d == 365 * 86400, "duration days");
	CHECK(util_parse_duration("90s", &d) == 0 && d == 90, "duration seconds");
	CHECK(util_parse_duration("1h", &d) == 0 && d == 3600, "duration hours");
	CHECK(util_parse_duration("1w", &d) == 0 && d == 7 * 86400, "duration weeks");
	CHECK(util_parse_duration("5min", &d) == 0 && d == 300, "duration minutes are min");
	CHECK(util_parse_duration("12mo", &d) == 0 && d == 12 * 30 * 86400, "duration months of 30 days");
	CHECK(util_parse_duration("24mo", &d) == 0 && d == 720 * 86400, "duration 24mo");
	CHECK(util_parse_duration("1y", &d) == 0 && d == 365 * 86400, "duration a year of 365 days");
	CHECK(util_parse_duration("5m", &d) == -2 && util_duration_ambiguous("5m"), "a bare m is ambiguous");
	CHECK(!util_duration_ambiguous("5mo") && !util_duration_ambiguous("m") &&
	      !util_duration_ambiguous("5min"), "only a number with m alone is ambiguous");
	CHECK(util_parse_duration("1q", &d) == -1, "duration bad unit");
	CHECK(util_parse_duration("999999999999y", &d) == -1, "duration overflow");
	CHECK(util_parse_duration("", &d) < 0, "duration empty");
	long l;
	CHECK(util_parse_long("42", 0, 100, &l) == 0 && l == 42, "long in range");
	CHECK(util_parse_long("420", 0, 100, &l) < 0, "long out of range");
	CHECK(util_parse_long("4x", 0, 100, &l) < 0, "long trailing junk");
}

static void test_utf8(void)
{
	CHECK(util_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15), "utf8 valid");
	CHECK(!util_utf8_valid("\xc0\xaf", 2), "utf8 overlong");
	CHECK(!util_utf8_valid("\xed\xa0\x80", 3), "utf8 surrogate");
	CHECK(!util_utf8_valid("\xf4\x90\x80\x80", 4), "utf8 above U+10FFFF");
	CHECK(!util_utf8_valid("abc\xe2\x82", 5), "utf8 truncated");
	CHECK(!util_utf8_valid("\xff", 1), "utf8 invalid byte");
	static const char bad_after_run[] = "sixteen ascii ch\xff and more ascii";
	static const char good_after_run[] = "sixteen ascii ch\xc3\xa9 and more ascii";
	static const char cut_after_run[] = "0123456789abcde\xe2\x82";
	CHECK(!util_utf8_valid(bad_after_run, sizeof bad_after_run - 1), "utf8 invalid after an ASCII run");
	CHECK(util_utf8_valid(good_after_run, sizeof good_after_run - 1), "utf8 valid after an ASCII run");
	CHECK(!util_utf8_valid(cut_after_run, sizeof cut_after_run - 1), "utf8 truncated after an ASCII run");
	CHECK(util_utf8_valid_prefix(bad_after_run, sizeof bad_after_run - 1) == 16,
	      "utf8 prefix: the invalid byte after an ASCII run is at 16");
	CHECK(util_utf8_valid_prefix(cut_after_run, sizeof cut_after_run - 1) == 15,
	      "utf8 prefix: a truncated sequence starts at 15");
	CHECK(util_utf8_valid_prefix("ab\xc3\xa9\xed\xa0\x80", 7) == 4, "utf8 prefix: a surrogate after a valid character");
	CHECK(util_utf8_valid_prefix(good_after_run, sizeof good_after_run - 1) == sizeof good_after_run - 1,
	      "utf8 prefix: all of a valid text");
	CHECK(util_utf8_valid_prefix("", 0) == 0, "utf8 prefix: empty");
}

static void test_timestamps(void)
{
	int64_t ms;
	char out[32];
	CHECK(util_parse_ts("2024-05-12T10:00:00Z", &ms) == 0 && ms == 1715508000000LL, "rfc3339 Z");
	CHECK(util_parse_ts("2024-05-12T12:00:00+02:00", &ms) == 0 && ms == 1715508000000LL, "rfc3339 offset");
	CHECK(util_parse_ts("2024-05-12T10:00:00.250Z", &ms) == 0 && ms == 1715508000250LL, "rfc3339 fraction");
	CHECK(util_parse_ts("1715508000", &ms) == 0 && ms == 1715508000000LL, "epoch seconds");
	CHECK(util_parse_ts("2024-02-30T10:00:00Z", &ms) < 0, "rfc3339 bad day");
	CHECK(util_parse_ts("2023-02-29T10:00:00Z", &ms) < 0, "rfc3339 not leap");
	CHECK(util_parse_ts("yesterday", &ms) < 0, "garbage ts");
	CHECK(util_parse_ts("2024-05-12", &ms) < 0, "date only");
	util_format_ts(1715508000250LL, out);
	CHECK_STR(out, "2024-05-12T10:00:00.250Z", "format ts");
}

static void test_hex_and_buf(void)
{
	unsigned char b[2];
	char hex[5];
	CHECK(util_hex_decode("00ff", b, 2) == 0 && b[0] == 0 && b[1] == 0xff, "hex decode");
	CHECK(util_hex_decode("00f", b, 2) < 0, "hex odd");
	CHECK(util_hex_decode("zzzz", b, 2) < 0, "hex bad digits");
	util_hex_encode(b, 2, hex);
	CHECK_STR(hex, "00ff", "hex encode");
	struct buf buf = { 0 };
	CHECK(buf_append(&buf, "ab", 2) == 0 && buf_printf(&buf, "%d", 42) == 0, "buf append");
	CHECK_STR(buf.data, "ab42", "buf content");
	CHECK(buf_append_str(&buf, ",") == 0 && buf_append_uint(&buf, 0) == 0 &&
	      buf_append_str(&buf, ",") == 0 && buf_append_uint(&buf, UINT64_MAX) == 0, "buf numbers");
	CHECK_STR(buf.data, "ab42,0,18446744073709551615", "buf numbers: 0 and UINT64_MAX");
	buf_free(&buf);
}

int main(void)
{
	test_sizes_and_durations();
	test_utf8();
	test_timestamps();
	test_hex_and_buf();
	return TEST_DONE();
}
