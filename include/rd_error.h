/*
 * rd_error.h — the one vocabulary of domain errors.
 *
 * Every module that can fail in a way a client or operator must hear about
 * reports an `enum rd_err` (like curl's CURLcode) with a message that names
 * what is wrong and never quotes the client's data. Each value has a stable
 * machine code (the API's {"error": {"code"}}, SPEC 5.4) and a one-line
 * description (rd_strerror). How a value is shown is decided at the edges,
 * each in one table: the HTTP status in http_errors.c, the exit code in
 * cli.c. No module below them knows about either.
 */
#ifndef REDACTD_RD_ERROR_H
#define REDACTD_RD_ERROR_H

#include "redactd.h"

enum rd_err {
	RD_OK = 0,
	/* the request itself */
	RD_E_BAD_REQUEST,        /* malformed HTTP (framing, headers) */
	RD_E_INVALID_REQUEST,
	RD_E_INVALID_PATH,
	RD_E_INVALID_QUERY,
	RD_E_INVALID_JSON,
	RD_E_INVALID_UTF8,
	RD_E_INVALID_FORM,
	RD_E_TOO_DEEP,
	RD_E_BODY_TOO_LARGE,
	RD_E_UNSUPPORTED_MEDIA_TYPE,
	RD_E_METHOD_NOT_ALLOWED,
	/* well-formed, but not a valid message or command */
	RD_E_INVALID_BODY,
	RD_E_INVALID_FIELD,
	RD_E_MISSING_FIELD,
	RD_E_UNKNOWN_FIELD,
	/* who is asking */
	RD_E_UNAUTHORIZED,
	RD_E_BAD_SIGNATURE,
	RD_E_FORBIDDEN,
	RD_E_RESTRICTED,         /* the subject's processing is restricted (GDPR Art. 18) */
	RD_E_RATE_LIMITED,
	/* what is there */
	RD_E_NOT_FOUND,
	RD_E_REPLY_TOO_LARGE,    /* what was asked is too large for one reply: ask in pages */
	RD_E_TENANT_CLOSED,      /* the tenant's closure is due: nothing more is stored */
	RD_E_CONSENT_REQUIRED,   /* a voice transcript without a recorded consent */
	/* the service */
	RD_E_BUSY,               /* the write queue is full: retry soon */
	RD_E_SHUTTING_DOWN,
	RD_E_SOURCE_UNAVAILABLE, /* a webhook source cannot verify (no secret) */
	RD_E_BOT_BUSY,           /* tap mode: forward_max_inflight forwards running */
	RD_E_BOT_UNREACHABLE,    /* tap mode: no connection to the bot, or no answer */
	RD_E_BOT_TIMEOUT,        /* tap mode: the bot did not answer in forward_timeout */
	RD_E_STORAGE_FULL,       /* the disk is full: nothing written */
	RD_E_STORAGE_FAILED,     /* writes refused since a WAL fdatasync failed */
	RD_E_STORAGE,            /* the database failed the operation */
	RD_E_AUDIT,              /* the audit entry could not be written */
	RD_E_INTEGRITY,          /* a sealed value failed to authenticate */
	RD_E_INTERNAL,           /* out of memory and other local failures */
	RD_ERR_COUNT
};

/* An error for a client or operator: what, and a message saying where. */
struct rd_error {
	enum rd_err err;
	char message[256];
};

void rd_error_set(struct rd_error *e, enum rd_err err, const char *fmt, ...) RD_PRINTF(3, 4);

/* The stable machine code, e.g. "invalid_json"; "internal" for RD_OK or
 * an out-of-range value (never NULL). */
const char *rd_err_code(enum rd_err err);

/* A one-line description, e.g. "the body is not valid JSON". */
const char *rd_strerror(enum rd_err err);

#endif
