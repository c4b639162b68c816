/*
 * test_subject.c — the CSV form of a subject export (RFC 4180 quoting).
 */
#include "subject.h"
#include "harness.h"

static void test_csv(void)
{
	json_t *exp = json_loads(
		"{\"tenant\":\"default\",\"records\":2,\"conversations\":[{\"conversation_id\":\"c,1\","
		"\"messages\":[{\"id\":\"m_1\",\"ts\":\"2026-01-01T00:00:00.000Z\",\"role\":\"user\","
		"\"channel\":\"web\",\"category\":\"chat_transcript\",\"text\":\"say \\\"hi\\\"\\nbye\","
		"\"metadata\":{\"k\":1},\"findings\":[]},{\"id\":\"m_2\",\"ts\":\"2026-01-01T00:00:01.000Z\","
		"\"role\":\"agent\",\"channel\":\"web\",\"category\":\"chat_transcript\",\"text\":\"ok\","
		"\"metadata\":{},\"findings\":[{\"entity\":\"EMAIL\"}]}]}]}", 0, NULL);
	struct buf b = { 0 };
	CHECK(exp != NULL, "fixture parses");
	CHECK(subject_export_csv(exp, &b) == 0, "CSV renders");
	CHECK_STR(b.data,
	          "conversation_id,id,ts,role,channel,category,text,metadata,findings\r\n"
	          "\"c,1\",\"m_1\",\"2026-01-01T00:00:00.000Z\",\"user\",\"web\",\"chat_transcript\","
	          "\"say \"\"hi\"\"\nbye\",\"{\"\"k\"\":1}\",\"[]\"\r\n"
	          "\"c,1\",\"m_2\",\"2026-01-01T00:00:01.000Z\",\"agent\",\"web\",\"chat_transcript\","
	          "\"ok\",\"{}\",\"[{\"\"entity\"\":\"\"EMAIL\"\"}]\"\r\n",
	          "quotes doubled, commas and newlines kept inside quoted fields");
	buf_free(&b);
	json_t *empty = json_pack("{s:[]}", "conversations");
	CHECK(subject_export_csv(empty, &b) == 0 && b.len == strlen("conversation_id,id,ts,role,channel,"
	      "category,text,metadata,findings\r\n"), "an empty export is the header alone");
	buf_free(&b);
	json_decref(empty);
	json_decref(exp);
}

int main(void)
{
	test_csv();
	return TEST_DONE();
}
