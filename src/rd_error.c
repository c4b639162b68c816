/*
 * rd_error.c — codes and descriptions of enum rd_err (see rd_error.h).
 */
#include "rd_error.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
	const char *code;
	const char *text;
} ERRORS[RD_ERR_COUNT] = {
	[RD_OK] = { "ok", "no error" },
	[RD_E_BAD_REQUEST] = { "bad_request", "the HTTP request is malformed" },
	[RD_E_INVALID_REQUEST] = { "invalid_request", "the request is not valid here" },
	[RD_E_INVALID_PATH] = { "invalid_path", "the path holds an invalid id" },
	[RD_E_INVALID_QUERY] = { "invalid_query", "the query string is not valid" },
	[RD_E_INVALID_JSON] = { "invalid_json", "the body is not valid JSON" },
	[RD_E_INVALID_UTF8] = { "invalid_utf8", "the body is not valid UTF-8" },
	[RD_E_INVALID_FORM] = { "invalid_form", "the form body is not valid" },
	[RD_E_TOO_DEEP] = { "too_deep", "the JSON is nested too deeply" },
	[RD_E_BODY_TOO_LARGE] = { "body_too_large", "the body is larger than allowed" },
	[RD_E_UNSUPPORTED_MEDIA_TYPE] = { "unsupported_media_type", "the content type is not accepted" },
	[RD_E_METHOD_NOT_ALLOWED] = { "method_not_allowed", "the method is not allowed on this path" },
	[RD_E_INVALID_BODY] = { "invalid_body", "the body does not have the expected shape" },
	[RD_E_INVALID_FIELD] = { "invalid_field", "a field has an invalid value" },
	[RD_E_MISSING_FIELD] = { "missing_field", "a required field is missing" },
	[RD_E_UNKNOWN_FIELD] = { "unknown_field", "a field is not known" },
	[RD_E_UNAUTHORIZED] = { "unauthorized", "no or unknown credentials" },
	[RD_E_BAD_SIGNATURE] = { "bad_signature", "the signature does not verify" },
	[RD_E_FORBIDDEN] = { "forbidden", "not permitted for this token or tenant" },
	[RD_E_RESTRICTED] = { "restricted", "the subject's records are restricted" },
	[RD_E_RATE_LIMITED] = { "rate_limited", "too many requests" },
	[RD_E_NOT_FOUND] = { "not_found", "nothing found" },
	[RD_E_REPLY_TOO_LARGE] = { "reply_too_large", "too large for one reply: ask for it in pages" },
	[RD_E_TENANT_CLOSED] = { "tenant_closed", "the tenant is closed: its closure is due" },
	[RD_E_CONSENT_REQUIRED] = { "consent_required", "no recorded consent allows storing this" },
	[RD_E_BUSY] = { "busy", "the write queue is full" },
	[RD_E_SHUTTING_DOWN] = { "shutting_down", "the daemon is stopping" },
	[RD_E_SOURCE_UNAVAILABLE] = { "source_unavailable", "the source cannot verify requests" },
	[RD_E_BOT_BUSY] = { "bot_busy", "too many forwards to the bot are running" },
	[RD_E_BOT_UNREACHABLE] = { "bot_unreachable", "the bot could not be reached or did not answer" },
	[RD_E_BOT_TIMEOUT] = { "bot_timeout", "the bot did not answer in time" },
	[RD_E_STORAGE_FULL] = { "storage_full", "the disk is full" },
	[RD_E_STORAGE_FAILED] = { "storage_failed", "writes are refused since a disk sync failed" },
	[RD_E_STORAGE] = { "storage_error", "the database failed the operation" },
	[RD_E_AUDIT] = { "audit_error", "the audit entry could not be written" },
	[RD_E_INTEGRITY] = { "integrity_error", "a stored record failed to authenticate" },
	[RD_E_INTERNAL] = { "internal", "internal error" },
};

static int known(enum rd_err err)
{
	return (unsigned)err < RD_ERR_COUNT && ERRORS[err].code;
}

void rd_error_set(struct rd_error *e, enum rd_err err, const char *fmt, ...)
{
	e->err = err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
}

const char *rd_err_code(enum rd_err err)
{
	return err != RD_OK && known(err) ? ERRORS[err].code : "internal";
}

const char *rd_strerror(enum rd_err err)
{
	return known(err) ? ERRORS[err].text : "unknown error";
}
