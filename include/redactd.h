/*
 * redactd.h — types shared by every module: channels, roles, limits.
 *
 * The pipeline reads like the data flow: http -> ingest -> redact -> crypto
 * -> store. Each stage has its own header; this one holds only what all of
 * them need to agree on.
 */
#ifndef REDACTD_H
#define REDACTD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define REDACTD_VERSION "0.1.0"

#define RD_WARN_UNUSED __attribute__((warn_unused_result))
#define RD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Limits on every input (bytes unless said). */
#define RD_MAX_BATCH        1000   /* messages in one POST /v1/messages */
#define RD_MAX_ID_LEN       256    /* conversation_id, tenant */
#define RD_MAX_NAME_LEN     64     /* tenant, category, rule and token names */
#define RD_MAX_JSON_DEPTH   16
#define RD_MAX_META_KEYS    64

/* Record ids are "m_" followed by 24 lowercase hex digits (96 random bits). */
#define RD_RECORD_ID_LEN    26

enum rd_channel {
	CH_WEB = 0, CH_WHATSAPP, CH_SMS, CH_VOICE, CH_EMAIL, CH_OTHER,
	CH_COUNT
};

enum rd_role { ROLE_USER = 0, ROLE_AGENT, ROLE_BOT, ROLE_SYSTEM, ROLE_COUNT };

/* Name <-> enum; the _parse functions return -1 for an unknown name. */
const char *rd_channel_name(enum rd_channel ch);
int rd_channel_parse(const char *s, enum rd_channel *out) RD_WARN_UNUSED;
const char *rd_role_name(enum rd_role r);
int rd_role_parse(const char *s, enum rd_role *out) RD_WARN_UNUSED;

/* Token scopes, a bit set. */
/* A route names the scopes any one of which lets a token in. `metrics`
 * scrapes /metrics and nothing else. */
enum rd_scope {
	SCOPE_INGEST = 1u << 0, SCOPE_READ = 1u << 1, SCOPE_ADMIN = 1u << 2, SCOPE_METRICS = 1u << 3
};

#endif
