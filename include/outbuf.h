/*
 * outbuf.h — a write buffer over a file descriptor, for output made in
 * many small pieces (`redactd redact`: text, decimal offsets, and text
 * escaped as the inside of a JSON string).
 *
 * Everything is copied into one buffer written with write(2) when it
 * fills, so a piece costs a memcpy, not a stdio call. Errors are sticky:
 * after a failed write every call returns -1 and writes nothing more.
 */
#ifndef REDACTD_OUTBUF_H
#define REDACTD_OUTBUF_H

#include "redactd.h"

#include <string.h>

struct outbuf;

/* A buffer of `cap` bytes (at least 4096) over `fd`, which stays the
 * caller's. NULL if out of memory or if jansson's escapes could not be
 * read (outbuf_json_text writes jansson's own escape sequences). */
struct outbuf *outbuf_new(int fd, size_t cap) RD_WARN_UNUSED;
/* Wipes and frees the buffer without writing what it holds: call
 * outbuf_flush first. NULL is a no-op. */
void outbuf_free(struct outbuf *o);

/* Writes out what the buffer holds (retrying short writes and EINTR).
 * 0, or -1 if a write failed (errno is write(2)'s). */
int outbuf_flush(struct outbuf *o) RD_WARN_UNUSED;

/* 0, or the errno of the write that failed (EIO for a write of 0 bytes;
 * ECANCELED when the gate refused). */
int outbuf_error(const struct outbuf *o);

/*
 * For buffers filled by several threads whose output must go out in a
 * fixed order: gate(arg) is called before each write(2) and may wait for
 * the buffer's turn. A non-zero return fails the buffer (ECANCELED)
 * without writing.
 */
void outbuf_set_gate(struct outbuf *o, int (*gate)(void *arg), void *arg);
/* Wipes what the buffer holds without writing it. */
void outbuf_discard(struct outbuf *o);

/* Appends bytes, a NUL-terminated string, an unsigned decimal number.
 * 0, or -1 after a failed write. */
int outbuf_put(struct outbuf *o, const void *p, size_t n) RD_WARN_UNUSED;
int outbuf_u64(struct outbuf *o, uint64_t v) RD_WARN_UNUSED;
/* Room for n bytes (n <= 4096) written by the caller from the pointer
 * returned, flushing first if need be; NULL after a failed write. Then
 * outbuf_commit(o, end) with `end` just past the last byte written. For
 * many small pieces at once, without a call per piece. */
char *outbuf_reserve(struct outbuf *o, size_t n) RD_WARN_UNUSED;
void outbuf_commit(struct outbuf *o, char *end);
/* Writes v in decimal at d (20 bytes at most); returns the end. */
char *outbuf_fmt_u64(char *d, uint64_t v);

/* Inline so that a literal's length is known when compiling. */
RD_WARN_UNUSED static inline int outbuf_puts(struct outbuf *o, const char *s)
{
	return outbuf_put(o, s, strlen(s));
}

/*
 * Appends s[0..n) as the inside of a JSON string (no quotes): the ASCII
 * characters JSON must escape (controls, '"', '\\') as jansson writes them
 * ("\n", "\u0001", ...), every other byte as it is. For valid UTF-8 this is
 * what json_dumpb writes between the quotes; the caller checks validity.
 */
int outbuf_json_text(struct outbuf *o, const char *s, size_t n) RD_WARN_UNUSED;

#endif
