/*
 * test_rd_error.c — the one error vocabulary: every enum rd_err has a code,
 * a description, an HTTP status and an exit code, and the codes are the
 * API's (SPEC 5.4).
 */
#include "harness.h"
#include "cli.h"
#include "http_internal.h"
#include "rd_error.h"

/* The contract, written out once more so a slip in either table shows. */
static const struct {
	enum rd_err err;
	const char *code;
	int status;
} WANT[] = {
	{ RD_E_BAD_REQUEST, "bad_request", 400 },          { RD_E_INVALID_REQUEST, "invalid_request", 400 },
	{ RD_E_INVALID_PATH, "invalid_path", 400 },        { RD_E_INVALID_QUERY, "invalid_query", 400 },
	{ RD_E_INVALID_JSON, "invalid_json", 400 },        { RD_E_INVALID_UTF8, "invalid_utf8", 400 },
	{ RD_E_INVALID_FORM, "invalid_form", 400 },        { RD_E_TOO_DEEP, "too_deep", 400 },
	{ RD_E_BODY_TOO_LARGE, "body_too_large", 413 },
	{ RD_E_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415 },
	{ RD_E_METHOD_NOT_ALLOWED, "method_not_allowed", 405 },
	{ RD_E_INVALID_BODY, "invalid_body", 422 },        { RD_E_INVALID_FIELD, "invalid_field", 422 },
	{ RD_E_MISSING_FIELD, "missing_field", 422 },      { RD_E_UNKNOWN_FIELD, "unknown_field", 422 },
	{ RD_E_UNAUTHORIZED, "unauthorized", 401 },        { RD_E_BAD_SIGNATURE, "bad_signature", 403 },
	{ RD_E_FORBIDDEN, "forbidden", 403 },              { RD_E_RATE_LIMITED, "rate_limited", 429 },
	{ RD_E_RESTRICTED, "restricted", 403 },
	{ RD_E_NOT_FOUND, "not_found", 404 },              { RD_E_BUSY, "busy", 503 },
	{ RD_E_TENANT_CLOSED, "tenant_closed", 409 },
	{ RD_E_REPLY_TOO_LARGE, "reply_too_large", 422 },
	{ RD_E_CONSENT_REQUIRED, "consent_required", 403 },
	{ RD_E_SHUTTING_DOWN, "shutting_down", 503 },      { RD_E_SOURCE_UNAVAILABLE, "source_unavailable", 503 },
	{ RD_E_BOT_BUSY, "bot_busy", 503 },                { RD_E_BOT_UNREACHABLE, "bot_unreachable", 502 },
	{ RD_E_BOT_TIMEOUT, "bot_timeout", 504 },
	{ RD_E_STORAGE_FULL, "storage_full", 503 },        { RD_E_STORAGE_FAILED, "storage_failed", 503 },
	{ RD_E_STORAGE, "storage_error", 500 },            { RD_E_AUDIT, "audit_error", 500 },
	{ RD_E_INTEGRITY, "integrity_error", 500 },        { RD_E_INTERNAL, "internal", 500 },
};

static void test_every_value_is_covered(void)
{
	CHECK(sizeof WANT / sizeof WANT[0] == RD_ERR_COUNT - 1, "the contract lists every error");
	for (size_t i = 0; i < sizeof WANT / sizeof WANT[0]; i++) {
		char name[96];
		snprintf(name, sizeof name, "%s: code", WANT[i].code);
		CHECK_STR(rd_err_code(WANT[i].err), WANT[i].code, name);
		snprintf(name, sizeof name, "%s: HTTP %d", WANT[i].code, WANT[i].status);
		CHECK(http_status_of(WANT[i].err) == WANT[i].status, name);
		snprintf(name, sizeof name, "%s: has a description", WANT[i].code);
		CHECK(strcmp(rd_strerror(WANT[i].err), "unknown error") != 0, name);
		/* What the operator asked for was wrong (4xx but throttling): 2. */
		int want_exit = WANT[i].status < 500 && WANT[i].status != 429 ? EXIT_USAGE : EXIT_RUNTIME;
		snprintf(name, sizeof name, "%s: exit code %d", WANT[i].code, want_exit);
		CHECK(cli_exit_code(WANT[i].err) == want_exit, name);
	}
}

static void test_codes_are_distinct(void)
{
	int dup = 0;
	for (int a = 1; a < RD_ERR_COUNT; a++)
		for (int b = a + 1; b < RD_ERR_COUNT; b++)
			dup += strcmp(rd_err_code((enum rd_err)a), rd_err_code((enum rd_err)b)) == 0;
	CHECK(dup == 0, "no two errors share a code");
}

static void test_out_of_range(void)
{
	CHECK_STR(rd_err_code((enum rd_err)RD_ERR_COUNT), "internal", "an unknown value reads as internal");
	CHECK_STR(rd_err_code(RD_OK), "internal", "RD_OK is never sent as an error code");
	CHECK(http_status_of((enum rd_err)(RD_ERR_COUNT + 3)) == 500, "an unknown value is a 500");
	CHECK(cli_exit_code((enum rd_err)(RD_ERR_COUNT + 3)) == EXIT_RUNTIME, "and exit code 1");
	CHECK(cli_exit_code(RD_OK) == EXIT_OK, "RD_OK exits 0");
}

static void test_set_formats_and_truncates(void)
{
	struct rd_error e;
	rd_error_set(&e, RD_E_INVALID_FIELD, "messages[%d].%s is not a string", 3, "text");
	CHECK(e.err == RD_E_INVALID_FIELD, "rd_error_set keeps the value");
	CHECK_STR(e.message, "messages[3].text is not a string", "and formats the message");
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	rd_error_set(&e, RD_E_INTERNAL, "%s", big);
	CHECK(strlen(e.message) == sizeof e.message - 1, "a long message is cut, terminated");
}

int main(void)
{
	test_every_value_is_covered();
	test_codes_are_distinct();
	test_out_of_range();
	test_set_formats_and_truncates();
	return TEST_DONE();
}
