/*
 * record.h — the sealed fields of one message record: sealing them (ingest)
 * and opening them (conversation reads, subject export), with their
 * associated data built in one place.
 *
 * Each field (conversation id, text, metadata document) is sealed with
 * XChaCha20-Poly1305 under the record's data key, with associated data that
 * binds it to its row (crypto_ad_build over store_record_ad/store_row_ad:
 * field, key id, tenant, conversation hash, record id, role, channel,
 * category, time). A field copied to another row, field or key, or a row
 * whose bound columns were edited, fails to open.
 */
#ifndef REDACTD_RECORD_H
#define REDACTD_RECORD_H

#include "crypto.h"
#include "store.h"

/* Seals m (mlen bytes) as field of rec into a new buffer of *outlen =
 * mlen + CRYPTO_SEAL_OVERHEAD bytes (caller frees). NULL if out of memory. */
unsigned char *record_seal(const unsigned char key[CRYPTO_KEY_BYTES], enum crypto_field field,
                           const struct store_record *rec, const void *m, size_t mlen,
                           size_t *outlen) RD_WARN_UNUSED;

/* Opens field c (clen bytes) of a stored row into a new NUL-terminated
 * string (caller wipes and frees). format is store_seal_format's: 2, or 1
 * for a database not re-sealed yet (an older key-less backup). NULL when it
 * does not authenticate or out of memory. */
char *record_open(const unsigned char key[CRYPTO_KEY_BYTES], int format, enum crypto_field field,
                  const struct store_row *row, const unsigned char *c, size_t clen) RD_WARN_UNUSED;

/* A record id as crypto_record_id makes them: "m_" and 24 lowercase hex
 * digits. */
bool record_id_valid(const char *id);

#endif
